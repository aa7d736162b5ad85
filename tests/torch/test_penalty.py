"""l2_penalty: its value and its gradient, derived from alpha * ||theta||^2."""

import math

import pytest
import torch
from torch import nn

from l2reg.exceptions import InvalidParameterError
from l2reg.torch import l2_penalty

pytestmark = pytest.mark.torch

# float64 everywhere: value and gradient are elementary operations, so they must
# agree with the formula to a few ulps, not to a loose tolerance.
RTOL = 1e-12


@pytest.mark.parametrize("alpha", [0.0, 1e-4, 0.37, 5.0])
def test_gradient_is_two_alpha_theta_on_selected_zero_elsewhere(architecture, alpha):
    _, module, expected = architecture
    # One name per parameter object (tied weights appear once).
    named = list(module.named_parameters())
    penalty = l2_penalty(module, alpha)
    if not expected:  # nothing selected: a constant zero, outside the graph
        assert penalty.item() == 0.0 and not penalty.requires_grad
        return
    grads = torch.autograd.grad(penalty, [p for _, p in named], allow_unused=True)
    for (name, param), grad in zip(named, grads, strict=True):
        grad = torch.zeros_like(param) if grad is None else grad
        want = 2 * alpha * param.detach() if name in expected else torch.zeros_like(param)
        torch.testing.assert_close(grad, want, rtol=RTOL, atol=0, msg=name)


def test_value_is_alpha_times_sum_of_squares_of_selected():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)).double()
    sum_sq = module[0].weight.square().sum() + module[2].weight.square().sum()
    value = l2_penalty(module, 0.25)
    assert value.ndim == 0
    assert math.isclose(value.item(), 0.25 * sum_sq.item(), rel_tol=RTOL)
    everything = sum(p.square().sum() for p in module.parameters())
    assert math.isclose(l2_penalty(module, 0.25, exclude=None).item(), 0.25 * everything.item())


def test_empty_selection_gives_a_zero_of_the_module_dtype():
    module = nn.LayerNorm(3).double()
    value = l2_penalty(module, 1.0)
    assert value.item() == 0.0 and value.dtype == torch.float64
    assert l2_penalty(nn.ReLU(), 1.0).item() == 0.0


def test_penalty_does_not_modify_the_module():
    module = nn.Linear(3, 2)
    module.bias.requires_grad_(False)
    l2_penalty(module, 1.0).backward()
    assert module.weight.requires_grad and not module.bias.requires_grad
    assert module.bias.grad is None


@pytest.mark.parametrize("alpha", [-1.0, math.nan, math.inf, True, "0.1", None])
def test_invalid_alpha_is_rejected(alpha):
    with pytest.raises(InvalidParameterError, match="l2_penalty: 'alpha'"):
        l2_penalty(nn.Linear(2, 2), alpha)
