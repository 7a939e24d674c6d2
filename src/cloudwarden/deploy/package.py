"""The Lambda package: cloudwarden and exactly the distributions the lane handlers import, copied from this
environment into one zip.

What to copy is measured, not listed: a child interpreter imports the handlers, loads the rules and builds the
AWS clients the lanes build, and reports the top-level modules that appeared. Each is copied whole (``__pycache__``
left out), with its distribution's metadata and any shared libraries its wheel vendors (``<name>.libs``). So
duckdb, pyarrow, pyspark, moto, rich and typer, which only the CLI uses, stay out.

Compiled modules were built for this interpreter: the package runs only on the Lambda runtime of the same Python
version and architecture (:func:`~cloudwarden.deploy.template.this_interpreter`), and only if every wheel's
manylinux glibc is one that runtime's OS has (:func:`platform_problems` says which are not).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cloudwarden.deploy.template import LaneSettings, this_interpreter

MANIFEST = "cloudwarden-package.json"
# Imported by the child, then exercised the way a cold start does.
_PROBE = """
import json, sys
before = set(sys.modules)
import cloudwarden.detect.lanes.fast as fast, cloudwarden.detect.lanes.slow as slow
from cloudwarden.aws.session import AwsContext
import cloudwarden.detect.sinks
fast.detector()
keys = {"AWS_ACCESS_KEY_ID": "probe", "AWS_SECRET_ACCESS_KEY": "probe"}
aws = AwsContext.create(region="us-east-1", credentials=keys)
for service in ("s3", "sns", "securityhub", "events"):
    aws.client(service)
print(json.dumps(sorted({name.split(".")[0] for name in set(sys.modules) - before})))
"""
# The glibc of each Lambda Python runtime's OS (Amazon Linux 2: 2.26, Amazon Linux 2023: 2.34).
RUNTIME_GLIBC: dict[str, tuple[int, int]] = {
    "python3.9": (2, 26),
    "python3.10": (2, 26),
    "python3.11": (2, 26),
    "python3.12": (2, 34),
    "python3.13": (2, 34),
    "python3.14": (2, 34),
}
# Wheel platform tags and the glibc they need (the legacy names are aliases of manylinux_2_5/2_12/2_17).
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries carry no build time: the same inputs give the same bytes


@dataclass
class Package:
    """A built package: where it is, its SHA-256, what it holds, and why it may not run on its runtime."""

    path: Path
    sha256: str
    settings: LaneSettings
    distributions: dict[str, str]  # name -> version
    modules: list[str]
    size: int
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return content_key(self.sha256)


def content_key(sha256: str) -> str:
    """The S3 key of a package, named by its content: a new package is a new key, so CloudFormation sees the
    change and updates the functions' code."""
    return f"cloudwarden/lanes-{sha256[:16]}.zip"


def lane_modules(python: str = sys.executable) -> list[str]:
    """The top-level modules the lanes import (outside the standard library), measured in a child ``python``."""
    answer = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=300, check=False)
    if answer.returncode != 0:
        raise RuntimeError(f"cannot import the lane handlers: {answer.stderr.strip()[-2000:]}")
    names = json.loads(answer.stdout.strip().splitlines()[-1])
    return sorted(n for n in names if n not in sys.stdlib_module_names and not n.startswith("__"))


def _module_paths(name: str) -> list[Path]:
    """The file or folder that holds top-level module ``name`` ([] for built-in modules)."""
    try:
        spec = importlib.util.find_spec(name)
    except ValueError:  # a module object with no spec (Cython registers ``_cython_3_x`` so): nothing to copy
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return [Path(spec.origin)]
    return []


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def _vendored_libraries(distribution: metadata.Distribution) -> Iterator[tuple[Path, str]]:
    """Shared libraries auditwheel put beside the modules (``numpy.libs/…``): not importable, still needed."""
    for item in distribution.files or []:
        if item.parts and item.parts[0].endswith(".libs"):
            yield Path(str(distribution.locate_file(item))), item.as_posix()


def _metadata_name(distribution: metadata.Distribution) -> str:
    """Where the distribution's METADATA (what ``importlib.metadata.version`` reads) goes in the package."""
    return f"{distribution.metadata['Name'].replace('-', '_')}-{distribution.version}.dist-info/METADATA"


def wheel_glibc(distribution: metadata.Distribution) -> tuple[int, int] | None:
    """The lowest glibc the distribution's wheel tags accept (None: pure Python or not a manylinux wheel)."""
    wheel = distribution.read_text("WHEEL") or ""
    needs = []
    for line in wheel.splitlines():
        if not line.startswith("Tag:"):
            continue
        tag = line.split(":", 1)[1].strip()
        if match := _MANYLINUX.search(tag):
            needs.append((int(match[1]), int(match[2])))
        needs += [glibc for legacy, glibc in _LEGACY_MANYLINUX.items() if f"{legacy}_" in tag]
    return min(needs) if needs else None


def platform_problems(distributions: Iterable[metadata.Distribution], runtime: str) -> list[str]:
    """Why some compiled module would not load on ``runtime``: its wheel needs a newer glibc than the runtime's
    OS has. Empty when every wheel fits (or the runtime is not in :data:`RUNTIME_GLIBC`, which is said too)."""
    have = RUNTIME_GLIBC.get(runtime)
    if have is None:
        return [f"unknown Lambda runtime {runtime}: compiled modules were not checked against its OS"]
    problems = []
    for distribution in distributions:
        need = wheel_glibc(distribution)
        if need is not None and need > have:
            problems.append(
                f"{distribution.metadata['Name']} {distribution.version} is built for glibc {need[0]}.{need[1]}, "
                f"but {runtime} runs on glibc {have[0]}.{have[1]}: install a manylinux2014 wheel of it, or build "
                "the package with a Python whose Lambda runtime runs on Amazon Linux 2023 (3.12 or later)"
            )
    return problems


def build_package(output: Path, python: str = sys.executable) -> Package:
    """Write the package to ``output`` (a zip) and describe it. ``python`` must be this environment's interpreter
    (the one whose modules are copied)."""
    settings = this_interpreter()
    modules = lane_modules(python)
    owners = metadata.packages_distributions()
    distributions = {d: metadata.distribution(d) for m in modules for d in owners.get(m, [])}
    entries: dict[str, Path] = {}
    for module in modules:
        for root in _module_paths(module):
            base = root.parent
            for path in _files(root):
                entries[path.relative_to(base).as_posix()] = path
    extra: dict[str, str] = {}
    for distribution in distributions.values():
        for path, arcname in _vendored_libraries(distribution):
            entries[arcname] = path
        extra[_metadata_name(distribution)] = distribution.read_text("METADATA") or ""
    versions = {d.metadata["Name"]: d.version for d in distributions.values()}
    extra[MANIFEST] = json.dumps(
        {"runtime": settings.runtime, "architecture": settings.architecture, "distributions": versions},
        indent=2, sort_keys=True,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for arcname in sorted(entries):
            _write(archive, arcname, entries[arcname].read_bytes())
        for arcname in sorted(extra):
            _write(archive, arcname, extra[arcname].encode())
    data = output.read_bytes()
    return Package(
        path=output,
        sha256=hashlib.sha256(data).hexdigest(),
        settings=settings,
        distributions=dict(sorted(versions.items())),
        modules=modules,
        size=len(data),
        problems=platform_problems(distributions.values(), settings.runtime),
    )


def _write(archive: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, _FIXED_TIME)
    info.external_attr = 0o644 << 16  # readable by Lambda's sandbox user
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data, compresslevel=6)


def read_manifest(path: Path) -> dict[str, object]:
    """The manifest of a package built by :func:`build_package` (runtime, architecture, distributions)."""
    with zipfile.ZipFile(path) as archive:
        try:
            return json.loads(archive.read(MANIFEST))
        except KeyError:
            raise ValueError(f"{path} is not a cloudwarden package (no {MANIFEST})") from None
