"""The numba coordinate-descent kernels equal their NumPy twins (the oracle).

With NUMBA_DISABLE_JIT=1 the compiled module runs as plain Python, which is
how this file also covers the kernels' source.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from l2reg.solvers._kernels import reference

compiled = pytest.importorskip("l2reg.solvers._kernels.compiled")

# Same arithmetic in a different order (scalar loops vs BLAS dot products):
# a few ulps per update, amplified over one epoch of ~10 dependent updates.
KERNEL_RTOL = 1e-12
#: Different algorithms for the same numbers (sparse vs dense kernel, twin vs
#: compiled over a whole fit of ~100 epochs, a 1e4 mean removed from the
#: column norms): rounding differences grow with the number of operations.
CROSS_RTOL = 1e-9
#: Where the exact value is 0 (untouched residual entries, zero coefficients).
ZERO_ATOL = 1e-13


def _problem(rng, n=40, p=12, density=None):
    X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)
    if density is not None:
        X = sp.random(n, p, density=density, random_state=rng, format="csc") * 3
    v = rng.uniform(0.2, 2.0, n)
    v /= v.sum()
    y = rng.standard_normal(n)
    return X, v, y


def _weights(rng, p):
    l1 = rng.uniform(0.0, 0.1, p)
    l2 = rng.uniform(0.0, 0.1, p)
    l2[::3] = 0.0  # lasso-like coordinates
    l1[1], l2[1] = 0.0, 0.0  # an unpenalized one
    return l1, l2


@pytest.mark.parametrize("positive", [False, True])
def test_gram_epoch_matches_twin(rng, positive):
    X, v, y = _problem(rng)
    p = X.shape[1]
    Xc = X - v @ X
    G = Xc.T @ (v[:, None] * Xc)
    theta0 = rng.standard_normal(p) * (rng.uniform(size=p) < 0.5)
    if positive:
        theta0 = np.abs(theta0)
    z0 = Xc.T @ (v * (y - v @ y)) - G @ theta0
    l1, l2 = _weights(rng, p)
    ws = np.sort(rng.choice(p, 8, replace=False)).astype(np.int64)
    results = []
    for module in (compiled, reference):
        theta, z = theta0.copy(), z0.copy()
        change = module.cd_epoch_gram(G, z, theta, ws, l1, l2, positive)
        results.append((theta, z[ws], change))
    assert_allclose(results[0][0], results[1][0], rtol=KERNEL_RTOL, atol=ZERO_ATOL)
    assert_allclose(results[0][1], results[1][1], rtol=KERNEL_RTOL, atol=ZERO_ATOL)
    assert_allclose(results[0][2], results[1][2], rtol=KERNEL_RTOL)
    assert not np.array_equal(results[0][0], theta0)  # the epoch did something
    # Coordinates outside the working set are untouched.
    outside = np.setdiff1d(np.arange(p), ws)
    assert_allclose(results[0][0][outside], theta0[outside], rtol=0)


@pytest.mark.parametrize("positive", [False, True])
def test_dense_epoch_matches_twin(rng, positive):
    X, v, y = _problem(rng)
    X = np.asfortranarray(X)
    p = X.shape[1]
    x_mean = v @ X
    h = v @ (X - x_mean) ** 2
    theta0 = np.zeros(p)
    r0 = y - v @ y
    l1, l2 = _weights(rng, p)
    ws = np.arange(p, dtype=np.int64)
    results = []
    for module in (compiled, reference):
        theta, r = theta0.copy(), r0.copy()
        change = module.cd_epoch_dense(X, v, x_mean, theta, r, ws, h, l1, l2, positive)
        results.append((theta, r, change))
    for a, b in zip(results[0], results[1], strict=True):
        assert_allclose(a, b, rtol=KERNEL_RTOL, atol=ZERO_ATOL)
    # The residual stays the centered residual of the new coefficients.
    theta, r, _ = results[0]
    assert_allclose(r, (y - v @ y) - (X - x_mean) @ theta, rtol=CROSS_RTOL, atol=ZERO_ATOL)


@pytest.mark.parametrize("positive", [False, True])
def test_sparse_epoch_matches_twin_and_the_dense_kernel(rng, positive):
    X, v, y = _problem(rng, density=0.3)
    p = X.shape[1]
    dense = X.toarray()
    x_mean = v @ dense
    h = v @ (dense - x_mean) ** 2
    l1, l2 = _weights(rng, p)
    ws = np.arange(p, dtype=np.int64)
    results = []
    for module in (compiled, reference):
        theta, r_raw = np.zeros(p), y.copy()
        change, offset = module.cd_epoch_sparse(
            X.data, X.indices, X.indptr, v, x_mean, theta, r_raw, -(v @ y), ws, h, l1, l2, positive
        )
        results.append((theta, r_raw + offset, change))
    for a, b in zip(results[0], results[1], strict=True):
        assert_allclose(a, b, rtol=KERNEL_RTOL, atol=ZERO_ATOL)
    theta_dense, r_dense = np.zeros(p), y - v @ y
    compiled.cd_epoch_dense(
        np.asfortranarray(dense), v, x_mean, theta_dense, r_dense, ws, h, l1, l2, positive
    )
    assert_allclose(results[0][0], theta_dense, rtol=CROSS_RTOL, atol=ZERO_ATOL)
    assert_allclose(results[0][1], r_dense, rtol=CROSS_RTOL, atol=ZERO_ATOL)


def test_column_products_match_twins(rng):
    X, v, y = _problem(rng, density=0.4)
    dense = np.asfortranarray(X.toarray())
    x_mean = v @ dense
    vr = v * y
    index = np.array([3, 0, 7], dtype=np.int64)
    expected = (dense[:, index] - x_mean[index]).T @ vr
    for module in (compiled, reference):
        out = module.column_products_dense(dense, x_mean, vr, index, np.empty(3))
        assert_allclose(out, expected, rtol=KERNEL_RTOL)
        out = module.column_products_sparse(X.data, X.indices, X.indptr, vr, index, np.empty(3))
        assert_allclose(out, dense[:, index].T @ vr, rtol=KERNEL_RTOL)


def test_centered_norms_match_twin(rng):
    X, v, _ = _problem(rng)
    X = np.asfortranarray(X + 1e4)  # large means: the exact centering matters
    x_mean = v @ X
    expected = np.array([v @ (X[:, j] - x_mean[j]) ** 2 for j in range(X.shape[1])])
    for module in (compiled, reference):
        out = module.centered_norms_dense(X, x_mean, v, np.empty(X.shape[1]))
        assert_allclose(out, expected, rtol=CROSS_RTOL)
        # The row-order kernel reads a C-ordered X; it adds into `out`.
        rows = np.ascontiguousarray(X)
        out = module.centered_norms_rows(rows, x_mean, v, np.full(X.shape[1], 1.0))
        assert_allclose(out - 1.0, expected, rtol=CROSS_RTOL)


def test_kernels_release_the_gil():
    """Every compiled kernel is nogil, so cross-validation folds can run in threads."""
    import numba

    if numba.config.DISABLE_JIT:
        pytest.skip("NUMBA_DISABLE_JIT=1: the kernels are plain Python functions")
    for name in compiled.__all__:
        assert getattr(compiled, name).targetoptions.get("nogil") is True, name


@pytest.mark.parametrize("positive", [False, True])
def test_threshold_minimizes_the_one_dimensional_problem(rng, positive):
    """Both implementations return the minimizer of h t^2/2 - u t + l1 |t| + l2 t^2/2."""
    for _ in range(20):
        u, h, l1, l2 = rng.normal(0, 2), rng.uniform(0, 2), rng.uniform(0, 1), rng.uniform(0, 1)
        bound = (abs(u) + 1) / (h + l2)  # the minimizer lies inside
        grid = np.linspace(0 if positive else -bound, bound, 200_001)
        values = 0.5 * (h + l2) * grid**2 - u * grid + l1 * np.abs(grid)
        best = grid[np.argmin(values)]
        for module in (compiled, reference):
            assert abs(module.threshold(u, h, l1, l2, positive) - best) <= 2 * bound / 200_000
    for module in (compiled, reference):  # a constant, unpenalized column stays at 0
        assert module.threshold(0.0, 0.0, 0.0, 0.0, positive) == 0.0


def test_solver_falls_back_to_the_twins_without_numba(monkeypatch, rng):
    """With numba unimportable the kernels package serves the NumPy twins, same answer."""
    import importlib
    import sys

    import l2reg.solvers._kernels as kernels
    from l2reg import ElasticNet

    X = rng.standard_normal((30, 12))
    y = X[:, 0] - X[:, 3] + 0.1 * rng.standard_normal(30)
    compiled_fit = ElasticNet(alpha=0.05, tol=1e-14).fit(X, y).coef_
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba -> ImportError
    monkeypatch.delitem(sys.modules, "l2reg.solvers._kernels.compiled")
    try:
        importlib.reload(kernels)
        assert not kernels.HAVE_NUMBA and kernels.cd_epoch_gram is reference.cd_epoch_gram
        twin_fit = ElasticNet(alpha=0.05, tol=1e-14).fit(X, y).coef_
    finally:
        monkeypatch.undo()
        importlib.reload(kernels)
    assert kernels.HAVE_NUMBA
    assert_allclose(twin_fit, compiled_fit, rtol=CROSS_RTOL, atol=ZERO_ATOL)


def test_import_l2reg_does_not_import_numba():
    """numba loads on the first coordinate-descent fit, not with the package."""
    import subprocess
    import sys

    code = "import sys, l2reg; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
