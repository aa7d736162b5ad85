"""Streaming fits: ``Ridge.partial_fit`` / ``GramStats`` against one in-memory ``Ridge.fit``.

``python -m benchmarks partial_fit [--quick] [--repeat R] [--chunks C]``

One process times, round-robin:

* ``fit``: ``Ridge.fit`` on all rows in memory;
* ``stats``: ``GramStats.from_chunk`` of each of C chunks, merged, then
  ``Ridge.fit_stats`` (what a file or Dask front end does);
* ``partial_fit``: ``Ridge.partial_fit`` of each chunk (one refit per chunk);
* ``RidgeCV(cv=5).partial_fit``: hashed k-fold statistics, a choice per chunk;
* ``syrk``: one symmetric rank-k update over X, the physical limit of any of them.

Each row prints the ratio to ``fit`` and to ``syrk``, and the relative
difference of the streamed coefficients from ``fit``'s, so a speed-up that
changed the answer shows.  The chunks are views of one in-memory X: this
measures the statistics' overhead, not reading (``benchmarks stream`` reads files).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from benchmarks._common import best_times, print_table, syrk_limit


def _problem(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.geomspace(1.0, 0.05, p) + 3.0
    y = X @ (rng.standard_normal(p) / np.sqrt(p)) + 0.5 * rng.standard_normal(n)
    return X, y


def _candidates(X, y, chunks, results, alpha=1e-3):
    """The timed routes; each stores its coefficients in ``results``."""
    from l2reg import GramStats, Ridge, RidgeCV

    def fit():
        results["fit"] = Ridge(alpha=alpha).fit(X, y).coef_

    def stats():
        merged = GramStats.merge_all(GramStats.from_chunk(a, b) for a, b in chunks)
        results["stats"] = Ridge(alpha=alpha).fit_stats(merged).coef_

    def partial():
        model = Ridge(alpha=alpha)
        for a, b in chunks:
            model.partial_fit(a, b)
        results["partial_fit"] = model.coef_

    def partial_cv():
        model = RidgeCV(alphas=np.logspace(-5, 1, 30), cv=5)
        for a, b in chunks:
            model.partial_fit(a, b)

    return {"fit": fit, "stats": stats, "partial_fit": partial, "RidgeCV k-fold": partial_cv}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks partial_fit", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--repeat", type=int, default=3, help="best of R round-robin runs")
    parser.add_argument("--chunks", type=int, default=20, help="chunks the rows are cut into")
    args = parser.parse_args(argv)

    sizes = [(20_000, 50), (50_000, 200)] if args.quick else [(200_000, 100), (200_000, 500)]
    rows = []
    for n, p in sizes:
        X, y = _problem(n, p)
        edges = np.linspace(0, n, args.chunks + 1).astype(int)
        chunks = [(X[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        results = {}
        candidates = _candidates(X, y, chunks, results)
        times = best_times(candidates, args.repeat)
        t_syrk = syrk_limit(X, repeat=args.repeat)
        for name, seconds in times.items():
            coef = results.get(name)
            error = (
                np.max(np.abs(coef - results["fit"])) / np.max(np.abs(results["fit"]))
                if coef is not None
                else np.nan
            )
            rows.append(
                [f"{n}x{p}", name, seconds, seconds / times["fit"], seconds / t_syrk, error]
            )
    print_table(
        f"streamed fits, {args.chunks} chunks (load {os.getloadavg()[0]:.1f})",
        ["problem", "route", "seconds", "/ fit", "/ syrk", "rel. diff. of coef"],
        rows,
    )
    return 0
