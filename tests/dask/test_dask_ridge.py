"""Ridge, RidgeCV and ridge_path on Dask equal the in-memory fits on the same rows.

The distributed fit merges per-block statistics (Chan-Golub-LeVeque) where
the in-memory fit makes one pass: the two differ by rounding only, so they
must agree to EXACT_F64 on well-conditioned data.
"""

import numpy as np
import pytest
from tests._tolerances import EXACT_F64
from tests.dask._dask_data import CHUNKS, make_regression, to_dask

from l2reg import Ridge, RidgeCV, load, ridge_path, save
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError

da = pytest.importorskip("dask.array")


def assert_same_model(distributed, in_memory, rtol=EXACT_F64):
    np.testing.assert_allclose(distributed.coef_, in_memory.coef_, rtol=rtol, atol=0)
    np.testing.assert_allclose(distributed.intercept_, in_memory.intercept_, rtol=rtol, atol=0)
    assert distributed.solver_ == in_memory.solver_
    assert distributed.n_features_in_ == in_memory.n_features_in_


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "fit_intercept, penalize_intercept", [(True, False), (False, False), (True, True)]
)
def test_ridge_equals_in_memory(client, weighted, fit_intercept, penalize_intercept):
    X, Y, w = make_regression(seed=1)
    w = w if weighted else None
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    alpha = np.array([0.05, 0.3, 0.05])  # per-target alphas share a factor where equal
    expected = Ridge(alpha=alpha, **options).fit(X, Y, w)
    model = Ridge(alpha=alpha, **options).fit(*to_dask(X, Y, w))
    assert_same_model(model, expected)
    assert model.certificate_.relative_gradient_norm < 1e-12


def test_single_target_and_large_offset_keep_full_accuracy(client):
    # A 1e8 mean offset: centering after the fact would lose 16 digits; the
    # per-block shifted passes and the merge must not.
    X, Y, w = make_regression(seed=2, n_targets=1, offset=1e8)
    y = Y[:, 0] + 1e8
    expected = Ridge(alpha=1e-3).fit(X, y, w)
    model = Ridge(alpha=1e-3).fit(*to_dask(X, y, w))
    assert_same_model(model, expected)
    assert np.ndim(model.coef_) == 1 and isinstance(model.intercept_, float)


def test_fitted_model_is_in_memory_and_predicts_lazily(client, tmp_path):
    X, Y, w = make_regression(seed=3)
    dX, dY, dw = to_dask(X, Y, w)
    model = Ridge(alpha=0.1).fit(dX, dY, dw)
    predicted = model.predict(dX)
    assert isinstance(predicted, da.Array)
    np.testing.assert_allclose(predicted.compute(), model.predict(X), rtol=1e-13)
    save(model, tmp_path / "model.l2reg")
    loaded = load(tmp_path / "model.l2reg")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_dataframe_and_series(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, Y, w = make_regression(seed=4, n_targets=1)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame["ints"] = np.arange(X.shape[0]) % 7  # an integer column counts as numeric
    target = pd.Series(Y[:, 0], name="y")
    expected = Ridge(alpha=0.2).fit(frame, target, w)
    model = Ridge(alpha=0.2).fit(
        dd.from_pandas(frame, npartitions=3), dd.from_pandas(target, npartitions=3), w
    )
    assert_same_model(model, expected)
    np.testing.assert_array_equal(model.feature_names_in_, expected.feature_names_in_)
    frame["text"] = "a"
    with pytest.raises(InvalidParameterError, match=r"numeric.*\['text'\]"):
        Ridge().fit(dd.from_pandas(frame, npartitions=2), dd.from_pandas(target, npartitions=2))


@pytest.mark.parametrize("cv", ["gcv", "evidence", 4, None])
def test_ridge_cv_equals_in_memory(client, cv):
    X, Y, w = make_regression(seed=5)
    alphas = np.geomspace(1e-3, 1e2, 12)
    expected = RidgeCV(alphas=alphas, cv=cv).fit(X, Y, w)
    model = RidgeCV(alphas=alphas, cv=cv).fit(*to_dask(X, Y, w))
    assert_same_model(model, expected)
    assert model.alpha_ == expected.alpha_
    for key, values in expected.cv_results_.items():
        np.testing.assert_allclose(model.cv_results_[key], values, rtol=EXACT_F64, atol=0)
    np.testing.assert_allclose(model.best_score_, expected.best_score_, rtol=EXACT_F64)


def test_ridge_cv_default_grid_per_target_and_1se(client):
    X, Y, w = make_regression(seed=6)
    options = dict(cv=None, alpha_per_target=True, selection="1se")
    expected = RidgeCV(**options).fit(X, Y, w)
    model = RidgeCV(**options).fit(*to_dask(X, Y, w))
    np.testing.assert_allclose(model.cv_results_["alphas"], expected.cv_results_["alphas"])
    np.testing.assert_allclose(model.alpha_, expected.alpha_, rtol=EXACT_F64)
    assert_same_model(model, expected)


def test_hashed_folds_equal_in_memory_and_ignore_chunking(client):
    from l2reg.model_selection import HashedKFold

    X, Y, w = make_regression(seed=7)
    alphas = np.geomspace(1e-3, 1e2, 8)
    expected = RidgeCV(alphas=alphas, cv=HashedKFold(5, seed=3)).fit(X, Y, w)
    for chunks in (CHUNKS, (200, 200)):
        model = RidgeCV(alphas=alphas, cv=HashedKFold(5, seed=3)).fit(
            *to_dask(X, Y, w, chunks=chunks)
        )
        np.testing.assert_allclose(
            model.cv_results_["mean_error"], expected.cv_results_["mean_error"], rtol=EXACT_F64
        )
        assert_same_model(model, expected)


def test_ridge_path_equals_in_memory(client):
    X, Y, w = make_regression(seed=8)
    expected = ridge_path(X, Y, sample_weight=w, n_alphas=20)
    path = ridge_path(*to_dask(X, Y), sample_weight=to_dask(w)[0], n_alphas=20)
    np.testing.assert_allclose(path.alphas, expected.alphas, rtol=EXACT_F64)
    np.testing.assert_allclose(path.coefs, expected.coefs, rtol=EXACT_F64, atol=1e-13)
    np.testing.assert_allclose(path.intercepts, expected.intercepts, rtol=EXACT_F64)
    assert path.solvers == expected.solvers
    assert max(path.relative_gradient_norms) < 1e-12


def test_unsupported_options_are_refused_clearly(client):
    X, Y, w = make_regression(seed=9)
    dX, dY, _ = to_dask(X, Y, w)
    with pytest.raises(IncompatibleOptionsError, match="solver='svd' needs the rows"):
        Ridge(solver="svd").fit(dX, dY)
    with pytest.raises(IncompatibleOptionsError, match="scoring"):
        RidgeCV(cv=3, scoring="r2").fit(dX, dY)
    from sklearn.model_selection import KFold

    with pytest.raises(InvalidParameterError, match="HashedKFold"):
        RidgeCV(cv=KFold(3, shuffle=True, random_state=0)).fit(dX, dY)


def test_threaded_scheduler_without_a_client():
    import dask

    X, Y, w = make_regression(seed=10)
    with dask.config.set(scheduler="threads"):
        model = Ridge(alpha=0.1).fit(*to_dask(X, Y, w))
    assert_same_model(model, Ridge(alpha=0.1).fit(X, Y, w))


def test_public_gram_stats_and_refit_from_stats(client):
    from l2reg import GramStats
    from l2reg.dask import gram_stats

    X, Y, w = make_regression(seed=11)
    stats = gram_stats(*to_dask(X, Y, w))
    expected = GramStats.from_chunk(X, Y, w)
    for name in ("x_mean", "y_mean", "xx", "xy", "yy"):
        np.testing.assert_allclose(
            getattr(stats, name), getattr(expected, name), rtol=EXACT_F64, atol=1e-12
        )
    assert stats.positive_count == expected.positive_count
    # The distributed fit keeps its statistics: another alpha needs no pass.
    model = Ridge(alpha=0.1).fit(*to_dask(X, Y, w))
    refit = Ridge(alpha=2.0).fit_stats(model.stats_)
    np.testing.assert_allclose(refit.coef_, Ridge(alpha=2.0).fit(X, Y, w).coef_, rtol=EXACT_F64)
