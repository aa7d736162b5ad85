"""Elastic-net coordinate descent: working sets, gap-safe screening, a duality-gap stop.

The math (problem, dual, gap) is in :mod:`l2reg.objective.enet_problem`; the
inner loops are the kernels of :mod:`l2reg.solvers._kernels`.  This module is
the Python driver around them.

Modes, chosen from the shapes (``mode="auto"``)
-----------------------------------------------
``"gram"`` (covariance updates) when ``n_samples >= n_features`` and
``n_features <= GRAM_MAX_FEATURES``: one pass over X builds the centered Gram
matrix (dense X: the core's one-pass :func:`~l2reg.objective.gram.gram_stats`),
after which an update of coordinate j costs ``O(|working set|)`` instead of
``O(n)``.  The pass costs ``n p^2 / 2`` multiply-adds at BLAS-3 speed, about as
much as ``p / 30`` residual epochs over every feature; CD needs more epochs
than that whenever n >= p.  ``"residual"`` otherwise: the centered residual is
kept in memory and a coordinate update reads one column of X.  A Fortran-ordered
X is read in place; a C-ordered one is never copied whole: each working set's
columns are gathered into a small Fortran block, and the passes over every
feature read X by rows.  Sparse X is CSC and is never densified: centering goes
through a scalar offset of the residual, see
:func:`~l2reg.solvers._kernels.reference.cd_epoch_sparse`.

Outer loop
----------
Each outer iteration computes the correlations ``z = X_c^T V r`` of every
feature (one pass in residual mode, ``O(p * support)`` in Gram mode), the
duality gap, and stops when ``gap <= tol * ||y_c||_v^2``: scikit-learn's rule
(its CD compares its gap with ``tol * y^T y`` on data whose weights sum to
n_samples, the same test in our normalization).  Otherwise it screens out the
features that gap-safe rules prove to be zero at the optimum (Ndiaye et al.,
JMLR 2017) and solves the problem restricted to a working set of the most
promising features (the support, the unpenalized features, then the largest
violations of the optimality conditions; Massias et al., ICML 2018 "celer")
until the working set's own gap drops below ``INNER_GAP_FRACTION`` times the
outer gap, or to the final threshold once the outer gap shows that the
features left out add nothing (``COMPLETE_FACTOR``).  Every ``CHECK_EVERY``
epochs the iterates on the working set are extrapolated (Anderson
acceleration), the extrapolated point kept only when it lowers the objective.
Screened-out features are dropped from the later passes over X once few
remain (``PRUNE_SHARE``); the returned certificate is still the gap of the
whole problem.  ``n_iter`` counts epochs (passes over the working set).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp

from l2reg._warnings import user_stacklevel
from l2reg.exceptions import ConvergenceWarning
from l2reg.objective.enet_problem import ElasticNetProblem, Unpenalized, duality_gap
from l2reg.solvers import _kernels
from l2reg.solvers._registry import Capabilities, register
from l2reg.solvers._result import SolverResult, certificate_from_gradient

__all__ = ["CoordinateDescent", "choose_mode", "GRAM_MAX_FEATURES"]

#: Gram mode holds a p x p matrix: 4096^2 float64 is 128 MiB, the most we take
#: without being asked.
GRAM_MAX_FEATURES = 4096
#: Smallest working set (celer's default p0).
INITIAL_WORKING_SET = 10
#: Largest share of the features in the first working set (:func:`_first_size`):
#: an epoch over 2% of the columns costs a fiftieth of a pass over X.
FIRST_SHARE = 0.02
#: The working set's subproblem is solved to this fraction of the outer gap
#: (celer's choice: tighter wastes epochs on a set that will change, looser
#: needs more outer passes over all features).
INNER_GAP_FRACTION = 0.3
#: Epochs between two checks of the working set's gap (a check costs about one
#: epoch in residual mode), and between two Anderson extrapolations, which
#: combine the last CHECK_EVERY iterates (skglm's AndersonCD keeps 5 + 1).
CHECK_EVERY = 6
#: A working set that did not lower the outer gap below this fraction of the
#: previous one is doubled, so the loop cannot stall on a too-small set.
STALL_FRACTION = 0.9
#: When the outer gap is at most this multiple of the last working set's own
#: gap, the features outside the set hardly matter: the next set is solved to
#: COMPLETE_TARGET times the final threshold directly, instead of in 0.3x steps
#: that each cost a pass over X (2,000 x 20,000: 23 passes became 8).
COMPLETE_FACTOR = 1.5
COMPLETE_TARGET = 0.5
#: Screened-out features are dropped from the passes over X once the remaining
#: ones are at most this share of the columns those passes read: their columns
#: are then copied once (at most this share of X), and the passes shrink with them.
PRUNE_SHARE = 0.25
#: Default cap on the number of epochs.
DEFAULT_MAX_ITER = 10_000


def choose_mode(n_samples: int, n_features: int) -> str:
    """``"gram"`` or ``"residual"`` for ``mode="auto"`` (module docstring)."""
    if n_samples >= n_features and n_features <= GRAM_MAX_FEATURES:
        return "gram"
    return "residual"


class _GramState:
    """Covariance updates: ``G = X_c^T V X_c``, ``q = X_c^T V y_c``, ``z = q - G theta``."""

    computed_from = "sufficient statistics"

    def __init__(self, problem: ElasticNetProblem):
        X = problem.X
        if problem.sparse:
            v = problem.normalized_weights
            x_mean = problem.x_mean
            y_c = problem.y - problem.y_mean
            weighted = sp.diags(v) @ X
            # The sparse product is uncentered; centering subtracts the rank-one
            # term (v sums to one), which loses digits for columns whose mean is
            # large next to their spread.
            self.G = np.asarray((X.T @ weighted).toarray()) - np.outer(x_mean, x_mean)
            self.q = np.asarray(X.T @ (v * y_c)).ravel()
            self.yy = float(v @ y_c**2)
        else:
            stats = problem.gram_stats()  # seeded by paths and k-fold CV
            total = stats.weight_sum
            if problem.fit_intercept:
                xx, xy, yy = stats.xx, stats.xy[:, 0], stats.yy[0]
            else:  # uncenter: adding the mean terms back involves no cancellation
                xx = stats.xx + total * np.outer(stats.x_mean, stats.x_mean)
                xy = stats.xy[:, 0] + total * stats.x_mean * stats.y_mean[0]
                yy = stats.yy[0] + total * stats.y_mean[0] ** 2
            self.G = np.ascontiguousarray(xx / total)
            self.q = xy / total
            self.yy = float(yy / total)
        if not (np.all(np.isfinite(np.diag(self.G))) and np.isfinite(self.yy)):
            raise ValueError(f"{problem.owner}: input X or y contains NaN or infinity.")
        self.h = np.diag(self.G).copy()
        self.z = self.q.copy()

    def start(self, coef):
        self.refresh(coef)

    def focus(self, ws):
        self.gram_ws = None  # the working set's block of G, taken on the first trial

    def trial(self, coef, ws, d):
        """The data term's change along ``coef[ws] += d``, and the function applying that move.

        ``(1/2)||r - X_c d||^2 - (1/2)||r||^2 = -d.z + d.G d / 2``: no large
        terms cancel, so small improvements near the optimum are judged right.
        """
        if 4 * ws.size**2 <= self.G.size:  # a small set: copy its block of G once
            if self.gram_ws is None:
                self.gram_ws = self.G[np.ix_(ws, ws)]
            moved = self.gram_ws @ d
        else:  # most features (working_set=False): no copy of G, one product with it
            full = np.zeros(self.G.shape[0])
            full[ws] = d
            moved = (self.G @ full)[ws]
        change = -float(d @ self.z[ws]) + 0.5 * float(d @ moved)

        def apply():
            coef[ws] += d
            self.z[ws] -= moved

        return change, apply

    def epoch(self, coef, ws, l1, l2, positive):
        return _kernels.cd_epoch_gram(self.G, self.z, coef, ws, l1, l2, positive)

    def refresh(self, coef, everything=False):
        support = np.flatnonzero(coef)
        self.z = self.q - self.G[:, support] @ coef[support]
        return self.z

    def prune(self, active):
        pass  # a refresh costs O(p |support|): nothing to save

    def correlations(self, coef, index):
        return self.z[index]  # kept current on the working set by the kernel

    def residual_norm2(self, coef, z_support, coef_support):
        # ||r||^2 = yy - 2 theta.q + theta.G.theta and G theta = q - z.
        value = self.yy - float(coef @ self.q) - float(coef_support @ z_support)
        return max(value, 0.0)

    def gram_columns(self, index):
        return self.G[:, index]


class _ResidualState:
    """Residual updates on dense or CSC X; ``r`` is the centered residual.

    A coordinate update reads one column of X.  A Fortran-ordered X is read in
    place; a C-ordered one is never copied whole (2,000 x 20,000: the copy
    took 0.38 s, longer than the rest of the fit): each working set's columns
    are gathered once into a small Fortran block (:meth:`focus`), and the
    full passes (norms, correlations of every feature) read X by rows.
    """

    computed_from = "data"

    def __init__(self, problem: ElasticNetProblem):
        self.problem = problem
        self.v = problem.normalized_weights
        self.y_c = problem.y - problem.y_mean
        self.yy = float(self.v @ self.y_c**2)
        X = problem.X
        q = None
        if problem.fit_intercept and not problem.sparse:
            # The means and X^T V y_c in one pass over X (one product with two columns).
            both = X.T @ np.column_stack((self.v, self.v * self.y_c))
            problem.cached("x_mean", lambda: np.ascontiguousarray(both[:, 0]))
            q = both[:, 1]
        self.x_mean = problem.x_mean
        if problem.sparse:
            self.X = X
            counts = np.diff(X.indptr)
            columns = np.repeat(np.arange(X.shape[1]), counts)
            v_stored = self.v[X.indices]
            shifted = X.data - self.x_mean[columns]
            # Exact centered norms: stored entries, plus the implicit zeros at -mean.
            stored_weight = np.bincount(columns, weights=v_stored, minlength=X.shape[1])
            self.h = np.bincount(
                columns, weights=v_stored * shifted**2, minlength=X.shape[1]
            ) + self.x_mean**2 * np.maximum(1.0 - stored_weight, 0.0)
        else:
            self.X = X
            # Exact centered norms in one pass: no cancellation as in sum(v x^2) - mean^2.
            norms = (
                _kernels.centered_norms_dense
                if X.flags.f_contiguous
                else _kernels.centered_norms_rows
            )
            self.h = norms(X, self.x_mean, self.v, np.zeros(X.shape[1]))
        self.block = None  # (ws, Fortran copy of X[:, ws], x_mean[ws], h[ws]) when gathered
        self.kept = None  # (index, X[:, index], x_mean[index]) once screening pruned X
        if not (np.all(np.isfinite(self.h)) and np.isfinite(self.yy)):
            raise ValueError(f"{problem.owner}: input X or y contains NaN or infinity.")
        vy = self.v * self.y_c
        # X_c^T V y_c = X^T V y_c - x_mean sum(V y_c); the sum is ~0, nothing cancels.
        self.q = self._all_products(vy) if q is None else q - self.x_mean * vy.sum()

    def start(self, coef):
        # The alphas of a path share this state (_data_state): a new solve must
        # not inherit the last one's screened-out columns or gathered block.
        self.block = None
        self.kept = None
        X, support = self.X, np.flatnonzero(coef)
        fitted = X[:, support] @ coef[support] if support.size else np.zeros(X.shape[0])
        fitted = np.asarray(fitted).ravel()
        if self.problem.sparse:
            self.r_raw = self.problem.y - fitted
            self.offset = float(self.x_mean @ coef) - self.problem.y_mean
        else:
            self.r = self.y_c - fitted + float(self.x_mean @ coef)

    @property
    def residual(self):
        return self.r_raw + self.offset if self.problem.sparse else self.r

    def focus(self, ws):
        """Gather the working set's columns of a C-ordered X into one Fortran block."""
        if self.problem.sparse or self.X.flags.f_contiguous:
            return
        block = np.asfortranarray(self.X[:, ws])
        self.block = (ws, block, self.x_mean[ws], self.h[ws], np.arange(ws.size))

    def _gathered(self, ws):
        return self.block is not None and self.block[0] is ws

    def trial(self, coef, ws, d):
        """The data term's change along ``coef[ws] += d``, and the function applying it.

        ``(1/2)||r - X_c d||_v^2 - (1/2)||r||_v^2 = v . (X_c d) * (X_c d / 2 - r)``.
        """
        if self.problem.sparse:
            raw = np.asarray(self.X[:, ws] @ d).ravel()
            shift = float(self.x_mean[ws] @ d)
            moved = raw - shift
        elif self.X.flags.f_contiguous:
            moved = self.X[:, ws] @ d - float(self.x_mean[ws] @ d)
        else:
            if not self._gathered(ws):
                self.focus(ws)
            _, block, x_mean, _, _ = self.block
            moved = block @ d - float(x_mean @ d)
        change = float(self.v @ (moved * (0.5 * moved - self.residual)))

        def apply():
            coef[ws] += d
            if self.problem.sparse:  # r = r_raw + offset, as the sparse kernel keeps it
                self.r_raw -= raw
                self.offset += shift
            else:
                self.r -= moved

        return change, apply

    def epoch(self, coef, ws, l1, l2, positive):
        if self.problem.sparse:
            X = self.X
            change, self.offset = _kernels.cd_epoch_sparse(
                X.data, X.indices, X.indptr, self.v, self.x_mean, coef, self.r_raw,
                self.offset, ws, self.h, l1, l2, positive,
            )  # fmt: skip
            return change
        if self.X.flags.f_contiguous:
            return _kernels.cd_epoch_dense(
                self.X, self.v, self.x_mean, coef, self.r, ws, self.h, l1, l2, positive
            )
        if not self._gathered(ws):
            self.focus(ws)
        _, block, x_mean, h, local = self.block
        theta = coef[ws]
        change = _kernels.cd_epoch_dense(
            block, self.v, x_mean, theta, self.r, local, h, l1[ws], l2[ws], positive
        )
        coef[ws] = theta
        return change

    def _products(self, vr, index):
        out = np.empty(index.shape[0])
        if self.problem.sparse:
            X = self.X
            _kernels.column_products_sparse(X.data, X.indices, X.indptr, vr, index, out)
            return out - self.x_mean[index] * vr.sum()
        if self._gathered(index):
            _, block, x_mean, _, local = self.block
            return _kernels.column_products_dense(block, x_mean, vr, local, out)
        if not self.X.flags.f_contiguous:
            return self._all_products(vr)[index]
        return _kernels.column_products_dense(self.X, self.x_mean, vr, index, out)

    def _all_products(self, vr):
        """``X_c^T vr`` for every feature: one BLAS (or sparse) product over X.

        ``X_c^T vr = X^T vr - x_mean * sum(vr)``; the correction is tiny for the
        centered residual (its weighted mean is 0), so nothing cancels.
        """
        return np.asarray(self.X.T @ vr).ravel() - self.x_mean * vr.sum()

    def refresh(self, coef, everything=False):
        """``z = X_c^T V r``: every feature's, or only the kept ones' after :meth:`prune`."""
        if self.kept is None and not coef.any():
            return self.q.copy()  # r = y_c: the products are X_c^T V y_c, computed already
        vr = self.v * self.residual
        if everything or self.kept is None:
            return self._all_products(vr)
        index, columns, x_mean = self.kept
        z = np.zeros(self.X.shape[1])
        z[index] = np.asarray(columns.T @ vr).ravel() - x_mean * vr.sum()
        return z

    def prune(self, active):
        """Copy the columns of ``active`` once they are at most PRUNE_SHARE of those read."""
        read = self.X.shape[1] if self.kept is None else self.kept[0].size
        if active.size <= PRUNE_SHARE * read:
            self.kept = (active, self.X[:, active], self.x_mean[active])

    def correlations(self, coef, index):
        return self._products(self.v * self.residual, index)

    def residual_norm2(self, coef, z_support, coef_support):
        r = self.residual
        return float((self.v * r) @ r)

    def gram_columns(self, index):
        centered = np.asarray(
            self.X[:, index].todense() if self.problem.sparse else self.X[:, index]
        )
        centered = centered - self.x_mean[index]
        weighted = self.v[:, None] * centered
        return np.asarray(self.X.T @ weighted) - np.outer(self.x_mean, weighted.sum(axis=0))


def _data_state(problem: ElasticNetProblem, mode: str):
    """The mode's state of ``problem``, built once per problem.

    It depends on the data only, so the problems of a path (``replace`` with
    another penalty shares :meth:`ElasticNetProblem.cached`) share one Gram
    matrix or one set of column norms; ``start`` resets it to a new point.
    """
    return problem.cached(
        ("cd_state", mode),
        lambda: _GramState(problem) if mode == "gram" else _ResidualState(problem),
    )


@register
class CoordinateDescent:
    """Cyclic coordinate descent for the elastic net (module docstring).

    Parameters
    ----------
    tol : float, default=1e-8
        Stop when the duality gap is at most ``tol * ||y_c||_v^2``.
    max_iter : int or None, default=None
        Most epochs (``DEFAULT_MAX_ITER`` when None).
    mode : {"auto", "gram", "residual"}, default="auto"
    working_set : bool, default=True
        Solve restricted problems over growing working sets (else every
        unscreened feature in each epoch).
    screening : bool, default=True
        Gap-safe screening.
    extrapolate : bool, default=True
        Anderson extrapolation of the iterates every ``CHECK_EVERY`` epochs,
        kept when it lowers the objective.
    """

    name = "cd"
    capabilities = Capabilities(
        losses=("squared",),
        dense=True,
        sparse=True,
        iterative=True,
        sample_weight=True,
        multi_target=False,
        penalize_intercept=False,
        zero_alpha=False,
        float32=False,
        shape="any",
        penalties=("elastic_net",),
    )

    def __init__(
        self,
        *,
        tol=1e-8,
        max_iter=None,
        mode="auto",
        working_set=True,
        screening=True,
        extrapolate=True,
    ):
        self.tol = tol
        self.max_iter = max_iter
        self.mode = mode
        self.working_set = working_set
        self.screening = screening
        self.extrapolate = extrapolate

    def solve(self, problem: ElasticNetProblem, *, init=None, callback=None) -> SolverResult:
        """Minimize the elastic-net objective of ``problem`` from ``init`` (zeros by default).

        ``callback(coef, duality_gap)`` is called after each computation of the
        outer gap (a copy of the coefficients; once screening has removed
        features, the gap of the problem on the others, which has the same
        solution and bounds the suboptimality just as well); raising ``StopIteration`` in it
        stops the solver, which then returns the current point unconverged.
        Non-convergence within ``max_iter`` epochs warns
        :class:`~l2reg.ConvergenceWarning` with the achieved gap.
        """
        p = problem.n_features
        mode = self.mode if self.mode != "auto" else choose_mode(problem.n_samples, p)
        if mode not in ("gram", "residual"):
            raise ValueError(
                f"CoordinateDescent: unknown mode {mode!r}; use 'auto', 'gram' or 'residual'."
            )
        max_iter = DEFAULT_MAX_ITER if self.max_iter is None else self.max_iter
        positive = bool(problem.penalty.positive)
        l1, l2 = problem.penalty_weights()
        state = _data_state(problem, mode)
        coef = np.zeros(p) if init is None else np.array(init, dtype=np.float64).ravel()
        if positive:
            coef = np.maximum(coef, 0.0)
        state.start(coef)

        free = (l1 == 0) & (l2 == 0)
        unpenalized = None
        if free.any():
            index = np.flatnonzero(free)
            gram_u = state.gram_columns(index)
            unpenalized = Unpenalized(free, gram_u, gram_u[index], state.q[index])
        # Features with no L1 part can never be screened nor left out.
        always = l1 == 0
        threshold = self.tol * state.yy
        sqrt_h = np.sqrt(state.h)

        active = np.arange(p)  # the features gap-safe screening has not removed
        epochs, outer, ws_size, previous_gap, sub_gap = 0, 0, 0, np.inf, np.inf
        converged = stopped = False
        while True:
            z = state.refresh(coef)  # current on `active` (at least)
            gap = _gap_on(state, coef, z, active, l1, l2, positive, unpenalized)
            if callback is not None:
                try:
                    callback(coef.copy(), gap.gap)
                except StopIteration:
                    stopped = True
                    break
            if gap.gap <= threshold:
                converged = True
                break
            if epochs >= max_iter:
                break
            outer += 1
            if self.screening:
                radius = math.sqrt(2.0 * gap.gap)
                dual = gap.dual_correlations
                magnitude = np.maximum(dual, 0.0) if positive else np.abs(dual)
                l1_a = l1[active]
                out = (
                    (l1_a > 0) & (coef[active] == 0) & (magnitude + radius * sqrt_h[active] < l1_a)
                )
                if out.any():
                    active = active[~out]
                    state.prune(active)
            if self.working_set:
                n_support = int(np.count_nonzero((coef != 0) | always))
                grow = 2 * ws_size if gap.gap > STALL_FRACTION * previous_gap else 0
                first = _first_size(z, l1, active, positive) if outer == 1 else 0
                ws_size = min(active.size, max(INITIAL_WORKING_SET, 2 * n_support, grow, first))
                ws = _working_set(coef, z, l1, l2, sqrt_h, always, active, ws_size, positive)
            else:
                ws = active
            state.focus(ws)
            target = INNER_GAP_FRACTION * gap.gap
            if gap.gap <= COMPLETE_FACTOR * sub_gap:
                # The features left out of the last working set added (almost)
                # nothing to the gap: solve this one to the end, not to 0.3x.
                target = min(target, COMPLETE_TARGET * threshold)
            previous_gap = gap.gap
            sub_unpenalized = None if unpenalized is None else unpenalized.restrict(ws)
            inner = 0
            # The last CHECK_EVERY iterates on the working set, for the extrapolation.
            history = np.empty((CHECK_EVERY, ws.size)) if self.extrapolate else None
            while epochs < max_iter:
                state.epoch(coef, ws, l1, l2, positive)
                epochs += 1
                inner += 1
                if history is not None:
                    history[(inner - 1) % CHECK_EVERY] = coef[ws]
                if inner % CHECK_EVERY:
                    continue
                if history is not None:
                    _anderson_step(state, coef, ws, history, l1[ws], l2[ws], positive)
                z_ws = state.correlations(coef, ws)
                coef_ws = coef[ws]
                r_norm2 = state.residual_norm2(coef, z_ws[coef_ws != 0], coef_ws[coef_ws != 0])
                sub = duality_gap(coef_ws, z_ws, r_norm2, l1[ws], l2[ws], positive, sub_unpenalized)
                sub_gap = sub.gap
                if sub.gap <= target:
                    break

        if active.size < p:
            # Screened features are 0 at the optimum, so the gap on `active`
            # bounds the suboptimality; the certificate reports the gap of the
            # whole problem, from one more product over X.
            z = state.refresh(coef, everything=True)
            gap = _gap_on(state, coef, z, np.arange(p), l1, l2, positive, unpenalized)
        intercept = problem.intercept(coef)
        certificate = _certificate(coef, z, state.q, l1, l2, positive, gap.gap, state.computed_from)
        if not converged and not stopped:  # a callback's stop is a normal outcome
            warnings.warn(
                f"{problem.owner}: coordinate descent stopped after {epochs} epochs with duality "
                f"gap {gap.gap:.3e} > tol * ||y - y_mean||_w^2 / sum(w) = {threshold:.3e}. "
                "Increase max_iter, loosen tol, or scale the features.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        message = (
            f"{mode} updates; {outer} working-set pass(es), {p - active.size} of {p} "
            "features screened out" + ("; stopped by the callback" if stopped else "")
        )
        return SolverResult(
            coef=coef[None, :],
            intercept=np.array([intercept]),
            objective=np.array([gap.primal]),
            certificate=certificate,
            solver=self.name,
            n_iter=epochs,
            converged=converged,
            message=message,
        )


def _gap_on(state, coef, z, active, l1, l2, positive, unpenalized):
    """The duality gap of the problem restricted to ``active`` (all unpenalized features in it)."""
    coef_a, z_a = coef[active], z[active]
    support = coef_a != 0
    r_norm2 = state.residual_norm2(coef, z_a[support], coef_a[support])
    restricted = None if unpenalized is None else unpenalized.restrict(active)
    return duality_gap(coef_a, z_a, r_norm2, l1[active], l2[active], positive, restricted)


def _anderson_step(state, coef, ws, history, l1, l2, positive):
    """Replace ``coef[ws]`` by the Anderson extrapolation of ``history`` if that is better.

    Coordinate descent's iterates approach the optimum along a few slow
    directions once the support is fixed (correlated features); the affine
    combination of the last iterates whose differences combine to the smallest
    vector cancels them (Anderson acceleration, as in Bertrand & Massias,
    AISTATS 2021, "Anderson acceleration of coordinate descent", and skglm's
    ``AndersonCD``).  The extrapolated point is kept only when it lowers the
    objective, so it never slows convergence, and the duality gap still decides
    when to stop.
    """
    differences = np.diff(history, axis=0)
    system = differences @ differences.T
    try:
        weights = np.linalg.solve(system, np.ones(system.shape[0]))
    except np.linalg.LinAlgError:  # iterates that stopped moving: nothing to extrapolate
        return
    total = weights.sum()
    if not np.isfinite(total) or total == 0.0:
        return
    extrapolated = (weights / total) @ history[1:]
    if positive:
        extrapolated = np.maximum(extrapolated, 0.0)
    current = coef[ws]
    d = extrapolated - current
    if not np.all(np.isfinite(d)) or not d.any():
        return
    change, apply = state.trial(coef, ws, d)
    change += float(l1 @ (np.abs(extrapolated) - np.abs(current)))
    change += 0.5 * float(l2 @ ((extrapolated - current) * (extrapolated + current)))
    if change < 0.0:
        apply()


def _first_size(z, l1, active, positive):
    """Size of the first working set at a cold start: the KKT violators, at most FIRST_SHARE.

    A feature violates the optimality conditions at 0 when ``|z_j| > l1_j``.
    Growing the set from INITIAL_WORKING_SET by doublings costs a pass over X
    per doubling (2,000 x 20,000 with ~660 nonzeros: 6 passes); starting with
    up to FIRST_SHARE of the features costs at most about one pass per 1 /
    FIRST_SHARE epochs instead.  (The strong rule, which would keep
    ``t_j >= 2 - max t``, keeps every feature far below alpha_max.)
    """
    l1_a, z_a = l1[active], z[active]
    pull = np.maximum(z_a, 0.0) if positive else np.abs(z_a)
    violators = int(np.count_nonzero((l1_a > 0) & (pull > l1_a)))
    return min(violators, int(FIRST_SHARE * active.size))


def _working_set(coef, z, l1, l2, sqrt_h, always, candidates, size, positive):
    """The ``size`` most promising candidates, in increasing index order (the cyclic order).

    The support and the features without an L1 part come first; then the
    candidates ranked by ``(l1_j - |z_j - l2_j theta_j|) / ||x~_j||``, the
    distance of their dual constraint to being active (negative when violated)
    in the lasso form of the problem augmented with ``sqrt(l2) I`` rows (with
    ``positive``, only a positive correlation can activate a feature).
    """
    norm = np.sqrt(sqrt_h**2 + l2)
    pull = z - l2 * coef
    pull = np.maximum(pull, 0.0) if positive else np.abs(pull)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (l1 - pull) / norm
    score = np.where(np.isfinite(score), score, np.inf)
    score[(coef != 0) | always] = -np.inf
    ranked = candidates[np.argsort(score[candidates], kind="stable")]
    return np.sort(ranked[:size])


def _certificate(coef, z, q, l1, l2, positive, gap, computed_from):
    """Minimum-norm subgradient of the objective, its relative size, and the gap."""
    smooth = -z + l2 * coef  # gradient of the data term plus the L2 part
    distance = np.where(coef != 0, smooth + l1 * np.sign(coef), 0.0)
    at_zero = coef == 0
    if positive:
        # At 0 the subdifferential is (-inf, l1]: only a gradient below -l1 violates.
        distance[at_zero] = np.maximum(-smooth[at_zero] - l1[at_zero], 0.0)
    else:
        distance[at_zero] = np.maximum(np.abs(smooth[at_zero]) - l1[at_zero], 0.0)
    scales = [np.linalg.norm(q), np.linalg.norm(q - z), np.linalg.norm(l2 * coef),
              np.linalg.norm(l1[coef != 0])]  # fmt: skip
    base = certificate_from_gradient([distance], scales, computed_from)
    return type(base)(
        base.gradient_norm, base.relative_gradient_norm, base.computed_from, duality_gap=gap
    )
