"""Reading a large CSV through ``l2reg fit`` (progress bar, memory, time split).

``python -m benchmarks cli_read [--gigabytes 1.0] [--keep]``

Writes a CSV of about the requested size (20 numeric columns + target) to a
temporary directory, then runs the real command line on it in a subprocess
with a pseudo-terminal-free stderr, so the progress bar is shown only when you
run it in a terminal yourself.  Prints the wall time of ``l2reg fit`` and, for
scale, of ``pandas.read_csv`` alone and of one l2reg ``Ridge`` fit on the
parsed data: reading dominates, fitting is a small fraction.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import print_table

COLUMNS = 20


def write_csv(path: Path, gigabytes: float, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    header = ",".join([f"x{j}" for j in range(COLUMNS)] + ["y"]) + "\n"
    rows_per_chunk = 100_000
    written, rows = 0, 0
    target_bytes = gigabytes * 2**30
    coef = rng.standard_normal(COLUMNS)
    with path.open("w") as handle:
        handle.write(header)
        while written < target_bytes:
            X = rng.standard_normal((rows_per_chunk, COLUMNS))
            y = X @ coef + rng.standard_normal(rows_per_chunk)
            block = np.column_stack([X, y])
            text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in block) + "\n"
            handle.write(text)
            written += len(text)
            rows += rows_per_chunk
    return rows


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks cli_read", description=__doc__)
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="l2reg-bench-"))
    try:
        path = directory / "big.csv"
        start = time.perf_counter()
        rows = write_csv(path, args.gigabytes)
        print(
            f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB, {rows} rows) "
            f"in {time.perf_counter() - start:.0f} s"
        )

        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "l2reg", "fit", str(path), "--target", "y", "--alpha", "0.001"],
            capture_output=True,
            text=True,
        )
        t_cli = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stderr)
            return 1

        import pandas as pd

        from l2reg import Ridge

        start = time.perf_counter()
        frame = pd.read_csv(path)
        t_read = time.perf_counter() - start
        X, y = frame.drop(columns="y").to_numpy(), frame["y"].to_numpy()
        start = time.perf_counter()
        Ridge(alpha=0.001).fit(X, y)
        t_fit = time.perf_counter() - start
        print_table(
            f"l2reg fit on a {args.gigabytes:g} GiB CSV",
            ["step", "seconds", "share of l2reg fit"],
            [
                ["l2reg fit (command line, whole run)", t_cli, "100%"],
                ["pandas.read_csv alone", t_read, f"{t_read / t_cli:.0%}"],
                ["one Ridge fit on the parsed data", t_fit, f"{t_fit / t_cli:.1%}"],
            ],
        )
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0
