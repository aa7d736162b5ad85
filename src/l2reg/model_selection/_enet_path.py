"""Elastic-net regularization paths: ``elastic_net_path`` and ``ElasticNetPath``."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

from l2reg._validation import check_sample_weight, check_target
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._elastic_net import check_penalty_factor
from l2reg.model_selection._path import check_alpha_grid
from l2reg.objective.enet_problem import ElasticNetProblem
from l2reg.objective.penalties import ElasticNet as ElasticNetPenalty
from l2reg.solvers._result import Certificate
from l2reg.solvers.enet_path import alpha_max, path_mode, solve_enet_path

__all__ = [
    "ElasticNetPath",
    "elastic_net_path",
    "check_l1_ratios",
    "check_enet_data",
    "geometric_grid",
    "path_from_results",
]


def check_l1_ratios(owner: str, l1_ratio) -> tuple[np.ndarray, bool]:
    """``l1_ratio`` as a 1-D array of values in [0, 1], and whether it was a list."""
    single = isinstance(l1_ratio, numbers.Real) and not isinstance(l1_ratio, bool)
    values = [l1_ratio] if single else l1_ratio
    if isinstance(values, str | bytes | bool) or not hasattr(values, "__iter__"):
        raise InvalidParameterError(
            f"{owner}: 'l1_ratio' must be a number in [0, 1] or a list of them; got {l1_ratio!r}."
        )
    values = list(values)
    if not values:
        raise InvalidParameterError(f"{owner}: 'l1_ratio' is an empty list; give at least one.")
    for index, value in enumerate(values):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not 0.0 <= float(value) <= 1.0
        ):
            where = "" if single else f" (entry {index})"
            raise InvalidParameterError(
                f"{owner}: 'l1_ratio' must lie in [0, 1]; got {value!r}{where}. 0 is ridge "
                "(l2reg.Ridge), 1 the lasso."
            )
    return np.asarray(values, dtype=np.float64), not single


def check_enet_data(owner: str, X, y, sample_weight, *, positive: bool = False):
    """Validated ``(X, y, sample_weight)`` of an elastic-net fit.

    X: float64, dense or canonical CSC (never densified), finite (a sparse X's
    stored NaN is refused too); y: one finite target; weights: None or
    finite, non-negative, positive sum.
    """
    X = check_array(
        X,
        accept_sparse="csc",
        dtype=np.float64,
        ensure_all_finite=True,
        ensure_min_samples=1,
        input_name="X",
    )
    if sp.issparse(X) and not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # the kernels read each stored entry once
    Y = check_target(owner, y, X.shape[0], np.float64)
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim == 2:
        extra = (
            " positive=True is defined for one target only (the shared support of several "
            "targets has no sign)."
            if positive
            else ""
        )
        raise IncompatibleOptionsError(
            f"{owner}: y has {Y.shape[1]} targets; the elastic net here fits one target.{extra} "
            "Fit one model per column of y."
        )
    if sample_weight is not None:
        sample_weight = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
    return X, Y, sample_weight


def geometric_grid(top: float, n_alphas: int, eps: float) -> np.ndarray:
    """``n_alphas`` values from ``top`` down to ``eps * top``, evenly spaced in log scale.

    scikit-learn's and glmnet's grid.  A ``top`` of 0 (nothing correlates
    with y: every coefficient is 0 at every alpha) is replaced by the
    smallest float64 resolution, as scikit-learn does, so the grid stays positive.
    """
    top = top if top > 0 else float(np.finfo(np.float64).resolution)
    return np.geomspace(top, top * eps, num=n_alphas) if n_alphas > 1 else np.array([top])


def _check_grid_options(owner: str, n_alphas, eps) -> None:
    if isinstance(n_alphas, bool) or not isinstance(n_alphas, numbers.Integral) or n_alphas < 1:
        raise InvalidParameterError(
            f"{owner}: 'n_alphas' must be an integer >= 1; got {n_alphas!r}."
        )
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not (0 < eps < 1):
        raise InvalidParameterError(
            f"{owner}: 'eps' (smallest alpha / largest) must lie in (0, 1); got {eps!r}."
        )


@dataclass(frozen=True)
class ElasticNetPath:
    """Elastic-net solutions along a grid of alphas (one ``l1_ratio``).

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
        In the order given (the automatic grid decreases).
    coefs : ndarray of shape (n_alphas, n_features)
    intercepts : ndarray of shape (n_alphas,)
    duality_gaps : ndarray of shape (n_alphas,)
        The duality gap at each solution: each is at most
        ``tol * sum_i w_i (y_i - ybar)^2 / sum(w)`` unless a
        ConvergenceWarning said otherwise.
    n_nonzero : ndarray of int of shape (n_alphas,)
        Nonzero coefficients at each alpha.
    n_iter : ndarray of int of shape (n_alphas,)
        Coordinate-descent epochs at each alpha.
    l1_ratio : float
    alpha_max : float
        The smallest alpha at which every penalized coefficient is 0 (for
        ``l1_ratio < 1e-3`` it is computed with ``l1_ratio = 1e-3``, glmnet's
        rule; without an L1 part no alpha gives zeros).
    mode : {"gram", "residual"}
        The coordinate-descent updates used (see :mod:`l2reg.solvers.coordinate`).
    certificates : tuple of Certificate
        Each solution's certificate, as ``ElasticNet.certificate_``.
    """

    alphas: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    duality_gaps: np.ndarray
    n_nonzero: np.ndarray
    n_iter: np.ndarray
    l1_ratio: float
    alpha_max: float
    mode: str
    certificates: tuple[Certificate, ...] = ()


def path_from_results(results, alphas, l1_ratio, top, mode) -> ElasticNetPath:
    """Collect the solver results of a path into an :class:`ElasticNetPath`."""
    coefs = np.array([result.coef[0] for result in results]).reshape(len(results), -1)
    return ElasticNetPath(
        alphas=np.asarray(alphas, dtype=np.float64),
        coefs=coefs,
        intercepts=np.array([float(result.intercept[0]) for result in results]),
        duality_gaps=np.array([result.certificate.duality_gap for result in results]),
        n_nonzero=np.count_nonzero(coefs, axis=1),
        n_iter=np.array([result.n_iter for result in results], dtype=np.int64),
        l1_ratio=float(l1_ratio),
        alpha_max=float(top),
        mode=mode,
        certificates=tuple(result.certificate for result in results),
    )


def elastic_net_path(
    X,
    y,
    *,
    l1_ratio=0.5,
    alphas=None,
    n_alphas=100,
    eps=1e-3,
    sample_weight=None,
    fit_intercept=True,
    penalty_factor=None,
    positive=False,
    tol=1e-8,
    max_iter=None,
    mode="auto",
) -> ElasticNetPath:
    r"""Elastic-net coefficients along a grid of alphas, by warm-started coordinate descent.

    Solves, for each alpha in the grid, what :class:`l2reg.ElasticNet` solves:

    .. math::

        \min_{\theta, b} \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{2 \sum_i w_i}
            + \alpha\, \rho \sum_j f_j \lvert\theta_j\rvert
            + \frac{\alpha}{2} (1 - \rho) \sum_j f_j \theta_j^2

    (``rho = l1_ratio``, ``f = penalty_factor``): glmnet's and scikit-learn's
    form, half of l2reg's ridge form, so ``alpha`` and ``l1_ratio`` are
    scikit-learn's ``enet_path`` numbers.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Sparse X is used as CSC and never densified.
    y : array-like of shape (n_samples,)
    l1_ratio : float, default=0.5
        In ``[0, 1]``.
    alphas : array-like of shape (n_alphas,), default=None
        Strictly positive alphas, solved from the largest down and returned in
        the order given.  None: ``n_alphas`` values from ``alpha_max`` down to
        ``eps * alpha_max``, evenly spaced in log scale (scikit-learn's and
        glmnet's grid).
    n_alphas : int, default=100
        Size of the automatic grid.
    eps : float, default=1e-3
        Smallest over largest alpha of the automatic grid.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative; only their ratios matter.
    fit_intercept : bool, default=True
    penalty_factor : array-like of shape (n_features,), default=None
        As :class:`l2reg.ElasticNet`'s (used as given, not rescaled).
    positive : bool, default=False
    tol : float, default=1e-8
        Per alpha, stop when the duality gap is at most
        ``tol * sum_i w_i (y_i - ybar)^2 / sum(w)`` (ElasticNet's rule).
    max_iter : int, default=None
        Most epochs per alpha (None: 10,000).
    mode : {"auto", "gram", "residual"}, default="auto"
        Covariance updates from one pass over X (``n_samples >= n_features``,
        at most 4,096 features) or residual updates; see
        :mod:`l2reg.solvers.coordinate`.

    Returns
    -------
    ElasticNetPath

    Warns
    -----
    ConvergenceWarning
        Once, when some alphas did not reach ``tol``.

    Notes
    -----
    ``alpha_max``, the top of the automatic grid, is exact: the smallest
    alpha at which zero (with the unpenalized features and the intercept
    fitted) satisfies the optimality conditions,
    ``max_j |x_{c,j}^T V r_0| / (l1_ratio * f_j)`` with ``V`` the normalized
    weights and ``r_0`` the residual of that null fit.  For ``l1_ratio <
    1e-3`` it is computed with ``l1_ratio = 1e-3`` (glmnet's rule): without
    an L1 part no finite alpha gives zeros.

    In Gram mode the statistics are computed once for the whole path (one
    pass over X); each alpha then costs coordinate descent on the p x p Gram
    matrix only.  Each alpha is warm-started from the previous one, with
    sequential gap-safe screening and working sets
    (:mod:`l2reg.solvers.enet_path`).

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import elastic_net_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4))
    >>> y = X @ [1.0, 0.0, -2.0, 0.0] + 0.1 * rng.normal(size=50)
    >>> path = elastic_net_path(X, y, n_alphas=20)
    >>> path.coefs.shape
    (20, 4)
    >>> int(path.n_nonzero[0])  # alphas[0] is alpha_max: every coefficient is 0
    0
    >>> bool(path.coefs[-1, 0] > 0.9 and path.coefs[-1, 2] < -1.8)
    True
    """
    owner = "elastic_net_path"
    ratios, is_list = check_l1_ratios(owner, l1_ratio)
    if is_list:
        raise InvalidParameterError(
            f"{owner}: 'l1_ratio' must be one number in [0, 1]; got {l1_ratio!r}. "
            "Call the function once per value (or use l2reg.ElasticNetCV for a list)."
        )
    for name, value in (("fit_intercept", fit_intercept), ("positive", positive)):
        if not isinstance(value, bool):
            raise InvalidParameterError(f"{owner}: '{name}' must be a bool; got {value!r}.")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0:
        raise InvalidParameterError(f"{owner}: 'tol' must be > 0; got {tol!r}.")
    if mode not in ("auto", "gram", "residual"):
        raise InvalidParameterError(
            f"{owner}: 'mode' must be 'auto', 'gram' or 'residual'; got {mode!r}."
        )
    X, y, sample_weight = check_enet_data(owner, X, y, sample_weight, positive=positive)
    factors = check_penalty_factor(owner, penalty_factor, X.shape[1])
    if alphas is None:
        _check_grid_options(owner, n_alphas, eps)
    else:
        alphas = check_alpha_grid(owner, alphas)
    problem = ElasticNetProblem(
        X=X,
        y=y,
        sample_weight=sample_weight,
        penalty=ElasticNetPenalty(1.0, float(ratios[0]), factors, positive),
        fit_intercept=fit_intercept,
        owner=owner,
    )
    mode = path_mode(problem, mode)
    top = alpha_max(problem, mode)
    if alphas is None:
        alphas = geometric_grid(top, int(n_alphas), float(eps))
    results = solve_enet_path(problem, alphas, tol=tol, max_iter=max_iter, mode=mode)
    return path_from_results(results, alphas, ratios[0], top, mode)
