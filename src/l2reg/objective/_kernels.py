"""The sparse Gram kernel: the centered ``X^T diag(w) X`` of a CSR matrix, dense.

:func:`sparse_centered_gram` forms ``S = X^T W X`` by adding each row's outer
product into a dense upper triangle, the rows split among threads, then folds
the threads' triangles into one symmetric, centered matrix ``S - W m m^T``.
The compiled kernels are free ``@njit(cache=True, nogil=True)`` functions over
arrays (STYLE.md §5), compiled when numba is installed;
:func:`centered_gram_reference` is their plain SciPy twin, the test oracle and
the fallback without numba.  The choice is made on first use, so that
``import l2reg`` does not import numba.

Why a kernel
------------
SciPy's sparse-times-sparse product builds a sparse result (one pass to count
its entries, one to fill them, then a conversion to dense), which for a dense
p x p result cost 2.5 s on 200,000 x 2,000 with 2e6 stored values, where the
multiply-adds are only ``sum_i nnz(x_i)^2 / 2 = 1e7``: the kernel adds each
row's outer product straight into the dense triangle.  Forming G row by row
instead (Gustavson's order: for column j, the rows its values lie in) ran 2x
slower on the power-law data of :mod:`benchmarks.sparse`, where the frequent
columns' part of G stays in cache under this kernel.

What made it fast (200,000 x 2,000, 2e6 values, Intel Xeon 2-core VM)
-----------------------------------------------------------------------
* The accumulators are NumPy arrays (``np.zeros``), not numba's: NumPy asks
  Linux for transparent huge pages on large arrays, and the kernel's scattered
  updates of a 32 MB triangle then miss the TLB far less (0.19 s against
  0.23 s for one thread).
* Rows are split among threads in shares of equal *work* (``nnz_i^2``, not
  rows), each thread with its own triangle (``nogil``): 0.107 s on two cores.
  After its triangle, each thread adds its rows' share of ``X^T [w, w T]`` into
  a p x (k + 1) accumulator that stays in cache (SciPy's single-threaded
  sparse product after the kernel took 14 ms).
* Each thread adds its pairs in a few passes over its rows, one slab of the
  triangle's rows at a time (:data:`SLAB_BYTES`, doubling): the first slab
  holds the frequent columns' rows and takes most of the products (6.6e6 of
  1.1e7), which then land in the L2 cache; later passes skip the rows with
  nothing left in their slab without reading them.  Same sums in the same
  order as one pass (the values are identical); about 30% less time, one or
  two threads, with the columns in frequency order or permuted at random
  (two threads: 82 against 125 ms).
* One fold pass adds the triangles, records the uncentered diagonal (the
  centering loss), subtracts ``W m m^T`` and mirrors the triangle in cache-sized
  tiles: 20 ms where ``upper + upper.T`` and ``np.outer`` took 70 ms with their
  fresh 32 MB temporaries.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from l2reg._row_split import blas_workers, run_bounds

__all__ = ["SparseMoments", "centered_gram_reference", "sparse_centered_gram", "MIRROR_TILE"]

#: Side of the square tiles the fold mirrors at once (two 32 x 32 float64 tiles:
#: 16 KB, in the L1 cache).
MIRROR_TILE = 32
#: Bytes of the triangle that the sparse kernel's first pass adds into (the rows
#: of the most frequent columns when these come first): 1.5 MiB stays in a 2 MiB
#: L2 cache while the rows of X stream past; each further pass takes twice the
#: bytes of the one before (few passes: each reads the rows it touches again).
SLAB_BYTES = 3 * 2**19
#: The threads' accumulators (p x p float64 each, beyond the result's) may take
#: at most this many bytes; further threads are dropped.
ACCUMULATOR_BUDGET = 256 * 2**20

_compiled = None


class SparseMoments(NamedTuple):
    """The moments of one pass over a sparse X (see :func:`sparse_centered_gram`)."""

    gram: np.ndarray  # X^T W X - W m m^T, symmetric (p x p)
    squares: np.ndarray  # diag(X^T W X), the uncentered sums of squares (p,)
    mean: np.ndarray  # m = X^T w / W (p,)
    cross: np.ndarray  # X^T (w * T) for the targets T given (p x k), uncentered


def centered_gram_reference(indptr, indices, data, weights, n_features, targets):
    """:class:`SparseMoments` by SciPy's sparse products (the kernels' twin)."""
    import scipy.sparse as sp

    n = indptr.shape[0] - 1
    X = sp.csr_matrix((data, indices, indptr), shape=(n, n_features))
    uncentered = (X.T @ X.multiply(weights[:, None]).tocsr()).toarray()
    squares = np.diag(uncentered).copy()
    mean = np.asarray(X.T @ weights, dtype=np.float64).ravel() / weights.sum()
    uncentered -= weights.sum() * np.outer(mean, mean)
    cross = np.asarray(X.T @ (weights[:, None] * targets), dtype=np.float64)
    return SparseMoments(uncentered, squares, mean, cross)


def _load():
    global _compiled
    if _compiled is None:
        try:
            from numba import njit
        except ImportError:  # numba is optional at run time; the twin is exact, only slower
            _compiled = False
            return _compiled

        @njit(cache=True, nogil=True)
        def add_row_products(indptr, indices, data, weights, start, stop, bounds, upper):
            # Row i adds w_i x_a x_b to upper[col_a, col_b] for each pair of its
            # stored values with col_a <= col_b (indices sorted: canonical CSR).
            # Pass s adds the pairs whose col_a lies in slab s (triangle rows
            # bounds[s - 1]:bounds[s]), so that the slab stays in cache while
            # the rows stream by.  cursor[r] is where row r's pairs not yet
            # added begin; next_column[r] its column (p when none is left), so
            # that a pass skips a row without reading it.
            p = upper.shape[0]
            count = stop - start
            cursor = indptr[start:stop].copy()
            next_column = np.empty(count, indices.dtype)
            for r in range(count):
                a = cursor[r]
                next_column[r] = indices[a] if a < indptr[start + r + 1] else p
            for s in range(bounds.shape[0]):
                last = bounds[s]
                for r in range(count):
                    if next_column[r] >= last:
                        continue
                    i = start + r
                    end = indptr[i + 1]
                    w = weights[i]
                    a = cursor[r]
                    while a < end and indices[a] < last:
                        row = upper[indices[a]]
                        value = w * data[a]
                        for b in range(a, end):
                            row[indices[b]] += value * data[b]
                        a += 1
                    cursor[r] = a
                    next_column[r] = indices[a] if a < end else p

        @njit(cache=True, nogil=True)
        def add_row_sums(indptr, indices, data, columns, start, stop, sums):
            # sums[col] += x_ij columns[i] over rows start:stop: X^T columns,
            # with an accumulator of p x (k + 1) values that stays in cache.
            width = columns.shape[1]
            for i in range(start, stop):
                values = columns[i]
                for a in range(indptr[i], indptr[i + 1]):
                    total = sums[indices[a]]
                    x = data[a]
                    for c in range(width):
                        total[c] += x * values[c]

        @njit(cache=True, nogil=True)
        def fold_rows(parts, mean, weight_sum, squares, first, last):
            # Rows first:last of the upper triangle: parts[0] += the other parts,
            # the diagonal recorded, then W m_i m_j subtracted (contiguous rows).
            total = parts[0]
            p = total.shape[0]
            for i in range(first, last):
                row = total[i]
                for q in range(1, parts.shape[0]):
                    other = parts[q, i]
                    for j in range(i, p):
                        row[j] += other[j]
                squares[i] = row[i]
                scaled = weight_sum * mean[i]
                for j in range(i, p):
                    row[j] -= scaled * mean[j]

        @njit(cache=True, nogil=True)
        def mirror_rows(total, first, last, tile):
            # Rows first:last of the lower triangle copied from the upper one,
            # tile by tile so that the column reads stay in cache.
            for j0 in range(first, last, tile):
                j1 = min(j0 + tile, last)
                for i0 in range(0, j1, tile):
                    for j in range(j0, j1):
                        for i in range(i0, min(i0 + tile, j)):
                            total[j, i] = total[i, j]

        _compiled = (add_row_products, add_row_sums, fold_rows, mirror_rows)
    return _compiled


def _work_shares(indptr: np.ndarray, count: int) -> list[tuple[int, int]]:
    """``count`` contiguous row ranges of about equal kernel work (``nnz_i^2 / 2`` each)."""
    lengths = np.diff(indptr).astype(np.float64)
    cumulative = np.cumsum(lengths * (lengths + 1) / 2)
    total = cumulative[-1] if cumulative.size else 0.0
    cuts = np.searchsorted(cumulative, total * np.arange(1, count) / count)
    edges = [0, *(int(c) for c in cuts), indptr.shape[0] - 1]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a] or [(0, 0)]


def _slab_bounds(p: int) -> np.ndarray:
    """The kernel's slabs of triangle rows, as their ends: the first covers
    :data:`SLAB_BYTES` of the triangle, each next one twice the previous one's bytes."""
    ends = []
    first, size = 0, SLAB_BYTES
    while first < p:
        # Rows first:last of the upper triangle hold about (last - first) (p - first) values.
        first = min(p, first + max(1, size // (8 * (p - first))))
        ends.append(first)
        size *= 2
    return np.array(ends or [p], dtype=np.int64)


def _triangle_shares(p: int, count: int) -> list[tuple[int, int]]:
    """``count`` row ranges of a p x p triangle with about equal numbers of entries."""
    # Rows 0..r of the upper triangle hold r p - r^2 / 2 entries: cut where that
    # reaches k / count of p^2 / 2.
    fractions = np.arange(1, count) / count
    cuts = np.round(p * (1 - np.sqrt(1 - fractions))).astype(int)
    edges = [0, *cuts.tolist(), p]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a] or [(0, 0)]


def sparse_centered_gram(X, weights, targets, *, workers=None) -> SparseMoments:
    """The centered ``X^T W X`` of a canonical float64 CSR matrix, with its means and
    ``X^T (w * T)``: one pass of the threads over the stored values, then a fold.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        float64, canonical (sorted, summed indices).
    weights : ndarray of shape (n_samples,)
        Sample weights with a positive sum ``W``.
    targets : ndarray of shape (n_samples, n_targets)
        T, the targets (centered by the caller: their products are not centered
        after the fact).
    workers : int, optional
        Most threads; default: the threads SciPy's BLAS is allowed
        (:func:`l2reg._row_split.blas_workers`), so ``threadpool_limits(1)``
        or ``OPENBLAS_NUM_THREADS=1`` keep the kernel on one core too.

    Returns
    -------
    SparseMoments
    """
    kernels = _load()
    indptr, indices, data = X.indptr, X.indices, X.data
    n, p = X.shape
    targets = np.ascontiguousarray(targets, dtype=np.float64)
    if kernels is False:
        return centered_gram_reference(indptr, indices, data, weights, p, targets)
    add_row_products, add_row_sums, fold_rows, mirror_rows = kernels
    requested = blas_workers() if workers is None else workers
    affordable = 1 + ACCUMULATOR_BUDGET // max(8 * p * p, 1)
    shares = _work_shares(indptr, max(1, min(requested, affordable)))
    # One zeroed triangle per thread, in one NumPy allocation (huge pages, see above).
    parts = np.zeros((len(shares), p, p))
    # X^T w and X^T (w * T) by the same threads, after their triangles: inside
    # the products' loop their scattered updates cost it 25%; as SciPy's
    # single-threaded sparse product after the kernel, 14 ms of ~0.14 s.
    columns = weights[:, None] * np.column_stack([np.ones(n), targets])
    sums = np.zeros((len(shares), p, columns.shape[1]))
    bounds = _slab_bounds(p)

    def rows_of_share(part, share_sums, start, stop):
        add_row_products(indptr, indices, data, weights, start, stop, bounds, part)
        add_row_sums(indptr, indices, data, columns, start, stop, share_sums)

    run_bounds(
        [(parts[k], sums[k], start, stop) for k, (start, stop) in enumerate(shares)],
        rows_of_share,
    )
    sums = sums.sum(axis=0)
    weight_sum = float(weights.sum())
    mean = sums[:, 0] / weight_sum
    squares = np.empty(p)
    run_bounds(
        _triangle_shares(p, len(shares)),
        lambda first, last: fold_rows(parts, mean, weight_sum, squares, first, last),
    )
    gram = parts[0]
    run_bounds(
        _lower_shares(p, len(shares)),
        lambda first, last: mirror_rows(gram, first, last, MIRROR_TILE),
    )
    return SparseMoments(gram, squares, mean, sums[:, 1:])


def _lower_shares(p: int, count: int) -> list[tuple[int, int]]:
    """``count`` row ranges of the lower triangle with about equal numbers of entries."""
    return [(p - b, p - a) for a, b in reversed(_triangle_shares(p, count))]
