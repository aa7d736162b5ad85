"""L2-penalized generalized linear models: logistic (binary, multinomial) and Poisson regression."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import expit, logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from l2reg._validation import (
    InstanceOf,
    Interval,
    Options,
    check_sample_weight,
    validate_params,
)
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._base import collection_handler
from l2reg.linear_model._penalty_options import (
    PENALTY_OPTION_SPECS,
    PENALTY_OPTIONS_DOC,
    check_penalty_options,
)
from l2reg.objective.glm_problem import GLMProblem
from l2reg.objective.losses import LogisticLoss, MultinomialLoss, PoissonLoss
from l2reg.objective.tikhonov import build_penalty, column_scales
from l2reg.solvers import get_solver, registered_solvers
from l2reg.solvers._registry import resolve_solver
from l2reg.solvers._result import SolverResult
from l2reg.solvers.glm_path import check_path_alphas, solve_path

__all__ = ["LogisticRegression", "PoissonRegression", "glm_path"]

_GLM_SOLVERS = tuple(
    name for name in registered_solvers("logistic") if name in registered_solvers("poisson")
)

_COMMON_DOC = """alpha : float, default=1.0
        Regularization strength, ``>= 0``.  ``alpha=0`` is the unpenalized
        maximum-likelihood fit, which may not exist (separable classes).
    fit_intercept : bool, default=True
        Fit an intercept (one per class for multinomial).  Not penalized unless
        ``penalize_intercept``.
    penalize_intercept : bool, default=False
        Add ``alpha * ||b||^2`` to the objective.  Requires ``fit_intercept=True``.
    solver : {"auto", "newton", "newton-cg", "lbfgs"}, default="auto"
        ``"newton"``: Newton's method with a line search; each step is one
        weighted symmetric rank-k pass over X and a Cholesky of the
        (K q) x (K q) Hessian (``q = n_features + 1``); quadratic convergence.
        ``"newton-cg"``: Newton steps from conjugate gradients on
        Hessian-vector products, for many features.  ``"lbfgs"``: scipy's
        L-BFGS-B, for very many features or sparse X (finished by a few
        Newton-CG steps when rounding stops its line search; ``solver_`` then
        says ``"lbfgs+newton-cg"``).  ``"auto"``: ``"lbfgs"`` for sparse X,
        ``"newton"`` up to 3,000 parameters, ``"newton-cg"`` up to 30,000,
        ``"lbfgs"`` beyond.
    tol : float, default=1e-8
        Stop when the relative gradient norm ``||grad J|| / (||grad L|| +
        ||grad penalty||)`` is at most ``tol`` (it is ``certificate_``).
    max_iter : int, default=None
        Maximum iterations: 100 Newton steps or 1,000 L-BFGS iterations when None.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` when their shapes fit.
%(penalty_options)s"""


def _plain(value):
    """A NumPy scalar as the Python value it holds, for readable messages."""
    return value.item() if isinstance(value, np.generic) else value


def _document(cls):
    options = PENALTY_OPTIONS_DOC.replace("n_targets", "n_classes or 1").rstrip("\n")
    common = _COMMON_DOC.replace("%(penalty_options)s", options)
    cls.__doc__ = cls.__doc__.replace("%(common)s", common)
    return cls


class _GLMBase(BaseEstimator):
    """Shared recipe: validate -> GLMProblem -> solver -> attributes."""

    _parameter_specs = {
        "alpha": [Interval(numbers.Real, 0, None)],
        "fit_intercept": [InstanceOf((bool,))],
        "penalize_intercept": [InstanceOf((bool,))],
        "solver": [Options(("auto", *_GLM_SOLVERS))],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Options((None,)), Interval(numbers.Integral, 1, None)],
        "warm_start": [InstanceOf((bool,))],
        **PENALTY_OPTION_SPECS,
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        penalize_intercept=False,
        solver="auto",
        tol=1e-8,
        max_iter=None,
        warm_start=False,
        standardize=False,
        penalty_factor=None,
        penalty_matrix=None,
        prior_mean=None,
    ):
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.penalty_matrix = penalty_matrix
        self.prior_mean = prior_mean
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.penalize_intercept = penalize_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start

    # -- steps shared with the CV estimators and glm_path ----------------------

    def _check_params(self) -> None:
        owner = type(self).__name__
        specs = {k: v for k, v in _GLMBase._parameter_specs.items() if k in self.get_params()}
        validate_params(owner, self.get_params(), specs)
        if self.penalize_intercept and not self.fit_intercept:
            raise IncompatibleOptionsError(
                f"{owner}: penalize_intercept=True requires fit_intercept=True; "
                "set fit_intercept=True or penalize_intercept=False."
            )

    def _validate_training_data(self, X, y, sample_weight):
        X, y = validate_data(
            self,
            X,
            y,
            reset=True,
            accept_sparse=("csr", "csc"),
            dtype=np.float64,
            y_numeric=not self._is_classifier,
        )
        weights = check_sample_weight(type(self).__name__, sample_weight, X.shape[0], np.float64)
        return X, y, weights

    def _quadratic(self, X, weights, n_outputs):
        """The generalized L2 penalty of the options for this data (standardize: its scales)."""
        penalty = check_penalty_options(self, X.shape[1], n_outputs)
        if penalty is None:
            return None
        scales = None
        if penalty.standardize:
            scales = column_scales(X, weights, fit_intercept=self.fit_intercept)
        return build_penalty(penalty, scales, X.shape[1], n_outputs)

    def _make_problem(self, X, target, weights, alpha) -> GLMProblem:
        loss, n_outputs = self._loss()
        quadratic = self._quadratic(X, weights, n_outputs)
        return GLMProblem(
            X=X,
            y=target,
            weights=weights,
            alpha=float(alpha),
            loss=loss,
            n_outputs=n_outputs,
            fit_intercept=self.fit_intercept,
            penalize_intercept=self.penalize_intercept,
            owner=type(self).__name__,
            quadratic=quadratic,
        )

    def _make_solver(self, problem: GLMProblem):
        name = resolve_solver(
            self.solver,
            owner=type(self).__name__,
            loss=problem.loss.name,
            n_samples=problem.n_samples,
            n_features=problem.n_features,
            alpha=[problem.alpha],
            penalize_intercept=self.penalize_intercept,
            sparse=problem.is_sparse,
            n_outputs=problem.n_outputs,
            penalty="l2" if problem.quadratic is None else "generalized_l2",
        )
        options = {"tol": self.tol}
        if self.max_iter is not None:
            options["max_iter"] = self.max_iter
        return get_solver(name)(**options)

    def _fitted_alpha(self) -> float:
        return self.alpha

    def _warm_params(self, problem: GLMProblem):
        if not (getattr(self, "warm_start", False) and hasattr(self, "coef_")):
            return None
        coef = np.asarray(self.coef_, dtype=np.float64).reshape(-1)
        if coef.size != problem.n_outputs * problem.n_features:
            return None
        return problem.pack(coef, np.asarray(self.intercept_, dtype=np.float64).reshape(-1))

    def _store(self, result: SolverResult) -> None:
        self.coef_ = result.coef if self._is_classifier else result.coef[0]
        self.intercept_ = result.intercept if self._is_classifier else float(result.intercept[0])
        self.n_iter_ = result.n_iter
        self.solver_ = result.solver
        self.certificate_ = result.certificate
        self.objective_ = float(result.objective[0])

    def _raw(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=("csr", "csc"), dtype=np.float64)
        coef = np.atleast_2d(self.coef_)
        raw = np.asarray(X @ coef.T) + self.intercept_
        return raw[:, 0] if raw.shape[1] == 1 else raw

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
        raw = self._raw(X)
        target = self._encode_target(y, raw.shape[0])
        weights = check_sample_weight(type(self).__name__, sample_weight, raw.shape[0], np.float64)
        loss, _ = self._loss()
        coef = np.asarray(self.coef_, dtype=np.float64)
        alpha = self._fitted_alpha()
        X = validate_data(self, X, reset=False, accept_sparse=("csr", "csc"), dtype=np.float64)
        problem = self._make_problem(X, target, weights, alpha)
        if problem.quadratic is not None:  # standardize: the scales of the data given here
            params = problem.pack(coef, self.intercept_)
            return float(loss.value(target, raw, weights) + problem.penalty_value(params))
        value = loss.value(target, raw, weights) + alpha * float(np.sum(coef**2))
        if self.penalize_intercept:
            value += alpha * float(np.sum(np.square(self.intercept_)))
        return float(value)

    def _fit(self, X, target, weights):
        self._check_params()
        problem = self._make_problem(X, target, weights, self.alpha)
        result = self._make_solver(problem).solve(problem, init=self._warm_params(problem))
        self._store(result)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


@_document
class LogisticRegression(ClassifierMixin, _GLMBase):
    r"""Binary and multinomial logistic regression with an L2 penalty.

    Minimizes

    .. math::

        J(\Theta, b) = \frac{\sum_i w_i \,\ell(y_i, \Theta x_i + b)}{\sum_i w_i}
                       + \alpha \lVert\Theta\rVert_F^2
                       \;(+\;\alpha \lVert b\rVert^2 \text{ if } penalize\_intercept)

    with the log-loss ``l(y, eta) = log(1 + exp(eta)) - y eta`` for two classes
    (one coefficient vector) and the softmax log-loss ``logsumexp(eta) -
    eta_y`` over all K classes otherwise (K coefficient vectors, all
    penalized).  No 1/2 on the penalty.  scikit-learn's
    ``LogisticRegression(C=c)`` is ``alpha = 1 / (2 c sum(w))`` for both
    (:func:`l2reg.conventions.to_sklearn_logistic_C`).

    Parameters
    ----------
    %(common)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Multinomial intercepts sum to zero (they are defined up to a constant).
    certificate_ : Certificate
        Norm and relative norm of the objective's gradient at the solution.
    n_iter_ : int
    solver_ : str
        The solver that really ran.
    objective_ : float
        ``J`` at the solution on the training data.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    LogisticRegressionCV : chooses alpha by k-fold CV or approximate leave-one-out.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression(alpha=0.01).fit(X, ["a", "a", "b", "b"])
    >>> model.predict([[0.2], [2.8]]).tolist()
    ['a', 'b']
    >>> bool(model.certificate_.relative_gradient_norm <= 1e-8)
    True
    """

    _is_classifier = True

    def _loss(self):
        if len(self.classes_) == 2:
            return LogisticLoss(), 1
        return MultinomialLoss(), len(self.classes_)

    def _set_classes(self, y, weights) -> np.ndarray:
        owner = type(self).__name__
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise InvalidParameterError(
                f"{owner} needs samples of at least 2 classes; the data contain only one "
                f"class: {_plain(self.classes_[0])!r}."
            )
        class_weight = np.bincount(encoded, weights=weights, minlength=len(self.classes_))
        if np.any(class_weight <= 0):
            empty = self.classes_[class_weight <= 0]
            raise InvalidParameterError(
                f"{owner}: class {_plain(empty[0])!r} has zero total sample weight, so its "
                "unpenalized intercept would be -infinity; give its samples positive weight or "
                "remove the class from y."
            )
        return encoded

    def _training_target(self, y, weights) -> np.ndarray:
        """Set ``classes_`` from y; the encoded target (0/1 floats for two classes)."""
        encoded = self._set_classes(y, weights)
        return encoded.astype(np.float64) if len(self.classes_) == 2 else encoded

    def _encode_target(self, y, n_samples):
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n_samples:
            raise InvalidParameterError(
                f"{type(self).__name__}: y must have shape ({n_samples},); got {y.shape}."
            )
        encoded = np.searchsorted(self.classes_, y)
        encoded = np.minimum(encoded, len(self.classes_) - 1)
        if np.any(self.classes_[encoded] != y):
            raise InvalidParameterError(
                f"{type(self).__name__}: y contains labels not seen in fit; known classes: "
                f"{self.classes_.tolist()}."
            )
        return encoded.astype(np.float64) if len(self.classes_) == 2 else encoded

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type scikit-learn accepts.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; only their ratios matter.

        Returns
        -------
        self : LogisticRegression
        """
        if (handler := collection_handler("GLM.fit", X, y, sample_weight)) is not None:
            return handler(self, X, y, sample_weight)  # a Dask collection: l2reg.dask
        self._check_params()
        X, y, weights = self._validate_training_data(X, y, sample_weight)
        return self._fit(X, self._training_target(y, weights), weights)

    def decision_function(self, X):
        """Linear predictor: shape (n_samples,) for two classes, else (n_samples, n_classes)."""
        return self._raw(X)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        raw = self._raw(X)
        if raw.ndim == 1:
            return np.column_stack([expit(-raw), expit(raw)])
        return np.exp(raw - logsumexp(raw, axis=1, keepdims=True))

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed without overflow or log(0)."""
        raw = self._raw(X)
        if raw.ndim == 1:
            return np.column_stack([-np.logaddexp(0.0, raw), -np.logaddexp(0.0, -raw)])
        return raw - logsumexp(raw, axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class of each sample."""
        if (handler := collection_handler("predict", X)) is not None:
            return handler(self, LogisticRegression.predict, X)  # lazily, block by block
        raw = self._raw(X)
        index = (raw > 0).astype(np.intp) if raw.ndim == 1 else raw.argmax(axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


@_document
class PoissonRegression(RegressorMixin, _GLMBase):
    r"""Poisson regression (log link) with an L2 penalty.

    Minimizes

    .. math::

        J(\theta, b) = \frac{\sum_i w_i \,(e^{\eta_i} - y_i \eta_i + y_i \log y_i - y_i)}
                            {\sum_i w_i}
                       + \alpha \lVert\theta\rVert^2
                       \;(+\;\alpha b^2 \text{ if } penalize\_intercept),
        \qquad \eta_i = x_i^\top\theta + b

    the weighted mean Poisson deviance divided by 2 (the mean negative
    log-likelihood up to a constant).  scikit-learn's ``PoissonRegressor`` and
    glum's ``GeneralizedLinearRegressor(family="poisson")`` write the penalty
    as ``alpha' / 2 * ||theta||^2``: they take ``alpha' = 2 * alpha``
    (:func:`l2reg.conventions.to_sklearn_glm_alpha`).

    ``y`` must be non-negative.  Non-integer values (rates, e.g. counts
    divided by exposure, with the exposure as sample weight) are accepted:
    the deviance is defined for them.  Negative values raise an error.

    Parameters
    ----------
    %(common)s

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    certificate_ : Certificate
    n_iter_ : int
    solver_ : str
    objective_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    PoissonRegressionCV : chooses alpha by k-fold CV or approximate leave-one-out.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import PoissonRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = PoissonRegression(alpha=0.01).fit(X, [1, 2, 4, 8])
    >>> model.predict([[4.0]]).round(1).tolist()
    [15.9]
    """

    _is_classifier = False

    def _loss(self):
        return PoissonLoss(), 1

    def _encode_target(self, y, n_samples):
        owner = type(self).__name__
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1 or y.shape[0] != n_samples:
            raise InvalidParameterError(
                f"{owner}: y must have shape ({n_samples},); got {y.shape}."
            )
        if not np.all(np.isfinite(y)):
            raise InvalidParameterError(f"{owner}: y contains NaN or infinity.")
        if np.any(y < 0):
            index = int(np.argmin(y))
            raise InvalidParameterError(
                f"{owner}: y must be non-negative (counts or rates); got {float(y[index])!r} at "
                f"index {index}. The Poisson deviance is undefined for negative values; use "
                "Ridge or shift/transform the target."
            )
        return y

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Non-negative counts or rates.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (e.g. exposure); only their ratios matter.

        Returns
        -------
        self : PoissonRegression
        """
        if (handler := collection_handler("GLM.fit", X, y, sample_weight)) is not None:
            return handler(self, X, y, sample_weight)  # a Dask collection: l2reg.dask
        self._check_params()
        X, y, weights = self._validate_training_data(X, y, sample_weight)
        target = self._training_target(y, weights)
        self._check_positive_counts(target, weights)
        return self._fit(X, target, weights)

    def _training_target(self, y, weights) -> np.ndarray:
        """The counts as a checked float64 target (weights are not needed here)."""
        return self._encode_target(y, np.shape(y)[0])

    def _check_positive_counts(self, target, weights):
        if self.fit_intercept and not self.penalize_intercept and not weights @ target > 0:
            raise InvalidParameterError(
                f"{type(self).__name__}: every (positively weighted) target is 0, so the "
                "unpenalized intercept's minimizer is -infinity; pass penalize_intercept=True "
                "or data with some positive counts."
            )

    def predict(self, X):
        """Predicted mean ``exp(X @ coef_ + intercept_)``."""
        if (handler := collection_handler("predict", X)) is not None:
            return handler(self, PoissonRegression.predict, X)  # lazily, block by block
        with np.errstate(over="ignore"):
            return np.exp(self._raw(X))

    def score(self, X, y, sample_weight=None):
        """D^2: the fraction of Poisson deviance explained (1 is perfect, 0 the mean).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        raw = self._raw(X)
        target = self._encode_target(y, raw.shape[0])
        weights = check_sample_weight(type(self).__name__, sample_weight, raw.shape[0], np.float64)
        loss = PoissonLoss()
        mean = weights @ target / weights.sum()
        null = loss.value(target, np.full_like(target, np.log(max(mean, 1e-300))), weights)
        fitted = loss.value(target, raw, weights)
        return float(1.0 - fitted / null) if null > 0 else float(fitted == 0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags


def glm_path(estimator, X, y, alphas, *, sample_weight=None):
    """Fit ``estimator``'s model for each alpha, from the largest down, warm-starting each fit.

    Parameters
    ----------
    estimator : LogisticRegression or PoissonRegression
        Supplies every option but alpha; it is not modified.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    alphas : array-like of shape (n_alphas,)
        Non-negative; fitted in decreasing order.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    dict
        ``"alphas"`` (n_alphas,) in decreasing order, ``"coef"`` (n_alphas, K,
        n_features) (K = 1 for binary and Poisson), ``"intercept"`` (n_alphas, K),
        ``"n_iter"`` (n_alphas,), ``"relative_gradient_norm"`` (n_alphas,),
        ``"solver"`` (list of str).
    """
    from sklearn.base import clone

    model = clone(estimator)
    model._check_params()
    X, y, weights = model._validate_training_data(X, y, sample_weight)
    target = model._training_target(y, weights)
    alphas = check_path_alphas(type(model).__name__, alphas)
    problem = model._make_problem(X, target, weights, alphas[0])
    results = solve_path(problem, model._make_solver(problem), alphas)
    return {
        "alphas": alphas,
        "coef": np.stack([r.coef for r in results]),
        "intercept": np.stack([r.intercept for r in results]),
        "n_iter": np.array([r.n_iter for r in results]),
        "relative_gradient_norm": np.array([r.certificate.relative_gradient_norm for r in results]),
        "solver": [r.solver for r in results],
    }
