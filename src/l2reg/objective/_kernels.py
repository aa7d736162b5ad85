"""The sparse Gram kernel: ``X^T diag(w) X`` of a CSR matrix into a dense upper triangle.

``weighted_gram_upper`` is a free ``@njit(cache=True)`` function over arrays
(STYLE.md §5), compiled when numba is installed; ``weighted_gram_reference``
is its plain SciPy twin, the test oracle and the fallback without numba.

Why a kernel: SciPy's sparse-times-sparse product builds a sparse result
(one pass to count its entries, one to fill them, then a conversion to
dense), which for a dense p x p result cost 2.5 s on 200,000 x 2,000 with
2e6 stored values, where the multiply-adds are only ``sum_i nnz(x_i)^2 / 2 =
1e7``: this kernel adds each row's outer product straight into the dense
triangle.  Forming G row by row instead (Gustavson's order: for column j,
the rows its values lie in) ran 2x slower on the power-law data of
:mod:`benchmarks.sparse`, where the frequent columns' part of G stays in
cache under this kernel.  The choice of implementation is made on first use,
so that ``import l2reg`` does not import numba.
"""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_gram_reference", "sparse_weighted_gram"]

_compiled = None


def weighted_gram_reference(indptr, indices, data, weights, n_features):
    """``X^T diag(w) X`` (full, dense) of the CSR arrays, by SciPy's sparse product."""
    import scipy.sparse as sp

    n = indptr.shape[0] - 1
    X = sp.csr_matrix((data, indices, indptr), shape=(n, n_features))
    return (X.T @ X.multiply(weights[:, None]).tocsr()).toarray()


def _load():
    global _compiled
    if _compiled is None:
        try:
            from numba import njit
        except ImportError:  # numba is optional at run time; the twin is exact, only slower
            _compiled = False
            return _compiled

        @njit(cache=True)
        def weighted_gram_upper(indptr, indices, data, weights, n_features):
            # Row i adds w_i x_a x_b to G[col_a, col_b] for each pair of its
            # stored values with col_a <= col_b (indices sorted: canonical CSR).
            gram = np.zeros((n_features, n_features))
            for i in range(indptr.shape[0] - 1):
                w = weights[i]
                for a in range(indptr[i], indptr[i + 1]):
                    column = indices[a]
                    value = w * data[a]
                    for b in range(a, indptr[i + 1]):
                        gram[column, indices[b]] += value * data[b]
            return gram

        _compiled = weighted_gram_upper
    return _compiled


def sparse_weighted_gram(X, weights) -> np.ndarray:
    """``X^T diag(w) X`` of a canonical float64 CSR matrix, dense and symmetric."""
    kernel = _load()
    indptr, indices, data = X.indptr, X.indices, X.data
    if kernel is False:
        return weighted_gram_reference(indptr, indices, data, weights, X.shape[1])
    upper = kernel(indptr, indices, data, weights, X.shape[1])
    gram = upper + upper.T
    gram[np.diag_indices_from(gram)] *= 0.5
    return gram
