"""What saved :class:`~l2reg.GramStats` may hold: the checks :func:`l2reg.load` runs.

Statistics travel in model files twice over: as a file of their own
(``l2reg.save(stats, path)``) and inside a model (``Ridge.stats_`` after
``partial_fit``, ``RidgeCV.fold_stats_``).  Either way they are untrusted, as
the rest of a file is (docs/model_files.md): :func:`check_stats_fields` checks
the ``.npy`` headers first (dtypes and shapes consistent with one number of
features and of targets, before any array is read), then the values
(finite, counts in range), and only then are the statistics built.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from l2reg._model_file import ArrayHeader, file_error
from l2reg.objective.gram import GramStats

__all__ = ["PendingStats", "check_stats_fields", "stats_layout", "STATS_FIELDS", "REQUIRED"]

#: Field name -> whether a file must hold it (fields added later have defaults).
STATS_FIELDS = [f.name for f in dataclasses.fields(GramStats)]
REQUIRED = ("n_samples", "weight_sum", "x_mean", "y_mean", "xx", "xy", "yy")
_MAX_FEATURES = 2**40
_MAX_ROWS = 2**62  # no real stream reaches it; keeps the counts within int64
_DTYPES = ("float64", "float32")


@dataclasses.dataclass(frozen=True)
class PendingStats:
    """Statistics whose fields passed the header checks; arrays not read yet."""

    fields: dict
    where: str


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def stats_layout(value) -> tuple[int, int, bool] | None:
    """``(n_features, n_targets, single_target)`` of GramStats or PendingStats, else None."""
    if isinstance(value, GramStats):
        return value.n_features, value.n_targets, value.single_target
    if isinstance(value, PendingStats):
        fields = value.fields
        return fields["x_mean"].shape[0], fields["y_mean"].shape[0], fields.get("single_target")
    return None


def check_stats_fields(fields: dict, path, where: str, *, headers_only: bool) -> None:
    """Check decoded GramStats fields (arrays as headers when ``headers_only``)."""

    def fail(name, problem):
        raise file_error(path, f"{where}.{name}" if where else name, problem)

    if not isinstance(fields, dict):
        raise file_error(path, where or "statistics", "GramStats fields must be a mapping")
    unknown = sorted(set(fields) - set(STATS_FIELDS))
    missing = [name for name in REQUIRED if name not in fields]
    if unknown or missing:
        raise file_error(
            path,
            where or "statistics",
            f"GramStats fields: unknown {unknown}, missing {missing}",
        )
    for name in ("x_mean", "y_mean"):
        value = fields[name]
        if not isinstance(value, np.ndarray | ArrayHeader) or len(value.shape) != 1:
            fail(name, "must be a 1-D float64 array")
    p, k = fields["x_mean"].shape[0], fields["y_mean"].shape[0]
    if not (1 <= p <= _MAX_FEATURES and 1 <= k <= _MAX_FEATURES):
        fail("x_mean", f"statistics of {p} features and {k} targets (both must be >= 1)")
    shapes = {
        "x_mean": (p,),
        "y_mean": (k,),
        "xx": (p, p),
        "xy": (p, k),
        "yy": (k,),
        "rounding_scale": (p + k,),
        "mean_low": (p + k,),
    }
    for name, shape in shapes.items():
        value = fields.get(name)
        if value is None and name in ("rounding_scale", "mean_low"):
            continue
        if not isinstance(value, np.ndarray | ArrayHeader) or value.dtype != np.float64:
            fail(name, "must be a float64 array")
        if tuple(value.shape) != shape:
            fail(name, f"has shape {tuple(value.shape)}; expected {shape}")
        if isinstance(value, np.ndarray) and not np.all(np.isfinite(value)):
            fail(name, "holds NaN or infinity")
    n_samples = fields["n_samples"]
    if not _is_int(n_samples) or not 0 <= n_samples <= _MAX_ROWS:
        fail("n_samples", f"must be an integer in [0, 2**62]; got {n_samples!r}")
    weight_sum = fields["weight_sum"]
    if not _is_real(weight_sum) or not math.isfinite(weight_sum) or weight_sum < 0:
        fail("weight_sum", f"must be a finite number >= 0; got {weight_sum!r}")
    positive = fields.get("n_positive")
    if positive is not None and not (_is_int(positive) and 0 <= positive <= n_samples):
        fail("n_positive", f"must be None or an integer in [0, n_samples]; got {positive!r}")
    log_weights = fields.get("log_weight_sum", 0.0)
    if not _is_real(log_weights) or not math.isfinite(log_weights):
        fail("log_weight_sum", f"must be a finite number; got {log_weights!r}")
    single = fields.get("single_target", False)
    if not isinstance(single, bool) or (single and k != 1):
        fail("single_target", f"must be a bool, True only for one target; got {single!r}")
    if fields.get("dtype", "float64") not in _DTYPES:
        fail("dtype", f"must be one of {_DTYPES}; got {fields.get('dtype')!r}")
    del headers_only  # the same rules; values are checked wherever arrays are present
