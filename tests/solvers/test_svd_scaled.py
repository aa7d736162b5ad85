"""The ``svd`` solver on data in natural units: its accuracy and rank do not depend on units.

The solver works on the column-equilibrated problem (``R D`` with ``D`` powers
of two from the column norms, :func:`l2reg.solvers.svd._tall_factors`), so
its rounding is relative to each column's own size.  References are the
50-digit closed form (``tests/_oracles.py``); errors are measured in the
equilibrated norm ``||root * (theta - theta*)|| / ||root * theta*||``
(``root``: the square roots of the penalized Gram matrix's diagonal), the norm
in which a column-equilibrated perturbation bound holds, and must be within
``max(EXACT_F64, CONDITION_CONSTANT * cond_eq * eps)``, with ``cond_eq`` the
2-norm condition number of the column-equilibrated augmented matrix
``[A; sqrt(W alpha) I]`` (the square root of the equilibrated Gram's).

Before this was done, the SVD of the unscaled R dropped, by
:func:`numpy.linalg.lstsq`'s cutoff ``n * eps * s_max``, every direction
whose singular value fell below it, however well alpha determined it: a
column in units 1e-4 next to one of standard deviation 5e9 (a national
account in dollars): in :func:`test_natural_units_fallback_matches_mpmath`
equilibrated errors of 30, 2e-2 and 2e-4 at alpha 1e-10, 1e-8 and 1e-6 (now
1e-16..6e-15); with columns rescaled by 2^-40..2^40 the rank read 3 of 5 and
the errors were 1.0 (alpha=0), 0.39 (1e-10), 3e-5 (1e-6), 4e-9 (1e-2); now
the rescaled solution is the same to the last bit.  With the largest column's
standard deviation at 3e5 (a price) the refinement already made up for it
(errors <= 4e-15 before and after).
"""

import warnings

import numpy as np
import pytest
import tests._oracles
from tests._oracles import ridge_reference
from tests._tolerances import EXACT_F64

from l2reg import Ridge, SolverFallbackWarning
from l2reg.objective.problem import Problem
from l2reg.solvers.svd import SVDSolver, _column_scale

EPS = np.finfo(np.float64).eps
#: The equilibration is by powers of two, within a factor 2 of unit column
#: norms (so the solver's scaled condition is within 2 of ``cond_eq`` as
#: computed here, with the exact norms), and the refined solution's error is
#: the rounding of the double-double gradient amplified by ``cond_eq`` (times
#: a small constant for the final float64 rounding of ``theta``); 4 covers both.
CONDITION_CONSTANT = 4.0
#: Powers of two that rescale the columns (exactly) by 2^-40..2^40, about 1e-12..1e12.
EXPONENTS = np.array([-40, 13, 0, 37, -22])


def natural_units(rng, n, *, largest_sd, delta=1e-6):
    """A fraction in units of 1e-4 (sd 1e-5), an age, an income, a large series
    with standard deviation ``largest_sd`` and a near copy of it (relative
    difference ``delta``: the equilibrated condition is ~1/delta, so the
    normal equations fall back to ``svd`` at every alpha below 1e-2).
    """
    z = rng.standard_normal((n, 4)) + 0.3 * rng.standard_normal((n, 1))
    X = np.column_stack(
        [
            (0.5 + 0.1 * z[:, 0]) * 1e-4,
            40.0 + 12.0 * z[:, 1],
            5e4 + 2e4 * z[:, 2],
            4 * largest_sd + largest_sd * z[:, 3],
            1.7 * (4 * largest_sd + largest_sd * (z[:, 3] + delta * rng.standard_normal(n))),
        ]
    )
    y = z @ np.array([1.0, 0.5, -0.3, 0.8]) + 0.5 * rng.standard_normal(n)
    return X, y


def equilibrated_condition(X, alpha, *, fit_intercept=True):
    """``(cond_eq, root)``: see the module docstring; from the data, in float64."""
    Z = X - X.mean(axis=0) if fit_intercept else X
    H = Z.T @ Z + X.shape[0] * alpha * np.eye(X.shape[1])
    root = np.sqrt(np.diag(H))
    return float(np.sqrt(np.linalg.cond(H / root[:, None] / root[None, :]))), root


def tolerance(condition):
    return max(EXACT_F64, CONDITION_CONSTANT * condition * EPS)


def equilibrated_error(coef, reference, root):
    return np.linalg.norm(root * (coef - reference)) / np.linalg.norm(root * reference)


def solve(X, y, alpha, **options):
    """The solver's own result (its message carries the rank)."""
    Y = y.reshape(len(y), -1)
    problem = Problem(
        X=X,
        Y=Y,
        sample_weight=None,
        alpha=np.full(Y.shape[1], float(alpha)),
        fit_intercept=options.get("fit_intercept", True),
        penalize_intercept=options.get("penalize_intercept", False),
    )
    return SVDSolver().solve(problem)


@pytest.mark.parametrize("alpha", [1e-10, 1e-8, 1e-6, 1e-4, 1e-2])
@pytest.mark.parametrize("largest_sd", [3e5, 5e9], ids=["price", "national-account"])
def test_natural_units_fallback_matches_mpmath(rng, alpha, largest_sd):
    X, y = natural_units(rng, 3000, largest_sd=largest_sd)
    with pytest.warns(SolverFallbackWarning, match="ill-conditioned"):
        model = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
    assert model.solver_ == "svd"
    coef, intercept = ridge_reference(X, y, alpha)
    condition, root = equilibrated_condition(X, alpha)
    assert condition > 1e5  # truly ill-conditioned: the case is what it claims
    error = equilibrated_error(model.coef_, coef, root)
    assert error <= tolerance(condition), f"{error:.1e} (cond_eq {condition:.1e})"
    # The intercept y_mean - x_mean . theta inherits the coefficients' error through the means.
    scale = abs(intercept) + np.abs(X.mean(axis=0) * coef).sum() + y.std()
    assert abs(model.intercept_ - intercept) <= tolerance(condition) * scale


@pytest.mark.parametrize("variant", [{"penalize_intercept": True}, {"fit_intercept": False}])
def test_natural_units_without_centering(rng, variant):
    """The penalized intercept's column of ones and the uncentered columns are equilibrated too."""
    X, y = natural_units(rng, 1000, largest_sd=5e9)
    alpha = 1e-8
    result = solve(X, y, alpha, **variant)
    coef, intercept = ridge_reference(X, y, alpha, **variant)
    fit_intercept = variant.get("fit_intercept", True)
    design = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    reference = np.append(coef, intercept) if fit_intercept else coef
    estimate = np.append(result.coef[0], result.intercept) if fit_intercept else result.coef[0]
    H = design.T @ design + len(X) * alpha * np.eye(design.shape[1])
    root = np.sqrt(np.diag(H))
    condition = float(np.sqrt(np.linalg.cond(H / root[:, None] / root[None, :])))
    assert equilibrated_error(estimate, reference, root) <= tolerance(condition)


def test_power_of_two_rescaling_gives_the_same_least_squares_solution(rng):
    """alpha=0, full rank in equilibrated units: rescaled columns, rescaled coefficients.

    Column units 2^-40..2^40 change nothing but the units of theta; the raw
    lstsq cutoff (n * eps * s_max, ~1e-10 of the largest column) would drop the
    columns made smallest.
    """
    X, y = natural_units(rng, 1000, largest_sd=3e5)
    units = np.ldexp(1.0, EXPONENTS)
    base = solve(X, y, 0.0)
    scaled = solve(X * units, y, 0.0)
    condition, root = equilibrated_condition(X, 0.0)
    assert equilibrated_error(scaled.coef[0] * units, base.coef[0], root) <= condition * EPS
    coef, _ = ridge_reference(X, y, 0.0)
    assert equilibrated_error(base.coef[0], coef, root) <= tolerance(condition)
    assert base.message.split(";")[0] == scaled.message.split(";")[0] == "rank 5 of 5"


@pytest.mark.parametrize("alpha", [1e-10, 1e-6, 1e-2])
def test_power_of_two_rescaling_keeps_the_accuracy(rng, monkeypatch, alpha):
    """alpha > 0 penalizes in the columns' units, so rescaled columns pose another
    problem; each is solved to its own equilibrated condition, with the same rank.

    The rescaled Gram matrix spans ~1e100 and is not equilibrated in the
    reference's LU: 120 digits keep the reference exact.
    """
    monkeypatch.setattr(tests._oracles, "DIGITS", 120)
    X, y = natural_units(rng, 1000, largest_sd=3e5)
    units = np.ldexp(1.0, EXPONENTS)
    messages = []
    for design in (X, X * units):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SolverFallbackWarning)
            model = Ridge(alpha=alpha, solver="svd").fit(design, y)
        coef, _ = ridge_reference(design, y, alpha)
        condition, root = equilibrated_condition(design, alpha)
        assert equilibrated_error(model.coef_, coef, root) <= tolerance(condition)
        messages.append(solve(design, y, alpha).message.split(";")[0])
    assert messages[0] == messages[1] == "rank 5 of 5"


def test_rank_deficient_alpha_zero_keeps_lstsq_in_the_columns_units(rng):
    """An exactly dependent column: the minimum-norm solution of numpy's lstsq,
    norm and cutoff in the columns' own units (as documented)."""
    n = 500
    base = rng.standard_normal((n, 3))
    X = np.column_stack([base, base[:, 0] + base[:, 1]]) * np.array([1e-2, 1.0, 1e3, 1.0]) + 3.0
    y = rng.standard_normal(n)
    result = solve(X, y, 0.0)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    expected = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    np.testing.assert_allclose(
        result.coef[0], expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max()
    )
    assert result.message.startswith("rank 3 of 4")


def test_column_scale_is_exact_powers_of_two(rng):
    R = np.triu(rng.standard_normal((6, 6))) * 10.0 ** rng.integers(-12, 12, 6)
    R[:, 4] = 0.0
    scale = _column_scale(R)
    mantissa, _ = np.frexp(scale)
    assert np.all(mantissa == 0.5)  # powers of two: the scaling rounds nothing
    norms = np.linalg.norm(R * scale, axis=0)
    assert np.all((norms[[0, 1, 2, 3, 5]] > 0.5) & (norms[[0, 1, 2, 3, 5]] <= 1.0))
    assert scale[4] == 1.0


@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (5, 5), (6, 5)])
def test_centered_square_designs_have_rank_at_most_n_minus_one(shape):
    """Centering leaves n - 1 dimensions: the n-th singular value is rounding, which
    equilibration can lift above lstsq's small cutoff (max(n, m) * eps with n tiny);
    the rank is capped, and alpha=0 gives the minimum-norm solution (as pinv)."""
    n, p = shape
    for seed in range(100):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3, p) + rng.standard_normal(p)
        y = X @ rng.standard_normal(p) + rng.standard_normal(n)
        result = solve(X, y, 0.0)
        expected = np.linalg.pinv(X - X.mean(axis=0)) @ (y - y.mean())
        np.testing.assert_allclose(
            result.coef[0], expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max()
        )
        assert int(result.message.split()[1]) <= n - 1


def test_targets_share_a_factor_per_alpha(rng):
    """Per-target alphas, two equal (one factor for both), one zero: each target as
    exact as its own fit and its own 50-digit reference."""
    X, y = natural_units(rng, 1000, largest_sd=5e9)
    Y = np.column_stack([y, -2 * y + 1, y + rng.standard_normal(len(y)), y[::-1]])
    alphas = np.array([1e-8, 1e-8, 0.0, 1e-3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        model = Ridge(alpha=alphas, solver="svd").fit(X, Y)
    for target, alpha in enumerate(alphas):
        coef, _ = ridge_reference(X, Y[:, target], alpha)
        condition, root = equilibrated_condition(X, alpha)
        assert equilibrated_error(model.coef_[target], coef, root) <= tolerance(condition)
        single = solve(X, Y[:, target], alpha).coef[0]
        assert equilibrated_error(model.coef_[target], single, root) <= condition * EPS
