r"""The GLMProblem: data, loss, penalty and intercept rules of an L2-penalized GLM, prepared once.

Objective (l2reg's convention, :mod:`l2reg.conventions`):

.. math::

    J(\Theta, b) = \frac{1}{W}\sum_i w_i\,\ell(y_i, \eta_i) + \alpha \lVert\Theta\rVert_F^2
                   \;(+\;\alpha \lVert b\rVert^2 \text{ if penalize\_intercept}),
    \qquad \eta_i = \Theta x_i + b,\; W = \sum_i w_i

with ``K`` linear predictors (``K = 1`` for the logistic and Poisson losses,
``K = n_classes`` for the multinomial loss).

Parameter layout, shared by every GLM solver: a flat vector of length
``K * q`` with ``q = n_features + fit_intercept``, read as a (K, q) array whose
row k is ``[theta_k, b_k]``.  The penalty is the quadratic
``0.5 * params @ (penalty * params)`` with ``penalty`` the vector of
``2 * alpha`` (0 for an unpenalized intercept), so its gradient is
``penalty * params`` and its Hessian ``diag(penalty)``.  A generalized L2
penalty (``quadratic``, :class:`~l2reg.objective.tikhonov.QuadraticPenalty`:
standardize, penalty factors, a Tikhonov matrix, a prior mean) replaces
``alpha ||theta_k||^2`` by ``alpha (theta_k - theta0_k)^T P (theta_k -
theta0_k)`` for every output k: its gradient is ``2 alpha P (theta_k -
theta0_k)`` and its Hessian the block ``2 alpha P`` per output, which the
Newton step adds to the data Hessian (:meth:`GLMProblem.penalized`); every
solver reaches the penalty through :meth:`GLMProblem.penalty_gradient`,
:meth:`~GLMProblem.penalty_times` and :meth:`~GLMProblem.penalty_value`.

The data Hessian is ``X~^T D X~`` per pair of outputs, with ``X~ = [X, 1]``;
for dense X it is accumulated block by block as one symmetric rank-k update
of a reused buffer ``sqrt(d) * [x, 1]`` (the pattern of
:mod:`l2reg.objective.gram`): X is never copied or scaled as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import get_blas_funcs

from l2reg._blas import matmul
from l2reg.objective.tikhonov import QuadraticPenalty

__all__ = [
    "GLMProblem",
    "GLMEvaluation",
    "HESSIAN_BLOCK_ROWS",
    "weighted_gram",
    "weighted_gram_and_products",
]

#: Rows per block of the Hessian pass.  On two cores (n = 100,000, p = 300)
#: blocks of 2,048 to 16,384 rows ran within 10% of each other, 4,096 fastest
#: (float32: 0.92x one float64 X^T X; float64: 1.5x, the scaling copy included).
HESSIAN_BLOCK_ROWS = 4096


@dataclass(frozen=True)
class GLMEvaluation:
    """Objective, gradient and per-sample derivatives at one point."""

    objective: float
    gradient: np.ndarray  # flat, like params
    gradient_scale: float  # sum of the norms of the gradient's terms (see relative_gradient_norm)
    raw: np.ndarray  # linear predictor, (n,) or (n, K)
    first: np.ndarray  # unweighted d loss / d raw, like raw
    second: np.ndarray | None  # unweighted second derivative (scalar families) or probabilities

    @property
    def relative_gradient_norm(self) -> float:
        """``||grad J||`` divided by the sum of the norms of its terms, in [0, 1].

        For the canonical links used here the loss gradient is
        ``X~^T s (mu - t)`` (``s = w / W``, ``mu`` the mean, ``t`` the target or
        its one-hot code), so the terms are ``X~^T s mu``, ``X~^T s t`` and the
        penalty's ``P theta`` -- the analogue of Ridge's ``G theta``, ``X^T y``
        and ``alpha theta`` split, and meaningful for ``alpha = 0`` too.
        """
        scale = self.gradient_scale
        return float(np.linalg.norm(self.gradient) / scale) if scale > 0 else 0.0


@dataclass(eq=False)
class GLMProblem:
    """An L2-penalized generalized linear model; see the module docstring.

    Attributes
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        float64.  Sparse X is CSR or CSC.
    y : ndarray of shape (n_samples,)
        Encoded target: 0/1 (logistic), class indices (multinomial), counts (Poisson).
    weights : ndarray of shape (n_samples,)
        Non-negative sample weights (ones for unit weights).
    alpha : float
    loss : LogisticLoss, MultinomialLoss or PoissonLoss
    n_outputs : int
        Number of linear predictors K.
    fit_intercept, penalize_intercept : bool
    owner : str
        The estimator's name, for messages.
    quadratic : QuadraticPenalty or None
        A generalized L2 penalty on the coefficients (prior mean of shape
        (n_features, K)); None is ``||theta||^2``.
    """

    X: np.ndarray | sp.spmatrix
    y: np.ndarray
    weights: np.ndarray
    alpha: float
    loss: object
    n_outputs: int = 1
    fit_intercept: bool = True
    penalize_intercept: bool = False
    owner: str = "l2reg"
    quadratic: QuadraticPenalty | None = None

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def width(self) -> int:
        """Parameters per output, ``q = n_features + fit_intercept``."""
        return self.n_features + int(self.fit_intercept)

    @property
    def n_params(self) -> int:
        return self.n_outputs * self.width

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.X)

    @property
    def weight_sum(self) -> float:
        return float(self.weights.sum())

    @property
    def scaled_weights(self) -> np.ndarray:
        """``w / W``: the weight of each sample in the mean loss."""
        return self.weights / self.weight_sum

    # -- parameters ---------------------------------------------------------

    def penalty(self) -> np.ndarray:
        """The diagonal of the penalty's Hessian: ``2 alpha``, 0 on an unpenalized intercept.

        With a generalized penalty, ``2 alpha diag(P)`` on the coefficients (the
        whole Hessian is :meth:`penalty_times`'s operator; this diagonal serves
        preconditioners).
        """
        per_output = np.full(self.width, 2.0 * self.alpha)
        if self.quadratic is not None:
            per_output[: self.n_features] = 2.0 * self.alpha * np.diag(self.quadratic.matrix)
        if self.fit_intercept and not self.penalize_intercept:
            per_output[-1] = 0.0
        return np.tile(per_output, self.n_outputs)

    def penalty_times(self, vector: np.ndarray) -> np.ndarray:
        """The penalty's Hessian times a flat vector."""
        if self.quadratic is None:
            return self.penalty() * vector
        table = vector.reshape(self.n_outputs, self.width)
        out = np.zeros_like(table)
        p = self.n_features
        out[:, :p] = 2.0 * self.alpha * self.quadratic.times(table[:, :p].T).T
        if self.fit_intercept and self.penalize_intercept:
            out[:, -1] = 2.0 * self.alpha * table[:, -1]
        return out.ravel()

    def _penalty_deviation(self, params: np.ndarray) -> np.ndarray:
        """``params`` minus the prior mean (0 on the intercepts)."""
        if self.quadratic is None or self.quadratic.prior_mean is None:
            return params
        table = params.reshape(self.n_outputs, self.width).copy()
        table[:, : self.n_features] -= self.quadratic.prior_mean.T
        return table.ravel()

    def penalty_gradient(self, params: np.ndarray) -> np.ndarray:
        """Gradient of the penalty at ``params`` (flat)."""
        return self.penalty_times(self._penalty_deviation(params))

    def penalty_value(self, params: np.ndarray) -> float:
        """The penalty at ``params``: ``0.5 d^T H d`` with ``d`` the deviation from the prior."""
        deviation = self._penalty_deviation(params)
        return 0.5 * float(deviation @ self.penalty_times(deviation))

    def split(self, params: np.ndarray):
        """``(coef (K, p), intercept (K,))`` from a flat parameter vector."""
        table = params.reshape(self.n_outputs, self.width)
        if self.fit_intercept:
            return table[:, :-1], table[:, -1]
        return table, np.zeros(self.n_outputs)

    def pack(self, coef, intercept) -> np.ndarray:
        """Flat parameter vector from ``coef (K, p)`` and ``intercept (K,)``."""
        coef = np.asarray(coef, dtype=np.float64).reshape(self.n_outputs, self.n_features)
        if not self.fit_intercept:
            return coef.ravel().copy()
        intercept = np.asarray(intercept, dtype=np.float64).reshape(self.n_outputs, 1)
        return np.hstack([coef, intercept]).ravel()

    def initial_params(self) -> np.ndarray:
        """Zero coefficients and the intercept-only optimum (unpenalized) as intercept."""
        params = np.zeros(self.n_params)
        if self.fit_intercept:
            table = params.reshape(self.n_outputs, self.width)
            if self.loss.is_multiclass:
                table[:, -1] = self.loss.intercept_only_raw(self.y, self.weights, self.n_outputs)
            else:
                table[:, -1] = self.loss.intercept_only_raw(self.y, self.weights)
        return params

    # -- the design operator X~ = [X, 1] ----------------------------------------

    def matvec(self, params: np.ndarray) -> np.ndarray:
        """Linear predictor ``X~ params``: shape (n,) for K = 1, else (n, K)."""
        coef, intercept = self.split(params)
        if not np.any(coef):  # the usual start: no pass over X needed
            raw = np.broadcast_to(intercept, (self.n_samples, self.n_outputs)).copy()
        else:
            raw = self._design_times(coef.T) + intercept
        return raw[:, 0] if self.n_outputs == 1 else raw

    def with_alpha(self, alpha: float) -> GLMProblem:
        """The same problem with another alpha, sharing the data-dependent caches (paths)."""
        other = replace(self, alpha=float(alpha))
        for key in ("_target_term_cache", "_code"):
            if key in self.__dict__:
                other.__dict__[key] = self.__dict__[key]
        return other

    def evaluate_step(self, params, evaluation: GLMEvaluation, direction):
        """``(evaluation at params + direction, X~ direction)``: two passes over X.

        (A fused one-pass version, blocks of rows doing ``X_b d``, the loss
        derivatives and ``X_b^T g_b`` while in cache, ran 1.2x faster alone but
        2x slower inside the Newton loop on two cores, where its many short
        BLAS calls between ufuncs appear to contend with the BLAS worker threads.)
        """
        raw_step = self.matvec(direction)
        with np.errstate(over="ignore", invalid="ignore"):
            return self.evaluate(params + direction, evaluation.raw + raw_step), raw_step

    def rmatvec(self, values: np.ndarray) -> np.ndarray:
        """``X~^T values`` as a flat parameter vector; ``values`` is shaped like raw."""
        return self._rmatvec_columns(values.reshape(self.n_samples, self.n_outputs)).ravel()

    def _rmatvec_columns(self, values: np.ndarray) -> np.ndarray:
        """``(X~^T values)^T`` for ``values`` of shape (n, m): shape (m, q), one pass over X."""
        coef = self._design_times(values, transpose=True).T
        if not self.fit_intercept:
            return coef
        return np.hstack([coef, values.sum(axis=0)[:, None]])

    def _design_times(self, M: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``X @ M`` (``X.T @ M``): SciPy's BLAS for dense X, as the Hessian passes.

        Going through NumPy's own OpenBLAS between SciPy ``syrk`` passes made
        a Newton step 1.3x slower (236 ms against 177 ms, n = 100,000,
        p = 300, two cores; see :mod:`l2reg._blas`).
        """
        if self.is_sparse:
            return np.asarray((self.X.T if transpose else self.X) @ M)
        return matmul(self.X, M, transpose_a=transpose)

    def _target_term(self) -> np.ndarray:
        """``X~^T s t``, the target's (constant) term of the loss gradient, flat; computed once."""
        cached = self.__dict__.get("_target_term_cache")
        if cached is None:
            code = self._target_code().reshape(self.n_samples, self.n_outputs)
            cached = self._rmatvec_columns(code * self.scaled_weights[:, None]).ravel()
            self.__dict__["_target_term_cache"] = cached
        return cached

    # -- objective ----------------------------------------------------------

    def evaluate(
        self, params: np.ndarray, raw: np.ndarray | None = None, *, hessian: bool = True
    ) -> GLMEvaluation:
        """Objective and gradient at ``params`` (``raw`` may be passed to skip ``X @ coef``)."""
        if raw is None:
            raw = self.matvec(params)
        loss, first, second = self.loss.derivatives(self.y, raw, hessian=hessian)
        scale = self.scaled_weights
        K = self.n_outputs
        weighted_first = first.reshape(self.n_samples, K) * scale[:, None]
        data_gradient = self._rmatvec_columns(weighted_first).ravel()
        return self._assemble(params, raw, loss, first, second, data_gradient)

    def _assemble(self, params, raw, loss, first, second, data_gradient) -> GLMEvaluation:
        scale = self.scaled_weights
        penalty_gradient = self.penalty_gradient(params)
        with np.errstate(invalid="ignore"):  # 0 * inf where a weight is 0 and a loss overflows
            data_term = float(np.sum(scale * loss))
        objective = data_term + self.penalty_value(params)
        # For canonical links the loss gradient is X~^T s (mu - t): its terms
        # are the constant X~^T s t and X~^T s mu = gradient + X~^T s t, so the
        # scale costs no extra pass over X.
        target_term = self._target_term()
        gradient_scale = (
            float(np.linalg.norm(data_gradient + target_term))
            + float(np.linalg.norm(target_term))
            + float(np.linalg.norm(penalty_gradient))
        )
        return GLMEvaluation(
            objective=objective,
            gradient=data_gradient + penalty_gradient,
            gradient_scale=gradient_scale,
            raw=raw,
            first=first,
            second=second,
        )

    def _target_code(self):
        """The target as the loss gradient sees it: y, or the one-hot code of the classes."""
        if not self.loss.is_multiclass:
            return self.y
        cached = self.__dict__.get("_code")
        if cached is None:
            cached = np.zeros((self.n_samples, self.n_outputs))
            cached[np.arange(self.n_samples), np.asarray(self.y, dtype=np.intp)] = 1.0
            self.__dict__["_code"] = cached
        return cached

    def objective_from_raw(self, params: np.ndarray, raw: np.ndarray) -> float:
        """``J`` from a precomputed linear predictor (the line searches' cheap evaluation)."""
        with np.errstate(invalid="ignore", over="ignore"):
            data_term = float(self.scaled_weights @ self.loss.pointwise(self.y, raw))
        return data_term + self.penalty_value(params)

    def objective_noise(self, params: np.ndarray, raw: np.ndarray) -> float:
        """A bound on the rounding error of :meth:`objective_from_raw` at this point.

        The loss is a weighted sum of terms that can be much larger than the
        total (a near-perfect Poisson fit: ``exp(raw) - y raw`` cancels to
        ~0), so the error is ``eps`` times the sum of the terms' magnitudes,
        not ``eps`` times the objective.  The factor 16 covers the few
        roundings per term.
        """
        with np.errstate(invalid="ignore", over="ignore"):
            magnitude = float(self.scaled_weights @ self.loss.rounding_scale(self.y, raw))
            magnitude += self.penalty_value(params)
        return 16.0 * np.finfo(np.float64).eps * magnitude

    # -- Hessian ------------------------------------------------------------

    def hessian(self, evaluation: GLMEvaluation) -> np.ndarray:
        """Hessian of ``J`` at the point of ``evaluation``: a dense (K q, K q) matrix."""
        return self.penalized(self.data_hessian(evaluation))

    def data_hessian(self, evaluation: GLMEvaluation, dtype=np.float64) -> np.ndarray:
        """Hessian of the mean loss alone (float64 result; ``dtype`` of the rank-k updates)."""
        scale = self.scaled_weights
        if self.n_outputs == 1:
            return weighted_gram(self.X, scale * evaluation.second, self.fit_intercept, dtype=dtype)
        return multinomial_gram(self.X, scale, evaluation.second, self.fit_intercept)

    def penalized(self, data_hessian: np.ndarray) -> np.ndarray:
        """``data_hessian`` plus the penalty's Hessian (a new array)."""
        H = data_hessian.copy()
        H[np.diag_indices_from(H)] += self.penalty()
        if self.quadratic is not None and not self.quadratic.is_diagonal:
            # The off-diagonal part of each output's block 2 alpha P.
            off = 2.0 * self.alpha * self.quadratic.matrix
            off = off - np.diag(np.diag(off))
            p = self.n_features
            for k in range(self.n_outputs):
                block = slice(k * self.width, k * self.width + p)
                H[block, block] += off
        if self.has_free_intercept_direction:
            # Adding the same constant to every class's intercept changes no
            # probability, so H is singular along e = (intercepts all 1).  The
            # gradient is orthogonal to e, and H + c e e^T then gives exactly
            # the Newton step in e's complement (e^T d = 0) while being definite.
            index = np.arange(self.n_outputs) * self.width + self.width - 1
            c = float(np.mean(np.diag(H)[index]))
            H[np.ix_(index, index)] += c
        return H

    @property
    def has_free_intercept_direction(self) -> bool:
        """Multinomial with unpenalized intercepts: they are defined up to a common constant."""
        return bool(self.loss.is_multiclass and self.fit_intercept and not self.penalize_intercept)

    def hessian_vector(self, evaluation: GLMEvaluation, vector: np.ndarray) -> np.ndarray:
        """``H v`` without forming H: two passes over X."""
        scale = self.scaled_weights
        direction = self.matvec(vector)
        if self.n_outputs == 1:
            product = scale * evaluation.second * direction
        else:
            probability = evaluation.second
            inner = np.sum(probability * direction, axis=1, keepdims=True)
            product = scale[:, None] * probability * (direction - inner)
        return self.rmatvec(product) + self.penalty_times(vector)


def _augmented_rows(X, start, stop, fit_intercept, out):
    """Write ``[X[start:stop], 1]`` (or just the rows) into ``out``; return it."""
    p = X.shape[1]
    np.copyto(out[:, :p], X[start:stop])
    if fit_intercept:
        out[:, p] = 1.0
    return out


def weighted_gram(
    X, d: np.ndarray, fit_intercept: bool, block_rows: int = HESSIAN_BLOCK_ROWS, dtype=np.float64
) -> np.ndarray:
    """``X~^T diag(d) X~`` for ``d >= 0``, ``X~ = [X, 1]`` (or X), as a dense float64 matrix.

    Dense X: blocks of rows are scaled by ``sqrt(d)`` into one reused buffer
    and added with a symmetric rank-k update (``?syrk``), so the only
    temporaries are the buffer and the result.  ``dtype=np.float32`` rounds
    the scaled rows to float32 and runs ``ssyrk`` (about twice as fast), each
    block's product being added into a float64 total.
    """
    return weighted_gram_and_products(X, d, None, fit_intercept, block_rows, dtype)[0]


def weighted_gram_and_products(
    X,
    d: np.ndarray,
    V: np.ndarray | None,
    fit_intercept: bool,
    block_rows: int = HESSIAN_BLOCK_ROWS,
    dtype=np.float64,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X~^T diag(d) X~, X~^T V)`` from one read of X (see :func:`weighted_gram`).

    ``V`` (shape (n, m), or None for no products) is what a Newton pass needs
    beside the Hessian, e.g. ``w * g`` for the gradient ``X~^T (w g)``: each
    block of rows, read once for the Hessian's buffer, also gives its products.
    For a float64 X and float32 updates the scaling, the rounding and the
    products are one loop of :mod:`l2reg._mixed_kernels` (``shifted_float32``)
    where numba is installed: NumPy's casting multiply took about a third of
    the pass (2.5 ns per value against 0.8), and the products another read of X.

    Returns
    -------
    (H, P)
        ``H`` of shape (q, q) float64; ``P`` of shape (q, m) float64, None when
        ``V`` is None.
    """
    n, p = X.shape
    q = p + int(fit_intercept)
    X = _small_sparse_to_dense(X)
    if V is not None:
        V = np.ascontiguousarray(V, dtype=np.float64).reshape(n, -1)
    if sp.issparse(X):
        return _sparse_weighted_gram(X, d, fit_intercept, q), _products(X, V, fit_intercept)
    dtype = np.dtype(dtype)
    root = np.sqrt(d)
    rows = max(1, min(block_rows, n))
    buffer = np.empty((rows, q), dtype=dtype)
    syrk = get_blas_funcs("syrk", dtype=dtype)
    in_place = dtype == np.float64
    fused = _fused_conversion(X, dtype)
    columns = np.zeros((n, 0)) if V is None else V
    cross = np.zeros((columns.shape[1], p))  # V^T X, one row per column of V
    no_shift = np.zeros(p)
    total = np.zeros((q, q), order="F")
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        block, rows_of_x = buffer[: stop - start], X[start:stop]
        if fused is not None:  # scale, round and add V_b^T X_b in one read
            fused(rows_of_x, no_shift, root[start:stop], block[:, :p], columns[start:stop], cross)
        else:  # scale and (for float32) round in one NumPy pass, straight into the buffer
            np.multiply(rows_of_x, root[start:stop, None], out=block[:, :p])
            if V is not None:  # the rows are still in cache
                cross += matmul(columns[start:stop], rows_of_x, transpose_a=True)
        if fit_intercept:
            block[:, p] = root[start:stop]
        # A C-ordered block passed transposed reaches ?syrk without a copy (gram.py).
        if in_place:
            syrk(1.0, block.T, beta=1.0, c=total, trans=0, lower=0, overwrite_c=1)
        else:  # each block's float32 product is added into a float64 total
            total += syrk(1.0, block.T, trans=0, lower=0)
    upper = np.triu(total)
    H = upper + np.triu(upper, 1).T
    if V is None:
        return H, None
    products = cross.T
    if fit_intercept:
        products = np.vstack([products, columns.sum(axis=0)[None, :]])
    return H, products


def _fused_conversion(X, dtype):
    """``shifted_float32`` of :mod:`l2reg._mixed_kernels` where it applies, else None."""
    if dtype != np.float32 or X.dtype != np.float64:
        return None
    from l2reg._mixed_kernels import kernels  # numba loads on first use

    compiled = kernels()
    return None if compiled is None else compiled[0]


def _sparse_weighted_gram(X, d, fit_intercept, q):
    p = X.shape[1]
    scaled = sp.diags(d) @ X
    H = np.zeros((q, q))
    H[:p, :p] = (X.T @ scaled).toarray()
    if fit_intercept:
        column = np.asarray(scaled.sum(axis=0)).ravel()
        H[:p, p] = column
        H[p, :p] = column
        H[p, p] = d.sum()
    return H


def _products(X, V, fit_intercept):
    """``X~^T V`` of a sparse X (None when V is None)."""
    if V is None:
        return None
    products = np.asarray(X.T @ V)
    if fit_intercept:
        products = np.vstack([products, V.sum(axis=0)[None, :]])
    return products


def multinomial_gram(
    X,
    scale: np.ndarray,
    probability: np.ndarray,
    fit_intercept: bool,
    block_rows: int = HESSIAN_BLOCK_ROWS,
) -> np.ndarray:
    """Multinomial data Hessian ``sum_i s_i (diag(p_i) - p_i p_i^T) (x) x~_i x~_i^T``.

    Block (k, l) is ``X~^T diag(s (p_k delta_kl - p_k p_l)) X~``.  Written as
    ``blockdiag_k(X~^T diag(s p_k) X~) - U^T U`` with ``U = [sqrt(s) p_k X~]_k``,
    every term is a symmetric rank-k update of non-negatively weighted rows:
    K + K^2 syrk-equivalents of work, with no n x (K q) temporary.
    """
    n, p = X.shape
    K = probability.shape[1]
    q = p + int(fit_intercept)
    H = np.zeros((K * q, K * q))
    X = _small_sparse_to_dense(X)
    if sp.issparse(X):
        for k in range(K):
            for m in range(k, K):
                d = scale * (probability[:, k] * ((k == m) - probability[:, m]))
                block = _sparse_weighted_cross(X, d, fit_intercept)
                H[k * q : (k + 1) * q, m * q : (m + 1) * q] = block
                H[m * q : (m + 1) * q, k * q : (k + 1) * q] = block.T
        return H
    root = np.sqrt(scale)
    rows = max(1, min(block_rows, n))
    plain = np.empty((rows, q))
    stacked = np.empty((rows, K * q))
    diagonal = np.empty((rows, q))
    syrk = get_blas_funcs("syrk", dtype=np.float64)
    cross = np.zeros((K * q, K * q), order="F")
    diagonal_blocks = [np.zeros((q, q), order="F") for _ in range(K)]
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        size = stop - start
        block = _augmented_rows(X, start, stop, fit_intercept, plain[:size])
        p_block = probability[start:stop]
        for k in range(K):
            factor = root[start:stop] * p_block[:, k]
            np.multiply(block, factor[:, None], out=stacked[:size, k * q : (k + 1) * q])
            np.multiply(block, np.sqrt(factor * root[start:stop])[:, None], out=diagonal[:size])
            syrk(
                1.0,
                diagonal[:size].T,
                beta=1.0,
                c=diagonal_blocks[k],
                trans=0,
                lower=0,
                overwrite_c=1,
            )
        syrk(1.0, stacked[:size].T, beta=1.0, c=cross, trans=0, lower=0, overwrite_c=1)
    upper = -np.triu(cross)
    for k in range(K):
        upper[k * q : (k + 1) * q, k * q : (k + 1) * q] += np.triu(diagonal_blocks[k])
    return upper + np.triu(upper, 1).T


#: Sparse X with at most this many entries (dense: 2 MB) is densified for the
#: Hessian pass: scipy.sparse's per-call overhead (~0.1 ms per product) then
#: exceeds the whole dense computation.
SMALL_DENSE_ENTRIES = 2**18


def _small_sparse_to_dense(X):
    if sp.issparse(X) and X.shape[0] * X.shape[1] <= SMALL_DENSE_ENTRIES:
        return X.toarray()
    return X


def _sparse_weighted_cross(X, d, fit_intercept):
    """``X~^T diag(d) X~`` for sparse X and any sign of d."""
    p = X.shape[1]
    q = p + int(fit_intercept)
    scaled = sp.diags(d) @ X
    block = np.zeros((q, q))
    block[:p, :p] = (X.T @ scaled).toarray()
    if fit_intercept:
        column = np.asarray(scaled.sum(axis=0)).ravel()
        block[:p, p] = column
        block[p, :p] = column
        block[p, p] = d.sum()
    return block
