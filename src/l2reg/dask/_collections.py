"""Dask collections in, NumPy row blocks out: validation, alignment, the tree reduction.

Every distributed computation of :mod:`l2reg.dask` has the same shape
(DESIGN.md §6): one task per row block of X runs an in-memory kernel of
l2reg on NumPy arrays and returns a small object (p x p statistics, a
gradient and a Hessian, per-alpha sums); those are merged pairwise by a
tree of tasks on the workers, and only the root travels to the client.
No ``dask.array`` algebra is involved, so no n x p intermediate is formed.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import pandas.api.types as pd_types

from l2reg.exceptions import InvalidParameterError

__all__ = ["RowBlocks", "row_blocks", "tree_reduce", "compute", "predict_blocks"]

#: Fan-in of the reduction tree: each merge task combines this many partial
#: results (8 keeps the tree shallow -- 3 levels for 512 blocks -- while one
#: task never holds more than 8 p x p objects).
SPLIT_EVERY = 8


def _is_frame(obj) -> bool:
    return hasattr(obj, "dtypes") and hasattr(obj, "to_dask_array") and hasattr(obj, "columns")


def _is_series(obj) -> bool:
    return hasattr(obj, "to_dask_array") and not hasattr(obj, "columns")


def _frame_to_array(owner: str, frame, dtype=None):
    """A numeric dask DataFrame as a dask array with known chunk sizes, and its column names."""
    bad = [str(c) for c, t in frame.dtypes.items() if not pd_types.is_numeric_dtype(t)]
    if bad:
        raise InvalidParameterError(
            f"{owner}: X must be numeric; columns {bad[:5]} are not "
            f"({', '.join(str(frame.dtypes[c]) for c in frame.columns if str(c) in bad[:5])}). "
            "Encode or drop them before fitting (e.g. with dask_ml.preprocessing)."
        )
    columns = list(frame.columns)
    names = np.asarray(columns, dtype=object) if all(isinstance(c, str) for c in columns) else None
    array = frame.to_dask_array(lengths=True)
    return array if dtype is None else array.astype(dtype), names


def _numeric_array(owner: str, name: str, array, float32_ok: bool):
    """``array`` as a floating dask array: float32 kept where allowed, else float64."""
    kind = array.dtype.kind
    if kind == "c":
        raise InvalidParameterError(f"{owner}: complex data is not supported in {name}.")
    if kind not in "biuf":
        raise InvalidParameterError(
            f"{owner}: {name} must be numeric; got dtype {array.dtype}. Convert it first."
        )
    if array.dtype == np.float64 or (float32_ok and array.dtype == np.float32):
        return array
    return array.astype(np.float64)


def _known_rows(array):
    """The array with its row-chunk sizes known (a DataFrame's partitions may not say)."""
    if any(np.isnan(c) for c in array.chunks[0]):
        array = array.compute_chunk_sizes()
    return array


def _aligned(owner: str, name: str, array, X):
    """``array`` (y or weights) as a dask array split into X's row chunks.

    A NumPy array is split into them (it then travels to the workers once);
    a dask collection with other row chunks is rechunked to them, which moves
    its rows (a vector or a few columns, not X) between workers; documented
    in docs/dask.md.  A different number of rows is an error.
    """
    if _is_frame(array) or _is_series(array):
        array = array.to_dask_array(lengths=True)
    elif not isinstance(array, da.Array):
        values = np.asarray(array)
        if values.ndim == 0 or values.shape[0] != X.shape[0]:
            raise InvalidParameterError(
                f"{owner}: X has {X.shape[0]} samples but {name} has shape {values.shape}; "
                "they must have the same number of rows."
            )
        return da.from_array(values, chunks=(X.chunks[0],) + tuple((s,) for s in values.shape[1:]))
    array = _known_rows(array)
    if array.ndim == 0 or array.ndim > 2:
        raise InvalidParameterError(
            f"{owner}: {name} must be 1-D or 2-D; got a dask array of shape {array.shape}."
        )
    if array.shape[0] != X.shape[0]:
        raise InvalidParameterError(
            f"{owner}: X has {X.shape[0]} samples but {name} has {array.shape[0]}; they must match."
        )
    if array.chunks[0] != X.chunks[0] or (array.ndim == 2 and array.numblocks[1] > 1):
        array = array.rechunk((X.chunks[0],) + ((array.shape[1],) if array.ndim == 2 else ()))
    return array


@dataclass(frozen=True)
class RowBlocks:
    """The row blocks of a distributed fit, as delayed NumPy arrays.

    Attributes
    ----------
    X, Y, weights : list of Delayed
        One per row block (``weights`` None for unit weights); Y is 2-D.
    starts : ndarray of int
        The first row of each block (its last is ``starts[i + 1] - 1``).
    n_samples, n_features, n_targets : int
    dtype : numpy dtype
        X's floating dtype.
    single_target : bool
        y was 1-D.
    feature_names : ndarray of str or None
        A DataFrame's column names.
    futures : tuple of distributed.Future
        The futures of a persisted X's blocks (empty otherwise): where each
        block lives.  The delayed blocks do not carry them (``to_delayed``
        of a persisted array gives tasks whose graphs hold no futures).
    """

    X: list
    Y: list
    weights: list | None
    starts: np.ndarray
    n_samples: int
    n_features: int
    n_targets: int
    dtype: np.dtype
    single_target: bool
    feature_names: np.ndarray | None = None
    futures: tuple = ()

    def __len__(self) -> int:
        return len(self.X)

    def tasks(self, function, *args, position: bool = False) -> list:
        """One delayed ``function(X_i, Y_i, w_i, [i, start_i,] *args)`` per block ``i``.

        ``w_i`` is None for unit weights; ``position=True`` passes the block's
        index and first row (for messages and position-based fold labels).
        """
        task = dask.delayed(function, pure=True)
        holders = _holders(self)
        tasks = []
        for i in range(len(self)):
            # Prefer the worker that holds the block (a loose restriction: any
            # worker may run it when that one is gone), so the scheduler does
            # not ship X to balance the load; only the results travel.
            preferred = holders.get(i)
            with dask.annotate(
                **({"workers": [preferred], "allow_other_workers": True} if preferred else {})
            ):
                tasks.append(
                    task(
                        self.X[i],
                        self.Y[i],
                        None if self.weights is None else self.weights[i],
                        *((i, int(self.starts[i])) if position else ()),
                        *args,
                    )
                )
        return tasks

    def set_feature_attributes(self, estimator) -> None:
        """Set ``n_features_in_`` (and ``feature_names_in_``) as scikit-learn would."""
        estimator.n_features_in_ = self.n_features
        if self.feature_names is not None:
            estimator.feature_names_in_ = self.feature_names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_


def _holders(blocks: RowBlocks) -> dict[int, str]:
    """Block index -> address of a worker holding it (persisted X on a distributed client)."""
    return {i: workers[0] for i, workers in all_holders(blocks).items()}


def all_holders(blocks: RowBlocks) -> dict[int, list[str]]:
    """Block index -> addresses of the workers holding it (a block may have replicas)."""
    if not blocks.futures:
        return {}
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):  # no distributed client: a local scheduler
        return {}
    if dask.config.get("scheduler", None) not in (None, "dask.distributed", "distributed"):
        return {}  # a local scheduler was chosen explicitly
    keys = {block.key: i for i, block in enumerate(blocks.X)}
    futures = [f for f in blocks.futures if f.key in keys]
    if not futures:
        return {}
    located = client.who_has(futures)
    return {keys[key]: list(workers) for key, workers in located.items() if workers and key in keys}


def _persisted_futures(X) -> tuple:
    """The futures held by a persisted dask array (empty without distributed)."""
    try:
        from distributed import futures_of
    except ImportError:
        return ()
    return tuple(futures_of(X))


#: dask's names of its local schedulers (``dask.config.set(scheduler=...)``).
LOCAL_SCHEDULERS = frozenset(
    {
        "threads",
        "threading",
        "processes",
        "multiprocessing",
        "sync",
        "synchronous",
        "single-threaded",
    }
)


def _check_scheduler_reads_futures(owner: str, futures: tuple) -> None:
    """Refuse data persisted on a distributed cluster under a local scheduler.

    Its blocks are futures that only the cluster can read: dask's local
    schedulers fail on them with "Missing dependency" (as ``X.sum().compute()``
    does), which names no cause.
    """
    scheduler = dask.config.get("scheduler", None)
    if futures and isinstance(scheduler, str) and scheduler in LOCAL_SCHEDULERS:
        raise InvalidParameterError(
            f"{owner}: the data are persisted on a distributed cluster (their blocks are "
            f"futures), but dask's local {scheduler!r} scheduler is in use, and it cannot "
            "read them. Fit outside dask.config.set(scheduler=...) so that the Client "
            "computes, or persist the data with the local scheduler (no Client)."
        )


def row_blocks(owner: str, X, y, sample_weight, *, float32_ok: bool = True, y_dtype=None):
    """Validate a distributed ``(X, y, sample_weight)`` and split it into row blocks.

    X: a 2-D dask array or a numeric dask DataFrame (column chunks are joined:
    each task needs whole rows).  y: a dask array, Series or DataFrame, or a
    NumPy array, of X's length (``y_dtype`` None: X's floating dtype; pass an
    object dtype to keep labels as they are).  ``sample_weight``: None or a
    1-D dask or NumPy array.  Values are checked inside the block tasks
    (finite, non-negative weights), where a bad block is named.
    """
    names = None
    if _is_frame(X):
        X, names = _frame_to_array(owner, X)
    elif _is_series(X) or not isinstance(X, da.Array):
        if isinstance(X, np.ndarray):
            X = da.from_array(X)  # only y or the weights were distributed
        else:
            raise InvalidParameterError(
                f"{owner}: X must be a 2-D dask array or dask DataFrame; got {type(X).__name__}."
            )
    if X.ndim != 2:
        raise InvalidParameterError(
            f"{owner}: X must be 2-D (n_samples, n_features); got a dask array of shape "
            f"{X.shape}. Reshape a single feature with X.reshape(-1, 1)."
        )
    X = _known_rows(_numeric_array(owner, "X", X, float32_ok))
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise InvalidParameterError(f"{owner}: X has shape {X.shape}; it needs rows and columns.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if y is None:
        raise InvalidParameterError(f"{owner} requires y to be passed, but the target y is None.")
    Y = _aligned(owner, "y", y, X)
    if y_dtype is None:
        Y = _numeric_array(owner, "y", Y, float32_ok=True).astype(X.dtype)
    # A 1-D y stays 1-D here (a reshaping layer would add a task per block to
    # every pass); the block tasks view it as a column (``as_columns``).
    single_target = Y.ndim == 1
    if not single_target and Y.shape[1] == 0:
        raise InvalidParameterError(f"{owner}: y has no target columns (shape {Y.shape}).")
    weights = None
    if sample_weight is not None:
        if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
            sample_weight = None  # a constant weight changes nothing
        else:
            W = _aligned(owner, "sample_weight", sample_weight, X)
            if W.ndim != 1:
                raise InvalidParameterError(
                    f"{owner}: sample_weight must be 1-D; got shape {W.shape}."
                )
            _check_scheduler_reads_futures(owner, _persisted_futures(W))
            weights = list(_numeric_array(owner, "sample_weight", W, False).to_delayed().ravel())
    futures = _persisted_futures(X)
    _check_scheduler_reads_futures(owner, futures + _persisted_futures(Y))
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64)
    return RowBlocks(
        X=list(X.to_delayed().ravel()),
        Y=list(Y.to_delayed().ravel()),
        weights=weights,
        starts=starts,
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        n_targets=1 if single_target else int(Y.shape[1]),
        dtype=np.dtype(X.dtype),
        single_target=single_target,
        feature_names=names,
        futures=futures,
    )


def as_columns(Y) -> np.ndarray:
    """A block of y as a 2-D array (a 1-D block as one column, a view)."""
    Y = np.asarray(Y)
    return Y.reshape(Y.shape[0], -1)


def check_block_weights(owner: str, weights, index: int, start: int):
    """A block's weights as float64: finite and non-negative (a zero-weight block is fine)."""
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=np.float64)
    bad = ~(np.isfinite(weights) & (weights >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(
            f"{owner}: sample_weight in block {index} (rows {start} to "
            f"{start + weights.shape[0] - 1}) must be finite and >= 0; got "
            f"{weights[row]!r} at row {start + row}."
        )
    return weights


def raise_not_finite(owner: str, index: int, start: int, arrays, otherwise=None) -> None:
    """Name the block, the array and the first row/column holding NaN or infinity.

    When every array is finite, raise ``otherwise`` (the error that led here),
    or say that the sums of squares overflow.
    """
    for name, array in arrays:
        values = np.asarray(array)
        if values.size and not np.isfinite(values).all():
            bad = np.argwhere(~np.isfinite(values))[0]
            kind = "NaN" if np.isnan(values[tuple(bad)]) else "infinity"
            column = f", column {bad[1]}" if bad.size > 1 else ""
            raise InvalidParameterError(
                f"{owner}: block {index} of {name} (rows {start} to "
                f"{start + values.shape[0] - 1}) contains NaN or infinity ({kind} at row "
                f"{start + bad[0]}{column}); remove or impute non-finite values before "
                "fitting (e.g. X.fillna(...) or da.nan_to_num)."
            )
    if otherwise is not None:
        raise otherwise
    raise FloatingPointError(
        f"{owner}: in block {index} the sums of squares of X or y overflow float; rescale the data."
    )


def tree_reduce(parts: list, combine, *, split_every: int = SPLIT_EVERY):
    """A delayed tree that merges ``parts`` on the workers, ``split_every`` at a time.

    ``combine(list) -> merged`` must be associative.  Returns one Delayed.
    """
    merge = dask.delayed(combine, pure=True)
    level = list(parts)
    while len(level) > 1:
        level = [
            merge(level[i : i + split_every]) if len(level[i : i + split_every]) > 1 else level[i]
            for i in range(0, len(level), split_every)
        ]
    return level[0]


def compute(*delayed_objects):
    """Compute on the current ``dask.distributed`` client if there is one, else the
    threaded scheduler (dask's default for delayed objects); see docs/dask.md."""
    return dask.compute(*delayed_objects)


def predict_blocks(estimator, function, X):
    """``function(estimator, block)`` on every row block of X, lazily: a dask array.

    Used by every estimator's ``predict`` for a dask array or DataFrame; the
    fitted model travels with each task (its coefficients: p numbers per target).
    """
    owner = type(estimator).__name__
    if _is_frame(X):
        X, _ = _frame_to_array(owner, X)
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise InvalidParameterError(
            f"{owner}: predict takes a 2-D dask array or DataFrame; got {type(X).__name__}."
        )
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    sample = function(estimator, np.zeros((1, X.shape[1]), dtype=X.dtype))
    if sample.ndim == 1:
        return X.map_blocks(
            lambda block: function(estimator, block), drop_axis=1, dtype=sample.dtype
        )
    return X.map_blocks(
        lambda block: function(estimator, block),
        chunks=(X.chunks[0], (sample.shape[1],)),
        dtype=sample.dtype,
    )
