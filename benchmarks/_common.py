"""Shared benchmark helpers: best-of-k timing, peak extra memory, the syrk limit, tables.

The machines are shared and noisy, so every benchmark times the competitors
and the physical limit in the same process and reports *ratios*.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from scipy.linalg.blas import get_blas_funcs

__all__ = ["best_time", "peak_extra_memory", "syrk_limit", "gram_of_rows", "print_table"]


def best_time(function: Callable[[], object], repeat: int = 3) -> float:
    """Minimum wall time of ``repeat`` calls (the least-disturbed run)."""
    best = np.inf
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def peak_extra_memory(function: Callable[[], object]) -> int:
    """Peak bytes allocated through Python/NumPy while ``function`` runs.

    tracemalloc sees NumPy's allocations (NumPy reports them to it); BLAS's
    small internal workspaces are not counted.
    """
    gc.collect()
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def gram_of_rows(X: np.ndarray) -> np.ndarray:
    """``X^T X`` with one ``?syrk`` call and no copy of X, whatever its memory order."""
    syrk = get_blas_funcs("syrk", dtype=X.dtype)
    if X.flags.f_contiguous:
        return syrk(1.0, X, trans=1)
    return syrk(1.0, X.T, trans=0)


def syrk_limit(X: np.ndarray, *, rows: bool = True, repeat: int = 3) -> float:
    """Best time of the one symmetric rank-k product a ridge fit needs.

    ``rows=True``: ``X^T X`` (n >= p); ``rows=False``: ``X X^T`` (p > n).  Both
    a direct ``?syrk`` call and NumPy's ``@`` (which calls syrk for ``A.T @ A``)
    are timed and the faster is the limit, so the limit is never understated
    by a slow calling convention.
    """
    operand = X if rows else X.T
    direct = best_time(lambda: gram_of_rows(operand), repeat)
    numpy_product = best_time(lambda: operand.T @ operand, repeat)
    return min(direct, numpy_product)


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """Print a plain fixed-width table."""
    cells = [[str(h) for h in header]] + [
        [f"{c:.3g}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * w for w in widths))
