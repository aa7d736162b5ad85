"""MultiTaskElasticNet: scikit-learn's solution, weights, the duality gap, KKT, limits."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.linear_model import MultiTaskElasticNet as SklearnMultiTaskElasticNet

import l2reg
from l2reg.exceptions import InvalidParameterError
from l2reg.solvers._kernels import reference

TOL = 1e-13  # tight enough that the gap pins the coefficients far below 1e-6


def _data(rng, n=80, p=10, k=3):
    X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)
    X[:, 1] += 0.8 * X[:, 0]  # correlated features
    W = np.zeros((k, p))
    W[:, [0, 3, 5]] = rng.standard_normal((k, 3))
    Y = X @ W.T + 0.5 * rng.standard_normal((n, k)) + rng.uniform(-3, 3, k)
    return X, Y


def _sklearn(X, Y, alpha, l1_ratio, fit_intercept):
    return SklearnMultiTaskElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-15, max_iter=200_000
    ).fit(X, Y)


def _zero_columns(coef):
    return np.flatnonzero(np.all(coef == 0.0, axis=0))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha, l1_ratio", [(0.3, 0.5), (0.1, 1.0), (0.6, 0.9)])
def test_equals_sklearn(rng, fit_intercept, alpha, l1_ratio):
    X, Y = _data(rng)
    model = l2reg.MultiTaskElasticNet(
        alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=TOL
    ).fit(X, Y)
    reference_model = _sklearn(X, Y, alpha, l1_ratio, fit_intercept)
    assert model.coef_.shape == (3, 10) and model.intercept_.shape == (3,)
    assert_allclose(model.coef_, reference_model.coef_, atol=1e-6)
    assert_allclose(model.intercept_, reference_model.intercept_, atol=1e-6)
    assert np.array_equal(_zero_columns(model.coef_), _zero_columns(reference_model.coef_))
    assert 0 < _zero_columns(model.coef_).size < X.shape[1]  # the support is tested
    assert_allclose(model.predict(X), X @ model.coef_.T + model.intercept_)


def test_sparse_X_equals_dense(rng):
    X, Y = _data(rng)
    X[np.abs(X) < 1.0] = 0.0
    dense = l2reg.MultiTaskElasticNet(0.2, tol=TOL).fit(X, Y)
    sparse = l2reg.MultiTaskElasticNet(0.2, tol=TOL).fit(sp.csr_matrix(X), Y)
    assert_allclose(sparse.coef_, dense.coef_, atol=1e-8)
    assert_allclose(sparse.intercept_, dense.intercept_, atol=1e-8)


def test_weights_equal_repeated_rows_and_rescaled_sklearn(rng):
    X, Y = _data(rng, n=50)
    counts = rng.integers(0, 4, X.shape[0])
    weighted = l2reg.MultiTaskElasticNet(0.2, l1_ratio=0.7, tol=TOL).fit(
        X, Y, sample_weight=counts.astype(float)
    )
    rows = np.repeat(np.arange(X.shape[0]), counts)
    repeated = l2reg.MultiTaskElasticNet(0.2, l1_ratio=0.7, tol=TOL).fit(X[rows], Y[rows])
    assert_allclose(weighted.coef_, repeated.coef_, atol=1e-8)
    assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-8)
    # Only the weights' ratios matter: scaled by 1000, the same fit.
    scaled = l2reg.MultiTaskElasticNet(0.2, l1_ratio=0.7, tol=TOL).fit(
        X, Y, sample_weight=1000.0 * counts
    )
    assert_allclose(scaled.coef_, weighted.coef_, atol=1e-8)
    # scikit-learn on the repeated rows (its own weights are not supported here).
    reference_model = _sklearn(X[rows], Y[rows], 0.2, 0.7, True)
    assert_allclose(weighted.coef_, reference_model.coef_, atol=1e-6)
    assert np.array_equal(_zero_columns(weighted.coef_), _zero_columns(reference_model.coef_))


def _normalized(X, Y, w, fit_intercept):
    v = w / w.sum()
    if fit_intercept:
        X, Y = X - v @ X, Y - v @ Y
    return X, Y, v


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gap_below_tol_and_kkt(rng, fit_intercept):
    X, Y = _data(rng)
    w = rng.uniform(0.2, 3.0, X.shape[0])
    alpha, l1_ratio, tol = 0.25, 0.6, 1e-10
    model = l2reg.MultiTaskElasticNet(
        alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=tol
    ).fit(X, Y, sample_weight=w)
    Xc, Yc, v = _normalized(X, Y, w, fit_intercept)
    yy = float(np.sum(v[:, None] * Yc**2))
    gap = model.certificate_.duality_gap
    assert 0 <= gap <= tol * yy
    # The gap bounds the objective's distance to the optimum: recompute J here.
    W = model.coef_
    R = Y - X @ W.T - model.intercept_
    primal = 0.5 * np.sum(v[:, None] * R**2) + alpha * (
        l1_ratio * np.sum(np.linalg.norm(W, axis=0)) + 0.5 * (1 - l1_ratio) * np.sum(W**2)
    )
    better = l2reg.MultiTaskElasticNet(
        alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-15
    ).fit(X, Y, sample_weight=w)
    R_best = Y - X @ better.coef_.T - better.intercept_
    best = 0.5 * np.sum(v[:, None] * R_best**2) + alpha * (
        l1_ratio * np.sum(np.linalg.norm(better.coef_, axis=0))
        + 0.5 * (1 - l1_ratio) * np.sum(better.coef_**2)
    )
    assert best - 1e-14 <= primal <= best + gap + 1e-14
    # KKT per feature j: g_j = X_j^T V R - l2 W_j equals l1 W_j / ||W_j|| on the
    # support and has norm <= l1 off it.  Checked on the tight fit.
    R_c = Yc - Xc @ better.coef_.T
    G = (Xc.T @ (v[:, None] * R_c)).T - alpha * (1 - l1_ratio) * better.coef_  # (k, p)
    l1 = alpha * l1_ratio
    norms = np.linalg.norm(better.coef_, axis=0)
    support = norms > 0
    assert support.any() and not support.all()
    assert_allclose(G[:, support], l1 * better.coef_[:, support] / norms[support], atol=1e-7)
    assert np.all(np.linalg.norm(G[:, ~support], axis=0) <= l1 * (1 + 1e-9))


def test_alpha_max_gives_zeros(rng):
    X, Y = _data(rng)
    w = rng.uniform(0.2, 3.0, X.shape[0])
    l1_ratio = 0.4
    Xc, Yc, v = _normalized(X, Y, w, True)
    alpha_max = np.max(np.linalg.norm(Xc.T @ (w[:, None] * Yc), axis=1)) / (w.sum() * l1_ratio)
    at = l2reg.MultiTaskElasticNet(alpha_max * (1 + 1e-10), l1_ratio=l1_ratio).fit(
        X, Y, sample_weight=w
    )
    assert np.all(at.coef_ == 0.0)
    assert_allclose(at.intercept_, v @ Y)
    below = l2reg.MultiTaskElasticNet(alpha_max * 0.99, l1_ratio=l1_ratio).fit(
        X, Y, sample_weight=w
    )
    assert np.any(below.coef_ != 0.0)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l1_ratio_zero_equals_ridge(rng, fit_intercept):
    X, Y = _data(rng)
    w = rng.uniform(0.2, 3.0, X.shape[0])
    model = l2reg.MultiTaskElasticNet(
        0.3, l1_ratio=0.0, fit_intercept=fit_intercept, tol=1e-22
    ).fit(X, Y, sample_weight=w)
    # With l1 = 0 the gap is the gradient's squared norm / (2 l2): no cancellation.
    assert model.certificate_.duality_gap <= 1e-22 * np.sum(np.var(Y, axis=0)) * 10
    for t in range(Y.shape[1]):
        ridge = l2reg.Ridge(0.3, fit_intercept=fit_intercept).fit(X, Y[:, t], sample_weight=w)
        assert_allclose(model.coef_[t], ridge.coef_, rtol=0, atol=1e-8)
        assert_allclose(model.intercept_[t], ridge.intercept_, rtol=0, atol=1e-8)


def test_warm_start_resumes(rng):
    X, Y = _data(rng)
    model = l2reg.MultiTaskElasticNet(0.2, tol=TOL, warm_start=True).fit(X, Y)
    first = model.coef_.copy()
    model.fit(X, Y)
    assert model.n_iter_ == 0  # the previous solution already meets the gap
    assert_allclose(model.coef_, first)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"l1_ratio": 1.5}, "l1_ratio"),
        ({"l1_ratio": -0.1}, "l1_ratio"),
        ({"alpha": -1.0}, "alpha"),
        ({"alpha": 0.0}, "alpha"),
        ({"tol": 0.0}, "tol"),
    ],
)
def test_bad_parameters(rng, params, match):
    X, Y = _data(rng, n=10, p=6)
    with pytest.raises(InvalidParameterError, match=match):
        l2reg.MultiTaskElasticNet(**params).fit(X, Y)


def test_one_dimensional_y_is_an_error(rng):
    X, Y = _data(rng, n=10, p=6)
    with pytest.raises(ValueError, match="l2reg.ElasticNet"):
        l2reg.MultiTaskElasticNet().fit(X, Y[:, 0])


def test_nan_is_an_error(rng):
    X, Y = _data(rng, n=10, p=6)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        l2reg.MultiTaskElasticNet().fit(X, Y)


def test_kernel_equals_twin(rng):
    compiled = pytest.importorskip("l2reg.solvers._kernels.compiled")
    X, Y = _data(rng, n=40, p=12, k=3)
    v = rng.uniform(0.2, 2.0, X.shape[0])
    v /= v.sum()
    Xc, Yc = X - v @ X, Y - v @ Y
    G = np.ascontiguousarray(Xc.T @ (v[:, None] * Xc))
    B0 = rng.standard_normal((12, 3)) * (rng.uniform(size=(12, 1)) < 0.5)
    Z0 = Xc.T @ (v[:, None] * Yc) - G @ B0
    results = []
    for module in (compiled, reference):
        B, Z = B0.copy(), Z0.copy()
        change = module.group_cd_epoch_gram(G, Z, B, 0.3, 0.05)
        results.append((B, Z, change))
    (B1, Z1, c1), (B2, Z2, c2) = results
    assert_allclose(B1, B2, rtol=1e-12, atol=1e-14)
    assert_allclose(Z1, Z2, rtol=1e-12, atol=1e-13)
    assert_allclose(c1, c2, rtol=1e-12)
    assert np.any(np.all(B1 == 0.0, axis=1)) and np.any(B1 != B0)  # rows zeroed and moved
    # Z stays the exact correlation Q - G B.
    assert_allclose(Z1, Xc.T @ (v[:, None] * Yc) - G @ B1, atol=1e-12)


def test_wide_X_equals_sklearn(rng):
    # p > n runs the same Gram mode (documented): it must still reach scikit-learn's solution.
    X, Y = _data(rng, n=20, p=40)
    model = l2reg.MultiTaskElasticNet(0.2, l1_ratio=0.8, tol=TOL).fit(X, Y)
    reference_model = _sklearn(X, Y, 0.2, 0.8, True)
    assert_allclose(model.coef_, reference_model.coef_, atol=1e-6)
    assert np.array_equal(_zero_columns(model.coef_), _zero_columns(reference_model.coef_))
    assert 0 < _zero_columns(model.coef_).size < X.shape[1]
