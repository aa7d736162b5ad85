"""Checks and steps shared by everything that fits from :class:`GramStats`.

``Ridge.partial_fit`` / ``fit_stats``, ``RidgeCV``'s and ``ridge_path``'s
statistics routes, and the file and Dask front ends all accept statistics
from outside (another process, a file, a user), so they check them here
first, and merge chunks with the same rules.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from l2reg.exceptions import InvalidParameterError
from l2reg.objective.chunks import check_chunk, raise_not_finite
from l2reg.objective.gram import GramStats, _empty_stats, gram_stats, gram_stats_by_group

__all__ = [
    "check_stats",
    "merged_chunk",
    "merged_folds",
    "stats_of_chunk",
    "stats_of_chunk_by_group",
]

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


def stats_of_chunk(X, y, sample_weight) -> GramStats:
    """:meth:`GramStats.from_chunk` (see there)."""
    X, Y, weights, single_target = check_chunk(X, y, sample_weight)
    n_rows, n_features = X.shape
    if n_rows == 0 or (weights is not None and not weights.sum() > 0):
        stats = _empty_stats(n_features, Y.shape[1], n_rows)
    else:
        stats = gram_stats(X, Y, weights, dtype=np.float64)
        diagonal = np.concatenate([np.diag(stats.xx), stats.yy])
        if not np.all(np.isfinite(diagonal)):
            raise_not_finite(X, Y)
    record = _weight_record(weights)
    return replace(stats, **record, single_target=single_target, dtype=X.dtype.name)


def stats_of_chunk_by_group(X, y, sample_weight, groups, n_groups: int) -> list[GramStats]:
    """:meth:`GramStats.from_chunk_by_group` (see there)."""
    if sp.issparse(X):
        raise TypeError(
            "GramStats.from_chunk_by_group: per-group statistics take dense chunks; "
            "densify the chunk (X.toarray()) or use GramStats.from_chunk per group."
        )
    X, Y, weights, single_target = check_chunk(X, y, sample_weight)
    n_rows, n_features = X.shape
    labels = np.asarray(groups)
    if (
        labels.shape != (n_rows,)
        or labels.dtype.kind not in "iu"
        or (n_rows and (labels.min() < 0 or labels.max() >= n_groups))
    ):
        raise InvalidParameterError(
            f"GramStats.from_chunk_by_group: groups must be {n_rows} integers in "
            f"[0, {n_groups}); got an array of shape {labels.shape} and dtype {labels.dtype}."
        )
    labels = labels.astype(np.intp)
    if n_rows == 0:
        parts = [_empty_stats(n_features, Y.shape[1]) for _ in range(n_groups)]
    else:
        parts = gram_stats_by_group(X, Y, weights, labels, n_groups, dtype=np.float64)
        diagonal = np.concatenate([np.concatenate([np.diag(s.xx), s.yy]) for s in parts])
        if not np.all(np.isfinite(diagonal)):
            raise_not_finite(X, Y)
    result = []
    for group, stats in enumerate(parts):
        rows = labels == group
        record = _weight_record(None if weights is None else weights[rows])
        result.append(replace(stats, **record, single_target=single_target, dtype=X.dtype.name))
    return result


def _weight_record(weights) -> dict:
    """``n_positive`` and ``log_weight_sum`` of a chunk's weights (None: unit weights)."""
    if weights is None:
        return {"n_positive": None, "log_weight_sum": 0.0}
    positive = weights[weights > 0]
    return {
        "n_positive": int(positive.size),
        "log_weight_sum": float(np.sum(np.log(positive), dtype=np.float64)),
    }
