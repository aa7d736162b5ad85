"""Fold labels computed from row positions alone, so that each block task labels its rows.

On Dask no task sees all rows, so a fold assignment must be a function of a
row's position: scikit-learn ``KFold``'s contiguous folds (what ``cv=k``
means for in-memory data too, so a Dask fit equals the in-memory one), or
the seeded hash of :class:`l2reg.model_selection.HashedKFold`, which mixes
the folds within every block and does not depend on the chunking.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from l2reg.exceptions import InvalidParameterError
from l2reg.model_selection import HashedKFold, hashed_folds

__all__ = ["FoldRule", "fold_rule"]


@dataclass(frozen=True)
class FoldRule:
    """How a block task labels its rows: ``"kfold"`` (contiguous, as ``KFold``) or ``"hash"``."""

    kind: str
    n_splits: int
    n_samples: int
    seed: int = 0

    def labels(self, start: int, n_rows: int) -> np.ndarray:
        """Labels of rows ``start .. start + n_rows - 1``."""
        if self.kind == "hash":
            return hashed_folds(start, n_rows, self.n_splits, self.seed).astype(np.intp)
        # scikit-learn's KFold: the first n % k folds hold one row more.
        sizes = np.full(self.n_splits, self.n_samples // self.n_splits, dtype=np.int64)
        sizes[: self.n_samples % self.n_splits] += 1
        positions = np.arange(start, start + n_rows, dtype=np.int64)
        return np.searchsorted(np.cumsum(sizes), positions, side="right").astype(np.intp)


def fold_rule(owner: str, cv, n_samples: int) -> FoldRule:
    """The :class:`FoldRule` of a ``cv`` argument on Dask, or a clear error."""
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        n_splits, kind, seed = int(cv), "kfold", 0
    elif isinstance(cv, HashedKFold):
        n_splits, kind, seed = int(cv.n_splits), "hash", int(cv.seed)
    else:
        raise InvalidParameterError(
            f"{owner}: on Dask collections cv must be None, 'gcv', 'evidence', an integer "
            "(scikit-learn's contiguous KFold folds) or l2reg.model_selection.HashedKFold "
            f"(fold labels computed from row positions inside each block); got {cv!r}. For "
            "shuffled folds use HashedKFold(n_splits, seed=...)."
        )
    if n_splits > n_samples:
        raise InvalidParameterError(
            f"{owner}: cv={n_splits} folds but only {n_samples} samples; use cv <= "
            f"{n_samples}, or cv=None for exact leave-one-out."
        )
    return FoldRule(kind, n_splits, n_samples, seed)
