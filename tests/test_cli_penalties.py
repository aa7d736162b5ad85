"""``l2reg fit --standardize`` and ``--penalty-factor``: the estimator's own options.

Tested through :func:`l2reg._report.fit_from_frame` (what ``l2reg fit`` calls, in
process: the subprocess round trips live in ``test_cli.py``) and the argument parser.
"""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from l2reg import Ridge, RidgeCV
from l2reg._report import OptionError, fit_from_frame
from l2reg.cli import UsageError, _parse_penalty_factors


def _frame(n=80, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.uniform(50, 200, n),
            "rooms": rng.integers(1, 6, n).astype(float),
            "city": rng.choice(["Lyon", "Nice", "Paris"], n),
        }
    )
    effect = frame["city"].map({"Lyon": 10.0, "Nice": 30.0, "Paris": 80.0})
    frame["price"] = 2.0 * frame["size"] + 5 * frame["rooms"] + effect + rng.normal(0, 5, n)
    return frame


def _design(frame):
    cities = ["Lyon", "Nice", "Paris"]
    onehot = np.column_stack([(frame["city"] == c).to_numpy(float) for c in cities])
    return np.column_stack([frame[["size", "rooms"]].to_numpy(), onehot])


def test_standardize_is_the_estimators_own():
    frame = _frame()
    result = fit_from_frame(frame, "price", source="test", alpha=0.05, standardize=True)
    estimator = result.model.estimator_
    assert estimator.standardize is True
    assert not result.model.preprocessor_.standardize  # the data are not rescaled
    reference = Ridge(alpha=0.05, standardize=True).fit(_design(frame), frame["price"])
    assert_allclose(estimator.coef_, reference.coef_, rtol=1e-10)
    assert "penalty is on the standardized coefficients" in result.text


def test_penalty_factor_by_column_and_category():
    frame = _frame(seed=1)
    factors = {"size": 0.0, "city": 2.0, "rooms": 0.5}
    result = fit_from_frame(frame, "price", source="test", cv="gcv", penalty_factors=factors)
    estimator = result.model.estimator_
    assert_allclose(estimator.penalty_factor, [0.0, 0.5, 2.0, 2.0, 2.0])
    reference = RidgeCV(cv="gcv", penalty_factor=[0.0, 0.5, 2.0, 2.0, 2.0])
    reference.fit(_design(frame), frame["price"])
    assert estimator.alpha_ == reference.alpha_
    assert_allclose(estimator.coef_, reference.coef_, rtol=1e-10)
    one = fit_from_frame(frame, "price", source="t", alpha=1.0, penalty_factors={"city=Nice": 0.0})
    assert_allclose(one.model.estimator_.penalty_factor, [1, 1, 1, 0, 1])


def test_bad_penalty_factors():
    frame = _frame()
    with pytest.raises(OptionError, match="not a feature; features are: size, rooms"):
        fit_from_frame(frame, "price", source="t", alpha=1.0, penalty_factors={"area": 1.0})
    with pytest.raises(OptionError, match=">= 0"):
        fit_from_frame(frame, "price", source="t", alpha=1.0, penalty_factors={"size": -1.0})
    assert _parse_penalty_factors(["a=b=1.5", "x=0"]) == {"a=b": 1.5, "x": 0.0}
    for bad in (["size"], ["size=abc"], ["=1"]):
        with pytest.raises(UsageError, match="COLUMN=VALUE"):
            _parse_penalty_factors(bad)
