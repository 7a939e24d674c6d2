"""SQS (regional): queues with their attributes (one GetQueueAttributes per queue)."""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, for_each, list_all, read_attribute
from cloudwarden.inventory.model import Resource

QUEUE = "AWS::SQS::Queue"


def collect_queues(scope: CollectorScope) -> list[Resource]:
    sqs = scope.client("sqs")
    urls = [u for u in list_all(sqs, "list_queues", "QueueUrls[]") if isinstance(u, str)]
    return for_each(urls, lambda url: _queue(scope, sqs, url))


def _queue(scope: CollectorScope, sqs: Any, url: str) -> Resource:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    queue = Resource(QUEUE, name, scope.region, scope.account_id, arn=scope.arn("sqs", name, scope.region))
    queue.attributes["QueueUrl"] = url
    read_attribute(
        queue,
        "attributes",
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]),
        service="sqs",
        operation="GetQueueAttributes",
        absent=("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"),
        transform=lambda r: r.get("Attributes", {}),
    )
    return queue


COLLECTORS = [Collector("sqs", (QUEUE,), collect_queues, operation="ListQueues")]
