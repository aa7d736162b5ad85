"""What ``l2reg fit`` and ``l2reg path`` compute and show: models, summaries, plots, files.

The command line (``cli.py``) parses arguments and calls these functions;
this module composes the public API (estimators, ``ridge_path``, conventions,
plotting, ``save``) and formats the results.  It does no numerical work of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l2reg import conventions
from l2reg._tabular import DataError
from l2reg.preprocessing import TabularModel, TabularPreprocessor, is_numeric

__all__ = [
    "OptionError",
    "Result",
    "fit_from_frame",
    "path_from_frame",
    "write_outputs",
    "describe_model_file",
]


# glmnet's and scikit-learn's form, which l2reg.ElasticNet minimizes (its docstring).
ELASTIC_NET_OBJECTIVE = (
    "sum_i w_i * (y_i - x_i.theta - b)^2 / (2 * sum_i w_i) + alpha * l1_ratio * ||theta||_1"
    " + (alpha / 2) * (1 - l1_ratio) * ||theta||^2"
)


class OptionError(ValueError):
    """Options that do not fit together (reported as a usage error)."""


@dataclass
class Result:
    """Printed text plus what ``--out`` writes: the model and named figures."""

    text: str
    model: object = None
    figures: dict[str, Callable] = field(default_factory=dict)  # file name -> draw(ax)
    report_title: str = "l2reg report"


def _table(header, rows) -> str:
    cells = [[str(h) for h in header]] + [
        [f"{c:.6g}" if isinstance(c, float | np.floating) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _parse_cv(cv: str | None, model: str):
    if cv is None:
        cv = "5" if model == "elasticnet" else "loo"
    value = str(cv).strip().lower()
    if value.isdigit():
        folds = int(value)
        if folds < 2:
            raise OptionError(f"--cv needs at least 2 folds; got {cv}")
        return folds, f"{folds}-fold cross-validation"
    if model == "elasticnet":
        raise OptionError(f"--cv for elasticnet must be a number of folds; got {cv!r}")
    if value == "loo":
        if model == "ridge":
            return None, "exact leave-one-out"
        return "alo", "approximate leave-one-out (one fit per alpha)"
    if value == "gcv":
        if model != "ridge":
            raise OptionError("--cv gcv is defined for ridge only; use loo or a number of folds")
        return "gcv", "generalized cross-validation"
    raise OptionError(f"--cv must be loo, gcv or a number of folds; got {cv!r}")


def _estimator(model: str, alpha, cv, l1_ratio):
    from l2reg.linear_model import ElasticNet, LogisticRegression, PoissonRegression, Ridge
    from l2reg.model_selection import (
        ElasticNetCV,
        LogisticRegressionCV,
        PoissonRegressionCV,
        RidgeCV,
    )

    if model == "elasticnet":
        if alpha is None:
            return ElasticNetCV(l1_ratio=l1_ratio, cv=cv)
        if not (np.isfinite(alpha) and alpha > 0):
            raise OptionError(
                f"--alpha must be a finite number > 0 for elasticnet; got {alpha} "
                "(alpha = 0 is least squares: use --model ridge --alpha 0)"
            )
        return ElasticNet(alpha=alpha, l1_ratio=l1_ratio)

    fixed = {"ridge": Ridge, "logistic": LogisticRegression, "poisson": PoissonRegression}
    searched = {"ridge": RidgeCV, "logistic": LogisticRegressionCV, "poisson": PoissonRegressionCV}
    if alpha is not None:
        if not (np.isfinite(alpha) and alpha >= 0):
            raise OptionError(f"--alpha must be a finite number >= 0; got {alpha}")
        return fixed[model](alpha=alpha)
    return searched[model](cv=cv)


def _check_l1_ratio(l1_ratio, model: str) -> float | None:
    if model != "elasticnet":
        if l1_ratio is not None:
            raise OptionError("--l1-ratio applies to --model elasticnet only")
        return None
    l1_ratio = 0.5 if l1_ratio is None else l1_ratio
    if not 0.0 <= l1_ratio <= 1.0:  # NaN fails too
        raise OptionError(f"--l1-ratio must lie in [0, 1]; got {l1_ratio}")
    return l1_ratio


def _check_target(frame, target, model):
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} not found; columns are: {', '.join(map(str, frame.columns))}"
        )
    if model in ("ridge", "poisson", "elasticnet") and not is_numeric(frame[target]):
        raise DataError(
            f"target column {target!r} is not numeric; for class labels use --model logistic"
        )


def _features_line(preprocessor: TabularPreprocessor) -> str:
    parts = [f"{len(preprocessor.numeric_columns_)} numeric"]
    if preprocessor.categorical_columns_:
        encoded = ", ".join(
            f"{c} ({len(preprocessor.categories_[c])} levels)"
            for c in preprocessor.categorical_columns_
        )
        parts.append(f"one-hot encoded: {encoded}")
    scaling = (
        "standardized (mean 0, standard deviation 1)"
        if preprocessor.standardize
        else "not standardized"
    )
    return f"features: {', '.join(parts)}; numeric features {scaling}"


def _cv_summary(estimator) -> tuple[int, str]:
    results = estimator.cv_results_
    alphas = np.asarray(results["alphas"])
    index = int(np.argmin(np.abs(alphas - estimator.alpha_)))
    mean = np.asarray(results["mean_error"])[index]
    std = np.asarray(results.get("std_error", np.full_like(alphas, np.nan)))[index]
    return index, f"{mean:.6g} ± {std:.3g} (mean ± standard error)"


def fit_from_frame(
    frame,
    target,
    *,
    source,
    features=None,
    model="ridge",
    alpha=None,
    cv=None,
    l1_ratio=None,
    standardize=False,
) -> Result:
    """Fit the chosen model with its preprocessing and describe the result.

    ``cv=None`` is exact leave-one-out for ridge and 5-fold CV for the elastic
    net; ``l1_ratio`` (elastic net only) defaults to 0.5.
    """
    from l2reg import plotting
    from l2reg.inspection import compare_with_least_squares, effective_degrees_of_freedom
    from l2reg.model_selection import ridge_path

    cv_value, cv_name = (None, None) if alpha is not None else _parse_cv(cv, model)
    l1_ratio = _check_l1_ratio(l1_ratio, model)
    _check_target(frame, target, model)
    preprocessor = TabularPreprocessor(columns=features, standardize=standardize)
    tabular = TabularModel(
        preprocessor, _estimator(model, alpha, cv_value, l1_ratio), target=target
    )
    tabular.fit(frame)
    estimator, names = tabular.estimator_, tabular.feature_names_
    X = tabular.design(frame)
    y = frame[target].to_numpy()
    n = X.shape[0]
    chosen = float(estimator.alpha_ if hasattr(estimator, "alpha_") else estimator.alpha)

    lines = [
        f"data: {source} ({n} samples, target {target!r})",
        _features_line(tabular.preprocessor_),
        f"objective: {ELASTIC_NET_OBJECTIVE if model == 'elasticnet' else conventions.OBJECTIVE}",
        "",
    ]
    how = f"chosen by {cv_name}" if alpha is None else "given"
    if model == "ridge":
        sk_alpha = conventions.to_sklearn_ridge_alpha(chosen, n_samples=n)
        other = f"scikit-learn Ridge(alpha={sk_alpha:.6g})"
    elif model == "elasticnet":
        converted = conventions.to_sklearn_elastic_net(chosen, l1_ratio)
        other = (
            f"scikit-learn ElasticNet(alpha={converted['alpha']:.6g}, "
            f"l1_ratio={converted['l1_ratio']:.6g})"
        )
    elif model == "logistic":
        other = (
            "scikit-learn LogisticRegression(C="
            f"{conventions.to_sklearn_logistic_C(chosen, n_samples=n):.6g})"
        )
    else:
        other = (
            f"scikit-learn PoissonRegressor(alpha={conventions.to_sklearn_glm_alpha(chosen):.6g})"
        )
    lines.append(f"alpha = {chosen:.6g} ({how}); equivalent: {other}")
    figures = {}
    if alpha is None:
        index, summary = _cv_summary(estimator)
        lines.append(f"CV error at chosen alpha: {summary}")
        figures["cv_curve.png"] = lambda ax: plotting.plot_cv_curve(
            estimator, ax=ax, error_name=f"mean error ({cv_name})"
        )

    if model == "ridge":
        # One decomposition serves the trace plot and the chosen alpha's df: the
        # grid always contains the chosen alpha (RidgeCV picks from its grid).
        if alpha is None:
            path_alphas = np.asarray(estimator.cv_results_["alphas"])
        elif chosen > 0:
            path_alphas = np.append(np.geomspace(chosen / 1e3, chosen * 1e3, 50), chosen)
        else:
            path_alphas = None
        path = ridge_path(X, y, alphas=path_alphas)
        if chosen > 0:
            df = path.effective_df[int(np.argmin(np.abs(path.alphas - chosen)))]
        else:  # least squares: the rank of the design (the path has no alpha = 0)
            df = effective_degrees_of_freedom(estimator, X)
        lines.append(
            f"effective degrees of freedom (trace of the hat matrix, intercept included): "
            f"{df:.4g} of {X.shape[1] + 1} parameters"
        )
        comparison = compare_with_least_squares(estimator, X, y)
        ols = comparison.models["least squares"]
        rows = [["intercept", ols.intercept_, estimator.intercept_]]
        rows += [[name, a, b] for name, a, b in zip(names, ols.coef_, estimator.coef_, strict=True)]
        rows += [["||theta||", *comparison.coef_norm.values()]]
        lines += ["", _table(["coefficient", *comparison.models], rows), ""]
        fit_rows = [
            ["R^2 (training data)", *comparison.r2.values()],
            ["objective J at its alpha", *comparison.objective.values()],
        ]
        lines.append(_table(["fit", *comparison.models], fit_rows))
        figures["ridge_trace.png"] = lambda ax: plotting.plot_ridge_trace(
            path, feature_names=names, chosen_alpha=chosen, ax=ax
        )
        figures["coefficients.png"] = lambda ax: plotting.plot_coefficients(
            comparison.models, feature_names=names, ax=ax
        )
        figures["predicted_vs_actual.png"] = lambda ax: plotting.plot_predicted_vs_actual(
            y, estimator.predict(X), ax=ax, target_name=target
        )
    elif model == "elasticnet":
        lines += _elastic_net_section(estimator, X, y, names, chosen, l1_ratio, figures)
    else:
        coef = np.atleast_2d(estimator.coef_)
        intercept = np.atleast_1d(estimator.intercept_)
        classes = getattr(estimator, "classes_", None)
        labels = (
            ["coefficient"]
            if coef.shape[0] == 1 and model == "poisson"
            else [f"class {classes[-1]}"]
            if coef.shape[0] == 1
            else [f"class {c}" for c in classes]
        )
        rows = [["intercept", *intercept]] + [[name, *coef[:, j]] for j, name in enumerate(names)]
        lines += ["", _table(["feature", *labels], rows), ""]
        score_name = "accuracy (training data)" if model == "logistic" else "D^2 (training data)"
        lines.append(f"{score_name}: {estimator.score(X, y):.6g}")
        figures["coefficients.png"] = lambda ax: plotting.plot_coefficients(
            estimator, feature_names=names, ax=ax
        )
        if model == "poisson":
            figures["predicted_vs_actual.png"] = lambda ax: plotting.plot_predicted_vs_actual(
                y, estimator.predict(X), ax=ax, target_name=f"{target} (mean)"
            )
    certificate = getattr(estimator, "certificate_", None)
    if certificate is not None and certificate.duality_gap is not None:
        lines.append(
            f"optimality: duality gap {certificate.duality_gap:.1e}, relative subgradient "
            f"norm {certificate.relative_gradient_norm:.1e} (solver {estimator.solver_})"
        )
    elif certificate is not None:
        lines.append(
            f"optimality: relative gradient norm {certificate.relative_gradient_norm:.1e} "
            f"(solver {estimator.solver_})"
        )
    return Result(
        "\n".join(lines),
        model=tabular,
        figures=figures,
        report_title=f"l2reg fit: {model} on {source}",
    )


def _elastic_net_section(estimator, X, y, names, chosen, l1_ratio, figures) -> list[str]:
    """The selected features (nonzero coefficients) and the path plot of an elastic net."""
    from l2reg import plotting
    from l2reg.model_selection import elastic_net_path

    coef = np.asarray(estimator.coef_)
    selected = np.flatnonzero(coef)
    rows = [["intercept", float(estimator.intercept_)]]
    rows += [[names[j], float(coef[j])] for j in selected[np.argsort(-np.abs(coef[selected]))]]
    dropped = [names[j] for j in np.flatnonzero(coef == 0)]
    lines = [
        "",
        f"selected features: {selected.size} of {coef.size} have nonzero coefficients",
        "",
        _table(["feature", "coefficient"], rows),
        "",
        f"dropped (coefficient exactly 0): {', '.join(dropped) if dropped else 'none'}",
        f"R^2 (training data): {estimator.score(X, y):.6g}",
    ]
    # The path over the CV grid (which holds the chosen alpha), or the default grid.
    results = getattr(estimator, "cv_results_", None)
    alphas = None if results is None else np.asarray(results["alphas"])
    path = elastic_net_path(X, y, l1_ratio=l1_ratio, alphas=alphas)
    figures["enet_path.png"] = lambda ax: plotting.plot_path(
        path, feature_names=names, chosen_alpha=chosen, ax=ax
    )
    return lines


def path_from_frame(
    frame, target, *, source, features=None, standardize=False, n_alphas=50
) -> Result:
    """The ridge path over a data-driven grid, as a table and a trace plot."""
    from l2reg import plotting
    from l2reg.model_selection import ridge_path

    _check_target(frame, target, "ridge")
    preprocessor = TabularPreprocessor(
        columns=features or [c for c in frame.columns if c != target], standardize=standardize
    )
    X = preprocessor.fit_transform(frame)
    y = frame[target].to_numpy(dtype=float)
    path = ridge_path(X, y, n_alphas=n_alphas)
    names = preprocessor.feature_names_out_
    shown = np.unique(np.linspace(0, len(path.alphas) - 1, min(8, len(path.alphas))).astype(int))
    header = ["feature", *[f"{path.alphas[i]:.3g}" for i in shown]]
    rows = [[name, *[float(path.coefs[i, j]) for i in shown]] for j, name in enumerate(names)]
    rows.append(["effective df", *[float(path.effective_df[i]) for i in shown]])
    text = "\n".join(
        [
            f"data: {source} ({X.shape[0]} samples, target {target!r})",
            _features_line(preprocessor),
            f"ridge path over {len(path.alphas)} alphas (columns: alpha)",
            "",
            _table(header, rows),
        ]
    )
    figures = {
        "ridge_trace.png": lambda ax: plotting.plot_ridge_trace(path, feature_names=names, ax=ax)
    }
    return Result(text, figures=figures, report_title=f"l2reg path on {source}")


def write_outputs(result: Result, directory: Path) -> list[Path]:
    """Write the model (if any), the PNG figures and ``report.md`` into ``directory``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    from l2reg.io import save

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if result.model is not None:
        written.append(save(result.model, directory / "model.l2reg"))
    for name, draw in result.figures.items():
        figure, ax = plt.subplots(figsize=(8, 5), layout="constrained")
        draw(ax)
        figure.savefig(directory / name, dpi=110)
        plt.close(figure)
        written.append(directory / name)
    report = [f"# {result.report_title}", "", "```", result.text, "```", ""]
    report += [f"![{name}]({name})\n" for name in result.figures]
    (directory / "report.md").write_text("\n".join(report))
    written.append(directory / "report.md")
    return written


def describe_model_file(path) -> str:
    """A human-readable summary of a model file (read safely with :func:`l2reg.load`)."""
    from l2reg.io import load, read_metadata

    metadata = read_metadata(path)
    model = load(path)
    lines = [
        f"file: {path}",
        f"format: {metadata['format']} version {metadata['format_version']}, written by "
        f"l2reg {metadata['l2reg_version']}",
        f"objective: {metadata['objective']}",
        f"class: {type(model).__name__}",
    ]
    estimator = getattr(model, "estimator_", model)
    if isinstance(model, TabularModel):
        lines.append(f"target: {model.target}")
        lines.append(f"estimator: {type(estimator).__name__}")
        lines.append(_features_line(model.preprocessor_))
        lines.append(
            f"design columns ({len(model.feature_names_)}): {', '.join(model.feature_names_)}"
        )
    alpha = getattr(estimator, "alpha_", getattr(estimator, "alpha", None))
    if alpha is not None:
        lines.append(f"alpha: {np.array2string(np.asarray(alpha), precision=6)}")
    params = json.dumps(
        {
            k: (v if isinstance(v, str | int | bool | type(None)) else str(v))
            for k, v in estimator.get_params(deep=False).items()
        }
    )
    lines.append(f"parameters: {params}")
    return "\n".join(lines)
