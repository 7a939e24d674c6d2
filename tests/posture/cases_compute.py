"""Rule cases for the compute services: Lambda, ECS task definitions and Elastic Load Balancing v2.

Seeded through the emulator, except Lambda function URLs: the emulator answers ListFunctionUrlConfigs with
HTTP 404 (not implemented), so those cases judge recorded inventories; ``test_compute_lambda.py`` checks that
the emulator's answer becomes ERROR, not PASS.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from cloudwarden.inventory.model import Inventory, Resource
from tests.conftest import ACCOUNT_ID, REGION, Emulated
from tests.posture.rule_cases import Case, Recorded, Seed

LAMBDA, ECS, ELB = ("lambda",), ("ecs",), ("elasticloadbalancingv2",)
FUNCTION = "AWS::Lambda::Function"
NO_URL_LISTING = (
    "the emulator does not implement ListFunctionUrlConfigs (HTTP 404), so function URLs can only be judged "
    "from a recorded inventory"
)
FAKE_KEY_ID = "AKIAZZZZEXAMPLE00001"  # shaped like an access key id; no such key exists


# -- Lambda ------------------------------------------------------------------------------------------------


def lambda_role(aws: Emulated, name: str = "app-fn-role") -> str:
    return str(
        aws.client("iam").create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
    )


def lambda_zip() -> bytes:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return code.getvalue()


def _function(
    runtime: str = "python3.12",
    env: dict[str, str] | None = None,
    tracing: str = "PassThrough",
    permission: dict[str, Any] | None = None,
) -> Seed:
    def seed(aws: Emulated) -> str:
        client = aws.client("lambda")
        client.create_function(
            FunctionName="orders-api",
            Runtime=runtime,
            Role=lambda_role(aws),
            Handler="index.handler",
            Code={"ZipFile": lambda_zip()},
            TracingConfig={"Mode": tracing},
            Environment={"Variables": env or {}},
        )
        if permission is not None:
            client.add_permission(
                FunctionName="orders-api", StatementId="invoke", Action="lambda:InvokeFunction", **permission
            )
        return "orders-api"

    return seed


def _recorded_function(url_configs: list[dict[str, Any]]) -> Recorded:
    """A function as ``collectors/awslambda.py`` writes it, with the URL configurations AWS would list."""

    def build() -> tuple[Inventory, str]:
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:orders-api"
        function = Resource(
            FUNCTION,
            "orders-api",
            REGION,
            ACCOUNT_ID,
            arn=arn,
            attributes={
                "FunctionName": "orders-api",
                "FunctionArn": arn,
                "Runtime": "python3.12",
                "TracingConfig": {"Mode": "Active"},
                "url_configs": url_configs,
                "policy": None,
            },
        )
        inventory = Inventory(account_id=ACCOUNT_ID, regions=[REGION], resources=[function], collected_types={FUNCTION})
        return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict()))), "orders-api"

    return build


def _url(auth: str, qualifier: str = "") -> dict[str, Any]:
    suffix = f":{qualifier}" if qualifier else ""
    return {
        "FunctionUrl": f"https://{qualifier or 'latest'}abc.lambda-url.{REGION}.on.aws/",
        "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:orders-api{suffix}",
        "AuthType": auth,
        "CreationTime": "2026-11-01T10:00:00.000+0000",
        "LastModifiedTime": "2026-11-01T10:00:00.000+0000",
        "InvokeMode": "BUFFERED",
    }


# -- ECS ---------------------------------------------------------------------------------------------------


def _container(name: str = "web", **settings: Any) -> dict[str, Any]:
    return {"name": name, "image": "public.ecr.aws/nginx/nginx:1.27", "memory": 512, "essential": True, **settings}


def _task(*revisions: dict[str, Any]) -> Seed:
    """Register each revision of family ``web`` in order: ``{"networkMode": …, "containers": [...]}``."""

    def seed(aws: Emulated) -> str:
        ecs = aws.client("ecs")
        for revision in revisions:
            ecs.register_task_definition(
                family="web",
                networkMode=revision.get("networkMode", "awsvpc"),
                containerDefinitions=revision.get("containers") or [_container()],
            )
        return "web"

    return seed


# -- ELBv2 -------------------------------------------------------------------------------------------------


def _load_balancer(*listeners: tuple[str, int, str]) -> Seed:
    """An application load balancer with listeners ``(protocol, port, action or SSL policy)``: HTTP
    listeners ``forward`` or ``redirect`` (to HTTPS); HTTPS listeners name their SSL policy."""

    def seed(aws: Emulated) -> str:
        ec2, elbv2 = aws.client("ec2"), aws.client("elbv2")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = [
            s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        ][:2]
        lb = elbv2.create_load_balancer(Name="storefront", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        group = elbv2.create_target_group(Name="storefront", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
            "TargetGroupArn"
        ]
        forward = [{"Type": "forward", "TargetGroupArn": group}]
        for protocol, port, how in listeners:
            if protocol == "HTTPS":
                cert = aws.client("acm").request_certificate(DomainName="shop.example.com")["CertificateArn"]
                elbv2.create_listener(
                    LoadBalancerArn=lb,
                    Protocol="HTTPS",
                    Port=port,
                    SslPolicy=how,
                    Certificates=[{"CertificateArn": cert}],
                    DefaultActions=forward,
                )
            elif how == "redirect":
                elbv2.create_listener(
                    LoadBalancerArn=lb,
                    Protocol="HTTP",
                    Port=port,
                    DefaultActions=[
                        {
                            "Type": "redirect",
                            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
                        }
                    ],
                )
            else:
                elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=forward)
        return "storefront"

    return seed


MODERN_TLS = "ELBSecurityPolicy-TLS13-1-2-2021-06"
OLD_TLS = "ELBSecurityPolicy-2016-08"

# -- the table --------------------------------------------------------------------------------------

CASES: list[Case] = [
    # Lambda
    Case(
        "lambda_function_supported_runtime", "PASS", _function("python3.12"), LAMBDA, evidence={"Runtime": "python3.12"}
    ),
    Case(
        "lambda_function_supported_runtime",
        "FAIL",
        _function("python3.7"),
        LAMBDA,
        evidence={"Runtime": "python3.7", "deprecated_on": "2023-12-04"},
    ),
    Case(
        "lambda_function_url_auth",
        "PASS",
        inventory=_recorded_function([_url("AWS_IAM")]),
        recorded_because=NO_URL_LISTING,
        evidence={"open_urls": []},
    ),
    Case(
        "lambda_function_url_auth",
        "FAIL",
        inventory=_recorded_function([_url("AWS_IAM"), _url("NONE", "live")]),
        recorded_because=NO_URL_LISTING,
        evidence={"open_urls": [f"https://liveabc.lambda-url.{REGION}.on.aws/"]},
    ),
    Case("lambda_function_not_public", "PASS", _function(), LAMBDA, label="no-policy", evidence={"public_actions": []}),
    Case(
        "lambda_function_not_public",
        "PASS",
        _function(
            permission={
                "Principal": "s3.amazonaws.com",
                "SourceArn": "arn:aws:s3:::uploads",
                "SourceAccount": ACCOUNT_ID,
            }
        ),
        LAMBDA,
        label="service-with-source",
        evidence={"public_actions": []},
    ),
    Case(
        "lambda_function_not_public",
        "FAIL",
        _function(permission={"Principal": "*"}),
        LAMBDA,
        evidence={"public_actions": ["lambda:InvokeFunction"]},
    ),
    Case("lambda_function_tracing_enabled", "PASS", _function(tracing="Active"), LAMBDA),
    Case(
        "lambda_function_tracing_enabled",
        "FAIL",
        _function(tracing="PassThrough"),
        LAMBDA,
        evidence={"TracingMode": "PassThrough"},
    ),
    Case(
        "lambda_function_no_secrets_in_env",
        "PASS",
        _function(env={"LOG_LEVEL": "info", "DB_PASSWORD": "", "TABLE": "orders"}),
        LAMBDA,
        evidence={"variables": []},
    ),
    Case(
        "lambda_function_no_secrets_in_env",
        "FAIL",
        _function(env={"DB_PASSWORD": "hunter2-prod", "LOG_LEVEL": "info"}),
        LAMBDA,
        evidence={"variables": ["DB_PASSWORD: name suggests a secret"]},
    ),
    Case(
        "lambda_function_no_secrets_in_env",
        "FAIL",
        _function(env={"UPSTREAM": FAKE_KEY_ID}),
        LAMBDA,
        label="access-key-value",
        evidence={"variables": ["UPSTREAM: value looks like an AWS access key id"]},
    ),
    # ECS task definitions
    Case("ecs_task_no_privileged_containers", "PASS", _task({"containers": [_container(privileged=False)]}), ECS),
    Case(
        "ecs_task_no_privileged_containers",
        "FAIL",
        _task({"containers": [_container(), _container("agent", privileged=True)]}),
        ECS,
        evidence={"privileged": ["agent"]},
    ),
    Case(
        "ecs_task_no_privileged_containers",
        "PASS",
        _task({"containers": [_container(privileged=True)]}, {"containers": [_container()]}),
        ECS,
        label="latest-revision-fixed",
    ),
    Case("ecs_task_no_host_network", "PASS", _task({"networkMode": "awsvpc"}), ECS, evidence={"networkMode": "awsvpc"}),
    Case("ecs_task_no_host_network", "FAIL", _task({"networkMode": "host"}), ECS, evidence={"networkMode": "host"}),
    Case(
        "ecs_task_no_secrets_in_env",
        "PASS",
        _task(
            {
                "containers": [
                    _container(
                        environment=[{"name": "LOG_LEVEL", "value": "info"}],
                        secrets=[
                            {"name": "API_KEY", "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:api"}
                        ],
                    )
                ]
            }
        ),
        ECS,
        evidence={"variables": []},
    ),
    Case(
        "ecs_task_no_secrets_in_env",
        "FAIL",
        _task(
            {
                "containers": [
                    _container(
                        environment=[
                            {"name": "STRIPE_API_KEY", "value": "sk_live_not_really"},
                            {"name": "AWS_KEY", "value": FAKE_KEY_ID},
                        ]
                    )
                ]
            }
        ),
        ECS,
        evidence={
            "variables": [
                "web/AWS_KEY: value looks like an AWS access key id",
                "web/STRIPE_API_KEY: name suggests a secret",
            ]
        },
    ),
    # Elastic Load Balancing v2
    Case(
        "elbv2_listeners_use_tls",
        "PASS",
        _load_balancer(("HTTP", 80, "redirect"), ("HTTPS", 443, MODERN_TLS)),
        ELB,
        evidence={"plain_listeners": []},
    ),
    Case(
        "elbv2_listeners_use_tls",
        "FAIL",
        _load_balancer(("HTTP", 80, "forward")),
        ELB,
        evidence={"plain_listeners": ["HTTP:80"]},
    ),
    Case(
        "elbv2_tls_policy_current", "PASS", _load_balancer(("HTTPS", 443, MODERN_TLS)), ELB, evidence={"outdated": []}
    ),
    Case(
        "elbv2_tls_policy_current",
        "FAIL",
        _load_balancer(("HTTP", 80, "redirect"), ("HTTPS", 443, OLD_TLS)),
        ELB,
        evidence={"outdated": [f"HTTPS:443 {OLD_TLS}"]},
    ),
]
