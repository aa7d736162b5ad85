"""RidgeCV on sparse X: every criterion equals the dense one; wide sparse X takes k-fold by cg."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from l2reg import RidgeCV
from l2reg.exceptions import IncompatibleOptionsError


def _data(rng, n=200, p=25, k=2):
    X = sp.random(n, p, density=0.2, format="csr", random_state=rng.integers(1 << 31))
    Y = np.asarray(X @ rng.standard_normal((p, k))) + 0.5 * rng.standard_normal((n, k)) + 1
    w = rng.uniform(0, 2, n)
    return X, Y, w


@pytest.mark.parametrize(
    "cv, scoring", [(None, None), (None, "r2"), ("gcv", None), ("evidence", None), (4, None)]
)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_equals_dense(rng, cv, scoring, fmt):
    X, Y, w = _data(rng)
    options = dict(cv=cv, scoring=scoring, alpha_per_target=True)
    dense = RidgeCV(**options).fit(X.toarray(), Y, w)
    model = RidgeCV(**options).fit(X.asformat(fmt), Y, w)
    assert_allclose(model.alpha_, dense.alpha_, rtol=1e-12)
    assert_allclose(model.cv_results_["mean_error"], dense.cv_results_["mean_error"], rtol=1e-9)
    assert_allclose(model.coef_, dense.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(model.intercept_, dense.intercept_, rtol=1e-10, atol=1e-12)


def test_loo_with_a_large_offset_column(rng):
    X, Y, w = _data(rng, k=1)
    X = X.tolil()
    X[:, 3] = (1e8 + rng.standard_normal(X.shape[0]))[:, None]
    X = X.tocsr()
    alphas = np.logspace(-4, 0, 9)
    dense = RidgeCV(alphas=alphas).fit(X.toarray(), Y[:, 0], w)
    model = RidgeCV(alphas=alphas).fit(X, Y[:, 0], w)
    assert model.alpha_ == dense.alpha_
    assert_allclose(model.cv_results_["mean_error"], dense.cv_results_["mean_error"], rtol=1e-8)


@pytest.fixture
def narrow_gram(monkeypatch):
    """Make 25 columns 'wide' for sparse X (the limit is 3,000; the route is what is tested)."""
    import l2reg.model_selection._sparse_cv as sparse_cv
    import l2reg.solvers._registry as registry

    monkeypatch.setattr(registry, "SPARSE_GRAM_MAX_FEATURES", 10)
    monkeypatch.setattr(sparse_cv, "SPARSE_GRAM_MAX_FEATURES", 10)


@pytest.mark.parametrize("cv", [None, "gcv", "evidence"])
def test_wide_sparse_refuses_spectral_criteria(rng, narrow_gram, cv):
    X, Y, _ = _data(rng)
    with pytest.raises(IncompatibleOptionsError, match="Use k-fold"):
        RidgeCV(cv=cv).fit(X, Y)


def test_wide_sparse_kfold_by_cg_equals_dense(rng, narrow_gram):
    X, Y, w = _data(rng)
    alphas = [1e-3, 1e-2, 1e-1, 1.0]
    dense = RidgeCV(alphas=alphas, cv=4).fit(X.toarray(), Y, w)
    model = RidgeCV(alphas=alphas, cv=4).fit(X, Y, w)
    assert model.solver_ == "cg" and model.alpha_ == dense.alpha_
    # Each fold's fit stops at cg's default tol (1e-8 relative gradient norm).
    assert_allclose(model.cv_results_["mean_error"], dense.cv_results_["mean_error"], rtol=1e-6)
    assert_allclose(model.coef_, dense.coef_, rtol=1e-6, atol=1e-6 * np.abs(dense.coef_).max())
    assert np.all(np.isnan(model.cv_results_["effective_df"]))
    default = RidgeCV(cv=3).fit(X, Y[:, 0])
    assert default.cv_results_["alphas"].size == 30
