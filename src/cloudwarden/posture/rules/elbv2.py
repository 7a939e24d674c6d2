"""Elastic Load Balancing v2 rules: HTTP without a redirect to HTTPS, and outdated TLS policies."""

from __future__ import annotations

from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
TLS_PROTOCOLS = ("HTTPS", "TLS")

# Predefined ELB security policies that negotiate TLS 1.2 or later only. Anything else (TLS 1.0/1.1
# policies such as ELBSecurityPolicy-2016-08, custom or unknown names) is reported as outdated.
ACCEPTABLE_SSL_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
        "ELBSecurityPolicy-TLS-1-2-2017-01",
        "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
        "ELBSecurityPolicy-FS-1-2-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    }
)


def _listeners(lb: Resource) -> list[dict[str, Any]]:
    return [item for item in lb.attr("listeners") or [] if isinstance(item, dict)]


def _redirects_to_https(listener: dict[str, Any]) -> bool:
    actions = [a for a in listener.get("DefaultActions") or [] if isinstance(a, dict)]
    return bool(actions) and all(
        a.get("Type") == "redirect" and (a.get("RedirectConfig") or {}).get("Protocol") == "HTTPS" for a in actions
    )


@rule(
    id="elbv2_listeners_use_tls",
    title="Load balancer HTTP listeners redirect to HTTPS",
    severity=Severity.MEDIUM,
    resource_type=LOAD_BALANCER,
    fsbp=("ELB.1",),
    well_architected=("SEC09",),
    rationale="Plain HTTP exposes session cookies and data to anyone on the path; an HTTP listener should "
    "only send clients to HTTPS.",
    remediation="Change the HTTP listener's default action to a redirect: aws elbv2 modify-listener "
    "--listener-arn ARN --default-actions Type=redirect,RedirectConfig='{Protocol=HTTPS,Port=443,"
    "StatusCode=HTTP_301}'",
)
def elbv2_listeners_use_tls(lb: Resource, _: Inventory) -> Verdict | None:
    listeners = _listeners(lb)
    http = [item for item in listeners if item.get("Protocol") == "HTTP"]
    plain = sorted(f"HTTP:{item.get('Port')}" for item in http if not _redirects_to_https(item))
    if plain:
        return failed(f"Load balancer {lb.id} serves plain HTTP.", plain_listeners=plain)
    return passed("Every HTTP listener redirects to HTTPS.", plain_listeners=[])


@rule(
    id="elbv2_tls_policy_current",
    title="Load balancer TLS listeners use a TLS 1.2+ security policy",
    severity=Severity.MEDIUM,
    resource_type=LOAD_BALANCER,
    fsbp=("ELB.17",),
    well_architected=("SEC09",),
    rationale="Policies that still offer TLS 1.0/1.1 and weak ciphers allow downgrade attacks and fail "
    "compliance audits.",
    remediation="aws elbv2 modify-listener --listener-arn ARN --ssl-policy ELBSecurityPolicy-TLS13-1-2-2021-06",
)
def elbv2_tls_policy_current(lb: Resource, _: Inventory) -> Verdict | None:
    tls = [item for item in _listeners(lb) if item.get("Protocol") in TLS_PROTOCOLS]
    if not tls:
        return None  # no TLS listener to judge
    outdated = sorted(
        f"{item.get('Protocol')}:{item.get('Port')} {item.get('SslPolicy')}"
        for item in tls
        if item.get("SslPolicy") not in ACCEPTABLE_SSL_POLICIES
    )
    if outdated:
        return failed(f"Load balancer {lb.id} has TLS listeners with an outdated policy.", outdated=outdated)
    return passed("Every TLS listener uses a TLS 1.2+ policy.", outdated=[])
