"""Ridge.partial_fit and fit_stats: exactly the fit of all rows; nothing lost on bad chunks.

The reference is ``Ridge.fit`` on the concatenated rows, itself tested against
50-digit oracles in test_ridge.py.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests._tolerances import EXACT_F64, FLOAT32

from l2reg import GramStats, InvalidParameterError, Ridge, load, save


def _data(seed, n=80, p=4, k=2, offset=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + offset
    Y = X @ rng.normal(size=(p, k)) + rng.normal(size=(n, k)) + offset
    w = rng.uniform(0.0, 2.0, n)
    return X, Y, w


def _relative(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


@given(
    cuts=st.lists(st.integers(1, 79), max_size=8, unique=True),
    weighted=st.booleans(),
    fit_intercept=st.booleans(),
    targets=st.sampled_from([None, 1, 3]),
    offset=st.sampled_from([0.0, 1e8]),
    seed=st.integers(0, 2**16),
)
def test_partial_fit_equals_fit_on_all_rows(cuts, weighted, fit_intercept, targets, offset, seed):
    # Without an intercept a 1e8 offset is a real (ill-conditioned) feature: offsets
    # are the intercept's business, so they are tested with it.
    offset = offset if fit_intercept else 0.0
    X, Y, w = _data(seed, k=targets or 1, offset=offset)
    y = Y[:, 0] if targets is None else Y
    w = w if weighted else None
    edges = [0, *sorted(cuts), X.shape[0]]
    model = Ridge(alpha=0.05, fit_intercept=fit_intercept)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        model.partial_fit(X[a:b], y[a:b], None if w is None else w[a:b])
    reference = Ridge(alpha=0.05, fit_intercept=fit_intercept).fit(X, y, w)
    assert np.shape(model.coef_) == np.shape(reference.coef_)
    assert _relative(model.coef_, reference.coef_) < EXACT_F64
    assert _relative(model.intercept_, reference.intercept_) < EXACT_F64 or not fit_intercept
    assert model.n_chunks_ == len(edges) - 1
    assert model.stats_.n_samples == X.shape[0]


def test_fit_stats_refits_any_alpha_from_the_statistics():
    X, Y, w = _data(0)
    model = Ridge(alpha=0.1).partial_fit(X[:30], Y[:30], w[:30]).partial_fit(X[30:], Y[30:], w[30:])
    for alpha in (1e-3, 1.0, [0.2, 5.0]):
        refit = Ridge(alpha=alpha).fit_stats(model.stats_)
        reference = Ridge(alpha=alpha).fit(X, Y, w)
        assert _relative(refit.coef_, reference.coef_) < EXACT_F64
        assert _relative(refit.intercept_, reference.intercept_) < EXACT_F64
        assert refit.solver_ == "cholesky" and refit.n_features_in_ == X.shape[1]


def _bad_chunks(X, Y):
    nan = X[:10].copy()
    nan[4, 2] = np.nan
    return {
        "NaN": (nan, Y[:10]),
        "width": (X[:10, :3], Y[:10]),
        "dtype kind": (np.full((10, 4), "x"), Y[:10]),
        "targets": (X[:10], Y[:10, :1]),
        "float32": (X[:10].astype(np.float32), Y[:10]),
        "y form": (X[:10], Y[:10, 0]),
    }


@pytest.mark.parametrize("kind", ["NaN", "width", "dtype kind", "targets", "float32", "y form"])
def test_rejected_chunk_names_itself_and_changes_nothing(kind):
    X, Y, w = _data(1)
    model = Ridge(alpha=0.1).partial_fit(X[:40], Y[:40]).partial_fit(X[40:], Y[40:])
    before = {key: value for key, value in vars(model).items()}
    stats = model.stats_
    arrays = {f: getattr(stats, f).copy() for f in ("xx", "xy", "yy", "x_mean", "y_mean")}
    bad_X, bad_y = _bad_chunks(X, Y)[kind]
    with pytest.raises(InvalidParameterError, match=r"chunk 2 \(chunks are counted from 0\)"):
        model.partial_fit(bad_X, bad_y)
    assert vars(model).keys() == before.keys()
    assert model.stats_ is stats and model.n_chunks_ == 2
    for field, value in arrays.items():
        np.testing.assert_array_equal(getattr(model.stats_, field), value)
    np.testing.assert_array_equal(model.coef_, before["coef_"])
    # and the stream goes on
    model.partial_fit(X[:5], Y[:5])
    assert model.n_chunks_ == 3


def test_first_chunk_rejected_leaves_model_unfitted():
    X, Y, _ = _data(2)
    X[0, 0] = np.inf
    model = Ridge()
    with pytest.raises(InvalidParameterError, match="chunk 0"):
        model.partial_fit(X, Y)
    assert not hasattr(model, "coef_") and not hasattr(model, "n_features_in_")


def test_fit_forgets_statistics_and_solver_choice_is_checked():
    X, Y, _ = _data(3)
    model = Ridge().partial_fit(X, Y)
    model.fit(X, Y)
    assert not hasattr(model, "stats_") and not hasattr(model, "n_chunks_")
    assert Ridge(solver="svd").partial_fit(X, Y).solver_ == "cholesky"
    with pytest.raises(TypeError, match="must be GramStats"):
        Ridge().fit_stats((X, Y))


def test_singular_statistics_raise_and_ill_conditioned_warn():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    X = np.column_stack([X, X[:, 0]])  # collinear
    y = rng.normal(size=30)
    stats = GramStats.from_chunk(X, y)
    with pytest.raises(ValueError, match="no backward-stable 'svd'"):
        Ridge(alpha=0.0).fit_stats(stats)


def test_saved_partial_fit_model_continues():
    X, Y, w = _data(5)
    model = Ridge(alpha=0.3).partial_fit(X[:50], Y[:50], w[:50])
    path = save(model, _tmp("ridge-stream.l2reg"))
    loaded = load(path)
    loaded.partial_fit(X[50:], Y[50:], w[50:])
    reference = Ridge(alpha=0.3).fit(X, Y, w)
    assert _relative(loaded.coef_, reference.coef_) < EXACT_F64
    assert loaded.n_chunks_ == 2


def _tmp(name):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="l2reg-stream-")) / name


def test_any_merge_order_of_chunk_statistics_fits_the_same_model():
    X, Y, w = _data(6, n=90, offset=1e8)
    cuts = [(0, 13), (13, 14), (14, 50), (50, 90)]
    parts = [GramStats.from_chunk(X[a:b], Y[a:b], w[a:b]) for a, b in cuts]
    reference = Ridge(alpha=0.02).fit(X, Y, w)
    orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]
    for order in orders:
        merged = parts[order[0]]
        for i in order[1:]:
            merged = merged.merge(parts[i])
        model = Ridge(alpha=0.02).fit_stats(merged)
        assert _relative(model.coef_, reference.coef_) < EXACT_F64
        assert _relative(model.intercept_, reference.intercept_) < EXACT_F64
    tree = Ridge(alpha=0.02).fit_stats(GramStats.merge_all(parts))
    assert _relative(tree.coef_, reference.coef_) < EXACT_F64


def test_float32_chunks_keep_their_dtype():
    X, Y, _ = _data(7)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    model = Ridge(alpha=0.1).partial_fit(X32[:40], Y32[:40]).partial_fit(X32[40:], Y32[40:])
    reference = Ridge(alpha=0.1).fit(X32, Y32)
    assert model.coef_.dtype == np.float32 and model.stats_.dtype == "float32"
    # the statistics are accumulated in float64, the reference's in float32
    assert _relative(model.coef_, reference.coef_) < FLOAT32
