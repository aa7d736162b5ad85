"""Sufficient statistics of sparse X against exact (rational) and dense references."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from tests._tolerances import STATS_F64

from l2reg.objective.accuracy import CENTERING_SHARE
from l2reg.objective.gram import gram_stats, gram_stats_about, gram_stats_by_group
from l2reg.objective.sparse_gram import CenteredRows, sparse_gram_stats


def _exact(X, Y, w):
    """Centered moments in exact rational arithmetic (the inputs are binary fractions)."""
    Xf = [[Fraction(v) for v in row] for row in X.tolist()]
    Yf = [[Fraction(v) for v in row] for row in Y.tolist()]
    wf = [Fraction(v) for v in w.tolist()]
    W = sum(wf)
    mx = [sum(wi * r[j] for wi, r in zip(wf, Xf, strict=True)) / W for j in range(X.shape[1])]
    my = [sum(wi * r[j] for wi, r in zip(wf, Yf, strict=True)) / W for j in range(Y.shape[1])]

    def moment(A, ma, a, B, mb, b):
        return float(
            sum(wi * (ra[a] - ma[a]) * (rb[b] - mb[b]) for wi, ra, rb in zip(wf, A, B, strict=True))
        )

    p, k = X.shape[1], Y.shape[1]
    xx = np.array([[moment(Xf, mx, i, Xf, mx, j) for j in range(p)] for i in range(p)])
    xy = np.array([[moment(Xf, mx, i, Yf, my, t) for t in range(k)] for i in range(p)])
    yy = np.array([moment(Yf, my, t, Yf, my, t) for t in range(k)])
    return np.array([float(m) for m in mx]), xx, xy, yy


def _sparse_with_offset(rng, n=60, p=5, offset=1e8):
    """Sparse columns (one empty) plus a dense column ``offset + noise`` stored sparse."""
    X = sp.random(n, p, density=0.3, format="lil", random_state=rng.integers(1 << 31))
    X[:, 1] = (offset + rng.standard_normal(n))[:, None]
    X[:, 3] = 0.0  # an empty column
    X = X.tocsr()
    X.eliminate_zeros()
    return X


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("weighted", [False, True])
def test_large_offset_keeps_full_accuracy(rng, fmt, weighted):
    X = _sparse_with_offset(rng).asformat(fmt)
    Y = rng.standard_normal((X.shape[0], 2)) + 1e6
    w = rng.uniform(0, 2, X.shape[0]) if weighted else np.ones(X.shape[0])
    stats = sparse_gram_stats(X, Y, w if weighted else None)
    mx, xx, xy, yy = _exact(X.toarray(), Y, w)
    scale = np.sqrt(np.outer(np.diag(xx), np.diag(xx)))
    assert_allclose(stats.x_mean, mx, rtol=1e-15)
    # Entrywise relative to sqrt(G_ii G_jj): what the solver's equilibrated system sees.
    err = np.abs(stats.xx - xx)
    assert np.all(err <= STATS_F64 * scale + 1e-300)
    xy_scale = np.sqrt(np.outer(np.diag(xx), yy))
    assert np.all(np.abs(stats.xy - xy) <= STATS_F64 * xy_scale + 1e-300)
    assert_allclose(stats.yy, yy, rtol=STATS_F64)
    # The offset column was recomputed about its mean: the recorded loss is ~1.
    assert stats.centering_loss() < 2.0


def test_budget_detects_the_loss_when_offsets_are_not_recomputed(rng):
    X = _sparse_with_offset(rng)
    Y = rng.standard_normal((X.shape[0], 1))
    stats = sparse_gram_stats(X, Y, offset_share=np.inf)
    assert stats.centering_loss() > 1e10 * CENTERING_SHARE


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_dispatch_matches_dense_pass(rng, fmt):
    n, p = 200, 12
    X = sp.random(n, p, density=0.2, format=fmt, random_state=3)
    Y = rng.standard_normal((n, 3))
    w = rng.uniform(0, 1, n)
    w[:10] = 0.0
    sparse_stats = gram_stats(X, Y, w)
    dense = X.toarray()
    first = gram_stats(dense, Y, w)
    exact = gram_stats_about(dense, Y, w, (first.x_mean, first.y_mean))
    for name in ("x_mean", "y_mean", "xy", "yy"):
        assert_allclose(
            getattr(sparse_stats, name), getattr(exact, name), rtol=STATS_F64, atol=1e-14
        )
    atol = STATS_F64 * np.abs(exact.xx).max()
    assert_allclose(sparse_stats.xx, exact.xx, rtol=STATS_F64, atol=atol)
    assert sparse_stats.weight_sum == pytest.approx(w.sum(), rel=1e-15)
    # The exact-centering entry point dispatches too.
    about = gram_stats_about(X, Y, w, (first.x_mean, first.y_mean))
    assert_allclose(about.xx, exact.xx, rtol=STATS_F64, atol=atol)


def test_groups_match_per_group_dense(rng):
    n, p = 120, 6
    X = sp.random(n, p, density=0.4, format="csc", random_state=4)
    Y = rng.standard_normal((n, 1))
    groups = rng.integers(0, 3, n)
    groups[groups == 2] = 1  # group 2 is empty
    by_group = gram_stats_by_group(X, Y, None, groups, 3)
    assert by_group[2].weight_sum == 0
    for label in (0, 1):
        rows = groups == label
        dense = gram_stats(X.toarray()[rows], Y[rows])
        assert_allclose(by_group[label].xx, dense.xx, rtol=STATS_F64, atol=1e-12)
        assert_allclose(by_group[label].xy, dense.xy, rtol=STATS_F64, atol=1e-12)


def test_centered_rows_keep_the_offset_column_spread(rng):
    X = _sparse_with_offset(rng, n=40)
    w = np.ones(40)
    mean = np.asarray(X.mean(axis=0)).ravel()
    V = rng.standard_normal((X.shape[1], 3))
    rows = CenteredRows(X, mean, w)
    assert 1 in rows.offsets
    product = rows.product(10, 30, V)
    # x - shift is exact in float64 for the offset column (Sterbenz): the dense
    # subtraction is the reference, and only the products' rounding remains.
    reference = (X.toarray()[10:30] - mean) @ V
    assert_allclose(product, reference, rtol=1e-12, atol=1e-12 * np.abs(reference).max())
    # The plain sparse product loses the offset column's spread.
    plain = np.asarray(X[10:30] @ V) - mean @ V
    assert np.abs(plain - reference).max() > 1e-10 * np.abs(reference).max()


def _dense_moments(X, w, T):
    dense = X.toarray()
    uncentered = dense.T @ (w[:, None] * dense)
    mean = dense.T @ w / w.sum()
    return (
        uncentered - w.sum() * np.outer(mean, mean),
        np.diag(uncentered),
        mean,
        dense.T @ (w[:, None] * T),
    )


def test_gram_kernel_matches_its_reference_twin(rng):
    from l2reg.objective._kernels import centered_gram_reference, sparse_centered_gram

    X = sp.random(300, 25, density=0.2, format="lil", random_state=5)
    X[7, :] = 0.0  # an empty row
    X = X.tocsr()
    X.eliminate_zeros()
    w = rng.uniform(0, 3, 300)
    w[11] = 0.0
    T = rng.standard_normal((300, 2))
    expected = _dense_moments(X, w, T)
    reference = centered_gram_reference(X.indptr, X.indices, X.data, w, 25, T)
    for workers in (None, 1, 2, 3, 7):
        moments = reference if workers is None else sparse_centered_gram(X, w, T, workers=workers)
        for got, want in zip(moments, expected, strict=True):
            assert_allclose(got, want, rtol=1e-13, atol=1e-13 * np.abs(want).max())
        if workers is not None:  # the kernel mirrors one triangle: exactly symmetric
            assert_array_equal(moments.gram, moments.gram.T)


@pytest.mark.parametrize("p", [1, 2, 31, 32, 33, 70])
def test_gram_kernel_shares_and_tiles(rng, p):
    """Every split of rows, triangle rows and mirror tiles covers each entry once."""
    from l2reg.objective._kernels import (
        _lower_shares,
        _triangle_shares,
        _work_shares,
        sparse_centered_gram,
    )

    X = sp.random(120, p, density=0.3, format="csr", random_state=p)
    X.data = rng.lognormal(size=X.nnz)
    w = rng.uniform(0.5, 2, 120)
    T = rng.standard_normal((120, 1))
    expected = _dense_moments(X, w, T)
    for workers in (1, 2, 5):
        moments = sparse_centered_gram(X, w, T, workers=workers)
        for got, want in zip(moments, expected, strict=True):
            assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
        for shares, length in (
            (_work_shares(X.indptr, workers), 120),
            (_triangle_shares(p, workers), p),
            (_lower_shares(p, workers), p),
        ):
            covered = np.concatenate([np.arange(a, b) for a, b in shares])
            assert_array_equal(covered, np.arange(length))


@pytest.mark.parametrize("slab_bytes", [8, 200, 3000])
@pytest.mark.parametrize("workers", [1, 3])
def test_gram_kernel_slabs_add_every_pair_once(rng, monkeypatch, slab_bytes, workers):
    """Taking the triangle in slabs (one row each with 8 bytes) changes no value:
    each entry gets the same products in the same (row) order as in one pass."""
    from l2reg.objective import _kernels

    X = sp.random(400, 40, density=0.15, format="lil", random_state=slab_bytes)
    X[5, :] = 0.0  # an empty row
    X[9, :] = rng.lognormal(size=40)  # a full one: its pairs span every slab
    X = X.tocsr()
    X.eliminate_zeros()
    X.data = rng.lognormal(size=X.nnz)
    w = rng.uniform(0.5, 2, 400)
    T = rng.standard_normal((400, 2))
    one_pass = _kernels.sparse_centered_gram(X, w, T, workers=workers)
    monkeypatch.setattr(_kernels, "SLAB_BYTES", slab_bytes)
    assert _kernels._slab_bounds(40).size > 1
    slabbed = _kernels.sparse_centered_gram(X, w, T, workers=workers)
    for got, want in zip(slabbed, one_pass, strict=True):
        assert_array_equal(got, want)
    for got, want in zip(slabbed, _dense_moments(X, w, T), strict=True):
        assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("p", [1, 2, 97, 2000, 30000])
def test_slab_bounds_cover_the_triangle_in_growing_slabs(p):
    from l2reg.objective._kernels import SLAB_BYTES, _slab_bounds

    ends = _slab_bounds(p)
    assert ends[-1] == p
    starts = np.concatenate([[0], ends[:-1]])
    assert np.all(ends > starts)
    # Bytes of the triangle's rows in each slab: the first within SLAB_BYTES
    # (or a single row), then at most double the allowance each time.
    slab_bytes = 8 * (ends - starts) * (p - starts)
    allowance = SLAB_BYTES * 2.0 ** np.arange(ends.size)
    assert np.all((slab_bytes <= allowance) | (ends - starts == 1))
