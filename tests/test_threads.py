"""Every BLAS thread limit of l2reg (l2reg._threads): taken, refused, nested, undone.

Most tests run under ``two_blas_threads``, so that a limit to one thread is
visible whatever the machine's core count.
"""

import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import threadpoolctl
from numpy.testing import assert_allclose
from threadpoolctl import threadpool_info, threadpool_limits

import l2reg._row_split as row_split
import l2reg._threads as threads
import l2reg.model_selection._spectral as spectral
from l2reg import Ridge, RidgeCV
from l2reg._row_split import blas_workers, gram_and_cross, single_threaded_after_split
from l2reg._threads import (
    blas_controller,
    blas_threads,
    identify_scipy_blas,
    scipy_blas_controller,
    single_blas_thread,
)

#: The same float64 fit with its sums in another order (split or serial pass):
#: well-conditioned problems, so the coefficients move by a few ulps times cond.
REORDERED_FIT = 1e-10


def _blas_counts():
    """Thread count of every BLAS library in the process, by file."""
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def _release_openblas_control():
    """threadpoolctl (3.6+) lets only one thread at a time change OpenBLAS's shared pool,
    the first to try, until its outermost ``with`` ends; give that role up."""
    getattr(threadpoolctl.OpenBLASController, "clear_controlling_thread", lambda: None)()


@pytest.fixture
def two_blas_threads():
    """Every BLAS at two threads for the test, set without holding on to OpenBLAS's
    control, so that other threads' limits can take (a ``with`` would keep it)."""
    limiter = threadpool_limits(limits=2, user_api="blas")
    _release_openblas_control()
    try:
        yield _blas_counts()
    finally:
        limiter.restore_original_limits()
        _release_openblas_control()


@pytest.fixture
def split_calls(monkeypatch):
    """The worker count of every split pass."""
    seen = []
    real_pass = row_split._split_pass

    def spy(X, Y, blas, block_rows, workers):
        seen.append(workers)
        return real_pass(X, Y, blas, block_rows, workers)

    monkeypatch.setattr(row_split, "_split_pass", spy)
    return seen


@pytest.fixture
def limit_calls(monkeypatch):
    """Whether each l2reg limit taken by the split pass and by eigh was held."""
    seen = {"split": [], "eigh": []}

    def spy(kind):
        from contextlib import contextmanager

        @contextmanager
        def recording(controller, **options):
            with single_blas_thread(controller, **options) as held:
                seen[kind].append(held)
                yield held

        return recording

    monkeypatch.setattr(row_split, "single_blas_thread", spy("split"))
    monkeypatch.setattr(spectral, "single_blas_thread", spy("eigh"))
    return seen


@pytest.fixture
def lock_held_elsewhere():
    """Another Python thread holds an l2reg limit until the test ends."""
    taken, done = threading.Event(), threading.Event()

    def hold():
        with single_blas_thread(blas_controller()):
            taken.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(30)
    yield
    done.set()
    holder.join()


class FakeLibrary:
    """A library controller whose limit may or may not take."""

    def __init__(self, filepath, internal_api="openblas", threading_layer="pthreads", obeys=True):
        self.filepath, self.internal_api, self.threading_layer = (
            filepath,
            internal_api,
            threading_layer,
        )
        self.user_api, self.prefix, self.obeys, self.threads = "blas", "fake", obeys, 4

    @property
    def num_threads(self):
        return self.threads

    def set_num_threads(self, count):
        if self.obeys:
            self.threads = count


class FakeLocalLibrary(FakeLibrary):
    """A library whose limit binds only the thread that set it (OpenMP, MKL's
    thread-local call); a fresh thread sees the default of 4."""

    def __init__(self, filepath):
        super().__init__(filepath)
        self._local = threading.local()

    @property
    def num_threads(self):
        return getattr(self._local, "threads", 4)

    def set_num_threads(self, count):
        self._local.threads = count


class FakeController:
    def __init__(self, *libraries):
        self.lib_controllers = list(libraries)

    def select(self, filepath):
        return FakeController(*(lib for lib in self.lib_controllers if lib.filepath == filepath))

    def limit(self, *, limits):
        from contextlib import contextmanager

        @contextmanager
        def limiter():
            before = [lib.num_threads for lib in self.lib_controllers]
            for lib in self.lib_controllers:
                lib.set_num_threads(limits)
            try:
                yield
            finally:
                for lib, count in zip(self.lib_controllers, before, strict=True):
                    lib.set_num_threads(count)

        return limiter()


# --- Which library is SciPy's ------------------------------------------------------


SCIPY_DIRS = [Path("/site/scipy"), Path("/site/scipy.libs")]


def _lib(path, api="openblas"):
    return SimpleNamespace(filepath=path, internal_api=api)


@pytest.mark.parametrize(
    ("paths", "name", "expected"),
    [
        # pip wheels: NumPy's and SciPy's own OpenBLAS copies
        (
            [("/site/numpy.libs/libscipy_openblas64_.so", "openblas"),
             ("/site/scipy.libs/libscipy_openblas.so", "openblas")],
            "scipy-openblas",
            1,
        ),
        ([("/site/scipy/.dylibs/libscipy_openblas.dylib", "openblas")], "scipy-openblas", 0),
        # one shared library (conda, a distribution): named by the build configuration
        ([("/env/lib/libmkl_rt.so", "mkl")], "mkl-sdl", 0),
        ([("/env/lib/libopenblas.so", "openblas"), ("/env/libmkl_rt.so", "mkl")], "openblas", 0),
        # no proof: two candidates, no name, a library threadpoolctl does not control
        ([("/a/libopenblas.so", "openblas"), ("/b/libopenblas.so", "openblas")], "openblas", None),
        ([("/env/lib/libopenblas.so", "openblas")], None, None),
        ([("/site/numpy.libs/libscipy_openblas64_.so", "openblas")], "accelerate", None),
        ([], "scipy-openblas", None),
        (
            [("/site/scipy.libs/a.so", "openblas"), ("/site/scipy.libs/b.so", "mkl")],
            "openblas",
            None,
        ),
    ],
)  # fmt: skip
def test_identify_scipy_blas(paths, name, expected):
    libraries = [_lib(path, api) for path, api in paths]
    found = identify_scipy_blas(libraries, SCIPY_DIRS, name)
    assert found is (None if expected is None else libraries[expected])


def test_scipy_blas_is_identified_in_this_environment():
    """Wheels here: SciPy's bundled OpenBLAS is found and is not NumPy's copy."""
    controller = scipy_blas_controller()
    assert controller is not None
    (library,) = controller.lib_controllers
    assert library in blas_controller().lib_controllers
    directories = threads._scipy_directories()
    bundled = [
        lib
        for lib in blas_controller().lib_controllers
        if any(Path(lib.filepath).resolve().is_relative_to(d) for d in directories)
    ]
    if bundled:  # a wheel: its own copy
        assert bundled == [library]


@pytest.mark.parametrize(
    ("api", "layer", "stands_down"),
    [
        ("openblas", "pthreads", False),
        ("openblas", "openmp", True),  # per-thread limits: the workers would not see it
        ("mkl", "intel", False),
        ("mkl", "tbb", True),
        ("blis", "pthreads", True),
    ],
)
def test_the_split_stands_down_where_a_limit_is_per_thread(monkeypatch, api, layer, stands_down):
    library = FakeLibrary("/site/scipy.libs/libblas.so", api, layer)
    monkeypatch.setattr(threads, "blas_controller", lambda: FakeController(library))
    monkeypatch.setattr(threads, "_scipy_directories", lambda: SCIPY_DIRS)
    found = threads.scipy_blas_controller.__wrapped__()
    assert (found is None) == stands_down
    if found is not None:
        assert found.lib_controllers == [library]


def test_no_blas_found_means_no_limit_and_one_worker(rng, monkeypatch, split_calls):
    """threadpoolctl sees no BLAS: nothing is limited and the pass runs serially."""
    monkeypatch.setattr(row_split, "scipy_blas_controller", lambda: None)
    assert blas_workers() == 1
    X, Y = rng.standard_normal((5000, 4)), rng.standard_normal((5000, 1))
    before = _blas_counts()
    lower, _ = gram_and_cross(X, Y, block_rows=512, workers=2)
    assert split_calls == [1]
    assert _blas_counts() == before
    assert_allclose(np.tril(lower), np.tril(X.T @ X), rtol=1e-11, atol=1e-9)
    assert blas_threads(None) == 1
    with single_blas_thread(None) as held:
        assert not held
    with single_blas_thread(FakeController()) as held:
        assert not held


# --- single_blas_thread ---------------------------------------------------------------


def test_the_limit_is_taken_and_undone(two_blas_threads):
    with single_blas_thread(blas_controller()) as held:
        assert held
        assert set(_blas_counts().values()) == {1}
    assert _blas_counts() == two_blas_threads


def test_the_limit_is_undone_when_the_block_raises(two_blas_threads):
    with pytest.raises(RuntimeError), single_blas_thread(blas_controller()):
        raise RuntimeError("in the block")
    assert _blas_counts() == two_blas_threads
    assert threads._LOCK.acquire(blocking=False)  # released
    threads._LOCK.release()


def test_nested_limits_in_one_thread(two_blas_threads):
    scipy_only = scipy_blas_controller()
    with single_blas_thread(scipy_only) as outer:
        assert outer and blas_workers() == 1
        with single_blas_thread(blas_controller()) as inner:
            assert inner
            assert set(_blas_counts().values()) == {1}
        # the inner end restores what the outer limit set
        assert blas_workers() == 1
    assert _blas_counts() == two_blas_threads


def test_a_limit_held_by_another_thread_is_left_alone(two_blas_threads, lock_held_elsewhere):
    during = _blas_counts()
    assert set(during.values()) == {1}  # the other thread's limit
    with single_blas_thread(blas_controller()) as held:
        assert not held
        assert _blas_counts() == during
    assert _blas_counts() == during  # not "restored" from under the other thread


def test_interleaved_limits_from_two_threads_restore_the_counts(two_blas_threads):
    """Limit A, limit B, restore A, restore B: without the one lock, B would record
    A's one thread as the original count and put it back at its end."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    held = {}

    def first():
        with single_blas_thread(blas_controller()) as held["first"]:
            first_in.set()
            second_in.wait(30)
        first_out.set()

    def second():
        first_in.wait(30)
        with single_blas_thread(blas_controller()) as held["second"]:
            second_in.set()
            first_out.wait(30)

    runs = [threading.Thread(target=first), threading.Thread(target=second)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert held == {"first": True, "second": False}
    assert _blas_counts() == two_blas_threads


def test_a_limit_that_does_not_take_is_undone_and_releases_the_lock():
    obeying, deaf = FakeLibrary("/a.so"), FakeLibrary("/b.so", obeys=False)
    with single_blas_thread(FakeController(obeying, deaf)) as held:
        assert not held
        assert obeying.threads == 4  # undone before the block
    result = []

    def try_lock():
        result.append(threads._LOCK.acquire(blocking=False))
        if result[-1]:
            threads._LOCK.release()

    other = threading.Thread(target=try_lock)
    other.start()
    other.join()
    assert result == [True]


def test_a_per_thread_limit_is_refused_where_other_threads_must_see_it():
    local = FakeController(FakeLocalLibrary("/per-thread/libblas.so"))
    with single_blas_thread(local) as held:  # enough for work in this thread
        assert held and local.lib_controllers[0].num_threads == 1
    with single_blas_thread(local, across_threads=True) as held:
        assert not held
        assert local.lib_controllers[0].num_threads == 4  # undone before the block
    process_wide = FakeController(FakeLibrary("/process-wide/libblas.so"))
    with single_blas_thread(process_wide, across_threads=True) as held:
        assert held


def test_the_split_runs_serially_under_a_per_thread_limit(rng, monkeypatch, split_calls):
    local = FakeController(FakeLocalLibrary("/per-thread/scipy-blas.so"))
    monkeypatch.setattr(row_split, "scipy_blas_controller", lambda: local)
    assert blas_workers() == 4
    X, Y = _data(rng)
    lower, _ = gram_and_cross(X, Y, block_rows=512)
    assert split_calls == [1]
    assert local.lib_controllers[0].num_threads == 4
    assert_allclose(np.tril(lower), np.tril(X.T @ X), rtol=1e-11, atol=1e-9)


def test_this_scipy_blas_limit_reaches_other_threads(two_blas_threads):
    with single_blas_thread(scipy_blas_controller(), across_threads=True) as held:
        assert held
        seen = []
        probe = threading.Thread(target=lambda: seen.append(blas_workers()))
        probe.start()
        probe.join()
        assert seen == [1]
    assert _blas_counts() == two_blas_threads


def test_another_thread_controlling_openblas_is_detected(two_blas_threads):
    """While another thread holds a threadpoolctl limit of its own, threadpoolctl
    (3.6+) ignores OpenBLAS limits from other threads: the limit is reported as not
    held, and the pass would run serially, rather than split at two threads each."""
    taken, done = threading.Event(), threading.Event()

    def control():
        with threadpool_limits(limits=2, user_api="blas"):
            taken.set()
            done.wait(30)

    holder = threading.Thread(target=control)
    holder.start()
    assert taken.wait(30)
    ignores_others = hasattr(threadpoolctl.OpenBLASController, "clear_controlling_thread")
    try:
        with single_blas_thread(scipy_blas_controller()) as held:
            assert held is not ignores_others
            assert blas_workers() == (1 if held else 2)
        assert _blas_counts() == two_blas_threads
    finally:
        done.set()
        holder.join()


# --- The split pass's paths ------------------------------------------------------------


def _data(rng, n=5000, p=4):
    return rng.standard_normal((n, p)), rng.standard_normal((n, 1))


def test_split_takes_the_limit(rng, two_blas_threads, split_calls, limit_calls):
    X, Y = _data(rng)
    lower, cross = gram_and_cross(X, Y, block_rows=512)
    assert split_calls == [2] and limit_calls["split"] == [True]
    assert _blas_counts() == two_blas_threads
    assert_allclose(np.tril(lower), np.tril(X.T @ X), rtol=1e-11, atol=1e-9)


def test_split_with_the_lock_busy_runs_serially(
    rng, two_blas_threads, lock_held_elsewhere, split_calls
):
    X, Y = _data(rng)
    during = _blas_counts()
    lower, cross = gram_and_cross(X, Y, block_rows=512, workers=2)
    assert split_calls == [1]
    assert _blas_counts() == during
    assert_allclose(np.tril(lower), np.tril(X.T @ X), rtol=1e-11, atol=1e-9)
    assert_allclose(cross[:, :1], X.T @ Y, rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("how", ["workers=1", "threadpool_limits(1)"])
def test_one_worker_takes_no_limit(rng, two_blas_threads, split_calls, limit_calls, how):
    X, Y = _data(rng)
    if how == "workers=1":
        gram_and_cross(X, Y, block_rows=512, workers=1)
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            assert blas_workers() == 1
            gram_and_cross(X, Y, block_rows=512)
    assert split_calls == [1] and limit_calls["split"] == []
    assert _blas_counts() == two_blas_threads


def test_openblas_num_threads_one_makes_the_pass_serial(tmp_path):
    """The environment variable, read by OpenBLAS at load time, in a fresh process."""
    code = """
import numpy as np
import l2reg._row_split as rs
seen = []
real = rs._split_pass
rs._split_pass = lambda *a: seen.append(a[-1]) or real(*a)
rs.single_blas_thread = None  # taking a limit would fail
X = np.random.default_rng(0).standard_normal((5000, 4))
rs.gram_and_cross(X, X[:, :1], block_rows=512)
print(rs.blas_workers(), seen)
"""
    import os

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "[1]"]


def test_scope_keeps_the_limit_to_its_end(rng, two_blas_threads, split_calls):
    X, Y = _data(rng, p=4)
    with single_threaded_after_split(max_features=4):
        gram_and_cross(X, Y, block_rows=512)
        assert blas_workers() == 1
        with single_threaded_after_split(max_features=1):  # nested: the outer one rules
            gram_and_cross(X, Y, block_rows=512)
        assert blas_workers() == 1
    assert split_calls == [2, 2]
    assert _blas_counts() == two_blas_threads


def test_scope_with_the_lock_busy_runs_serially_and_touches_nothing(
    rng, two_blas_threads, split_calls
):
    X, Y = _data(rng)
    taken, done = threading.Event(), threading.Event()

    def hold():
        with single_blas_thread(blas_controller()):
            taken.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(30)
    with single_threaded_after_split():
        gram_and_cross(X, Y, block_rows=512, workers=2)
        during = _blas_counts()
        done.set()
        holder.join()  # the other limit ends: the next pass of the scope may split
        assert _blas_counts() == two_blas_threads
        gram_and_cross(X, Y, block_rows=512, workers=2)
        assert blas_workers() == 1
    assert set(during.values()) == {1}  # the other thread's limit, left alone
    assert split_calls == [1, 2]
    assert _blas_counts() == two_blas_threads


def test_a_wide_pass_ends_its_limit_with_the_pass(rng, two_blas_threads, split_calls):
    """Above max_features the Cholesky that follows keeps its threads."""
    X, Y = _data(rng, p=4)
    with single_threaded_after_split(max_features=3):
        gram_and_cross(X, Y, block_rows=512)
        assert split_calls == [2]
        assert _blas_counts() == two_blas_threads
    assert _blas_counts() == two_blas_threads


@pytest.mark.parametrize(("max_features", "after_pass"), [(6, 1), (5, 2)])
def test_ridge_keeps_one_thread_after_the_pass_only_for_a_narrow_x(
    rng, two_blas_threads, monkeypatch, max_features, after_pass
):
    """In a Ridge fit of 6 columns, BLAS stays at one thread from the split pass on
    (for the Cholesky) when 6 <= SCOPE_MAX_FEATURES, and gets its threads back otherwise."""
    import l2reg.objective.gram as gram

    seen = []
    real_pass = gram.gram_and_cross

    def spy(*args, **kwargs):
        products = real_pass(*args, **kwargs)
        seen.append(blas_workers())
        return products

    monkeypatch.setattr(gram, "gram_and_cross", spy)
    monkeypatch.setattr(row_split, "SCOPE_MAX_FEATURES", max_features)
    X = rng.standard_normal((6000, 6))
    Ridge(alpha=0.1).fit(X, X @ np.arange(6.0))
    assert seen == [after_pass]
    assert _blas_counts() == two_blas_threads


# --- Two fits in two Python threads ------------------------------------------------------


def test_concurrent_fits_agree_and_leave_blas_threads_as_they_were(
    rng, two_blas_threads, split_calls, limit_calls
):
    """Ridge (split pass inside the solver's scope) and RidgeCV (split pass, then an
    eigh under the limit) from three Python threads, many times over."""
    from concurrent.futures import ThreadPoolExecutor

    X = rng.standard_normal((20_000, 12))
    y = X @ rng.standard_normal(12) + rng.standard_normal(20_000)
    X_cv, y_cv = X[:4000], y[:4000]
    alphas = np.logspace(-4, 1, 7)
    reference_ridge = Ridge(alpha=0.1).fit(X, y)
    reference_cv = RidgeCV(alphas=alphas).fit(X_cv, y_cv)
    del split_calls[:], limit_calls["split"][:], limit_calls["eigh"][:]

    def ridge(_):
        model = Ridge(alpha=0.1).fit(X, y)
        return model.coef_, model.intercept_

    def ridge_cv(_):
        model = RidgeCV(alphas=alphas).fit(X_cv, y_cv)
        return model.alpha_, model.coef_

    with ThreadPoolExecutor(3) as pool:
        ridge_runs = [pool.submit(ridge, i) for i in range(20)]
        cv_runs = [pool.submit(ridge_cv, i) for i in range(20)]
        ridge_results = [run.result() for run in ridge_runs]
        cv_results = [run.result() for run in cv_runs]
    assert _blas_counts() == two_blas_threads
    for coef, intercept in ridge_results:
        assert_allclose(coef, reference_ridge.coef_, rtol=REORDERED_FIT)
        assert_allclose(intercept, reference_ridge.intercept_, rtol=REORDERED_FIT)
    for alpha, coef in cv_results:
        assert alpha == reference_cv.alpha_
        assert_allclose(coef, reference_cv.coef_, rtol=REORDERED_FIT)
    # Both kinds of limit were taken from the pool's threads, and passes split.
    assert True in limit_calls["split"] and True in limit_calls["eigh"]
    assert 2 in split_calls
