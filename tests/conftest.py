"""Test configuration: hypothesis profiles and the random-seed fixture (STYLE.md §12)."""

import os

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
