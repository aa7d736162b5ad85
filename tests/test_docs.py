"""Documentation generated from code stays current."""

from pathlib import Path

from l2reg.solvers._registry import capability_table

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_solver_table_matches_the_registry():
    text = (DOCS / "solvers.md").read_text()
    start, end = "<!-- capability-table:start -->", "<!-- capability-table:end -->"
    table = text[text.index(start) + len(start) : text.index(end)].strip()
    assert table == capability_table(), (
        "docs/solvers.md is out of date; regenerate it with `python -m l2reg.solvers._docs`"
    )
