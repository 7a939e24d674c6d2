"""The Lambda package: the handlers import and run with nothing but the package on sys.path, and it leaves out
what only the CLI needs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from cloudwarden.deploy.package import MANIFEST, Package, build_package, platform_problems, wheel_glibc
from cloudwarden.deploy.template import this_interpreter

ADMIN_ATTACHED = "0958a477-c075-4feb-9a5d-e68586a6f3c9"  # cw_admin_policy_attached.yml
IAM_POLICY_CHANGED = "2fefab6c-1473-40b2-a059-893848f58259"  # cw_iam_policy_changed.yml
CLI_ONLY = ("duckdb", "pyarrow", "pyspark", "moto", "rich", "typer", "jinja2", "hypothesis", "cfnlint")
# Runs in a child interpreter started with -I -S (no site-packages, no PYTHONPATH, no current folder): only the
# standard library and the unpacked package, as in Lambda's /var/task.
CHILD = r"""
import importlib, importlib.util, io, json, os, sys
task = sys.argv[1]
sys.path.insert(0, task)
fast = importlib.import_module("cloudwarden.detect.lanes.fast")
slow = importlib.import_module("cloudwarden.detect.lanes.slow")
assert callable(fast.handler) and callable(slow.handler)
from cloudwarden.detect.sinks import StreamSink
out = io.StringIO()
event = {"detail-type": "AWS API Call via CloudTrail", "detail": {
    "eventVersion": "1.08", "eventID": "7f1c9d2e-0000-4000-8000-000000000001", "eventTime": "2026-12-01T10:00:00Z",
    "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy", "awsRegion": "us-east-1",
    "recipientAccountId": "123456789012", "userIdentity": {"type": "IAMUser", "userName": "mallory"},
    "requestParameters": {"userName": "mallory", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}}
result = fast.process(event, fast.detector(), [StreamSink(out)])
notified = list(slow.objects_in({"Records": [{"eventSource": "aws:sqs", "body": json.dumps({"Records": [{
    "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "trail"}, "object": {"key": "a.json.gz"}}}]})}]}))
from cloudwarden.aws.session import AwsContext
keys = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
AwsContext.create(region="us-east-1", credentials=keys).client("sns")
outside = sorted({name.split(".")[0] for name, module in list(sys.modules.items())
                  if getattr(module, "__file__", None) and not module.__file__.startswith((task, sys.base_prefix))})
missing = [name for name in sys.argv[2].split(",") if importlib.util.find_spec(name) is not None]
print(json.dumps({"result": result, "alerts": out.getvalue().count("\n"), "notified": len(notified),
                  "outside": outside, "found": missing}))
"""


def test_handlers_run_from_the_package_alone(lane_package: Package, tmp_path: Path) -> None:
    task = tmp_path / "task"
    with zipfile.ZipFile(lane_package.path) as archive:
        archive.extractall(task)
    child = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, str(task), ",".join(CLI_ONLY)],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert child.returncode == 0, child.stderr[-3000:]
    answer = json.loads(child.stdout.strip().splitlines()[-1])
    # The bundled rules loaded from the package: AdministratorAccess attached, and an IAM policy change (CIS 4.4).
    assert answer["result"] == {"alerts": 2, "rules": [ADMIN_ATTACHED, IAM_POLICY_CHANGED]}
    assert answer["alerts"] == 2 and answer["notified"] == 1
    assert answer["outside"] == []  # every module came from the package or the standard library
    assert answer["found"] == []  # and none of the CLI's dependencies could have


def test_the_package_leaves_out_what_only_the_cli_needs(lane_package: Package) -> None:
    with zipfile.ZipFile(lane_package.path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(MANIFEST))
    tops = {name.split("/")[0].lower() for name in names}
    assert not [t for t in tops if t.split("-")[0] in CLI_ONLY], sorted(tops)
    assert {"cloudwarden", "sigma", "orjson", "boto3", "botocore"} <= tops
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "cloudwarden/detect/rules/cw_admin_policy_attached.yml" in names  # the bundled rules travel along
    here = this_interpreter()
    assert (manifest["runtime"], manifest["architecture"]) == (here.runtime, here.architecture)
    assert manifest["distributions"]["pySigma"] == metadata.version("pySigma")
    assert lane_package.sha256 == hashlib.sha256(lane_package.path.read_bytes()).hexdigest()
    assert lane_package.key == f"cloudwarden/lanes-{lane_package.sha256[:16]}.zip"
    assert lane_package.size < 40_000_000


def test_the_same_environment_builds_the_same_bytes(tmp_path: Path) -> None:
    # Two builds back to back (not against the session's package: the source tree may change in between).
    first, second = build_package(tmp_path / "first.zip"), build_package(tmp_path / "second.zip")
    with zipfile.ZipFile(first.path) as one, zipfile.ZipFile(second.path) as two:
        assert one.namelist() == two.namelist()
        assert [n for n in one.namelist() if one.read(n) != two.read(n)] == []
    assert first.sha256 == second.sha256


def _fake_distribution(root: Path, name: str, tags: list[str]) -> metadata.Distribution:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\n" + "".join(f"Tag: {tag}\n" for tag in tags))
    return metadata.PathDistribution(info)


def test_wheels_built_for_a_newer_glibc_than_the_runtime_s_are_reported(tmp_path: Path) -> None:
    old = _fake_distribution(tmp_path, "old", ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"])
    new = _fake_distribution(tmp_path, "new", ["cp311-cp311-manylinux_2_28_x86_64"])
    pure = _fake_distribution(tmp_path, "pure", ["py3-none-any"])
    assert (wheel_glibc(old), wheel_glibc(new), wheel_glibc(pure)) == ((2, 17), (2, 28), None)
    problems = platform_problems([old, new, pure], "python3.11")
    assert len(problems) == 1 and problems[0].startswith("new 1.0 is built for glibc 2.28, but python3.11 runs on "
                                                         "glibc 2.26")
    assert platform_problems([old, new, pure], "python3.12") == []
    assert platform_problems([pure], "python9.9") == [
        "unknown Lambda runtime python9.9: compiled modules were not checked against its OS"]
