"""Every BLAS thread limit l2reg sets: one lock, one helper, and which library is SciPy's.

l2reg limits BLAS threads in three places: the row-split Gram pass
(:mod:`l2reg._row_split`) holds SciPy's BLAS at one thread while each core runs
its own share, ``_symmetric_eigh`` (:mod:`l2reg.model_selection._spectral`)
solves small eigenproblems with one thread, and so does the ``svd`` solver's
tall solve (:mod:`l2reg.solvers.svd`).  All go through
:func:`single_blas_thread`, so that

* only one Python thread at a time holds an l2reg limit: threadpoolctl's
  limit records the thread counts at entry and restores them at exit, and two
  such pairs interleaved from two threads (limit A, limit B, restore A,
  restore B) would leave the process at one thread for good.  A fit that
  finds the lock taken runs without a limit of its own (the split pass then
  runs serially) and changes nothing;
* a limit that did not take (a library still reports more than one thread:
  another Python thread controls OpenBLAS, see threadpoolctl's
  ``OpenBLASController``) is undone at once and reported as not held; so is,
  for the split pass, a limit that a fresh thread does not see (a per-thread
  limit would not reach the pass's workers).

Where the plumbing cannot prove that a limit reaches the BLAS the split pass
calls, it stands down: :func:`scipy_blas_controller` is None, and the pass
runs serially with BLAS's own threading.  ``docs/threads.md`` lists the cases.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "blas_controller",
    "scipy_blas_controller",
    "blas_threads",
    "single_blas_thread",
]

# Held by the one thread whose l2reg limit is in force.  Re-entrant: a thread
# that holds a limit may nest another (limits then restore in LIFO order).
_LOCK = threading.RLock()

#: Libraries and threading layers whose thread limit may bind every thread
#: that calls them: OpenBLAS's pthreads pool is process-wide; MKL's OpenMP
#: layers are, when threadpoolctl sets them with ``mkl_set_num_threads``
#: (recent threadpoolctl uses MKL's thread-local call where it exists, which
#: :func:`single_blas_thread`'s ``across_threads`` check then catches).
#: OpenBLAS built on OpenMP keeps one limit per calling thread, so the split
#: pass's worker threads would not see it; MKL on TBB and other libraries are
#: not known to honor it: for all of those the pass stands down.
PROCESS_WIDE_LIMITS = {
    ("openblas", "pthreads"),
    ("mkl", "intel"),
    ("mkl", "gnu"),
}
# Whether a limit held in one thread was seen by a fresh thread, by library
# files (see _binds_other_threads); written only under _LOCK.
_BINDS_OTHER_THREADS: dict[tuple[str, ...], bool] = {}


@functools.cache
def blas_controller():
    """Every BLAS library threadpoolctl finds (NumPy's and SciPy's), as one controller."""
    import scipy.linalg  # noqa: F401 -- SciPy's BLAS must be loaded before the scan
    from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

    return ThreadpoolController().select(user_api="blas")


def _scipy_directories() -> list[Path]:
    """Where a SciPy wheel keeps its bundled libraries: ``scipy.libs`` next to the
    package (Linux, Windows) or inside the package (``scipy/.dylibs`` on macOS)."""
    import scipy

    package = Path(scipy.__file__).resolve().parent
    return [package, package.parent / "scipy.libs"]


def _scipy_blas_name() -> str | None:
    """The BLAS SciPy was built against, as its build configuration names it."""
    import scipy

    try:
        return str(scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"])
    except Exception:  # older SciPy or an unusual build: no name, no proof
        return None


def identify_scipy_blas(libraries: Sequence, directories: Sequence[Path], blas_name: str | None):
    """The one library among ``libraries`` that SciPy's BLAS calls go to, or None.

    Parameters
    ----------
    libraries : sequence of threadpoolctl library controllers
        Each with ``filepath`` and ``internal_api``.
    directories : sequence of Path
        SciPy's own directories (see ``_scipy_directories``).
    blas_name : str or None
        SciPy's build configuration's BLAS name (``"scipy-openblas"``, ``"mkl"``...).

    Returns
    -------
    library controller or None
        The single library inside SciPy's directories (a wheel's bundled
        copy); failing that, the single library whose ``internal_api`` the
        build configuration names (one shared system or conda library).  None
        when neither rule picks exactly one: for example SciPy on Accelerate,
        which threadpoolctl does not control, or two OpenBLAS copies outside
        SciPy's directories.
    """
    inside = [
        library
        for library in libraries
        if any(Path(library.filepath).resolve().is_relative_to(d) for d in directories)
    ]
    if inside:
        return inside[0] if len(inside) == 1 else None
    if not blas_name:
        return None
    named = [library for library in libraries if library.internal_api in blas_name.lower()]
    return named[0] if len(named) == 1 else None


@functools.cache
def scipy_blas_controller():
    """SciPy's BLAS alone, when a limit set on it provably binds every thread; else None.

    None when threadpoolctl sees no BLAS, when SciPy's library cannot be told
    apart (:func:`identify_scipy_blas`), or when its threading layer keeps
    per-thread limits (see :data:`PROCESS_WIDE_LIMITS`).
    """
    controller = blas_controller()
    library = identify_scipy_blas(
        controller.lib_controllers, _scipy_directories(), _scipy_blas_name()
    )
    if library is None:
        return None
    layer = getattr(library, "threading_layer", None)
    if (library.internal_api, layer) not in PROCESS_WIDE_LIMITS:
        return None
    return controller.select(filepath=library.filepath)


def blas_threads(controller) -> int:
    """The threads the libraries of ``controller`` are allowed now (the fewest); 1 for None."""
    libraries = [] if controller is None else controller.lib_controllers
    return max(1, min((library.num_threads for library in libraries), default=1))


def _binds_other_threads(controller) -> bool:
    """Whether the one-thread limit this thread holds on ``controller`` is also what a
    fresh thread sees: read once per set of libraries, in a thread started for it.

    The split pass's workers are fresh threads; a limit that is per-thread
    (OpenMP's, MKL's thread-local call) would leave each of them at BLAS's
    full thread count.  Whether a library's limit is per-thread does not
    change while the process runs, hence the cache.
    """
    key = tuple(library.filepath for library in controller.lib_controllers)
    if key not in _BINDS_OTHER_THREADS:
        seen = []
        probe = threading.Thread(
            target=lambda: seen.extend(lib.num_threads for lib in controller.lib_controllers)
        )
        probe.start()
        probe.join()
        _BINDS_OTHER_THREADS[key] = bool(seen) and all(count == 1 for count in seen)
    return _BINDS_OTHER_THREADS[key]


@contextmanager
def single_blas_thread(controller, *, across_threads: bool = False) -> Iterator[bool]:
    """Hold the libraries of ``controller`` at one thread for the block; yields whether it does.

    Yields False, with every thread count left as it was, when ``controller``
    is None or empty, when another Python thread holds an l2reg limit (the
    lock is never waited for: a fit runs on rather than queue behind another
    fit's whole solve), or when a library still reports more than one thread
    after the limit (the limit is then undone at once).  With
    ``across_threads``, also when the limit would not reach other threads
    that call the libraries (:func:`_binds_other_threads`).  On True, the
    counts are restored at the end of the block, whatever happens in it.
    """
    if controller is None or not controller.lib_controllers:
        yield False
        return
    if not _LOCK.acquire(blocking=False):
        yield False
        return
    try:
        # ``with``, not a bare limit: threadpoolctl releases its OpenBLAS
        # "controlling thread" only when the outermost ``with`` ends.
        with controller.limit(limits=1):
            held = all(library.num_threads == 1 for library in controller.lib_controllers)
            if held and (not across_threads or _binds_other_threads(controller)):
                yield True
                return
    finally:  # after the limit is undone
        _LOCK.release()
    yield False
