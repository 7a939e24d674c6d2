"""The Lambda package: built for its runtime with pip (every compiled wheel fits that runtime's Python and OS),
or copied from this environment when that is the runtime; the handlers import and run with nothing but the
package on sys.path; and it leaves out what only the CLI needs.

The pip build is real (PyPI, a few MB, once for the module). The import test runs the copied package, since a
python3.12 package cannot be imported by this interpreter unless it is 3.12.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cloudwarden
from cloudwarden.cli.app import app
from cloudwarden.cli.common import CommandError
from cloudwarden.deploy.package import (
    MANIFEST,
    Package,
    PackageError,
    build_package,
    platform_problems,
    read_manifest,
    wheel_glibc,
)
from cloudwarden.deploy.package_target import (
    RUNTIME_GLIBC,
    RUNTIMES,
    default_runtime,
    pip_install,
    pip_platforms,
)
from cloudwarden.deploy.template import LaneSettings, this_interpreter

ADMIN_ATTACHED = "0958a477-c075-4feb-9a5d-e68586a6f3c9"  # cw_admin_policy_attached.yml
IAM_POLICY_CHANGED = "2fefab6c-1473-40b2-a059-893848f58259"  # cw_iam_policy_changed.yml
CLI_ONLY = ("duckdb", "pyarrow", "pyspark", "moto", "rich", "typer", "jinja2", "hypothesis", "cfnlint")
PY312 = LaneSettings("python3.12", "x86_64")
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




@pytest.fixture(scope="module")
def pip_package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The package for python3.12 on x86_64, its wheels installed by pip (whatever this interpreter is)."""
    return build_package(tmp_path_factory.mktemp("pip") / "lanes-312.zip", target=PY312, source="pip")


def _host_glibc() -> tuple[int, int]:
    name, version = platform.libc_ver()
    if name != "glibc":
        pytest.skip(f"this machine's C library is {name or 'unknown'}, not glibc")
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@pytest.fixture(scope="module")
def copied_package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The package for this interpreter's runtime, judged against this machine's glibc (where it is run below)
    rather than Lambda's: ``auto`` copies the installed modules then."""
    return build_package(tmp_path_factory.mktemp("copied") / "lanes.zip", target=this_interpreter(),
                         glibc=_host_glibc())


def test_handlers_run_from_the_copied_package_alone(copied_package: Package, tmp_path: Path) -> None:
    assert copied_package.source == "installed"  # auto chose to copy: same runtime, and every wheel fits
    task = tmp_path / "task"
    with zipfile.ZipFile(copied_package.path) as archive:
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


def _owners(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each file of the zip that a wheel installed -> that wheel's .dist-info folder (from its RECORD)."""
    owners = {}
    for name in archive.namelist():
        if name.endswith(".dist-info/RECORD"):
            for row in csv.reader(io.StringIO(archive.read(name).decode())):
                owners[row[0]] = name.rsplit("/", 1)[0]
    return owners


def test_every_compiled_module_is_a_cp312_manylinux_wheel_that_loads_on_amazon_linux_2023(
        pip_package: Package) -> None:
    with zipfile.ZipFile(pip_package.path) as archive:
        owners = _owners(archive)
        compiled = [n for n in archive.namelist() if n.endswith(".so") or ".so." in n.rsplit("/", 1)[-1]]
        assert "re2/_re2.cpython-312-x86_64-linux-gnu.so" in compiled  # google-re2, the wheel AL2 cannot load
        assert "orjson/orjson.cpython-312-x86_64-linux-gnu.so" in compiled
        for name in compiled:
            assert name in owners, f"{name} was not installed by a wheel"
            if ".libs/" not in name:  # a module, not a library auditwheel vendored beside it
                assert name.endswith((".cpython-312-x86_64-linux-gnu.so", ".abi3.so")), name
            wheel = archive.read(f"{owners[name]}/WHEEL").decode()
            tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
            assert tags, owners[name]
            for tag in tags:
                python, abi, plat = tag.split("-")
                assert (python, abi) == ("cp312", "cp312") or abi == "abi3", tag
                assert plat.endswith("_x86_64") and plat.startswith("manylinux"), tag
            assert min(_tag_glibc(tag.split("-")[2]) for tag in tags) <= (2, 34), tags


def _tag_glibc(platform_tag: str) -> tuple[int, int]:
    """The glibc a manylinux platform tag needs (PEP 600, and the PEP 513/571/599 names)."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    name = platform_tag.split("_")[0]
    if name in legacy:
        return legacy[name]
    _, major, minor = platform_tag.split("_")[:3]
    return int(major), int(minor)


def test_the_package_holds_the_lanes_and_leaves_out_what_only_the_cli_needs(pip_package: Package) -> None:
    with zipfile.ZipFile(pip_package.path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(MANIFEST))
        fast_lane = archive.read("cloudwarden/detect/lanes/fast.py")
    tops = {name.split("/")[0].lower() for name in names}
    assert not [t for t in tops if t.split("-")[0].split(".")[0] in CLI_ONLY], sorted(tops)
    assert {"cloudwarden", "sigma", "orjson", "re2", "boto3", "botocore"} <= tops
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("bin/")]
    assert "cloudwarden/detect/rules/cw_admin_policy_attached.yml" in names  # the bundled rules travel along
    # cloudwarden comes from its source, not from pip.
    assert fast_lane == (Path(cloudwarden.__file__).parent / "detect/lanes/fast.py").read_bytes()
    assert (manifest["runtime"], manifest["architecture"], manifest["source"], manifest["glibc"]) == (
        "python3.12", "x86_64", "pip", "2.34")
    assert manifest["distributions"]["pySigma"] == metadata.version("pySigma")  # the versions installed here
    assert manifest["distributions"]["google-re2"] == metadata.version("google-re2")
    assert read_manifest(pip_package.path) == manifest
    assert (pip_package.settings.runtime, pip_package.source) == ("python3.12", "pip")
    assert pip_package.sha256 == hashlib.sha256(pip_package.path.read_bytes()).hexdigest()
    assert pip_package.key == f"cloudwarden/lanes-{pip_package.sha256[:16]}.zip"
    assert pip_package.size < 40_000_000


def test_the_same_environment_builds_the_same_bytes(tmp_path: Path) -> None:
    # Two builds back to back (not against the module's package: the source tree may change in between).
    first = build_package(tmp_path / "first.zip", target=PY312, source="pip")
    second = build_package(tmp_path / "second.zip", target=PY312, source="pip")
    with zipfile.ZipFile(first.path) as one, zipfile.ZipFile(second.path) as two:
        assert one.namelist() == two.namelist()
        assert [n for n in one.namelist() if one.read(n) != two.read(n)] == []
    assert first.sha256 == second.sha256


def test_a_wheel_that_cannot_load_on_the_target_is_refused(tmp_path: Path) -> None:
    # This environment's google-re2 is built for glibc 2.27: Amazon Linux 2 (python3.9 to 3.11) has 2.26.
    assert wheel_glibc(metadata.distribution("google-re2")) > (2, 26)
    out = tmp_path / "al2.zip"
    with pytest.raises(PackageError) as refused:
        build_package(out, target=this_interpreter(), source="installed", glibc=(2, 26))
    assert str(refused.value).startswith(f"not written: the package would not load on {this_interpreter().runtime}")
    assert f"google-re2 {metadata.version('google-re2')} is built for glibc 2.27" in str(refused.value)
    assert not out.exists()


def test_copying_is_refused_for_another_target(tmp_path: Path) -> None:
    other = LaneSettings("python3.13" if this_interpreter().runtime != "python3.13" else "python3.12", "arm64")
    with pytest.raises(PackageError, match="cannot copy the installed modules: they are built for "):
        build_package(tmp_path / "x.zip", target=other, source="installed")
    with pytest.raises(PackageError, match=r"cannot package for Lambda runtime python3\.10"):
        build_package(tmp_path / "x.zip", target=LaneSettings("python3.10", "x86_64"))


def test_pip_failing_is_reported_with_pip_s_own_lines(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as failed:
        pip_install({"cloudwarden-no-such-distribution": "1.0"}, PY312, tmp_path / "none")
    message = str(failed.value)
    assert message.startswith("pip could not install the python3.12 x86_64 wheels (exit 1):\n")
    assert "ERROR: No matching distribution found for cloudwarden-no-such-distribution==1.0" in message


def test_the_cli_reports_a_runtime_without_wheels_and_writes_nothing(tmp_path: Path) -> None:
    # Amazon Linux 2 (python3.11): no wheel of this google-re2 loads there, so pip finds none; no traceback.
    out = tmp_path / "lanes.zip"
    result = CliRunner().invoke(app, ["deploy", "package", "--runtime", "python3.11", "--output", str(out)])
    assert isinstance(result.exception, CommandError), result.output
    assert str(result.exception) == "cannot build the package: pip could not install the python3.11 x86_64 " \
        "wheels (exit 1); see above"
    assert f"No matching distribution found for google-re2=={metadata.version('google-re2')}" in result.output
    assert "distributions as python3.11 x86_64 wheels with pip" in result.output
    assert not out.exists()


def test_pip_is_asked_for_every_manylinux_tag_the_runtime_s_glibc_loads() -> None:
    x86 = pip_platforms("x86_64", (2, 34))
    assert x86[0] == "manylinux_2_34_x86_64" and "manylinux_2_35_x86_64" not in x86
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux_2_5_x86_64", "manylinux2014_x86_64",
            "manylinux2010_x86_64", "manylinux1_x86_64"} <= set(x86)
    arm = pip_platforms("arm64", (2, 26))
    assert arm == [f"manylinux_2_{minor}_aarch64" for minor in range(26, 16, -1)] + ["manylinux2014_aarch64"]


def test_the_default_runtime_runs_on_amazon_linux_2023() -> None:
    runtime = default_runtime()
    assert runtime in RUNTIMES and RUNTIME_GLIBC[runtime] >= (2, 34)
    here = this_interpreter().runtime
    assert runtime == (here if RUNTIME_GLIBC.get(here, (0, 0)) >= (2, 34) else "python3.12")


def test_a_manifest_must_name_its_runtime(tmp_path: Path) -> None:
    path = tmp_path / "old.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MANIFEST, json.dumps({"distributions": {}}))
    with pytest.raises(ValueError, match="does not say which runtime and architecture"):
        read_manifest(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("other.txt", "")
    with pytest.raises(ValueError, match="is not a cloudwarden package"):
        read_manifest(path)


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
