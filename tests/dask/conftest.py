"""One 2-worker LocalCluster (processes, Nanny-managed, 127.0.0.1 only) for the dask tests."""

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
