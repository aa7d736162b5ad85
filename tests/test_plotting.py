"""Plot functions return labelled Axes drawn from the data they are given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from l2reg import ElasticNetCV, Ridge, RidgeCV, elastic_net_path, ridge_path  # noqa: E402
from l2reg.plotting import (  # noqa: E402
    plot_coefficients,
    plot_cv_curve,
    plot_path,
    plot_predicted_vs_actual,
    plot_ridge_trace,
)


@pytest.fixture
def data(rng):
    X = rng.standard_normal((50, 4))
    return X, X @ [1.0, -2.0, 0.5, 0.0] + rng.standard_normal(50)


def test_ridge_trace_draws_every_coefficient(data):
    X, y = data
    path = ridge_path(X, y, n_alphas=20)
    ax = plot_ridge_trace(path, feature_names=list("abcd"), chosen_alpha=path.alphas[5])
    coefficient_lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 20]
    assert len(coefficient_lines) == 4
    for line in coefficient_lines:
        assert np.all(line.get_ydata() != 0)  # shrinkage without exact zeros
    assert ax.get_xscale() == "log" and "alpha" in ax.get_xlabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= set("abcd")
    plt.close("all")


def test_path_plot_draws_entered_coefficients_and_nonzero_counts(data):
    X, y = data
    path = elastic_net_path(X, y, n_alphas=25)
    model = ElasticNetCV(n_alphas=25).fit(X, y)
    ax = plot_path(path, feature_names=list("abcd"), chosen_alpha=model.alpha_)
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 25]
    entered = np.count_nonzero(np.any(path.coefs != 0, axis=0))
    assert len(lines) == entered
    for line in lines:  # drawn against increasing alpha, zero at the top of the grid
        assert np.all(np.diff(line.get_xdata()) > 0) and line.get_ydata()[-1] == 0
    assert ax.get_xscale() == "log"
    (top,) = [child for child in ax.child_axes if "nonzero" in child.get_xlabel()]
    labels = [int(t.get_text()) for t in top.get_xticklabels()]
    assert labels[0] == path.n_nonzero[-1] and labels[-1] == 0
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert dashed and dashed[0].get_xdata()[0] == model.alpha_
    plt.close("all")


def test_cv_curve_marks_the_chosen_alpha(data):
    X, y = data
    model = RidgeCV().fit(X, y)
    ax = plot_cv_curve(model)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("chosen alpha" in label for label in labels)
    assert any("standard error" in label for label in labels)
    assert ax.get_ylabel()
    plt.close("all")


def test_coefficients_and_predictions(data):
    X, y = data
    ols, ridge = Ridge(alpha=0).fit(X, y), Ridge(alpha=1.0).fit(X, y)
    ax = plot_coefficients({"least squares": ols, "ridge": ridge}, feature_names=list("abcd"))
    assert len(ax.patches) == 8
    widths = [patch.get_width() for patch in ax.patches]
    assert np.allclose(widths[4:], ridge.coef_)
    ax = plot_predicted_vs_actual(y, ridge.predict(X), target_name="y")
    assert "actual y" in ax.get_xlabel()
    plt.close("all")


def test_multi_target_inputs_are_refused(rng):
    X = rng.standard_normal((30, 3))
    path = ridge_path(X, rng.standard_normal((30, 2)), n_alphas=5)
    with pytest.raises(ValueError, match="one target"):
        plot_ridge_trace(path)
