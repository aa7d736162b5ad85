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
  (leading dimension n), where f2py would copy it.  Each routine's capsule
  states its C signature; a routine is used only when that signature is the
  prototype declared here (``double`` data, LP64 ``int`` sizes).
* BLAS is held to one thread per call for the duration of the pass, through
  :func:`l2reg._threads.single_blas_thread` (one lock for every l2reg limit).
  The number of workers is the number of threads SciPy's BLAS was allowed, so
  a user's ``OPENBLAS_NUM_THREADS=1`` or ``threadpool_limits(1)`` also makes
  this pass serial; so does a pass started while another thread holds the
  limit, and so does a process where the limit cannot be shown to reach
  SciPy's BLAS (:func:`l2reg._threads.scipy_blas_controller` is None).  A
  serial pass leaves BLAS's threading alone.
* Every worker adds into its own p x p accumulator, so the workers are capped
  by memory (:data:`SPLIT_MEMORY_FRACTION`, :data:`SPLIT_MEMORY_FLOOR`).
* A solve wrapped in :func:`single_threaded_after_split` keeps the limit from
  its split pass to its end, so that its small threaded calls do not leave
  BLAS workers spinning into the next fit's pass; above
  :data:`SCOPE_MAX_FEATURES` columns the Cholesky is large enough to want its
  threads, and the limit ends with the pass.

:func:`gram_and_cross` returns None when the raw routines are unavailable (no
``cython_blas`` capsules, a signature that differs, a layout or size the
32-bit BLAS interface cannot take); callers then use the plain SciPy calls.
See ``docs/threads.md``.
"""

from __future__ import annotations

import ctypes
import functools
import re
import threading
from contextlib import ExitStack, contextmanager

import numpy as np

from l2reg._threads import blas_threads, scipy_blas_controller, single_blas_thread

__all__ = [
    "gram_and_cross",
    "blas_workers",
    "single_threaded_after_split",
    "raw_routines",
    "run_split",
    "run_shares",
    "run_bounds",
]

#: Rows per block: 1,024 rows of a 300-column X (2.4 MB) ran the fused
#: ``?syrk`` + ``?gemm`` fastest here (768: 1.20x one threaded syrk, 1,024:
#: 1.19x, 2,048: 1.23x, 512: 1.29x, all with threaded BLAS).
BLOCK_ROWS = 1024
# The 32-bit (LP64) BLAS interface of scipy.linalg.cython_blas.
_MAX_BLAS_INT = 2**31 - 1
#: The accumulators of the second and later workers (one p x p Gram and one
#: p x (k + 1) cross product each, plus a block of ``[Y_b, 1]``) may take at
#: most this fraction of X's bytes, or :data:`SPLIT_MEMORY_FLOOR`, whichever is
#: larger; further workers are dropped.  A tall X (n >> p, where the split
#: pays) keeps all its workers: 50,000 x 300 needs 0.8 MB per worker against a
#: 12 MB budget.  A nearly square X, where the accumulators would rival X
#: itself, runs serially with BLAS's own threads.  0.1 is the issue's bound on
#: extra memory for any path of a tall fit.
SPLIT_MEMORY_FRACTION = 0.1
#: Smallest budget (bytes): small enough to ignore, and it keeps small X
#: (whose accumulators are tiny) free to split.
SPLIT_MEMORY_FLOOR = 4 * 2**20
#: Widest X whose solve stays single-threaded after its split pass (see
#: :func:`single_threaded_after_split`).  A p x p Cholesky measured on the
#: 2-core development machine, one thread against two: p = 1,000: 12.4 ms
#: against 10.6 ms; p = 1,200: 22 ms against 14 ms; p = 1,500: 40 ms against
#: 24 ms; p = 3,000: 243 ms against 151 ms.  Up to about 1,000 columns threads
#: save less than the 20-35 ms that spinning workers cost the next fit; beyond
#: it they save more, so the limit ends with the pass.
SCOPE_MAX_FEATURES = 1024

# The prototypes called below, as C argument types: ``d`` is cython_blas's
# ``ctypedef double d``, sizes are ``int`` (LP64).
_CHAR, _INT, _DOUBLE, _FLOAT = "char *", "int *", "double *", "float *"
_PROTOTYPES = {
    # dsyrk(uplo, trans, n, k, alpha, a, lda, beta, c, ldc)
    "dsyrk": (_CHAR, _CHAR, _INT, _INT, _DOUBLE, _DOUBLE, _INT, _DOUBLE, _DOUBLE, _INT),
    # dgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    "dgemm": (_CHAR, _CHAR, _INT, _INT, _INT, _DOUBLE, _DOUBLE, _INT, _DOUBLE, _INT)
    + (_DOUBLE, _DOUBLE, _INT),
}
# Further routines, used by the mixed-precision passes (l2reg._mixed_passes).
_MORE_PROTOTYPES = {
    # ssyrk(uplo, trans, n, k, alpha, a, lda, beta, c, ldc), float data
    "ssyrk": (_CHAR, _CHAR, _INT, _INT, _FLOAT, _FLOAT, _INT, _FLOAT, _FLOAT, _INT),
}
# Scalars go by reference, arrays as their data address.
_CTYPES = {
    _CHAR: ctypes.c_char_p,
    _INT: ctypes.POINTER(ctypes.c_int),
    _DOUBLE: ctypes.c_void_p,
    _FLOAT: ctypes.c_void_p,
}
# How Cython spells ``scipy.linalg.cython_blas.d`` (and ``.s``) in a capsule's signature.
_CYTHON_DOUBLE = re.compile(r"\b__pyx_t_5scipy_6linalg_11cython_blas_d\b")
_CYTHON_FLOAT = re.compile(r"\b__pyx_t_5scipy_6linalg_11cython_blas_s\b")


def capsule_arguments(signature: str) -> tuple[str, ...] | None:
    """The argument types of a ``void`` function's capsule signature, or None.

    ``"void (char *, int *, __pyx_t_5scipy_6linalg_11cython_blas_d *)"`` gives
    ``("char *", "int *", "double *")``: Cython's name for cython_blas's
    ``d`` becomes ``double``; every other type is kept as written.
    """
    match = re.fullmatch(r"\s*void\s*\((.*)\)\s*", signature)
    if match is None:
        return None
    arguments = _CYTHON_FLOAT.sub("float", _CYTHON_DOUBLE.sub("double", match.group(1)))
    return tuple(" ".join(argument.replace("*", " *").split()) for argument in arguments.split(","))


def _capsules():
    from scipy.linalg import cython_blas

    return cython_blas.__pyx_capi__


@functools.cache
def _capsule_api():
    """``(PyCapsule_GetName, PyCapsule_GetPointer)`` with their own prototypes, so that
    ctypes.pythonapi's shared ones stay untouched."""
    get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
        ("PyCapsule_GetName", ctypes.pythonapi)
    )
    get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
        ("PyCapsule_GetPointer", ctypes.pythonapi)
    )
    return get_name, get_pointer


def _capsule_name(capsule) -> bytes:
    """The capsule's name: for ``__pyx_capi__`` entries, the function's C signature."""
    return _capsule_api()[0](capsule)


def _raw_blas():
    """``(dsyrk, dgemm)`` of ``scipy.linalg.cython_blas`` as ctypes functions, or None."""
    return raw_routines(("dsyrk", "dgemm"))


@functools.cache
def raw_routines(names: tuple[str, ...]):
    """The named routines of ``scipy.linalg.cython_blas`` as ctypes functions, or None.

    None unless each capsule's signature is exactly the prototype declared
    here (:data:`_PROTOTYPES`, :data:`_MORE_PROTOTYPES`): calling a routine
    through a wrong prototype (an ILP64 build's 64-bit sizes, another scalar
    type) would corrupt memory, not fail.
    """
    prototypes = {**_PROTOTYPES, **_MORE_PROTOTYPES}
    functions = []
    try:
        capsules = _capsules()
        for name in names:
            prototype = prototypes[name]
            capsule = capsules[name]
            signature = _capsule_name(capsule)
            if capsule_arguments(signature.decode("ascii")) != prototype:
                return None
            argtypes = [_CTYPES[argument] for argument in prototype]
            address = _capsule_api()[1](capsule, signature)
            functions.append(ctypes.CFUNCTYPE(None, *argtypes)(address))
    except Exception:  # an unusual SciPy build: the caller falls back to f2py
        return None
    return tuple(functions)


def blas_workers() -> int:
    """How many cores the pass would use: the threads SciPy's BLAS is allowed now,
    1 when the plumbing stands down (see :func:`l2reg._threads.scipy_blas_controller`)."""
    return blas_threads(scipy_blas_controller())


def split_workers(X: np.ndarray, Y: np.ndarray | None, requested: int, block_rows: int) -> int:
    """``requested`` workers, fewer when X has fewer row blocks or when their
    accumulators would exceed the memory budget (:data:`SPLIT_MEMORY_FRACTION`)."""
    n, p = X.shape
    width = 0 if Y is None else Y.shape[1] + 1
    per_worker = 8 * (p * (p + width) + min(block_rows, n) * width)
    budget = max(SPLIT_MEMORY_FLOOR, SPLIT_MEMORY_FRACTION * X.nbytes)
    affordable = 1 + int(budget // max(per_worker, 1))
    blocks = -(-n // block_rows)
    return max(1, min(requested, affordable, blocks))


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
        Most threads to split the rows among (default :func:`blas_workers`),
        fewer where X has fewer row blocks or memory caps them
        (:func:`split_workers`), one where the limit cannot be held.  With
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
    return run_split(
        p,
        workers,
        lambda requested: split_workers(X, Y, requested, block_rows),
        lambda count: _split_pass(X, Y, blas, block_rows, count),
    )


def run_split(n_features: int, workers, count_for, run):
    """``run(count)`` with BLAS held at one thread when ``count`` > 1 workers may split X.

    ``count_for(requested)`` caps the requested workers (rows, memory);
    ``workers`` None requests :func:`blas_workers`.  The limit's rules are
    those of :func:`gram_and_cross`: one worker where the limit cannot be
    held, and a scope opened by :func:`single_threaded_after_split` keeps it.
    """
    if _SCOPE.workers is not None:  # this thread's scope already holds the limit
        return run(count_for(workers or _SCOPE.workers))
    requested = blas_workers() if workers is None else workers
    count = count_for(requested)
    if count == 1:  # nothing to split: BLAS keeps its own threading
        return run(1)
    # across_threads: the limit must reach the worker threads, not only this one.
    limit = single_blas_thread(scipy_blas_controller(), across_threads=True)
    if _SCOPE.stack is not None and n_features <= _SCOPE.max_features:
        # Keep the limit until the scope ends (see single_threaded_after_split).
        held = _SCOPE.stack.enter_context(limit)
        if held:
            _SCOPE.workers = requested  # BLAS now reports one thread: remember the cores
        return run(count if held else 1)
    with limit as held:  # not held: another thread's limit, or no proof; run serially
        return run(count if held else 1)


class _Scope(threading.local):
    stack = None  # the ExitStack of this thread's open single_threaded_after_split
    max_features = SCOPE_MAX_FEATURES  # the widest X whose limit the scope keeps
    workers = None  # the workers requested by the split pass that set the limit


_SCOPE = _Scope()


@contextmanager
def single_threaded_after_split(*, max_features: int | None = None):
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

    Parameters
    ----------
    max_features : int, optional
        A split pass over more columns than this ends its limit with the pass:
        the p x p Cholesky after it is large enough to gain from threads.
        Default: :data:`SCOPE_MAX_FEATURES`.
    """
    if _SCOPE.stack is not None:
        yield
        return
    with ExitStack() as stack:
        _SCOPE.stack = stack
        _SCOPE.max_features = SCOPE_MAX_FEATURES if max_features is None else max_features
        try:
            yield
        finally:
            _SCOPE.stack, _SCOPE.max_features = None, SCOPE_MAX_FEATURES
            _SCOPE.workers = None


def run_shares(n_rows: int, block_rows: int, workers: int, work) -> list:
    """``[work(start, stop) for each share]``: ``workers`` contiguous shares of whole
    blocks of rows (the last takes the remainder), run as :func:`run_bounds` does."""
    share = -(-n_rows // (workers * block_rows)) * block_rows
    bounds = [(a, min(a + share, n_rows)) for a in range(0, n_rows, share)] or [(0, 0)]
    return run_bounds(bounds, work)


def run_bounds(arguments: list[tuple], work) -> list:
    """``[work(*a) for a in arguments]``, each in a thread of its own, the first in this
    one; an exception in any of them is re-raised here.  ``work`` must release the GIL
    (BLAS through ``ctypes``, ``nogil`` numba kernels) for the threads to overlap."""
    results = [None] * len(arguments)
    errors = []

    def run(index):
        try:
            results[index] = work(*arguments[index])
        except BaseException as error:  # re-raised in the calling thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(1, len(arguments))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _split_pass(X, Y, blas, block_rows, workers):
    """Run :func:`_accumulate_rows` on ``workers`` shares of the rows (in threads) and add
    the results; BLAS's thread count is the caller's business."""
    p = X.shape[1]

    def work(start, stop):
        lower = np.zeros((p, p), order="F")
        cross = None if Y is None else np.zeros((p, Y.shape[1] + 1), order="F")
        _accumulate_rows(X, Y, start, stop, lower, cross, block_rows, blas)
        return lower, cross

    results = run_shares(X.shape[0], block_rows, workers, work)
    lower, cross = results[0]
    # In place: no further p x p array.
    for other_lower, other_cross in results[1:]:
        lower += other_lower
        if other_cross is not None:
            cross += other_cross
    return lower, cross
