"""Generalized L2 penalties against plain ridge: what a penalty option costs.

``python -m benchmarks penalties [--quick] [--repeat R]``

On n=50,000 x p=500 (issue 15), timed round-robin in one process:

* ``RidgeCV`` (exact LOO over 100 alphas) with a second-difference
  ``penalty_matrix`` (rank-deficient: its null space, the straight lines,
  is profiled out) against plain ``RidgeCV`` on the same grid; target <= 1.5x;
* the same with ``cv="gcv"``;
* ``Ridge(standardize=True)`` against ``Ridge(standardize=False)``; target <= 1.05x;
* ``RidgeCV(standardize=True)`` against plain ``RidgeCV``;
* ``RidgeCV(cv="gcv", feature_groups=...)`` with two groups of features (grid and
  optimizer), against plain GCV, with the number of decompositions it made.

Each row also prints the largest relative gradient norm of the fitted model
(``certificate_``), so a speed-up that broke the answer shows.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks._common import best_times, print_table

N_ALPHAS = 100


def _problem(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.geomspace(1.0, 0.05, p)
    coef = np.sin(np.linspace(0, 3 * np.pi, p)) / np.sqrt(p)  # a smooth profile
    y = X @ coef + 0.5 * rng.standard_normal(n)
    return X, y


def main(argv: list[str]) -> int:
    from l2reg import Ridge, RidgeCV
    from l2reg.penalties import difference_matrix

    parser = argparse.ArgumentParser(prog="python -m benchmarks penalties", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="n=5,000 x p=100 (seconds)")
    parser.add_argument("--repeat", type=int, default=3, help="best of R rounds")
    args = parser.parse_args(argv)
    n, p = (5_000, 100) if args.quick else (50_000, 500)
    X, y = _problem(n, p)
    alphas = np.geomspace(1e-6, 1e2, N_ALPHAS)
    gamma = difference_matrix(p, 2)

    models = {
        "RidgeCV loo": RidgeCV(alphas=alphas),
        "RidgeCV loo, 2nd-difference Gamma": RidgeCV(alphas=alphas, penalty_matrix=gamma),
        "RidgeCV gcv": RidgeCV(alphas=alphas, cv="gcv"),
        "RidgeCV gcv, 2nd-difference Gamma": RidgeCV(alphas=alphas, cv="gcv", penalty_matrix=gamma),
        "RidgeCV loo, standardize": RidgeCV(alphas=alphas, standardize=True),
        "RidgeCV gcv, 2 feature groups (grid)": RidgeCV(
            alphas=alphas, cv="gcv", feature_groups=np.arange(p) < p // 2
        ),
        "RidgeCV gcv, 2 feature groups (optimize)": RidgeCV(
            alphas=alphas, cv="gcv", feature_groups=np.arange(p) < p // 2, group_search="optimize"
        ),
        "Ridge": Ridge(alpha=1e-3),
        "Ridge standardize": Ridge(alpha=1e-3, standardize=True),
    }
    times = best_times({name: (lambda m=m: m.fit(X, y)) for name, m in models.items()}, args.repeat)
    baselines = {
        "RidgeCV loo, 2nd-difference Gamma": ("RidgeCV loo", 1.5),
        "RidgeCV gcv, 2nd-difference Gamma": ("RidgeCV gcv", 1.5),
        "RidgeCV loo, standardize": ("RidgeCV loo", 1.05),
        "RidgeCV gcv, 2 feature groups (grid)": ("RidgeCV gcv", None),
        "RidgeCV gcv, 2 feature groups (optimize)": ("RidgeCV gcv", None),
        "Ridge standardize": ("Ridge", 1.05),
    }
    rows = []
    for name, model in models.items():
        base, target = baselines.get(name, (name, None))
        groups = getattr(model, "group_cv_results_", None)
        rows.append(
            [
                name,
                times[name],
                f"{times[name] / times[base]:.3f}" if base != name else "-",
                f"<= {target}" if target else "-",
                f"{model.certificate_.relative_gradient_norm:.1e}",
                "-" if groups is None else int(groups["n_decompositions"][0]),
            ]
        )
    print_table(
        f"Generalized L2 penalties, n={n:,} x p={p}, {N_ALPHAS} alphas (best of {args.repeat})",
        ["model", "seconds", "ratio to plain", "target", "relative gradient", "decompositions"],
        rows,
    )
    return 0
