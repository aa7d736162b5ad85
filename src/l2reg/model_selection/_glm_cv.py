"""LogisticRegressionCV and PoissonRegressionCV: alpha by k-fold CV or approximate leave-one-out.

k-fold: in each fold the whole alpha grid is fitted from the largest alpha
down, each fit warm-started from the previous solution
(:func:`l2reg.solvers.glm_path.solve_path`).  ``cv="alo"``: one fit per alpha
on all the data and the approximate leave-one-out loss of
:mod:`l2reg.model_selection._alo`, instead of n (or k) refits per alpha.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv

from l2reg._validation import InstanceOf, Options, Satisfies, validate_params
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model import LogisticRegression, PoissonRegression
from l2reg.model_selection._alo import alo_raw_predictions
from l2reg.model_selection._cv import KFOLD_SPECS
from l2reg.model_selection._selection import select_alpha, weighted_standard_error
from l2reg.solvers.glm_path import check_path_alphas, solve_path

__all__ = [
    "LogisticRegressionCV",
    "PoissonRegressionCV",
    "default_glm_alphas",
]

#: Default number of alphas, spanning 6 decades (see :func:`default_glm_alphas`).
DEFAULT_N_ALPHAS = 20


def default_glm_alphas(problem_like, n_alphas: int = DEFAULT_N_ALPHAS) -> np.ndarray:
    """A geometric grid of ``n_alphas`` values over 6 decades, scaled to the data.

    The scale is the average curvature of the mean loss per coefficient at
    the intercept-only fit, ``s = mean_j Var_w(x_j) * mean_w(l'')``: with
    ``alpha = 10 s`` the penalty's curvature ``2 alpha`` dominates the data's
    20-fold (coefficients near 0), with ``alpha = 1e-5 s`` it is negligible
    for any sample size below ~1e5.
    """
    X, weights, curvature = problem_like
    W = weights.sum()
    mean = np.asarray(weights @ X).ravel() / W
    if hasattr(X, "multiply"):
        second = np.asarray(X.multiply(X).T @ weights).ravel() / W
    else:
        second = np.einsum("ij,ij,i->j", X, X, weights) / W
    variance = np.maximum(second - mean**2, 0.0)
    scale = float(np.mean(variance)) * curvature
    if not scale > 0:
        scale = 1.0
    return np.geomspace(10.0 * scale, 1e-5 * scale, n_alphas)


class _FixedPredictions(BaseEstimator):
    """A stand-in whose prediction methods return precomputed (leave-one-out) outputs.

    Lets any scikit-learn scorer evaluate the approximate leave-one-out
    predictions without refitting.
    """

    def __init__(self, outputs=None, classes=None):
        self.outputs = outputs
        self.classes = classes

    def _get(self, name, X):
        if X.shape[0] != next(iter(self.outputs.values())).shape[0]:
            raise ValueError("predictions were computed for other rows.")
        return self.outputs[name]

    def __sklearn_is_fitted__(self):
        return True


class _FixedClassifier(ClassifierMixin, _FixedPredictions):
    @property
    def classes_(self):
        return self.classes

    def predict(self, X):
        return self._get("predict", X)

    def predict_proba(self, X):
        return self._get("predict_proba", X)

    def predict_log_proba(self, X):
        return self._get("predict_log_proba", X)

    def decision_function(self, X):
        return self._get("decision_function", X)


class _FixedRegressor(RegressorMixin, _FixedPredictions):
    def predict(self, X):
        return self._get("predict", X)


class _GLMCVMixin:
    """Alpha grid, splits, scores and selection shared by the two CV estimators."""

    _cv_specs = {
        "alphas": [
            Options((None,)),
            Satisfies(
                lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1,
                "an integer >= 1 (the number of alphas)",
            ),
            Satisfies(lambda v: hasattr(v, "__len__") and not isinstance(v, str), "an array"),
        ],
        "cv": [Options(("alo",)), *KFOLD_SPECS],
        "scoring": [Options((None,)), InstanceOf((str,)), Satisfies(callable, "a callable")],
        "selection": [Options(("min", "1se"))],
    }

    def __init__(
        self,
        alphas=None,
        *,
        cv=5,
        scoring=None,
        selection="min",
        fit_intercept=True,
        penalize_intercept=False,
        solver="auto",
        tol=1e-8,
        max_iter=None,
    ):
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.fit_intercept = fit_intercept
        self.penalize_intercept = penalize_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    def _fitted_alpha(self):
        return self.alpha_

    def _alpha_grid(self, X, target, weights) -> np.ndarray:
        owner = type(self).__name__
        if self.alphas is None or isinstance(self.alphas, numbers.Integral):
            count = DEFAULT_N_ALPHAS if self.alphas is None else int(self.alphas)
            return default_glm_alphas((X, weights, self._curvature(target, weights)), count)
        alphas = check_path_alphas(owner, self.alphas)
        if np.any(alphas <= 0):
            raise InvalidParameterError(
                f"{owner}: alphas must be > 0 (alpha=0 may have no finite solution); got "
                f"{np.asarray(self.alphas).tolist()!r}."
            )
        return alphas

    def _model_for(self, alpha):
        """A plain estimator with this one's options and ``alpha``, to hold fitted attributes."""
        params = {
            k: getattr(self, k)
            for k in ("fit_intercept", "penalize_intercept", "solver", "tol", "max_iter")
        }
        model = self._base_class(alpha=alpha, **params)
        if hasattr(self, "classes_"):
            model.classes_ = self.classes_
        return model

    def _fit_cv(self, X, y, target, weights):
        owner = type(self).__name__
        validate_params(owner, self.get_params(), self._cv_specs)
        alphas = self._alpha_grid(X, target, weights)
        scorer = None if self.scoring is None else check_scoring(self, scoring=self.scoring)
        if isinstance(self.cv, str):  # "alo"
            errors, std_errors, full_results = self._alo_errors(
                X, y, target, weights, alphas, scorer
            )
            split_errors = None
        else:
            split_errors, fold_weights = self._kfold_errors(X, y, target, weights, alphas, scorer)
            errors = fold_weights @ split_errors / fold_weights.sum()
            std_errors = weighted_standard_error(split_errors, fold_weights)
            full_results = None
        if self.selection == "1se" and not np.all(np.isfinite(std_errors)):
            raise IncompatibleOptionsError(
                f"{owner}: selection='1se' needs a standard error of the CV error; with "
                "cv='alo' and a scorer there is only one score per alpha. Use scoring=None "
                "(per-sample losses) or k-fold cv, or selection='min'."
            )
        index = select_alpha(alphas, errors, std_errors, self.selection)
        self.alpha_ = float(alphas[index])
        self.alphas_ = alphas
        self.best_score_ = float(-errors[index])
        self.cv_results_ = {"alphas": alphas, "mean_error": errors, "std_error": std_errors}
        if split_errors is not None:
            self.cv_results_["split_errors"] = split_errors
        if full_results is not None:
            result = full_results[index]
        else:
            model = self._model_for(self.alpha_)
            problem = model._make_problem(X, target, weights, self.alpha_)
            result = model._make_solver(problem).solve(problem)
        self._store(result)
        return self

    def _held_out_error(self, model, problem, result, X, y, target, weights, scorer):
        if scorer is None:
            raw = problem.matvec(problem.pack(result.coef, result.intercept))
            pointwise = problem.loss.pointwise(target, raw)
            return float(weights @ pointwise / weights.sum())
        model._store(result)
        model.n_features_in_ = X.shape[1]
        if self._sample_weight_given:
            return -float(scorer(model, X, y, sample_weight=weights))
        return -float(scorer(model, X, y))

    def _kfold_errors(self, X, y, target, weights, alphas, scorer):
        owner = type(self).__name__
        splitter = check_cv(self.cv, y, classifier=self._is_classifier)
        splits = list(splitter.split(X, y))
        errors = np.empty((len(splits), alphas.size))
        fold_weights = np.empty(len(splits))
        for f, (train, test) in enumerate(splits):
            self._check_fold(owner, f, target[train], weights[train])
            model = self._model_for(alphas[0])
            problem = model._make_problem(X[train], target[train], weights[train], alphas[0])
            results = solve_path(problem, model._make_solver(problem), alphas)
            fold_weights[f] = weights[test].sum()
            for a, (alpha, result) in enumerate(zip(alphas, results, strict=True)):
                model = self._model_for(alpha)
                problem = model._make_problem(X[test], target[test], weights[test], alpha)
                errors[f, a] = self._held_out_error(
                    model, problem, result, X[test], y[test], target[test], weights[test], scorer
                )
        return errors, fold_weights

    def _alo_errors(self, X, y, target, weights, alphas, scorer):
        problems = []
        model = self._model_for(alphas[0])
        problem = model._make_problem(X, target, weights, alphas[0])
        results = solve_path(problem, model._make_solver(problem), alphas, problems=problems)
        errors = np.empty(alphas.size)
        std_errors = np.full(alphas.size, np.nan)
        for a, (problem, result) in enumerate(zip(problems, results, strict=True)):
            raw = alo_raw_predictions(problem, problem.pack(result.coef, result.intercept))
            if scorer is None:
                with np.errstate(over="ignore"):
                    pointwise = problem.loss.pointwise(target, raw)
                errors[a] = weights @ pointwise / weights.sum()
                std_errors[a] = weighted_standard_error(pointwise, weights)
            else:
                stand_in = self._fixed_predictions(raw)
                kwargs = {"sample_weight": weights} if self._sample_weight_given else {}
                errors[a] = -float(scorer(stand_in, X, y, **kwargs))
        return errors, std_errors, results

    def _check_fold(self, owner, fold, target, weights):
        return None


class LogisticRegressionCV(_GLMCVMixin, LogisticRegression):
    r"""Logistic regression with alpha chosen by k-fold CV or approximate leave-one-out.

    For each candidate alpha the model is :class:`l2reg.LogisticRegression`,
    minimizing

    .. math::

        J(\Theta, b) = \frac{\sum_i w_i \,\ell(y_i, \Theta x_i + b)}{\sum_i w_i}
                       + \alpha \lVert\Theta\rVert_F^2
                       \;(+\;\alpha \lVert b\rVert^2 \text{ if } penalize\_intercept)

    (log-loss, binary or multinomial; scikit-learn's ``C = 1 / (2 alpha sum(w))``).

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,), default=None
        Candidates (> 0), or their number.  None: 20 geometric values over six
        decades scaled to the data's curvature (:func:`default_glm_alphas`).
    cv : int, "alo", CV splitter or iterable of splits, default=5
        int k: ``StratifiedKFold(k)``; ``"alo"``: approximate leave-one-out
        from one fit per alpha (Rad & Maleki, 2018), no refits.
    scoring : str, callable or None, default=None
        None: the model's own loss (weighted mean log-loss of held-out or
        leave-one-out predictions).  Any scikit-learn scorer: the error is
        minus its value.
    selection : {"min", "1se"}, default="min"
        ``"min"``: lowest CV error.  ``"1se"``: the largest alpha whose error
        is within one standard error of the lowest.
    fit_intercept, penalize_intercept, solver, tol, max_iter
        As in :class:`l2reg.LogisticRegression`.

    Attributes
    ----------
    alpha_ : float
    alphas_ : ndarray of shape (n_alphas,)
        The grid, in decreasing order.
    cv_results_ : dict of ndarray
        ``"alphas"`` (n_alphas,), ``"mean_error"`` (n_alphas,) the criterion
        minimized, ``"std_error"`` (n_alphas,) its standard error (over folds,
        or over samples for ALO; NaN for ALO with a scorer), and for k-fold
        ``"split_errors"`` (n_splits, n_alphas).
    best_score_ : float
        Minus the chosen alpha's mean error.
    classes_, coef_, intercept_, certificate_, n_iter_, solver_, objective_
        Of the model refitted on all the data with ``alpha_``.

    See Also
    --------
    l2reg.LogisticRegression : the model for one alpha.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import LogisticRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=100) > 0).astype(int)
    >>> model = LogisticRegressionCV(cv="alo").fit(X, y)
    >>> model.cv_results_["mean_error"].shape
    (20,)
    """

    _base_class = LogisticRegression

    def fit(self, X, y, sample_weight=None):
        """Choose alpha, then fit on all the data with it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : LogisticRegressionCV
        """
        self._check_params()
        X, y, weights = self._validate_training_data(X, y, sample_weight)
        self._sample_weight_given = sample_weight is not None
        return self._fit_cv(X, y, self._training_target(y, weights), weights)

    def _curvature(self, target, weights):
        shares = np.bincount(np.asarray(target, dtype=np.intp), weights=weights)
        shares = shares / shares.sum()
        return float(np.sum(shares * (1 - shares)) / max(len(shares) - 1, 1))

    def _check_fold(self, owner, fold, target, weights):
        present = np.bincount(
            np.asarray(target, dtype=np.intp), weights=weights, minlength=len(self.classes_)
        )
        if np.any(present <= 0):
            missing = self.classes_[present <= 0]
            raise InvalidParameterError(
                f"{owner}: training fold {fold} has no (positively weighted) sample of class "
                f"{missing.tolist()[0]!r}, whose intercept would then be -infinity; use fewer "
                "folds or "
                "a stratified splitter (the default for an integer cv)."
            )

    def _fixed_predictions(self, raw):
        if raw.ndim == 1:
            log_proba = np.column_stack([-np.logaddexp(0.0, raw), -np.logaddexp(0.0, -raw)])
            index = (raw > 0).astype(np.intp)
        else:
            top = raw.max(axis=1, keepdims=True)
            log_proba = raw - (top + np.log(np.exp(raw - top).sum(axis=1, keepdims=True)))
            index = raw.argmax(axis=1)
        outputs = {
            "decision_function": raw,
            "predict_log_proba": log_proba,
            "predict_proba": np.exp(log_proba),
            "predict": self.classes_[index],
        }
        return _FixedClassifier(outputs, self.classes_)


class PoissonRegressionCV(_GLMCVMixin, PoissonRegression):
    r"""Poisson regression with alpha chosen by k-fold CV or approximate leave-one-out.

    For each candidate alpha the model is :class:`l2reg.PoissonRegression`,
    minimizing

    .. math::

        J(\theta, b) = \frac{\sum_i w_i \,(e^{\eta_i} - y_i \eta_i + y_i \log y_i - y_i)}
                            {\sum_i w_i} + \alpha \lVert\theta\rVert^2

    (mean Poisson deviance / 2; scikit-learn's ``PoissonRegressor`` and glum
    take ``2 * alpha``).

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,), default=None
        Candidates (> 0), or their number; None: 20 values scaled to the data.
    cv : int, "alo", CV splitter or iterable of splits, default=5
        int k: ``KFold(k)``; ``"alo"``: approximate leave-one-out from one
        fit per alpha.
    scoring : str, callable or None, default=None
        None: the mean Poisson deviance / 2 of held-out or leave-one-out
        predictions; any scikit-learn scorer otherwise (error = minus its value).
    selection : {"min", "1se"}, default="min"
    fit_intercept, penalize_intercept, solver, tol, max_iter
        As in :class:`l2reg.PoissonRegression`.

    Attributes
    ----------
    alpha_ : float
    alphas_ : ndarray of shape (n_alphas,)
    cv_results_ : dict of ndarray
        As :class:`LogisticRegressionCV`'s.
    best_score_ : float
    coef_, intercept_, certificate_, n_iter_, solver_, objective_
        Of the model refitted on all the data with ``alpha_``.

    See Also
    --------
    l2reg.PoissonRegression : the model for one alpha.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import PoissonRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> y = rng.poisson(np.exp(0.5 * X[:, 0]))
    >>> model = PoissonRegressionCV(cv="alo").fit(X, y)
    >>> bool(model.alpha_ > 0)
    True
    """

    _base_class = PoissonRegression

    def fit(self, X, y, sample_weight=None):
        """Choose alpha, then fit on all the data with it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Non-negative counts or rates.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : PoissonRegressionCV
        """
        self._check_params()
        X, y, weights = self._validate_training_data(X, y, sample_weight)
        self._sample_weight_given = sample_weight is not None
        target = self._training_target(y, weights)
        self._check_positive_counts(target, weights)
        return self._fit_cv(X, y, target, weights)

    def _curvature(self, target, weights):
        return float(weights @ target / weights.sum())

    def _check_fold(self, owner, fold, target, weights):
        if self.fit_intercept and not self.penalize_intercept and not weights @ target > 0:
            raise InvalidParameterError(
                f"{owner}: every target of training fold {fold} is 0, so its unpenalized "
                "intercept would be -infinity; use fewer folds or penalize_intercept=True."
            )

    def _fixed_predictions(self, raw):
        with np.errstate(over="ignore"):
            return _FixedRegressor({"predict": np.exp(raw)})
