"""Ridge, RidgeCV and logistic regression on a 2-worker Dask LocalCluster.

``python -m benchmarks dask [--quick] [--n N] [--p P] [--repeat R] [--all-dask-ml]
[--no-scale | --scale-only] [--scale-n N]``

On ``n x p`` data persisted on two local worker processes (one thread
each), round-robin in one process (best of ``--repeat``):

* ``Ridge`` on the Dask array against the in-memory l2reg fit of the same
  rows (the issue's bound: at most 2x), the physical limit (``dsyrk`` of the
  same X in memory on all cores: no exact fit reads less), the naive exact reduction through
  ``dask.array`` (``A.T @ A`` of ``[X, 1, y]``, then a solve) and
  dask-ml's ``LinearRegression(penalty="l2")`` (the issue's bound: l2reg at
  least 10x faster than dask-ml's fastest solver), each with its relative
  coefficient error against the exact ridge solution;
* ``RidgeCV`` with 100 alphas by GCV against one ``Ridge`` fit (bound: +20%);
* ``LogisticRegression`` against dask-ml's ``LogisticRegression`` at the same
  penalty (``C = 1 / (2 n alpha)``; dask-ml penalizes the intercept, and its
  ``newton`` and ``gradient_descent`` drop the penalty altogether), with each
  solution's l2reg objective, so a shortfall in objective shows, and the
  passes over X of l2reg's fit;
* the scheduler's overhead of one fit: tasks, bytes moved between workers
  and bytes that reached the client;
* scale: X (``--scale-n`` x p, 2.4 GB by default) larger than one worker's
  ``memory_limit`` (two workers hold it), fitted without spilling X to disk.

The machines are shared and noisy: only ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import pickle
import time
import warnings

import numpy as np
from scipy.linalg.blas import dsyrk

from benchmarks._common import best_times, print_table

ALPHA = 1e-3
LIMIT = "dsyrk of X, in memory (limit)"


def _cluster(**options):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        **options,
    )
    return cluster, Client(cluster)


def _data(client, n, p, chunk_rows, seed=0):
    """X (iid normal plus offsets), y and a 0/1 target, generated and persisted on the workers."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.standard_normal((n, p), chunks=(chunk_rows, p)) + np.linspace(0, 3, p)
    coef = np.random.default_rng(seed).standard_normal(p) / np.sqrt(p)
    raw = X @ coef - float(np.linspace(0, 3, p) @ coef)
    y = raw + rng.standard_normal(n, chunks=chunk_rows)
    labels = (rng.random(n, chunks=chunk_rows) < 1 / (1 + da.exp(-raw))).astype(np.float64)
    X, y, labels = client.persist([X, y, labels])
    from distributed import wait

    wait([X, y, labels])
    # Even shares of X on the two workers (persist places blocks as they finish).
    client.rebalance([X, y, labels])
    return X, y, labels


def _gathered(client, array) -> np.ndarray:
    """A persisted dask array on the client, its blocks fetched straight from the workers.

    ``client.compute(array)`` would concatenate the blocks in a task on one
    worker, which pulls the other blocks to it and leaves them there for a
    while: measured, one worker then held 5 of the 8 blocks of X and did
    twice the other's work in every later pass of every candidate.
    """
    from dask.core import flatten
    from distributed import futures_of

    futures = {future.key: future for future in futures_of(array)}
    blocks = client.gather([futures[key] for key in flatten(array.__dask_keys__())])
    return np.concatenate(blocks)


def _worker_bytes(client) -> int:
    """Bytes the workers have sent each other so far."""
    counts = client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total)
    return int(sum(counts.values()))


def _overhead(client, function):
    """Tasks run and bytes moved between workers by one call of ``function``."""
    from distributed import get_task_stream

    before = _worker_bytes(client)
    with get_task_stream(client) as stream:
        result = function()
    return len(stream.data), _worker_bytes(client) - before, result


def _naive_dask_ridge(X, y, alpha):
    """Exact ridge through dask.array algebra: ``A^T A`` of ``A = [X, 1, y]`` (DESIGN.md §6)."""
    import dask.array as da

    n, p = X.shape
    A = da.concatenate([X, da.ones((n, 1), chunks=(X.chunks[0], 1)), y[:, None]], axis=1)
    M = (A.T @ A).compute()
    sums = M[:p, p]
    mean_x, mean_y = sums / n, M[p, p + 1] / n
    G = M[:p, :p] - n * np.outer(mean_x, mean_x)
    c = M[:p, p + 1] - n * mean_x * mean_y
    coef = np.linalg.solve(G + n * alpha * np.eye(p), c)
    return coef, mean_y - mean_x @ coef


def _relative_error(coef, exact):
    return float(np.linalg.norm(np.ravel(coef) - exact) / np.linalg.norm(exact))


def _logistic_objective(X, y, coef, intercept, alpha):
    """l2reg's objective (mean log-loss + alpha ||coef||^2, intercept free) in memory."""
    raw = X @ np.ravel(coef) + float(np.ravel(intercept)[0])
    return float(np.mean(np.logaddexp(0, raw) - y * raw) + alpha * np.sum(np.square(coef)))


def _ridge_section(client, X, y, X_np, y_np, repeat, all_dask_ml):
    from l2reg import Ridge, RidgeCV

    n = X.shape[0]
    exact = Ridge(alpha=ALPHA).fit(X_np, y_np)
    alphas = np.geomspace(1e-6, 1e2, 100)
    X_fortran = np.asfortranarray(X_np)
    candidates = {
        # The physical limit of any exact fit: the Gram matrix's syrk, all cores, in memory.
        LIMIT: lambda: dsyrk(1.0, X_fortran, trans=1),
        "l2reg Ridge, in memory": lambda: Ridge(alpha=ALPHA).fit(X_np, y_np),
        "l2reg Ridge, dask": lambda: Ridge(alpha=ALPHA).fit(X, y),
        "l2reg RidgeCV gcv 100 alphas, dask": lambda: RidgeCV(alphas=alphas, cv="gcv").fit(X, y),
        "dask.array A.T @ A, exact": lambda: _naive_dask_ridge(X, y, ALPHA),
    }
    errors = {
        "l2reg Ridge, in memory": 0.0,
        "l2reg Ridge, dask": _relative_error(Ridge(alpha=ALPHA).fit(X, y).coef_, exact.coef_),
        "dask.array A.T @ A, exact": _relative_error(
            _naive_dask_ridge(X, y, ALPHA)[0], exact.coef_
        ),
    }
    try:
        from dask_ml.linear_model import LinearRegression
    except ImportError:
        LinearRegression = None  # noqa: N806 (a class)
    solvers = ["newton", "lbfgs"] + (["gradient_descent", "proximal_grad"] if all_dask_ml else [])
    if LinearRegression is not None:
        for solver in solvers:
            name = f"dask-ml LinearRegression {solver}"

            def make(solver=solver):
                return LinearRegression(penalty="l2", C=1 / (2 * n * ALPHA), solver=solver)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                errors[name] = _relative_error(make().fit(X, y).coef_, exact.coef_)
            candidates[name] = lambda make=make: make().fit(X, y)
    times = best_times(candidates, repeat)
    memory = times["l2reg Ridge, in memory"]
    dask_fit = times["l2reg Ridge, dask"]
    rows = [
        [name, f"{seconds:.3f}", f"{seconds / dask_fit:.2f}", f"{errors.get(name, np.nan):.1e}"]
        for name, seconds in times.items()
    ]
    print_table(
        f"Ridge on {n:,} x {X.shape[1]} (2 workers); time / l2reg dask fit; coef error vs exact",
        ["candidate", "seconds", "x l2reg dask", "rel. coef error"],
        rows,
    )
    dask_ml = [s for name, s in times.items() if name.startswith("dask-ml")]
    print(f"l2reg dask / l2reg in memory: {dask_fit / memory:.2f} (bound: <= 2)")
    limit = times[LIMIT]
    print(f"l2reg dask / dsyrk limit: {dask_fit / limit:.2f}")
    if dask_ml:
        print(f"dask-ml fastest / l2reg dask: {min(dask_ml) / dask_fit:.1f} (bound: >= 10)")
        # The bound is reachable only where dask-ml's fastest takes 10x the limit or more.
        print(f"dask-ml fastest / dsyrk limit: {min(dask_ml) / limit:.1f}")
    else:
        print("dask-ml is not installed: compared with the dask.array reduction only")
    print(f"naive dask.array / l2reg dask: {times['dask.array A.T @ A, exact'] / dask_fit:.1f}")
    cv = times["l2reg RidgeCV gcv 100 alphas, dask"]
    print(f"RidgeCV (100 alphas, GCV) / Ridge, dask: {cv / dask_fit:.2f} (bound: < 1.2)")


def _glm_passes(client, function):
    """The passes over X that ``function()`` (a GLM fit on the persisted X) made.

    Each pass runs one ``_run_group`` task per worker thread (l2reg.dask._groups).
    """
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        function()
    runs = sum(1 for task in stream.data if str(task["key"]).startswith("_run_group"))
    return runs // max(1, sum(client.nthreads().values()))


def _logistic_section(client, X, labels, X_np, labels_np, repeat):
    from l2reg import LogisticRegression

    n = X.shape[0]
    alpha = ALPHA
    l2reg_model = LogisticRegression(alpha=alpha).fit(X, labels)
    # Counted on a second fit: the scheduler's task stream may miss the start of the first.
    passes = _glm_passes(client, lambda: LogisticRegression(alpha=alpha).fit(X, labels))
    candidates = {
        "l2reg LogisticRegression, dask": lambda: LogisticRegression(alpha=alpha).fit(X, labels)
    }
    objectives = {
        "l2reg LogisticRegression, dask": _logistic_objective(
            X_np, labels_np, l2reg_model.coef_, l2reg_model.intercept_, alpha
        )
    }
    try:
        from dask_ml.linear_model import LogisticRegression as DaskMLLogistic
    except ImportError:
        DaskMLLogistic = None  # noqa: N806 (a class)
    if DaskMLLogistic is not None:
        for solver in ("lbfgs", "newton"):
            name = f"dask-ml LogisticRegression {solver}"

            def make(solver=solver):
                return DaskMLLogistic(penalty="l2", C=1 / (2 * n * alpha), solver=solver)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = make().fit(X, labels)
            objectives[name] = _logistic_objective(
                X_np, labels_np, model.coef_, model.intercept_, alpha
            )
            candidates[name] = lambda make=make: make().fit(X, labels)
    times = best_times(candidates, repeat)
    best = objectives["l2reg LogisticRegression, dask"]
    base = times["l2reg LogisticRegression, dask"]
    rows = [
        [
            name,
            f"{seconds:.3f}",
            f"{seconds / base:.2f}",
            f"{objectives[name]:.12f}",
            f"{objectives[name] - best:.1e}",
        ]
        for name, seconds in times.items()
    ]
    print_table(
        f"logistic, alpha={alpha} on {n:,} x {X.shape[1]}: l2reg's objective of each solution",
        ["candidate", "seconds", "x l2reg", "objective", "excess over l2reg"],
        rows,
    )
    print(
        f"l2reg: {l2reg_model.n_iter_} Newton steps in {passes} passes over X (the first "
        "included), relative gradient norm "
        f"{l2reg_model.certificate_.relative_gradient_norm:.1e}"
    )


def _overhead_section(client, X, y, labels):
    from l2reg import LogisticRegression, Ridge

    p = X.shape[1]
    rows = []
    for name, function in (
        ("Ridge", lambda: Ridge(alpha=ALPHA).fit(X, y)),
        ("LogisticRegression", lambda: LogisticRegression(alpha=ALPHA).fit(X, labels)),
    ):
        tasks, moved, model = _overhead(client, function)
        rows.append([name, tasks, f"{moved:,}", f"{len(pickle.dumps(model)):,}"])
    print_table(
        f"scheduler overhead of one fit ({X.numblocks[0]} row blocks, p = {p}; X holds "
        f"{X.nbytes:,} bytes)",
        ["fit", "tasks", "bytes between workers", "bytes of the fitted model"],
        rows,
    )


def _scale_section(n, p, memory_limit):
    """X larger than one worker's memory limit, on two workers, without spilling X."""
    import dask
    import distributed  # noqa: F401  (its config defaults must exist before the override)

    from l2reg import Ridge

    # Work stealing off: no block of X is moved to balance the load, so what
    # travels is the statistics alone (docs/dask.md).
    with dask.config.set({"distributed.scheduler.work-stealing": False}):
        cluster, client = _cluster(memory_limit=memory_limit)
    try:
        # 32 blocks: the two workers get nearly equal shares of X.
        X, y, _ = _data(client, n, p, chunk_rows=max(n // 32, 1), seed=1)
        limit = min(w["memory_limit"] for w in client.scheduler_info()["workers"].values())

        def spilled_bytes():
            counts = client.run(
                lambda dask_worker: sum(
                    dask_worker.data.slow.weight_by_key.values()
                    if hasattr(dask_worker.data, "slow")
                    and hasattr(dask_worker.data.slow, "weight_by_key")
                    else [len(getattr(dask_worker.data, "slow", ()))]
                )
            )
            return list(counts.values())

        before = spilled_bytes()
        tasks, moved, model = _overhead(client, lambda: Ridge(alpha=ALPHA).fit(X, y))
        spilled = {"before the fit": before, "after": spilled_bytes()}
        print(
            f"\nscale: X of {X.nbytes / 2**20:,.0f} MiB on 2 workers with memory_limit "
            f"{limit / 2**20:,.0f} MiB each: {tasks} tasks, {moved:,} bytes between workers, "
            f"spilled to disk per worker: {spilled} (work stealing off); "
            "certificate "
            f"{model.certificate_.relative_gradient_norm:.1e}"
        )
    finally:
        client.close()
        cluster.close()


def _comparisons(args) -> None:
    """The timed comparisons on one cluster (Ridge, RidgeCV, logistic, overhead)."""
    cluster, client = _cluster()
    try:
        X, y, labels = _data(client, args.n, args.p, chunk_rows=-(-args.n // args.blocks))
        X_np, y_np, labels_np = (_gathered(client, a) for a in (X, y, labels))
        if "ridge" in args.sections:
            _ridge_section(client, X, y, X_np, y_np, args.repeat, args.all_dask_ml)
        if "logistic" in args.sections:
            _logistic_section(client, X, labels, X_np, labels_np, args.repeat)
        if "overhead" in args.sections:
            _overhead_section(client, X, y, labels)
    finally:
        client.close()
        cluster.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks dask")
    parser.add_argument("--n", type=int, default=400_000)
    parser.add_argument("--p", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=8, help="row blocks of X")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n = 50,000, p = 50, repeat 1")
    parser.add_argument("--all-dask-ml", action="store_true", help="also the slow dask-ml solvers")
    parser.add_argument("--no-scale", action="store_true", help="skip the memory-limit run")
    parser.add_argument("--scale-only", action="store_true", help="only the memory-limit run")
    parser.add_argument(
        "--sections",
        default="ridge,logistic,overhead",
        help="comma-separated comparisons to run (ridge, logistic, overhead)",
    )
    parser.add_argument("--scale-n", type=int, default=1_500_000, help="rows of the scale run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.p, args.repeat = 50_000, 50, 1
    start = time.perf_counter()
    if not args.scale_only:
        _comparisons(args)
    if not args.no_scale:
        # X of 1.02x one worker's memory limit: each of the two workers holds
        # ~0.51x its limit, under Dask's spill thresholds (0.6 of the limit for
        # stored data, 0.7 for the whole process, whose interpreter and
        # libraries take ~0.25 GB: hence a limit of a few GB), while one worker
        # alone could not hold X at all.
        memory_limit = int(args.scale_n * args.p * 8 / 1.02)
        _scale_section(args.scale_n, args.p, memory_limit)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
