"""The GLM Hessian pass: ``X~^T diag(d) X~`` and the products ``X~^T V`` from one read of X.

Checked against the products of the explicitly augmented ``X~ = [X, 1]``,
through the numba kernel and through its NumPy form, for both layouts of X,
block sizes that leave a partial last block, and sparse X.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import l2reg._mixed_kernels as mixed_kernels
from l2reg.objective.glm_problem import weighted_gram, weighted_gram_and_products


@pytest.fixture(params=["numba", "no-numba"])
def kernel_route(request, monkeypatch):
    if request.param == "no-numba":
        monkeypatch.setattr(mixed_kernels, "kernels", lambda: None)
    return request.param


def _problem(order, n=2_500, p=17, m=2, seed=0):
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n, p)) + 5.0, order=order)
    d = rng.random(n)
    d[::7] = 0.0  # zero curvature rows add nothing
    V = rng.standard_normal((n, m))
    return X, d, V


def _reference(X, d, V, fit_intercept):
    augmented = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
    return augmented.T @ (d[:, None] * augmented), augmented.T @ V


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hessian_and_products_match_the_augmented_design(kernel_route, order, fit_intercept, dtype):
    X, d, V = _problem(order)
    H, P = weighted_gram_and_products(X, d, V, fit_intercept, block_rows=999, dtype=dtype)
    H_ref, P_ref = _reference(X, d, V, fit_intercept)
    # float32 rounds the scaled rows (relative 6e-8 each); the sums are float64.
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(H, H_ref, rtol=0, atol=tolerance * np.abs(H_ref).max())
    np.testing.assert_array_equal(H, H.T)
    # The products never pass through float32.
    np.testing.assert_allclose(P, P_ref, rtol=0, atol=1e-13 * np.abs(P_ref).max())
    np.testing.assert_array_equal(
        weighted_gram(X, d, fit_intercept, block_rows=999, dtype=dtype), H
    )


def test_without_products_returns_none(kernel_route):
    X, d, _ = _problem("C")
    H, P = weighted_gram_and_products(X, d, None, True, dtype=np.float32)
    assert P is None
    assert H.shape == (X.shape[1] + 1, X.shape[1] + 1)


def test_a_one_dimensional_v_is_one_column(kernel_route):
    X, d, V = _problem("C", m=1)
    _, P = weighted_gram_and_products(X, d, V[:, 0], True, dtype=np.float32)
    _, P_ref = _reference(X, d, V, True)
    np.testing.assert_allclose(P, P_ref, rtol=1e-13)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_x_matches_dense(fit_intercept):
    X, d, V = _problem("C")
    X[np.abs(X - 5.0) < 1.0] = 0.0
    H, P = weighted_gram_and_products(sp.csr_array(X), d, V, fit_intercept)
    H_ref, P_ref = _reference(X, d, V, fit_intercept)
    np.testing.assert_allclose(H, H_ref, rtol=1e-12)
    np.testing.assert_allclose(P, P_ref, rtol=1e-12)


def test_non_finite_rows_show_in_the_products(kernel_route):
    X, d, V = _problem("C")
    X[1234, 3] = np.nan
    H, P = weighted_gram_and_products(X, d, V, True, dtype=np.float32)
    assert np.isnan(P[3]).all()
    assert np.isnan(H[3, 3])
