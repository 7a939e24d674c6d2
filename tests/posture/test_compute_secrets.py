"""The one secrets-in-environment detector (posture/secrets.py) shared by the Lambda and ECS rules, and the
promise that a secret's value never reaches the inventory or a finding."""

from __future__ import annotations

import json

import pytest

from cloudwarden.findings.model import Status
from cloudwarden.posture.secrets import redact, redact_all, suspicious_variables
from tests.conftest import verdict
from tests.posture.cases_compute import FAKE_KEY_ID, _container, _function, _task

SECRET_VALUE = "hunter2-very-secret-value"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("DB_PASSWORD", "x", "name suggests a secret"),
        ("db-password", "x", "name suggests a secret"),
        ("GITHUB_TOKEN", "x", "name suggests a secret"),
        ("STRIPE_API_KEY", "x", "name suggests a secret"),
        ("AWS_SECRET_ACCESS_KEY", "x", "name suggests a secret"),
        ("CLIENT_SECRET", "x", "name suggests a secret"),
        ("UPSTREAM", FAKE_KEY_ID, "value looks like an AWS access key id"),
        ("UPSTREAM", "ASIAZZZZEXAMPLE00002", "value looks like an AWS access key id"),
        ("CREDS", f"id={FAKE_KEY_ID};x", "value looks like an AWS access key id"),
    ],
)
def test_detects(name: str, value: str, reason: str) -> None:
    assert suspicious_variables([(name, value)]) == [f"{name}: {reason}"]
    assert suspicious_variables([(name, redact(value))]) == [f"{name}: {reason}"]  # same answer once redacted


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "debug"),
        ("DB_PASSWORD", ""),  # empty: nothing to leak
        ("TABLE", "AKIA-not-a-key"),
        ("ID", "XAKIAZZZZEXAMPLE000011"),  # embedded in a longer token
        ("SECRET_ARN", None),
    ],
)
def test_ignores(name: str, value: object) -> None:
    assert suspicious_variables([(name, value)]) == []


def test_redaction_keeps_no_value_and_tolerates_wrong_types() -> None:
    assert redact_all({"A": SECRET_VALUE, "B": 42})["A"] == {
        "redacted": True,
        "length": len(SECRET_VALUE),
        "looks_like": "",
    }
    assert redact_all(["not", "a", "mapping"]) == {}
    # A redacted shape with a non-numeric length is not trusted as non-empty; anything else is text to classify.
    assert suspicious_variables([(42, {"redacted": True, "length": "9"}), ("PASSWORD", {"weird": 1})]) == [
        "PASSWORD: name suggests a secret"
    ]


def test_lambda_secret_never_stored_nor_shown(aws) -> None:
    _function(env={"DB_PASSWORD": SECRET_VALUE, "UPSTREAM": FAKE_KEY_ID})(aws)
    inventory = aws.collect(services=["lambda"])
    assert SECRET_VALUE not in json.dumps(inventory.to_dict(), default=str)
    assert FAKE_KEY_ID not in json.dumps(inventory.to_dict(), default=str)
    from cloudwarden.posture.evaluator import evaluate

    finding = verdict(evaluate(inventory), "lambda_function_no_secrets_in_env", "orders-api")
    assert finding.status is Status.FAIL
    assert SECRET_VALUE not in json.dumps(finding.evidence) + finding.message


def test_ecs_secret_never_stored(aws) -> None:
    _task({"containers": [_container(environment=[{"name": "DB_PASSWORD", "value": SECRET_VALUE}])]})(aws)
    inventory = aws.collect(services=["ecs"])
    assert SECRET_VALUE not in json.dumps(inventory.to_dict(), default=str)
