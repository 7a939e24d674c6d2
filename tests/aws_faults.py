"""Making AWS say no, with botocore's own event hooks (moto cannot throttle or deny on demand).

``refuse(session, "s3", "GetBucketPolicy")`` makes every later call of that operation through clients of
``session`` fail with the given error code before any request is sent, exactly as botocore's Stubber
short-circuits calls.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3


def refuse(session: boto3.Session, service_id: str, operation: str = "*", code: str = "AccessDenied",
           status: int = 403) -> None:
    event = f"before-call.{service_id}" + ("" if operation == "*" else f".{operation}")

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        http = SimpleNamespace(status_code=status, headers={})
        return http, {"Error": {"Code": code, "Message": f"{code} (injected by the test)"},
                      "ResponseMetadata": {"HTTPStatusCode": status}}

    session.events.register_first(event, answer)
