"""The equilibrated system handed to LAPACK's Cholesky: numba loop against its NumPy form."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import cho_solve

from l2reg.solvers import _equilibration
from l2reg.solvers._equilibration import _numpy_form, equilibrated_upper


def _symmetric(rng, p, dtype):
    """A Gram matrix whose columns span many decades (the scaling has work to do)."""
    A = rng.standard_normal((p + 5, p)) * np.exp2(rng.integers(-20, 20, p))
    return (A.T @ A).astype(dtype)


@pytest.mark.parametrize("p", [1, 2, 7, 64, 131])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_matches_numpy_form(rng, monkeypatch, p, order, dtype):
    monkeypatch.setattr(_equilibration, "KERNEL_MIN_FEATURES", 1)  # the kernel at every size
    H = np.asarray(_symmetric(rng, p, dtype), order=order)
    before = H.copy()
    shift = 0.25
    A, scale, anorm = equilibrated_upper(H, shift)
    diagonal = np.diag(H) + shift
    want_scale = np.exp2(-np.round(np.log2(diagonal) / 2)).astype(dtype)
    B, _, want_norm = _numpy_form(H, shift, want_scale)
    assert_array_equal(H, before)  # the input is left alone
    assert A.flags.f_contiguous and A.dtype == dtype
    assert_array_equal(scale, want_scale)
    upper = np.triu_indices(p)
    assert_array_equal(A[upper], B[upper])  # powers of two: the scaling rounds nothing
    eps = np.finfo(dtype).eps
    assert_allclose(anorm, want_norm, rtol=p * eps)
    scaled = np.diag(A)
    assert np.all((scaled >= 0.5) & (scaled <= 2.0))


def test_factor_solves_the_shifted_system(rng):
    H = _symmetric(rng, 40, np.float64)
    rhs = rng.standard_normal((40, 2))
    A, scale, _ = equilibrated_upper(H, 3.0)
    from scipy.linalg.lapack import dpotrf

    factor, info = dpotrf(A, lower=0, clean=1)
    assert info == 0
    solution = scale[:, None] * cho_solve((factor, False), scale[:, None] * rhs)
    assert_allclose((H + 3.0 * np.eye(40)) @ solution, rhs, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_a_diagonal_that_is_not_positive_and_finite_says_none(rng, bad):
    H = _symmetric(rng, 5, np.float64)
    H[2, 2] = bad
    assert equilibrated_upper(H) is None


def test_without_numba_the_numpy_form_runs(rng, monkeypatch):
    H = _symmetric(rng, 9, np.float64)
    monkeypatch.setattr(_equilibration, "_kernel", lambda: None)
    A, scale, anorm = equilibrated_upper(H, 1.0)
    B, want_scale, want_norm = _numpy_form(H, 1.0, scale)
    assert_array_equal(A, B)
    assert anorm == want_norm


def test_small_systems_do_not_load_the_kernel(rng, monkeypatch):
    """Below KERNEL_MIN_FEATURES the NumPy form runs: a one-off small fit does not pay
    for importing numba."""
    loaded = []
    kernel = _equilibration._kernel()
    monkeypatch.setattr(_equilibration, "_kernel", lambda: loaded.append(1) or kernel)
    small = _equilibration.KERNEL_MIN_FEATURES - 1
    equilibrated_upper(_symmetric(rng, small, np.float64), 1.0)
    assert not loaded
    equilibrated_upper(_symmetric(rng, small + 1, np.float64), 1.0)
    assert loaded
