"""l2reg.ElasticNet: scikit-learn's numbers, Ridge at l1_ratio=0, optimality, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.linear_model import ElasticNet as SklearnElasticNet
from tests._enet_checks import KKT_ATOL, QP_ATOL, gap, kkt_violation, objective, split_qp
from tests._tolerances import CROSS_LIBRARY

from l2reg import ConvergenceWarning, ElasticNet, InvalidParameterError, Ridge

#: Both fits stop at a duality gap <= 1e-15 * var(y); the L2 part's strong
#: convexity (alpha (1 - l1_ratio) >= 0.05 in these tests) then puts every
#: coefficient within ~2e-7 of the optimum, the issue asks for 1e-6.
COEF_ATOL = 1e-6
TIGHT_TOL = 1e-15


def _data(rng, n, p, sparse=False):
    X = rng.standard_normal((n, p)) + np.linspace(-2, 2, p)
    if sparse:
        X = sp.random(n, p, density=0.4, random_state=rng, format="csr") * 2
    dense = X.toarray() if sparse else X
    coef = np.zeros(p)
    coef[:4] = [2.0, -1.5, 1.0, 0.5]
    y = dense @ coef + 0.3 * rng.standard_normal(n) + 1.0
    return X, dense, y


@pytest.mark.parametrize("n, p", [(80, 10), (20, 60)], ids=["gram (n > p)", "residual (p > n)"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
def test_matches_sklearn_elastic_net(rng, n, p, sparse, weighted, fit_intercept):
    X, dense, y = _data(rng, n, p, sparse)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    ours = ElasticNet(alpha=0.1, l1_ratio=0.5, fit_intercept=fit_intercept, tol=TIGHT_TOL)
    ours.fit(X, y, sample_weight=w)
    theirs = SklearnElasticNet(
        alpha=0.1, l1_ratio=0.5, fit_intercept=fit_intercept, tol=TIGHT_TOL, max_iter=10**6
    ).fit(dense, y, sample_weight=w)
    assert ours.solver_ == "cd"
    # The automatic mode: Gram updates for n > p, residual updates for p > n.
    expected_source = "sufficient statistics" if n > p else "data"
    assert ours.certificate_.computed_from == expected_source
    assert_allclose(ours.coef_, theirs.coef_, atol=COEF_ATOL)
    assert_allclose(ours.intercept_, theirs.intercept_, atol=10 * COEF_ATOL)
    assert np.array_equal(ours.coef_ != 0, theirs.coef_ != 0)
    weights = np.ones(n) if w is None else w
    args = (dense, y, weights, ours.coef_, 0.1, 0.5, np.ones(p), fit_intercept)
    assert kkt_violation(*args) <= KKT_ATOL
    # The reported gap bounds the distance to scikit-learn's objective value too.
    theirs_args = (dense, y, weights, theirs.coef_, 0.1, 0.5, np.ones(p), fit_intercept)
    assert objective(*args) - objective(*theirs_args) <= ours.certificate_.duality_gap + 1e-14
    assert_allclose(ours.predict(X), dense @ ours.coef_ + ours.intercept_, rtol=1e-12)


@pytest.mark.parametrize("n, p", [(60, 8), (15, 40)])
@pytest.mark.parametrize("weighted", [False, True])
def test_l1_ratio_zero_is_ridge(rng, n, p, weighted):
    X, _, y = _data(rng, n, p)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    # The gap is summed from non-negative terms, so a tol far below eps is reachable.
    ours = ElasticNet(alpha=0.3, l1_ratio=0.0, tol=1e-24).fit(X, y, sample_weight=w)
    ridge = Ridge(alpha=0.3).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, ridge.coef_, rtol=CROSS_LIBRARY, atol=1e-8)
    assert_allclose(ours.intercept_, ridge.intercept_, rtol=CROSS_LIBRARY, atol=1e-8)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("shape", [(50, 8), (15, 40)])
def test_alpha_max_gives_exact_zeros(rng, sparse, shape):
    """alpha_max = max_j |x_j^T W (y - ybar)| / (sum(w) l1_ratio pf_j), the exact threshold."""
    n, p = shape
    X, dense, y = _data(rng, n, p, sparse)
    w = rng.uniform(0.2, 3.0, n)
    pf = rng.uniform(0.5, 2.0, p)
    l1_ratio = 0.6
    centered_y = y - w @ y / w.sum()
    alpha_max = np.max(np.abs(dense.T @ (w * centered_y)) / (w.sum() * l1_ratio * pf))
    for factor in (1 + 1e-9, 2.0, 100.0):
        model = ElasticNet(alpha=alpha_max * factor, l1_ratio=l1_ratio, penalty_factor=pf)
        model.fit(X, y, sample_weight=w)
        assert np.all(model.coef_ == 0.0)
        assert model.intercept_ == pytest.approx(w @ y / w.sum(), rel=1e-14)
    below = ElasticNet(
        alpha=alpha_max * (1 - 1e-4), l1_ratio=l1_ratio, penalty_factor=pf, tol=TIGHT_TOL
    )
    assert np.count_nonzero(below.fit(X, y, sample_weight=w).coef_) == 1


def test_positive_matches_sklearn(rng):
    X, _, y = _data(rng, 60, 12)
    y = y - 3 * X[:, 5]  # a feature that wants a negative coefficient
    ours = ElasticNet(alpha=0.05, l1_ratio=0.7, positive=True, tol=TIGHT_TOL).fit(X, y)
    theirs = SklearnElasticNet(
        alpha=0.05, l1_ratio=0.7, positive=True, tol=TIGHT_TOL, max_iter=10**6
    ).fit(X, y)
    assert np.all(ours.coef_ >= 0) and ours.coef_[5] == 0.0
    assert_allclose(ours.coef_, theirs.coef_, atol=COEF_ATOL)
    args = (X, y, np.ones(60), ours.coef_, 0.05, 0.7, np.ones(12), True)
    assert kkt_violation(*args, positive=True) <= KKT_ATOL
    assert gap(*args, positive=True) <= 1e-13


@pytest.mark.parametrize("positive", [False, True])
def test_penalty_factor_against_a_bounded_qp(rng, positive):
    n, p = 70, 9
    X, _, y = _data(rng, n, p)
    w = rng.uniform(0.2, 3.0, n)
    pf = np.array([0.0, 2.0, 0.5, 1.0, 3.0, 0.0, 1.0, 0.2, 1.5])
    ours = ElasticNet(
        alpha=0.2, l1_ratio=0.6, penalty_factor=pf, positive=positive, tol=TIGHT_TOL
    ).fit(X, y, sample_weight=w)
    expected = split_qp(X, y, w, 0.2, 0.6, pf, positive)
    assert_allclose(ours.coef_, expected, atol=QP_ATOL)
    assert kkt_violation(X, y, w, ours.coef_, 0.2, 0.6, pf, True, positive) <= KKT_ATOL
    # Factors are used as given: scaling all of them equals scaling alpha.
    scaled = ElasticNet(
        alpha=0.1, l1_ratio=0.6, penalty_factor=2 * pf, positive=positive, tol=TIGHT_TOL
    )
    assert_allclose(scaled.fit(X, y, sample_weight=w).coef_, ours.coef_, atol=COEF_ATOL)


def test_sparse_equals_dense_and_warm_start(rng):
    X, dense, y = _data(rng, 40, 30, sparse=True)
    a = ElasticNet(alpha=0.05, tol=TIGHT_TOL).fit(X, y)
    b = ElasticNet(alpha=0.05, tol=TIGHT_TOL).fit(dense, y)
    assert_allclose(a.coef_, b.coef_, atol=COEF_ATOL)
    warm = ElasticNet(alpha=0.05, tol=TIGHT_TOL, warm_start=True).fit(dense, y)
    n_cold = warm.n_iter_
    warm.fit(dense, y)
    assert warm.n_iter_ < n_cold
    assert_allclose(warm.coef_, b.coef_, atol=COEF_ATOL)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"l1_ratio": 1.5}, "'l1_ratio' must be"),
        ({"l1_ratio": -0.1}, "'l1_ratio' must be"),
        ({"alpha": 0.0}, "Ridge\\(alpha=0\\)"),
        ({"alpha": -1.0}, "'alpha' must be"),
        ({"penalty_factor": [1.0, -1.0, 1.0]}, "'penalty_factor' must be >= 0"),
        ({"penalty_factor": [0.0, 0.0, 0.0]}, "every 'penalty_factor' is 0"),
        ({"penalty_factor": [1.0, 1.0]}, r"shape \(3,\); got shape \(2,\)"),
        ({"penalty_factor": [1.0, np.nan, 1.0]}, "NaN"),
        ({"max_iter": 0}, "'max_iter' must be"),
        ({"tol": -1.0}, "'tol' must be"),
    ],
)
def test_bad_parameters_are_named(rng, params, match):
    X, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    with pytest.raises(InvalidParameterError, match=match):
        ElasticNet(**params).fit(X, y)


def test_bad_data_is_refused(rng):
    X, y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    sparse = sp.csc_matrix(X)
    sparse.data[4] = np.nan  # an explicit NaN among the stored entries
    with pytest.raises(ValueError, match="NaN"):
        ElasticNet().fit(sparse, y)
    with pytest.raises(ValueError, match="NaN"):
        ElasticNet().fit(X, np.where(np.arange(10) == 3, np.nan, y))
    with pytest.raises(ValueError, match="y has 2 targets.*MultiTaskElasticNet"):
        ElasticNet().fit(X, np.c_[y, y])  # one target; several are MultiTaskElasticNet's
    with pytest.raises(ValueError, match="sample_weight"):
        ElasticNet().fit(X, y, sample_weight=-np.ones(10))


@given(
    st.floats(0.01, 0.5), st.floats(1.5, 4.0), st.floats(0.01, 100.0), st.sampled_from([0.5, 1.0])
)
def test_properties_penalty_decreases_in_alpha_and_weight_scale_is_irrelevant(
    alpha, ratio, weight_scale, l1_ratio
):
    """For alpha1 < alpha2 the optimality of each solution gives
    (alpha1 - alpha2) (R(theta1) - R(theta2)) <= 0, so the penalty shape
    R = l1_ratio ||theta||_1 + (1 - l1_ratio) ||theta||^2 / 2 is non-increasing in alpha
    (the L1 norm itself when l1_ratio=1) and the data term non-decreasing; and the
    weighted *mean* makes a common factor on the weights irrelevant."""
    rng = np.random.default_rng(3)
    X, _, y = _data(rng, 40, 6)
    w = rng.uniform(0.5, 2.0, 40)

    def shape(coef):
        return l1_ratio * np.abs(coef).sum() + 0.5 * (1 - l1_ratio) * coef @ coef

    def data_term(model):
        r = y - model.predict(X)
        return w @ r**2 / (2 * w.sum())

    small = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-15).fit(X, y, sample_weight=w)
    large = ElasticNet(alpha=alpha * ratio, l1_ratio=l1_ratio, tol=1e-15)
    large.fit(X, y, sample_weight=w)
    # Slack: both solutions are within a duality gap of ~1e-15 * var(y) of their optimum.
    assert shape(large.coef_) <= shape(small.coef_) + 1e-9
    assert data_term(large) >= data_term(small) - 1e-9
    scaled = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-15)
    scaled.fit(X, y, sample_weight=weight_scale * w)
    assert_allclose(scaled.coef_, small.coef_, atol=COEF_ATOL)


def test_objective_method_and_certificate(rng):
    X, _, y = _data(rng, 50, 7)
    w = rng.uniform(0.2, 3.0, 50)
    pf = np.linspace(0.5, 1.5, 7)
    model = ElasticNet(alpha=0.05, l1_ratio=0.4, penalty_factor=pf, tol=TIGHT_TOL)
    model.fit(X, y, sample_weight=w)
    r = y - X @ model.coef_ - model.intercept_
    expected = w @ r**2 / (2 * w.sum()) + 0.05 * (
        0.4 * pf @ np.abs(model.coef_) + 0.3 * pf @ model.coef_**2
    )
    assert model.objective(X, y, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    certificate = model.certificate_
    scale = w @ (y - w @ y / w.sum()) ** 2 / w.sum()
    assert 0 <= certificate.duality_gap <= TIGHT_TOL * scale
    assert certificate.gradient_norm <= KKT_ATOL and certificate.computed_from
    assert model.n_iter_ > 0


def test_non_convergence_warns_with_the_achieved_gap(rng):
    X, _, y = _data(rng, 20, 60)
    with pytest.warns(ConvergenceWarning, match=r"duality gap \d"):
        model = ElasticNet(alpha=0.001, tol=1e-15, max_iter=1).fit(X, y)
    assert model.n_iter_ == 1


def test_degenerate_columns_targets_and_sparse_layouts(rng):
    X, dense, y = _data(rng, 40, 6)
    X = X.copy()
    X[:, 2] = 5.0  # a constant column: centered, it is zero and stays at 0
    model = ElasticNet(alpha=0.05, tol=TIGHT_TOL).fit(X, y)
    assert model.coef_[2] == 0.0 and model.certificate_.duality_gap >= 0
    free = ElasticNet(alpha=0.05, penalty_factor=[1, 1, 0, 1, 1, 1], tol=TIGHT_TOL).fit(X, y)
    assert free.coef_[2] == 0.0  # unpenalized and constant: any value fits, 0 is returned
    assert_allclose(free.coef_, model.coef_, atol=COEF_ATOL)

    constant = ElasticNet(alpha=0.05).fit(X, np.full(40, 3.0))
    assert np.all(constant.coef_ == 0) and constant.intercept_ == pytest.approx(3.0)

    # A CSC matrix with duplicate entries (non-canonical) means their sum, as in scipy:
    # every entry of X is stored twice, as thirds.
    n, p = X.shape
    data = np.concatenate([np.r_[X[:, j] / 3, 2 * X[:, j] / 3] for j in range(p)])
    indices = np.tile(np.r_[np.arange(n), np.arange(n)], p)
    indptr = np.arange(p + 1) * 2 * n
    duplicated = sp.csc_matrix((data, indices, indptr), shape=(n, p))
    assert not duplicated.has_canonical_format and duplicated.nnz == 2 * n * p
    assert_allclose(duplicated.toarray(), X, rtol=1e-15)
    a = ElasticNet(alpha=0.05, tol=TIGHT_TOL).fit(duplicated, y)
    b = ElasticNet(alpha=0.05, tol=TIGHT_TOL).fit(X, y)
    assert_allclose(a.coef_, b.coef_, atol=COEF_ATOL)


@pytest.mark.parametrize("positive", [False, True])
def test_several_targets_are_a_clear_error(positive):
    from l2reg.exceptions import IncompatibleOptionsError

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    match = "positive=True is defined for one target" if positive else "fits one target"
    with pytest.raises(IncompatibleOptionsError, match=match):
        ElasticNet(positive=positive).fit(X, Y)
