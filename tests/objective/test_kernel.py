"""The n x n kernel of the design (p > n): exact centering, the pilot, the reject path."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests._oracles import ridge_reference
from tests._tolerances import EXACT_F64, STATS_F64

import l2reg.objective.kernel as kernel
from l2reg import Ridge
from l2reg.objective.accuracy import CENTERING_SHARE
from l2reg.objective.kernel import design_kernel, kernel_matrix

EPS = np.finfo(np.float64).eps


class Spy:
    """Counts calls to a module function and passes them through."""

    def __init__(self, monkeypatch, module, name):
        self.calls = 0
        original = getattr(module, name)

        def spy(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)


def reference_kernel(X, w, centered, ones_column):
    """The design's kernel by plain NumPy on an explicitly built design (float64)."""
    mean = w @ X / w.sum() if centered else np.zeros(X.shape[1])
    A = X - mean
    if ones_column:
        A = np.column_stack([A, np.ones(X.shape[0])])
    A = A * np.sqrt(w)[:, None]
    return A @ A.T


def relative_error(K, reference):
    root = np.sqrt(np.diag(reference))
    return float(np.max(np.abs(K - reference) / root[:, None] / root[None, :]))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("mode", ["centered", "none", "penalized"])
def test_design_kernel_matches_numpy(rng, order, weighted, mode, monkeypatch):
    """Both routes (after the fact, and the exact blocked pass with 3-column blocks)."""
    X = np.asarray(rng.standard_normal((30, 50)) + 2.0, order=order)
    w = rng.uniform(0.2, 2.0, 30) if weighted else np.ones(30)
    options = {"centered": mode == "centered", "ones_column": mode == "penalized"}
    expected = reference_kernel(X, w, **options)
    fast, loss, _ = design_kernel(X, w if weighted else None, **options)
    assert 1.0 <= loss <= CENTERING_SHARE
    monkeypatch.setattr(kernel, "KERNEL_BLOCK_COLUMNS", 3)
    exact = kernel.exact_design_kernel(X, w if weighted else None, **options)
    for K in (fast, exact):
        assert_allclose(K, expected, rtol=STATS_F64, atol=STATS_F64 * np.abs(expected).max())


def test_float32_kernel_takes_the_exact_pass(rng):
    X = (rng.standard_normal((20, 40)) + 3).astype(np.float32)
    K, loss, exact = design_kernel(X, centered=True)
    expected = reference_kernel(X.astype(np.float64), np.ones(20), True, False)
    assert K.dtype == np.float64 and loss == 1.0
    assert_allclose(K, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_kernel_matrix_shift_and_scale(rng):
    X = rng.standard_normal((10, 7))
    shift = rng.standard_normal(7)
    root = rng.uniform(0.5, 2, 10)
    A = (X - shift) * root[:, None]
    assert_allclose(kernel_matrix(X, shift, sqrt_weight=root), A @ A.T, rtol=1e-13, atol=1e-13)


def test_offset_screened_before_the_kernel(rng, monkeypatch):
    """X + 1e8: the pilot sends it straight to the exactly centered pass (one n x n
    product, not two)."""
    Z = np.round(rng.standard_normal((300, 400)) * 32) / 8
    X = Z + 1e8  # exact: multiples of 1/8 near 1e8
    uncentered = Spy(monkeypatch, kernel, "uncentered_kernel")
    exact = Spy(monkeypatch, kernel, "kernel_matrix")
    K, loss, is_exact = design_kernel(X, centered=True)
    assert (uncentered.calls, exact.calls, loss, is_exact) == (0, 1, 1.0, True)
    Zc = Z - Z.mean(axis=0)
    assert relative_error(K, Zc @ Zc.T) < 1e3 * EPS


def test_kernel_rejected_after_the_fact(rng, monkeypatch):
    """The pilot's rows spread widely, the others hardly: the pilot passes, the kernel
    centered after the fact cancels ~1e4 on the tight rows, is rejected, and the exact
    pass gives the right kernel."""
    n, p = 400, 500
    Z = rng.standard_normal((n, p))
    Z[kernel.PILOT_ROWS :] *= 0.01
    X = Z + 1.0
    assert kernel._pilot_loss(X, np.ones(n)) < kernel.PILOT_SHARE
    uncentered = Spy(monkeypatch, kernel, "uncentered_kernel")
    exact = Spy(monkeypatch, kernel, "kernel_matrix")
    K, loss, is_exact = design_kernel(X, centered=True)
    assert (uncentered.calls, exact.calls, loss, is_exact) == (1, 1, 1.0, True)
    expected = reference_kernel(X, np.ones(n), True, False)
    assert relative_error(K, expected) < 1e3 * EPS


def test_kernel_solver_with_offsets_of_1e8(rng):
    """p > n, columns at 1e8 with unit spread: the kernel solver against 50 digits."""
    n, p = 25, 40
    X = np.round(rng.standard_normal((n, p)) * 8) / 8 + 1e8
    y = (X - 1e8) @ rng.standard_normal(p) + rng.standard_normal(n) + 5.0
    model = Ridge(alpha=0.1).fit(X, y)
    assert model.solver_ == "kernel"
    coef, intercept = ridge_reference(X, y, 0.1)
    assert_allclose(model.coef_, coef, rtol=EXACT_F64, atol=EXACT_F64 * np.abs(coef).max())
    # The intercept is y_mean - x_mean.theta with x_mean ~1e8: its error is that
    # of the coefficients times the offsets.
    assert abs(model.intercept_ - intercept) <= EXACT_F64 * 1e8 * np.abs(coef).sum()


def test_small_offsets_keep_the_one_product(rng, monkeypatch):
    """Offsets of two spreads: one ``?syrk`` over X as it is, its loss on the record."""
    X = rng.standard_normal((300, 400)) + 2.0
    uncentered = Spy(monkeypatch, kernel, "uncentered_kernel")
    exact = Spy(monkeypatch, kernel, "kernel_matrix")
    K, loss, is_exact = design_kernel(X, centered=True)
    assert (uncentered.calls, exact.calls, is_exact) == (1, 0, False)
    assert 2.0 < loss < CENTERING_SHARE  # ||x||^2 / ||x - m||^2 ~ (4 + 1) / 1
    expected = reference_kernel(X, np.ones(300), True, False)
    assert relative_error(K, expected) < loss * 1e3 * EPS
