"""The accuracy budget of the Gram pass: offsets are screened first, every pass is checked.

References are exact: X is built as ``offset + Z`` with ``Z`` a multiple of
1/8 and ``offset`` an integer, so every entry is a float64 without rounding and
the centered moments of X are those of Z, which float64 computes with its
usual few-ulp rounding (Z has no offset to cancel).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import l2reg.objective.gram as gram
from l2reg.objective.accuracy import (
    CENTERING_SHARE,
    PILOT_SHARE,
    centering_loss,
    digits_lost,
    max_amplification,
    within_budget,
)
from l2reg.objective.gram import gram_stats, gram_stats_by_group

EPS = np.finfo(np.float64).eps
#: Rounding of a blocked sum of n products, relative to the diagonal: the
#: error bound grows like the block length (4,096) times eps in the worst
#: case; with random signs it stays within a few hundred eps in these sizes.
SUM_ROUNDING = 1e3 * EPS


def exact_design(rng, n, p, offsets, spread=4.0):
    """``(X, Zc)``: X = offsets + Z exactly, Zc the centered Z (exact to rounding)."""
    Z = np.round(rng.standard_normal((n, p)) * spread * 8) / 8
    X = Z + np.asarray(offsets, dtype=np.float64)
    assert np.array_equal(X - np.asarray(offsets, dtype=np.float64), Z)  # no rounding
    return X, Z - Z.mean(axis=0)


def relative_error(xx, reference):
    """Largest error relative to the diagonal: ``|dG_jk| / sqrt(G_jj G_kk)``."""
    root = np.sqrt(np.diag(reference))
    return float(np.max(np.abs(xx - reference) / root[:, None] / root[None, :]))


class Spy:
    """Counts calls to a module function and passes them through."""

    def __init__(self, monkeypatch, module, name):
        self.calls = 0
        original = getattr(module, name)

        def spy(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)


# ---------------------------------------------------------------- the budget itself


def test_budget_keeps_half_of_the_digits():
    assert max_amplification(np.float64) == pytest.approx(1 / np.sqrt(EPS))
    assert max_amplification(np.float32) == pytest.approx(1 / np.sqrt(np.finfo(np.float32).eps))
    assert within_budget(1.0, 2.0 * np.sqrt(EPS))
    assert not within_budget(1.0, 0.5 * np.sqrt(EPS))
    # The digits add: a centering loss of 100 leaves a conditioning of 6.7e5.
    assert within_budget(100.0, 200.0 * np.sqrt(EPS))
    assert not within_budget(100.0, 50.0 * np.sqrt(EPS))
    assert digits_lost(100.0, 1e-3) == pytest.approx(5.0)
    assert not within_budget(1.0, 0.0)


def test_centering_loss():
    # Nine sd: the uncentered sum of squares is 82 times the centered one.
    assert centering_loss([1.0, 82.0], [1.0, 1.0]) == 82.0
    assert centering_loss([0.0], [0.0]) == 1.0  # a constant zero column costs nothing
    assert centering_loss([1.0], [0.0]) == np.inf  # an offset on a constant column
    assert centering_loss([1.0], [-1e-30]) == np.inf  # ... whose diagonal rounded below 0
    assert centering_loss([np.nan], [1.0]) == np.inf
    assert centering_loss([0.5], [1.0]) == 1.0  # never below exact centering


def test_a_constant_column_costs_nothing_against_the_ridge(rng):
    """A constant column has no spread to lose; relative to the penalty it costs nothing."""
    X = np.column_stack([rng.standard_normal(5000), np.full(5000, 1 / 3)])
    stats = gram_stats(X, rng.standard_normal((5000, 1)))
    assert stats.centering_loss(ridge=5000 * 1e-6) < 2.0


# ---------------------------------------------------------------- digits kept by offset


@pytest.mark.parametrize("sds", [0.0, 3.0, 6.0, 9.0, 30.0, 1e3, 1e8 / 4])
def test_digits_kept_for_column_offsets(rng, sds):
    """Offsets of 0 to 1e8 (in sd of 4): the loss recorded bounds the error and stays
    within the share.  Six sd take the uncentered pass and lose 1.6 digits, on the
    record; from nine sd on (once two digits, unrecorded) the shifted pass loses none."""
    X, Zc = exact_design(rng, 20_000, 3, np.round(4.0 * sds * np.array([1.0, 0.5, 0.0])))
    y = rng.standard_normal((20_000, 1))
    stats = gram_stats(X, y)
    assert stats.centering_loss() <= CENTERING_SHARE
    error = relative_error(stats.xx, Zc.T @ Zc)
    assert error <= stats.centering_loss() * SUM_ROUNDING
    if sds == 6.0:  # the uncentered pass, its digits on the record
        assert 30 < stats.centering_loss() <= CENTERING_SHARE
    if sds >= 9.0:  # the shifted pass: nothing lost
        assert stats.centering_loss() < 2.0
        assert error <= 2 * SUM_ROUNDING


# ---------------------------------------------------------------- screens and checks


def test_large_offset_in_y_is_screened_before_the_pass(rng, monkeypatch):
    """y + 1e3 with sd 1: straight to the shifted pass, X read once."""
    X = rng.standard_normal((10_000, 4))
    y = rng.standard_normal((10_000, 1))
    direct = Spy(monkeypatch, gram, "gram_and_cross")
    shifted = Spy(monkeypatch, gram, "gram_stats_about")
    stats = gram_stats(X, y + 1e3)
    assert (direct.calls, shifted.calls) == (0, 1)
    yc = y - y.mean()
    assert_allclose(stats.yy, (yc**2).sum(axis=0), rtol=SUM_ROUNDING)
    assert_allclose(stats.y_mean, y.mean(axis=0) + 1e3, rtol=EPS * 4)


def test_small_offsets_take_the_uncentered_pass(rng, monkeypatch):
    X = rng.standard_normal((10_000, 4)) + 2.0
    direct = Spy(monkeypatch, gram, "gram_and_cross")
    shifted = Spy(monkeypatch, gram, "gram_stats_about")
    gram_stats(X, rng.standard_normal((10_000, 1)))
    assert (direct.calls, shifted.calls) == (1, 0)


def test_reject_after_the_pass(rng, monkeypatch):
    """The pilot's rows have no offset, the rest 1,000: the uncentered pass is run,
    measured over the share and rejected; the shifted pass gives the exact answer."""
    n = 50_000
    offsets = np.zeros((n, 1))
    offsets[gram.PILOT_ROWS :] = 1000.0
    X, _ = exact_design(rng, n, 3, 0.0, spread=1.0)
    X = X + offsets
    y = rng.standard_normal((n, 1))
    assert gram._pilot_loss(X, y) < PILOT_SHARE  # the pilot sees nothing
    direct = Spy(monkeypatch, gram, "gram_and_cross")
    shifted = Spy(monkeypatch, gram, "gram_stats_about")
    # 4,096-row blocks: the shifted pass's pilot mean is then within 0.8 of the
    # column's spread of the true mean (a loss below 2).
    stats = gram_stats(X, y, block_rows=gram.DEFAULT_BLOCK_ROWS)
    assert (direct.calls, shifted.calls) == (1, 1)
    # X - offsets is Z exactly; both centered parts are formed without cancellation,
    # so the reference carries only a few ulps of its sums.
    Xc = X - offsets - (X - offsets).mean(axis=0)
    shift_c = offsets - offsets.mean()
    reference = Xc.T @ Xc + shift_c.T @ Xc + Xc.T @ shift_c + shift_c.T @ shift_c
    assert stats.centering_loss() < 2.0
    assert relative_error(stats.xx, reference) <= 2 * SUM_ROUNDING


def test_sorted_data_redo_the_shifted_pass(rng, monkeypatch):
    """Sorted rows, offsets of 1e8, n = 500,000 (122 blocks): the first block's mean
    is ~1,000 sd of the block away from the mean of all rows (a loss of ~120 if
    kept); the pass is run again about the measured mean and loses nothing."""
    n = 500_000
    X, _ = exact_design(rng, n, 2, 1e8, spread=1.0)
    X[gram.DEFAULT_BLOCK_ROWS :] += 1000.0
    y = rng.standard_normal((n, 1))
    shifted = Spy(monkeypatch, gram, "gram_stats_about")
    stats = gram_stats(X, y)
    assert shifted.calls == 2
    assert stats.centering_loss() < 2.0
    Xc = X - 1e8  # exact
    Xc = Xc - Xc.mean(axis=0)
    assert relative_error(stats.xx, Xc.T @ Xc) <= 2 * SUM_ROUNDING
    assert_allclose(stats.x_mean, X.mean(axis=0), rtol=4 * EPS)


def test_weighted_sorted_data_redo_the_shifted_pass(rng):
    n = 20_000
    X, _ = exact_design(rng, n, 2, 1e8, spread=1.0)
    X[64:] += 1000.0
    w = rng.uniform(0.5, 2.0, n)
    stats = gram_stats(X, rng.standard_normal((n, 1)), w, block_rows=64)
    Z = X - 1e8
    mean = w @ Z / w.sum()
    assert stats.centering_loss() < 2.0
    assert relative_error(stats.xx, (Z - mean).T @ ((Z - mean) * w[:, None])) <= 4 * SUM_ROUNDING


def test_groups_redo_the_pass_about_the_mean(rng, monkeypatch):
    """Shuffled groups (the gathering pass) with an unrepresentative first block."""
    n = 20_000
    X, _ = exact_design(rng, n, 2, 1e8, spread=1.0)
    X[64:] += 1000.0
    y = rng.standard_normal((n, 1))
    groups = rng.integers(0, 3, n)
    accumulate = Spy(monkeypatch, gram, "_accumulate")
    parts = gram_stats_by_group(X, y, None, groups, 3, block_rows=64)
    assert accumulate.calls == 2
    for label, part in enumerate(parts):
        Z = X[groups == label] - 1e8
        Zc = Z - Z.mean(axis=0)
        assert part.centering_loss() < 2.0
        assert relative_error(part.xx, Zc.T @ Zc) <= 2 * SUM_ROUNDING


def test_downdate_records_its_cancellation(rng):
    X = rng.standard_normal((100, 2))
    y = rng.standard_normal((100, 1))
    total = gram_stats_about_mean(X, y)
    assert total.centering_loss() < 1.01
    # Removing 99 of 100 rows leaves a diagonal ~100x smaller than the rounding kept.
    assert total.downdate(gram_stats_about_mean(X[1:], y[1:])).centering_loss() > 10
    assert total.downdate(gram_stats_about_mean(X[:10], y[:10])).centering_loss() < 3
    merged = total.merge(total)
    assert merged.centering_loss() == pytest.approx(total.centering_loss())


def gram_stats_about_mean(X, y):
    return gram.gram_stats_about(X, y, None, (X.mean(axis=0), y.mean(axis=0)))
