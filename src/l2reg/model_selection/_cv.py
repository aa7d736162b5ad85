"""RidgeCV: ridge regression with alpha chosen by exact LOO, GCV, k-fold or evidence."""

from __future__ import annotations

import numbers
from functools import reduce

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold

from l2reg._validation import InstanceOf, Options, Satisfies, validate_params
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._base import (
    collection_handler,
    forget_statistics,
    linear_predict,
    store_result,
    validate_fit_data,
)
from l2reg.model_selection._cv_stats import MSE_SCORERS, StatisticsSelection, kfold_from_stats
from l2reg.model_selection._path import check_alpha_grid, ridge_problem
from l2reg.model_selection._selection import select_alpha, weighted_standard_error
from l2reg.model_selection._spectral import (
    SharedKernel,
    default_alphas,
    intercept_mode,
    kernel_fold_predictions,
    spectral_decomposition,
)
from l2reg.objective.gram import gram_stats, gram_stats_by_group
from l2reg.solvers import get_solver

__all__ = ["RidgeCV"]

_CV_NAMES = ("gcv", "evidence")
_MSE_SCORERS = MSE_SCORERS


class _FixedPredictions(RegressorMixin, BaseEstimator):
    """A stand-in estimator whose ``predict`` returns precomputed predictions.

    Lets any scikit-learn scorer evaluate leave-one-out or held-out
    predictions that were computed for all alphas at once.
    """

    def __init__(self, predictions=None):
        self.predictions = predictions

    def fit(self, X=None, y=None):  # pragma: no cover - never fitted, scorers only predict
        return self

    def predict(self, X):
        if X.shape[0] != self.predictions.shape[0]:  # a scorer given other rows: a bug
            raise ValueError("predictions were computed for other rows.")
        return self.predictions

    def __sklearn_is_fitted__(self):
        return True


class RidgeCV(StatisticsSelection, RegressorMixin, BaseEstimator):
    r"""Ridge regression with alpha chosen by cross-validation or evidence.

    For each candidate alpha the model is :class:`l2reg.Ridge`, minimizing

    .. math::

        J(\theta, b) = \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{\sum_i w_i}
                       + \alpha \lVert\theta\rVert_2^2
                       \;(+\;\alpha b^2 \text{ if } penalize\_intercept)

    (scikit-learn's ``Ridge(alpha=a)`` is ``alpha = a / sum(w)``).  Every
    criterion comes from one eigendecomposition of the weighted centered
    Gram matrix (n >= p) or of the n x n kernel (p > n); see
    ``docs/model_selection.md`` for the formulas.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=None
        Strictly positive candidates.  None: 100 geometric values built from
        the spectrum of X, whose effective degrees of freedom run from nearly
        the rank of X (``lam = 0.01 * s_min``) down to nearly 0
        (``lam = 100 * trace``), with ``alpha = lam / sum(w)``.
    cv : None, "gcv", "evidence", int, CV splitter or iterable of splits, default=None
        * None: exact leave-one-out for every alpha (intercept and weights
          included: each LOO prediction is what the model refit without that
          sample predicts).
        * ``"gcv"``: generalized cross-validation (Golub, Heath & Wahba),
          ``(RSS_w / W) / (1 - df / n)^2``, which averages the leverages; not
          the same as LOO.
        * ``"evidence"``: maximize the Gaussian marginal likelihood (the
          empirical-Bayes criterion of BayesianRidge) over alpha.
        * int k >= 2: ``KFold(k)``; or any scikit-learn splitter.  Each
          training fold is fitted with ``Ridge(alpha)``.  When the test folds
          partition the samples and n >= p, the fold statistics come from one
          pass over X and each training Gram is the full one minus the fold's
          (no refits from scratch); when p > n, one kernel of all rows is
          re-centered for each fold.  :class:`HashedKFold` assigns rows to
          folds by a hash of their position: what :meth:`partial_fit` uses.
    scoring : str, callable or None, default=None
        None: weighted mean squared error (closed form).  Any scikit-learn
        scorer name or scorer callable: evaluated on the LOO or held-out
        predictions (computed for all alphas at once).  Not with ``"gcv"`` or
        ``"evidence"``.
    selection : {"min", "1se"}, default="min"
        ``"min"``: the alpha with the lowest CV error.  ``"1se"``: the largest
        alpha whose CV error is within one standard error of the minimum (needs
        a standard error: LOO with squared error, or k-fold).
    alpha_per_target : bool, default=False
        Choose one alpha per target (every ``cv`` mode).  Otherwise the
        criterion is averaged over targets.
    fit_intercept : bool, default=True
    penalize_intercept : bool, default=False

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_targets,)
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
        ``Ridge(alpha=alpha_).fit(X, y, sample_weight)``'s: the chosen alpha
        (per target with ``alpha_per_target``) is refit by ``Ridge``'s solver.
    solver_ : str
        The solver of that refit that really ran, fallbacks included (see
        :class:`l2reg.Ridge`).
    certificate_ : Certificate
        Norm and relative norm of the objective's gradient at ``coef_``.
    n_iter_ : None
        Direct solvers do not iterate.
    best_score_ : float or ndarray of shape (n_targets,)
        The chosen alpha's score, higher is better: minus the CV error (minus
        MSE or GCV), the scorer's value, or the log evidence.
    cv_results_ : dict of ndarray
        ``"alphas"`` (n_alphas,); ``"mean_error"`` and ``"std_error"``, the
        minimized criterion and its standard error (NaN where undefined:
        GCV, evidence, LOO with a scorer), of shape (n_alphas,), or
        (n_alphas, n_targets) with ``alpha_per_target`` and 2-D y;
        ``"effective_df"`` (n_alphas,), the trace of the hat matrix;
        ``"mean_error_per_target"`` (n_alphas, n_targets) for 2-D y where the
        criterion is per target; ``"log_evidence"`` with ``cv="evidence"``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    stats_ : GramStats
        Only after :meth:`partial_fit` or :meth:`fit_stats`: the statistics of
        every row seen (``Ridge(alpha).fit_stats(model.stats_)`` refits any
        alpha).
    fold_stats_ : list of GramStats
        Only after k-fold :meth:`partial_fit` or :meth:`fit_stats`: one per
        test fold.
    n_chunks_ : int
        Only with ``stats_``: the chunks :meth:`partial_fit` merged (0 after
        :meth:`fit_stats`).

    See Also
    --------
    l2reg.Ridge : the model for one alpha.
    l2reg.model_selection.HashedKFold : k-fold that a stream reproduces.
    l2reg.model_selection.ridge_path : coefficients for every alpha.

    Notes
    -----
    The standard error of a mean over folds (or over samples for LOO) is
    ``sqrt(sum_f w_f^2 (e_f - m)^2) / sum_f w_f * sqrt(K / (K - 1))`` with fold
    weights ``w_f`` (the fold's weight sum), i.e. ``std(e, ddof=1) / sqrt(K)``
    for equal weights.  The k-fold error is the fold-weighted mean of the
    per-fold weighted MSE, so integer weights equal repeated rows.

    Leave-one-out keeps the full data's penalty ``lam = alpha * sum(w)`` when
    a sample is left out (Sherman-Morrison needs a fixed ``lam``; it is what
    scikit-learn's RidgeCV does too), i.e. the refit is
    ``Ridge(alpha * W / (W - w_i))``, while k-fold refits ``Ridge(alpha)``.
    The two differ by the factor ``W / (W - w_i)``, ``1 + 1/(n-1)`` for unit
    weights.

    The criteria of all alphas come from the eigendecomposition; the model
    at the chosen alpha does not: it is refit by :class:`l2reg.Ridge`'s
    solver (from the statistics already computed when n >= p: one p x p
    Cholesky, no pass over X; from the kernel already computed when p > n:
    one n x n Cholesky and one product with X), so
    ``coef_`` has ``Ridge``'s accuracy, and an ill-conditioned refit falls
    back to ``svd`` with a :class:`~l2reg.SolverFallbackWarning` as
    ``Ridge`` does.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg.model_selection import RidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 3))
    >>> y = X @ [1.0, 2.0, 0.0] + 0.1 * rng.normal(size=50)
    >>> model = RidgeCV().fit(X, y)
    >>> model.cv_results_["mean_error"].shape
    (100,)
    >>> bool(model.alpha_ > 0)
    True
    >>> model.solver_
    'cholesky'
    """

    _parameter_specs = {
        "cv": [
            Options((None, *_CV_NAMES)),
            Satisfies(
                lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 2,
                "an integer >= 2",
            ),
            Satisfies(lambda v: hasattr(v, "split") and not isinstance(v, str), "a CV splitter"),
            Satisfies(
                lambda v: hasattr(v, "__iter__") and not isinstance(v, str),
                "an iterable of (train, test) index arrays",
            ),
        ],
        "scoring": [
            Options((None,)),
            InstanceOf((str,)),
            Satisfies(callable, "a callable scorer"),
        ],
        "selection": [Options(("min", "1se"))],
        "alpha_per_target": [InstanceOf((bool,))],
        "fit_intercept": [InstanceOf((bool,))],
        "penalize_intercept": [InstanceOf((bool,))],
    }

    def __init__(
        self,
        alphas=None,
        *,
        cv=None,
        scoring=None,
        selection="min",
        alpha_per_target=False,
        fit_intercept=True,
        penalize_intercept=False,
    ):
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.alpha_per_target = alpha_per_target
        self.fit_intercept = fit_intercept
        self.penalize_intercept = penalize_intercept

    # --- parameter checks -------------------------------------------------------

    def _check_params(self):
        owner = type(self).__name__
        validate_params(owner, self.get_params(), self._parameter_specs)
        if self.penalize_intercept and not self.fit_intercept:
            raise IncompatibleOptionsError(
                f"{owner}: penalize_intercept=True requires fit_intercept=True; "
                "set fit_intercept=True or penalize_intercept=False."
            )
        scorer = None
        if self.scoring is not None and not (
            isinstance(self.scoring, str) and self.scoring in _MSE_SCORERS
        ):
            if isinstance(self.cv, str):
                raise IncompatibleOptionsError(
                    f"{owner}: cv={self.cv!r} is its own criterion and takes no scoring; "
                    f"got scoring={self.scoring!r}. Use cv=None (leave-one-out) or k-fold "
                    "with a scorer, or drop scoring."
                )
            try:
                scorer = check_scoring(self, scoring=self.scoring)
            except ValueError as exc:
                raise InvalidParameterError(
                    f"{owner}: scoring={self.scoring!r} is not a known scorer; use a name "
                    "from sklearn.metrics.get_scorer_names() (e.g. 'r2', "
                    "'neg_mean_absolute_error') or a callable scorer."
                ) from exc
        if self.selection == "1se":
            if isinstance(self.cv, str):
                raise IncompatibleOptionsError(
                    f"{owner}: selection='1se' needs a standard error of the CV error, which "
                    f"cv={self.cv!r} does not have; use cv=None (leave-one-out) or k-fold, "
                    "or selection='min'."
                )
            if self.cv is None and scorer is not None:
                raise IncompatibleOptionsError(
                    f"{owner}: selection='1se' with leave-one-out needs per-sample errors; "
                    f"scoring={self.scoring!r} gives one score per alpha. Use k-fold "
                    "(e.g. cv=5), scoring=None or selection='min'."
                )
        return scorer

    def _splits(self, X, Y, n_samples, groups):
        owner = type(self).__name__
        cv = self.cv
        if isinstance(cv, numbers.Integral):
            if cv > n_samples:
                raise InvalidParameterError(
                    f"{owner}: cv={cv} folds but only {n_samples} samples; use cv <= "
                    f"{n_samples}, or cv=None for exact leave-one-out."
                )
            cv = KFold(n_splits=int(cv))
        raw = cv.split(X, Y, groups) if hasattr(cv, "split") else cv
        splits = []
        for split in raw:
            train, test = (np.asarray(part) for part in split)
            if train.dtype == bool:
                train = np.flatnonzero(train)
            if test.dtype == bool:
                test = np.flatnonzero(test)
            splits.append((train.astype(np.intp), test.astype(np.intp)))
        if not splits:
            raise InvalidParameterError(f"{owner}: cv={self.cv!r} produced no splits.")
        return splits

    # --- fit ----------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, groups=None):
        """Choose alpha and fit the model at it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; only their ratios matter.  They weight the
            fit and the CV error alike.
        groups : array-like of shape (n_samples,), default=None
            Group labels passed to the splitter's ``split`` (e.g. ``GroupKFold``).

        Returns
        -------
        self : RidgeCV
        """
        if (handler := collection_handler("RidgeCV.fit", X, y, sample_weight)) is not None:
            return handler(self, X, y, sample_weight, groups)  # a Dask collection: l2reg.dask
        owner = type(self).__name__
        X, Y, weights, single_target = validate_fit_data(
            self, X, y, sample_weight, check_finite_X=False
        )
        scorer = self._check_params()
        n = X.shape[0]
        n_positive = n if weights is None else int(np.count_nonzero(weights > 0))
        if n_positive < 2:
            raise InvalidParameterError(
                f"{owner}: choosing alpha needs at least 2 samples with positive weight; "
                f"got {n_positive} sample{'s' if n_positive != 1 else ''} "
                f"(n_samples = {n})."
            )
        mode = intercept_mode(self.fit_intercept, self.penalize_intercept)
        kfold = not (self.cv is None or isinstance(self.cv, str))
        splits = self._splits(X, Y, n, groups) if kfold else None
        primal = X.shape[1] + (mode == "penalized") <= n
        fold_stats = None
        stats = None
        if kfold and scorer is None and primal:
            labels, partition = _fold_labels(splits, n)
            if partition:
                fold_stats = gram_stats_by_group(
                    X, Y, weights, labels, len(splits) + 1, dtype=np.float64
                )
                # A NaN or inf shows on the merged diagonal and is reported below.
                with np.errstate(invalid="ignore", over="ignore"):
                    stats = reduce(lambda a, b: a.merge(b), fold_stats)
        if primal and stats is None:
            # Computed here, not inside the decomposition, so that the final
            # refit reuses them (no second pass over X).
            stats = gram_stats(X, Y, weights, dtype=np.float64)
        # p > n with k-fold: one kernel of all rows serves every fold.
        kernel = SharedKernel(X, weights, mode, owner) if kfold and not primal else None
        spectrum = spectral_decomposition(
            X,
            Y,
            weights,
            fit_intercept=self.fit_intercept,
            penalize_intercept=self.penalize_intercept,
            stats=stats,
            kernel=None if kernel is None else kernel.full_design(),
            owner=owner,
        )
        alphas = (
            default_alphas(spectrum)
            if self.alphas is None
            else check_alpha_grid(owner, self.alphas)
        )
        per_target = self.alpha_per_target and Y.shape[1] > 1

        results = {"alphas": alphas, "effective_df": spectrum.effective_df(alphas)}
        if self.cv is None:
            error, std_error, by_target = self._loo(
                spectrum, alphas, scorer, X, Y, weights, single_target
            )
        elif self.cv == "gcv":
            error, std_error, by_target = self._closed_form(spectrum.gcv(alphas))
        elif self.cv == "evidence":
            log_evidence = spectrum.log_evidence(alphas)
            error, std_error, by_target = self._closed_form(-log_evidence)
            results["log_evidence"] = log_evidence if per_target else log_evidence.mean(axis=1)
        elif fold_stats is not None:
            positive_by_fold = np.bincount(
                labels,
                weights=None if weights is None else (weights > 0),
                minlength=len(fold_stats),
            )
            error, std_error, by_target = kfold_from_stats(
                fold_stats[:-1], stats, mode, alphas, n_positive, positive_by_fold[:-1]
            )
        else:
            error, std_error, by_target = self._kfold_explicit(
                splits, alphas, scorer, X, Y, weights, single_target, kernel
            )

        alpha, best = self._choose(alphas, (error, std_error, by_target), Y.shape[1], results)

        # The chosen model is Ridge(alpha_)'s fit, by Ridge's solver (fallback,
        # solver_ and certificate_ included): the spectral formula loses
        # eps * cond(G) = eps * cond(X)^2, where Ridge equilibrates and falls
        # back to the SVD of the data when that matters.  With the statistics
        # already there the refit is one p x p Cholesky; in the kernel form
        # (p > n) the decomposition's kernel serves it: one n x n Cholesky and
        # one product with X, no second kernel pass.
        problem, solver = ridge_problem(
            X,
            Y,
            weights,
            alpha,
            fit_intercept=self.fit_intercept,
            penalize_intercept=self.penalize_intercept,
            single_target=single_target,
            owner=owner,
            stats=stats,
            kernel=spectrum.kernel,
        )
        forget_statistics(self)
        store_result(self, get_solver(solver)().solve(problem), single_target)
        self._store_choice(alpha, best, results, per_target)
        return self

    def _choose(self, alphas, criterion, n_targets, results):
        """The chosen alpha (one per target) and its score; fills ``results``' errors.

        ``criterion`` is ``(error (A,), std_error (A,), (per-target error,
        per-target std) (A, k) or None)``.
        """
        error, std_error, by_target = criterion
        if self.alpha_per_target and n_targets > 1:
            mean_error, mean_std = by_target
            choice = [
                select_alpha(alphas, mean_error[:, t], mean_std[:, t], self.selection)
                for t in range(n_targets)
            ]
            alpha = alphas[choice]
            best = -mean_error[choice, np.arange(n_targets)]
        else:
            mean_error, mean_std = error, std_error
            index = select_alpha(alphas, error, std_error, self.selection)
            alpha = np.full(n_targets, alphas[index])
            best = -error[index]
        results["mean_error"] = mean_error
        results["std_error"] = mean_std
        if n_targets > 1 and by_target[0] is not None:
            results["mean_error_per_target"] = by_target[0]
        return alpha, best

    def _store_choice(self, alpha, best, results, per_target) -> None:
        self.alpha_ = alpha if per_target else float(alpha[0])
        self.best_score_ = best if per_target else float(best)
        self.cv_results_ = results

    # --- criteria ---------------------------------------------------------------

    def _closed_form(self, criterion):
        """A criterion with one value per (alpha, target) and no standard error."""
        nan = np.full(criterion.shape, np.nan)
        return criterion.mean(axis=1), nan[:, 0], (criterion, nan)

    def _loo(self, spectrum, alphas, scorer, X, Y, weights, single_target):
        loo = spectrum.leave_one_out(alphas, return_predictions=scorer is not None)
        if scorer is None:
            return (
                loo.mean_error_targets,
                loo.std_error_targets,
                (loo.mean_error, loo.std_error),
            )
        predictions = loo.predictions  # (n, A, k)
        A, k = predictions.shape[1:]
        kwargs = {} if weights is None else {"sample_weight": weights}
        y_original = Y[:, 0] if single_target else Y
        shared = np.empty(A)
        by_target = np.empty((A, k))
        for a in range(A):
            values = predictions[:, a, 0] if single_target else predictions[:, a]
            shared[a] = -scorer(_FixedPredictions(values), X, y_original, **kwargs)
            if self.alpha_per_target and k > 1:
                for t in range(k):
                    by_target[a, t] = -scorer(
                        _FixedPredictions(predictions[:, a, t]), X, Y[:, t], **kwargs
                    )
        nan_shared = np.full(A, np.nan)
        if not (self.alpha_per_target and k > 1):
            return shared, nan_shared, (None, None)
        return shared, nan_shared, (by_target, np.full((A, k), np.nan))

    def _kfold_explicit(self, splits, alphas, scorer, X, Y, weights, single_target, kernel):
        """Per fold: decompose the training rows, predict the test rows for all alphas.

        With p > n the training kernels come from one shared kernel of all rows
        (``kernel``); otherwise each training set is decomposed from its rows.
        """
        A, k = alphas.shape[0], Y.shape[1]
        errors_targets = []  # per fold (A, k)
        errors_shared = []  # per fold (A,)
        fold_weights = []
        for train, test in splits:
            w_train = None if weights is None else weights[train]
            w_test = np.ones(test.shape[0]) if weights is None else weights[test]
            if test.size == 0 or not w_test.sum() > 0:
                continue
            if w_train is not None and not w_train.sum() > 0:
                raise InvalidParameterError(
                    f"{type(self).__name__}: a training fold has zero total weight; "
                    "choose folds where every training set has positively weighted samples."
                )
            X_test = X[test]
            if kernel is not None:
                predictions = kernel_fold_predictions(kernel, Y, weights, train, test, alphas)
            else:
                fold = spectral_decomposition(
                    X[train],
                    Y[train],
                    w_train,
                    fit_intercept=self.fit_intercept,
                    penalize_intercept=self.penalize_intercept,
                    owner=type(self).__name__,
                )
                coef, intercept = fold.coefficients(alphas)  # (A, k, p), (A, k)
                predictions = (X_test @ coef.reshape(A * k, -1).T.astype(X.dtype)).reshape(
                    -1, A, k
                ) + intercept[None]
            fold_weights.append(w_test.sum())
            if scorer is None:
                squared = (Y[test][:, None, :] - predictions) ** 2
                per_target = np.tensordot(w_test, squared, axes=1) / w_test.sum()
                errors_targets.append(per_target)
                errors_shared.append(per_target.mean(axis=1))
                continue
            kwargs = {} if weights is None else {"sample_weight": w_test}
            y_test = Y[test, 0] if single_target else Y[test]
            shared = np.empty(A)
            targets = np.full((A, k), np.nan)
            for a in range(A):
                values = predictions[:, a, 0] if single_target else predictions[:, a]
                shared[a] = -scorer(_FixedPredictions(values), X_test, y_test, **kwargs)
                if self.alpha_per_target and k > 1:
                    for t in range(k):
                        targets[a, t] = -scorer(
                            _FixedPredictions(predictions[:, a, t]),
                            X_test,
                            Y[test][:, t],
                            **kwargs,
                        )
            errors_targets.append(targets)
            errors_shared.append(shared)
        if not fold_weights:
            raise InvalidParameterError(
                f"{type(self).__name__}: every test fold is empty or has zero weight."
            )
        fold_weights = np.asarray(fold_weights)
        shared = np.asarray(errors_shared)
        targets = np.asarray(errors_targets)
        total = fold_weights.sum()
        return (
            fold_weights @ shared / total,
            weighted_standard_error(shared, fold_weights),
            (
                np.tensordot(fold_weights, targets, axes=1) / total,
                weighted_standard_error(targets, fold_weights),
            ),
        )

    def predict(self, X):
        """Predict with the model fitted at the chosen alpha.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        return linear_predict(self, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = False
        return tags


def _fold_labels(splits, n_samples):
    """Label each row by its test fold; say whether the splits are a k-fold partition.

    A partition: the test sets are disjoint and every training set is exactly
    the complement of its test set (rows in no test set get the label
    ``len(splits)`` and belong to every training set).  Only then are the
    training statistics "all minus the fold".
    """
    n_folds = len(splits)
    labels = np.full(n_samples, n_folds, dtype=np.intp)
    for index, (train, test) in enumerate(splits):
        if train.size + test.size != n_samples or np.any(labels[test] != n_folds):
            return labels, False
        # Counting (O(n)) rather than np.unique (a sort): train and test together
        # must cover every row exactly once.
        if np.any(np.bincount(np.concatenate([train, test]), minlength=n_samples) != 1):
            return labels, False
        labels[test] = index
    return labels, True
