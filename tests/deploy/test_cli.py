"""`cloudwarden deploy template` and `deploy package` through the CLI."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cloudwarden.cli.app import app
from cloudwarden.deploy.package import MANIFEST
from cloudwarden.deploy.package_target import default_target
from cloudwarden.deploy.template import build_template


def test_template_writes_the_yaml_for_the_package_s_default_target(tmp_path: Path) -> None:
    out = tmp_path / "lanes.yaml"
    result = CliRunner().invoke(app, ["deploy", "template", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text()) == build_template(default_target())


def test_template_for_another_runtime_and_architecture() -> None:
    result = CliRunner().invoke(app, ["deploy", "template", "--runtime", "python3.12", "--architecture", "arm64"])
    assert result.exit_code == 0, result.output
    function = yaml.safe_load(result.output)["Resources"]["SlowLaneFunction"]["Properties"]
    assert (function["Runtime"], function["Architectures"]) == ("python3.12", ["arm64"])


def test_template_check_prints_the_verdicts() -> None:
    result = CliRunner().invoke(app, ["deploy", "template", "--check"])
    assert result.exit_code == 0, result.output
    assert "11 rules judged 9 resources: 0 FAIL or ERROR" in result.output
    assert "PASS  lambda_function_tracing_enabled  cloudwarden-fast-lane" in result.output
    assert "PASS  dynamodb_table_pitr_enabled  cloudwarden-CheckpointTable" in result.output
    assert "not judged  iam_role_unused" in result.output
    assert "not judged  backup_plan_covers_dynamodb_table" in result.output
    assert "folded      NotificationQueuePolicy into the queue's Policy attribute" in result.output


def test_template_check_of_one_lane_judges_only_its_resources() -> None:
    result = CliRunner().invoke(app, ["deploy", "template", "--check", "--lanes", "fast"])
    assert result.exit_code == 0, result.output
    judged = [line for line in result.output.splitlines() if line.startswith("PASS")]
    assert judged and not [line for line in judged if "slow" in line.lower() or "Notification" in line]
    assert "no rule     SlowLaneFunction: condition SlowLane is false" in result.output


def test_package_writes_the_zip(tmp_path: Path) -> None:
    out = tmp_path / "lanes.zip"
    result = CliRunner().invoke(app, ["deploy", "package", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "pySigma" in result.output
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read(MANIFEST))["runtime"] == default_target().runtime  # as the template's
