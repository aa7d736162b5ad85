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
    not), so it shares no algebra with the library's profiled/centered forms.
    For ``alpha=0`` the system must be nonsingular.  Returns ``(coef, intercept)``.
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
        H = mp.matrix(columns, columns)
        rhs = mp.matrix(columns, 1)
        for a in range(columns):
            for b in range(a, columns):
                value = mp.fsum(w[i] * rows[i][a] * rows[i][b] for i in range(n)) / W
                H[a, b] = H[b, a] = value
            rhs[a] = mp.fsum(w[i] * rows[i][a] * target[i] for i in range(n)) / W
        penalized = p + (1 if fit_intercept and penalize_intercept else 0)
        for a in range(penalized):
            H[a, a] += mp.mpf(float(alpha))
        solution = mp.lu_solve(H, rhs)
        values = np.array([float(solution[i]) for i in range(columns)])
    return (values[:p], values[p] if fit_intercept else 0.0)


def design_with_spectrum(rng, n, singular_values):
    """An n x p matrix whose centered version has the given singular values."""
    p = len(singular_values)
    U, _ = np.linalg.qr(rng.standard_normal((n, p)))
    U -= U.mean(axis=0)  # keep the centered version's left factor orthonormal-ish
    U, _ = np.linalg.qr(U)
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return (U * np.asarray(singular_values)) @ V.T + rng.standard_normal(p)
