"""The iterative ``cg`` solver: against direct solves, and its certificate recomputed from X."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from tests._tolerances import EXACT_F64, ITERATIVE_RESULT, ITERATIVE_TOL

from l2reg import Ridge
from l2reg.exceptions import ConvergenceWarning, InvalidParameterError
from l2reg.solvers import get_solver, registered_solvers
from l2reg.solvers.krylov import design_operator


def _data(rng, n=300, p=40, k=2, density=0.2):
    X = sp.random(n, p, density=density, format="csr", random_state=rng.integers(1 << 31))
    X.data = X.data * 3 - 1  # values of both signs, nonzero means
    Y = np.asarray(X @ rng.standard_normal((p, k))) + rng.standard_normal((n, k)) + 5
    w = rng.uniform(0, 2, n)
    w[:7] = 0.0
    return X, Y, w


def _independent_gradient(X, Y, w, alpha, coef, intercept, fit_intercept, penalize_intercept):
    """Gradient of J over (coef, intercept) from dense X: a plain formula, no l2reg code."""
    Xd = X.toarray()
    W = w.sum()
    residual = Y - Xd @ coef.T - intercept
    g_coef = -2 * Xd.T @ (w[:, None] * residual) / W + 2 * alpha[None, :] * coef.T
    parts = [g_coef]
    if fit_intercept:
        g_b = -2 * w @ residual / W + (2 * alpha * intercept if penalize_intercept else 0)
        parts.append(g_b[None, :])
    return np.sqrt(sum(np.sum(g**2) for g in parts))


INTERCEPTS = [(True, False), (False, False), (True, True)]
# Every registered iterative solver of the squared loss (the solver matrix of
# the direct ones is tests/linear_model/test_ridge.py).
ITERATIVE = [s for s in registered_solvers("squared") if get_solver(s).capabilities.iterative]


@pytest.mark.parametrize("solver", ITERATIVE)
@pytest.mark.parametrize("fit_intercept, penalize_intercept", INTERCEPTS)
@pytest.mark.parametrize("fmt", ["csr", "csc", "dense"])
def test_matches_direct_solve_and_certificate_is_true(
    rng, solver, fit_intercept, penalize_intercept, fmt
):
    X, Y, w = _data(rng)
    alpha = np.array([0.01, 0.3])
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    exact = Ridge(alpha=alpha, solver="svd", **options).fit(X.toarray(), Y, w)
    data = X.toarray() if fmt == "dense" else X.asformat(fmt)
    model = Ridge(alpha=alpha, solver=solver, tol=ITERATIVE_TOL, **options).fit(data, Y, w)
    assert model.solver_ == solver and model.n_iter_ > 0
    scale = np.abs(exact.coef_).max()
    assert_allclose(model.coef_, exact.coef_, rtol=ITERATIVE_RESULT, atol=ITERATIVE_RESULT * scale)
    assert_allclose(model.intercept_, exact.intercept_, rtol=ITERATIVE_RESULT, atol=1e-12)
    certificate = model.certificate_
    assert certificate.relative_gradient_norm <= ITERATIVE_TOL
    recomputed = _independent_gradient(X, Y, w, alpha, model.coef_, model.intercept_, **options)
    # The reported norm is the true one, up to rounding of the products (~eps * scale).
    scale_of_terms = certificate.gradient_norm / max(certificate.relative_gradient_norm, 1e-300)
    assert abs(certificate.gradient_norm - recomputed) <= 1e-13 * scale_of_terms


def test_large_offset_column(rng):
    X, Y, w = _data(rng, n=400, p=10, k=1)
    X = X.tolil()
    X[:, 4] = (1e8 + rng.standard_normal(400))[:, None]
    X = X.tocsr()
    exact = Ridge(alpha=0.05, solver="svd").fit(X.toarray(), Y[:, 0], w)
    model = Ridge(alpha=0.05, solver="cg", tol=ITERATIVE_TOL).fit(X, Y[:, 0], w)
    assert_allclose(model.coef_, exact.coef_, rtol=ITERATIVE_RESULT, atol=1e-10)
    assert model.intercept_ == pytest.approx(exact.intercept_, rel=1e-12)


def test_design_operator_is_the_weighted_centered_design(rng):
    X, _, w = _data(rng, n=50, p=6)
    dense = X.toarray()
    for fit_intercept, penalize in [(True, False), (False, False), (True, True)]:
        operator = design_operator(X, w, fit_intercept=fit_intercept, penalize_intercept=penalize)
        if not fit_intercept:
            Z = dense
        elif penalize:
            Z = np.hstack([dense, np.ones((50, 1))])
        else:
            Z = dense - w @ dense / w.sum()
        A = np.sqrt(w)[:, None] * Z
        assert_allclose(operator.matmat(np.eye(A.shape[1])), A, atol=1e-14)
        assert_allclose(operator.rmatmat(np.eye(50)), A.T, atol=1e-14)


def test_not_converging_warns_with_the_achieved_norm(rng):
    X, Y, w = _data(rng)
    with pytest.warns(ConvergenceWarning, match="relative gradient norm"):
        model = Ridge(alpha=1e-6, solver="cg", tol=1e-14, solver_options={"max_iter": 2}).fit(
            X, Y, w
        )
    assert model.n_iter_ == 2
    assert model.certificate_.relative_gradient_norm > 1e-14


def test_dense_default_route_is_unchanged(rng):
    X, Y, w = _data(rng)
    Xd = X.toarray()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Ridge(alpha=0.1).fit(Xd, Y, w)
    assert model.solver_ == "cholesky" and model.n_iter_ is None
    assert model.certificate_.relative_gradient_norm < EXACT_F64


def test_unknown_solver_option_raises(rng):
    X, Y, _ = _data(rng)
    with pytest.raises(InvalidParameterError, match="unknown solver_options key 'maxiter'"):
        Ridge(solver="cg", solver_options={"maxiter": 3}).fit(X, Y)
    with pytest.raises(InvalidParameterError, match="max_iter"):
        Ridge(solver="cg", solver_options={"max_iter": 0}).fit(X, Y)


def test_model_file_round_trip(rng, tmp_path):
    import l2reg

    X, Y, w = _data(rng)
    model = Ridge(alpha=0.1, solver="cg", solver_options={"max_iter": 50}).fit(X, Y, w)
    path = tmp_path / "cg.l2reg"
    l2reg.save(model, path)
    loaded = l2reg.load(path)
    assert loaded.get_params() == model.get_params() and loaded.n_iter_ == model.n_iter_
    assert_allclose(loaded.predict(X), model.predict(X), rtol=0, atol=0)
