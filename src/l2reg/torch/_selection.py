"""Which parameters of a module an L2 penalty (or weight decay) applies to.

The selector rules are documented once, in the docstring of :mod:`l2reg.torch`;
this module implements them.  Output order always follows
``module.named_parameters()``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any, TypeAlias

from torch import nn

from l2reg.exceptions import InvalidParameterError

__all__ = ["DEFAULT_EXCLUDE", "Selector", "named_penalized_parameters", "split_parameters"]

Selector: TypeAlias = str | type[nn.Module] | Callable[[str, nn.Parameter, nn.Module], bool]

# Biases: Linear/Conv ``bias``, RNN ``bias_ih_l0`` / ``bias_hh_l0_reverse``,
# MultiheadAttention ``in_proj_bias`` and its learned ``bias_k`` / ``bias_v``.
_BIAS_PATTERNS = ("bias", "bias_*", "*_bias")

# Public classes only, looked up by name so that a class a torch version lacks
# (RMSNorm before 2.4) is simply absent.  Lazy variants are listed because they
# only become their non-lazy class after the first forward pass.
_NORM_CLASS_NAMES = (
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "SyncBatchNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
    "LocalResponseNorm",
)
_EMBEDDING_CLASS_NAMES = ("Embedding", "EmbeddingBag")

#: The default ``exclude``: biases, normalization-layer parameters and embeddings.
#: Extend it rather than retyping it: ``exclude=(*DEFAULT_EXCLUDE, "pos_embed")``.
DEFAULT_EXCLUDE: tuple[Selector, ...] = (
    *_BIAS_PATTERNS,
    *(
        getattr(nn, name)
        for name in _NORM_CLASS_NAMES + _EMBEDDING_CLASS_NAMES
        if hasattr(nn, name)
    ),
)


def _as_selectors(caller: str, argname: str, value: Any) -> tuple[Selector, ...]:
    """Normalize one selector or an iterable of them, checking each kind."""
    if value is None:
        return ()
    # A string or a class is one selector, although both are iterable/callable.
    items = (value,) if isinstance(value, str | type) else value
    try:
        items = tuple(items)
    except TypeError:
        items = (value,)
    for item in items:
        # A module *instance* is callable too, but calling it as a predicate would
        # run its forward pass: ask for its class or a name pattern instead.
        ok = (
            isinstance(item, str)
            or (isinstance(item, type) and issubclass(item, nn.Module))
            or (not isinstance(item, type | nn.Module) and callable(item))
        )
        if not ok:
            raise InvalidParameterError(
                f"{caller}: each '{argname}' selector must be a name pattern (str), an "
                f"nn.Module subclass or a callable(name, parameter, owner); got {item!r}."
            )
    return items


def _matches(selector: Selector, name: str, param: nn.Parameter, owner: nn.Module) -> bool:
    if isinstance(selector, str):
        target = name if "." in selector else name.rpartition(".")[2]
        return fnmatch.fnmatchcase(target, selector)
    if isinstance(selector, type):
        return isinstance(owner, selector)
    return bool(selector(name, param, owner))


def _occurrences(module: nn.Module) -> dict[int, list[tuple[str, nn.Module]]]:
    """Every (qualified name, owning module) under which each parameter is registered."""
    found: dict[int, list[tuple[str, nn.Module]]] = {}
    # remove_duplicate=False: a shared module or parameter shows every one of its
    # names, so that a rule matching any of them is seen.
    for prefix, owner in module.named_modules(remove_duplicate=False):
        for local, param in owner.named_parameters(recurse=False, remove_duplicate=False):
            name = f"{prefix}.{local}" if prefix else local
            found.setdefault(id(param), []).append((name, owner))
    return found


def split_parameters(
    caller: str, module: Any, include: Any, exclude: Any
) -> tuple[list[tuple[str, nn.Parameter]], list[tuple[str, nn.Parameter]]]:
    """Split ``module.named_parameters()`` into (selected, not selected).

    Both lists keep the order of ``module.named_parameters()`` (which lists
    each parameter once, under its first name), so that optimizer state built
    from them is reproducible.  ``caller`` names the public function in errors.
    """
    if not isinstance(module, nn.Module):
        raise InvalidParameterError(
            f"{caller}: 'module' must be a torch.nn.Module; got {type(module).__name__}."
        )
    include_sel = _as_selectors(caller, "include", include)
    exclude_sel = _as_selectors(caller, "exclude", exclude)
    occurrences = _occurrences(module)

    def any_match(selectors: tuple[Selector, ...], param: nn.Parameter) -> bool:
        return any(
            _matches(sel, name, param, owner)
            for name, owner in occurrences[id(param)]
            for sel in selectors
        )

    selected, rest = [], []
    for name, param in module.named_parameters():
        candidate = include is None or any_match(include_sel, param)
        keep = candidate and not any_match(exclude_sel, param)
        (selected if keep else rest).append((name, param))
    return selected, rest


def named_penalized_parameters(
    module: nn.Module, *, include: Any = None, exclude: Any = DEFAULT_EXCLUDE
) -> list[tuple[str, nn.Parameter]]:
    """The parameters that :func:`l2_penalty` and :func:`param_groups` would penalize.

    Use it to check a selection before training: it applies exactly the rule of
    the other two functions.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    include : selector or iterable of selectors, default=None
        If given, only parameters matching one of these are candidates; ``None``
        makes every parameter a candidate.  A selector is a name pattern (str),
        an ``nn.Module`` subclass or a callable ``(name, parameter, owner) -> bool``.
    exclude : selector or iterable of selectors, default=DEFAULT_EXCLUDE
        Candidates matching one of these are not penalized.  The default leaves
        out biases, normalization-layer parameters and embeddings; ``None`` or
        ``()`` excludes nothing.

    Returns
    -------
    list of (str, torch.nn.Parameter)
        The qualified names and the parameters themselves (not copies), in the
        order of ``module.named_parameters()``.

    Examples
    --------
    >>> from torch import nn
    >>> from l2reg.torch import DEFAULT_EXCLUDE, named_penalized_parameters
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    >>> [name for name, _ in named_penalized_parameters(model)]
    ['0.weight', '2.weight']
    >>> extra = (*DEFAULT_EXCLUDE, "2.*")  # also leave the output layer alone
    >>> [name for name, _ in named_penalized_parameters(model, exclude=extra)]
    ['0.weight']
    """
    selected, _ = split_parameters("named_penalized_parameters", module, include, exclude)
    return selected
