"""Lambda rules: deprecated runtimes, function URLs without auth, public resource policies, tracing, and
secrets in environment variables."""

from __future__ import annotations

from datetime import date

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture import policy
from cloudwarden.posture.registry import Verdict, failed, passed, rule
from cloudwarden.posture.secrets import suspicious_variables

FUNCTION = "AWS::Lambda::Function"

# Runtime -> the date AWS deprecated it (no more security patches), from the Lambda runtimes page.
# A runtime is judged deprecated once the scan's date reaches its date; add new rows as AWS announces them.
DEPRECATED_RUNTIMES: dict[str, date] = {
    "nodejs": date(2016, 10, 31),
    "nodejs4.3": date(2020, 3, 5),
    "nodejs4.3-edge": date(2019, 4, 30),
    "nodejs6.10": date(2019, 8, 12),
    "nodejs8.10": date(2020, 3, 6),
    "nodejs10.x": date(2021, 7, 30),
    "nodejs12.x": date(2023, 3, 31),
    "nodejs14.x": date(2023, 12, 4),
    "nodejs16.x": date(2024, 6, 12),
    "nodejs18.x": date(2025, 9, 1),
    "python2.7": date(2021, 7, 15),
    "python3.6": date(2022, 7, 18),
    "python3.7": date(2023, 12, 4),
    "python3.8": date(2024, 10, 14),
    "python3.9": date(2025, 12, 15),
    "java8": date(2024, 1, 8),
    "go1.x": date(2024, 1, 8),
    "provided": date(2024, 1, 8),
    "ruby2.5": date(2021, 7, 30),
    "ruby2.7": date(2023, 12, 7),
    "dotnetcore1.0": date(2019, 7, 30),
    "dotnetcore2.0": date(2019, 5, 30),
    "dotnetcore2.1": date(2022, 1, 5),
    "dotnetcore3.1": date(2023, 4, 3),
    "dotnet5.0": date(2022, 5, 10),
    "dotnet6": date(2024, 12, 20),
}


@rule(
    id="lambda_function_supported_runtime",
    title="Lambda functions use a supported runtime",
    severity=Severity.MEDIUM,
    resource_type=FUNCTION,
    fsbp=("Lambda.2",),
    well_architected=("SEC06",),
    rationale="A deprecated runtime no longer receives security patches for its language and OS layers.",
    remediation="Move the function to a supported runtime (aws lambda update-function-configuration "
    "--function-name FN --runtime python3.12) after testing the code on it.",
)
def lambda_function_supported_runtime(function: Resource, inventory: Inventory) -> Verdict | None:
    runtime = function.attr("Runtime")
    if not runtime:
        return None  # container-image functions bring their own runtime
    deprecated_on = DEPRECATED_RUNTIMES.get(str(runtime))
    if deprecated_on is not None and deprecated_on <= inventory.collected_at.date():
        return failed(
            f"Function {function.id} runs {runtime}, deprecated since {deprecated_on.isoformat()}.",
            Runtime=runtime,
            deprecated_on=deprecated_on.isoformat(),
        )
    return passed(f"Runtime {runtime} is supported.", Runtime=runtime)


@rule(
    id="lambda_function_url_auth",
    title="Lambda function URLs require IAM authentication",
    severity=Severity.HIGH,
    resource_type=FUNCTION,
    well_architected=("SEC03",),
    rationale="A function URL with AuthType NONE lets anyone on the internet invoke the function; the code "
    "alone must then authenticate every caller.",
    remediation="aws lambda update-function-url-config --function-name FN --auth-type AWS_IAM (or put the "
    "function behind API Gateway with an authorizer)",
)
def lambda_function_url_auth(function: Resource, _: Inventory) -> Verdict | None:
    configs = [c for c in function.attr("url_configs") or [] if isinstance(c, dict)]
    if not configs:
        return None  # no function URL
    open_urls = sorted(str(c.get("FunctionUrl", "")) for c in configs if c.get("AuthType") != "AWS_IAM")
    if open_urls:
        return failed(f"Function {function.id} has a URL anyone can invoke.", open_urls=open_urls)
    return passed("Every function URL requires IAM authentication.", open_urls=[])


@rule(
    id="lambda_function_not_public",
    title="Lambda function policies do not allow public access",
    severity=Severity.CRITICAL,
    resource_type=FUNCTION,
    fsbp=("Lambda.1",),
    well_architected=("SEC03",),
    rationale="A resource policy that allows Principal * without a condition tying it to a source ARN or "
    "account lets anyone invoke (or change) the function.",
    remediation="aws lambda remove-permission --function-name FN --statement-id SID, then grant the calling "
    "service with --source-arn/--source-account.",
)
def lambda_function_not_public(function: Resource, _: Inventory) -> Verdict:
    document = function.attr("policy")
    public = sorted(set(policy.allows_public_access(document))) if document else []
    if public:
        return failed(f"Function {function.id} allows public access.", public_actions=public)
    return passed("The function policy allows no public access.", public_actions=[])


@rule(
    id="lambda_function_tracing_enabled",
    title="Lambda functions have X-Ray active tracing",
    severity=Severity.LOW,
    resource_type=FUNCTION,
    fsbp=("Lambda.7",),
    well_architected=("SEC04",),
    rationale="Traces show which callers reached the function and what it called, which investigations need.",
    remediation="aws lambda update-function-configuration --function-name FN --tracing-config Mode=Active",
)
def lambda_function_tracing_enabled(function: Resource, _: Inventory) -> Verdict:
    mode = (function.attr("TracingConfig") or {}).get("Mode")
    if mode == "Active":
        return passed("Active tracing is on.", TracingMode=mode)
    return failed(f"Function {function.id} is not traced.", TracingMode=mode)


@rule(
    id="lambda_function_no_secrets_in_env",
    title="Lambda functions keep no secrets in environment variables",
    severity=Severity.HIGH,
    resource_type=FUNCTION,
    well_architected=("SEC02",),
    rationale="Environment variables are readable by anyone with lambda:GetFunctionConfiguration and end up in "
    "logs, IaC state and support tickets; secrets belong in Secrets Manager or Parameter Store.",
    remediation="Move the value to Secrets Manager, read it at start-up (or via the parameters-and-secrets "
    "extension), remove the variable, and rotate the exposed secret.",
)
def lambda_function_no_secrets_in_env(function: Resource, _: Inventory) -> Verdict:
    environment = function.attr("Environment") or {}
    variables = environment.get("Variables") if isinstance(environment, dict) else None
    found = suspicious_variables(variables.items() if isinstance(variables, dict) else [])
    if found:
        return failed(f"Function {function.id} has secret-looking environment variables.", variables=found)
    return passed("No environment variable looks like a secret.", variables=[])
