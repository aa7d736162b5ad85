"""``X^T X`` and ``X^T [Y, 1]`` in one pass over the rows of X, the rows split across cores.

Why not one threaded ``?syrk``
------------------------------
For a tall X with a few hundred columns, OpenBLAS's own threaded ``dsyrk``
keeps two cores only about 80% busy: on the 2-core development machine it
formed ``X^T X`` of a 50,000 x 300 X at 68 GFlop/s, while two threads that
each ran a *single-threaded* ``dsyrk`` over half of the rows reached
82 GFlop/s together (54 ms against 66 ms).  So this pass gives each core a
contiguous share of the rows, runs BLAS single-threaded inside it, and adds
the small per-core results at the end.  Each share is read in row blocks that
stay in cache between the block's ``?syrk`` and its ``?gemm`` with ``[Y_b, 1]``
(both products for 20 targets: 64 ms against 79 ms for the same fused pass
with threaded BLAS).

How
---
* The BLAS routines are SciPy's own (``scipy.linalg.cython_blas``, the library
  of every other l2reg pass; see :mod:`l2reg._blas`), called through ``ctypes``
  as numba does: a ``ctypes`` call releases the GIL, which SciPy's f2py
  wrappers hold, and it takes a row block of a Fortran-ordered X as it is
  (leading dimension n), where f2py would copy it.
* BLAS is held to one thread per call for the duration of the pass with
  ``threadpoolctl`` (as scikit-learn does around its own threaded loops); the
  number of workers is the number of threads BLAS was allowed, so a user's
  ``OPENBLAS_NUM_THREADS=1`` or ``threadpool_limits(1)`` also makes this pass
  serial.  Only one pass at a time holds the limit; a pass started meanwhile
  from another thread runs serially and leaves BLAS's threading alone.
* A solve wrapped in :func:`single_threaded_after_split` keeps the limit from
  its split pass to its end, so that its small threaded calls do not leave
  BLAS workers spinning into the next fit's pass.

:func:`gram_and_cross` returns None when any of this is unavailable (no
``cython_blas`` capsules, a layout or size the 32-bit BLAS interface cannot
take); callers then use the plain SciPy calls.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from contextlib import ExitStack, contextmanager

import numpy as np

__all__ = ["gram_and_cross", "blas_workers", "single_threaded_after_split"]

#: Rows per block: 1,024 rows of a 300-column X (2.4 MB) ran the fused
#: ``?syrk`` + ``?gemm`` fastest here (768: 1.20x one threaded syrk, 1,024:
#: 1.19x, 2,048: 1.23x, 512: 1.29x, all with threaded BLAS).
BLOCK_ROWS = 1024
# The 32-bit (LP64) BLAS interface of scipy.linalg.cython_blas.
_MAX_BLAS_INT = 2**31 - 1
# Held while BLAS is limited to one thread (see gram_and_cross).
_LIMIT_LOCK = threading.Lock()


@functools.cache
def _raw_blas():
    """``(dsyrk, dgemm)`` of ``scipy.linalg.cython_blas`` as ctypes functions, or None."""
    try:
        from scipy.linalg import cython_blas

        # Own prototypes, so that ctypes.pythonapi's shared ones stay untouched.
        get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
            ("PyCapsule_GetName", ctypes.pythonapi)
        )
        get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
            ("PyCapsule_GetPointer", ctypes.pythonapi)
        )

        def function(name, *argtypes):
            capsule = cython_blas.__pyx_capi__[name]
            return ctypes.CFUNCTYPE(None, *argtypes)(get_pointer(capsule, get_name(capsule)))

        char, integer = ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)
        real, array = ctypes.POINTER(ctypes.c_double), ctypes.c_void_p
        # dsyrk(uplo, trans, n, k, alpha, a, lda, beta, c, ldc)
        syrk = function(
            "dsyrk", char, char, integer, integer, real, array, integer, real, array, integer
        )
        # dgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        gemm = function(
            "dgemm", char, char, integer, integer, integer, real, array, integer, array,
            integer, real, array, integer,
        )  # fmt: skip
    except Exception:  # an unusual SciPy build: the caller falls back to f2py
        return None
    return syrk, gemm


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def blas_workers() -> int:
    """How many cores the pass uses: the threads BLAS is allowed now (the fewest
    over the loaded BLAS libraries), 1 when threadpoolctl sees no BLAS."""
    libraries = _blas_controller().lib_controllers
    return max(1, min((library.num_threads for library in libraries), default=1))


def _int(value: int):
    return ctypes.byref(ctypes.c_int(value))


def _accumulate_rows(X, Y, start, stop, lower, cross, block_rows, blas):
    """Add ``X_b^T X_b`` (lower triangle) and, unless Y is None, ``X_b^T [Y_b, 1]``
    of rows start:stop."""
    syrk, gemm = blas
    n, p = X.shape
    # To Fortran BLAS a C-ordered X is the p x n matrix X^T (leading dimension
    # p), so its row block X_b^T is taken as is ("N"); a Fortran-ordered X is
    # X itself (leading dimension n), its row block X_b transposed ("T").
    if X.flags.c_contiguous:
        trans, leading, row_step = b"N", p, X.itemsize * p
    else:
        trans, leading, row_step = b"T", n, X.itemsize
    one = ctypes.byref(ctypes.c_double(1.0))
    columns, ld_lower, ld_x = _int(p), _int(p), _int(leading)
    if Y is not None:
        # [Y_b, 1] is C-ordered: to BLAS the width x b matrix [Y_b, 1]^T ("T" below).
        width = Y.shape[1] + 1
        rows_of_y = np.empty((min(block_rows, stop - start), width))
        rows_of_y[:, -1] = 1.0
    for first in range(start, stop, block_rows):
        count = min(block_rows, stop - first)
        block, depth = X.ctypes.data + first * row_step, _int(count)
        syrk(b"L", trans, columns, depth, one, block, ld_x, one, lower.ctypes.data, ld_lower)
        if Y is None:
            continue
        rows_of_y[:count, :-1] = Y[first : first + count]
        gemm(
            trans,  # op(stored block) = X_b^T, as for the syrk
            b"T",
            columns,
            _int(width),
            depth,
            one,
            block,
            ld_x,
            rows_of_y.ctypes.data,
            _int(width),
            one,
            cross.ctypes.data,
            ld_lower,
        )


def gram_and_cross(
    X: np.ndarray, Y: np.ndarray | None, *, block_rows: int = BLOCK_ROWS, workers=None
):
    """Lower triangle of ``X^T X`` and ``X^T [Y, 1]``, from one pass over X split by rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64, C- or Fortran-ordered
        Read in place, block by block; never copied.
    Y : ndarray of shape (n_samples, n_targets) or None
        Copied block by block into a small ``[Y_b, 1]`` buffer per worker.
        None: ``X^T X`` only.
    block_rows : int, default=BLOCK_ROWS
    workers : int, optional
        Threads to split the rows among (default :func:`blas_workers`).  With
        one, BLAS keeps its own threading.

    Returns
    -------
    (lower, cross) or None
        ``lower`` is p x p, Fortran-ordered, with ``X^T X`` in its lower
        triangle (its strict upper triangle is zero); ``cross`` is p x (k + 1)
        (None when Y is None).
        None when the raw BLAS routines are unavailable or X's layout, dtype
        or size does not suit them.
    """
    blas = _raw_blas()
    n, p = X.shape
    contiguous = X.flags.c_contiguous or X.flags.f_contiguous
    if blas is None or X.dtype != np.float64 or not contiguous or max(n, p) > _MAX_BLAS_INT:
        return None
    if _SCOPE.workers is not None:  # this thread's scope already holds the limit
        return _split_pass(X, Y, blas, block_rows, workers or _SCOPE.workers)
    # One limit at a time: two interleaved limit/restore pairs could leave BLAS
    # at one thread for good.  A pass that finds the lock taken runs serially
    # and leaves BLAS's threading alone.
    if not _LIMIT_LOCK.acquire(blocking=False):
        return _split_pass(X, Y, blas, block_rows, 1)
    count = blas_workers() if workers is None else workers
    if count == 1:  # nothing to split: BLAS keeps its own threading
        _LIMIT_LOCK.release()
        return _split_pass(X, Y, blas, block_rows, 1)
    if _SCOPE.stack is not None:  # keep the limit until the scope ends
        _SCOPE.stack.callback(_LIMIT_LOCK.release)
        _SCOPE.stack.enter_context(_blas_controller().limit(limits=1))
        _SCOPE.workers = count
        return _split_pass(X, Y, blas, block_rows, count)
    try:
        with _blas_controller().limit(limits=1):
            return _split_pass(X, Y, blas, block_rows, count)
    finally:
        _LIMIT_LOCK.release()


class _Scope(threading.local):
    stack = None  # the ExitStack of this thread's open single_threaded_after_split
    workers = None  # the worker count of the split pass that set the limit


_SCOPE = _Scope()


@contextmanager
def single_threaded_after_split():
    """Keep BLAS at one thread from the first split pass inside this block to its end.

    After a threaded BLAS call, OpenBLAS's idle workers spin on the cores for
    0.1-0.3 s.  A ridge fit ends with small threaded calls (Cholesky, the
    certificate's product), so the split pass of the *next* fit found its
    cores busy: back-to-back fits of 20 targets, 50,000 x 300, took a median
    107-122 ms against 86 ms with one threaded ``?syrk``.  Solvers therefore
    wrap their whole solve in this block: once a split pass has limited BLAS,
    the rest of the solve runs single-threaded too (its products are small),
    and no worker is left spinning (the same fits back to back: 69-71 ms,
    against 87-114 ms for the unsplit fused pass).
    BLAS is untouched until a split pass runs, so other passes keep their
    threads.  Nested blocks are part of the outermost one.
    """
    if _SCOPE.stack is not None:
        yield
        return
    with ExitStack() as stack:
        _SCOPE.stack = stack
        try:
            yield
        finally:
            _SCOPE.stack = None
            _SCOPE.workers = None


def _split_pass(X, Y, blas, block_rows, workers):
    """Run :func:`_accumulate_rows` on ``workers`` shares of the rows (in threads) and add
    the results; BLAS's thread count is the caller's business."""
    n, p = X.shape
    # Whole blocks per worker (the last takes the remainder), at least one each.
    share = -(-n // (workers * block_rows)) * block_rows
    bounds = [(a, min(a + share, n)) for a in range(0, n, share)] or [(0, 0)]
    lowers = [np.zeros((p, p), order="F") for _ in bounds]
    crosses = [None if Y is None else np.zeros((p, Y.shape[1] + 1), order="F") for _ in bounds]
    errors = []

    def run(index):
        try:
            start, stop = bounds[index]
            _accumulate_rows(X, Y, start, stop, lowers[index], crosses[index], block_rows, blas)
        except BaseException as error:  # re-raised in the calling thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(1, len(bounds))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    cross = None if Y is None else sum(crosses[1:], crosses[0])
    return sum(lowers[1:], lowers[0]), cross
