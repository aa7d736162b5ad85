"""Parameter specifications and array checks shared by every estimator.

Parameters are declared as small spec objects and checked at the start of
``fit`` (the idea of scikit-learn's ``_parameter_constraints``, written here in
a few lines so that no private scikit-learn module is imported).  Array checks
give messages that name the estimator, the argument, the problem and a fix.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from l2reg.exceptions import InvalidParameterError

__all__ = [
    "Interval",
    "Options",
    "InstanceOf",
    "validate_params",
    "check_alpha",
    "check_sample_weight",
    "check_target",
    "check_finite",
]


@dataclass(frozen=True)
class Interval:
    """A real (or integral) number in ``[low, high]``; ``None`` means unbounded."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right" or "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if self.kind is numbers.Real and not np.isfinite(value):
            return False
        left_closed = self.closed in ("both", "left")
        right_closed = self.closed in ("both", "right")
        if self.low is not None:
            if value < self.low or (value == self.low and not left_closed):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and not right_closed):
                return False
        return True

    def describe(self) -> str:
        name = "an integer" if self.kind is numbers.Integral else "a finite real number"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>=' if self.closed in ('both', 'left') else '>'} {self.low}")
        if self.high is not None:
            bounds.append(f"{'<=' if self.closed in ('both', 'right') else '<'} {self.high}")
        return name + (" " + " and ".join(bounds) if bounds else "")


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple

    def accepts(self, value: Any) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class InstanceOf:
    """An instance of the given type(s)."""

    types: tuple

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types
        )

    def describe(self) -> str:
        return "an instance of " + " or ".join(t.__name__ for t in self.types)


@dataclass(frozen=True)
class Satisfies:
    """Any value for which ``predicate`` is true, described by ``description``."""

    predicate: Callable[[Any], bool]
    description: str

    def accepts(self, value: Any) -> bool:
        return bool(self.predicate(value))

    def describe(self) -> str:
        return self.description


def validate_params(owner: str, params: Mapping[str, Any], specs: Mapping[str, Iterable]) -> None:
    """Check every parameter in ``specs`` against its list of accepted specs.

    Raises
    ------
    InvalidParameterError
        Naming the owner, the parameter, what is accepted and the value received.
    """
    for name, accepted in specs.items():
        accepted = tuple(accepted)
        value = params[name]
        if not any(spec.accepts(value) for spec in accepted):
            allowed = " or ".join(spec.describe() for spec in accepted)
            raise InvalidParameterError(f"{owner}: {name!r} must be {allowed}; got {value!r}.")


def check_finite(owner: str, name: str, array: np.ndarray) -> None:
    """Raise when ``array`` holds NaN or infinity, saying where the first one is.

    A sparse matrix is checked on its stored values (an implicit zero is finite).
    """
    if sp.issparse(array):
        if np.isfinite(array.data).all():  # the common case: no copy of the structure
            return
        stored = array.tocoo()
        bad = np.flatnonzero(~np.isfinite(stored.data))
        if bad.size:
            kind = "NaN" if np.isnan(stored.data[bad[0]]) else "infinity"
            raise InvalidParameterError(
                f"{owner}: input {name} contains NaN or infinity ({kind} stored at row "
                f"{stored.row[bad[0]]}, column {stored.col[bad[0]]} of the sparse matrix); "
                "remove or impute non-finite values before fitting."
            )
        return
    if array.size and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        kind = "NaN" if np.isnan(array[tuple(bad)]) else "infinity"
        where = f"row {bad[0]}" + (f", column {bad[1]}" if bad.size > 1 else "")
        raise InvalidParameterError(
            f"{owner}: input {name} contains NaN or infinity ({kind} at {where}); "
            "remove or impute non-finite values before fitting."
        )


def check_alpha(owner: str, alpha: Any, n_targets: int) -> np.ndarray:
    """Return alpha as a float64 array of shape ``(n_targets,)``.

    ``alpha`` is a non-negative finite real, or an array of them with one value
    per target.
    """
    if isinstance(alpha, bool | str | bytes) or alpha is None:
        raise InvalidParameterError(
            f"{owner}: 'alpha' must be a non-negative real number or an array of them; "
            f"got {alpha!r}."
        )
    try:
        values = np.asarray(alpha)
    except Exception as exc:  # ragged lists and the like
        raise InvalidParameterError(
            f"{owner}: 'alpha' must be a non-negative real number or an array of them; "
            f"got {alpha!r}."
        ) from exc
    if values.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"{owner}: 'alpha' must be real-valued; got {alpha!r} (dtype {values.dtype})."
        )
    values = values.astype(np.float64).ravel()
    if values.size == 1:
        values = np.full(n_targets, values[0])
    elif values.size != n_targets:
        raise InvalidParameterError(
            f"{owner}: 'alpha' has {values.size} values but y has {n_targets} target(s); "
            "pass one alpha, or one per target."
        )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InvalidParameterError(f"{owner}: 'alpha' must be >= 0 and finite; got {alpha!r}.")
    return values


def check_sample_weight(owner: str, sample_weight: Any, n_samples: int, dtype) -> np.ndarray:
    """Validate sample weights: 1-D, length ``n_samples``, finite, >= 0, positive sum."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if sp.issparse(sample_weight):
        raise InvalidParameterError(f"{owner}: sample_weight must be dense; got a sparse matrix.")
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n_samples, sample_weight)
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "iuf":
        raise InvalidParameterError(
            f"{owner}: sample_weight must be real numbers; got dtype {weights.dtype}."
        )
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise InvalidParameterError(
            f"{owner}: sample_weight must have shape ({n_samples},) to match X; "
            f"got shape {weights.shape}."
        )
    weights = weights.astype(dtype, copy=False)
    if not np.all(np.isfinite(weights)):
        raise InvalidParameterError(f"{owner}: sample_weight contains NaN or infinity.")
    if np.any(weights < 0):
        raise InvalidParameterError(
            f"{owner}: sample_weight must be >= 0; got a minimum of {weights.min()!r}."
        )
    if not weights.sum() > 0:
        raise InvalidParameterError(
            f"{owner}: sample_weight must have a positive sum; all weights are zero."
        )
    return weights


def check_target(owner: str, y: Any, n_samples: int, dtype) -> np.ndarray:
    """Validate a regression target: numeric, finite, 1-D or 2-D, ``n_samples`` rows."""
    if y is None:
        raise InvalidParameterError(f"{owner} requires y to be passed, but the target y is None.")
    if sp.issparse(y):
        raise InvalidParameterError(f"{owner}: y must be dense; got a sparse matrix.")
    values = np.asarray(y)
    if values.dtype.kind == "c":
        raise InvalidParameterError(f"{owner}: complex data is not supported in y.")
    if values.dtype.kind not in "biuf":
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"{owner}: y must be numeric; got dtype {values.dtype} with values that "
                "cannot be converted to float."
            ) from exc
    if values.ndim == 0 or values.ndim > 2:
        raise InvalidParameterError(
            f"{owner}: y must be 1-D or 2-D; got an array of shape {values.shape}."
        )
    if values.shape[0] != n_samples:
        raise InvalidParameterError(
            f"{owner}: X has {n_samples} samples but y has {values.shape[0]}; they must match."
        )
    if values.ndim == 2 and values.shape[1] == 0:
        raise InvalidParameterError(f"{owner}: y has no target columns (shape {values.shape}).")
    values = np.asarray(values, dtype=dtype)
    check_finite(owner, "y", values)
    return values
