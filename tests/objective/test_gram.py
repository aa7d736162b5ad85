"""One-pass sufficient statistics against direct NumPy formulas; merges in any order."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from tests._tolerances import STATS_F64

from l2reg.objective.gram import gram_stats


def _direct(X, Y, w):
    W = w.sum()
    mx, my = w @ X / W, w @ Y / W
    Xc, Yc = X - mx, Y - my
    return W, mx, my, Xc.T @ (w[:, None] * Xc), Xc.T @ (w[:, None] * Yc), w @ Yc**2


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block_rows", [1, 5, 64, 10_000])
def test_matches_direct_formulas(rng, order, weighted, block_rows):
    X = np.asarray(rng.standard_normal((53, 7)) * 3 + 100, order=order)
    Y = rng.standard_normal((53, 2)) - 50
    w = rng.uniform(0, 2, 53) if weighted else np.ones(53)
    stats = gram_stats(X, Y, w if weighted else None, block_rows=block_rows)
    W, mx, my, xx, xy, yy = _direct(X, Y, w)
    assert_allclose(stats.weight_sum, W, rtol=STATS_F64)
    assert_allclose(stats.x_mean, mx, rtol=STATS_F64)
    assert_allclose(stats.y_mean, my, rtol=STATS_F64)
    scale = np.abs(xx).max()
    assert_allclose(stats.xx, xx, rtol=STATS_F64, atol=STATS_F64 * scale)
    assert_allclose(stats.xy, xy, rtol=STATS_F64, atol=STATS_F64 * scale)
    assert_allclose(stats.yy, yy, rtol=STATS_F64)
    assert np.array_equal(stats.xx, stats.xx.T)


def test_float32_accumulates_blocks_in_float64(rng):
    X = rng.standard_normal((5000, 4)).astype(np.float32) + 10
    Y = rng.standard_normal((5000, 1)).astype(np.float32)
    stats = gram_stats(X, Y, block_rows=256)
    _, _, _, xx, _, _ = _direct(X.astype(np.float64), Y.astype(np.float64), np.ones(5000))
    assert stats.xx.dtype == np.float64
    assert_allclose(stats.xx, xx, rtol=1e-4, atol=1e-4 * np.abs(xx).max())


def test_non_finite_shows_on_the_diagonal(rng):
    X = rng.standard_normal((30, 3))
    X[17, 2] = np.inf
    stats = gram_stats(X, rng.standard_normal((30, 1)), block_rows=8)
    assert not np.isfinite(stats.xx[2, 2])


@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 20), min_size=2, max_size=5))
def test_merge_equals_batch_in_any_order(seed, sizes):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    X = rng.standard_normal((n, 3)) + 5
    Y = rng.standard_normal((n, 2))
    w = rng.uniform(0.1, 2, n)
    batch = gram_stats(X, Y, w)
    edges = np.cumsum([0, *sizes])
    parts = [gram_stats(X[a:b], Y[a:b], w[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    for order in (parts, parts[::-1], [parts[i] for i in rng.permutation(len(parts))]):
        merged = order[0]
        for part in order[1:]:
            merged = merged.merge(part)
        assert_allclose(merged.weight_sum, batch.weight_sum, rtol=1e-12)
        assert_allclose(merged.x_mean, batch.x_mean, rtol=1e-12)
        assert_allclose(merged.xx, batch.xx, rtol=1e-10, atol=1e-10 * np.abs(batch.xx).max())
        assert_allclose(merged.xy, batch.xy, rtol=1e-10, atol=1e-10 * np.abs(batch.xx).max())
        assert_allclose(merged.yy, batch.yy, rtol=1e-10)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("offset", [0.0, 1.0, 1e3])
def test_unweighted_direct_and_blocked_paths_agree(rng, order, offset, monkeypatch):
    """Small offsets take the one-syrk path, large ones the shifted blocked pass; both exact."""
    import l2reg.objective.gram as gram

    X = np.asarray(rng.standard_normal((300, 5)) + offset, order=order)
    Y = rng.standard_normal((300, 2)) + offset
    fast = gram_stats(X, Y)
    monkeypatch.setattr(gram, "_direct_gram_stats", lambda *args: None)
    blocked = gram_stats(X, Y, block_rows=64)
    W, mx, my, xx, xy, yy = _direct(X, Y, np.ones(300))
    for stats in (fast, blocked):
        assert_allclose(stats.x_mean, mx, rtol=STATS_F64)
        assert_allclose(stats.xx, xx, rtol=1e-9, atol=1e-9 * np.abs(xx).max())
        assert_allclose(stats.xy, xy, rtol=1e-9, atol=1e-9 * np.abs(xx).max())
        assert_allclose(stats.yy, yy, rtol=1e-9)


@pytest.mark.parametrize("n_targets", [1, 2, 5])
def test_one_pass_paths_over_several_blocks(rng, n_targets):
    """n > one block (4,096 rows) with a partial last block, for both unweighted paths."""
    X = rng.standard_normal((9000, 6)) + 2.0
    Y = rng.standard_normal((9000, n_targets)) - 1.0
    stats = gram_stats(X, Y)
    W, mx, my, xx, xy, yy = _direct(X, Y, np.ones(9000))
    assert_allclose(stats.x_mean, mx, rtol=STATS_F64)
    assert_allclose(stats.xx, xx, rtol=1e-9, atol=1e-9 * np.abs(xx).max())
    assert_allclose(stats.xy, xy, rtol=1e-9, atol=1e-9 * np.abs(xx).max())
    assert_allclose(stats.yy, yy, rtol=1e-9)


@pytest.mark.parametrize(
    ("n", "expected"), [(1, 1), (100, 100), (3_000, 256), (20_000, 1_250), (10**6, 4_096)]
)
def test_default_buffer_is_a_small_share_of_the_rows(n, expected):
    """Without block_rows the buffer holds DEFAULT_BLOCK_ROWS rows, at most a sixteenth of
    X (issue #11: a pass may use 0.1x X), never fewer than 256 rows (nor more than n)."""
    from l2reg.objective.gram import buffer_rows

    assert buffer_rows(None, n) == expected
    assert buffer_rows(7, n) == min(7, n)  # an explicit size is kept
