"""The import direction of STYLE.md §2 and docs/architecture.md.

objective and solvers use only NumPy/SciPy; no layer imports another layer's
private helpers (what model_selection shares with linear_model, such as the
GLM path machinery of l2reg.solvers.glm_path, has a public name).
"""

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
    # Estimators reach the optional integrations only through the collection-handler
    # hook of linear_model/_base.py, which imports them by name (importlib) when
    # their collections arrive: never a static import (docs/architecture.md).
    "linear_model": ("torch", "dask", "l2reg.dask", "l2reg.torch", "l2reg.model_selection"),
    "model_selection": ("torch", "dask", "l2reg.dask", "l2reg.torch"),
}


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def _package_of(module: str) -> str:
    """``l2reg.<subpackage>`` for a module inside one, else ``l2reg`` (top-level modules)."""
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return "l2reg"


def _private_imports_across_packages():
    """``from l2reg.<other package>... import _name`` anywhere in l2reg.

    A module may use the private names of its own package (``l2reg.cli`` those of
    ``l2reg._report``, ``model_selection/_cv.py`` those of ``_spectral.py``), not
    those of another layer.  Dunder names (``__version__``) are public.
    """
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        own = _package_of(".".join(["l2reg", *relative.with_suffix("").parts]))
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module):
                continue
            if not node.module.startswith("l2reg") or _package_of(node.module) == own:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield relative.as_posix(), node.module, alias.name


def test_no_layer_imports_private_names_of_another():
    found = set(_private_imports_across_packages())
    assert not found, (
        "private names imported across packages (give the helper a public name in a "
        f"module the importer may use): {sorted(found)}"
    )


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer):
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(FORBIDDEN[layer]), f"{path.name} imports {name}"


@pytest.mark.parametrize("optional", ["torch", "dask"])
def test_import_l2reg_does_not_import_optional_packages(optional):
    import subprocess
    import sys

    code = f"import sys, l2reg; print({optional!r} in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_import_l2reg_is_lazy_and_every_public_name_resolves():
    """``import l2reg`` loads neither scikit-learn nor SciPy; each name of ``__all__``
    then resolves to the object its home module defines, and ``dir`` lists it."""
    import importlib
    import subprocess
    import sys

    import l2reg

    code = "import sys, l2reg; print(sorted({'sklearn', 'scipy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
    for name in l2reg.__all__:
        value = getattr(l2reg, name)
        if name in l2reg._HOMES:
            assert value is getattr(importlib.import_module(l2reg._HOMES[name]), name)
        assert name in dir(l2reg)
    assert set(l2reg._HOMES) | {"conventions", "penalties", "__version__"} == set(l2reg.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Lasso'"):
        l2reg.Lasso  # noqa: B018
    # Submodules stay reachable as attributes, as after an eager import.
    code = "import l2reg as m; print(m.linear_model.Ridge is m.Ridge, m.io.save is m.save)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["True", "True"], result.stderr
