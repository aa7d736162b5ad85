"""The two block kernels of the distributed GLM fit and the sums they return.

Every sum is weighted by ``w`` (not ``w / W``), so blocks add; the client
divides by the total weight ``W``.

``start_terms`` (the first pass)
    Checks y and the weights, summarizes y (the classes and their weights,
    or ``sum w y``) and returns ``X~^T w 1[y = c]`` per class (or ``X~^T w``
    and ``X~^T w y``) and, unless the fit starts warm, the weighted Gram
    ``X~^T W X~``.  That is all a Newton step needs at the usual start, where
    every linear predictor is the same number ``r`` (zero coefficients, the
    intercept-only optimum): for the canonical links used here the loss is
    ``l(t, r) = A(r) - t r + c(t)``, so the loss, the gradient
    ``X~^T w (A'(r) - t)`` and the Hessian ``A''(r) X~^T W X~`` at ``r``
    follow from these sums once the client knows ``r`` (which depends on the
    summary of y).  The first Newton step thus costs no pass of its own: the
    summary pass and the first Newton pass are one.
``point_terms`` (every Newton pass)
    The loss, gradient ``X~^T (w g)`` and, when asked, the Hessian
    ``X~^T diag(w h) X~`` (the blocked weighted ``?syrk`` of
    :func:`~l2reg.objective.glm_problem.weighted_gram_and_products`, float32 or
    float64, which also gives the gradient from the same read of the block)
    at one point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from l2reg._blas import matmul
from l2reg.dask._collections import check_block_weights, raise_not_finite
from l2reg.exceptions import InvalidParameterError
from l2reg.objective.glm_problem import weighted_gram_and_products

__all__ = ["StartTerms", "PointTerms", "start_terms", "point_terms"]


def _add(arrays):
    """Sum of arrays, None when the first is None (an optional term)."""
    return None if arrays[0] is None else sum(arrays[1:], arrays[0].copy())


@dataclass(frozen=True)
class StartTerms:
    """Sums of the first pass (see the module docstring).

    ``keys``: the distinct labels (classification), else None; ``key_weights``
    their total weights; ``moments`` shape (len(keys), q): ``X~^T w 1[y = key]``
    per label, or for regression the two rows ``X~^T w`` and ``X~^T w y``
    (None when a block holds more than two labels: the fit then stops with
    the error about classes); ``weight`` ``sum w``; ``weighted_sum`` ``sum w y``
    and ``constant``/``constant_magnitude`` ``sum w c(y)``/``sum w |c(y)|``
    (regression); ``gram`` ``X~^T W X~`` or None.
    """

    keys: np.ndarray | None
    key_weights: np.ndarray | None
    moments: np.ndarray | None
    weight: float
    weighted_sum: float
    constant: float
    constant_magnitude: float
    gram: np.ndarray | None

    @staticmethod
    def merge_all(parts: list[StartTerms]) -> StartTerms:
        weight = sum(p.weight for p in parts)
        weighted_sum = sum(p.weighted_sum for p in parts)
        constant = sum(p.constant for p in parts)
        magnitude = sum(p.constant_magnitude for p in parts)
        gram = _add([p.gram for p in parts])
        if parts[0].keys is None:
            moments = _add([p.moments for p in parts])
            return StartTerms(None, None, moments, weight, weighted_sum, constant, magnitude, gram)
        keys, inverse = np.unique(np.concatenate([p.keys for p in parts]), return_inverse=True)
        key_weights = np.bincount(inverse, weights=np.concatenate([p.key_weights for p in parts]))
        moments = None
        if all(p.moments is not None for p in parts) and len(keys) <= 2:
            moments = np.zeros((len(keys), parts[0].moments.shape[1]))
            np.add.at(moments, inverse, np.concatenate([p.moments for p in parts]))
        return StartTerms(keys, key_weights, moments, weight, weighted_sum, 0.0, 0.0, gram)

    def target_terms(self):
        """``(X~^T w, X~^T w t, sum w t)``; t is 1 for the second of two classes, else y."""
        if self.keys is None:
            return self.moments[0], self.moments[1], self.weighted_sum
        return self.moments.sum(axis=0), self.moments[1], float(self.key_weights[1])


def start_terms(X, y, weights, index, start, owner, classification, fit_intercept, precision):
    """:class:`StartTerms` of one block (a worker task); ``precision`` None: no Gram.

    A NaN or infinity in X shows in the moments, which then name the block.
    """
    y = np.asarray(y).ravel()
    weights = check_block_weights(owner, weights, index, start)
    w = np.ones(y.shape[0]) if weights is None else weights
    X = np.asarray(X, dtype=np.float64)
    if classification:
        keys, inverse = np.unique(y, return_inverse=True)
        key_weights = np.bincount(inverse, weights=w, minlength=len(keys))
        columns = None
        if len(keys) <= 2:  # more classes is an error, raised on the client
            columns = np.zeros((y.shape[0], len(keys)))
            columns[np.arange(y.shape[0]), inverse] = w
        sums = (float(w.sum()), 0.0, 0.0, 0.0)
    else:
        keys = key_weights = None
        y = _checked_counts(owner, y, index, start)
        constant = xlogy(y, y) - y  # c(y) of the Poisson loss
        columns = np.column_stack([w, w * y])
        sums = (float(w.sum()), float(w @ y), float(w @ constant), float(w @ np.abs(constant)))
    moments = gram = None
    if precision is not None:  # the Gram and the moments from one read of the block
        gram, moments = weighted_gram_and_products(X, w, columns, fit_intercept, dtype=precision)
    elif columns is not None:
        moments = _design_transpose_times(X, columns, fit_intercept)
    if moments is not None:
        moments = moments.T
        if not np.all(np.isfinite(moments)):
            raise_not_finite(owner, index, start, [("X", X)])
    return StartTerms(keys, key_weights, moments, *sums, gram)


def _checked_counts(owner, y, index, start):
    y = y.astype(np.float64)
    if not np.isfinite(y).all():
        raise_not_finite(owner, index, start, [("y", y)])
    if np.any(y < 0):
        row = int(np.argmin(y))
        raise InvalidParameterError(
            f"{owner}: y must be non-negative (counts or rates); got {float(y[row])!r} at row "
            f"{start + row} (block {index}). The Poisson deviance is undefined for negative "
            "values."
        )
    return y


def _design_transpose_times(X, columns, fit_intercept):
    """``X~^T columns`` (shape (q, m)) in one pass over X."""
    product = matmul(X, columns, transpose_a=True)
    if not fit_intercept:
        return product
    return np.vstack([product, columns.sum(axis=0)[None, :]])


@dataclass(frozen=True)
class PointTerms:
    """Sums at one point: ``objective = sum w loss``, ``gradient = X~^T (w g)``,
    ``hessian = X~^T diag(w h) X~`` (None when not asked), ``linear = sum w t r``
    and ``magnitude = sum w t |r|`` (with the first pass's sums of ``c(t)``
    they give the loss terms' magnitudes, for the line search's rounding
    test: :meth:`noise`), ``separates``: every positive-weight row is
    strictly classified correctly (only checked where ``alpha = 0``).
    """

    objective: float
    gradient: np.ndarray
    hessian: np.ndarray | None
    linear: float
    magnitude: float
    separates: bool

    @staticmethod
    def merge_all(parts: list[PointTerms]) -> PointTerms:
        return PointTerms(
            sum(p.objective for p in parts),
            _add([p.gradient for p in parts]),
            _add([p.hessian for p in parts]),
            sum(p.linear for p in parts),
            sum(p.magnitude for p in parts),
            all(p.separates for p in parts),
        )

    def noise(self, summary: StartTerms) -> float:
        """``sum w loss.rounding_scale(t, r)``: ``sum w (A(r) + |t r| + |c(t)|)``.

        With ``l(t, r) = A(r) - t r + c(t)``, ``A >= 0`` and ``t >= 0``
        (:func:`terms_at_constant`): ``sum w A = objective + sum w t r - sum w c``.
        The identity spares each pass the loss's transcendental functions a
        second time and the separation test where ``alpha > 0``: a pass
        without the Hessian over a 50,000 x 200 block took 14.3 ms instead of
        15.7 (one thread, best of 7).
        """
        weighted_a = self.objective + self.linear - summary.constant
        return weighted_a + self.magnitude + summary.constant_magnitude


def point_terms(X, y, weights, index, start, recipe, params, precision):
    """:class:`PointTerms` of one block at ``params`` (a worker task).

    ``recipe``: ``(loss, fit_intercept, positive_class, check_separation)``
    (the last: ``alpha = 0``, where separable classes are an error); ``precision``:
    the dtype of the Hessian's rank-k updates, or None for no Hessian (a
    pass that only judges a step: two reads of the block, ``X d`` and
    ``X~^T (w g)``, against the ``?syrk``'s ``n q^2`` multiply-adds).
    """
    loss, fit_intercept, positive_class, check_separation = recipe
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).ravel()
    target = (y == positive_class) if positive_class is not None else y
    target = np.asarray(target, dtype=np.float64)
    w = np.ones(y.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    p = X.shape[1]
    if not w.sum() > 0:  # an all-zero-weight block adds nothing (and no 0 * inf)
        q = p + int(fit_intercept)
        hessian = None if precision is None else np.zeros((q, q))
        return PointTerms(0.0, np.zeros(q), hessian, 0.0, 0.0, True)
    raw = matmul(X, params[:p]) + (params[p] if fit_intercept else 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        pointwise, first, second = loss.derivatives(target, raw, hessian=precision is not None)
        objective = float(w @ pointwise)
        weighted_target = w * target
        linear = float(weighted_target @ raw)
        magnitude = float(weighted_target @ np.abs(raw))
    weighted_first = (w * first)[:, None]
    hessian = None
    if precision is None:
        gradient = _design_transpose_times(X, weighted_first, fit_intercept).ravel()
    else:  # the gradient from the Hessian pass's read of the block
        hessian, gradient = weighted_gram_and_products(
            X, w * second, weighted_first, fit_intercept, dtype=precision
        )
        gradient = gradient.ravel()
    return PointTerms(
        objective=objective,
        gradient=gradient,
        hessian=hessian,
        linear=linear,
        magnitude=magnitude,
        separates=bool(check_separation and loss.separates(target, raw, w)),
    )


def terms_at_constant(loss, summary: StartTerms, raw: float) -> PointTerms:
    """The :class:`PointTerms` where every linear predictor is ``raw``, from the first pass.

    For the canonical links here ``l(t, r) = A(r) - t r + c(t)``, with
    ``A(r) = l(0, r)``, ``l' = A'(r) - t`` and ``l'' = A''(r)``.  Summed with
    weights: the loss ``W A(r) - r sum w t + sum w c``, the gradient
    ``A'(r) X~^T w - X~^T w t``, the Hessian ``A''(r) X~^T W X~``, and
    ``sum w t r = r sum w t``.
    """
    columns, target, target_sum = summary.target_terms()
    zero, at = np.zeros(1), np.array([raw])
    value, first, second = (float(v[0]) for v in loss.derivatives(zero, at))
    W = summary.weight
    return PointTerms(
        objective=W * value - raw * target_sum + summary.constant,
        gradient=first * columns - target,
        hessian=None if summary.gram is None else second * summary.gram,
        linear=raw * target_sum,
        magnitude=abs(raw) * target_sum,
        separates=False,  # judged after a step, as in memory
    )
