"""Out-of-core ridge: peak memory and time of ``l2reg.fit_files`` against merely reading.

``python -m benchmarks stream [--size-gb 4] [--features 50] [--repeat 2] [--keep]``

Writes a ``.npy`` array and a Parquet file of about ``--size-gb`` GiB each
(float64 features and one target) to a temporary directory under /tmp, then
times, round-robin, each in its own subprocess:

* ``read npy``: the file read in the same row blocks with plain file reads
  into one reused NumPy buffer (what any bounded-memory reader must do);
* ``fit_files npy (GCV)``: l2reg's out-of-core fit of the same file;
* ``read parquet``: pyarrow's ``iter_batches`` over every row group, each
  column turned into a NumPy array (zero-copy);
* ``fit_files parquet (GCV)``;
* ``gram only``: the fit's compute alone, the Gram pass (split by rows
  across cores, as l2reg runs it) over as many rows in one in-memory block
  of the fit's size: with ``read``, the two parts the fit overlaps.

Each child reports the wall time of its work (imports excluded) and its peak
resident memory (``VmHWM`` from ``/proc/self/status``: the whole process,
interpreter and imported libraries included).  The targets (issue 13): peak
RSS under 400 MB, time within 1.3x of reading.

Page cache (``--cache``): ``warm`` reads each file once before the timed
rounds, so every candidate reads it from memory (the hardest case for the
ratio: reading is a memory copy, the Gram pass is ``n p^2`` flops); ``cold``
evicts the file's pages before every candidate with
``posix_fadvise(POSIX_FADV_DONTNEED)`` (no root needed, unlike dropping the
whole cache), so each reads from disk, as a file larger than memory must.
The files are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import print_table

#: Bytes per Parquet row group.  Readers (pyarrow's, and so l2reg's) hold one
#: row group's column chunks and their decoded pages at a time: with 40 MB
#: row groups pyarrow alone peaked at about 200 MB above the interpreter.
ROW_GROUP_BYTES = 16 * 2**20
MEMORY_LIMIT_MB = 400
TIME_LIMIT = 1.3

_CHILD = r"""
import json, sys, time
kind, path, width, chunk_bytes, n_rows = (
    sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
)
import numpy as np
import pyarrow.parquet as pq
import l2reg

def vmhwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

rows = max(1, chunk_bytes // (8 * width))
start = time.perf_counter()
if kind == "read npy":
    with open(path, "rb", buffering=0) as handle:
        np.lib.format.read_magic(handle)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        buffer = np.empty(rows * shape[1])
        view = memoryview(buffer.view(np.uint8))
        while handle.readinto(view):
            pass
elif kind == "gram only":
    # The Gram pass alone on data already in memory: one block of fit_files'
    # size (two blocks fill chunk_bytes), summarized as often as the file has blocks.
    from l2reg._row_split import gram_and_cross
    block_rows = max(1, chunk_bytes // (16 * width))
    block = np.random.default_rng(0).standard_normal((block_rows, width))
    start = time.perf_counter()
    for _ in range(-(-n_rows // block_rows)):
        gram_and_cross(block, None)
elif kind == "read parquet":
    # One row group at a time, as fit_files reads (a plain iter_batches over
    # the whole file ran slower here and held about 2x the memory).
    file = pq.ParquetFile(path)
    for group in range(file.num_row_groups):
        for batch in file.iter_batches(batch_size=rows, row_groups=[group]):
            for column in batch.columns:
                column.to_numpy(zero_copy_only=False)
else:
    target = width - 1 if path.endswith(".npy") else "y"
    model = l2reg.fit_files(path, target=target, cv="gcv", progress=False,
                            chunk_bytes=chunk_bytes)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak": vmhwm()}))
"""


def _write_npy(path: Path, n_rows: int, width: int, rng) -> None:
    header = {"descr": "<f8", "fortran_order": False, "shape": (n_rows, width)}
    coef = rng.standard_normal(width - 1)
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, n_rows, 1 << 18):
            n = min(1 << 18, n_rows - start)
            block = np.empty((n, width))
            block[:, :-1] = rng.standard_normal((n, width - 1))
            block[:, -1] = block[:, :-1] @ coef + rng.standard_normal(n)
            handle.write(block.tobytes())


def _write_parquet(npy: Path, path: Path, width: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = np.load(npy, mmap_mode="r")
    names = [f"x{j}" for j in range(width - 1)] + ["y"]
    group = max(1, ROW_GROUP_BYTES // (8 * width))
    schema = pa.schema([(name, pa.float64()) for name in names])
    # Random floats gain nothing from dictionaries; without them the file is about
    # the size of the array.
    with pq.ParquetWriter(path, schema, use_dictionary=False) as writer:
        for start in range(0, data.shape[0], group):
            block = np.array(data[start : start + group])
            table = pa.table({name: block[:, j] for j, name in enumerate(names)}, schema=schema)
            writer.write_table(table, row_group_size=group)
    del data


def _run(kind: str, path: Path, width: int, chunk_bytes: int, n_rows: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(path), str(width), str(chunk_bytes), str(n_rows)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _warm(path: Path) -> None:
    with path.open("rb", buffering=0) as handle:
        buffer = bytearray(1 << 24)
        while handle.readinto(buffer):
            pass


def _evict(path: Path) -> None:
    """Drop the file's pages from the page cache (clean pages; no root needed)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks stream", description=__doc__)
    parser.add_argument("--size-gb", type=float, default=4.0, help="GiB per file (default 4)")
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--chunk-mb", type=float, default=32.0, help="fit_files chunk_bytes")
    parser.add_argument("--formats", default="npy,parquet")
    parser.add_argument("--cache", choices=("warm", "cold", "both"), default="both")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)
    width = args.features + 1
    n_rows = int(args.size_gb * 2**30 // (8 * width))
    chunk_bytes = int(args.chunk_mb * 2**20)
    formats = args.formats.split(",")
    directory = Path(tempfile.mkdtemp(prefix="l2reg-bench-stream-", dir="/tmp"))
    try:
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        files = {"npy": directory / "data.npy"}
        _write_npy(files["npy"], n_rows, width, rng)
        if "parquet" in formats:
            files["parquet"] = directory / "data.parquet"
            _write_parquet(files["npy"], files["parquet"], width)
        print(
            f"wrote {n_rows:,} rows x {width} float64 columns: "
            + ", ".join(f"{k} {p.stat().st_size / 2**30:.2f} GiB" for k, p in files.items())
            + f" in {time.perf_counter() - start:.0f} s"
        )
        caches = ("warm", "cold") if args.cache == "both" else (args.cache,)
        candidates = [
            (f"{action} {name}", name, cache)
            for cache in caches
            for name in formats
            for action in ("read", "fit_files")
        ]
        # The physical limit of the fit's compute: the Gram pass over as many rows,
        # in memory (compare with "read": the fit needs about both, overlapped).
        candidates.append(("gram only", "npy", "no"))
        best = {key: {"seconds": np.inf, "peak": 0} for key in candidates}
        for _ in range(args.repeat):
            for key in candidates:
                kind, name, cache = key
                if cache != "no":
                    (_warm if cache == "warm" else _evict)(files[name])
                measured = _run(kind, files[name], width, chunk_bytes, n_rows)
                best[key]["seconds"] = min(best[key]["seconds"], measured["seconds"])
                best[key]["peak"] = max(best[key]["peak"], measured["peak"])
        rows = []
        for key in candidates:
            kind, name, cache = key
            seconds, peak = best[key]["seconds"], best[key]["peak"] / 2**20
            reading = (f"read {name}", name, "warm" if cache == "no" else cache)
            ratio = seconds / best[reading]["seconds"] if reading in best else np.nan
            verdict = ""
            if kind.startswith("fit"):
                verdict = "ok" if ratio <= TIME_LIMIT and peak < MEMORY_LIMIT_MB else "MISSED"
            label = kind + (" (GCV)" if kind.startswith("fit") else "")
            label += " (in memory, vs warm read npy)" if cache == "no" else f", {cache} cache"
            shown = [label, seconds, f"{ratio:.2f}x", f"{peak:.0f}"]
            rows.append([*shown, verdict])
        print_table(
            f"out-of-core fit of {args.size_gb:g} GiB files (best of {args.repeat}, "
            f"targets: time <= {TIME_LIMIT}x read, peak RSS < {MEMORY_LIMIT_MB} MB)",
            ["candidate", "seconds", "vs read", "peak RSS (MiB)", "target"],
            rows,
        )
        print(f"load average: {os.getloadavg()[0]:.2f} (1 min), cores: {os.cpu_count()}")
    finally:
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return 0
