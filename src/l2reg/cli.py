"""The ``l2reg`` command line: a thin front end over the public API (no math here).

Sub-commands: ``fit``, ``predict``, ``path``, ``info``.  Each registers itself
in :data:`COMMANDS`.  Exit codes: 0 success, 1 data error or a missing ``cli``
extra (a one-line message, no traceback), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings
from pathlib import Path

from l2reg import __version__
from l2reg._tabular import BUILTIN_TARGET, DataError, builtin_frame, read_table

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE = 0, 1, 2
#: What the commands import beyond l2reg's own dependencies: the ``cli`` extra
#: of pyproject.toml, by import name.
CLI_MODULES = ("pandas", "tqdm", "matplotlib")
INSTALL_CLI = 'pip install "l2reg[cli]"'


class UsageError(Exception):
    """A wrong combination of command-line options."""


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add_data_options(
    parser,
    *,
    target_required_with_data=True,
    standardize_help="center and scale numeric features (stated in the output)",
):
    parser.add_argument("data", nargs="?", help="CSV or Parquet file (default: built-in data)")
    parser.add_argument("--target", help="target column (required with DATA)")
    parser.add_argument(
        "--features", nargs="+", metavar="COL", help="feature columns (default: every other column)"
    )
    parser.add_argument(
        "--standardize",
        action="store_true",
        help=standardize_help,
    )


def _add_fit(subparsers) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit a model, choose alpha, print a report, save model and plots",
        formatter_class=_formatter,
        description=(
            "Fit an L2-regularized model (weighted mean loss + alpha * ||theta||^2). By "
            "default alpha is chosen by exact leave-one-out cross-validation."
        ),
        epilog=(
            "examples:\n"
            "  l2reg fit                                   # built-in diabetes data\n"
            "  l2reg fit houses.csv --target price --out results/\n"
            "  l2reg fit houses.csv --target price --cv 10 --standardize\n"
            "  l2reg fit churn.csv --target churned --model logistic --cv 5\n"
            "  l2reg fit visits.csv --target count --model poisson --alpha 0.01\n"
            "  l2reg fit houses.csv --target price --model elasticnet --l1-ratio 0.5\n"
            "  l2reg fit big.parquet --target y --stream --cv 5     # out of core"
        ),
    )
    _add_data_options(
        parser,
        standardize_help=(
            "penalize the coefficients of the standardized features (the estimator's "
            "standardize=True, as glmnet's); the data are not rescaled and the "
            "coefficients stay on the original scale"
        ),
    )
    parser.add_argument(
        "--penalty-factor",
        action="append",
        metavar="COLUMN=VALUE",
        default=[],
        help=(
            "multiply alpha by VALUE (>= 0, 0: unpenalized) for COLUMN (a categorical "
            "column: all its one-hot columns); repeatable, factors used as given"
        ),
    )
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--alpha", type=float, help="use this alpha instead of choosing one")
    choice.add_argument(
        "--cv",
        help="how to choose alpha: loo (default; gcv out of core), gcv, or a number of folds "
        "(elasticnet: folds only, default 5)",
    )
    parser.add_argument(
        "--model", choices=("ridge", "logistic", "poisson", "elasticnet"), default="ridge"
    )
    parser.add_argument(
        "--l1-ratio",
        type=float,
        help="elasticnet only: share of the L1 penalty, in [0, 1] (default: 0.5)",
    )
    parser.add_argument("--out", type=Path, help="directory for model, report and plots")
    _add_stream_options(parser)
    parser.set_defaults(run=_run_fit)


def _add_stream_options(parser) -> None:
    parser.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        help="read the file out of core, in chunks (default: above 1 GiB and for .npy); "
        "ridge, numeric columns. --no-stream reads it into memory",
    )
    parser.add_argument(
        "--chunk-rows", type=int, metavar="N", help="rows per chunk out of core (implies --stream)"
    )


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict with a saved model on a raw data file",
        formatter_class=_formatter,
        description="Apply a model saved by 'l2reg fit' (with its preprocessing) to a file.",
        epilog="examples:\n  l2reg predict results/model.l2reg new.csv -o predictions.csv",
    )
    parser.add_argument("model", type=Path, help="model file written by 'l2reg fit'")
    parser.add_argument("data", help="CSV or Parquet file with the same feature columns")
    parser.add_argument("-o", "--output", type=Path, help="CSV to write (default: stdout)")
    parser.set_defaults(run=_run_predict)


def _add_path(subparsers) -> None:
    parser = subparsers.add_parser(
        "path",
        help="coefficients over a grid of alphas (the ridge trace)",
        formatter_class=_formatter,
        description="Fit ridge for a grid of alphas from one decomposition and show the trace.",
        epilog="examples:\n  l2reg path\n  l2reg path houses.csv --target price --out trace/",
    )
    _add_data_options(parser)
    parser.add_argument("--n-alphas", type=int, default=50, help="grid size (default: 50)")
    parser.add_argument("--out", type=Path, help="directory for the table and the trace plot")
    parser.set_defaults(run=_run_path)


def _add_info(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="describe a saved model file",
        formatter_class=_formatter,
        description="Print what a model file holds: class, parameters, features, versions.",
        epilog="examples:\n  l2reg info results/model.l2reg",
    )
    parser.add_argument("model", type=Path)
    parser.set_defaults(run=_run_info)


def _load_frame(args):
    if args.data is None:
        if args.target not in (None, BUILTIN_TARGET):
            raise UsageError(f"the built-in data's target is {BUILTIN_TARGET!r}")
        return builtin_frame(), BUILTIN_TARGET, "scikit-learn diabetes data (built in)"
    if not args.target:
        raise UsageError("--target is required when a data file is given")
    return read_table(args.data), args.target, str(args.data)


def _steps(total: int, description: str):
    """A progress bar over the steps of a command (shown on a terminal only)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="step", disable=None, leave=False)


def _out_of_core(args) -> bool:
    """Whether ``fit`` reads its file in chunks: asked for, an array file, or a large file."""
    from l2reg._report_stream import STREAM_ABOVE_BYTES

    if args.stream is not None:
        return args.stream
    if args.chunk_rows is not None:
        return True
    if args.data is None or not Path(args.data).is_file():
        return False
    path = Path(args.data)
    return path.suffix.lower() == ".npy" or path.stat().st_size > STREAM_ABOVE_BYTES


def _run_fit_out_of_core(args) -> int:
    from l2reg import _report, _report_stream

    if args.data is None:
        raise UsageError("--stream reads a data file; give DATA")
    if not args.target:
        raise UsageError("--target is required when a data file is given")
    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise UsageError(f"--chunk-rows must be at least 1; got {args.chunk_rows}")
    try:
        result = _report_stream.fit_from_files(
            args.data,
            args.target,
            features=args.features,
            model=args.model,
            alpha=args.alpha,
            cv=args.cv,
            standardize=args.standardize,
            chunk_rows=args.chunk_rows,
        )
    except _report.OptionError as error:
        raise UsageError(str(error)) from None
    print(result.text)
    if args.out:
        written = _report.write_outputs(result, args.out)
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    return EXIT_OK


def _parse_penalty_factors(items) -> dict:
    """``["COLUMN=VALUE", ...]`` as ``{COLUMN: float}``; a usage error otherwise."""
    factors = {}
    for item in items:
        column, sep, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not column or number is None:
            raise UsageError(f"--penalty-factor takes COLUMN=VALUE with a number; got {item!r}")
        factors[column] = number
    return factors


def _run_fit(args) -> int:
    from l2reg import _report

    if _out_of_core(args):
        return _run_fit_out_of_core(args)
    with _steps(3 if args.out else 2, f"l2reg fit ({args.model})") as bar:
        bar.set_postfix_str("reading data")
        frame, target, source = _load_frame(args)
        bar.update()
        bar.set_postfix_str("fitting" if args.alpha is not None else "choosing alpha")
        try:
            result = _report.fit_from_frame(
                frame,
                target,
                source=source,
                features=args.features,
                model=args.model,
                alpha=args.alpha,
                cv=args.cv,
                l1_ratio=args.l1_ratio,
                standardize=args.standardize,
                penalty_factors=_parse_penalty_factors(args.penalty_factor),
            )
        except _report.OptionError as error:
            raise UsageError(str(error)) from None
        bar.update()
        written = []
        if args.out:
            bar.set_postfix_str("writing model, plots and report")
            written = _report.write_outputs(result, args.out)
            bar.update()
    print(result.text)
    if written:
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    return EXIT_OK


def _run_predict(args) -> int:
    import l2reg

    model = l2reg.load(args.model)
    if not isinstance(model, l2reg.preprocessing.TabularModel):
        raise DataError(
            f"{args.model} holds a {type(model).__name__}, not a model from 'l2reg fit'"
        )
    frame = read_table(args.data)
    predictions = model.predict(frame)
    output = frame.copy()
    output[f"predicted_{model.target}"] = predictions
    if args.output:
        output.to_csv(args.output, index=False)
        print(f"wrote {len(output)} predictions to {args.output}")
    else:
        output.to_csv(sys.stdout, index=False)
    return EXIT_OK


def _run_path(args) -> int:
    from l2reg import _report

    if args.n_alphas < 2:
        raise UsageError(f"--n-alphas must be at least 2; got {args.n_alphas}")
    frame, target, source = _load_frame(args)
    result = _report.path_from_frame(
        frame,
        target,
        source=source,
        features=args.features,
        standardize=args.standardize,
        n_alphas=args.n_alphas,
    )
    print(result.text)
    if args.out:
        written = _report.write_outputs(result, args.out)
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    return EXIT_OK


def _run_info(args) -> int:
    from l2reg import _report

    print(_report.describe_model_file(args.model))
    return EXIT_OK


COMMANDS = [_add_fit, _add_predict, _add_path, _add_info]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="l2reg",
        description="Exact, fast L2-regularized models from the command line.",
        epilog="Run 'l2reg COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"l2reg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def _missing_modules() -> list[str]:
    """The modules of :data:`CLI_MODULES` that cannot be imported (found without importing)."""
    missing = []
    for name in CLI_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module without a spec is there
            found = True
        if not found:
            missing.append(name)
    return missing


def _missing_extra(names) -> int:
    listed = ", ".join(names)
    verb = "is" if len(names) == 1 else "are"
    print(
        f"l2reg: the command line needs {listed}, which {verb} not installed; "
        f"install the command line's extra: {INSTALL_CLI}",
        file=sys.stderr,
    )
    return EXIT_DATA_ERROR


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with code 2 on usage errors (and after --help)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    # After parsing: --help and usage errors need neither scikit-learn nor SciPy,
    # which the model files' module imports (about 2 s).
    from l2reg.io import ModelFileError

    missing = _missing_modules()
    if missing:
        return _missing_extra(missing)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return args.run(args)
    except ModuleNotFoundError as error:
        top = (error.name or "").partition(".")[0]
        if top not in CLI_MODULES:
            raise
        return _missing_extra([top])  # found above, yet it failed to import
    except UsageError as error:
        print(f"l2reg {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (DataError, ModelFileError, ValueError) as error:
        message = " ".join(str(error).split())  # one line
        print(f"l2reg {args.command}: data error: {message}", file=sys.stderr)
        return EXIT_DATA_ERROR


if __name__ == "__main__":
    sys.exit(main())
