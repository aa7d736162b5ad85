"""What ``l2reg fit`` reports on files read out of core (``--stream``, large files, ``.npy``).

The data are read once, in chunks, by :func:`l2reg._files.accumulate_files`;
everything in the report comes from the accumulated statistics, except the
predicted-vs-actual plot, drawn on a uniform sample of at most
:data:`SAMPLE_ROWS` rows kept during that same pass (no second pass over the
file).  Numeric columns only: the in-memory route's one-hot encoding and
standardization need the whole column first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l2reg import conventions
from l2reg._files import accumulate_files, fit_accumulated, training_fit
from l2reg._report import OptionError, Result, _cv_summary, _table

__all__ = ["fit_from_files", "SAMPLE_ROWS", "STREAM_ABOVE_BYTES"]

#: Rows kept (uniformly, by a hash of their position) for the predicted-vs-actual plot.
SAMPLE_ROWS = 10_000
#: ``l2reg fit`` reads files larger than this out of core without being asked:
#: the in-memory route holds the parsed frame plus the design matrix, several
#: times the file.
STREAM_ABOVE_BYTES = 2**30


def _parse_cv(cv):
    """The out-of-core criteria: GCV (default) or hashed k-fold; not exact LOO."""
    value = "gcv" if cv is None else str(cv).strip().lower()
    if value.isdigit() and int(value) >= 2:
        return int(value), f"{int(value)}-fold cross-validation (folds by a hash of row position)"
    if value == "gcv":
        return "gcv", "generalized cross-validation"
    if value == "loo":
        raise OptionError(
            "--cv loo needs the rows in memory; out of core use --cv gcv (the default) or a "
            "number of folds"
        )
    raise OptionError(f"--cv must be gcv or a number of folds (>= 2) out of core; got {cv!r}")


def _target_key(path: Path, target: str):
    """Array files (``.npy``) name columns by index."""
    if path.suffix.lower() != ".npy":
        return target
    try:
        return int(target)
    except ValueError:
        raise OptionError(
            f"{path} is an array: give --target as a column index (e.g. --target -1); "
            f"got {target!r}"
        ) from None


def _sample_frame(data):
    import pandas as pd

    names = [None] * len(data.layout.read)
    for position, name in zip(data.layout.features, data.layout.feature_names, strict=True):
        names[position] = name
    for position, name in zip(data.layout.targets, data.layout.target_names, strict=True):
        names[position] = name
    if data.layout.weight is not None:
        names[data.layout.weight] = "__weight__"
    return pd.DataFrame(data.sample, columns=names)


def _tabular_model(data, estimator, target):
    """A :class:`~l2reg.preprocessing.TabularModel` around the fitted estimator.

    Its preprocessing (numeric columns, not standardized) is learned from the
    sample, which is all it needs: column names and kinds.  So
    ``l2reg predict`` works on the saved model as for the in-memory route.
    """
    from sklearn.base import clone

    from l2reg.preprocessing import TabularModel, TabularPreprocessor

    names = list(data.layout.feature_names)
    preprocessor = TabularPreprocessor(columns=names).fit(_sample_frame(data))
    model = TabularModel(preprocessor, clone(estimator), target=target)
    model.preprocessor_, model.estimator_ = preprocessor, estimator
    model.feature_names_ = names
    return model


def fit_from_files(
    path, target, *, features=None, model="ridge", alpha=None, cv=None, standardize=False,
    chunk_rows=None, progress=True,
) -> Result:  # fmt: skip
    """Fit ridge on a file read out of core and describe the result."""
    from l2reg import plotting
    from l2reg.linear_model import Ridge
    from l2reg.model_selection import ridge_path

    path = Path(path)
    if model != "ridge":
        raise OptionError(
            f"--model {model} is not available out of core (ridge only: its sufficient "
            "statistics are exact); use --no-stream (in memory), or --model ridge"
        )
    if standardize:
        raise OptionError(
            "--standardize is not available out of core (it needs each column's spread "
            "before the pass); standardize the file's columns beforehand, or use --no-stream"
        )
    cv_value, cv_name = (None, None) if alpha is not None else _parse_cv(cv)
    if alpha is not None and not (np.isfinite(alpha) and alpha >= 0):
        raise OptionError(f"--alpha must be a finite number >= 0; got {alpha}")
    key = _target_key(path, target)
    feature_keys = features
    if features is not None and path.suffix.lower() == ".npy":
        feature_keys = [_target_key(path, f) for f in features]
    data = accumulate_files(
        path,
        target=key,
        features=feature_keys,
        n_folds=cv_value if isinstance(cv_value, int) else None,
        chunk_rows=chunk_rows,
        progress=progress,
        sample_rows=SAMPLE_ROWS,
    )
    estimator = fit_accumulated(data, alpha=alpha, cv=cv_value)
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_  # the TabularModel hands it arrays
    stats, n = data.stats, data.n_rows
    names = list(data.layout.feature_names)
    target_name = data.layout.target_names[0]
    chosen = float(estimator.alpha_ if alpha is None else alpha)
    shown_rows = min(n, SAMPLE_ROWS)
    lines = [
        f"data: {path} ({n} samples, target {target_name!r}), read out of core in chunks "
        "(one pass; the model comes from the accumulated sufficient statistics)",
        f"features: {len(names)} numeric; numeric features not standardized "
        "(out of core: numeric columns only)",
        f"objective: {conventions.OBJECTIVE}",
        "",
    ]
    sk_alpha = conventions.to_sklearn_ridge_alpha(chosen, n_samples=n)
    how = f"chosen by {cv_name}" if alpha is None else "given"
    lines.append(
        f"alpha = {chosen:.6g} ({how}); equivalent: scikit-learn Ridge(alpha={sk_alpha:.6g})"
    )
    figures = {}
    if alpha is None:
        lines.append(f"CV error at chosen alpha: {_cv_summary(estimator)[1]}")
        figures["cv_curve.png"] = lambda ax: plotting.plot_cv_curve(
            estimator, ax=ax, error_name=f"mean error ({cv_name})"
        )
        path_alphas = np.asarray(estimator.cv_results_["alphas"])
    elif chosen > 0:
        path_alphas = np.append(np.geomspace(chosen / 1e3, chosen * 1e3, 50), chosen)
    else:
        path_alphas = None
    trace = ridge_path(stats=stats, alphas=path_alphas)
    if chosen > 0:
        df = trace.effective_df[int(np.argmin(np.abs(trace.alphas - chosen)))]
        lines.append(
            "effective degrees of freedom (trace of the hat matrix, intercept included): "
            f"{df:.4g} of {len(names) + 1} parameters"
        )
    models, penalties = {}, {}
    try:
        models["least squares"], penalties["least squares"] = Ridge(alpha=0.0).fit_stats(stats), 0.0
    except ValueError as error:  # collinear columns: no least-squares fit without the rows
        least_squares_note = f"least squares: not shown ({' '.join(str(error).split())})"
    else:
        least_squares_note = None
    models["ridge"], penalties["ridge"] = estimator, chosen
    fits = {label: training_fit(stats, m, alpha=penalties[label]) for label, m in models.items()}
    rows = [["intercept", *(m.intercept_ for m in models.values())]]
    rows += [[name, *(m.coef_[j] for m in models.values())] for j, name in enumerate(names)]
    rows += [["||theta||", *(float(np.linalg.norm(m.coef_)) for m in models.values())]]
    lines += ["", _table(["coefficient", *models], rows), ""]
    fit_rows = [
        ["R^2 (training data)", *(f.r2 for f in fits.values())],
        ["objective J at its alpha", *(f.objective for f in fits.values())],
    ]
    lines.append(_table(["fit", *models], fit_rows))
    if least_squares_note:
        lines.append(least_squares_note)
    lines.append(
        f"predicted vs actual: plotted for a uniform sample of {shown_rows} of the {n} rows, "
        "kept during the same pass (the R^2 above uses every row)"
    )
    certificate = getattr(estimator, "certificate_", None)
    if certificate is not None:
        lines.append(
            f"optimality: relative gradient norm {certificate.relative_gradient_norm:.1e} "
            f"(solver {estimator.solver_})"
        )
    sample = data.sample
    X_sample = sample[:, list(data.layout.features)]
    y_sample = sample[:, data.layout.targets[0]]
    figures["ridge_trace.png"] = lambda ax: plotting.plot_ridge_trace(
        trace, feature_names=names, chosen_alpha=chosen if chosen > 0 else None, ax=ax
    )
    figures["coefficients.png"] = lambda ax: plotting.plot_coefficients(
        models, feature_names=names, ax=ax
    )
    figures["predicted_vs_actual.png"] = lambda ax: plotting.plot_predicted_vs_actual(
        y_sample, estimator.predict(X_sample), ax=ax, target_name=f"{target_name} (sample)"
    )
    return Result(
        "\n".join(lines),
        model=_tabular_model(data, estimator, target_name),
        figures=figures,
        report_title=f"l2reg fit: ridge on {path} (out of core)",
    )
