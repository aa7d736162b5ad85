"""The proven rcond bound that lets the Cholesky route skip LAPACK's condition estimate."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from scipy.linalg.lapack import get_lapack_funcs

from l2reg.solvers import direct
from l2reg.solvers._equilibration import equilibrated_upper
from l2reg.solvers.direct import _cholesky_solve, _rcond_lower_bound


def _psd(rng, p, rank, spread):
    """A positive semidefinite p x p matrix of the given rank, its columns in spread units."""
    B = rng.standard_normal((max(rank, 1), p)) * (10.0 ** rng.uniform(-spread, spread, p))
    if rank == 0:
        B[:] = 0.0
    return B.T @ B


def _true_rcond(H, shift):
    """rcond_1 of the equilibrated system, from its explicit inverse."""
    A, _, _ = equilibrated_upper(H, shift)
    A = np.triu(A) + np.triu(A, 1).T
    return 1.0 / (np.linalg.norm(A, 1) * np.linalg.norm(np.linalg.inv(A), 1))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    p=st.integers(1, 40),
    rank_share=st.floats(0, 1),
    spread=st.floats(0, 4),
    log_shift=st.floats(-8, 4),
)
def test_bound_never_exceeds_the_true_rcond(seed, p, rank_share, spread, log_shift):
    rng = np.random.default_rng(seed)
    H = _psd(rng, p, int(rank_share * p), spread)
    shift = 10.0**log_shift * max(float(np.mean(np.diag(H))), 1.0)
    _, scale, anorm = equilibrated_upper(H, shift)
    bound = _rcond_lower_bound(shift, scale, anorm, rounding=0.0)
    assert 0.0 < bound <= _true_rcond(H, shift) * (1 + 1e-10)


def test_bound_proves_nothing_without_a_shift_or_with_rounding_over_it(rng):
    H = _psd(rng, 6, 6, 1)
    _, scale, anorm = equilibrated_upper(H, 0.0)
    assert _rcond_lower_bound(0.0, scale, anorm, 0.0) == 0.0
    _, scale, anorm = equilibrated_upper(H, 1.0)
    floor = float(np.min(scale)) ** 2
    assert _rcond_lower_bound(1.0, scale, anorm, rounding=floor) == 0.0
    assert 0.0 < _rcond_lower_bound(1.0, scale, anorm, rounding=floor / 2)


def _count_pocon(monkeypatch):
    """Count the calls of LAPACK's condition estimate made by _cholesky_solve."""
    calls = []

    def counting(names, arrays):
        functions = get_lapack_funcs(names, arrays)
        pocon = functions[1]

        def recorded(*args, **kwargs):
            calls.append(1)
            return pocon(*args, **kwargs)

        return (functions[0], recorded, functions[2])

    monkeypatch.setattr(direct, "get_lapack_funcs", counting)
    return calls


@pytest.mark.parametrize("spread", [0, 3])
def test_enough_skips_the_estimate_and_returns_the_bound(rng, monkeypatch, spread):
    H = _psd(rng, 30, 20, spread)  # singular without the shift
    rhs = rng.standard_normal((30, 2))
    shift = 0.1 * float(np.mean(np.diag(H)))
    calls = _count_pocon(monkeypatch)
    estimated, rcond = _cholesky_solve(H, rhs, shift)
    assert len(calls) == 1
    _, scale, anorm = equilibrated_upper(H, shift)
    bound = _rcond_lower_bound(shift, scale, anorm, 0.0)
    assert bound <= rcond  # LAPACK's estimate is of the same matrix
    solved, got = _cholesky_solve(H, rhs, shift, enough=bound)
    assert len(calls) == 1 and got == bound
    assert_array_equal(solved, estimated)  # the solve does not depend on the estimate
    _, got = _cholesky_solve(H, rhs, shift, enough=np.nextafter(bound, 1.0))
    assert len(calls) == 2 and got == rcond


def test_ridge_fit_skips_the_estimate_only_within_budget(rng, monkeypatch):
    """A well-conditioned fit needs no estimate; an ill-conditioned one still gets it and
    falls back to svd."""
    from l2reg import Ridge
    from l2reg.exceptions import SolverFallbackWarning

    X = rng.standard_normal((500, 8)) + 3.0
    y = X @ rng.standard_normal(8) + rng.standard_normal(500)
    calls = _count_pocon(monkeypatch)
    model = Ridge(alpha=1e-3, solver="cholesky").fit(X, y)
    assert model.solver_ == "cholesky" and not calls
    reference = Ridge(alpha=1e-3, solver="svd").fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-12)
    X[:, 1] = X[:, 0] * 1e3 + 1e-9 * rng.standard_normal(500)  # nearly collinear
    with pytest.warns(SolverFallbackWarning, match="ill-conditioned"):
        model = Ridge(alpha=1e-14, solver="cholesky").fit(X, y)
    assert calls and model.solver_ == "svd"
