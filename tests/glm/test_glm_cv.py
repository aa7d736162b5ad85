"""LogisticRegressionCV and PoissonRegressionCV: k-fold and ALO selection, scorers, 1se."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.model_selection import KFold
from tests.glm._glm_data import binary_data, count_data, multiclass_data

from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model import LogisticRegression
from l2reg.model_selection import LogisticRegressionCV, PoissonRegressionCV
from l2reg.model_selection._selection import select_alpha, weighted_standard_error

#: A scorer that evaluates the same weighted mean log-loss as the default
#: criterion, through a different code path (probabilities, then logs).
SAME_CRITERION = 1e-9
TIGHT_TOL = 1e-10
#: ALO's relative error on the mean leave-one-out loss at n = 300, p = 5
#: (measured up to 3e-3 over 20 seeds at the largest alphas; see test_glm_alo).
ALO_N300 = 1e-2


def test_kfold_errors_are_held_out_losses(rng):
    X, y = binary_data(rng, n=120)
    alphas = [1.0, 0.1, 0.01]
    cv = KFold(3, shuffle=True, random_state=0)
    model = LogisticRegressionCV(alphas=alphas, cv=cv, tol=TIGHT_TOL).fit(X, y)
    split_errors = np.empty((3, 3))
    for f, (train, test) in enumerate(cv.split(X, y)):
        for a, alpha in enumerate(sorted(alphas, reverse=True)):
            fold = LogisticRegression(alpha=alpha, tol=TIGHT_TOL).fit(X[train], y[train])
            p = fold.predict_proba(X[test])[np.arange(len(test)), y[test]]
            split_errors[f, a] = -np.mean(np.log(p))
    assert_allclose(model.cv_results_["split_errors"], split_errors, rtol=1e-7)
    assert_allclose(model.cv_results_["mean_error"], split_errors.mean(axis=0), rtol=1e-7)
    assert model.alpha_ == sorted(alphas, reverse=True)[int(np.argmin(split_errors.mean(0)))]
    refit = LogisticRegression(alpha=model.alpha_, tol=TIGHT_TOL).fit(X, y)
    assert_allclose(model.coef_, refit.coef_, rtol=1e-7)
    assert model.best_score_ == -model.cv_results_["mean_error"].min()


@pytest.mark.parametrize("cv", [3, "alo"])
@pytest.mark.parametrize("weighted", [False, True])
def test_neg_log_loss_scorer_equals_default_criterion(rng, cv, weighted):
    X, y = multiclass_data(rng, n=150)
    w = rng.uniform(0.5, 2.0, 150) if weighted else None
    default = LogisticRegressionCV(alphas=5, cv=cv, tol=TIGHT_TOL).fit(X, y, sample_weight=w)
    scored = LogisticRegressionCV(alphas=5, cv=cv, scoring="neg_log_loss", tol=TIGHT_TOL).fit(
        X, y, sample_weight=w
    )
    assert_allclose(
        scored.cv_results_["mean_error"], default.cv_results_["mean_error"], rtol=SAME_CRITERION
    )
    other = LogisticRegressionCV(alphas=5, cv=cv, scoring="accuracy").fit(X, y, sample_weight=w)
    assert np.all((other.cv_results_["mean_error"] >= -1) & (other.cv_results_["mean_error"] <= 0))


def test_alo_is_close_to_brute_force_cv_and_picks_a_similar_alpha(rng):
    X, y = count_data(rng, n=300)
    alo = PoissonRegressionCV(alphas=8, cv="alo").fit(X, y)
    loo = PoissonRegressionCV(alphas=alo.alphas_, cv=KFold(300)).fit(X, y)
    assert_allclose(alo.cv_results_["mean_error"], loo.cv_results_["mean_error"], rtol=ALO_N300)
    chosen = [int(np.flatnonzero(alo.alphas_ == m.alpha_)[0]) for m in (alo, loo)]
    assert abs(chosen[0] - chosen[1]) <= 1  # the same alpha, or its grid neighbour


def test_one_standard_error_rule(rng):
    X, y = binary_data(rng, n=200)
    best = LogisticRegressionCV(alphas=15, cv="alo", selection="min").fit(X, y)
    simple = LogisticRegressionCV(alphas=15, cv="alo", selection="1se").fit(X, y)
    assert simple.alpha_ >= best.alpha_
    results = simple.cv_results_
    index = int(np.argmin(results["mean_error"]))
    chosen = int(np.flatnonzero(results["alphas"] == simple.alpha_)[0])
    threshold = results["mean_error"][index] + results["std_error"][index]
    assert results["mean_error"][chosen] <= threshold
    with pytest.raises(IncompatibleOptionsError, match="selection='1se' needs a standard error"):
        LogisticRegressionCV(cv="alo", scoring="accuracy", selection="1se").fit(X, y)


def test_select_alpha_and_standard_error():
    alphas = np.array([10.0, 1.0, 0.1])
    error = np.array([0.5, 0.3, 0.29])
    assert select_alpha(alphas, error, np.array([0.1, 0.1, 0.05]), "min") == 2
    assert select_alpha(alphas, error, np.array([0.1, 0.1, 0.05]), "1se") == 1
    values = np.array([1.0, 2.0, 4.0])
    assert_allclose(
        weighted_standard_error(values, np.ones(3)), np.std(values, ddof=1) / np.sqrt(3)
    )


@pytest.mark.parametrize("Estimator", [LogisticRegressionCV, PoissonRegressionCV])
@pytest.mark.parametrize("cv", [3, "alo"])
def test_results_shapes_and_default_grid(rng, Estimator, cv):
    X, y = binary_data(rng, n=90) if Estimator is LogisticRegressionCV else count_data(rng, n=90)
    model = Estimator(cv=cv).fit(X, y)
    assert model.cv_results_["alphas"].shape == (20,)
    assert np.all(np.diff(model.cv_results_["alphas"]) < 0)
    assert model.cv_results_["mean_error"].shape == (20,)
    assert model.cv_results_["std_error"].shape == (20,)
    if cv == 3:
        assert model.cv_results_["split_errors"].shape == (3, 20)
    assert model.alpha_ in model.alphas_
    assert model.certificate_.relative_gradient_norm <= 1e-8


def test_invalid_cv_options(rng):
    X, y = binary_data(rng, n=30)
    with pytest.raises(InvalidParameterError, match="'cv' must be"):
        LogisticRegressionCV(cv="loo").fit(X, y)
    with pytest.raises(InvalidParameterError, match="alphas must be > 0"):
        LogisticRegressionCV(alphas=[1.0, 0.0]).fit(X, y)
    y3 = np.array([0] * 14 + [1] * 14 + [2] * 2)
    with pytest.raises(InvalidParameterError, match="training fold .* has no"):
        LogisticRegressionCV(cv=KFold(3)).fit(X, y3)
