"""LogisticRegression and PoissonRegression on Dask equal the in-memory fits.

Both run Newton's method to a relative gradient norm of TOL; near the
solution a step squares the error, so both iterates sit within rounding of
the minimizer, and the certificate is the same quantity in both.
"""

import numpy as np
import pytest
from tests._tolerances import EXACT_F64
from tests.dask._dask_data import CHUNKS, to_dask

from l2reg import LogisticRegression, PoissonRegression
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError

da = pytest.importorskip("dask.array")

#: Tight enough that both solutions are within ~cond(H) * 1e-13 of the minimizer.
TOL = 1e-13


def glm_data(seed, offset=0.0):
    rng = np.random.default_rng(seed)
    n, p = sum(CHUNKS), 5
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, p) + offset
    raw = (X - offset) @ rng.normal(scale=0.4, size=p) - 0.3
    labels = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-raw)), "yes", "no")
    counts = rng.poisson(np.exp(0.5 * raw)).astype(np.float64)
    weights = rng.uniform(0.2, 3.0, n)
    return X, labels, counts, weights


@pytest.mark.parametrize("penalize_intercept", [False, True])
def test_logistic_equals_in_memory(client, penalize_intercept):
    X, labels, _, w = glm_data(0)
    options = dict(alpha=0.01, tol=TOL, penalize_intercept=penalize_intercept)
    expected = LogisticRegression(**options).fit(X, labels, w)
    model = LogisticRegression(**options).fit(*to_dask(X, labels, w))
    np.testing.assert_array_equal(model.classes_, expected.classes_)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)
    np.testing.assert_allclose(model.intercept_, expected.intercept_, rtol=EXACT_F64)
    np.testing.assert_allclose(model.objective_, expected.objective_, rtol=1e-13)
    assert model.certificate_.relative_gradient_norm <= TOL
    assert model.certificate_.computed_from == expected.certificate_.computed_from
    predicted = model.predict(to_dask(X)[0])
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), expected.predict(X))


def test_poisson_equals_in_memory_with_offset_and_no_intercept(client):
    X, _, counts, w = glm_data(1)
    for options in (dict(alpha=0.02), dict(alpha=0.02, fit_intercept=False)):
        expected = PoissonRegression(tol=TOL, **options).fit(X, counts, w)
        model = PoissonRegression(tol=TOL, **options).fit(*to_dask(X, counts, w))
        np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)
        np.testing.assert_allclose(model.intercept_, expected.intercept_, rtol=EXACT_F64, atol=0)
        assert model.certificate_.relative_gradient_norm <= TOL
    predicted = model.predict(to_dask(X)[0]).compute()
    np.testing.assert_allclose(predicted, expected.predict(X), rtol=1e-12)


def test_glm_bad_input(client):
    X, labels, counts, _ = glm_data(2)
    dX = to_dask(X)[0]
    with pytest.raises(InvalidParameterError, match=r"non-negative.*block"):
        PoissonRegression().fit(dX, to_dask(counts - 5.0)[0])
    three = np.where(np.arange(X.shape[0]) % 3 == 0, "maybe", labels)
    with pytest.raises(IncompatibleOptionsError, match="two classes"):
        LogisticRegression().fit(dX, to_dask(three)[0])
    bad = X.copy()
    bad[CHUNKS[0] + 5, 1] = np.inf
    with pytest.raises(InvalidParameterError, match=r"block 1 of X .*infinity at row 42"):
        LogisticRegression().fit(to_dask(bad)[0], to_dask(labels)[0])
    with pytest.raises(IncompatibleOptionsError, match="newton"):
        LogisticRegression(solver="lbfgs").fit(dX, to_dask(labels)[0])
