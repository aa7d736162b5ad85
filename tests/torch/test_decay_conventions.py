"""The decoupled-decay helpers of l2reg.conventions, from their definitions.

(Their agreement with real PyTorch optimizers is in test_optimizers.py.)
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2reg.conventions import (
    adamw_decay_per_step,
    adamw_weight_decay,
    decay_shrink_factor,
    from_adamw_weight_decay,
    to_adamw_weight_decay,
    to_torch_weight_decay,
)

pytestmark = pytest.mark.torch

rates = st.lists(st.floats(0.0, 0.1, allow_subnormal=False), max_size=30)


def test_adamw_weight_decay_is_two_alpha_like_coupled_decay():
    assert to_adamw_weight_decay(0.25) == 0.5 == to_torch_weight_decay(0.25)
    assert from_adamw_weight_decay(0.5) == 0.25
    np.testing.assert_array_equal(to_adamw_weight_decay([0.0, 1.0]), [0.0, 2.0])


def test_decay_per_step_round_trip():
    assert adamw_decay_per_step(0.01, 1e-3) == pytest.approx(1e-5, rel=1e-15)
    assert adamw_weight_decay(1e-5, 1e-3) == pytest.approx(0.01, rel=1e-15)
    # Keeping the decay per step fixed when the learning rate triples.
    assert adamw_weight_decay(adamw_decay_per_step(0.01, 1e-3), 3e-3) == pytest.approx(0.01 / 3)


def test_shrink_factor_constant_rate_is_a_power():
    # 10,000 steps at lr=1e-3 with AdamW's default weight_decay=0.01: about exp(-0.1).
    assert decay_shrink_factor(0.01, [1e-3] * 10_000) == pytest.approx(
        math.pow(1 - 1e-5, 10_000), rel=1e-12
    )
    assert decay_shrink_factor(0.01, 1e-3) == pytest.approx(1 - 1e-5, rel=1e-15)
    assert decay_shrink_factor(0.5, []) == 1.0
    assert decay_shrink_factor(0.0, [0.1, 0.2]) == 1.0


@given(first=rates, second=rates, weight_decay=st.floats(0.0, 5.0))
def test_shrink_factor_multiplies_over_concatenated_schedules(first, second, weight_decay):
    whole = decay_shrink_factor(weight_decay, first + second)
    parts = decay_shrink_factor(weight_decay, first) * decay_shrink_factor(weight_decay, second)
    assert whole == pytest.approx(parts, rel=1e-12, abs=1e-300)
    assert 0.0 <= whole <= 1.0  # lr * wd <= 0.5 here: every factor in [0.5, 1]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: decay_shrink_factor(-0.1, [0.1]), "weight_decay"),
        (lambda: decay_shrink_factor([0.1, 0.2], [0.1]), "weight_decay must be a scalar"),
        (lambda: decay_shrink_factor(0.1, [[0.1]]), "learning_rates must be 1-D"),
        (lambda: decay_shrink_factor(0.1, [0.1, math.nan]), "learning_rates"),
        (lambda: adamw_decay_per_step(0.1, 0.0), "lr must be finite and > 0"),
        (lambda: adamw_weight_decay(-1e-5, 1e-3), "decay_per_step"),
        (lambda: to_adamw_weight_decay(-1.0), "alpha"),
    ],
)
def test_invalid_values_are_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
