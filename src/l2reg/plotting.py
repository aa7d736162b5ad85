"""Plots of fits: ridge traces, elastic-net paths, cross-validation curves, coefficients, fits.

Every function draws on ``ax`` (a new figure when None) and returns the Axes.
matplotlib is an optional dependency (``pip install "l2reg[plot]"``), imported
only when a function is called.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "plot_ridge_trace",
    "plot_path",
    "plot_cv_curve",
    "plot_coefficients",
    "plot_predicted_vs_actual",
]

# Ticks on the top axis of plot_path (the number of nonzero coefficients).
PATH_TOP_TICKS = 8

# Legends with more entries than this become unreadable; the largest
# coefficients are labelled and the rest drawn in grey.
MAX_LABELLED = 12


def _axes(ax):
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "l2reg.plotting needs matplotlib: pip install 'l2reg[plot]' (or matplotlib)."
        ) from error
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    return ax


def _mark_alpha(ax, alpha, label):
    if alpha is not None:
        ax.axvline(alpha, color="black", linestyle="--", linewidth=1, label=label)


def plot_ridge_trace(path, *, feature_names=None, chosen_alpha=None, ax=None):
    """Coefficients against alpha (log scale): the ridge trace.

    Parameters
    ----------
    path : RidgePath
        The result of :func:`l2reg.ridge_path` (one target).
    feature_names : list of str, default=None
    chosen_alpha : float, default=None
        Marked with a dashed line (e.g. a cross-validated ``alpha_``).
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    alphas = np.asarray(path.alphas)
    coefs = np.asarray(path.coefs)
    if coefs.ndim != 2:
        raise ValueError("plot_ridge_trace draws one target; pass a single-target path.")
    names = feature_names or [f"x{j}" for j in range(coefs.shape[1])]
    order = np.argsort(-np.abs(coefs).max(axis=0))
    labelled = set(order[:MAX_LABELLED].tolist())
    for j in order[::-1]:
        if j in labelled:
            ax.plot(alphas, coefs[:, j], linewidth=1.6, label=names[j])
        else:
            ax.plot(alphas, coefs[:, j], color="0.75", linewidth=0.8)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    _mark_alpha(ax, chosen_alpha, f"chosen alpha = {chosen_alpha:.3g}" if chosen_alpha else None)
    ax.set_xscale("log")
    ax.set_xlabel("alpha (l2reg convention: mean loss + alpha ||theta||^2)")
    ax.set_ylabel("coefficient")
    ax.set_title("Ridge trace: coefficients shrink toward zero, none exactly zero")
    ax.legend(fontsize="small", ncols=2 if len(labelled) > 6 else 1, loc="best")
    return ax


def plot_path(path, *, feature_names=None, chosen_alpha=None, ax=None):
    """Elastic-net coefficients against alpha (log scale), as glmnet's ``plot``.

    The top axis shows the number of nonzero coefficients at the alphas
    below it; each coefficient enters where its curve leaves zero.

    Parameters
    ----------
    path : ElasticNetPath
        The result of :func:`l2reg.elastic_net_path`.
    feature_names : list of str, default=None
    chosen_alpha : float, default=None
        Marked with a dashed line (e.g. an ``ElasticNetCV.alpha_``).
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    alphas = np.asarray(path.alphas)
    order_alphas = np.argsort(alphas)
    alphas = alphas[order_alphas]
    coefs = np.asarray(path.coefs)[order_alphas]
    counts = np.asarray(path.n_nonzero)[order_alphas]
    names = feature_names or [f"x{j}" for j in range(coefs.shape[1])]
    # Label the features that enter first (glmnet's reading order), then the largest.
    entered = np.where(coefs != 0, alphas[:, None], 0.0).max(axis=0)
    order = np.lexsort((-np.abs(coefs).max(axis=0), -entered))
    labelled = {j for j in order[:MAX_LABELLED].tolist() if entered[j] > 0}
    for j in order[::-1]:
        if j in labelled:
            ax.plot(alphas, coefs[:, j], linewidth=1.6, label=names[j])
        elif entered[j] > 0:
            ax.plot(alphas, coefs[:, j], color="0.75", linewidth=0.8)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    _mark_alpha(ax, chosen_alpha, f"chosen alpha = {chosen_alpha:.3g}" if chosen_alpha else None)
    ax.set_xscale("log")
    ax.set_xlabel(
        f"alpha (glmnet/scikit-learn form, l1_ratio = {path.l1_ratio:g}; "
        f"alpha_max = {path.alpha_max:.3g})"
    )
    ax.set_ylabel("coefficient")
    ax.set_title("Elastic-net path: coefficients enter as alpha decreases")
    top = ax.secondary_xaxis("top")
    ticks = np.unique(np.linspace(0, alphas.size - 1, min(PATH_TOP_TICKS, alphas.size)).astype(int))
    top.set_xticks(alphas[ticks], [str(int(c)) for c in counts[ticks]])
    top.set_xlabel("nonzero coefficients")
    if labelled:
        ax.legend(fontsize="small", ncols=2 if len(labelled) > 6 else 1, loc="best")
    return ax


def plot_cv_curve(cv_results, *, chosen_alpha=None, ax=None, error_name="CV error"):
    """Mean cross-validation error against alpha with a one-standard-error band.

    Parameters
    ----------
    cv_results : dict or fitted CV estimator
        A ``cv_results_`` dict with ``"alphas"``, ``"mean_error"`` and
        ``"std_error"``, or an estimator that has one (its ``alpha_`` is marked).
    chosen_alpha : float, default=None
    ax : matplotlib Axes, default=None
    error_name : str, default="CV error"
        The y-axis label (e.g. "LOO mean squared error").

    Returns
    -------
    matplotlib Axes
    """
    if hasattr(cv_results, "cv_results_"):
        estimator = cv_results
        cv_results = estimator.cv_results_
        if chosen_alpha is None and np.ndim(getattr(estimator, "alpha_", None)) == 0:
            chosen_alpha = estimator.alpha_
    ax = _axes(ax)
    alphas = np.asarray(cv_results["alphas"])
    mean = np.asarray(cv_results["mean_error"])
    std = np.asarray(cv_results.get("std_error", np.zeros_like(mean)))
    if mean.ndim != 1:
        raise ValueError("plot_cv_curve draws one curve; pass single-target results.")
    ax.plot(alphas, mean, color="C0", linewidth=1.8, label="mean error")
    ax.fill_between(
        alphas, mean - std, mean + std, color="C0", alpha=0.2, label="± 1 standard error"
    )
    best = int(np.argmin(mean))
    ax.plot(alphas[best], mean[best], "o", color="C3", label=f"minimum at {alphas[best]:.3g}")
    _mark_alpha(ax, chosen_alpha, f"chosen alpha = {chosen_alpha:.3g}" if chosen_alpha else None)
    ax.set_xscale("log")
    ax.set_xlabel("alpha (l2reg convention)")
    ax.set_ylabel(error_name)
    ax.set_title("Cross-validation curve")
    ax.legend(fontsize="small", loc="best")
    return ax


def plot_coefficients(models, *, feature_names=None, ax=None):
    """Horizontal bars of the coefficients of one or several fitted linear models.

    Parameters
    ----------
    models : fitted estimator or dict of str to fitted estimator
        e.g. ``{"least squares": ols, "ridge": ridge}``.
    feature_names : list of str, default=None
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib Axes
    """
    if not isinstance(models, dict):
        models = {type(models).__name__: models}
    coefs = {label: np.ravel(model.coef_) for label, model in models.items()}
    p = len(next(iter(coefs.values())))
    names = feature_names or [f"x{j}" for j in range(p)]
    ax = _axes(ax)
    height = 0.8 / len(coefs)
    positions = np.arange(p)
    for index, (label, values) in enumerate(coefs.items()):
        ax.barh(positions + index * height, values, height=height, label=label)
    ax.set_yticks(positions + height * (len(coefs) - 1) / 2, names)
    ax.invert_yaxis()
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xlabel("coefficient")
    ax.set_title("Coefficients")
    ax.legend(fontsize="small", loc="best")
    return ax


def plot_predicted_vs_actual(y_true, y_pred, *, ax=None, target_name="target"):
    """Predicted against actual values, with the identity line.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    ax.scatter(y_true, y_pred, s=12, alpha=0.6, label="samples")
    low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
    ax.plot([low, high], [low, high], color="black", linewidth=1, label="predicted = actual")
    ax.set_xlabel(f"actual {target_name}")
    ax.set_ylabel(f"predicted {target_name}")
    ax.set_title("Predicted vs actual")
    ax.legend(fontsize="small", loc="best")
    return ax
