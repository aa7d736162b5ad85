"""Elastic net (L1 + L2) in glmnet's and scikit-learn's form."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from l2reg._validation import InstanceOf, Interval, check_sample_weight, validate_params
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._base import store_result
from l2reg.objective.enet_problem import ElasticNetProblem
from l2reg.objective.penalties import ElasticNet as ElasticNetPenalty
from l2reg.objective.tikhonov import column_scales
from l2reg.solvers import get_solver

__all__ = ["ElasticNet", "check_penalty_factor"]


def check_penalty_factor(owner: str, penalty_factor, n_features: int) -> np.ndarray | None:
    """Validate ``penalty_factor``: None, or ``n_features`` finite values >= 0, not all 0."""
    if penalty_factor is None:
        return None
    if isinstance(penalty_factor, str | bytes) or sp.issparse(penalty_factor):
        raise InvalidParameterError(
            f"{owner}: 'penalty_factor' must be None or an array of {n_features} non-negative "
            f"numbers; got {penalty_factor!r}."
        )
    try:
        factors = np.asarray(penalty_factor, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{owner}: 'penalty_factor' must be real numbers; got {penalty_factor!r}."
        ) from exc
    if factors.ndim != 1 or factors.shape[0] != n_features:
        raise InvalidParameterError(
            f"{owner}: 'penalty_factor' must have one value per feature, shape ({n_features},); "
            f"got shape {factors.shape}."
        )
    if not np.all(np.isfinite(factors)):
        raise InvalidParameterError(f"{owner}: 'penalty_factor' contains NaN or infinity.")
    if np.any(factors < 0):
        bad = int(np.flatnonzero(factors < 0)[0])
        raise InvalidParameterError(
            f"{owner}: 'penalty_factor' must be >= 0; got {factors[bad]!r} for feature {bad}. "
            "Use 0 to leave a feature unpenalized."
        )
    if not np.any(factors > 0):
        raise InvalidParameterError(
            f"{owner}: every 'penalty_factor' is 0, so no feature is penalized and alpha has no "
            "effect: the fit would be unregularized least squares, which has no unique solution "
            "when features are collinear.  Give some feature a positive factor, or use "
            "l2reg.Ridge(alpha=0) for least squares."
        )
    return factors


class ElasticNet(RegressorMixin, BaseEstimator):
    r"""Linear least squares with a combined L1 and L2 penalty, by coordinate descent.

    Minimizes

    .. math::

        J(\theta, b) = \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{2 \sum_i w_i}
            + \alpha\, \rho \sum_j f_j \lvert\theta_j\rvert
            + \frac{\alpha}{2} (1 - \rho) \sum_j f_j \theta_j^2

    with ``rho = l1_ratio`` and ``f = penalty_factor``: glmnet's and
    scikit-learn's form, so ``alpha`` and ``l1_ratio`` mean the same numbers
    as in scikit-learn's ``ElasticNet`` and glum (:mod:`l2reg.conventions`).
    This is *half* of l2reg's ridge form (``J_ridge = mean_w(r^2) + alpha
    ||theta||^2``), so **``l1_ratio=0`` gives exactly** ``l2reg.Ridge(alpha)``'s
    **solution**, and ``l1_ratio=1`` is the lasso.  The intercept is never
    penalized.

    Parameters
    ----------
    alpha : float, default=1.0
        Overall strength, ``> 0`` (use :class:`~l2reg.Ridge` with ``alpha=0``
        for least squares).
    l1_ratio : float, default=0.5
        Share of the L1 part, in ``[0, 1]``.
    fit_intercept : bool, default=True
        Fit an unpenalized intercept.  X is never centered in memory: the
        centering is implicit in the solver (dense and sparse X alike).
    penalty_factor : array-like of shape (n_features,), default=None
        Per-feature factors ``f_j >= 0`` multiplying both penalties, as
        glmnet's ``penalty.factor``; ``0`` leaves a feature unpenalized.  They
        are used **as given, not rescaled** (glmnet rescales them to sum to
        ``n_features``; pass ``f * n_features / f.sum()`` to reproduce glmnet).
        At least one factor must be positive.
    positive : bool, default=False
        Constrain the coefficients to be ``>= 0`` (projected coordinate descent).
    standardize : bool, default=False
        glmnet's ``standardize=TRUE``: penalize the coefficients of the
        standardized features, ``sd_j theta_j`` (weighted 1/n standard
        deviations, about the weighted mean with an intercept, about 0
        without), so the L1 weight of feature j is multiplied by ``sd_j`` and
        the L2 weight by ``sd_j^2``.  X is not rescaled (one blocked pass
        computes the deviations) and ``coef_`` is on the original scale.  A
        constant column keeps a unit scale.  See ``docs/penalties.md``.
    tol : float, default=1e-8
        Stop when the duality gap is at most ``tol * sum_i w_i (y_i - ybar)^2
        / sum(w)``: scikit-learn's stopping rule (its gap compared with
        ``tol * y^T y`` on centered data with weights summing to n_samples).
        Without an intercept ``ybar`` is 0.
    max_iter : int, default=None
        Most epochs (passes over the working set); None means 10,000.
    warm_start : bool, default=False
        Start from the previous ``coef_`` when refitting on data with the same
        number of features.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    solver_ : str
        ``"cd"``.
    certificate_ : Certificate
        ``duality_gap`` at the returned solution (at most the stopping
        threshold when converged) and the norm of the minimum-norm subgradient.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.

    See Also
    --------
    l2reg.Ridge : the ``l1_ratio=0`` case, solved directly.
    l2reg.conventions.to_sklearn_elastic_net : the same model in scikit-learn.

    Notes
    -----
    The solver (``l2reg.solvers.coordinate``) runs covariance ("Gram") updates
    from one pass over X when ``n_samples >= n_features`` and
    ``n_features <= 4096``, and residual updates otherwise; it solves growing
    working sets with gap-safe screening.  Sparse X is used as CSC (other
    formats are converted once) and never densified; a C-ordered dense X is
    copied to Fortran order in the residual mode.  float32 X is converted to
    float64.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import ElasticNet
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> y = np.array([1.0, 2.0, 4.0, 5.0])
    >>> model = ElasticNet(alpha=0.1, l1_ratio=0.5).fit(X, y)
    >>> bool(model.certificate_.duality_gap <= 1e-8 * np.var(y))
    True
    """

    _parameter_specs = {
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "fit_intercept": [InstanceOf((bool,))],
        "positive": [InstanceOf((bool,))],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None), InstanceOf((type(None),))],
        "warm_start": [InstanceOf((bool,))],
        "standardize": [InstanceOf((bool,))],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        fit_intercept=True,
        penalty_factor=None,
        positive=False,
        tol=1e-8,
        max_iter=None,
        warm_start=False,
        standardize=False,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.standardize = standardize

    def _check_params(self, n_features: int):
        owner = type(self).__name__
        alpha = self.alpha
        if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and alpha == 0:
            raise InvalidParameterError(
                f"{owner}: 'alpha' must be > 0; got {alpha!r}. alpha=0 is unregularized least "
                "squares: use l2reg.Ridge(alpha=0), which returns its minimum-norm solution."
            )
        validate_params(owner, self.get_params(), self._parameter_specs)
        return check_penalty_factor(owner, self.penalty_factor, n_features)

    def _scale(self, X, sample_weight):
        """standardize's column scales (None without it): one blocked pass over X."""
        if not self.standardize:
            return None
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        return column_scales(X, weights, fit_intercept=self.fit_intercept)

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.  Only their ratios matter (the loss is a
            weighted mean).

        Returns
        -------
        self : ElasticNet
        """
        owner = type(self).__name__
        if y is None:
            raise InvalidParameterError(
                f"{owner} requires y to be passed, but the target y is None."
            )
        X, y = validate_data(
            self,
            X,
            y,
            reset=True,
            accept_sparse="csc",
            dtype=np.float64,
            y_numeric=True,
            multi_output=True,
            ensure_min_samples=1,
            ensure_min_features=1,
        )
        shape = y.shape
        if len(shape) == 2 and shape[1] > 1:
            extra = (
                " positive=True is defined for one target only (the shared support of "
                "several targets has no sign)."
                if self.positive
                else ""
            )
            raise IncompatibleOptionsError(
                f"{owner}: y has {shape[1]} targets; the elastic net here fits one "
                f"target.{extra} Fit one model per column of y, or use "
                "l2reg.MultiTaskElasticNet for a support shared by the targets."
            )
        y = column_or_1d(y, warn=True)  # (n, 1): scikit-learn's DataConversionWarning
        if sp.issparse(X) and not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()  # the kernels read each stored entry once
        factors = self._check_params(X.shape[1])
        if sample_weight is not None:
            sample_weight = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
        penalty = ElasticNetPenalty(
            alpha=float(self.alpha),
            l1_ratio=float(self.l1_ratio),
            penalty_factor=factors,
            positive=self.positive,
            scale=self._scale(X, sample_weight),
        )
        problem = ElasticNetProblem(
            X=X,
            y=np.asarray(y, dtype=np.float64),
            sample_weight=sample_weight,
            penalty=penalty,
            fit_intercept=self.fit_intercept,
            owner=owner,
        )
        init = None
        previous = getattr(self, "coef_", None)
        if self.warm_start and previous is not None and np.shape(previous) == (X.shape[1],):
            init = previous
        solver = get_solver("cd")(tol=self.tol, max_iter=self.max_iter)
        result = solver.solve(problem, init=init)
        store_result(self, result, single_target=True)
        return self

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=["csr", "csc"], dtype=np.float64)
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def objective(self, X, y, sample_weight=None):
        """The objective ``J`` at the fitted parameters on the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        owner = type(self).__name__
        residual = np.asarray(y, dtype=np.float64) - self.predict(X)
        weights = check_sample_weight(owner, sample_weight, residual.shape[0], np.float64)
        X = validate_data(self, X, reset=False, accept_sparse=["csr", "csc"], dtype=np.float64)
        penalty = ElasticNetPenalty(
            self.alpha,
            self.l1_ratio,
            check_penalty_factor(owner, self.penalty_factor, self.n_features_in_),
            scale=self._scale(X, weights),  # standardize: the data given here
        )
        return float(weights @ residual**2 / (2.0 * weights.sum()) + penalty.value(self.coef_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_solver("cd").capabilities.sparse
        return tags
