"""RidgeCV (LOO, GCV, evidence) and ridge_path computed on the arrays' device.

With ``sklearn.set_config(array_api_dispatch=True)`` these run on X's
namespace (:mod:`l2reg.model_selection._spectral_xp`).  Every result is
compared with the NumPy path's on the same data, to the dtype's tolerance,
on array-api-strict (two devices) and PyTorch CPU; and the computation is
shown to stay in the namespace (no host route, no large array copied to
NumPy).
"""

import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose

from l2reg import RidgeCV, ridge_path
from l2reg.model_selection import _array_api

xs = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")
torch = pytest.importorskip("torch")

#: Two float64 implementations (LAPACK's eigh on the host, the namespace's on
#: the device) of the same well-conditioned spectral formulas: ~1e-13 apart.
FLOAT64 = 1e-10
#: Leave-one-out scores divide by 1 - h_i; in the kernel form (p > n) the
#: leverages at the small alphas are near 1, which magnifies the two
#: decompositions' rounding difference (measured up to 1.4e-10).
SCORE = 1e-8
#: float32 X: the device accumulates the Gram in float32 (eps 6e-8).
FLOAT32 = 1e-4

NAMESPACES = {
    "strict": xs.asarray,
    "strict-device1": lambda a: xs.asarray(a, device=xs.Device("device1")),
    "torch": torch.asarray,
}
INTERCEPTS = {
    "centered": {},
    "none": {"fit_intercept": False},
    "penalized": {"penalize_intercept": True},
}
SHAPES = {"primal": (60, 5), "kernel": (12, 30)}


def _host(a):
    if isinstance(a, float | np.ndarray):
        return np.asarray(a)
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.from_dlpack(xs.asarray(a, device=xs.Device("CPU_DEVICE")))


def _same_place(result, like):
    import array_api_compat

    assert array_api_compat.array_namespace(result) is array_api_compat.array_namespace(like)
    assert array_api_compat.device(result) == array_api_compat.device(like)


def _data(rng, n, p, k=None, dtype=np.float64, zero_weights=True):
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p) + rng.uniform(-3, 3, p)
    y = X @ rng.standard_normal(p if k is None else (p, k))
    y += rng.standard_normal(y.shape)
    w = rng.uniform(0.2, 2.0, n)
    if zero_weights:  # rows predicted by leave-one-out but not fitted
        w[[1, 4]] = 0.0
    return X.astype(dtype), y.astype(dtype), w.astype(dtype)


def _convert_all(convert, *arrays):
    return [None if a is None else convert(a) for a in arrays]


@pytest.mark.parametrize("namespace", ["strict", "torch"])
@pytest.mark.parametrize("cv", [None, "gcv", "evidence"])
@pytest.mark.parametrize("form", sorted(SHAPES))
@pytest.mark.parametrize("intercept", sorted(INTERCEPTS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", ["single", "shared", "per-target"])
def test_ridge_cv_matches_numpy(rng, namespace, cv, form, intercept, weighted, targets):
    X, y, w = _data(rng, *SHAPES[form], k=None if targets == "single" else 3)
    weights = w if weighted else None
    params = dict(cv=cv, alpha_per_target=targets == "per-target", **INTERCEPTS[intercept])
    reference = RidgeCV(**params).fit(X, y, sample_weight=weights)
    X_xp, y_xp, w_xp = _convert_all(NAMESPACES[namespace], X, y, weights)
    with sklearn.config_context(array_api_dispatch=True):
        model = RidgeCV(**params).fit(X_xp, y_xp, sample_weight=w_xp)
        prediction = model.predict(X_xp)
    _same_place(model.coef_, X_xp)
    _same_place(prediction, X_xp)
    if targets == "per-target":  # per-target choices are arrays in the namespace too
        _same_place(model.alpha_, X_xp)
        _same_place(model.best_score_, X_xp)
    else:
        assert isinstance(model.alpha_, float) and isinstance(model.best_score_, float)
    assert model.solver_ == reference.solver_
    # The grid is built from each path's own eigenvalues: equal to rounding.
    assert_allclose(_host(model.alpha_), reference.alpha_, rtol=FLOAT64)
    assert_allclose(_host(model.best_score_), reference.best_score_, rtol=SCORE)
    scale = np.abs(reference.coef_).max()
    assert_allclose(_host(model.coef_), reference.coef_, rtol=FLOAT64, atol=FLOAT64 * scale)
    assert_allclose(
        _host(model.intercept_), reference.intercept_, rtol=FLOAT64, atol=FLOAT64 * scale
    )
    assert_allclose(_host(prediction), reference.predict(X), rtol=FLOAT64, atol=FLOAT64)
    for key, value in reference.cv_results_.items():
        assert isinstance(model.cv_results_[key], np.ndarray)
        assert_allclose(model.cv_results_[key], value, rtol=SCORE, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("form", sorted(SHAPES))
def test_ridge_cv_one_standard_error_rule_on_another_device(rng, form):
    """selection='1se' needs LOO's standard errors, summed on the device."""
    X, y, w = _data(rng, *SHAPES[form], k=2)
    # (Much smaller alphas with p > n put leverages within 1e-6 of 1, where any two
    # decompositions differ by more than SCORE in the leave-one-out errors.)
    params = dict(selection="1se", alpha_per_target=True, alphas=np.logspace(-2, 2, 30))
    reference = RidgeCV(**params).fit(X, y, sample_weight=w)
    X_xp, y_xp, w_xp = _convert_all(NAMESPACES["strict-device1"], X, y, w)
    with sklearn.config_context(array_api_dispatch=True):
        model = RidgeCV(**params).fit(X_xp, y_xp, sample_weight=w_xp)
    _same_place(model.coef_, X_xp)
    assert_allclose(_host(model.alpha_), reference.alpha_, rtol=0)  # a given grid
    assert_allclose(model.cv_results_["std_error"], reference.cv_results_["std_error"], rtol=SCORE)
    assert_allclose(_host(model.coef_), reference.coef_, rtol=FLOAT64, atol=1e-12)


@pytest.mark.parametrize("cv", [None, "gcv", "evidence"])
def test_ridge_cv_float32(rng, cv):
    """float32 X: float32 Gram blocks, float64 decomposition; the fit is Ridge(alpha_)'s."""
    from l2reg import Ridge

    X, y, w = _data(rng, 200, 8, dtype=np.float32)
    reference = RidgeCV(cv=cv).fit(X, y, sample_weight=w)
    with sklearn.config_context(array_api_dispatch=True):
        model = RidgeCV(cv=cv).fit(
            torch.asarray(X), torch.asarray(y), sample_weight=torch.asarray(w)
        )
    assert model.coef_.dtype == torch.float32
    # A flat criterion may pick a neighbouring alpha in float32: its score is as good.
    assert_allclose(model.best_score_, reference.best_score_, rtol=FLOAT32)
    refit = Ridge(alpha=model.alpha_).fit(X, y, sample_weight=w)
    scale = np.abs(refit.coef_).max()
    assert_allclose(_host(model.coef_), refit.coef_, rtol=FLOAT32, atol=FLOAT32 * scale)


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
@pytest.mark.parametrize("form", sorted(SHAPES))
@pytest.mark.parametrize("intercept", sorted(INTERCEPTS))
@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("ill_conditioned", [False, True])
def test_ridge_path_matches_numpy(rng, namespace, form, intercept, k, ill_conditioned):
    X, y, w = _data(rng, *SHAPES[form], k=k)
    if ill_conditioned:  # two nearly equal columns: the guard re-solves some alphas
        X[:, 1] = X[:, 0] + 3e-3 * rng.standard_normal(X.shape[0])
    options = dict(sample_weight=w, n_alphas=15, **INTERCEPTS[intercept])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither path falls back to svd here
        reference = ridge_path(X, y, **options)
        if ill_conditioned:
            # The default grid starts at the smallest eigenvalue, which two
            # decompositions give to eps * cond(G) relative only: use NumPy's grid.
            options["alphas"] = reference.alphas
        X_xp, y_xp, w_xp = _convert_all(NAMESPACES[namespace], X, y, w)
        with sklearn.config_context(array_api_dispatch=True):
            path = ridge_path(X_xp, y_xp, **{**options, "sample_weight": w_xp})
    for name in ("alphas", "coefs", "intercepts", "effective_df", "condition_numbers"):
        _same_place(getattr(path, name), X_xp)
        assert getattr(path, name).shape == getattr(reference, name).shape, name
    assert path.form == reference.form == form
    assert path.solvers == reference.solvers  # the same alphas re-solved, by the same solver
    if ill_conditioned and form == "primal":
        assert "cholesky" in path.solvers  # the guard really re-solved on the device
    assert_allclose(_host(path.alphas), reference.alphas, rtol=FLOAT64)
    # Both depend on the smallest eigenvalue, known to eps * cond(G) relative.
    rtol = 1e-6 if ill_conditioned else 1e-8
    assert_allclose(_host(path.condition_numbers), reference.condition_numbers, rtol=rtol)
    assert_allclose(_host(path.effective_df), reference.effective_df, rtol=rtol)
    scale = np.abs(reference.coefs).max()
    # Re-solved (cond > 1e4) alphas: each path's solve loses eps * cond <= 1e-7 at most.
    tolerance = 1e-8 if ill_conditioned else FLOAT64
    assert_allclose(_host(path.coefs), reference.coefs, rtol=tolerance, atol=tolerance * scale)
    assert_allclose(
        _host(path.intercepts), reference.intercepts, rtol=tolerance, atol=tolerance * scale
    )
    assert path.relative_gradient_norms.max() <= 1e-12


def test_ridge_path_given_alphas_and_dtype(rng):
    X, y, w = _data(rng, 100, 6, k=2, dtype=np.float32)
    alphas = [1e-3, 1e-1, 10.0]
    reference = ridge_path(X, y, alphas, sample_weight=w)
    with sklearn.config_context(array_api_dispatch=True):
        path = ridge_path(
            torch.asarray(X), torch.asarray(y), alphas, sample_weight=torch.asarray(w)
        )
    assert path.coefs.dtype == path.intercepts.dtype == torch.float32
    assert_allclose(path.alphas.numpy(), alphas, rtol=0)
    scale = np.abs(reference.coefs).max()
    assert_allclose(path.coefs.numpy(), reference.coefs, rtol=FLOAT32, atol=FLOAT32 * scale)


@pytest.fixture
def device_only(monkeypatch):
    """Fail on the host route, and record every array-api-strict array copied to the host.

    array-api-strict arrays reach NumPy only through ``__array__``,
    ``__dlpack__`` or the buffer protocol: each is wrapped to record the size.
    """

    def refuse(*args, **kwargs):
        raise AssertionError("the host route ran")

    monkeypatch.setattr(_array_api, "fit_on_host", refuse)
    monkeypatch.setattr(_array_api, "path_on_host", refuse)
    sizes = []
    array_type = type(xs.asarray(0.0))
    for name in ("__array__", "__dlpack__", "__buffer__"):
        original = getattr(array_type, name)

        def recording(self, *args, _original=original, **kwargs):
            sizes.append(int(np.prod(self.shape)))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(array_type, name, recording)
    return sizes


@pytest.mark.parametrize("form", sorted(SHAPES))
@pytest.mark.parametrize("intercept", sorted(INTERCEPTS))
def test_computation_stays_in_the_namespace(rng, device_only, form, intercept):
    """Nothing as large as X, its Gram or kernel, or the eigenvectors comes to the host.

    What does come: y and the weights (validated on the host, as Ridge does),
    the r eigenvalues, and the n_alphas x n_targets criteria and certificate norms.
    """
    n, p = (300, 40) if form == "primal" else (30, 200)
    X, y, w = _data(rng, n, p, k=2)
    X_xp, y_xp, w_xp = _convert_all(xs.asarray, X, y, w)
    q = p + (intercept == "penalized")
    largest_allowed = min(n * p, q * q, n * n) - 1
    options = INTERCEPTS[intercept]
    with sklearn.config_context(array_api_dispatch=True):
        for cv in (None, "gcv", "evidence"):
            RidgeCV(cv=cv, alpha_per_target=True, **options).fit(X_xp, y_xp, sample_weight=w_xp)
        ridge_path(X_xp, y_xp, sample_weight=w_xp, **options)
    assert device_only, "the recording hooks saw nothing: they no longer catch host copies"
    assert max(device_only) <= largest_allowed


def test_host_route_options_still_work(rng, monkeypatch):
    """k-fold, scorers, penalty options and feature_groups keep the host route."""
    routes = []
    original = _array_api.fit_on_host

    def spy(*args, **kwargs):
        routes.append("host")
        return original(*args, **kwargs)

    monkeypatch.setattr(_array_api, "fit_on_host", spy)
    X, y, w = _data(rng, 60, 5)
    X_xp, y_xp, w_xp = _convert_all(torch.asarray, X, y, w)
    for params in (
        {"cv": 3},
        {"scoring": "r2"},
        {"penalty_factor": np.linspace(0.5, 2.0, 5)},
        {"standardize": True},
        {"feature_groups": [0, 0, 1, 1, 1]},
    ):
        routes.clear()
        reference = RidgeCV(**params).fit(X, y, sample_weight=w)
        with sklearn.config_context(array_api_dispatch=True):
            model = RidgeCV(**params).fit(X_xp, y_xp, sample_weight=w_xp)
        assert routes == ["host"], params
        assert isinstance(model.coef_, torch.Tensor)
        assert_allclose(model.coef_.numpy(), reference.coef_, rtol=FLOAT64)
    routes.clear()
    with sklearn.config_context(array_api_dispatch=True):
        RidgeCV().fit(X_xp, y_xp)
    assert routes == []  # plain LOO: the device route


def test_ridge_path_penalty_options_take_the_host_route(rng):
    X, y, w = _data(rng, 60, 5)
    reference = ridge_path(X, y, sample_weight=w, standardize=True, n_alphas=10)
    with sklearn.config_context(array_api_dispatch=True):
        path = ridge_path(
            torch.asarray(X), torch.asarray(y), sample_weight=torch.asarray(w),
            standardize=True, n_alphas=10,
        )  # fmt: skip
    assert isinstance(path.coefs, torch.Tensor)
    assert_allclose(path.coefs.numpy(), reference.coefs, rtol=FLOAT64)


def test_non_finite_input_is_refused_on_the_device(rng):
    from l2reg.exceptions import InvalidParameterError

    X, y, _ = _data(rng, 60, 5)
    X[3, 2] = np.nan
    with (
        sklearn.config_context(array_api_dispatch=True),
        pytest.raises(InvalidParameterError, match="NaN or infinity"),
    ):
        RidgeCV().fit(torch.asarray(X), torch.asarray(y))


def test_too_few_positive_weights_are_refused_on_the_device(rng):
    from l2reg.exceptions import InvalidParameterError

    X, y, w = _data(rng, 20, 3)
    w[1:] = 0.0
    with (
        sklearn.config_context(array_api_dispatch=True),
        pytest.raises(InvalidParameterError, match="at least 2 samples"),
    ):
        RidgeCV().fit(torch.asarray(X), torch.asarray(y), sample_weight=torch.asarray(w))


@pytest.mark.parametrize("namespace", ["strict", "torch"])
def test_device_path_fallback_warning_points_at_the_caller(rng, namespace):
    """The path's summary of its svd fallbacks names the user's line, as on NumPy."""
    from l2reg.exceptions import SolverFallbackWarning

    X, y, w = _data(rng, *SHAPES["primal"])
    X[:, 1] = X[:, 0]  # and alpha 1e-18: singular to working precision, solved by svd
    X_xp, y_xp, w_xp = _convert_all(NAMESPACES[namespace], X, y, w)
    for arrays, dispatch in (((X, y, w), False), ((X_xp, y_xp, w_xp), True)):
        with sklearn.config_context(array_api_dispatch=dispatch):
            with pytest.warns(SolverFallbackWarning, match="1 of 2 alphas") as record:
                path = ridge_path(
                    arrays[0], arrays[1], sample_weight=arrays[2], alphas=[1e-18, 1.0]
                )
        assert path.solvers[0] == "svd"
        fallbacks = [r for r in record if issubclass(r.category, SolverFallbackWarning)]
        assert [r.filename for r in fallbacks] == [__file__]
