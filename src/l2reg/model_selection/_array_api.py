"""Array-API inputs of RidgeCV and ridge_path (see docs/array_api.md).

With ``sklearn.set_config(array_api_dispatch=True)`` and a non-NumPy X,
``RidgeCV`` and ``ridge_path`` return their arrays in X's namespace and on its
device, by one of two routes:

device route (:func:`fit_ridge_cv_on_device`, :func:`path_on_device`)
    Plain ridge with an eigendecomposition criterion: ``RidgeCV`` with
    ``cv=None`` (exact leave-one-out), ``"gcv"`` or ``"evidence"`` and the
    squared error, and ``ridge_path`` from rows.  The decomposition, every
    alpha's criterion, the path's coefficients and certificates, and the
    refits run on X's device (:mod:`l2reg.model_selection._spectral_xp`,
    :mod:`l2reg.solvers.array_api`).
host route (:func:`fit_on_host`, :func:`path_on_host`)
    Everything else (k-fold ``cv``, a scorer, the penalty options,
    ``feature_groups``, ``ridge_path(stats=...)``): the inputs are copied to
    NumPy once, the NumPy machinery runs, and the fitted arrays are moved
    back.  These options rest on host-only machinery (fold statistics by
    group, scikit-learn scorers on predictions, the generalized penalties'
    standard form), so the copy is what they cost.
"""

from __future__ import annotations

import warnings
from dataclasses import fields, replace

import numpy as np
import sklearn

from l2reg.linear_model._array_api import (
    dispatch_namespace,
    float_dtypes,
    host_target_and_weights,
    store_fit,
    to_namespace,
    to_numpy,
)

__all__ = [
    "dispatch_namespace",
    "host_inputs",
    "fit_on_host",
    "path_on_host",
    "fit_ridge_cv_array_api",
    "ridge_path_array_api",
    "fit_ridge_cv_on_device",
    "path_on_device",
]

_PENALTY_OPTIONS = ("penalty_factor", "penalty_matrix", "prior_mean")


def host_inputs(arguments: dict) -> dict:
    """The arguments with X, y and sample_weight as NumPy copies."""
    converted = dict(arguments)
    for name in ("X", "y", "sample_weight"):
        converted[name] = to_numpy(arguments.get(name))
    return converted


def fit_on_host(fit, arguments: dict, xp, device):
    """``fit(**arguments)`` on NumPy copies with dispatch off; fitted arrays moved to ``xp``.

    ``cv_results_`` (a dict of NumPy arrays, like scikit-learn's) stays on the host.
    """
    with sklearn.config_context(array_api_dispatch=False):
        estimator = fit(**host_inputs(arguments))
    for name, value in list(vars(estimator).items()):
        if name.endswith("_") and isinstance(value, np.ndarray):
            setattr(estimator, name, to_namespace(value, xp, device))
    return estimator


def path_on_host(ridge_path, arguments: dict, xp, device):
    """``ridge_path(**arguments)`` on NumPy copies; the path's arrays moved to ``xp``."""
    with sklearn.config_context(array_api_dispatch=False):
        path = ridge_path(**host_inputs(arguments))
    changes = {
        field.name: to_namespace(getattr(path, field.name), xp, device)
        for field in fields(path)
        if isinstance(getattr(path, field.name), np.ndarray)
    }
    return replace(path, **changes)


def _has_penalty_options(options: dict) -> bool:
    return bool(options.get("standardize")) or any(
        options.get(name) is not None for name in _PENALTY_OPTIONS
    )


# --- RidgeCV ----------------------------------------------------------------------


def fit_ridge_cv_array_api(estimator, arguments: dict, xp, device):
    """``RidgeCV.fit`` of an array-API X: the device route where it applies, else the host's."""
    scorer = estimator._check_params()
    kfold = not (estimator.cv is None or isinstance(estimator.cv, str))
    host = (
        kfold
        or scorer is not None
        or estimator.feature_groups is not None
        or _has_penalty_options(estimator.get_params())
    )
    if host:
        return fit_on_host(estimator.fit, arguments, xp, device)
    options = {name: arguments[name] for name in ("X", "y", "sample_weight")}
    return fit_ridge_cv_on_device(estimator, **options, xp=xp, device=device)


def _validated(owner, X, y, sample_weight, xp, device, validate_X):
    """X validated in its namespace; y and the weights on the host, then moved to X's device.

    y and the weights are small next to X (``Ridge``'s rule, see
    :func:`l2reg.linear_model._array_api.fit_ridge`).  X is not checked for
    NaN here: a non-finite value shows on the Gram (kernel) diagonal.
    """
    X = validate_X(X)
    Y, weights, single_target = host_target_and_weights(owner, y, sample_weight, X.shape[0])
    return X, Y, weights, single_target


def _refit_solver(owner, X, alpha, penalize_intercept, n_targets):
    """The solver ``Ridge(solver="auto")`` runs on X (the NumPy path's rule)."""
    from l2reg.solvers import registered_solvers  # noqa: F401 -- registers the solvers
    from l2reg.solvers._registry import resolve_solver

    return resolve_solver(
        "auto",
        owner=owner,
        loss="squared",
        n_samples=X.shape[0],
        n_features=X.shape[1],
        alpha=alpha,
        penalize_intercept=penalize_intercept,
        multi_target=n_targets > 1,
    )


def fit_ridge_cv_on_device(estimator, X, y, sample_weight, *, xp, device):
    """``RidgeCV.fit`` with LOO, GCV or evidence, computed on X's namespace and device.

    The steps of the NumPy ``fit`` (:mod:`l2reg.model_selection._cv`), each
    on the device: one decomposition (:func:`device_spectrum`), every alpha's
    criterion, then the refit at the chosen alpha(s) by the device ``Ridge``
    solver, from the Gram statistics or the kernel the decomposition already
    formed.  Only the ``n_alphas x n_targets`` criteria come to the host,
    where ``RidgeCV`` chooses among them as it does for NumPy (``"min"`` or
    ``"1se"``, per target or shared), and ``cv_results_`` keeps them.

    ``coef_`` and ``intercept_`` (several targets), ``alpha_`` and
    ``best_score_`` (per target) are arrays in X's namespace and device.
    """
    from sklearn.utils.validation import validate_data

    from l2reg.linear_model._base import forget_statistics
    from l2reg.model_selection._path import check_alpha_grid
    from l2reg.model_selection._spectral import default_alphas
    from l2reg.model_selection._spectral_xp import device_spectrum
    from l2reg.solvers.array_api import ridge_fit, work_dtype

    owner = type(estimator).__name__

    def validate_X(X):
        return validate_data(
            estimator, X, reset=True, accept_sparse=False, dtype=float_dtypes(xp),
            ensure_all_finite=False, ensure_min_samples=1, ensure_min_features=1,
        )  # fmt: skip

    X, Y, weights, single_target = _validated(owner, X, y, sample_weight, xp, device, validate_X)
    for stale in ("group_alphas_", "feature_groups_", "group_cv_results_"):
        estimator.__dict__.pop(stale, None)  # of an earlier fit with feature_groups
    n = X.shape[0]
    estimator._check_sample_count(n, n if weights is None else int(np.count_nonzero(weights > 0)))
    Y_xp = to_namespace(Y, xp, device, X.dtype)
    w_xp = to_namespace(weights, xp, device, X.dtype)
    options = dict(
        fit_intercept=estimator.fit_intercept, penalize_intercept=estimator.penalize_intercept
    )
    spectrum = device_spectrum(X, Y_xp, w_xp, **options, owner=owner)
    if estimator.alphas is not None:
        alphas = check_alpha_grid(owner, estimator.alphas)
    else:
        alphas = default_alphas(spectrum)  # from the host copy of the eigenvalues
    lam = spectrum.penalties(alphas)
    k = Y.shape[1]
    per_target = estimator.alpha_per_target and k > 1
    results = {"alphas": alphas, "effective_df": to_numpy(spectrum.effective_df(lam))}
    if estimator.cv is None:
        loo = spectrum.leave_one_out(lam)
        criterion = (
            loo.mean_error_targets,
            loo.std_error_targets,
            (loo.mean_error, loo.std_error),
        )
    elif estimator.cv == "gcv":
        criterion = estimator._closed_form(to_numpy(spectrum.gcv(lam)))
    else:  # "evidence"
        log_evidence = to_numpy(spectrum.log_evidence(lam))
        criterion = estimator._closed_form(-log_evidence)
        results["log_evidence"] = log_evidence if per_target else log_evidence.mean(axis=1)
    alpha, best = estimator._choose(alphas, criterion, k, results)

    # The chosen model is the device Ridge(alpha_)'s fit (solver_, certificate_ and
    # fallback included), from what the decomposition formed: no pass over X.
    solver = _refit_solver(owner, X, alpha, estimator.penalize_intercept, k)
    fit = ridge_fit(
        X, Y_xp, w_xp, alpha, **options, solver=solver, owner=owner, prepared=spectrum.prepared
    )
    forget_statistics(estimator)
    store_fit(estimator, fit, single_target)
    estimator._store_choice(alpha, best, results, per_target)
    if per_target:
        dtype = work_dtype(xp, device)
        estimator.alpha_ = to_namespace(estimator.alpha_, xp, device, dtype)
        estimator.best_score_ = to_namespace(estimator.best_score_, xp, device, dtype)
    return estimator


# --- ridge_path --------------------------------------------------------------------


def ridge_path_array_api(ridge_path, arguments: dict, xp, device):
    """``ridge_path`` of an array-API X: the device route where it applies, else the host's."""
    if arguments.get("stats") is not None or _has_penalty_options(arguments):
        return path_on_host(ridge_path, arguments, xp, device)
    names = ("X", "y", "alphas", "fit_intercept", "penalize_intercept", "sample_weight")
    return path_on_device(
        **{name: arguments[name] for name in names},
        n_alphas=arguments["n_alphas"],
        xp=xp,
        device=device,
    )


def path_on_device(
    X, y, alphas, *, fit_intercept, penalize_intercept, sample_weight, n_alphas, xp, device
):
    """:func:`~l2reg.model_selection.ridge_path` computed on X's namespace and device.

    The NumPy path's steps (:mod:`l2reg.model_selection._path`), on the
    device: the spectral coefficients and certificates of every alpha from one
    decomposition; the condition numbers from the host copy of the r
    eigenvalues (the guard's rule, :func:`spectral_condition`); and each alpha
    the guard flags re-solved by the device ``Ridge`` solver from the
    statistics or kernel already formed.  Unlike the NumPy path, each
    flagged alpha is its own device solve (``solvers`` names what ran there),
    and the device solver has no condition estimate: it falls back to
    ``svd`` only on a singular system (docs/array_api.md).

    Every array of the returned :class:`RidgePath` is in X's namespace and
    on its device (``coefs`` and ``intercepts`` in X's dtype; ``alphas``,
    ``effective_df`` and ``condition_numbers`` in float64 where the device
    has it).
    """
    from sklearn.utils.validation import check_array

    from l2reg.model_selection._path import (
        SPECTRAL_MAX_CONDITION,
        RidgePath,
        _rewarn,
        check_alpha_grid,
        spectral_condition,
    )
    from l2reg.model_selection._spectral import default_alphas
    from l2reg.model_selection._spectral_xp import device_spectrum
    from l2reg.solvers.array_api import ridge_fit, work_dtype

    owner = "ridge_path"

    def validate_X(X):
        return check_array(X, accept_sparse=False, dtype=float_dtypes(xp), ensure_all_finite=False)

    X, Y, weights, single_target = _validated(owner, X, y, sample_weight, xp, device, validate_X)
    Y_xp = to_namespace(Y, xp, device, X.dtype)
    w_xp = to_namespace(weights, xp, device, X.dtype)
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    spectrum = device_spectrum(X, Y_xp, w_xp, **options, owner=owner)
    if alphas is None:
        alphas = default_alphas(spectrum, int(n_alphas))
    alphas = check_alpha_grid(owner, alphas)
    lam = spectrum.penalties(alphas)
    theta = spectrum.design_coefficients(lam)
    certificates = spectrum.certificates(theta, alphas)
    coefs, intercepts = spectrum.split(theta, alphas.size)  # (A, k, p), (A, k)
    coefs, intercepts = xp.astype(coefs, X.dtype), xp.astype(intercepts, X.dtype)
    eigenvalues = spectrum.host_eigenvalues
    if spectrum.form == "kernel" and spectrum.intercept == "centered":
        # The centered kernel's zero eigenvalue costs no accuracy (see _path).
        eigenvalues = eigenvalues[:-1]
    condition = spectral_condition(eigenvalues, spectrum.weight_sum * alphas)
    solvers = ["spectral"] * alphas.size
    redo = np.flatnonzero(condition > SPECTRAL_MAX_CONDITION)
    if redo.size:
        k = Y.shape[1]
        solver = _refit_solver(owner, X, np.full(k, alphas[0]), penalize_intercept, k)
        coef_rows = [coefs[j, ...] for j in range(alphas.size)]
        intercept_rows = [intercepts[j, ...] for j in range(alphas.size)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for j in redo:
                fit = ridge_fit(
                    X, Y_xp, w_xp, np.full(k, alphas[j]), **options, solver=solver,
                    owner=owner, prepared=spectrum.prepared,
                )  # fmt: skip
                coef_rows[j], intercept_rows[j] = fit.coef, fit.intercept
                solvers[j], certificates[j] = fit.solver, fit.certificate
        coefs, intercepts = xp.stack(coef_rows), xp.stack(intercept_rows)
        _rewarn(caught, owner, solvers)
    if single_target:
        coefs, intercepts = coefs[:, 0, :], intercepts[:, 0]
    work = work_dtype(xp, device)
    return RidgePath(
        to_namespace(alphas, xp, device, work),
        coefs,
        intercepts,
        spectrum.effective_df(lam),
        spectrum.form,
        condition_numbers=to_namespace(condition, xp, device, work),
        solvers=tuple(solvers),
        certificates=tuple(certificates),
    )
