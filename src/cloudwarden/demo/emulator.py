"""The embedded AWS: moto's HTTP server on 127.0.0.1, on a free port, stopped on exit.

cloudwarden talks to it over real HTTP with boto3 exactly as it talks to AWS; only the endpoint differs.
The server runs in this process (a thread), which also lets the sample environment do the few things
the emulator's API cannot, such as ageing an access key (see :func:`age_access_key`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from cloudwarden.aws.session import EMULATOR_MAX_ATTEMPTS, AwsContext

# Fake but well-formed credentials: the emulator accepts any, and real ones must never reach it.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAEMULATORDEMO0000",
    "AWS_SECRET_ACCESS_KEY": "emulator-secret-key-not-a-real-one",
}
DEFAULT_ACCOUNT_ID = "123456789012"
_AMIS = Path(__file__).with_name("amis.json")


def configure_emulator_environment() -> None:
    """Settings moto reads when it is imported: load AWS-managed IAM policies (so AdministratorAccess
    can be attached) and a one-AMI catalogue (moto's own ~1,300 public AMIs swamp a scan)."""
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    os.environ.setdefault("MOTO_AMIS_PATH", str(_AMIS))
    os.environ.setdefault("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)


@dataclass
class EmbeddedAws:
    """A running moto server. Use as a context manager; ``endpoint_url`` is where to point boto3."""

    host: str = "127.0.0.1"
    _server: Any = field(default=None, repr=False)
    endpoint_url: str = ""

    def start(self) -> EmbeddedAws:
        configure_emulator_environment()
        # The emulator logs every request, and a traceback for each API it does not implement (which a
        # scan reports as ERROR); none of that is for the user.
        for name in ("werkzeug", "moto"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        from moto.moto_server import werkzeug_app
        from moto.server import ThreadedMotoServer  # imported late: it reads the settings above

        # moto print()s a hint for its own developers on every request to a service it lacks (e.g. IAM
        # Access Analyzer); the scan already reports those calls as ERROR.
        werkzeug_app.print = lambda *_, **__: None  # type: ignore[attr-defined]
        # Before it runs a Lambda function (a Secrets Manager rotation does), moto on a host with /.dockerenv asks
        # the Docker API for its own address and print()s a warning and an exception when there is none; the
        # embedded AWS runs no Lambda code, so the user would only see noise.
        from moto import settings as moto_settings

        moto_settings.print = lambda *_, **__: None  # type: ignore[attr-defined]
        _memoise_module_listing()

        self._server = ThreadedMotoServer(ip_address=self.host, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def context(self, read_only: bool = True) -> AwsContext:
        """A client context for this emulator (its fake credentials; one retry: "not implemented" is final)."""
        return AwsContext.create(
            endpoint_url=self.endpoint_url,
            credentials=EMULATOR_CREDENTIALS,
            read_only=read_only,
            max_attempts=EMULATOR_MAX_ATTEMPTS,
        )

    def reset(self) -> None:
        """Forget every resource (moto's reset API), keeping the server up."""
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _memoise_module_listing() -> None:
    """moto's dispatcher lists its own package directory (a ``stat`` per service) on every request to
    find the backend; the directory does not change while the server runs, so list it once."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "memoised", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def listing() -> tuple[str, ...]:
        return modules

    listing.memoised = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = listing  # type: ignore[assignment]


def age_access_key(user_name: str, days: int, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Make every access key of ``user_name`` look created ``days`` ago.

    AWS (and so the emulator's API) has no way to backdate a key; the demo needs an old one, so this
    edits the emulator's memory directly. It only works for the in-process :class:`EmbeddedAws`.
    """
    from moto.iam.models import iam_backends

    user = iam_backends[account_id]["global"].get_user(user_name)
    created = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    for key in user.access_keys:
        key.create_date = created
