"""Bad blocks, mismatched chunks and a worker that dies: clear errors or exact results."""

import numpy as np
import pytest
from tests._tolerances import EXACT_F64
from tests.dask._dask_data import CHUNKS, make_regression, to_dask

from l2reg import Ridge
from l2reg.exceptions import InvalidParameterError

da = pytest.importorskip("dask.array")


def test_nan_block_is_named_and_the_cluster_stays_usable(client):
    X, Y, w = make_regression(seed=20)
    X = X.copy()
    X[CHUNKS[0] + CHUNKS[1] + 3, 2] = np.nan  # row 3 of block 3
    row = CHUNKS[0] + CHUNKS[1] + 3
    with pytest.raises(InvalidParameterError, match=rf"block 3 of X .*NaN at row {row}, column 2"):
        Ridge().fit(*to_dask(X, Y, w))
    bad_weights = w.copy()
    bad_weights[5] = -1.0
    with pytest.raises(InvalidParameterError, match="sample_weight in block 0"):
        Ridge().fit(*to_dask(np.nan_to_num(X), Y, bad_weights))
    # The same client fits the repaired data at once.
    X[row, 2] = 0.0
    model = Ridge(alpha=0.1).fit(*to_dask(X, Y, w))
    expected = Ridge(alpha=0.1).fit(X, Y, w)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)


def test_y_in_other_chunks_is_rechunked_and_other_lengths_are_refused(client):
    X, Y, w = make_regression(seed=21)
    (dX,) = to_dask(X)
    dY, dw = to_dask(Y, w, chunks=(100, 100, 100, 100))
    model = Ridge(alpha=0.1).fit(dX, dY, dw)
    expected = Ridge(alpha=0.1).fit(X, Y, w)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)
    with pytest.raises(InvalidParameterError, match=r"X has 400 samples but y has 399"):
        Ridge().fit(dX, da.from_array(Y[:-1], chunks=(100, 3)))
    with pytest.raises(InvalidParameterError, match=r"X must be 2-D"):
        Ridge().fit(da.from_array(X[:, 0], chunks=100), dY)


@pytest.mark.parametrize("persisted", ["X", "y", "sample_weight"])
def test_cluster_data_under_a_local_scheduler_is_refused_by_name(client, persisted):
    """Futures of the cluster cannot be read by dask's local schedulers: say so."""
    import dask

    X, Y, w = make_regression(seed=22)
    data = dict(zip(("X", "y", "sample_weight"), to_dask(X, Y, w), strict=True))
    data[persisted] = client.persist(data[persisted])
    with dask.config.set(scheduler="threads"):
        with pytest.raises(InvalidParameterError, match=r"persisted on a distributed .*'threads'"):
            Ridge().fit(data["X"], data["y"], sample_weight=data["sample_weight"])
    model = Ridge(alpha=0.1).fit(data["X"], data["y"], sample_weight=data["sample_weight"])
    expected = Ridge(alpha=0.1).fit(X, Y, w)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)
