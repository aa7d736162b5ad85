"""Bad input gets a clear ValueError/TypeError naming the problem, never a LAPACK crash."""

import numpy as np
import pytest
import scipy.sparse as sp

from l2reg import IncompatibleOptionsError, InvalidParameterError, Ridge
from l2reg.solvers import registered_solvers

SOLVERS = registered_solvers("squared")


@pytest.fixture
def data(rng):
    return rng.standard_normal((20, 3)), rng.standard_normal(20)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "y"])
def test_non_finite_values(data, solver, bad, where):
    X, y = data
    X, y = X.copy(), y.copy()
    if where == "X":
        X[7, 1] = bad
    else:
        y[7] = bad
    with pytest.raises(ValueError, match=rf"input {where} contains NaN or infinity.*row 7"):
        Ridge(solver=solver).fit(X, y)


def test_non_finite_in_a_zero_weight_row_is_still_an_error(data):
    X, y = data
    X = X.copy()
    X[3, 0] = np.nan
    weights = np.ones(20)
    weights[3] = 0
    with pytest.raises(ValueError, match="NaN"):
        Ridge().fit(X, y, sample_weight=weights)


def test_mismatched_lengths(data):
    X, y = data
    with pytest.raises(ValueError, match="X has 20 samples but y has 19"):
        Ridge().fit(X, y[:-1])


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((0, 3)), "0 sample"),
        (np.zeros((5, 0)), "0 feature"),
        (np.arange(5.0), "Expected 2D array"),
    ],
)
def test_empty_or_1d_X(X, message):
    with pytest.raises(ValueError, match=message):
        Ridge().fit(X, np.zeros(X.shape[0]))


@pytest.mark.parametrize(
    "alpha, message",
    [
        (-1.0, "'alpha' must be >= 0"),
        (np.nan, "'alpha' must be >= 0 and finite"),
        (np.inf, "'alpha' must be >= 0 and finite"),
        ("big", "'alpha' must be a non-negative real number"),
        (None, "'alpha' must be a non-negative real number"),
        (1 + 2j, "'alpha' must be real-valued"),
        ([0.1, 0.2], "'alpha' has 2 values but y has 1 target"),
    ],
)
def test_bad_alpha(data, alpha, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        Ridge(alpha=alpha).fit(X, y)


def test_complex_and_object_arrays(data):
    X, y = data
    with pytest.raises(ValueError, match="[Cc]omplex"):
        Ridge().fit(X + 1j, y)
    with pytest.raises(ValueError, match="[Cc]omplex"):
        Ridge().fit(X, y + 1j)
    with pytest.raises(ValueError, match="could not convert"):
        Ridge().fit(np.array([["a", "b"], ["c", "d"]], dtype=object), [1.0, 2.0])
    with pytest.raises(ValueError, match="y must be numeric"):
        Ridge().fit(X, np.array(["x"] * 20, dtype=object))


@pytest.mark.parametrize(
    "weights, message",
    [
        (-np.ones(20), "must be >= 0"),
        (np.ones(19), r"shape \(20,\)"),
        (np.ones((20, 2)), r"shape \(20,\)"),
        (np.zeros(20), "positive sum"),
        (np.full(20, np.nan), "NaN"),
        (np.array(["a"] * 20), "real numbers"),
    ],
)
def test_bad_sample_weight(data, weights, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        Ridge().fit(X, y, sample_weight=weights)


def test_bad_options(data):
    X, y = data
    with pytest.raises(InvalidParameterError, match="'solver' must be one of"):
        Ridge(solver="magic").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'fit_intercept' must be"):
        Ridge(fit_intercept="yes").fit(X, y)
    with pytest.raises(IncompatibleOptionsError, match="requires fit_intercept=True"):
        Ridge(fit_intercept=False, penalize_intercept=True).fit(X, y)


def test_sparse_input_is_refused_clearly_by_dense_only_solvers(data):
    X, y = data
    with pytest.raises(IncompatibleOptionsError, match="does not support sparse X; use one of"):
        Ridge(solver="svd").fit(sp.csr_matrix(X), y)


def test_errors_are_l2reg_and_builtin_types():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)
    assert issubclass(IncompatibleOptionsError, ValueError)
