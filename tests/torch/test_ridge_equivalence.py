"""The neural-network view and the ridge view are the same model.

A single ``nn.Linear`` trained full-batch on the mean squared error plus
``l2_penalty`` (bias excluded, the default) minimizes exactly l2reg's ridge
objective ``mean (y - X theta - b)^2 + alpha * ||theta||^2``, so L-BFGS must
land on ``l2reg.Ridge(alpha)``'s solution, and on scikit-learn's
``Ridge(alpha * sum(w))`` (DESIGN.md section 1).
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.linear_model import Ridge as SklearnRidge
from torch import nn

import l2reg
from l2reg.conventions import to_sklearn_ridge_alpha
from l2reg.torch import l2_penalty

pytestmark = pytest.mark.torch

# Issue 5: agreement to 1e-5.  The coefficients are O(1) and L-BFGS in float64
# reaches them to about 1e-8, so a wrong scaling of the loss or of alpha (a
# factor 2 or n) fails by orders of magnitude while the optimizer's own error
# stays far below 1e-5.
ATOL = 1e-5


def make_data(n_targets=1, seed=0):
    rng = np.random.default_rng(seed)
    n, p = 120, 6
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p))  # correlated columns
    X += 3.0  # non-centered: the unpenalized intercept matters
    coef = rng.normal(size=(p, n_targets))
    y = X @ coef + 0.5 + rng.normal(scale=0.5, size=(n, n_targets))
    return X, (y[:, 0] if n_targets == 1 else y), rng.uniform(0.2, 3.0, size=n)


def fit_linear_lbfgs(X, y, loss_fn):
    """Full-batch L-BFGS on ``loss_fn(model, X, y)``; returns (coef, intercept, grad norm)."""
    X_t = torch.tensor(X, dtype=torch.float64)
    y_t = torch.tensor(y, dtype=torch.float64).reshape(len(X), -1)
    model = nn.Linear(X.shape[1], y_t.shape[1]).double()
    optimizer = torch.optim.LBFGS(
        model.parameters(),
        lr=1.0,
        max_iter=2000,
        history_size=20,
        tolerance_grad=1e-12,
        tolerance_change=1e-16,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model, X_t, y_t)
        loss.backward()
        return loss

    optimizer.step(closure)
    closure()  # gradient at the returned point: the optimality certificate
    grad_norm = max(float(p.grad.abs().max()) for p in model.parameters())
    coef = model.weight.detach().numpy()
    intercept = model.bias.detach().numpy()
    if y_t.shape[1] == 1:
        coef, intercept = coef[0], intercept[0]
    return coef, intercept, grad_norm


@pytest.mark.parametrize("alpha", [1e-3, 0.1, 2.0])
def test_linear_plus_l2_penalty_is_ridge(alpha):
    X, y, _ = make_data()

    def loss_fn(model, X_t, y_t):
        return nn.functional.mse_loss(model(X_t), y_t) + l2_penalty(model, alpha)

    coef, intercept, grad_norm = fit_linear_lbfgs(X, y, loss_fn)
    # Certificate, independent of any reference: the objective's Hessian is
    # 2 * (centered covariance + alpha * I) with smallest eigenvalue > 0.1 here,
    # so a gradient below 1e-7 puts the coefficients within ~1e-6 of the
    # minimizer.  (float64 rounding of this loss stalls L-BFGS near 1e-8.)
    assert grad_norm < 1e-7

    ridge = l2reg.Ridge(alpha=alpha).fit(X, y)
    assert_allclose(coef, ridge.coef_, rtol=0, atol=ATOL)
    assert_allclose(intercept, ridge.intercept_, rtol=0, atol=ATOL)

    sk = SklearnRidge(alpha=to_sklearn_ridge_alpha(alpha, n_samples=len(y))).fit(X, y)
    assert_allclose(coef, sk.coef_, rtol=0, atol=ATOL)
    assert_allclose(intercept, sk.intercept_, rtol=0, atol=ATOL)


def test_weighted_mean_loss_is_weighted_ridge():
    alpha = 0.05
    X, y, w = make_data(seed=1)
    w_t = torch.tensor(w, dtype=torch.float64)

    def loss_fn(model, X_t, y_t):
        squared = (model(X_t)[:, 0] - y_t[:, 0]) ** 2
        return (w_t * squared).sum() / w_t.sum() + l2_penalty(model, alpha)

    coef, intercept, _ = fit_linear_lbfgs(X, y, loss_fn)
    ridge = l2reg.Ridge(alpha=alpha).fit(X, y, sample_weight=w)
    assert_allclose(coef, ridge.coef_, rtol=0, atol=ATOL)
    assert_allclose(intercept, ridge.intercept_, rtol=0, atol=ATOL)
    sk_alpha = to_sklearn_ridge_alpha(alpha, sample_weight=w)
    sk = SklearnRidge(alpha=sk_alpha).fit(X, y, sample_weight=w)
    assert_allclose(coef, sk.coef_, rtol=0, atol=ATOL)


def test_multi_target_mse_loss_averages_over_targets_too():
    """nn.MSELoss divides by n_samples * n_targets: use alpha / n_targets.

    ``mean over m*k of (Y - X Theta)^2 + (alpha/k) ||Theta||^2`` is ``1/k`` times
    the sum over targets of each target's ridge objective with ``alpha``.
    """
    alpha, k = 0.1, 3
    X, Y, _ = make_data(n_targets=k, seed=2)

    def loss_fn(model, X_t, Y_t):
        return nn.functional.mse_loss(model(X_t), Y_t) + l2_penalty(model, alpha / k)

    coef, intercept, _ = fit_linear_lbfgs(X, Y, loss_fn)
    sk = SklearnRidge(alpha=to_sklearn_ridge_alpha(alpha, n_samples=len(Y))).fit(X, Y)
    assert_allclose(coef, sk.coef_, rtol=0, atol=ATOL)
    assert_allclose(intercept, sk.intercept_, rtol=0, atol=ATOL)
    ridge = l2reg.Ridge(alpha=alpha).fit(X, Y)
    assert_allclose(coef, ridge.coef_, rtol=0, atol=ATOL)
    assert_allclose(intercept, ridge.intercept_, rtol=0, atol=ATOL)
