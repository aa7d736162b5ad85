"""Array-API inputs (sklearn.set_config(array_api_dispatch=True)): the same fits as NumPy.

Every result is compared with the NumPy path's on the same data (an
independent implementation: SciPy BLAS/LAPACK there, the namespace's own
linear algebra here), to the tolerance of the dtype, on array-api-strict
(a minimal, strict namespace with two devices) and PyTorch CPU.  RidgeCV and
ridge_path on the device: tests/test_array_api_selection.py.
"""

import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose

from l2reg import Ridge, RidgeCV, SolverFallbackWarning

xs = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")
torch = pytest.importorskip("torch")

#: The two implementations of a float64 direct solve on well-conditioned data
#: (cond <= 1e3): each is accurate to ~1e-13.
FLOAT64 = 1e-10
#: float32 data: the device accumulates the Gram in float32 (eps 6e-8) and the
#: NumPy path rounds its statistics to float32 too; cond <= 1e3 here.
FLOAT32 = 1e-4


def _strict(a):
    return xs.asarray(a)


def _strict_other_device(a):
    return xs.asarray(a, device=xs.Device("device1"))


def _torch(a):
    return torch.asarray(a)


NAMESPACES = {"strict": _strict, "strict-device1": _strict_other_device, "torch": _torch}


def _host(a):
    if isinstance(a, float | np.ndarray):
        return np.asarray(a)
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.from_dlpack(xs.asarray(a, device=xs.Device("CPU_DEVICE")))


def _same_place(result, like):
    """Same namespace (module) and device as ``like``."""
    import array_api_compat

    assert array_api_compat.array_namespace(result) is array_api_compat.array_namespace(like)
    assert array_api_compat.device(result) == array_api_compat.device(like)


def _data(rng, n, p, k=None, dtype=np.float64):
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p) + rng.uniform(-3, 3, p)
    y = X @ rng.standard_normal(p if k is None else (p, k))
    y += rng.standard_normal(y.shape)
    return X.astype(dtype), y.astype(dtype), rng.uniform(0.2, 2.0, n).astype(dtype)


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "options, shape",
    [
        ({}, (80, 6)),
        ({"alpha": 0.0}, (80, 6)),
        ({"penalize_intercept": True}, (80, 6)),
        ({"fit_intercept": False, "solver": "svd"}, (80, 6)),
        ({}, (12, 30)),  # p > n: the kernel form
        ({"alpha": [0.01, 1.0]}, (80, 6)),
    ],
    ids=["cholesky", "alpha0-svd", "penalized", "svd-no-intercept", "kernel", "per-target"],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_matches_numpy(rng, namespace, dtype, options, shape, weighted):
    convert = NAMESPACES[namespace]
    targets = 2 if isinstance(options.get("alpha"), list) else None
    X, y, w = _data(rng, *shape, k=targets, dtype=dtype)
    weights = w if weighted else None
    reference = Ridge(**options).fit(X, y, sample_weight=weights)
    X_xp = convert(X)
    with sklearn.config_context(array_api_dispatch=True):
        model = Ridge(**options).fit(
            X_xp, convert(y), sample_weight=None if weights is None else convert(weights)
        )
        prediction = model.predict(X_xp)
    _same_place(model.coef_, X_xp)
    _same_place(prediction, X_xp)
    assert model.coef_.dtype == X_xp.dtype and prediction.dtype == X_xp.dtype
    assert model.solver_ == reference.solver_
    tolerance = FLOAT64 if dtype == np.float64 else FLOAT32
    scale = np.abs(reference.coef_).max()
    assert_allclose(_host(model.coef_), reference.coef_, rtol=tolerance, atol=tolerance * scale)
    assert_allclose(
        _host(model.intercept_), reference.intercept_, rtol=tolerance, atol=tolerance * scale
    )
    assert_allclose(
        _host(prediction), reference.predict(X), rtol=tolerance, atol=tolerance * np.abs(y).max()
    )
    assert model.certificate_.relative_gradient_norm <= (1e-12 if dtype == np.float64 else 1e-5)


def test_mixed_inputs_follow_x(rng):
    """scikit-learn's rule: y and the weights move to X's namespace and device."""
    X, y, w = _data(rng, 50, 4)
    with sklearn.config_context(array_api_dispatch=True):
        model = Ridge().fit(torch.asarray(X), y, sample_weight=xs.asarray(w))
    assert isinstance(model.coef_, torch.Tensor)
    assert_allclose(model.coef_.numpy(), Ridge().fit(X, y, sample_weight=w).coef_, rtol=FLOAT64)


def test_dispatch_off_takes_the_numpy_path(rng):
    X, y, _ = _data(rng, 50, 4)
    model = Ridge().fit(torch.asarray(X), torch.asarray(y))
    assert isinstance(model.coef_, np.ndarray)


def test_predict_refuses_another_namespace(rng):
    X, y, _ = _data(rng, 50, 4)
    with sklearn.config_context(array_api_dispatch=True):
        model = Ridge().fit(torch.asarray(X), torch.asarray(y))
        with pytest.raises(ValueError, match="must use the same namespace"):
            model.predict(X)


def test_singular_cholesky_falls_back_to_svd(rng):
    X, y, _ = _data(rng, 50, 4)
    X = np.hstack([X, X[:, :1]])  # a repeated column, no penalty to lift it
    X = np.hstack([X, np.zeros((50, 1))])  # and a constant one: exactly singular
    with (
        sklearn.config_context(array_api_dispatch=True),
        pytest.warns(SolverFallbackWarning, match="singular"),
    ):
        model = Ridge(alpha=0.0, solver="cholesky").fit(torch.asarray(X), torch.asarray(y))
    assert model.solver_ == "svd"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        reference = Ridge(alpha=0.0, solver="svd").fit(X, y)
    assert_allclose(model.coef_.numpy(), reference.coef_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("namespace", ["array_api_strict", "torch"])
def test_sklearn_array_api_checks_on_ridge_cv(namespace):
    """scikit-learn's own check, with values compared (test_common runs Ridge's)."""
    from sklearn.utils.estimator_checks import check_array_api_input

    for cv in (None, "gcv", "evidence", 3):  # the device route, and k-fold on the host
        check_array_api_input(
            "RidgeCV", RidgeCV(cv=cv), array_namespace=namespace, check_values=True
        )


@pytest.mark.parametrize("namespace", ["strict", "torch"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_mixed_precision_on_the_device_matches_double(rng, namespace, weighted, fit_intercept):
    """precision='mixed' on a float64 array-API X: float32 Gram, float64 refinement."""
    convert = NAMESPACES[namespace]
    X, y, w = _data(rng, 3000, 20, k=2)
    weights = w if weighted else None
    reference = Ridge(alpha=1e-6, fit_intercept=fit_intercept).fit(X, y, sample_weight=weights)
    with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        model = Ridge(alpha=1e-6, fit_intercept=fit_intercept, precision="mixed").fit(
            convert(X), convert(y), sample_weight=None if weights is None else convert(weights)
        )
    assert model.solver_ == "cholesky (mixed precision)"
    assert model.n_iter_ >= 1
    assert model.certificate_.relative_gradient_norm <= 1e-12
    scale = np.abs(reference.coef_).max()
    assert_allclose(_host(model.coef_), reference.coef_, rtol=0, atol=1e-10 * scale)


def test_mixed_precision_on_the_device_falls_back(rng):
    X, y, _ = _data(rng, 3000, 20)
    X[:, 1] = X[:, 0] + 3e-4 * rng.standard_normal(3000)  # equilibrated condition ~1e7
    with (
        sklearn.config_context(array_api_dispatch=True),
        pytest.warns(SolverFallbackWarning, match="mixed precision fell back"),
    ):
        model = Ridge(alpha=1e-12, precision="mixed").fit(torch.asarray(X), torch.asarray(y))
    assert model.solver_.startswith("cholesky (mixed precision fell back to double:")
    reference = Ridge(alpha=1e-12).fit(X, y)
    assert_allclose(model.coef_.numpy(), reference.coef_, rtol=1e-6)


def test_auto_precision_on_the_device_follows_the_numpy_rule(rng):
    """precision='auto' keeps a small problem in double precision, as on NumPy."""
    X, y, _ = _data(rng, 500, 5)
    with sklearn.config_context(array_api_dispatch=True):
        model = Ridge(precision="auto").fit(torch.asarray(X), torch.asarray(y))
    assert model.solver_ == Ridge(precision="auto").fit(X, y).solver_ == "cholesky"
