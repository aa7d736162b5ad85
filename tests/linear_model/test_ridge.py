"""Ridge against independent references: mpmath closed forms, scikit-learn, optimality."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import Ridge as SklearnRidge
from tests._oracles import design_with_spectrum, ridge_reference
from tests._tolerances import (
    CERTIFICATE_F64,
    CROSS_LIBRARY,
    EXACT_F64,
    FLOAT32,
    ILL_CONDITIONED,
)

from l2reg import Ridge, SolverFallbackWarning
from l2reg.conventions import to_sklearn_ridge_alpha
from l2reg.solvers import get_solver, registered_solvers

# The direct solvers, exact to rounding; the iterative ones ("cg") stop at a
# tolerance and are checked against these in tests/solvers/test_krylov.py.
SOLVERS = tuple(
    s for s in registered_solvers("squared") if not get_solver(s).capabilities.iterative
)


def _data(rng, n=40, p=6, n_targets=None, condition=10.0):
    X = design_with_spectrum(rng, n, np.geomspace(1, 1 / condition, p) * np.sqrt(n))
    coef = rng.standard_normal(p if n_targets is None else (p, n_targets))
    y = X @ coef + 0.3 * rng.standard_normal(coef.shape[1:] and (n, coef.shape[1]) or n) + 2.0
    return X, y


# ---------------------------------------------------------------- 50-digit reference


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "fit_intercept, penalize_intercept", [(True, False), (True, True), (False, False)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_mpmath_closed_form(rng, solver, fit_intercept, penalize_intercept, weighted):
    X, y = _data(rng)
    weights = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    alpha = 0.05
    model = Ridge(
        alpha=alpha,
        solver=solver,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
    ).fit(X, y, sample_weight=weights)
    coef, intercept = ridge_reference(
        X,
        y,
        alpha,
        sample_weight=weights,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
    )
    assert_allclose(model.coef_, coef, rtol=EXACT_F64)
    assert_allclose(model.intercept_, intercept, rtol=EXACT_F64)
    assert model.solver_ == solver


def test_seed_example_penalized_intercept():
    """The seed's y = theta0 + theta1 x1 + theta2 x2 with all three parameters penalized."""
    x1 = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    x2 = np.array([2.0, 1.0, 4.0, 3.0, 6.0, 5.0])
    y = np.array([3.1, 3.9, 7.2, 7.8, 11.1, 11.9])
    X = np.column_stack([x1, x2])
    lam = 0.5
    model = Ridge(alpha=lam, penalize_intercept=True).fit(X, y)
    coef, intercept = ridge_reference(X, y, lam, penalize_intercept=True)
    assert_allclose(model.coef_, coef, rtol=EXACT_F64)
    assert_allclose(model.intercept_, intercept, rtol=EXACT_F64)

    # The seed's loss, evaluated literally, is minimal there: perturbations increase it.
    def seed_loss(theta0, theta1, theta2):
        residual = y - (theta0 + theta1 * x1 + theta2 * x2)
        return np.mean(residual**2) + lam * (theta0**2 + theta1**2 + theta2**2)

    best = seed_loss(model.intercept_, *model.coef_)
    assert_allclose(model.objective(X, y), best, rtol=1e-14)
    for direction in np.eye(3):
        for step in (1e-4, -1e-4):
            assert seed_loss(*(np.r_[model.intercept_, model.coef_] + step * direction)) > best


# ---------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("shape", [(60, 8), (15, 40)], ids=["n>p", "p>n"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_targets", [None, 3])
def test_matches_scikit_learn(rng, shape, weighted, n_targets):
    n, p = shape
    X = rng.standard_normal((n, p)) + 1.5
    y = rng.standard_normal(n if n_targets is None else (n, n_targets))
    weights = rng.uniform(0.1, 2.0, n) if weighted else None
    alpha = 0.3
    ours = Ridge(alpha=alpha).fit(X, y, sample_weight=weights)
    sk_alpha = to_sklearn_ridge_alpha(alpha, n_samples=n, sample_weight=weights)
    theirs = SklearnRidge(alpha=sk_alpha, solver="svd").fit(X, y, sample_weight=weights)
    assert_allclose(ours.coef_, theirs.coef_, rtol=CROSS_LIBRARY, atol=0)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=CROSS_LIBRARY)
    assert ours.solver_ == ("kernel" if p > n else "cholesky")


def test_per_target_alpha_matches_separate_fits(rng):
    X, Y = _data(rng, n=50, p=7, n_targets=4)
    alphas = np.array([0.01, 1.0, 0.01, 5.0])
    for solver in SOLVERS:
        joint = Ridge(alpha=alphas, solver=solver).fit(X, Y)
        for k, a in enumerate(alphas):
            single = Ridge(alpha=a, solver=solver).fit(X, Y[:, k])
            assert_allclose(joint.coef_[k], single.coef_, rtol=EXACT_F64)
            assert_allclose(joint.intercept_[k], single.intercept_, rtol=EXACT_F64)


# ---------------------------------------------------------------- ill-conditioned designs


@pytest.mark.parametrize("condition", [1e4, 1e8, 1e12])
@pytest.mark.parametrize("alpha", [0.0, 1e-15])
def test_ill_conditioned_designs_accurate(rng, condition, alpha):
    """Random designs with cond(Xc) up to 1e12 and a noisy (large-residual) target.

    A backward-stable solve alone is only accurate to ~cond^2 * eps * ||r|| /
    (||X|| ||theta||) here (about 2e-5 at cond 1e12); the double-double
    refinement of the svd path is what reaches 1e-6.
    """
    n, p = 40, 6
    X = design_with_spectrum(rng, n, np.geomspace(1, 1 / condition, p))
    y = X @ rng.standard_normal(p) + 0.01 * rng.standard_normal(n) + 1.0
    coef, intercept = ridge_reference(X, y, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        model = Ridge(alpha=alpha).fit(X, y)
    assert_allclose(model.coef_, coef, rtol=ILL_CONDITIONED)
    assert_allclose(model.intercept_, intercept, rtol=ILL_CONDITIONED)


@pytest.mark.parametrize("degree", [6, 10, 14, 16])
def test_polynomial_design_least_squares(degree):
    """Monomial features of x in [0, 1] (noisy target): cond(Xc) is 1e4 at degree 6, 5e11 at 16."""
    x = np.linspace(0.0, 1.0, 50)
    X = np.vander(x, degree + 1, increasing=True)[:, 1:]
    y = np.exp(x) + 0.1 * np.sin(20 * x)
    coef, intercept = ridge_reference(X, y, 0.0)
    model = Ridge(alpha=0.0).fit(X, y)
    assert model.solver_ == "svd"
    assert_allclose(model.coef_, coef, rtol=ILL_CONDITIONED)
    assert_allclose(model.intercept_, intercept, rtol=ILL_CONDITIONED)


def test_fallback_is_announced_and_reported(rng):
    X = design_with_spectrum(rng, 40, np.geomspace(1, 1e-9, 5))
    y = rng.standard_normal(40)
    with pytest.warns(SolverFallbackWarning, match="ill-conditioned"):
        model = Ridge(alpha=1e-16, solver="cholesky").fit(X, y)
    assert model.solver_ == "svd"
    with pytest.warns(SolverFallbackWarning, match="kernel"):
        model = Ridge(alpha=1e-16, solver="kernel").fit(X, y)
    assert model.solver_ == "svd"


def test_rank_deficient_alpha_zero_gives_min_norm(rng):
    base = rng.standard_normal((30, 3))
    X = np.column_stack([base, base[:, 0] + base[:, 1], 2 * base[:, 2]])  # rank 3 of 5
    y = rng.standard_normal(30)
    model = Ridge(alpha=0.0).fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    assert_allclose(model.coef_, np.linalg.pinv(Xc) @ yc, rtol=1e-9)


# ---------------------------------------------------------------- optimality and objective


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("penalize_intercept", [False, True])
def test_certificate_and_objective(rng, solver, penalize_intercept):
    X, y = _data(rng, n=50, p=5)
    weights = rng.uniform(0.5, 2.0, 50)
    model = Ridge(alpha=0.2, solver=solver, penalize_intercept=penalize_intercept)
    model.fit(X, y, sample_weight=weights)
    assert model.certificate_.relative_gradient_norm < CERTIFICATE_F64
    # The objective is minimal: any perturbation of (coef, intercept) increases it.
    J = model.objective(X, y, sample_weight=weights)
    for index in range(6):
        for step in (1e-5, -1e-5):
            perturbed = Ridge(alpha=0.2, penalize_intercept=penalize_intercept)
            perturbed.__dict__.update(model.__dict__)
            perturbed.coef_ = model.coef_.copy()
            if index < 5:
                perturbed.coef_[index] += step
            else:
                perturbed.intercept_ = model.intercept_ + step
            assert perturbed.objective(X, y, sample_weight=weights) > J


def test_certificate_detects_a_wrong_point(rng):
    """The certificate is a real measurement: a perturbed solution scores badly."""
    from l2reg.objective.gram import gram_stats
    from l2reg.objective.problem import evaluate_from_stats
    from l2reg.solvers._result import certificate_from_gradient

    X, y = _data(rng, n=50, p=5)
    model = Ridge(alpha=0.2).fit(X, y)
    stats = gram_stats(X, y[:, None])
    coef = model.coef_[:, None] * 1.001
    evaluation = evaluate_from_stats(
        stats,
        coef,
        np.array([model.intercept_]),
        np.array([0.2]),
        fit_intercept=True,
        penalize_intercept=False,
    )
    certificate = certificate_from_gradient(
        [evaluation.gradient_coef, evaluation.gradient_intercept], evaluation.gradient_scale, "x"
    )
    assert certificate.relative_gradient_norm > 1e-5


def test_objective_multi_target_is_per_target(rng):
    X, Y = _data(rng, n=30, p=4, n_targets=2)
    model = Ridge(alpha=[0.1, 0.2]).fit(X, Y)
    values = model.objective(X, Y)
    assert values.shape == (2,)
    for k, a in enumerate([0.1, 0.2]):
        single = Ridge(alpha=a).fit(X, Y[:, k])
        assert_allclose(values[k], single.objective(X, Y[:, k]), rtol=1e-12)


# ---------------------------------------------------------------- dtypes and memory order


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_float32_and_memory_order(rng, solver, order):
    X, y = _data(rng, n=80, p=6)
    reference = Ridge(alpha=0.1, solver=solver).fit(X, y)
    X32 = np.asarray(X, dtype=np.float32, order=order)
    model = Ridge(alpha=0.1, solver=solver).fit(X32, y.astype(np.float32))
    assert model.coef_.dtype == np.float32
    assert_allclose(model.coef_, reference.coef_, rtol=FLOAT32)
    fortran = Ridge(alpha=0.1, solver=solver).fit(np.asfortranarray(X), y)
    assert_allclose(fortran.coef_, reference.coef_, rtol=EXACT_F64)


def test_float32_ill_conditioned_upgrades_precision(rng):
    """A float32 Gram with cond ~1e5 would lose ~1e-2; the float64 recomputation keeps ~1e-6."""
    X = design_with_spectrum(rng, 200, np.geomspace(10, 10 / 300, 6)).astype(np.float32)
    y = (X.astype(np.float64) @ rng.standard_normal(6)).astype(np.float32)
    reference = Ridge(alpha=1e-6).fit(X.astype(np.float64), y.astype(np.float64))
    model = Ridge(alpha=1e-6, solver="cholesky").fit(X, y)
    assert_allclose(model.coef_, reference.coef_, rtol=1e-5)


def _count_syrk_rows(monkeypatch):
    """Record the rows of every ``?syrk`` operand of the blocked Gram pass.

    The test below must reach the blocked loop of ``gram_stats`` (the unweighted
    float64 pass takes another route, which has no ``block_rows``); these row
    counts show that it does and that ``block_rows`` is honoured.
    """
    import l2reg.objective.gram as gram

    rows_seen = []
    original = gram.get_blas_funcs

    def counting(names, *args, **kwargs):
        found = original(names, *args, **kwargs)
        if names != "syrk":
            return found

        def syrk(alpha, a, *rest, trans=0, **options):
            rows_seen.append(a.shape[0] if trans else a.shape[1])
            return found(alpha, a, *rest, trans=trans, **options)

        return syrk

    monkeypatch.setattr(gram, "get_blas_funcs", counting)
    return rows_seen


# n = 50: 1 and 10 divide it, 7 leaves a last block of 1 row, 49 one of 1 row,
# 50 is one block and 4096 is larger than n.
@pytest.mark.parametrize("block_rows", [1, 7, 10, 49, 50, 4096])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_gram_pass_matches_the_reference_for_any_block_size(
    rng, block_rows, dtype, monkeypatch
):
    """The blocked (weighted or float32) Gram pass against a 50-digit reference.

    Weighted data and float32 data both go through the blocked loop of
    ``gram_stats`` (shift by the pilot mean, scale by sqrt(w), one rank-k
    update per block); the column offset of 1e4 makes the pilot shift matter.
    """
    import l2reg.objective.gram as gram

    X, y = _data(rng, n=50, p=4)
    X = (X + 1e4).astype(dtype)
    y = y.astype(dtype)
    weights = rng.uniform(0.2, 3.0, X.shape[0])
    coef, intercept = ridge_reference(
        X.astype(np.float64), y.astype(np.float64), 0.1, sample_weight=weights
    )
    monkeypatch.setitem(gram.gram_stats.__kwdefaults__, "block_rows", block_rows)
    rows_seen = _count_syrk_rows(monkeypatch)
    model = Ridge(alpha=0.1, solver="cholesky").fit(X, y, sample_weight=weights)
    rows = min(block_rows, X.shape[0])
    assert rows_seen, "the fit never reached the blocked Gram pass"
    assert max(rows_seen) == rows
    assert sum(rows_seen) % X.shape[0] == 0  # whole passes over X, each row once per pass
    tolerance = FLOAT32 if dtype == np.float32 else EXACT_F64
    assert_allclose(model.coef_, coef, rtol=tolerance)
    assert_allclose(model.intercept_, intercept, rtol=tolerance)


def test_large_offsets_do_not_cancel(rng):
    """Columns with mean 1e6 and unit spread: the pilot shift keeps full accuracy."""
    X, y = _data(rng, n=60, p=4)
    shifted = X + 1e6
    assert_allclose(
        Ridge(alpha=0.1).fit(shifted, y).coef_, Ridge(alpha=0.1).fit(X, y).coef_, rtol=1e-8
    )
