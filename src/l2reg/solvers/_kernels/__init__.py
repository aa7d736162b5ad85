"""Coordinate-descent kernels: compiled with numba when it is installed.

:mod:`.compiled` holds the ``@njit(cache=True)`` kernels and :mod:`.reference`
their plain NumPy twins, which serve as the test oracle and as the fallback
when numba is missing (``HAVE_NUMBA`` says which is in use).  With
``NUMBA_DISABLE_JIT=1`` numba runs the compiled module's Python source, which
is how the test suite covers it.

The choice is made on first use, not at import: importing numba takes about
half a second, which ``import l2reg`` should not pay for models that never
run coordinate descent.
"""

from __future__ import annotations

import importlib

__all__ = [
    "HAVE_NUMBA",
    "cd_epoch_dense",
    "cd_epoch_gram",
    "cd_epoch_sparse",
    "centered_norms_dense",
    "centered_norms_rows",
    "column_products_dense",
    "column_products_sparse",
    "group_cd_epoch_gram",
]

_KERNELS = tuple(name for name in __all__ if name != "HAVE_NUMBA")
_loaded: dict | None = None


def _load() -> dict:
    global _loaded
    if _loaded is None:
        try:
            module = importlib.import_module("l2reg.solvers._kernels.compiled")
            have_numba = True
        except ImportError:  # numba is optional at run time; the twins are exact, only slower
            module = importlib.import_module("l2reg.solvers._kernels.reference")
            have_numba = False
        _loaded = {name: getattr(module, name) for name in _KERNELS}
        _loaded["HAVE_NUMBA"] = have_numba
    return _loaded


def __getattr__(name: str):
    if name in __all__:
        return _load()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
