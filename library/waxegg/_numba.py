"""The one place that configures Numba for waxegg's parallel kernels.

Numba picks its threading layer once per process, when its thread pool starts: at the first parallel
kernel launch, or the first time anything asks for the thread count (``numba.get_num_threads()``).
Changing ``numba.config.THREADING_LAYER`` after that has no effect, so a switch made as an import side
effect works or not depending on what was imported and called first. Instead every waxegg entry point
that is about to launch a parallel kernel calls :func:`configure_numba` first; importing waxegg
changes nothing.

The choice
    ``$NUMBA_THREADING_LAYER`` (or an explicit ``numba.config.THREADING_LAYER``) when the user set one;
    otherwise ``"workqueue"``. Numba would otherwise pick OpenMP here, whose idle threads spin after each
    parallel loop and steal the cores from the LAPACK/BLAS calls between the loops of a generated egg
    program, and from scikit-learn in the same process (measured, LDA 1e5 x 20 on 2 cores: program
    0.33 s with OpenMP vs 0.056 s with workqueue; scikit-learn 0.51 s vs 0.29 s).
The pool
    :func:`configure_numba` then starts Numba's thread pool. A generated program loaded from Numba's
    disk cache does not start it itself (numba/numba#8578: a cached serial caller of a parallel callee
    segfaults), so it must run before any of them.
Concurrent launches
    workqueue is not thread-safe: two parallel kernels launched at once from two Python threads abort
    the process. :func:`launch_lock` is a real lock only under workqueue (a no-op context otherwise).
    Kernels compiled without ``nogil`` hold the GIL while they run, which already serialises them.

If Numba's pool was started before waxegg could choose (the user called ``numba.get_num_threads()``
or ran a parallel function first), the layer it started with stays; :func:`numba_configuration`
says so, and the lock follows the layer actually in use.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import ContextManager

__all__ = ["NumbaConfiguration", "configure_numba", "launch_lock", "numba_configuration",
           "threading_layer_in_use"]

#: The layer waxegg asks for when the user chose none (see the module docstring for why).
PREFERRED_LAYER = "workqueue"


@dataclass(frozen=True)
class NumbaConfiguration:
    """What :func:`configure_numba` found and did.

    Attributes
    ----------
    requested : str
        The threading layer asked for: the user's choice, or :data:`PREFERRED_LAYER`.
    layer : str
        The layer Numba actually runs (``numba.threading_layer()``).
    source : str
        ``"user"`` (``$NUMBA_THREADING_LAYER`` or ``numba.config``), ``"waxegg"`` (our default), or
        ``"already started"`` (Numba's pool was running before waxegg could choose).
    needs_lock : bool
        Whether concurrent launches must be serialised (``layer == "workqueue"``).
    """

    requested: str
    layer: str
    source: str
    needs_lock: bool


_CONFIG: NumbaConfiguration | None = None
_CONFIG_LOCK = threading.Lock()
_LAUNCH_LOCK = threading.RLock()


def _pool_started() -> bool:
    from numba.np.ufunc import parallel

    return bool(getattr(parallel, "_is_initialized", False))


def configure_numba() -> NumbaConfiguration:
    """Choose Numba's threading layer and start its thread pool, once per process (idempotent).

    Call before the first parallel kernel launch. Respects ``$NUMBA_THREADING_LAYER`` and a
    ``numba.config.THREADING_LAYER`` set by the user; otherwise asks for ``"workqueue"``.

    Returns
    -------
    NumbaConfiguration
    """
    global _CONFIG
    if _CONFIG is not None:
        return _CONFIG
    with _CONFIG_LOCK:
        if _CONFIG is not None:
            return _CONFIG
        import numba

        started = _pool_started()
        user = os.environ.get("NUMBA_THREADING_LAYER") or (
            numba.config.THREADING_LAYER if numba.config.THREADING_LAYER != "default" else None)
        if user:
            requested, source = user, "user"
        else:
            requested, source = PREFERRED_LAYER, "waxegg"
            if not started:
                numba.config.THREADING_LAYER = PREFERRED_LAYER
        if started and source == "waxegg":
            source = "already started"
        numba.get_num_threads()  # starts the pool now (numba/numba#8578)
        layer = numba.threading_layer()
        _CONFIG = NumbaConfiguration(requested=requested, layer=layer, source=source,
                                     needs_lock=layer == "workqueue")
        return _CONFIG


def numba_configuration() -> NumbaConfiguration:
    """The configuration in force (runs :func:`configure_numba` if nothing has yet)."""
    return configure_numba()


def threading_layer_in_use() -> str:
    """The Numba threading layer waxegg's parallel kernels run on (``"workqueue"``, ``"omp"``, ``"tbb"``).

    For the report's environment table. Configures Numba if nothing has yet.
    """
    return configure_numba().layer


def launch_lock() -> ContextManager[object]:
    """Hold around a parallel kernel launch that may run concurrently with another.

    A re-entrant lock under workqueue (not thread-safe), a no-op context under OpenMP and TBB.
    """
    return _LAUNCH_LOCK if configure_numba().needs_lock else contextlib.nullcontext()
