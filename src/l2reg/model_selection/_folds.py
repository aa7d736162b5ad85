"""k-fold by a seeded hash of each row's position, for data that arrive in chunks.

A stream (``partial_fit``, a file read in batches, Dask blocks) cannot be
shuffled before it is split, and its length may be unknown until its end.
Assigning row ``i`` (its global position, counted from 0) to fold
``hash(seed, i) mod k`` needs neither: any chunking of the same rows gives
every row the same fold, so per-fold statistics accumulate in the same one
pass (:meth:`l2reg.GramStats.from_chunk_by_group`), and an in-memory fit with
:class:`HashedKFold` selects exactly what the stream selects.

The hash is splitmix64's finalizer (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014; the mixer of Java's
``SplittableRandom``), applied to the position XOR a mixed seed.  It is a
bijection of 64-bit integers with full avalanche, so consecutive positions
land in unrelated folds, and ``mod k`` has a bias below ``k / 2^64``.  It is
vectorized in NumPy's wrapping ``uint64`` arithmetic, about 10 ns a row.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from l2reg.exceptions import InvalidParameterError

__all__ = ["hashed_folds", "HashedKFold"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's output function of each ``uint64`` (wrapping arithmetic)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


def _check_integer(owner: str, name: str, value, low: int, high: int = 2**64 - 1) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= int(value) <= high
    ):
        raise InvalidParameterError(
            f"{owner}: {name!r} must be an integer in [{low}, {high}]; got {value!r}."
        )
    return int(value)


def hashed_folds(start: int, n_rows: int, n_folds: int, seed: int = 0) -> np.ndarray:
    """The fold of each of the rows ``start, ..., start + n_rows - 1`` of a stream.

    Row ``i`` goes to fold ``splitmix64(i XOR splitmix64(seed)) mod n_folds``:
    a function of its global position alone, so a chunk's folds do not depend
    on how the stream was cut (``hashed_folds(0, 10, k)`` equals
    ``hashed_folds(0, 4, k)`` followed by ``hashed_folds(4, 6, k)``).

    Parameters
    ----------
    start : int
        Global position of the chunk's first row (rows already seen), >= 0.
    n_rows : int
        Rows in the chunk, >= 0.
    n_folds : int
        Number of folds, >= 2.
    seed : int, default=0
        Any integer in [0, 2**64): another seed, another assignment.

    Returns
    -------
    ndarray of int64 of shape (n_rows,)
        Fold labels in ``[0, n_folds)``.  Folds are of about equal size (each
        row independently uniform), not exactly equal.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg.model_selection import hashed_folds
    >>> folds = hashed_folds(0, 10, n_folds=3, seed=7)
    >>> bool(np.array_equal(folds, np.concatenate([hashed_folds(0, 4, 3, 7),
    ...                                             hashed_folds(4, 6, 3, 7)])))
    True
    """
    owner = "hashed_folds"
    start = _check_integer(owner, "start", start, 0)
    n_rows = _check_integer(owner, "n_rows", n_rows, 0)
    n_folds = _check_integer(owner, "n_folds", n_folds, 2, 2**62)
    seed = _check_integer(owner, "seed", seed, 0)
    positions = np.arange(n_rows, dtype=np.uint64) + np.uint64(start)
    with np.errstate(over="ignore"):
        key = _splitmix64(np.array([seed], dtype=np.uint64))[0]
        hashed = _splitmix64(positions ^ key)
    return (hashed % np.uint64(n_folds)).astype(np.int64)


@dataclass(frozen=True)
class HashedKFold:
    """k-fold cross-validation whose folds a stream can reproduce: row i in fold hash(seed, i).

    A scikit-learn style splitter (``split``, ``get_n_splits``) for in-memory
    data, and the fold rule of ``RidgeCV.partial_fit`` and of the file and
    Dask front ends: the same rows get the same folds however they are
    chunked (see :func:`hashed_folds`), so ``RidgeCV(cv=HashedKFold(k,
    seed)).fit(X, y)`` selects what ``partial_fit`` over any chunking of X
    selects.  Each test fold is the rows hashed to it; the folds partition
    the rows, so RidgeCV computes them from per-fold statistics.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, >= 2.
    seed : int, default=0
        In [0, 2**64).

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg.model_selection import HashedKFold
    >>> sizes = [test.size for _, test in HashedKFold(3, seed=1).split(np.zeros((30, 2)))]
    >>> sum(sizes)
    30
    """

    n_splits: int = 5
    seed: int = 0

    def __post_init__(self):
        _check_integer("HashedKFold", "n_splits", self.n_splits, 2, 2**62)
        _check_integer("HashedKFold", "seed", self.seed, 0)

    def folds(self, start: int, n_rows: int) -> np.ndarray:
        """Fold labels of the rows ``start, ..., start + n_rows - 1`` (:func:`hashed_folds`)."""
        return hashed_folds(start, n_rows, self.n_splits, self.seed)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """The number of folds."""
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` index arrays, one pair per fold (``groups`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y, groups : ignored

        Yields
        ------
        train, test : ndarray of int
        """
        labels = self.folds(0, X.shape[0] if hasattr(X, "shape") else len(X))
        for fold in range(self.n_splits):
            test = labels == fold
            yield np.flatnonzero(~test), np.flatnonzero(test)
