"""The explicit L2 penalty term ``alpha * ||theta||^2`` of a module."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from l2reg.torch._checks import check_nonnegative_real
from l2reg.torch._selection import DEFAULT_EXCLUDE, split_parameters

__all__ = ["l2_penalty"]


def l2_penalty(
    module: nn.Module, alpha: float, *, include: Any = None, exclude: Any = DEFAULT_EXCLUDE
) -> torch.Tensor:
    r"""The L2 penalty ``alpha * sum of squared selected parameters``, differentiable.

    Add it to a *mean* training loss to minimize l2reg's objective
    ``mean loss + alpha * ||theta||^2``.  Its gradient is ``2 * alpha * theta``
    on the selected parameters and zero on the others, which is what coupled
    ``weight_decay = 2 * alpha`` adds in ``torch.optim.SGD`` and ``Adam``
    (:func:`l2reg.conventions.to_torch_weight_decay`).

    Parameters
    ----------
    module : torch.nn.Module
        The model.  It is not modified (no ``requires_grad`` change).
    alpha : float
        Penalty strength, finite and >= 0.
    include : selector or iterable of selectors, default=None
        If given, only parameters matching one of these are candidates.  A
        selector is a name pattern (str), an ``nn.Module`` subclass or a
        callable ``(name, parameter, owner) -> bool``; see
        :mod:`l2reg.torch` for the matching rules.
    exclude : selector or iterable of selectors, default=DEFAULT_EXCLUDE
        Candidates matching one of these are not penalized.  The default leaves
        out biases, normalization-layer parameters and embeddings.

    Returns
    -------
    torch.Tensor
        A 0-dim tensor, connected to the graph of the selected parameters.  With
        no parameter selected it is a constant zero (on the device and with the
        dtype of the module's first parameter, if any), which can still be added
        to a loss.

    See Also
    --------
    param_groups : the same selection, as optimizer groups for ``weight_decay``.
    named_penalized_parameters : list the parameters this penalizes.

    Examples
    --------
    >>> import torch
    >>> from l2reg.torch import l2_penalty
    >>> layer = torch.nn.Linear(3, 1)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(2.0)
    >>> l2_penalty(layer, 0.5).item()  # bias excluded: 0.5 * 3 * 2**2
    6.0
    """
    alpha = check_nonnegative_real("l2_penalty", "alpha", alpha)
    selected, rest = split_parameters("l2_penalty", module, include, exclude)
    if not selected:
        if not rest:
            return torch.zeros(())
        like = rest[0][1]
        return torch.zeros((), dtype=like.dtype, device=like.device)
    # Sum per-parameter sums rather than concatenating: no copy of the weights.
    total = sum(param.square().sum() for _, param in selected)
    return alpha * total
