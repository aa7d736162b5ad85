"""ElasticNetCV: against scikit-learn on the same folds, brute-force refits, 1se, l1_ratio lists."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNetCV as SklearnElasticNetCV
from sklearn.model_selection import GroupKFold, KFold, ShuffleSplit

import l2reg.model_selection._enet_cv as enet_cv_module
import l2reg.objective.enet_problem as enet_problem_module
from l2reg import (
    ConvergenceWarning,
    ElasticNet,
    ElasticNetCV,
    IncompatibleOptionsError,
    InvalidParameterError,
)
from l2reg.model_selection._selection import weighted_standard_error

#: CV errors of paths solved to a duality gap <= 1e-15 var(y) against
#: brute-force fits at the same gap: the errors are smooth in the coefficients,
#: which agree to ~1e-7, so the errors agree far below this.
ERROR_RTOL = 1e-6
TIGHT_TOL = 1e-15
#: Final coefficients against ElasticNet(alpha_, l1_ratio_) (both at the tight tol).
COEF_ATOL = 1e-7


def _data(rng, n=120, p=10, sparse=False):
    X = rng.normal(size=(n, p)) + 0.5
    X[:, 1] += 0.8 * X[:, 0]  # correlated features
    coef = np.zeros(p)
    coef[:4] = [1.5, -1.0, 0.6, 0.3]
    y = X @ coef + 1.2 * rng.normal(size=n) + 2.0
    if sparse:
        X = sp.csr_matrix(np.where(rng.random(size=(n, p)) < 0.6, X, 0.0))
    return X, y


def _brute_force(X, y, w, splits, alphas, l1_ratio, fit_intercept=True):
    """Fold-weighted mean and standard error of held-out weighted MSE, by explicit fits."""
    w = np.ones(y.size) if w is None else w
    errors, weights = [], []
    for train, test in splits:
        fold = []
        for alpha in alphas:
            model = ElasticNet(
                alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=TIGHT_TOL
            ).fit(X[train], y[train], sample_weight=w[train])
            residual = y[test] - model.predict(X[test])
            fold.append(w[test] @ residual**2 / w[test].sum())
        errors.append(fold)
        weights.append(w[test].sum())
    errors, weights = np.array(errors), np.array(weights)
    return weights @ errors / weights.sum(), weighted_standard_error(errors, weights)


@pytest.mark.parametrize("l1_ratio", [0.5, [0.2, 0.6, 1.0]])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_selection_matches_sklearn_on_the_same_folds(rng, l1_ratio, fit_intercept):
    X, y = _data(rng)
    folds = KFold(5, shuffle=True, random_state=0)
    ours = ElasticNetCV(
        l1_ratio=l1_ratio, cv=folds, n_alphas=30, fit_intercept=fit_intercept, tol=TIGHT_TOL
    ).fit(X, y)
    # scikit-learn's grid per l1_ratio is ours (same alpha_max, same eps); its
    # alpha and l1_ratio are l2reg's numbers (l2reg.conventions.to_sklearn_elastic_net).
    theirs = SklearnElasticNetCV(
        l1_ratio=l1_ratio, cv=folds, alphas=30, fit_intercept=fit_intercept, tol=1e-12,
        max_iter=1_000_000,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(ours.cv_results_["alphas"], theirs.alphas_, rtol=1e-12)
    np.testing.assert_allclose(
        ours.cv_results_["mean_error"], theirs.mse_path_.mean(axis=-1), rtol=ERROR_RTOL
    )
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12)
    assert ours.l1_ratio_ == theirs.l1_ratio_
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-6)


@pytest.mark.parametrize(
    "case", ["gram-kfold", "gram-shuffled", "rows-sparse", "rows-shufflesplit", "rows-wide"]
)
def test_cv_results_equal_brute_force_refits(rng, case):
    X, y = _data(rng, sparse=case == "rows-sparse")
    if case == "rows-wide":
        X, y = X[:8], y[:8]  # p > n per training fold: residual updates on the rows
    w = rng.uniform(0.3, 2.0, size=y.size)
    cv = {
        "gram-kfold": KFold(4),
        "gram-shuffled": KFold(4, shuffle=True, random_state=1),
        "rows-sparse": KFold(4),
        "rows-shufflesplit": ShuffleSplit(4, test_size=0.3, random_state=0),
        "rows-wide": KFold(3),
    }[case]
    # With 5 training rows for 10 features the small alphas are barely strongly
    # convex: a duality gap of 1e-15 then pins the coefficients only to ~1e-5.
    alphas = np.geomspace(1.0, 0.05 if case == "rows-wide" else 1e-3, 8)
    model = ElasticNetCV(alphas, l1_ratio=0.7, cv=cv, tol=TIGHT_TOL).fit(X, y, sample_weight=w)
    splits = list(cv.split(X, y))
    mean, std = _brute_force(X, y, w, splits, alphas, 0.7)
    np.testing.assert_allclose(model.cv_results_["mean_error"], mean, rtol=ERROR_RTOL)
    np.testing.assert_allclose(model.cv_results_["std_error"], std, rtol=1e-5)
    assert model.alpha_ == alphas[np.argmin(mean)]


def test_one_pass_over_X_in_gram_mode(rng, monkeypatch):
    X, y = _data(rng, n=300)
    passes, problems = [], []
    original = enet_cv_module.gram_stats_by_group
    monkeypatch.setattr(
        enet_cv_module,
        "gram_stats_by_group",
        lambda *a, **k: passes.append(1) or original(*a, **k),
    )
    monkeypatch.setattr(
        enet_problem_module, "gram_stats", lambda *a, **k: problems.append(1)
    )  # an ElasticNetProblem computing its own statistics would read X again
    model = ElasticNetCV(l1_ratio=[0.3, 0.9], cv=KFold(5, shuffle=True, random_state=0)).fit(X, y)
    assert passes == [1] and problems == []
    monkeypatch.undo()
    reference = ElasticNet(alpha=model.alpha_, l1_ratio=model.l1_ratio_).fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-6)


def test_one_standard_error_rule(rng):
    X, y = _data(rng, n=80)
    folds = KFold(5, shuffle=True, random_state=3)
    low = ElasticNetCV(l1_ratio=[0.4, 1.0], cv=folds, n_alphas=40).fit(X, y)
    high = ElasticNetCV(l1_ratio=[0.4, 1.0], cv=folds, n_alphas=40, selection="1se").fit(X, y)
    results = high.cv_results_
    row, best = np.unravel_index(np.argmin(results["mean_error"]), results["mean_error"].shape)
    bound = results["mean_error"][row, best] + results["std_error"][row, best]
    eligible = results["alphas"][row][results["mean_error"][row] <= bound]
    assert high.l1_ratio_ == low.l1_ratio_ == results["l1_ratios"][row]
    assert high.alpha_ == eligible.max() and high.alpha_ >= low.alpha_
    assert low.alpha_ == results["alphas"][row, best]
    assert -high.best_score_ >= -low.best_score_


def test_l1_ratio_list_shapes_and_choice(rng):
    X, y = _data(rng)
    model = ElasticNetCV(l1_ratio=[0.1, 0.5, 1.0], n_alphas=20).fit(X, y)
    results = model.cv_results_
    for key in ("alphas", "mean_error", "std_error", "mean_n_nonzero"):
        assert results[key].shape == (3, 20)
    np.testing.assert_array_equal(results["l1_ratios"], [0.1, 0.5, 1.0])
    assert -model.best_score_ == results["mean_error"].min()
    # Each grid starts at its alpha_max on all rows, where a fold may keep a feature or two.
    assert np.all(results["mean_n_nonzero"][:, 0] <= 1) and np.all(
        results["mean_n_nonzero"][:, -1] > 1
    )
    single = ElasticNetCV(l1_ratio=0.5, n_alphas=20).fit(X, y).cv_results_
    assert single["mean_error"].shape == (20,)
    np.testing.assert_allclose(single["mean_error"], results["mean_error"][1], rtol=1e-10)


def test_threads_change_nothing(rng):
    X, y = _data(rng, n=200)
    one = ElasticNetCV(l1_ratio=[0.5, 0.9], n_jobs=1).fit(X, y)
    two = ElasticNetCV(l1_ratio=[0.5, 0.9], n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.cv_results_["mean_error"], two.cv_results_["mean_error"])
    np.testing.assert_array_equal(one.coef_, two.coef_)
    assert one.certificate_.duality_gap <= 1e-8 * np.var(y)


def test_groups_reach_the_splitter(rng):
    X, y = _data(rng, n=60)
    groups = np.repeat(np.arange(6), 10)
    model = ElasticNetCV(cv=GroupKFold(3), n_alphas=10).fit(X, y, groups=groups)
    assert model.cv_results_["mean_error"].shape == (10,)


def test_one_convergence_warning_for_all_folds(rng):
    X, y = _data(rng, n=100)
    with pytest.warns(ConvergenceWarning) as caught:
        ElasticNetCV(l1_ratio=[0.5, 1.0], cv=3, n_alphas=10, tol=1e-15, max_iter=1, n_jobs=2).fit(
            X, y
        )
    messages = [str(w.message) for w in caught if "(fold, l1_ratio, alpha)" in str(w.message)]
    assert len(messages) == 1 and "of 60 (fold, l1_ratio, alpha) fits" in messages[0]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"l1_ratio": [0.5, 1.2]}, "'l1_ratio' must lie in \\[0, 1\\]; got 1.2 \\(entry 1\\)"),
        ({"l1_ratio": -0.5}, "'l1_ratio' must lie in"),
        ({"l1_ratio": []}, "empty list"),
        ({"l1_ratio": "0.5"}, "'l1_ratio' must be a number"),
        ({"penalty_factor": [1.0] * 9 + [-2.0]}, "'penalty_factor' must be >= 0"),
        ({"penalty_factor": [0.0] * 10}, "every 'penalty_factor' is 0"),
        ({"selection": "max"}, "selection"),
        ({"cv": 1}, "cv"),
        ({"alphas": [0.0, 1.0]}, "every alpha must be finite and > 0"),
    ],
)
def test_bad_parameters(rng, params, match):
    X, y = _data(rng, n=30)
    with pytest.raises(InvalidParameterError, match=match):
        ElasticNetCV(**params).fit(X, y)


def test_bad_data(rng):
    X, y = _data(rng, n=30, sparse=True)
    with pytest.raises(IncompatibleOptionsError, match="positive=True is defined for one target"):
        ElasticNetCV(positive=True).fit(X, np.c_[y, y])
    X = X.tocsc()
    X.data[0] = np.nan  # an explicit NaN among the stored entries
    with pytest.raises(ValueError, match="NaN"):
        ElasticNetCV().fit(X, y)
    with pytest.raises(InvalidParameterError, match="at least 2 samples"):
        ElasticNetCV(cv=2).fit(np.ones((1, 3)), [1.0])
