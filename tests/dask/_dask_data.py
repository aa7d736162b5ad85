"""Data and chunkings shared by the dask tests."""

import numpy as np

# Uneven row blocks: a short one, a long one, one of a single row.
CHUNKS = (37, 160, 1, 90, 112)


def make_regression(seed=0, n_targets=3, offset=0.0, n_features=6):
    """Data with intercepts, several targets and positive, uneven weights."""
    rng = np.random.default_rng(seed)
    n = sum(CHUNKS)
    X = rng.normal(size=(n, n_features)) * rng.uniform(0.5, 3.0, n_features) + offset
    coef = rng.normal(size=(n_features, n_targets))
    Y = X @ coef + 2.0 + rng.normal(size=(n, n_targets))
    weights = rng.uniform(0.2, 3.0, n)
    return X, Y, weights


def to_dask(*arrays, chunks=CHUNKS):
    """Each array as a dask array in the given row chunks (columns in one chunk)."""
    import dask.array as da

    return [
        None if a is None else da.from_array(a, chunks=(chunks,) + tuple((s,) for s in a.shape[1:]))
        for a in arrays
    ]
