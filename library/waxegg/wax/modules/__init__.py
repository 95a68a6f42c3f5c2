"""Streaming Haiku modules with state: one module per file, re-exported here."""

from waxegg.wax.modules.ewma import EWMA

__all__ = ["EWMA"]
