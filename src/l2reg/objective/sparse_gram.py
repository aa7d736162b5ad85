"""Sufficient statistics of a sparse X (CSR or CSC), never densified.

:func:`sparse_gram_stats` returns the same :class:`~l2reg.objective.gram.GramStats`
as the dense pass, so that the Cholesky solver, ``ridge_path`` and ``RidgeCV``'s
spectral machinery run unchanged on sparse data;
:func:`~l2reg.objective.gram.gram_stats` dispatches here for sparse X.

How it works, and why
---------------------
Shifting a sparse X by its column means would fill it in, so the moments are
formed uncentered and centered after the fact, on the small dense result:

* ``S = X^T W X``: each row's outer product added into a dense p x p
  triangle, the rows split among threads (:mod:`l2reg.objective._kernels`,
  numba; SciPy's sparse product without it).  The result is dense for text-like data as soon as
  ``n density^2 >~ 1``; its cost is ``sum_i nnz(x_i)^2 / 2``, not ``n p^2``.
* ``G = S - W m m^T`` with ``m = X^T w / W`` (in the kernel's fold pass),
  ``c = X^T (w * (y - y_mean))`` (the targets are dense: they are centered
  exactly before the product, so an offset in y costs nothing).

The centering loss of column j is ``S_jj / G_jj`` (:mod:`l2reg.objective.accuracy`),
recorded in ``rounding_scale`` as the dense uncentered route records it.  For
a typical sparse column it is below 2: a column of density f with values of
one size has ``W m^2 / G = f / (1 - f)``.  Only a column that is mostly
nonzero *and* far from zero (a dense column stored sparse, e.g. ``1e8 +
noise``) loses digits.  Such **offset columns** (loss above
:data:`~l2reg.objective.accuracy.CENTERING_SHARE`, or above ``offset_share``)
are recomputed exactly: their columns, already stored with about one entry
per row, are densified and shifted by their mean in chunks of at most
:data:`OFFSET_CHUNK_VALUES` values, and their rows of G come from
``(X[:, D] - m_D)^T W X`` (a sparse-times-dense product, no cancellation) and
``(X[:, D] - m_D)^T W (X[:, D] - m_D)``.  The recorded loss is then about 1
for them, and the accuracy budget sees the rest.

Float32 sparse data are processed in float64 (the products are memory-bound;
their precision costs nothing).
"""

from __future__ import annotations

import numpy as np

from l2reg.objective._kernels import sparse_centered_gram
from l2reg.objective.accuracy import CENTERING_SHARE

__all__ = [
    "CenteredRows",
    "OFFSET_CHUNK_VALUES",
    "as_float_sparse",
    "offset_columns",
    "sparse_gram_stats",
    "sparse_gram_stats_by_group",
    "weighted_square_sums",
]

#: Values of one chunk of densified offset columns (float64: 32 MiB).  Offset
#: columns are dense already (each stores about one value per row), so a chunk
#: is no larger than the part of X it replaces.
OFFSET_CHUNK_VALUES = 2**22


def as_float_sparse(X):
    """X as a float64 CSR or CSC matrix with canonical (summed, sorted) entries.

    CSR and CSC are kept as they are (no copy when already float64); any other
    sparse format becomes CSR.
    """
    if X.format not in ("csr", "csc"):
        X = X.tocsr()
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    return X


def weighted_square_sums(X, weights: np.ndarray) -> np.ndarray:
    """``sum_i w_i x_ij^2`` of every column (one pass over the stored values)."""
    return np.asarray(X.power(2).T @ weights, dtype=np.float64).ravel()


def offset_columns(
    X, weights, weight_sum, mean, share: float = CENTERING_SHARE, *, squares=None
) -> np.ndarray:
    """Indices of the columns whose after-the-fact centering loses more than ``share``.

    The loss ``S_jj / (S_jj - W m_j^2)`` is estimated from the uncentered sums
    of squares ``S_jj`` (``squares``, computed from the sparse X when None); a
    column whose spread is lost in rounding (the estimate is not positive) is
    one of them.  Columns without values never are.
    """
    if squares is None:
        squares = weighted_square_sums(X, weights)
    centered = squares - weight_sum * mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        over = (squares > 0) & ~(squares <= share * centered)
    return np.flatnonzero(over)


def _dense_columns(X, columns: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``X[:, columns] - shift``, dense (n x len(columns), Fortran-ordered)."""
    block = X[:, columns].toarray(order="F")
    block -= shift
    return block


def _chunks(columns: np.ndarray, n_samples: int):
    size = max(1, OFFSET_CHUNK_VALUES // max(n_samples, 1))
    return [columns[i : i + size] for i in range(0, columns.size, size)]


def _exact_offset_rows(X, weights, weight_sum, mean, columns, xx, target_centered):
    """Recompute the rows (and columns) of the offset ``columns`` of ``xx`` exactly.

    Returns the corrected means of those columns, their rows of ``X^T W Yc``
    and their diagonal (the rounding scale they now carry).  ``xx`` is updated
    in place.  With ``B = X[:, C] - m_C`` (``m`` rounded) and ``t = B^T w``
    (the rounding of the mean, ``W delta``):
    ``G[C, k] = B^T W x_k - t m_k`` for every column k (exact for columns
    without a large offset), and for two offset chunks
    ``G[C, C'] = B^T W B' - W delta delta'^T``.
    """
    n = X.shape[0]
    chunks = _chunks(columns, n)
    delta = {}
    for chunk in chunks:
        block = _dense_columns(X, chunk, mean[chunk])
        weighted = block * weights[:, None]
        totals = weighted.sum(axis=0)
        rows = np.asarray(X.T @ weighted, dtype=np.float64).T - np.outer(totals, mean)
        xx[chunk, :] = rows
        xx[:, chunk] = rows.T
        delta[chunk[0]] = totals / weight_sum
    means = mean.copy()
    cross = {}
    for i, chunk in enumerate(chunks):
        block = _dense_columns(X, chunk, mean[chunk])
        weighted = block * weights[:, None]
        cross[chunk[0]] = weighted.T @ target_centered
        for other in chunks[i:]:
            partner = block if other is chunk else _dense_columns(X, other, mean[other])
            product = weighted.T @ partner
            product -= weight_sum * np.outer(delta[chunk[0]], delta[other[0]])
            xx[np.ix_(chunk, other)] = product
            xx[np.ix_(other, chunk)] = product.T
        means[chunk] += delta[chunk[0]]
    offset_cross = np.vstack([cross[chunk[0]] for chunk in chunks])
    return means, offset_cross


def sparse_gram_stats(
    X, Y: np.ndarray, sample_weight: np.ndarray | None = None, *, offset_share=None
):
    """:class:`~l2reg.objective.gram.GramStats` of a sparse X and dense Y.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (n_samples, n_features)
        CSR or CSC (other formats are converted to CSR); never densified.
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,), default=None
    offset_share : float, default=None
        Columns whose after-the-fact centering would lose more than this
        factor are recomputed exactly (see the module docstring); None:
        :data:`~l2reg.objective.accuracy.CENTERING_SHARE`.  A solver that
        needs exact centering passes a small value (about 1).

    Returns
    -------
    GramStats
        float64.  ``rounding_scale`` holds each column's uncentered weighted
        sum of squares (the diagonal for the exactly recomputed columns and
        the exactly centered targets).  Non-finite stored values make the
        diagonal non-finite; callers check it.
    """
    from l2reg.objective.gram import GramStats  # gram dispatches here: import when called

    X = as_float_sparse(X)
    n, p = X.shape
    Y = np.asarray(Y, dtype=np.float64)
    weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    weight_sum = float(weights.sum())
    if not weight_sum > 0:
        from l2reg.objective.gram import _empty_stats

        return _empty_stats(p, Y.shape[1], n)
    with np.errstate(invalid="ignore", over="ignore"):
        # Targets are dense: center them exactly (two passes), then correct the
        # mean's rounding.  einsum, not BLAS: OpenBLAS's threads would spin on
        # the cores after a threaded product and slow the kernel's threads
        # (0.14 against 0.20 s for 200,000 x 2,000).
        y_mean = np.einsum("i,ij->j", weights, Y) / weight_sum
        target = Y - y_mean
        y_delta = np.einsum("i,ij->j", weights, target) / weight_sum
        y_mean = y_mean + y_delta
        target -= y_delta
        weighted_target = target * weights[:, None]
        yy = np.einsum("ij,ij->j", weighted_target, target)

        # Rows: the kernel needs canonical CSR (a CSC X is converted once, O(nnz)).
        rows = X.tocsr() if X.format == "csc" else X
        if not rows.has_canonical_format:
            rows = rows.copy()
            rows.sum_duplicates()
        moments = sparse_centered_gram(rows, weights, target)
        xx, squares, mean, xy = moments
        xy -= np.outer(mean, weighted_target.sum(axis=0))
        share = CENTERING_SHARE if offset_share is None else offset_share
        with np.errstate(divide="ignore"):
            over = (squares > 0) & ~(squares <= share * np.diag(xx))
        offsets = np.flatnonzero(over & np.isfinite(squares))
        if np.isinf(share):  # no recomputation: the loss is only recorded
            offsets = offsets[:0]
        if offsets.size:
            means, offset_cross = _exact_offset_rows(
                X, weights, weight_sum, mean, offsets, xx, target
            )
            mean = means
            xy[offsets] = offset_cross
            squares[offsets] = np.diag(xx)[offsets]
    return GramStats(
        n_samples=n,
        weight_sum=weight_sum,
        x_mean=mean,
        y_mean=y_mean,
        xx=xx,
        xy=xy,
        yy=yy,
        rounding_scale=np.concatenate([squares, yy]),
    )


def sparse_gram_stats_by_group(X, Y, sample_weight, groups, n_groups):
    """:func:`sparse_gram_stats` of each group of rows (the sparse k-fold statistics).

    Each group's rows are gathered (a sparse row selection, no densification)
    and passed to :func:`sparse_gram_stats`; a group without rows or weight
    has zero moments, as in :func:`~l2reg.objective.gram.gram_stats_by_group`.
    """
    from l2reg.objective.gram import _empty_stats

    X = as_float_sparse(X)
    rows_first = X.tocsr() if X.format == "csc" else X
    groups = np.asarray(groups, dtype=np.intp)
    result = []
    for label in range(n_groups):
        rows = np.flatnonzero(groups == label)
        weights = None if sample_weight is None else sample_weight[rows]
        if rows.size == 0 or (weights is not None and not weights.sum() > 0):
            result.append(_empty_stats(X.shape[1], Y.shape[1], int(rows.size)))
            continue
        result.append(sparse_gram_stats(rows_first[rows], Y[rows], weights))
    return result


class CenteredRows:
    """Row blocks of ``(X - shift) @ V`` for a sparse X, never densified.

    ``X_block @ V - shift @ V`` loses the spread of a column with a large
    offset (``1e8 + noise``) to cancellation, so the offset columns of
    :func:`offset_columns` are taken apart: densified per block and shifted
    before the product, as the dense path does for every column.  A CSC X is
    converted to CSR once (row blocks of CSC cost a pass over X each).
    """

    def __init__(self, X, shift: np.ndarray, weights: np.ndarray):
        X = as_float_sparse(X)
        self.X = X.tocsr() if X.format == "csc" else X
        self.shift = np.asarray(shift, dtype=np.float64)
        weight_sum = float(weights.sum())
        self.offsets = np.zeros(0, dtype=np.intp)
        if np.any(self.shift) and weight_sum > 0:
            self.offsets = offset_columns(self.X, weights, weight_sum, self.shift)
        self.mask = np.ones(X.shape[1])
        self.mask[self.offsets] = 0.0

    def product(self, start: int, stop: int, V: np.ndarray) -> np.ndarray:
        """``(X[start:stop] - shift) @ V`` as a dense (rows x r) array."""
        block = self.X[start:stop]
        if not self.offsets.size:
            return np.asarray(block @ V) - self.shift @ V
        masked = V * self.mask[:, None]
        product = np.asarray(block @ masked) - self.shift @ masked
        dense = block[:, self.offsets].toarray() - self.shift[self.offsets]
        return product + dense @ V[self.offsets]
