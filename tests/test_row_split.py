"""The row-split Gram pass of l2reg._row_split against NumPy, for every layout and split."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import l2reg._row_split as row_split
from l2reg._row_split import blas_workers, gram_and_cross
from l2reg.objective.gram import gram_stats

#: The same float64 sums of a few hundred terms in another order.
REORDERED = 1e-12


def _expected(X, Y):
    augmented = np.hstack([Y, np.ones((X.shape[0], 1))])
    return np.tril(X.T @ X), X.T @ augmented


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("block_rows", [7, 64, 1024])
@pytest.mark.parametrize("n_targets", [1, 4])
def test_equals_numpy(rng, order, workers, block_rows, n_targets):
    """Partial last blocks, more workers than blocks, and shares of unequal length."""
    X = np.asarray(rng.standard_normal((101, 6)) + 3.0, order=order)
    Y = rng.standard_normal((101, n_targets))
    lower, cross = gram_and_cross(X, Y, block_rows=block_rows, workers=workers)
    expected_lower, expected_cross = _expected(X, Y)
    assert lower.shape == (6, 6) and cross.shape == (6, n_targets + 1)
    scale = np.abs(expected_lower).max()
    assert_allclose(np.tril(lower), expected_lower, rtol=REORDERED, atol=REORDERED * scale)
    assert np.all(np.triu(lower, 1) == 0)
    assert_allclose(cross, expected_cross, rtol=REORDERED, atol=REORDERED * scale)


def test_row_blocks_of_a_fortran_x_are_read_in_place(rng):
    """A Fortran-ordered X with many rows per column: blocks start mid-column."""
    X = np.asfortranarray(rng.standard_normal((5000, 3)))
    Y = np.asfortranarray(rng.standard_normal((5000, 2)))
    lower, cross = gram_and_cross(X, Y, block_rows=333, workers=2)
    expected_lower, expected_cross = _expected(X, Y)
    assert_allclose(np.tril(lower), expected_lower, rtol=1e-11, atol=1e-9)
    assert_allclose(cross, expected_cross, rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize(
    "make_x",
    [
        lambda X: X.astype(np.float32),
        lambda X: X[:, ::2],  # neither C- nor Fortran-contiguous
    ],
)
def test_declines_what_raw_blas_cannot_take(rng, make_x):
    X = make_x(rng.standard_normal((40, 6)))
    assert gram_and_cross(X, rng.standard_normal((40, 1))) is None


def test_declines_without_raw_blas(rng, monkeypatch):
    monkeypatch.setattr(row_split, "_raw_blas", lambda: None)
    assert gram_and_cross(rng.standard_normal((40, 3)), rng.standard_normal((40, 1))) is None


def test_gram_stats_falls_back_to_two_scipy_passes(rng, monkeypatch):
    import l2reg.objective.gram as gram

    X = rng.standard_normal((300, 5)) + 1.0
    Y = rng.standard_normal((300, 3))
    split = gram_stats(X, Y)
    monkeypatch.setattr(gram, "gram_and_cross", lambda *args, **kwargs: None)
    for layout in (X, np.asfortranarray(X)):
        fallback = gram_stats(layout, Y)
        assert_allclose(fallback.xx, split.xx, rtol=1e-12, atol=1e-12 * np.abs(split.xx).max())
        assert_allclose(fallback.xy, split.xy, rtol=1e-12, atol=1e-12 * np.abs(split.xx).max())
        assert_allclose(fallback.yy, split.yy, rtol=1e-12)


def test_an_error_in_a_worker_reaches_the_caller(rng):
    X = rng.standard_normal((100, 3))
    Y = rng.standard_normal((60, 2))  # too few rows: the second worker's copy fails
    with pytest.raises(ValueError):
        gram_and_cross(X, Y, block_rows=10, workers=2)


def test_blas_threads_are_restored_after_the_pass(rng):
    before = blas_workers()
    gram_and_cross(rng.standard_normal((3000, 4)), rng.standard_normal((3000, 1)), workers=2)
    assert blas_workers() == before


def test_worker_count_follows_the_blas_thread_limit():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        assert blas_workers() == 1


def test_concurrent_passes_agree_and_leave_blas_threads_as_they_were(rng):
    """Passes started from several threads at once: one splits, the others run serially."""
    from concurrent.futures import ThreadPoolExecutor

    X = rng.standard_normal((20_000, 8))
    Y = rng.standard_normal((20_000, 2))
    expected_lower, expected_cross = _expected(X, Y)
    before = blas_workers()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: gram_and_cross(X, Y, block_rows=512), range(8)))
    assert blas_workers() == before
    for lower, cross in results:
        assert_allclose(np.tril(lower), expected_lower, rtol=1e-11, atol=1e-9)
        assert_allclose(cross, expected_cross, rtol=1e-11, atol=1e-9)


def test_blas_stays_single_threaded_from_a_split_pass_to_the_end_of_the_block(rng):
    from l2reg._row_split import single_threaded_after_split

    X, Y = rng.standard_normal((5000, 4)), rng.standard_normal((5000, 1))
    before = blas_workers()
    with single_threaded_after_split():
        assert blas_workers() == before  # untouched until a split pass runs
        first = gram_and_cross(X, Y, block_rows=512)
        assert blas_workers() == 1
        with single_threaded_after_split():  # nested: part of the outer block
            second = gram_and_cross(X, Y, block_rows=512)
        assert blas_workers() == 1
    assert blas_workers() == before
    expected_lower, expected_cross = _expected(X, Y)
    for lower, cross in (first, second):
        assert_allclose(np.tril(lower), expected_lower, rtol=1e-11, atol=1e-9)
        assert_allclose(cross, expected_cross, rtol=1e-11, atol=1e-9)


def test_ridge_fits_leave_blas_threads_as_they_were(rng):
    from l2reg import Ridge

    before = blas_workers()
    X = rng.standard_normal((3000, 5))
    Ridge(alpha=0.1).fit(X, X @ np.arange(5.0))
    # An ill-conditioned problem: the SVD fallback runs after the block has ended.
    X[:, 4] = X[:, 3] * (1 + 1e-13)
    with pytest.warns(Warning, match="fell back to 'svd'"):
        Ridge(alpha=0.0, solver="cholesky").fit(X, X[:, 0])
    assert blas_workers() == before


# --- The capsule signatures ---------------------------------------------------


@pytest.fixture
def fresh_raw_blas():
    """``_raw_blas`` recomputed in the test, and again after it (it is cached)."""
    row_split.raw_routines.cache_clear()
    yield
    row_split.raw_routines.cache_clear()


def test_this_scipy_states_the_declared_prototypes():
    """The check passes on the SciPy the suite runs with, so the split pass is in use."""
    for name, prototype in row_split._PROTOTYPES.items():
        signature = row_split._capsule_name(row_split._capsules()[name]).decode()
        assert row_split.capsule_arguments(signature) == prototype, signature
    assert row_split._raw_blas() is not None


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        (
            "void (char *, int *, __pyx_t_5scipy_6linalg_11cython_blas_d *)",
            ("char *", "int *", "double *"),
        ),
        ("void (char*, int*, double*)", ("char *", "int *", "double *")),
        # single precision stays what it is, so it cannot match a double prototype
        (
            "void (__pyx_t_5scipy_6linalg_11cython_blas_s *)",
            ("float *",),
        ),
        ("int (char *)", None),  # not a void function
        ("dsyrk", None),
    ],
)
def test_capsule_arguments(signature, expected):
    assert row_split.capsule_arguments(signature) == expected


def _ilp64(signature: bytes) -> bytes:
    """The same routine with 64-bit integer arguments, as an ILP64 build would state it."""
    return signature.replace(b"int *", b"npy_int64 *")


@pytest.mark.parametrize(
    "change",
    [
        _ilp64,
        lambda signature: signature.replace(b"_d *", b"_s *"),  # float data
        lambda signature: signature.replace(b"char *, ", b"", 1),  # an argument fewer
    ],
)
def test_a_signature_that_differs_disables_the_raw_calls(rng, monkeypatch, fresh_raw_blas, change):
    from l2reg import Ridge

    real_name = row_split._capsule_name
    monkeypatch.setattr(row_split, "_capsule_name", lambda capsule: change(real_name(capsule)))
    X = rng.standard_normal((3000, 5))
    y = X @ np.arange(1.0, 6.0) + rng.standard_normal(3000)
    assert gram_and_cross(X, y[:, None]) is None
    # The fit takes SciPy's f2py calls instead, with the same answer.
    model = Ridge(alpha=0.1).fit(X, y)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    expected = np.linalg.solve(Xc.T @ Xc + 3000 * 0.1 * np.eye(5), Xc.T @ yc)
    assert model.solver_ == "cholesky"
    assert_allclose(model.coef_, expected, rtol=1e-10)


def test_a_missing_capsule_disables_the_raw_calls(rng, monkeypatch, fresh_raw_blas):
    capsules = dict(row_split._capsules())
    del capsules["dgemm"]
    monkeypatch.setattr(row_split, "_capsules", lambda: capsules)
    assert gram_and_cross(rng.standard_normal((40, 3)), rng.standard_normal((40, 1))) is None


# --- Memory ----------------------------------------------------------------------


def _per_worker(X, Y, block_rows):
    """Bytes of one worker's own arrays: its p x p and p x (k + 1) sums and its [Y_b, 1] block."""
    p, width = X.shape[1], Y.shape[1] + 1
    return 8 * (p * p + p * width + min(block_rows, X.shape[0]) * width)


@pytest.mark.parametrize("shape", [(200_000, 300), (20_000, 300), (3000, 1000), (1500, 1500)])
def test_workers_are_capped_by_memory(shape):
    """The extra workers' arrays fit in the budget, and one worker more would not."""
    X = np.lib.stride_tricks.as_strided(np.zeros(1), shape, (0, 0))  # shape and size only
    Y = np.zeros((shape[0], 1))
    budget = max(row_split.SPLIT_MEMORY_FLOOR, row_split.SPLIT_MEMORY_FRACTION * 8 * X.size)
    per_worker = _per_worker(X, Y, row_split.BLOCK_ROWS)
    count = row_split.split_workers(X, Y, 64, row_split.BLOCK_ROWS)
    assert (count - 1) * per_worker <= budget
    assert count * per_worker > budget or count == 64


def test_workers_are_capped_by_row_blocks():
    X = np.zeros((3 * 512 + 1, 4))
    assert row_split.split_workers(X, None, 8, 512) == 4
    assert row_split.split_workers(X, None, 2, 512) == 2


def test_the_pass_allocates_within_the_memory_budget(rng, monkeypatch):
    """Peak memory of a split pass: the result plus at most the budget (tracemalloc)."""
    import tracemalloc

    monkeypatch.setattr(row_split, "SPLIT_MEMORY_FLOOR", 0)  # the fraction alone binds
    X = rng.standard_normal((4096, 300))
    Y = rng.standard_normal((4096, 1))
    seen = []
    real_pass = row_split._split_pass
    monkeypatch.setattr(row_split, "_split_pass", lambda *a: seen.append(a[-1]) or real_pass(*a))
    budget = row_split.SPLIT_MEMORY_FRACTION * X.nbytes
    tracemalloc.start()
    try:
        lower, cross = gram_and_cross(X, Y, block_rows=1024, workers=8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 1 < seen[0] < 8  # split, and capped below the 4 row blocks
    # The result is one worker's arrays; the others must fit in the budget.
    assert peak <= _per_worker(X, Y, 1024) + budget + 64 * 1024
    expected_lower, expected_cross = _expected(X, Y)
    assert_allclose(np.tril(lower), expected_lower, rtol=1e-11, atol=1e-9)
    assert_allclose(cross, expected_cross, rtol=1e-11, atol=1e-9)
