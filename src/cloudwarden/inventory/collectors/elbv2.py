"""Elastic Load Balancing v2 (regional): load balancers with their listeners.

DescribeLoadBalancers once, then DescribeListeners per load balancer. The collector's service is named
after the resource type (``AWS::ElasticLoadBalancingV2::…``) so ``--services elasticloadbalancingv2``
selects it; the client is ``elbv2``.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, for_each, list_all, read_attribute
from cloudwarden.inventory.model import Resource, jsonable

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
SERVICE = "elasticloadbalancingv2"


def collect_load_balancers(scope: CollectorScope) -> list[Resource]:
    elbv2 = scope.client("elbv2")
    found = [lb for lb in list_all(elbv2, "describe_load_balancers", "LoadBalancers[]") if isinstance(lb, dict)]
    return for_each([lb for lb in found if lb.get("LoadBalancerArn")], lambda lb: _load_balancer(scope, elbv2, lb))


def _load_balancer(scope: CollectorScope, elbv2: Any, item: dict[str, Any]) -> Resource:
    arn = str(item["LoadBalancerArn"])
    name = str(item.get("LoadBalancerName") or arn.rsplit("/", 2)[-2])
    resource = Resource(LOAD_BALANCER, name, scope.region, scope.account_id, arn=arn, attributes=jsonable(item))
    read_attribute(
        resource,
        "listeners",
        lambda: list_all(elbv2, "describe_listeners", "Listeners[]", LoadBalancerArn=arn),
        service="elbv2",
        operation="DescribeListeners",
    )
    return resource


COLLECTORS = [Collector(SERVICE, (LOAD_BALANCER,), collect_load_balancers, operation="DescribeLoadBalancers")]
