"""Exceptions raised by :mod:`waxegg.egg`."""

from __future__ import annotations


class NotTraceable(Exception):  # noqa: N818 -- the name says what happened; "Error" adds nothing
    """A callable could not be traced onto egglog's symbolic arrays (or egglog's rules failed on the trace).

    Parameters
    ----------
    message
        What went wrong, in words.
    fn_name
        The traced callable's name.
    missing
        The array-API piece egglog lacks (e.g. ``"argmax"``, ``"__array_namespace_info__"``), when known.
    """

    def __init__(self, message: str, *, fn_name: str = "", missing: str | None = None) -> None:
        super().__init__(message)
        self.fn_name = fn_name
        self.missing = missing


class ScipyArrayAPIError(RuntimeError):
    """SciPy was imported before ``SCIPY_ARRAY_API=1`` was set, so scikit-learn cannot trace through it."""


class VerificationError(AssertionError):
    """A generated function does not reproduce the original on the example arrays."""


class CodegenError(RuntimeError):
    """egglog's program-generation rules have no Python translation for part of the expression."""
