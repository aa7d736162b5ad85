"""Per-fold sufficient statistics in one pass, and downdating (the k-fold bridge)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2reg.objective.gram import gram_stats, gram_stats_by_group

#: Sums of products in float64 against a direct computation on the subset:
#: rounding of sums of at most a few hundred terms with means of size ~5.
STATS_RTOL = 1e-10
STATS_ATOL = 1e-9


def _assert_stats_close(actual, expected):
    assert actual.n_samples == expected.n_samples
    np.testing.assert_allclose(actual.weight_sum, expected.weight_sum, rtol=STATS_RTOL)
    for name in ("x_mean", "y_mean", "xx", "xy", "yy"):
        np.testing.assert_allclose(
            getattr(actual, name), getattr(expected, name), rtol=STATS_RTOL, atol=STATS_ATOL
        )


@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_groups_equal_separate_passes(rng, contiguous, weighted):
    n, p = 300, 4
    X = rng.normal(size=(n, p)) + 5
    Y = rng.normal(size=(n, 2))
    w = rng.uniform(0, 2, n) if weighted else None
    groups = rng.integers(0, 4, n)
    if contiguous:
        groups = np.sort(groups)
    stats = gram_stats_by_group(X, Y, w, groups, 5, block_rows=64)
    for label in range(4):
        rows = groups == label
        expected = gram_stats(X[rows], Y[rows], None if w is None else w[rows])
        _assert_stats_close(stats[label], expected)
    assert stats[4].n_samples == 0 and stats[4].weight_sum == 0


@given(seed=st.integers(0, 2**16), n_groups=st.integers(2, 6))
def test_merge_of_groups_is_the_total_and_downdate_inverts_merge(seed, n_groups):
    rng = np.random.default_rng(seed)
    n = 50
    X = rng.normal(size=(n, 3)) * 3 + 2
    Y = rng.normal(size=(n, 1))
    w = rng.uniform(0.1, 2, n)
    groups = rng.integers(0, n_groups, n)
    stats = gram_stats_by_group(X, Y, w, groups, n_groups, block_rows=16)
    total = stats[0]
    for part in stats[1:]:
        total = total.merge(part)
    _assert_stats_close(total, gram_stats(X, Y, w))
    for label in range(n_groups):
        rows = groups != label
        if not rows.any():
            continue
        _assert_stats_close(total.downdate(stats[label]), gram_stats(X[rows], Y[rows], w[rows]))


def test_downdate_refuses_to_remove_everything(rng):
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    stats = gram_stats(X, Y)
    with pytest.raises(ValueError, match="all of the weight"):
        stats.downdate(stats)
