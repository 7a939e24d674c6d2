"""A moto server in its own process, as "someone else's" AWS: the CLI under test reaches it only over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS, configure_emulator_environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoProcess:
    def __init__(self) -> None:
        configure_emulator_environment()
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.endpoint_url}/moto-api/data.json", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("moto server did not start")

    def reset(self) -> None:
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def moto_process() -> Iterator[MotoProcess]:
    server = MotoProcess()
    yield server
    server.stop()


def cli_env(endpoint_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment a user would have: emulator credentials, no AWS profile files, a region."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(EMULATOR_CREDENTIALS)
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "COLUMNS": "160", **extra})
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cloudwarden", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)
