"""Independent references: 50-digit closed forms (mpmath) and designs with chosen spectra."""

from __future__ import annotations

import mpmath as mp
import numpy as np

DIGITS = 50


def ridge_reference(
    X, y, alpha, *, sample_weight=None, fit_intercept=True, penalize_intercept=False
):
    """Closed-form minimizer of l2reg's objective in 50-digit arithmetic.

    Builds the normal equations of ``J = sum w r^2 / sum w + alpha ||theta||^2
    (+ alpha b^2)`` in full (the intercept as a column of ones, penalized or
    not), so it shares no algebra with the library's profiled/centered forms:
    :func:`penalized_ridge_reference` with ``P = I``.  For ``alpha=0`` the
    system must be nonsingular.  Returns ``(coef, intercept)``.
    """
    return penalized_ridge_reference(
        X,
        y,
        alpha,
        np.eye(X.shape[1]),
        sample_weight=sample_weight,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
    )


def design_with_spectrum(rng, n, singular_values):
    """An n x p matrix whose centered version has the given singular values."""
    p = len(singular_values)
    U, _ = np.linalg.qr(rng.standard_normal((n, p)))
    U -= U.mean(axis=0)  # keep the centered version's left factor orthonormal-ish
    U, _ = np.linalg.qr(U)
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return (U * np.asarray(singular_values)) @ V.T + rng.standard_normal(p)


def penalized_ridge_reference(
    X,
    y,
    alpha,
    penalty,
    *,
    prior_mean=None,
    sample_weight=None,
    fit_intercept=True,
    penalize_intercept=False,
):
    """Minimizer of ``sum w r^2 / sum w + alpha (theta - theta0)^T P (theta - theta0)
    (+ alpha b^2)`` in 50-digit arithmetic, ``P = penalty`` (p x p, PSD).

    The full normal equations ``(Z^T W Z / W + alpha P_aug) [theta; b] =
    Z^T W y / W + alpha P_aug [theta0; 0]`` with ``Z = [X, 1]``: no centering,
    no standard form, no factorization the library uses.  Returns ``(coef, intercept)``.
    """
    with mp.workdps(DIGITS):
        n, p = X.shape
        w = [mp.mpf(1)] * n if sample_weight is None else [mp.mpf(float(v)) for v in sample_weight]
        W = mp.fsum(w)
        columns = p + (1 if fit_intercept else 0)
        rows = [
            [mp.mpf(float(v)) for v in X[i]] + ([mp.mpf(1)] if fit_intercept else [])
            for i in range(n)
        ]
        target = [mp.mpf(float(v)) for v in y]
        theta0 = [mp.mpf(0)] * p if prior_mean is None else [mp.mpf(float(v)) for v in prior_mean]
        a = mp.mpf(float(alpha))
        H = mp.matrix(columns, columns)
        rhs = mp.matrix(columns, 1)
        for i in range(columns):
            for j in range(i, columns):
                value = mp.fsum(w[k] * rows[k][i] * rows[k][j] for k in range(n)) / W
                H[i, j] = H[j, i] = value
            rhs[i] = mp.fsum(w[k] * rows[k][i] * target[k] for k in range(n)) / W
        for i in range(p):
            for j in range(p):
                entry = a * mp.mpf(float(penalty[i, j]))
                H[i, j] += entry
                rhs[i] += entry * theta0[j]
        if fit_intercept and penalize_intercept:
            H[p, p] += a
        solution = mp.lu_solve(H, rhs)
        values = np.array([float(solution[i]) for i in range(columns)])
    return (values[:p], values[p] if fit_intercept else 0.0)
