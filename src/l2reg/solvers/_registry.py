"""Solver registry: name -> solver class with declared capabilities, and the "auto" rule.

One table decides what is allowed (STYLE.md §1.3): the estimators' option
checks, ``solver="auto"``, the docs table and the test matrix all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from l2reg.exceptions import IncompatibleOptionsError

__all__ = [
    "Capabilities",
    "register",
    "get_solver",
    "registered_solvers",
    "capability_table",
    "resolve_solver",
]


@dataclass(frozen=True)
class Capabilities:
    """What a solver supports.

    Attributes
    ----------
    losses : tuple of str
        Loss names it can minimize (``"squared"``, ...).
    dense, sparse : bool
        Input formats.
    iterative : bool
        Iterates to a tolerance: takes ``tol`` and ``max_iter`` options and
        stops on the certificate's relative gradient norm (or duality gap).
    sample_weight, multi_target, penalize_intercept : bool
    zero_alpha : bool
        Handles ``alpha=0`` and rank deficiency exactly (minimum-norm solution).
    float32 : bool
        Can do its heavy work in float32.
    shape : str
        Where it is the natural choice: ``"n >= p"``, ``"p > n"`` or ``"any"``.
    penalties : tuple of str
        Penalty names it can handle: ``"l2"`` (ridge and the L2 GLMs) or
        ``"elastic_net"`` (L1 + L2, :class:`l2reg.ElasticNet`).
    """

    losses: tuple[str, ...]
    dense: bool = True
    sparse: bool = False
    iterative: bool = False
    sample_weight: bool = True
    multi_target: bool = True
    penalize_intercept: bool = True
    zero_alpha: bool = False
    float32: bool = False
    shape: str = "any"
    penalties: tuple[str, ...] = ("l2",)


_REGISTRY: dict[str, type] = {}

#: Losses of the generalized linear models (the GLM rows of the "auto" table).
GLM_LOSSES = ("logistic", "multinomial", "poisson")
#: Newton with an explicit Hessian while it has at most this many rows: its
#: pass costs n P^2 / 2 multiply-adds at BLAS-3 speed (~30x the rate of the
#: memory-bound passes of a Hessian-vector product), so it beats ~20-50 CG
#: products per step up to a few thousand parameters, and its P^3 / 3
#: Cholesky stays below a second.
NEWTON_MAX_PARAMS = 3000
#: Sparse X: Newton only while the dense P x P Hessian stays small next to X
#: (a sparse X^T D X product fills it in), L-BFGS beyond.
NEWTON_SPARSE_MAX_PARAMS = 1000
#: Beyond this, even CG's Newton steps lose to L-BFGS's cheaper iterations.
NEWTON_CG_MAX_PARAMS = 30000
#: Ridge on sparse X: the Gram route (sparse ``X^T W X`` made dense, then the
#: p x p Cholesky) while it has at most this many columns, ``cg`` beyond.  The
#: Gram's p x p float64 matrix is 72 MB at 3,000 columns and its Cholesky
#: ~1e10 flops (~0.3 s); past that, memory and the cubic term outgrow what a few
#: hundred CG iterations (two passes over the stored values each) cost on
#: data of the sizes that have this many columns (benchmarks/sparse.py).
SPARSE_GRAM_MAX_FEATURES = 3000


def register(cls: type) -> type:
    """Class decorator: add a solver class (with ``name`` and ``capabilities``) to the registry."""
    if cls.name in _REGISTRY:
        raise ValueError(f"a solver named {cls.name!r} is already registered.")
    _REGISTRY[cls.name] = cls
    return cls


def get_solver(name: str) -> type:
    """The solver class registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(repr(n) for n in sorted(_REGISTRY))
        raise ValueError(f"unknown solver {name!r}; registered solvers: {known}.") from None


def registered_solvers(loss: str | None = None, *, penalty: str | None = "l2") -> tuple[str, ...]:
    """Names of the registered solvers, optionally only those minimizing ``loss``.

    With a ``loss``, only the solvers handling ``penalty`` are listed (``"l2"``
    by default, so that ridge's and the GLMs' solver choices never offer the
    elastic net's ``"cd"``; None for any penalty).  Without one, every solver.
    """
    return tuple(
        name
        for name, cls in _REGISTRY.items()
        if loss is None
        or (
            loss in cls.capabilities.losses
            and (penalty is None or penalty in cls.capabilities.penalties)
        )
    )


def capability_table() -> str:
    """A Markdown table of every solver's capabilities (used by the docs)."""
    columns = [f.name for f in fields(Capabilities)]
    lines = ["| solver | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for name, cls in _REGISTRY.items():
        caps = cls.capabilities
        cells = []
        for column in columns:
            value = getattr(caps, column)
            if isinstance(value, bool):
                cells.append("yes" if value else "no")
            elif isinstance(value, tuple):
                cells.append(", ".join(value))
            else:
                cells.append(str(value))
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def resolve_solver(
    requested: str,
    *,
    owner: str,
    loss: str,
    n_samples: int,
    n_features: int,
    alpha,
    penalize_intercept: bool = False,
    multi_target: bool = False,
    sparse: bool = False,
    n_outputs: int = 1,
) -> str:
    """The solver to run: the ``"auto"`` decision table, or a checked explicit choice.

    ``"auto"`` for the squared loss:

    =====================================  =============  ===========================
    situation                              solver         why
    =====================================  =============  ===========================
    some alpha is 0                        ``svd``        normal equations would
                                                          square cond(X); min-norm
    n_features > n_samples                 ``kernel``     n x n system is smaller
    otherwise                              ``cholesky``   one rank-k pass over X
    =====================================  =============  ===========================

    ``cholesky`` and ``kernel`` still fall back to ``svd`` (with a warning)
    when their system turns out ill-conditioned.

    Sparse X (CSR or CSC, never densified; ``q`` = n_features, plus one with
    a penalized intercept):

    =====================================  =============  ===========================
    situation                              solver         why
    =====================================  =============  ===========================
    q <= 3000                              ``cholesky``   sparse ``X^T W X`` (cost
                                                          ``sum_i nnz(x_i)^2``) + a
                                                          q x q Cholesky: exact,
                                                          whatever the conditioning
    otherwise                              ``cg``         Jacobi-preconditioned CG,
                                                          two sparse products per
                                                          iteration, O(nnz + q k)
                                                          memory
    =====================================  =============  ===========================

    On sparse X ``cholesky`` falls back to ``cg`` (with a warning) when its
    system is over the accuracy budget.

    ``"auto"`` for the GLM losses (``logistic``, ``multinomial``, ``poisson``),
    with ``P = n_outputs * (n_features + 1)`` parameters:

    =====================================  =============  ===========================
    situation                              solver         why
    =====================================  =============  ===========================
    sparse X and P > 1000                  ``lbfgs``      a dense P x P Hessian would
                                                          dwarf a sparse X
    P <= 3000                              ``newton``     one rank-k pass + a P x P
                                                          Cholesky per step;
                                                          quadratic convergence
    P <= 30000                             ``newton-cg``  Hessian-vector products;
                                                          the P x P Hessian would
                                                          cost more than the CG
    otherwise                              ``lbfgs``      memory O(P)
    =====================================  =============  ===========================
    """
    if requested == "auto" and loss in GLM_LOSSES:
        n_params = n_outputs * (n_features + 1)
        if (sparse and n_params > NEWTON_SPARSE_MAX_PARAMS) or n_params > NEWTON_CG_MAX_PARAMS:
            return "lbfgs"
        return "newton" if n_params <= NEWTON_MAX_PARAMS else "newton-cg"
    if requested == "auto":
        if loss != "squared":
            raise ValueError(f"{owner}: no automatic solver rule for loss {loss!r}.")
        if sparse:
            n_columns = n_features + int(penalize_intercept)
            return "cholesky" if n_columns <= SPARSE_GRAM_MAX_FEATURES else "cg"
        if min(alpha) == 0:
            return "svd"
        return "kernel" if n_features > n_samples else "cholesky"
    capabilities = get_solver(requested).capabilities
    unsupported = []
    if loss not in capabilities.losses:
        unsupported.append(f"the {loss} loss")
    if penalize_intercept and not capabilities.penalize_intercept:
        unsupported.append("penalize_intercept=True")
    if multi_target and not capabilities.multi_target:
        unsupported.append("several targets")
    if sparse and not capabilities.sparse:
        unsupported.append("sparse X")
    if unsupported:
        working = [
            name
            for name in registered_solvers(loss)
            if (not penalize_intercept or _REGISTRY[name].capabilities.penalize_intercept)
            and (not multi_target or _REGISTRY[name].capabilities.multi_target)
            and (not sparse or _REGISTRY[name].capabilities.sparse)
        ]
        raise IncompatibleOptionsError(
            f"{owner}: solver={requested!r} does not support {' or '.join(unsupported)}; "
            f"use one of {', '.join(repr(n) for n in working) or 'none'}."
        )
    return requested
