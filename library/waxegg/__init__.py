"""waxegg: a research benchmark and reproducibility harness.

Two engines live here:

- :mod:`waxegg.wax` -- the WAX streaming stack (encode / compute / format) on JAX + dm-haiku,
  with a fast Numba backend for the kernels that matter.
- :mod:`waxegg.egg` -- scikit-learn traced into egglog, optimised, and compiled with Numba.

:mod:`waxegg.bench` and :mod:`waxegg.report` measure both and render the report.
"""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"


def _ensure_scipy_array_api() -> None:
    # scikit-learn's array API mode (used by waxegg.egg) needs SciPy's array API support, which SciPy
    # reads from the environment once, when it is first imported. Set it for the user while we still can.
    if os.environ.get("SCIPY_ARRAY_API") == "1":
        return
    if "scipy" not in sys.modules:
        os.environ["SCIPY_ARRAY_API"] = "1"


_ensure_scipy_array_api()

__all__ = ["__version__"]
