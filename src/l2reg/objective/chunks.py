"""Validation of one chunk of rows, for statistics built a chunk at a time.

:meth:`l2reg.objective.gram.GramStats.from_chunk` takes chunks from anywhere
(``partial_fit``, files, Dask blocks), so it validates them itself, with
NumPy only (this layer imports no scikit-learn).  Finiteness of X is not
checked here: a NaN or infinity shows on the Gram diagonal of the one pass
(:mod:`l2reg.objective.gram`), and :func:`raise_not_finite` then finds it.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import scipy.sparse as sp

from l2reg._validation import check_finite, check_target
from l2reg.exceptions import InvalidParameterError

__all__ = ["check_chunk", "raise_not_finite", "sparse_gram_available", "OWNER"]

#: The name chunk errors carry; estimators add which chunk it was.
OWNER = "GramStats.from_chunk"


def sparse_gram_available() -> bool:
    """Whether :func:`~l2reg.objective.gram.gram_stats` takes SciPy sparse X.

    It does once l2reg's sparse Gram pass (``l2reg.objective.sparse_gram``)
    is part of the package; a chunk is then dispatched through it unchanged.
    """
    return importlib.util.find_spec("l2reg.objective.sparse_gram") is not None


def _check_design(X):
    """X as a 2-D float32/float64 array (numbers converted, floats never copied)."""
    if sp.issparse(X):
        if not sparse_gram_available():
            raise TypeError(
                f"{OWNER}: sparse X is not supported by this version of l2reg's Gram pass; "
                "densify the chunk (X.toarray()) or install an l2reg with sparse support."
            )
        if X.ndim != 2:
            raise InvalidParameterError(f"{OWNER}: X must be 2-D; got shape {X.shape}.")
        return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
    values = np.asarray(X)
    if values.dtype.kind in "biu" or values.dtype == np.float16:
        values = values.astype(np.float64)
    elif values.dtype.kind != "f":
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise InvalidParameterError(
                f"{OWNER}: X must be numeric; got dtype {values.dtype} with values that "
                "cannot be converted to float."
            ) from error
    if values.dtype not in (np.float32, np.float64):  # extended precision: BLAS has none
        values = values.astype(np.float64)
    if values.ndim != 2:
        raise InvalidParameterError(
            f"{OWNER}: X must be 2-D (rows, features); got an array of shape {values.shape}."
        )
    if values.shape[1] == 0:
        raise InvalidParameterError(f"{OWNER}: X has no feature columns (shape {values.shape}).")
    return values


def _check_weights(sample_weight, n_rows: int):
    """Finite, non-negative weights of length ``n_rows`` (None: unit weights).

    Unlike a whole fit's weights, a chunk's may sum to zero.
    """
    if sample_weight is None:
        return None
    if sp.issparse(sample_weight):
        raise InvalidParameterError(f"{OWNER}: sample_weight must be dense; got a sparse matrix.")
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "biuf":
        raise InvalidParameterError(
            f"{OWNER}: sample_weight must be real numbers; got dtype {weights.dtype}."
        )
    if weights.shape != (n_rows,):
        raise InvalidParameterError(
            f"{OWNER}: sample_weight must have shape ({n_rows},) to match X; "
            f"got shape {weights.shape}."
        )
    weights = weights.astype(np.float64)
    if not np.all(np.isfinite(weights)):
        raise InvalidParameterError(f"{OWNER}: sample_weight contains NaN or infinity.")
    if np.any(weights < 0):
        raise InvalidParameterError(
            f"{OWNER}: sample_weight must be >= 0; got a minimum of {weights.min()!r}."
        )
    return weights


def check_chunk(X, y, sample_weight):
    """Validate one chunk; return ``(X, Y, weights, single_target)``.

    X is 2-D float32/float64 (or sparse), Y 2-D in X's precision (as a fit
    validates it), finite; weights float64 or None.
    """
    X = _check_design(X)
    Y = check_target(OWNER, y, X.shape[0], X.dtype)
    single_target = Y.ndim == 1
    if single_target:
        Y = Y[:, None]
    return X, Y, _check_weights(sample_weight, X.shape[0]), single_target


def raise_not_finite(X, Y) -> None:
    """Report the NaN or infinity a non-finite Gram diagonal revealed."""
    if sp.issparse(X):
        check_finite(OWNER, "X", X.data)
    else:
        check_finite(OWNER, "X", X)
    check_finite(OWNER, "y", Y)
    raise InvalidParameterError(  # the data are finite but their squares overflow
        f"{OWNER}: the sums of squares of X or y overflow float64; rescale the data."
    )
