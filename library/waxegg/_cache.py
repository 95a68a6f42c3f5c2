"""Where waxegg keeps compiled code between processes."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$WAXEGG_CACHE_DIR`` (default ``~/.cache/waxegg``) joined with ``parts``, created on demand."""
    root = Path(os.environ.get("WAXEGG_CACHE_DIR") or Path.home() / ".cache" / "waxegg")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
