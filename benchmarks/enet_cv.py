"""Elastic-net paths and ElasticNetCV against scikit-learn (issue 12).

``python -m benchmarks enet_cv [--quick] [--repeat R] [--tol T] [--no-sklearn]``

The problem of the anchor runs: n=50,000 x p=500, AR(1)-correlated features
(correlation 0.5^|i-j|), 50 true nonzeros, y scaled to unit variance.

* ``path``: 100 alphas from alpha_max down to 1e-3 alpha_max, l1_ratio=0.5:
  :func:`l2reg.elastic_net_path` against scikit-learn's
  ``enet_path(precompute=True)`` on the same grid (goal: >= 2x faster).  Both
  fit without an intercept on the same X (its columns have mean ~0), so they
  solve the same problems; l2reg with an intercept is shown too.
* ``cv``: 5 folds x 100 alphas x 3 l1_ratios: :class:`l2reg.ElasticNetCV`
  against scikit-learn's ``ElasticNetCV(precompute=True, n_jobs=2)`` (goal:
  >= 5x faster with the same selected alpha).  Both build the same default grids.

Both libraries stop each alpha at the same duality-gap rule (gap <=
``tol * ||y - ybar||^2``, scikit-learn's scaling), ``--tol`` (default 1e-4,
scikit-learn's default).  The first call (numba compilation or loading the
cached kernels) is timed separately.  scikit-learn is timed once (its CV takes
tens of seconds); l2reg best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks._common import best_time, print_table


def problem(n=50_000, p=500, n_nonzero=50, rho=0.5, seed=0):
    """AR(1)-correlated features, ``n_nonzero`` true coefficients, y with unit variance."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    scale = np.sqrt(1.0 - rho**2)
    for j in range(1, p):  # in place: x_j = rho x_{j-1} + sqrt(1 - rho^2) e_j
        X[:, j] *= scale
        X[:, j] += rho * X[:, j - 1]
    coef = np.zeros(p)
    coef[rng.choice(p, n_nonzero, replace=False)] = rng.standard_normal(n_nonzero)
    signal = X @ coef
    y = signal + np.std(signal) * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std()


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def path_rows(X, y, tol, repeat, sklearn):
    from l2reg import elastic_net_path

    _, first = _timed(lambda: elastic_net_path(X[:500], y[:500], n_alphas=3))
    ours = elastic_net_path(X, y, fit_intercept=False, tol=tol)
    t_ours = best_time(lambda: elastic_net_path(X, y, fit_intercept=False, tol=tol), repeat)
    t_icpt = best_time(lambda: elastic_net_path(X, y, tol=tol), repeat)
    t_sk, ratio, diff = np.nan, np.nan, np.nan
    if sklearn:
        from sklearn.linear_model import enet_path

        (_, coefs, _), t_sk = _timed(
            lambda: enet_path(X, y, l1_ratio=0.5, alphas=ours.alphas, precompute=True, tol=tol)
        )
        ratio = t_sk / t_ours
        diff = float(np.max(np.abs(coefs.T - ours.coefs)))
    return [
        ["path 100 alphas", first, t_ours, t_icpt, t_sk, ratio, "-", diff],
    ]


def cv_rows(X, y, tol, repeat, sklearn, ratios):
    from l2reg import ElasticNetCV

    _, first = _timed(lambda: ElasticNetCV(n_alphas=3, cv=2).fit(X[:500], y[:500]))
    rows = []
    fitted = {}
    for jobs in (1, 2):
        model = ElasticNetCV(l1_ratio=ratios, tol=tol, n_jobs=jobs)
        t_ours = best_time(lambda model=model: model.fit(X, y), repeat)
        fitted[jobs] = (model, t_ours)
    model, t_ours = fitted[2]
    t_sk, ratio, same, diff = np.nan, np.nan, "-", np.nan
    if sklearn:
        from sklearn.linear_model import ElasticNetCV as SklearnElasticNetCV

        theirs = SklearnElasticNetCV(l1_ratio=ratios, cv=5, precompute=True, n_jobs=2, tol=tol)
        _, t_sk = _timed(lambda: theirs.fit(X, y))
        ratio = t_sk / t_ours
        same = (
            "yes"
            if np.isclose(theirs.alpha_, model.alpha_, rtol=1e-10)
            and theirs.l1_ratio_ == model.l1_ratio_
            else f"NO ({theirs.alpha_:.4g}, {theirs.l1_ratio_}) vs ({model.alpha_:.4g}, "
            f"{model.l1_ratio_})"
        )
        diff = float(
            np.max(np.abs(theirs.mse_path_.mean(axis=-1) / model.cv_results_["mean_error"] - 1))
        )
    rows.append(
        [
            f"CV 5x100x{len(ratios)} (1 thread)",
            first,
            fitted[1][1],
            np.nan,
            np.nan,
            np.nan,
            "-",
            np.nan,
        ]  # fmt: skip
    )
    rows.append([f"CV 5x100x{len(ratios)} (2 threads)", first, t_ours, np.nan, t_sk, ratio, same,
                 diff])  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks enet_cv", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="n=5,000 x p=100 (seconds)")
    parser.add_argument("--repeat", type=int, default=2, help="best of R runs for l2reg")
    parser.add_argument("--tol", type=float, default=1e-4, help="duality-gap tolerance of both")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    parser.add_argument("--only", choices=("path", "cv"), help="run one case")
    args = parser.parse_args(argv)
    n, p, k = (5_000, 100, 10) if args.quick else (50_000, 500, 50)
    X, y = problem(n, p, k)
    ratios = [0.2, 0.5, 0.9]
    rows = []
    if args.only in (None, "path"):
        rows += path_rows(X, y, args.tol, args.repeat, not args.no_sklearn)
    if args.only in (None, "cv"):
        rows += cv_rows(X, y, args.tol, args.repeat, not args.no_sklearn, ratios)
    print_table(
        f"elastic net, n={n} x p={p}, tol={args.tol:g} (seconds; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
        [
            "case",
            "first call",
            "l2reg",
            "l2reg+intercept",
            "sklearn",
            "sklearn/l2reg",
            "same choice",
            "max diff",
        ],
        rows,
    )
    print(
        "max diff: path, largest coefficient difference; CV, largest relative CV-error difference"
    )
    return 0
