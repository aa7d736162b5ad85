"""scikit-learn's array-API convention for l2reg's estimators: when to dispatch, and conversions.

``sklearn.set_config(array_api_dispatch=True)`` switches it on, as for
scikit-learn's own estimators, so that a pipeline mixing both behaves as one.
With dispatch on, a non-NumPy X (PyTorch, CuPy, array-api-strict, ...) is fitted
on its namespace and device by :mod:`l2reg.solvers.array_api`; y and the
sample weights are moved to X's namespace and device (scikit-learn's rule for
mixed inputs).  NumPy X, or dispatch off, takes the NumPy path unchanged.
"""

from __future__ import annotations

import numpy as np
import sklearn

__all__ = [
    "dispatch_namespace",
    "check_same_namespace",
    "to_numpy",
    "to_namespace",
    "float_dtypes",
    "fit_ridge",
    "host_target_and_weights",
    "store_fit",
]


def dispatch_namespace(X):
    """``(xp, device)`` of X when array-API dispatch is on and X is not NumPy, else None."""
    if not sklearn.get_config().get("array_api_dispatch", False):
        return None
    if isinstance(X, np.ndarray) or not hasattr(X, "__array_namespace__") and not _is_known(X):
        return None
    import array_api_compat

    xp = array_api_compat.array_namespace(X)
    if array_api_compat.is_numpy_namespace(xp):
        return None
    return xp, array_api_compat.device(X)


def check_same_namespace(estimator, X, method: str) -> None:
    """With dispatch on, X must share the namespace and device of the fitted ``coef_``.

    scikit-learn's rule (its ``check_array_api_same_namespace``): an estimator
    fitted on one namespace refuses another at predict time rather than
    silently moving data between devices.
    """
    if not sklearn.get_config().get("array_api_dispatch", False):
        return
    import array_api_compat

    fitted = estimator.coef_
    fitted_xp, X_xp = array_api_compat.array_namespace(fitted), array_api_compat.array_namespace(X)
    same = fitted_xp is X_xp and array_api_compat.device(fitted) == array_api_compat.device(X)
    if not same:
        name = type(estimator).__name__
        raise ValueError(
            f"{name}.{method}(): X must use the same namespace and device as the fitted "
            f"attributes ({fitted_xp.__name__} on {array_api_compat.device(fitted)}); got "
            f"{X_xp.__name__} on {array_api_compat.device(X)}. Convert X, or refit on it."
        )


def _is_known(X) -> bool:
    """PyTorch and CuPy arrays (array_api_compat wraps their namespaces)."""
    import array_api_compat

    return array_api_compat.is_torch_array(X) or array_api_compat.is_cupy_array(X)


def to_numpy(array):
    """A host NumPy copy of any array (NumPy, array-API, list), for the small inputs."""
    if array is None or isinstance(array, np.ndarray):
        return array
    import array_api_compat

    if array_api_compat.is_torch_array(array):
        return array.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(array):
        return array.get()
    if hasattr(array, "__dlpack__"):
        return np.from_dlpack(array)
    return np.asarray(array)


def to_namespace(array, xp, device, dtype=None):
    """``array`` (NumPy or any namespace) as an ``xp`` array on ``device`` (no copy
    when it already is one, of that dtype)."""
    if array is None:
        return None
    import array_api_compat

    try:
        same = array_api_compat.array_namespace(array) is xp
    except TypeError:  # a list or a scalar
        same = False
    if same and array_api_compat.device(array) == device:
        return array if dtype is None else xp.astype(array, dtype, copy=False)
    return xp.asarray(to_numpy(array), dtype=dtype, device=device)


def host_target_and_weights(owner: str, y, sample_weight, n_samples: int):
    """``(Y, weights, single_target)``: y as 2-D float64 and the weights, validated on the host.

    y and the weights are small next to X: they are checked as NumPy arrays
    (the NumPy path's rules and messages) and moved to X's device by the caller.
    """
    from l2reg._validation import check_sample_weight, check_target

    Y = check_target(owner, to_numpy(y), n_samples, np.float64)
    single_target = Y.ndim == 1
    Y = Y[:, None] if single_target else Y
    weights = None
    if sample_weight is not None:
        weights = check_sample_weight(owner, to_numpy(sample_weight), n_samples, np.float64)
    return Y, weights, single_target


def fit_ridge(estimator, X, y, sample_weight, xp, device):
    """``Ridge.fit`` on X's namespace and device; see :mod:`l2reg.solvers.array_api`."""
    from sklearn.utils.validation import validate_data

    from l2reg.solvers import registered_solvers  # noqa: F401 -- registers the solvers
    from l2reg.solvers._registry import resolve_solver
    from l2reg.solvers.array_api import ridge_fit

    owner = type(estimator).__name__
    X = validate_data(
        estimator,
        X,
        reset=True,
        accept_sparse=False,
        dtype=float_dtypes(xp),
        ensure_min_samples=1,
        ensure_min_features=1,
    )
    n = X.shape[0]
    Y, weights, single_target = host_target_and_weights(owner, y, sample_weight, n)
    alpha = estimator._check_params(Y.shape[1])
    name = resolve_solver(
        estimator.solver,
        owner=owner,
        loss="squared",
        n_samples=n,
        n_features=X.shape[1],
        alpha=alpha,
        penalize_intercept=estimator.penalize_intercept,
        multi_target=Y.shape[1] > 1,
    )
    fit = ridge_fit(
        X,
        to_namespace(Y, xp, device, X.dtype),
        to_namespace(weights, xp, device, X.dtype),
        alpha,
        fit_intercept=estimator.fit_intercept,
        penalize_intercept=estimator.penalize_intercept,
        solver=name,
        owner=owner,
        precision=getattr(estimator, "precision", "double"),
    )
    store_fit(estimator, fit, single_target)
    return estimator


def store_fit(estimator, fit, single_target: bool) -> None:
    """An :class:`~l2reg.solvers.array_api.ArrayFit` as fitted attributes, in its namespace."""
    if single_target:
        estimator.coef_ = fit.coef[0, :]
        estimator.intercept_ = float(fit.intercept[0])
    else:
        estimator.coef_ = fit.coef
        estimator.intercept_ = fit.intercept
    estimator.solver_ = fit.solver
    estimator.certificate_ = fit.certificate
    # Mixed precision reports its refinement passes ("3 passes"), as on NumPy.
    estimator.n_iter_ = int(fit.message.split()[0]) if fit.message.endswith("passes") else None


def float_dtypes(xp):
    """The dtypes validation accepts, in the namespace's own objects."""
    return [xp.float64, xp.float32]
