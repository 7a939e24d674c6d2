"""Lambda (regional): functions with their URL configurations and resource policy.

ListFunctions gives runtime, tracing and environment; per function, ListFunctionUrlConfigs (every URL,
aliases included) and GetPolicy (ResourceNotFoundException means "no policy", stored as ``None``).
Environment values are redacted here (:func:`cloudwarden.posture.secrets.redact_all`): an inventory file
never holds a function's secrets, only their length and shape.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import CollectorScope, for_each, listing, read_attribute
from cloudwarden.inventory.model import Resource
from cloudwarden.posture.secrets import redact_all

FUNCTION = "AWS::Lambda::Function"


def augment_functions(scope: CollectorScope, functions: list[Resource]) -> None:
    client = scope.client("lambda")

    def one(function: Resource) -> None:
        arn = function.attributes.get("FunctionArn")
        if isinstance(arn, str) and arn:
            function.arn = arn
        environment = function.attributes.get("Environment")
        if isinstance(environment, dict) and "Variables" in environment:
            environment["Variables"] = redact_all(environment.get("Variables"))
        name = function.id
        read_attribute(
            function,
            "url_configs",
            lambda: _url_configs(client, name),
            service="lambda",
            operation="ListFunctionUrlConfigs",
        )
        reason = function.errors.get("url_configs", "")
        if reason.startswith("404 on "):
            function.errors["url_configs"] = f"{reason} (the endpoint does not implement this API)"
        read_attribute(
            function,
            "policy",
            lambda: client.get_policy(FunctionName=name),
            service="lambda",
            operation="GetPolicy",
            absent=("ResourceNotFoundException",),
            transform=lambda r: r.get("Policy"),
        )

    for_each(functions, one)


def _url_configs(client: Any, name: str) -> list[dict[str, Any]]:
    configs = []
    kwargs: dict[str, Any] = {"FunctionName": name}
    for _ in range(100):  # bounded: a function has at most one URL per alias
        answer = client.list_function_url_configs(**kwargs)
        configs += [c for c in answer.get("FunctionUrlConfigs") or [] if isinstance(c, dict)]
        if not answer.get("NextMarker"):
            break
        kwargs["Marker"] = answer["NextMarker"]
    return configs


COLLECTORS = [
    listing(
        "lambda",
        FUNCTION,
        "ListFunctions",
        "Functions[]",
        "FunctionName",
        "function:{FunctionName}",
        augment=augment_functions,
    ),
]
