"""``python -m benchmarks NAME [options]``: run the benchmark module ``benchmarks.NAME``."""

import importlib
import pkgutil
import sys

import benchmarks


def _available() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if not info.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print("usage: python -m benchmarks NAME [options]\navailable: " + ", ".join(_available()))
        return 0
    name, rest = argv[0], argv[1:]
    if name not in _available():
        print(f"unknown benchmark {name!r}; available: {', '.join(_available())}", file=sys.stderr)
        return 2
    return importlib.import_module(f"benchmarks.{name}").main(rest) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
