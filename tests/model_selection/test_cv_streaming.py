"""RidgeCV from sufficient statistics: fit_stats and partial_fit, GCV, evidence, hashed k-fold.

The reference is ``RidgeCV.fit`` on the concatenated rows with the same
criterion (``HashedKFold`` for k-fold), itself tested against brute-force refits
in test_cv.py.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2reg import (
    AccuracyWarning,
    GramStats,
    IncompatibleOptionsError,
    InvalidParameterError,
    Ridge,
    RidgeCV,
    ridge_path,
)
from l2reg.model_selection import HashedKFold, hashed_folds

#: Criteria and models of the same rows along two summation orders (one pass vs
#: merged chunks): each is accurate to ~1e-14 on these well-conditioned problems.
SAME_ROWS = 1e-10
ALPHAS = np.logspace(-4, 1, 12)


def _data(seed, n=120, p=4, k=2, offset=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + offset
    Y = (X - offset) @ rng.normal(size=(p, k)) + rng.normal(size=(n, k)) + offset
    return X, Y, rng.uniform(0.0, 2.0, n)


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _assert_same_selection(model, reference):
    assert np.array_equal(np.atleast_1d(model.alpha_), np.atleast_1d(reference.alpha_))
    assert _relative(model.coef_, reference.coef_) < SAME_ROWS
    assert _relative(model.intercept_, reference.intercept_) < SAME_ROWS
    for key, value in reference.cv_results_.items():
        if not np.all(np.isnan(value)):
            assert _relative(model.cv_results_[key], value) < SAME_ROWS, key


@given(
    # the first chunk must be able to choose alpha (documented); later ones may be one row
    cuts=st.lists(st.integers(10, 119), max_size=5, unique=True),
    cv=st.sampled_from(["gcv", "evidence", 3, HashedKFold(4, seed=9)]),
    weighted=st.booleans(),
    targets=st.sampled_from([None, 2]),
    offset=st.sampled_from([0.0, 1e8]),
    seed=st.integers(0, 2**16),
)
def test_partial_fit_equals_fit_on_all_rows(cuts, cv, weighted, targets, offset, seed):
    X, Y, w = _data(seed, k=targets or 1, offset=offset)
    y = Y[:, 0] if targets is None else Y
    w = w if weighted else None
    edges = [0, *sorted(cuts), X.shape[0]]
    model = RidgeCV(alphas=ALPHAS, cv=cv, alpha_per_target=targets is not None)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        model.partial_fit(X[a:b], y[a:b], None if w is None else w[a:b])
    same_cv = HashedKFold(cv) if isinstance(cv, int) else cv
    reference = RidgeCV(alphas=ALPHAS, cv=same_cv, alpha_per_target=targets is not None)
    _assert_same_selection(model, reference.fit(X, y, w))
    assert model.n_chunks_ == len(edges) - 1


def test_fit_stats_with_per_fold_statistics_of_any_partition():
    X, Y, w = _data(1)
    folds = hashed_folds(0, X.shape[0], 5, seed=2)
    parts = GramStats.from_chunk_by_group(X, Y, w, groups=folds, n_groups=5)
    model = RidgeCV(alphas=ALPHAS, cv=HashedKFold(5, seed=2)).fit_stats(parts)
    reference = RidgeCV(alphas=ALPHAS, cv=HashedKFold(5, seed=2)).fit(X, Y, w)
    _assert_same_selection(model, reference)
    assert len(model.fold_stats_) == 5


def test_fit_stats_gcv_and_the_refit_of_stats():
    X, Y, w = _data(2)
    stats = GramStats.from_chunk(X, Y, w)
    model = RidgeCV(alphas=ALPHAS, cv="gcv").fit_stats(stats)
    _assert_same_selection(model, RidgeCV(alphas=ALPHAS, cv="gcv").fit(X, Y, w))
    refit = Ridge(alpha=0.5).fit_stats(model.stats_)
    assert _relative(refit.coef_, Ridge(alpha=0.5).fit(X, Y, w).coef_) < SAME_ROWS


def test_what_needs_the_rows_is_refused_with_a_reason():
    X, Y, _ = _data(3)
    stats = GramStats.from_chunk(X, Y)
    with pytest.raises(IncompatibleOptionsError, match="leave-one-out"):
        RidgeCV().fit_stats(stats)
    with pytest.raises(IncompatibleOptionsError, match="statistics of each of the 5 folds"):
        RidgeCV(cv=5).fit_stats(stats)
    with pytest.raises(IncompatibleOptionsError, match="needs the rows to split"):
        from sklearn.model_selection import KFold

        RidgeCV(cv=KFold(3)).fit_stats(stats)
    with pytest.raises(IncompatibleOptionsError, match="scoring='r2'"):
        RidgeCV(cv=3, scoring="r2").fit_stats([stats] * 3)
    assert not hasattr(RidgeCV(), "partial_fit")
    with pytest.raises(AttributeError, match="no attribute 'partial_fit'") as caught:
        RidgeCV().partial_fit(X, Y)
    assert "leave-one-out (cv=None) needs the rows" in str(caught.value.__cause__)


def test_too_few_rows_to_choose_raise_and_leave_the_model_unfitted():
    X, Y, _ = _data(5)
    model = RidgeCV(cv="gcv")
    with pytest.raises(InvalidParameterError, match="at least 2 samples"):
        model.partial_fit(X[:1], Y[:1])
    assert not hasattr(model, "stats_") and not hasattr(model, "coef_")
    model.partial_fit(X[:2], Y[:2]).partial_fit(X[2:3], Y[2:3])
    assert model.n_chunks_ == 2


def test_rejected_chunk_leaves_fold_statistics_unchanged():
    X, Y, _ = _data(4)
    model = RidgeCV(alphas=ALPHAS, cv=3).partial_fit(X[:60], Y[:60])
    folds = model.fold_stats_
    copies = [part.xx.copy() for part in folds]
    bad = X[60:70].copy()
    bad[1, 1] = np.nan
    with pytest.raises(InvalidParameterError, match="chunk 1 "):
        model.partial_fit(bad, Y[60:70])
    assert model.fold_stats_ is folds and model.n_chunks_ == 1
    for part, copy in zip(folds, copies, strict=True):
        np.testing.assert_array_equal(part.xx, copy)


def test_hashed_folds_do_not_depend_on_chunking_and_are_balanced():
    whole = hashed_folds(0, 10_000, 7, seed=11)
    pieces = np.concatenate(
        [hashed_folds(a, b - a, 7, 11) for a, b in [(0, 1), (1, 5000), (5000, 10_000)]]
    )
    np.testing.assert_array_equal(whole, pieces)
    counts = np.bincount(whole, minlength=7)
    # each row uniform and independent: counts within 5 binomial standard deviations
    assert np.all(np.abs(counts - 10_000 / 7) < 5 * np.sqrt(10_000 * (1 / 7) * (6 / 7)))
    assert not np.array_equal(whole, hashed_folds(0, 10_000, 7, seed=12))
    with pytest.raises(ValueError, match="'n_folds' must be an integer"):
        hashed_folds(0, 10, 1)


def test_ridge_path_from_statistics_equals_path_from_rows():
    X, Y, w = _data(6, offset=1e8)
    stats = GramStats.merge_all(
        [GramStats.from_chunk(X[a:b], Y[a:b], w[a:b]) for a, b in [(0, 30), (30, 31), (31, 120)]]
    )
    path = ridge_path(alphas=ALPHAS, stats=stats)
    reference = ridge_path(X, Y, ALPHAS, sample_weight=w)
    assert path.coefs.shape == reference.coefs.shape
    assert _relative(path.coefs, reference.coefs) < SAME_ROWS
    assert _relative(path.intercepts, reference.intercepts) < SAME_ROWS
    assert _relative(path.effective_df, reference.effective_df) < SAME_ROWS
    assert path.solvers == reference.solvers
    with pytest.raises(IncompatibleOptionsError, match="not both"):
        ridge_path(X, Y, stats=stats)
    with pytest.raises(InvalidParameterError, match="pass the rows"):
        ridge_path(alphas=ALPHAS)


def test_ridge_path_from_statistics_warns_where_only_rows_would_be_accurate():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 4))
    X[:, 3] = X[:, 2] + 1e-6 * rng.normal(size=200)  # nearly collinear
    y = rng.normal(size=200)
    alphas = [1e-12, 1.0]
    with pytest.warns(AccuracyWarning, match="no backward-stable 'svd'|no rows"):
        path = ridge_path(alphas=alphas, stats=GramStats.from_chunk(X, y))
    assert path.solvers[1] == "spectral" and path.solvers[0] != "svd"
    assert path.condition_numbers[0] > 1e8
