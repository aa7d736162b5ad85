"""numba kernels of coordinate descent: free ``@njit(cache=True, nogil=True)`` functions.

Same contracts as their NumPy twins in :mod:`.reference` (read its module
docstring for the conventions); only arrays and scalars cross the boundary
(no jitclass, STYLE.md §5), and the compiled code is cached on disk next to
this file so that only the first fit after an install pays the compilation.
The kernels release the GIL (``nogil=True``): they touch only the arrays they
are given, so fits on different data (cross-validation folds) can run in
threads at the same time.
Importing this module raises ImportError when numba is missing.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "threshold",
    "cd_epoch_gram",
    "group_cd_epoch_gram",
    "cd_epoch_dense",
    "cd_epoch_sparse",
    "centered_norms_dense",
    "centered_norms_rows",
    "column_products_dense",
    "column_products_sparse",
]


@njit(cache=True, nogil=True)
def threshold(u, h, l1, l2, positive):
    denominator = h + l2
    if denominator <= 0.0:
        return 0.0
    if positive:
        return max(u - l1, 0.0) / denominator
    if u > l1:
        return (u - l1) / denominator
    if u < -l1:
        return (u + l1) / denominator
    return 0.0


@njit(cache=True, nogil=True)
def cd_epoch_gram(G, z, theta, ws, l1, l2, positive):
    max_change = 0.0
    n_ws = ws.shape[0]
    for jj in range(n_ws):
        j = ws[jj]
        h = G[j, j]
        old = theta[j]
        new = threshold(z[j] + h * old, h, l1[j], l2[j], positive)
        if new != old:
            delta = new - old
            theta[j] = new
            for kk in range(n_ws):
                k = ws[kk]
                z[k] -= delta * G[j, k]
            change = abs(delta) * math.sqrt(h)
            if change > max_change:
                max_change = change
    return max_change


@njit(cache=True, nogil=True)
def cd_epoch_dense(X, v, x_mean, theta, r, ws, h, l1, l2, positive):
    max_change = 0.0
    n = X.shape[0]
    for jj in range(ws.shape[0]):
        j = ws[jj]
        shift = x_mean[j]
        old = theta[j]
        u = 0.0
        for i in range(n):
            u += v[i] * (X[i, j] - shift) * r[i]
        u += h[j] * old
        new = threshold(u, h[j], l1[j], l2[j], positive)
        if new != old:
            delta = new - old
            theta[j] = new
            for i in range(n):
                r[i] -= delta * (X[i, j] - shift)
            change = abs(delta) * math.sqrt(h[j])
            if change > max_change:
                max_change = change
    return max_change


@njit(cache=True, nogil=True)
def cd_epoch_sparse(
    data, indices, indptr, v, x_mean, theta, r_raw, offset, ws, h, l1, l2, positive
):
    max_change = 0.0
    for jj in range(ws.shape[0]):
        j = ws[jj]
        start, stop = indptr[j], indptr[j + 1]
        old = theta[j]
        u = 0.0
        for k in range(start, stop):
            i = indices[k]
            u += v[i] * data[k] * (r_raw[i] + offset)
        u += h[j] * old
        new = threshold(u, h[j], l1[j], l2[j], positive)
        if new != old:
            delta = new - old
            theta[j] = new
            for k in range(start, stop):
                r_raw[indices[k]] -= delta * data[k]
            offset += delta * x_mean[j]
            change = abs(delta) * math.sqrt(h[j])
            if change > max_change:
                max_change = change
    return max_change, offset


@njit(cache=True, nogil=True)
def column_products_dense(X, x_mean, vr, index, out):
    n = X.shape[0]
    for k in range(index.shape[0]):
        j = index[k]
        shift = x_mean[j]
        total = 0.0
        for i in range(n):
            total += (X[i, j] - shift) * vr[i]
        out[k] = total
    return out


@njit(cache=True, nogil=True)
def column_products_sparse(data, indices, indptr, vr, index, out):
    for k in range(index.shape[0]):
        j = index[k]
        total = 0.0
        for m in range(indptr[j], indptr[j + 1]):
            total += data[m] * vr[indices[m]]
        out[k] = total
    return out


@njit(cache=True, nogil=True)
def centered_norms_dense(X, x_mean, v, out):
    n = X.shape[0]
    for j in range(X.shape[1]):
        shift = x_mean[j]
        total = 0.0
        for i in range(n):
            d = X[i, j] - shift
            total += v[i] * d * d
        out[j] = total
    return out


@njit(cache=True, nogil=True)
def centered_norms_rows(X, x_mean, v, out):
    n, p = X.shape
    for i in range(n):
        weight = v[i]
        for j in range(p):
            d = X[i, j] - x_mean[j]
            out[j] += weight * d * d
    return out


@njit(cache=True, nogil=True)
def group_cd_epoch_gram(G, Z, B, l1, l2):
    max_change = 0.0
    n_features, n_targets = B.shape
    old = np.empty(n_targets)
    delta = np.empty(n_targets)
    for j in range(n_features):
        h = G[j, j]
        denominator = h + l2
        norm2 = 0.0
        for t in range(n_targets):
            old[t] = B[j, t]
            u = Z[j, t] + h * old[t]
            delta[t] = u
            norm2 += u * u
        norm = math.sqrt(norm2)
        shrink = 0.0
        if denominator > 0.0 and norm > l1:
            shrink = (1.0 - l1 / norm) / denominator
        moved = 0.0
        for t in range(n_targets):
            delta[t] = shrink * delta[t] - old[t]
            moved += delta[t] * delta[t]
        if moved == 0.0:
            continue
        for t in range(n_targets):
            B[j, t] += delta[t]
        for k in range(n_features):
            g = G[j, k]
            for t in range(n_targets):
                Z[k, t] -= g * delta[t]
        change = math.sqrt(moved * h)
        if change > max_change:
            max_change = change
    return max_change
