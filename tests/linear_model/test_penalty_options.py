"""Ridge with generalized L2 penalties: standardize, penalty_factor, penalty_matrix, prior_mean.

Each option is checked against the 50-digit solve of its full normal equations
(``tests/_oracles.py``), which shares no algebra with the library's centered,
equilibrated Cholesky; the special cases against independent identities.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.linear_model import Ridge as SkRidge
from sklearn.preprocessing import StandardScaler
from tests._oracles import penalized_ridge_reference
from tests._tolerances import CERTIFICATE_F64, CROSS_LIBRARY, EXACT_F64

from l2reg import IncompatibleOptionsError, InvalidParameterError, Ridge
from l2reg.penalties import difference_matrix


def _data(seed=0, n=30, p=6, scales=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + rng.normal(size=p)
    if scales is not None:
        X = X * np.asarray(scales)
    y = X @ rng.normal(size=p) + rng.normal(size=n) + 3.0
    w = rng.uniform(0.2, 2.0, size=n)
    return X, y, w


def _weighted_sd(X, w, centered=True):
    mean = np.average(X, axis=0, weights=w) if centered else 0.0
    return np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_penalty_factor_matches_reference(fit_intercept, weighted):
    X, y, w = _data()
    w = w if weighted else None
    factors = np.array([1.0, 0.0, 2.5, 0.3, 1.0, 4.0])
    model = Ridge(alpha=0.7, fit_intercept=fit_intercept, penalty_factor=factors)
    model.fit(X, y, sample_weight=w)
    coef, intercept = penalized_ridge_reference(
        X, y, 0.7, np.diag(factors), sample_weight=w, fit_intercept=fit_intercept
    )
    assert_allclose(model.coef_, coef, rtol=EXACT_F64)
    assert_allclose(model.intercept_, intercept, rtol=EXACT_F64, atol=1e-12)
    assert model.solver_ == "cholesky"
    assert model.certificate_.relative_gradient_norm < CERTIFICATE_F64


def test_zero_factor_equals_unpenalized_column_by_frisch_waugh():
    """A column with factor 0 is unpenalized: profiling it out (Frisch-Waugh-Lovell)
    and running plain ridge on the residualized data gives the other coefficients."""
    X, y, _ = _data(1)
    free = 2
    factors = np.ones(X.shape[1])
    factors[free] = 0.0
    model = Ridge(alpha=0.4, penalty_factor=factors).fit(X, y)
    Z = np.column_stack([np.ones(len(y)), X[:, free]])
    projector = np.eye(len(y)) - Z @ np.linalg.pinv(Z)
    others = np.delete(np.arange(X.shape[1]), free)
    ridge = Ridge(alpha=0.4, fit_intercept=False).fit(projector @ X[:, others], projector @ y)
    assert_allclose(model.coef_[others], ridge.coef_, rtol=EXACT_F64)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standardize_matches_reference(fit_intercept):
    X, y, w = _data(2, scales=[1e-3, 1.0, 50.0, 1e3, 0.2, 7.0])
    model = Ridge(alpha=0.05, standardize=True, fit_intercept=fit_intercept).fit(X, y, w)
    sd = _weighted_sd(X, w, centered=fit_intercept)
    coef, intercept = penalized_ridge_reference(
        X, y, 0.05, np.diag(sd**2), sample_weight=w, fit_intercept=fit_intercept
    )
    assert_allclose(model.coef_, coef, rtol=EXACT_F64)
    assert_allclose(model.intercept_, intercept, rtol=EXACT_F64, atol=1e-12)


def test_standardize_equals_scaler_pipeline_mapped_back():
    """scikit-learn's StandardScaler (weighted, 1/n) + Ridge(alpha * sum(w)), with the
    coefficients divided by the scales: the same model on the original scale."""
    X, y, w = _data(3, scales=[1e-2, 1.0, 30.0, 1e2, 0.5, 3.0])
    alpha = 0.02
    model = Ridge(alpha=alpha, standardize=True).fit(X, y, w)
    scaler = StandardScaler().fit(X, sample_weight=w)
    sk = SkRidge(alpha=alpha * w.sum(), solver="cholesky", tol=1e-12)
    sk.fit(scaler.transform(X), y, sample_weight=w)
    coef = sk.coef_ / scaler.scale_
    assert_allclose(model.coef_, coef, rtol=CROSS_LIBRARY)
    assert_allclose(model.intercept_, sk.intercept_ - coef @ scaler.mean_, rtol=CROSS_LIBRARY)


def test_standardize_is_scale_equivariant():
    """Rescaling a column rescales its coefficient inversely and changes nothing else."""
    X, y, _ = _data(4)
    scaled = X * np.array([1e4, 1.0, 1e-3, 1.0, 1.0, 2.0])
    a = Ridge(alpha=0.3, standardize=True).fit(X, y)
    b = Ridge(alpha=0.3, standardize=True).fit(scaled, y)
    assert_allclose(b.coef_ * np.array([1e4, 1.0, 1e-3, 1.0, 1.0, 2.0]), a.coef_, rtol=1e-9)
    assert_allclose(b.predict(scaled), a.predict(X), rtol=1e-10)


def test_standardize_constant_column_stays_at_zero():
    X, y, _ = _data(5)
    X[:, 1] = 4.0
    model = Ridge(alpha=0.1, standardize=True).fit(X, y)
    assert model.coef_[1] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_difference_penalty_matches_reference(order, weighted):
    X, y, w = _data(6, n=25, p=8)
    w = w if weighted else None
    gamma = difference_matrix(8, order)
    model = Ridge(alpha=2.0, penalty_matrix=gamma).fit(X, y, sample_weight=w)
    coef, intercept = penalized_ridge_reference(X, y, 2.0, gamma.T @ gamma, sample_weight=w)
    assert_allclose(model.coef_, coef, rtol=EXACT_F64)
    assert_allclose(model.intercept_, intercept, rtol=EXACT_F64)
    assert model.certificate_.relative_gradient_norm < CERTIFICATE_F64


def test_sparse_and_invertible_penalty_matrix():
    X, y, w = _data(7)
    rng = np.random.default_rng(7)
    gamma = np.eye(6) + 0.3 * rng.normal(size=(6, 6))
    dense = Ridge(alpha=0.5, penalty_matrix=gamma).fit(X, y, w)
    coef, intercept = penalized_ridge_reference(X, y, 0.5, gamma.T @ gamma, sample_weight=w)
    assert_allclose(dense.coef_, coef, rtol=EXACT_F64)
    assert_allclose(dense.intercept_, intercept, rtol=EXACT_F64)
    sparse = Ridge(alpha=0.5, penalty_matrix=sp.csr_matrix(gamma)).fit(X, y, w)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-13)


def test_identity_penalty_matrix_is_ridge():
    X, y, w = _data(8)
    plain = Ridge(alpha=0.3).fit(X, y, w)
    gamma = Ridge(alpha=0.3, penalty_matrix=np.eye(6)).fit(X, y, w)
    factors = Ridge(alpha=0.3, penalty_factor=np.ones(6)).fit(X, y, w)
    assert_allclose(gamma.coef_, plain.coef_, rtol=1e-12)
    assert_allclose(factors.coef_, plain.coef_, rtol=1e-12)
    assert_allclose(gamma.intercept_, plain.intercept_, rtol=1e-12)


def test_prior_mean_is_ridge_on_shifted_target():
    X, y, w = _data(9)
    theta0 = np.linspace(-1.0, 2.0, 6)
    model = Ridge(alpha=0.8, prior_mean=theta0).fit(X, y, w)
    shifted = Ridge(alpha=0.8).fit(X, y - X @ theta0, w)
    assert_allclose(model.coef_, shifted.coef_ + theta0, rtol=1e-12)
    assert_allclose(model.intercept_, shifted.intercept_, rtol=1e-12)
    # Strong shrinkage pulls the coefficients to theta0, not to 0.
    strong = Ridge(alpha=1e8, prior_mean=theta0).fit(X, y, w)
    assert_allclose(strong.coef_, theta0, atol=1e-6)


@pytest.mark.parametrize("penalize_intercept", [False, True])
def test_everything_together_matches_reference(penalize_intercept):
    X, y, w = _data(10, scales=[1.0, 10.0, 0.1, 1.0, 3.0, 1.0])
    gamma = difference_matrix(6, 2)
    theta0 = np.array([0.5, -0.2, 0.0, 1.0, 0.3, 0.1])
    model = Ridge(
        alpha=0.6,
        standardize=True,
        penalty_matrix=gamma,
        prior_mean=theta0,
        penalize_intercept=penalize_intercept,
    ).fit(X, y, w)
    sd = _weighted_sd(X, w)
    P = (gamma * sd).T @ (gamma * sd)
    coef, intercept = penalized_ridge_reference(
        X, y, 0.6, P, prior_mean=theta0, sample_weight=w, penalize_intercept=penalize_intercept
    )
    assert_allclose(model.coef_, coef, rtol=EXACT_F64)
    assert_allclose(model.intercept_, intercept, rtol=EXACT_F64)
    objective = model.objective(X, y, w)
    shifted = model.coef_ + 1e-3
    assert objective < (
        np.average((y - X @ shifted - model.intercept_) ** 2, weights=w)
        + 0.6 * (shifted - theta0) @ P @ (shifted - theta0)
        + (0.6 * model.intercept_**2 if penalize_intercept else 0.0)
    )


def test_multi_target_prior_mean():
    X, y, w = _data(11)
    Y = np.column_stack([y, -2 * y + X[:, 0]])
    theta0 = np.array([np.ones(6), np.arange(6.0)])
    model = Ridge(alpha=[0.3, 1.5], prior_mean=theta0, penalty_factor=np.arange(6.0) + 0.5)
    model.fit(X, Y, w)
    for t, alpha in enumerate([0.3, 1.5]):
        coef, intercept = penalized_ridge_reference(
            X, Y[:, t], alpha, np.diag(np.arange(6.0) + 0.5), prior_mean=theta0[t], sample_weight=w
        )
        assert_allclose(model.coef_[t], coef, rtol=EXACT_F64)
        assert_allclose(model.intercept_[t], intercept, rtol=EXACT_F64)


def test_float32_input():
    X, y, _ = _data(12)
    model = Ridge(alpha=0.5, standardize=True).fit(X.astype(np.float32), y.astype(np.float32))
    reference = Ridge(alpha=0.5, standardize=True).fit(X, y)
    assert model.coef_.dtype == np.float32
    assert_allclose(model.coef_, reference.coef_, rtol=1e-4)


def test_difference_matrix():
    assert_allclose(difference_matrix(4, 1), [[-1, 1, 0, 0], [0, -1, 1, 0], [0, 0, -1, 1]])
    assert_allclose(difference_matrix(4, 2), [[1, -2, 1, 0], [0, 1, -2, 1]])
    assert sp.issparse(difference_matrix(5, 3, sparse=True))
    assert_allclose(difference_matrix(6, 2) @ (2.0 * np.arange(6) + 1.0), 0.0, atol=1e-14)
    for bad in [(3, 3), (5, 0), (5, 1.5)]:
        with pytest.raises(ValueError, match="difference_matrix"):
            difference_matrix(*bad)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"penalty_factor": np.ones(5)}, r"penalty_factor.*shape \(6,\)"),
        ({"penalty_factor": [1, 1, -1, 1, 1, 1]}, "must be >= 0"),
        ({"penalty_matrix": np.ones((3, 5))}, r"penalty_matrix.*\(k, 6\)"),
        ({"penalty_matrix": np.zeros((3, 6))}, "all zeros"),
        ({"prior_mean": np.ones(5)}, r"prior_mean.*shape \(6,\)"),
        ({"prior_mean": np.ones((2, 6))}, r"prior_mean.*shape \(6,\)"),
        ({"standardize": "yes"}, "standardize"),
    ],
)
def test_bad_input(params, message):
    X, y, _ = _data()
    with pytest.raises(InvalidParameterError, match=message):
        Ridge(**params).fit(X, y)


def test_factor_and_matrix_together_are_refused():
    X, y, _ = _data()
    with pytest.raises(IncompatibleOptionsError, match="cannot be combined"):
        Ridge(penalty_factor=np.ones(6), penalty_matrix=np.eye(6)).fit(X, y)


def test_explicit_solver_without_the_penalty_is_refused():
    X, y, _ = _data()
    with pytest.raises(IncompatibleOptionsError, match="does not support the generalized_l2"):
        Ridge(solver="svd", standardize=True).fit(X, y)


def test_null_spaces_that_meet_are_an_error():
    """Compositional data (rows summing to 1) and a first-difference penalty: adding a
    constant to every coefficient changes neither the fit nor the penalty."""
    rng = np.random.default_rng(13)
    X = rng.dirichlet(np.ones(5), size=40)
    y = rng.normal(size=40)
    with pytest.raises(InvalidParameterError, match="no unique solution.*null space"):
        Ridge(alpha=1.0, penalty_matrix=difference_matrix(5, 1)).fit(X, y)
    X2, y2, _ = _data()
    X2[:, 3] = 2.0  # constant column, unpenalized, with an intercept
    with pytest.raises(InvalidParameterError, match="no unique solution.*penalty_factor 0"):
        Ridge(alpha=1.0, penalty_factor=[1, 1, 1, 0, 1, 1]).fit(X2, y2)


def test_alpha_zero_ignores_the_penalty():
    X, y, _ = _data()
    model = Ridge(alpha=0.0, standardize=True, prior_mean=np.ones(6)).fit(X, y)
    assert_allclose(model.coef_, Ridge(alpha=0.0).fit(X, y).coef_, rtol=1e-12)


def test_model_file_round_trip(tmp_path):
    from l2reg import load, save

    X, y, w = _data(14)
    model = Ridge(
        alpha=0.2, standardize=True, penalty_matrix=difference_matrix(6, 2), prior_mean=np.ones(6)
    ).fit(X, y, w)
    loaded = load(save(model, tmp_path / "m.l2reg"))
    assert_allclose(loaded.penalty_matrix, model.penalty_matrix)
    assert_allclose(loaded.predict(X), model.predict(X))
    assert_allclose(loaded.fit(X, y, w).coef_, model.coef_)
    sparse = Ridge(penalty_matrix=difference_matrix(6, 2, sparse=True)).fit(X, y)
    with pytest.raises(TypeError, match="penalty_matrix"):
        save(sparse, tmp_path / "s.l2reg")


def test_standardize_is_glmnet_standardize_true_at_the_converted_lambda():
    """glmnet (gaussian, alpha=0, standardize=TRUE), written out from its documented
    procedure: standardize x with the weighted 1/n moments, scale y by its weighted sd,
    solve at lambda / sd(y) on the scaled data (glmnet divides user lambdas by ys), map
    back.  lambda comes from l2reg.conventions.to_glmnet_lambda (standardize=FALSE's)."""
    from l2reg.conventions import to_glmnet_lambda

    X, y, w = _data(15, scales=[1e-2, 1.0, 30.0, 1e2, 0.5, 3.0])
    alpha = 0.03
    glmnet_lambda = to_glmnet_lambda(alpha, y, sample_weight=w)
    s = w / w.sum()
    x_mean, y_mean = s @ X, s @ y
    x_scale = np.sqrt(s @ (X - x_mean) ** 2)
    y_scale = np.sqrt(s @ (y - y_mean) ** 2)
    Xs, ys = (X - x_mean) / x_scale, (y - y_mean) / y_scale
    # glmnet's objective on the scaled data: sum s r^2 / 2 + (lambda / ys) ||beta||^2 / 2.
    beta = np.linalg.solve(
        Xs.T @ (s[:, None] * Xs) + glmnet_lambda / y_scale * np.eye(6), Xs.T @ (s * ys)
    )
    coef = beta * y_scale / x_scale
    model = Ridge(alpha=alpha, standardize=True).fit(X, y, w)
    assert_allclose(model.coef_, coef, rtol=CROSS_LIBRARY)
    assert_allclose(model.intercept_, y_mean - x_mean @ coef, rtol=CROSS_LIBRARY)
