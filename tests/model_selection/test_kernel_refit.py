"""The kernel form's refit reuses the decomposition's kernel (p > n).

``RidgeCV`` refits the chosen alpha through ``Ridge``'s kernel solver, and
``ridge_path`` re-solves its ill-conditioned alphas with it.  Both already
formed the n x n design kernel for their eigendecomposition (an O(n^2 p)
pass over X, ~1 s on 2,000 x 20,000); :meth:`Problem.with_kernel` hands it to
the solver, which then makes no kernel pass of its own.  These tests count
the kernel passes in every mode and hold the results to ``Ridge``'s and to a
50-digit reference (issue 11, items 2 and 3).
"""

import sys
import warnings

import numpy as np
import pytest

from _oracles import ridge_reference
from _tolerances import CERTIFICATE_F64, EXACT_F64, FLOAT32
from l2reg import Ridge
from l2reg.model_selection import RidgeCV, ridge_path
from l2reg.objective import kernel as kernel_module
from l2reg.objective.kernel import design_kernel, exact_design_kernel
from l2reg.objective.problem import Problem
from l2reg.solvers import get_solver

#: RidgeCV's refit against Ridge(alpha_) on the same data.  Both solve the same
#: dual system; their kernels differ only in rounding (the decomposition's is
#: centered exactly, Ridge's after the fact when the offsets allow), which the
#: well-conditioned systems here (cond(K + lam I) <= ~1e3) turn into ~1e-14.
REFIT_AGREE = 1e-12
#: Functions that form an n x n kernel from X: each call is one O(n^2 p) pass.
KERNEL_PASSES = ("kernel_matrix", "uncentered_kernel")
MODES = {
    "centered": dict(fit_intercept=True, penalize_intercept=False),
    "none": dict(fit_intercept=False, penalize_intercept=False),
    "penalized": dict(fit_intercept=True, penalize_intercept=True),
}
CVS = [None, "gcv", "evidence", 3]


@pytest.fixture
def kernel_passes(monkeypatch):
    """Record every kernel pass, wherever l2reg imported the functions that make one."""
    calls = []
    originals = {name: getattr(kernel_module, name) for name in KERNEL_PASSES}

    def spy(name):
        def counted(*args, **kwargs):
            calls.append(name)
            return originals[name](*args, **kwargs)

        return counted

    for module in list(sys.modules.values()):
        if not getattr(module, "__name__", "").startswith("l2reg"):
            continue
        for name, original in originals.items():
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, spy(name))
    return calls


def _wide(rng, n=30, p=90, offset=5.0):
    """p > n with column scales over two decades and an offset."""
    X = rng.standard_normal((n, p)) * np.geomspace(1.0, 1e2, p) + offset
    y = X @ rng.standard_normal(p) / np.sqrt(p) + rng.standard_normal(n)
    return X, y


def _relative(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def _intercept_scale(X, coef, intercept):
    """``b = y_mean - x_mean.theta`` inherits theta's error times the column means."""
    return abs(intercept) + float(np.abs(X.mean(axis=0)) @ np.abs(coef))


def test_the_spy_sees_a_kernel_pass(rng, kernel_passes):
    """Ridge itself forms its kernel: one pass (so the counts below can fail)."""
    X, y = _wide(rng)
    Ridge(1e-2).fit(X, y)
    assert len(kernel_passes) == 1


@pytest.mark.parametrize("cv", CVS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("weighted", [False, True])
def test_ridgecv_refit_makes_no_second_kernel_pass(rng, kernel_passes, cv, mode, weighted):
    X, y = _wide(rng)
    w = rng.uniform(0.5, 2.0, X.shape[0]) if weighted else None
    model = RidgeCV(np.logspace(-3, 2, 6), cv=cv, **MODES[mode]).fit(X, y, sample_weight=w)
    assert model.solver_ == "kernel"
    assert len(kernel_passes) == 1, kernel_passes  # the decomposition's (or k-fold's shared)
    ridge = Ridge(model.alpha_, **MODES[mode]).fit(X, y, sample_weight=w)
    assert _relative(model.coef_, ridge.coef_) <= REFIT_AGREE
    assert abs(model.intercept_ - ridge.intercept_) <= REFIT_AGREE * _intercept_scale(
        X, ridge.coef_, ridge.intercept_
    )
    assert model.certificate_.relative_gradient_norm < CERTIFICATE_F64
    np.testing.assert_allclose(
        model.certificate_.relative_gradient_norm,
        ridge.certificate_.relative_gradient_norm,
        atol=CERTIFICATE_F64,
    )


def test_ridgecv_refit_per_target_and_zero_weights(rng, kernel_passes):
    """Two targets at their own alphas, and rows of zero weight (which the
    weighted kernel zeroes): still one kernel pass, still Ridge's fits."""
    X, y = _wide(rng)
    Y = np.column_stack([y, rng.standard_normal(X.shape[0])])
    w = rng.uniform(0.5, 2.0, X.shape[0])
    w[:4] = 0.0
    model = RidgeCV(np.logspace(-3, 3, 8), alpha_per_target=True).fit(X, Y, sample_weight=w)
    assert len(kernel_passes) == 1
    ridge = Ridge(model.alpha_).fit(X, Y, sample_weight=w)
    assert _relative(model.coef_, ridge.coef_) <= REFIT_AGREE
    for t in range(2):
        assert abs(model.intercept_[t] - ridge.intercept_[t]) <= REFIT_AGREE * _intercept_scale(
            X, ridge.coef_[t], ridge.intercept_[t]
        )


def test_ridgecv_refit_float32_uses_the_float64_kernel(rng, kernel_passes):
    """float32 X: the decomposition's kernel is float64, and the refit keeps it
    (Ridge forms a float32 one), so the two agree to float32's accuracy."""
    X, y = _wide(rng)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    model = RidgeCV(np.logspace(-3, 2, 6)).fit(X32, y32)
    assert len(kernel_passes) == 1
    assert model.coef_.dtype == np.float32 and model.solver_ == "kernel"
    ridge = Ridge(model.alpha_).fit(X32, y32)
    assert _relative(model.coef_, ridge.coef_) <= FLOAT32
    reference, _ = ridge_reference(X32.astype(np.float64), y32, model.alpha_)
    assert _relative(model.coef_, reference) <= FLOAT32


@pytest.mark.parametrize("weighted", [False, True])
def test_large_offsets_refit_agrees_with_ridge_and_the_reference(rng, kernel_passes, weighted):
    """X + 1e8: the after-the-fact kernel would lose all digits, so Ridge forms
    the exactly centered one and shifts its product with X.  The refit reuses the
    decomposition's exactly centered kernel, measures the offsets itself and
    shifts its product too: Ridge's accuracy, and no second kernel pass."""
    n, p = 20, 45
    X = rng.standard_normal((n, p)) + 1e8
    y = (X - 1e8) @ rng.standard_normal(p) / np.sqrt(p) + rng.standard_normal(n) + 1e3
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    model = RidgeCV(np.logspace(-2, 2, 5)).fit(X, y, sample_weight=w)
    assert len(kernel_passes) == 1 and model.solver_ == "kernel"
    reference, intercept = ridge_reference(X, y, model.alpha_, sample_weight=w)
    assert _relative(model.coef_, reference) <= EXACT_F64
    assert abs(model.intercept_ - intercept) <= EXACT_F64 * _intercept_scale(
        X, reference, intercept
    )
    kernel_passes.clear()
    ridge = Ridge(model.alpha_).fit(X, y, sample_weight=w)
    assert kernel_passes == ["kernel_matrix"]  # Ridge's pilot sent it straight to the exact pass
    assert _relative(model.coef_, ridge.coef_) <= REFIT_AGREE
    assert model.certificate_.relative_gradient_norm < CERTIFICATE_F64


def test_offsets_measured_for_the_last_pass(rng):
    """The shifted product is taken exactly when Ridge's kernel would have been
    the exact one: offsets far beyond the centering share, not small ones."""
    solver = get_solver("kernel")
    X = rng.standard_normal((20, 45))
    centered = X - X.mean(axis=0)
    assert not solver._large_offsets(X, centered @ centered.T)
    assert not solver._large_offsets(X + 3.0, centered @ centered.T)
    assert solver._large_offsets(X + 1e4, centered @ centered.T)


def test_cached_kernel_with_a_loss_over_budget_is_recomputed_exactly(rng, monkeypatch):
    """A cached kernel centered after the fact carries its loss; when loss times
    the condition breaks the budget, the solver forms the exact kernel once, as
    it does for its own kernel."""
    X, y = _wide(rng, offset=0.0)
    problem = Problem(X=X, Y=y[:, None], sample_weight=None, alpha=np.array([1e-2]))
    K, loss, exact = design_kernel(X, centered=True)
    assert not exact
    calls = []

    def exact_kernel(*args, **kwargs):
        calls.append(1)
        return exact_design_kernel(*args, **kwargs)

    import l2reg.solvers.direct as direct

    monkeypatch.setattr(direct, "exact_design_kernel", exact_kernel)
    solver = get_solver("kernel")()
    kept = solver.solve(problem.with_kernel(K, centered=True, ones_column=False, loss=loss))
    assert calls == []
    # The same kernel declared to have lost 12 digits: over the budget of ~7.8.
    redone = solver.solve(problem.with_kernel(K, centered=True, ones_column=False, loss=1e12))
    assert calls == [1]
    ridge = Ridge(1e-2).fit(X, y)
    for result in (kept, redone):
        assert result.solver == "kernel"
        assert _relative(result.coef[0], ridge.coef_) <= REFIT_AGREE


@pytest.mark.parametrize("mode", MODES)
def test_ridge_path_resolves_with_the_decomposition_kernel(rng, kernel_passes, mode):
    """Nearly collinear rows (rank 3 plus 1e-4 noise): at cond(K + lam I) of
    1e6 and 1e5 the spectral formula is not trusted, the kernel solver is
    (within the budget of ~6.7e7); it re-solves them from the decomposition's
    kernel."""
    X = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 50)) + 2.0
    X += 1e-4 * rng.standard_normal((20, 50))
    y = rng.standard_normal(20)
    top = np.linalg.eigvalsh(X @ X.T).max()  # about the kernel's, whatever the mode
    alphas = [top / 1e6 / 20, top / 1e5 / 20, top / 1e2 / 20]
    path = ridge_path(X, y, alphas, **MODES[mode])
    assert path.form == "kernel"
    assert path.solvers[:2] == ("kernel", "kernel") and path.solvers[2] == "spectral"
    assert len(kernel_passes) == 1, kernel_passes
    for j, alpha in enumerate(alphas):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Ridge's kernel solver is trusted here too
            ridge = Ridge(alpha, **MODES[mode]).fit(X, y)
        assert ridge.solver_ == "kernel"
        assert _relative(path.coefs[j], ridge.coef_) <= EXACT_F64


def test_with_kernel_refuses_another_design(rng):
    X, y = _wide(rng)
    problem = Problem(X=X, Y=y[:, None], sample_weight=None, alpha=np.array([1.0]))
    K = np.eye(X.shape[0])
    with pytest.raises(ValueError, match="not the design of this problem"):
        problem.with_kernel(K, centered=False, ones_column=False)
    with pytest.raises(ValueError, match=r"shape \(30, 30\)"):
        problem.with_kernel(K[:-1, :-1], centered=True, ones_column=False)
    with pytest.raises(ValueError, match="float64"):
        problem.with_kernel(K.astype(np.float32), centered=True, ones_column=False)
    with pytest.raises(ValueError, match="at least 1"):
        problem.with_kernel(K, centered=True, ones_column=False, loss=0.5)
    assert problem.kernel is None
    assert problem.with_kernel(K, centered=True, ones_column=False).kernel.matrix is K
