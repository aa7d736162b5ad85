"""``python -m l2reg.solvers._docs [PATH]``: rewrite the capability table in docs/solvers.md."""

import sys
from pathlib import Path

import l2reg.solvers  # noqa: F401  (registers every solver)
from l2reg.solvers._registry import capability_table

START, END = "<!-- capability-table:start -->", "<!-- capability-table:end -->"


def main(path: str = "docs/solvers.md") -> None:
    page = Path(path)
    text = page.read_text()
    head, tail = text.index(START) + len(START), text.index(END)
    page.write_text(text[:head] + "\n" + capability_table() + "\n" + text[tail:])


if __name__ == "__main__":
    main(*sys.argv[1:])
