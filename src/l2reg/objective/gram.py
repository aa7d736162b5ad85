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

Unweighted float64 data whose offsets are small take a faster route: one
``?syrk`` over X itself, split by rows across cores
(:func:`l2reg._row_split.gram_and_cross`), centered after the fact.

The accuracy budget
-------------------
Both routes are judged by the centering loss of :mod:`l2reg.objective.accuracy`
(``1 + max_j W (m_j - s_j)^2 / G_jj``, ``s = 0`` for the uncentered route),
which every :class:`GramStats` records (``rounding_scale``, and
:meth:`GramStats.centering_loss`):

* a pilot of the first rows screens X *and* Y before the uncentered route is
  tried, so that large offsets go straight to the shifted pass;
* the uncentered route is rejected after its pass when the loss exceeds
  :data:`~l2reg.objective.accuracy.CENTERING_SHARE` (the pilot missed it:
  one more pass, the shifted one);
* the shifted pass checks its loss at its end too: a first block unlike the
  rest (sorted data) makes a poor shift, and the pass is then run once more
  about the mean it has just measured, which makes the loss about 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from l2reg._row_split import gram_and_cross
from l2reg.objective.accuracy import CENTERING_SHARE, PILOT_SHARE, centering_loss

__all__ = [
    "GramStats",
    "gram_stats",
    "gram_stats_about",
    "gram_stats_by_group",
    "DEFAULT_BLOCK_ROWS",
]

#: Rows per block.  Blocks of 2,048 to 32,768 rows ran as fast as one big
#: ``dsyrk`` here (DESIGN.md §5); 4,096 keeps the buffer small (about 2% of a
#: 200,000-row X) while the rank-k update stays large enough for BLAS-3 speed.
DEFAULT_BLOCK_ROWS = 4096
#: Without an explicit ``block_rows`` a block holds at most this fraction of the
#: rows (but at least MIN_DEFAULT_BLOCK_ROWS): on a short X the 4,096-row
#: buffer was a fifth of X (20,000 rows), where issue #11 allows any pass
#: 0.1x X of extra memory.  256-row blocks still run ``?syrk`` at BLAS-3 speed.
DEFAULT_BLOCK_FRACTION = 1 / 16
MIN_DEFAULT_BLOCK_ROWS = 256


def buffer_rows(block_rows: int | None, n_samples: int) -> int:
    """Rows of the reused block buffer: ``block_rows`` (at most ``n_samples``, at
    least 1), or, for None, DEFAULT_BLOCK_ROWS capped at DEFAULT_BLOCK_FRACTION of
    the rows (never below MIN_DEFAULT_BLOCK_ROWS)."""
    if block_rows is None:
        share = int(np.ceil(n_samples * DEFAULT_BLOCK_FRACTION))
        block_rows = min(DEFAULT_BLOCK_ROWS, max(MIN_DEFAULT_BLOCK_ROWS, share))
    return max(1, min(block_rows, n_samples))


# Rows of the pilot that screens for large offsets before the uncentered pass:
# enough to see a mean that dwarfs the spread, a small fraction of the pass.
PILOT_ROWS = 256


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
    rounding_scale : ndarray of shape (n_features + n_targets,) or None, default=None
        Per column of ``[X, Y]``, the sum of squares whose rounding the
        centered diagonal entry carries: ``sum w (x - s)^2`` for a pass about
        the shift ``s`` (``s = 0`` for the uncentered pass).  None: the
        diagonal itself (exact centering).  :meth:`centering_loss` compares
        it with the diagonal; merging and downdating add the scales, as their
        rounding errors add.
    n_positive : int or None, default=None
        Rows with positive weight (what GCV's ``n`` and the evidence count).
        None: every row (unit weights), i.e. ``n_samples``.
    log_weight_sum : float, default=0.0
        ``sum(log w_i)`` over the rows of positive weight: the only part of the
        log evidence the moments do not hold (0 for unit weights).
    single_target : bool, default=False
        Whether y was 1-D, so that a model fitted from the statistics has a
        1-D ``coef_``.  A merge keeps it only when both parts have it.
    dtype : {"float64", "float32"}, default="float64"
        The floating dtype of the data the statistics summarize (the moments
        themselves are always float64); a model fitted from them has
        ``coef_`` of this dtype.  Statistics of different dtypes do not merge.

    Notes
    -----
    Build statistics with :meth:`from_chunk` (it validates the chunk and fills
    every field), combine them with :meth:`merge` or :meth:`merge_all`, and
    fit from them with ``Ridge(alpha).fit_stats(stats)``,
    ``RidgeCV(cv="gcv").fit_stats(stats)`` or ``ridge_path(stats=stats)``; see
    ``docs/streaming.md``.  They save and load with :func:`l2reg.save` and
    :func:`l2reg.load` (no pickle).
    mean_low : ndarray of shape (n_features + n_targets,) or None, default=None
        The rounding error of ``[x_mean, y_mean]``: the means are
        ``x_mean + mean_low[:p]`` (and likewise for y) to about ``eps^2``.
        Merges and downdates take the difference of two means from both
        parts, so a 1e8 offset costs no digits (``x_mean`` alone holds only
        ``eps * 1e8``).  None: zero (the means are exact, or unshifted data
        whose offsets are small next to their spread).
    """

    n_samples: int
    weight_sum: float
    x_mean: np.ndarray
    y_mean: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray
    rounding_scale: np.ndarray | None = None
    n_positive: int | None = None
    log_weight_sum: float = 0.0
    single_target: bool = False
    dtype: str = "float64"
    mean_low: np.ndarray | None = None

    def _mean_parts(self):
        """The means of ``[X, Y]`` as two parts, ``high + low`` (``low``: zeros for None)."""
        high = np.concatenate([self.x_mean, self.y_mean])
        low = np.zeros_like(high) if self.mean_low is None else self.mean_low
        return high, low

    @classmethod
    def from_chunk(cls, X, y, sample_weight=None) -> GramStats:
        """Statistics of one chunk of rows, validated.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Dense numeric data (float32 or float64 keep their dtype, integers
            and booleans become float64).  SciPy sparse X is accepted when
            l2reg's sparse Gram pass is installed (:func:`gram_stats` serves
            it); until then a sparse chunk raises ``TypeError``.
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            Any number of targets; a 1-D y is recorded (``single_target``).
        sample_weight : array-like of shape (n_rows,), default=None
            Finite non-negative weights; None means unit weights.  A chunk
            may weigh nothing (its rows are counted, its moments are zero).

        Returns
        -------
        GramStats
            Float64 moments (accumulated in float64 whatever X's dtype), with
            ``n_positive``, ``log_weight_sum``, ``single_target`` and
            ``dtype`` filled in.

        Raises
        ------
        InvalidParameterError
            (a ``ValueError`` and ``TypeError``) for a chunk that is not 2-D,
            not numeric, holds NaN or infinity (named by row and column), or
            whose y or weights do not match its rows.
        """
        from l2reg.objective.streaming import stats_of_chunk  # it builds on this module

        return stats_of_chunk(X, y, sample_weight)

    @classmethod
    def from_chunk_by_group(
        cls, X, y, sample_weight=None, *, groups, n_groups: int
    ) -> list[GramStats]:
        """Statistics of each group of a chunk's rows (e.g. its folds), in one pass.

        The streaming counterpart of :func:`gram_stats_by_group`, validated
        as :meth:`from_chunk`: row ``i`` belongs to group ``groups[i]`` in
        ``[0, n_groups)`` (see :func:`l2reg.model_selection.hashed_folds`).
        Merging the returned list gives the chunk's :meth:`from_chunk`.

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`from_chunk` (dense only).
        groups : array-like of int of shape (n_rows,)
        n_groups : int

        Returns
        -------
        list of GramStats
            One per group; a group without rows has zero weight and moments.
        """
        from l2reg.objective.streaming import stats_of_chunk_by_group

        return stats_of_chunk_by_group(X, y, sample_weight, groups, n_groups)

    @staticmethod
    def merge_all(parts) -> GramStats:
        """Merge any number of statistics, pairwise in a balanced tree.

        A balanced tree adds each row's moments through about ``log2(m)``
        merges of ``m`` parts, where a left fold adds small parts to an
        ever larger total ``m - 1`` times, which keeps the rounding of long
        streams small.

        Parameters
        ----------
        parts : iterable of GramStats

        Returns
        -------
        GramStats
        """
        level = list(parts)
        if not level:
            raise ValueError("GramStats.merge_all: no statistics to merge (an empty iterable).")
        for part in level:
            _check_is_stats(part, "merge_all")
        while len(level) > 1:
            paired = [a.merge(b) for a, b in zip(level[::2], level[1::2], strict=False)]
            level = paired + ([level[-1]] if len(level) % 2 else [])
        return level[0]

    def mean_difference(self, other: GramStats):
        """``(other.x_mean - self.x_mean, other.y_mean - self.y_mean)`` from the two-part means.

        Accurate to rounding of the difference itself, however large the means
        (a 1e8 offset leaves ``eps * 1e8`` in each mean, which a plain
        subtraction of ``x_mean`` would keep).
        """
        (high, low), (other_high, other_low) = self._mean_parts(), other._mean_parts()
        difference = (other_high - high) + (other_low - low)
        return difference[: self.n_features], difference[self.n_features :]

    @property
    def positive_count(self) -> int:
        """Rows with positive weight (``n_positive``, or ``n_samples`` when None)."""
        return self.n_samples if self.n_positive is None else int(self.n_positive)

    def _counts_with(self, other: GramStats, sign: int) -> dict:
        """The counting fields of a merge (``sign=1``) or a downdate (``sign=-1``)."""
        both_unit = self.n_positive is None and other.n_positive is None
        positive = None if both_unit else self.positive_count + sign * other.positive_count
        return {
            "n_samples": self.n_samples + sign * other.n_samples,
            "n_positive": positive,
            "log_weight_sum": self.log_weight_sum + sign * other.log_weight_sum,
            "single_target": self.single_target and other.single_target,
            "dtype": self.dtype,
        }

    @property
    def n_features(self) -> int:
        return self.x_mean.shape[0]

    def _scale(self) -> np.ndarray:
        if self.rounding_scale is None:
            return np.concatenate([np.diag(self.xx), self.yy])
        return self.rounding_scale

    def centering_loss(self, ridge: float = 0.0, *, targets: bool = True) -> float:
        """The factor by which centering amplified the rounding of these moments.

        ``max(1, max_j rounding_scale_j / (G_jj + ridge))`` over the columns of X
        (and of Y unless ``targets=False``), see :mod:`l2reg.objective.accuracy`:
        1 for exact centering, at most
        :data:`~l2reg.objective.accuracy.CENTERING_SHARE` from :func:`gram_stats`
        for data with spread.  ``ridge`` is the penalty the solve adds to the
        diagonal (``W alpha``): relative to it a constant column costs nothing.
        """
        if self.rounding_scale is None:
            return 1.0
        p = self.n_features
        loss = centering_loss(self.rounding_scale[:p], np.diag(self.xx) + ridge)
        if targets:
            loss = max(loss, centering_loss(self.rounding_scale[p:], self.yy))
        return loss

    @property
    def n_targets(self) -> int:
        return self.y_mean.shape[0]

    def merge(self, other: GramStats) -> GramStats:
        """Statistics of the union of two disjoint sets of rows.

        Uses the pairwise update of Chan, Golub & LeVeque (1979): the centered
        moments add, plus a rank-one term in the difference of the means.  It
        is associative and commutative up to rounding.  Only centered
        moments are added (each a sum of squares about its own mean, so
        nothing cancels), never raw sums: a 1e8 offset costs no digits.

        Parameters
        ----------
        other : GramStats
            Statistics of other rows, of the same data dtype, features and targets.

        Returns
        -------
        GramStats
            A new object; neither operand changes.

        Raises
        ------
        ValueError
            For different numbers of features or targets.
        TypeError
            For a non-GramStats operand, or statistics of data of different dtypes.
        """
        _check_compatible(self, other, "merge")
        counts = self._counts_with(other, 1)
        total = self.weight_sum + other.weight_sum
        if other.weight_sum == 0:
            return replace(self, **counts)
        if self.weight_sum == 0:
            return replace(other, **counts)
        factor = self.weight_sum * other.weight_sum / total
        (high, low), (other_high, other_low) = self._mean_parts(), other._mean_parts()
        # The difference of the means from their two parts: exact to eps |d|
        # however large the means (1e8 offsets), where x_mean_b - x_mean_a
        # would carry eps |mean| (Chan et al.'s update is only as good as it).
        difference = (other_high - high) + (other_low - low)
        high, low = _two_sum(high, low + difference * (other.weight_sum / total))
        p = self.n_features
        dx, dy = difference[:p], difference[p:]
        return GramStats(
            n_samples=counts["n_samples"],
            weight_sum=total,
            x_mean=high[:p],
            y_mean=high[p:],
            xx=self.xx + other.xx + factor * np.outer(dx, dx),
            xy=self.xy + other.xy + factor * np.outer(dx, dy),
            yy=self.yy + other.yy + factor * dy**2,
            rounding_scale=_added_scales(self, other, factor * np.concatenate([dx**2, dy**2])),
            mean_low=low,
            **_counting(counts),
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
        everything is removed; ``centering_loss()`` shows it.
        """
        _check_compatible(self, part, "downdate")
        counts = self._counts_with(part, -1)
        if part.weight_sum == 0:
            return replace(self, **counts)
        remaining = self.weight_sum - part.weight_sum
        if not remaining > 0:
            raise ValueError(
                "cannot downdate: the removed rows carry all of the weight "
                f"({part.weight_sum!r} of {self.weight_sum!r})."
            )
        factor = remaining * part.weight_sum / self.weight_sum
        (high, low), (part_high, part_low) = self._mean_parts(), part._mean_parts()
        # mean_A = mean_T - (W_B / W_A)(mean_B - mean_T), from the two-part
        # means as in merge; mean_B - mean_A = (W_T / W_A)(mean_B - mean_T).
        difference = (part_high - high) + (part_low - low)
        high, low = _two_sum(high, low - difference * (part.weight_sum / remaining))
        difference = difference * (self.weight_sum / remaining)
        p = self.n_features
        dx, dy = difference[:p], difference[p:]
        return GramStats(
            n_samples=counts["n_samples"],
            weight_sum=remaining,
            x_mean=high[:p],
            y_mean=high[p:],
            xx=self.xx - part.xx - factor * np.outer(dx, dx),
            xy=self.xy - part.xy - factor * np.outer(dx, dy),
            yy=self.yy - part.yy - factor * dy**2,
            # The subtraction keeps the rounding of both terms: removing a
            # large part leaves a small diagonal with their large errors.
            rounding_scale=self._scale() + part._scale() + factor * np.concatenate([dx**2, dy**2]),
            mean_low=low,
            **_counting(counts),
        )


def _two_sum(a: np.ndarray, b: np.ndarray):
    """``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (Knuth's TwoSum)."""
    total = a + b
    b_part = total - a
    error = (a - (total - b_part)) + (b - b_part)
    return total, error


def _counting(counts: dict) -> dict:
    """The counting fields other than ``n_samples`` (passed to the constructor separately)."""
    return {key: value for key, value in counts.items() if key != "n_samples"}


def _check_is_stats(value, operation: str) -> None:
    if not isinstance(value, GramStats):
        raise TypeError(
            f"GramStats.{operation}: expected GramStats; got {type(value).__name__}. "
            "Build statistics with GramStats.from_chunk(X, y, sample_weight)."
        )


def _check_compatible(first: GramStats, second, operation: str) -> None:
    """Statistics combine only with statistics of the same dtype, features and targets."""
    _check_is_stats(second, operation)
    if first.dtype != second.dtype:
        raise TypeError(
            f"GramStats.{operation}: statistics of {first.dtype} data and of {second.dtype} "
            "data do not combine; convert every chunk to one dtype (e.g. X.astype(np.float64))."
        )
    if first.n_features != second.n_features:
        raise ValueError(
            f"GramStats.{operation}: statistics of {first.n_features} and of "
            f"{second.n_features} features do not combine; every chunk must have the same columns."
        )
    if first.n_targets != second.n_targets:
        raise ValueError(
            f"GramStats.{operation}: statistics of {first.n_targets} and of "
            f"{second.n_targets} targets do not combine; every chunk must have the same targets."
        )


def _added_scales(first: GramStats, second: GramStats, rank_one: np.ndarray):
    """Rounding scale of a merge: both parts' and the rank-one term's (None if both exact)."""
    if first.rounding_scale is None and second.rounding_scale is None:
        return None
    return first._scale() + second._scale() + rank_one


# ---------------------------------------------------------------- the uncentered route


def _pilot_loss(X, Y) -> float:
    """Centering loss the uncentered route would have, estimated from the first rows.

    Both operands are screened: a large offset in y costs the cross-products
    and ``y^T y`` as much as one in X costs the Gram.
    """
    loss = 1.0
    for operand in (X, Y):
        head = operand[:PILOT_ROWS]
        with np.errstate(invalid="ignore", over="ignore"):
            mean = head.mean(axis=0)
            spread = head.var(axis=0)
        loss = max(loss, centering_loss(mean**2 + spread, spread))
    return loss


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

    Returns None when the pilot predicts, or the pass then measures, a
    centering loss above the share of the accuracy budget (or the data hold
    NaN/inf); the caller then uses the shifted blocked pass.
    """
    n = X.shape[0]
    if _pilot_loss(X, Y) > PILOT_SHARE:
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
        # The uncentered sums of squares, whose rounding the centered diagonal keeps.
        scale = np.concatenate([np.diag(lower), y_squares])
    stats = GramStats(n, float(n), x_mean, y_mean, xx, xy, yy, scale)
    if stats.centering_loss() > CENTERING_SHARE:
        return None
    return stats


# ---------------------------------------------------------------- the shifted pass


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


def _accumulate(X, Y, sqrt_weight, shift, dtype, rows, groups=None, n_groups=1):
    """The shifted moments of every group: one blocked pass of rank-k updates.

    Each block of rows is written into one reused buffer as
    ``sqrt(w) * [x - shift_x, y - shift_y, 1]`` and one ``?syrk`` per group
    present in the block adds its ``B^T B`` to that group's total (upper
    triangle, float64).  ``groups=None`` is one group of all rows.

    Returns a list of ``n_groups`` Fortran-ordered (p + k + 1) square totals.
    """
    n_samples, n_features = X.shape
    width = n_features + Y.shape[1] + 1
    shift_x, shift_y = (s.astype(dtype) for s in shift)
    # The buffer follows X's memory order so that filling it is a contiguous
    # copy (a transposing copy from a Fortran-ordered X ran 2x slower).  Both
    # layouts reach ``syrk`` without a copy inside scipy (DESIGN.md §5): a
    # row-major block is passed transposed (Fortran-ordered, ``trans=0``), a
    # column-major one as it is (``trans=1``).  Rows gathered by group are
    # written row by row, so that buffer is C-ordered.
    fortran = groups is None and X.flags.f_contiguous and not X.flags.c_contiguous
    buffer = np.empty((rows, width), dtype=dtype, order="F" if fortran else "C")
    syrk = get_blas_funcs("syrk", dtype=dtype)
    accumulate_in_place = dtype == np.float64
    totals = [np.zeros((width, width), dtype=np.float64, order="F") for _ in range(n_groups)]

    # Non-finite input is reported by the caller from the diagonal, so the
    # arithmetic warnings it would raise here are silenced.
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, n_samples, rows):
            stop = min(start + rows, n_samples)
            block = buffer[: stop - start]
            labels = None if groups is None else groups[start:stop]
            if labels is None or np.all(labels == labels[0]):
                taken = slice(start, stop)
                bounds = [(0 if labels is None else int(labels[0]), 0, stop - start)]
            else:  # gather the block's rows in group order
                order = np.argsort(labels, kind="stable")
                taken = start + order
                sorted_labels = labels[order]
                edges = np.flatnonzero(np.diff(sorted_labels)) + 1
                starts = np.concatenate([[0], edges])
                stops = np.concatenate([edges, [stop - start]])
                bounds = [
                    (int(sorted_labels[a]), int(a), int(b))
                    for a, b in zip(starts, stops, strict=True)
                ]
            np.subtract(X[taken], shift_x, out=block[:, :n_features])
            np.subtract(Y[taken], shift_y, out=block[:, n_features:-1])
            if sqrt_weight is None:
                block[:, -1] = 1.0
            else:
                scale = sqrt_weight[taken]
                block[:, :-1] *= scale[:, None]
                block[:, -1] = scale
            for label, a, b in bounds:
                part = block[a:b]
                operand, trans = (part, 1) if fortran else (part.T, 0)
                if accumulate_in_place:
                    syrk(1.0, operand, beta=1.0, c=totals[label], trans=trans, lower=0,
                         overwrite_c=1)  # fmt: skip
                else:
                    totals[label] += syrk(1.0, operand, trans=trans, lower=0)
    return totals


def _stats_from_moments(total, shift, n_samples, n_features) -> GramStats:
    """Center shifted moments (upper triangle of ``total``) at their weighted mean.

    The correction is the rank-one ``W delta delta^T`` with ``delta`` the mean's
    offset from the shift; the shifted sums of squares are the rounding scale
    it leaves (:meth:`GramStats.centering_loss`).
    """
    upper = np.triu(total)
    with np.errstate(invalid="ignore", over="ignore"):
        moments = upper + np.triu(upper, 1).T
    weight_sum = float(moments[-1, -1])
    p = n_features
    if weight_sum == 0:
        return _empty_stats(p, moments.shape[0] - 1 - p, n_samples)
    # Non-finite input shows on the diagonal; the caller reports it.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        delta = moments[:-1, -1] / weight_sum
        centered = moments[:-1, :-1] - weight_sum * np.outer(delta, delta)
    shift_x, shift_y = shift
    with np.errstate(invalid="ignore", over="ignore"):
        high, low = _two_sum(np.concatenate([shift_x, shift_y]), delta)
    return GramStats(
        n_samples=n_samples,
        weight_sum=weight_sum,
        x_mean=high[:p],
        y_mean=high[p:],
        mean_low=low,
        xx=centered[:p, :p],
        xy=centered[:p, p:],
        yy=np.diag(centered[p:, p:]).copy(),
        rounding_scale=np.diag(moments)[:-1].copy(),  # the shifted sums of squares
    )


def _as_used(shift, dtype):
    """The shift as the pass really subtracts it: rounded to ``dtype``, held in float64."""
    return tuple(np.asarray(s, dtype=np.float64).astype(dtype).astype(np.float64) for s in shift)


def _recentered(stats: GramStats, shift) -> bool:
    """Whether the shifted pass should run again about the mean it measured.

    When a column's loss is over the share and the measured mean really is
    further from the shift than the shift's own rounding: a constant column
    (no spread) has an infinite loss, which no second pass improves unless
    the shift missed its value.  Non-finite data are the caller's to report.
    """
    if stats.rounding_scale is None or not (
        np.all(np.isfinite(stats.x_mean)) and np.all(np.isfinite(stats.y_mean))
    ):
        return False
    mean = np.concatenate([stats.x_mean, stats.y_mean])
    center = np.concatenate(shift)
    diagonal = np.concatenate([np.diag(stats.xx), stats.yy])
    with np.errstate(invalid="ignore"):
        over = ~(stats.rounding_scale <= CENTERING_SHARE * diagonal)
    movable = np.abs(mean - center) > 8 * np.finfo(np.float64).eps * np.abs(center)
    return bool(np.any(over & movable))


def gram_stats_about(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    shift,
    *,
    dtype=None,
    block_rows: int | None = None,
) -> GramStats:
    """:class:`GramStats` from one shifted blocked pass about ``shift = (s_x, s_y)``.

    With ``shift`` the means (of an earlier pass) the centering loss is about
    1: solvers use it to recompute statistics exactly centered when the loss
    of :func:`gram_stats` would break the accuracy budget.  Parameters as in
    :func:`gram_stats`.
    """
    dtype = np.dtype(dtype or X.dtype)
    rows = buffer_rows(block_rows, X.shape[0])
    sqrt_weight = None if sample_weight is None else np.sqrt(sample_weight)
    shift = _as_used(shift, dtype)
    (total,) = _accumulate(X, Y, sqrt_weight, shift, dtype, rows)
    return _stats_from_moments(total, shift, X.shape[0], X.shape[1])


def gram_stats(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    dtype=None,
    block_rows: int | None = None,
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
    block_rows : int, default=None
        Rows per block of the buffered passes; None: DEFAULT_BLOCK_ROWS, at most
        a sixteenth of the rows (see :func:`buffer_rows`).

    Returns
    -------
    GramStats
        Returned statistics are float64, with ``centering_loss()`` at most
        :data:`~l2reg.objective.accuracy.CENTERING_SHARE` for finite data
        (a second shifted pass is run when the first one's shift was poor).
        Non-finite values in X or Y make the corresponding diagonal entries
        non-finite; callers check them.
    """
    dtype = np.dtype(dtype or X.dtype)
    if dtype == np.float64 and X.dtype == np.float64 and sample_weight is None:
        uncentered = _direct_gram_stats(X, Y)
        if uncentered is not None:
            return uncentered
    rows = buffer_rows(block_rows, X.shape[0])
    sqrt_weight = None if sample_weight is None else np.sqrt(sample_weight)
    shift = _as_used(_pilot_shift(X, Y, sqrt_weight, rows), dtype)
    stats = gram_stats_about(X, Y, sample_weight, shift, dtype=dtype, block_rows=rows)
    if _recentered(stats, shift):  # an unrepresentative first block (sorted data)
        stats = gram_stats_about(
            X, Y, sample_weight, (stats.x_mean, stats.y_mean), dtype=dtype, block_rows=rows
        )
    return stats


def gram_stats_by_group(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None,
    groups: np.ndarray,
    n_groups: int,
    *,
    dtype=None,
    block_rows: int | None = None,
) -> list[GramStats]:
    """:class:`GramStats` of each group of rows, all in one blocked pass over X.

    The k-fold counterpart of :func:`gram_stats`: row ``i`` belongs to group
    ``groups[i]`` (an integer in ``[0, n_groups)``), and the statistics of
    every group come out of the same single read of X.  Merging them
    (:meth:`GramStats.merge`) gives the statistics of all rows; the training
    statistics of fold ``j`` are then ``total.downdate(stats[j])``.

    Each group one run of consecutive rows (an unshuffled ``KFold``): each run
    is a view of X, passed to :func:`gram_stats`.  Otherwise each block of rows
    is gathered into the reused buffer in group order, shifted by a common
    pilot mean and scaled by ``sqrt(w)`` exactly as in :func:`gram_stats`, and
    one symmetric rank-k update per group present in the block accumulates
    that group's moments.  If a group's centering loss then exceeds the share
    of the accuracy budget, the pass runs once more about the mean of all rows.

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

    rows = buffer_rows(block_rows, n_samples)
    sqrt_weight = None if sample_weight is None else np.sqrt(sample_weight)
    shift = _as_used(_pilot_shift(X, Y, sqrt_weight, rows), dtype)
    totals = _accumulate(X, Y, sqrt_weight, shift, dtype, rows, groups, n_groups)
    result = [
        _stats_from_moments(total, shift, int(count), n_features)
        for total, count in zip(totals, counts, strict=True)
    ]
    if any(_recentered(stats, shift) for stats in result):
        merged = result[0]
        for stats in result[1:]:
            merged = merged.merge(stats)
        shift = _as_used((merged.x_mean, merged.y_mean), dtype)
        totals = _accumulate(X, Y, sqrt_weight, shift, dtype, rows, groups, n_groups)
        result = [
            _stats_from_moments(total, shift, int(count), n_features)
            for total, count in zip(totals, counts, strict=True)
        ]
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
