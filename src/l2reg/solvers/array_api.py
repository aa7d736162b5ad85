"""The ridge solvers on any array-API namespace (PyTorch, CuPy, array-api-strict, ...).

A second implementation of the few steps a ridge fit needs, written against
the array API standard through ``array_api_compat``, so that the data stay on
their device (a GPU) and the results come back in the caller's namespace.
NumPy arrays never come here: they keep the BLAS plumbing of
:mod:`l2reg.solvers.direct` (split passes, equilibrated Cholesky, condition
budget), which the standard cannot express.

The steps
---------
``cholesky`` (n >= p)
    The weighted Gram matrix ``A^T A`` and ``A^T z`` (``A = sqrt(w) (X - s)``,
    ``z = sqrt(w) (Y - y_mean)``) accumulated over row blocks of X (a block
    temporary, never an n x p copy), each block shifted by a pilot mean ``s``
    so that large column offsets do not cancel; centered exactly afterwards
    by the rank-one correction ``W (m - s)(m - s)^T``.  The p x p system is
    solved in float64 where the device has it (float32 X: the Gram in
    float32, the solve in float64).
``kernel`` (p > n)
    The dual form ``theta = A^T (A A^T + W alpha I)^-1 z`` from the n x n kernel.
``svd``
    The SVD of ``A``: backward stable, minimum-norm at ``alpha = 0``.
Spectra (``RidgeCV``, ``ridge_path``)
    :mod:`l2reg.model_selection._spectral_xp` decomposes the :class:`Moments`
    (n >= p) or the kernel of the :class:`Design` (p > n) that these steps
    form, and hands them back to :func:`ridge_fit` (``prepared``) for the
    refit at the chosen alpha, so that the refit makes no second pass over X.

The intercept: profiled out by centering (``fit_intercept=True``), or a
penalized column of ones (``penalize_intercept=True``), or none.  The
certificate is computed as the NumPy solvers compute it (from the Gram for
``cholesky``, from ``A`` otherwise).  Unlike the NumPy path this one does not
estimate condition numbers (the standard has no ``pocon``): a Cholesky solve
that fails or returns non-finite values falls back to ``svd`` with a
:class:`~l2reg.SolverFallbackWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from l2reg._warnings import user_stacklevel
from l2reg.exceptions import SolverFallbackWarning
from l2reg.solvers._result import Certificate, certificate_from_gradient

__all__ = [
    "ArrayFit",
    "Design",
    "Moments",
    "ridge_fit",
    "namespace_of",
    "work_dtype",
    "design_moments",
    "weighted_design",
    "row_block_bounds",
]

#: A block holds at most this share of the rows (and at least MIN_BLOCK_ROWS):
#: the temporaries stay small next to X while each product stays large
#: enough for a GPU's matrix units.
BLOCK_FRACTION = 1 / 8
MIN_BLOCK_ROWS = 4096
#: Rows of the pilot whose mean shifts every block (see the module docstring).
PILOT_ROWS = 256


def namespace_of(array):
    """``(xp, device)`` of an array, through array_api_compat."""
    import array_api_compat

    return array_api_compat.array_namespace(array), array_api_compat.device(array)


def work_dtype(xp, device):
    """float64 where the device has it (not every GPU backend does), else float32."""
    try:
        xp.zeros(1, dtype=xp.float64, device=device)
    except Exception:  # e.g. PyTorch on Apple's MPS
        return xp.float32
    return xp.float64


@dataclass(frozen=True)
class ArrayFit:
    """A fit in the caller's namespace: ``coef`` (k, p) and ``intercept`` (k,) in X's dtype."""

    coef: object
    intercept: object
    solver: str
    certificate: Certificate
    message: str = ""


@dataclass(frozen=True)
class Moments:
    """Weighted, centered second moments of a design (see :func:`design_moments`)."""

    gram: object  # (q, q) work dtype
    cross: object  # (q, k) work dtype
    x_mean: object  # (p,) work dtype; zeros when nothing is centered
    y_mean: object  # (k,) work dtype
    weight_sum: float


def row_block_bounds(n: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the row blocks of an n-row X: each at most
    :data:`BLOCK_FRACTION` of the rows (at least :data:`MIN_BLOCK_ROWS`), so no pass
    holds an n x p temporary."""
    rows = max(MIN_BLOCK_ROWS, int(np.ceil(n * BLOCK_FRACTION)))
    return [(a, min(a + rows, n)) for a in range(0, n, rows)]


def _weights(xp, sample_weight, n, dtype, device):
    if sample_weight is None:
        return None, float(n)
    w = xp.astype(sample_weight, dtype)
    return w, float(xp.sum(w))


def design_moments(
    X, Y, sample_weight, *, fit_intercept, penalize_intercept, gram_dtype=None
) -> Moments:
    """``A^T A`` and ``A^T z`` of the ridge design, blockwise, in the work dtype.

    ``A = sqrt(w) [X - x_mean]`` (profiled intercept), ``sqrt(w) [X, 1]``
    (penalized intercept) or ``sqrt(w) X``; ``z`` is ``sqrt(w) (Y - y_mean)``
    for a profiled intercept, ``sqrt(w) Y`` otherwise.  ``gram_dtype`` (e.g.
    float32 for a float64 X: mixed precision) rounds each block to it for the
    Gram's product; the blocks' products are added in the work dtype, and the
    cross products stay in X's dtype.
    """
    xp, device = namespace_of(X)
    n, p = X.shape
    work = work_dtype(xp, device)
    w, W = _weights(xp, sample_weight, n, X.dtype, device)
    centered = fit_intercept and not penalize_intercept
    Yw = xp.astype(Y, work)
    wk = None if w is None else xp.astype(w, work)
    y_mean = (xp.sum(Yw, axis=0) if wk is None else wk @ Yw) / W
    shift = xp.zeros(p, dtype=X.dtype, device=device)
    if centered:
        head = X[: min(n, PILOT_ROWS), :]
        shift = xp.mean(head, axis=0)
    q = p + int(penalize_intercept)
    low = X.dtype if gram_dtype is None else gram_dtype
    gram = xp.zeros((q, q), dtype=X.dtype if low == X.dtype else work, device=device)
    cross = xp.zeros((q, Y.shape[1]), dtype=X.dtype, device=device)
    sums = xp.zeros(p, dtype=work, device=device)
    y_center = y_mean if centered else xp.zeros_like(y_mean)
    for a, b in row_block_bounds(n):
        block = X[a:b, :] - shift
        sums = sums + xp.astype(xp.sum(block, axis=0) if w is None else w[a:b] @ block, work)
        targets = xp.astype(Yw[a:b, :] - y_center, X.dtype)
        if penalize_intercept:
            block = xp.concat([block, xp.ones((b - a, 1), dtype=X.dtype, device=device)], axis=1)
        if w is not None:
            root = xp.sqrt(w[a:b])[:, None]
            block = block * root
            targets = targets * root
        if low == X.dtype:
            gram = gram + block.T @ block
        else:
            rounded = xp.astype(block, low)
            gram = gram + xp.astype(rounded.T @ rounded, work)
        cross = cross + block.T @ targets
    gram, cross = xp.astype(gram, work), xp.astype(cross, work)
    x_mean = xp.zeros(p, dtype=work, device=device)
    if centered:
        # sum w (x - m)(x - m)^T = sum w (x - s)(x - s)^T - W (m - s)(m - s)^T;
        # the cross products are already centered (sum w (y - y_mean) = 0).
        offset = sums / W
        gram = gram - W * (offset[:, None] * offset[None, :])
        x_mean = xp.astype(shift, work) + offset
    return Moments(gram, cross, x_mean, y_mean, W)


@dataclass(frozen=True)
class Design:
    """The explicit weighted design of :func:`weighted_design`, in the work dtype."""

    A: object  # (n, q): sqrt(w) [X - x_mean], sqrt(w) [X, 1] or sqrt(w) X
    z: object  # (n, k): sqrt(w) (Y - y_mean) or sqrt(w) Y
    x_mean: object  # (p,); zeros when nothing is centered
    y_mean: object  # (k,); zeros when nothing is centered
    weight_sum: float
    kernel: object = None  # A A^T (n, n) once formed (the kernel solver reuses it)


def weighted_design(X, Y, sample_weight, *, fit_intercept, penalize_intercept) -> Design:
    """The explicit weighted design ``A`` and targets ``z`` (a copy of X), for kernel/svd."""
    xp, device = namespace_of(X)
    n, p = X.shape
    work = work_dtype(xp, device)
    w, W = _weights(xp, sample_weight, n, work, device)
    A, z = xp.astype(X, work), xp.astype(Y, work)
    centered = fit_intercept and not penalize_intercept
    x_mean = xp.zeros(p, dtype=work, device=device)
    y_mean = xp.zeros(Y.shape[1], dtype=work, device=device)
    if centered:
        x_mean = (xp.sum(A, axis=0) if w is None else w @ A) / W
        y_mean = (xp.sum(z, axis=0) if w is None else w @ z) / W
        A, z = A - x_mean, z - y_mean
    if penalize_intercept:
        A = xp.concat([A, xp.ones((n, 1), dtype=work, device=device)], axis=1)
    if w is not None:
        root = xp.sqrt(w)[:, None]
        A, z = A * root, z * root
    return Design(A, z, x_mean, y_mean, W)


def _per_target(xp, alpha, solve):
    """Solve once per distinct alpha; column t of the result comes from alpha[t]'s solve."""
    solutions = {float(a): solve(float(a)) for a in np.unique(alpha)}
    return xp.stack([solutions[float(a)][:, t] for t, a in enumerate(alpha)], axis=1)


def _eye(xp, q, dtype, device):
    return xp.eye(q, dtype=dtype, device=device)


def _norms(xp, M):
    return np.asarray([float(xp.linalg.vector_norm(M[:, t])) for t in range(M.shape[1])])


def _finish(X, theta, x_mean, y_mean, *, fit_intercept, penalize_intercept, solver, cert):
    """Split the intercept off ``theta`` (q, k), cast to X's dtype, (k, p) coefficients."""
    xp, device = namespace_of(X)
    k = theta.shape[1]
    if penalize_intercept:
        coef, intercept = theta[:-1, :], theta[-1, :]
    elif fit_intercept:
        coef, intercept = theta, y_mean - x_mean @ theta
    else:
        coef, intercept = theta, xp.zeros(k, dtype=theta.dtype, device=device)
    return ArrayFit(
        coef=xp.astype(coef.T, X.dtype),
        intercept=xp.astype(intercept, X.dtype),
        solver=solver,
        certificate=cert,
    )


def _certificate(xp, gram_theta, cross, theta, alpha, W, computed_from):
    """The NumPy solvers' certificate: gradient ``2 (G theta - c) / W + 2 alpha theta``."""
    _, device = namespace_of(theta)
    alpha_x = xp.asarray(np.asarray(alpha, dtype=np.float64), dtype=theta.dtype, device=device)
    gradient = 2 * (gram_theta - cross) / W + 2 * alpha_x * theta
    scale = 2 * (_norms(xp, gram_theta) + _norms(xp, cross)) / W + 2 * np.asarray(alpha) * _norms(
        xp, theta
    )
    return certificate_from_gradient([_norms(xp, gradient)], scale, computed_from)


def ridge_fit(
    X,
    Y,
    sample_weight,
    alpha,
    *,
    fit_intercept,
    penalize_intercept,
    solver,
    owner,
    precision="double",
    prepared=None,
):
    """Fit ridge on X's namespace and device with the registry's ``solver`` name.

    Parameters
    ----------
    X : array (n, p), float32 or float64, any array-API namespace
    Y : array (n, k), same namespace and device
    sample_weight : array (n,) or None
    alpha : ndarray of shape (k,) (NumPy: a host-side parameter)
    fit_intercept, penalize_intercept : bool
    solver : {"cholesky", "kernel", "svd"}
    owner : str
        The estimator's name, for the fallback warning.
    precision : {"double", "mixed", "auto"}, default="double"
        Ridge's ``precision``: with ``"mixed"`` or ``"auto"``, a float64 X's
        ``cholesky`` fit forms its Gram in float32 and refines the solution
        to float64 accuracy (:func:`_mixed_fit`; on a GPU float32 products
        are many times faster).
    prepared : Moments or Design, default=None
        What :func:`design_moments` (``cholesky``) or :func:`weighted_design`
        (``kernel``, ``svd``; with its ``kernel`` for ``kernel``) already
        computed for exactly these X, Y, weights and intercept options (e.g.
        by a spectral decomposition): used instead of a new pass over X.

    Returns
    -------
    ArrayFit
    """
    xp, device = namespace_of(X)
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    mixed = precision != "double" and solver == "cholesky" and X.dtype == xp.float64
    if precision == "auto":  # where it pays, by the NumPy path's rule
        from l2reg.solvers.mixed import AUTO_MIN_FEATURES, AUTO_MIN_WORK

        n, p = X.shape
        mixed = mixed and p >= AUTO_MIN_FEATURES and n * p * p / 2 >= AUTO_MIN_WORK
    if mixed and not penalize_intercept and X.shape[0] >= X.shape[1]:
        fit = _mixed_fit(X, Y, sample_weight, alpha, fit_intercept=fit_intercept)
        if isinstance(fit, ArrayFit):
            return fit
        if precision == "mixed":
            warnings.warn(
                f"{owner}: mixed precision fell back to double precision because {fit}. "
                "Pass precision='double' to choose it directly and silence this warning.",
                SolverFallbackWarning,
                stacklevel=user_stacklevel(),
            )
        double = ridge_fit(X, Y, sample_weight, alpha, **options, solver=solver, owner=owner)
        note = f"{double.solver} (mixed precision fell back to double: {fit})"
        return ArrayFit(double.coef, double.intercept, note, double.certificate)
    if solver == "cholesky":
        moments = prepared
        if not isinstance(moments, Moments):
            moments = design_moments(X, Y, sample_weight, **options)
        G, c, W = moments.gram, moments.cross, moments.weight_sum
        eye = _eye(xp, G.shape[0], G.dtype, device)
        try:
            theta = _per_target(xp, alpha, lambda a: xp.linalg.solve(G + (W * a) * eye, c))
        except Exception:  # a singular system: each library raises its own LinAlgError
            theta = None
        if theta is not None and bool(xp.all(xp.isfinite(theta))):
            cert = _certificate(xp, G @ theta, c, theta, alpha, W, "sufficient statistics")
            return _finish(
                X, theta, moments.x_mean, moments.y_mean, **options, solver="cholesky", cert=cert
            )
        warnings.warn(
            f"{owner}: solver 'cholesky' fell back to 'svd' because the penalized Gram "
            "matrix is singular; the result is the "
            "backward-stable (minimum-norm) solution. Pass solver='svd' to choose it directly.",
            SolverFallbackWarning,
            stacklevel=user_stacklevel(),
        )
        solver = "svd"
    design = prepared
    if not isinstance(design, Design):
        design = weighted_design(X, Y, sample_weight, **options)
    A, z, x_mean, y_mean, W = design.A, design.z, design.x_mean, design.y_mean, design.weight_sum
    if solver == "kernel":
        K = A @ A.T if design.kernel is None else design.kernel
        eye = _eye(xp, K.shape[0], K.dtype, device)
        dual = _per_target(xp, alpha, lambda a: xp.linalg.solve(K + (W * a) * eye, z))
        theta = A.T @ dual
    else:
        U, s, Vt = xp.linalg.svd(A, full_matrices=False)
        projected = U.T @ z
        # alpha = 0: the minimum-norm least-squares solution (LAPACK's rcond rule).
        cutoff = float(xp.max(s)) * max(A.shape) * float(np.finfo(np.float64).eps)
        kept = s > cutoff

        def solve(a):
            denominator = s * s + W * a
            factor = xp.where(kept, s / xp.where(kept, denominator, 1.0), 0.0)
            return Vt.T @ (factor[:, None] * projected)

        theta = _per_target(xp, alpha, solve)
    residual_gram = A.T @ (A @ theta)
    cert = _certificate(xp, residual_gram, A.T @ z, theta, alpha, W, "data")
    return _finish(X, theta, x_mean, y_mean, **options, solver=solver, cert=cert)


def _mixed_fit(X, Y, sample_weight, alpha, *, fit_intercept):
    """Mixed precision on the device: float32 Gram, float64 refinement; or why not.

    The method and stopping rule of :mod:`l2reg.solvers.mixed` (see there),
    with the array API's operations: each block of X is rounded to float32 for
    the Gram's product, the preconditioner is the float64 inverse of the
    penalized float32-rounded Gram (the standard has no triangular solve),
    and each refinement pass computes ``Xc^T W (yc - Xc theta)`` in float64,
    block by block.  Returns an :class:`ArrayFit`, or the reason (str) to
    fall back to double precision.
    """
    from l2reg.solvers.mixed import (
        FLOAT64_EPS,
        GRADIENT_TOL,
        MAX_CONDITION,
        MAX_PASSES,
        MIXED_SOLVER,
        STALL_RATIO,
        STEP_TOL,
    )

    xp, device = namespace_of(X)
    moments = design_moments(
        X, Y, sample_weight, fit_intercept=fit_intercept, penalize_intercept=False,
        gram_dtype=xp.float32,
    )  # fmt: skip
    G, c, W = moments.gram, moments.cross, moments.weight_sum
    if not bool(xp.all(xp.isfinite(G))):
        return "X holds non-finite values or its squares overflow float32"
    eye = _eye(xp, G.shape[0], G.dtype, device)
    inverses, condition = {}, 0.0
    for a in np.unique(alpha):
        H = G + (W * float(a)) * eye
        diagonal = xp.linalg.diagonal(H)
        if not bool(xp.all(diagonal > 0)):
            return "the float32 Gram matrix is not positive definite"
        try:
            inverse = xp.linalg.inv(H)
        except Exception:  # each library raises its own LinAlgError
            return "the float32 Gram matrix is singular"
        # The equilibrated 1-norm condition number (van der Sluis), from the inverse.
        root = xp.sqrt(diagonal)
        scaled = H / root[:, None] / root[None, :]
        scaled_inverse = inverse * root[:, None] * root[None, :]
        norms = [float(xp.max(xp.sum(xp.abs(M), axis=0))) for M in (scaled, scaled_inverse)]
        condition = max(condition, norms[0] * norms[1])
        inverses[float(a)] = inverse
    if not condition <= MAX_CONDITION:
        return (
            f"the float32 Gram's equilibrated condition number ~{condition:.1e} exceeds "
            f"{MAX_CONDITION:.0e}, the limit of float32 refinement"
        )

    def correct(rhs):
        return _per_target(xp, alpha, lambda a: inverses[float(a)] @ rhs)

    Yw = xp.astype(Y, G.dtype)
    w = None if sample_weight is None else xp.astype(sample_weight, G.dtype)
    alpha_x = xp.asarray(np.asarray(alpha, dtype=np.float64), dtype=G.dtype, device=device)
    floor = FLOAT64_EPS * condition
    theta, previous = correct(c), np.inf
    for passes in range(1, MAX_PASSES + 1):  # noqa: B007 -- reported after the loop
        offset = moments.y_mean - moments.x_mean @ theta if fit_intercept else 0.0
        data = xp.zeros_like(c)
        for a, b in row_block_bounds(X.shape[0]):
            block = X[a:b, :]
            residual = Yw[a:b, :] - block @ theta - offset
            data = data + block.T @ (residual if w is None else residual * w[a:b, None])
        residual = data - W * alpha_x * theta  # -W/2 times the gradient
        cert = _certificate(xp, c - data, c, theta, alpha, W, "data")
        step = correct(residual)
        size = float(xp.linalg.vector_norm(step)) / max(
            float(xp.linalg.vector_norm(theta)), np.finfo(float).tiny
        )
        relative = cert.relative_gradient_norm
        if relative <= max(GRADIENT_TOL, floor) and size <= max(STEP_TOL, floor):
            break
        if size > STALL_RATIO * previous:
            return f"refinement stopped contracting at relative gradient {relative:.1e}"
        previous, theta = size, theta + step
    else:
        return f"refinement did not converge in {MAX_PASSES} passes"
    fit = _finish(
        X, theta, moments.x_mean, moments.y_mean, fit_intercept=fit_intercept,
        penalize_intercept=False, solver=MIXED_SOLVER, cert=cert,
    )  # fmt: skip
    return ArrayFit(fit.coef, fit.intercept, fit.solver, fit.certificate, f"{passes} passes")
