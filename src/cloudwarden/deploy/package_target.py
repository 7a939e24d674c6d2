"""The Lambda runtime a package is built for, which compiled wheels load there, and installing them with pip.

A compiled module loads on Lambda only when it was built for the runtime's Python (``cp312``, or the stable ABI
``abi3``), its architecture, and a glibc no newer than the one of the runtime's OS: Amazon Linux 2 (glibc 2.26)
for python3.9 to 3.11, Amazon Linux 2023 (glibc 2.34) from python3.12. :func:`pip_install` asks pip for exactly
such wheels, of the versions installed here; :func:`platform_problems` verifies any set of wheels against a
runtime before a package is written.
"""

from __future__ import annotations

import collections
import importlib.metadata as metadata
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from cloudwarden.deploy.template import LaneSettings, this_interpreter

Progress = Callable[[str], None]
# The glibc of each Lambda Python runtime's OS (Amazon Linux 2: 2.26, Amazon Linux 2023: 2.34).
RUNTIME_GLIBC: dict[str, tuple[int, int]] = {
    "python3.9": (2, 26),
    "python3.10": (2, 26),
    "python3.11": (2, 26),
    "python3.12": (2, 34),
    "python3.13": (2, 34),
    "python3.14": (2, 34),
}
AMAZON_LINUX_2023 = (2, 34)
# cloudwarden itself needs Python 3.11 or later, so older runtimes cannot run its source.
RUNTIMES = [runtime for runtime in RUNTIME_GLIBC if tuple(map(int, runtime[6:].split("."))) >= (3, 11)]
FALLBACK_RUNTIME = "python3.12"  # the oldest runtime on Amazon Linux 2023
# Lambda architectures -> the machine names in wheel platform tags.
WHEEL_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# Wheel platform tags and the glibc they need (the legacy names are aliases of manylinux_2_5/2_12/2_17).
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
PIP_TIMEOUT = 1800  # seconds for the whole install; pip's own retries end a dead network well before
_PIP_PROGRESS = ("Collecting", "Downloading", "Processing", "Installing", "Successfully")
_ERROR_LINES = 12  # how much of pip's output a failure shows


class PackageError(RuntimeError):
    """The package cannot be built for its target; the message says why (for pip, with pip's last lines)."""


def default_runtime() -> str:
    """The runtime a package is built for when none is named: this Python's when its runtime runs on Amazon
    Linux 2023 (its installed wheels then usually fit, and need no download), else python3.12."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return here if here in RUNTIMES and RUNTIME_GLIBC[here] >= AMAZON_LINUX_2023 else FALLBACK_RUNTIME


def default_target(architecture: str | None = None) -> LaneSettings:
    """:func:`default_runtime` on ``architecture`` (default: this machine's; ValueError when Lambda has none)."""
    return LaneSettings(default_runtime(), architecture or this_interpreter().architecture)


def check_target(target: LaneSettings) -> None:
    """Refuse a runtime or architecture a package cannot be built for."""
    if target.runtime not in RUNTIMES:
        raise PackageError(f"cannot package for Lambda runtime {target.runtime}: one of {', '.join(RUNTIMES)}")
    if target.architecture not in WHEEL_MACHINES:
        raise PackageError(f"cannot package for architecture {target.architecture}: x86_64 or arm64")


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


def platform_problems(distributions: Iterable[metadata.Distribution], runtime: str,
                      glibc: tuple[int, int] | None = None) -> list[str]:
    """Why some compiled module would not load on ``runtime``: its wheel needs a newer glibc than the runtime's
    OS has (``glibc`` overrides that OS's, e.g. to judge the machine a package is tried on). Empty when every
    wheel fits; an unknown runtime is a problem too, since nothing could be checked."""
    have = glibc or RUNTIME_GLIBC.get(runtime)
    if have is None:
        return [f"unknown Lambda runtime {runtime}: compiled modules were not checked against its OS"]
    problems = []
    for distribution in distributions:
        need = wheel_glibc(distribution)
        if need is not None and need > have:
            problems.append(
                f"{distribution.metadata['Name']} {distribution.version} is built for glibc {need[0]}.{need[1]}, "
                f"but {runtime} runs on glibc {have[0]}.{have[1]}: package for a runtime on Amazon Linux 2023 "
                f"(--runtime python3.12 or later), whose wheels pip installs"
            )
    return problems


def pip_platforms(architecture: str, glibc: tuple[int, int]) -> list[str]:
    """Every manylinux platform tag a wheel for ``architecture`` may carry to load on ``glibc``, newest first
    (pip prefers the earlier ones). pip does not widen ``manylinux_2_28`` to older tags itself."""
    machine = WHEEL_MACHINES[architecture]
    oldest = 5 if machine == "x86_64" else 17  # manylinux for aarch64 starts at 2014 (glibc 2.17)
    tags = [f"manylinux_{glibc[0]}_{minor}_{machine}" for minor in range(glibc[1], oldest - 1, -1)]
    legacy = [name for name, need in _LEGACY_MANYLINUX.items() if need <= glibc and need >= (2, oldest)]
    return tags + [f"{name}_{machine}" for name in legacy]


def pip_command(requirements: dict[str, str], target: LaneSettings, directory: Path,
                python: str = sys.executable) -> list[str]:
    """The pip call that installs ``requirements`` (name -> exact version) into ``directory`` as wheels for
    ``target`` only: its CPython version, architecture and glibc, no dependency resolution (the set is measured,
    and pySigma declares libraries the lanes never import), no bytecode (Lambda's Python writes none to read)."""
    glibc = RUNTIME_GLIBC[target.runtime]
    version = target.runtime.removeprefix("python")
    command = [python, "-m", "pip", "install", "--target", str(directory), "--implementation", "cp",
               "--python-version", version, "--only-binary=:all:", "--no-deps", "--no-compile", "--no-input",
               "--disable-pip-version-check", "--progress-bar", "off"]
    for platform in pip_platforms(target.architecture, glibc):
        command += ["--platform", platform]
    return command + [f"{name}=={version}" for name, version in sorted(requirements.items())]


def pip_install(requirements: dict[str, str], target: LaneSettings, directory: Path,
                python: str = sys.executable, progress: Progress | None = None) -> list[metadata.Distribution]:
    """Install the wheels (see :func:`pip_command`) and return their distributions. pip's progress lines go to
    ``progress``; a failure (no network, no wheel of that version for that platform) raises
    :class:`PackageError` with pip's last lines."""
    command = pip_command(requirements, target, directory, python)
    tail: collections.deque[str] = collections.deque(maxlen=_ERROR_LINES)
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # lines as pip writes them, not at exit
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=environment) as pip:
            for raw in pip.stdout or ():
                line = raw.rstrip()
                if line:
                    tail.append(line)
                if progress and line.startswith(_PIP_PROGRESS):
                    progress(f"  {line}")
            code = pip.wait(timeout=PIP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PackageError(f"cannot run pip ({' '.join(command[:4])}): {exc}") from exc
    if code != 0:
        shown = "\n".join(f"  {line}" for line in tail)
        raise PackageError(f"pip could not install the {target.runtime} {target.architecture} wheels "
                           f"(exit {code}):\n{shown}")
    installed = list(metadata.distributions(path=[str(directory)]))
    got = {_canonical(d.metadata["Name"]): d.version for d in installed}
    wanted = {_canonical(name): version for name, version in requirements.items()}
    if got != wanted:
        raise PackageError(f"pip installed {sorted(got.items())}, not the requested {sorted(wanted.items())}")
    return sorted(installed, key=lambda d: _canonical(d.metadata["Name"]))


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them (``PyYAML`` = ``pyyaml``, ``google_re2`` = ``google-re2``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_own(distribution: metadata.Distribution) -> bool:
    """Whether the distribution is cloudwarden itself (copied from its source, never installed with pip)."""
    return _canonical(distribution.metadata["Name"]) == "cloudwarden"
