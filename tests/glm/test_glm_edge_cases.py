"""Edge cases with defined behaviour: separability, one class, labels, imbalance, scales, counts."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tests.glm._glm_data import binary_data, count_data, multiclass_data

from l2reg.exceptions import InvalidParameterError
from l2reg.linear_model import LogisticRegression, PoissonRegression

TOL = 1e-8


def _separable(rng, n=60, p=3):
    X = rng.standard_normal((n, p))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("multiclass", [False, True])
def test_separable_data_has_a_finite_solution_with_alpha(rng, multiclass):
    X, y = _separable(rng)
    if multiclass:
        y = y + (X[:, 2] > 1.0) * (y == 1)  # three classes, still separable
    model = LogisticRegression(alpha=1e-4).fit(X, y)
    weaker = LogisticRegression(alpha=1e-6).fit(X, y)
    for fitted in (model, weaker):
        assert np.all(np.isfinite(fitted.coef_))
        assert fitted.certificate_.relative_gradient_norm <= TOL
    # Without a finite unpenalized optimum the norm keeps growing as alpha -> 0.
    assert np.linalg.norm(weaker.coef_) > np.linalg.norm(model.coef_)


@pytest.mark.parametrize("multiclass", [False, True])
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_separable_data_without_penalty_raises(rng, multiclass, solver):
    X, y = _separable(rng)
    if multiclass:
        y = y + 2 * (X[:, 0] > 1.0)
    with pytest.raises(InvalidParameterError, match="no finite minimizer exists for alpha=0"):
        LogisticRegression(alpha=0.0, solver=solver).fit(X, y)


def test_alpha_zero_on_overlapping_classes_is_the_mle(rng):
    X, y = binary_data(rng, n=300)
    model = LogisticRegression(alpha=0.0).fit(X, y)
    assert model.certificate_.relative_gradient_norm <= TOL


def test_single_class_is_a_clear_error(rng):
    X = rng.standard_normal((10, 2))
    with pytest.raises(InvalidParameterError, match="at least 2 classes.*only one class: 'a'"):
        LogisticRegression().fit(X, ["a"] * 10)


def test_class_with_zero_weight_is_a_clear_error(rng):
    X, y = binary_data(rng, n=40)
    w = np.where(y == 1, 0.0, 1.0)
    with pytest.raises(InvalidParameterError, match="class 1 has zero total sample weight"):
        LogisticRegression().fit(X, y, sample_weight=w)


@pytest.mark.parametrize("labels", [["no", "yes"], ["b", "a", "c"], [-1.0, 2.0], [True, False]])
def test_label_types(rng, labels):
    X, y = multiclass_data(rng, n=90) if len(labels) == 3 else binary_data(rng, n=90)
    named = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[y]
    model = LogisticRegression(alpha=0.01).fit(X, named)
    integer = LogisticRegression(alpha=0.01).fit(X, y)
    assert_array_equal(model.classes_, np.unique(named))
    order = np.argsort(np.asarray(labels))
    expected = integer.predict_proba(X)[:, np.argsort(order)] if len(labels) == 3 else None
    if expected is not None:
        assert_allclose(
            model.predict_proba(X)[:, :], integer.predict_proba(X)[:, order], rtol=1e-6, atol=1e-9
        )
    assert set(model.predict(X)) <= set(labels)
    assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)
    assert_allclose(np.exp(model.predict_log_proba(X)), model.predict_proba(X), rtol=1e-12)


def test_heavy_class_imbalance(rng):
    X = rng.standard_normal((2000, 4))
    y = np.zeros(2000, dtype=int)
    y[:6] = 1
    X[:6] += 1.0
    model = LogisticRegression(alpha=1e-3).fit(X, y)
    assert model.certificate_.relative_gradient_norm <= TOL
    # Balance property of the canonical link with an unpenalized intercept:
    # the mean predicted probability equals the class frequency.
    assert_allclose(model.predict_proba(X)[:, 1].mean(), 6 / 2000, rtol=1e-7)


@pytest.mark.parametrize("Estimator", [LogisticRegression, PoissonRegression])
def test_column_of_zeros_gets_a_zero_coefficient(rng, Estimator):
    X, y = binary_data(rng) if Estimator is LogisticRegression else count_data(rng)
    X[:, 2] = 0.0
    model = Estimator(alpha=0.01).fit(X, y)
    assert np.ravel(model.coef_)[2] == 0.0
    assert model.certificate_.relative_gradient_norm <= TOL


def test_huge_feature_scales_do_not_overflow(rng):
    X, y = binary_data(rng, n=200, scale=1e6)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        model = LogisticRegression(alpha=1e-14).fit(X, y)
        probability = model.predict_proba(X * 1e3)  # raw predictions ~1e9
        log_probability = model.predict_log_proba(X * 1e3)
    assert model.certificate_.relative_gradient_norm <= TOL
    assert np.all(np.isfinite(probability)) and np.all(np.isfinite(log_probability))
    assert_allclose(probability.sum(axis=1), 1.0)
    X3, y3 = multiclass_data(rng, n=200)
    big = LogisticRegression(alpha=1e-14).fit(X3 * 1e6, y3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.all(np.isfinite(big.predict_log_proba(X3 * 1e9)))


def test_poisson_rejects_negative_counts(rng):
    X, y = count_data(rng, n=30)
    y[4] = -1.0
    with pytest.raises(InvalidParameterError, match=r"non-negative.*got -1.0 at index 4"):
        PoissonRegression().fit(X, y)


def test_poisson_accepts_non_integer_rates(rng):
    X, y = count_data(rng, n=200)
    exposure = rng.uniform(0.5, 2.0, 200)
    rates = y / exposure
    model = PoissonRegression(alpha=0.01).fit(X, rates, sample_weight=exposure)
    assert model.certificate_.relative_gradient_norm <= TOL
    # Balance property: weighted mean prediction equals weighted mean rate.
    assert_allclose(exposure @ model.predict(X), exposure @ rates, rtol=1e-7)


def test_poisson_all_zero_targets(rng):
    X = rng.standard_normal((20, 2))
    with pytest.raises(InvalidParameterError, match="every .* target is 0"):
        PoissonRegression().fit(X, np.zeros(20))
    model = PoissonRegression(alpha=1.0, penalize_intercept=True).fit(X, np.zeros(20))
    assert np.all(model.predict(X) < 1.0)


def test_invalid_parameters_name_the_value(rng):
    X, y = binary_data(rng, n=20)
    with pytest.raises(InvalidParameterError, match="'alpha' must be .*got -1"):
        LogisticRegression(alpha=-1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'solver' must be one of"):
        LogisticRegression(solver="cholesky").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'tol' must be"):
        PoissonRegression(tol=0).fit(X, y)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(InvalidParameterError, match="labels not seen in fit"):
        model.objective(X, np.full(20, 7))
