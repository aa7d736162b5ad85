"""A worker process that dies mid-fit: Dask reruns its tasks and the fit is still exact.

Named to run last among the dask tests: the restarted worker imports l2reg
afresh, which the tests after it would otherwise wait for.
"""

import os

import numpy as np
import pytest
from tests._tolerances import EXACT_F64
from tests.dask._dask_data import make_regression, to_dask

from l2reg import Ridge

pytest.importorskip("distributed")


def test_a_worker_killed_mid_fit_is_retried_and_the_fit_is_exact(client, tmp_path):
    """The task of block 2 kills its worker process the first time it runs.

    The Nanny restarts the worker, the scheduler reruns the lost tasks on the
    workers it has (``allowed_failures`` is 3 by default), and the fit must
    equal the in-memory one.
    """
    X, Y, w = make_regression(seed=22)
    marker = str(tmp_path / "killed-once")

    def block_once(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2 and not os.path.exists(marker):
            with open(marker, "w"):
                pass
            os._exit(1)  # the worker process dies mid-task, as on a lost machine
        return block

    dX, dY, dw = to_dask(X, Y, w)
    dX = dX.map_blocks(block_once, dtype=dX.dtype)
    model = Ridge(alpha=0.1).fit(dX, dY, dw)
    assert os.path.exists(marker)  # the kill really happened
    expected = Ridge(alpha=0.1).fit(X, Y, w)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=EXACT_F64)
    np.testing.assert_allclose(model.intercept_, expected.intercept_, rtol=EXACT_F64)
    client.wait_for_workers(2, timeout=120)
