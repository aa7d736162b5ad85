"""Each alpha converter checked numerically against the real library (or its stored output)."""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import ElasticNet as SklearnElasticNet
from sklearn.linear_model import LogisticRegression as SklearnLogistic
from sklearn.linear_model import Ridge as SklearnRidge
from tests._tolerances import CROSS_LIBRARY

from l2reg import Ridge, conventions

REFERENCE = Path(__file__).parent / "reference" / "glmnet_ridge.json"
# glmnet's coordinate descent was run with thresh=1e-22 but reports ~1e-9 relative.
GLMNET_RTOL = 1e-7
# scikit-learn's lbfgs/ElasticNet CD at tol 1e-12 stops ~1e-8 from the optimum.
ITERATIVE_RTOL = 1e-6


@pytest.mark.parametrize("weighted", [False, True])
def test_sklearn_ridge_alpha(rng, weighted):
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    w = rng.uniform(0.1, 3, 30) if weighted else None
    alpha = 0.7
    sk_alpha = conventions.to_sklearn_ridge_alpha(alpha, n_samples=30, sample_weight=w)
    ours = Ridge(alpha=alpha).fit(X, y, sample_weight=w)
    theirs = SklearnRidge(alpha=sk_alpha).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, theirs.coef_, rtol=CROSS_LIBRARY)
    back = conventions.from_sklearn_ridge_alpha(sk_alpha, n_samples=30, sample_weight=w)
    assert_allclose(back, alpha, rtol=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
def test_sklearn_logistic_C_on_the_objective(rng, weighted):
    """sklearn's binary fit minimizes l2reg's logistic objective with alpha = 1/(2 C sum w)."""
    from scipy.optimize import minimize
    from scipy.special import log_expit

    n = 60
    X = rng.standard_normal((n, 3))
    y = (X @ [1.0, -2.0, 0.5] + rng.standard_normal(n) > 0).astype(int)
    w = rng.uniform(0.1, 3, n) if weighted else np.ones(n)
    alpha = 0.05
    C = conventions.to_sklearn_logistic_C(alpha, n_samples=n, sample_weight=w if weighted else None)
    theirs = SklearnLogistic(C=C, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=w)

    def objective(params):  # l2reg's: weighted mean log-loss + alpha ||theta||^2
        theta, b = params[:-1], params[-1]
        margin = (2 * y - 1) * (X @ theta + b)
        return -(w @ log_expit(margin)) / w.sum() + alpha * theta @ theta

    ours = minimize(objective, np.zeros(4), method="BFGS", options={"gtol": 1e-12}).x
    assert_allclose(theirs.coef_.ravel(), ours[:-1], rtol=ITERATIVE_RTOL)
    assert_allclose(
        conventions.from_sklearn_logistic_C(C, n_samples=n, sample_weight=w if weighted else None),
        alpha,
        rtol=1e-15,
    )
    assert conventions.to_sklearn_logistic_C(0.0, n_samples=n) == np.inf


def test_glum_skglm_elastic_net_alpha(rng):
    """sklearn ElasticNet(l1_ratio=0) stands in for the shared 'mean loss/2 + alpha/2' form."""
    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    alpha = 0.2
    theirs = SklearnElasticNet(
        alpha=conventions.to_glum_alpha(alpha), l1_ratio=0.0, tol=1e-14, max_iter=100_000
    ).fit(X, y)
    ours = Ridge(alpha=alpha).fit(X, y)
    assert_allclose(ours.coef_, theirs.coef_, rtol=ITERATIVE_RTOL)
    assert conventions.from_glum_alpha(alpha) == alpha


def _glmnet_cases():
    data = json.loads(REFERENCE.read_text())
    return [pytest.param(case, id=case["name"]) for case in data["cases"]]


@pytest.mark.parametrize("case", _glmnet_cases())
def test_glmnet_lambda_against_stored_glmnet_fits(case):
    X = np.array(case["X"])
    y = np.array(case["y"])
    w = np.array(case["sample_weight"])
    alpha = conventions.from_glmnet_lambda(case["lambda"], y, sample_weight=w)
    model = Ridge(alpha=alpha, fit_intercept=case["fit_intercept"]).fit(X, y, sample_weight=w)
    assert_allclose(model.coef_, case["coef"], rtol=GLMNET_RTOL)
    assert_allclose(model.intercept_, case["intercept"], rtol=GLMNET_RTOL)
    assert_allclose(
        conventions.to_glmnet_lambda(alpha, y, sample_weight=w), case["lambda"], rtol=1e-14
    )


def test_torch_weight_decay_is_twice_alpha():
    assert conventions.to_torch_weight_decay(0.25) == 0.5
    assert conventions.from_torch_weight_decay(0.5) == 0.25


@pytest.mark.parametrize(
    "call",
    [
        lambda: conventions.to_sklearn_ridge_alpha(-1, n_samples=3),
        lambda: conventions.to_sklearn_ridge_alpha(1.0),
        lambda: conventions.to_sklearn_ridge_alpha(1.0, n_samples=0),
        lambda: conventions.to_sklearn_ridge_alpha(1.0, sample_weight=[-1.0, 2.0]),
        lambda: conventions.from_sklearn_logistic_C(0.0, n_samples=3),
        lambda: conventions.to_glmnet_lambda(1.0, [1.0, np.nan]),
    ],
)
def test_converters_reject_bad_input(call):
    with pytest.raises(ValueError):
        call()
