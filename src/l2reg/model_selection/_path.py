"""Ridge regularization paths from one eigendecomposition, guarded alpha by alpha.

The spectral formula ``theta = V diag(1 / (s + lam)) V^T c`` serves every alpha
from one eigendecomposition, but it works on the (squared) Gram matrix: its
relative error is about ``eps * cond(G + lam I)``.  Where that estimate exceeds
:data:`SPECTRAL_MAX_CONDITION` times ``eps``, the alpha is solved again by
:class:`l2reg.Ridge`'s own solver (:func:`ridge_problem`), from the same
statistics when they exist, so those coefficients are ``Ridge``'s, fallback
included.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

from l2reg._validation import check_sample_weight, check_target
from l2reg._warnings import user_stacklevel
from l2reg.exceptions import (
    AccuracyWarning,
    IncompatibleOptionsError,
    InvalidParameterError,
    SolverFallbackWarning,
)
from l2reg.linear_model._base import collection_handler, solve_stats
from l2reg.linear_model._penalty_options import PENALTY_OPTIONS_DOC, check_penalty_values
from l2reg.model_selection._array_api import dispatch_namespace, ridge_path_array_api
from l2reg.model_selection._sparse_cv import check_sparse_path
from l2reg.model_selection._spectral import (
    default_alphas,
    intercept_mode,
    spectral_decomposition,
    spectrum_from_stats,
)
from l2reg.objective.gram import GramStats, gram_stats
from l2reg.objective.problem import Problem, evaluate_from_stats
from l2reg.objective.streaming import check_stats
from l2reg.solvers import get_solver
from l2reg.solvers._registry import resolve_solver
from l2reg.solvers._result import Certificate, certificate_from_gradient
from l2reg.solvers.penalized import penalized_certificate

__all__ = [
    "RidgePath",
    "ridge_path",
    "check_alpha_grid",
    "ridge_problem",
    "spectral_condition",
    "SPECTRAL_MAX_CONDITION",
]

#: Largest condition number of ``G + lam I`` (kernel form: ``K + lam I``) at
#: which the path keeps the spectral coefficients.  Their relative error is
#: about ``eps * cond``, here at most ~2e-12, which leaves two orders of
#: magnitude to the 1e-10 at which the path must agree with ``Ridge`` (whose
#: Cholesky route also loses ``eps`` times its equilibrated condition).  It is
#: also where the SVD solver starts refining (``REFINE_ABOVE_CONDITION``).
SPECTRAL_MAX_CONDITION = 1e4


def spectral_condition(eigenvalues: np.ndarray, penalties: np.ndarray) -> np.ndarray:
    """``cond(G + lam I) = (s_max + lam) / (s_min + lam)`` for each ``lam``.

    ``eigenvalues`` are those of the whole Gram (or kernel) matrix, zeros
    included: the spectral coefficients lose about ``eps`` times this.
    """
    if eigenvalues.size == 0:
        return np.ones(penalties.shape)
    top, bottom = float(eigenvalues.max()), float(eigenvalues.min())
    with np.errstate(divide="ignore"):
        return (top + penalties) / (bottom + penalties)


def ridge_problem(
    X,
    Y,
    sample_weight,
    alpha,
    *,
    fit_intercept: bool,
    penalize_intercept: bool,
    single_target: bool,
    owner: str,
    stats: GramStats | None = None,
    kernel: np.ndarray | None = None,
    penalty=None,
):
    """The :class:`Problem` ``Ridge(alpha).fit`` solves, and the solver ``"auto"`` picks.

    ``penalty``: the validated generalized L2 penalty of the estimator's
    options (:class:`~l2reg.objective.penalties.GeneralizedL2`), or None.

    ``stats`` (float64 statistics of exactly these X, Y and weights) seed the
    problem, so that the Cholesky solver needs no pass over X; ``kernel`` (the
    unweighted, exactly centered design kernel of these X and weights, e.g. a
    kernel-form :attr:`Spectrum.kernel`) does the same for the kernel solver
    (:meth:`Problem.with_kernel`), whose only pass over X is then one product
    with a few columns (coefficients and certificate).  Returns
    ``(problem, solver_name)``; the caller runs
    ``get_solver(solver_name)().solve(problem)`` (directly, so that a fallback
    warning points at the caller's caller, as ``Ridge``'s does).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    problem = Problem(
        X=X,
        Y=Y,
        sample_weight=sample_weight,
        alpha=alpha,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
        single_target=single_target,
        owner=owner,
        penalty=penalty,
    )
    if stats is not None:
        problem = problem.with_gram(stats)
    if kernel is not None:
        problem = problem.with_kernel(
            kernel,
            centered=fit_intercept and not penalize_intercept,
            ones_column=penalize_intercept,
        )
    name = resolve_solver(
        "auto",
        owner=owner,
        loss="squared",
        n_samples=X.shape[0],
        n_features=X.shape[1],
        alpha=alpha,
        penalize_intercept=penalize_intercept,
        multi_target=Y.shape[1] > 1,
        sparse=sp.issparse(X),
        penalty="l2" if penalty is None else "generalized_l2",
    )
    return problem, name


def check_alpha_grid(owner: str, alphas) -> np.ndarray:
    """A non-empty 1-D float array of finite, strictly positive alphas."""
    if isinstance(alphas, str | bytes | bool):
        raise InvalidParameterError(
            f"{owner}: 'alphas' must be an array of positive numbers; got {alphas!r}."
        )
    try:
        values = np.asarray(alphas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{owner}: 'alphas' must be an array of positive numbers; got {alphas!r}."
        ) from exc
    values = np.atleast_1d(values)
    if values.ndim != 1 or values.size == 0:
        raise InvalidParameterError(
            f"{owner}: 'alphas' must be a non-empty 1-D array; got shape {values.shape}. "
            "Pass e.g. np.logspace(-4, 2, 50), or alphas=None for a grid built from the data."
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        bad = values[~(np.isfinite(values) & (values > 0))][0]
        raise InvalidParameterError(
            f"{owner}: every alpha must be finite and > 0; got {bad!r}. "
            "alpha=0 (no penalty) has no leave-one-out or evidence shortcut; use a small "
            "positive value instead."
        )
    return values


@dataclass(frozen=True)
class RidgePath:
    """Ridge solutions along a grid of alphas, with their accuracy.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_alphas, n_features) or (n_alphas, n_targets, n_features)
    intercepts : ndarray of shape (n_alphas,) or (n_alphas, n_targets)
    effective_df : ndarray of shape (n_alphas,)
        Trace of the hat matrix at each alpha (the intercept counts 1 when it
        is fitted and not penalized).
    form : {"primal", "kernel"}
        Which eigendecomposition was used (p x p Gram or n x n kernel).
    condition_numbers : ndarray of shape (n_alphas,)
        ``cond(G + lam I)`` (kernel form: ``cond(K + lam I)``) from the
        eigenvalues, ``lam = alpha * sum(w)``.  The spectral coefficients
        lose about ``eps`` times this much relative accuracy.
    solvers : tuple of str, length n_alphas
        What produced each alpha's coefficients: ``"spectral"`` (the
        eigendecomposition, kept where ``condition_numbers <=
        SPECTRAL_MAX_CONDITION``), else the solver :class:`l2reg.Ridge` runs
        at that alpha (``"cholesky"``, ``"kernel"``, or ``"svd"`` after a
        fallback), whose coefficients are then ``Ridge``'s.  Re-solved alphas
        that share one problem (the kernel form; the alphas below a primal
        fallback) share its solver: when one of them needs ``"svd"`` they all
        get it, which is at least as accurate as what ``Ridge`` runs there.
    certificates : tuple of Certificate, length n_alphas
        The norm and relative norm of the objective's gradient at each
        alpha's coefficients (all targets together), as ``Ridge.certificate_``.
    """

    alphas: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    effective_df: np.ndarray
    form: str
    condition_numbers: np.ndarray | None = None
    solvers: tuple[str, ...] = field(default=())
    certificates: tuple[Certificate, ...] = field(default=())

    @property
    def relative_gradient_norms(self) -> np.ndarray:
        """Each alpha's ``certificates[j].relative_gradient_norm``, shape (n_alphas,)."""
        return np.array([c.relative_gradient_norm for c in self.certificates])


def ridge_path(
    X=None,
    y=None,
    alphas=None,
    *,
    fit_intercept=True,
    penalize_intercept=False,
    sample_weight=None,
    n_alphas=100,
    stats=None,
    standardize=False,
    penalty_factor=None,
    penalty_matrix=None,
    prior_mean=None,
) -> RidgePath:
    r"""Ridge coefficients for every alpha from one eigendecomposition.

    Solves, for each alpha in the grid and each target,

    .. math::

        \min_{\theta, b} \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{\sum_i w_i}
        + \alpha \lVert\theta\rVert_2^2 \;(+\;\alpha b^2 \text{ if } penalize\_intercept)

    exactly as :class:`l2reg.Ridge` does, from one eigendecomposition of the
    weighted centered Gram matrix (``n >= p``, one blocked pass over X) or of
    the n x n kernel (``p > n``).  Every extra alpha costs O(p^2) per target,
    except the alphas at which that formula would lose accuracy: those are
    solved by ``Ridge``'s solver (see Returns and Notes).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), default=None
        Not with ``stats``.
    y : array-like of shape (n_samples,) or (n_samples, n_targets), default=None
        Not with ``stats``.
    alphas : array-like of shape (n_alphas,), default=None
        Strictly positive alphas.  None: ``n_alphas`` values, geometric, whose
        effective degrees of freedom run from nearly the rank of X down to
        nearly 0 (see :func:`l2reg.model_selection._spectral.default_alphas`).
    fit_intercept : bool, default=True
    penalize_intercept : bool, default=False
    sample_weight : array-like of shape (n_samples,), default=None
    n_alphas : int, default=100
        Size of the automatic grid.
    stats : GramStats, default=None
        Sufficient statistics of the rows instead of the rows
        (:class:`l2reg.GramStats`, e.g. a model's ``stats_`` after
        ``partial_fit``): the path comes from the eigendecomposition of their
        Gram matrix (the primal form, whatever n and p).  Alphas that the
        spectral formula would lose accuracy at are solved by ``Ridge``'s
        Cholesky from the statistics (``Ridge.fit_stats``); with no rows there
        is no ``svd`` to fall back to, so such an alpha keeps its Cholesky
        solution with an :class:`~l2reg.AccuracyWarning` (or its spectral
        one, with the warning, where even the Cholesky fails).

    {PENALTY_OPTIONS_DOC}
    Returns
    -------
    RidgePath
        ``coefs[j]`` and ``intercepts[j]`` are ``Ridge(alpha=alphas[j])``'s
        ``coef_`` and ``intercept_``: computed by ``Ridge``'s own solver where
        the spectral formula would lose accuracy (``solvers[j] !=
        "spectral"``), otherwise within about ``eps * condition_numbers[j]``
        (<= ``eps * SPECTRAL_MAX_CONDITION``) relative of the exact solution.
        ``certificates[j]`` is the gradient-norm certificate of each.

    Warns
    -----
    SolverFallbackWarning
        Once, when ``Ridge``'s solver fell back to ``svd`` at some alphas
        (``solvers`` says which).

    Notes
    -----
    On a well-conditioned design every alpha is spectral and the guard costs
    one p x p product per alpha block (the certificates, from the
    statistics).  Each alpha re-solved in the primal form costs one p x p
    Cholesky on the statistics already computed, no pass over X; the alphas
    at and below the first that falls back to ``svd`` (smaller alphas are
    worse conditioned) cost two SVDs of the data in all, not one each.  In
    the kernel form the re-solved alphas reuse the kernel of the
    decomposition (one n x n Cholesky each, one product with X for all, and
    one SVD if any of them falls back), and the certificates cost two
    products of X with ``n_alphas * n_targets`` columns.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg.model_selection import ridge_path
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> path = ridge_path(X, [1.0, 2.0, 4.0, 5.0], alphas=[0.01, 1.0])
    >>> path.coefs.shape
    (2, 2)
    >>> bool(path.effective_df[0] > path.effective_df[1])
    True
    >>> path.solvers
    ('spectral', 'spectral')

    With a penalty option the decomposition is that of the penalty's
    standard form (:mod:`l2reg.objective.tikhonov`; always p x p), and the
    re-solved alphas are ``Ridge``'s ``cholesky`` with the same penalty.
    """
    arguments = dict(locals())  # the parameters, before any other name is bound
    owner = "ridge_path"
    if stats is not None:
        if X is not None or y is not None or sample_weight is not None:
            raise IncompatibleOptionsError(
                f"{owner}: pass either the rows (X, y, sample_weight) or their statistics "
                "(stats), not both."
            )
    elif X is None or y is None:
        raise InvalidParameterError(
            f"{owner}: pass the rows (X and y) or their statistics (stats=GramStats)."
        )
    if not isinstance(fit_intercept, bool) or not isinstance(penalize_intercept, bool):
        raise InvalidParameterError(
            f"{owner}: fit_intercept and penalize_intercept must be bools; "
            f"got {fit_intercept!r} and {penalize_intercept!r}."
        )
    if penalize_intercept and not fit_intercept:
        raise IncompatibleOptionsError(
            f"{owner}: penalize_intercept=True requires fit_intercept=True; "
            "set fit_intercept=True or penalize_intercept=False."
        )
    dispatch = dispatch_namespace(X)  # array-API input: docs/array_api.md
    if dispatch is not None:
        return ridge_path_array_api(ridge_path, arguments, *dispatch)
    if stats is not None:
        if standardize or any(
            option is not None for option in (penalty_factor, penalty_matrix, prior_mean)
        ):
            raise IncompatibleOptionsError(
                f"{owner}: the penalty options (standardize, penalty_factor, penalty_matrix, "
                "prior_mean) are not supported with stats yet; pass the rows (X, y)."
            )
        options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
        return _path_from_stats(check_stats(owner, stats), alphas, n_alphas, **options)
    if (handler := collection_handler("ridge_path", X, y, sample_weight)) is not None:
        if standardize or any(
            option is not None for option in (penalty_factor, penalty_matrix, prior_mean)
        ):
            raise IncompatibleOptionsError(
                f"{owner}: the penalty options are not supported on Dask collections yet; "
                "use RidgeCV or Ridge, which take them, or NumPy arrays."
            )
        return handler(  # a Dask collection: l2reg.dask
            X, y, alphas, fit_intercept=fit_intercept, penalize_intercept=penalize_intercept,
            sample_weight=sample_weight, n_alphas=n_alphas,
        )  # fmt: skip
    X = check_array(
        X, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32], ensure_all_finite=False
    )
    if sp.issparse(X):  # sparse X: the path of its sparse Gram (docs/sparse.md)
        check_sparse_path(owner, X, penalize_intercept)
    # y in X's precision, as Ridge validates it, so a re-solved alpha is Ridge's fit.
    Y = check_target(owner, y, X.shape[0], X.dtype)
    single_target = Y.ndim == 1
    Y = Y[:, None] if single_target else Y
    if sample_weight is not None:
        sample_weight = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
    n, p = X.shape
    penalty = check_penalty_values(
        owner,
        dict(
            standardize=standardize,
            penalty_factor=penalty_factor,
            penalty_matrix=penalty_matrix,
            prior_mean=prior_mean,
        ),
        p,
        Y.shape[1],
    )
    primal = p + penalize_intercept <= n or sp.issparse(X) or penalty is not None
    # The statistics are computed here (not inside the decomposition) so that
    # the certificates and any re-solve reuse them.
    stats = gram_stats(X, Y, sample_weight, dtype=np.float64) if primal else None
    spectrum = spectral_decomposition(
        X,
        Y,
        sample_weight,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
        stats=stats,
        owner=owner,
        penalty=penalty,
    )
    if alphas is None:
        alphas = default_alphas(spectrum, int(n_alphas))
    alphas = check_alpha_grid(owner, alphas)
    coefs, intercepts = spectrum.coefficients(alphas)  # (A, k, p), (A, k)
    eigenvalues = spectrum.penalized_eigenvalues
    if spectrum.form == "kernel" and spectrum.intercept == "centered":
        # The centered kernel's zero eigenvalue (eigenvector sqrt(w)) costs no
        # accuracy: z has no component along it and A^T maps it to 0.
        eigenvalues = eigenvalues[:-1]
    condition = spectral_condition(eigenvalues, spectrum.penalties(alphas))
    spectral = condition <= SPECTRAL_MAX_CONDITION
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    if penalty is not None:
        certificates = [
            penalized_certificate(
                ridge_problem(
                    X, Y, sample_weight, np.full(Y.shape[1], alpha), stats=stats,
                    penalty=penalty, single_target=False, owner=owner, **options,
                )[0],
                coefs[j],
                intercepts[j],
            )
            for j, alpha in enumerate(alphas)
        ]  # fmt: skip
    elif stats is not None:
        certificates = _certificates_from_stats(stats, coefs, intercepts, alphas, **options)
    else:
        certificates = _certificates_from_data(
            X, Y, sample_weight, coefs, intercepts, alphas, x_mean=spectrum.x_mean, **options
        )
    # In X's precision, as Ridge stores them.
    coefs, intercepts = coefs.astype(X.dtype), intercepts.astype(X.dtype)
    solvers = ["spectral"] * alphas.size
    redo = np.flatnonzero(~spectral)
    if redo.size:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            solved = _solve_like_ridge(
                X,
                Y,
                sample_weight,
                alphas[redo],
                stats,
                kernel=spectrum.kernel,
                x_mean=spectrum.x_mean,
                owner=owner,
                penalty=penalty,
                **options,
            )
        for j, (coef, intercept, solver, certificate) in zip(redo, solved, strict=True):
            coefs[j], intercepts[j] = coef, intercept
            solvers[j], certificates[j] = solver, certificate
        _rewarn(caught, owner, solvers)
    return _path(
        spectrum, alphas, coefs, intercepts, condition, solvers, certificates, single_target
    )


def _path_from_stats(stats, alphas, n_alphas, *, fit_intercept, penalize_intercept):
    """:func:`ridge_path` of the rows ``stats`` summarize, from the statistics alone."""
    owner = "ridge_path"
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    mode = intercept_mode(fit_intercept, penalize_intercept)
    spectrum = spectrum_from_stats(stats, mode, n_positive=stats.positive_count)
    if alphas is None:
        alphas = default_alphas(spectrum, int(n_alphas))
    alphas = check_alpha_grid(owner, alphas)
    coefs, intercepts = spectrum.coefficients(alphas)
    condition = spectral_condition(spectrum.eigenvalues, spectrum.penalties(alphas))
    certificates = _certificates_from_stats(stats, coefs, intercepts, alphas, **options)
    dtype = np.dtype(stats.dtype)
    coefs, intercepts = coefs.astype(dtype), intercepts.astype(dtype)
    solvers = ["spectral"] * alphas.size
    for j in np.flatnonzero(condition > SPECTRAL_MAX_CONDITION):
        alpha = np.full(stats.n_targets, alphas[j])
        try:
            # Its AccuracyWarning (over the budget, no rows for an svd) passes on.
            result = solve_stats(stats, alpha, owner=owner, **options)
        except IncompatibleOptionsError:  # singular to working precision
            warnings.warn(
                f"{owner}: at alpha={alphas[j]!r} the system is singular to working "
                "precision and there are no rows for an 'svd' solve; the spectral "
                "coefficients are kept (condition_numbers says how far to trust them).",
                AccuracyWarning,
                stacklevel=user_stacklevel(),
            )
            continue
        coefs[j], intercepts[j] = result.coef, result.intercept
        solvers[j], certificates[j] = result.solver, result.certificate
    return _path(spectrum, alphas, coefs, intercepts, condition, solvers, certificates,
                 stats.single_target)  # fmt: skip


def _path(spectrum, alphas, coefs, intercepts, condition, solvers, certificates, single_target):
    """The :class:`RidgePath` of a spectrum's solutions (1-D targets for a 1-D y)."""
    if single_target:
        coefs, intercepts = coefs[:, 0], intercepts[:, 0]
    return RidgePath(
        alphas,
        coefs,
        intercepts,
        spectrum.effective_df(alphas),
        spectrum.form,
        condition_numbers=condition,
        solvers=tuple(solvers),
        certificates=tuple(certificates),
    )


ridge_path.__doc__ = ridge_path.__doc__.replace(
    "    {PENALTY_OPTIONS_DOC}\n", PENALTY_OPTIONS_DOC + "\n"
)


def _solve_like_ridge(
    X,
    Y,
    weights,
    alphas,
    stats,
    *,
    kernel=None,
    x_mean=None,
    owner,
    fit_intercept,
    penalize_intercept,
    penalty=None,
):
    """Solve at each of ``alphas`` with Ridge's solver.

    Returns one ``(coef (k, p), intercept (k,), solver, certificate)`` per
    alpha.

    Primal form: one problem per alpha, seeded with the statistics (one
    p x p Cholesky each), so each result is ``Ridge``'s bit for bit, from the
    largest alpha (best conditioned) down.  Once the solver falls back to
    ``svd`` at some alpha, every smaller alpha (worse conditioned: ``Ridge``
    would fall back there too) is solved by one joint ``svd`` problem, so the
    path pays for one SVD of the data, not one per alpha.

    Kernel form: one problem whose targets are the targets repeated for
    every alpha (``Problem.alpha`` is per target), carrying the spectrum's
    ``kernel`` (it depends on X and the weights only), so the kernel solver
    forms no kernel at all: one n x n Cholesky per alpha.
    """
    k = Y.shape[1]
    options = dict(
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
        single_target=False,
        owner=owner,
        penalty=penalty,
    )
    solved = [None] * alphas.size
    remaining = np.argsort(alphas)[::-1]
    if stats is not None:
        while remaining.size:
            index, remaining = remaining[0], remaining[1:]
            problem, name = ridge_problem(
                X, Y, weights, np.full(k, alphas[index]), stats=stats, **options
            )
            result = get_solver(name)().solve(problem)
            solved[index] = (result.coef, result.intercept, result.solver, result.certificate)
            if result.solver == "svd":
                break
    if not remaining.size:
        return solved
    # Kernel form, or the alphas below a fallback: one joint problem.
    tiled = np.tile(Y, (1, remaining.size))  # column a*k + t: target t at remaining[a]
    problem, name = ridge_problem(
        X,
        tiled,
        weights,
        np.repeat(alphas[remaining], k),
        kernel=kernel if stats is None else None,
        **options,
    )
    name = name if stats is None else "svd"
    result = get_solver(name)().solve(problem)
    coef = result.coef.reshape(remaining.size, k, -1)
    intercept = result.intercept.reshape(remaining.size, k)
    # The joint certificate mixes the alphas; each alpha gets its own.
    evaluate = (
        partial(_certificates_from_data, X, Y, weights, x_mean=x_mean)
        if stats is None
        else partial(_certificates_from_stats, stats)
    )
    certificates = evaluate(
        coef,
        intercept,
        alphas[remaining],
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
    )
    for a, index in enumerate(remaining):
        solved[index] = (coef[a], intercept[a], result.solver, certificates[a])
    return solved


def _rewarn(caught, owner, solvers) -> None:
    """One warning for the path's fallbacks; any other warning is passed on."""
    for record in caught:
        if not issubclass(record.category, SolverFallbackWarning):
            warnings.warn(record.message, record.category, stacklevel=user_stacklevel())
    count = sum(name == "svd" for name in solvers)
    if count:
        warnings.warn(
            f"{owner}: at {count} of {len(solvers)} alphas the normal equations were too "
            "ill-conditioned and the coefficients come from the backward-stable 'svd' "
            "solver, as Ridge's would; RidgePath.solvers says which.",
            SolverFallbackWarning,
            stacklevel=user_stacklevel(),
        )


def _tiled_stats(stats: GramStats, repeats: int) -> GramStats:
    """The statistics of ``(X, [Y] * repeats)``: every target repeated, in blocks."""
    return replace(
        stats,
        y_mean=np.tile(stats.y_mean, repeats),
        xy=np.tile(stats.xy, (1, repeats)),
        yy=np.tile(stats.yy, repeats),
    )


def _split_certificates(gradients, scales, alphas, k, computed_from) -> list[Certificate]:
    """One certificate per alpha from gradient blocks whose columns are (alpha, target)."""
    certificates = []
    for j in range(alphas.size):
        columns = slice(j * k, (j + 1) * k)
        blocks = [None if g is None else g[..., columns] for g in gradients]
        certificates.append(certificate_from_gradient(blocks, scales[columns], computed_from))
    return certificates


def _certificates_from_stats(stats, coefs, intercepts, alphas, **options) -> list[Certificate]:
    """Gradient certificates of every alpha from the statistics: one p x p product."""
    A, k, p = coefs.shape
    evaluation = evaluate_from_stats(
        _tiled_stats(stats, A),
        np.asarray(coefs, dtype=np.float64).reshape(A * k, p).T,
        np.asarray(intercepts, dtype=np.float64).reshape(A * k),
        np.repeat(alphas, k),
        **options,
    )
    return _split_certificates(
        [evaluation.gradient_coef, evaluation.gradient_intercept],
        evaluation.gradient_scale,
        alphas,
        k,
        "sufficient statistics",
    )


def _certificates_from_data(
    X, Y, weights, coefs, intercepts, alphas, *, fit_intercept, penalize_intercept, x_mean=None
) -> list[Certificate]:
    """Gradient certificates of every alpha from the data (kernel form: no statistics).

    With centered ``Xc``, ``yc`` and ``u = y_mean - x_mean.theta - b`` the
    gradient is ``-2 Xc^T W (yc - Xc theta) / W - 2 u x_mean + 2 alpha theta``
    (``-2 u (+ 2 alpha b)`` for the intercept), the terms measured as in
    :func:`l2reg.objective.problem.evaluate_from_stats`.  Two products of X
    with ``n_alphas * n_targets`` columns.
    """
    A, k, p = coefs.shape
    n = X.shape[0]
    w = np.ones(n) if weights is None else weights
    W = float(w.sum())
    theta = np.asarray(coefs, dtype=np.float64).reshape(A * k, p).T  # (p, A k)
    b = np.asarray(intercepts, dtype=np.float64).reshape(A * k)
    alpha = np.repeat(alphas, k)
    if x_mean is None:  # the spectrum's weighted means spare this pass over X
        x_mean = np.asarray(w @ X, dtype=np.float64) / W
    y_mean = w @ np.asarray(Y, dtype=np.float64) / W
    fitted = np.asarray(X @ theta.astype(X.dtype), dtype=np.float64)
    fitted -= x_mean @ theta  # Xc theta
    target = np.asarray(Y, dtype=np.float64) - y_mean  # yc
    columns = np.hstack([fitted, target]) * w[:, None]
    products = np.asarray(X.T @ columns.astype(X.dtype), dtype=np.float64)
    products -= np.outer(x_mean, columns.sum(axis=0))  # Xc^T W [Xc theta, yc]
    data_term, cross_term = products[:, : A * k], np.tile(products[:, A * k :], (1, A))
    u = np.tile(y_mean, A) - x_mean @ theta - b
    gradient = 2 * (data_term - cross_term) / W - 2 * np.outer(x_mean, u) + 2 * alpha * theta
    scale = (
        2 * (np.linalg.norm(data_term, axis=0) + np.linalg.norm(cross_term, axis=0)) / W
        + 2 * np.abs(u) * np.linalg.norm(x_mean)
        + 2 * alpha * np.linalg.norm(theta, axis=0)
    )
    gradient_intercept = None
    if fit_intercept:
        gradient_intercept = -2 * u + (2 * alpha * b if penalize_intercept else 0.0)
        scale = scale + 2 * np.abs(u) + (2 * alpha * np.abs(b) if penalize_intercept else 0.0)
    return _split_certificates([gradient, gradient_intercept], scale, alphas, k, "data")
