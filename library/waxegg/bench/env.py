"""Environment metadata stored beside every results table: commit, versions, CPU, cores."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

#: Bumped whenever the results table's columns or meaning change.
SCHEMA_VERSION = 2

#: Distributions whose versions the report quotes (absent ones are recorded as null).
PACKAGES = (
    "waxegg", "numpy", "pandas", "xarray", "jax", "jaxlib", "dm-haiku", "numba", "numbagg", "polars",
    "egglog", "scikit-learn", "scipy", "matplotlib", "seaborn", "line-profiler", "tqdm", "psutil", "asv",
)

#: The versions printed on every figure's stamp, in this order.
STAMP_PACKAGES = ("numpy", "pandas", "jax", "numba", "numbagg", "polars", "egglog", "scikit-learn")


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit(cwd: str | Path | None = None) -> dict[str, Any]:
    """``{"commit", "short", "dirty"}`` of the checkout at ``cwd`` (default: the working directory).

    ``WAXEGG_COMMIT`` overrides the commit (for runs outside a git checkout). ``dirty`` is True when
    tracked files differ from the commit, so numbers from uncommitted code are not passed off as it.
    """
    override = os.environ.get("WAXEGG_COMMIT")
    if override:
        return {"commit": override, "short": override[:12], "dirty": False}
    cwd = Path(cwd or os.getcwd())
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if not commit:
        # Not run from a checkout (e.g. an installed wheel elsewhere): try the package's own folder.
        commit = _git("rev-parse", "HEAD", cwd=Path(__file__).resolve().parent)
        cwd = Path(__file__).resolve().parent
    if not commit:
        return {"commit": "unknown", "short": "unknown", "dirty": False}
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return {"commit": commit, "short": commit[:12], "dirty": bool(status)}


def git_dirty_paths(cwd: str | Path | None = None) -> list[str]:
    """Tracked files of the checkout at ``cwd`` that differ from its commit (what makes :func:`git_commit` dirty)."""
    changed = _git("diff", "--name-only", "HEAD", cwd=Path(cwd or os.getcwd()))
    return [line for line in (changed or "").splitlines() if line.strip()]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions.get("waxegg") is None:
        import waxegg  # the source tree on PYTHONPATH rather than an installed distribution

        versions["waxegg"] = waxegg.__version__
    return versions


def environment() -> dict[str, Any]:
    """Everything needed to say where and with what a results table was measured."""
    import numba
    import psutil

    from waxegg._numba import threading_layer_in_use

    return {
        "schema_version": SCHEMA_VERSION,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "numba_threading_layer": threading_layer_in_use(),  # chosen (and the pool started) before the count
        "numba_threads": numba.get_num_threads(),
        "versions": package_versions(),
    }


def stamp(env: dict[str, Any], *, dtype: str | None = None, extra: str = "") -> str:
    """The two-line stamp printed on every figure: commit, versions, CPU, cores, dtype."""
    git = env.get("git", {})
    commit = git.get("short", "unknown") + ("+dirty" if git.get("dirty") else "")
    versions = env.get("versions", {})
    vs = " ".join(f"{p}={versions[p]}" for p in STAMP_PACKAGES if versions.get(p))
    line1 = f"waxegg {commit}  |  {env.get('cpu_model', '?')}, {env.get('cores_logical', '?')} cores"
    line1 += f", numba threads {env.get('numba_threads', '?')}"
    if dtype:
        line1 += f"  |  dtype {dtype}"
    if extra:
        line1 += f"  |  {extra}"
    return f"{line1}\npython {env.get('python', '?')} {vs}  |  measured {env.get('created_utc', '?')}"
