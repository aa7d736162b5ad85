r"""Decompose once, then evaluate every alpha: paths, exact LOO, GCV, evidence, df.

Notation (l2reg's convention, :mod:`l2reg.conventions`): weights ``w``,
``W = sum(w)``, ``lam = W * alpha`` the penalty on the *summed* squared error
(scikit-learn's alpha), ``A = sqrt(w) * Z`` the weighted design and
``z = sqrt(w) * y`` the weighted target, where ``Z`` is

* ``X - x_mean`` (weighted column means) and ``y`` is centered likewise, when
  the intercept is fitted and not penalized: the intercept is profiled out
  exactly (``b = y_mean - x_mean . theta``);
* ``X`` itself when no intercept is fitted;
* ``[X, 1]`` when the intercept is penalized (it is then one more penalized
  coefficient).

Two forms of the same spectrum:

``primal`` (n >= p)
    ``G = A^T A = V diag(s) V^T`` from the one-pass sufficient statistics
    (:func:`l2reg.objective.gram.gram_stats`), ``c = A^T z`` and the
    projections ``P = V^T c``.  Then ``theta(lam) = V diag(1 / (s + lam)) P``.
``kernel`` (p > n)
    ``K = A A^T = U diag(s) U^T`` (n x n) and ``P = U^T z``.  Then
    ``theta(lam) = Z^T sqrt(w) U diag(1 / (s + lam)) P``.

The nonzero eigenvalues of both forms are the same, so every criterion below
is a sum over ``s``; an alpha costs O(r) (r = number of eigenvalues) per
target for the path norms, RSS, GCV, evidence and df, and O(n r) for exact
leave-one-out.

Exact leave-one-out
    The fitted values are ``H y`` for the weighted hat matrix, whose diagonal
    is ``h_i = w_i / W + w_i zt_i^T (G + lam I)^{-1} zt_i`` (the ``w_i / W``
    term only with a profiled intercept; ``zt_i`` the row of Z).  Removing
    sample i from the weighted problem is a rank-one downdate of the normal
    equations, and Sherman-Morrison gives the refit's residual on that sample
    as ``e_i = r_i / (1 - h_i)`` with ``r_i`` the full fit's residual — for the
    intercept too, since the profiled intercept is an unpenalized column of
    the normal equations.  In the primal form ``h_i = w_i / W + w_i
    sum_j (Zt V)_ij^2 / (s_j + lam)``, so all alphas' leverages are one matrix
    product ``(Zt V)**2 @ (1 / (s + lam))``, and the residuals are
    ``y - (Zt V) @ (P / (s + lam))``.  ``Zt V`` is computed block by block of
    rows as ``(X_block - x_mean) @ V``: no n x n matrix, no centered copy of X.
``GCV`` (Golub, Heath & Wahba 1979)
    ``GCV(lam) = (RSS_w / W) / (1 - df / n)^2`` with the trace of the hat matrix
    ``df = [1] + sum_j s_j / (s_j + lam)`` (the 1 for a profiled intercept) and
    ``n`` the number of samples with positive weight: every leverage replaced
    by their average.  ``RSS_w = yy - sum_j P_j^2 (s_j + 2 lam) / (s_j + lam)^2``
    (primal) or ``sum_j P_j^2 lam^2 / (s_j + lam)^2`` (kernel).
Evidence
    The Gaussian model ``y_i = b + x_i . theta + e_i``, ``e_i ~ N(0, sigma^2 / w_i)``,
    ``theta ~ N(0, (sigma^2 / lam) I)`` and (with a profiled intercept) a
    flat prior on ``b + x_mean . theta``.  Integrating theta and b out and
    maximizing over sigma^2 (``sigma^2 = Q / m``) gives the log marginal
    likelihood

        -(m / 2) (log(2 pi Q / m) + 1) - (1/2) sum_j log(1 + s_j / lam)
        + (1/2) sum_{w_i > 0} log w_i  [- (1/2) log W with a profiled intercept]

    with ``Q = z^T (I + K / lam)^{-1} z = RSS_w + lam ||theta||^2`` and ``m`` the
    number of samples with positive weight, minus one with a profiled
    intercept.  This is the criterion BayesianRidge maximizes over its two
    precisions (their ratio is ``lam``), without its gamma hyperpriors.

Generalized penalties (``standardize``, ``penalty_factor``, ``penalty_matrix``,
``prior_mean``; primal form only)
    :func:`l2reg.objective.tikhonov.standard_form` splits the problem into a
    standard ridge problem (Gram ``G~``, decomposed once: ``V``, ``s``) and the
    unpenalized directions ``B`` of the penalty's null space (``B^T G B = I``).
    The spectrum keeps them together: the eigenvectors are ``[T' V, B]`` in
    design coordinates, the eigenvalues ``[s, 1, ..., 1]``, and the last
    ``n_unpenalized`` directions carry no penalty (``lam`` is 0 there), so
    every formula above holds with ``s_j + lam`` read as ``s_j + m_j lam``
    (``m_j`` 1 or 0): an unpenalized direction adds 1 to the df and its full
    projection to the fit and the leverages, as the profiled intercept does.
    A prior mean is ridge on ``y - X theta0``, shifted back by theta0: the
    moments are shifted (``c - G theta0``), ``coef_offset`` is added to the
    coefficients and ``target_offset`` (the prior's fitted values about the
    means) is taken off y for leave-one-out.  The evidence then has a flat
    prior on the unpenalized directions (``m`` counts them off) and is known up
    to a constant that does not depend on alpha (``log det`` of the penalty
    on its range), which does not move its maximizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from l2reg._threads import blas_controller, single_blas_thread
from l2reg._validation import check_finite
from l2reg.objective.gram import GramStats, gram_stats
from l2reg.objective.kernel import column_means, kernel_matrix
from l2reg.objective.penalties import GeneralizedL2
from l2reg.objective.sparse_gram import CenteredRows

__all__ = [
    "Spectrum",
    "LeaveOneOut",
    "LeaveOneOutSums",
    "spectral_decomposition",
    "spectrum_from_stats",
    "default_alphas",
    "intercept_mode",
]

#: Values in one block of leave-one-out residuals (rows x alphas x targets,
#: float64): 16 MiB.  Blocks of fewer than ~1,000 rows made the threaded
#: BLAS products pay their synchronization on every call (measured 2-4x
#: slower on 2 busy cores); larger ones only cost memory.
LOO_BLOCK_VALUES = 2**21
#: Fewest rows per block, whatever the number of alphas and targets.
LOO_MIN_BLOCK_ROWS = 256
#: Largest eigenproblem solved with a single BLAS thread (see ``_symmetric_eigh``).
SINGLE_THREAD_EIGH_MAX = 1024
#: Row blocks of the projection pass, as in :mod:`l2reg.objective.gram`.
LOO_MAX_BLOCK_ROWS = 4096


def intercept_mode(fit_intercept: bool, penalize_intercept: bool) -> str:
    """``"centered"`` (profiled out), ``"none"`` or ``"penalized"`` (a ones column)."""
    if not fit_intercept:
        return "none"
    return "penalized" if penalize_intercept else "centered"


def _design_moments(stats: GramStats, mode: str):
    """``(G, c, yy)`` of the weighted design Z (see the module docstring)."""
    W = stats.weight_sum
    if mode == "centered":
        return stats.xx, stats.xy, stats.yy.copy()
    G = stats.xx + W * np.outer(stats.x_mean, stats.x_mean)
    c = stats.xy + W * np.outer(stats.x_mean, stats.y_mean)
    yy = stats.yy + W * stats.y_mean**2
    if mode == "none":
        return G, c, yy
    sums = W * stats.x_mean
    G = np.block([[G, sums[:, None]], [sums[None, :], np.array([[W]])]])
    c = np.vstack([c, W * stats.y_mean[None, :]])
    return G, c, yy


def _symmetric_eigh(matrix: np.ndarray):
    """Eigenvalues (clipped at 0: a Gram matrix is PSD) and eigenvectors, largest first.

    Matrices up to ``SINGLE_THREAD_EIGH_MAX`` are decomposed with one BLAS
    thread: the tridiagonal reduction is level-2 BLAS, which gains little
    from threads, and on 2 shared cores OpenBLAS's threaded version ran
    5-50x slower (p = 250: 1.2 s against 0.02 s; p = 500: 0.8 s against 0.1 s).
    The limit is l2reg's one shared limit (:mod:`l2reg._threads`): when
    another thread's fit holds it, this eigh runs with BLAS as it finds it.
    """
    symmetric = (matrix + matrix.T) / 2
    if symmetric.shape[0] <= SINGLE_THREAD_EIGH_MAX:
        with single_blas_thread(blas_controller()):
            values, vectors = np.linalg.eigh(symmetric)
    else:
        values, vectors = np.linalg.eigh(symmetric)
    return np.maximum(values[::-1], 0.0), np.ascontiguousarray(vectors[:, ::-1])


@dataclass(frozen=True)
class LeaveOneOut:
    """Exact leave-one-out errors of every alpha (and target).

    Attributes
    ----------
    mean_error : ndarray of shape (n_alphas, n_targets)
        Weighted mean squared LOO residual ``sum_i w_i e_i^2 / W``.
    std_error : ndarray of shape (n_alphas, n_targets)
        Its standard error over samples (:func:`weighted_standard_error`).
    mean_error_targets : ndarray of shape (n_alphas,)
        ``mean_error`` averaged over targets.
    std_error_targets : ndarray of shape (n_alphas,)
        Standard error of the per-sample squared error averaged over targets.
    predictions : ndarray of shape (n_samples, n_alphas, n_targets) or None
        ``y_i - e_i``: what a model refit without sample i predicts for it.
    """

    mean_error: np.ndarray
    std_error: np.ndarray
    mean_error_targets: np.ndarray
    std_error_targets: np.ndarray
    predictions: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One eigendecomposition of a ridge problem, evaluated at any alpha.

    Built by :func:`spectral_decomposition` (from data) or
    :func:`spectrum_from_stats` (from sufficient statistics, primal form
    only, without leave-one-out).  See the module docstring for the formulas.

    Attributes
    ----------
    form : {"primal", "kernel"}
    intercept : {"centered", "none", "penalized"}
    eigenvalues : ndarray of shape (r,)
        Of ``A^T A`` (primal) or ``A A^T`` (kernel), largest first, >= 0.
    eigenvectors : ndarray
        ``V`` of shape (n_design_columns, r) or ``U`` of shape (n_samples, r).
    projections : ndarray of shape (r, n_targets)
        ``V^T A^T z`` or ``U^T z``.
    yy : ndarray of shape (n_targets,)
        ``z^T z`` per target.
    weight_sum : float
    n_positive : int
        Samples with positive weight.
    x_mean, y_mean : ndarray
        Weighted means (used by the profiled intercept).
    n_features : int
    kernel : ndarray of shape (n_samples, n_samples) or None
        Kernel form: the unweighted kernel ``Z Z^T`` of the design (centered
        exactly at the weighted means with a profiled intercept, with the
        ones column of a penalized one), for
        :meth:`l2reg.objective.problem.Problem.with_kernel`.  None in the
        primal form.
    """

    form: str
    intercept: str
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    projections: np.ndarray
    yy: np.ndarray
    weight_sum: float
    n_positive: int
    x_mean: np.ndarray
    y_mean: np.ndarray
    n_features: int
    X: np.ndarray | None = None
    Y: np.ndarray | None = None
    sample_weight: np.ndarray | None = None
    fit_basis: np.ndarray | None = None  # kernel form: rows map P / (s + lam) to fitted values
    leverage_basis: np.ndarray | None = None  # kernel form: U**2 * s
    # Kernel form: the unweighted kernel Z Z^T it decomposed, exactly centered
    # with a profiled intercept (what Problem.with_kernel takes, so that the
    # refit at the chosen alpha makes no second kernel pass).
    kernel: np.ndarray | None = None
    # sum(log w) over positive weights when sample_weight is None: a spectrum
    # of statistics (GramStats.log_weight_sum) has no weights to sum.
    log_weight_sum: float = 0.0
    # Generalized penalties (module docstring): the last n_unpenalized
    # eigen-directions carry no penalty; coef_offset (q, k) is the prior mean
    # added to the coefficients; target_offset (n, k) its fitted values about
    # the means, taken off y for leave-one-out.
    n_unpenalized: int = 0
    coef_offset: np.ndarray | None = None
    target_offset: np.ndarray | None = None

    @property
    def n_targets(self) -> int:
        return self.projections.shape[1]

    @property
    def penalized_eigenvalues(self) -> np.ndarray:
        """The eigenvalues of the penalized directions (all of them for plain ridge)."""
        return self.eigenvalues[: self.eigenvalues.size - self.n_unpenalized]

    def penalties(self, alphas) -> np.ndarray:
        """``lam = W * alpha``: the penalty on the summed weighted squared error."""
        return self.weight_sum * np.asarray(alphas, dtype=float)

    def _penalty_grid(self, alphas) -> np.ndarray:
        """``m_j lam`` of shape (r, n_alphas): 0 on the unpenalized directions."""
        lam = self.penalties(np.atleast_1d(alphas))
        grid = np.broadcast_to(lam[None, :], (self.eigenvalues.size, lam.size))
        if not self.n_unpenalized:
            return grid
        grid = grid.copy()
        grid[grid.shape[0] - self.n_unpenalized :] = 0.0
        return grid

    def _shrinkage(self, alphas) -> np.ndarray:
        """``1 / (s + lam)`` of shape (r, n_alphas)."""
        return 1.0 / (self.eigenvalues[:, None] + self._penalty_grid(alphas))

    def effective_df(self, alphas) -> np.ndarray:
        """Trace of the hat matrix: ``[1] + sum_j s_j / (s_j + lam)``, shape (n_alphas,)."""
        s = self.eigenvalues[:, None]
        df = np.sum(s / (s + self._penalty_grid(alphas)), axis=0)
        return df + (1.0 if self.intercept == "centered" else 0.0)

    def residual_sum_of_squares(self, alphas) -> np.ndarray:
        """Weighted ``sum_i w_i (y_i - yhat_i)^2`` for every alpha and target, (n_alphas, k)."""
        s = self.eigenvalues[:, None, None]
        P2 = (self.projections**2)[:, None, :]
        lam3 = self._penalty_grid(alphas)[:, :, None]
        if self.form == "kernel":
            return np.sum(P2 * (lam3 / (s + lam3)) ** 2, axis=0)
        rss = self.yy[None, :] - np.sum(P2 * (s + 2 * lam3) / (s + lam3) ** 2, axis=0)
        return np.maximum(rss, 0.0)

    def _evidence_quadratic(self, alphas) -> np.ndarray:
        """``z^T (I + K / lam)^{-1} z = RSS_w + lam ||theta||^2``, (n_alphas, k)."""
        lam = self._penalty_grid(alphas)[:, :, None]
        s = self.eigenvalues[:, None, None]
        P2 = (self.projections**2)[:, None, :]
        if self.form == "kernel":
            return np.sum(P2 * lam / (s + lam), axis=0)
        return np.maximum(self.yy[None, :] - np.sum(P2 / (s + lam), axis=0), 0.0)

    def gcv(self, alphas) -> np.ndarray:
        """Generalized cross-validation ``(RSS_w / W) / (1 - df / n)^2``, (n_alphas, k)."""
        df = self.effective_df(alphas)
        n = self.n_positive
        with np.errstate(divide="ignore"):
            denominator = (1.0 - df / n) ** 2
            return self.residual_sum_of_squares(alphas) / self.weight_sum / denominator[:, None]

    def log_evidence(self, alphas) -> np.ndarray:
        """Log marginal likelihood (sigma^2 profiled out), (n_alphas, k); higher is better."""
        lam = self.penalties(np.atleast_1d(alphas))
        m = self.n_positive - (1 if self.intercept == "centered" else 0) - self.n_unpenalized
        quadratic = self._evidence_quadratic(alphas)
        s = self.penalized_eigenvalues
        log_det = np.sum(np.log1p(s[:, None] / lam[None, :]), axis=0)
        if self.sample_weight is None:
            constant = 0.5 * self.log_weight_sum
        else:
            weights = self.sample_weight
            constant = 0.5 * float(np.sum(np.log(weights[weights > 0])))
        if self.intercept == "centered":
            constant -= 0.5 * np.log(self.weight_sum)
        with np.errstate(divide="ignore"):
            profile = -0.5 * m * (np.log(2 * np.pi * quadratic / m) + 1.0)
        return profile - 0.5 * log_det[:, None] + constant

    def _coefficient_columns(self, scaled: np.ndarray):
        """Design-space coefficients of eigen-space columns ``scaled = P / (s + lam)``, (r, m)."""
        if self.form == "primal":
            return self.eigenvectors @ scaled  # (q, m)
        dual = self.eigenvectors @ scaled  # (n, m): beta = U diag(d) P
        if self.sample_weight is not None:
            dual *= np.sqrt(self.sample_weight)[:, None]
        X = self.X
        product = np.asarray(X.T @ dual.astype(X.dtype, copy=False), dtype=np.float64)
        sums = dual.sum(axis=0)
        if self.intercept == "centered":
            return product - np.outer(self.x_mean, sums)
        if self.intercept == "penalized":
            return np.vstack([product, sums[None, :]])
        return product

    def _split(self, theta_aug: np.ndarray, target_index: np.ndarray):
        """(coef (m, p), intercept (m,)) from design coefficients of shape (q, m)."""
        p = self.n_features
        if self.intercept == "penalized":
            return theta_aug[:p].T, theta_aug[p].copy()
        coef = theta_aug.T
        if self.intercept == "centered":
            return coef, self.y_mean[target_index] - coef @ self.x_mean
        return coef, np.zeros(coef.shape[0])

    def coefficients(self, alphas):
        """Coefficients and intercepts at each alpha, by the spectral formula.

        They lose about ``eps * cond(G + lam I)`` of relative accuracy; see
        :func:`l2reg.model_selection.ridge_path`, which guards them.

        Parameters
        ----------
        alphas : array-like of shape (n_alphas,)

        Returns
        -------
        coef : ndarray of shape (n_alphas, n_targets, n_features)
        intercept : ndarray of shape (n_alphas, n_targets)
        """
        alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
        k = self.n_targets
        shrink = self._shrinkage(alphas)  # (r, A)
        A = alphas.shape[0]
        columns = (shrink[:, :, None] * self.projections[:, None, :]).reshape(-1, A * k)
        theta = self._coefficient_columns(columns)
        if self.coef_offset is not None:
            theta = theta + np.tile(self.coef_offset, A)
        coef, intercept = self._split(theta, np.tile(np.arange(k), A))
        return coef.reshape(A, k, -1), intercept.reshape(A, k)

    # --- exact leave-one-out ---------------------------------------------------

    def _row_blocks(self, shrink: np.ndarray, rows: int):
        """Yield ``(start, stop, F, lev)``: fitted-value rows and leverages of a block.

        ``F @ (shrink * P)`` are the fitted values about the target shift and
        ``lev`` (rows x alphas) the leverages without the profiled intercept's
        ``w_i / W`` term.
        """
        X, n = self.X, self.X.shape[0]
        weights = self.sample_weight
        if self.form == "kernel":
            for start in range(0, n, rows):
                stop = min(start + rows, n)
                yield (
                    start,
                    stop,
                    self.fit_basis[start:stop],
                    (self.leverage_basis[start:stop] @ shrink),
                )
            return
        p = self.n_features
        V = self.eigenvectors
        shift = self.x_mean if self.intercept == "centered" else np.zeros(p)
        if sp.issparse(X):  # sparse X: (X_block - shift) V without densifying X
            weights_all = np.ones(n) if weights is None else weights
            sparse_rows = CenteredRows(X, shift, weights_all)
        else:
            buffer = np.empty((min(rows, n), p))
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            if sp.issparse(X):
                Q = sparse_rows.product(start, stop, V[:p])
            else:
                block = buffer[: stop - start]
                np.subtract(X[start:stop], shift, out=block)
                Q = block @ V[:p]
            if self.intercept == "penalized":
                Q += V[p]
            lev = (Q * Q) @ shrink
            if weights is not None:
                lev *= weights[start:stop, None]
            yield start, stop, Q, lev

    def leave_one_out(self, alphas, *, return_predictions: bool = False) -> LeaveOneOut:
        """Exact leave-one-out errors for every alpha, in one pass over the rows.

        Parameters
        ----------
        alphas : array-like of shape (n_alphas,)
        return_predictions : bool, default=False
            Also return the leave-one-out predictions (n_samples x n_alphas x
            n_targets values).

        Returns
        -------
        LeaveOneOut
        """
        if self.X is None:
            raise ValueError("leave-one-out needs the data; build the Spectrum from data.")
        alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
        predictions = (
            np.empty((self.Y.shape[0], alphas.shape[0], self.n_targets))
            if return_predictions
            else None
        )
        sums = self.leave_one_out_sums(alphas, predictions=predictions)
        return self.leave_one_out_from_sums(sums, predictions)

    def leave_one_out_sums(self, alphas, *, predictions=None) -> LeaveOneOutSums:
        """The sums over this spectrum's rows that :meth:`leave_one_out` needs.

        The rows (``X``, ``Y``, ``sample_weight``) may be a part of the rows
        the spectrum was decomposed from (``weight_sum`` and ``x_mean`` stay
        those of all rows): the sums of disjoint parts add
        (:class:`LeaveOneOutSums`), which is how :mod:`l2reg.dask` computes
        them block by block.  ``predictions`` (n_rows, n_alphas, n_targets),
        when given, receives the leave-one-out predictions.
        """
        alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
        A, k = alphas.shape[0], self.n_targets
        shrink = self._shrinkage(alphas)  # (r, A)
        columns = (shrink[:, :, None] * self.projections[:, None, :]).reshape(-1, A * k)
        Y, weights, W = self.Y, self.sample_weight, self.weight_sum
        y_shift = self.y_mean if self.intercept == "centered" else np.zeros(k)
        rows = int(
            np.clip(LOO_BLOCK_VALUES // max(A * k, 1), LOO_MIN_BLOCK_ROWS, LOO_MAX_BLOCK_ROWS)
        )
        sums = LeaveOneOutSums.zeros(A, k)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for start, stop, F, lev in self._row_blocks(shrink, rows):
                w = np.ones(stop - start) if weights is None else weights[start:stop]
                if self.intercept == "centered":
                    lev += (w / W)[:, None]
                fitted = (F @ columns).reshape(stop - start, A, k)
                target = np.asarray(Y[start:stop], dtype=np.float64)
                shifted = target - y_shift
                if self.target_offset is not None:  # a prior mean's fitted values
                    shifted -= self.target_offset[start:stop]
                # Residual of the full fit, then of the refit without the sample.
                np.subtract(shifted[:, None, :], fitted, out=fitted)
                fitted /= (1.0 - lev)[:, :, None]
                if predictions is not None:
                    predictions[start:stop] = target[:, None, :] - fitted
                squared = np.square(fitted, out=fitted).reshape(stop - start, A * k)
                # Weighted column sums through einsum: OpenBLAS's threaded gemv
                # (what ``w @ squared`` calls) took ~10x longer on wide blocks.
                w2 = w * w
                block_sum = np.einsum("i,ij->j", w, squared)
                sums.total += block_sum
                sums.w2_e += block_sum if weights is None else np.einsum("i,ij->j", w2, squared)
                average = squared.reshape(-1, A, k).mean(axis=2)
                sums.avg_w2_e += np.einsum("i,ij->j", w2, average)
                sums.avg_w2_e2 += np.einsum("i,ij,ij->j", w2, average, average)
                np.square(squared, out=squared)
                sums.w2_e2 += np.einsum("i,ij->j", w2, squared)
                sums.w2_sum += float(w2.sum())
        return sums

    def leave_one_out_from_sums(self, sums: LeaveOneOutSums, predictions=None) -> LeaveOneOut:
        """:class:`LeaveOneOut` from the sums over all rows (:meth:`leave_one_out_sums`)."""
        A, k = sums.avg_w2_e.shape[0], self.n_targets
        W = self.weight_sum
        mean = sums.total / W
        mean_targets = mean.reshape(A, k).mean(axis=1)
        count = self.n_positive

        def standard_error(mean_, s1, s2):
            if count < 2:
                return np.full(mean_.shape, np.nan)
            spread = np.maximum(s2 - 2 * mean_ * s1 + mean_**2 * sums.w2_sum, 0.0)
            return np.sqrt(spread * count / (count - 1)) / W

        return LeaveOneOut(
            mean_error=mean.reshape(A, k),
            std_error=standard_error(mean, sums.w2_e, sums.w2_e2).reshape(A, k),
            mean_error_targets=mean_targets,
            std_error_targets=standard_error(mean_targets, sums.avg_w2_e, sums.avg_w2_e2),
            predictions=predictions,
        )


@dataclass
class LeaveOneOutSums:
    """Sums over rows behind the leave-one-out errors; those of disjoint rows add.

    With ``e`` the leave-one-out residuals (rows x alphas*targets) and ``w``
    the weights: ``total = sum w e^2``, ``w2_e = sum w^2 e^2``,
    ``w2_e2 = sum w^2 e^4``, the same two of the target-averaged squared
    error (``avg_w2_e``, ``avg_w2_e2``, per alpha) and ``w2_sum = sum w^2``.
    """

    total: np.ndarray
    w2_e: np.ndarray
    w2_e2: np.ndarray
    avg_w2_e: np.ndarray
    avg_w2_e2: np.ndarray
    w2_sum: float

    @classmethod
    def zeros(cls, n_alphas: int, n_targets: int) -> LeaveOneOutSums:
        size = n_alphas * n_targets
        return cls(
            np.zeros(size), np.zeros(size), np.zeros(size), np.zeros(n_alphas),
            np.zeros(n_alphas), 0.0,
        )  # fmt: skip

    def __add__(self, other: LeaveOneOutSums) -> LeaveOneOutSums:
        return LeaveOneOutSums(
            self.total + other.total,
            self.w2_e + other.w2_e,
            self.w2_e2 + other.w2_e2,
            self.avg_w2_e + other.avg_w2_e,
            self.avg_w2_e2 + other.avg_w2_e2,
            self.w2_sum + other.w2_sum,
        )


def _n_positive(sample_weight, n_samples: int) -> int:
    if sample_weight is None:
        return n_samples
    return int(np.count_nonzero(sample_weight > 0))


def _raise_if_not_finite(owner, X, Y, diagonal) -> None:
    if np.all(np.isfinite(diagonal)):
        return
    check_finite(owner, "X", X)
    check_finite(owner, "y", Y)
    raise FloatingPointError(
        f"{owner}: the sums of squares of X or y overflow float; rescale the data."
    )


def spectrum_from_stats(
    stats: GramStats,
    intercept: str,
    *,
    n_positive: int,
    penalty: GeneralizedL2 | None = None,
    owner: str = "l2reg",
) -> Spectrum:
    """Primal :class:`Spectrum` of sufficient statistics (no leave-one-out: no data).

    ``penalty``: a generalized L2 penalty (see the module docstring).
    """
    G, c, yy = _design_moments(stats, intercept)
    if penalty is not None:
        # Imported here: that module builds on this one's Spectrum.
        from l2reg.model_selection._penalized_spectrum import penalized_spectrum

        return penalized_spectrum(stats, intercept, G, c, yy, n_positive, penalty, owner)
    s, V = _symmetric_eigh(G)
    return Spectrum(
        form="primal",
        intercept=intercept,
        eigenvalues=s,
        eigenvectors=V,
        projections=V.T @ c,
        yy=yy,
        weight_sum=stats.weight_sum,
        n_positive=n_positive,
        x_mean=stats.x_mean,
        y_mean=stats.y_mean,
        n_features=stats.n_features,
        log_weight_sum=stats.log_weight_sum,
    )


def spectral_decomposition(
    X: np.ndarray,
    Y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    fit_intercept: bool = True,
    penalize_intercept: bool = False,
    form: str = "auto",
    stats: GramStats | None = None,
    kernel: np.ndarray | None = None,
    owner: str = "l2reg",
    penalty: GeneralizedL2 | None = None,
) -> Spectrum:
    """Eigendecompose a (validated) ridge problem once.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        float32 or float64; read, never copied.
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    fit_intercept, penalize_intercept : bool
    form : {"auto", "primal", "kernel"}, default="auto"
        ``"auto"``: the p x p Gram when it is not larger than the n x n kernel.
    stats : GramStats, default=None
        Precomputed statistics of ``(X, Y, sample_weight)`` (primal form).
    kernel : ndarray of shape (n_samples, n_samples), default=None
        Precomputed unweighted kernel ``Z Z^T`` of the design (kernel form),
        e.g. from :class:`SharedKernel`.
    owner : str
        Name used in error messages.
    penalty : GeneralizedL2, default=None
        A generalized L2 penalty: always the primal form (a p x p ``eigh``
        even when p > n), see the module docstring.

    Returns
    -------
    Spectrum
    """
    n, p = X.shape
    mode = intercept_mode(fit_intercept, penalize_intercept)
    q = p + (mode == "penalized")
    if form == "auto":  # sparse X and generalized penalties: always the Gram
        form = "primal" if q <= n or sp.issparse(X) or penalty is not None else "kernel"
    if penalty is not None and form != "primal":
        raise ValueError(f"{owner}: a generalized L2 penalty needs the primal form.")
    n_positive = _n_positive(sample_weight, n)
    if form == "primal":
        if stats is None:
            stats = gram_stats(X, Y, sample_weight, dtype=np.float64)
        _raise_if_not_finite(owner, X, Y, np.concatenate([np.diag(stats.xx), stats.yy]))
        spectrum = spectrum_from_stats(
            stats, mode, n_positive=n_positive, penalty=penalty, owner=owner
        )
        extra = {"X": X, "Y": Y, "sample_weight": sample_weight}
        if spectrum.coef_offset is not None:
            from l2reg.model_selection._penalized_spectrum import prior_fit

            extra["target_offset"] = prior_fit(X, spectrum, mode)
        return Spectrum(**{**spectrum.__dict__, **extra})
    return _kernel_spectrum(X, Y, sample_weight, mode, n_positive, owner, kernel)


def _kernel_spectrum(X, Y, sample_weight, mode, n_positive, owner, kernel=None) -> Spectrum:
    n, p = X.shape
    check_finite(owner, "y", Y)
    weights = np.ones(n) if sample_weight is None else sample_weight
    W = float(np.sum(weights, dtype=np.float64))
    x_mean = column_means(X, weights)
    y_mean = np.asarray(weights @ Y, dtype=np.float64) / W
    shift = x_mean if mode == "centered" else np.zeros(p)
    # Unweighted kernel of Z (blocked, centered exactly in a reused buffer; with
    # the ones column of a penalized intercept); the weighted one is
    # diag(sqrt w) K_Z diag(sqrt w).
    if kernel is None:
        kernel = kernel_matrix(
            X,
            shift,
            ones_column=mode == "penalized",
            # Centered at the exact mean, not at its rounding (eps |mean| each).
            center_weights=weights if mode == "centered" else None,
        )
    kernel_z = kernel
    _raise_if_not_finite(owner, X, Y, np.diag(kernel_z))
    target = np.asarray(Y, dtype=np.float64) - (y_mean if mode == "centered" else 0.0)
    if sample_weight is None:
        K = kernel_z
        z = target
    else:
        root = np.sqrt(sample_weight)
        K = kernel_z * root[:, None] * root[None, :]
        z = target * root[:, None]
    s, U = _symmetric_eigh(K)
    # Fitted values about the shift are K_Z sqrt(w) U diag(1/(s+lam)) P; for a
    # positive weight the row is U_i s / sqrt(w_i) (as K U = U diag(s)), and
    # only zero-weight rows need the unweighted kernel itself.
    if sample_weight is None:
        fit_basis = U * s[None, :]
    else:
        positive = sample_weight > 0
        fit_basis = np.empty_like(U)
        fit_basis[positive] = U[positive] * s[None, :] / root[positive, None]
        if not positive.all():
            fit_basis[~positive] = kernel_z[~positive] @ (root[:, None] * U)
    return Spectrum(
        form="kernel",
        intercept=mode,
        eigenvalues=s,
        eigenvectors=U,
        projections=U.T @ z,
        yy=np.sum(z * z, axis=0),
        weight_sum=W,
        n_positive=n_positive,
        x_mean=x_mean,
        y_mean=y_mean,
        n_features=p,
        X=X,
        Y=Y,
        sample_weight=sample_weight,
        fit_basis=fit_basis,
        leverage_basis=U * U * s[None, :],
        kernel=kernel_z,
    )


def default_alphas(spectrum: Spectrum, n_alphas: int = 100) -> np.ndarray:
    """A geometric grid whose effective df runs from nearly the rank down to nearly 0.

    ``lam_min = 0.01 * s_min`` (every eigen-direction kept at >= 99%, so the
    df is >= 99% of the rank) and ``lam_max = 100 * sum(s)`` (df <= 0.01),
    where ``s_min`` is the smallest eigenvalue above ``1e-10 * s_max`` (smaller
    ones are rounding noise or exact collinearity and cap the range at 1e12).
    Returned as l2reg alphas (``lam / W``), increasing.
    """
    s = spectrum.penalized_eigenvalues
    top = float(s.max()) if s.size else 0.0
    if not top > 0:  # constant features: nothing to regularize, any grid does
        return np.logspace(-3, 3, n_alphas)
    smallest = float(s[s > 1e-10 * top].min())
    lam = np.geomspace(0.01 * smallest, 100.0 * float(s.sum()), n_alphas)
    return lam / spectrum.weight_sum


class SharedKernel:
    """One n x n kernel of all rows, re-centered for any subset of them (k-fold, p > n).

    ``K0 = (X - m0)(X - m0)^T`` with ``m0`` the weighted mean of all rows is
    computed once (one pass of rank-k updates over X).  Centering at another
    mean ``m = sum_T w_l x_l / W_T`` of a training subset T is then exact
    algebra on ``K0``: with ``a = K0[:, T] w_T / W_T`` (``a_i = (x_i - m0).(m - m0)``),
    ``(x_i - m).(x_j - m) = K0_ij - a_i - a_j + w_T^T K0_TT w_T / W_T^2``.  Raw
    products (no intercept, or a penalized one) are
    ``x_i.x_j = K0_ij + g_i + g_j + m0.m0`` with ``g = (X - m0) m0``.  So each
    fold costs O(n^2) to form its training and cross kernels, instead of a
    pass over the n x p data.
    """

    def __init__(self, X, sample_weight, mode, owner="l2reg"):
        n, p = X.shape
        weights = np.ones(n) if sample_weight is None else sample_weight
        self.mode = mode
        self.center = np.asarray(weights @ X, dtype=np.float64) / weights.sum()
        # Profiled intercepts re-center K0 from any center (fold), so K0 may be
        # centered at the exact mean; raw products need K0 about self.center.
        self.kernel = kernel_matrix(
            X, self.center, center_weights=weights if mode == "centered" else None
        )
        if mode != "centered":
            with np.errstate(invalid="ignore", over="ignore"):
                self.offset = np.asarray(X @ self.center, dtype=np.float64) - float(
                    self.center @ self.center
                )
                self.constant = float(self.center @ self.center)

    def full_design(self) -> np.ndarray:
        """The design kernel of all rows (centered at their weighted mean when profiled)."""
        if self.mode == "centered":
            return self.kernel
        return self._raw(self.kernel.copy(), slice(None), slice(None))

    def _raw(self, block, rows, columns):
        block += self.offset[rows][:, None] + self.offset[columns][None, :] + self.constant
        if self.mode == "penalized":  # the ones column of the augmented design
            block += 1.0
        return block

    def fold(self, train: np.ndarray, test: np.ndarray, train_weights: np.ndarray):
        """Training kernel (T x T) and test-by-training cross kernel (S x T) of the design.

        With a profiled intercept both are centered at the training rows'
        weighted mean (``train_weights`` holds their weights).
        """
        K0 = self.kernel
        K_train = K0[np.ix_(train, train)]
        K_cross = K0[np.ix_(test, train)]
        if self.mode != "centered":
            return self._raw(K_train, train, train), self._raw(K_cross, test, train)
        total = train_weights.sum()
        a_train = K_train @ train_weights / total
        a_test = K_cross @ train_weights / total
        squared_norm = float(train_weights @ a_train) / total
        K_train -= a_train[:, None]
        K_train -= a_train[None, :]
        K_train += squared_norm
        K_cross -= a_test[:, None]
        K_cross -= a_train[None, :]
        K_cross += squared_norm
        return K_train, K_cross


def kernel_fold_predictions(shared, Y, sample_weight, train, test, alphas):
    """Predictions on ``test`` of Ridge(alpha) fitted on ``train``, every alpha: (S, A, k).

    The training problem's kernel comes from :class:`SharedKernel` (no pass
    over X); its eigendecomposition gives ``beta = U diag(1/(s + lam)) U^T z``
    for every ``lam = W_T alpha`` and the predictions are
    ``[y_mean_T] + K_cross sqrt(w_T) beta``.
    """
    w_train = np.ones(train.size) if sample_weight is None else sample_weight[train]
    K_train, K_cross = shared.fold(train, test, w_train)
    target = np.asarray(Y[train], dtype=np.float64)
    y_mean = w_train @ target / w_train.sum() if shared.mode == "centered" else 0.0
    root = np.sqrt(w_train)
    s, U = _symmetric_eigh(K_train * root[:, None] * root[None, :])
    P = U.T @ ((target - y_mean) * root[:, None])
    lam = w_train.sum() * np.asarray(alphas, dtype=float)
    shrink = 1.0 / (s[:, None] + lam[None, :])  # (r, A)
    A, k = lam.size, P.shape[1]
    dual = (root[:, None] * U) @ (shrink[:, :, None] * P[:, None, :]).reshape(-1, A * k)
    return (K_cross @ dual).reshape(test.size, A, k) + y_mean
