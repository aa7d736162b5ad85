"""Reading tables for the command line: CSV (pandas' parser) and Parquet (pyarrow).

Large CSV files are read in chunks behind a progress bar.  Every problem is a
:class:`DataError` with a one-line message: a missing or empty file, ragged rows,
an encoding that is not UTF-8, and duplicated column names (pandas would rename a
second ``a`` to ``a.1`` and fit it as another feature; the user meant one column,
or made a mistake, and is told which).
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


def _duplicated(names) -> list[str]:
    """Names that occur more than once, in order of first occurrence."""
    seen, duplicated = set(), []
    for name in names:
        if name in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name)
    return duplicated


def _refuse_duplicates(path: Path, names) -> None:
    duplicated = _duplicated(names)
    if duplicated:
        counts = ", ".join(f"{n!r} ({list(names).count(n)} times)" for n in duplicated)
        raise DataError(
            f"{path} has duplicated column name(s) {counts}; rename or remove the extra "
            "columns so that each name appears once"
        )


def _csv_header(pandas, path: Path) -> list[str]:
    """The header row as written (``read_csv`` renames a repeated ``a`` to ``a.1``)."""
    row = pandas.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(name).strip() for name in row.iloc[0]] if len(row) else []


def read_table(path) -> object:
    """A pandas DataFrame from a CSV (header row) or Parquet file."""
    pandas = _pandas()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            try:
                import pyarrow.parquet

                # pyarrow's own error for a repeated name is "Multiple matches for FieldRef".
                names = pyarrow.parquet.read_schema(path).names
                _refuse_duplicates(path, [str(name).strip() for name in names])
                frame = pandas.read_parquet(path)
            except ImportError:
                raise DataError("reading Parquet needs pyarrow: pip install pyarrow") from None
        else:
            # Empty names become "Unnamed: i" in the frame: never duplicates.
            _refuse_duplicates(path, [name for name in _csv_header(pandas, path) if name])
            if path.stat().st_size > PROGRESS_ABOVE_BYTES:
                frame = _read_csv_with_progress(pandas, path)
            else:
                frame = pandas.read_csv(path)
    except DataError:
        raise
    except pandas.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except (pandas.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise DataError(f"cannot read {path}: {first_line}") from None
    if frame.shape[0] == 0:
        raise DataError(f"{path} has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    _refuse_duplicates(path, list(frame.columns))  # Parquet; or equal once stripped
    return frame


def builtin_frame():
    """scikit-learn's diabetes data as a frame (442 patients, 10 features), no download."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True)
    frame = data.data.copy()
    frame[BUILTIN_TARGET] = data.target
    return frame
