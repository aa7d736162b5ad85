"""Ridge fits against scikit-learn and the physical limit (one symmetric rank-k product).

``python -m benchmarks ridge [--quick] [--repeat K] [--problem NAME ...]``

For each problem it prints the best-of-K time of l2reg's ``Ridge().fit``,
scikit-learn's fastest exact solver for the problem (``cholesky``, which uses
the dual form when p > n) and the symmetric rank-k product the fit needs
(``X^T X`` for n >= p, ``X X^T`` for p > n) on the same X, their ratios, the
peak extra memory of each fit relative to the size of X, and the relative
difference of the coefficients (so that a speed-up that changes the answer
shows).

The ``unscaled`` row is the ``tall`` one in natural units: the same
correlated columns scaled from 1e-4 to 1e6 and moved off zero by up to three
of their scales (as prices, incomes and fractions are).  Its ratio to the
split syrk should match the standardized row's: column units must not change
the solver or its speed (issue #11: it took ``svd``, 33x slower, before the
Cholesky system was judged in equilibrated form).

The product is timed two ways: one ``?syrk`` call (threaded BLAS; the limit
issue #2 states its goal against), and l2reg's own split of the rows across
cores with single-threaded BLAS (:mod:`l2reg._row_split`), which forms the
same product faster for tall X and is the stricter limit.

The ``mixed*`` problems time ``Ridge(precision="mixed")`` against the float64
fit and the split syrk (:mod:`benchmarks.precision`).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import Ridge as SklearnRidge

from benchmarks import precision
from benchmarks._common import best_times, peak_extra_memory, print_table, syrk_variants
from l2reg import Ridge
from l2reg.conventions import to_sklearn_ridge_alpha

ALPHA = 1e-3
# (name, n, p, targets)
PROBLEMS = [
    ("tall", 200_000, 500, None),
    ("unscaled", 200_000, 500, None),
    ("wide", 2_000, 20_000, None),
    ("multi-target", 50_000, 300, 20),
]
QUICK = [
    ("tall", 40_000, 200, None),
    ("unscaled", 40_000, 200, None),
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


def make_unscaled_problem(n, p, targets, seed=0):
    """The ``tall`` design in natural units: column scales 1e-4 to 1e6 (shuffled) and
    offsets of 0 to 3 scales; the same target, so the fit explains the same."""
    X, y = make_problem(n, p, targets, seed)
    rng = np.random.default_rng(seed + 1)
    scales = rng.permutation(np.geomspace(1e-4, 1e6, p))
    # Back to offsets >= 0 of up to 3 scales (at most ~3 sd: the uncentered pass).
    X += rng.uniform(0, 3, p) - X[: min(n, 4096)].mean(axis=0)
    X *= scales  # in place: no second n x p array
    return X, y


MAKERS = {"unscaled": make_unscaled_problem}


# A fit of a small X takes well under 0.1 s, where one disturbance on these
# shared machines is a large share of it: such problems get this many times
# the repeats, so that their best time is as undisturbed as the others'.
SMALL_X_BYTES = 200e6
SMALL_X_REPEAT_FACTOR = 3


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
    if X.nbytes < SMALL_X_BYTES:
        repeat *= SMALL_X_REPEAT_FACTOR
    times = best_times(candidates, repeat)
    t_ours, t_theirs = times.pop("l2reg"), times.pop("sklearn")
    t_split = times.pop("syrk split by rows")
    limit = min(times.values())  # one ?syrk call, its fastest variant
    mem_ours = peak_extra_memory(lambda: Ridge(alpha=ALPHA).fit(X, y)) / X.nbytes
    mem_theirs = peak_extra_memory(lambda: SklearnRidge(alpha=sk_alpha).fit(X, y)) / X.nbytes
    difference = np.abs(ours.coef_ - theirs.coef_).max() / np.abs(theirs.coef_).max()
    return [
        label,
        "F" if X.flags.f_contiguous else "C",
        ours.solver_,
        limit,
        t_split,
        t_ours,
        t_theirs,
        t_ours / limit,
        t_ours / t_split,
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
        X, y = MAKERS.get(name, make_problem)(n, p, targets)
        rows.append(measure(label, X, y, repeat))
        rows.append(measure(label, np.asfortranarray(X), y, repeat))
    print_table(
        f"Ridge fit, alpha={ALPHA} (l2reg convention), best of {repeat} round-robin "
        f"({SMALL_X_REPEAT_FACTOR * repeat} for X under {SMALL_X_BYTES / 1e6:.0f} MB); "
        "syrk = fastest one ?syrk call; split = that product split by rows across cores",
        [
            "problem",
            "order",
            "solver",
            "syrk s",
            "split s",
            "l2reg s",
            "sklearn s",
            "l2reg/syrk",
            "l2reg/split",
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
    parser.add_argument(
        "--problem",
        action="append",
        choices=[name for name, *_ in PROBLEMS] + precision.NAMES,
        help="run only this problem (repeatable; default: all)",
    )
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
    problems = QUICK if args.quick else PROBLEMS
    mixed = precision.QUICK if args.quick else precision.PROBLEMS
    if args.problem:
        problems = [problem for problem in problems if problem[0] in args.problem]
        mixed = [problem for problem in mixed if problem[0] in args.problem]
    if problems:
        run(problems, args.repeat)
    if mixed:  # Ridge(precision="mixed"): benchmarks/precision.py
        precision.run(mixed, args.repeat)
    return 0
