"""L2 regularization for PyTorch models: explicit penalty and weight-decay groups.

Install with ``pip install "l2reg[torch]"``.  ``import l2reg`` never imports
PyTorch; only importing this subpackage does.

The convention is l2reg's (:mod:`l2reg.conventions`): a *mean* loss plus
``alpha * ||theta||^2`` over the penalized parameters, which coupled
``weight_decay = 2 * alpha`` reproduces in ``torch.optim.SGD`` and ``Adam``.

Which parameters are penalized
------------------------------
By default the weights of linear, convolutional, recurrent and attention layers
(and any other parameter not excluded) are penalized; biases,
normalization-layer parameters (BatchNorm, InstanceNorm, LayerNorm, GroupNorm,
RMSNorm) and embeddings are not (:data:`DEFAULT_EXCLUDE`).  ``include`` and
``exclude`` take a selector or an iterable of selectors; a selector is

* a string: a shell-style glob (:mod:`fnmatch`, case-sensitive).  A pattern
  with a dot is matched against the qualified name as in
  ``module.named_parameters()`` (``"encoder.*.weight"``); a pattern without a
  dot is matched against the parameter's own name, the part after the last dot
  (``"bias"`` matches ``"0.bias"`` and ``"head.bias"``), as a ``.gitignore``
  pattern without a slash matches a file name in any folder;
* a subclass of :class:`torch.nn.Module`: matches the parameters registered
  directly on an instance of that class (``nn.LayerNorm``);
* a callable ``predicate(name, parameter, owner) -> bool`` for anything else
  (``lambda name, p, owner: p.ndim <= 1``), called with the qualified name, the
  parameter and the module that registers it.

``include=None`` makes every parameter a candidate; ``exclude`` then removes
candidates.  A parameter shared by several modules (tied weights) is a
candidate when *any* of its names/owners matches ``include`` and excluded when
*any* matches ``exclude``: a weight tied to an embedding is not penalized by
default, like the embedding.  To add rules to the default, extend it:
``exclude=(*DEFAULT_EXCLUDE, "pos_embed")``.
"""

try:
    import torch as _torch  # noqa: F401  (fail here, with the fix, not deep inside)
except ImportError as error:  # pragma: no cover - the test environment has torch
    raise ImportError(
        "l2reg.torch needs PyTorch, which is not installed; "
        'install it with: pip install "l2reg[torch]"'
    ) from error

from l2reg.torch._groups import param_groups
from l2reg.torch._penalty import l2_penalty
from l2reg.torch._selection import DEFAULT_EXCLUDE, named_penalized_parameters

__all__ = ["DEFAULT_EXCLUDE", "l2_penalty", "named_penalized_parameters", "param_groups"]
