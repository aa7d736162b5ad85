"""The digits example runs and shows what it claims (with few epochs, to be fast)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plot_torch_weight_decay.py"


def test_example_weight_decay_shrinks_weights_and_equals_penalty(tmp_path):
    env = {**os.environ, "L2REG_EXAMPLE_EPOCHS": "5"}
    # cwd=tmp_path: the optional PNG (if matplotlib is installed) lands there.
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if cells[0] in ("no L2", "weight_decay", "l2_penalty"):
            rows[cells[0]] = [float(cell) for cell in cells[1:]]
    assert set(rows) == {"no L2", "weight_decay", "l2_penalty"}, result.stdout
    sq_norm = {name: row[-1] for name, row in rows.items()}
    # L2 keeps the weights smaller than the same training without it...
    assert sq_norm["weight_decay"] < 0.95 * sq_norm["no L2"]
    # ...and weight_decay = 2 * alpha is the explicit penalty, step for step.
    assert rows["weight_decay"] == rows["l2_penalty"]
    max_diff = re.search(
        r"max \|theta\(weight_decay\) - theta\(l2_penalty\)\| = (\S+)", result.stdout
    )
    assert max_diff is not None and float(max_diff.group(1)) < 1e-10
