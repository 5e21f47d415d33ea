"""The machine and software a run was measured on, for the head of every report."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["OPTIONAL", "PACKAGES", "cpu_model", "git_state", "machine_info", "package_versions"]

PACKAGES = ("actorbus", "anyio", "msgspec")
"""The packages whose versions every report names (plus trio on that backend)."""

OPTIONAL = ("autogen-core", "pykka", "thespian", "matplotlib")
"""The ``bench`` extra: the peers and the charts ("not installed" when absent)."""


def cpu_model() -> str:
    """Return the CPU model from /proc/cpuinfo, else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Return the installed version of each package ("not installed" if absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def git_state(root: Path) -> str:
    """Return ``<short commit>`` of ``root``, with ``+ local changes`` if the tree is dirty."""
    try:
        commit = _git(root, "rev-parse", "--short", "HEAD").strip()
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no", "--", "actorbus")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} + local changes to actorbus/" if dirty.strip() else commit


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
    ).stdout


def machine_info(backend: str) -> dict[str, object]:
    """Describe this machine, the Python, and the library versions."""
    names = (*PACKAGES, "trio", *OPTIONAL) if backend == "trio" else (*PACKAGES, *OPTIONAL)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 0,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": package_versions(names),
        "actorbus_source": git_state(Path(__file__).resolve().parent.parent),
        "load_average": _load(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
