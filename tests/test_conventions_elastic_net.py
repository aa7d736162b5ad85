"""Elastic-net conversions checked against scikit-learn, glum and glmnet."""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import ElasticNet as SklearnElasticNet

from l2reg import ElasticNet, conventions

REFERENCE = Path(__file__).parent / "reference" / "glmnet_ridge.json"
#: Both sides stop at a duality gap <= 1e-15 * var(y) (scikit-learn) or
#: glum's gradient_tol 1e-12: coefficients agree to ~1e-7.
ITERATIVE_ATOL = 1e-6
#: glmnet's stored ridge fits report ~1e-9 relative (thresh=1e-22 in its own scaling).
GLMNET_RTOL = 1e-7


def _data(rng, n=60, p=8):
    X = rng.standard_normal((n, p)) + np.linspace(-1, 1, p)
    y = X[:, :3] @ [2.0, -1.0, 0.5] + 0.4 * rng.standard_normal(n) + 3.0
    return X, y


def test_sklearn_takes_the_same_numbers_with_sample_weights(rng):
    X, y = _data(rng)
    w = rng.uniform(0.1, 4.0, y.size)
    ours = ElasticNet(alpha=0.08, l1_ratio=0.3, tol=1e-15).fit(X, y, sample_weight=w)
    params = conventions.to_sklearn_elastic_net(0.08, 0.3)
    theirs = SklearnElasticNet(**params, tol=1e-15, max_iter=10**6).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, theirs.coef_, atol=ITERATIVE_ATOL)
    assert_allclose(ours.intercept_, theirs.intercept_, atol=ITERATIVE_ATOL)
    assert conventions.from_sklearn_elastic_net(**params) == {"alpha": 0.08, "l1_ratio": 0.3}


def test_glum_takes_the_same_numbers_with_weights_and_factors(rng):
    glum = pytest.importorskip("glum")
    X, y = _data(rng)
    w = rng.uniform(0.1, 4.0, y.size)
    pf = np.array([1.0, 0.5, 2.0, 0.0, 1.0, 1.5, 1.0, 0.8])
    ours = ElasticNet(alpha=0.05, l1_ratio=0.6, penalty_factor=pf, tol=1e-15)
    ours.fit(X, y, sample_weight=w)
    params = conventions.to_glum_elastic_net(0.05, 0.6, penalty_factor=pf)
    theirs = glum.GeneralizedLinearRegressor(
        family="normal", gradient_tol=1e-12, max_iter=10_000, **params
    ).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, theirs.coef_, atol=ITERATIVE_ATOL)
    assert_allclose(ours.intercept_, theirs.intercept_, atol=ITERATIVE_ATOL)
    assert conventions.from_glum_elastic_net(0.05, 0.6) == {"alpha": 0.05, "l1_ratio": 0.6}


def test_skglm_takes_the_same_numbers_with_sample_weights(rng):
    """skglm's ElasticNet is its general estimator with the Quadratic datafit; the weighted
    datafit is the stricter check of the scaling (one case: skglm compiles numba jitclasses
    in every process, ~15 s)."""
    skglm = pytest.importorskip("skglm")
    from skglm.datafits import WeightedQuadratic
    from skglm.penalties import L1_plus_L2

    X, y = _data(rng)
    w = rng.uniform(0.1, 4.0, y.size)
    ours = ElasticNet(alpha=0.05, l1_ratio=0.4, tol=1e-15).fit(X, y, sample_weight=w)
    params = conventions.to_skglm_elastic_net(0.05, 0.4)
    theirs = skglm.GeneralizedLinearEstimator(
        WeightedQuadratic(w), L1_plus_L2(**params), skglm.solvers.AndersonCD(tol=1e-14)
    ).fit(X, y)
    assert_allclose(ours.coef_, theirs.coef_, atol=ITERATIVE_ATOL)
    assert_allclose(ours.intercept_, theirs.intercept_, atol=ITERATIVE_ATOL)
    assert conventions.from_skglm_elastic_net(**params) == {"alpha": 0.05, "l1_ratio": 0.4}


def _orthogonal_design(rng, n, p, w):
    """X whose weighted-centered columns are V-orthogonal with squared norms d_j."""
    v = w / w.sum()
    Z = rng.standard_normal((n, p))
    Z -= v @ Z
    Q, _ = np.linalg.qr(np.sqrt(v)[:, None] * Z)  # plain-orthonormal, orthogonal to sqrt(v)
    d = np.linspace(0.5, 2.0, p)
    Xc = Q / np.sqrt(v)[:, None] * np.sqrt(d)  # X_c^T V X_c = diag(d), V-mean zero
    return Xc, d


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("glmnet_alpha", [1.0, 0.5, 0.0])
def test_glmnet_against_its_algorithm_in_closed_form(rng, fit_intercept, glmnet_alpha):
    """glmnet scales y by s, fits lambda / s, rescales; on an orthogonal design that is a
    soft-threshold formula, compared here with l2reg's fit of the converted parameters."""
    n, p = 50, 6
    w = rng.uniform(0.3, 2.0, n)
    v = w / w.sum()
    Xc, d = _orthogonal_design(rng, n, p, w)
    # With an intercept, shifted columns (centering removes the shift); without one,
    # the V-mean-zero columns themselves, so that the uncentered Gram is diag(d) too.
    X = Xc + rng.uniform(-1, 1, p) if fit_intercept else Xc
    y = Xc @ rng.normal(0, 2, p) + rng.standard_normal(n) + (4.0 if fit_intercept else 0.0)
    y_mean = v @ y if fit_intercept else 0.0
    s = np.sqrt(v @ (y - y_mean) ** 2)  # glmnet's scale: sd, or the root mean square
    c = Xc.T @ (v * (y - y_mean)) / s  # x_j^T V (y / s)
    glmnet_lambda = 0.3
    lam = glmnet_lambda / s
    soft = np.sign(c) * np.maximum(np.abs(c) - lam * glmnet_alpha, 0)
    expected = s * soft / (d + lam * (1 - glmnet_alpha))
    assert 0 < np.count_nonzero(expected)

    params = conventions.from_glmnet_elastic_net(
        glmnet_lambda, glmnet_alpha, y, sample_weight=w, fit_intercept=fit_intercept
    )
    # tol 1e-15: the lasso's gap floor is ~eps ||theta||_1 ||X^T V y||_inf (rounding of z).
    model = ElasticNet(**params, fit_intercept=fit_intercept, tol=1e-15).fit(X, y, sample_weight=w)
    assert_allclose(model.coef_, expected, rtol=1e-9, atol=1e-12)
    back = conventions.to_glmnet_elastic_net(
        params["alpha"], params["l1_ratio"], y, sample_weight=w, fit_intercept=fit_intercept
    )
    assert_allclose([back["lambda"], back["alpha"]], [glmnet_lambda, glmnet_alpha], rtol=1e-13)


def _glmnet_ridge_cases():
    data = json.loads(REFERENCE.read_text())
    return [pytest.param(case, id=case["name"]) for case in data["cases"]]


@pytest.mark.parametrize("case", _glmnet_ridge_cases())
def test_glmnet_conversion_reproduces_stored_glmnet_ridge_fits(case):
    """glmnet's own numbers (alpha=0) through the elastic-net converter."""
    X, y, w = np.array(case["X"]), np.array(case["y"]), np.array(case["sample_weight"])
    params = conventions.from_glmnet_elastic_net(case["lambda"], 0.0, y, sample_weight=w)
    assert params["alpha"] == pytest.approx(
        conventions.from_glmnet_lambda(case["lambda"], y, sample_weight=w), rel=1e-15
    )
    model = ElasticNet(**params, fit_intercept=case["fit_intercept"], tol=1e-20)
    model.fit(X, y, sample_weight=w)
    assert_allclose(model.coef_, case["coef"], rtol=GLMNET_RTOL)
    assert_allclose(model.intercept_, case["intercept"], rtol=GLMNET_RTOL)


@pytest.mark.parametrize(
    "call",
    [
        lambda: conventions.to_sklearn_elastic_net(-1.0, 0.5),
        lambda: conventions.to_sklearn_elastic_net(1.0, 1.5),
        lambda: conventions.to_skglm_elastic_net(1.0, -0.5),
        lambda: conventions.to_glum_elastic_net(1.0, 0.5, penalty_factor=[1.0, -1.0]),
        lambda: conventions.to_glmnet_elastic_net(1.0, 0.5, [2.0, 2.0, 2.0]),
        lambda: conventions.from_glmnet_elastic_net(1.0, -0.1, [1.0, 2.0]),
    ],
)
def test_elastic_net_converters_reject_bad_input(call):
    with pytest.raises(ValueError):
        call()
