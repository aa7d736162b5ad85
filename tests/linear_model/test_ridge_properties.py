"""Properties of the ridge solution, each derived from the definition of the objective."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from l2reg import Ridge
from l2reg.solvers import get_solver, registered_solvers

# The direct solvers, exact to rounding; the iterative ones ("cg") stop at a
# tolerance and are checked against these in tests/solvers/test_krylov.py.
SOLVERS = tuple(
    s for s in registered_solvers("squared") if not get_solver(s).capabilities.iterative
)
# Invariances hold exactly in exact arithmetic; float64 direct solves of these
# well-conditioned problems agree to ~1e-13, so 1e-9 leaves ample room.
INVARIANCE_RTOL = 1e-9

seeds = st.integers(0, 2**32 - 1)
shapes = st.tuples(st.integers(2, 30), st.integers(1, 12))
alphas = st.floats(1e-3, 1e2)
solvers = st.sampled_from(SOLVERS)


def _problem(seed, shape):
    rng = np.random.default_rng(seed)
    n, p = shape
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3, p) + rng.standard_normal(p)
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    return rng, X, y


@given(seeds, shapes, solvers)
def test_coefficient_norm_decreases_in_alpha(seed, shape, solver):
    _, X, y = _problem(seed, shape)
    grid = np.geomspace(1e-3, 1e3, 12)
    norms = [np.linalg.norm(Ridge(alpha=a, solver=solver).fit(X, y).coef_) for a in grid]
    # ||theta(alpha)||^2 = sum_j (s_j c_j / (s_j^2 + W alpha))^2 strictly decreases
    # unless X^T y = 0; allow rounding-level ties.
    assert np.all(np.diff(norms) <= 1e-12 * norms[0])


@given(seeds, shapes, alphas, solvers)
def test_no_exact_zeros(seed, shape, alpha, solver):
    _, X, y = _problem(seed, shape)
    assert np.all(Ridge(alpha=alpha, solver=solver).fit(X, y).coef_ != 0)


@given(seeds, shapes)
def test_alpha_to_zero_is_min_norm_least_squares(seed, shape):
    _, X, y = _problem(seed, shape)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    min_norm = np.linalg.pinv(Xc) @ yc
    exact = Ridge(alpha=0.0).fit(X, y)
    assert_allclose(exact.coef_, min_norm, rtol=1e-7, atol=1e-9 * np.abs(min_norm).max())
    # The limit from above: theta(alpha) -> min-norm solution as alpha -> 0.
    s = np.linalg.svd(Xc, compute_uv=False)
    gap = s[s > 1e-8 * s[0]][-1] ** 2 / X.shape[0]  # smallest nonzero eigenvalue / W
    near = Ridge(alpha=1e-8 * gap, solver="svd").fit(X, y)
    assert_allclose(near.coef_, min_norm, rtol=1e-6, atol=1e-6 * np.abs(min_norm).max())


@given(seeds, shapes, alphas, solvers)
def test_row_permutation_invariance(seed, shape, alpha, solver):
    rng, X, y = _problem(seed, shape)
    weights = rng.uniform(0.1, 2, X.shape[0])
    order = rng.permutation(X.shape[0])
    a = Ridge(alpha=alpha, solver=solver).fit(X, y, sample_weight=weights)
    b = Ridge(alpha=alpha, solver=solver).fit(X[order], y[order], sample_weight=weights[order])
    assert_allclose(a.coef_, b.coef_, rtol=INVARIANCE_RTOL, atol=1e-12)
    assert_allclose(a.intercept_, b.intercept_, rtol=INVARIANCE_RTOL, atol=1e-12)


@given(seeds, shapes, alphas, solvers)
def test_integer_weights_equal_repeated_rows(seed, shape, alpha, solver):
    rng, X, y = _problem(seed, shape)
    counts = rng.integers(0, 4, X.shape[0])
    counts[0] = max(counts[0], 1)
    weighted = Ridge(alpha=alpha, solver=solver).fit(X, y, sample_weight=counts)
    repeated = Ridge(alpha=alpha, solver=solver).fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts)
    )
    assert_allclose(weighted.coef_, repeated.coef_, rtol=INVARIANCE_RTOL, atol=1e-12)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=INVARIANCE_RTOL, atol=1e-12)


@given(seeds, shapes, alphas, st.floats(1e-3, 1e3), solvers)
def test_scaling_all_weights_changes_nothing(seed, shape, alpha, factor, solver):
    rng, X, y = _problem(seed, shape)
    weights = rng.uniform(0.1, 2, X.shape[0])
    a = Ridge(alpha=alpha, solver=solver).fit(X, y, sample_weight=weights)
    b = Ridge(alpha=alpha, solver=solver).fit(X, y, sample_weight=factor * weights)
    assert_allclose(a.coef_, b.coef_, rtol=INVARIANCE_RTOL, atol=1e-12)


@given(seeds, shapes, alphas, st.floats(-1e3, 1e3), solvers)
def test_shifting_y_moves_only_the_intercept(seed, shape, alpha, shift, solver):
    _, X, y = _problem(seed, shape)
    a = Ridge(alpha=alpha, solver=solver).fit(X, y)
    b = Ridge(alpha=alpha, solver=solver).fit(X, y + shift)
    scale = np.abs(a.coef_).max() + 1
    assert_allclose(a.coef_, b.coef_, rtol=INVARIANCE_RTOL, atol=1e-10 * scale * (1 + abs(shift)))
    assert_allclose(b.intercept_ - a.intercept_, shift, rtol=1e-9, atol=1e-9 * scale)


@given(seeds, shapes, alphas, solvers)
def test_column_permutation_permutes_coefficients(seed, shape, alpha, solver):
    rng, X, y = _problem(seed, shape)
    order = rng.permutation(X.shape[1])
    a = Ridge(alpha=alpha, solver=solver).fit(X, y)
    b = Ridge(alpha=alpha, solver=solver).fit(X[:, order], y)
    assert_allclose(b.coef_, a.coef_[order], rtol=INVARIANCE_RTOL, atol=1e-12)
