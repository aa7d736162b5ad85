"""The coordinate-descent driver in every mode against scikit-learn and optimality conditions."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.linear_model import ElasticNet as SklearnElasticNet
from tests._enet_checks import KKT_ATOL, QP_ATOL, gap, kkt_violation, split_qp
from tests._tolerances import CROSS_LIBRARY

from l2reg import ConvergenceWarning, Ridge
from l2reg.objective.enet_problem import ElasticNetProblem, fenchel_young
from l2reg.objective.penalties import ElasticNet as ElasticNetPenalty
from l2reg.objective.penalties import coordinate_conjugate
from l2reg.solvers import coordinate, get_solver, registered_solvers
from l2reg.solvers.coordinate import GRAM_MAX_FEATURES, PRUNE_SHARE, choose_mode

#: Both solvers stop at a duality gap <= 1e-15 * var(y); with the L2 part's
#: strong convexity (alpha (1 - l1_ratio) >= 0.05 here) the coefficients are
#: then within ~2e-7 of the optimum each, the issue asks for 1e-6.
COEF_ATOL = 1e-6
TIGHT_TOL = 1e-15
#: Two float64 formulas of the same Fenchel-Young terms; the naive one cancels
#: terms of size ~1 down to results of size ~1e-3.
FORMULA_RTOL = 1e-9


def _data(rng, n, p, sparse):
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(0.3 + 0.7 * np.eye(p)).T + 1.5
    if sparse:
        X = sp.random(n, p, density=0.3, random_state=rng, format="csc") * 2
        X.data += 1.0
    coef = np.zeros(p)
    coef[: min(5, p)] = [3.0, -2.0, 1.5, -1.0, 0.5][: min(5, p)]
    dense = X.toarray() if sparse else X
    y = dense @ coef + 0.5 * rng.standard_normal(n) + 2.0
    return X, dense, y


def _solve(X, y, w, *, alpha, l1_ratio, fit_intercept, mode, pf=None, positive=False, **options):
    penalty = ElasticNetPenalty(alpha, l1_ratio, pf, positive)
    problem = ElasticNetProblem(X, y, w, penalty, fit_intercept)
    solver = get_solver("cd")(tol=options.pop("tol", TIGHT_TOL), mode=mode, **options)
    return problem, solver.solve(problem)


@pytest.mark.parametrize("mode", ["gram", "residual"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unit", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
def test_every_mode_matches_sklearn_and_is_optimal(rng, mode, sparse, weighted, fit_intercept):
    n, p = 60, 25
    X, dense, y = _data(rng, n, p, sparse)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    weights = np.ones(n) if w is None else w
    alpha, l1_ratio = 0.1, 0.5
    problem, result = _solve(
        X, y, w, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, mode=mode
    )
    assert result.converged and result.message.startswith(mode)
    coef = result.coef[0]
    theirs = SklearnElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-15, max_iter=10**6
    ).fit(dense, y, sample_weight=w)
    assert_allclose(coef, theirs.coef_, atol=COEF_ATOL)
    assert_allclose(result.intercept[0], theirs.intercept_, atol=10 * COEF_ATOL)
    assert np.array_equal(coef != 0, theirs.coef_ != 0)
    assert 0 < np.count_nonzero(coef) < p  # a real elastic-net solution, neither 0 nor dense
    pf = np.ones(p)
    args = (dense, y, weights, coef, alpha, l1_ratio, pf, fit_intercept)
    scale = weights @ (y - (weights @ y / weights.sum() if fit_intercept else 0)) ** 2
    scale /= weights.sum()
    # The test's gap is primal minus dual, two numbers of size ~scale: its own
    # rounding is a few eps * scale, hence the second term.
    assert gap(*args) <= TIGHT_TOL * scale + 1e-15 * scale
    assert result.certificate.duality_gap <= TIGHT_TOL * scale
    assert kkt_violation(*args) <= KKT_ATOL


def test_auto_mode_rule():
    assert choose_mode(1000, 50) == "gram"
    assert choose_mode(50, 1000) == "residual"
    assert choose_mode(10**6, GRAM_MAX_FEATURES + 1) == "residual"


@pytest.mark.parametrize("working_set", [True, False])
@pytest.mark.parametrize("screening", [True, False])
@pytest.mark.parametrize("extrapolate", [True, False])
@pytest.mark.parametrize("order", ["C", "F"])
def test_working_sets_screening_extrapolation_and_order_do_not_change_the_answer(
    rng, working_set, screening, extrapolate, order
):
    """Every acceleration is optional and none changes the solution; a C-ordered X
    (read through gathered working-set blocks) equals a Fortran-ordered one."""
    X, _, y = _data(rng, 40, 120, sparse=False)
    _, reference = _solve(
        X, y, None, alpha=0.2, l1_ratio=0.9, fit_intercept=True, mode="residual",
        working_set=False, screening=False, extrapolate=False,
    )  # fmt: skip
    _, result = _solve(
        np.asarray(X, order=order), y, None, alpha=0.2, l1_ratio=0.9, fit_intercept=True,
        mode="residual", working_set=working_set, screening=screening, extrapolate=extrapolate,
    )  # fmt: skip
    assert result.converged
    assert_allclose(result.coef, reference.coef, atol=COEF_ATOL)
    assert np.array_equal(result.coef != 0, reference.coef != 0)


@pytest.mark.parametrize("working_set", [True, False])
def test_gram_mode_extrapolation_does_not_change_the_answer(rng, working_set):
    """Anderson steps in Gram mode (on the set's block of G, or on all of G without sets)."""
    X, _, y = _data(rng, 80, 30, sparse=False)
    options = dict(alpha=0.05, l1_ratio=0.7, fit_intercept=True, mode="gram")
    _, reference = _solve(X, y, None, **options, working_set=False, extrapolate=False)
    _, result = _solve(X, y, None, **options, working_set=working_set)
    assert result.converged
    assert_allclose(result.coef, reference.coef, atol=COEF_ATOL)
    assert np.array_equal(result.coef != 0, reference.coef != 0)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_screened_features_are_pruned_from_the_passes(rng, monkeypatch, sparse, order):
    """A large lasso alpha on p >> n: screening drops most columns from the passes over X
    (PRUNE_SHARE), and the certificate still reports the gap of the whole problem."""
    n, p = 30, 400
    X, dense, y = _data(rng, n, p, sparse)
    X = X if sparse else np.asarray(X, order=order)
    yc = y - y.mean()
    alpha = 0.7 * np.max(np.abs((dense - dense.mean(axis=0)).T @ yc)) / n  # 0.7 alpha_max
    kept = []
    prune = coordinate._ResidualState.prune

    def spy(state, active):
        prune(state, active)
        kept.append(None if state.kept is None else state.kept[1].shape[1])

    monkeypatch.setattr(coordinate._ResidualState, "prune", spy)
    problem, result = _solve(
        X, y, None, alpha=alpha, l1_ratio=1.0, fit_intercept=True, mode="residual", tol=1e-12
    )
    assert kept and kept[-1] is not None and kept[-1] <= PRUNE_SHARE * p  # pruned passes ran
    coef = result.coef[0]
    args = (dense, y, np.ones(n), coef, alpha, 1.0, np.ones(p), True)
    scale = np.var(y)
    assert result.converged and result.certificate.duality_gap <= 1e-12 * scale
    assert gap(*args) <= 1e-12 * scale + 1e-15 * scale
    assert kkt_violation(*args) <= KKT_ATOL
    theirs = SklearnElasticNet(alpha=alpha, l1_ratio=1.0, tol=TIGHT_TOL, max_iter=10**6)
    assert_allclose(coef, theirs.fit(dense, y).coef_, atol=COEF_ATOL)


MATRIX = [
    pytest.param(mode, sparse, weighted, fit_intercept, id=f"{mode}-{s}-{w}-{i}")
    for mode in ("gram", "residual")
    for sparse, s in ((False, "dense"), (True, "sparse"))
    for weighted, w in ((False, "unit"), (True, "weighted"))
    for fit_intercept, i in ((True, "intercept"), (False, "no-intercept"))
]


@pytest.mark.parametrize("mode, sparse, weighted, fit_intercept", MATRIX)
def test_l1_ratio_zero_is_ridge_in_every_mode(rng, mode, sparse, weighted, fit_intercept):
    """l1_ratio=0 is l2reg.Ridge(alpha)'s problem exactly (Ridge solved directly on dense X)."""
    n, p = 50, 20
    X, dense, y = _data(rng, n, p, sparse)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    # The gap is summed from non-negative terms, so a tol far below eps is reachable.
    _, result = _solve(
        X, y, w, alpha=0.3, l1_ratio=0.0, fit_intercept=fit_intercept, mode=mode, tol=1e-24
    )
    ridge = Ridge(alpha=0.3, fit_intercept=fit_intercept).fit(dense, y, sample_weight=w)
    assert_allclose(result.coef[0], ridge.coef_, rtol=CROSS_LIBRARY, atol=1e-8)
    assert_allclose(result.intercept[0], ridge.intercept_, rtol=CROSS_LIBRARY, atol=1e-8)


@pytest.mark.parametrize("mode, sparse, weighted, fit_intercept", MATRIX)
def test_alpha_max_gives_exact_zeros_in_every_mode(rng, mode, sparse, weighted, fit_intercept):
    """alpha_max = max_j |x_{c,j}^T W y_c| / (sum(w) l1_ratio pf_j): zeros at and above it."""
    n, p = 40, 15
    X, dense, y = _data(rng, n, p, sparse)
    w = rng.uniform(0.2, 3.0, n) if weighted else np.ones(n)
    pf = rng.uniform(0.5, 2.0, p)
    l1_ratio = 0.6
    Xc, yc = dense, y
    if fit_intercept:
        Xc, yc = dense - w @ dense / w.sum(), y - w @ y / w.sum()
    alpha_max = np.max(np.abs(Xc.T @ (w * yc)) / (w.sum() * l1_ratio * pf))
    sample_weight = w if weighted else None
    for factor in (1 + 1e-9, 3.0):
        _, result = _solve(
            X, y, sample_weight, alpha=alpha_max * factor, l1_ratio=l1_ratio,
            fit_intercept=fit_intercept, mode=mode, pf=pf,
        )  # fmt: skip
        assert result.converged and np.all(result.coef == 0.0)
        expected = w @ y / w.sum() if fit_intercept else 0.0
        assert result.intercept[0] == pytest.approx(expected, rel=1e-13, abs=1e-15)
    _, below = _solve(
        X, y, sample_weight, alpha=alpha_max * (1 - 1e-3), l1_ratio=l1_ratio,
        fit_intercept=fit_intercept, mode=mode, pf=pf,
    )  # fmt: skip
    assert np.count_nonzero(below.coef) == 1


@pytest.mark.parametrize("mode", ["gram", "residual"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("positive", [False, True], ids=["signed", "positive"])
def test_penalty_factor_in_every_mode_against_a_bounded_qp(rng, mode, sparse, positive):
    """Per-feature factors (0 = unpenalized) and the sign constraint, against L-BFGS-B."""
    n, p = 60, 8
    X, dense, y = _data(rng, n, p, sparse)
    y = y - 1.5 * dense[:, 6]  # a feature that wants a negative coefficient
    w = rng.uniform(0.2, 3.0, n)
    pf = np.array([0.0, 2.0, 0.5, 1.0, 3.0, 0.0, 1.0, 0.2])
    _, result = _solve(
        X, y, w, alpha=0.2, l1_ratio=0.6, fit_intercept=True, mode=mode, pf=pf, positive=positive
    )
    coef = result.coef[0]
    assert result.converged
    assert_allclose(coef, split_qp(dense, y, w, 0.2, 0.6, pf, positive), atol=QP_ATOL)
    assert kkt_violation(dense, y, w, coef, 0.2, 0.6, pf, True, positive) <= KKT_ATOL


def test_gap_safe_screening_fires_and_keeps_the_support(rng):
    """On a sparse lasso the rule removes features, all of them zero without screening."""
    X, _, y = _data(rng, 40, 200, sparse=False)
    _, result = _solve(X, y, None, alpha=0.05, l1_ratio=1.0, fit_intercept=True, mode="residual")
    _, plain = _solve(
        X, y, None, alpha=0.05, l1_ratio=1.0, fit_intercept=True, mode="residual",
        screening=False,
    )  # fmt: skip
    screened = int(result.message.split(" of ")[0].split()[-1])
    assert screened > 0  # the rule did fire
    assert result.converged
    assert np.array_equal(result.coef != 0, plain.coef != 0)
    assert_allclose(result.coef, plain.coef, atol=COEF_ATOL)


def test_unpenalized_features(rng):
    """pf_j = 0: those coefficients are free; the gap stays finite and the KKT conditions hold."""
    n, p = 50, 10
    X, _, y = _data(rng, n, p, sparse=False)
    pf = np.ones(p)
    pf[[0, 7]] = 0.0
    for mode in ("gram", "residual"):
        _, result = _solve(
            X, y, None, alpha=5.0, l1_ratio=0.8, fit_intercept=True, mode=mode, pf=pf
        )
        coef = result.coef[0]
        assert result.converged and np.isfinite(result.certificate.duality_gap)
        assert coef[0] != 0 and coef[7] != 0
        assert kkt_violation(X, y, np.ones(n), coef, 5.0, 0.8, pf, True) <= KKT_ATOL


def test_non_convergence_warns_with_the_gap(rng):
    X, _, y = _data(rng, 30, 80, sparse=False)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        _, result = _solve(
            X, y, None, alpha=0.01, l1_ratio=0.5, fit_intercept=True, mode="residual", max_iter=2
        )
    assert not result.converged and result.n_iter <= 2 + 5


def test_cd_is_registered_for_the_elastic_net_only():
    assert "cd" in registered_solvers()
    assert "cd" not in registered_solvers("squared")  # ridge never offers it
    assert registered_solvers("squared", penalty="elastic_net") == ("cd",)


@pytest.mark.parametrize("positive", [False, True])
def test_fenchel_young_terms_equal_the_naive_formula(rng, positive):
    """The cancellation-free form equals g(theta) + g*(s) - theta s, and is >= 0."""
    m = 2000
    coef = rng.normal(size=m) * (rng.uniform(size=m) < 0.6)
    if positive:
        coef = np.abs(coef)
    s = rng.normal(size=m)
    l1 = rng.uniform(0, 1, m)
    l2 = rng.uniform(0, 1, m) * (rng.uniform(size=m) < 0.8)
    # Lasso-like coordinates need a feasible s (|s| <= l1, or s <= l1 when positive).
    hard = l2 == 0
    s[hard] = np.clip(s[hard], -np.inf if positive else -l1[hard], l1[hard])
    young = fenchel_young(coef, s, l1, l2, positive)
    naive = (
        l1 * np.abs(coef) + 0.5 * l2 * coef**2
        + coordinate_conjugate(s, l1, l2, positive) - coef * s
    )  # fmt: skip
    assert np.all(young >= 0)
    assert_allclose(young, naive, rtol=FORMULA_RTOL, atol=1e-12)


def test_callback_sees_decreasing_gaps_and_can_stop(rng):
    X, _, y = _data(rng, 40, 60, sparse=False)
    gaps = []

    def record(coef, gap):
        gaps.append(gap)

    penalty = ElasticNetPenalty(0.02, 0.5)
    problem = ElasticNetProblem(X, y, None, penalty, True)
    get_solver("cd")(tol=TIGHT_TOL).solve(problem, callback=record)
    assert len(gaps) >= 2 and gaps[-1] <= gaps[0]

    def stop(coef, gap):
        raise StopIteration

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopping on request is not a convergence failure
        stopped = get_solver("cd")(tol=TIGHT_TOL).solve(problem, callback=stop)
    assert not stopped.converged and "callback" in stopped.message and stopped.n_iter == 0


@pytest.mark.parametrize("mode", ["gram", "residual"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_positive_in_every_mode_matches_sklearn(rng, mode, sparse):
    n, p = 60, 25
    X, dense, y = _data(rng, n, p, sparse)
    y = y - 2.0 * dense[:, 6]  # a feature that wants a negative coefficient
    w = rng.uniform(0.2, 3.0, n)
    _, result = _solve(
        X, y, w, alpha=0.05, l1_ratio=0.7, fit_intercept=True, mode=mode, positive=True
    )
    coef = result.coef[0]
    theirs = SklearnElasticNet(
        alpha=0.05, l1_ratio=0.7, positive=True, tol=TIGHT_TOL, max_iter=10**6
    ).fit(dense, y, sample_weight=w)
    assert result.converged and np.all(coef >= 0) and coef[6] == 0.0
    assert_allclose(coef, theirs.coef_, atol=COEF_ATOL)
    assert np.array_equal(coef != 0, theirs.coef_ != 0)
    args = (dense, y, w, coef, 0.05, 0.7, np.ones(p), True)
    assert kkt_violation(*args, positive=True) <= KKT_ATOL
