"""Out-of-core fitting from files (l2reg.fit_files and its chunk readers).

Every file-based result is compared with the same computation on the rows in
memory (the in-memory estimators are the independent reference: they never
chunk); memory boundedness is checked structurally, by spying on what the
readers request and hand over, never by timing.
"""

import re

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pcsv = pytest.importorskip("pyarrow.csv")

from l2reg import DataFileError, _chunks, _files  # noqa: E402
from l2reg._files import accumulate_files  # noqa: E402
from l2reg.objective.gram import gram_stats  # noqa: E402

# Relative agreement of statistics merged chunk by chunk with those of one pass:
# both are float64 sums over the same rows in a different order (a few ulps
# times the log of the number of chunks).
STATS_RTOL = 1e-12
# The exactness requirement for fitted models on well-conditioned data.
FIT_RTOL = 1e-10

N_ROWS, N_FEATURES = 2_347, 5
NAMES = [f"x{j}" for j in range(N_FEATURES)]


@pytest.fixture
def data(rng):
    """Columns x0..x4 (one with a large offset), y and a weight column w."""
    X = rng.normal(size=(N_ROWS, N_FEATURES)) + np.array([1e3, 0, -2, 0, 5])
    y = X @ rng.normal(size=N_FEATURES) + rng.normal(size=N_ROWS)
    w = rng.uniform(0.2, 3.0, size=N_ROWS)
    return X, y, w


def _table(X, y, w):
    columns = {name: X[:, j] for j, name in enumerate(NAMES)}
    return pa.table({**columns, "y": y, "w": w})


def write(kind, directory, X, y, w, name="data"):
    """The rows as a file of the given kind; returns (path, target, weight) keys."""
    if kind in ("npy", "npy-fortran", "npy-float32"):
        block = np.column_stack([X, y, w])
        if kind == "npy-fortran":
            block = np.asfortranarray(block)
        if kind == "npy-float32":
            block = block.astype(np.float32)
        path = directory / f"{name}.npy"
        np.save(path, block)
        return path, N_FEATURES, N_FEATURES + 1
    if kind == "parquet":
        path = directory / f"{name}.parquet"
        pq.write_table(_table(X, y, w), path, row_group_size=500)
        return path, "y", "w"
    path = directory / f"{name}.csv"
    pcsv.write_csv(_table(X, y, w), path)
    return path, "y", "w"


KINDS = ["npy", "npy-fortran", "npy-float32", "parquet", "csv"]


@pytest.fixture(autouse=True)
def small_csv_blocks(monkeypatch):
    """CSV batches of 4 KiB, so small test files still come in many batches."""
    monkeypatch.setattr(_chunks, "CSV_BLOCK_BYTES", 4096)


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


def _as_read(kind, X, y, w):
    """The values as the file stores them (float32 files round them)."""
    if kind != "npy-float32":
        return X, y, w
    return tuple(np.asarray(v, dtype=np.float32).astype(np.float64) for v in (X, y, w))


@pytest.mark.parametrize("kind", KINDS)
def test_statistics_equal_one_pass_in_memory(kind, data, tmp_path):
    path, target, weight = write(kind, tmp_path, *data)
    X, y, w = _as_read(kind, *data)
    got = accumulate_files(path, target=target, weight=weight, chunk_rows=300, progress=False)
    expected = gram_stats(X, y[:, None], w)
    assert got.n_rows == N_ROWS
    assert got.stats.weight_sum == pytest.approx(expected.weight_sum, rel=STATS_RTOL)
    for field in ("x_mean", "y_mean", "xx", "xy", "yy"):
        assert _rel(getattr(got.stats, field), getattr(expected, field)) < STATS_RTOL, field


@pytest.mark.parametrize("kind", ["npy", "parquet", "csv"])
def test_features_subset_and_order(kind, data, tmp_path):
    """Chosen features come out in the order asked for, whatever their file order."""
    path, target, weight = write(kind, tmp_path, *data)
    X, y, w = data
    order = [3, 0, 2]
    features = order if kind == "npy" else [NAMES[j] for j in order]
    got = accumulate_files(path, target=target, features=features, chunk_rows=400, progress=False)
    expected = gram_stats(X[:, order], y[:, None])
    assert _rel(got.stats.xx, expected.xx) < STATS_RTOL
    assert _rel(got.stats.xy, expected.xy) < STATS_RTOL
    assert got.stats.weight_sum == N_ROWS


def test_memmap_and_arrays(data, tmp_path):
    """A whole-file memmap is read through its file; a slice of one, and a plain
    array, as arrays; all give the statistics of their rows."""
    path, target, weight = write("npy", tmp_path, *data)
    X, y, w = data
    whole = np.load(path, mmap_mode="r")
    assert isinstance(_chunks.open_source(whole), _chunks._NpySource)
    sliced = whole[100:]
    assert isinstance(_chunks.open_source(sliced), _chunks._ArraySource)
    # A copy-on-write map may differ from its file: it is read as an array.
    private = np.load(path, mmap_mode="c")
    private[0, 0] = 123.0
    assert isinstance(_chunks.open_source(private), _chunks._ArraySource)
    for source, rows in [
        (whole, slice(None)),
        (sliced, slice(100, None)),
        (np.array(whole), slice(None)),
    ]:
        got = accumulate_files(source, target=target, weight=weight, chunk_rows=333, progress=False)
        expected = gram_stats(X[rows], y[rows, None], w[rows])
        assert _rel(got.stats.xx, expected.xx) < STATS_RTOL


def test_several_files_are_one_data_set(data, tmp_path):
    X, y, w = data
    first, target, weight = write("parquet", tmp_path, X[:1000], y[:1000], w[:1000], "a")
    second, _, _ = write("parquet", tmp_path, X[1000:], y[1000:], w[1000:], "b")
    got = accumulate_files([first, second], target=target, weight=weight, progress=False)
    expected = gram_stats(X, y[:, None], w)
    assert got.n_rows == N_ROWS
    assert _rel(got.stats.xx, expected.xx) < STATS_RTOL


def test_files_with_columns_in_another_order_are_refused(data, tmp_path):
    X, y, w = data
    first, _, _ = write("parquet", tmp_path, X, y, w, "a")
    second = tmp_path / "b.parquet"
    pq.write_table(_table(X[:, ::-1], y, w).rename_columns(NAMES[::-1] + ["y", "w"]), second)
    with pytest.raises(DataFileError, match=r"b\.parquet: its columns .* differ from"):
        accumulate_files([first, second], target="y", features=NAMES, progress=False)


# ------------------------------------------------------------------ bounded memory


@pytest.mark.parametrize("kind", KINDS)
def test_no_chunk_exceeds_chunk_rows(kind, data, tmp_path, monkeypatch):
    """Spy on the statistics pass: every block it receives has at most chunk_rows rows."""
    path, target, weight = write(kind, tmp_path, *data)
    seen = []
    real = _files.GramStats.from_chunk

    def spy(X, *args, **kwargs):
        seen.append(X.shape)
        return real(X, *args, **kwargs)

    monkeypatch.setattr(_files.GramStats, "from_chunk", spy)
    accumulate_files(path, target=target, weight=weight, chunk_rows=256, progress=False)
    assert sum(shape[0] for shape in seen) == N_ROWS
    assert max(shape[0] for shape in seen) <= 256
    assert len(seen) >= N_ROWS // 256


def test_chunk_bytes_bounds_the_block(data, tmp_path, monkeypatch):
    path, target, weight = write("npy", tmp_path, *data)
    seen = []
    real = _files.GramStats.from_chunk
    monkeypatch.setattr(
        _files.GramStats, "from_chunk", lambda X, *a, **k: seen.append(X.nbytes) or real(X, *a, **k)
    )
    accumulate_files(path, target=target, chunk_bytes=8 * 1024, progress=False)
    assert max(seen) <= 8 * 1024


def test_parquet_reader_requests_bounded_batches(data, tmp_path, monkeypatch):
    """pyarrow is asked for one row group at a time, in batches of <= chunk_rows rows."""
    path, target, weight = write("parquet", tmp_path, *data)
    requests = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        requests.append((kwargs.get("batch_size"), kwargs.get("row_groups")))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    accumulate_files(path, target=target, chunk_rows=128, progress=False)
    assert requests and all(size <= 128 and len(groups) == 1 for size, groups in requests)


def test_npy_reader_reads_bounded_blocks(data, tmp_path, monkeypatch):
    """The .npy reader never asks the file for more than one chunk's bytes."""
    path, target, weight = write("npy", tmp_path, *data)
    sizes = []
    real = _chunks._NpySource._read_into

    def spy(self, handle, offset, target_array, where):
        sizes.append(target_array.nbytes)
        return real(self, handle, offset, target_array, where)

    monkeypatch.setattr(_chunks._NpySource, "_read_into", spy)
    accumulate_files(path, target=target, chunk_rows=100, progress=False)
    assert max(sizes) <= 100 * (N_FEATURES + 2) * 8


# ------------------------------------------------------------------ bad input


def test_truncated_parquet_names_the_file(data, tmp_path):
    path, target, _ = write("parquet", tmp_path, *data)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataFileError, match=r"data\.parquet.*(truncated|corrupt)"):
        accumulate_files(path, target=target, progress=False)


def test_corrupt_row_group_names_it_and_keeps_earlier_statistics(data, tmp_path):
    X, y, w = data
    path = tmp_path / "data.parquet"
    pq.write_table(_table(X, y, w), path, row_group_size=500, compression="snappy")
    column = pq.ParquetFile(path).metadata.row_group(2).column(0)
    content = bytearray(path.read_bytes())
    start = column.data_page_offset
    content[start : start + 64] = b"\xff" * 64  # destroy the first page header
    path.write_bytes(bytes(content))
    with pytest.raises(DataFileError, match=r"data\.parquet: cannot read row group 2") as info:
        accumulate_files(path, target="y", weight="w", chunk_rows=250, progress=False)
    error = info.value
    assert error.rows_read == 1000
    expected = gram_stats(X[:1000], y[:1000, None], w[:1000])
    assert _rel(error.statistics.xx, expected.xx) < STATS_RTOL


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("1,2", r"bad\.csv: cannot read.*Row #2501: Expected 3 columns, got 2"),  # ragged
        ("7,seven,1", r"bad\.csv: cannot read.*Row #2501.*invalid value 'seven'"),  # text
    ],
)
def test_csv_bad_row_is_named(tmp_path, bad_line, message):
    """A ragged row, or text in a numeric column after the first block: pyarrow's
    row number (the header is row 1), found again by a single-threaded read."""
    path = tmp_path / "bad.csv"
    rows = ["a,b,y"] + [f"{i},{2 * i},{i % 7}" for i in range(3000)]
    rows[2500] = bad_line
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataFileError, match=message):
        accumulate_files(path, target="y", progress=False)


def test_csv_text_column_is_refused_by_name(tmp_path):
    path = tmp_path / "colors.csv"
    path.write_text("a,color,y\n1,red,2\n2,blue,3\n3,red,5\n")
    with pytest.raises(DataFileError, match=r"colors\.csv: column 'color' is not numeric"):
        accumulate_files(path, target="y", progress=False)


def test_npy_with_a_wrong_header(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + b"\x10\x00" + b"{'descr': 'nonsense'}\n")
    with pytest.raises(DataFileError, match=r"bad\.npy: not a readable \.npy file"):
        accumulate_files(path, target=0, progress=False)
    path.write_bytes(b"not an npy file at all")
    with pytest.raises(DataFileError, match=r"bad\.npy: not a readable \.npy file"):
        accumulate_files(path, target=0, progress=False)


def test_truncated_npy_names_the_missing_rows(tmp_path, data):
    path, target, _ = write("npy", tmp_path, *data)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 10 * 7 * 8 - 3])
    with pytest.raises(DataFileError, match=r"data\.npy: truncated .*rows 2336 to 2346"):
        accumulate_files(path, target=target, progress=False)


@pytest.mark.parametrize("kind", ["npy", "parquet", "csv"])
def test_nan_names_file_and_rows_and_keeps_earlier_statistics(kind, data, tmp_path):
    X, y, w = (v.copy() for v in data)
    X[1234, 2] = np.nan
    path, target, weight = write(kind, tmp_path, X, y, w)
    with pytest.raises(DataFileError) as info:
        accumulate_files(path, target=target, weight=weight, chunk_rows=200, progress=False)
    message = str(info.value)
    column = "2" if kind == "npy" else "'x2'"
    assert path.name in message and f"row 1234, column {column}" in message
    first, last = map(int, re.search(r"rows (\d+) to (\d+):", message).groups())
    assert first <= 1234 <= last and last - first < 200
    # The statistics of the rows before the failing chunk, untouched by it.
    assert info.value.rows_read == first
    expected = gram_stats(X[:first], y[:first, None], w[:first])
    assert _rel(info.value.statistics.xx, expected.xx) < STATS_RTOL


def test_negative_weight_names_the_row(data, tmp_path):
    X, y, w = (v.copy() for v in data)
    w[777] = -1.0
    path, target, weight = write("parquet", tmp_path, X, y, w)
    with pytest.raises(DataFileError, match=r"row 777 has weight -1\.0"):
        accumulate_files(path, target=target, weight=weight, progress=False)


def test_missing_column_lists_the_columns(data, tmp_path):
    path, _, _ = write("parquet", tmp_path, *data)
    with pytest.raises(DataFileError, match=r"target column 'price' not found; columns are: 'x0'"):
        accumulate_files(path, target="price", progress=False)
    with pytest.raises(DataFileError, match=r"used twice"):
        accumulate_files(path, target="y", features=["x0", "y"], progress=False)


def test_unknown_file_type_and_missing_file(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"")
    with pytest.raises(DataFileError, match=r"unknown file type '\.xlsx'"):
        accumulate_files(path, target="y", progress=False)
    with pytest.raises(DataFileError, match=r"no such file"):
        accumulate_files(tmp_path / "absent.csv", target="y", progress=False)


def test_progress_bar_is_optional(data, tmp_path, monkeypatch):
    """Without tqdm the fit runs without a bar (tqdm is in the cli extra only)."""
    import sys

    path, target, weight = write("npy", tmp_path, *data)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    got = accumulate_files(path, target=target, progress=True)
    assert got.n_rows == N_ROWS


# ------------------------------------------------------------------ fitted models


def _close(model, reference):
    assert _rel(model.coef_, reference.coef_) < FIT_RTOL
    assert abs(model.intercept_ - reference.intercept_) <= FIT_RTOL * max(
        1.0, abs(reference.intercept_)
    )


@pytest.mark.parametrize("kind", ["npy", "parquet", "csv"])
def test_fixed_alpha_equals_ridge_in_memory(kind, data, tmp_path):
    from l2reg import Ridge, fit_files

    path, target, weight = write(kind, tmp_path, *data)
    X, y, w = data
    model = fit_files(
        path, target=target, weight=weight, alpha=0.03, chunk_rows=300, progress=False
    )
    assert isinstance(model, Ridge)
    _close(model, Ridge(alpha=0.03).fit(X, y, sample_weight=w))


@pytest.mark.parametrize("kind", ["npy-fortran", "parquet", "csv"])
def test_gcv_equals_ridgecv_in_memory(kind, data, tmp_path):
    from l2reg import RidgeCV, fit_files

    path, target, weight = write(kind, tmp_path, *data)
    X, y, w = data
    alphas = np.geomspace(1e-4, 10, 30)
    model = fit_files(
        path, target=target, weight=weight, alphas=alphas, chunk_rows=300, progress=False
    )
    reference = RidgeCV(alphas, cv="gcv").fit(X, y, sample_weight=w)
    assert model.alpha_ == reference.alpha_
    assert _rel(model.cv_results_["mean_error"], reference.cv_results_["mean_error"]) < FIT_RTOL
    _close(model, reference)


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_hashed_kfold_equals_ridgecv_with_the_same_folds(kind, data, tmp_path):
    """k-fold over the file selects what RidgeCV selects in memory with the same folds."""
    from l2reg import RidgeCV, fit_files
    from l2reg.model_selection import HashedKFold

    path, target, weight = write(kind, tmp_path, *data)
    X, y, w = data
    alphas = np.geomspace(1e-4, 10, 30)
    model = fit_files(
        path, target=target, weight=weight, alphas=alphas, cv=4, seed=3, chunk_rows=300,
        progress=False,
    )  # fmt: skip
    reference = RidgeCV(alphas, cv=HashedKFold(4, seed=3)).fit(X, y, sample_weight=w)
    assert model.alpha_ == reference.alpha_
    assert _rel(model.cv_results_["mean_error"], reference.cv_results_["mean_error"]) < FIT_RTOL
    _close(model, reference)


def test_two_targets_and_feature_names(data, tmp_path, rng):
    from l2reg import Ridge, fit_files

    X, y, w = data
    y2 = X @ rng.normal(size=N_FEATURES) - 3.0
    path = tmp_path / "two.parquet"
    pq.write_table(_table(X, y, w).append_column("z", pa.array(y2)), path, row_group_size=400)
    model = fit_files(path, target=["y", "z"], weight="w", alpha=0.1, progress=False)
    reference = Ridge(alpha=0.1).fit(X, np.column_stack([y, y2]), sample_weight=w)
    assert model.coef_.shape == (2, N_FEATURES)
    assert _rel(model.coef_, reference.coef_) < FIT_RTOL
    assert list(model.feature_names_in_) == NAMES


def test_leave_one_out_is_refused(data, tmp_path):
    from l2reg import InvalidParameterError, fit_files

    path, target, _ = write("npy", tmp_path, *data)
    with pytest.raises(InvalidParameterError, match="leave-one-out needs the rows"):
        fit_files(path, target=target, cv=None, progress=False)


def test_large_mean_offset_keeps_full_accuracy(rng, tmp_path):
    """A column at 1e8 + noise, read in chunks: the merge of per-chunk means and
    co-moments keeps the accuracy of the in-memory fit (no raw sums that cancel)."""
    from l2reg import Ridge, fit_files

    X = rng.normal(size=(N_ROWS, N_FEATURES))
    X[:, 1] += 1e8
    y = X @ rng.normal(size=N_FEATURES) + rng.normal(size=N_ROWS) + 1e8
    w = rng.uniform(0.2, 3.0, size=N_ROWS)
    path, target, weight = write("parquet", tmp_path, X, y, w)
    model = fit_files(path, target=target, weight=weight, alpha=1e-3, chunk_rows=97, progress=False)
    reference = Ridge(alpha=1e-3).fit(X, y, sample_weight=w)
    assert _rel(model.coef_, reference.coef_) < FIT_RTOL
