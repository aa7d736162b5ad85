"""Every warning names the user's line, whatever the path through l2reg (l2reg._warnings)."""

import warnings

import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from l2reg import ElasticNet, LogisticRegression, Ridge, ridge_path
from l2reg._warnings import user_stacklevel
from l2reg.exceptions import SolverFallbackWarning


def _duplicated_columns(rng):
    X = rng.standard_normal((80, 5))
    X[:, 1] = X[:, 0]  # with alpha 1e-18: singular to working precision
    return X, rng.standard_normal(80)


def _ridge(rng):
    X, y = _duplicated_columns(rng)
    Ridge(alpha=1e-18).fit(X, y)


def _sparse_ridge(rng):
    X, y = _duplicated_columns(rng)
    Ridge(alpha=1e-18).fit(sp.csr_matrix(X), y)


def _path(rng):
    X, y = _duplicated_columns(rng)
    ridge_path(X, y, alphas=[1e-18, 1.0])


def _logistic(rng):
    X = rng.standard_normal((200, 4))
    LogisticRegression(alpha=1e-4, max_iter=1).fit(X, (X[:, 0] > 0).astype(float))


def _elastic_net(rng):
    X = rng.standard_normal((200, 30))
    ElasticNet(alpha=1e-4, l1_ratio=0.5, max_iter=1).fit(X, X @ rng.standard_normal(30))


CASES = {
    "ridge": (_ridge, SolverFallbackWarning),
    "sparse ridge": (_sparse_ridge, SolverFallbackWarning),
    "ridge_path": (_path, SolverFallbackWarning),
    "logistic": (_logistic, ConvergenceWarning),
    "elastic net": (_elastic_net, ConvergenceWarning),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_warning_names_the_callers_line(rng, case):
    fit, category = CASES[case]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(rng)
    ours = [record for record in caught if issubclass(record.category, category)]
    assert ours, f"{case}: no {category.__name__}"
    assert {record.filename for record in ours} == {__file__}


def test_user_stacklevel_counts_frames_up_to_the_first_outside_l2reg():
    # Called from here (outside l2reg), the caller itself is the user's frame.
    assert user_stacklevel() == 1
