"""Argument checks shared by the public functions of :mod:`l2reg.torch`."""

from __future__ import annotations

import math
import numbers
from typing import Any

from l2reg.exceptions import InvalidParameterError

__all__ = ["check_nonnegative_real"]


def check_nonnegative_real(caller: str, name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number >= 0, else raise."""
    # bool is an Integral: reject it explicitly, True is never meant as a strength.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(
            f"{caller}: '{name}' must be a finite real number >= 0; "
            f"got {value!r} of type {type(value).__name__}."
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InvalidParameterError(f"{caller}: '{name}' must be finite and >= 0; got {value!r}.")
    return value
