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
