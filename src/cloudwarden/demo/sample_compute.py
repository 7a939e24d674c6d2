"""Acme's compute: Lambda functions, ECS task definitions and load balancers.

The comment above each mistake names the rule that should catch it; well-configured resources sit beside
them. Not shown, because the emulator lacks ListFunctionUrlConfigs: function URLs (that rule reports ERROR
against the emulator).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from cloudwarden.demo.environment import PRIMARY_REGION, ClientFactory, SampleEnvironment

# Shaped like an access key id so the detector fires; AWS never issues the EXAMPLE pattern.
FAKE_ACCESS_KEY_ID = "AKIAZZZZEXAMPLE00042"
MODERN_TLS = "ELBSecurityPolicy-TLS13-1-2-2021-06"
OLD_TLS = "ELBSecurityPolicy-2016-08"


def seed(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    """Create Acme's compute in the emulator and record the planted mistakes in ``env``."""
    _functions(client, account_id, env, scale)
    _task_definitions(client, account_id, env)
    _load_balancers(client, env)


def _functions(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = client("iam", PRIMARY_REGION).create_role(
        RoleName="acme-functions", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
    lam = client("lambda", PRIMARY_REGION)
    common: dict[str, Any] = {"Role": role, "Handler": "index.handler", "Code": {"ZipFile": code.getvalue()}}
    for index in range(max(1, scale)):
        name = "acme-orders-api" if index == 0 else f"acme-orders-api-{index}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            TracingConfig={"Mode": "Active"},
            Environment={"Variables": {"TABLE": "acme-orders", "LOG_LEVEL": "info"}},
            **common,
        )
        lam.add_permission(
            FunctionName=name,
            StatementId="api-gateway",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceAccount=account_id,
            SourceArn=f"arn:aws:execute-api:{PRIMARY_REGION}:{account_id}:acme-api/*",
        )
    # The thumbnailer from 2021: old runtime, credentials pasted into its configuration, invokable by anyone.
    lam.create_function(
        FunctionName="acme-thumbnailer",
        Runtime="python3.7",
        TracingConfig={"Mode": "PassThrough"},
        Environment={
            "Variables": {
                "BUCKET": "acme-public-assets",
                "DB_PASSWORD": "changeme-2021",
                "UPLOAD_KEY": FAKE_ACCESS_KEY_ID,
            }
        },
        **common,
    )
    lam.add_permission(
        FunctionName="acme-thumbnailer", StatementId="anyone", Action="lambda:InvokeFunction", Principal="*"
    )
    env.plant("lambda_function_supported_runtime", "acme-thumbnailer", "function on python3.7")
    env.plant("lambda_function_tracing_enabled", "acme-thumbnailer", "function without X-Ray tracing")
    env.plant("lambda_function_no_secrets_in_env", "acme-thumbnailer", "password and access key in environment")
    env.plant("lambda_function_not_public", "acme-thumbnailer", "function policy allows Principal *")


def _container(name: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "image": f"public.ecr.aws/acme/{name}:2026.11", "memory": 512, "essential": True, **settings}


def _task_definitions(client: ClientFactory, account_id: str, env: SampleEnvironment) -> None:
    ecs = client("ecs", PRIMARY_REGION)
    secret = f"arn:aws:secretsmanager:{PRIMARY_REGION}:{account_id}:secret:acme/stripe-api-key"
    ecs.register_task_definition(
        family="acme-api",
        networkMode="awsvpc",
        containerDefinitions=[
            _container(
                "api",
                environment=[{"name": "LOG_LEVEL", "value": "info"}],
                secrets=[{"name": "STRIPE_API_KEY", "valueFrom": secret}],
            )
        ],
    )
    # The monitoring agent someone copied from a blog post: privileged, on the host's network.
    ecs.register_task_definition(
        family="acme-node-agent", networkMode="host", containerDefinitions=[_container("agent", privileged=True)]
    )
    env.plant("ecs_task_no_privileged_containers", "acme-node-agent", "privileged container")
    env.plant("ecs_task_no_host_network", "acme-node-agent", "host network mode")
    # The worker's first revision kept the API key in plain text; the second still does.
    for _ in range(2):
        ecs.register_task_definition(
            family="acme-worker",
            networkMode="awsvpc",
            containerDefinitions=[
                _container("worker", environment=[{"name": "STRIPE_API_KEY", "value": "sk_test_demo_only"}])
            ],
        )
    env.plant("ecs_task_no_secrets_in_env", "acme-worker", "API key in a plain environment variable")


def _load_balancers(client: ClientFactory, env: SampleEnvironment) -> None:
    ec2, elbv2 = client("ec2", PRIMARY_REGION), client("elbv2", PRIMARY_REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    certificate = client("acm", PRIMARY_REGION).request_certificate(DomainName="shop.acme.example")["CertificateArn"]
    redirect = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]

    def load_balancer(name: str, http_redirects: bool, policy: str) -> None:
        arn = elbv2.create_load_balancer(Name=name, Subnets=subnets[:2])["LoadBalancers"][0]["LoadBalancerArn"]
        group = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
        forward = [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]
        elbv2.create_listener(
            LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=redirect if http_redirects else forward
        )
        elbv2.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTPS",
            Port=443,
            SslPolicy=policy,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=forward,
        )

    load_balancer("acme-shop", http_redirects=True, policy=MODERN_TLS)
    load_balancer("acme-partners", http_redirects=False, policy=OLD_TLS)
    env.plant("elbv2_listeners_use_tls", "acme-partners", "HTTP listener forwarding without TLS")
    env.plant("elbv2_tls_policy_current", "acme-partners", "HTTPS listener on a TLS 1.0 policy")
