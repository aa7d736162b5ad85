"""Elastic net: l2reg's coordinate descent against scikit-learn, celer, skglm, glum and R glmnet.

``python -m benchmarks enet [--quick] [--repeat K] [--problem NAME] [--digits D] [--no-r]``

The problems are the issue's (#12, :func:`make_problem`):
correlated features (AR(1), correlation 0.5 between neighbours, mean ~0), 50
true nonzeros, and y scaled to unit (population) variance, so that glmnet's
internal scaling of y is the identity and its ``lambda`` is l2reg's ``alpha``.

* ``tall``: one fit, 100,000 x 500, alpha=0.01, l1_ratio=0.5.  scikit-learn
  runs with ``precompute=True`` (Gram updates), glmnet with
  ``type.gaussian="covariance"``.  The physical limit printed with it is one
  Gram pass over X: the product ``X^T X`` split by rows across cores
  (:func:`benchmarks._common.syrk_variants`).
* ``wide``: one fit, 2,000 x 20,000, alpha=0.05, l1_ratio=0.5; glmnet with
  ``type.gaussian="naive"``.
* ``path``: 100 alphas, 50,000 x 500 (``l2reg.elastic_net_path`` against
  scikit-learn's ``enet_path(precompute=True)`` on the same grid).
* ``cv``: ``ElasticNetCV``, 5 folds x 100 alphas x 3 l1_ratios, 50,000 x 500,
  against scikit-learn's ``ElasticNetCV(precompute=True, n_jobs=2)``; both must
  choose the same ``(alpha_, l1_ratio_)``.  These two run at each library's
  default tolerance (l2reg 1e-8, scikit-learn 1e-4).

**Equal accuracy.** Each single-fit competitor is timed at the loosest of its
own tolerances whose objective matches the best objective any of them reached
to ``--digits`` significant digits (12 by default), all objectives evaluated by
the same function here.  The tolerance search is untimed.  The Python
competitors are then timed round-robin in this process
(:func:`benchmarks._common.best_times`) and their times printed as ratios to
l2reg's; R glmnet runs in an ``Rscript`` subprocess (when ``Rscript`` and the
glmnet package are installed: Debian's ``r-cran-glmnet``) and is timed inside
R with ``system.time``, excluding R's start and the data transfer.

celer runs with single-threaded BLAS (its per-coordinate BLAS-1 calls were
12x slower threaded on a busy machine); the others as they come.

**numba.** The first fit in a fresh process compiles the kernels, or loads
them from numba's on-disk cache (``cache=True``).  Both costs are measured in
subprocesses: once with an empty ``NUMBA_CACHE_DIR`` (compilation) and once
more with the same directory (loaded from the cache), against the same fit
after the kernels are loaded.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks._common import best_times, print_table, syrk_variants

N_NONZERO = 50
L1_RATIO = 0.5
# (name, n, p, alpha)
PROBLEMS = [
    ("tall", 100_000, 500, 0.01),
    ("wide", 2_000, 20_000, 0.05),
    ("path", 50_000, 500, None),
    ("cv", 50_000, 500, None),
]
QUICK = [
    ("tall", 20_000, 200, 0.01),
    ("wide", 500, 5_000, 0.05),
    ("path", 10_000, 200, None),
    ("cv", 10_000, 200, None),
]
#: Tolerances tried, loosest first, until the objective reaches the digits asked for.
TOLERANCES = [1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14, 1e-16]
#: The same for glmnet's ``thresh`` (its own scale: change in the objective per
#: coordinate relative to the null deviance).
GLMNET_THRESHOLDS = [1e-7, 1e-9, 1e-11, 1e-13, 1e-15, 1e-17]
#: A candidate whose fit takes longer than this stops tightening its tolerance.
CALIBRATION_SECONDS = 60.0


def make_problem(n, p, seed=0, rho=0.5):
    """AR(1)-correlated columns (corr(x_j, x_k) = rho^|j-k|), 50 true nonzeros, unit-variance y.

    As celer's and skglm's ``make_correlated_data``.  The columns have mean
    ~0: celer and skglm fit the intercept as one more coordinate, which
    columns far from zero make slow.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    scale = np.sqrt(1.0 - rho**2)
    for j in range(1, p):  # in place: x_j = rho x_{j-1} + sqrt(1 - rho^2) e_j
        X[:, j] *= scale
        X[:, j] += rho * X[:, j - 1]
    coef = np.zeros(p)
    coef[rng.choice(p, N_NONZERO, replace=False)] = rng.standard_normal(N_NONZERO)
    y = X @ coef + rng.standard_normal(n)
    y -= y.mean()
    y /= y.std()  # population sd: glmnet's scale of y is then exactly 1
    return X, y


def objective(X, y, coef, intercept, alpha, l1_ratio):
    """The common objective (l2reg's, scikit-learn's, glmnet's with unit-variance y)."""
    residual = y - X @ coef - intercept
    return float(
        residual @ residual / (2 * y.size)
        + alpha * l1_ratio * np.abs(coef).sum()
        + 0.5 * alpha * (1 - l1_ratio) * coef @ coef
    )


def _quiet(function):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function()

    return run


def python_candidates(alpha, tall, skip=()):
    """name -> (make(tol) -> fit(X, y) -> (coef, intercept)) for each installed library."""
    from sklearn.linear_model import ElasticNet as SklearnElasticNet

    import l2reg

    def l2reg_fit(tol):
        model = l2reg.ElasticNet(alpha=alpha, l1_ratio=L1_RATIO, tol=tol)
        return lambda X, y: _coefs(model.fit(X, y))

    def sklearn_fit(tol):
        model = SklearnElasticNet(
            alpha=alpha, l1_ratio=L1_RATIO, tol=tol, precompute=tall, max_iter=10_000
        )
        return lambda X, y: _coefs(model.fit(X, y))

    makers = {"l2reg": l2reg_fit, "sklearn": sklearn_fit}
    try:
        import celer
        from threadpoolctl import threadpool_limits

        def celer_fit(tol):
            model = celer.ElasticNet(
                alpha=alpha, l1_ratio=L1_RATIO, tol=tol, max_iter=100, max_epochs=100_000
            )

            def fit(X, y):
                # celer makes BLAS-1 calls per coordinate; threaded OpenBLAS made
                # them 12x slower on a busy 2-core machine (4.8 s vs 0.40 s).
                with threadpool_limits(limits=1, user_api="blas"):
                    return _coefs(model.fit(X, y))

            return fit

        makers["celer"] = celer_fit
    except ImportError:
        print("celer is not installed (pip install celer): skipped")
    builders = {
        "skglm": lambda skglm, tol: skglm.ElasticNet(
            alpha=alpha, l1_ratio=L1_RATIO, tol=tol, max_iter=100, max_epochs=100_000
        ),
        "glum": lambda glum, tol: glum.GeneralizedLinearRegressor(
            family="normal", alpha=alpha, l1_ratio=L1_RATIO, gradient_tol=tol, max_iter=1000
        ),
    }
    for name, build in builders.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            print(f"{name} is not installed (pip install {name}): skipped")
            continue
        makers[name] = lambda tol, build=build, module=module: (
            lambda X, y: _coefs(build(module, tol).fit(X, y))
        )
    return {name: make for name, make in makers.items() if name not in skip}


def _coefs(model):
    return np.asarray(model.coef_, dtype=np.float64).ravel(), float(model.intercept_)


def _digits(value, best):
    """Significant digits shared with ``best`` (16 when equal)."""
    error = abs(value - best) / abs(best)
    return 16.0 if error == 0 else min(16.0, -np.log10(error))


def reference_objective(X, y, alpha):
    """The objective at l2reg's solution with a duality gap below 1e-16 * var(y)."""
    import l2reg

    model = l2reg.ElasticNet(alpha=alpha, l1_ratio=L1_RATIO, tol=1e-16, max_iter=10**6)
    model.fit(X, y)
    return objective(X, y, model.coef_, model.intercept_, alpha, L1_RATIO)


def calibrate(makers, X, y, alpha, reference, digits):
    """For each maker, the loosest tolerance reaching ``digits`` digits of ``reference``.

    Returns ``{name: (tol, objective)}``, the best objective seen (which
    the digits are finally counted against) and ``{name: seconds}`` of the
    makers whose fit took over ``CALIBRATION_SECONDS``: those stop at that
    tolerance (the table shows the digits they reached) and are not timed
    again; that one fit is their time.
    """
    chosen, slow = {}, {}
    best = reference
    for name, make in makers.items():
        for tol in TOLERANCES:
            start = time.perf_counter()
            coef, intercept = _quiet(lambda make=make, tol=tol: make(tol)(X, y))()
            seconds = time.perf_counter() - start
            value = objective(X, y, coef, intercept, alpha, L1_RATIO)
            chosen[name] = (tol, value)
            if seconds > CALIBRATION_SECONDS:
                slow[name] = seconds
            best = min(best, value)
            print(f"  {name} tol={tol:.0e}: {_digits(value, reference):.1f} digits, "
                  f"{seconds:.2f} s", flush=True)  # fmt: skip
            if _digits(value, reference) >= digits or seconds > CALIBRATION_SECONDS:
                break
    return chosen, best, slow


R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]; n <- as.integer(args[2]); p <- as.integer(args[3])
lambda <- as.numeric(args[4]); mix <- as.numeric(args[5]); kind <- args[6]
repeats <- as.integer(args[7]); reference <- as.numeric(args[8]); digits <- as.numeric(args[9])
thresholds <- as.numeric(args[10:length(args)])
suppressMessages(library(glmnet))
X <- matrix(readBin(file.path(folder, "X.bin"), "double", n * p), n, p)
y <- readBin(file.path(folder, "y.bin"), "double", n)
fit_at <- function(threshold) glmnet(X, y, family = "gaussian", alpha = mix, lambda = lambda,
  standardize = FALSE, type.gaussian = kind, thresh = threshold, maxit = 1e6)
for (threshold in thresholds) {  # the loosest threshold reaching the digits (untimed)
  fit <- fit_at(threshold)
  b <- as.numeric(as.matrix(coef(fit)))
  r <- y - X %*% b[-1] - b[1]
  value <- sum(r^2) / (2 * n) + lambda * (mix * sum(abs(b[-1])) + (1 - mix) / 2 * sum(b[-1]^2))
  if (abs(value - reference) <= 10^(-digits) * abs(reference)) break
}
best <- Inf
for (k in seq_len(repeats)) best <- min(best, system.time(fit <- fit_at(threshold))[["elapsed"]])
writeBin(c(threshold, best, as.numeric(as.matrix(coef(fit)))), file.path(folder, "out.bin"))
"""


def glmnet_available():
    """None when R glmnet can run, else the reason it cannot."""
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-cran-glmnet)"
    check = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(glmnet))"], capture_output=True, timeout=120
    )
    if check.returncode != 0:
        return "R package glmnet not installed (apt-get install r-cran-glmnet)"
    return None


def run_glmnet(X, y, alpha, kind, repeat, reference, digits):
    """(threshold, best time, objective) of R glmnet at the loosest threshold reaching digits."""
    from l2reg.conventions import to_glmnet_elastic_net

    params = to_glmnet_elastic_net(alpha, L1_RATIO, y)  # the identity for unit-variance y
    n, p = X.shape
    with tempfile.TemporaryDirectory() as folder:
        np.asfortranarray(X).ravel(order="F").tofile(os.path.join(folder, "X.bin"))
        y.tofile(os.path.join(folder, "y.bin"))
        script = Path(folder) / "fit.R"
        script.write_text(R_SCRIPT)
        command = [
            "Rscript", str(script), folder, str(n), str(p), repr(params["lambda"]),
            repr(params["alpha"]), kind, str(repeat), repr(reference), repr(digits),
        ]  # fmt: skip
        subprocess.run(command + [repr(t) for t in GLMNET_THRESHOLDS], check=True, timeout=3600)
        row = np.fromfile(os.path.join(folder, "out.bin"))
    return row[0], row[1], objective(X, y, row[3:], row[2], alpha, L1_RATIO)


def single_fit(label, X, y, alpha, repeat, digits, use_r, skip=()):
    n, p = X.shape
    tall = n >= p
    makers = python_candidates(alpha, tall, skip)
    reference = reference_objective(X, y, alpha)
    chosen, best, slow = calibrate(makers, X, y, alpha, reference, digits)
    functions = {
        name: _quiet(lambda make=makers[name], tol=tol: make(tol)(X, y))
        for name, (tol, _) in chosen.items()
        if name not in slow
    }
    limit_name = "syrk split by rows"
    if tall:
        functions[limit_name] = syrk_variants(X)[limit_name]
    times = best_times(functions, repeat) | slow
    rows = []
    if use_r:
        kind = "covariance" if tall else "naive"
        threshold, seconds, value = run_glmnet(X, y, alpha, kind, repeat, reference, digits)
        chosen[f"R glmnet ({kind})"] = (threshold, value)
        times[f"R glmnet ({kind})"] = seconds
    ours = times["l2reg"]
    for name, (tol, value) in chosen.items():
        shown = name + (" (one fit)" if name in slow else "")
        row = [shown, f"{tol:.0e}", f"{_digits(value, best):.1f}", times[name],
               times[name] / ours]  # fmt: skip
        if tall:
            row.append(times[name] / times[limit_name])
        rows.append(row)
    header = ["solver", "tol", "digits", "seconds", "/ l2reg"]
    if tall:
        header.append("/ gram pass")
        rows.append([limit_name + " (X^T X)", "", "", times[limit_name],
                     times[limit_name] / ours, 1.0])  # fmt: skip
    print_table(
        f"{label}: alpha={alpha}, l1_ratio={L1_RATIO}; best of {repeat}, each at its loosest "
        f"tolerance reaching {digits} digits of the best objective ({best:.15g})",
        header,
        rows,
    )


def path_fit(label, X, y, repeat):
    """Hook for the 100-alpha path (run only when l2reg has ``elastic_net_path``)."""
    import l2reg

    if not hasattr(l2reg, "elastic_net_path"):
        print(f"\n{label}: l2reg.elastic_net_path is not available yet; skipped")
        return
    from sklearn.linear_model import enet_path

    path = l2reg.elastic_net_path(X, y, l1_ratio=L1_RATIO, n_alphas=100)
    alphas = np.asarray(path.alphas)
    # enet_path fits no intercept: it gets X and y centered beforehand (untimed).
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    times = best_times(
        {
            "l2reg": _quiet(lambda: l2reg.elastic_net_path(X, y, l1_ratio=L1_RATIO, alphas=alphas)),
            "sklearn": _quiet(
                lambda: enet_path(Xc, yc, l1_ratio=L1_RATIO, alphas=alphas, precompute=True)
            ),
        },
        repeat,
    )
    _, sk_coefs, _ = _quiet(lambda: enet_path(Xc, yc, l1_ratio=L1_RATIO, alphas=alphas))()
    worst = []
    for k, alpha in enumerate(alphas):
        intercept = y.mean() - X.mean(axis=0) @ sk_coefs[:, k]
        ours = objective(X, y, path.coefs[k], path.intercepts[k], alpha, L1_RATIO)
        theirs = objective(X, y, sk_coefs[:, k], intercept, alpha, L1_RATIO)
        worst.append(_digits(ours, min(ours, theirs)))
    print_table(
        f"{label}: {alphas.size} alphas, l1_ratio={L1_RATIO}, best of {repeat} (default tols)",
        ["solver", "seconds", "/ l2reg", "min digits of l2reg's objectives"],
        [
            ["l2reg", times["l2reg"], 1.0, f"{min(worst):.1f}"],
            ["sklearn enet_path", times["sklearn"], times["sklearn"] / times["l2reg"], ""],
        ],
    )


def cv_fit(label, X, y, repeat):
    """Hook for ElasticNetCV (run only when l2reg has ``ElasticNetCV``)."""
    import l2reg

    if not hasattr(l2reg, "ElasticNetCV"):
        print(f"\n{label}: l2reg.ElasticNetCV is not available yet; skipped")
        return
    from sklearn.linear_model import ElasticNetCV as SklearnElasticNetCV

    ratios = [0.2, 0.5, 0.9]
    ours = l2reg.ElasticNetCV(l1_ratio=ratios, cv=5)
    theirs = SklearnElasticNetCV(l1_ratio=ratios, cv=5, alphas=100, precompute=True, n_jobs=2)
    times = best_times(
        {"l2reg": _quiet(lambda: ours.fit(X, y)), "sklearn": _quiet(lambda: theirs.fit(X, y))},
        repeat,
    )
    # Both build the same grids (alpha_max per l1_ratio, 1e-3 down, 100 values):
    # the chosen pair must be the same, and the CV errors close (l2reg's tol is tighter).
    same = np.isclose(ours.alpha_, theirs.alpha_, rtol=1e-10) and ours.l1_ratio_ == theirs.l1_ratio_
    error_diff = np.max(np.abs(theirs.mse_path_.mean(axis=-1) / ours.cv_results_["mean_error"] - 1))
    print(
        f"same (alpha_, l1_ratio_): {'yes' if same else 'NO'}; largest relative difference "
        f"of the CV errors: {error_diff:.1e}; load average {os.getloadavg()[0]:.1f}"
    )
    print_table(
        f"{label}: 5 folds x 100 alphas x {len(ratios)} l1_ratios, best of {repeat}",
        ["solver", "seconds", "/ l2reg", "alpha_", "l1_ratio_"],
        [
            ["l2reg", times["l2reg"], 1.0, ours.alpha_, ours.l1_ratio_],
            [
                "sklearn (n_jobs=2)",
                times["sklearn"],
                times["sklearn"] / times["l2reg"],
                theirs.alpha_,
                theirs.l1_ratio_,
            ],  # fmt: skip
        ],
    )


COMPILE_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
import scipy.sparse as sp
import l2reg
rng = np.random.default_rng(0)
X = rng.standard_normal((60, 20)); y = X[:, 0] + rng.standard_normal(60)
W = rng.standard_normal((20, 60)); z = W[:, 0] + rng.standard_normal(20)
def fits():
    l2reg.ElasticNet(alpha=0.1).fit(X, y)                      # Gram mode
    l2reg.ElasticNet(alpha=0.1).fit(W, z)                      # residual mode, dense
    l2reg.ElasticNet(alpha=0.1).fit(sp.csc_matrix(W), z)      # residual mode, sparse
imported = time.perf_counter()
fits()
first = time.perf_counter()
fits()
print(imported - start, first - imported, time.perf_counter() - first)
"""


def compile_times():
    """First-fit costs in fresh processes: compiling, loading from the disk cache, loaded."""
    root = Path(__file__).resolve().parent.parent
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "src"), str(root)]))
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        environment["NUMBA_CACHE_DIR"] = cache
        for label in ("empty cache (compiles)", "disk cache (loads)"):
            start = time.perf_counter()
            output = subprocess.run(
                [sys.executable, "-c", COMPILE_SCRIPT], env=environment, check=True,
                capture_output=True, text=True, timeout=600,
            ).stdout.split()  # fmt: skip
            imported, first, second = map(float, output)
            rows.append([label, imported, first, second, first - second,
                         time.perf_counter() - start])  # fmt: skip
        cached = sorted(path.suffix for path in Path(cache).rglob("*") if path.is_file())
    print_table(
        "numba: first fits (Gram, dense residual, sparse residual) in a fresh process",
        ["NUMBA_CACHE_DIR", "import s", "first fits s", "again s", "compile/load s", "process s"],
        rows,
    )
    print(f"disk cache files written: {len(cached)} ({', '.join(sorted(set(cached)))})")


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks enet", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--digits", type=float, default=12.0)
    parser.add_argument("--no-r", action="store_true", help="skip R glmnet")
    parser.add_argument(
        "--skip", action="append", default=[], help="leave out this Python competitor (repeatable)"
    )
    parser.add_argument("--no-compile", action="store_true", help="skip the numba compile times")
    parser.add_argument(
        "--problem",
        action="append",
        choices=[name for name, *_ in PROBLEMS],
        help="run only this problem (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    use_r = not args.no_r
    if use_r:
        reason = glmnet_available()
        if reason is not None:
            print(f"R glmnet skipped: {reason}")
            use_r = False
    if not args.no_compile:
        compile_times()
    problems = QUICK if args.quick else PROBLEMS
    if args.problem:
        problems = [problem for problem in problems if problem[0] in args.problem]
    for name, n, p, alpha in problems:
        X, y = make_problem(n, p)
        label = f"{name} {n}x{p}"
        if name in ("tall", "wide"):
            single_fit(label, X, y, alpha, args.repeat, args.digits, use_r, args.skip)
        elif name == "path":
            path_fit(label, X, y, args.repeat)
        else:
            cv_fit(label, X, y, args.repeat)
    return 0
