"""The primal :class:`~l2reg.model_selection._spectral.Spectrum` under a generalized L2 penalty.

See the "Generalized penalties" paragraph of :mod:`l2reg.model_selection._spectral`:
one ``eigh`` of the penalty's standard form
(:func:`l2reg.objective.tikhonov.standard_form`), the unpenalized directions
appended with eigenvalue 1 and no penalty, a prior mean carried as
``coef_offset`` / ``target_offset``.
"""

from __future__ import annotations

import numpy as np

from l2reg._threads import blas_controller, single_blas_thread
from l2reg.model_selection._spectral import (
    SINGLE_THREAD_EIGH_MAX,
    Spectrum,
    _symmetric_eigh,
)
from l2reg.objective.tikhonov import resolve_penalty, standard_form

__all__ = ["penalized_spectrum", "prior_fit"]


def penalized_spectrum(stats, mode, G, c, yy, n_positive, description, owner) -> Spectrum:
    """The primal spectrum under a generalized L2 penalty (module docstring)."""
    penalty = resolve_penalty(
        description, stats, fit_intercept=mode != "none", n_targets=stats.n_targets
    )
    if mode == "penalized":
        penalty = penalty.with_penalized_intercept()
    theta0 = penalty.prior_mean
    if theta0 is not None:  # ridge on y - X theta0: shift the moments
        G_theta0 = G @ theta0
        yy = yy - 2 * np.sum(theta0 * c, axis=0) + np.sum(theta0 * G_theta0, axis=0)
        c = c - G_theta0
    if G.shape[0] <= SINGLE_THREAD_EIGH_MAX:
        # The SVD of Gamma and the p x p products, as the eigh below: on 2 busy
        # cores threaded OpenBLAS took 1.2 s for the SVD of a 498 x 500 Gamma.
        with single_blas_thread(blas_controller()):
            split = standard_form(G, penalty, owner)
    else:
        split = standard_form(G, penalty, owner)
    s, V = _symmetric_eigh(split.gram)
    basis = np.hstack([split.basis @ V, split.unpenalized])
    n_unpenalized = split.unpenalized.shape[1]
    return Spectrum(
        form="primal",
        intercept=mode,
        eigenvalues=np.concatenate([s, np.ones(n_unpenalized)]),
        eigenvectors=np.ascontiguousarray(basis),
        projections=basis.T @ c,
        yy=np.maximum(yy, 0.0),
        weight_sum=stats.weight_sum,
        n_positive=n_positive,
        x_mean=stats.x_mean,
        y_mean=stats.y_mean,
        n_features=stats.n_features,
        log_weight_sum=stats.log_weight_sum,
        n_unpenalized=n_unpenalized,
        coef_offset=theta0,
    )


def prior_fit(X, spectrum: Spectrum, mode: str) -> np.ndarray:
    """A prior mean's fitted values ``(X - [x_mean]) theta0 [+ b0]``, (n, k): one product with X."""
    theta0 = spectrum.coef_offset
    p = spectrum.n_features
    fitted = np.asarray(X @ theta0[:p].astype(X.dtype, copy=False), dtype=np.float64)
    if mode == "centered":
        fitted -= spectrum.x_mean @ theta0[:p]
    elif mode == "penalized":
        fitted += theta0[p]
    return fitted
