"""Exact Ridge, RidgeCV, ridge_path and L2 GLMs on Dask collections.

Install with ``pip install "l2reg[dask]"``.  ``import l2reg`` never imports
Dask: the estimators recognize a Dask collection by its type's module name
and import this subpackage only then (see ``docs/dask.md``)::

    import dask.array as da
    from l2reg import Ridge

    X = da.random.random((1_000_000, 100), chunks=(100_000, 100))
    y = X @ da.ones(100)
    model = Ridge(alpha=1e-3).fit(X, y)  # an ordinary in-memory model
    model.predict(X)                     # a dask array, computed block by block

How it works: one task per row block of X runs l2reg's in-memory kernel on
its NumPy block (the Gram pass for ridge, the weighted Hessian pass for a
Newton step) and returns a small object; those are merged by a tree of tasks
on the workers, and only the root (``(p + k)^2`` numbers) reaches the client,
which solves.  It runs on the current ``dask.distributed`` client if there is
one, else on Dask's threaded scheduler.
"""

try:
    import dask as _dask  # noqa: F401  (fail here, with the fix, not deep inside)
except ImportError as error:  # pragma: no cover - the test environment has dask
    raise ImportError(
        'l2reg.dask needs Dask, which is not installed; install it with: pip install "l2reg[dask]"'
    ) from error

from l2reg.dask._collections import predict_blocks
from l2reg.dask._glm import fit_glm
from l2reg.dask._ridge import distributed_ridge_path, fit_ridge, fit_ridge_cv
from l2reg.dask._stats import gram_stats
from l2reg.linear_model._base import register_collection_handler

__all__ = ["gram_stats"]

for _task, _handler in {
    "Ridge.fit": fit_ridge,
    "RidgeCV.fit": fit_ridge_cv,
    "ridge_path": distributed_ridge_path,
    "GLM.fit": fit_glm,
    "predict": predict_blocks,
}.items():
    register_collection_handler("dask", _task, _handler)
