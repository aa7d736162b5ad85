"""Which parameters are penalized: the default rule and the selector language."""

import pytest
import torch
from torch import nn

from l2reg.exceptions import InvalidParameterError
from l2reg.torch import DEFAULT_EXCLUDE, named_penalized_parameters

pytestmark = pytest.mark.torch


def names(module, **kwargs):
    return [name for name, _ in named_penalized_parameters(module, **kwargs)]


def test_default_selection_matches_hand_written_names(architecture):
    _, module, expected = architecture
    assert set(names(module)) == expected


def test_selection_keeps_named_parameters_order():
    module = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 3), nn.Linear(3, 1))
    assert names(module) == ["0.weight", "1.weight", "2.weight"]


def test_every_default_norm_and_embedding_class_is_excluded():
    modules = nn.ModuleList(
        [
            nn.BatchNorm1d(3),
            nn.BatchNorm3d(3),
            nn.InstanceNorm2d(3, affine=True),
            nn.LayerNorm(3),
            nn.GroupNorm(1, 3),
            nn.RMSNorm(3),
            nn.Embedding(4, 3),
            nn.EmbeddingBag(4, 3),
        ]
    )
    assert names(modules) == []
    assert nn.SyncBatchNorm in DEFAULT_EXCLUDE and nn.LazyBatchNorm2d in DEFAULT_EXCLUDE


def test_exclude_none_selects_everything():
    module = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    expected = [name for name, _ in module.named_parameters()]
    assert names(module, exclude=None) == expected
    assert names(module, exclude=()) == expected


def test_pattern_without_dot_matches_own_name_with_dot_matches_qualified_name():
    module = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 1)))
    # "weight" (no dot) matches every weight; "0.weight" only the top-level one.
    assert names(module, exclude="weight") == ["0.bias", "1.0.bias"]
    assert names(module, exclude=("bias", "0.weight")) == ["1.0.weight"]
    assert names(module, exclude=None, include="1.*") == ["1.0.weight", "1.0.bias"]
    # "*.0.*" needs a prefix before "0": the top-level "0.weight" does not match it.
    assert names(module, exclude=None, include="*.0.*") == ["1.0.weight", "1.0.bias"]


def test_module_type_selector_matches_direct_parameters_only():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
            self.inner = nn.Linear(3, 3)

    module = Block()
    # Block's own "scale" only, not the parameters of its children.
    assert names(module, exclude=(Block, "bias")) == ["inner.weight"]
    assert names(module, include=nn.Linear) == ["inner.weight"]
    assert names(module, include=nn.Linear, exclude=None) == ["inner.weight", "inner.bias"]


def test_callable_selector_receives_name_parameter_owner():
    module = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    seen = []

    def one_dimensional(name, param, owner):
        seen.append((name, type(owner).__name__))
        return param.ndim <= 1

    assert names(module, exclude=one_dimensional) == ["0.weight"]
    assert ("1.weight", "LayerNorm") in seen


def test_extending_the_default():
    module = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    assert names(module, exclude=(*DEFAULT_EXCLUDE, "1.*")) == ["0.weight"]


def test_include_and_exclude_combine():
    module = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3), nn.Linear(3, 1))
    # include narrows the candidates; the default exclude still drops the bias.
    assert names(module, include=["2.*"]) == ["2.weight"]
    assert names(module, include=[]) == []


def test_shared_module_is_listed_once_and_any_name_can_exclude_it():
    shared = nn.Linear(3, 3)
    module = nn.Sequential(shared, nn.ReLU(), shared)
    assert names(module) == ["0.weight"]
    # Its second name "2.weight" excludes it although named_parameters calls it "0.weight".
    assert names(module, exclude=("bias", "2.weight")) == []


def test_selection_does_not_modify_the_module():
    module = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    module[0].bias.requires_grad_(False)
    before = {name: (p.requires_grad, p.detach().clone()) for name, p in module.named_parameters()}
    names(module)
    for name, p in module.named_parameters():
        assert p.requires_grad == before[name][0]
        assert torch.equal(p, before[name][1])


def test_frozen_parameters_are_still_selected():
    module = nn.Linear(2, 3)
    module.weight.requires_grad_(False)
    assert names(module) == ["weight"]


@pytest.mark.parametrize(
    "bad", [3, nn.Linear(2, 2), int, ["bias", 1.5]], ids=["int", "instance", "class", "list"]
)
def test_invalid_selector_is_rejected(bad):
    with pytest.raises(InvalidParameterError, match="'exclude' selector"):
        names(nn.Linear(2, 2), exclude=bad)


def test_non_module_is_rejected():
    with pytest.raises(InvalidParameterError, match="must be a torch.nn.Module; got list"):
        named_penalized_parameters([nn.Parameter(torch.ones(2))])
