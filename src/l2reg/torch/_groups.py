"""Optimizer parameter groups: weight decay on the selected parameters, none elsewhere."""

from __future__ import annotations

from typing import Any

from torch import nn

from l2reg.torch._checks import check_nonnegative_real
from l2reg.torch._selection import DEFAULT_EXCLUDE, split_parameters

__all__ = ["param_groups"]


def param_groups(
    module: nn.Module,
    weight_decay: float,
    *,
    include: Any = None,
    exclude: Any = DEFAULT_EXCLUDE,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups with ``weight_decay`` on the selected parameters only.

    Every parameter of ``module`` appears in exactly one group, in the order of
    ``module.parameters()``; frozen parameters (``requires_grad=False``) are
    included, optimizers skip them while they have no gradient.

    Parameters
    ----------
    module : torch.nn.Module
        The model.  It is not modified.
    weight_decay : float
        The optimizer's ``weight_decay`` for the selected parameters, finite and
        >= 0.  For coupled decay (``SGD``, ``Adam``) use
        ``l2reg.conventions.to_torch_weight_decay(alpha)``, i.e. ``2 * alpha``.
        For ``AdamW`` it is the learning-rate-scaled decoupled decay, which is
        not an L2 penalty (see ``docs/torch.md``).
    include : selector or iterable of selectors, default=None
        If given, only parameters matching one of these are candidates for
        decay.  See :mod:`l2reg.torch` for selectors.
    exclude : selector or iterable of selectors, default=DEFAULT_EXCLUDE
        Candidates matching one of these get no decay.  The default leaves out
        biases, normalization-layer parameters and embeddings.

    Returns
    -------
    list of dict
        Always two groups, so that their positions are stable:
        ``[{"params": decayed, "weight_decay": weight_decay},
        {"params": others, "weight_decay": 0.0}]``; either list may be empty.
        Pass it as the optimizer's first argument; other options (``lr``...)
        can be added to each dict.

    See Also
    --------
    l2_penalty : the same selection, as an explicit penalty term.

    Examples
    --------
    >>> import torch
    >>> from l2reg.torch import param_groups
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    >>> groups = param_groups(model, weight_decay=1e-4)
    >>> [len(group["params"]) for group in groups]  # Linear weight | bias, norm
    [1, 3]
    >>> optimizer = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    """
    weight_decay = check_nonnegative_real("param_groups", "weight_decay", weight_decay)
    selected, rest = split_parameters("param_groups", module, include, exclude)
    return [
        {"params": [param for _, param in selected], "weight_decay": weight_decay},
        {"params": [param for _, param in rest], "weight_decay": 0.0},
    ]
