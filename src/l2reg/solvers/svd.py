"""The ``svd`` solver: backward-stable penalized least squares, the normal equations' fallback.

With ``A = sqrt(w) * (X - x_mean)`` and ``z = sqrt(w) * (y - y_mean)`` (a
penalized intercept: ``A = sqrt(w) * [X, 1]``, uncentered; no intercept:
uncentered), each target's ``theta`` minimizes ``||A theta - z||^2 + lam
||theta||^2`` with ``lam = W alpha`` (``W = sum(w)``).

Tall data (n >= m, the m columns of A)
    A blocked QR (TSQR): X is read in blocks of rows, each block is written
    as ``[A_b, z_b]`` into one reused buffer under the R factor of the rows
    before it, and one LAPACK ``?geqrf`` of that stack updates R.  No n x m
    array is ever formed: the memory is one block plus O((m + k)^2).  The
    R factor of ``[A, z]`` holds ``R11`` (the R of A) and, in its top-right
    block, ``d = Q1^T z``.
    The solve is then **equilibrated**: with ``D`` the powers of two that
    bring ``R11``'s columns (those of A) to unit norm, ``theta = D phi`` and
    ``R~ = R11 D`` (exactly the R of ``A D``), each distinct ``lam`` solves
    ``||R~ phi - d||^2 + lam ||D phi||^2`` by the QR of the 2m x m stack
    ``[R~; sqrt(lam) D]`` and the SVD of its triangle (:func:`_tall_factors`).
    Every rounding is thus relative to each column's own size: units do not
    change the accuracy or the rank decision (in the columns' own units, the
    SVD of ``R11`` has absolute errors ``eps * s_max``, which swamp a column
    in units 1e-10 times smaller than the largest's).
Wide data (p > n)
    The SVD of the n x m copy of A (the size of X; the memory bound of the
    tall case does not apply here), in the columns' own units: the dual
    problem's conditioning is that of ``A A^T``, which column scaling does
    not equilibrate.

The rank cutoff is :func:`numpy.linalg.lstsq`'s, ``max(n, m) * eps * s_max``,
applied to the singular values of the (equilibrated) augmented matrix
``[A D; sqrt(lam) D]``, so that a positive alpha keeps every direction it
makes well defined.  For ``alpha=0`` a design of full numerical rank in
equilibrated units has one least-squares solution, computed in that form;
a rank-deficient one gets the minimum-norm solution by ``lstsq``'s
convention in the columns' own units (norm and cutoff both in those units,
as :func:`numpy.linalg.lstsq` on the weighted centered design would give).
(On the wide path ``D = I``.)

On ill-conditioned problems (in equilibrated units) the solution is then
refined: each step is one pass over X that computes the gradient
``A^T (z - A theta) - lam theta`` in double-double arithmetic (error-free
transformations: :func:`_two_sum`, and Dekker's product with Veltkamp's
split, :func:`_product_error`; no extended floating-point type, so the
digits are the same on every platform), followed by the correction
``theta += D V diag(1 / S^2) V^T D gradient`` (``D V diag(S^2) V^T D`` is
the factored ``A^T A + lam I``).  This is iterative refinement of the
(corrected) semi-normal equations with the factor of the data: the residual
is recomputed accurately at every step, so it converges for large-residual
least squares, and each step gains about ``-log10(cond * eps)`` digits, with
the equilibrated ``cond`` (Bjorck, *Numerical Methods for Least Squares
Problems*, SIAM 1996, sections 2.9 and 6.6).  The refinement first makes the
column means exact to double-double precision (:func:`_mean_low_part`).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import get_lapack_funcs

from l2reg._threads import blas_controller, single_blas_thread
from l2reg._validation import check_finite
from l2reg.objective.problem import Problem
from l2reg.solvers._registry import Capabilities, register
from l2reg.solvers._result import SolverResult, certificate_from_gradient

__all__ = ["SVDSolver"]

# Iterative refinement (below) runs when the effective condition number of the
# factored problem, S_max / S_min of the (equilibrated) augmented matrix
# [A D; sqrt(W alpha) D], exceeds this: below it a backward-stable solve is
# already accurate to ~1e-12.
REFINE_ABOVE_CONDITION = 1e4
# At most two steps: each multiplies the error by about cond * eps (1e-4 at
# cond 1e12), so two bring even the 1e-1 errors of large-residual cond-1e12
# least squares to ~1e-9 in the tests; a step whose correction is below the
# rounding of theta ends the refinement early.
REFINEMENT_STEPS = 2
# Rows per block of the plain float64 passes (means, QR, certificate): at most
# 1/32 of the rows, so a block buffer stays below ~0.03x X, but never fewer
# than the columns, so a QR step does at least as much work as it carries.
BLOCK_ROWS = 4096
BLOCK_FRACTION = 32
# The double-double passes hold about fifteen block-sized temporaries; 2**14
# elements (128 KiB) each keeps them in cache and all of them near 2 MiB, and
# at most 1/256 of the rows keeps them below ~0.06x X on small X too.
COMPENSATED_BLOCK_ELEMENTS = 2**14
COMPENSATED_BLOCK_FRACTION = 256
# A tall solve is a sequence of small BLAS and LAPACK calls: per block of rows
# a ?geqrf of a (m + k + rows) x (m + k) stack or a product with a rows x m
# block, then the QR and SVD of m x m matrices.  Threads gain little there and
# pay their synchronization at every call: on two shared, busy cores a
# 100,000 x 200 fit took 10.6 s with OpenBLAS at its default two threads and
# 1.05 s at one (50,000 x 500: 14.0 s and 2.2 s; the TSQR loop alone 7.3 s and
# 0.7 s, 12.8 s and 2.1 s; rough figures).  So up to this many columns (m + k)
# a tall solve holds BLAS at one thread (the package's one limit,
# l2reg._threads); wider, the products are large enough to leave BLAS its
# threads, as for the Cholesky solve (l2reg._row_split.SCOPE_MAX_FEATURES)
# and the spectral eigh (l2reg.model_selection._spectral).
SINGLE_THREAD_MAX_COLUMNS = 1024
# Veltkamp's splitter for float64 (2^27 + 1): splits a double into two halves
# of 26 bits whose pairwise products are exact.  It overflows above ~1e300,
# far beyond data whose squares (the Gram route) would already overflow.
_SPLITTER = 134217729.0
EPS = float(np.finfo(np.float64).eps)


# ------------------------------------------------------------ error-free transformations


def _two_sum(a, b):
    """``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (Knuth's TwoSum)."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


def _split(a):
    """``(hi, lo)`` with ``a = hi + lo`` exactly and 26 significant bits each (Veltkamp)."""
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def _product_error(a, b, p, a_split, b_split):
    """The rounding error ``a * b - p`` of ``p = fl(a * b)``, exactly (Dekker's TwoProduct)."""
    (a_hi, a_lo), (b_hi, b_lo) = a_split, b_split
    return ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _compensated_sum(terms, errors):
    """``sum(terms + errors, axis=0)`` as a double-double ``(hi, lo)``.

    The terms are added pairwise with TwoSum, whose rounding errors are kept;
    the errors (small next to the terms) are summed in plain float64.  The
    result is accurate to about ``eps^2 * sum|terms| * log2(len(terms))``.
    """
    lo = errors.sum(axis=0)
    while terms.shape[0] > 1:
        half = terms.shape[0] // 2
        total, error = _two_sum(terms[:half], terms[half : 2 * half])
        lo += error.sum(axis=0)
        if terms.shape[0] % 2:
            total[0], error = _two_sum(total[0], terms[-1])
            lo += error
        terms = total
    return terms[0], lo


# ------------------------------------------------------------------------ the design


@contextmanager
def _one_blas_thread(columns: int):
    """Hold BLAS at one thread for a tall solve of ``columns`` columns, where that pays.

    Yields whether the limit is held: False above
    :data:`SINGLE_THREAD_MAX_COLUMNS`, and whenever :func:`single_blas_thread`
    cannot take it (another Python thread holds l2reg's limit, or the limit
    does not take); the solve then runs with BLAS as it finds it.
    """
    if columns > SINGLE_THREAD_MAX_COLUMNS:
        yield False
        return
    with single_blas_thread(blas_controller()) as held:
        yield held


def _block_rows(n_samples: int, n_columns: int) -> int:
    return max(min(BLOCK_ROWS, n_samples // BLOCK_FRACTION), min(n_samples, n_columns), 1)


def _two_pass_mean(values: np.ndarray, weights: np.ndarray, rows: int) -> np.ndarray:
    """Weighted column means, corrected by a second pass for full float64 accuracy.

    Block by block through one reused buffer, so that neither a centered nor
    a float64 copy of a float32 ``values`` is ever formed.
    """
    total = weights.sum()
    n = values.shape[0]
    buffer = np.empty((min(rows, n), values.shape[1]))
    mean = np.zeros(values.shape[1])
    for start in range(0, n, rows):
        block = values[start : start + rows]
        if block.dtype != np.float64:
            block = buffer[: len(block)]
            np.copyto(block, values[start : start + rows])
        mean += weights[start : start + rows] @ block
    mean /= total
    correction = np.zeros_like(mean)
    for start in range(0, n, rows):
        block = buffer[: min(rows, n - start)]
        np.subtract(values[start : start + rows], mean, out=block)
        correction += weights[start : start + rows] @ block
    return mean + correction / total


def _mean_low_part(values, weights, mean, rows):
    """What the float64 ``mean`` misses of the exact weighted column means.

    ``sum_i w_i (x_i - mean) / W`` in double-double arithmetic: ``mean`` plus
    the result is the weighted mean to about ``eps^2`` relative.  Centering
    with the rounded mean alone perturbs the objective by ``W (delta . theta)^2``
    (``delta`` ~ eps |mean|), which moves theta by ~``W delta^2 / s_min^2``:
    2e-6 relative at cond 1e12 with column offsets of 5 standard deviations.
    """
    total = weights.sum() if weights is not None else float(values.shape[0])
    acc_hi = np.zeros(values.shape[1])
    acc_lo = np.zeros(values.shape[1])
    for start in range(0, values.shape[0], rows):
        block = values[start : start + rows].astype(np.float64, copy=False)
        terms, errors = _two_sum(block, -mean)
        if weights is not None:
            w = weights[start : start + rows, None]
            products = w * terms
            errors = _product_error(w, terms, products, _split(w), _split(terms)) + w * errors
            terms = products
        block_hi, block_lo = _compensated_sum(terms, errors)
        acc_hi, error = _two_sum(acc_hi, block_hi)
        acc_lo += error + block_lo
    correction = (acc_hi + acc_lo) / total
    high = mean + correction
    return correction - (high - mean), high


class _StableDesign:
    """The weighted, centered (or intercept-augmented) design ``A`` and targets ``z``.

    Never materialized for tall data: its rows are produced block by block,
    weighted (``sqrt(w)``) for the QR, unweighted for the double-double passes
    (which apply the weights themselves, exactly).
    """

    def __init__(self, problem: Problem):
        self.problem = problem
        n = problem.n_samples
        weights = np.asarray(problem.weights, dtype=np.float64)  # no copy when float64
        self.weights = None if problem.sample_weight is None else weights
        self.sqrt_weight = None if self.weights is None else np.sqrt(self.weights)
        self.centered = problem.fit_intercept and not problem.penalize_intercept
        self.n_columns = problem.n_features + (1 if problem.penalize_intercept else 0)
        self.rows = _block_rows(n, self.n_columns + problem.n_targets)
        if self.centered:
            # Non-finite input is reported by the solver from the R factor.
            with np.errstate(invalid="ignore", over="ignore"):
                self.x_mean = _two_pass_mean(problem.X, weights, self.rows)
            self.y_mean = _two_pass_mean(problem.Y, weights, self.rows)
        else:
            self.x_mean = np.zeros(problem.n_features)
            self.y_mean = np.zeros(problem.n_targets)
        self.x_mean_lo = np.zeros(problem.n_features)

    def refine_means(self) -> None:
        """Make ``x_mean + x_mean_lo`` the exact weighted means (one double-double pass).

        Only the refinement needs them: it converges to the solution of the
        problem its double-double residuals define, which must be centered exactly.
        """
        if self.centered:
            rows = self.compensated_rows(self.n_columns)
            self.x_mean_lo, self.x_mean = _mean_low_part(
                self.problem.X, self.weights, self.x_mean, rows
            )

    def compensated_rows(self, columns: int) -> int:
        """Rows per block of a double-double pass: see COMPENSATED_BLOCK_ELEMENTS."""
        fraction = self.problem.n_samples // COMPENSATED_BLOCK_FRACTION
        return max(16, min(self.rows, COMPENSATED_BLOCK_ELEMENTS // columns, fraction))

    @property
    def tall(self) -> bool:
        return self.problem.n_samples >= self.n_columns

    def blocks(self, rows: int):
        n = self.problem.n_samples
        for start in range(0, n, rows):
            yield start, min(start + rows, n)

    def fill(self, out: np.ndarray, start: int, stop: int) -> None:
        """Write rows ``[start, stop)`` of ``[A, z]`` (float64) into ``out``."""
        p, m = self.problem.n_features, self.n_columns
        np.subtract(self.problem.X[start:stop], self.x_mean, out=out[:, :p])
        if m > p:  # the penalized intercept's column of ones
            out[:, p] = 1.0
        np.subtract(self.problem.Y[start:stop], self.y_mean, out=out[:, m:])
        if self.sqrt_weight is not None:
            out *= self.sqrt_weight[start:stop, None]

    def matrices(self):
        """``A`` and ``z`` in float64: the n x m copy the wide path factors."""
        out = np.empty((self.problem.n_samples, self.n_columns + self.problem.n_targets))
        self.fill(out, 0, self.problem.n_samples)
        return out[:, : self.n_columns], out[:, self.n_columns :]

    def triangular_factor(self) -> np.ndarray:
        """The upper-triangular R of ``[A, z] = Q R`` by a blocked QR (TSQR).

        Each step factors the stack ``[R; A_b z_b]`` held in one Fortran-ordered
        buffer, which ``?geqrf`` overwrites in place; a short last block is
        padded with zero rows, which leave R unchanged.
        """
        columns = self.n_columns + self.problem.n_targets
        rows = self.rows
        stack = np.zeros((columns + rows, columns), order="F")
        geqrf, geqrf_lwork = get_lapack_funcs(("geqrf", "geqrf_lwork"), (stack,))
        lwork, _ = geqrf_lwork(*stack.shape)
        below_diagonal = np.tril(np.ones((columns, columns), dtype=bool), -1)
        top = stack[:columns]
        # Non-finite input is reported by the caller from R.
        with np.errstate(invalid="ignore", over="ignore"):
            for start, stop in self.blocks(rows):
                self.fill(stack[columns : columns + stop - start], start, stop)
                stack[columns + stop - start :] = 0.0
                _, _, _, info = geqrf(stack, lwork=int(lwork), overwrite_a=1)
                if info != 0:  # pragma: no cover - only for invalid arguments
                    raise np.linalg.LinAlgError(f"?geqrf failed with info={info}.")
                top[below_diagonal] = 0.0  # the Householder vectors, no longer needed
        return np.triu(top)

    def gradient_pass(self, theta: np.ndarray, *, compensated: bool):
        """One pass over X at ``theta`` (m x k).

        Returns ``(normal, cross, sse)``: ``A^T r`` with ``r = z - A theta``,
        ``A^T z`` and ``sum(r^2)`` per target.  With ``compensated`` the residual
        is formed and ``A^T r`` accumulated in double-double arithmetic, so that
        ``A^T r - lam theta`` is accurate even where it cancels to ~0 (the
        gradient at a solution); ``A^T z`` only scales the certificate and stays
        float64.
        """
        m, k = theta.shape
        normal = np.zeros((m, k))
        cross = np.zeros((m, k))
        sse = np.zeros(k)
        if not compensated:
            buffer = np.empty((self.rows, m + k))
            for start, stop in self.blocks(self.rows):
                block = buffer[: stop - start]
                self.fill(block, start, stop)
                A, Z = block[:, :m], block[:, m:]
                residual = Z - A @ theta
                normal += A.T @ residual
                cross += A.T @ Z
                sse += np.sum(residual**2, axis=0)
            return normal, cross, sse
        rows = self.compensated_rows(m + k)
        normal_lo = np.zeros((m, k))
        theta_split = _split(theta)
        buffer = np.empty((rows, m + k))
        for start, stop in self.blocks(rows):
            sse += self._compensated_block(
                buffer[: stop - start], start, stop, theta, theta_split, (normal, normal_lo)
            )
            D, Yc = buffer[: stop - start, :m], buffer[: stop - start, m:]
            weighted_y = Yc if self.weights is None else Yc * self.weights[start:stop, None]
            cross += D.T @ weighted_y
        return normal + normal_lo, cross, sse

    def _compensated_block(self, buffer, start, stop, theta, theta_split, accumulator):
        """Add ``sum_i w_i d_i e_i`` (``d_i``: unweighted design row, ``e_i``: its
        residual) of rows ``[start, stop)`` to the double-double ``accumulator``.

        Returns the block's weighted sums of squared residuals and leaves the
        rounded unweighted ``[D, y - y_mean]`` in ``buffer``.
        """
        m = self.n_columns
        p = self.problem.n_features
        X = self.problem.X[start:stop].astype(np.float64, copy=False)
        Y = self.problem.Y[start:stop].astype(np.float64, copy=False)
        # d = x - x_mean and y - y_mean exactly, as double-doubles (TwoSum).
        D_hi, D_lo = np.empty_like(buffer[:, :m]), np.zeros_like(buffer[:, :m])
        D_hi[:, :p], D_lo[:, :p] = _two_sum(X, -self.x_mean)
        D_lo[:, :p] -= self.x_mean_lo
        if m > p:
            D_hi[:, p] = 1.0
        Y_hi, Y_lo = _two_sum(Y, -self.y_mean)
        buffer[:, :m], buffer[:, m:] = D_hi, Y_hi
        D_split = _split(D_hi)
        normal_hi, normal_lo = accumulator
        weights = None if self.weights is None else self.weights[start:stop]
        sse = np.zeros(theta.shape[1])
        for target in range(theta.shape[1]):
            column = theta[:, target]
            column_split = (theta_split[0][:, target], theta_split[1][:, target])
            # The fitted value d . theta, row by row, as a double-double.
            products = D_hi * column
            errors = _product_error(D_hi, column, products, D_split, column_split)
            errors += D_lo * column
            fitted_hi, fitted_lo = _compensated_sum(products.T, errors.T)
            difference, error = _two_sum(Y_hi[:, target], -fitted_hi)
            residual = difference + ((error + Y_lo[:, target]) - fitted_lo)
            # v = w * e exactly (TwoProduct), then sum_i d_i v_i as a double-double.
            if weights is None:
                v_hi, v_lo = residual, np.zeros_like(residual)
                sse[target] = residual @ residual
            else:
                v_hi = weights * residual
                v_lo = _product_error(weights, residual, v_hi, _split(weights), _split(residual))
                sse[target] = v_hi @ residual
            v_split = _split(v_hi)
            products = D_hi * v_hi[:, None]
            errors = _product_error(
                D_hi, v_hi[:, None], products, D_split, (v_split[0][:, None], v_split[1][:, None])
            )
            errors += D_hi * v_lo[:, None] + D_lo * v_hi[:, None]
            block_hi, block_lo = _compensated_sum(products, errors)
            total, error = _two_sum(normal_hi[:, target], block_hi)
            normal_hi[:, target] = total
            normal_lo[:, target] += error + block_lo
        return sse


# -------------------------------------------------------------------------- the solver


def _svd(matrix: np.ndarray):
    try:
        return scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:  # gesdd can fail to converge; gesvd is slower but robust
        return scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesvd")


def _column_scale(R: np.ndarray) -> np.ndarray:
    """Powers of two ``D`` that bring the columns of ``R`` (those of A) to norms in (1/2, 1].

    ``||R e_j|| = ||A e_j||`` since ``R^T R = A^T A``.  Powers of two scale
    exactly, and Householder QR commutes with them, so ``R D`` is the R of
    ``A D`` to the last bit: the equilibrated problem costs no pass over X.
    A zero column keeps the scale 1.
    """
    norms = np.linalg.norm(R, axis=0)
    _, exponents = np.frexp(norms)
    return np.where(norms > 0, np.ldexp(1.0, -exponents), 1.0)


class _Spectral:
    """One factorization that serves a group of targets (those with one ``lam``).

    ``H = A^T A + lam I = D V diag(S^2) V^T D``, with ``D`` (``scale``) a
    diagonal scaling of the columns: the solution is
    ``theta = D V diag(1 / S) U^T d`` and a refinement correction is
    ``D V diag(1 / S^2) V^T D g``; directions whose ``S`` is below the rank
    cutoff are left out of both (``inverse`` holds ``1 / S^2`` or 0).
    """

    def __init__(self, targets, scale, Vt, inverse, theta):
        self.targets = targets
        self.scale = scale[:, None]
        self.Vt = Vt
        self.inverse = inverse
        self.theta = theta
        # The effective condition of the (scaled) problem, S_max / S_min over the
        # kept directions: the square root of the scaled H's.
        kept = inverse[inverse > 0]
        self.condition = float(np.sqrt(kept.max() / kept.min())) if kept.size else 1.0

    def correction(self, step: np.ndarray) -> np.ndarray:
        """``H^-1 step`` (``step``: the group's columns of the gradient) through the factor."""
        return self.scale * (self.Vt.T @ (self.inverse * (self.Vt @ (self.scale * step))))


def _spectral(targets, scale, U, s, Vt, cutoff, rhs, lam=0.0, max_rank=None):
    """The :class:`_Spectral` of ``T = U diag(s) Vt`` with ``T^T T + lam D^2`` = the scaled H.

    ``rhs`` is ``U^T``'s operand ``d``; ``lam`` is nonzero only for the wide
    path, which factors A alone (``scale`` = 1) and adds the penalty to ``s^2``.
    ``max_rank`` bounds the directions kept for least squares (``lam = 0``):
    centered data have rank at most n - 1, and the n-th singular value is
    rounding, which a small cutoff (``max(n, m) * eps``, n tiny) may not catch.
    """
    lam = np.broadcast_to(lam, (rhs.shape[1],))
    denominator = s[:, None] ** 2 + lam
    kept = denominator > cutoff**2
    if max_rank is not None:
        kept &= (np.arange(s.size)[:, None] < max_rank) | (lam > 0)
    denominator = np.where(kept, denominator, 1.0)
    theta = scale[:, None] * (Vt.T @ np.where(kept, s[:, None] * (U.T @ rhs) / denominator, 0.0))
    return _Spectral(targets, scale, Vt, np.where(kept, 1.0 / denominator, 0.0), theta)


def _tall_factors(R: np.ndarray, m: int, n: int, lam: np.ndarray, max_rank: int):
    """Factor the equilibrated problem once per distinct ``lam`` from the TSQR's R.

    With ``D`` from :func:`_column_scale`, ``theta = D phi`` and ``R~ = R11 D``
    the problem is ``||R~ phi - d||^2 + lam ||D phi||^2``: the QR of the 2m x m
    stack ``[R~; sqrt(lam) D]`` (with ``[d; 0]`` alongside) and the SVD of its
    triangle give ``phi``.  Every rounding is then relative to the equilibrated
    columns (Householder QR is columnwise backward stable), so the accuracy
    and the rank decision do not depend on the columns' units.

    ``alpha = 0`` keeps the least-squares meaning: if ``R~`` has full numerical
    rank the solution is unique and is computed in this form too; otherwise
    the minimum-norm solution follows :func:`numpy.linalg.lstsq`'s convention
    (cutoff and norm) in the columns' own units, from the SVD of ``R11``.

    Returns ``(factors, rank)``: the :class:`_Spectral` of each group and the
    numerical rank of the equilibrated data (at most ``max_rank``: n - 1 for
    centered data, else n).
    """
    R11, projected = R[:m, :m], R[:m, m:]
    scale = _column_scale(R11)
    scaled = R11 * scale
    s = scipy.linalg.svdvals(scaled)  # the rank and the cutoff: values alone suffice
    cutoff = max(n, m) * EPS * (s[0] if s.size else 0.0)
    rank = min(int(np.sum(s > cutoff)), max_rank)
    factors = []
    for value in np.unique(lam):
        targets = np.flatnonzero(lam == value)
        rhs = projected[:, targets]
        if value > 0:
            stack = np.zeros((2 * m, m + len(targets)))
            stack[:m, :m], stack[:m, m:] = scaled, rhs
            stack[m:, :m] = np.diag(np.sqrt(value) * scale)
            triangle = np.linalg.qr(stack, mode="r")[:m]
            Ug, sg, Vg = _svd(triangle[:, :m])
            factors.append(_spectral(targets, scale, Ug, sg, Vg, cutoff, triangle[:, m:]))
        elif rank == m:
            factors.append(_spectral(targets, scale, *_svd(scaled), cutoff, rhs))
        else:
            Ur, sr, Vr = _svd(R11)
            raw_cutoff = max(n, m) * EPS * (sr[0] if sr.size else 0.0)
            factors.append(
                _spectral(targets, np.ones(m), Ur, sr, Vr, raw_cutoff, rhs, max_rank=max_rank)
            )
    return factors, rank


def _solver_result(problem, theta, intercept, objective, certificate, message):
    dtype = problem.X.dtype
    return SolverResult(
        coef=np.ascontiguousarray(theta.T, dtype=dtype),
        intercept=intercept.astype(dtype),
        objective=objective,
        certificate=certificate,
        solver=SVDSolver.name,
        message=message,
    )


@register
class SVDSolver:
    """Backward-stable solve of penalized least squares; minimum-norm for ``alpha=0``.

    Tall X: blocked QR of the data (memory: one block of rows plus
    O((p + k)^2), never an n x p copy), then, per distinct alpha, the QR and
    SVD of the column-equilibrated p x p problem: accuracy and rank do not
    depend on the columns' units.  Wide X: SVD of the weighted centered n x p
    copy of the data, in the columns' units.  For ``alpha=0`` the rank
    decision is made in equilibrated units; a rank-deficient design gets
    :func:`numpy.linalg.lstsq`'s minimum-norm solution in the columns' units.
    Ill-conditioned problems are refined with double-double gradients (see
    the module docstring).
    """

    name = "svd"
    capabilities = Capabilities(losses=("squared",), zero_alpha=True)

    def solve(self, problem: Problem, *, fallback_reason: str = "") -> SolverResult:
        columns = problem.n_features + (1 if problem.penalize_intercept else 0)
        if problem.n_samples < columns:  # wide: one large SVD, BLAS keeps its threads
            return self._solve(problem, fallback_reason)
        with _one_blas_thread(columns + problem.n_targets):
            return self._solve(problem, fallback_reason)

    def _solve(self, problem: Problem, fallback_reason: str) -> SolverResult:
        check_finite(problem.owner, "y", problem.Y)
        W = problem.weight_sum
        lam = W * problem.alpha  # per target
        design = _StableDesign(problem)
        m, n = design.n_columns, problem.n_samples
        max_rank = n - 1 if design.centered else n  # centering removes one dimension
        if design.tall:
            R = design.triangular_factor()
            self._raise_if_not_finite(problem, R)
            factors, rank = _tall_factors(R, m, n, lam, max_rank)
        else:
            check_finite(problem.owner, "X", problem.X)
            A, Z = design.matrices()
            U, s, Vt = _svd(A)
            del A
            # numpy.linalg.lstsq's default cutoff: singular values below
            # max(n, m) * eps * s_max are rounding noise and treated as zero.
            # It applies to the singular values sqrt(s^2 + lam) of [A; sqrt(lam) I],
            # so that a positive alpha keeps every direction it makes well-defined.
            cutoff = max(n, m) * EPS * (s[0] if s.size else 0.0)
            rank = min(int(np.sum(s > cutoff)), max_rank)
            everything = np.arange(problem.n_targets)
            factors = [_spectral(everything, np.ones(m), U, s, Vt, cutoff, Z, lam, max_rank)]
            del Z
        theta = np.empty((m, problem.n_targets))
        for factor in factors:
            theta[:, factor.targets] = factor.theta

        condition = max(factor.condition for factor in factors)
        refined = REFINEMENT_STEPS if condition > REFINE_ABOVE_CONDITION else 0
        if refined:
            design.refine_means()
        steps = 0
        while True:
            normal, cross, sse = design.gradient_pass(theta, compensated=refined > 0)
            if steps == refined:
                break
            # theta += (A^T A + lam I)^-1 (A^T r - lam theta), through A's factor.
            step = normal - lam * theta
            correction = np.empty_like(theta)
            for factor in factors:
                correction[:, factor.targets] = factor.correction(step[:, factor.targets])
            if np.all(np.abs(correction) <= EPS * np.abs(theta)):
                break  # converged: this pass's gradient already certifies theta
            theta = theta + correction
            steps += 1

        gradient = 2 * (lam * theta - normal) / W
        data_term = cross - normal  # A^T A theta
        scale = 2 * (
            np.linalg.norm(data_term, axis=0) + np.linalg.norm(cross, axis=0)
        ) / W + 2 * problem.alpha * np.linalg.norm(theta, axis=0)
        objective = sse / W + problem.alpha * np.sum(theta**2, axis=0)
        if problem.penalize_intercept:
            theta, intercept = theta[:-1], theta[-1]
        elif problem.fit_intercept:
            intercept = design.y_mean - design.x_mean @ theta
        else:
            intercept = np.zeros(problem.n_targets)
        certificate = certificate_from_gradient([gradient], scale, "data")
        message = f"rank {rank} of {min(n, m)}"
        if refined:
            message += f"; {steps} step(s) of double-double refinement"
        if fallback_reason:
            message = f"fell back from the normal equations: {fallback_reason}; {message}"
        return _solver_result(problem, theta, intercept, objective, certificate, message)

    @staticmethod
    def _raise_if_not_finite(problem: Problem, R: np.ndarray) -> None:
        """A non-finite R means a NaN/inf in X (y was checked): find it and say where."""
        if np.all(np.isfinite(R)):
            return
        check_finite(problem.owner, "X", problem.X)
        raise FloatingPointError(  # finite data whose QR overflowed
            f"{problem.owner}: the QR factorization of X overflowed; rescale the data."
        )
