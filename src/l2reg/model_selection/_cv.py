"""RidgeCV: ridge regression with alpha chosen by exact LOO, GCV, k-fold or evidence."""

from __future__ import annotations

import numbers
from functools import reduce

import numpy as np
import scipy.sparse as sp
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
from l2reg.linear_model._penalty_options import (
    PENALTY_OPTION_SPECS,
    PENALTY_OPTIONS_DOC,
    check_penalty_options,
)
from l2reg.model_selection._array_api import dispatch_namespace, fit_ridge_cv_array_api
from l2reg.model_selection._cv_stats import (
    MSE_SCORERS,
    StatisticsSelection,
    fold_criterion,
    kfold_from_stats,
)
from l2reg.model_selection._feature_groups import (
    check_feature_groups,
    check_group_options,
    choose_group_multipliers,
)
from l2reg.model_selection._path import check_alpha_grid, ridge_problem
from l2reg.model_selection._selection import select_alpha
from l2reg.model_selection._sparse_cv import (
    check_iterative_cv,
    iterative_default_alphas,
    iterative_fold_predictions,
    uses_iterative_cv,
)
from l2reg.model_selection._spectral import (
    SharedKernel,
    default_alphas,
    intercept_mode,
    kernel_fold_predictions,
    spectral_decomposition,
)
from l2reg.objective.gram import gram_stats, gram_stats_by_group
from l2reg.objective.penalties import GeneralizedL2
from l2reg.solvers import get_solver

__all__ = ["RidgeCV", "KFOLD_SPECS", "cv_splits", "held_out_sse"]

_CV_NAMES = ("gcv", "evidence")
_LOO_HINT = ", or cv=None for exact leave-one-out"
_MSE_SCORERS = MSE_SCORERS


#: What a k-fold ``cv`` parameter may be (an int, a splitter, explicit splits).
KFOLD_SPECS = [
    Satisfies(
        lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 2,
        "an integer >= 2",
    ),
    Satisfies(lambda v: hasattr(v, "split") and not isinstance(v, str), "a CV splitter"),
    Satisfies(
        lambda v: hasattr(v, "__iter__") and not isinstance(v, str),
        "an iterable of (train, test) index arrays",
    ),
]


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
    {PENALTY_OPTIONS_DOC}
    feature_groups : array-like of shape (n_features,), default=None
        A group label per feature: one alpha per group (e.g. per data source).
        ``alpha_`` is chosen as usual (every group at ``alpha``); then each
        group's multiplier ``m_g`` of ``alpha_`` by the same criterion (LOO,
        ``"gcv"`` or ``"evidence"``; not k-fold), and the model is
        ``Ridge(alpha_, penalty_factor=m[group])`` (``group_alphas_``).  Each
        point costs one p x p decomposition (LOO: and one product of X with
        the p x p basis); ``group_cv_results_["n_decompositions"]`` says how
        many.  Not with ``penalty_factor``, ``penalty_matrix``,
        ``alpha_per_target``, a scorer or ``selection="1se"``.
    group_search : {"grid", "optimize"}, default="grid"
        ``"grid"``: the product grid of multipliers ``[0.01, 0.1, 1, 10, 100]``
        per group (5**n_groups points, at most 5 groups).  ``"optimize"``:
        L-BFGS-B over the log multipliers (in ``[1e-4, 1e4]``) from 1, with
        finite-difference gradients.

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
    n_iter_ : int or None
        Iterations of the refit's solver (``cg`` on wide sparse X); None for
        the direct solvers.
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
    group_alphas_ : ndarray of shape (n_groups,)
        With ``feature_groups``: each group's alpha, ``alpha_ * m_g`` (groups
        in the order of ``np.unique`` of the labels).
    feature_groups_ : ndarray of shape (n_features,)
        With ``feature_groups``: each feature's group index into ``group_alphas_``.
    group_cv_results_ : dict of ndarray
        With ``feature_groups``: ``"group_alphas"`` (n_points, n_groups) of
        every point evaluated, ``"mean_error"`` (n_points,) the criterion there
        (minus the log evidence for ``"evidence"``), ``"n_decompositions"``
        (1,) the number of decompositions it cost.

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

    With any of the penalty options every criterion comes from the primal
    spectrum (a p x p ``eigh`` even when p > n) of the penalty's standard
    form (:mod:`l2reg.objective.tikhonov`, ``docs/penalties.md``).
    """

    __doc__ = __doc__.replace("    {PENALTY_OPTIONS_DOC}\n", PENALTY_OPTIONS_DOC + "\n")

    _parameter_specs = {
        "cv": [Options((None, *_CV_NAMES)), *KFOLD_SPECS],
        "scoring": [
            Options((None,)),
            InstanceOf((str,)),
            Satisfies(callable, "a callable scorer"),
        ],
        "selection": [Options(("min", "1se"))],
        "alpha_per_target": [InstanceOf((bool,))],
        "fit_intercept": [InstanceOf((bool,))],
        "penalize_intercept": [InstanceOf((bool,))],
        "group_search": [Options(("grid", "optimize"))],
        **PENALTY_OPTION_SPECS,
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
        standardize=False,
        penalty_factor=None,
        penalty_matrix=None,
        prior_mean=None,
        feature_groups=None,
        group_search="grid",
    ):
        self.feature_groups = feature_groups
        self.group_search = group_search
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.penalty_matrix = penalty_matrix
        self.prior_mean = prior_mean
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

    def _check_sample_count(self, n: int, n_positive: int) -> None:
        if n_positive < 2:
            raise InvalidParameterError(
                f"{type(self).__name__}: choosing alpha needs at least 2 samples with positive "
                f"weight; got {n_positive} sample{'s' if n_positive != 1 else ''} "
                f"(n_samples = {n})."
            )

    # --- fit ----------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, groups=None):
        """Choose alpha and fit the model at it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sparse X (CSR or CSC) is never densified: up to 3,000 columns
            every ``cv`` mode runs on its sparse Gram; beyond, only k-fold
            (each fold fitted by ``cg``), see docs/sparse.md.
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
        dispatch = dispatch_namespace(X)  # array-API input: docs/array_api.md
        if dispatch is not None:
            arguments = dict(X=X, y=y, sample_weight=sample_weight, groups=groups)
            return fit_ridge_cv_array_api(self, arguments, *dispatch)
        owner = type(self).__name__
        X, Y, weights, single_target = validate_fit_data(
            self, X, y, sample_weight, check_finite_X=False, accept_sparse=True
        )
        scorer = self._check_params()
        for stale in ("group_alphas_", "feature_groups_", "group_cv_results_"):
            self.__dict__.pop(stale, None)  # of an earlier fit with feature_groups
        n = X.shape[0]
        n_positive = n if weights is None else int(np.count_nonzero(weights > 0))
        self._check_sample_count(n, n_positive)
        mode = intercept_mode(self.fit_intercept, self.penalize_intercept)
        penalty = check_penalty_options(self, X.shape[1], Y.shape[1])
        feature_groups = None
        if self.feature_groups is not None:
            check_group_options(self, scorer)
            feature_groups = check_feature_groups(owner, self.feature_groups, X.shape[1])
        kfold = not (self.cv is None or isinstance(self.cv, str))
        n_columns = X.shape[1] + (mode == "penalized")
        # Sparse X too wide for its Gram: k-fold by the iterative solver (_sparse_cv).
        iterative = uses_iterative_cv(X, n_columns)
        if iterative:
            check_iterative_cv(owner, self.cv, n_columns)
            if penalty is not None or feature_groups is not None:
                raise IncompatibleOptionsError(
                    f"{owner}: the penalty options and feature_groups need the Gram of X, and "
                    f"sparse X with {n_columns} columns is too wide for it (docs/sparse.md); "
                    "select fewer columns or drop the penalty options."
                )
        splits = cv_splits(owner, self.cv, X, Y, groups, _LOO_HINT) if kfold else None
        # Sparse X always takes the Gram (there is no sparse kernel pass); so does a
        # generalized penalty (its standard form is p x p).
        primal = (
            n_columns <= n or sp.issparse(X) or penalty is not None or feature_groups is not None
        ) and not iterative
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
        kernel = (
            SharedKernel(X, weights, mode, owner) if kfold and not (primal or iterative) else None
        )
        spectrum = None
        if not iterative:
            spectrum = spectral_decomposition(
                X,
                Y,
                weights,
                fit_intercept=self.fit_intercept,
                penalize_intercept=self.penalize_intercept,
                stats=stats,
                kernel=None if kernel is None else kernel.full_design(),
                owner=owner,
                penalty=penalty,
            )
        if self.alphas is not None:
            alphas = check_alpha_grid(owner, self.alphas)
        elif iterative:
            alphas = iterative_default_alphas(X, weights, n_columns)
        else:
            alphas = default_alphas(spectrum)
        per_target = self.alpha_per_target and Y.shape[1] > 1

        effective_df = np.full(alphas.shape, np.nan) if iterative else spectrum.effective_df(alphas)
        results = {"alphas": alphas, "effective_df": effective_df}
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
                fold_stats[:-1], stats, mode, alphas, n_positive, positive_by_fold[:-1], penalty
            )
        else:
            error, std_error, by_target = self._kfold_explicit(
                splits, alphas, scorer, X, Y, weights, single_target, kernel, iterative, penalty
            )

        alpha, best = self._choose(alphas, (error, std_error, by_target), Y.shape[1], results)

        if feature_groups is not None:  # then one multiplier of alpha per group
            multipliers, group_results = choose_group_multipliers(
                X, Y, weights, stats, mode=mode, cv=self.cv,
                alpha=float(alpha[0]), groups=feature_groups, search=self.group_search,
                options={
                    "standardize": self.standardize,
                    "prior_mean": None if penalty is None else penalty.prior_mean,
                },
                owner=owner,
            )  # fmt: skip
            penalty = GeneralizedL2(
                multipliers[feature_groups],
                None,
                None if penalty is None else penalty.prior_mean,
                self.standardize,
            )
            self.group_alphas_ = float(alpha[0]) * multipliers
            self.feature_groups_ = feature_groups
            self.group_cv_results_ = group_results

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
            kernel=None if spectrum is None else spectrum.kernel,
            penalty=penalty,
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

    def _kfold_explicit(
        self,
        splits,
        alphas,
        scorer,
        X,
        Y,
        weights,
        single_target,
        kernel,
        iterative=False,
        penalty=None,
    ):
        """Per fold: decompose the training rows, predict the test rows for all alphas.

        With p > n the training kernels come from one shared kernel of all rows
        (``kernel``); otherwise each training set is decomposed from its rows.
        ``iterative`` (sparse X too wide for its Gram): each fold is fitted by
        ``cg`` for every alpha (:mod:`l2reg.model_selection._sparse_cv`).
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
            elif iterative:
                predictions = iterative_fold_predictions(
                    X,
                    Y,
                    weights,
                    train,
                    test,
                    alphas,
                    fit_intercept=self.fit_intercept,
                    penalize_intercept=self.penalize_intercept,
                    owner=type(self).__name__,
                )
            else:
                fold = spectral_decomposition(
                    X[train],
                    Y[train],
                    w_train,
                    fit_intercept=self.fit_intercept,
                    penalize_intercept=self.penalize_intercept,
                    owner=type(self).__name__,
                    penalty=penalty,
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
        return fold_criterion(
            np.asarray(fold_weights), np.asarray(errors_shared), np.asarray(errors_targets)
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
        tags.input_tags.sparse = True  # CSR and CSC (docs/sparse.md)
        tags.array_api_support = True
        return tags


def cv_splits(owner: str, cv, X, Y, groups, hint="") -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index arrays from an int (``KFold``), a splitter or an iterable.

    ``hint`` ends the message for too many folds (another way to cross-validate).
    """
    n_samples = X.shape[0]
    if isinstance(cv, numbers.Integral):
        if cv > n_samples:
            raise InvalidParameterError(
                f"{owner}: cv={cv} folds but only {n_samples} samples; use cv <= {n_samples}{hint}."
            )
        splitter = KFold(n_splits=int(cv))
    else:
        splitter = cv
    raw = splitter.split(X, Y, groups) if hasattr(splitter, "split") else splitter
    splits = []
    for split in raw:
        train, test = (np.asarray(part) for part in split)
        if train.dtype == bool:
            train = np.flatnonzero(train)
        if test.dtype == bool:
            test = np.flatnonzero(test)
        splits.append((train.astype(np.intp), test.astype(np.intp)))
    if not splits:
        raise InvalidParameterError(f"{owner}: cv={cv!r} produced no splits.")
    return splits


def held_out_sse(test, coefs: np.ndarray, intercepts: np.ndarray, targets=None) -> np.ndarray:
    """Weighted SSE on the rows of the statistics ``test`` of each ``(coefs[m], intercepts[m])``.

    ``yy_B - 2 theta.xy_B + theta.xx_B.theta + W_B u^2`` with B's own centered
    statistics and ``u = y_mean_B - x_mean_B.theta - b`` (the cross terms
    vanish about B's means), so no held-out row is read again.  ``coefs`` is
    (m, p); ``targets`` (m,) says which target each row predicts (0 if None).
    Clipped at 0 against rounding.
    """
    targets = np.zeros(coefs.shape[0], dtype=np.intp) if targets is None else targets
    offset = test.y_mean[targets] - coefs @ test.x_mean - intercepts
    sse = (
        test.yy[targets]
        - 2 * np.sum(coefs * test.xy.T[targets], axis=1)
        + np.sum((coefs @ test.xx) * coefs, axis=1)
        + test.weight_sum * offset**2
    )
    return np.maximum(sse, 0.0)


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
