"""One 2-worker LocalCluster (processes, Nanny-managed, 127.0.0.1 only) for the dask tests."""

import numpy as np
import pytest

pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def client():
    """A client of a local 2-process cluster, closed at the end of the session."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        host="127.0.0.1",
        threads_per_worker=1,
        dashboard_address=None,
    )
    with Client(cluster) as session:
        yield session
    cluster.close()


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
