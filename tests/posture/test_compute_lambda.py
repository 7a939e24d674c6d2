"""Lambda and ELB details the PASS/FAIL table does not show: the emulator's missing ListFunctionUrlConfigs is
ERROR (never PASS), deprecation follows the scan date, and untrusted shapes do not crash the rules."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudwarden.findings.model import Status
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.evaluator import evaluate
from tests.conftest import ACCOUNT_ID, REGION, verdict
from tests.posture.cases_compute import _function

FUNCTION = "AWS::Lambda::Function"


def test_function_url_listing_not_implemented_is_error(aws) -> None:
    _function()(aws)
    finding = verdict(aws.scan(services=["lambda"]), "lambda_function_url_auth", "orders-api")
    assert finding.status is Status.ERROR
    assert "lambda:ListFunctionUrlConfigs" in finding.evidence["reason"]


def _inventory(*resources: Resource, when: datetime | None = None) -> Inventory:
    inventory = Inventory(ACCOUNT_ID, [REGION], resources=list(resources), collected_types={r.type for r in resources})
    if when:
        inventory.collected_at = when
    return inventory


def test_deprecation_follows_the_scan_date() -> None:
    function = Resource(FUNCTION, "f", REGION, ACCOUNT_ID, attributes={"Runtime": "python3.9"})
    before = _inventory(function, when=datetime(2025, 12, 1, tzinfo=UTC))
    after = _inventory(function, when=datetime(2025, 12, 16, tzinfo=UTC))
    assert verdict(evaluate(before), "lambda_function_supported_runtime", "f").status is Status.PASS
    assert verdict(evaluate(after), "lambda_function_supported_runtime", "f").status is Status.FAIL


def test_container_image_functions_and_functions_without_urls_are_not_judged() -> None:
    function = Resource(FUNCTION, "img", REGION, ACCOUNT_ID, attributes={"PackageType": "Image", "url_configs": []})
    judged = {f.rule.id for f in evaluate(_inventory(function))}
    assert "lambda_function_supported_runtime" not in judged
    assert "lambda_function_url_auth" not in judged


def test_hostile_shapes_do_not_pass_or_crash() -> None:
    function = Resource(
        FUNCTION,
        "odd",
        REGION,
        ACCOUNT_ID,
        attributes={
            "Runtime": "python3.12",
            "Environment": {"Variables": ["DB_PASSWORD=x"]},
            "TracingConfig": {},
            "policy": '{"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "lambda:*"}}',
            "url_configs": ["not-a-dict", {"AuthType": "NONE", "FunctionUrl": "https://x/"}],
        },
    )
    findings = evaluate(_inventory(function))
    assert verdict(findings, "lambda_function_not_public", "odd").status is Status.FAIL
    assert verdict(findings, "lambda_function_url_auth", "odd").status is Status.FAIL
    assert verdict(findings, "lambda_function_tracing_enabled", "odd").status is Status.FAIL
    assert verdict(findings, "lambda_function_no_secrets_in_env", "odd").status is Status.PASS


def test_load_balancer_without_tls_listeners_is_not_judged_for_policy() -> None:
    lb = Resource(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "nlb",
        REGION,
        ACCOUNT_ID,
        attributes={"listeners": [{"Protocol": "TCP", "Port": 5432, "SslPolicy": "ELBSecurityPolicy-2016-08"}]},
    )
    judged = {f.rule.id: f.status for f in evaluate(_inventory(lb))}
    assert "elbv2_tls_policy_current" not in judged
    assert judged["elbv2_listeners_use_tls"] is Status.PASS
