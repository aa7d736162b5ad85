"""param_groups: every parameter in exactly one group, decay only where selected."""

import math

import pytest
import torch
from torch import nn

from l2reg.exceptions import InvalidParameterError
from l2reg.torch import named_penalized_parameters, param_groups

pytestmark = pytest.mark.torch


def test_groups_cover_every_parameter_exactly_once(architecture):
    _, module, expected = architecture
    decayed, other = param_groups(module, weight_decay=0.01)
    in_groups = [id(p) for p in decayed["params"] + other["params"]]
    assert len(in_groups) == len(set(in_groups)), "a parameter is in two groups"
    assert set(in_groups) == {id(p) for p in module.parameters()}, "a parameter is lost"
    assert len(in_groups) == len(list(module.parameters()))


def test_decayed_group_is_the_penalized_selection(architecture):
    _, module, expected = architecture
    decayed, other = param_groups(module, weight_decay=0.01)
    by_id = {id(p): name for name, p in module.named_parameters()}
    assert {by_id[id(p)] for p in decayed["params"]} == expected
    assert [id(p) for p in decayed["params"]] == [
        id(p) for _, p in named_penalized_parameters(module)
    ]
    assert decayed["weight_decay"] == 0.01 and other["weight_decay"] == 0.0


def test_groups_keep_parameter_order_and_frozen_parameters():
    module = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3), nn.Linear(3, 1))
    module[2].weight.requires_grad_(False)
    decayed, other = param_groups(module, weight_decay=1e-3)
    assert decayed["params"] == [module[0].weight, module[2].weight]
    assert other["params"] == [module[0].bias, module[1].weight, module[1].bias, module[2].bias]
    assert not module[2].weight.requires_grad  # untouched


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9),
        lambda groups: torch.optim.Adam(groups, lr=1e-3),
        lambda groups: torch.optim.AdamW(groups, lr=1e-3),
    ],
    ids=["SGD", "Adam", "AdamW"],
)
def test_groups_are_accepted_by_optimizers(make_optimizer):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    optimizer = make_optimizer(param_groups(module, weight_decay=0.5))
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.5, 0.0]
    module(torch.randn(4, 2)).sum().backward()
    optimizer.step()


def test_empty_groups_are_kept_for_stable_positions():
    decayed, other = param_groups(nn.LayerNorm(3), weight_decay=0.1)
    assert decayed["params"] == [] and len(other["params"]) == 2


@pytest.mark.parametrize("weight_decay", [-0.1, math.nan, "1e-4"])
def test_invalid_weight_decay_is_rejected(weight_decay):
    with pytest.raises(InvalidParameterError, match="param_groups: 'weight_decay'"):
        param_groups(nn.Linear(2, 2), weight_decay)
