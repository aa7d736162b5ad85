"""Every script in examples/ runs to completion (quick settings), as a user would run it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))
QUICK = {
    "L2REG_EXAMPLE_BOOTSTRAPS": "40",
    "L2REG_EXAMPLE_ALPHAS": "4",
    "L2REG_EXAMPLE_EPOCHS": "5",
    "MPLBACKEND": "Agg",
}


def run_example(script, output):
    """Run ``script`` as a user would, with quick settings, writing into ``output``."""
    env = {**os.environ, **QUICK, "L2REG_EXAMPLE_OUTPUT": str(output)}
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=output,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    assert run_example(script, tmp_path).stdout.strip()


def test_correlated_example_shows_the_variance_reduction(tmp_path):
    script = next(p for p in EXAMPLES if p.stem == "plot_correlated_features")
    result = run_example(script, tmp_path)
    reduction = float(result.stdout.split("variance reduction (total):")[1].split("x")[0])
    assert reduction > 2.0
    assert (tmp_path / "correlated_features.png").exists()
