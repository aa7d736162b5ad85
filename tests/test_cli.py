"""The real ``l2reg`` entry point, run in a subprocess on real CSV files."""

import subprocess
import sys

import numpy as np
import pytest

from l2reg import Ridge


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "l2reg", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_fit_on_builtin_data():
    result = run_cli("fit")
    assert result.returncode == 0, result.stderr
    assert "least squares" in result.stdout and "ridge" in result.stdout
    assert "diabetes" in result.stdout
    assert "R^2" in result.stdout and "objective J" in result.stdout


def test_fit_on_a_csv_matches_the_library(tmp_path, rng):
    X = rng.standard_normal((30, 2))
    y = X @ [1.5, -0.5] + 2 + 0.1 * rng.standard_normal(30)
    path = tmp_path / "data.csv"
    lines = ["a,b,target"] + [
        f"{r[0]:.17g},{r[1]:.17g},{t:.17g}" for r, t in zip(X, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("fit", str(path), "--target", "target", "--alpha", "0.1")
    assert result.returncode == 0, result.stderr
    expected = Ridge(alpha=0.1).fit(X, y)
    row = next(line for line in result.stdout.splitlines() if line.startswith("a "))
    assert float(row.split()[2]) == pytest.approx(expected.coef_[0], rel=1e-5)
    assert "scikit-learn Ridge alpha = 3" in result.stdout  # 0.1 * 30 samples


def test_quoted_fields_are_parsed(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('"x one","y"\n"1.0","2.0"\n"2.0","4.1"\n"3.0","5.9"\n')
    result = run_cli("fit", str(path), "--target", "y")
    assert result.returncode == 0, result.stderr
    assert "x one" in result.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("a,y\n", "no data rows"),
        ("a,y\n1,2\n2,\n", "missing value"),
        ("a,y\n1,2\n2,abc\n", "non-numeric value 'abc'"),
        ("a,b\n1,2\n", "target column 'y' not found"),
    ],
)
def test_data_errors_exit_1_with_one_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = run_cli("fit", str(path), "--target", "y")
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_file_and_usage_errors():
    result = run_cli("fit", "does-not-exist.csv", "--target", "y")
    assert result.returncode == 1 and "no such file" in result.stderr
    result = run_cli("fit", "data.csv")
    assert result.returncode == 2 and "--target is required" in result.stderr
    result = run_cli("fit", "--alpha", "-1")
    assert result.returncode == 2 and "--alpha must be >= 0" in result.stderr
    result = run_cli("frobnicate")
    assert result.returncode == 2


def test_constant_column_is_handled(tmp_path):
    path = tmp_path / "constant.csv"
    path.write_text("a,c,y\n1,5,2\n2,5,4.2\n3,5,5.8\n4,5,8.1\n")
    result = run_cli("fit", str(path), "--target", "y")
    assert result.returncode == 0, result.stderr
    ridge_row = next(line for line in result.stdout.splitlines() if line.startswith("c "))
    assert np.isclose(float(ridge_row.split()[2]), 0.0, atol=1e-10)


def test_help_has_examples():
    result = run_cli("fit", "--help")
    assert result.returncode == 0 and "examples:" in result.stdout
