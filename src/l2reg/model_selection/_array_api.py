"""Array-API inputs of RidgeCV and ridge_path (see docs/array_api.md).

With ``sklearn.set_config(array_api_dispatch=True)`` and a non-NumPy X,
``RidgeCV`` and ``ridge_path`` return their arrays in X's namespace and on its
device.  Their selection machinery (:mod:`l2reg.model_selection._spectral`:
one eigendecomposition serving every alpha, the accuracy guard of the path,
k-fold from per-fold statistics) runs on the host: the inputs are copied to
NumPy once and the results moved back.  This is correct for every namespace
but not on-device computation; ``Ridge`` computes on the device
(:mod:`l2reg.solvers.array_api`).
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import sklearn

from l2reg.linear_model._array_api import dispatch_namespace, to_namespace, to_numpy

__all__ = ["dispatch_namespace", "host_inputs", "fit_on_host", "path_on_host"]


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
