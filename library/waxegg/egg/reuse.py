"""Compile once per (function, assumptions): an index from a program key to the generated module on disk.

``accelerate(..., reuse=True)`` looks the key up first; on a hit a later process skips tracing and the egglog
stages (seconds) and only imports the generated module and loads Numba's cached machine code (well under a
second). The key covers everything the generated program depends on: the callable's module, qualified name and
source text (when ``inspect`` can read it), the input assumptions, the rewrites, and the versions of egglog,
scikit-learn, NumPy and Numba. Editing the function or upgrading a library therefore misses the cache.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from waxegg.egg.codegen import cache_dir

__all__ = ["lookup_program", "program_key", "record_program"]

_VERSIONED = ("egglog", "scikit-learn", "numpy", "numba", "waxegg")


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _waxegg_egg_digest() -> str:
    # waxegg runs from a source tree (not installed): hash its own egg stage sources instead of a version.
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(here.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def program_key(fn: Callable[..., Any], specs: Sequence[Any], rewrites: Sequence[str]) -> str:
    """Hex key naming the program :func:`waxegg.egg.accelerate` generates for ``fn`` under ``specs``."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = ""
    payload = {
        "fn": [getattr(fn, "__module__", ""), getattr(fn, "__qualname__", type(fn).__name__), source],
        "specs": [asdict(s) for s in specs],
        "rewrites": list(rewrites),
        "versions": {d: _version(d) for d in _VERSIONED} | {"waxegg.egg": _waxegg_egg_digest()},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _index_path(key: str, directory: Path | None) -> Path:
    return (directory or cache_dir()) / "index" / f"{key}.json"


def lookup_program(key: str, *, directory: Path | None = None) -> dict[str, Any] | None:
    """The record stored under ``key``, or ``None`` (also when its module file has gone)."""
    path = _index_path(key, directory)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if Path(record.get("source_path", "")).is_file() else None


def record_program(key: str, record: dict[str, Any], *, directory: Path | None = None) -> Path:
    """Store ``record`` under ``key`` (write-then-rename, so readers never see half a file)."""
    path = _index_path(key, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)
    return path
