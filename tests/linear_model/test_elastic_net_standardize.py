"""ElasticNet(standardize=True): glmnet's standardize=TRUE, as a per-feature penalty scale.

glmnet standardizes x with the weighted 1/n moments, fits, and reports the
coefficients on the original scale; in l2reg's form this is the elastic net of
the standardized columns ``x_j / sd_j`` with ``coef = beta / sd``, which is the
reference here (fitted by ElasticNet without standardize, on a rescaled copy).
The L1 weight of feature j becomes ``alpha rho f_j sd_j`` and its L2 weight
``alpha (1 - rho) f_j sd_j^2``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from l2reg import ElasticNet, Ridge

#: Both fits stop at a duality gap of 1e-12 (1e-16 for l1_ratio=0, see below; the gap
#: bounds the squared coefficient error, so 1e-13 already leaves ~1e-6): ENET is the bound.
ENET = 1e-6


def _data(seed=0, n=200, p=8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.geomspace(1e-2, 1e2, p) + rng.normal(size=p)
    y = X @ (rng.normal(size=p) / np.geomspace(1e-2, 1e2, p)) + rng.normal(size=n)
    return X, y, rng.uniform(0.5, 2.0, n)


def _sd(X, w, centered=True):
    mean = np.average(X, axis=0, weights=w) if centered else 0.0
    return np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standardize_equals_fitting_the_standardized_columns(l1_ratio, fit_intercept):
    X, y, w = _data()
    sd = _sd(X, w, centered=fit_intercept)
    # l1_ratio=0 converges to the rounding floor (its gap is the ridge dual's); the
    # others stop at 1e-12, which their gap formula reaches without stalling.
    tol = 1e-16 if l1_ratio == 0 else 1e-12
    options = dict(alpha=0.05, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=tol)
    model = ElasticNet(standardize=True, **options).fit(X, y, w)
    reference = ElasticNet(**options).fit(X / sd, y, w)
    assert_allclose(model.coef_, reference.coef_ / sd, rtol=ENET, atol=1e-9 / sd.max())
    assert model.intercept_ == pytest.approx(reference.intercept_, rel=ENET, abs=1e-9)
    assert model.certificate_.duality_gap <= reference.certificate_.duality_gap * 10 + 1e-15


def test_l1_ratio_zero_is_ridge_with_standardize():
    X, y, w = _data(1)
    enet = ElasticNet(alpha=0.2, l1_ratio=0.0, standardize=True, tol=1e-14).fit(X, y, w)
    ridge = Ridge(alpha=0.2, standardize=True).fit(X, y, w)  # the same alpha (class docstring)
    assert_allclose(enet.coef_, ridge.coef_, rtol=1e-6)


def test_sparse_input_and_objective():
    X, y, w = _data(2)
    X[np.abs(X) < np.percentile(np.abs(X), 50, axis=0)] = 0.0
    dense = ElasticNet(alpha=0.02, standardize=True, tol=1e-12).fit(X, y, w)
    sparse = ElasticNet(alpha=0.02, standardize=True, tol=1e-12).fit(sp.csc_matrix(X), y, w)
    assert_allclose(sparse.coef_, dense.coef_, rtol=ENET, atol=1e-12)
    sd = _sd(X, w)
    coef = dense.coef_
    residual = y - X @ coef - dense.intercept_
    expected = (
        np.average(residual**2, weights=w) / 2
        + 0.02 * 0.5 * np.sum(sd * np.abs(coef))
        + 0.02 / 2 * 0.5 * np.sum(sd**2 * coef**2)
    )
    assert dense.objective(X, y, w) == pytest.approx(expected, rel=1e-12)
