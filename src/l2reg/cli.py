"""The ``l2reg`` command line: a thin front end over the public API (no math here).

Sub-commands register themselves in :data:`COMMANDS`; later features add
their own.  Exit codes: 0 success, 1 data error, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from l2reg import __version__, conventions
from l2reg._tabular import DataError, builtin_dataset, read_csv
from l2reg.linear_model import Ridge

__all__ = ["main"]

EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE = 0, 1, 2


def _add_fit(subparsers) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit ridge regression and compare it with least squares",
        description=(
            "Fit Ridge (weighted mean squared error + alpha * ||theta||^2) and print its "
            "coefficients next to ordinary least squares, with the objective and R^2."
        ),
        epilog=(
            "examples:\n  l2reg fit                          # built-in diabetes data\n"
            "  l2reg fit data.csv --target price --alpha 0.1"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", nargs="?", help="CSV file with a header row (default: built-in)")
    parser.add_argument("--target", help="name of the target column (required with DATA)")
    parser.add_argument("--features", nargs="+", help="feature columns (default: all others)")
    parser.add_argument(
        "--alpha",
        type=float,
        default=1e-3,
        help="regularization strength in l2reg's convention (default: 0.001)",
    )
    parser.set_defaults(run=_run_fit)


def _run_fit(args) -> int:
    if args.alpha < 0:
        raise _UsageError(f"--alpha must be >= 0; got {args.alpha}")
    if args.data is None:
        table = builtin_dataset()
    else:
        if not args.target:
            raise _UsageError("--target is required when a data file is given")
        table = read_csv(args.data, args.target, args.features)
    ols = Ridge(alpha=0.0).fit(table.X, table.y)
    ridge = Ridge(alpha=args.alpha).fit(table.X, table.y)
    n = table.X.shape[0]
    sk_alpha = conventions.to_sklearn_ridge_alpha(args.alpha, n_samples=n)
    print(
        f"data: {table.source}  ({n} samples, {table.X.shape[1]} features, "
        f"target {table.target_name!r})"
    )
    print(
        f"objective: mean squared error + alpha * ||theta||^2, alpha = {args.alpha:g} "
        f"(scikit-learn Ridge alpha = {sk_alpha:g})\n"
    )
    width = max(len(name) for name in [*table.feature_names, "intercept"])
    print(f"{'coefficient':<{width}}  {'least squares':>14}  {'ridge':>14}  {'ridge/LS':>9}")
    rows = [("intercept", ols.intercept_, ridge.intercept_)]
    rows += list(zip(table.feature_names, ols.coef_, ridge.coef_, strict=True))
    for name, a, b in rows:
        ratio = f"{b / a:9.3f}" if a != 0 else f"{'-':>9}"
        print(f"{name:<{width}}  {a:14.6g}  {b:14.6g}  {ratio}")
    print(
        f"{'||theta||':<{width}}  {np.linalg.norm(ols.coef_):14.6g}  "
        f"{np.linalg.norm(ridge.coef_):14.6g}"
    )
    print()
    print(
        f"{'objective J':<{width}}  {ols.objective(table.X, table.y):14.6g}  "
        f"{ridge.objective(table.X, table.y):14.6g}"
    )
    print(
        f"{'R^2 (train)':<{width}}  {ols.score(table.X, table.y):14.6g}  "
        f"{ridge.score(table.X, table.y):14.6g}"
    )
    print(f"{'solver':<{width}}  {ols.solver_:>14}  {ridge.solver_:>14}")
    print(
        f"{'rel. gradient':<{width}}  {ols.certificate_.relative_gradient_norm:14.2e}  "
        f"{ridge.certificate_.relative_gradient_norm:14.2e}"
    )
    return EXIT_OK


class _UsageError(Exception):
    pass


COMMANDS = [_add_fit]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="l2reg", description="Exact, fast L2-regularized models from the command line."
    )
    parser.add_argument("--version", action="version", version=f"l2reg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with code 2 on usage errors
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except _UsageError as error:
        print(f"l2reg {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DataError as error:
        print(f"l2reg {args.command}: data error: {error}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except ValueError as error:  # e.g. a problem the estimator detects in the data
        print(f"l2reg {args.command}: data error: {error}", file=sys.stderr)
        return EXIT_DATA_ERROR


if __name__ == "__main__":
    sys.exit(main())
