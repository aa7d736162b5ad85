"""Mixed precision (Ridge(precision=...)): the float32 passes, refinement accuracy, fallbacks.

References are independent of the solver: the float32 Gram against a float64
NumPy product, the residual pass against NumPy, and every mixed fit against
the float64 fit and against its gradient recomputed here from the data.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import l2reg._mixed_passes as mixed_passes
import l2reg.solvers.mixed as mixed
from l2reg import Ridge, SolverFallbackWarning
from l2reg._mixed_passes import float32_gram, residual_products
from l2reg.exceptions import InvalidParameterError

#: The float32 Gram, each block's sum rounded in float32 (unit roundoff 6e-8)
#: and the blocks added in float64: entries within a few eps32 of the
#: diagonal scale ``sqrt(G_ii G_jj)`` (blocks of up to 64 rows here).
FLOAT32_GRAM = 5e-7
#: Sums of a few thousand float64 products in another order.
REORDERED = 1e-12
#: The issue's goal for mixed-precision coefficients against the float64 fit,
#: relative to the largest coefficient.
COEF_VS_DOUBLE = 1e-10
#: The certificate's goal (the float64 solver's).
CERTIFICATE = 1e-12


def _design(rng, n, p, condition, *, offset=2.0, n_targets=None):
    """Columns with covariance of the given condition number and offsets of up to
    ``offset`` standard deviations; y from a random coefficient plus noise."""
    basis, _ = np.linalg.qr(rng.standard_normal((p, p)))
    mixing = (basis * np.geomspace(1.0, 1.0 / np.sqrt(condition), p)) @ basis.T
    X = rng.standard_normal((n, p)) @ mixing
    X += rng.uniform(-offset, offset, p) * np.sqrt(np.sum(mixing**2, axis=0))
    shape = p if n_targets is None else (p, n_targets)
    noise = rng.standard_normal(n if n_targets is None else (n, n_targets))
    return X, X @ rng.standard_normal(shape) + 0.1 * noise


def _relative_gradient(model, X, y, sample_weight, alpha):
    """The objective's relative gradient at the fitted point, from the data (NumPy)."""
    w = np.ones(len(X)) if sample_weight is None else sample_weight
    W = w.sum()
    coef = np.atleast_2d(model.coef_).T
    Y = y.reshape(len(X), -1)
    residual = Y - X @ coef - model.intercept_
    data = X.T @ (w[:, None] * residual)
    if model.fit_intercept:  # centered: the intercept's own gradient is -2 mean(residual)
        data -= np.outer(w @ X / W, w @ residual)
    gradient = -2 * data / W + 2 * alpha * coef
    scale = 2 * np.linalg.norm(X.T @ (w[:, None] * Y), axis=0) / W + 2 * alpha * np.linalg.norm(
        coef, axis=0
    )
    return np.linalg.norm(gradient) / np.linalg.norm(scale)


# --- The passes ------------------------------------------------------------------


@pytest.fixture(params=["raw", "f2py", "no-numba"])
def blas_route(request, monkeypatch):
    """Every route: SciPy's raw routines through ctypes (with the numba kernels), the
    f2py fallback, and the raw routines with the kernels' NumPy / BLAS forms."""
    if request.param == "f2py":
        monkeypatch.setattr(mixed_passes, "raw_routines", lambda names: None)
    if request.param == "no-numba":
        monkeypatch.setattr(mixed_passes, "kernels", lambda: None)
    return request.param


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_float32_gram_equals_float64_gram_to_float32_accuracy(
    rng, blas_route, order, workers, weighted
):
    n, p = 1001, 9
    X = np.asarray(rng.standard_normal((n, p)) * rng.uniform(0.1, 10, p) + 5.0, order=order)
    Y = rng.standard_normal((n, 2))
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    shift = X[:50].mean(axis=0)
    lower, cross = float32_gram(X, Y, w, shift, block_rows=64, workers=workers)
    weights = np.ones(n) if w is None else w
    Xs = X - shift
    expected = Xs.T @ (weights[:, None] * Xs)
    diagonal = np.sqrt(np.diag(expected))
    error = np.abs(np.tril(lower) - np.tril(expected)) / np.outer(diagonal, diagonal)
    assert error.max() <= FLOAT32_GRAM
    assert error.max() > 0  # really rounded in float32, not a float64 product
    assert np.all(np.triu(lower, 1) == 0)
    augmented = np.column_stack([Y, np.ones(n)]) * weights[:, None]
    expected_cross = X.T @ augmented
    assert_allclose(
        cross, expected_cross, rtol=REORDERED, atol=REORDERED * np.abs(expected_cross).max()
    )


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_residual_products_equal_numpy(rng, blas_route, order, workers, weighted):
    n, p, k = 777, 7, 3
    X = np.asarray(rng.standard_normal((n, p)) + 3.0, order=order)
    Y = rng.standard_normal((n, k))
    theta, offset = rng.standard_normal((p, k)), rng.standard_normal(k)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    product = residual_products(X, Y, theta, offset, w, block_rows=50, workers=workers)
    weights = np.ones(n) if w is None else w
    expected = X.T @ (weights[:, None] * (Y - X @ theta - offset))
    scale = np.abs(X).T @ (weights[:, None] * np.abs(Y - offset) + np.abs(X) @ np.abs(theta))
    assert np.all(np.abs(product - expected) <= REORDERED * scale)


# --- Accuracy of the fit -----------------------------------------------------------


@pytest.mark.parametrize("condition", [1.0, 1e4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_mixed_fit_matches_double_and_is_certified(rng, condition, fit_intercept, weighted):
    X, y = _design(rng, 12_000, 40, condition, offset=0.5 if not fit_intercept else 2.0)
    w = rng.uniform(0.1, 2.0, len(X)) if weighted else None
    alpha = 1e-8
    double = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        model = Ridge(alpha=alpha, fit_intercept=fit_intercept, precision="mixed").fit(
            X, y, sample_weight=w
        )
    assert model.solver_ == mixed.MIXED_SOLVER
    assert model.n_iter_ >= 1
    assert model.certificate_.computed_from == "data"
    assert model.certificate_.relative_gradient_norm <= CERTIFICATE
    assert _relative_gradient(model, X, y, w, alpha) <= CERTIFICATE
    assert np.abs(model.coef_ - double.coef_).max() <= COEF_VS_DOUBLE * np.abs(double.coef_).max()
    scale = np.abs(y).max()
    assert abs(model.intercept_ - double.intercept_) <= COEF_VS_DOUBLE * scale
    assert_allclose(model.objective(X, y, w), double.objective(X, y, w), rtol=1e-10)


@pytest.mark.parametrize("order", ["C", "F"])
def test_multi_target_and_per_target_alpha(rng, order):
    X, Y = _design(rng, 12_000, 30, 1e3, n_targets=3)
    X = np.asarray(X, order=order)
    alpha = [1e-6, 1e-3, 1e-6]
    double = Ridge(alpha=alpha).fit(X, Y)
    model = Ridge(alpha=alpha, precision="mixed").fit(X, Y)
    assert model.solver_ == mixed.MIXED_SOLVER
    assert model.certificate_.relative_gradient_norm <= CERTIFICATE
    for target in range(3):
        reference = np.abs(double.coef_[target]).max()
        assert (
            np.abs(model.coef_[target] - double.coef_[target]).max() <= COEF_VS_DOUBLE * reference
        )


# --- Fallbacks ----------------------------------------------------------------------


def test_pilot_falls_back_before_the_float32_pass(rng, monkeypatch):
    """Far over the limit: the pilot decides, no float32 pass is made."""
    X, y = _design(rng, 12_000, 40, 1e7, offset=0.5)
    calls = []
    monkeypatch.setattr(mixed, "float32_gram", lambda *a, **k: calls.append(1))
    with pytest.warns(SolverFallbackWarning, match="mixed precision fell back"):
        model = Ridge(alpha=1e-12, precision="mixed").fit(X, y)
    assert not calls
    assert model.solver_.startswith("cholesky (mixed precision fell back to double: the pilot")
    double = Ridge(alpha=1e-12).fit(X, y)
    assert_allclose(model.coef_, double.coef_, rtol=0, atol=0)


def test_full_gram_falls_back_when_no_pilot_is_possible(rng):
    """Too few rows for a pilot: the float32 Gram's own condition estimate decides."""
    X, y = _design(rng, 600, 40, 1e6, offset=0.5)
    with pytest.warns(SolverFallbackWarning, match="float32 Gram's equilibrated condition"):
        model = Ridge(alpha=1e-12, precision="mixed").fit(X, y)
    assert "(mixed precision fell back to double:" in model.solver_
    assert model.certificate_.relative_gradient_norm <= CERTIFICATE


def test_refinement_that_stops_contracting_falls_back(rng, monkeypatch):
    """With the condition limits lifted, a hopeless problem stalls and falls back."""
    monkeypatch.setattr(mixed, "MAX_CONDITION", np.inf)
    X, y = _design(rng, 600, 40, 3e7, offset=0.5)
    with pytest.warns(SolverFallbackWarning, match="refinement stopped contracting"):
        model = Ridge(alpha=1e-12, precision="mixed").fit(X, y)
    assert "refinement" in model.solver_


def test_auto_uses_mixed_where_it_pays_and_falls_back_silently(rng, monkeypatch):
    X, y = _design(rng, 12_000, 40, 10.0)
    small = Ridge(alpha=1e-6, precision="auto").fit(X, y)
    assert small.solver_ == "cholesky"  # below AUTO_MIN_FEATURES: double precision
    monkeypatch.setattr(mixed, "AUTO_MIN_FEATURES", 10)
    monkeypatch.setattr(mixed, "AUTO_MIN_WORK", 1.0)
    assert Ridge(alpha=1e-6, precision="auto").fit(X, y).solver_ == mixed.MIXED_SOLVER
    X, y = _design(rng, 12_000, 40, 1e7, offset=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        model = Ridge(alpha=1e-12, precision="auto").fit(X, y)
    assert "mixed precision fell back to double" in model.solver_


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: (dict(penalize_intercept=True), X, y),
        lambda X, y: ({}, X.astype(np.float32), y),
        lambda X, y: ({}, X[:30], y[:30]),  # p > n: the kernel solver
        lambda X, y: (dict(solver="svd"), X, y),
    ],
    ids=["penalize_intercept", "float32", "wide", "svd"],
)
def test_not_applicable_is_exactly_double(rng, make):
    X, y = _design(rng, 2_000, 40, 10.0)
    options, X, y = make(X, y)
    model = Ridge(alpha=1e-3, precision="mixed", **options).fit(X, y)
    double = Ridge(alpha=1e-3, **options).fit(X, y)
    assert model.solver_ == double.solver_
    assert_allclose(model.coef_, double.coef_, rtol=0, atol=0)


def test_invalid_precision_is_refused(rng):
    X, y = _design(rng, 100, 3, 1.0)
    with pytest.raises(InvalidParameterError, match="precision"):
        Ridge(precision="single").fit(X, y)


def test_model_file_keeps_the_mixed_solver_name(rng, tmp_path):
    from l2reg import io

    X, y = _design(rng, 2_000, 10, 10.0)
    model = Ridge(alpha=1e-3, precision="mixed").fit(X, y)
    io.save(model, tmp_path / "model.l2reg")
    loaded = io.load(tmp_path / "model.l2reg")
    assert loaded.solver_ == mixed.MIXED_SOLVER
    assert loaded.get_params()["precision"] == "mixed"
