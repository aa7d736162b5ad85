"""Out-of-core ridge: fit from CSV, Parquet or ``.npy`` files larger than memory.

:func:`fit_files` reads the files once, in bounded chunks (:mod:`l2reg._chunks`),
turns each chunk into sufficient statistics (one ``?syrk`` per chunk, the
Gram pass of :mod:`l2reg.objective.gram`), merges them (Chan-Golub-LeVeque,
never raw sums) and hands the result to :meth:`l2reg.Ridge.fit_stats` or
:meth:`l2reg.RidgeCV.fit_stats`.  The model it returns is the ordinary
in-memory estimator, equal to a fit on the concatenated rows to rounding.

Each chunk's statistics come from :meth:`l2reg.GramStats.from_chunk` (or
``from_chunk_by_group`` for hashed folds) with **every column read** as X
(features, targets and the weight column together: the block goes to BLAS
contiguous, as it was read, with no column gathering per chunk) and the
targets as y; the features' part of the X moments is taken out once, at the
end (centered moments of a subset of columns are that subset of the moments).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from l2reg._chunks import (
    DEFAULT_CHUNK_BYTES,
    chunk_rows_for,
    open_source,
    prefetched,
    resolve_columns,
)
from l2reg.exceptions import DataFileError, InvalidParameterError
from l2reg.model_selection import hashed_folds
from l2reg.objective.gram import GramStats

__all__ = [
    "fit_files",
    "fit_accumulated",
    "accumulate_files",
    "training_fit",
    "Accumulated",
]

_OWNER = "fit_files"


def _position_keys(start: int, n_rows: int, seed: int) -> np.ndarray:
    """A pseudo-random 64-bit key per row, a function of its position (splitmix64)."""
    with np.errstate(over="ignore"):
        z = np.arange(start, start + n_rows, dtype=np.uint64) + np.uint64(
            (0x9E3779B97F4A7C15 * (int(seed) + 2)) % 2**64
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass
class Accumulated:
    """What one pass over the files gathered.

    ``stats`` / ``fold_stats`` hold the moments of the features and targets
    only (the weight column taken out); ``sample`` is a uniform sample of at
    most ``sample_rows`` rows (block columns, see ``layout``), for plots.
    """

    stats: GramStats
    fold_stats: list[GramStats] | None
    layout: object
    n_rows: int
    sources: list[str]
    sample: np.ndarray | None = None


def _select(stats: GramStats, layout) -> GramStats:
    """The features' statistics out of those whose X was every block column.

    Centered moments of a subset of columns are the subset of the centered
    moments, so this is exact (indexing only).  The per-column records of
    ``[X, Y]`` (``rounding_scale``, ``mean_low``) keep the features' and the
    targets' entries.
    """
    f = np.asarray(layout.features)
    q = stats.n_features

    def columns(record):
        return None if record is None else np.concatenate([record[f], record[q:]])

    return replace(
        stats,
        x_mean=stats.x_mean[f],
        xx=stats.xx[np.ix_(f, f)],
        xy=stats.xy[f],
        rounding_scale=columns(stats.rounding_scale),
        mean_low=columns(stats.mean_low),
    )


def _merge(total, part):
    if total is None:
        return part
    if isinstance(part, list):
        return [a.merge(b) for a, b in zip(total, part, strict=True)]
    return total.merge(part)


def _check_weights(source, block, start, where, layout) -> None:
    """Raise naming the row of the chunk's first negative or NaN weight."""
    if layout.weight is None:
        return
    weights = block[:, layout.weight]
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~(weights >= 0))
    if bad.size:
        row = int(bad[0])
        raise DataFileError(
            f"{source.name}: {where}: row {start + row} has weight {float(weights[row])!r}; "
            "weights must be finite and >= 0"
        )


def _raise_not_finite(source, block, start, where, layout, error) -> None:
    """Re-raise a chunk's NaN/inf (found by the Gram pass) naming the file and rows."""
    rows = np.flatnonzero(~np.all(np.isfinite(block), axis=1))
    if rows.size:
        row = int(rows[0])
        column = source.column_names[layout.read[int(np.flatnonzero(~np.isfinite(block[row]))[0])]]
        raise DataFileError(
            f"{source.name}: {where}: {rows.size} row(s) hold NaN or infinite values "
            f"(missing cells read as NaN), the first at row {start + row}, column {column!r}; "
            "remove or impute them before fitting"
        ) from None
    raise DataFileError(f"{source.name}: {where}: {error}") from None


def _chunk_stats(source, block, start, where, layout, labels, n_folds):
    """The chunk's statistics (one per fold with ``labels``), or a DataFileError."""
    _check_weights(source, block, start, where, layout)
    targets = list(layout.targets)
    # Contiguous copies (no copy for a Fortran-ordered block): a column of a
    # C-ordered block is strided across every cache line of it, and from_chunk
    # reads y twice (its finiteness, its moments); one gather is cheaper.
    y = np.ascontiguousarray(block[:, targets[0]] if len(targets) == 1 else block[:, targets])
    weights = None if layout.weight is None else np.ascontiguousarray(block[:, layout.weight])
    try:
        if labels is None:
            return GramStats.from_chunk(block, y, weights)
        return GramStats.from_chunk_by_group(block, y, weights, groups=labels, n_groups=n_folds)
    except InvalidParameterError as error:
        # from_chunk validated everything but finiteness before its pass.
        _raise_not_finite(source, block, start, where, layout, error)


def _sample_update(state, block, start, keep, seed):
    """Keep the ``keep`` rows with the smallest position hashes seen so far (a uniform sample)."""
    keys = _position_keys(start, block.shape[0], seed + 7919)
    rows, old_keys = state
    if old_keys is not None and old_keys.size >= keep:
        chosen = keys < old_keys.max()
        keys, new_rows = keys[chosen], block[chosen]
    else:
        new_rows = block
    rows = new_rows.copy() if rows is None else np.concatenate([rows, new_rows])
    keys = keys if old_keys is None else np.concatenate([old_keys, keys])
    if keys.size > keep:
        order = np.argpartition(keys, keep - 1)[:keep]
        rows, keys = rows[order], keys[order]
    return rows, keys


def _progress_bar(progress, total, description):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the cli extra is optional: no bar then
        return None
    return tqdm(total=total, desc=description, unit=" rows", unit_scale=True, disable=None)


def accumulate_files(
    paths,
    *,
    target,
    features=None,
    weight=None,
    n_folds: int | None = None,
    seed: int = 0,
    chunk_rows: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: bool = True,
    sample_rows: int = 0,
) -> Accumulated:
    """One pass over the files: the statistics of all rows (and of each hashed fold).

    Parameters are those of :func:`fit_files`; ``n_folds`` (None: no folds)
    assigns row ``i`` (global position over the files in order) to fold
    ``hashed_folds(i, n_folds, seed)``.  Raises :class:`~l2reg.DataFileError`
    naming the file and rows of the first bad chunk; its ``statistics`` are
    those of the rows before that chunk.
    """
    items = paths if isinstance(paths, list | tuple) else [paths]
    if not items:
        raise InvalidParameterError(f"{_OWNER}: no files given.")
    sources = [open_source(item) for item in items]
    layouts = [resolve_columns(s, target, features, weight) for s in sources]
    layout = layouts[0]
    for source, other in zip(sources[1:], layouts[1:], strict=True):
        # Statistics merge column by column: every file's block must hold the
        # same columns in the same places.
        if _shape_of(other, source) != _shape_of(layout, sources[0]):
            raise DataFileError(
                f"{source.name}: its columns {_shape_of(other, source)[0]} (features, targets "
                f"and weight, in file order) differ from {sources[0].name}'s "
                f"{_shape_of(layout, sources[0])[0]}; use files with the same columns in the "
                "same order"
            )
    totals = [s.n_rows for s in sources]
    total_rows = sum(totals) if all(t is not None for t in totals) else None
    bar = _progress_bar(progress, total_rows, "reading " + (sources[0].name.split("/")[-1]))
    accumulated, sample = None, (None, None)
    position = 0
    try:
        for source, own in zip(sources, layouts, strict=True):
            rows = chunk_rows_for(source.bytes_per_row(own), chunk_rows, chunk_bytes)
            for block, start, where in prefetched(source.chunks(own, rows)):
                n = block.shape[0]
                labels = None
                if n_folds is not None:
                    labels = hashed_folds(position, n, n_folds, seed)
                part = _chunk_stats(source, block, start, where, own, labels, n_folds)
                accumulated = _merge(accumulated, part)
                if sample_rows:
                    sample = _sample_update(sample, block, position, sample_rows, seed)
                position += n
                if bar is not None:
                    bar.update(n)
    except DataFileError as error:
        error.statistics = _selected(accumulated, layout)
        error.rows_read = position
        raise
    finally:
        if bar is not None:
            bar.close()
    if accumulated is None or position == 0:
        raise DataFileError(f"{', '.join(s.name for s in sources)}: no data rows")
    return Accumulated(
        stats=_select(GramStats.merge_all(accumulated), layout)
        if n_folds is not None
        else _select(accumulated, layout),
        fold_stats=_selected(accumulated, layout) if n_folds is not None else None,
        layout=layout,
        n_rows=position,
        sources=[s.name for s in sources],
        sample=sample[0],
    )


def _shape_of(layout, source):
    """The column names a source's blocks hold, in order, and where each role sits."""
    names = [str(source.column_names[k]) for k in layout.read]
    return names, layout.features, layout.targets, layout.weight


def _selected(accumulated, layout):
    if accumulated is None:
        return None
    if isinstance(accumulated, list):
        return [_select(s, layout) for s in accumulated]
    return _select(accumulated, layout)


def fit_files(
    paths,
    *,
    target,
    features=None,
    weight=None,
    alpha=None,
    alphas=None,
    cv="gcv",
    selection="min",
    alpha_per_target=False,
    fit_intercept=True,
    seed=0,
    chunk_rows=None,
    chunk_bytes=DEFAULT_CHUNK_BYTES,
    progress=True,
):
    r"""Fit ridge regression on files larger than memory, choosing alpha.

    The files are read once, in chunks of bounded size; each chunk becomes
    sufficient statistics (weight sum, means, centered ``X^T W X``,
    ``X^T W y``, ``y^T W y``) that are merged stably.  The model minimizes
    l2reg's ridge objective on all rows,

    .. math::

        J(\theta, b) = \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{\sum_i w_i}
                       + \alpha \lVert\theta\rVert_2^2,

    and equals the in-memory fit of the concatenated rows to rounding.

    Parameters
    ----------
    paths : str, path, 2-D array, or a list of them
        ``.parquet``/``.pq`` (read by row group, in record batches),
        ``.csv`` (pyarrow's streaming CSV reader; a header row), ``.npy``
        (read in row blocks with plain file reads) or a 2-D array such as an
        ``np.memmap``.  Several files are one data set, their rows in order.
    target : str, int or list of them
        The target column(s): a name for Parquet and CSV, a column index for
        arrays and ``.npy`` files.
    features : list of str or int, default=None
        Feature columns; None: every column but the target(s) and the weight.
        Numeric columns only (no one-hot encoding here).
    weight : str or int, default=None
        A column of non-negative sample weights; None: unit weights.
    alpha : float or array-like of shape (n_targets,), default=None
        Fit ``Ridge(alpha)`` instead of choosing alpha.
    alphas : array-like, default=None
        Candidates for alpha (see :class:`l2reg.RidgeCV`); None: a grid built
        from the spectrum.
    cv : {"gcv", "evidence"} or int, default="gcv"
        ``"gcv"`` and ``"evidence"`` need only the statistics.  An integer k:
        k-fold cross-validation whose folds are assigned by a seeded hash of
        each row's position (over the files in order), so the k folds'
        statistics accumulate in the same single pass.  Exact leave-one-out
        needs the rows themselves and is not available here.
    selection : {"min", "1se"}, default="min"
        As in :class:`l2reg.RidgeCV` (``"1se"`` needs k-fold).
    alpha_per_target : bool, default=False
    fit_intercept : bool, default=True
    seed : int, default=0
        Seed of the fold hash.
    chunk_rows : int, default=None
        Most rows per chunk; None: as many as fit ``chunk_bytes``.
    chunk_bytes : int, default=32 MiB
        Most bytes of the reader's buffers: two float64 blocks of the columns
        read (one being summarized while the next is read), plus an ``.npy``
        file's raw rows when they need converting.  It bounds memory whatever
        the files' length.
    progress : bool, default=True
        Show a tqdm progress bar (on a terminal, when tqdm is installed).

    Returns
    -------
    Ridge or RidgeCV
        The fitted in-memory estimator (``RidgeCV`` unless ``alpha`` is given).
        For Parquet and CSV, ``feature_names_in_`` holds the feature names.

    Raises
    ------
    DataFileError
        For a missing, truncated or malformed file (naming the file and the
        rows or row group), a non-numeric column, or NaN/inf in a chunk
        (naming the rows); its ``statistics`` hold the rows read before it.

    See Also
    --------
    l2reg.GramStats : the statistics this accumulates.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from l2reg import fit_files
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(1000, 4))
    >>> data[:, 3] = data[:, :3] @ [1.0, 2.0, 0.5] + 0.1 * rng.normal(size=1000)
    >>> path = os.path.join(tempfile.mkdtemp(), "data.npy")
    >>> np.save(path, data)
    >>> model = fit_files(path, target=3, chunk_rows=128, progress=False)
    >>> np.round(model.coef_, 1)
    array([1. , 2. , 0.5])
    """
    kfold = isinstance(cv, numbers.Integral) and not isinstance(cv, bool)
    if alpha is None and not (kfold or cv in ("gcv", "evidence")):
        raise InvalidParameterError(
            f"{_OWNER}: cv must be 'gcv', 'evidence' or an integer number of hashed folds "
            f"(>= 2); got {cv!r}. Exact leave-one-out needs the rows in memory."
        )
    if kfold and cv < 2:
        raise InvalidParameterError(f"{_OWNER}: cv={cv} folds; use at least 2.")
    data = accumulate_files(
        paths,
        target=target,
        features=features,
        weight=weight,
        n_folds=int(cv) if kfold and alpha is None else None,
        seed=seed,
        chunk_rows=chunk_rows,
        chunk_bytes=chunk_bytes,
        progress=progress,
    )
    model = fit_accumulated(
        data,
        alpha=alpha,
        alphas=alphas,
        cv=cv,
        selection=selection,
        alpha_per_target=alpha_per_target,
        fit_intercept=fit_intercept,
    )
    return model


def fit_accumulated(
    data: Accumulated,
    *,
    alpha=None,
    alphas=None,
    cv="gcv",
    selection="min",
    alpha_per_target=False,
    fit_intercept=True,
):
    """Fit Ridge (``alpha`` given) or RidgeCV on statistics from :func:`accumulate_files`."""
    from l2reg.linear_model import Ridge
    from l2reg.model_selection import RidgeCV

    if alpha is not None:
        model = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit_stats(data.stats)
    else:
        model = RidgeCV(
            alphas,
            cv=cv,
            selection=selection,
            alpha_per_target=alpha_per_target,
            fit_intercept=fit_intercept,
        )
        model.fit_stats(data.fold_stats if data.fold_stats is not None else data.stats)
    if all(isinstance(name, str) for name in data.layout.feature_names) and not all(
        name.isdigit() for name in data.layout.feature_names
    ):
        model.feature_names_in_ = np.asarray(data.layout.feature_names, dtype=object)
    return model


class TrainingFit(NamedTuple):
    """R^2 and objective of a single-target model on the rows the statistics summarize."""

    r2: float
    objective: float


def training_fit(stats: GramStats, model, *, alpha: float) -> TrainingFit:
    """R^2 and ``J`` at ``alpha`` of ``model`` on the rows behind ``stats`` (first target).

    The weighted residual sum of squares of ``(theta, b)`` is, about the
    weighted means, ``yy - 2 theta.xy + theta.xx.theta + W u^2`` with
    ``u = y_mean - x_mean.theta - b``: no row is read again.
    """
    theta = np.asarray(model.coef_, dtype=np.float64).reshape(-1, stats.n_features)[0]
    intercept = float(np.asarray(model.intercept_, dtype=np.float64).reshape(-1)[0])
    offset = stats.y_mean[0] - stats.x_mean @ theta - intercept
    residual = (
        stats.yy[0]
        - 2 * theta @ stats.xy[:, 0]
        + theta @ stats.xx @ theta
        + stats.weight_sum * offset**2
    )
    residual = max(float(residual), 0.0)
    total = float(stats.yy[0])
    r2 = 1.0 - residual / total if total > 0 else float("nan")
    return TrainingFit(r2, residual / stats.weight_sum + alpha * float(theta @ theta))
