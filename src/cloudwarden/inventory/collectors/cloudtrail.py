"""CloudTrail (account-wide): every trail, read in its home region, with status and event selectors.

ListTrails names every trail of the account in one call, so this collector runs once per account
rather than once per region, and a multi-region trail is judged once, not in every region.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import (
    Collector,
    CollectorScope,
    for_each,
    list_all,
    read_attribute,
    strip_metadata,
)
from cloudwarden.inventory.model import GLOBAL, Resource

TRAIL = "AWS::CloudTrail::Trail"
ACCOUNT_SETTINGS = "AWS::CloudTrail::AccountSettings"


def collect_trails(scope: CollectorScope) -> list[Resource]:
    listed = list_all(scope.client("cloudtrail"), "list_trails", "Trails[]")
    trails = for_each(listed, lambda t: _trail(scope, t))
    # The anchor for account-wide verdicts such as "a multi-region trail is logging".
    anchor = Resource(
        ACCOUNT_SETTINGS,
        scope.account_id,
        GLOBAL,
        scope.account_id,
        arn=scope.arn("cloudtrail", "trails"),
        attributes={"trail_arns": [t.arn for t in trails]},
    )
    return [anchor, *trails]


def _trail(scope: CollectorScope, listed: dict[str, Any]) -> Resource:
    arn = listed["TrailARN"]
    home = listed.get("HomeRegion") or scope.region
    client = scope.client("cloudtrail", home)
    resource = Resource(TRAIL, listed.get("Name") or arn, home, scope.account_id, arn=arn)
    read_attribute(
        resource,
        "trail",
        lambda: client.describe_trails(trailNameList=[arn], includeShadowTrails=False),
        service="cloudtrail",
        operation="DescribeTrails",
        transform=lambda r: (r.get("trailList") or [{}])[0],
    )
    read_attribute(
        resource,
        "status",
        lambda: client.get_trail_status(Name=arn),
        service="cloudtrail",
        operation="GetTrailStatus",
        transform=strip_metadata,
    )
    read_attribute(
        resource,
        "event_selectors",
        lambda: client.get_event_selectors(TrailName=arn),
        service="cloudtrail",
        operation="GetEventSelectors",
        transform=lambda r: {
            "EventSelectors": r.get("EventSelectors"),
            "AdvancedEventSelectors": r.get("AdvancedEventSelectors"),
        },
    )
    return resource


COLLECTORS = [
    Collector("cloudtrail", (ACCOUNT_SETTINGS, TRAIL), collect_trails, regional=False, operation="ListTrails"),
]
