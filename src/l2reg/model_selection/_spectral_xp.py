r"""One eigendecomposition serving every alpha, on the arrays' device (any array-API namespace).

The device twin of :mod:`l2reg.model_selection._spectral`: the same formulas
(see that module's docstring for their derivation and notation: ``W``,
``lam = W * alpha``, the weighted design ``A``, the targets ``z``, the
eigenvalues ``s`` and projections ``P``), written with the array API
standard's operations only, so that X, its Gram or kernel, the
eigenvectors and the leave-one-out residuals never leave the device.

``primal`` (n >= p)
    The weighted Gram ``A^T A`` and ``A^T z`` accumulated over row blocks by
    :func:`l2reg.solvers.array_api.design_moments` (no n x p temporary),
    one ``eigh``; leave-one-out reads X once more, block by block.
``kernel`` (p > n)
    The explicit design ``A`` of :func:`l2reg.solvers.array_api.weighted_design`
    (the kernel solver's own copy), ``K = A A^T``, one ``eigh``.

What comes to the host is small and is what the NumPy path keeps on the
host as well: the r eigenvalues (for the alpha grid and the path's condition
numbers), and the criteria of every alpha, ``n_alphas x n_targets`` numbers
(``cv_results_`` is a dict of NumPy arrays, and the choice of alpha among
them is :class:`~l2reg.model_selection.RidgeCV`'s own, so the two paths
choose alike).  Plain ridge only: the generalized penalties
(:mod:`l2reg.model_selection._penalized_spectrum`) stay on the host route.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from l2reg.linear_model._array_api import to_numpy
from l2reg.model_selection._spectral import (
    LOO_BLOCK_VALUES,
    LOO_MAX_BLOCK_ROWS,
    LOO_MIN_BLOCK_ROWS,
    LeaveOneOutSums,
    Spectrum,
    intercept_mode,
)
from l2reg.solvers._result import Certificate, certificate_from_gradient
from l2reg.solvers.array_api import (
    Design,
    Moments,
    design_moments,
    namespace_of,
    row_block_bounds,
    weighted_design,
    work_dtype,
)

__all__ = ["DeviceSpectrum", "device_spectrum"]


def _eigh(xp, matrix):
    """Eigenvalues (clipped at 0: the matrix is a Gram matrix) and vectors, largest first."""
    values, vectors = xp.linalg.eigh((matrix + matrix.T) / 2)
    values = xp.flip(values)
    return xp.where(values > 0, values, xp.zeros_like(values)), xp.flip(vectors, axis=1)


def _column_norms(xp, M):
    """Euclidean norm of each column of ``M`` (q, m), as a host array (m small)."""
    return to_numpy(xp.linalg.vector_norm(M, axis=0))


@dataclass(frozen=True, eq=False)
class DeviceSpectrum:
    """One eigendecomposition of a ridge problem on X's device, evaluated at any alpha.

    Built by :func:`device_spectrum`.  Every array attribute lives in X's
    namespace and device, in the work dtype (float64 where the device has
    it), except ``host_eigenvalues``.

    Attributes
    ----------
    form : {"primal", "kernel"}
    intercept : {"centered", "none", "penalized"}
    eigenvalues : array of shape (r,)
        Of ``A^T A`` (primal) or ``A A^T`` (kernel), largest first, >= 0.
    eigenvectors : array
        ``V`` of shape (q, r) or ``U`` of shape (n_samples, r).
    projections : array of shape (r, n_targets)
        ``V^T A^T z`` or ``U^T z``.
    yy : array of shape (n_targets,)
        ``z^T z`` per target.
    weight_sum : float
    n_positive : int
        Samples with positive weight.
    log_weight_sum : float
        ``sum(log w)`` over the positive weights (0 for unit weights).
    x_mean, y_mean : array
        Weighted means (zeros when nothing is centered).
    n_features : int
    host_eigenvalues : ndarray of shape (r,)
        A NumPy copy of ``eigenvalues`` (r <= min(n, q) values).
    X, Y, sample_weight : array
        The data (Y and the weights in the work dtype), for leave-one-out.
    prepared : Moments or Design
        What the decomposition formed (the Gram statistics, or the weighted
        design with its kernel): :func:`~l2reg.solvers.array_api.ridge_fit`
        reuses it for the refit, so that the refit makes no pass over X.
    fit_basis, leverage_basis : array of shape (n_samples, r) or None
        Kernel form: rows that map ``P / (s + lam)`` to fitted values about
        the target shift (``Z A^T U``), and ``U**2 * s`` (leverages).
    """

    form: str
    intercept: str
    eigenvalues: object
    eigenvectors: object
    projections: object
    yy: object
    weight_sum: float
    n_positive: int
    log_weight_sum: float
    x_mean: object
    y_mean: object
    n_features: int
    host_eigenvalues: np.ndarray
    X: object
    Y: object
    sample_weight: object
    prepared: Moments | Design
    fit_basis: object = None
    leverage_basis: object = None

    @property
    def n_targets(self) -> int:
        return self.projections.shape[1]

    @property
    def penalized_eigenvalues(self) -> np.ndarray:
        """Host eigenvalues, as :attr:`Spectrum.penalized_eigenvalues` (every one: plain ridge).

        So that :func:`~l2reg.model_selection._spectral.default_alphas` builds
        the same grid from this spectrum as from the NumPy one.
        """
        return self.host_eigenvalues

    def _xp(self):
        return namespace_of(self.eigenvalues)

    def penalties(self, alphas):
        """``lam = W * alpha`` of host alphas, as a device array of shape (n_alphas,)."""
        xp, device = self._xp()
        lam = self.weight_sum * np.asarray(alphas, dtype=np.float64)
        return xp.asarray(lam, dtype=self.eigenvalues.dtype, device=device)

    def _shrinkage(self, lam):
        """``1 / (s + lam)`` of shape (r, n_alphas)."""
        return 1.0 / (self.eigenvalues[:, None] + lam[None, :])

    def effective_df(self, lam):
        """Trace of the hat matrix ``[1] + sum_j s_j / (s_j + lam)``, shape (n_alphas,)."""
        xp, _ = self._xp()
        s = self.eigenvalues[:, None]
        df = xp.sum(s / (s + lam[None, :]), axis=0)
        return df + (1.0 if self.intercept == "centered" else 0.0)

    def _squared_terms(self):
        """``(s, P**2)`` shaped (r, 1, 1) and (r, 1, k), for sums over (r, n_alphas, k)."""
        return self.eigenvalues[:, None, None], (self.projections**2)[:, None, :]

    def residual_sum_of_squares(self, lam):
        """Weighted ``sum_i w_i (y_i - yhat_i)^2`` per alpha and target, (n_alphas, k)."""
        xp, _ = self._xp()
        s, P2 = self._squared_terms()
        lam3 = lam[None, :, None]
        if self.form == "kernel":
            return xp.sum(P2 * (lam3 / (s + lam3)) ** 2, axis=0)
        rss = self.yy[None, :] - xp.sum(P2 * (s + 2 * lam3) / (s + lam3) ** 2, axis=0)
        return xp.where(rss > 0, rss, xp.zeros_like(rss))  # rounding can go below 0

    def gcv(self, lam):
        """Generalized cross-validation ``(RSS_w / W) / (1 - df / n)^2``, (n_alphas, k)."""
        denominator = (1.0 - self.effective_df(lam) / self.n_positive) ** 2
        return self.residual_sum_of_squares(lam) / self.weight_sum / denominator[:, None]

    def log_evidence(self, lam):
        """Log marginal likelihood (sigma^2 profiled out), (n_alphas, k); higher is better."""
        xp, _ = self._xp()
        s, P2 = self._squared_terms()
        lam3 = lam[None, :, None]
        if self.form == "kernel":
            quadratic = xp.sum(P2 * lam3 / (s + lam3), axis=0)
        else:
            quadratic = self.yy[None, :] - xp.sum(P2 / (s + lam3), axis=0)
            quadratic = xp.where(quadratic > 0, quadratic, xp.zeros_like(quadratic))
        centered = self.intercept == "centered"
        m = self.n_positive - int(centered)
        log_det = xp.sum(xp.log1p(self.eigenvalues[:, None] / lam[None, :]), axis=0)
        constant = 0.5 * self.log_weight_sum - (
            0.5 * math.log(self.weight_sum) if centered else 0.0
        )
        profile = -0.5 * m * (xp.log(2 * math.pi * quadratic / m) + 1.0)
        return profile - 0.5 * log_det[:, None] + constant

    # --- coefficients ------------------------------------------------------------

    def design_coefficients(self, lam):
        """Coefficients in the design's coordinates for every alpha: (q, n_alphas * k).

        Column ``a * k + t`` is target t at ``lam[a]``; the penalized
        intercept, when there is one, is the last row.
        """
        xp, _ = self._xp()
        r, k = self.projections.shape
        scaled = self._shrinkage(lam)[:, :, None] * self.projections[:, None, :]
        columns = xp.reshape(scaled, (r, lam.shape[0] * k))
        if self.form == "primal":
            return self.eigenvectors @ columns
        return self.prepared.A.T @ (self.eigenvectors @ columns)  # A^T U diag(.) P

    def split(self, theta, n_alphas: int):
        """``(coef (n_alphas, k, p), intercept (n_alphas, k))`` of design coefficients."""
        xp, device = self._xp()
        p, k = self.n_features, self.n_targets
        coef = xp.reshape(theta[:p, :].T, (n_alphas, k, p))
        if self.intercept == "penalized":
            return coef, xp.reshape(theta[p, :], (n_alphas, k))
        if self.intercept == "centered":
            return coef, self.y_mean[None, :] - coef @ self.x_mean
        return coef, xp.zeros((n_alphas, k), dtype=theta.dtype, device=device)

    def certificates(self, theta, alphas) -> list[Certificate]:
        """Each alpha's gradient certificate of ``theta`` (:meth:`design_coefficients`).

        The gradient ``2 (G theta - c) / W + 2 alpha theta`` and its scale, as
        the device ``Ridge`` computes them (``_certificate`` of
        :mod:`l2reg.solvers.array_api`), for all alphas in one product: from
        the Gram statistics (primal) or from the design (kernel form: two
        products of ``A`` with ``n_alphas * k`` columns).  Only the column
        norms (``n_alphas * k`` numbers) come to the host.
        """
        xp, device = self._xp()
        alphas = np.asarray(alphas, dtype=np.float64)
        A, k = alphas.size, self.n_targets
        if self.form == "primal":
            gram_theta, cross = self.prepared.gram @ theta, self.prepared.cross
            computed_from = "sufficient statistics"
        else:
            design = self.prepared
            gram_theta, cross = design.A.T @ (design.A @ theta), design.A.T @ design.z
            computed_from = "data"
        q = theta.shape[0]
        W = self.weight_sum
        # Column a * k + t of theta is target t at alpha a.
        alpha_columns = xp.asarray(np.repeat(alphas, k), dtype=theta.dtype, device=device)
        tiled_cross = xp.reshape(xp.broadcast_to(cross[:, None, :], (q, A, k)), (q, A * k))
        gradient = 2 * (gram_theta - tiled_cross) / W + 2 * alpha_columns * theta
        gradient_norms = _column_norms(xp, gradient).reshape(A, k)
        scale = (
            2 * (_column_norms(xp, gram_theta) + _column_norms(xp, tiled_cross)) / W
            + 2 * np.repeat(alphas, k) * _column_norms(xp, theta)
        ).reshape(A, k)
        return [
            certificate_from_gradient([gradient_norms[a]], scale[a], computed_from)
            for a in range(A)
        ]

    # --- exact leave-one-out -----------------------------------------------------

    def _row_blocks(self, shrink, rows: int):
        """Yield ``(start, stop, F, lev)`` as :meth:`Spectrum._row_blocks` does.

        ``F @ (shrink * P)`` are the fitted values about the target shift and
        ``lev`` the leverages without the profiled intercept's ``w_i / W``.
        """
        xp, _ = self._xp()
        n = self.X.shape[0]
        w = self.sample_weight
        if self.form == "kernel":
            for start in range(0, n, rows):
                stop = min(start + rows, n)
                yield (
                    start,
                    stop,
                    self.fit_basis[start:stop, :],
                    (self.leverage_basis[start:stop, :] @ shrink),
                )
            return
        p, V = self.n_features, self.eigenvectors
        work = V.dtype
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            # (X_block - x_mean) V: a block temporary, no centered copy of X.
            Q = (xp.astype(self.X[start:stop, :], work) - self.x_mean) @ V[:p, :]
            if self.intercept == "penalized":
                Q = Q + V[p, :][None, :]
            lev = (Q * Q) @ shrink
            if w is not None:
                lev = lev * w[start:stop, None]
            yield start, stop, Q, lev

    def leave_one_out_sums(self, lam) -> LeaveOneOutSums:
        """The sums over rows behind the leave-one-out errors, summed on the device.

        The same sums as :meth:`Spectrum.leave_one_out_sums` (see
        :class:`~l2reg.model_selection._spectral.LeaveOneOutSums`); only
        these ``n_alphas * k`` values come back to the host.
        """
        xp, device = self._xp()
        A, k = lam.shape[0], self.n_targets
        r = self.projections.shape[0]
        shrink = self._shrinkage(lam)  # (r, A)
        columns = xp.reshape(shrink[:, :, None] * self.projections[:, None, :], (r, A * k))
        Y, w, W = self.Y, self.sample_weight, self.weight_sum
        y_shift = self.y_mean if self.intercept == "centered" else xp.zeros_like(self.y_mean)
        rows = int(
            np.clip(LOO_BLOCK_VALUES // max(A * k, 1), LOO_MIN_BLOCK_ROWS, LOO_MAX_BLOCK_ROWS)
        )

        def zeros(size):
            return xp.zeros(size, dtype=columns.dtype, device=device)

        total, w2_e, w2_e2 = zeros(A * k), zeros(A * k), zeros(A * k)
        avg_w2_e, avg_w2_e2, w2_sum = zeros(A), zeros(A), zeros(1)
        for start, stop, F, lev in self._row_blocks(shrink, rows):
            weights = xp.ones(stop - start, dtype=columns.dtype, device=device)
            if w is not None:
                weights = w[start:stop]
            if self.intercept == "centered":
                lev = lev + (weights / W)[:, None]
            fitted = xp.reshape(F @ columns, (stop - start, A, k))
            shifted = Y[start:stop, :] - y_shift
            # The full fit's residual, then the refit's without the sample (Sherman-Morrison).
            loo = (shifted[:, None, :] - fitted) / (1.0 - lev)[:, :, None]
            squared = xp.reshape(loo * loo, (stop - start, A * k))
            w2 = weights * weights
            block_sum = weights @ squared
            total = total + block_sum
            w2_e = w2_e + (block_sum if w is None else w2 @ squared)
            w2_e2 = w2_e2 + w2 @ (squared * squared)
            average = xp.mean(xp.reshape(squared, (stop - start, A, k)), axis=2)
            avg_w2_e = avg_w2_e + w2 @ average
            avg_w2_e2 = avg_w2_e2 + w2 @ (average * average)
            w2_sum = w2_sum + xp.sum(w2)
        host = [to_numpy(v) for v in (total, w2_e, w2_e2, avg_w2_e, avg_w2_e2)]
        return LeaveOneOutSums(*host, float(w2_sum[0]))

    def leave_one_out(self, lam):
        """Exact leave-one-out errors of every alpha: a host :class:`LeaveOneOut`.

        The last step (means and standard errors from the sums: arithmetic on
        ``n_alphas * k`` host numbers) is the NumPy spectrum's own, which
        reads only ``weight_sum``, ``n_targets`` and ``n_positive``, so the
        two paths cannot drift apart.
        """
        return Spectrum.leave_one_out_from_sums(self, self.leave_one_out_sums(lam))


def _check_finite(owner, xp, diagonal, yy) -> None:
    """A NaN or inf anywhere in X or y shows on the Gram (kernel) diagonal or in ``z^T z``."""
    if bool(xp.all(xp.isfinite(diagonal))) and bool(xp.all(xp.isfinite(yy))):
        return
    from l2reg.exceptions import InvalidParameterError

    raise InvalidParameterError(
        f"{owner}: input X or y contains NaN or infinity, or their sums of squares "
        "overflow; remove or impute non-finite values (or rescale the data) before fitting."
    )


def device_spectrum(X, Y, sample_weight, *, fit_intercept, penalize_intercept, owner):
    """Eigendecompose a (validated) ridge problem once, on X's namespace and device.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), float32 or float64
        Any array-API namespace; read, never copied in the primal form.
    Y : array of shape (n_samples, n_targets)
        In X's namespace, device and dtype.
    sample_weight : array of shape (n_samples,) or None
        Non-negative, in X's namespace, device and dtype.
    fit_intercept, penalize_intercept : bool
    owner : str
        Name used in error messages.

    Returns
    -------
    DeviceSpectrum
        The primal form when ``n_features (+1 for a penalized intercept) <=
        n_samples``, else the kernel form (the NumPy path's ``form="auto"``).
    """
    xp, device = namespace_of(X)
    work = work_dtype(xp, device)
    n, p = X.shape
    mode = intercept_mode(fit_intercept, penalize_intercept)
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    w = None if sample_weight is None else xp.astype(sample_weight, work)
    n_positive, log_weight_sum = n, 0.0
    if w is not None:
        positive = w > 0
        n_positive = int(xp.sum(xp.astype(positive, work)))
        safe = xp.where(positive, w, xp.ones_like(w))  # log of the positive weights only
        log_weight_sum = float(xp.sum(xp.log(safe)))
    Yw = xp.astype(Y, work)
    extra = {}
    if p + (mode == "penalized") <= n:
        moments = design_moments(X, Y, sample_weight, **options)
        centered_targets = Yw - moments.y_mean if mode == "centered" else Yw
        squared = centered_targets * centered_targets
        yy = xp.sum(squared if w is None else squared * w[:, None], axis=0)
        _check_finite(owner, xp, xp.linalg.diagonal(moments.gram), yy)
        s, V = _eigh(xp, moments.gram)
        form, prepared, projections = "primal", moments, V.T @ moments.cross
        x_mean, y_mean, W = moments.x_mean, moments.y_mean, moments.weight_sum
    else:
        design = weighted_design(X, Y, sample_weight, **options)
        K = design.A @ design.A.T
        yy = xp.sum(design.z * design.z, axis=0)
        _check_finite(owner, xp, xp.linalg.diagonal(K), yy)
        s, V = _eigh(xp, K)
        prepared = Design(design.A, design.z, design.x_mean, design.y_mean, design.weight_sum, K)
        form, projections = "kernel", V.T @ design.z
        x_mean, y_mean, W = design.x_mean, design.y_mean, design.weight_sum
        extra = dict(fit_basis=_fit_basis(X, design, s, V, w, mode), leverage_basis=V * V * s)
    return DeviceSpectrum(
        form=form,
        intercept=mode,
        eigenvalues=s,
        eigenvectors=V,
        projections=projections,
        yy=yy,
        weight_sum=W,
        n_positive=n_positive,
        log_weight_sum=log_weight_sum,
        x_mean=x_mean,
        y_mean=y_mean,
        n_features=p,
        host_eigenvalues=to_numpy(s),
        X=X,
        Y=Yw,
        sample_weight=w,
        prepared=prepared,
        **extra,
    )


def _fit_basis(X, design, s, U, w, mode):
    """Kernel form: ``F = Z A^T U`` (n, r), fitted values about the shift are ``F P / (s + lam)``.

    Since ``A A^T U = U diag(s)`` and row i of ``A`` is ``sqrt(w_i)`` times
    row i of the unweighted design ``Z``, a row with positive weight is
    ``U_i s / sqrt(w_i)``; only a zero weight (a row that is predicted but
    not fitted) needs ``Z_i A^T U`` itself, from X block by block.
    """
    xp, _ = namespace_of(U)
    if w is None:
        return U * s
    if bool(xp.all(w > 0)):
        return U * s / xp.sqrt(w)[:, None]
    basis = design.A.T @ U  # (q, r)
    p = X.shape[1]
    blocks = []
    for a, b in row_block_bounds(X.shape[0]):
        rows = xp.astype(X[a:b, :], U.dtype) - design.x_mean  # x_mean is 0 unless centered
        product = rows @ basis[:p, :]
        if mode == "penalized":  # the ones column of the design
            product = product + basis[p, :][None, :]
        blocks.append(product)
    return xp.concat(blocks, axis=0)
