"""L-BFGS (scipy's L-BFGS-B) for L2-penalized GLMs: very many features or sparse X.

Each iteration costs one or a few fused objective-and-gradient evaluations
(two passes over X); no Hessian is formed.  scipy's own stopping rules
(``pgtol`` on the largest gradient entry, ``factr`` on the relative decrease)
are switched off and replaced by l2reg's certificate, checked in the
callback: ``||grad J|| <= tol * (||grad L|| + ||grad penalty||)``.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import scipy.optimize

from l2reg.exceptions import ConvergenceWarning
from l2reg.objective.glm_problem import GLMProblem
from l2reg.solvers._registry import Capabilities, register
from l2reg.solvers._result import SolverResult
from l2reg.solvers.newton import (
    NewtonCGSolver,
    check_separation,
    glm_result,
    warn_not_converged,
)

__all__ = ["LBFGSSolver"]

#: Number of correction pairs kept.  scipy's default is 10; 20 costs 40
#: vectors of length n_params (negligible next to X) and in our tests cut the
#: iterations of ill-conditioned logistic problems by about a third.
MEMORY = 20
#: Newton-CG steps allowed to finish a run that L-BFGS's line search ended
#: early; from a point that close each step gains several digits.
POLISH_STEPS = 10


@register
class LBFGSSolver:
    """Limited-memory BFGS on the flat parameter vector; see the module docstring."""

    name = "lbfgs"
    capabilities = Capabilities(
        losses=("logistic", "multinomial", "poisson"),
        sparse=True,
        iterative=True,
        multi_target=False,
        shape="any",
    )

    def __init__(self, *, tol: float = 1e-8, max_iter: int = 1000):
        self.tol = tol
        self.max_iter = max_iter

    def solve(
        self, problem: GLMProblem, *, init=None, init_raw=None, callback=None
    ) -> SolverResult:
        """Minimize ``problem``'s objective from ``init`` (flat parameters) or the default start.

        ``init_raw``, the linear predictor at ``init`` when the caller knows it,
        saves the pass over X of the first evaluation.
        """
        params = problem.initial_params() if init is None else np.array(init, dtype=np.float64)
        cache = {}

        def fun(x):
            evaluation = problem.evaluate(x, hessian=False)
            cache["x"], cache["evaluation"] = x.copy(), evaluation
            value = evaluation.objective
            if not np.isfinite(value):  # overflow (Poisson): tell the line search to back off
                return np.inf, np.zeros_like(x)
            return value, evaluation.gradient

        state = {"n_iter": 0, "converged": False, "stopped": False}

        def monitor(intermediate_result):
            state["n_iter"] += 1
            x = intermediate_result.x
            if "x" not in cache or not np.array_equal(cache["x"], x):
                fun(x)
            evaluation = cache["evaluation"]
            check_separation(problem, evaluation.raw, state["n_iter"])
            if evaluation.relative_gradient_norm <= self.tol:
                state["converged"] = True
                raise StopIteration
            if callback is not None:
                try:
                    callback(glm_result(problem, x, evaluation, self.name, state["n_iter"], False))
                except StopIteration:
                    state["stopped"] = True
                    raise

        first = problem.evaluate(params, None if init is None else init_raw, hessian=False)
        if first.relative_gradient_norm <= self.tol:
            return glm_result(problem, params, first, self.name, 0, True)
        outcome = scipy.optimize.minimize(
            fun,
            params,
            jac=True,
            method="L-BFGS-B",
            callback=monitor,
            options={
                "maxiter": self.max_iter,
                "maxfun": 4 * self.max_iter + 20,
                "maxcor": MEMORY,
                "gtol": 0.0,
                "ftol": 0.0,
            },
        )
        x = outcome.x
        if "x" not in cache or not np.array_equal(cache["x"], x):
            fun(x)
        evaluation = cache["evaluation"]
        converged = state["converged"] or evaluation.relative_gradient_norm <= self.tol
        message = str(outcome.message)
        name = self.name
        if not converged and not state["stopped"] and state["n_iter"] < self.max_iter:
            # L-BFGS's line search needs a decrease of the objective, which
            # rounding hides once the relative gradient is ~1e-8: finish with a
            # few Newton-CG steps, which judge such steps by the gradient norm.
            polished = NewtonCGSolver(tol=self.tol, max_iter=POLISH_STEPS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = polished.solve(problem, init=x)
            return (
                replace(
                    result,
                    solver=f"{self.name}+newton-cg",
                    n_iter=state["n_iter"] + result.n_iter,
                    message=f"L-BFGS: {message}; then Newton-CG: {result.message or 'converged'}",
                )
                if result.converged
                else self._warn(problem, result, state, message)
            )
        if not converged and not state["stopped"]:
            warn_not_converged(
                problem,
                self.name,
                evaluation.relative_gradient_norm,
                self.tol,
                state["n_iter"],
                message,
            )
        return glm_result(problem, x, evaluation, name, state["n_iter"], converged, message)

    def _warn(self, problem, result, state, message):
        warn_not_converged(
            problem,
            self.name,
            result.certificate.relative_gradient_norm,
            self.tol,
            state["n_iter"] + result.n_iter,
            message,
        )
        return replace(result, solver=f"{self.name}+newton-cg", converged=False)
