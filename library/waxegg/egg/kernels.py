"""Run-time helpers that generated programs call (imported there as ``_k``); each runs in Python and in Numba.

``svd_s_vt`` is a ``numba.extending.register_jitable`` function written in the NumPy subset Numba compiles, so
the extracted NumPy version and the Numba version of a generated program run the same algorithm. ``qr_r`` is a
plain NumPy function with a Numba ``overload`` (Numba's own ``np.linalg.qr`` also forms ``Q``, which we never
need).
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload, register_jitable

from waxegg.egg import _compat

__all__ = ["lapack_svd_threshold", "qr_r", "svd_s_vt"]


def qr_r(a: np.ndarray) -> np.ndarray:
    """``R`` of the Householder QR of ``a`` (LAPACK ``dgeqrf``), shape ``(min(m, n), n)``; ``Q`` is not formed.

    Same as ``np.linalg.qr(a, mode="r")``.
    """
    return np.linalg.qr(a, mode="r")


@overload(qr_r)
def _qr_r_numba(a):
    # Numba's own LAPACK binding (the one behind its np.linalg.qr), minus the dorgqr call that forms Q.
    # A ctypes pointer to SciPy's dgeqrf would work too but makes the caller uncacheable (a "dynamic global").
    if not (isinstance(a, types.Array) and a.ndim == 2 and a.dtype in (types.float32, types.float64)):
        return None
    geqrf, kind = _compat.numba_geqrf(a.dtype)

    def impl(a):
        m, n = a.shape
        k = min(m, n)
        f = np.empty((n, m), dtype=a.dtype).T  # a Fortran-ordered copy: dgeqrf overwrites its input
        f[:, :] = a
        tau = np.empty(max(k, 1), dtype=a.dtype)
        if m * n > 0 and geqrf(kind, m, n, f.ctypes, m, tau.ctypes) < 0:
            raise ValueError("dgeqrf: illegal argument")
        return np.triu(f[:k, :])

    return impl


@register_jitable
def lapack_svd_threshold(n: int) -> int:
    """Rows from which LAPACK's ``dgesdd`` takes a QR of an (m, n) matrix first: ``MNTHR = int(n * 11 / 6)``."""
    return int(n * 11.0 / 6.0)


@register_jitable
def svd_s_vt(a):
    """``(S, Vt)`` of ``np.linalg.svd(a, full_matrices=False)`` without forming ``U``; bit-for-bit LAPACK's.

    NumPy's and SciPy's SVD is LAPACK ``dgesdd`` (``JOBZ="S"``). For a tall matrix (``m >= int(11 n / 6)``,
    ``dgesdd``'s ``MNTHR``) it first takes the Householder QR ``A = Q R`` (``dgeqrf``), then bidiagonalises and
    diagonalises the square ``R`` exactly as it does for any square matrix (``dgebrd``, ``dbdsdc``, ``dormbr``);
    ``Q`` only enters ``U = Q @ U_R``. So ``svd(qr_r(A))`` runs the same LAPACK calls on the same numbers and
    returns the same ``S`` and ``Vt`` -- signs included -- while skipping ``dorgqr`` (forming the ``m x n`` ``Q``)
    and the ``m x n x n`` product. Other shapes go to ``np.linalg.svd`` unchanged.
    """
    m, n = a.shape
    if n == 0 or m < lapack_svd_threshold(n):
        _, s, vt = np.linalg.svd(a, full_matrices=False)
        return s, vt
    _, s, vt = np.linalg.svd(qr_r(a), full_matrices=False)
    return s, vt
