"""ElasticNetCV: the elastic net with alpha (and l1_ratio) chosen by k-fold cross-validation."""

from __future__ import annotations

import numbers
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import reduce

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from l2reg._validation import InstanceOf, Interval, Options, validate_params
from l2reg._warnings import user_stacklevel
from l2reg.exceptions import ConvergenceWarning, InvalidParameterError
from l2reg.linear_model._base import store_result
from l2reg.linear_model._elastic_net import check_penalty_factor
from l2reg.model_selection._cv import KFOLD_SPECS, _fold_labels, cv_splits, held_out_sse
from l2reg.model_selection._enet_path import check_enet_data, check_l1_ratios, geometric_grid
from l2reg.model_selection._path import check_alpha_grid
from l2reg.model_selection._selection import select_alpha, weighted_standard_error
from l2reg.objective.enet_problem import ElasticNetProblem
from l2reg.objective.gram import gram_stats_by_group
from l2reg.objective.penalties import ElasticNet as ElasticNetPenalty
from l2reg.solvers import get_solver
from l2reg.solvers.coordinate import GRAM_MAX_FEATURES
from l2reg.solvers.enet_path import alpha_max, path_mode, solve_enet_path

__all__ = ["ElasticNetCV"]


class ElasticNetCV(RegressorMixin, BaseEstimator):
    r"""Elastic net with ``alpha`` (and ``l1_ratio``) chosen by k-fold cross-validation.

    For each candidate the model is :class:`l2reg.ElasticNet`, minimizing

    .. math::

        J(\theta, b) = \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{2 \sum_i w_i}
            + \alpha\, \rho \sum_j f_j \lvert\theta_j\rvert
            + \frac{\alpha}{2} (1 - \rho) \sum_j f_j \theta_j^2

    (``rho = l1_ratio``, ``f = penalty_factor``): glmnet's and scikit-learn's
    form, half of l2reg's ridge form, so ``alpha`` and ``l1_ratio`` mean what
    they mean in scikit-learn's ``ElasticNetCV``.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=None
        Strictly positive candidates, used for every l1_ratio.  None: for each
        l1_ratio, ``n_alphas`` values from that ratio's ``alpha_max`` on all
        rows down to ``eps * alpha_max``, evenly spaced in log scale
        (scikit-learn's grid; see :func:`l2reg.elastic_net_path`).
    l1_ratio : float or list of float, default=0.5
        In ``[0, 1]``; with a list every ratio is cross-validated.
    cv : int, CV splitter or iterable of splits, default=5
        int k >= 2: ``KFold(k)`` (unshuffled, as scikit-learn's default).
    selection : {"min", "1se"}, default="min"
        ``"min"``: the (l1_ratio, alpha) of lowest CV error.  ``"1se"``: at the
        l1_ratio of lowest error, the largest alpha whose CV error is within
        one standard error of that minimum (glmnet's ``lambda.1se``).
    n_alphas : int, default=100
    eps : float, default=1e-3
    fit_intercept : bool, default=True
    penalty_factor : array-like of shape (n_features,), default=None
        As :class:`l2reg.ElasticNet`'s (used as given, not rescaled).
    positive : bool, default=False
    tol : float, default=1e-8
        Every fit (each fold's path and the final fit) stops when its duality
        gap is at most ``tol * sum_i w_i (y_i - ybar)^2 / sum(w)`` on its rows.
    max_iter : int, default=None
        Most epochs per alpha (None: 10,000).
    n_jobs : int, default=None
        Folds solved at once in threads (the coordinate-descent kernels
        release the GIL).  None: one per core, at most one per fold.

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
        ``ElasticNet(alpha_, l1_ratio=l1_ratio_, ...).fit(X, y, sample_weight)``'s,
        computed by the same solver (from the statistics of the folds in Gram
        mode, so to within the solver's tolerance of it).
    solver_ : str
        ``"cd"``.
    certificate_ : Certificate
        The duality gap and minimum-norm subgradient at ``coef_``.
    n_iter_ : int
        Epochs of the final fit.
    best_score_ : float
        Minus the chosen candidate's CV error.
    cv_results_ : dict of ndarray
        ``"alphas"``, ``"mean_error"`` (the fold-weighted mean of the folds'
        weighted mean squared errors) and ``"std_error"`` (its standard error
        over folds), of shape (n_alphas,) for one l1_ratio and
        (n_l1_ratios, n_alphas) for a list; ``"l1_ratios"`` (n_l1_ratios,);
        ``"mean_n_nonzero"``, the mean over folds of the number of nonzero
        coefficients, shaped as ``"mean_error"``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    l2reg.ElasticNet : the model for one alpha.
    l2reg.elastic_net_path : coefficients for every alpha.

    Notes
    -----
    With dense X, ``n_samples >= n_features`` (at most 4,096 features) and
    test folds that partition the rows, the fold statistics come from **one
    pass over X** (:func:`~l2reg.objective.gram.gram_stats_by_group`); each
    training Gram matrix is the total minus the fold's
    (:meth:`~l2reg.objective.gram.GramStats.downdate`), each fold's path runs
    coordinate descent on it, and the held-out errors come from the held-out
    fold's own statistics: no row is read again.  Otherwise (sparse X,
    ``p > n``, or other splits) each fold's path runs on its training rows
    and predicts its test rows.  The error of a fold is its weighted mean
    squared error, and folds are weighted by their weight sums, so integer
    weights count as repeated rows within the folds drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import ElasticNetCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> y = X @ [1.0, 0.0, -2.0, 0.0, 0.0] + 0.5 * rng.normal(size=100)
    >>> model = ElasticNetCV(l1_ratio=[0.5, 1.0], n_alphas=30).fit(X, y)
    >>> model.cv_results_["mean_error"].shape
    (2, 30)
    >>> model.solver_
    'cd'
    """

    _parameter_specs = {
        "cv": KFOLD_SPECS,
        "selection": [Options(("min", "1se"))],
        "n_alphas": [Interval(numbers.Integral, 1, None)],
        "eps": [Interval(numbers.Real, 0, 1, closed="neither")],
        "fit_intercept": [InstanceOf((bool,))],
        "positive": [InstanceOf((bool,))],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None), InstanceOf((type(None),))],
        "n_jobs": [Interval(numbers.Integral, 1, None), InstanceOf((type(None),))],
    }

    def __init__(
        self,
        alphas=None,
        *,
        l1_ratio=0.5,
        cv=5,
        selection="min",
        n_alphas=100,
        eps=1e-3,
        fit_intercept=True,
        penalty_factor=None,
        positive=False,
        tol=1e-8,
        max_iter=None,
        n_jobs=None,
    ):
        self.alphas = alphas
        self.l1_ratio = l1_ratio
        self.cv = cv
        self.selection = selection
        self.n_alphas = n_alphas
        self.eps = eps
        self.fit_intercept = fit_intercept
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs

    def _check_params(self, n_features: int):
        """``(l1_ratios, is_list, penalty_factor, alphas or None)``, validated."""
        owner = type(self).__name__
        validate_params(owner, self.get_params(), self._parameter_specs)
        ratios, is_list = check_l1_ratios(owner, self.l1_ratio)
        factors = check_penalty_factor(owner, self.penalty_factor, n_features)
        alphas = None if self.alphas is None else check_alpha_grid(owner, self.alphas)
        return ratios, is_list, factors, alphas

    def fit(self, X, y, sample_weight=None, groups=None):
        """Choose alpha (and l1_ratio) by k-fold CV and fit the model at the choice.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; they weight the fits and the CV errors alike.
        groups : array-like of shape (n_samples,), default=None
            Group labels passed to the splitter's ``split`` (e.g. ``GroupKFold``).

        Returns
        -------
        self : ElasticNetCV
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
            ensure_min_features=1,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # scikit-learn's DataConversionWarning
        X, y, weights = check_enet_data(owner, X, y, sample_weight, positive=self.positive)
        ratios, is_list, factors, fixed = self._check_params(X.shape[1])
        n = X.shape[0]
        n_positive = n if weights is None else int(np.count_nonzero(weights > 0))
        if n_positive < 2:
            raise InvalidParameterError(
                f"{owner}: choosing alpha needs at least 2 samples with positive weight; "
                f"got {n_positive} sample{'s' if n_positive != 1 else ''} (n_samples = {n})."
            )
        splits = cv_splits(owner, self.cv, X, y, groups)

        def penalty(alpha, ratio):
            return ElasticNetPenalty(alpha, float(ratio), factors, self.positive)

        full = ElasticNetProblem(X, y, weights, penalty(1.0, ratios[0]), self.fit_intercept, owner)
        labels, partition = _fold_labels(splits, n)
        gram = (
            partition
            and not sp.issparse(X)
            and X.shape[1] <= GRAM_MAX_FEATURES
            and min(n - test.size for _, test in splits) >= X.shape[1]
        )
        fold_stats = None
        if gram:
            fold_stats = gram_stats_by_group(
                X, y[:, None], weights, labels, len(splits) + 1, dtype=np.float64
            )
            with np.errstate(invalid="ignore", over="ignore"):
                full.with_gram(reduce(lambda a, b: a.merge(b), fold_stats))
        mode = path_mode(full)
        if fixed is None:
            grids = np.array(
                [
                    geometric_grid(
                        alpha_max(replace(full, penalty=penalty(1.0, r)), mode),
                        int(self.n_alphas),
                        float(self.eps),
                    )
                    for r in ratios
                ]
            )
        else:
            grids = np.tile(fixed, (ratios.size, 1))

        def run_fold(index):
            """``(errors (L, A), nonzero counts (L, A), test weight, unconverged fits)``
            of one fold, or None for a test fold without weight."""
            train, test = splits[index]
            if gram:
                test_stats = fold_stats[index]
                if not test_stats.weight_sum > 0:
                    return None
                problem = ElasticNetProblem.from_gram(
                    full.gram_stats().downdate(test_stats),
                    penalty(1.0, ratios[0]),
                    fit_intercept=self.fit_intercept,
                    owner=owner,
                )
                test_weight = test_stats.weight_sum
            else:
                w_test = np.ones(test.size) if weights is None else weights[test]
                test_weight = float(w_test.sum())
                if test.size == 0 or not test_weight > 0:
                    return None
                w_train = None if weights is None else weights[train]
                if w_train is not None and not w_train.sum() > 0:
                    raise InvalidParameterError(
                        f"{owner}: a training fold has zero total weight; choose folds where "
                        "every training set has positively weighted samples."
                    )
                problem = ElasticNetProblem(
                    X[train], y[train], w_train, penalty(1.0, ratios[0]), self.fit_intercept, owner
                )
            errors = np.empty(grids.shape)
            nonzero = np.empty(grids.shape)
            failed = np.zeros(ratios.size, dtype=int)
            for row, ratio in enumerate(ratios):
                results = solve_enet_path(
                    replace(problem, penalty=penalty(1.0, ratio)),
                    grids[row],
                    tol=self.tol,
                    max_iter=self.max_iter,
                    warn=False,
                )
                failed[row] = sum(not result.converged for result in results)
                coefs = np.array([result.coef[0] for result in results])
                intercepts = np.array([result.intercept[0] for result in results])
                nonzero[row] = np.count_nonzero(coefs, axis=1)
                if gram:
                    errors[row] = held_out_sse(test_stats, coefs, intercepts) / test_weight
                else:
                    predictions = np.asarray(X[test] @ coefs.T) + intercepts
                    errors[row] = w_test @ (y[test][:, None] - predictions) ** 2 / test_weight
            return errors, nonzero, test_weight, int(failed.sum())

        workers = min(self.n_jobs or os.cpu_count() or 1, len(splits))
        outcomes = _run_folds(run_fold, len(splits), workers)
        failed = sum(outcome[3] for outcome in outcomes if outcome is not None)
        if failed:
            warnings.warn(
                f"{owner}: coordinate descent did not reach tol={self.tol:g} at {failed} of "
                f"{len(splits) * grids.size} (fold, l1_ratio, alpha) fits; the CV errors there "
                "are approximate. Increase max_iter, loosen tol, or scale the features.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        outcomes = [outcome for outcome in outcomes if outcome is not None]
        if not outcomes:
            raise InvalidParameterError(f"{owner}: every test fold is empty or has zero weight.")
        errors = np.array([outcome[0] for outcome in outcomes])  # (F, L, A)
        nonzero = np.array([outcome[1] for outcome in outcomes])
        fold_weights = np.array([outcome[2] for outcome in outcomes])
        mean_error = np.tensordot(fold_weights, errors, axes=1) / fold_weights.sum()
        std_error = weighted_standard_error(errors, fold_weights)
        best = np.unravel_index(int(np.nanargmin(mean_error)), mean_error.shape)
        row = int(best[0])
        index = select_alpha(grids[row], mean_error[row], std_error[row], self.selection)

        self.alpha_ = float(grids[row, index])
        self.l1_ratio_ = float(ratios[row])
        self.best_score_ = -float(mean_error[row, index])
        shaped = (lambda a: a) if is_list else (lambda a: a[0])
        self.cv_results_ = {
            "alphas": shaped(grids),
            "l1_ratios": ratios,
            "mean_error": shaped(mean_error),
            "std_error": shaped(std_error),
            "mean_n_nonzero": shaped(nonzero.mean(axis=0)),
        }
        solver = get_solver("cd")(tol=self.tol, max_iter=self.max_iter, mode=mode)
        final = replace(full, penalty=penalty(self.alpha_, self.l1_ratio_))
        store_result(self, solver.solve(final), single_target=True)
        return self

    def predict(self, X):
        """Predict with the model fitted at the chosen alpha and l1_ratio.

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_solver("cd").capabilities.sparse
        return tags


def _run_folds(run_fold, n_folds: int, workers: int) -> list:
    """``[run_fold(i) for i in range(n_folds)]``, in ``workers`` threads.

    The coordinate-descent kernels release the GIL, so folds overlap.  Warnings
    are recorded here, around every thread (``catch_warnings`` is process-wide,
    so the fold paths do not record their own): the solvers' convergence
    warnings are dropped (the caller counts unconverged fits and warns once),
    any other is passed on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                outcomes = list(pool.map(run_fold, range(n_folds)))
        else:
            outcomes = [run_fold(index) for index in range(n_folds)]
    for record in caught:
        if not issubclass(record.category, ConvergenceWarning):
            warnings.warn(record.message, record.category, stacklevel=user_stacklevel())
    return outcomes
