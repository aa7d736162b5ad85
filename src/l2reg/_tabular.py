"""Reading tables for the command line: CSV (pandas' parser) and Parquet (pyarrow).

Large CSV files are read in chunks behind a progress bar.  Every problem is a
:class:`DataError` with a one-line message.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "read_table", "builtin_frame", "BUILTIN_TARGET"]

BUILTIN_TARGET = "disease_progression"
# Files above this size are read in chunks with a progress bar.
PROGRESS_ABOVE_BYTES = 50 * 2**20
CHUNK_ROWS = 200_000


class DataError(ValueError):
    """The input data cannot be used (missing file, unreadable, wrong columns...)."""


def _pandas():
    try:
        import pandas
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError("reading tables needs pandas: pip install 'l2reg[cli]'") from None
    return pandas


def _read_csv_with_progress(pandas, path: Path):
    from tqdm import tqdm

    size = path.stat().st_size
    chunks = []
    with (
        path.open("rb") as handle,
        tqdm(
            total=size, unit="B", unit_scale=True, desc=f"reading {path.name}", disable=None
        ) as bar,
    ):
        reader = pandas.read_csv(handle, chunksize=CHUNK_ROWS)
        for chunk in reader:
            chunks.append(chunk)
            bar.update(handle.tell() - bar.n)
    return pandas.concat(chunks, ignore_index=True)


def read_table(path) -> object:
    """A pandas DataFrame from a CSV (header row) or Parquet file."""
    pandas = _pandas()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            try:
                return pandas.read_parquet(path)
            except ImportError:
                raise DataError("reading Parquet needs pyarrow: pip install pyarrow") from None
        if path.stat().st_size > PROGRESS_ABOVE_BYTES:
            frame = _read_csv_with_progress(pandas, path)
        else:
            frame = pandas.read_csv(path)
    except pandas.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pandas.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise DataError(f"cannot read {path}: {first_line}") from None
    if frame.shape[0] == 0:
        raise DataError(f"{path} has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def builtin_frame():
    """scikit-learn's diabetes data as a frame (442 patients, 10 features), no download."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    frame = data.data.copy()
    frame[BUILTIN_TARGET] = data.target
    return frame
