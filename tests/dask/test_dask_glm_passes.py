"""The distributed GLM's passes: the fused first step, groups, float32 Hessians, warm starts."""

import numpy as np
import pytest
from tests._tolerances import EXACT_F64
from tests.dask._dask_data import to_dask

from l2reg import LogisticRegression, PoissonRegression
from l2reg.dask._collections import row_blocks
from l2reg.dask._glm_newton import Point, _Plan
from l2reg.dask._glm_passes import (
    PointTerms,
    StartTerms,
    point_terms,
    start_terms,
    terms_at_constant,
)
from l2reg.dask._groups import group_blocks
from l2reg.objective.losses import LogisticLoss, PoissonLoss

da = pytest.importorskip("dask.array")

TOL = 1e-13
#: Uneven row blocks of the 3,000 rows, one of a single row.
CHUNKS = (370, 1600, 1, 900, 129)


def wide_data(seed, p=70):
    """Enough features for float32 Hessians (at least 64 parameters)."""
    rng = np.random.default_rng(seed)
    n = sum(CHUNKS)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, p) + rng.uniform(-1, 1, p)
    raw = X @ rng.normal(scale=0.3 / np.sqrt(p), size=p) + 0.2
    labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-raw))).astype(np.float64)
    counts = rng.poisson(np.exp(0.5 * raw)).astype(np.float64)
    weights = rng.uniform(0.2, 3.0, n)
    return X, labels, counts, weights


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("family", ["logistic", "poisson"])
def test_first_pass_gives_the_terms_at_a_constant_predictor(family, fit_intercept):
    """terms_at_constant (from the first pass's sums) equals the point pass at (0, r)."""
    X, labels, counts, w = wide_data(0, p=7)
    loss, y, positive = (
        (LogisticLoss(), labels, 1.0) if family == "logistic" else (PoissonLoss(), counts, None)
    )
    blocks = [slice(0, 1000), slice(1000, 1001), slice(1001, 3000)]
    summary = StartTerms.merge_all(
        [
            start_terms(
                X[b],
                y[b],
                w[b],
                i,
                b.start,
                "test",
                family == "logistic",
                fit_intercept,
                np.float64,
            )
            for i, b in enumerate(blocks)
        ]
    )
    raw = -0.7 if fit_intercept else 0.0
    params = np.zeros(X.shape[1] + int(fit_intercept))
    if fit_intercept:
        params[-1] = raw
    recipe = (loss, fit_intercept, positive, False)
    expected = PointTerms.merge_all(
        [
            point_terms(X[b], y[b], w[b], i, 0, recipe, params, np.float64)
            for i, b in enumerate(blocks)
        ]
    )
    got = terms_at_constant(loss, summary, raw)
    np.testing.assert_allclose(got.objective, expected.objective, rtol=1e-13)
    np.testing.assert_allclose(got.gradient, expected.gradient, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got.hessian, expected.hessian, rtol=1e-12)
    np.testing.assert_allclose(got.noise(summary), expected.noise(summary), rtol=1e-12)
    # The identity behind PointTerms.noise, at a point where the predictors differ.
    t = (y == positive).astype(np.float64) if positive is not None else y
    params = np.random.default_rng(1).normal(scale=0.1, size=params.size)
    raw = X @ params[: X.shape[1]] + (params[-1] if fit_intercept else 0.0)
    point = PointTerms.merge_all(
        [point_terms(X[b], y[b], w[b], i, 0, recipe, params, None) for i, b in enumerate(blocks)]
    )
    expected_noise = float(w @ loss.rounding_scale(t, raw))
    np.testing.assert_allclose(point.noise(summary), expected_noise, rtol=1e-12)


def test_groups_one_task_per_worker_thread_on_persisted_blocks(client):
    X, labels, _, _ = wide_data(1)
    dX, dy = client.persist(to_dask(X, labels, chunks=CHUNKS))
    blocks = row_blocks("test", dX, dy, None, y_dtype=object)
    groups = group_blocks(blocks)
    assert groups.client is not None  # every block is persisted: futures
    assert sorted(i for members in groups.members for i in members) == list(range(len(CHUNKS)))
    threads = client.nthreads()
    holders = client.who_has(dX)
    for members, worker in zip(groups.members, groups.workers, strict=True):
        assert all(holders[blocks.X[i].key][0] == worker for i in members)
    assert len(groups.members) <= sum(threads.values())
    # Not persisted: one delayed task per block.
    assert group_blocks(row_blocks("test", *to_dask(X, labels, chunks=CHUNKS), None)).client is None


def test_groups_balance_replicated_blocks(client):
    """Blocks held by every worker (e.g. after a compute of all of X) are spread out."""
    X, labels, _, _ = wide_data(1)
    dX, dy = client.persist(to_dask(X, labels, chunks=CHUNKS))
    client.replicate(dX)  # every block on every worker
    blocks = row_blocks("test", dX, dy, None, y_dtype=object)
    groups = group_blocks(blocks)
    rows = {}
    for members, worker in zip(groups.members, groups.workers, strict=True):
        rows[worker] = rows.get(worker, 0) + sum(CHUNKS[i] for i in members)
    assert len(rows) == len(client.nthreads())  # not all on the first holder
    assert max(rows.values()) <= max(CHUNKS) + 1  # largest block first, then the lightest


@pytest.mark.parametrize("persist", [False, True])
def test_float32_hessians_reach_the_float64_solution(client, persist):
    """70 features: float32 Hessians and reused factorizations, the same minimizer."""
    X, labels, counts, w = wide_data(2)
    for estimator, y in ((LogisticRegression, labels), (PoissonRegression, counts)):
        expected = estimator(alpha=1e-3, tol=TOL).fit(X, y, w)
        arrays = to_dask(X, y, w, chunks=CHUNKS)
        if persist:
            arrays = client.persist(arrays)
        model = estimator(alpha=1e-3, tol=TOL).fit(*arrays)
        np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64, atol=1e-12)
        np.testing.assert_allclose(model.intercept_, expected.intercept_, rtol=EXACT_F64)
        assert model.certificate_.relative_gradient_norm <= TOL
        assert model.n_iter_ <= 12


def test_warm_start_from_nonzero_coefficients(client):
    """A warm start is not a constant predictor: its first pass forms the Hessian there."""
    X, labels, _, w = wide_data(3, p=9)
    dX, dy, dw = client.persist(to_dask(X, labels, w, chunks=CHUNKS))
    model = LogisticRegression(alpha=1e-2, tol=TOL, warm_start=True).fit(dX, dy, dw)
    model.set_params(alpha=3e-3).fit(dX, dy, dw)
    expected = LogisticRegression(alpha=3e-3, tol=TOL).fit(X, labels, w)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)
    np.testing.assert_allclose(model.intercept_, expected.intercept_, rtol=EXACT_F64)
    assert model.n_iter_ <= 3  # near the new solution already


def test_zero_weight_block(client):
    """A block whose weights are all zero adds nothing (the in-memory fit without its rows)."""
    X, labels, _, w = wide_data(4, p=5)
    w = w.copy()
    w[: CHUNKS[0]] = 0.0
    model = LogisticRegression(alpha=1e-2, tol=TOL).fit(
        *client.persist(to_dask(X, labels, w, chunks=CHUNKS))
    )
    rest = slice(CHUNKS[0], None)
    expected = LogisticRegression(alpha=1e-2, tol=TOL).fit(X[rest], labels[rest], w[rest])
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)
    np.testing.assert_allclose(model.intercept_, expected.intercept_, rtol=EXACT_F64)


def _point(relative):
    gradient = np.array([relative, 0.0])
    return Point(np.zeros(2), 0.0, gradient, 1.0, None, 0.0, False)


def test_plan_forms_a_hessian_only_where_reuse_would_not_reach_the_tolerance():
    """The predictions of _glm_newton's module docstring, on the benchmark's contractions."""
    plan = _Plan(tol=1e-8)
    assert plan.wants_hessian(_point(8e-3))  # no contraction seen yet
    # A fresh Newton step contracted 8e-3 -> 1e-3: the next one should reach ~1.6e-5,
    # and reusing the factorization from there contracts ~30x a step: 3 steps do.
    plan.after_step(_point(8e-3), _point(1e-3), 1.0, float32=True)
    plan.fresh_factor()
    assert not plan.wants_hessian(_point(1e-3))
    # A poor contraction: reuse would crawl, form the Hessian.
    slow = _Plan(tol=1e-8)
    slow.after_step(_point(1e-2), _point(6e-3), 1.0, float32=True)
    slow.fresh_factor()
    assert slow.wants_hessian(_point(6e-3))
    # A halved step is outside the local phase.
    halved = _Plan(tol=1e-8)
    halved.after_step(_point(8e-3), _point(1e-3), 0.5, float32=True)
    assert halved.wants_hessian(_point(1e-3))
    # Expected to meet the tolerance at the next point: no Hessian there.
    near = _Plan(tol=1e-8)
    near.after_step(_point(1e-4), _point(1e-6), 1.0, float32=False)
    near.fresh_factor()
    assert not near.wants_hessian(_point(1e-6))


def test_plan_switches_to_float64_when_float32_limits_the_contraction():
    plan = _Plan(tol=1e-13)
    # A fresh float32 Hessian's full step near the solution cut the gradient < 2-fold.
    assert plan.after_step(_point(1e-6), _point(8e-7), 1.0, float32=True)
    assert plan.wants_hessian(_point(8e-7))
    assert not _Plan(tol=1e-13).after_step(_point(1e-6), _point(8e-7), 1.0, float32=False)
