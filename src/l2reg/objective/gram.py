"""Weighted, centered sufficient statistics of a least-squares problem.

:class:`GramStats` holds everything the squared loss needs from the data:
the total weight, the weighted means of X and y, and the centered second
moments ``Xc^T W Xc``, ``Xc^T W yc`` and ``yc^T W yc``.  They are computed in
**one blocked pass over X** (:func:`gram_stats`) that never copies or centers X
as a whole, and they merge exactly (:meth:`GramStats.merge`), which is what
k-fold downdating, streaming and distributed fits build on.

How the pass works, and why
---------------------------
Each block of rows is written into one reused buffer as
``sqrt(w) * [x - s_x, y - s_y, 1]`` where ``s`` is a pilot shift (the weighted
mean of the first block).  A single symmetric rank-k update (``?syrk``) of that
buffer then yields, while the block is still in cache, the shifted Gram matrix,
the shifted cross-products with y, the shifted ``y^T y`` *and*, through the
column of ones, the weighted column sums and the total weight.  Centering at
the end is a rank-one correction by the small difference between the true
mean and the pilot shift, so there is no catastrophic cancellation even when
the columns have large means.  A NaN or infinity anywhere in the data shows up
on the diagonal, so finiteness is checked for free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from l2reg._row_split import gram_and_cross

__all__ = ["GramStats", "gram_stats", "gram_stats_by_group", "DEFAULT_BLOCK_ROWS"]

#: Rows per block.  Blocks of 2,048 to 32,768 rows ran as fast as one big
#: ``dsyrk`` here (DESIGN.md §5); 4,096 keeps the buffer small (about 2% of a
#: 200,000-row X) while the rank-k update stays large enough for BLAS-3 speed.
DEFAULT_BLOCK_ROWS = 4096


@dataclass(frozen=True)
class GramStats:
    """Weighted centered second moments of ``(X, Y)``.

    Attributes
    ----------
    n_samples : int
        Number of rows seen (zero-weight rows included).
    weight_sum : float
        ``sum(w)``.
    x_mean : ndarray of shape (n_features,)
        Weighted mean of the columns of X.
    y_mean : ndarray of shape (n_targets,)
        Weighted mean of each target.
    xx : ndarray of shape (n_features, n_features)
        ``sum_i w_i (x_i - x_mean)(x_i - x_mean)^T``.
    xy : ndarray of shape (n_features, n_targets)
        ``sum_i w_i (x_i - x_mean)(y_i - y_mean)^T``.
    yy : ndarray of shape (n_targets,)
        ``sum_i w_i (y_ij - y_mean_j)^2`` for each target j.  Only these
        diagonal entries of the targets' second moments enter a ridge fit
        (the targets are separate problems), so the cross-target products are
        never formed.
    """

    n_samples: int
    weight_sum: float
    x_mean: np.ndarray
    y_mean: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray

    @property
    def n_features(self) -> int:
        return self.x_mean.shape[0]

    @property
    def n_targets(self) -> int:
        return self.y_mean.shape[0]

    def merge(self, other: GramStats) -> GramStats:
        """Statistics of the union of two disjoint sets of rows.

        Uses the pairwise update of Chan, Golub & LeVeque (1979): the centered
        moments add, plus a rank-one term in the difference of the means.  It
        is associative and commutative up to rounding.
        """
        if self.n_features != other.n_features or self.n_targets != other.n_targets:
            raise ValueError(
                "cannot merge statistics of different shapes: "
                f"({self.n_features}, {self.n_targets}) and "
                f"({other.n_features}, {other.n_targets})."
            )
        total = self.weight_sum + other.weight_sum
        if other.weight_sum == 0:
            return self
        if self.weight_sum == 0:
            return other
        factor = self.weight_sum * other.weight_sum / total
        dx = other.x_mean - self.x_mean
        dy = other.y_mean - self.y_mean
        return GramStats(
            n_samples=self.n_samples + other.n_samples,
            weight_sum=total,
            x_mean=self.x_mean + dx * (other.weight_sum / total),
            y_mean=self.y_mean + dy * (other.weight_sum / total),
            xx=self.xx + other.xx + factor * np.outer(dx, dx),
            xy=self.xy + other.xy + factor * np.outer(dx, dy),
            yy=self.yy + other.yy + factor * dy**2,
        )

    def downdate(self, part: GramStats) -> GramStats:
        """Statistics of these rows *without* the rows of ``part`` (a subset of them).

        The inverse of :meth:`merge`: if ``T = A.merge(B)`` then
        ``T.downdate(B)`` equals ``A`` up to rounding.  With ``W_A = W_T - W_B``,
        ``mean_A = (W_T mean_T - W_B mean_B) / W_A`` and
        ``xx_A = xx_T - xx_B - (W_A W_B / W_T) (mean_B - mean_A)(mean_B - mean_A)^T``
        (the same for ``xy``, and for ``yy`` with ``(mean_B - mean_A)^2``).
        Accuracy is that of the subtraction: fine when ``A`` keeps a good share
        of ``T`` (k-fold training sets keep ``(k - 1) / k``), poor when almost
        everything is removed.
        """
        if self.n_features != part.n_features or self.n_targets != part.n_targets:
            raise ValueError(
                "cannot downdate statistics of different shapes: "
                f"({self.n_features}, {self.n_targets}) and ({part.n_features}, {part.n_targets})."
            )
        if part.weight_sum == 0:
            return GramStats(
                self.n_samples - part.n_samples,
                self.weight_sum,
                self.x_mean,
                self.y_mean,
                self.xx,
                self.xy,
                self.yy,
            )
        remaining = self.weight_sum - part.weight_sum
        if not remaining > 0:
            raise ValueError(
                "cannot downdate: the removed rows carry all of the weight "
                f"({part.weight_sum!r} of {self.weight_sum!r})."
            )
        x_mean = (self.weight_sum * self.x_mean - part.weight_sum * part.x_mean) / remaining
        y_mean = (self.weight_sum * self.y_mean - part.weight_sum * part.y_mean) / remaining
        factor = remaining * part.weight_sum / self.weight_sum
        dx = part.x_mean - x_mean
        dy = part.y_mean - y_mean
        return GramStats(
            n_samples=self.n_samples - part.n_samples,
            weight_sum=remaining,
            x_mean=x_mean,
            y_mean=y_mean,
            xx=self.xx - part.xx - factor * np.outer(dx, dx),
            xy=self.xy - part.xy - factor * np.outer(dx, dy),
            yy=self.yy - part.yy - factor * dy**2,
        )


def _pilot_shift(X, Y, sqrt_weight, rows):
    """Weighted mean of the first ``rows`` rows (plain mean if they weigh nothing)."""
    head_x = np.asarray(X[:rows], dtype=np.float64)
    head_y = np.asarray(Y[:rows], dtype=np.float64)
    if sqrt_weight is None:
        return head_x.mean(axis=0), head_y.mean(axis=0)
    weights = np.asarray(sqrt_weight[:rows], dtype=np.float64) ** 2
    if not weights.sum() > 0:
        weights = np.ones_like(weights)
    with np.errstate(invalid="ignore", over="ignore"):
        return weights @ head_x / weights.sum(), weights @ head_y / weights.sum()


# The unweighted float64 Gram is taken from one ``dsyrk`` over X itself and
# centered after the fact (``S - n m m^T``) when that cancels at most 4 of
# float64's 16 digits on every diagonal entry: ``n m_j^2 <= 1e4 * G_jj``.  A
# pilot block screens out data with large offsets first, so the check rarely
# has to reject a finished product (which then costs one more pass).
MAX_CENTERING_CANCELLATION = 1e4
# The pilot's estimate of the ratio must be well inside the limit to try.
PILOT_CANCELLATION = 1e2


def _cancellation(mean_square_times_n, centered_diagonal) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean_square_times_n / centered_diagonal
    ratio = np.where(mean_square_times_n == 0, 0.0, ratio)  # constant-zero columns are fine
    return float(np.max(ratio, initial=0.0)) if np.all(np.isfinite(ratio)) else np.inf


# Rows of the pilot that screens for large column offsets (see _direct_gram_stats):
# enough to see a mean that dwarfs the spread, a small fraction of the pass.
PILOT_ROWS = 256


def _ones_appended(Y):
    """A C-ordered ``[Y, 1]``: its transpose is a Fortran-ordered BLAS operand, and
    filling it from a C-ordered Y is a plain copy (a transposing copy into a
    Fortran-ordered array took twice as long)."""
    augmented = np.empty((Y.shape[0], Y.shape[1] + 1))
    augmented[:, :-1] = Y
    augmented[:, -1] = 1.0
    return augmented


def _target_moments(Y):
    """Column sums and column sums of squares of Y, without BLAS.

    Only the diagonal of ``Y^T Y`` is needed (see :class:`GramStats`): NumPy's
    elementwise reduction took 0.55 ms for 50,000 x 20 where a ``?syrk``
    forming all of ``[Y, 1]^T [Y, 1]`` took 1.7 ms.
    """
    return Y.sum(axis=0, dtype=np.float64), np.einsum("ij,ij->j", Y, Y, dtype=np.float64)


def _gram_then_cross(X, Y, fortran):
    """Lower ``X^T X`` (one syrk) and ``X^T [Y, 1]`` (one gemm, a second pass).

    The fallback of :func:`l2reg._row_split.gram_and_cross` when SciPy's raw
    BLAS routines are unavailable.

    Both go through SciPy's BLAS: a NumPy product right after the syrk ran
    1.2-1.5x slower than the same product in SciPy (see :mod:`l2reg._blas`).
    """
    syrk, gemm = get_blas_funcs(("syrk", "gemm"), dtype=np.float64)
    # The lower triangle ran ~10% faster than the upper one in OpenBLAS here.
    lower = syrk(1.0, X, trans=1, lower=1) if fortran else syrk(1.0, X.T, trans=0, lower=1)
    augmented = _ones_appended(Y).T  # Fortran-ordered (k + 1) x n
    if fortran:
        cross = gemm(1.0, X, augmented, trans_a=1, trans_b=1)
    else:
        cross = gemm(1.0, X.T, augmented, trans_b=1)
    return lower, cross


def _direct_gram_stats(X, Y) -> GramStats | None:
    """Unweighted statistics from ``X^T X`` (one syrk, no copy) and ``X^T [Y, 1]``.

    Returns None when centering after the fact would lose more than 4 digits
    (or the data hold NaN/inf); the caller then uses the shifted blocked pass.
    """
    n = X.shape[0]
    head = X[:PILOT_ROWS]
    with np.errstate(invalid="ignore", over="ignore"):
        head_mean = head.mean(axis=0)
        head_var = head.var(axis=0)
    if _cancellation(head_mean**2, head_var) > PILOT_CANCELLATION:
        return None
    products = gram_and_cross(X, Y)  # one pass, split across cores (l2reg._row_split)
    if products is None:
        fortran = X.flags.f_contiguous and not X.flags.c_contiguous
        products = _gram_then_cross(X, Y, fortran)
    lower, cross = products
    with np.errstate(invalid="ignore", over="ignore"):
        y_sums, y_squares = _target_moments(Y)
        x_mean = cross[:, -1] / n
        y_mean = y_sums / n
        xx = np.tril(lower)
        xx += np.tril(xx, -1).T
        xx -= n * np.outer(x_mean, x_mean)
        yy = y_squares - n * y_mean**2
        xy = cross[:, :-1] - n * np.outer(x_mean, y_mean)
        x_ratio = _cancellation(n * x_mean**2, np.diag(xx))
        y_ratio = _cancellation(n * y_mean**2, yy)
    if max(x_ratio, y_ratio) > MAX_CENTERING_CANCELLATION:
        return None
    return GramStats(n, float(n), x_mean, y_mean, xx, xy, yy)


def gram_stats(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    dtype=None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> GramStats:
    """Compute :class:`GramStats` of ``(X, Y)`` in one blocked pass.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        C- or Fortran-ordered; it is read block by block, never copied whole.
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights; None means unit weights.
    dtype : {np.float32, np.float64}, default=None
        Precision of the rank-k updates (X's dtype by default).  Each block's
        float32 product is added into a float64 total, so only the rounding of
        one block's sum is float32.
    block_rows : int, default=DEFAULT_BLOCK_ROWS

    Returns
    -------
    GramStats
        Returned statistics are float64.  Non-finite values in X or Y make the
        corresponding diagonal entries non-finite; callers check them.
    """
    n_samples, n_features = X.shape
    n_targets = Y.shape[1]
    dtype = np.dtype(dtype or X.dtype)
    if dtype == np.float64 and X.dtype == np.float64 and sample_weight is None:
        direct = _direct_gram_stats(X, Y)
        if direct is not None:
            return direct
    width = n_features + n_targets + 1
    rows = max(1, min(block_rows, n_samples))
    sqrt_weight = None if sample_weight is None else np.sqrt(sample_weight)

    shift_x, shift_y = _pilot_shift(X, Y, sqrt_weight, rows)
    shift_x_cast, shift_y_cast = shift_x.astype(dtype), shift_y.astype(dtype)

    # The buffer follows X's memory order so that filling it is a contiguous
    # copy (a transposing copy from a Fortran-ordered X ran 2x slower).  Both
    # layouts reach ``syrk`` without a copy inside scipy (DESIGN.md §5): a
    # row-major block is passed transposed (Fortran-ordered, ``trans=0``), a
    # column-major one as it is (``trans=1``).
    fortran = X.flags.f_contiguous and not X.flags.c_contiguous
    buffer = np.empty((rows, width), dtype=dtype, order="F" if fortran else "C")
    syrk = get_blas_funcs("syrk", dtype=dtype)
    accumulate_in_place = dtype == np.float64
    total = np.zeros((width, width), dtype=np.float64, order="F")

    # Non-finite input is reported by the caller from the diagonal, so the
    # arithmetic warnings it would raise here are silenced.
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, n_samples, rows):
            stop = min(start + rows, n_samples)
            block = buffer[: stop - start]
            np.subtract(X[start:stop], shift_x_cast, out=block[:, :n_features])
            np.subtract(Y[start:stop], shift_y_cast, out=block[:, n_features:-1])
            if sqrt_weight is None:
                block[:, -1] = 1.0
            else:
                block[:, :-1] *= sqrt_weight[start:stop, None]
                block[:, -1] = sqrt_weight[start:stop]
            operand, trans = (block, 1) if fortran else (block.T, 0)
            if accumulate_in_place:
                syrk(1.0, operand, beta=1.0, c=total, trans=trans, lower=0, overwrite_c=1)
            else:
                total += syrk(1.0, operand, trans=trans, lower=0)

    # syrk filled the upper triangle only.
    upper = np.triu(total)
    with np.errstate(invalid="ignore", over="ignore"):
        moments = upper + np.triu(upper, 1).T
    weight_sum = float(moments[-1, -1])
    shifted_sums = moments[:-1, -1]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        delta = shifted_sums / weight_sum
        centered = moments[:-1, :-1] - weight_sum * np.outer(delta, delta)
    p = n_features
    return GramStats(
        n_samples=n_samples,
        weight_sum=weight_sum,
        x_mean=shift_x + delta[:p],
        y_mean=shift_y + delta[p:],
        xx=centered[:p, :p],
        xy=centered[:p, p:],
        yy=np.diag(centered[p:, p:]).copy(),
    )


def gram_stats_by_group(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    groups: np.ndarray,
    n_groups: int,
    *,
    dtype=None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> list[GramStats]:
    """:class:`GramStats` of each group of rows, all in one blocked pass over X.

    The k-fold counterpart of :func:`gram_stats`: row ``i`` belongs to group
    ``groups[i]`` (an integer in ``[0, n_groups)``), and the statistics of
    every group come out of the same single read of X.  Merging them
    (:meth:`GramStats.merge`) gives the statistics of all rows; the training
    statistics of fold ``j`` are then ``total.downdate(stats[j])``.

    Each block of rows is gathered into the reused buffer in group order
    (a contiguous copy when the groups are contiguous, as with an unshuffled
    ``KFold``), shifted by a common pilot mean and scaled by ``sqrt(w)``
    exactly as in :func:`gram_stats`; one symmetric rank-k update per group
    present in the block accumulates that group's moments.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    groups : ndarray of int of shape (n_samples,)
    n_groups : int
    dtype, block_rows
        As in :func:`gram_stats`.

    Returns
    -------
    list of GramStats
        One per group; a group without rows (or without weight) has zero
        weight, zero moments and zero means.
    """
    n_samples, n_features = X.shape
    n_targets = Y.shape[1]
    dtype = np.dtype(dtype or X.dtype)
    groups = np.asarray(groups, dtype=np.intp)
    counts = np.bincount(groups, minlength=n_groups)[:n_groups]

    # Each group one run of consecutive rows (an unshuffled KFold): its rows
    # are a view of X, and gram_stats reads them without any copy.
    changes = np.flatnonzero(np.diff(groups)) + 1
    run_starts = np.concatenate([[0], changes]).astype(np.intp)
    run_stops = np.concatenate([changes, [n_samples]]).astype(np.intp)
    run_labels = groups[run_starts] if n_samples else groups[:0]
    if np.unique(run_labels).size == run_labels.size:
        result = [_empty_stats(n_features, n_targets) for _ in range(n_groups)]
        for label, a, b in zip(run_labels, run_starts, run_stops, strict=True):
            weights = None if sample_weight is None else sample_weight[a:b]
            if weights is not None and not weights.sum() > 0:
                result[label] = _empty_stats(n_features, n_targets, int(b - a))
                continue
            result[label] = gram_stats(X[a:b], Y[a:b], weights, dtype=dtype, block_rows=block_rows)
        return result

    width = n_features + n_targets + 1
    rows = max(1, min(block_rows, n_samples))
    sqrt_weight = None if sample_weight is None else np.sqrt(sample_weight)

    shift_x, shift_y = _pilot_shift(X, Y, sqrt_weight, rows)
    shift_x_cast, shift_y_cast = shift_x.astype(dtype), shift_y.astype(dtype)
    # A C-ordered buffer: the gathered rows are written contiguously, and its
    # transpose is the Fortran-ordered operand syrk takes without a copy.
    buffer = np.empty((rows, width), dtype=dtype)
    syrk = get_blas_funcs("syrk", dtype=dtype)
    totals = [np.zeros((width, width), dtype=np.float64, order="F") for _ in range(n_groups)]
    accumulate_in_place = dtype == np.float64

    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, n_samples, rows):
            stop = min(start + rows, n_samples)
            labels = groups[start:stop]
            block = buffer[: stop - start]
            if labels.size and np.all(labels == labels[0]):
                order = None
                np.subtract(X[start:stop], shift_x_cast, out=block[:, :n_features])
                np.subtract(Y[start:stop], shift_y_cast, out=block[:, n_features:-1])
                bounds = [(int(labels[0]), 0, stop - start)]
            else:
                order = np.argsort(labels, kind="stable")
                taken = start + order
                np.subtract(X[taken], shift_x_cast, out=block[:, :n_features])
                np.subtract(Y[taken], shift_y_cast, out=block[:, n_features:-1])
                sorted_labels = labels[order]
                edges = np.flatnonzero(np.diff(sorted_labels)) + 1
                starts = np.concatenate([[0], edges])
                stops = np.concatenate([edges, [stop - start]])
                bounds = [
                    (int(sorted_labels[a]), int(a), int(b))
                    for a, b in zip(starts, stops, strict=True)
                ]
            if sqrt_weight is None:
                block[:, -1] = 1.0
            else:
                scale = sqrt_weight[start:stop] if order is None else sqrt_weight[start + order]
                block[:, :-1] *= scale[:, None]
                block[:, -1] = scale
            for label, a, b in bounds:
                operand = block[a:b].T  # Fortran-ordered view: no copy inside syrk
                if accumulate_in_place:
                    syrk(1.0, operand, beta=1.0, c=totals[label], trans=0, lower=0, overwrite_c=1)
                else:
                    totals[label] += syrk(1.0, operand, trans=0, lower=0)

    result = []
    p = n_features
    for label in range(n_groups):
        upper = np.triu(totals[label])
        with np.errstate(invalid="ignore", over="ignore"):
            moments = upper + np.triu(upper, 1).T
        weight_sum = float(moments[-1, -1])
        if weight_sum == 0:
            result.append(_empty_stats(p, n_targets, int(counts[label])))
            continue
        # Non-finite input shows on the diagonal; the caller reports it.
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            delta = moments[:-1, -1] / weight_sum
            centered = moments[:-1, :-1] - weight_sum * np.outer(delta, delta)
            x_mean, y_mean = shift_x + delta[:p], shift_y + delta[p:]
        result.append(
            GramStats(
                n_samples=int(counts[label]),
                weight_sum=weight_sum,
                x_mean=x_mean,
                y_mean=y_mean,
                xx=centered[:p, :p],
                xy=centered[:p, p:],
                yy=np.diag(centered[p:, p:]).copy(),
            )
        )
    return result


def _empty_stats(n_features: int, n_targets: int, n_samples: int = 0) -> GramStats:
    """Statistics of rows that carry no weight: zero moments, zero means."""
    return GramStats(
        n_samples=n_samples,
        weight_sum=0.0,
        x_mean=np.zeros(n_features),
        y_mean=np.zeros(n_targets),
        xx=np.zeros((n_features, n_features)),
        xy=np.zeros((n_features, n_targets)),
        yy=np.zeros(n_targets),
    )
