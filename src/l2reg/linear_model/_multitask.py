"""Multi-target elastic net with a shared support (the L2,1 group penalty)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import validate_data

from l2reg._validation import InstanceOf, Interval, check_sample_weight, validate_params
from l2reg.exceptions import InvalidParameterError
from l2reg.linear_model._base import linear_predict
from l2reg.objective.gram import gram_stats
from l2reg.solvers.group_coordinate import group_certificate, solve_group_gram

__all__ = ["MultiTaskElasticNet"]


class MultiTaskElasticNet(RegressorMixin, BaseEstimator):
    r"""Elastic net for several targets that share one support, by block coordinate descent.

    Minimizes

    .. math::

        J(W, b) = \frac{\sum_i w_i \lVert y_i - W x_i - b\rVert^2}{2 \sum_i w_i}
            + \alpha\, \rho \sum_j \lVert W_{:, j}\rVert_2
            + \frac{\alpha}{2} (1 - \rho) \lVert W\rVert_F^2

    with ``rho = l1_ratio`` and ``W`` of shape (n_targets, n_features):
    scikit-learn's ``MultiTaskElasticNet`` objective (the same numbers with
    unit weights), with l2reg's sample weights.  The group norm of each
    feature's column makes a feature enter or leave every target at once.
    ``l1_ratio=0`` is ``l2reg.Ridge(alpha)`` on each target; for one target
    use :class:`~l2reg.ElasticNet`.  The intercept is never penalized.

    Parameters
    ----------
    alpha : float, default=1.0
        Overall strength, ``> 0`` (use :class:`~l2reg.Ridge` with ``alpha=0``
        for least squares).
    l1_ratio : float, default=0.5
        Share of the group (L2,1) part, in ``[0, 1]``.
    fit_intercept : bool, default=True
        Fit an unpenalized intercept per target (centering is implicit in the
        Gram statistics; X is never centered in memory).
    tol : float, default=1e-8
        Stop when the duality gap is at most ``tol * sum_i w_i ||y_i - ybar||^2
        / sum(w)``: scikit-learn's rule (its gap against ``tol * ||Y_c||_F^2``)
        in the scale of :class:`~l2reg.ElasticNet`.  Without an intercept
        ``ybar`` is 0.
    max_iter : int, default=None
        Most epochs; None means 10,000.
    warm_start : bool, default=False
        Start from the previous ``coef_`` when refitting on data of the same
        shape.

    Attributes
    ----------
    coef_ : ndarray of shape (n_targets, n_features)
    intercept_ : ndarray of shape (n_targets,)
    solver_ : str
        ``"cd"`` (coordinate descent, here over blocks: one feature, every target).
    certificate_ : Certificate
        ``duality_gap`` at the returned solution and the norm of the
        minimum-norm subgradient.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.

    Notes
    -----
    The solver works in Gram ("covariance") mode for every shape: one pass
    over X (dense or sparse) builds ``X_c^T V X_c`` and ``X_c^T V Y_c``, then
    each epoch costs ``O(n_features^2 n_targets)``.  That suits
    ``n_samples >= n_features``; with many more features than samples the
    ``n_features^2`` matrix dominates time and memory (a residual mode, as
    :class:`~l2reg.ElasticNet` has, is not implemented here).

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import MultiTaskElasticNet
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> Y = np.array([[1.0, 0.5], [2.0, 1.0], [4.0, 2.0], [5.0, 2.5]])
    >>> model = MultiTaskElasticNet(alpha=0.1).fit(X, Y)
    >>> model.coef_.shape
    (2, 2)
    """

    _parameter_specs = {
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "fit_intercept": [InstanceOf((bool,))],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None), InstanceOf((type(None),))],
        "warm_start": [InstanceOf((bool,))],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        fit_intercept=True,
        tol=1e-8,
        max_iter=None,
        warm_start=False,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start

    def _check_params(self):
        validate_params(type(self).__name__, self.get_params(), self._parameter_specs)

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; only their ratios matter.

        Returns
        -------
        self : MultiTaskElasticNet
        """
        owner = type(self).__name__
        if y is None:
            raise InvalidParameterError(
                f"{owner} requires y to be passed, but the target y is None."
            )
        self._check_params()
        X, y = validate_data(
            self,
            X,
            y,
            reset=True,
            accept_sparse=["csr", "csc"],
            dtype=np.float64,
            y_numeric=True,
            multi_output=True,
            ensure_min_samples=1,
        )
        if y.ndim != 2:
            raise InvalidParameterError(
                f"{owner}: y must be 2-D, shape (n_samples, n_targets); got shape {y.shape}. "
                "For one target use l2reg.ElasticNet."
            )
        if sample_weight is not None:
            sample_weight = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
        G, Q, yy, x_mean, y_mean = _normalized_stats(owner, X, y, sample_weight, self.fit_intercept)
        alpha, l1_ratio = float(self.alpha), float(self.l1_ratio)
        l1, l2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
        init = None
        previous = getattr(self, "coef_", None)
        if self.warm_start and previous is not None and np.shape(previous) == Q.T.shape:
            init = previous.T
        B, gap, n_iter = solve_group_gram(
            G, Q, yy, l1, l2, tol=self.tol, max_iter=self.max_iter, init=init, owner=owner
        )
        self.coef_ = np.ascontiguousarray(B.T)
        self.intercept_ = y_mean - self.coef_ @ x_mean
        self.solver_ = "cd"
        self.certificate_ = group_certificate(G, Q, B, l1, l2, gap)
        self.n_iter_ = n_iter
        return self

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_targets)
        """
        return linear_predict(self, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags


def _normalized_stats(owner, X, Y, sample_weight, fit_intercept):
    """``G = X_c^T V X_c``, ``Q = X_c^T V Y_c``, ``tr(Y_c^T V Y_c)`` and the means.

    Without an intercept the statistics are uncentered and the means are 0.
    """
    stats = gram_stats(X, Y, sample_weight)
    total = stats.weight_sum
    if not total > 0:
        raise InvalidParameterError(f"{owner}: the sample weights sum to 0.")
    xx, xy, yy = stats.xx, stats.xy, stats.yy
    x_mean, y_mean = stats.x_mean, stats.y_mean
    if not fit_intercept:  # uncenter: adding the mean terms back involves no cancellation
        xx = xx + total * np.outer(x_mean, x_mean)
        xy = xy + total * np.outer(x_mean, y_mean)
        yy = yy + total * y_mean**2
        x_mean, y_mean = np.zeros_like(x_mean), np.zeros_like(y_mean)
    G = np.ascontiguousarray(xx / total)
    if not (np.all(np.isfinite(np.diag(G))) and np.all(np.isfinite(yy))):
        raise InvalidParameterError(f"{owner}: input X or y contains NaN or infinity.")
    return G, np.ascontiguousarray(xy / total), float(np.sum(yy) / total), x_mean, y_mean
