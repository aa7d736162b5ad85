"""The stable ``svd`` solver: blocked QR for tall X, double-double refinement, no extended type.

References are independent of the solver: 50-digit closed forms (tests/_oracles.py),
``numpy.linalg.pinv`` of an explicitly built design for minimum-norm solutions, and
exact rational arithmetic (``fractions``) for the error-free transformations.
"""

import math
import pathlib
import warnings
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests._oracles import design_with_spectrum, ridge_reference
from tests._tolerances import EXACT_F64, STATS_F64

import l2reg
from l2reg import Ridge, SolverFallbackWarning
from l2reg._threads import blas_controller, blas_threads
from l2reg.exceptions import InvalidParameterError
from l2reg.objective.problem import Problem
from l2reg.solvers import svd as svd_module
from l2reg.solvers.svd import (
    SVDSolver,
    _compensated_sum,
    _product_error,
    _split,
    _StableDesign,
    _two_sum,
)

EPS = np.finfo(np.float64).eps
#: The issue's accuracy target for the stable path against a 50-digit solution:
#: 1e-10 relative, or ``kappa * eps`` where the problem is truly ill-conditioned
#: (kappa = s_max / sqrt(s_min^2 + W alpha) of the weighted design).  A backward
#: stable solve without refinement misses it on large-residual least squares,
#: whose error is ~kappa^2 * eps * ||r|| / (||A|| ||theta||) (checked below).
REFINED_FLOOR = EXACT_F64
#: float32 input: the svd path works in float64, so only the final rounding of
#: the coefficients to float32 (unit roundoff 6e-8) separates it from the float64
#: fit of the same values; the norm-wise comparison allows a few roundings.
FLOAT32_ROUNDING = 4 * float(np.finfo(np.float32).eps)

VARIANTS = {
    "intercept": {},
    "weights": {"weights": True},
    "no intercept": {"fit_intercept": False},
    "penalized intercept": {"penalize_intercept": True},
}


def _design_matrix(X, weights, fit_intercept, penalize_intercept):
    """The weighted design A the objective is a least-squares problem in (built explicitly)."""
    w = np.ones(X.shape[0]) if weights is None else weights
    if penalize_intercept:
        D = np.column_stack([X, np.ones(X.shape[0])])
    elif fit_intercept:
        D = X - w @ X / w.sum()
    else:
        D = X
    return np.sqrt(w)[:, None] * D, w


def _kappa(X, alpha, weights=None, fit_intercept=True, penalize_intercept=False):
    A, w = _design_matrix(X, weights, fit_intercept, penalize_intercept)
    s = np.linalg.svd(A, compute_uv=False)
    return s[0] / np.sqrt(s[-1] ** 2 + w.sum() * alpha)


def _tolerance(kappa):
    return max(REFINED_FLOOR, kappa * EPS)


def _relative_error(value, reference):
    return np.linalg.norm(np.asarray(value) - reference) / np.linalg.norm(reference)


def _ill_conditioned(rng, condition, n=200, p=8, noise=0.1):
    """Columns with offsets of ~5 sd (so centering matters) and a noisy, large-residual target."""
    X = 10 * design_with_spectrum(rng, n, np.geomspace(1, 1 / condition, p)) + 5.0
    y = X @ rng.standard_normal(p) + noise * rng.standard_normal(n) + 1.0
    return X, y


def _large_residual(rng, condition, n=200, p=8):
    """Least squares whose residual (norm 10 sqrt(n)) is orthogonal to ``[1, X]``.

    The coefficients stay of order 1 while a backward-stable solve alone is off
    by ~kappa^2 * eps * ||r|| / (||A|| ||theta||): 1e-2..1e-1 at cond 1e9..1e12.
    """
    X = 10 * design_with_spectrum(rng, n, np.geomspace(1, 1 / condition, p)) + 5.0
    basis, _ = np.linalg.qr(np.column_stack([np.ones(n), X]))
    noise = rng.standard_normal(n)
    noise -= basis @ (basis.T @ noise)
    noise *= 10 * np.sqrt(n) / np.linalg.norm(noise)
    return X, X @ rng.standard_normal(p) + 1.0 + noise


def _numerically_full_rank(X, options):
    """Whether lstsq's cutoff keeps every singular value (else alpha=0 has a min-norm answer)."""
    A, _ = _design_matrix(
        X,
        options.get("weights"),
        options.get("fit_intercept", True),
        options.get("penalize_intercept", False),
    )
    s = np.linalg.svd(A, compute_uv=False)
    return s[-1] > max(A.shape) * EPS * s[0]


def _fit(X, y, alpha, *, weights=None, fit_intercept=True, penalize_intercept=False, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        model = Ridge(
            alpha=alpha,
            fit_intercept=fit_intercept,
            penalize_intercept=penalize_intercept,
            **{"solver": "svd", **options},
        )
        return model.fit(X, y, sample_weight=weights)


def _solve(X, Y, alpha, *, weights=None, fit_intercept=True, penalize_intercept=False):
    """The solver's own result (its message is not an estimator attribute)."""
    Y = Y.reshape(len(Y), -1)
    problem = Problem(
        X=X,
        Y=Y,
        sample_weight=weights,
        alpha=np.broadcast_to(np.asarray(alpha, dtype=float), (Y.shape[1],)).copy(),
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
    )
    return SVDSolver().solve(problem)


# ------------------------------------------------------- error-free transformations


def _exact(values):
    return [Fraction(float(v)) for v in np.ravel(values)]


def test_two_sum_and_two_product_are_error_free(rng):
    a = rng.standard_normal(2000) * 10.0 ** rng.integers(-12, 12, 2000)
    b = rng.standard_normal(2000) * 10.0 ** rng.integers(-12, 12, 2000)
    s, e = _two_sum(a, b)
    for x, y, hi, lo in zip(_exact(a), _exact(b), _exact(s), _exact(e), strict=True):
        assert x + y == hi + lo
    p = a * b
    err = _product_error(a, b, p, _split(a), _split(b))
    for x, y, hi, lo in zip(_exact(a), _exact(b), _exact(p), _exact(err), strict=True):
        assert x * y == hi + lo


def test_compensated_sum_survives_cancellation(rng):
    """Sums that cancel 16+ digits: plain float64 gets them wrong, the double-double does not."""
    big = rng.standard_normal((501, 3)) * 1e16
    small = rng.standard_normal((501, 3))
    terms = np.concatenate([big, -big, small])[rng.permutation(1503)]
    hi, lo = _compensated_sum(terms, np.zeros_like(terms))
    for column in range(3):
        exact = math.fsum(terms[:, column])
        assert abs((hi[column] + lo[column]) - exact) <= 1e-6 * abs(exact)
    assert np.max(np.abs(terms.sum(axis=0) - small.sum(axis=0))) > 1.0  # plain sum fails


# --------------------------------------------------------------- the blocked QR (TSQR)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_triangular_factor_is_the_r_of_the_design(rng, variant):
    """R^T R = [A, z]^T [A, z] over many blocks (n=1000 is 32 blocks of 31 rows and a short one)."""
    options = dict(VARIANTS[variant])
    n, p, k = 1000, 7, 2
    X = rng.standard_normal((n, p)) * rng.uniform(0.1, 10, p) + rng.uniform(-3, 3, p)
    Y = rng.standard_normal((n, k)) + 4.0
    weights = rng.uniform(0.2, 3.0, n) if options.pop("weights", False) else None
    fit_intercept = options.get("fit_intercept", True)
    penalize_intercept = options.get("penalize_intercept", False)
    problem = Problem(X, Y, weights, np.ones(k), fit_intercept, penalize_intercept)
    design = _StableDesign(problem)
    assert design.tall and n % design.rows
    R = design.triangular_factor()
    A, w = _design_matrix(X, weights, fit_intercept, penalize_intercept)
    Yc = Y - (w @ Y / w.sum() if fit_intercept and not penalize_intercept else 0.0)
    AZ = np.column_stack([A, np.sqrt(w)[:, None] * Yc])
    assert_allclose(np.triu(R), R)
    gram = AZ.T @ AZ
    assert_allclose(R.T @ R, gram, rtol=0, atol=STATS_F64 * np.abs(gram).max())


def test_tall_path_factors_only_small_matrices(rng, monkeypatch):
    """No n x p matrix is decomposed or materialized on the tall path."""
    shapes = []
    real_svd = svd_module._svd

    def recording_svd(matrix):
        shapes.append(matrix.shape)
        return real_svd(matrix)

    def no_copy(self):
        raise AssertionError("the tall path must not materialize the design")

    monkeypatch.setattr(svd_module, "_svd", recording_svd)
    monkeypatch.setattr(_StableDesign, "matrices", no_copy)
    X, y = _ill_conditioned(rng, 1e10, n=2000, p=6)
    _fit(X, y, 0.0)
    _fit(X, y, 1e-3, penalize_intercept=True)
    # alpha=0: the SVD of the equilibrated R; alpha > 0: that of the triangle
    # of the stack [R D; sqrt(lam) D] (see _tall_factors).
    assert shapes == [(6, 6), (7, 7)]


# ----------------------------------------------------------------- accuracy vs mpmath


def _accuracy_cases():
    """(id, X, y, alpha, options) of ill-conditioned tall problems, built deterministically."""
    rng = np.random.default_rng(1234)
    cases = []
    for condition in (1e8, 1e10, 1e12):
        for alpha in (0.0, 1e-14):
            for variant, options in VARIANTS.items():
                X, y = _ill_conditioned(rng, condition)
                options = dict(options)
                if options.pop("weights", False):
                    options["weights"] = rng.uniform(0.2, 3.0, len(y))
                if alpha == 0 and not _numerically_full_rank(X, options):
                    continue  # the uncentered cond-1e12 design: below lstsq's cutoff
                cases.append(
                    (f"cond={condition:.0e}-alpha={alpha}-{variant}", X, y, alpha, options)
                )
    for condition in (1e9, 1e12):
        X, y = _large_residual(rng, condition)
        cases.append((f"large-residual-cond={condition:.0e}", X, y, 0.0, {}))
    x = np.linspace(0.0, 1.0, 60)
    poly = np.vander(x, 13, increasing=True)[:, 1:]  # degree 12: cond(Xc) ~ 1e9
    cases.append(("poly12-alpha=1e-13", poly, np.exp(x) + 0.1 * np.sin(20 * x), 1e-13, {}))
    cases.append(("poly12-alpha=0", poly, np.exp(x) + 0.1 * np.sin(20 * x), 0.0, {}))
    longley_X, longley_y = _longley_type(np.random.default_rng(5))
    for alpha in (0.0, 1e-9):
        cases.append((f"longley-type-alpha={alpha}", longley_X, longley_y, alpha, {}))
    return cases


def _longley_type(rng):
    """Sixteen yearly rows of six trending macro series in their natural units.

    Like Longley's (1967) employment data: a price deflator ~1e2, GNP ~1e5,
    unemployment and armed forces ~1e3, population ~1e5 and the year ~2e3, all
    driven by the same trend, so the centered design has cond ~1e7 and the
    uncentered columns differ by 3 orders of magnitude.
    """
    t = np.arange(16.0)
    X = np.column_stack(
        [
            83.0 + 2.4 * t + rng.normal(0, 0.8, 16),
            234_289.0 + 20_000.0 * t + rng.normal(0, 4_000.0, 16),
            2_356.0 + 150.0 * t + rng.normal(0, 700.0, 16),
            1_590.0 + 140.0 * t + rng.normal(0, 400.0, 16),
            107_608.0 + 1_700.0 * t + rng.normal(0, 150.0, 16),
            1947.0 + t,
        ]
    )
    y = 60_323.0 + 600.0 * t + rng.normal(0, 300.0, 16)
    return X, y


ACCURACY_CASES = _accuracy_cases()


def _check_accuracy(X, y, alpha, options):
    coef, intercept = ridge_reference(
        X,
        y,
        alpha,
        sample_weight=options.get("weights"),
        **{key: value for key, value in options.items() if key != "weights"},
    )
    model = _fit(X, y, alpha, **options)
    kappa = _kappa(
        X,
        alpha,
        options.get("weights"),
        options.get("fit_intercept", True),
        options.get("penalize_intercept", False),
    )
    assert _relative_error(model.coef_, coef) <= _tolerance(kappa)
    scale = np.linalg.norm(np.append(coef, intercept))
    assert abs(model.intercept_ - intercept) <= _tolerance(kappa) * scale
    return model, kappa


@pytest.mark.parametrize("case", ACCURACY_CASES, ids=[case[0] for case in ACCURACY_CASES])
def test_ill_conditioned_designs_match_mpmath(case):
    _, X, y, alpha, options = case
    _check_accuracy(X, y, alpha, options)


def test_refinement_is_what_reaches_the_target(monkeypatch):
    """Without its refinement steps the same solver misses the target: the test can fail."""
    X, y = _large_residual(np.random.default_rng(3), 1e10)
    coef, _ = ridge_reference(X, y, 0.0)
    tolerance = _tolerance(_kappa(X, 0.0))
    refined = _fit(X, y, 0.0)
    assert _relative_error(refined.coef_, coef) <= tolerance
    assert "step(s) of double-double refinement" in _solve(X, y, 0.0).message
    monkeypatch.setattr(svd_module, "REFINEMENT_STEPS", 0)
    assert _relative_error(_fit(X, y, 0.0).coef_, coef) > tolerance


def test_refinement_centers_exactly(monkeypatch):
    """Centering with the rounded float64 means alone leaves a cond^2-amplified error."""
    X, y = _ill_conditioned(np.random.default_rng(4), 1e12)
    X += 1e3  # large offsets: the rounding of the means is ~1e-13
    coef, _ = ridge_reference(X, y, 0.0)
    exact = _relative_error(_fit(X, y, 0.0).coef_, coef)
    monkeypatch.setattr(_StableDesign, "refine_means", lambda self: None)
    rounded = _relative_error(_fit(X, y, 0.0).coef_, coef)
    assert exact <= _tolerance(_kappa(X, 0.0)) and rounded > 10 * exact


def test_cholesky_fallback_on_a_tall_design_is_accurate(rng):
    X, y = _ill_conditioned(rng, 1e11, n=600)
    coef, intercept = ridge_reference(X, y, 1e-16)
    with pytest.warns(SolverFallbackWarning, match="fell back to 'svd'"):
        model = Ridge(alpha=1e-16, solver="cholesky").fit(X, y)
    assert model.solver_ == "svd"
    assert _relative_error(model.coef_, coef) <= _tolerance(_kappa(X, 1e-16))


# ------------------------------------------------- rank deficiency, targets, dtypes


@pytest.mark.parametrize("weighted", [False, True])
def test_rank_deficient_tall_alpha_zero_gives_min_norm(rng, weighted):
    n = 400
    base = rng.standard_normal((n, 3))
    X = np.column_stack([base, base[:, 0] + base[:, 1], 2 * base[:, 2]]) + 3.0  # rank 3 of 5
    y = rng.standard_normal(n)
    weights = rng.uniform(0.5, 2.0, n) if weighted else None
    result = _solve(X, y, 0.0, weights=weights)
    A, w = _design_matrix(X, weights, True, False)
    z = np.sqrt(w) * (y - w @ y / w.sum())
    assert_allclose(result.coef[0], np.linalg.pinv(A) @ z, rtol=1e-9)
    assert result.message.startswith("rank 3 of 5")


def test_wide_path_matches_references(rng):
    n, p = 30, 50
    X = rng.standard_normal((n, p)) + 2.0
    y = rng.standard_normal(n)
    coef, intercept = ridge_reference(X, y, 1e-3)
    model = _fit(X, y, 1e-3)
    assert _relative_error(model.coef_, coef) <= REFINED_FLOOR
    assert_allclose(model.intercept_, intercept, rtol=REFINED_FLOOR)
    Xc, yc = X - X.mean(0), y - y.mean()
    assert_allclose(_fit(X, y, 0.0).coef_, np.linalg.pinv(Xc) @ yc, rtol=1e-9)


def test_multi_target_per_target_alpha(rng):
    X, _ = _ill_conditioned(rng, 1e10)
    Y = np.column_stack(
        [X @ rng.standard_normal(X.shape[1]) + rng.standard_normal(len(X)) for _ in range(3)]
    )
    alphas = np.array([0.0, 1e-13, 1e-3])
    weights = rng.uniform(0.5, 2.0, len(X))
    model = _fit(X, Y, alphas, weights=weights)
    for target, alpha in enumerate(alphas):
        coef, intercept = ridge_reference(X, Y[:, target], alpha, sample_weight=weights)
        tolerance = _tolerance(_kappa(X, alpha, weights))
        assert _relative_error(model.coef_[target], coef) <= tolerance
        single = _fit(X, Y[:, target], alpha, weights=weights)
        assert _relative_error(model.coef_[target], single.coef_) <= tolerance


def test_float32_input_is_solved_in_float64(rng):
    X, y = _ill_conditioned(rng, 1e5)
    X32 = X.astype(np.float32)
    model = _fit(X32, y, 1e-10)
    # y is taken in X's precision too: the reference gets the same rounded values.
    reference = _fit(X32.astype(np.float64), y.astype(np.float32).astype(np.float64), 1e-10)
    assert model.coef_.dtype == np.float32
    assert _relative_error(model.coef_, reference.coef_) <= FLOAT32_ROUNDING


def test_non_finite_x_is_reported_with_its_place(rng):
    X = rng.standard_normal((500, 4))
    X[2, 1] = np.inf
    with pytest.raises(InvalidParameterError, match="row 2, column 1"):
        _fit(X, rng.standard_normal(500), 0.1)


def test_certificate_comes_from_the_data_after_refinement():
    _, X, y, alpha, options = next(
        c for c in ACCURACY_CASES if c[0] == "cond=1e+08-alpha=0.0-no intercept"
    )
    model, kappa = _check_accuracy(X, y, alpha, options)
    assert model.certificate_.computed_from == "data"
    assert model.certificate_.relative_gradient_norm <= kappa * EPS


# --------------------------------------------- no dependence on an extended float type


@pytest.fixture
def no_extended_precision(monkeypatch):
    """Make NumPy's extended types plain float64, as on Windows and macOS arm64."""
    monkeypatch.setattr(np, "longdouble", np.float64)
    monkeypatch.setattr(np, "clongdouble", np.complex128)
    for name in ("float96", "float128"):
        if hasattr(np, name):
            monkeypatch.setattr(np, name, np.float64)
    for name in ("complex192", "complex256"):
        if hasattr(np, name):
            monkeypatch.setattr(np, name, np.complex128)


def test_no_source_uses_an_extended_type():
    """The monkeypatch below cannot reach a module constant bound at import: check the text."""
    root = pathlib.Path(l2reg.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        for name in ("longdouble", "float128", "float96", "clongdouble"):
            assert name not in text, f"{path.relative_to(root)} uses np.{name}"


@pytest.mark.parametrize("case", ACCURACY_CASES, ids=[case[0] for case in ACCURACY_CASES])
def test_accuracy_with_longdouble_forced_to_float64(no_extended_precision, case):
    assert np.longdouble is np.float64
    _, X, y, alpha, options = case
    _check_accuracy(X, y, alpha, options)


@pytest.mark.parametrize("condition", [1e6, 1e10])
def test_ill_conditioned_wide_design_is_refined(rng, condition):
    """p > n: the SVD of the data copy, refined by the same double-double passes."""
    n, p = 30, 45
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((p, n)))
    X = (U * np.geomspace(10, 10 / condition, n)) @ V.T + 3.0
    y = rng.standard_normal(n)
    alpha = 1e-15
    coef, intercept = ridge_reference(X, y, alpha)
    result = _solve(X, y, alpha)
    assert "double-double refinement" in result.message
    assert _relative_error(result.coef[0], coef) <= _tolerance(_kappa(X, alpha))


# ------------------------------------------------------------------- BLAS threads


def test_tall_solve_holds_blas_at_one_thread(rng, monkeypatch):
    """The tall solve (TSQR loop included) runs inside the package's one limit and
    leaves every count as it found it; a wide solve, and one wider than
    SINGLE_THREAD_MAX_COLUMNS, take no limit (see the constant's comment)."""
    events = []
    real_limit = svd_module.single_blas_thread
    real_factor = _StableDesign.triangular_factor

    @contextmanager
    def recording_limit(controller, **options):
        with real_limit(controller, **options) as held:
            events.append(("limit", held, blas_threads(controller) if held else 1))
            yield held
        events.append(("end",))

    def recording_factor(self):
        events.append(("tsqr",))
        return real_factor(self)

    monkeypatch.setattr(svd_module, "single_blas_thread", recording_limit)
    monkeypatch.setattr(_StableDesign, "triangular_factor", recording_factor)
    before = blas_threads(blas_controller())
    X, y = rng.standard_normal((500, 5)), rng.standard_normal(500)
    _solve(X, y, 1e-3)
    assert [event[0] for event in events] == ["limit", "tsqr", "end"]
    assert events[0][2] == 1  # held at one thread, or not held at all
    assert blas_threads(blas_controller()) == before
    events.clear()
    _solve(rng.standard_normal((5, 20)), rng.standard_normal(5), 1e-3)
    assert events == []
    monkeypatch.setattr(svd_module, "SINGLE_THREAD_MAX_COLUMNS", 5)  # 5 + 1 columns
    _solve(X, y, 1e-3)
    assert events == [("tsqr",)]
