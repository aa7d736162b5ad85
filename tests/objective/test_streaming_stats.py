"""GramStats as a public, mergeable accumulator: from_chunk, merge, merge_all, errors.

References are independent: the statistics of the concatenated rows computed in
exact rational arithmetic (fractions), and the one-pass statistics of all rows.
"""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from l2reg import GramStats, InvalidParameterError
from l2reg.objective.chunks import sparse_gram_available

#: Merged float64 moments against exact ones: a few roundings per merge level.
MERGE_RTOL = 1e-13


def _exact_moments(X, Y, w):
    """Weighted centered moments in exact rational arithmetic."""
    n, p = X.shape
    k = Y.shape[1]
    Z = [[Fraction(float(v)) for v in row] for row in np.hstack([X, Y])]
    wf = [Fraction(float(v)) for v in w]
    W = sum(wf)
    mean = [sum(wf[i] * Z[i][j] for i in range(n)) / W for j in range(p + k)]
    M = np.array(
        [
            [
                float(sum(wf[i] * (Z[i][a] - mean[a]) * (Z[i][b] - mean[b]) for i in range(n)))
                for b in range(p + k)
            ]
            for a in range(p + k)
        ]
    )
    return np.array([float(m) for m in mean]), M


def _data(rng, n=60, p=3, k=2, offset=0.0):
    X = rng.normal(size=(n, p)) + offset
    Y = X @ rng.normal(size=(p, k)) + rng.normal(size=(n, k)) + offset
    w = rng.uniform(0.0, 2.0, n)
    return X, Y, w


def _assert_moments(stats, X, Y, w):
    mean, M = _exact_moments(X, Y, w)
    p = X.shape[1]
    scale = np.max(np.abs(M))
    # Means to rounding of their magnitude, or of the spread for a mean near 0.
    spread = np.sqrt(np.diag(M) / np.sum(w))
    means = np.concatenate([stats.x_mean, stats.y_mean])
    assert np.all(np.abs(means - mean) <= 1e-15 * np.abs(mean) + MERGE_RTOL * spread)
    np.testing.assert_allclose(stats.xx, M[:p, :p], rtol=0, atol=MERGE_RTOL * scale)
    np.testing.assert_allclose(stats.xy, M[:p, p:], rtol=0, atol=MERGE_RTOL * scale)
    np.testing.assert_allclose(stats.yy, np.diag(M)[p:], rtol=0, atol=MERGE_RTOL * scale)


@given(
    cuts=st.lists(st.integers(1, 59), max_size=6, unique=True),
    offset=st.sampled_from([0.0, 1e8]),
    seed=st.integers(0, 2**16),
)
def test_merged_chunks_equal_exact_moments_of_all_rows(cuts, offset, seed):
    rng = np.random.default_rng(seed)
    X, Y, w = _data(rng, offset=offset)
    edges = [0, *sorted(cuts), X.shape[0]]
    parts = [
        GramStats.from_chunk(X[a:b], Y[a:b], w[a:b])
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    # any merge order: a left fold of a shuffled list, and the balanced tree
    order = rng.permutation(len(parts))
    folded = parts[order[0]]
    for i in order[1:]:
        folded = folded.merge(parts[i])
    for merged in (folded, GramStats.merge_all(parts)):
        _assert_moments(merged, X, Y, w)
        assert merged.n_samples == X.shape[0]
        assert merged.n_positive == X.shape[0]
        assert merged.log_weight_sum == pytest.approx(np.sum(np.log(w)), rel=1e-12)


def test_merge_returns_new_object_and_keeps_operands():
    rng = np.random.default_rng(0)
    X, Y, w = _data(rng)
    a = GramStats.from_chunk(X[:20], Y[:20], w[:20])
    b = GramStats.from_chunk(X[20:], Y[20:], w[20:])
    a_xx, b_xx = a.xx.copy(), b.xx.copy()
    merged = a.merge(b)
    assert merged is not a and merged is not b
    np.testing.assert_array_equal(a.xx, a_xx)
    np.testing.assert_array_equal(b.xx, b_xx)


def test_downdate_inverts_merge_with_large_offset():
    rng = np.random.default_rng(1)
    X, Y, w = _data(rng, offset=1e8)
    a = GramStats.from_chunk(X[:40], Y[:40], w[:40])
    b = GramStats.from_chunk(X[40:], Y[40:], w[40:])
    back = a.merge(b).downdate(b)
    _assert_moments(back, X[:40], Y[:40], w[:40])
    assert back.n_samples == 40


def test_records_weights_targets_and_dtype():
    rng = np.random.default_rng(2)
    X, Y, w = _data(rng, n=10)
    w[:3] = 0.0
    stats = GramStats.from_chunk(X.astype(np.float32), Y[:, 0], w)
    assert stats.n_positive == 7
    assert stats.log_weight_sum == pytest.approx(np.sum(np.log(w[3:])))
    assert stats.single_target and stats.n_targets == 1
    assert stats.dtype == "float32" and stats.xx.dtype == np.float64
    unit = GramStats.from_chunk(X, Y)
    assert unit.n_positive is None and unit.positive_count == 10 and not unit.single_target


def test_zero_weight_and_empty_chunks_only_count_rows():
    rng = np.random.default_rng(3)
    X, Y, w = _data(rng, n=30)
    total = GramStats.from_chunk(X, Y, w)
    nothing = GramStats.from_chunk(X[:5], Y[:5], np.zeros(5))
    empty = GramStats.from_chunk(X[:0], Y[:0], w[:0])
    merged = total.merge(nothing).merge(empty)
    np.testing.assert_array_equal(merged.xx, total.xx)
    assert merged.n_samples == 35 and merged.positive_count == 30


def test_by_group_merges_to_the_whole_chunk():
    rng = np.random.default_rng(4)
    X, Y, w = _data(rng)
    groups = rng.integers(0, 4, X.shape[0])
    parts = GramStats.from_chunk_by_group(X, Y, w, groups=groups, n_groups=4)
    for g, part in enumerate(parts):
        rows = groups == g
        _assert_moments(part, X[rows], Y[rows], w[rows])
        assert part.n_positive == rows.sum()
    _assert_moments(GramStats.merge_all(parts), X, Y, w)


def test_merge_errors_name_the_mismatch():
    rng = np.random.default_rng(5)
    X, Y, _ = _data(rng)
    base = GramStats.from_chunk(X, Y)
    with pytest.raises(ValueError, match="3 and of 2 features"):
        base.merge(GramStats.from_chunk(X[:, :2], Y))
    with pytest.raises(ValueError, match="2 and of 1 targets"):
        base.merge(GramStats.from_chunk(X, Y[:, 0]))
    with pytest.raises(TypeError, match="float64 data and of float32 data"):
        base.merge(GramStats.from_chunk(X.astype(np.float32), Y))
    with pytest.raises(TypeError, match="expected GramStats"):
        base.merge("not statistics")
    with pytest.raises(ValueError, match="no statistics"):
        GramStats.merge_all([])


def test_chunk_errors():
    rng = np.random.default_rng(6)
    X, Y, w = _data(rng, n=8)
    X[2, 1] = np.nan
    with pytest.raises(InvalidParameterError, match=r"NaN at row 2, column 1"):
        GramStats.from_chunk(X, Y)
    with pytest.raises(InvalidParameterError, match="2-D"):
        GramStats.from_chunk(X[:, 0], Y)
    with pytest.raises(InvalidParameterError, match="numeric"):
        GramStats.from_chunk(np.array([["a", "b"]]), [1.0])
    with pytest.raises(InvalidParameterError, match="sample_weight must be >= 0"):
        GramStats.from_chunk(np.ones((8, 3)), Y, -w)


@pytest.mark.skipif(sparse_gram_available(), reason="sparse chunks are served once installed")
def test_sparse_chunk_without_sparse_gram_is_a_clear_type_error():
    with pytest.raises(TypeError, match="sparse X is not supported"):
        GramStats.from_chunk(sp.random(10, 3, density=0.5, format="csr"), np.ones(10))
