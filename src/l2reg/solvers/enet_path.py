"""Elastic-net paths: alpha_max exactly, then warm-started coordinate descent down a grid.

The path layer of :func:`l2reg.elastic_net_path` and :class:`l2reg.ElasticNetCV`
(one path per training fold and l1_ratio).  It lives with the solvers because
it needs only an :class:`~l2reg.objective.enet_problem.ElasticNetProblem` and
the ``cd`` solver's data state, so ``model_selection`` may import it.

Every alpha of a path is a :class:`~l2reg.solvers.coordinate.CoordinateDescent`
solve of the same problem with another penalty (``dataclasses.replace``
shares the problem's cache), so the Gram matrix, or the column norms of the
residual mode, are built once for the whole path.  Each solve starts from the
previous alpha's solution; its first outer iteration then applies gap-safe
screening at that warm start (the *sequential* gap-safe rule of Ndiaye et al.,
JMLR 2017), and its first working set holds the previous support plus the
strongest violators of the optimality conditions, which plays the part of the
sequential strong rule (Tibshirani et al., JRSS-B 2012) with an exact check.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
from scipy.optimize import nnls

from l2reg._warnings import user_stacklevel
from l2reg.exceptions import ConvergenceWarning
from l2reg.objective.enet_problem import ElasticNetProblem
from l2reg.objective.penalties import ElasticNet
from l2reg.solvers._result import SolverResult
from l2reg.solvers.coordinate import CoordinateDescent, _data_state, choose_mode

__all__ = ["MIN_GRID_L1_RATIO", "alpha_max", "path_mode", "solve_enet_path"]

#: Below this l1_ratio the largest useful alpha is computed as if l1_ratio were
#: this value: with no L1 part no finite alpha sets every coefficient to zero.
#: glmnet uses the same value for its lambda grid when alpha = 0.
MIN_GRID_L1_RATIO = 1e-3


def path_mode(problem: ElasticNetProblem, mode: str = "auto") -> str:
    """``"gram"`` or ``"residual"``: a statistics-only problem has Gram mode only."""
    if problem.X is None:
        if mode not in ("auto", "gram"):
            raise ValueError(f"{problem.owner}: a problem given by statistics needs mode='gram'.")
        return "gram"
    return choose_mode(problem.n_samples, problem.n_features) if mode == "auto" else mode


def _null_correlations(problem: ElasticNetProblem, mode: str) -> np.ndarray:
    """``X_c^T V r0``, with ``r0`` the residual when every penalized coefficient is 0.

    Without unpenalized features (``penalty_factor == 0``) ``r0 = y_c``.  With
    some, they are fitted by least squares on their own (non-negative least
    squares when ``positive``) from their Gram columns.
    """
    state = _data_state(problem, mode)
    q = np.asarray(state.q, dtype=np.float64)
    free = np.flatnonzero(problem.penalty.factors(problem.n_features) == 0)
    if free.size == 0:
        return q
    gram_u = state.gram_columns(free)
    gram_uu, q_u = gram_u[free], q[free]
    if problem.penalty.positive:
        # min_d d.G.d / 2 - q.d over d >= 0, as NNLS on a square root of G_UU.
        values, vectors = np.linalg.eigh(gram_uu)
        keep = values > values.max(initial=0.0) * free.size * np.finfo(float).eps
        root = np.sqrt(values[keep])
        delta = nnls((vectors[:, keep] * root).T, (vectors[:, keep].T @ q_u) / root)[0]
    else:
        delta = np.linalg.lstsq(gram_uu, q_u, rcond=None)[0]
    return q - gram_u @ delta


def alpha_max(problem: ElasticNetProblem, mode: str = "auto") -> float:
    """The smallest alpha at which every penalized coefficient is 0.

    ``theta = 0`` (unpenalized features fitted) is optimal iff
    ``|z0_j| <= alpha * l1_ratio * pf_j`` for every penalized j, with ``z0``
    the correlations of :func:`_null_correlations` (only ``z0_j > 0`` counts
    when ``positive``): so ``alpha_max = max_j |z0_j| / (l1_ratio * pf_j)``.
    ``l1_ratio`` below :data:`MIN_GRID_L1_RATIO` is taken as that value.
    Returns 0 when nothing correlates with the target (a constant y).
    """
    mode = path_mode(problem, mode)
    z = _null_correlations(problem, mode)
    factors = problem.penalty.factors(problem.n_features)
    ratio = max(float(problem.penalty.l1_ratio), MIN_GRID_L1_RATIO)
    penalized = factors > 0
    magnitude = np.maximum(z, 0.0) if problem.penalty.positive else np.abs(z)
    return float(np.max(magnitude[penalized] / factors[penalized], initial=0.0) / ratio)


def solve_enet_path(
    problem: ElasticNetProblem,
    alphas: np.ndarray,
    *,
    tol: float = 1e-8,
    max_iter: int | None = None,
    mode: str = "auto",
    warn: bool = True,
) -> list[SolverResult]:
    """Solve ``problem`` at every alpha, from the largest down, each started at the last.

    Parameters
    ----------
    problem : ElasticNetProblem
        Its penalty gives ``l1_ratio``, ``penalty_factor`` and ``positive``;
        its ``alpha`` is ignored.
    alphas : ndarray of shape (n_alphas,)
        Positive; any order (solved in decreasing order, returned in this one).
    tol, max_iter
        As :class:`~l2reg.solvers.coordinate.CoordinateDescent`'s, per alpha.
    mode : {"auto", "gram", "residual"}
    warn : bool, default=True
        Replace the solver's warning per alpha by one for the path.  False
        leaves the warnings alone (``warnings.catch_warnings`` is not thread
        safe: callers running paths in threads record warnings around all of
        them and read ``converged`` on the results).

    Returns
    -------
    list of SolverResult
        One per alpha, in the order of ``alphas``.

    Warns
    -----
    ConvergenceWarning
        Once, naming how many alphas did not reach ``tol``.
    """
    mode = path_mode(problem, mode)
    solver = CoordinateDescent(tol=tol, max_iter=max_iter, mode=mode)
    penalty = problem.penalty
    results: list = [None] * len(alphas)
    coef = None
    with warnings.catch_warnings(record=True) if warn else nullcontext([]) as caught:
        if warn:
            warnings.simplefilter("always", ConvergenceWarning)
        for index in np.argsort(-np.asarray(alphas), kind="stable"):
            step = ElasticNet(
                float(alphas[index]), penalty.l1_ratio, penalty.penalty_factor, penalty.positive
            )
            result = solver.solve(replace(problem, penalty=step), init=coef)
            coef = result.coef[0]
            results[index] = result
    if not warn:
        return results
    failed = sum(not result.converged for result in results)
    for record in caught:
        if not issubclass(record.category, ConvergenceWarning):
            warnings.warn(record.message, record.category, stacklevel=user_stacklevel())
    if failed:
        worst = max(result.certificate.duality_gap for result in results)
        warnings.warn(
            f"{problem.owner}: coordinate descent did not reach tol={tol:g} at {failed} of "
            f"{len(alphas)} alphas (largest duality gap {worst:.3e}). Increase max_iter, "
            "loosen tol, or scale the features.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return results
