"""L2-penalized logistic regression: l2reg against scikit-learn, glum and one syrk.

``python -m benchmarks glm [--quick] [--n N] [--p P] [--alpha A] [--repeat R]``

Every solver is timed (best of ``--repeat``) at the loosest of its own
tolerances that reaches the **same final accuracy**: l2reg's relative gradient
norm <= 1e-8, computed for every solution by the same code
(:class:`l2reg.objective.glm_problem.GLMProblem`).  The physical limit is one
symmetric rank-k product ``X^T X`` (one Newton step's Hessian needs at least
that).  Then a 20-alpha warm-started path (``1000 * alpha`` down to ``alpha``)
against one cold fit at ``alpha``, and the approximate leave-one-out cost
against one fit.  Ratios are printed; the machines are shared and noisy, so
only ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from benchmarks._common import best_time, best_times, print_table, syrk_limit

TARGET = 1e-8  # relative gradient norm every competitor must reach


def _data(n, p, seed=0):
    rng = np.random.default_rng(seed)
    # Correlated features (AR(1), rho = 0.5) with unequal scales: a realistic,
    # moderately conditioned design rather than the easiest iid one.
    X = rng.standard_normal((n, p))
    X[:, 1:] = 0.5 * X[:, :-1] + np.sqrt(0.75) * X[:, 1:]
    X *= np.geomspace(1.0, 0.2, p)
    coef = rng.standard_normal(p) * 2.0 / np.sqrt(p)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ coef) - 0.5))).astype(np.float64)
    return np.ascontiguousarray(X), y


def _relative_gradient(X, y, alpha, coef, intercept):
    from l2reg.objective.glm_problem import GLMProblem
    from l2reg.objective.losses import LogisticLoss

    problem = GLMProblem(X=X, y=y, weights=np.ones(X.shape[0]), alpha=alpha, loss=LogisticLoss())
    params = problem.pack(np.ravel(coef), np.ravel(intercept))
    return problem.evaluate(params, hessian=False).relative_gradient_norm


def _tuned(name, make, X, y, alpha, tols, repeat):
    """Time ``make(tol).fit`` at the loosest tol reaching TARGET; returns a table row."""
    for tol in tols:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make(tol).fit(X, y)
        reached = _relative_gradient(X, y, alpha, model.coef_, model.intercept_)
        if reached <= TARGET:
            break
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds = best_time(lambda: make(tol).fit(X, y), repeat)
    return [name, f"{tol:.0e}", reached, seconds]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks glm", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="n=20,000 x p=100, one repeat")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--p", type=int, default=300)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-lbfgs", action="store_true", help="skip scikit-learn's lbfgs")
    args = parser.parse_args(argv)
    n, p, repeat = args.n, args.p, args.repeat
    if args.quick:
        n, p, repeat = 20_000, 100, 1
    alpha = args.alpha

    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

    from l2reg.conventions import to_glum_glm_alpha, to_sklearn_logistic_C
    from l2reg.linear_model import LogisticRegression, glm_path

    X, y = _data(n, p)
    C = to_sklearn_logistic_C(alpha, n_samples=n)
    limit = syrk_limit(X, repeat=repeat)
    rows = []
    rows.append(
        _tuned(
            "l2reg newton",
            lambda t: LogisticRegression(alpha=alpha, tol=t),
            X,
            y,
            alpha,
            [1e-8, 1e-9, 1e-10],
            repeat,
        )
    )
    rows.append(
        _tuned(
            "sklearn newton-cholesky",
            lambda t: SklearnLogisticRegression(
                C=C, solver="newton-cholesky", tol=t, max_iter=1000
            ),
            X,
            y,
            alpha,
            [1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12],
            repeat,
        )
    )
    if not args.skip_lbfgs:
        rows.append(
            _tuned(
                "sklearn lbfgs",
                lambda t: SklearnLogisticRegression(C=C, solver="lbfgs", tol=t, max_iter=10000),
                X,
                y,
                alpha,
                [1e-8, 1e-10, 1e-12],
                repeat,
            )
        )
    try:
        import glum
    except ImportError:
        glum = None
    if glum is not None:
        rows.append(
            _tuned(
                "glum irls",
                lambda t: glum.GeneralizedLinearRegressor(
                    family="binomial",
                    alpha=to_glum_glm_alpha(alpha, "binomial"),
                    l1_ratio=0.0,
                    gradient_tol=t,
                    max_iter=1000,
                ),
                X,
                y,
                alpha,
                [1e-6, 1e-8, 1e-10, 1e-12],
                repeat,
            )
        )
    ours = rows[0][3]
    fastest = min(r[3] for r in rows[1:])
    table = [r + [r[3] / limit, r[3] / ours] for r in rows]
    table.append(["one syrk X^T X (limit)", "", "", limit, 1.0, limit / ours])
    print_table(
        f"binary logistic, n={n:,} x p={p}, alpha={alpha:g} (sklearn C={C:.3g}); "
        f"all at relative gradient norm <= {TARGET:g}",
        ["solver", "tol", "rel. grad", "seconds", "x syrk", "x l2reg"],
        table,
    )
    print(f"\nspeed-up over the fastest competitor: {fastest / ours:.2f}x (target >= 1.5x)")

    alphas = np.geomspace(1e3 * alpha, alpha, 20)
    estimator = LogisticRegression(tol=TARGET)
    # Round-robin, so that the path and the fit it is compared with see the same load.
    times = best_times(
        {
            "path": lambda: glm_path(estimator, X, y, alphas),
            "fit": lambda: LogisticRegression(alpha=alpha, tol=TARGET).fit(X, y),
        },
        repeat,
    )
    path_seconds, one_fit = times["path"], times["fit"]
    path = glm_path(estimator, X, y, alphas)
    print_table(
        "20-alpha warm-started path (1000 alpha .. alpha) vs one cold fit",
        ["task", "seconds", "Newton steps", "x one fit"],
        [
            ["one fit", one_fit, int(LogisticRegression(alpha=alpha).fit(X, y).n_iter_), 1.0],
            ["20-alpha path", path_seconds, int(path["n_iter"].sum()), path_seconds / one_fit],
        ],
    )
    print(f"\npath / one fit: {path_seconds / one_fit:.2f}x (target <= 4x)")

    from l2reg.model_selection._alo import alo_raw_predictions

    model = LogisticRegression(alpha=alpha, tol=TARGET).fit(X, y)
    problem = model._make_problem(X, y, np.ones(n), alpha)
    params = problem.pack(model.coef_, model.intercept_)
    alo_seconds = best_time(lambda: alo_raw_predictions(problem, params), repeat)
    print(
        f"approximate LOO for one alpha: {alo_seconds:.3g} s = {alo_seconds / one_fit:.2f}x "
        "one fit (target <= 3x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
