"""Ridge regression in l2reg's convention."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin

from l2reg._validation import (
    InstanceOf,
    Interval,
    Options,
    check_alpha,
    check_sample_weight,
    check_target,
    validate_params,
)
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._array_api import dispatch_namespace, fit_ridge
from l2reg.linear_model._base import (
    chunk_error,
    collection_handler,
    forget_statistics,
    linear_predict,
    restored_on_error,
    store_result,
    store_stats_fit,
    validate_chunk,
    validate_fit_data,
    validate_predict_data,
)
from l2reg.linear_model._penalty_options import (
    PENALTY_OPTION_SPECS,
    PENALTY_OPTIONS_DOC,
    check_penalty_options,
)
from l2reg.objective.gram import GramStats, gram_stats
from l2reg.objective.problem import Problem
from l2reg.objective.streaming import check_stats, merged_chunk
from l2reg.objective.tikhonov import resolve_penalty
from l2reg.solvers import get_solver, registered_solvers
from l2reg.solvers._registry import resolve_solver
from l2reg.solvers.mixed import PRECISIONS, solve_with_precision

__all__ = ["Ridge"]

#: The keys ``solver_options`` takes, with their specs.
ITERATIVE_OPTIONS = {"max_iter": [Interval(numbers.Integral, 1, None)]}


class Ridge(RegressorMixin, BaseEstimator):
    r"""Linear least squares with an L2 penalty, solved exactly.

    Minimizes, for each target,

    .. math::

        J(\theta, b) = \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{\sum_i w_i}
                       + \alpha \lVert\theta\rVert_2^2
                       \;(+\;\alpha b^2 \text{ if } penalize\_intercept)

    i.e. the weighted *mean* squared error plus ``alpha`` times the squared norm
    (see :mod:`l2reg.conventions`; scikit-learn's ``Ridge(alpha=a)`` is
    ``alpha = a / sum(w)`` here).

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        Regularization strength, ``>= 0``.  An array gives each target its own
        alpha (targets sharing a value share one factorization).  ``alpha=0``
        is ordinary least squares with the minimum-norm solution when X is
        rank deficient.
    fit_intercept : bool, default=True
        Fit an intercept ``b``.  It is not penalized unless ``penalize_intercept``.
    penalize_intercept : bool, default=False
        Add ``alpha * b^2`` to the objective (the seed's three-parameter
        example).  Requires ``fit_intercept=True``.
    solver : {"auto", "cholesky", "kernel", "svd", "cg"}, default="auto"
        ``"cholesky"``: one blocked pass over X builds the weighted centered
        Gram matrix with a symmetric rank-k update (X is never copied or
        centered in memory), then a p x p Cholesky.  ``"kernel"``: the dual
        form ``theta = A^T (A A^T + W alpha I)^{-1} z`` for p > n, an n x n
        Cholesky.  ``"svd"``: SVD of the weighted centered data, backward
        stable, minimum-norm when rank deficient.  ``"auto"`` picks ``"svd"``
        when some alpha is 0, ``"kernel"`` when p > n and ``"cholesky"``
        otherwise.  ``"cholesky"`` and ``"kernel"`` estimate the condition
        number of their system and fall back to ``"svd"`` with a
        :class:`~l2reg.SolverFallbackWarning` when it is too large for full
        accuracy; ``solver_`` then says ``"svd"``.  ``"cg"``: Jacobi-preconditioned
        conjugate gradients on the normal equations, centering implicit,
        stopping at ``tol`` (see :mod:`l2reg.solvers.krylov`).  With any of the
        penalty options below, ``"auto"`` is ``"cholesky"`` (the only solver of
        the generalized penalty: ``(G + W alpha P) theta = c + W alpha P theta0``).

        Sparse X (CSR or CSC) is never densified: ``"auto"`` takes
        ``"cholesky"`` (a sparse ``X^T W X``, centered on the small dense
        result) up to 3,000 features and ``"cg"`` beyond (docs/sparse.md);
        ``"kernel"`` and ``"svd"`` need dense X.
    precision : {"double", "mixed", "auto"}, default="double"
        Precision of the ``"cholesky"`` solver's Gram matrix for a dense
        float64 X.  ``"double"``: float64 throughout.  ``"mixed"``: the Gram
        matrix is accumulated in float32 blocks (about twice as fast, no
        float32 copy of X) and its factor preconditions iterative refinement
        whose residuals are computed in float64 from X, to the same
        certificate as ``"double"`` (relative gradient norm 1e-12, or the
        ``cond * eps`` level); ``solver_`` is then
        ``"cholesky (mixed precision)"``.  When the equilibrated condition
        number is too large for float32 refinement (about 1e6) it falls back to
        float64, with a :class:`~l2reg.SolverFallbackWarning`, and ``solver_``
        says ``"cholesky (mixed precision fell back to double: ...)"``.
        ``"auto"``: mixed precision where it pays (tall X with at least 256
        columns), silently falling back.  Other solvers and float32 X ignore
        it.  See ``docs/precision.md``.
    tol : float, default=1e-8
        Iterative solvers only (``"cg"``): stop when the relative gradient
        norm of ``certificate_`` is at most ``tol``, the meaning the GLMs'
        ``tol`` has.  1e-8 leaves coefficients within about ``1e-8 cond`` of
        the exact solution (cond: the equilibrated condition number of the
        penalized normal equations).  The direct solvers ignore it.
    solver_options : dict, default=None
        Options of the iterative solver: ``{"max_iter": int}``, at most that
        many iterations (1,000 by default).  Unknown keys raise.  The direct
        solvers take none.
    {PENALTY_OPTIONS_DOC}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    solver_ : str
        The solver that really ran, fallbacks included (with ``precision``, a
        note in parentheses: ``"cholesky (mixed precision)"``).
    certificate_ : Certificate
        Norm and relative norm of the objective's gradient at the solution.
    n_iter_ : int or None
        Iterations of ``"cg"``; None for the direct solvers.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.
    stats_ : GramStats
        Only after :meth:`partial_fit` or :meth:`fit_stats`: the sufficient
        statistics of every row seen, from which any alpha refits at once
        (``Ridge(alpha=new).fit_stats(model.stats_)``).  ``fit`` keeps none.
    n_chunks_ : int
        Only with ``stats_``: the chunks :meth:`partial_fit` merged into it
        (0 after :meth:`fit_stats`); the next chunk has this index.

    See Also
    --------
    l2reg.conventions.to_sklearn_ridge_alpha : scikit-learn's alpha for the same fit.
    l2reg.GramStats : the sufficient statistics ``partial_fit`` accumulates.

    Notes
    -----
    float32 input is processed in float32 (the rank-k updates) unless the
    estimated condition number of the system exceeds 1e3, in which case the
    statistics are recomputed in float64.  Small p x p or n x n factorizations
    are always float64.

    With ``sklearn.set_config(array_api_dispatch=True)``, PyTorch, CuPy and other
    array-API inputs are fitted on their device and the fitted arrays are
    returned in their namespace (``docs/array_api.md``).

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import Ridge
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> y = np.array([1.0, 2.0, 4.0, 5.0])
    >>> model = Ridge(alpha=0.1).fit(X, y)
    >>> model.solver_
    'cholesky'
    >>> bool(model.certificate_.relative_gradient_norm < 1e-12)
    True
    """

    __doc__ = __doc__.replace("    {PENALTY_OPTIONS_DOC}\n", PENALTY_OPTIONS_DOC + "\n")

    _parameter_specs = {
        "fit_intercept": [InstanceOf((bool,))],
        "penalize_intercept": [InstanceOf((bool,))],
        "solver": [Options(("auto", *registered_solvers("squared")))],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "solver_options": [Options((None,)), InstanceOf((dict,))],
        **PENALTY_OPTION_SPECS,
        "precision": [Options(PRECISIONS)],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        penalize_intercept=False,
        solver="auto",
        tol=1e-8,
        solver_options=None,
        standardize=False,
        penalty_factor=None,
        penalty_matrix=None,
        prior_mean=None,
        precision="double",
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.penalize_intercept = penalize_intercept
        self.solver = solver
        self.tol = tol
        self.solver_options = solver_options
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.penalty_matrix = penalty_matrix
        self.prior_mean = prior_mean
        self.precision = precision

    def _check_params(self, n_targets: int) -> np.ndarray:
        owner = type(self).__name__
        validate_params(owner, self.get_params(), self._parameter_specs)
        if self.penalize_intercept and not self.fit_intercept:
            raise IncompatibleOptionsError(
                f"{owner}: penalize_intercept=True requires fit_intercept=True; "
                "set fit_intercept=True or penalize_intercept=False."
            )
        return check_alpha(owner, self.alpha, n_targets)

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sparse X: CSR or CSC (other formats are converted to CSR).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            All targets are solved from one pass over X.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.  Only their ratios matter.

        Returns
        -------
        self : Ridge
        """
        if (handler := collection_handler("Ridge.fit", X, y, sample_weight)) is not None:
            return handler(self, X, y, sample_weight)  # a Dask collection: l2reg.dask
        owner = type(self).__name__
        dispatch = dispatch_namespace(X)  # array-API input (docs/array_api.md)
        if dispatch is not None:
            if self.standardize or any(
                getattr(self, name) is not None
                for name in ("penalty_factor", "penalty_matrix", "prior_mean")
            ):
                raise IncompatibleOptionsError(
                    f"{owner}: the penalty options (standardize, penalty_factor, "
                    "penalty_matrix, prior_mean) are computed with NumPy only; pass NumPy "
                    "arrays, or turn array_api_dispatch off."
                )
            return fit_ridge(self, X, y, sample_weight, *dispatch)
        forget_statistics(self)
        X, Y, sample_weight, single_target = validate_fit_data(
            self, X, y, sample_weight, check_finite_X=False, accept_sparse=True
        )
        alpha = self._check_params(Y.shape[1])
        penalty = check_penalty_options(self, X.shape[1], Y.shape[1])
        if penalty is not None and not np.any(alpha > 0):
            penalty = None  # alpha = 0: no penalty at all, least squares (min-norm by svd)
        problem = Problem(
            X=X,
            Y=Y,
            sample_weight=sample_weight,
            alpha=alpha,
            fit_intercept=self.fit_intercept,
            penalize_intercept=self.penalize_intercept,
            single_target=single_target,
            owner=owner,
            penalty=penalty,
        )
        name = resolve_solver(
            self.solver,
            owner=owner,
            loss="squared",
            n_samples=X.shape[0],
            n_features=X.shape[1],
            alpha=alpha,
            penalize_intercept=self.penalize_intercept,
            multi_target=Y.shape[1] > 1,
            sparse=sp.issparse(X),
            penalty="l2" if penalty is None else "generalized_l2",
        )
        result = solve_with_precision(
            get_solver(name)(**self._solver_options(name)), problem, self.precision
        )
        store_result(self, result, single_target)
        return self

    def _solver_options(self, name: str) -> dict:
        """``tol`` and ``solver_options`` for an iterative solver, nothing for a direct one."""
        options = dict(self.solver_options or {})
        unknown = sorted(set(options) - set(ITERATIVE_OPTIONS))
        if unknown:
            raise InvalidParameterError(
                f"{type(self).__name__}: unknown solver_options key {unknown[0]!r}; "
                f"known: {', '.join(repr(k) for k in ITERATIVE_OPTIONS)}."
            )
        if "max_iter" in options:
            validate_params(
                type(self).__name__, options, {"max_iter": ITERATIVE_OPTIONS["max_iter"]}
            )
        if not get_solver(name).capabilities.iterative:
            return {}
        return {"tol": self.tol, **options}

    def partial_fit(self, X, y, sample_weight=None):
        """Add a chunk of rows and refit: exactly the fit of every row seen so far.

        The chunk's sufficient statistics (:meth:`GramStats.from_chunk
        <l2reg.GramStats.from_chunk>`) are merged into ``stats_`` and the
        model is refit from them (one p x p Cholesky, no pass over earlier
        chunks), so after any sequence of chunks ``coef_`` and ``intercept_``
        are those of ``fit`` on all of them together (to rounding).  A
        :meth:`fit` starts over; :meth:`fit_stats` replaces ``stats_``.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            The same columns (and feature names) in every chunk.  SciPy sparse
            (CSR or CSC) chunks are accepted.
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            The same number of targets, and the same 1-D or 2-D form, in
            every chunk.
        sample_weight : array-like of shape (n_rows,), default=None
            Non-negative weights; a chunk may weigh nothing.  As in
            :meth:`fit`, only the ratios over all chunks matter.

        Returns
        -------
        self : Ridge

        Raises
        ------
        InvalidParameterError
            (a ``ValueError`` and ``TypeError``) for a chunk that fails
            validation (NaN, another width, a non-numeric dtype, other
            targets, a float32 chunk after float64 ones): the message names
            the chunk by its index, counted from 0 (``n_chunks_`` before the
            call), and the model, ``stats_`` included, is left exactly as it
            was.
        """
        owner = type(self).__name__
        first = not hasattr(self, "stats_")
        index = 0 if first else self.n_chunks_
        with restored_on_error(self):
            try:
                X = validate_chunk(self, X, first=first)
                stats = merged_chunk(None if first else self.stats_, X, y, sample_weight)
            except (ValueError, TypeError) as error:
                raise chunk_error(owner, index, error) from error
            self._fit_from_stats(stats)
            self.n_chunks_ = index + 1
        return self

    def fit_stats(self, stats):
        """Fit from sufficient statistics alone: no rows, no pass over data.

        Solves the same problem as :meth:`fit` on the rows ``stats``
        summarize, with the ``cholesky`` solver whatever ``solver`` says (it
        is the only one that works on statistics; ``solver_`` reports it).  Where
        ``fit`` would fall back to ``svd`` (an ill-conditioned system), the
        rows are not there to do so: the Cholesky solution is kept with an
        :class:`~l2reg.AccuracyWarning`, and a singular system (``alpha = 0``
        on collinear columns) raises.

        Parameters
        ----------
        stats : GramStats
            E.g. from :meth:`GramStats.from_chunk <l2reg.GramStats.from_chunk>`
            and :meth:`~l2reg.GramStats.merge`, another model's ``stats_``, or
            :func:`l2reg.load`.  ``stats.single_target`` decides whether
            ``coef_`` is 1-D, ``stats.dtype`` its dtype.

        Returns
        -------
        self : Ridge
            With ``stats_`` set to ``stats`` (so :meth:`partial_fit` may
            continue) and no ``feature_names_in_``.
        """
        check_stats(type(self).__name__, stats)
        with restored_on_error(self):
            forget_statistics(self)
            vars(self).pop("feature_names_in_", None)
            self._fit_from_stats(stats)
            self.n_chunks_ = 0
        return self

    def _fit_from_stats(self, stats: GramStats) -> None:
        alpha = self._check_params(stats.n_targets)
        penalty = check_penalty_options(self, stats.n_features, stats.n_targets)
        if penalty is not None and not np.any(alpha > 0):
            penalty = None  # alpha = 0: no penalty at all, as in fit
        store_stats_fit(self, check_stats(type(self).__name__, stats), alpha, penalty)

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        return linear_predict(self, X)

    def objective(self, X, y, sample_weight=None):
        """The objective ``J`` at the fitted parameters on the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float or ndarray of shape (n_targets,)
            One value per target for 2-D y (the multi-target objective is their sum).
        """
        owner = type(self).__name__
        X = validate_predict_data(self, X)
        Y = check_target(owner, y, X.shape[0], np.float64)
        weights = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
        coef = np.atleast_2d(np.asarray(self.coef_, dtype=np.float64))
        intercept = np.atleast_1d(np.asarray(self.intercept_, dtype=np.float64))
        fitted = np.asarray(X.astype(np.float64) @ coef.T)
        residual = Y.reshape(X.shape[0], -1) - (fitted + intercept)
        alpha = check_alpha(owner, self.alpha, coef.shape[0])
        penalty = check_penalty_options(self, X.shape[1], coef.shape[0])
        if penalty is None:
            penalty_value = np.sum(coef**2, axis=1)
        else:  # standardize: the standard deviations of the data given here
            stats = gram_stats(X, residual[:, :1], weights, dtype=np.float64)
            penalty_value = resolve_penalty(
                penalty, stats, fit_intercept=self.fit_intercept, n_targets=coef.shape[0]
            ).value(coef.T)
        value = weights @ residual**2 / weights.sum() + alpha * penalty_value
        if self.penalize_intercept:
            value = value + alpha * intercept**2
        return float(value[0]) if np.ndim(self.coef_) == 1 else value

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        names = registered_solvers("squared") if self.solver == "auto" else (self.solver,)
        known = [n for n in names if n in registered_solvers("squared")]
        tags.input_tags.sparse = any(get_solver(n).capabilities.sparse for n in known)
        tags.array_api_support = True
        return tags
