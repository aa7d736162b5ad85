"""Ridge fits against scikit-learn and the physical limit (one symmetric rank-k product).

``python -m benchmarks ridge [--quick] [--repeat K]``

For each problem it prints the best-of-K time of l2reg's ``Ridge().fit``,
scikit-learn's fastest exact solver for the problem (``cholesky``, which uses
the dual form when p > n) and one ``?syrk`` over the same X (``X^T X`` for
n >= p, ``X X^T`` for p > n), their ratios, the peak extra memory of each fit
relative to the size of X, and the relative difference of the coefficients
(so that a speed-up that changes the answer shows).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import Ridge as SklearnRidge

from benchmarks._common import best_times, peak_extra_memory, print_table, syrk_variants
from l2reg import Ridge
from l2reg.conventions import to_sklearn_ridge_alpha

ALPHA = 1e-3
# (name, n, p, targets)
PROBLEMS = [
    ("tall", 200_000, 500, None),
    ("wide", 2_000, 20_000, None),
    ("multi-target", 50_000, 300, 20),
]
QUICK = [
    ("tall", 40_000, 200, None),
    ("wide", 500, 5_000, None),
    ("multi-target", 10_000, 100, 20),
]


def make_problem(n, p, targets, seed=0):
    """Correlated features (one common factor, correlation 0.5) with nonzero means."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X *= np.sqrt(0.5)
    X += np.sqrt(0.5) * rng.standard_normal((n, 1))
    X += rng.uniform(-2, 2, p)
    coef = rng.standard_normal(p if targets is None else (p, targets))
    noise = rng.standard_normal(n if targets is None else (n, targets))
    return X, X @ coef + noise


def measure(label, X, y, repeat):
    """One table row: times, ratios, memory and the coefficient difference for one X.

    l2reg, scikit-learn and every variant of the syrk limit are timed
    round-robin (:func:`benchmarks._common.best_times`).
    """
    n, p = X.shape
    sk_alpha = to_sklearn_ridge_alpha(ALPHA, n_samples=n)
    ours = Ridge(alpha=ALPHA)
    theirs = SklearnRidge(alpha=sk_alpha, solver="cholesky")
    candidates = syrk_variants(X, rows=n >= p)
    candidates["l2reg"] = lambda: ours.fit(X, y)
    candidates["sklearn"] = lambda: theirs.fit(X, y)
    times = best_times(candidates, repeat)
    t_ours, t_theirs = times.pop("l2reg"), times.pop("sklearn")
    limit = min(times.values())
    mem_ours = peak_extra_memory(lambda: Ridge(alpha=ALPHA).fit(X, y)) / X.nbytes
    mem_theirs = peak_extra_memory(lambda: SklearnRidge(alpha=sk_alpha).fit(X, y)) / X.nbytes
    difference = np.abs(ours.coef_ - theirs.coef_).max() / np.abs(theirs.coef_).max()
    return [
        label,
        "F" if X.flags.f_contiguous else "C",
        ours.solver_,
        limit,
        t_ours,
        t_theirs,
        t_ours / limit,
        t_theirs / limit,
        t_theirs / t_ours,
        f"{mem_ours:.1%}",
        f"{mem_theirs:.0%}",
        f"{difference:.1e}",
    ]


def run(problems, repeat):
    rows = []
    for name, n, p, targets in problems:
        label = f"{name} {n}x{p}" + (f"x{targets}" if targets else "")
        X, y = make_problem(n, p, targets)
        rows.append(measure(label, X, y, repeat))
        rows.append(measure(label, np.asfortranarray(X), y, repeat))
    print_table(
        f"Ridge fit, alpha={ALPHA} (l2reg convention), best of {repeat} round-robin; "
        "limit = fastest syrk",
        [
            "problem",
            "order",
            "solver",
            "syrk s",
            "l2reg s",
            "sklearn s",
            "l2reg/syrk",
            "sklearn/syrk",
            "sklearn/l2reg",
            "l2reg mem/X",
            "sklearn mem/X",
            "coef diff",
        ],
        rows,
    )


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks ridge", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i['internal_api']} {i.get('architecture', '')} {i['num_threads']} threads"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        print("BLAS:", "; ".join(blas))
    except ImportError:
        pass
    run(QUICK if args.quick else PROBLEMS, args.repeat)
    return 0
