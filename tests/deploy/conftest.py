"""One Lambda package per test session (building it copies ~20 MB of modules)."""

from __future__ import annotations

import pytest

from cloudwarden.deploy.package import Package, build_package


@pytest.fixture(scope="session")
def lane_package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build_package(tmp_path_factory.mktemp("package") / "cloudwarden-lanes.zip")
