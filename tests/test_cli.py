"""The ``l2reg`` command line on real files: ``cli.main`` in this interpreter, and the real
entry point in a subprocess where the process itself is tested (``make demo``, exit codes,
missing extras, imports)."""

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from l2reg import ElasticNet, ElasticNetCV, Ridge, RidgeCV, load


def run_process(*args):
    """``python -m l2reg ARGS`` in a fresh interpreter: the real entry point and exit code."""
    return subprocess.run(
        [sys.executable, "-m", "l2reg", *args], capture_output=True, text=True, timeout=300
    )


def run_cli(*args):
    """``l2reg ARGS`` in this interpreter (``cli.main``, output captured): the same code
    as :func:`run_process` without a fresh interpreter's 2-3 s of imports per call."""
    from l2reg.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse: --help and usage errors
            code = exit.code
    return subprocess.CompletedProcess(args, code or 0, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """``l2reg fit --out DIR`` on the built-in data: what ``make demo`` runs."""
    out = tmp_path_factory.mktemp("demo")
    return run_process("fit", "--out", str(out)), out


def test_demo_prints_the_result_and_writes_files(demo_run):
    result, out = demo_run
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for expected in (
        "alpha =",
        "scikit-learn Ridge(alpha=",
        "exact leave-one-out",
        "CV error at chosen alpha",
        "effective degrees of freedom",
        "least squares",
        "R^2",
    ):
        assert expected in text
    for name in (
        "model.l2reg",
        "report.md",
        "ridge_trace.png",
        "cv_curve.png",
        "predicted_vs_actual.png",
        "coefficients.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert (out / "ridge_trace.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_numbers_agree_with_the_library(demo_run):
    from sklearn.datasets import load_diabetes

    result, out = demo_run
    X, y = load_diabetes(return_X_y=True)
    expected = RidgeCV().fit(X, y)
    chosen = next(line for line in result.stdout.splitlines() if line.startswith("alpha ="))
    assert float(chosen.split()[2]) == pytest.approx(expected.alpha_, rel=1e-5)
    model = load(out / "model.l2reg")
    frame = load_diabetes(as_frame=True).data
    assert np.allclose(model.predict(frame), expected.predict(X), rtol=1e-10)


def _write_csv(path, rng, n=60):
    frame = pd.DataFrame(
        {
            "size": rng.uniform(50, 200, n),
            "rooms": rng.integers(1, 6, n),
            "city": rng.choice(["Lyon", "Nice", "Paris"], n),
        }
    )
    effect = frame["city"].map({"Lyon": 10.0, "Nice": 30.0, "Paris": 80.0})
    frame["price"] = 2.0 * frame["size"] + 5 * frame["rooms"] + effect + rng.normal(0, 5, n)
    frame.to_csv(path, index=False)
    return frame


def test_fit_predict_info_round_trip_with_categories(tmp_path, rng):
    frame = _write_csv(tmp_path / "houses.csv", rng)
    out = tmp_path / "out"
    result = run_cli(
        "fit",
        str(tmp_path / "houses.csv"),
        "--target",
        "price",
        "--cv",
        "5",
        "--standardize",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "one-hot encoded: city (3 levels)" in result.stdout
    assert "standardized" in result.stdout and "5-fold" in result.stdout
    assert "city=Paris" in result.stdout

    new = frame.drop(columns="price").head(7)
    new.to_csv(tmp_path / "new.csv", index=False)
    predicted = run_cli(
        "predict",
        str(out / "model.l2reg"),
        str(tmp_path / "new.csv"),
        "-o",
        str(tmp_path / "pred.csv"),
    )
    assert predicted.returncode == 0, predicted.stderr
    written = pd.read_csv(tmp_path / "pred.csv")
    assert np.array_equal(
        written["predicted_price"].to_numpy(), load(out / "model.l2reg").predict(new)
    )

    info = run_cli("info", str(out / "model.l2reg"))
    assert info.returncode == 0, info.stderr
    assert "target: price" in info.stdout and "RidgeCV" in info.stdout
    assert "city=Lyon" in info.stdout and "objective:" in info.stdout


def test_fixed_alpha_matches_ridge_on_the_design(tmp_path, rng):
    frame = _write_csv(tmp_path / "houses.csv", rng)
    result = run_cli(
        "fit",
        str(tmp_path / "houses.csv"),
        "--target",
        "price",
        "--features",
        "size",
        "rooms",
        "--alpha",
        "0.5",
    )
    assert result.returncode == 0, result.stderr
    expected = Ridge(alpha=0.5).fit(frame[["size", "rooms"]].to_numpy(), frame["price"])
    row = next(line for line in result.stdout.splitlines() if line.startswith("size "))
    assert float(row.split()[2]) == pytest.approx(expected.coef_[0], rel=1e-5)
    assert "given" in result.stdout


def test_logistic_and_poisson_models(tmp_path, rng):
    n = 120
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["label"] = np.where(frame["a"] - frame["b"] + rng.normal(0, 0.5, n) > 0, "yes", "no")
    frame["count"] = rng.poisson(np.exp(0.5 + 0.3 * frame["a"]))
    frame.to_csv(tmp_path / "d.csv", index=False)
    logistic = run_cli(
        "fit",
        str(tmp_path / "d.csv"),
        "--target",
        "label",
        "--features",
        "a",
        "b",
        "--model",
        "logistic",
        "--cv",
        "3",
        "--out",
        str(tmp_path / "lo"),
    )
    assert logistic.returncode == 0, logistic.stderr
    assert "LogisticRegression(C=" in logistic.stdout and "accuracy" in logistic.stdout
    poisson = run_cli(
        "fit",
        str(tmp_path / "d.csv"),
        "--target",
        "count",
        "--features",
        "a",
        "b",
        "--model",
        "poisson",
        "--alpha",
        "0.01",
    )
    assert poisson.returncode == 0, poisson.stderr
    assert "PoissonRegressor(alpha=0.02)" in poisson.stdout


def _sparse_truth_csv(path, rng, n=150):
    frame = pd.DataFrame(rng.normal(size=(n, 6)), columns=list("abcdef"))
    frame["y"] = 2.0 * frame["a"] - 1.0 * frame["b"] + 0.5 * rng.normal(size=n)
    frame.to_csv(path, index=False)
    return frame


def test_elastic_net_chooses_alpha_by_kfold_and_lists_selected_features(tmp_path, rng):
    frame = _sparse_truth_csv(tmp_path / "d.csv", rng)
    out = tmp_path / "out"
    result = run_cli(
        "fit", str(tmp_path / "d.csv"), "--target", "y", "--model", "elasticnet",
        "--l1-ratio", "0.7", "--cv", "4", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    X, y = frame[list("abcdef")].to_numpy(), frame["y"].to_numpy()
    expected = ElasticNetCV(l1_ratio=0.7, cv=4).fit(X, y)
    chosen = next(line for line in result.stdout.splitlines() if line.startswith("alpha = "))
    assert float(chosen.split()[2]) == pytest.approx(expected.alpha_, rel=1e-5)
    assert "4-fold cross-validation" in chosen and "l1_ratio=0.7" in chosen
    selected = np.flatnonzero(expected.coef_)
    assert f"selected features: {selected.size} of 6" in result.stdout
    for j in range(6):  # every selected feature has its row, every other is listed as dropped
        row = [line for line in result.stdout.splitlines() if line.startswith(f"{'abcdef'[j]} ")]
        assert bool(row) == (j in selected)
        if row:
            assert float(row[0].split()[1]) == pytest.approx(expected.coef_[j], rel=1e-4)
    assert "duality gap" in result.stdout
    for name in ("cv_curve.png", "enet_path.png", "report.md", "model.l2reg"):
        assert (out / name).stat().st_size > 0
    assert "enet_path.png" in (out / "report.md").read_text()
    model = load(out / "model.l2reg")
    np.testing.assert_allclose(model.predict(frame), expected.predict(X), rtol=1e-8)


def test_elastic_net_with_a_given_alpha_and_its_option_errors(tmp_path, rng):
    frame = _sparse_truth_csv(tmp_path / "d.csv", rng)
    data = str(tmp_path / "d.csv")
    result = run_cli("fit", data, "--target", "y", "--model", "elasticnet", "--alpha", "0.3")
    assert result.returncode == 0, result.stderr
    expected = ElasticNet(alpha=0.3).fit(frame[list("abcdef")], frame["y"])
    assert "(given)" in result.stdout and "l1_ratio=0.5" in result.stdout
    dropped = next(line for line in result.stdout.splitlines() if line.startswith("dropped"))
    assert dropped.split(": ")[1].split(", ") == [
        name for name, c in zip("abcdef", expected.coef_, strict=True) if c == 0
    ]
    for args in (
        ("--model", "elasticnet", "--cv", "loo"),
        ("--model", "elasticnet", "--l1-ratio", "1.5"),
        ("--model", "elasticnet", "--alpha", "0"),
        ("--l1-ratio", "0.5"),  # ridge takes no l1_ratio
    ):
        assert run_cli("fit", data, "--target", "y", *args).returncode == 2, args


def test_path_command(tmp_path):
    result = run_cli("path", "--n-alphas", "12", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "effective df" in result.stdout
    assert (tmp_path / "ridge_trace.png").exists()


def test_parquet_input(tmp_path, rng):
    frame = _write_csv(tmp_path / "houses.csv", rng)
    frame.to_parquet(tmp_path / "houses.parquet")
    result = run_cli("fit", str(tmp_path / "houses.parquet"), "--target", "price")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("a,y\n", "no data rows"),
        ("a,y\n1,2\n2,\n3,4\n", "missing values in 'y' (1 missing)"),
        ("a,y\n1,2\n,3\n3,4\n", "missing values in 'a' (1 missing)"),
        ("a,y\n1,x\n2,z\n", "target column 'y' is not numeric"),
        ("a,b\n1,2\n", "target column 'y' not found"),
        ('a,y\n"1,2\n', "cannot read"),
    ],
)
def test_messy_files_are_data_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = run_cli("fit", str(path), "--target", "y")
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_quoted_fields_and_constant_column(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(
        '"x, one","c","y"\n"1.0",5,"2.0"\n"2.0",5,"4.1"\n"3.0",5,"5.9"\n"4.0",5,"8.2"\n'
    )
    result = run_cli("fit", str(path), "--target", "y", "--alpha", "0.01", "--standardize")
    assert result.returncode == 0, result.stderr
    assert "x, one" in result.stdout
    constant_row = next(line for line in result.stdout.splitlines() if line.startswith("c "))
    assert float(constant_row.split()[2]) == pytest.approx(0.0, abs=1e-9)


def test_usage_errors_exit_2():
    assert run_process("fit", "data.csv").returncode == 2  # no --target, in a real process
    assert run_cli("fit", "--cv", "abc").returncode == 2
    assert run_cli("fit", "--alpha", "1", "--cv", "3").returncode == 2  # exclusive
    assert run_cli("fit", "--model", "logistic", "--cv", "gcv").returncode == 2
    assert run_cli("frobnicate").returncode == 2
    assert run_cli().returncode == 2


def test_missing_files_are_data_errors(tmp_path):
    result = run_cli("fit", str(tmp_path / "nope.csv"), "--target", "y")
    assert result.returncode == 1 and "no such file" in result.stderr
    bad = tmp_path / "bad.l2reg"
    bad.write_bytes(b"not a model")
    result = run_cli("info", str(bad))
    assert result.returncode == 1 and "not an l2reg model file" in result.stderr


def test_help_and_usage_errors_import_neither_sklearn_nor_scipy():
    """They answer at once: the heavy imports come after argparse has parsed the arguments."""
    code = (
        "import sys\n"
        "from l2reg.cli import main\n"
        "for argv in (['--help'], ['fit', '--help'], ['fit', '--bogus'], ['frobnicate']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, 2), exit.code\n"
        "print(sorted({'sklearn', 'scipy'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


@pytest.mark.parametrize("command", ["fit", "predict", "path", "info"])
def test_every_command_has_help_with_examples(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "examples:" in result.stdout


# --- Without the [cli] extra -----------------------------------------------------------


def _run_without(modules, *args):
    """``python -m l2reg ARGS`` with ``modules`` made unimportable, as after a plain
    ``pip install l2reg`` (``None`` in sys.modules makes ``import`` fail)."""
    code = (
        "import runpy, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    sys.modules[name] = None\n"
        f"sys.argv = ['l2reg', *{list(args)!r}]\n"
        "runpy.run_module('l2reg', run_name='__main__')\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "missing",
    [["tqdm"], ["pandas"], ["matplotlib"], ["pandas", "tqdm", "matplotlib"]],
)
def test_a_missing_cli_extra_is_one_line_and_exit_1(missing):
    result = _run_without(missing, "fit")
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert 'pip install "l2reg[cli]"' in line
    assert all(name in line for name in missing)
    assert "Traceback" not in result.stderr


def test_help_needs_no_extra():
    result = _run_without(["pandas", "tqdm", "matplotlib"], "fit", "--help")
    assert result.returncode == 0 and "examples:" in result.stdout


def test_a_cli_module_failing_at_import_is_the_same_one_line(monkeypatch, capsys):
    """Found by the check, yet failing when the command imports it."""
    from l2reg import cli

    monkeypatch.setattr(cli, "_missing_modules", lambda: [])
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert cli.main(["fit"]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert "tqdm" in line and 'pip install "l2reg[cli]"' in line


def test_an_unrelated_missing_module_is_not_blamed_on_the_extra(monkeypatch):
    from l2reg import cli

    def run(args):
        import l2reg_no_such_module  # noqa: F401

    monkeypatch.setattr(cli, "_run_info", run)
    with pytest.raises(ModuleNotFoundError):
        cli.main(["info", "model.l2reg"])


# --- Packaging: ranges for users, exact versions for the test environment ------------------


ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_extras_state_ranges_and_the_test_environment_pins_torch():
    from packaging.requirements import Requirement

    extras = _pyproject()["project"]["optional-dependencies"]
    for extra, requirements in extras.items():
        for text in requirements:
            requirement = Requirement(text)
            exact = [s for s in requirement.specifier if s.operator in ("==", "===")]
            assert not exact, f"extra {extra!r} pins {text!r}; pin in constraints/test.txt"
    pins = {
        Requirement(line).name: Requirement(line)
        for line in (ROOT / "constraints" / "test.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert [s.operator for s in pins["torch"].specifier] == ["=="]
    # the pin lies inside every range that asks for torch
    version = next(iter(pins["torch"].specifier)).version
    for requirements in extras.values():
        for text in requirements:
            if Requirement(text).name == "torch":
                assert Requirement(text).specifier.contains(version)
    # and the test environment is installed with it
    makefile = (ROOT / "Makefile").read_text()
    (install,) = [line for line in makefile.splitlines() if '".[test' in line]
    assert "-c constraints/test.txt" in install


def test_the_cli_extra_holds_every_module_the_command_needs():
    from packaging.requirements import Requirement

    from l2reg.cli import CLI_MODULES

    project = _pyproject()["project"]
    assert project["scripts"]["l2reg"] == "l2reg.cli:main"
    extra = {Requirement(text).name for text in project["optional-dependencies"]["cli"]}
    assert set(CLI_MODULES) == extra
