"""Tabular preprocessing: encoding, scaling, missing values, and model files that carry it."""

import numpy as np
import pandas as pd
import pytest

from l2reg import LogisticRegression, Ridge, RidgeCV, load, save
from l2reg.preprocessing import TabularModel, TabularPreprocessor


@pytest.fixture
def frame(rng):
    n = 40
    return pd.DataFrame(
        {
            "x": rng.normal(10, 3, n),
            "flag": rng.choice([True, False], n),
            "city": rng.choice(["a", "b", "c"], n),
            "y": rng.normal(size=n),
        }
    )


def test_encoding_and_standardization(frame):
    pre = TabularPreprocessor(columns=["x", "flag", "city"], standardize=True).fit(frame)
    X = pre.transform(frame)
    assert pre.numeric_columns_ == ["x"]
    assert pre.feature_names_out_ == ["x", "flag=False", "flag=True", "city=a", "city=b", "city=c"]
    assert np.allclose(X[:, 0].mean(), 0) and np.allclose(X[:, 0].std(), 1)
    assert np.array_equal(X[:, 3:].sum(axis=1), np.ones(len(frame)))


def test_unseen_category_and_missing_values(frame):
    pre = TabularPreprocessor(columns=["x", "city"]).fit(frame)
    new = frame.head(2).copy()
    new["city"] = ["zzz", "a"]
    X = pre.transform(new)
    assert np.array_equal(X[0, 1:], [0, 0, 0]) and np.array_equal(X[1, 1:], [1, 0, 0])
    broken = frame.copy()
    broken.loc[3, "x"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in 'x' \(1 missing\)"):
        pre.transform(broken)
    with pytest.raises(ValueError, match="column\\(s\\) missing"):
        pre.transform(frame.drop(columns="city"))


@pytest.mark.parametrize("estimator", [Ridge(alpha=0.1), RidgeCV(), LogisticRegression()])
def test_tabular_model_round_trip(frame, tmp_path, estimator):
    target = "flag" if isinstance(estimator, LogisticRegression) else "y"
    model = TabularModel(TabularPreprocessor(standardize=True), estimator, target=target)
    model.fit(frame)
    loaded = load(save(model, tmp_path / "m.l2reg"))
    assert np.array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.feature_names_ == model.feature_names_


def test_target_cannot_be_a_feature(frame):
    with pytest.raises(ValueError, match="cannot also be a feature"):
        TabularModel(TabularPreprocessor(columns=["x", "y"]), Ridge(), target="y").fit(frame)
