"""The posture tests' ``aws``: the same freshly reset emulator as tests/conftest.py's, with the boto3
clients kept for the whole session.

Building a boto3 client loads its service model (~0.1 s each, and a scan builds several), which was half
the runtime of the rule cases. The clients hold no account state, so reusing them across resets changes
nothing a test can observe; scans still go through a read-only :class:`AwsContext`, as in production.
"""

from __future__ import annotations

import pytest

from cloudwarden.aws.session import AwsContext
from cloudwarden.demo.emulator import EmbeddedAws
from tests.conftest import Emulated


class ReusedClients(Emulated):
    def __init__(self, emulator: EmbeddedAws, seeder: AwsContext, reader: AwsContext) -> None:
        super().__init__(emulator)
        self._seeder = seeder
        self._reader = reader

    def context(self) -> AwsContext:
        return self._reader


@pytest.fixture(scope="session")
def _contexts(emulator: EmbeddedAws) -> tuple[AwsContext, AwsContext]:
    seeder = emulator.context(read_only=False)
    reader = emulator.context()
    return seeder, reader


@pytest.fixture
def aws(emulator: EmbeddedAws, _contexts: tuple[AwsContext, AwsContext]) -> Emulated:
    emulator.reset()
    return ReusedClients(emulator, *_contexts)
