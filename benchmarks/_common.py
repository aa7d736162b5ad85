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

from l2reg._row_split import gram_and_cross

__all__ = [
    "best_time",
    "best_times",
    "peak_extra_memory",
    "syrk_limit",
    "syrk_variants",
    "gram_of_rows",
    "print_table",
]


def best_time(function: Callable[[], object], repeat: int = 3) -> float:
    """Minimum wall time of ``repeat`` calls (the least-disturbed run); see :func:`best_times`."""
    return best_times({"function": function}, repeat)["function"]


# NumPy and SciPy each bundle an OpenBLAS with its own worker threads, which
# keep spinning for a while after a call.  A candidate that starts while the
# *other* library's workers spin runs up to 3-7x slower on 2 cores (a 13 ms
# SciPy syrk took 30-100 ms within 50 ms of a NumPy product, and was back to
# normal after about 0.3 s).  Every timed call therefore starts after this
# pause, so that no candidate pays for the one timed before it.
SETTLE_SECONDS = 0.3


def best_times(
    functions: dict[str, Callable[[], object]], repeat: int = 5, *, settle: float = SETTLE_SECONDS
) -> dict[str, float]:
    """Minimum wall time of each function, measured round-robin.

    Interleaving puts every candidate under the same background load on these
    shared machines, so the ratios of the minima are much steadier than those of
    candidates timed one after the other.  Each call starts ``settle`` seconds
    after the previous one ended (see ``SETTLE_SECONDS``).
    """
    best = dict.fromkeys(functions, np.inf)
    for _ in range(repeat):
        for name, function in functions.items():
            gc.collect()
            time.sleep(settle)
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
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


def gram_of_rows(X: np.ndarray, lower: bool = False) -> np.ndarray:
    """``X^T X`` with one ``?syrk`` call and no copy of X, whatever its memory order."""
    syrk = get_blas_funcs("syrk", dtype=X.dtype)
    if X.flags.f_contiguous:
        return syrk(1.0, X, trans=1, lower=lower)
    return syrk(1.0, X.T, trans=0, lower=lower)


def syrk_variants(X: np.ndarray, *, rows: bool = True) -> dict[str, Callable[[], object]]:
    """The ways to compute the one symmetric rank-k product a ridge fit needs.

    ``rows=True``: ``X^T X`` (n >= p); ``rows=False``: ``X X^T`` (p > n).  The
    physical limit is the fastest of them (``?syrk`` filling the upper or the
    lower triangle, NumPy's ``@``, which calls syrk for ``A.T @ A``, and the
    product split by rows across cores as l2reg forms it), so it is never
    understated by a slow calling convention.
    """
    operand = X if rows else X.T
    return {
        "syrk upper": lambda: gram_of_rows(operand),
        "syrk lower": lambda: gram_of_rows(operand, lower=True),
        "numpy A.T @ A": lambda: operand.T @ operand,
        # l2reg's own way: one single-threaded syrk per core on its share of the rows.
        "syrk split by rows": lambda: gram_and_cross(operand, None),
    }


def syrk_limit(X: np.ndarray, *, rows: bool = True, repeat: int = 3) -> float:
    """Best time of the fastest way to form the symmetric product (see :func:`syrk_variants`)."""
    return min(best_times(syrk_variants(X, rows=rows), repeat).values())


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
