"""Mixed-precision Ridge against the float64 fit and the float64 split syrk (rows of ``ridge``).

Run through ``python -m benchmarks ridge --problem mixed ...`` (``mixed``,
``mixed-cond1e4``, ``mixed-fallback``).  For each problem it times, round-robin
in one process, ``Ridge(precision="mixed")``, ``Ridge(precision="double")``
and the float64 ``X^T X`` split by rows across cores (l2reg's own pass, the
stricter physical limit), and reports:

* ``mixed/split``: the issue's goal is at most 0.75 on the tall problems;
* ``mixed/double``: what mixed precision saves (or, on the fallback problem,
  what the fallback costs: the goal is under 1.10);
* the relative gradient norm of the mixed fit (goal 1e-12) and the largest
  difference of its coefficients from the float64 fit, relative to the
  largest coefficient (goal 1e-10);
* ``solver_`` and the refinement passes.

The designs are the ``tall`` problem's correlated columns with nonzero means
(up to two standard deviations), or columns mixed by an orthogonal matrix to
the stated condition number of their covariance (its equilibrated condition
is about the same: the columns keep similar variances).
"""

from __future__ import annotations

import numpy as np

from benchmarks._common import best_times, print_table
from l2reg import Ridge
from l2reg._row_split import gram_and_cross

# (name, n, p, condition of the columns' covariance, alpha)
PROBLEMS = [
    ("mixed", 200_000, 500, None, 1e-3),
    ("mixed-cond1e4", 200_000, 500, 1e4, 1e-7),
    # cond 1e6 (equilibrated ~1e7): inside float64's budget (Cholesky, no svd), outside
    # float32's, and far enough outside for the pilot to see it.
    ("mixed-fallback", 200_000, 500, 1e6, 1e-12),
]
QUICK = [
    ("mixed", 40_000, 300, None, 1e-3),
    ("mixed-cond1e4", 40_000, 300, 1e4, 1e-7),
    ("mixed-fallback", 40_000, 300, 1e6, 1e-12),
]
NAMES = [name for name, *_ in PROBLEMS]


def make_problem(n, p, condition, seed=0):
    """Correlated columns with offsets, mixed to ``condition`` when it is given."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if condition is None:
        X *= np.sqrt(0.5)
        X += np.sqrt(0.5) * rng.standard_normal((n, 1))
        deviation = np.ones(p)
    else:
        basis, _ = np.linalg.qr(rng.standard_normal((p, p)))
        mixing = (basis * np.geomspace(1.0, 1.0 / np.sqrt(condition), p)) @ basis.T
        X = X @ mixing
        deviation = np.sqrt(np.sum(mixing**2, axis=0))
    # Offsets of up to two standard deviations (the tall problem's).
    X += rng.uniform(-2, 2, p) * deviation
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    return X, y


def measure(label, X, y, alpha, repeat):
    mixed = Ridge(alpha=alpha, precision="mixed")
    double = Ridge(alpha=alpha, precision="double")
    times = best_times(
        {
            "mixed": lambda: mixed.fit(X, y),
            "double": lambda: double.fit(X, y),
            "split": lambda: gram_and_cross(X, None),
        },
        repeat,
    )
    difference = np.abs(mixed.coef_ - double.coef_).max() / np.abs(double.coef_).max()
    return [
        label,
        mixed.solver_ if len(mixed.solver_) < 40 else mixed.solver_[:37] + "...",
        mixed.n_iter_ if mixed.n_iter_ is not None else "-",
        times["split"],
        times["double"],
        times["mixed"],
        times["mixed"] / times["split"],
        times["double"] / times["split"],
        times["mixed"] / times["double"],
        f"{mixed.certificate_.relative_gradient_norm:.1e}",
        f"{difference:.1e}",
    ]


def run(problems, repeat):
    rows = []
    for name, n, p, condition, alpha in problems:
        X, y = make_problem(n, p, condition)
        rows.append(measure(f"{name} {n}x{p}", X, y, alpha, repeat))
        del X
    print_table(
        f"Ridge precision='mixed' against 'double' and the float64 split syrk, best of "
        f"{repeat} round-robin (goals: mixed/split <= 0.75 on the tall problems, "
        "mixed/double < 1.10 where it falls back, relative gradient <= 1e-12, "
        "coef diff <= 1e-10)",
        [
            "problem",
            "solver_ (mixed)",
            "passes",
            "split s",
            "double s",
            "mixed s",
            "mixed/split",
            "double/split",
            "mixed/double",
            "mixed rel grad",
            "coef diff",
        ],
        rows,
    )


def main(argv):
    """``python -m benchmarks precision [--quick] [--repeat K]`` (also part of ``ridge``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks precision", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    run(QUICK if args.quick else PROBLEMS, args.repeat)
    return 0
