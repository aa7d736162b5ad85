"""``l2reg fit`` reading a file out of core (``--stream``, ``--chunk-rows``, ``.npy``)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from l2reg import Ridge, RidgeCV, load  # noqa: E402


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "l2reg", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(5)
    n = 3_000
    X = rng.normal(size=(n, 4)) + [0, 10, 0, -3]
    y = X @ [1.0, -0.5, 0.0, 2.0] + 0.5 * rng.normal(size=n)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y)
    directory = tmp_path_factory.mktemp("stream")
    path = directory / "data.parquet"
    frame.to_parquet(path, row_group_size=700)
    return frame, path


@pytest.fixture(scope="module")
def streamed(table, tmp_path_factory):
    frame, path = table
    out = tmp_path_factory.mktemp("out")
    result = run_cli("fit", str(path), "--target", "y", "--chunk-rows", "500", "--out", str(out))
    return result, out


def test_report_from_the_statistics(streamed, table):
    result, out = streamed
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for expected in (
        "read out of core",
        "generalized cross-validation",
        "CV error at chosen alpha",
        "effective degrees of freedom",
        "least squares",
        "R^2 (training data)",
        "uniform sample of 3000 of the 3000 rows",
    ):
        assert expected in text, expected
    for name in ("model.l2reg", "report.md", "ridge_trace.png", "cv_curve.png",
                 "predicted_vs_actual.png", "coefficients.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name


def test_numbers_agree_with_the_library_in_memory(streamed, table):
    from l2reg.inspection import compare_with_least_squares

    result, out = streamed
    frame, _ = table
    X, y = frame[["a", "b", "c", "d"]].to_numpy(), frame["y"].to_numpy()
    expected = RidgeCV(cv="gcv").fit(X, y)
    model = load(out / "model.l2reg")
    assert model.estimator_.alpha_ == pytest.approx(expected.alpha_, rel=1e-10)
    np.testing.assert_allclose(model.estimator_.coef_, expected.coef_, rtol=1e-10)
    r2_line = next(line for line in result.stdout.splitlines() if line.startswith("R^2"))
    r2 = compare_with_least_squares(expected, X, y).r2
    assert [float(v) for v in r2_line.split()[-2:]] == pytest.approx(
        [r2["least squares"], r2["ridge"]], rel=1e-6
    )


def test_saved_model_predicts_from_the_raw_file(streamed, table, tmp_path):
    _, out = streamed
    frame, path = table
    output = tmp_path / "predictions.csv"
    result = run_cli("predict", str(out / "model.l2reg"), str(path), "-o", str(output))
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(output)["predicted_y"].to_numpy()
    X = frame[["a", "b", "c", "d"]].to_numpy()
    expected = RidgeCV(cv="gcv").fit(X, frame["y"].to_numpy()).predict(X)
    np.testing.assert_allclose(predicted, expected, rtol=1e-8, atol=1e-8)


def test_npy_files_and_k_fold(tmp_path, table, capsys):
    from l2reg.cli import main
    from l2reg.model_selection import HashedKFold

    frame, _ = table
    data = frame.to_numpy()
    path = tmp_path / "data.npy"
    np.save(path, data)
    assert main(["fit", str(path), "--target", "-1", "--cv", "3"]) == 0  # .npy: out of core
    stdout = capsys.readouterr().out
    assert "3-fold cross-validation (folds by a hash of row position)" in stdout
    expected = RidgeCV(cv=HashedKFold(3)).fit(data[:, :-1], data[:, -1])
    chosen = next(line for line in stdout.splitlines() if line.startswith("alpha ="))
    assert float(chosen.split()[2]) == pytest.approx(expected.alpha_, rel=1e-5)


def test_fixed_alpha(table, capsys):
    from l2reg.cli import main

    frame, path = table
    assert main(["fit", str(path), "--target", "y", "--stream", "--alpha", "0.01"]) == 0
    expected = Ridge(alpha=0.01).fit(frame[["a", "b", "c", "d"]].to_numpy(), frame["y"])
    stdout = capsys.readouterr().out
    line = next(line for line in stdout.splitlines() if line.startswith("a "))
    assert float(line.split()[-1]) == pytest.approx(expected.coef_[0], rel=1e-6)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--cv", "loo"], "--cv loo needs the rows in memory"),
        (["--standardize"], "--standardize is not available out of core"),
        (["--model", "logistic"], "--model logistic is not available out of core"),
        (["--chunk-rows", "0"], "--chunk-rows must be at least 1"),
    ],
)
def test_options_out_of_core_are_usage_errors(table, options, message, capsys):
    from l2reg.cli import main

    _, path = table
    assert main(["fit", str(path), "--target", "y", "--stream", *options]) == 2
    assert message in capsys.readouterr().err


def test_bad_file_is_a_data_error(tmp_path, capsys):
    from l2reg.cli import main

    path = tmp_path / "broken.csv"
    rows = ["a,b,y"] + [f"{i},{i % 5},{i % 3}" for i in range(100)]
    rows[50] = "1,oops,2"
    path.write_text("\n".join(rows) + "\n")
    assert main(["fit", str(path), "--target", "y", "--stream"]) == 1
    # The whole file is pyarrow's first block, whose types make column b text.
    assert "broken.csv: column 'b' is not numeric" in capsys.readouterr().err
