"""The one accuracy budget of the fast (normal-equations) path.

Every decision to leave the fast path draws on this budget: centering the
Gram matrix (or the kernel) after the fact, the screen that decides whether
to try that, the conditioning of the Cholesky system and the precision of the
statistics.

The arithmetic
--------------
The fast path forms sufficient statistics and solves ``H theta = c`` with a
Cholesky factorization.  Two things amplify the rounding (``eps``) of the
working precision:

* **Centering after the fact.**  ``G = S - W m m^T`` from the uncentered
  ``S = X^T W X`` carries the rounding of ``S``: entry ``(j, k)`` is off by about
  ``eps * sqrt(S_jj S_kk)``, and ``S_jj = G_jj (1 + R_j)`` with the
  *cancellation ratio* ``R_j = W m_j^2 / G_jj`` (offset over spread, squared:
  a column nine standard deviations from zero has ``R = 81``).  Relative to
  the diagonal the statistics thus hold ``eps * (1 + R)`` errors: the
  **centering loss** ``1 + max_j R_j`` (1 for an exact centering).  The
  shifted pass of :mod:`l2reg.objective.gram` has the same form with the
  offset ``m - shift`` in place of ``m``.
* **Conditioning.**  Cholesky is backward stable componentwise relative to
  ``sqrt(H_jj H_kk)`` (van der Sluis; Higham, *Accuracy and Stability of
  Numerical Algorithms*, 2nd ed., Thm 10.3 and §7.3), so its forward error is
  governed by ``cond(D^-1/2 H D^-1/2)``, ``D = diag(H)``: the **equilibrated**
  condition number, which does not change when a column changes its units.
  The raw ``cond(H)`` does, by the square of the ratio of the units.

Both perturb the same equilibrated system, so the relative error of the
coefficients is about ``eps * centering_loss * cond_eq``: the digits lost add.

The budget
----------
The fast path must keep at least **half of the digits** of the precision its
statistics are computed in: ``centering_loss * cond_eq <= 1 / sqrt(eps)``
(6.7e7 in float64, i.e. coefficients good to ~1.5e-8 at worst; 2.9e3 in
float32).  Beyond that a backward-stable factorization of the data (whose
error grows like ``sqrt`` of the Gram's condition) is worth its cost.

Of this budget the Gram pass may spend a fixed share, :data:`CENTERING_SHARE`
(two digits), *before* the conditioning is known: the uncentered one-``?syrk``
pass is used only when its centering loss stays within the share.  A pilot
screens for that with a margin of two (:data:`PILOT_SHARE`), so columns up to
about seven standard deviations from zero (natural units: prices, ages,
incomes) take it, losing at most ~1.7 digits, on the record; larger offsets
take the shifted pass, whose loss is about 1 (a column nine standard
deviations out once lost two digits without a word; it now loses none).

The solver then checks the whole budget with the conditioning it measured;
if only the centering loss breaks it, the statistics are recomputed exactly
centered (one more pass) instead of leaving the fast path.  The kernel of the
dual form (p > n) follows the same rules (:mod:`l2reg.objective.kernel`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CENTERING_SHARE",
    "PILOT_SHARE",
    "max_amplification",
    "within_budget",
    "digits_lost",
    "centering_loss",
]

#: The largest centering loss (``1 + max R``) a pass may incur without knowing
#: the conditioning: two of float64's ~16 digits.  The one-``?syrk`` pass it
#: buys is ~20% faster than the shifted blocked pass (DESIGN.md §5).
CENTERING_SHARE = 1e2
#: A pilot of a few hundred rows must estimate the loss within this, half the
#: share, to try the uncentered pass: its estimate of a spread is good to
#: ~10-20%, so a margin of two rarely lets a pass through that is then
#: rejected (which costs one more pass), and rarely turns away one that fits.
PILOT_SHARE = CENTERING_SHARE / 2


def max_amplification(dtype) -> float:
    """The whole budget: ``1 / sqrt(eps)`` of ``dtype`` (keep half of its digits)."""
    return float(1.0 / np.sqrt(np.finfo(np.dtype(dtype)).eps))


def within_budget(centering_loss: float, rcond: float, dtype=np.float64) -> bool:
    """Whether ``centering_loss / rcond`` (the loss times cond_eq) fits ``dtype``'s budget."""
    if not rcond > 0:
        return False
    return centering_loss / rcond <= max_amplification(dtype)


def digits_lost(centering_loss: float, rcond: float) -> float:
    """Decimal digits the fast path loses: ``log10(centering_loss * cond_eq)``."""
    if not rcond > 0:
        return np.inf
    return float(np.log10(centering_loss / rcond))


def centering_loss(rounding_scale, diagonal) -> float:
    """``max(1, max_j rounding_scale_j / diagonal_j)``: the centering loss of a set of columns.

    ``rounding_scale`` is, per column, the sum of squares whose rounding the
    centered diagonal entry carries (``sum w (x - s)^2`` for a pass about the
    shift ``s``; ``W (m - s)^2 + diagonal``), ``diagonal`` the diagonal the
    solve works with (centered, plus any ridge).  A column whose rounding
    scale is zero costs nothing whatever its spread; a positive scale on a
    diagonal that is not positive (a constant column without penalty), or a
    non-finite ratio, makes the loss infinite.
    """
    scale = np.asarray(rounding_scale, dtype=np.float64)
    diagonal = np.asarray(diagonal, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(scale == 0, 0.0, scale / np.where(diagonal > 0, diagonal, 0.0))
    if not np.all(np.isfinite(ratio)):
        return np.inf
    return max(1.0, float(np.max(ratio, initial=0.0)))
