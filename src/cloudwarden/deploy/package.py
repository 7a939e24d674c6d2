"""The Lambda package: cloudwarden and exactly the distributions the lane handlers import, in one zip built for
one Lambda runtime and architecture (its *target*).

What goes in is measured, not listed: a child interpreter imports the handlers, loads the rules and builds the
AWS clients the lanes build, and reports the top-level modules that appeared, hence the distributions that own
them. So duckdb, pyarrow, pyspark, moto, rich and typer, which only the CLI uses, stay out.

Where they come from depends on the target (:mod:`.package_target`): the same versions are installed with pip as
wheels for the target's Python, architecture and OS glibc; or, when the target is this interpreter's runtime
and its installed wheels fit that runtime's OS, copied from this environment (``__pycache__`` left out, with each
distribution's metadata and the shared libraries its wheel vendors, ``<name>.libs``). cloudwarden itself is
always copied from its source. The zip carries a manifest (:data:`MANIFEST`: runtime, architecture, versions)
that ``deploy apply`` builds the template from, and the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cloudwarden.deploy.package_target import (
    RUNTIME_GLIBC,
    PackageError,
    Progress,
    check_target,
    default_target,
    is_own,
    pip_install,
    platform_problems,
    wheel_glibc,
)
from cloudwarden.deploy.template import LaneSettings, this_interpreter

__all__ = ["MANIFEST", "Package", "PackageError", "build_package", "content_key", "lane_modules",
           "platform_problems", "read_manifest", "wheel_glibc"]

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
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries carry no build time: the same inputs give the same bytes


@dataclass
class Package:
    """A built package: where it is, its SHA-256, its target, what it holds and where that came from."""

    path: Path
    sha256: str
    settings: LaneSettings
    distributions: dict[str, str]  # name -> version
    modules: list[str]
    size: int
    source: str  # "installed" (copied from this environment) or "pip" (wheels installed for the target)

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


Source = Literal["auto", "installed", "pip"]


def build_package(output: Path, python: str = sys.executable, *, target: LaneSettings | None = None,
                  source: Source = "auto", glibc: tuple[int, int] | None = None,
                  progress: Progress | None = None) -> Package:
    """Write the package for ``target`` (default :func:`~.package_target.default_target`) to ``output`` (a zip)
    and describe it. ``python`` must be this environment's interpreter: it measures what the lanes import, and
    runs pip.

    ``source`` says where the third-party modules come from: ``installed`` copies this environment's (only when
    the target is this interpreter's runtime and architecture), ``pip`` installs the same versions as wheels
    for the target, ``auto`` copies when it may and every installed wheel fits, else installs. Either way every
    wheel is checked against the glibc of the target's OS (``glibc`` overrides it) and a wheel that would not
    load there raises :class:`PackageError` before anything is written."""
    target = target or default_target()
    check_target(target)
    have = glibc or RUNTIME_GLIBC[target.runtime]
    say = progress or (lambda _line: None)
    say("measuring the modules the lane handlers import")
    modules = lane_modules(python)
    owners = metadata.packages_distributions()
    installed = {d: metadata.distribution(d) for m in modules for d in owners.get(m, [])}
    chosen = _choose_source(source, target, list(installed.values()), have, say)
    versions = {d.metadata["Name"]: d.version for d in installed.values()}
    with tempfile.TemporaryDirectory(prefix="cloudwarden-wheels-") as staging:
        if chosen == "installed":
            entries, extra = _from_installed(modules, installed)
            loaded = list(installed.values())
        else:
            wanted = {d.metadata["Name"]: d.version for d in installed.values() if not is_own(d)}
            say(f"installing {len(wanted)} distributions as {target.runtime} {target.architecture} wheels with pip")
            wheels = pip_install(wanted, target, Path(staging), python, say)
            entries, extra = _from_wheels(Path(staging), modules, owners, installed)
            loaded = [*wheels, *(d for d in installed.values() if is_own(d))]
        say(f"checking the compiled modules against {target.runtime}'s glibc {have[0]}.{have[1]}")
        if problems := platform_problems(loaded, target.runtime, have):
            raise PackageError(f"not written: the package would not load on {target.runtime} "
                               f"{target.architecture}:\n" + "\n".join(f"  {p}" for p in problems))
        extra[MANIFEST] = json.dumps(
            {"runtime": target.runtime, "architecture": target.architecture, "source": chosen,
             "glibc": f"{have[0]}.{have[1]}", "distributions": versions},
            indent=2, sort_keys=True,
        )
        say(f"writing {output}")
        _write_zip(output, entries, extra)
    data = output.read_bytes()
    return Package(
        path=output,
        sha256=hashlib.sha256(data).hexdigest(),
        settings=LaneSettings(target.runtime, target.architecture),
        distributions=dict(sorted(versions.items())),
        modules=modules,
        size=len(data),
        source=chosen,
    )


def _choose_source(source: Source, target: LaneSettings, installed: list[metadata.Distribution],
                   glibc: tuple[int, int], say: Progress) -> str:
    try:
        here = this_interpreter()
        same = (here.runtime, here.architecture) == (target.runtime, target.architecture)
        where = f"{here.runtime} {here.architecture}"
    except ValueError:  # Lambda has no architecture for this machine: nothing here can be copied
        same, where = False, "this machine"
    if source == "installed" and not same:
        raise PackageError(f"cannot copy the installed modules: they are built for {where}, not "
                           f"{target.runtime} {target.architecture}; drop --from-installed to install that "
                           "target's wheels with pip")
    if source != "auto":
        return source
    if not same:
        return "pip"
    if problems := platform_problems(installed, target.runtime, glibc):
        say(f"not copying the installed modules: {problems[0]}")
        return "pip"
    return "installed"


def _from_installed(modules: list[str], installed: dict[str, metadata.Distribution]
                    ) -> tuple[dict[str, Path], dict[str, str]]:
    """The files of the measured modules as installed here, their wheels' vendored libraries and metadata."""
    entries: dict[str, Path] = {}
    for module in modules:
        entries.update(_module_files(module))
    extra: dict[str, str] = {}
    for distribution in installed.values():
        for path, arcname in _vendored_libraries(distribution):
            entries[arcname] = path
        extra[_metadata_name(distribution)] = distribution.read_text("METADATA") or ""
    return entries, extra


def _from_wheels(staging: Path, modules: list[str], owners: dict[str, list[str]],
                 installed: dict[str, metadata.Distribution]) -> tuple[dict[str, Path], dict[str, str]]:
    """Everything pip installed into ``staging`` (with the wheels' whole ``.dist-info``) but its scripts, plus
    cloudwarden, and any module no distribution owns, from their source."""
    entries = {path.relative_to(staging).as_posix(): path for path in _files(staging)
               if path.relative_to(staging).parts[0] != "bin"}  # console scripts: not for Lambda, not portable
    for module in modules:
        names = owners.get(module, [])
        if names and not all(is_own(installed[name]) for name in names):
            continue  # pip installed it
        files = _module_files(module)
        if compiled := [arcname for arcname in files if arcname.endswith((".so", ".pyd"))]:
            raise PackageError(f"module {module} belongs to no distribution and holds compiled code "
                               f"({compiled[0]}): pip cannot install it for another target")
        entries.update(files)
    extra = {_metadata_name(d): d.read_text("METADATA") or "" for d in installed.values() if is_own(d)}
    return entries, extra


def _module_files(module: str) -> dict[str, Path]:
    """The files of top-level ``module`` as installed here, by their path in the package."""
    entries: dict[str, Path] = {}
    for root in _module_paths(module):
        for path in _files(root):
            entries[path.relative_to(root.parent).as_posix()] = path
    return entries


def _write_zip(output: Path, entries: dict[str, Path], extra: dict[str, str]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for arcname in sorted(entries):
            _write(archive, arcname, entries[arcname].read_bytes())
        for arcname in sorted(extra):
            _write(archive, arcname, extra[arcname].encode())


def _write(archive: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, _FIXED_TIME)
    info.external_attr = 0o644 << 16  # readable by Lambda's sandbox user
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data, compresslevel=6)


def read_manifest(path: Path) -> dict[str, object]:
    """The manifest of a package built by :func:`build_package` (runtime, architecture, source, glibc,
    distributions). ValueError when the zip has none, or one that does not name its runtime and architecture."""
    with zipfile.ZipFile(path) as archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except KeyError:
            raise ValueError(f"{path} is not a cloudwarden package (no {MANIFEST})") from None
    named = isinstance(manifest, dict) and all(isinstance(manifest.get(k), str) for k in ("runtime", "architecture"))
    if not named:
        raise ValueError(f"the {MANIFEST} of {path} does not say which runtime and architecture it is built for")
    return manifest
