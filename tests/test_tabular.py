"""The command line's table readers: every problem is one line naming the file and the fix."""

import subprocess
import sys

import numpy as np
import pytest

from l2reg._tabular import DataError, read_table

pandas = pytest.importorskip("pandas")


def _one_line(error: DataError) -> str:
    text = str(error)
    assert "\n" not in text, text
    return text


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("a,a,y", "'a' (2 times)"),
        ("a,b,a,b,a,y", "'a' (3 times), 'b' (2 times)"),
        ("a, a,y", "'a' (2 times)"),  # equal once the names are stripped
        ("a.1,a,a,y", "'a' (2 times)"),  # a real 'a.1' is not mistaken for a copy
    ],
)
def test_duplicated_csv_columns_are_refused(tmp_path, header, named):
    path = tmp_path / "dup.csv"
    n_columns = header.count(",") + 1
    path.write_text(header + "\n" + "\n".join(",".join(["1"] * n_columns) for _ in range(3)))
    with pytest.raises(DataError, match="duplicated column name") as caught:
        read_table(path)
    text = _one_line(caught.value)
    assert named in text and str(path) in text and "rename" in text


def test_distinct_and_unnamed_columns_still_read(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("a,a.1,,,y\n1,2,3,4,5\n")
    frame = read_table(path)
    assert list(frame.columns) == ["a", "a.1", "Unnamed: 2", "Unnamed: 3", "y"]


def test_duplicated_parquet_columns_are_refused(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    column = pyarrow.array([1.0, 2.0])
    path = tmp_path / "dup.parquet"
    parquet.write_table(pyarrow.Table.from_arrays([column] * 3, ["a", "a", "y"]), path)
    with pytest.raises(DataError, match=r"duplicated column name\(s\) 'a' \(2 times\)") as caught:
        read_table(path)
    _one_line(caught.value)
    stripped = tmp_path / "stripped.parquet"
    parquet.write_table(pyarrow.Table.from_arrays([column] * 3, ["a", " a", "y"]), stripped)
    with pytest.raises(DataError, match=r"'a' \(2 times\)"):
        read_table(stripped)


def test_ragged_rows_and_bad_encoding_stay_one_line(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,y\n1,2,3\n1,2,3,4,5\n")
    with pytest.raises(DataError, match="cannot read") as caught:
        read_table(ragged)
    _one_line(caught.value)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("caf\xe9,y\n1,2\n".encode("latin-1"))
    with pytest.raises(DataError, match="cannot read") as caught:
        read_table(latin)
    _one_line(caught.value)


def test_command_line_reports_duplicated_columns_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "dup.csv"
    rows = "\n".join(",".join(f"{v:.3f}" for v in rng.standard_normal(3)) for _ in range(20))
    path.write_text("a,a,y\n" + rows + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "l2reg", "fit", str(path), "--target", "y"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "duplicated column name(s) 'a' (2 times)" in lines[0]
