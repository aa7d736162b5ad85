"""Checks and steps shared by everything that fits from :class:`GramStats`.

``Ridge.partial_fit`` / ``fit_stats``, ``RidgeCV``'s and ``ridge_path``'s
statistics routes, and the file and Dask front ends all accept statistics
from outside (another process, a file, a user), so they check them here
first, and merge chunks with the same rules.
"""

from __future__ import annotations

import numpy as np

from l2reg.exceptions import InvalidParameterError
from l2reg.objective.gram import GramStats

__all__ = ["check_stats", "merged_chunk", "merged_folds"]

_ARRAYS = ("x_mean", "y_mean", "xx", "xy", "yy")


def check_stats(owner: str, stats, *, name: str = "stats") -> GramStats:
    """``stats`` as statistics a fit can use: consistent shapes, finite, positive weight.

    Raises
    ------
    InvalidParameterError
        Naming ``owner``, what is wrong and a fix.
    """
    if not isinstance(stats, GramStats):
        raise InvalidParameterError(
            f"{owner}: {name} must be GramStats; got {type(stats).__name__}. Build them with "
            "l2reg.GramStats.from_chunk(X, y, sample_weight) and merge chunks with .merge()."
        )
    p, k = stats.x_mean.shape[0], stats.y_mean.shape[0]
    shapes = {"x_mean": (p,), "y_mean": (k,), "xx": (p, p), "xy": (p, k), "yy": (k,)}
    for field in _ARRAYS:
        value = getattr(stats, field)
        if not isinstance(value, np.ndarray) or value.shape != shapes[field]:
            raise InvalidParameterError(
                f"{owner}: {name}.{field} must be an array of shape {shapes[field]} for "
                f"{p} features and {k} targets; got {getattr(value, 'shape', value)!r}."
            )
        if not np.all(np.isfinite(value)):
            raise InvalidParameterError(f"{owner}: {name}.{field} holds NaN or infinity.")
    if p == 0 or k == 0:
        raise InvalidParameterError(
            f"{owner}: {name} has {p} features and {k} targets; both must be >= 1."
        )
    if not (np.isfinite(stats.weight_sum) and stats.weight_sum > 0):
        raise InvalidParameterError(
            f"{owner}: {name} carry no weight (weight_sum = {stats.weight_sum!r}); "
            "add chunks with positive weights before fitting."
        )
    return stats


def _check_same_form(previous: GramStats, chunk: GramStats) -> None:
    if chunk.single_target != previous.single_target:
        forms = ("2-D", "1-D") if previous.single_target else ("1-D", "2-D")
        raise InvalidParameterError(
            f"y is {forms[0]} in this chunk but was {forms[1]} in the earlier ones; pass y "
            "in one form throughout (the form decides the shape of coef_)."
        )


def merged_chunk(previous: GramStats | None, X, y, sample_weight) -> GramStats:
    """``previous`` merged with the statistics of one more chunk (validated).

    Besides :meth:`GramStats.merge`'s rules (dtype, features, targets), y's
    form must not change between chunks: a 1-D y after a 2-D one would change
    the shape of ``coef_``.
    """
    chunk = GramStats.from_chunk(X, y, sample_weight)
    if previous is None:
        return chunk
    _check_same_form(previous, chunk)
    return previous.merge(chunk)


def merged_folds(previous, X, y, sample_weight, folds: np.ndarray, n_folds: int) -> list[GramStats]:
    """Per-fold statistics ``previous`` (a list, or None) with one more chunk added.

    ``folds`` labels the chunk's rows in ``[0, n_folds)`` (e.g. by
    :func:`l2reg.model_selection.hashed_folds`).  A new list is returned;
    ``previous`` is never changed.
    """
    parts = GramStats.from_chunk_by_group(X, y, sample_weight, groups=folds, n_groups=n_folds)
    if previous is None:
        return parts
    _check_same_form(previous[0], parts[0])
    return [old.merge(new) for old, new in zip(previous, parts, strict=True)]
