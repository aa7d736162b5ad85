"""l2reg.torch as a package: lazy torch import, public names, doctests."""

import doctest
import subprocess
import sys

import pytest

import l2reg.conventions
import l2reg.torch
from l2reg.torch import _groups, _penalty, _selection

pytestmark = pytest.mark.torch


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_core_import_does_not_import_torch():
    result = run_python(
        "import sys, l2reg, l2reg.conventions\n"
        "assert 'torch' not in sys.modules, 'import l2reg pulled in torch'\n"
    )
    assert result.returncode == 0, result.stderr


def test_missing_torch_gives_an_install_hint():
    # A meta-path finder that refuses "torch" simulates an environment without it
    # (sys.modules["torch"] = None would break scipy, which inspects sys.modules).
    result = run_python(
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "try:\n    import l2reg.torch\nexcept ImportError as e:\n    print(e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "l2reg[torch]"' in result.stdout


def test_public_names():
    assert l2reg.torch.__all__ == [
        "DEFAULT_EXCLUDE",
        "l2_penalty",
        "named_penalized_parameters",
        "param_groups",
    ]
    for name in l2reg.torch.__all__:
        assert hasattr(l2reg.torch, name)
    for name in l2reg.conventions.__all__:
        assert hasattr(l2reg.conventions, name)


@pytest.mark.parametrize(
    "obj",
    [
        _penalty.l2_penalty,
        _groups.param_groups,
        _selection.named_penalized_parameters,
        l2reg.conventions.decay_shrink_factor,
    ],
    ids=lambda obj: obj.__name__,
)
def test_docstring_examples(obj):
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    module = sys.modules[obj.__module__]
    for test in finder.find(obj, module=module, globs=dict(vars(module))):
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0
