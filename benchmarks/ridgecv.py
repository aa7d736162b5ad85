"""RidgeCV: exact LOO / GCV / evidence / k-fold over 100 alphas against scikit-learn.

``python -m benchmarks ridgecv [--quick] [--repeat R] [--no-sklearn]``

Problems (issue 3), each timed in one process with its competitors:

* tall: n=50,000 x p=500, one target (scikit-learn RidgeCV LOO, 100 alphas);
* multi: n=50,000 x p=300, 20 targets (also with ``alpha_per_target=True``);
* wide: n=2,000 x p=20,000 (kernel form);
* kfold: n=200,000 x p=500, 5-fold CV over 100 alphas against one ``Ridge`` fit.

Ratios are printed against scikit-learn's RidgeCV (timed once: it takes tens of
seconds), against one ``l2reg.Ridge`` fit and against one ``syrk`` (the
physical limit of a ridge fit).  Each row also shows whether the chosen alphas
agree with scikit-learn's (after converting ``alpha_sklearn = alpha * n``) and
the largest relative difference of the LOO errors, so a speed-up that changed
the answer is visible.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._common import best_time, print_table, syrk_limit

N_ALPHAS = 100


def _problem(n, p, k, seed=0):
    rng = np.random.default_rng(seed)
    # Decaying column scales give a spread spectrum, as real designs have.
    X = rng.standard_normal((n, p)) * np.geomspace(1.0, 0.05, p)
    coef = rng.standard_normal((p, k)) / np.sqrt(p)
    Y = X @ coef + 0.5 * rng.standard_normal((n, k))
    return X, (Y[:, 0] if k == 1 else Y)


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def _loo_rows(name, X, y, repeat, sklearn, alpha_per_target=False):
    from l2reg import Ridge
    from l2reg.model_selection import RidgeCV

    n = X.shape[0]
    rows = []
    # The data-driven grid of l2reg, passed to both libraries (converted).
    grid = RidgeCV(alphas=None).fit(X[: min(n, 5000)], y[: min(n, 5000)]).cv_results_["alphas"]
    ours = RidgeCV(alphas=grid, alpha_per_target=alpha_per_target)
    t_loo = best_time(lambda: ours.fit(X, y), repeat)
    t_gcv = best_time(lambda: RidgeCV(alphas=grid, cv="gcv").fit(X, y), repeat)
    t_evidence = best_time(lambda: RidgeCV(alphas=grid, cv="evidence").fit(X, y), repeat)
    t_ridge = best_time(lambda: Ridge(alpha=float(grid[50])).fit(X, y), repeat)
    rows_or_columns = X.shape[0] >= X.shape[1]
    t_syrk = syrk_limit(X, rows=rows_or_columns, repeat=repeat)
    t_sklearn, agree, difference = np.nan, "-", np.nan
    if sklearn:
        from sklearn.linear_model import RidgeCV as SklearnRidgeCV

        theirs = SklearnRidgeCV(
            alphas=grid * n, alpha_per_target=alpha_per_target, store_cv_results=True
        )
        _, t_sklearn = _timed(lambda: theirs.fit(X, y))
        agree = "yes" if np.allclose(np.asarray(ours.alpha_) * n, theirs.alpha_) else "NO"
        theirs_error = theirs.cv_results_.mean(axis=0)
        if theirs_error.ndim == 2:  # (n_targets, n_alphas)
            theirs_error = theirs_error.T
        ours_error = ours.cv_results_.get("mean_error_per_target", ours.cv_results_["mean_error"])
        if ours_error.ndim == 2 and theirs_error.ndim == 1:
            ours_error = ours_error.mean(axis=1)
        if ours_error.ndim == 1 and theirs_error.ndim == 2:
            theirs_error = theirs_error.mean(axis=1)
        difference = float(np.max(np.abs(ours_error / theirs_error - 1)))
    label = name + (" per-target" if alpha_per_target else "")
    rows.append(
        [
            label,
            t_loo,
            t_gcv,
            t_evidence,
            t_sklearn,
            t_sklearn / t_loo,
            t_loo / t_ridge,
            t_loo / t_syrk,
            agree,
            f"{difference:.1e}",
        ]
    )
    return rows


def _kfold_row(name, X, y, repeat):
    from l2reg import Ridge
    from l2reg.model_selection import RidgeCV

    grid = RidgeCV(alphas=None).fit(X[:5000], y[:5000]).cv_results_["alphas"]
    t_kfold = best_time(lambda: RidgeCV(alphas=grid, cv=5).fit(X, y), repeat)
    t_ridge = best_time(lambda: Ridge(alpha=float(grid[50])).fit(X, y), repeat)
    t_syrk = syrk_limit(X, repeat=repeat)
    return [name, t_kfold, t_ridge, t_syrk, t_kfold / t_ridge, t_kfold / t_syrk]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ridgecv", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    parser.add_argument("--repeat", type=int, default=None, help="best of R runs for l2reg")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 2)
    scale = 10 if args.quick else 1
    sklearn = not args.no_sklearn

    sizes = {
        "tall": (50_000 // scale, 500 // (scale // 5 or 1), 1),
        "multi": (50_000 // scale, 300 // (scale // 5 or 1), 20),
        "wide": (2_000 // (scale // 5 or 1), 20_000 // scale, 1),
        "kfold": (200_000 // scale, 500 // (scale // 5 or 1), 1),
    }
    rows = []
    for name in ("tall", "multi", "wide"):
        n, p, k = sizes[name]
        X, y = _problem(n, p, k)
        label = f"{name} {n}x{p}" + (f" k={k}" if k > 1 else "")
        rows += _loo_rows(label, X, y, repeat, sklearn)
        if k > 1:
            rows += _loo_rows(label, X, y, repeat, sklearn, alpha_per_target=True)
        del X, y
    print_table(
        f"RidgeCV over {N_ALPHAS} alphas (seconds; ratios from one run)",
        [
            "problem",
            "LOO",
            "GCV",
            "evidence",
            "sklearn LOO",
            "sklearn/LOO",
            "LOO/Ridge",
            "LOO/syrk",
            "same alpha",
            "max rel diff",
        ],
        rows,
    )

    n, p, k = sizes["kfold"]
    X, y = _problem(n, p, k)
    print_table(
        "5-fold RidgeCV over 100 alphas vs one Ridge fit (seconds)",
        ["problem", "5-fold", "Ridge", "syrk", "5-fold/Ridge", "5-fold/syrk"],
        [_kfold_row(f"kfold {n}x{p}", X, y, repeat)],
    )
    return 0
