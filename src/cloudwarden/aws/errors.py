"""Turning botocore failures into the short reasons that ERROR results carry."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError


def describe_failure(exc: BaseException, service: str, operation: str) -> str:
    """``AccessDenied on s3:GetBucketPolicy``-style text for an exception raised by an AWS call.

    A ClientError names its own operation, which wins over the one the caller expected.
    """
    if isinstance(exc, ClientError):
        operation = getattr(exc, "operation_name", None) or operation
        code = exc.response.get("Error", {}).get("Code") or "ClientError"
        return f"{code} on {service}:{operation}"
    if isinstance(exc, BotoCoreError):
        return f"{type(exc).__name__} on {service}:{operation}: {exc}"
    return f"{type(exc).__name__} on {service}:{operation}: {exc}"


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "")
    return ""
