"""Peak memory and time of the stable ``svd`` path on tall X, the fallback of the normal equations.

``python -m benchmarks fallback_memory [--quick] [--n N] [--p P] [--repeat K]``

Three tall fits that take the ``svd`` path:

* ``svd``: ``Ridge(solver="svd")`` on a well-conditioned design (blocked QR,
  no refinement);
* ``fallback``: ``Ridge(solver="cholesky")`` on a design whose last column
  nearly repeats the first (cond(X) ~ 1e9) with a tiny alpha, so that the
  Cholesky solve falls back to ``svd``, which refines in double-double
  arithmetic;
* ``fallback weighted``: the same with sample weights.

For each it prints the peak memory allocated during the fit (tracemalloc,
:func:`benchmarks._common.peak_extra_memory`) relative to ``X.nbytes`` next
to the target of issue 11 (at most 0.1x X plus O(p^2); the O(p^2) part is
shown as the size of one (p+1) x (p+1) float64 matrix relative to X), and
scikit-learn's ``Ridge(solver="svd")``, which copies and centers X and takes
its SVD (l2reg's svd path before the blocked QR allocated 2-3x X the same
way).  Times are best-of-K, round-robin with the physical limit of a tall
ridge fit (one symmetric rank-k product over X, the fastest of the
:func:`benchmarks._common.syrk_variants`), and reported as ratios to it.

Wide X (p > n) is not measured: there the svd path factors the n x p copy of
the data, the size of X.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.linear_model import Ridge as SklearnRidge

from benchmarks._common import best_times, peak_extra_memory, print_table, syrk_variants
from l2reg import Ridge
from l2reg.conventions import to_sklearn_ridge_alpha

#: The issue's bound on the extra memory of any fallback in a tall fit, as a fraction of X.
TARGET_FRACTION = 0.1
DEFAULT_SHAPE = (100_000, 200)
QUICK_SHAPE = (20_000, 50)


def make_problems(n, p, seed=0):
    """(label, X, y, sample_weight, l2reg options) of the three fits."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    # A near-duplicate column: cond(X) ~ 1e9, far beyond what the normal
    # equations accept at alpha = 1e-14, so cholesky falls back.
    ill = X.copy()
    ill[:, -1] = ill[:, 0] + 1e-9 * rng.standard_normal(n)
    weights = rng.uniform(0.5, 2.0, n)
    return [
        ("svd", X, y, None, {"alpha": 1e-3, "solver": "svd"}),
        ("fallback", ill, y, None, {"alpha": 1e-14, "solver": "cholesky"}),
        ("fallback weighted", ill, y, weights, {"alpha": 1e-14, "solver": "cholesky"}),
    ]


def _fit(options, X, y, sample_weight):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SolverFallbackWarning is the point here
        return Ridge(**options).fit(X, y, sample_weight=sample_weight)


def _sklearn_fit(options, X, y, sample_weight):
    n = X.shape[0]
    alpha = to_sklearn_ridge_alpha(options["alpha"], n_samples=n, sample_weight=sample_weight)
    return SklearnRidge(alpha=alpha, solver="svd").fit(X, y, sample_weight=sample_weight)


def measure(label, X, y, sample_weight, options, repeat):
    """One table row for one fit.

    l2reg and the syrk limit are timed round-robin, best of ``repeat``;
    scikit-learn's svd (several times slower, and only a reference point) once.
    """
    p = X.shape[1]
    candidates = syrk_variants(X)
    candidates["l2reg"] = lambda: _fit(options, X, y, sample_weight)
    times = best_times(candidates, repeat)
    t_ours = times.pop("l2reg")
    limit = min(times.values())
    t_theirs = best_times({"sklearn": lambda: _sklearn_fit(options, X, y, sample_weight)}, 1)
    t_theirs = t_theirs["sklearn"]
    fitted = []
    mem_ours = peak_extra_memory(lambda: fitted.append(_fit(options, X, y, sample_weight)))
    mem_theirs = peak_extra_memory(lambda: _sklearn_fit(options, X, y, sample_weight))
    mem_ours, mem_theirs = mem_ours / X.nbytes, mem_theirs / X.nbytes
    model = fitted[0]
    quadratic = (p + 1) ** 2 * 8 / X.nbytes
    within = mem_ours <= TARGET_FRACTION + quadratic
    return [
        label,
        model.solver_,
        f"{mem_ours:.3f}",
        f"{TARGET_FRACTION} + {quadratic:.4f}",
        "yes" if within else "NO",
        f"{mem_theirs:.2f}",
        limit,
        t_ours,
        t_theirs,
        t_ours / limit,
        t_theirs / limit,
        f"{model.certificate_.relative_gradient_norm:.1e}",
    ]


def run(n, p, repeat):
    rows = [
        measure(label, X, y, weights, options, repeat)
        for label, X, y, weights, options in make_problems(n, p)
    ]
    print_table(
        f"Tall fits through the svd path, X {n} x {p} ({n * p * 8 / 1e6:.0f} MB), "
        f"best of {repeat} round-robin; mem = peak allocated during the fit / X.nbytes; "
        "target = 0.1 + one (p+1)^2 float64 matrix / X.nbytes; syrk = fastest ?syrk over X",
        [
            "fit",
            "solver",
            "l2reg mem/X",
            "target",
            "within",
            "sklearn svd mem/X",
            "syrk s",
            "l2reg s",
            "sklearn svd s",
            "l2reg/syrk",
            "sklearn svd/syrk",
            "certificate",
        ],
        rows,
    )


def main(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks fallback_memory", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help=f"X of {QUICK_SHAPE}")
    parser.add_argument("--n", type=int, help=f"rows (default {DEFAULT_SHAPE[0]})")
    parser.add_argument("--p", type=int, help=f"columns (default {DEFAULT_SHAPE[1]})")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    n, p = QUICK_SHAPE if args.quick else DEFAULT_SHAPE
    n, p = args.n or n, args.p or p
    if n < p:
        parser.error(f"the memory bound is for tall X; got n={n} < p={p}.")
    run(n, p, args.repeat)
    return 0
