"""Sufficient statistics of distributed data: one task per row block, a tree of merges.

Each block task runs the in-memory Gram pass of :mod:`l2reg.objective.gram`
(``gram_stats``, or ``gram_stats_by_group`` for k-fold) on its NumPy block;
the :class:`~l2reg.objective.gram.GramStats` are merged on the workers by
Chan-Golub-LeVeque updates (:meth:`GramStats.merge`), so only
``(p + k)^2``-sized objects move and the client receives one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce

import dask
import numpy as np

from l2reg.dask._collections import (
    RowBlocks,
    check_block_weights,
    compute,
    raise_not_finite,
    row_blocks,
    tree_reduce,
)
from l2reg.dask._folds import FoldRule
from l2reg.exceptions import InvalidParameterError
from l2reg.objective import gram
from l2reg.objective.accuracy import CENTERING_SHARE, PILOT_SHARE, centering_loss
from l2reg.objective.gram import PILOT_ROWS

__all__ = ["BlockStats", "distributed_stats", "gram_stats"]


@dataclass(frozen=True)
class BlockStats:
    """Statistics of a set of rows, per group (one group without folds).

    ``groups[j]`` are the statistics of the rows labelled j (k-fold: test
    fold j; the last label is never used by a partition, as in ``RidgeCV``),
    ``positive[j]`` their count of positively weighted rows.
    """

    groups: tuple[gram.GramStats, ...]
    positive: np.ndarray

    @property
    def total(self) -> gram.GramStats:
        """The statistics of all rows (the groups merged)."""
        return reduce(lambda a, b: a.merge(b), self.groups)

    @staticmethod
    def merge_all(parts: list[BlockStats]) -> BlockStats:
        """Merge the statistics of disjoint row sets, group by group."""
        groups = tuple(
            reduce(lambda a, b: a.merge(b), column)
            for column in zip(*(p.groups for p in parts), strict=True)
        )
        return BlockStats(groups, sum(p.positive for p in parts))


def _block_stats(X, Y, weights, index, start, owner, folds, shift):
    """The statistics of one block (run on a worker); raises naming the block on NaN/inf.

    With a ``shift``, the statistics are those of ``(X - s_x, Y - s_y)``: their
    means are small offsets from the common shift, so the merges' rank-one
    terms (differences of block means) keep their digits where means of
    size 1e8 would have lost eight (the block's copy costs one pass over it).
    """
    X = np.asarray(X)
    Y = np.asarray(Y)
    weights = check_block_weights(owner, weights, index, start)
    if shift is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            X = X - shift[0].astype(X.dtype)
            Y = Y - shift[1].astype(Y.dtype)
    if folds is None:
        groups = [gram.gram_stats(X, Y, weights, dtype=np.float64)]
        labels = np.zeros(X.shape[0], dtype=np.intp)
        n_groups = 1
    else:
        labels = folds.labels(start, X.shape[0])
        n_groups = folds.n_splits + 1
        groups = gram.gram_stats_by_group(X, Y, weights, labels, n_groups, dtype=np.float64)
    for stats in groups:
        # A NaN or inf anywhere in the rows shows on the diagonal (gram.py).
        if not (np.all(np.isfinite(np.diag(stats.xx))) and np.all(np.isfinite(stats.yy))):
            raise_not_finite(owner, index, start, [("X", X), ("y", Y)])
    positive = np.bincount(
        labels, weights=None if weights is None else (weights > 0), minlength=n_groups
    )
    return BlockStats(tuple(groups), positive.astype(np.int64))


def _block_head(X, Y, weights):
    """The first rows of a block (the pilot of the shift), a worker task."""
    head = slice(0, PILOT_ROWS)
    return (
        np.asarray(X[head], dtype=np.float64),
        np.asarray(Y[head], dtype=np.float64),
        None if weights is None else np.asarray(weights[head], dtype=np.float64),
    )


def _pilot_shift(blocks: RowBlocks):
    """A common shift for every block when the first rows show large offsets, else None.

    The pilot of :func:`l2reg.objective.gram.gram_stats`, over the first block's
    first rows: when their offsets would cost more than the pilot's share of
    the accuracy budget, every block is shifted by their weighted mean.
    """
    weights = None if blocks.weights is None else blocks.weights[0]
    (head,) = compute(dask.delayed(_block_head)(blocks.X[0], blocks.Y[0], weights))
    X, Y, w = head
    w = np.ones(X.shape[0]) if w is None or not w.sum() > 0 else w
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shift = (w @ X / w.sum(), w @ Y / w.sum())
        loss = 1.0
        for operand, mean in zip((X, Y), shift, strict=True):
            spread = w @ (operand - mean) ** 2 / w.sum()
            loss = max(loss, centering_loss(mean**2 + spread, spread))
    if not (loss > PILOT_SHARE and all(np.all(np.isfinite(s)) for s in shift)):
        return None
    return shift


def _unshifted(result: BlockStats, shift) -> BlockStats:
    """Statistics of ``(X - s_x, Y - s_y)`` as those of ``(X, Y)``: only the means move."""
    if shift is None:
        return result
    groups = tuple(
        replace(g, x_mean=g.x_mean + shift[0], y_mean=g.y_mean + shift[1]) if g.weight_sum > 0
        else g
        for g in result.groups
    )  # fmt: skip
    return BlockStats(groups, result.positive)


def distributed_stats(
    blocks: RowBlocks, owner: str, folds: FoldRule | None = None, shift=None
) -> BlockStats:
    """:class:`BlockStats` of all rows: one task per block, a tree of merges.

    Data with large offsets (judged by a pilot of the first rows) are shifted
    by a common shift in every block; statistics whose merged centering loss
    still exceeds the share of the accuracy budget (a pilot unlike the rest:
    sorted data) are recomputed in one more pass about the merged means, as
    :func:`l2reg.objective.gram.gram_stats` redoes a poorly shifted pass.
    """
    first_attempt = shift is None
    if first_attempt:
        shift = _pilot_shift(blocks)
    task = dask.delayed(_block_stats, pure=True)
    shared_shift = dask.delayed(shift, traverse=False) if shift is not None else None
    parts = [
        task(
            blocks.X[i],
            blocks.Y[i],
            None if blocks.weights is None else blocks.weights[i],
            i,
            int(blocks.starts[i]),
            owner,
            folds,
            shared_shift,
        )
        for i in range(len(blocks))
    ]
    (result,) = compute(tree_reduce(parts, BlockStats.merge_all))
    result = _unshifted(result, shift)
    total = result.total
    if not total.weight_sum > 0:
        raise InvalidParameterError(
            f"{owner}: sample_weight must have a positive sum; all weights are zero."
        )
    if first_attempt and max(g.centering_loss() for g in result.groups) > CENTERING_SHARE:
        return distributed_stats(blocks, owner, folds, shift=(total.x_mean, total.y_mean))
    return result


def gram_stats(X, y, sample_weight=None) -> gram.GramStats:
    """The :class:`~l2reg.objective.gram.GramStats` of Dask collections, in one pass.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n_samples, n_features)
    y : dask array, Series or DataFrame of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : dask array of shape (n_samples,), default=None

    Returns
    -------
    gram.GramStats
        float64 statistics of all rows, merged on the workers; the same
        (up to rounding) as the in-memory pass over the concatenated rows.
    """
    blocks = row_blocks("gram_stats", X, y, sample_weight)
    return distributed_stats(blocks, "gram_stats").total
