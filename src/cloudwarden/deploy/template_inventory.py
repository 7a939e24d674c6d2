"""A CloudFormation template read as an :class:`~cloudwarden.inventory.model.Inventory`, so the posture rules judge
what a stack would create before it exists.

Each resource of a type a collector produces becomes the :class:`Resource` that collector would have made of it,
with the same attribute shapes (``AWS::SQS::Queue`` -> ``attributes`` as GetQueueAttributes answers, strings and
all; a function's ``policy`` as the JSON text GetPolicy returns, built from the template's
``AWS::Lambda::Permission`` resources). Resources that only add to another one (permissions, queue and topic
policies, IAM policies) are folded into it; every other resource is listed with the reason no rule reads it.

Intrinsic functions are resolved with the parameter values given (else the defaults); a value only AWS knows
at creation (a generated name, an unset parameter) becomes a ``${...}`` placeholder. The account is
:data:`TEMPLATE_ACCOUNT` unless given, so ``${AWS::AccountId}`` in a trust policy reads as "this account".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudwarden.inventory.model import GLOBAL, Inventory, Resource
from cloudwarden.posture.secrets import redact_all

TEMPLATE_ACCOUNT = "111122223333"
FUNCTION, QUEUE, TOPIC, ROLE = "AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::IAM::Role"
TABLE, KEY = "AWS::DynamoDB::Table", "AWS::KMS::Key"
_NO_VALUE = object()


@dataclass(frozen=True)
class _Kind:
    """How CloudFormation names a resource type: the property that names it, what ``Ref`` returns, its ARN."""

    name_property: str | None
    ref: str  # "name", "arn" or "url"
    arn: str  # format with {partition} {region} {account} {name}


KINDS: dict[str, _Kind] = {
    FUNCTION: _Kind("FunctionName", "name", "arn:{partition}:lambda:{region}:{account}:function:{name}"),
    QUEUE: _Kind("QueueName", "url", "arn:{partition}:sqs:{region}:{account}:{name}"),
    TOPIC: _Kind("TopicName", "arn", "arn:{partition}:sns:{region}:{account}:{name}"),
    ROLE: _Kind("RoleName", "name", "arn:{partition}:iam::{account}:role/{name}"),
    "AWS::Events::Rule": _Kind("Name", "name", "arn:{partition}:events:{region}:{account}:rule/{name}"),
    "AWS::Logs::LogGroup": _Kind("LogGroupName", "name", "arn:{partition}:logs:{region}:{account}:log-group:{name}:*"),
    TABLE: _Kind("TableName", "name", "arn:{partition}:dynamodb:{region}:{account}:table/{name}"),
    KEY: _Kind(None, "name", "arn:{partition}:kms:{region}:{account}:key/{name}"),  # Ref: the key id
}
# Types that add to another resource, and the types no posture rule reads (with the reason, for the report).
FOLDED = {
    "AWS::Lambda::Permission": "the function's resource policy",
    "AWS::SQS::QueuePolicy": "the queue's Policy attribute",
    "AWS::SNS::TopicPolicy": "the topic's Policy attribute",
    "AWS::IAM::Policy": "the roles' inline policies",
}


@dataclass
class TemplateInventory:
    """The inventory, and what happened to each template resource that is not in it."""

    inventory: Inventory
    folded: dict[str, str] = field(default_factory=dict)  # logical id -> what it became part of
    unjudged: dict[str, str] = field(default_factory=dict)  # logical id -> why no rule reads it
    excluded: dict[str, str] = field(default_factory=dict)  # logical id -> the false condition


class _Resolver:
    def __init__(self, template: dict[str, Any], parameters: dict[str, str], stack: str, region: str,
                 account: str, partition: str) -> None:
        raw = template.get("Resources")
        self.resources: dict[str, dict[str, Any]] = {
            str(k): v for k, v in (raw.items() if isinstance(raw, dict) else []) if isinstance(v, dict)
        }
        self.pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition,
                       "AWS::StackName": stack, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": _NO_VALUE}
        self.parameters = {
            name: parameters.get(name, (spec or {}).get("Default", f"${{{name}}}"))
            for name, spec in (template.get("Parameters") or {}).items()
        }
        self.region, self.account, self.partition, self.stack = region, account, partition, stack
        raw_conditions = template.get("Conditions") or {}
        self.conditions: dict[str, bool] = {}
        for name in raw_conditions:
            self.conditions[name] = self._condition(raw_conditions[name], raw_conditions, depth=0)

    def _condition(self, value: Any, raw: dict[str, Any], depth: int) -> bool:
        if depth > 20:
            return False
        if isinstance(value, dict) and len(value) == 1:
            (function, args), = value.items()
            if function == "Condition":
                return self._condition(raw.get(args), raw, depth + 1)
            if function == "Fn::Equals" and isinstance(args, list) and len(args) == 2:
                return str(self.resolve(args[0])) == str(self.resolve(args[1]))
            if function == "Fn::Not" and isinstance(args, list) and args:
                return not self._condition(args[0], raw, depth + 1)
            if function == "Fn::And" and isinstance(args, list):
                return all(self._condition(a, raw, depth + 1) for a in args)
            if function == "Fn::Or" and isinstance(args, list):
                return any(self._condition(a, raw, depth + 1) for a in args)
        return False  # an unreadable condition: the resources it guards are reported as excluded

    def active(self, logical: str) -> bool:
        condition = (self.resources.get(logical) or {}).get("Condition")
        return condition is None or self.conditions.get(str(condition), False)

    def name(self, logical: str) -> str:
        resource = self.resources.get(logical) or {}
        kind = KINDS.get(str(resource.get("Type")))
        if kind and kind.name_property:
            given = self.resolve((resource.get("Properties") or {}).get(kind.name_property))
            if isinstance(given, str) and given:
                return given
        return f"{self.stack}-{logical}"  # CloudFormation generates one like it

    def arn(self, logical: str) -> str:
        kind = KINDS.get(str((self.resources.get(logical) or {}).get("Type")))
        if kind is None:
            return f"${{{logical}.Arn}}"
        return kind.arn.format(partition=self.partition, region=self.region, account=self.account,
                               name=self.name(logical))

    def ref(self, target: str) -> Any:
        if target in self.pseudo:
            return self.pseudo[target]
        if target in self.parameters:
            return self.parameters[target]
        kind = KINDS.get(str((self.resources.get(target) or {}).get("Type")))
        if kind is None:
            return f"${{{target}}}"
        if kind.ref == "arn":
            return self.arn(target)
        if kind.ref == "url":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.name(target)}"
        return self.name(target)

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """``value`` with every intrinsic function it can evaluate evaluated; ``Ref: AWS::NoValue`` removed."""
        if depth > 50:
            return "${...}"
        if isinstance(value, list):
            items = [self.resolve(v, depth + 1) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, args), = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, args, depth + 1)
            if key.startswith("Fn::"):
                return f"${{{key}}}"  # not evaluated here (ImportValue, GetAZs, ...): a placeholder
        resolved = {k: self.resolve(v, depth + 1) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _sub(self, args: Any, depth: int) -> Any:
        text, variables = (args[0], args[1]) if isinstance(args, list) and len(args) == 2 else (args, {})
        if not isinstance(text, str) or not isinstance(variables, dict):
            return "${Fn::Sub}"
        values = {k: self.resolve(v, depth) for k, v in variables.items()}
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            end = text.find("}", start) if start >= 0 else -1
            if start < 0 or end < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            name = text[start + 2:end]
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")  # ${!Literal} is written as ${Literal}
            elif name in values:
                out.append(str(values[name]))
            elif "." in name:
                out.append(str(self.get_att(name.split(".", 1), depth)))
            else:
                out.append(str(self.ref(name)))
            i = end + 1
        return "".join(out)

    def get_att(self, args: Any, depth: int) -> Any:
        if isinstance(args, str):
            args = args.split(".", 1)
        if not isinstance(args, list) or len(args) != 2:
            return "${Fn::GetAtt}"
        logical, attribute = str(args[0]), str(args[1])
        if attribute == "Arn" and logical in self.resources:
            return self.arn(logical)
        if attribute == "QueueName":
            return self.name(logical)
        return f"${{{logical}.{attribute}}}"

    def _if(self, args: Any, depth: int) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            return "${Fn::If}"
        return self.resolve(args[1] if self.conditions.get(str(args[0]), False) else args[2], depth)

    def _join(self, args: Any, depth: int) -> Any:
        if not isinstance(args, list) or len(args) != 2:
            return "${Fn::Join}"
        items = self.resolve(args[1], depth)
        return str(args[0]).join(str(i) for i in items) if isinstance(items, list) else "${Fn::Join}"


_FUNCTIONS: dict[str, Callable[[_Resolver, Any, int], Any]] = {
    "Ref": lambda r, args, _: r.ref(str(args)),
    "Fn::Sub": lambda r, args, depth: r._sub(args, depth),
    "Fn::GetAtt": lambda r, args, depth: r.get_att(args, depth),
    "Fn::If": lambda r, args, depth: r._if(args, depth),
    "Fn::Join": lambda r, args, depth: r._join(args, depth),
}


def _policy_text(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []


class _Builder:
    def __init__(self, resolver: _Resolver) -> None:
        self.r = resolver
        self.props = {logical: resolver.resolve((spec or {}).get("Properties") or {})
                      for logical, spec in resolver.resources.items() if resolver.active(logical)}
        self.types = {logical: str((resolver.resources[logical] or {}).get("Type")) for logical in self.props}

    def of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [(logical, self.props[logical]) for logical, t in self.types.items() if t == resource_type]

    def function(self, logical: str, props: dict[str, Any]) -> Resource:
        name, arn = self.r.name(logical), self.r.arn(logical)
        statements = []
        for permission_id, permission in self.of_type("AWS::Lambda::Permission"):
            if str(permission.get("FunctionName")) not in (name, arn, logical):
                continue
            principal = str(permission.get("Principal", ""))
            condition: dict[str, Any] = {}
            if permission.get("SourceArn"):
                condition["ArnLike"] = {"AWS:SourceArn": permission["SourceArn"]}
            if permission.get("SourceAccount"):
                condition["StringEquals"] = {"AWS:SourceAccount": permission["SourceAccount"]}
            if permission.get("FunctionUrlAuthType"):
                condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = permission[
                    "FunctionUrlAuthType"]
            statements.append({
                "Sid": permission_id,
                "Effect": "Allow",
                "Principal": "*" if principal == "*" else {"Service": principal} if "." in principal
                else {"AWS": principal},
                "Action": permission.get("Action"),
                "Resource": arn,
                **({"Condition": condition} if condition else {}),
            })
        urls = [
            {"FunctionUrl": f"https://{logical}.lambda-url.{self.r.region}.on.aws/", "AuthType": url.get("AuthType")}
            for url_id, url in self.of_type("AWS::Lambda::Url")
            if str(url.get("TargetFunctionArn")) in (name, arn)
        ]
        environment = props.get("Environment") if isinstance(props.get("Environment"), dict) else {}
        attributes = {
            "FunctionName": name,
            "FunctionArn": arn,
            "Runtime": props.get("Runtime"),
            "Handler": props.get("Handler"),
            "Role": props.get("Role"),
            "MemorySize": props.get("MemorySize"),
            "Timeout": props.get("Timeout"),
            "Architectures": props.get("Architectures") or ["x86_64"],
            # Lambda's default is PassThrough: no trace unless the caller sends one.
            "TracingConfig": {"Mode": (props.get("TracingConfig") or {}).get("Mode", "PassThrough")},
            "Environment": {"Variables": redact_all(environment.get("Variables"))},
            "DeadLetterConfig": props.get("DeadLetterConfig"),
            "url_configs": urls,
            "policy": _policy_text({"Version": "2012-10-17", "Id": "default", "Statement": statements})
            if statements else None,
        }
        return Resource(FUNCTION, name, self.r.region, self.r.account, arn=arn, attributes=attributes,
                        tags=_tags(props))

    def queue(self, logical: str, props: dict[str, Any]) -> Resource:
        name, arn, url = self.r.name(logical), self.r.arn(logical), self.r.ref(logical)
        attributes: dict[str, str] = {"QueueArn": arn}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "KmsMasterKeyId",
                    "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds"):
            if props.get(key) not in (None, ""):
                attributes[key] = str(props[key])
        if "SqsManagedSseEnabled" in props:  # GetQueueAttributes answers in strings
            attributes["SqsManagedSseEnabled"] = str(props["SqsManagedSseEnabled"]).lower()
        if isinstance(props.get("RedrivePolicy"), dict):
            attributes["RedrivePolicy"] = _policy_text(props["RedrivePolicy"])
        for _, queue_policy in self.of_type("AWS::SQS::QueuePolicy"):
            if url in _names(queue_policy.get("Queues")):
                attributes["Policy"] = _policy_text(queue_policy.get("PolicyDocument"))
        return Resource(QUEUE, name, self.r.region, self.r.account, arn=arn,
                        attributes={"QueueUrl": url, "attributes": attributes}, tags=_tags(props))

    def topic(self, logical: str, props: dict[str, Any]) -> Resource:
        name, arn = self.r.name(logical), self.r.arn(logical)
        attributes = {"TopicArn": arn}
        for key in ("KmsMasterKeyId", "DisplayName"):
            if props.get(key):
                attributes[key] = str(props[key])
        for _, topic_policy in self.of_type("AWS::SNS::TopicPolicy"):
            if arn in _names(topic_policy.get("Topics")):
                attributes["Policy"] = _policy_text(topic_policy.get("PolicyDocument"))
        return Resource(TOPIC, name, self.r.region, self.r.account, arn=arn, attributes={"attributes": attributes},
                        tags=_tags(props))

    def role(self, logical: str, props: dict[str, Any]) -> Resource:
        name, arn = self.r.name(logical), self.r.arn(logical)
        inline = [
            {"PolicyName": str(p.get("PolicyName")), "PolicyDocument": p.get("PolicyDocument")}
            for p in props.get("Policies") or [] if isinstance(p, dict)
        ]
        for _, extra in self.of_type("AWS::IAM::Policy"):
            if name in _names(extra.get("Roles")):
                inline.append(
                    {"PolicyName": str(extra.get("PolicyName")), "PolicyDocument": extra.get("PolicyDocument")}
                )
        attributes = {
            "RoleName": name,
            "Arn": arn,
            "Path": props.get("Path") or "/",
            "trust_policy": props.get("AssumeRolePolicyDocument"),
            "inline_policies": inline,
            "AttachedManagedPolicies": [{"PolicyArn": a} for a in _names(props.get("ManagedPolicyArns"))],
        }
        return Resource(ROLE, name, GLOBAL, self.r.account, arn=arn, attributes=attributes, tags=_tags(props))


    def table(self, logical: str, props: dict[str, Any]) -> Resource:
        """As the DynamoDB collector: DescribeTable's ``table``, DescribeContinuousBackups' PITR description, and
        the key's manager (CUSTOMER for a key of this template, AWS for ``alias/aws/dynamodb``)."""
        name, arn = self.r.name(logical), self.r.arn(logical)
        sse_spec = props.get("SSESpecification") if isinstance(props.get("SSESpecification"), dict) else {}
        description: dict[str, Any] = {"TableName": name, "TableArn": arn}
        manager = None
        if sse_spec.get("SSEEnabled") is True and sse_spec.get("SSEType", "KMS") == "KMS":
            key = str(sse_spec.get("KMSMasterKeyId") or "alias/aws/dynamodb")
            own = {self.r.name(k): self.r.arn(k) for k, _ in self.of_type(KEY)}
            key_arn = own.get(key, key if key in own.values() else None)
            manager = "CUSTOMER" if key_arn else "AWS" if key == "alias/aws/dynamodb" else None
            description["SSEDescription"] = {"Status": "ENABLED", "SSEType": "KMS",
                                             "KMSMasterKeyArn": key_arn or key}
        pitr = props.get("PointInTimeRecoverySpecification") or {}
        enabled = isinstance(pitr, dict) and pitr.get("PointInTimeRecoveryEnabled") is True
        attributes: dict[str, Any] = {
            "table": description,
            "point_in_time_recovery": {"PointInTimeRecoveryStatus": "ENABLED" if enabled else "DISABLED"},
        }
        if manager is not None:
            attributes["kms_key_manager"] = manager
        return Resource(TABLE, name, self.r.region, self.r.account, arn=arn, attributes=attributes,
                        tags=_tags(props))

    def key(self, logical: str, props: dict[str, Any]) -> Resource:
        """As the KMS collector: DescribeKey's ``metadata`` and GetKeyRotationStatus."""
        name, arn = self.r.name(logical), self.r.arn(logical)
        metadata = {"KeyId": name, "Arn": arn, "KeyManager": "CUSTOMER",
                    "KeyState": "Disabled" if props.get("Enabled") is False else "Enabled",
                    "KeySpec": str(props.get("KeySpec") or "SYMMETRIC_DEFAULT"),
                    "Description": str(props.get("Description") or "")}
        return Resource(KEY, name, self.r.region, self.r.account, arn=arn,
                        attributes={"metadata": metadata, "rotation_enabled": props.get("EnableKeyRotation") is True},
                        tags=_tags(props))


def _tags(props: dict[str, Any]) -> dict[str, str]:
    tags = props.get("Tags")
    if isinstance(tags, list):
        return {str(t.get("Key")): str(t.get("Value")) for t in tags if isinstance(t, dict)}
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


_CONVERTERS: dict[str, Callable[[_Builder, str, dict[str, Any]], Resource]] = {
    FUNCTION: _Builder.function,
    QUEUE: _Builder.queue,
    TOPIC: _Builder.topic,
    ROLE: _Builder.role,
    TABLE: _Builder.table,
    KEY: _Builder.key,
}
CONVERTED_TYPES = frozenset(_CONVERTERS)


def template_inventory(
    template: dict[str, Any],
    parameters: dict[str, str] | None = None,
    *,
    stack_name: str = "cloudwarden",
    region: str = "us-east-1",
    account_id: str = TEMPLATE_ACCOUNT,
    partition: str = "aws",
) -> TemplateInventory:
    """The inventory the stack would add to ``account_id`` in ``region`` (``template`` as parsed JSON/YAML, with
    intrinsic functions in their long form)."""
    if not isinstance(template, dict):
        raise ValueError("a CloudFormation template is a mapping with a Resources section")
    resolver = _Resolver(template, parameters or {}, stack_name, region, account_id, partition)
    builder = _Builder(resolver)
    inventory = Inventory(account_id=account_id, regions=[region], partition=partition,
                          collected_at=datetime.now(UTC))
    result = TemplateInventory(inventory)
    raw = template.get("Resources")
    for logical in raw if isinstance(raw, dict) else []:
        if str(logical) not in resolver.resources:
            result.unjudged[str(logical)] = "not a resource (a mapping with a Type)"
    for logical, spec in resolver.resources.items():
        resource_type = str(spec.get("Type"))
        if not resolver.active(logical):
            result.excluded[logical] = f"condition {spec.get('Condition')} is false for these parameters"
        elif resource_type in _CONVERTERS:
            inventory.add(_CONVERTERS[resource_type](builder, logical, builder.props[logical]))
            inventory.collected_types.add(resource_type)
        elif resource_type in FOLDED:
            result.folded[logical] = FOLDED[resource_type]
        else:
            result.unjudged[logical] = f"no posture rule reads {resource_type}"
    return result
