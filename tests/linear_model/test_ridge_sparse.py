"""Ridge on sparse X (CSR, CSC): equal to the dense fit, never densified, clear errors."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from tests._tolerances import EXACT_F64

from l2reg import Ridge
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.model_selection import ridge_path
from l2reg.solvers._registry import SPARSE_GRAM_MAX_FEATURES, resolve_solver

INTERCEPTS = [(True, False), (False, False), (True, True)]


def _data(rng, n=250, p=30, k=2):
    X = sp.random(n, p, density=0.15, format="lil", random_state=rng.integers(1 << 31))
    X[:, 4] = 0.0  # an empty column
    X[10, :] = 0.0  # an empty row
    X = X.tocsr()
    X.eliminate_zeros()
    X.data = X.data * 2 - 0.5
    Y = np.asarray(X @ rng.standard_normal((p, k))) + 0.3 * rng.standard_normal((n, k)) - 2
    w = rng.uniform(0, 2, n)
    w[:5] = 0.0
    return X, Y, w


@pytest.mark.parametrize("fit_intercept, penalize_intercept", INTERCEPTS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("weighted", [False, True])
def test_gram_route_equals_dense_fit(rng, fit_intercept, penalize_intercept, fmt, weighted):
    X, Y, w = _data(rng)
    w = w if weighted else None
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    alpha = [0.02, 0.5]
    dense = Ridge(alpha=alpha, solver="svd", **options).fit(X.toarray(), Y, w)
    model = Ridge(alpha=alpha, **options).fit(X.asformat(fmt), Y, w)
    assert model.solver_ == "cholesky"
    scale = np.abs(dense.coef_).max()
    assert_allclose(model.coef_, dense.coef_, rtol=EXACT_F64, atol=EXACT_F64 * scale)
    assert_allclose(model.intercept_, dense.intercept_, rtol=EXACT_F64, atol=EXACT_F64)
    assert_allclose(model.predict(X.asformat(fmt)), dense.predict(X.toarray()), rtol=1e-12)
    assert_allclose(model.objective(X, Y, w), dense.objective(X.toarray(), Y, w), rtol=1e-12)


def test_single_target_and_float32(rng):
    X, Y, _ = _data(rng, k=1)
    dense = Ridge(alpha=0.1).fit(X.toarray(), Y[:, 0])
    model = Ridge(alpha=0.1).fit(X.astype(np.float32), Y[:, 0])
    assert model.coef_.dtype == np.float32 and model.coef_.shape == (X.shape[1],)
    assert_allclose(model.coef_, dense.coef_, rtol=1e-4, atol=1e-5)


def test_large_offset_column_keeps_full_accuracy(rng):
    X, Y, w = _data(rng, k=1)
    X = X.tolil()
    X[:, 7] = (1e8 + rng.standard_normal(X.shape[0]))[:, None]
    X = X.tocsc()
    dense = Ridge(alpha=0.01, solver="svd").fit(X.toarray(), Y[:, 0], w)
    model = Ridge(alpha=0.01).fit(X, Y[:, 0], w)
    assert model.solver_ == "cholesky"
    assert_allclose(model.coef_, dense.coef_, rtol=EXACT_F64, atol=EXACT_F64)
    assert model.intercept_ == pytest.approx(dense.intercept_, rel=EXACT_F64)


def test_auto_rule_by_columns():
    common = dict(owner="Ridge", loss="squared", n_samples=10**6, alpha=[1.0], sparse=True)
    at_limit = resolve_solver("auto", n_features=SPARSE_GRAM_MAX_FEATURES, **common)
    assert at_limit == "cholesky"
    assert resolve_solver("auto", n_features=SPARSE_GRAM_MAX_FEATURES + 1, **common) == "cg"
    # A penalized intercept is one more column of the system.
    penalized = resolve_solver(
        "auto", n_features=SPARSE_GRAM_MAX_FEATURES, penalize_intercept=True, **common
    )
    assert penalized == "cg"
    # Few samples: still the Gram (there is no sparse kernel form).
    assert resolve_solver("auto", n_features=500, **{**common, "n_samples": 20}) == "cholesky"


def test_wide_sparse_takes_cg(rng, monkeypatch):
    import l2reg.solvers._registry as registry

    monkeypatch.setattr(registry, "SPARSE_GRAM_MAX_FEATURES", 10)
    X, Y, w = _data(rng)
    dense = Ridge(alpha=0.1).fit(X.toarray(), Y, w)
    model = Ridge(alpha=0.1, tol=1e-12).fit(X, Y, w)
    assert model.solver_ == "cg"
    assert_allclose(model.coef_, dense.coef_, rtol=1e-8, atol=1e-8 * np.abs(dense.coef_).max())


@pytest.mark.parametrize("solver", ["svd", "kernel"])
def test_dense_only_solvers_refuse_sparse(rng, solver):
    X, Y, _ = _data(rng)
    with pytest.raises(IncompatibleOptionsError, match="sparse X; use one of 'cg', 'cholesky'"):
        Ridge(solver=solver).fit(X, Y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_stored_nan_or_inf_is_named(rng, bad):
    X, Y, _ = _data(rng)
    X = X.tocsr()
    X.data[3] = bad
    row = np.searchsorted(X.indptr, 3, side="right") - 1
    with pytest.raises(InvalidParameterError, match=f"row {row}, column {X.indices[3]}"):
        Ridge().fit(X, Y)
    with pytest.raises(InvalidParameterError, match="NaN or infinity"):
        Ridge().fit(X.tocsc(), Y)


def test_ridge_path_on_sparse_equals_dense(rng):
    X, Y, w = _data(rng)
    sparse_path = ridge_path(X.tocsc(), Y, sample_weight=w, n_alphas=8)
    dense_path = ridge_path(X.toarray(), Y, sample_weight=w, alphas=sparse_path.alphas)
    assert_allclose(sparse_path.coefs, dense_path.coefs, rtol=1e-9, atol=1e-10)
    assert_allclose(sparse_path.intercepts, dense_path.intercepts, rtol=1e-9, atol=1e-10)


def test_ridge_path_refuses_a_gram_too_large(rng, monkeypatch):
    import l2reg.model_selection._sparse_cv as sparse_cv

    monkeypatch.setattr(sparse_cv, "SPARSE_GRAM_MAX_FEATURES", 10)
    X, Y, _ = _data(rng)
    with pytest.raises(IncompatibleOptionsError, match="30 x 30 Gram"):
        ridge_path(X, Y)
