"""The SciPy-BLAS products of l2reg._blas against NumPy's ``@``, for every layout."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from l2reg._blas import matmul

#: The same sums in another order: a few roundings of float64 / float32 per entry.
REORDERED = {np.float64: 1e-12, np.float32: 1e-5}


def _layouts(a):
    yield np.ascontiguousarray(a)
    yield np.asfortranarray(a)
    yield np.ascontiguousarray(a[::-1].copy())[::-1]  # negative strides: the NumPy fallback


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("columns", [None, 1, 3])
def test_matmul_equals_numpy(rng, dtype, transpose_a, columns):
    a = rng.standard_normal((7, 5)).astype(dtype)
    rows = a.shape[0] if transpose_a else a.shape[1]
    b = rng.standard_normal(rows if columns is None else (rows, columns)).astype(dtype)
    expected = (a.T if transpose_a else a) @ b
    for layout in _layouts(a):
        result = matmul(layout, b, transpose_a=transpose_a)
        assert result.shape == expected.shape
        assert result.dtype == dtype
        assert_allclose(result, expected, rtol=REORDERED[dtype], atol=REORDERED[dtype])


def test_matmul_with_mixed_dtypes_falls_back_to_numpy(rng):
    a = rng.standard_normal((6, 4)).astype(np.float32)
    b = rng.standard_normal(4)
    result = matmul(a, b)
    assert result.dtype == np.float64  # NumPy's promotion, not a float32 BLAS call
    assert_allclose(result, a @ b, rtol=1e-12)
