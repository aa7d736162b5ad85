"""Data in natural units: the normal equations stay on their fast path, and stay exact.

Cholesky's accuracy depends on the *equilibrated* condition number
``cond(D^-1/2 H D^-1/2)``, ``D = diag(H)`` (van der Sluis), which column units
do not change; the solvers judge and solve in that form
(:mod:`l2reg.solvers.direct`, :mod:`l2reg.objective.accuracy`).  Each case
here fell back to ``svd`` with a warning when the raw condition was used.

Accuracy is checked against the 50-digit closed form (``tests/_oracles.py``)
to ``max(EXACT_F64, C * cond_eq * eps)``, ``cond_eq`` computed here from the
data, in the equilibrated norm ``||D^1/2 (theta - theta*)|| / ||D^1/2 theta*||``
in which the perturbation bound holds; where that bound is below
``EXACT_F64`` the coefficients are also checked one by one to ``EXACT_F64``
(relative, or of the fit's scale in the column's units).
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests._oracles import ridge_reference
from tests._tolerances import EQUILIBRATED_CONSTANT, EXACT_F64

from l2reg import Ridge, SolverFallbackWarning
from l2reg.objective.accuracy import max_amplification

EPS = np.finfo(np.float64).eps


def survey(rng, n):
    """Income ~5e4 (sd 2e4), age ~40 (sd 12), a fraction ~0.5 (sd 0.1), a price ~1e6 (sd 3e5)."""
    X = np.column_stack(
        [
            rng.normal(5e4, 2e4, n),
            rng.normal(40, 12, n),
            rng.normal(0.5, 0.1, n),
            rng.normal(1e6, 3e5, n),
        ]
    )
    return X, X @ np.array([1e-3, 0.5, 10.0, 1e-5]) + rng.standard_normal(n)


def one_large_column(rng, n, p=6):
    """N(0, 1) features, one of them multiplied by 1e4."""
    X = rng.standard_normal((n, p))
    X[:, 2] *= 1e4
    return X, X @ rng.standard_normal(p) + rng.standard_normal(n)


def unscaled(rng, n, p=12):
    """Correlated columns with scales from 1e-4 to 1e6 and offsets of up to 5 scales."""
    scales = np.geomspace(1e-4, 1e6, p)
    latent = rng.standard_normal((n, p)) + 0.5 * rng.standard_normal((n, 1))
    X = (latent + rng.uniform(0, 5, p)) * scales
    return X, latent @ rng.standard_normal(p) + rng.standard_normal(n)


def macro_like(rng):
    """A stand-in for statsmodels' macrodata (203 quarters x 13 series), target real GDP.

    Same column kinds and scales: the year (~1984, so large offset), the quarter,
    GDP components ~1e3-1e4 on a common exponential trend, price indices ~100,
    money ~700, interest and unemployment rates ~5, population ~250 on a
    trend, inflation, and the real rate as the rounded difference of two
    other columns (nearly collinear, as in the original).
    """
    n = 203
    t = np.arange(n) / 4.0
    cycle = np.sin(2 * np.pi * t / 7.0)
    gdp = 2700 * np.exp(0.031 * t) * (1 + 0.02 * cycle + 0.005 * rng.standard_normal(n))
    tbilrate = np.clip(5 + 3 * np.sin(2 * np.pi * t / 11) + rng.standard_normal(n), 0.1, None)
    infl = 4 + 3 * np.sin(2 * np.pi * t / 13) + 2 * rng.standard_normal(n)
    X = np.column_stack(
        [
            1959 + np.floor(t),
            np.arange(n) % 4 + 1.0,
            0.64 * gdp * (1 + 0.01 * rng.standard_normal(n)),
            0.16 * gdp * (1 + 0.08 * cycle + 0.03 * rng.standard_normal(n)),
            460 + 11 * t + 15 * rng.standard_normal(n),
            0.72 * gdp * (1 + 0.01 * rng.standard_normal(n)),
            29 * np.exp(0.04 * t) * (1 + 0.003 * rng.standard_normal(n)),
            139 * np.exp(0.05 * t) * (1 + 0.02 * rng.standard_normal(n)),
            tbilrate,
            6 + 1.5 * cycle + 0.3 * rng.standard_normal(n),
            177 + 2.6 * t - 0.004 * t**2 + 0.05 * rng.standard_normal(n),
            infl,
            np.round(tbilrate - infl, 2),
        ]
    )
    return X, gdp


def equilibrated_condition(X, alpha, fit_intercept=True):
    """2-norm condition number of the equilibrated penalized Gram matrix, from the data."""
    Z = X - X.mean(axis=0) if fit_intercept else X
    H = Z.T @ Z + X.shape[0] * alpha * np.eye(X.shape[1])
    root = np.sqrt(np.diag(H))
    return np.linalg.cond(H / root[:, None] / root[None, :]), root


def fit_quietly(X, y, alpha, **kwargs):
    """Fit with SolverFallbackWarning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        return Ridge(alpha=alpha, **kwargs).fit(X, y)


def assert_accurate(model, X, y, alpha, **kwargs):
    """Coefficients and intercept against the 50-digit reference (see the module docstring)."""
    coef, intercept = ridge_reference(X, y, alpha, **kwargs)
    condition, root = equilibrated_condition(X, alpha, kwargs.get("fit_intercept", True))
    tol = max(EXACT_F64, EQUILIBRATED_CONSTANT * X.shape[1] * condition * EPS)
    error = np.linalg.norm(root * (model.coef_ - coef)) / np.linalg.norm(root * coef)
    assert error <= tol, f"equilibrated error {error:.1e} > {tol:.1e} (cond_eq {condition:.1e})"
    if tol == EXACT_F64:
        # One by one: 1e-10 relative, or 1e-10 of the fit's scale in the
        # column's own units (a coefficient that explains little has no
        # relative accuracy to claim).
        floor = EXACT_F64 * np.linalg.norm(root * coef) / root
        assert np.all(np.abs(model.coef_ - coef) <= EXACT_F64 * np.abs(coef) + floor)
    # The intercept y_mean - x_mean.theta inherits the coefficients' error
    # through the means, and the rounding of the residuals' scale std(y).
    scale = abs(intercept) + np.abs(X.mean(axis=0) * coef).sum() + y.std()
    assert abs(model.intercept_ - intercept) <= tol * scale


# ---------------------------------------------------------------- the cases, full size


@pytest.mark.parametrize("alpha", [1e-8, 1e-6, 1e-4, 1e-2])
def test_survey_units_take_cholesky(rng, alpha):
    X, y = survey(rng, 100_000)
    assert fit_quietly(X, y, alpha).solver_ == "cholesky"


@pytest.mark.parametrize("alpha", [1e-6, 1e-3, 1.0])
def test_one_large_column_takes_cholesky(rng, alpha):
    X, y = one_large_column(rng, 20_000)
    assert fit_quietly(X, y, alpha).solver_ == "cholesky"


# ---------------------------------------------------------------- against 50 digits


@pytest.mark.parametrize("alpha", [1e-8, 1e-4, 1e-2])
@pytest.mark.parametrize("case", [survey, one_large_column, unscaled])
def test_unscaled_designs_match_mpmath(rng, case, alpha):
    X, y = case(rng, 1000)
    model = fit_quietly(X, y, alpha)
    assert model.solver_ == "cholesky"
    assert_accurate(model, X, y, alpha)


@pytest.mark.parametrize("alpha", [1e-6, 1e-3, 0.1])
def test_macro_like_series(rng, alpha):
    """cholesky wherever the equilibrated condition fits the budget, and then accurate.

    LAPACK's 1-norm estimate may exceed the 2-norm condition computed here by
    up to a factor p, so cholesky is required only below ``budget / p``.
    """
    X, y = macro_like(rng)
    condition, _ = equilibrated_condition(X, alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SolverFallbackWarning)
        model = Ridge(alpha=alpha).fit(X, y)
    if condition * X.shape[1] < max_amplification(np.float64):
        assert model.solver_ == "cholesky" and not caught
    if model.solver_ == "cholesky":
        assert_accurate(model, X, y, alpha)
    else:
        assert condition > max_amplification(np.float64) / X.shape[1]


def test_column_units_do_not_change_the_solver(rng):
    """Rescaling columns by powers of ten from 1e-4 to 1e6 keeps cholesky and the answer.

    The penalty is in the columns' units, so alpha is kept negligible (1e-12
    of the smallest column variance) to compare the same least-squares problem.
    """
    X, y = one_large_column(rng, 500, p=8)
    X[:, 2] /= 1e4
    scales = 10.0 ** rng.integers(-4, 7, X.shape[1])
    alpha = 1e-12 * 1e-8
    reference = fit_quietly(X, y, alpha)
    scaled = fit_quietly(X * scales, y, alpha)
    assert reference.solver_ == scaled.solver_ == "cholesky"
    # In the original (unit-variance) columns the error bound is normwise.
    tol = 1e-9 * np.abs(reference.coef_).max()
    assert_allclose(scaled.coef_ * scales, reference.coef_, rtol=1e-9, atol=tol)
    assert_accurate(scaled, X * scales, y, alpha)


def test_ill_conditioned_in_any_units_still_falls_back(rng):
    """Two columns proportional to within 1e-7 (cond_eq ~1e14): svd in any units, warned.

    (Only the decision is checked: how exact svd is on such data is its own
    module's matter.)
    """
    X, y = survey(rng, 200)
    X = np.column_stack([X, X[:, 0] * 1e-3 * (1 + 1e-7 * rng.standard_normal(200))])
    alpha = 1e-20
    for units in (np.ones(5), 10.0 ** rng.integers(-4, 7, 5)):
        condition, _ = equilibrated_condition(X * units, alpha)
        assert condition > 1e2 * max_amplification(np.float64)  # the case is what it claims
        with pytest.warns(SolverFallbackWarning, match="ill-conditioned"):
            model = Ridge(alpha=alpha, solver="cholesky").fit(X * units, y)
        assert model.solver_ == "svd"


def test_kernel_rows_in_different_units(rng):
    """p > n, rows scaled by 1e-4..1e4: the n x n system is equilibrated too.

    Without an intercept (centering would mix the rows' scales); the raw
    kernel's condition is checked to be far beyond the budget.
    """
    n, p = 30, 60
    X = rng.standard_normal((n, p)) * 10.0 ** rng.uniform(-4, 4, (n, 1))
    y = rng.standard_normal(n)
    alpha = 1e-10
    K = X @ X.T + n * alpha * np.eye(n)
    assert np.linalg.cond(K) > 1e2 * max_amplification(np.float64)
    model = fit_quietly(X, y, alpha, fit_intercept=False)
    assert model.solver_ == "kernel"
    coef, _ = ridge_reference(X, y, alpha, fit_intercept=False)
    root = np.sqrt(np.diag(K))
    condition = np.linalg.cond(K / root[:, None] / root[None, :])
    tol = max(EXACT_F64, EQUILIBRATED_CONSTANT * n * condition * EPS)
    assert_allclose(model.coef_, coef, rtol=tol, atol=tol * np.abs(coef).max())


def test_centering_loss_over_the_budget_recomputes_exactly(monkeypatch):
    """Offsets of six sd (centering loss ~38, within its share) on a design with
    cond_eq ~1e7: together over the budget, so the statistics are recomputed
    exactly centered (one more pass) and cholesky stays, accurate to cond_eq * eps.

    The window (cond_eq between budget / 38 and budget / p) is narrow, so the
    case is one fixed draw, checked below to be what it claims.
    """
    rng = np.random.default_rng(0)
    from tests._oracles import design_with_spectrum

    import l2reg.solvers.direct as direct
    from l2reg.objective.gram import gram_stats

    n, p = 2000, 5
    X = design_with_spectrum(rng, n, np.geomspace(1, 1 / 3000, p) * np.sqrt(n))
    X = (X - X.mean(axis=0)) / X.std(axis=0) + 6.0
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    loss = gram_stats(X, y[:, None]).centering_loss(ridge=n * 1e-12, targets=False)
    condition, _ = equilibrated_condition(X, 1e-12)
    budget = max_amplification(np.float64)
    assert loss * condition > budget and condition * p < budget  # the case is what it claims
    calls = []
    original = direct.gram_stats_about
    monkeypatch.setattr(
        direct, "gram_stats_about", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    model = fit_quietly(X, y, 1e-12)
    assert model.solver_ == "cholesky" and len(calls) == 1
    assert_accurate(model, X, y, 1e-12)


def test_kernel_centering_loss_over_the_budget_recomputes_exactly(monkeypatch):
    """p > n with offsets of a few spreads (after-the-fact loss ~33) and a centered
    design whose spectrum spans 1 to 4e-4 (cond_eq ~4e6, the kernel's null direction
    along the ones vector left out, as the solver leaves it out): together over the
    budget, so the kernel is formed again exactly centered and the kernel solver
    stays, accurate to cond_eq * eps.  One fixed draw, checked below."""
    import l2reg.solvers.direct as direct
    from l2reg.objective.kernel import design_kernel

    rng = np.random.default_rng(1)
    n, p, alpha = 40, 80, 1e-12
    # A centered design of chosen singular values: U orthogonal to the ones vector.
    basis, _ = np.linalg.qr(np.hstack([np.ones((n, 1)), rng.standard_normal((n, n - 1))]))
    U = basis[:, 1:]
    V, _ = np.linalg.qr(rng.standard_normal((p, n - 1)))
    Xc = (U * np.geomspace(1.0, 4e-4, n - 1)) @ V.T
    Xc *= np.sqrt(25.0 * p / 6.0 / np.mean(np.sum(Xc**2, axis=1)))  # loss ~33 at worst
    X = Xc + 5.0
    y = rng.standard_normal(n)
    _, loss, exact = design_kernel(X, centered=True)
    H = Xc @ Xc.T + n * alpha * np.eye(n)
    H += np.mean(np.diag(H)) * np.full((n, n), 1.0 / n)  # the null direction, deflated
    root = np.sqrt(np.diag(H))
    condition = np.linalg.cond(H / root[:, None] / root[None, :])
    budget = max_amplification(np.float64)
    assert not exact and loss * condition > budget and 4 * condition < budget
    calls = []
    original = direct.exact_design_kernel
    monkeypatch.setattr(
        direct, "exact_design_kernel", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    model = fit_quietly(X, y, alpha)
    assert model.solver_ == "kernel" and len(calls) == 1
    coef, _ = ridge_reference(X, y, alpha)
    tol = EQUILIBRATED_CONSTANT * n * condition * EPS
    assert np.linalg.norm(model.coef_ - coef) <= tol * np.linalg.norm(coef)


def test_kernel_null_direction_does_not_spend_the_budget(monkeypatch):
    """A profiled intercept leaves the centered kernel singular along sqrt(w); at a
    small alpha that direction alone made the condition estimate break the budget,
    and the kernel was recomputed exactly (3x the fit).  It costs no accuracy
    (theta = A^T beta, A^T sqrt(w) = 0): the one-product kernel must be kept, and
    the coefficients still solve the normal equations."""
    from l2reg.solvers import direct

    rng = np.random.default_rng(0)
    n, p = 200, 2_000
    X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)  # offsets: centering loss ~2
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)

    def refuse(*args, **kwargs):
        raise AssertionError("the exactly centered kernel was recomputed")

    monkeypatch.setattr(direct, "exact_design_kernel", refuse)
    for weights in (None, w):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = Ridge(alpha=1e-9).fit(X, y, sample_weight=weights)
        assert model.solver_ == "kernel"
        assert model.certificate_.relative_gradient_norm < 1e-10
