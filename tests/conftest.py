"""Test configuration: hypothesis profiles and the random-seed fixture (STYLE.md §12)."""

import importlib.util
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# "ci" (default): derandomized so a CI failure reproduces; "dev": more examples, random.
settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _seeds():
    """``L2REG_TEST_SEEDS=all`` sweeps 20 seeds; ``=7`` runs seed 7; default seed 0."""
    value = os.environ.get("L2REG_TEST_SEEDS", "0")
    if value == "all":
        return list(range(20))
    return [int(value)]


@pytest.fixture(params=_seeds())
def global_random_seed(request):
    return request.param


@pytest.fixture
def rng(global_random_seed):
    return np.random.default_rng(global_random_seed)


# How scikit-learn's check ids name a namespace and device (one or two pairs).
_ARRAY_API_CASES = (
    re.compile(r"array_namespace=(\w+),device_name=(\w+)"),
    re.compile(r"xp='(\w+)', device='?(\w+)'?\)"),
)


def _array_api_case_available(namespace: str, device: str) -> bool:
    """Whether this machine has the namespace and device a scikit-learn array-API check names."""
    if namespace in ("numpy", "array_api_strict"):
        return True
    if namespace != "torch":  # cupy, dpnp: GPU libraries
        return importlib.util.find_spec(namespace) is not None
    if device in ("cpu", "None"):
        return True
    import torch

    backend = getattr(torch.backends, device, None) if device == "mps" else None
    module = backend if backend is not None else getattr(torch, device, None)
    return bool(module is not None and module.is_available())


def pytest_collection_modifyitems(config, items):
    """Leave out scikit-learn's array-API checks for devices this machine lacks.

    scikit-learn generates one check per (namespace, device) pair and skips the
    absent ones at run time; deselecting them keeps the report's skips for real
    skips.  Every pair present here (NumPy, array-api-strict, PyTorch CPU, and
    CUDA / CuPy where installed) still runs.
    """
    kept, dropped = [], []
    for item in items:
        cases = [case for pattern in _ARRAY_API_CASES for case in pattern.findall(item.nodeid)]
        if all(_array_api_case_available(*case) for case in cases):
            kept.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
