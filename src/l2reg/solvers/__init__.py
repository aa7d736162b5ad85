"""Solvers: functions of a Problem that return a frozen SolverResult, chosen from a registry."""

from l2reg.solvers import (
    coordinate,  # noqa: F401  (registers the elastic net's coordinate descent "cd")
    direct,  # noqa: F401  (registers the direct solvers)
    krylov,  # noqa: F401  (registers "cg", the iterative solver for large sparse X)
    lbfgs,  # noqa: F401  (registers the GLM L-BFGS solver)
    newton,  # noqa: F401  (registers the GLM Newton solvers)
    svd,  # noqa: F401  (registers the stable svd solver, the direct solvers' fallback)
)
from l2reg.solvers._registry import Capabilities, get_solver, registered_solvers
from l2reg.solvers._result import Certificate, SolverResult

__all__ = ["Capabilities", "Certificate", "SolverResult", "get_solver", "registered_solvers"]
