"""SNS (regional): topics with their attributes (one GetTopicAttributes per topic).

Subscriptions are read elsewhere (monitoring); this module owns ``AWS::SNS::Topic``.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, for_each, list_all, read_attribute
from cloudwarden.inventory.model import Resource

TOPIC = "AWS::SNS::Topic"


def collect_topics(scope: CollectorScope) -> list[Resource]:
    sns = scope.client("sns")
    arns = [a for a in list_all(sns, "list_topics", "Topics[].TopicArn") if isinstance(a, str)]
    return for_each(arns, lambda arn: _topic(scope, sns, arn))


def _topic(scope: CollectorScope, sns: Any, arn: str) -> Resource:
    topic = Resource(TOPIC, arn.rsplit(":", 1)[-1], scope.region, scope.account_id, arn=arn)
    read_attribute(
        topic,
        "attributes",
        lambda: sns.get_topic_attributes(TopicArn=arn),
        service="sns",
        operation="GetTopicAttributes",
        transform=lambda r: r.get("Attributes", {}),
    )
    return topic


COLLECTORS = [Collector("sns", (TOPIC,), collect_topics, operation="ListTopics")]
