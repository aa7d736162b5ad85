"""RidgeCV(feature_groups=...): one alpha per block of features.

Every point the search evaluates is checked against RidgeCV with the
corresponding fixed ``penalty_factor`` (whose LOO, GCV and evidence are checked
against brute-force refits in ``test_penalized_cv.py``), and the chosen model
against Ridge with those factors.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from l2reg import IncompatibleOptionsError, InvalidParameterError, Ridge, RidgeCV


def _data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    # Group "a" carries a strong signal, group "b" almost none: different alphas fit best.
    y = X[:, :3] @ [2.0, -1.5, 1.0] + 0.05 * X[:, 3:] @ [1.0, 1.0, 1.0] + rng.normal(size=n)
    return X, y, rng.uniform(0.5, 2.0, n)


GROUPS = np.array(["a", "a", "a", "b", "b", "b"])


@pytest.mark.parametrize("cv", [None, "gcv", "evidence"])
@pytest.mark.parametrize("search", ["grid", "optimize"])
def test_every_point_is_ridge_cv_with_fixed_factors(cv, search):
    X, y, w = _data()
    model = RidgeCV(cv=cv, feature_groups=GROUPS, group_search=search).fit(X, y, w)
    results = model.group_cv_results_
    index = np.array([0, 0, 0, 1, 1, 1])
    picks = np.linspace(0, len(results["mean_error"]) - 1, 4).astype(int)
    for point in picks:
        factors = results["group_alphas"][point][index] / model.alpha_
        fixed = RidgeCV(alphas=[model.alpha_], cv=cv, penalty_factor=factors).fit(X, y, w)
        assert_allclose(
            results["mean_error"][point], fixed.cv_results_["mean_error"][0], rtol=1e-10
        )
    best = int(np.argmin(results["mean_error"]))
    assert_allclose(model.group_alphas_, results["group_alphas"][best], rtol=1e-12)
    factors = model.group_alphas_[model.feature_groups_] / model.alpha_
    ridge = Ridge(alpha=model.alpha_, penalty_factor=factors).fit(X, y, w)
    assert_allclose(model.coef_, ridge.coef_, rtol=1e-12)
    # Every group at alpha_ (multiplier 1) is a point of the search (the grid's middle,
    # the optimizer's start), so the chosen point is at least as good as one alpha.
    assert results["mean_error"].min() <= model.cv_results_["mean_error"].min() * (1 + 1e-12)
    assert model.group_alphas_[0] < model.group_alphas_[1]
    assert results["n_decompositions"][0] == len(results["mean_error"])
    if search == "grid":
        assert len(results["mean_error"]) == 25


def test_groups_keep_standardize_and_prior_mean():
    X, y, w = _data(1)
    X = X * [1.0, 10.0, 0.1, 1.0, 5.0, 1.0]
    theta0 = np.full(6, 0.1)
    model = RidgeCV(cv="gcv", feature_groups=GROUPS, standardize=True, prior_mean=theta0)
    model.fit(X, y, w)
    factors = model.group_alphas_[model.feature_groups_] / model.alpha_
    ridge = Ridge(alpha=model.alpha_, penalty_factor=factors, standardize=True, prior_mean=theta0)
    assert_allclose(model.coef_, ridge.fit(X, y, w).coef_, rtol=1e-12)


def test_bad_feature_groups():
    X, y, _ = _data()
    with pytest.raises(InvalidParameterError, match=r"feature_groups.*shape \(6,\)"):
        RidgeCV(feature_groups=[0, 1]).fit(X, y)
    with pytest.raises(InvalidParameterError, match="single group"):
        RidgeCV(feature_groups=np.zeros(6)).fit(X, y)
    with pytest.raises(IncompatibleOptionsError, match="k-fold"):
        RidgeCV(cv=3, feature_groups=GROUPS).fit(X, y)
    with pytest.raises(IncompatibleOptionsError, match="penalty_factor"):
        RidgeCV(feature_groups=GROUPS, penalty_factor=np.ones(6)).fit(X, y)
    with pytest.raises(IncompatibleOptionsError, match="group_search='optimize'"):
        RidgeCV(feature_groups=np.arange(6)).fit(X, y)
    model = RidgeCV(feature_groups=GROUPS).fit(X, y)
    assert hasattr(model, "group_alphas_")
    model.set_params(feature_groups=None).fit(X, y)  # a later fit without groups
    assert not hasattr(model, "group_alphas_")
