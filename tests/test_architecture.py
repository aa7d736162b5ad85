"""The import direction of STYLE.md §2: objective and solvers use only NumPy/SciPy."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "l2reg"
FORBIDDEN = {
    "objective": (
        "sklearn",
        "torch",
        "dask",
        "l2reg.solvers",
        "l2reg.linear_model",
        "l2reg.model_selection",
    ),
    "solvers": ("sklearn", "torch", "dask", "l2reg.linear_model", "l2reg.model_selection"),
}


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer):
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(FORBIDDEN[layer]), f"{path.name} imports {name}"


def test_import_l2reg_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, l2reg; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
