"""Fold labels computed from row positions alone, so that each block task labels its rows.

On Dask no task sees all rows, so a fold assignment must be a function of a
row's position: ``KFold``'s contiguous folds (what ``cv=k`` means for
in-memory data too), or a seeded hash of the position
(:class:`HashedKFold`), which mixes the folds within every block and does not
depend on how the rows are chunked.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from l2reg.exceptions import InvalidParameterError

__all__ = ["FoldRule", "HashedKFold", "fold_rule", "hashed_fold_labels"]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer (Steele, Lea & Flood 2014): a bijective mix of uint64s.

    Consecutive positions map to well-spread outputs, so ``hash % k`` gives
    folds of near-equal size whatever the chunking.  uint64 arithmetic wraps
    modulo 2^64, which the mix relies on.
    """
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hashed_fold_labels(positions, n_splits: int, seed: int = 0) -> np.ndarray:
    """Fold label in ``[0, n_splits)`` of each row position, from a seeded hash.

    The same position and seed always give the same fold, on any machine and
    in any chunking.
    """
    positions = np.asarray(positions, dtype=np.uint64)
    with np.errstate(over="ignore"):
        salted = positions ^ _splitmix64(np.array([seed], dtype=np.uint64))[0]
        return (_splitmix64(salted) % np.uint64(n_splits)).astype(np.intp)


@dataclass(frozen=True)
class FoldRule:
    """How a block task labels its rows: ``"kfold"`` (contiguous, as ``KFold``) or ``"hash"``."""

    kind: str
    n_splits: int
    n_samples: int
    seed: int = 0

    def labels(self, start: int, n_rows: int) -> np.ndarray:
        """Labels of rows ``start .. start + n_rows - 1``."""
        positions = np.arange(start, start + n_rows, dtype=np.int64)
        if self.kind == "hash":
            return hashed_fold_labels(positions, self.n_splits, self.seed)
        # scikit-learn's KFold: the first n % k folds hold one row more.
        sizes = np.full(self.n_splits, self.n_samples // self.n_splits, dtype=np.int64)
        sizes[: self.n_samples % self.n_splits] += 1
        return np.searchsorted(np.cumsum(sizes), positions, side="right").astype(np.intp)


class HashedKFold:
    """K-fold cross-validation whose folds are a seeded hash of each row's position.

    A scikit-learn splitter (``split``, ``get_n_splits``) usable with any
    estimator; on Dask collections ``RidgeCV(cv=HashedKFold(...))`` labels
    each block's rows inside its own task, so the folds cost nothing extra
    and do not depend on the chunking.  Folds have near-equal, not exactly
    equal, sizes.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    random_state : int, default=0
        Seed of the hash: another seed is another assignment.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg.dask import HashedKFold
    >>> folds = HashedKFold(3, random_state=1)
    >>> sum(test.size for _, test in folds.split(np.zeros((10, 2))))
    10
    """

    def __init__(self, n_splits=5, *, random_state=0):
        self.n_splits = n_splits
        self.random_state = random_state

    def _check(self):
        if not (isinstance(self.n_splits, numbers.Integral) and self.n_splits >= 2):
            raise InvalidParameterError(
                f"HashedKFold: n_splits must be an integer >= 2; got {self.n_splits!r}."
            )
        if not isinstance(self.random_state, numbers.Integral) or self.random_state < 0:
            raise InvalidParameterError(
                "HashedKFold: random_state must be a non-negative integer; got "
                f"{self.random_state!r}."
            )

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """The number of folds."""
        return int(self.n_splits)

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` index arrays, one pair per fold."""
        self._check()
        labels = hashed_fold_labels(np.arange(len(X)), int(self.n_splits), int(self.random_state))
        for fold in range(int(self.n_splits)):
            yield np.flatnonzero(labels != fold), np.flatnonzero(labels == fold)

    def __repr__(self) -> str:
        return f"HashedKFold(n_splits={self.n_splits}, random_state={self.random_state})"


def fold_rule(owner: str, cv, n_samples: int) -> FoldRule:
    """The :class:`FoldRule` of a ``cv`` argument on Dask, or a clear error."""
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        n_splits, kind, seed = int(cv), "kfold", 0
    elif isinstance(cv, HashedKFold):
        cv._check()
        n_splits, kind, seed = int(cv.n_splits), "hash", int(cv.random_state)
    elif type(cv).__name__ == "KFold" and not getattr(cv, "shuffle", True):
        n_splits, kind, seed = int(cv.n_splits), "kfold", 0
    else:
        raise InvalidParameterError(
            f"{owner}: on Dask collections cv must be None, 'gcv', 'evidence', an integer, an "
            f"unshuffled KFold or l2reg.dask.HashedKFold (fold labels computed from row "
            f"positions inside each block); got {cv!r}. For shuffled folds use "
            "HashedKFold(n_splits, random_state=seed)."
        )
    if n_splits > n_samples:
        raise InvalidParameterError(
            f"{owner}: cv={n_splits} folds but only {n_samples} samples; use cv <= "
            f"{n_samples}, or cv=None for exact leave-one-out."
        )
    return FoldRule(kind, n_splits, n_samples, seed)
