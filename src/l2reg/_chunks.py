"""Reading data files in bounded row chunks: Parquet, CSV, ``.npy`` and arrays.

Every source yields the chosen columns as float64 blocks of at most
``chunk_rows`` rows, written into **one reused buffer** (a fresh array per
chunk would pay the first touch of new memory on every chunk, about 2 s per GB
on these machines, DESIGN.md §5).  A block is valid only until the next one is
requested.  Memory is therefore bounded by the chunk, whatever the file's
length:

* Parquet (pyarrow): one row group at a time, in record batches of at most
  ``chunk_rows`` rows (``ParquetFile.iter_batches``), each column copied into
  its contiguous column of a Fortran-ordered block;
* CSV (pyarrow's streaming reader ``pyarrow.csv.open_csv``): batches of at most
  ``block_size`` bytes of text, cut into pieces of at most ``chunk_rows`` rows;
* ``.npy`` files: the header is parsed, then row blocks are read with plain
  file reads (``readinto``), never through a memory map, because the pages of
  a map count towards the process's resident memory for as long as it is
  mapped; a Fortran-ordered file is read column segment by column segment;
* arrays (``np.memmap`` included): row blocks copied into the buffer.  A
  memmap opened on a whole file (``np.load(path, mmap_mode="r")``) is read
  through its file, like an ``.npy`` path.

Every failure is a :class:`DataFileError` naming the file and the rows or the
row group that could not be read.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l2reg.exceptions import DataFileError

__all__ = [
    "open_source",
    "prefetched",
    "ColumnLayout",
    "chunk_rows_for",
    "DEFAULT_CHUNK_BYTES",
]

#: Bytes of a reader's buffers: the two float64 blocks it alternates (see
#: :class:`_Buffer`), plus an ``.npy`` file's raw rows when they need converting.
#: Large enough for BLAS-3 speed and few Python round trips (a 100-column block
#: holds 20,000 rows), small enough that the buffers, Arrow's record batch and
#: the Gram pass stay far below the 400 MB the out-of-core benchmark allows.
DEFAULT_CHUNK_BYTES = 32 * 2**20
#: Bytes of CSV text per streaming batch of pyarrow's reader.
CSV_BLOCK_BYTES = 16 * 2**20
_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")


def chunk_rows_for(row_bytes: int, chunk_rows: int | None, chunk_bytes: int) -> int:
    """Rows per chunk: ``chunk_rows``, capped so that ``row_bytes`` per row fit ``chunk_bytes``."""
    by_bytes = max(1, chunk_bytes // max(1, row_bytes))
    return by_bytes if chunk_rows is None else max(1, min(int(chunk_rows), by_bytes))


@dataclass(frozen=True)
class ColumnLayout:
    """Which columns of a source are read, and where each role sits in the block.

    ``read`` lists the source's columns in block order (file order, each once);
    ``features``, ``targets`` and ``weight`` are positions in the block.
    """

    read: tuple
    features: tuple[int, ...]
    targets: tuple[int, ...]
    weight: int | None
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, str | int | np.integer):
        return [value]
    return list(value)


def resolve_columns(source, target, features, weight) -> ColumnLayout:
    """Check the requested columns against the source; lay out the block."""
    names = list(source.column_names)
    targets = _as_list(target)
    if not targets:
        raise DataFileError(f"{source.name}: give the target column(s) with target=...")
    weights = _as_list(weight) or []
    if len(weights) > 1:
        raise DataFileError(f"{source.name}: weight must be one column; got {weight!r}.")

    def position(column, role):
        key = source.column_key(column)
        if key is None:
            shown = ", ".join(map(repr, names[:20])) + (" ..." if len(names) > 20 else "")
            raise DataFileError(
                f"{source.name}: {role} column {column!r} not found; columns are: {shown}"
            )
        return key

    target_keys = [position(c, "target") for c in targets]
    weight_keys = [position(c, "weight") for c in weights]
    if features is None:
        taken = set(target_keys) | set(weight_keys)
        feature_keys = [k for k in range(len(names)) if k not in taken]
    else:
        feature_keys = [position(c, "feature") for c in _as_list(features)]
    roles = feature_keys + target_keys + weight_keys
    if len(set(roles)) != len(roles):
        raise DataFileError(
            f"{source.name}: a column is used twice among features, target and weight; "
            f"got features={features!r}, target={target!r}, weight={weight!r}."
        )
    if not feature_keys:
        raise DataFileError(f"{source.name}: no feature columns left besides the target.")
    source.check_numeric(roles)
    read = sorted(roles)
    where = {key: index for index, key in enumerate(read)}
    return ColumnLayout(
        read=tuple(read),
        features=tuple(where[k] for k in feature_keys),
        targets=tuple(where[k] for k in target_keys),
        weight=where[weight_keys[0]] if weight_keys else None,
        feature_names=tuple(str(names[k]) for k in feature_keys),
        target_names=tuple(str(names[k]) for k in target_keys),
    )


class _Buffer:
    """Two flat float64 buffers, used in turn, each viewed as an (n, q) block.

    Two, so that a reader thread can fill the next block while the caller
    still works on the current one (:func:`prefetched`); a block stays valid
    until the block after the next is requested.  Viewing a prefix of the
    flat memory (rather than slicing rows of a 2-D buffer) keeps a short last
    chunk contiguous, as the BLAS Gram pass wants.
    """

    def __init__(self, rows: int, width: int):
        self.rows, self.width = rows, width
        self.flats = [np.empty(rows * width), np.empty(rows * width)]
        self.turn = 0

    def block(self, n: int, order: str) -> np.ndarray:
        self.turn ^= 1
        part = self.flats[self.turn][: n * self.width]
        return part.reshape(n, self.width) if order == "C" else part.reshape(self.width, n).T


def prefetched(chunks):
    """Yield the items of the ``chunks`` generator, reading the next one in a thread meanwhile.

    File reads, Arrow decoding and the BLAS Gram pass all release the GIL, so
    reading chunk ``i + 1`` overlaps the statistics of chunk ``i`` (the
    readers' :class:`_Buffer` alternates two blocks, so the one being read
    is never the one in use).  Exceptions surface in the caller's thread.
    """
    from concurrent.futures import ThreadPoolExecutor

    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="l2reg-read") as pool:
        pending = pool.submit(next, chunks, done)
        try:
            while True:
                item = pending.result()
                if item is done:
                    return
                pending = pool.submit(next, chunks, done)
                yield item
        finally:
            pending.cancel()
            # A generator cannot be closed while the reader thread runs it.
            if not pending.cancelled():
                pending.exception()
            chunks.close()


class _Source:
    """A data source: its name for messages, its columns and its row chunks."""

    name: str
    column_names: list
    n_rows: int | None = None

    def column_key(self, column):
        """The position of ``column`` among :attr:`column_names`, or None."""
        try:
            return self.column_names.index(column)
        except ValueError:
            return None

    def check_numeric(self, keys) -> None:
        """Raise naming the first non-numeric column among ``keys``."""

    def bytes_per_row(self, layout) -> int:
        """Bytes the reader holds per row of a chunk: the two float64 blocks."""
        return 2 * 8 * len(layout.read)


# ----------------------------------------------------------------- arrays and .npy


def _check_array_dtype(name, dtype):
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_) or np.issubdtype(
        dtype, np.complexfloating
    ):
        raise DataFileError(
            f"{name}: the array's dtype is {dtype}; out-of-core fitting reads real numeric "
            "arrays only (float, integer or bool)."
        )


class _IndexedColumns(_Source):
    """Columns addressed by integer position (negative positions count from the end)."""

    def column_key(self, column):
        if isinstance(column, bool) or not isinstance(column, int | np.integer):
            return None
        width = len(self.column_names)
        key = int(column) + width if column < 0 else int(column)
        return key if 0 <= key < width else None


class _ArraySource(_IndexedColumns):
    """A 2-D array in memory (or a memmap that is not a whole file), read in row blocks."""

    def __init__(self, array, name="array"):
        if array.ndim != 2:
            raise DataFileError(f"{name}: expected a 2-D array; got shape {array.shape}.")
        _check_array_dtype(name, array.dtype)
        self.array, self.name = array, name
        self.column_names = list(range(array.shape[1]))
        self.n_rows = array.shape[0]

    def chunks(self, layout, rows):
        read = np.asarray(layout.read)
        buffer = _Buffer(rows, len(read))
        every = read.size == self.array.shape[1]
        for start in range(0, self.n_rows, rows):
            stop = min(start + rows, self.n_rows)
            block = buffer.block(stop - start, "C")
            part = self.array[start:stop]
            np.copyto(block, part if every else part[:, read], casting="unsafe")
            yield block, start, f"rows {start} to {stop - 1}"


class _NpySource(_IndexedColumns):
    """An ``.npy`` file read with plain file reads: no memory map, no whole-file array."""

    def __init__(self, path: Path, name=None):
        self.path, self.name = path, name or str(path)
        try:
            with path.open("rb") as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(handle)
                else:
                    header = np.lib.format.read_array_header_2_0(handle)
                self.offset = handle.tell()
        # NumPy parses the header dict with ``ast``/``tokenize``, so a malformed
        # one raises SyntaxError or tokenize.TokenError as well as ValueError.
        except Exception as error:  # noqa: BLE001 - every header failure is the file's
            detail = _first_line(error)
            raise DataFileError(f"{self.name}: not a readable .npy file: {detail}") from None
        shape, self.fortran, self.dtype = header
        if len(shape) != 2:
            raise DataFileError(f"{self.name}: expected a 2-D array; the header says {shape}.")
        _check_array_dtype(self.name, self.dtype)
        self.n_rows, width = shape
        self.column_names = list(range(width))
        expected = self.offset + self.n_rows * width * self.dtype.itemsize
        actual = path.stat().st_size
        if actual < expected:
            row_bytes = max(1, width * self.dtype.itemsize)
            whole = max(0, (actual - self.offset) // row_bytes)
            detail = f"rows {whole} to {self.n_rows - 1} are missing" if not self.fortran else ""
            raise DataFileError(
                f"{self.name}: truncated .npy file: the header promises {self.n_rows} x {width} "
                f"{self.dtype} ({expected} bytes), the file has {actual} bytes"
                + (f"; {detail}" if detail else "")
            )

    def _direct(self, layout) -> bool:
        """Whether file rows land in the block as they are (float64, every column)."""
        return (
            self.dtype == np.float64
            and self.dtype.isnative
            and len(layout.read) == len(self.column_names)
        )

    def bytes_per_row(self, layout):
        # Plus the raw rows of the file (all columns) before conversion or selection.
        raw = 0 if self._direct(layout) or self.fortran else len(self.column_names)
        return super().bytes_per_row(layout) + raw * self.dtype.itemsize

    def chunks(self, layout, rows):
        width = len(self.column_names)
        read = np.asarray(layout.read)
        itemsize = self.dtype.itemsize
        buffer = _Buffer(rows, len(read))
        # Raw file bytes land here before conversion and column selection
        # (skipped when the file already holds exactly the float64 block).
        direct = self._direct(layout)
        raw = None
        if not direct:
            raw_width = width if not self.fortran else 1
            raw = np.empty(rows * raw_width, dtype=self.dtype)
        with self.path.open("rb", buffering=0) as handle:
            for start in range(0, self.n_rows, rows):
                stop = min(start + rows, self.n_rows)
                n = stop - start
                where = f"rows {start} to {stop - 1}"
                if self.fortran:
                    block = buffer.block(n, "F")
                    for index, column in enumerate(read):
                        target = block[:, index] if direct else raw[:n]
                        offset = self.offset + (int(column) * self.n_rows + start) * itemsize
                        self._read_into(handle, offset, target, where)
                        if not direct:
                            block[:, index] = target
                else:
                    block = buffer.block(n, "C")
                    target = block if direct else raw[: n * width].reshape(n, width)
                    self._read_into(handle, self.offset + start * width * itemsize, target, where)
                    if not direct:
                        np.copyto(
                            block,
                            target if read.size == width else target[:, read],
                            casting="unsafe",
                        )
                yield block, start, where

    def _read_into(self, handle, offset, target, where):
        view = memoryview(target.reshape(-1).view(np.uint8))
        handle.seek(offset)
        done = 0
        try:
            while done < len(view):
                count = handle.readinto(view[done:])
                if not count:
                    break
                done += count
        except OSError as error:
            raise DataFileError(f"{self.name}: cannot read {where}: {error}") from None
        if done < len(view):
            raise DataFileError(
                f"{self.name}: truncated while reading {where}: got {done} of {len(view)} bytes"
            )


def _whole_file_memmap(array) -> bool:
    """Whether ``array`` is an ``np.memmap`` over a whole ``.npy``/raw file, in order.

    Only then are its ``filename`` and ``offset`` its own data's (a slice of a
    memmap keeps its parent's).  A shared map's writes are in the page cache,
    so plain reads of the file see them.
    """
    return (
        isinstance(array, np.memmap)
        and isinstance(array.base, mmap.mmap)
        and array.filename is not None
        and array.ndim == 2
        and (array.flags.c_contiguous or array.flags.f_contiguous)
        and os.path.isfile(array.filename)
        # A copy-on-write map's changes are private to it: the file does not have them.
        and getattr(array, "mode", None) != "c"
    )


class _MemmapSource(_NpySource):
    """A whole-file memmap, read through its file like an ``.npy`` path."""

    def __init__(self, array):
        self.path, self.name = Path(array.filename), str(array.filename)
        self.offset, self.dtype = array.offset, array.dtype
        _check_array_dtype(self.name, self.dtype)
        self.fortran = not array.flags.c_contiguous
        self.n_rows = array.shape[0]
        self.column_names = list(range(array.shape[1]))


# ----------------------------------------------------------------- Parquet and CSV


def _pyarrow(what):
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataFileError(f"reading {what} needs pyarrow: pip install 'l2reg[parquet]'") from None
    return pyarrow


def _arrow_numeric(pa, arrow_type) -> bool:
    return (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_null(arrow_type)
    )


def _first_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _fill_columns(block, columns, offset=0):
    """Copy Arrow columns into the Fortran-ordered block (nulls become NaN)."""
    for index, column in enumerate(columns):
        values = column.to_numpy(zero_copy_only=False)
        block[:, index] = values[offset : offset + block.shape[0]]


class _TableSource(_Source):
    def _refuse_non_numeric(self, pa, keys, types):
        for key in keys:
            if not _arrow_numeric(pa, types[key]):
                raise DataFileError(
                    f"{self.name}: column {self.column_names[key]!r} is not numeric "
                    f"({types[key]}); out-of-core fitting reads numeric columns only "
                    "(encode categories beforehand, or fit in memory: RidgeCV.fit, "
                    "l2reg fit --no-stream)"
                )


class _ParquetSource(_TableSource):
    def __init__(self, path: Path):
        pa = _pyarrow("Parquet")
        import pyarrow.parquet as pq

        self.path, self.name = path, str(path)
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise DataFileError(
                f"{self.name}: not a readable Parquet file (truncated or corrupt footer?): "
                f"{_first_line(error)}"
            ) from None
        schema = self.file.schema_arrow
        self.column_names = [str(name).strip() for name in schema.names]
        self._types = [field.type for field in schema]
        self.n_rows = self.file.metadata.num_rows

    def check_numeric(self, keys):
        self._refuse_non_numeric(_pyarrow("Parquet"), keys, self._types)

    def chunks(self, layout, rows):
        pa = _pyarrow("Parquet")
        names = [self.file.schema_arrow.names[k] for k in layout.read]
        buffer = _Buffer(rows, len(names))
        start = 0
        for group in range(self.file.num_row_groups):
            group_rows = self.file.metadata.row_group(group).num_rows
            group_where = f"row group {group} (rows {start} to {start + group_rows - 1})"
            batches = self.file.iter_batches(
                batch_size=rows, row_groups=[group], columns=names, use_pandas_metadata=False
            )
            while True:
                try:
                    batch = next(batches, None)
                    if batch is None:
                        break
                    block = buffer.block(batch.num_rows, "F")
                    _fill_columns(block, batch.columns)
                except (pa.ArrowException, OSError) as error:
                    raise DataFileError(
                        f"{self.name}: cannot read {group_where}: {_first_line(error)}"
                    ) from None
                yield block, start, f"{group_where}, rows {start} to {start + len(block) - 1}"
                start += batch.num_rows


class _CsvSource(_TableSource):
    def __init__(self, path: Path, block_bytes: int | None = None):
        pa = _pyarrow("CSV files")
        import pyarrow.csv as pcsv

        self.path, self.name = path, str(path)
        self.block_bytes = CSV_BLOCK_BYTES if block_bytes is None else block_bytes
        self._csv = pcsv
        try:
            reader = self._open(pcsv.ConvertOptions())
            self._types = list(reader.schema.types)
            self.column_names = [str(name).strip() for name in reader.schema.names]
            self._raw_names = list(reader.schema.names)
            reader.close()
        except (pa.ArrowException, OSError) as error:
            raise DataFileError(
                f"{self.name}: cannot read the CSV header: {_first_line(error)}"
            ) from None
        self.n_rows = None

    def _open(self, convert):
        return self._csv.open_csv(
            self.path,
            read_options=self._csv.ReadOptions(block_size=self.block_bytes),
            convert_options=convert,
        )

    def _located(self, convert, error) -> str:
        """pyarrow's message for ``error``, with its row number.

        The threaded reader does not know row numbers; on failure the file is
        read again with one thread up to the error, whose message then says
        ``Row #r`` (counting the header as row 1).
        """
        pa = _pyarrow("CSV files")
        try:
            reader = self._csv.open_csv(
                self.path,
                read_options=self._csv.ReadOptions(block_size=self.block_bytes, use_threads=False),
                convert_options=convert,
            )
            for _ in reader:
                pass
        except (pa.ArrowException, OSError) as located:
            return _first_line(located)
        return _first_line(error)

    def check_numeric(self, keys):
        # The types pyarrow inferred from the first block: a text column there is
        # text; a later non-number in a numeric column is a conversion error
        # that names its row.
        self._refuse_non_numeric(_pyarrow("CSV files"), keys, self._types)

    def chunks(self, layout, rows):
        pa = _pyarrow("CSV files")
        names = [self._raw_names[k] for k in layout.read]
        convert = self._csv.ConvertOptions(
            include_columns=names, column_types=dict.fromkeys(names, pa.float64())
        )
        buffer = _Buffer(rows, len(names))
        start = 0
        try:
            reader = self._open(convert)
        except (pa.ArrowException, OSError) as error:
            raise DataFileError(
                f"{self.name}: cannot read rows from 0: {_first_line(error)}"
            ) from None
        with reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowException, OSError) as error:
                    raise DataFileError(
                        f"{self.name}: cannot read the rows after data row {start - 1} "
                        f"(0-based, header not counted): {self._located(convert, error)}"
                    ) from None
                columns = [column.to_numpy(zero_copy_only=False) for column in batch.columns]
                for offset in range(0, batch.num_rows, rows):
                    n = min(rows, batch.num_rows - offset)
                    block = buffer.block(n, "F")
                    for index, values in enumerate(columns):
                        block[:, index] = values[offset : offset + n]
                    yield block, start, f"rows {start} to {start + n - 1}"
                    start += n


def open_source(item, name=None) -> _Source:
    """The reader of one path (``.parquet``/``.pq``, ``.csv``, ``.npy``) or 2-D array."""
    if isinstance(item, np.ndarray):
        return _MemmapSource(item) if _whole_file_memmap(item) else _ArraySource(item)
    path = Path(item)
    if not path.is_file():
        raise DataFileError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return _ParquetSource(path)
    if suffix == ".npy":
        return _NpySource(path)
    if suffix in _CSV_SUFFIXES:
        return _CsvSource(path)
    raise DataFileError(
        f"{path}: unknown file type {suffix!r}; out-of-core fitting reads .parquet/.pq, "
        ".csv and .npy files (and 2-D arrays such as np.memmap)"
    )
