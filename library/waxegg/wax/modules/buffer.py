"""Fixed-size buffer of the last observations, as a streaming Haiku module."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from waxegg.wax.modules._util import check_positive_int


def _check_fill(fill: Any, dtype: Any, where: str) -> None:
    """Raise if ``fill`` cannot be stored in ``dtype`` exactly (NaN in an int buffer, 0.5 in a bool one)."""
    dtype = np.dtype(dtype)
    arr = np.asarray(fill)
    if dtype.kind in "fc":
        ok = arr.dtype.kind in "biufc"
    elif dtype.kind == "b":
        ok = arr.dtype.kind == "b"
    elif dtype.kind in "iu":
        whole = arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and bool(np.all(np.isfinite(arr)))
                                           and bool(np.all(arr == np.round(arr))))
        info = np.iinfo(dtype)
        ok = whole and bool(np.all((arr >= info.min) & (arr <= info.max)))
    else:
        ok = arr.dtype == dtype
    if not ok:
        raise ValueError(f"Buffer: fill_value {fill!r} cannot be stored in {where} of dtype {dtype}; "
                         "pass a fill_value of that dtype")


class BufferState(NamedTuple):
    """WAX-ML's buffer state: the buffer, how many slots hold data, and the first such slot."""

    buffer: Any
    len_buffer: Any
    i_start: Any


class BufferFun(NamedTuple):
    """WAX-ML's pure-function buffer: ``init(shape, dtype) -> state``, ``apply(x, state) -> (buffer, state)``."""

    init: Callable
    apply: Callable


def buffer_fn(maxlen: int, fill_value: Any = np.nan) -> BufferFun:
    """A buffer of the last ``maxlen`` arrays as a pair of pure functions (WAX-ML's ``buffer_fn``)."""
    maxlen = check_positive_int("buffer_fn", "maxlen", maxlen)

    def init(shape, dtype):
        return BufferState(jnp.full((maxlen,) + tuple(shape), fill_value, dtype), jnp.int32(0), jnp.int32(maxlen))

    def apply(x, state):
        buffer = jnp.concatenate([state.buffer[1:], jnp.asarray(x, state.buffer.dtype)[None]], axis=0)
        length = jnp.minimum(state.len_buffer + 1, maxlen)
        state = BufferState(buffer, length, maxlen - length)
        return buffer, state

    return BufferFun(init, apply)


class Buffer(hk.Module):
    """The last ``maxlen`` inputs, oldest first, newest last (WAX-ML's ``Buffer``).

    The input may be any pytree of arrays (every leaf is buffered on a new leading axis of length
    ``maxlen``); before ``maxlen`` steps have been seen, the front is ``fill_value``.

    Parameters
    ----------
    maxlen : int
        Buffer length, ``>= 1``.
    fill_value : scalar or pytree like the input, default NaN
        Value of the slots not yet filled; it must fit each leaf's dtype (NaN does not fit an
        integer leaf: pass e.g. ``-1``).
    return_state : bool, default False
        WAX-ML's option: return ``(buffer, BufferState(buffer, len_buffer, i_start))``, with the
        number of filled slots and the index of the oldest filled one (``maxlen - len_buffer``).
    name : str, optional
        Haiku module name.

    State: ``buffer_state``, the :class:`BufferState` (WAX-ML's key and layout).

    Raises
    ------
    ValueError
        ``maxlen < 1`` or a ``fill_value`` that a leaf's dtype cannot hold (the leaf is named).
    TypeError
        A leaf whose dtype differs from the one the buffer was created with.
    """

    def __init__(self, maxlen: int, fill_value: Any = np.nan, return_state: bool = False, name: str | None = None):
        super().__init__(name=name)
        self.maxlen = check_positive_int("Buffer", "maxlen", maxlen)
        self.fill_value = fill_value
        self.return_state = bool(return_state)

    def _fills(self, x: Any) -> list:
        leaves, treedef = jax.tree_util.tree_flatten(x)
        fill_leaves, fill_def = jax.tree_util.tree_flatten(self.fill_value)
        if fill_def == treedef:
            return fill_leaves
        if len(fill_leaves) != 1 or np.ndim(fill_leaves[0]) != 0:
            raise ValueError(f"Buffer: fill_value must be a scalar or a pytree like the input ({treedef}), "
                             f"got {self.fill_value!r}")
        return fill_leaves * len(leaves)

    def __call__(self, x: Any) -> Any:
        x = jax.tree_util.tree_map(jnp.asarray, x)
        paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(x)
        fills = self._fills(x)
        for (path, leaf), fill in zip(paths_leaves, fills):
            _check_fill(fill, leaf.dtype, f"leaf {jax.tree_util.keystr(path) or '<input>'}")

        def init(*_):
            empty = [jnp.full((self.maxlen,) + leaf.shape, fill, leaf.dtype) for (_, leaf), fill in zip(paths_leaves, fills)]
            return BufferState(jax.tree_util.tree_unflatten(treedef, empty), jnp.int32(0), jnp.int32(self.maxlen))

        # WAX-ML's state: one ``buffer_state`` entry, a BufferState whose buffer has the input's structure.
        state = hk.get_state("buffer_state", [], init=init)
        buffers = jax.tree_util.tree_leaves(state.buffer)
        new = []
        for (path, leaf), buf in zip(paths_leaves, buffers):
            if buf.dtype != leaf.dtype or buf.shape[1:] != leaf.shape:
                raise TypeError(f"Buffer: leaf {jax.tree_util.keystr(path) or '<input>'} has dtype {leaf.dtype} and "
                                f"shape {leaf.shape}, but the buffer holds {buf.dtype} {buf.shape[1:]}; "
                                "feed the same dtype and shape at every step")
            new.append(jnp.concatenate([buf[1:], leaf[None]], axis=0))
        out = jax.tree_util.tree_unflatten(treedef, new)
        length = jnp.minimum(state.len_buffer + 1, self.maxlen).astype(jnp.int32)
        state = BufferState(out, length, (self.maxlen - length).astype(jnp.int32))
        hk.set_state("buffer_state", state)
        return (out, state) if self.return_state else out
