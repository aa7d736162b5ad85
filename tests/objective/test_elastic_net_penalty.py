"""The ElasticNet penalty object: estimator-like parameters, value and conjugate by definition."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from l2reg.objective.penalties import ElasticNet


def test_get_set_params_and_clone():
    penalty = ElasticNet(alpha=0.3, l1_ratio=0.2, penalty_factor=[1.0, 0.0], positive=True)
    copy = clone(penalty)
    assert copy is not penalty and copy.get_params() == penalty.get_params()
    for params in ParameterGrid({"alpha": [0.1, 1.0], "l1_ratio": [0.0, 1.0]}):
        assert penalty.set_params(**params).get_params()["alpha"] == params["alpha"]
    with pytest.raises(ValueError, match="no parameter 'beta'"):
        penalty.set_params(beta=1)


@pytest.mark.parametrize("positive", [False, True])
def test_value_and_conjugate_from_definitions(rng, positive):
    pf = np.array([1.0, 0.5, 2.0])
    penalty = ElasticNet(alpha=0.4, l1_ratio=0.3, penalty_factor=pf, positive=positive)
    coef = np.array([0.5, -1.0, 2.0])
    l1, l2 = 0.4 * 0.3 * pf, 0.4 * 0.7 * pf
    if positive:
        assert penalty.value(coef) == np.inf
        coef = np.abs(coef)
    assert penalty.value(coef) == pytest.approx(l1 @ np.abs(coef) + 0.5 * l2 @ coef**2)
    # g*(s) = sup_t s t - g(t), on a fine grid that contains the maximizer.
    grid = np.linspace(0 if positive else -20, 20, 400_001)
    s = rng.normal(0, 1.5, 3)
    expected = [
        np.max(s[j] * grid - (l1[j] * np.abs(grid) + 0.5 * l2[j] * grid**2)) for j in range(3)
    ]
    assert_allclose(penalty.conjugate(s), expected, atol=1e-8)
