"""WAX-ML's ``wax.testing``: compare two nested data structures in tests."""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np

__all__ = ["assert_tree_all_close", "int32", "uint32"]

int32 = np.int32
uint32 = np.uint32


def assert_tree_all_close(x: Any, y: Any, check_treedef: bool = True) -> None:
    """Assert that pytrees ``x`` and ``y`` hold the same leaves: same type and dtype, 32-bit integers equal,
    numbers equal, other arrays ``numpy.allclose`` (NaN equal to NaN is not assumed, as WAX-ML).

    ``check_treedef``: the structures must match too (WAX-ML compared their printed forms with ``wax.``
    removed; here the structures themselves, so a class of the same name from another module differs).
    Unlike WAX-ML, it leaves JAX's ``jax_enable_x64`` alone (WAX-ML turned it off for the whole process).
    """
    import jax  # noqa: PLC0415

    xs, x_def = jax.tree_util.tree_flatten(x)
    ys, y_def = jax.tree_util.tree_flatten(y)
    if check_treedef:
        assert x_def == y_def, f"{x_def} != {y_def}"
    assert len(xs) == len(ys), f"{len(xs)} leaves != {len(ys)} leaves"
    for a, b in zip(xs, ys):
        assert type(a) is type(b), f"{type(a).__name__} != {type(b).__name__}"
        if isinstance(a, Number):
            assert a == b, f"{a} != {b}"
            continue
        assert a.dtype == b.dtype, f"{a.dtype} != {b.dtype}"
        if a.dtype in (np.int32, np.uint32):
            assert np.array_equal(np.asarray(a), np.asarray(b)), f"{a} != {b}"
        else:
            assert np.allclose(np.asarray(a), np.asarray(b)), f"{a} !~ {b}"
