"""Model files: bit-for-bit round trips, and refusals that never execute anything."""

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import l2reg
from l2reg import ModelFileError, Ridge, load, save


def _fitted_models(rng):
    X = rng.standard_normal((40, 4))
    y = X @ [1.0, -1.0, 0.5, 0.0] + rng.standard_normal(40)
    Y = np.column_stack([y, 2 * y + 1])
    return [
        (Ridge(alpha=0.1).fit(X, y), X),
        (Ridge(alpha=[0.1, 1.0], penalize_intercept=True).fit(X, Y), X),
        (Ridge(alpha=0.0, fit_intercept=False).fit(X, y), X),
    ]


def test_round_trip_predicts_identically(rng, tmp_path):
    for index, (model, X) in enumerate(_fitted_models(rng)):
        path = save(model, tmp_path / f"m{index}.l2reg")
        loaded = load(path)
        assert type(loaded) is type(model)
        assert repr(loaded) == repr(model)
        assert np.array_equal(loaded.predict(X), model.predict(X))  # bit for bit
        assert loaded.solver_ == model.solver_
        assert loaded.certificate_ == model.certificate_
        np.testing.assert_array_equal(np.asarray(loaded.alpha), np.asarray(model.alpha))


def test_feature_names_survive(tmp_path, rng):
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(rng.standard_normal((20, 2)), columns=["height", "weight"])
    model = Ridge().fit(frame, rng.standard_normal(20))
    loaded = load(save(model, tmp_path / "named.l2reg"))
    assert list(loaded.feature_names_in_) == ["height", "weight"]
    assert np.array_equal(loaded.predict(frame), model.predict(frame))


def test_metadata_records_version_and_convention(tmp_path, rng):
    model, _ = _fitted_models(rng)[0]
    path = save(model, tmp_path / "m.l2reg")
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["l2reg_version"] == l2reg.__version__
    assert metadata["objective"] == l2reg.conventions.OBJECTIVE
    assert metadata["format_version"] == 1 and metadata["class"] == "Ridge"


def test_unfitted_or_foreign_objects_are_not_saved(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import Ridge as SklearnRidge

    with pytest.raises(NotFittedError):
        save(Ridge(), tmp_path / "x.l2reg")
    with pytest.raises(TypeError, match="fitted l2reg estimator"):
        save(SklearnRidge(), tmp_path / "x.l2reg")


def _rewrite(path, target, *, metadata=None, drop=(), replace=None, compression=0):
    """Copy the model file at ``path`` to ``target`` with changes (stored, by default)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", compression) as out:
        for item in source.namelist():
            if item in drop:
                continue
            data = source.read(item)
            if item == "metadata.json" and metadata is not None:
                data = json.dumps(metadata(json.loads(data))).encode()
            if replace and item in replace:
                data = replace[item]
            out.writestr(item, data)
    return target


class _WritesAFile:
    """Unpickling this creates a file: the test asserts it never exists."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def saved(rng, tmp_path):
    model, _ = _fitted_models(rng)[1]
    return save(model, tmp_path / "good.l2reg")


def test_malicious_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.l2reg"
    path.write_bytes(pickle.dumps(_WritesAFile(str(marker))))
    with pytest.raises(ModelFileError, match="not an l2reg model file"):
        load(path)
    assert not marker.exists()


def test_pickled_object_array_inside_the_archive_is_refused(saved, tmp_path):
    marker = tmp_path / "pwned"
    evil = np.array([_WritesAFile(str(marker))], dtype=object)
    buffer = __import__("io").BytesIO()
    np.save(buffer, evil, allow_pickle=True)
    target = _rewrite(saved, tmp_path / "evil.l2reg", replace={"arrays/0.npy": buffer.getvalue()})
    with pytest.raises(ModelFileError, match="object arrays are never read"):
        load(target)
    assert not marker.exists()


def test_truncated_and_corrupt_files(saved, tmp_path):
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.l2reg"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load(truncated)
    garbage = tmp_path / "garbage.l2reg"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelFileError, match="not an l2reg model file"):
        load(garbage)
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "missing.l2reg")
    corrupt_json = _rewrite(saved, tmp_path / "json.l2reg", replace={"metadata.json": b"{nope"})
    with pytest.raises(ModelFileError, match="corrupt"):
        load(corrupt_json)
    missing_array = _rewrite(saved, tmp_path / "noarray.l2reg", drop=("arrays/0.npy",))
    with pytest.raises(ModelFileError, match="missing"):
        load(missing_array)


def test_future_format_version_is_refused(saved, tmp_path):
    future = _rewrite(
        saved, tmp_path / "future.l2reg", metadata=lambda m: {**m, "format_version": 99}
    )
    with pytest.raises(ModelFileError, match="format 99.*Upgrade l2reg"):
        load(future)


def test_unknown_class_and_parameters_are_refused(saved, tmp_path):
    other = _rewrite(
        saved, tmp_path / "class.l2reg", metadata=lambda m: {**m, "class": "os.system"}
    )
    with pytest.raises(ModelFileError, match="unknown estimator class"):
        load(other)
    params = _rewrite(
        saved,
        tmp_path / "params.l2reg",
        metadata=lambda m: {**m, "params": {**m["params"], "evil": 1}},
    )
    with pytest.raises(ModelFileError, match="unknown parameter"):
        load(params)


def test_arrays_of_the_wrong_shape_are_refused(saved, tmp_path):
    buffer = __import__("io").BytesIO()
    np.save(buffer, np.zeros((2, 7)))
    with zipfile.ZipFile(saved) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    key = metadata["attributes"]["coef_"]["__array__"]
    target = _rewrite(saved, tmp_path / "shape.l2reg", replace={key: buffer.getvalue()})
    with pytest.raises(ModelFileError, match=r"coef_: has shape \(2, 7\); expected \(n, 4\)"):
        load(target)


def test_save_refuses_arrays_load_would_refuse(saved, tmp_path):
    model = load(saved)
    model.coef_ = model.coef_.astype(np.float16)
    with pytest.raises(TypeError, match="coef_.*not float32 or float64"):
        save(model, tmp_path / "half.l2reg")


def test_failed_save_leaves_existing_file_intact(saved, tmp_path):
    before = saved.read_bytes()
    model = load(saved)
    model.coef_ = object()  # not saveable
    with pytest.raises(TypeError):
        save(model, saved)
    assert saved.read_bytes() == before
    assert not list(tmp_path.glob(".l2reg-*"))


def _every_estimator(rng):
    """Every public l2reg estimator, fitted on data of its kind."""
    X = rng.standard_normal((60, 3))
    y = X @ [1.0, -1.0, 0.5] + 0.3 * rng.standard_normal(60)
    labels = np.where(y > 0, "up", "down")
    three = np.array(["a", "b", "c"])[np.digitize(y, [-0.5, 0.5])]
    counts = rng.poisson(np.exp(0.3 * X[:, 0]))
    return [
        (l2reg.Ridge(alpha=0.1), X, y),
        (l2reg.ElasticNet(alpha=0.05, penalty_factor=[1.0, 0.0, 2.0]), X, y),
        (l2reg.ElasticNetCV(l1_ratio=[0.5, 1.0], n_alphas=8, cv=3), X, y),
        (l2reg.ElasticNetCV(n_alphas=8, penalty_factor=[1.0, 0.0, 2.0]), X, y),
        (l2reg.MultiTaskElasticNet(alpha=0.05), X, np.column_stack([y, -y])),
        (l2reg.RidgeCV(), X, y),
        (l2reg.RidgeCV(cv=3, alpha_per_target=True), X, np.column_stack([y, -y])),
        (l2reg.LogisticRegression(alpha=0.01), X, labels),
        (l2reg.LogisticRegression(alpha=0.01), X, three),
        (l2reg.PoissonRegression(alpha=0.01), X, counts),
        (l2reg.LogisticRegressionCV(cv=3), X, labels),
        (l2reg.PoissonRegressionCV(cv="alo"), X, counts),
    ]


def _attributes_equal(a, b) -> bool:
    """Fitted values equal exactly, NaN included (cv_results_ holds NaN standard errors)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind in "fc":
            return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
        return a.shape == b.shape and bool(np.all(a == b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_attributes_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


def test_every_estimator_round_trips_bit_for_bit(rng, tmp_path):
    saveable = {type(e).__name__ for e, _, _ in _every_estimator(rng)}
    public = {
        name
        for name in l2reg.__all__
        if isinstance(getattr(l2reg, name), type) and hasattr(getattr(l2reg, name), "fit")
    }
    assert public <= saveable, f"add {public - saveable} to this test"
    for index, (estimator, X, y) in enumerate(_every_estimator(rng)):
        model = estimator.fit(X, y)
        loaded = load(save(model, tmp_path / f"{index}.l2reg"))
        name = type(model).__name__
        assert np.array_equal(loaded.predict(X), model.predict(X)), name
        if hasattr(model, "predict_proba"):
            assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
        fitted = {k: v for k, v in vars(model).items() if k.endswith("_")}
        assert fitted.keys() == {k for k in vars(loaded) if k.endswith("_")}, name
        for key, value in fitted.items():
            assert _attributes_equal(getattr(loaded, key), value), f"{name}.{key}"


def test_tabular_model_round_trips_bit_for_bit(rng, tmp_path):
    pandas = pytest.importorskip("pandas")
    from l2reg.preprocessing import TabularModel, TabularPreprocessor

    frame = pandas.DataFrame(
        {
            "size": rng.uniform(50, 200, 40),
            "city": rng.choice(["Lyon", "Nice"], 40),
            "price": rng.standard_normal(40),
        }
    )
    model = TabularModel(TabularPreprocessor(standardize=True), target="price").fit(frame)
    loaded = load(save(model, tmp_path / "tabular.l2reg"))
    assert np.array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.feature_names_ == model.feature_names_


# The golden file's predictions were computed when it was written, perhaps by another
# BLAS or CPU: a dot product x . coef + b of p + 1 terms evaluated in float64 in any
# order is within gamma_{p+1} * (|x| . |coef| + |b|) of the exact value (Higham,
# "Accuracy and Stability of Numerical Algorithms", 2nd ed., eq. 3.5; gamma_n =
# n u / (1 - n u), u = eps / 2), so two such evaluations from the same coefficients
# differ by at most twice that.  A wrong coefficient, intercept or feature order
# moves the prediction by far more.
def _dot_product_bound(X, coef, intercept):
    n_terms = X.shape[1] + 1
    u = np.finfo(np.float64).eps / 2
    gamma = n_terms * u / (1 - n_terms * u)
    return 2 * gamma * (np.abs(X) @ np.abs(coef) + np.abs(intercept))


def test_committed_format_1_file_still_loads():
    """Golden file written by l2reg 0.1 (tests/reference/make_model_v1.py)."""
    reference = Path(__file__).parent / "reference"
    expected = json.loads((reference / "model_v1.json").read_text())
    model = load(reference / "model_v1.l2reg")
    assert type(model) is Ridge and model.alpha == 0.05 and model.n_features_in_ == 3
    probe = np.array(expected["probe"])
    stored = np.array([float.fromhex(v) for v in expected["predictions"]])
    bound = _dot_product_bound(probe, model.coef_, model.intercept_)
    assert np.all(np.abs(model.predict(probe) - stored) <= bound)
    # The bound is tight enough to see a one-ulp change of one coefficient's scale.
    nudged = model.coef_ * (1 + 64 * np.finfo(np.float64).eps)
    assert np.any(np.abs(probe @ nudged + model.intercept_ - stored) > bound)


# --- tampered files: a loaded model is a model fit could have made -------------------


def _metadata_edit(saved, tmp_path, edit, name="tampered.l2reg"):
    def change(metadata):
        edit(metadata)
        return metadata

    return _rewrite(saved, tmp_path / name, metadata=change)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m["params"].update(alpha={"__float__": "-1.0"}), r"params: .*'alpha'"),
        (lambda m: m["params"].update(solver="bogus"), r"params: .*'solver'"),
        (lambda m: m["params"].update(fit_intercept=False), r"penalize_intercept=True requires"),
        (lambda m: m["params"].update(fit_intercept=1), r"params: .*'fit_intercept'"),
        (lambda m: m["attributes"].update(n_features_in_=0), r"n_features_in_: must be a pos"),
        (lambda m: m["attributes"].update(n_features_in_=True), r"n_features_in_: must be a pos"),
        (lambda m: m["attributes"].update(intercept_="1"), r"intercept_: must be a float"),
        (lambda m: m["attributes"].update(intercept_=10**400), r"intercept_: must be a float"),
        (lambda m: m["attributes"].update(solver_="rm -rf"), r"solver_: must name a solver"),
        (lambda m: m["attributes"].update(n_iter_=-3), r"n_iter_: must be None or"),
        (lambda m: m["attributes"].update(extra_=1), r"unknown fitted attribute.*extra_"),
        (lambda m: m["attributes"].pop("coef_"), r"lacks fitted attribute.*coef_"),
        (
            lambda m: m["attributes"]["certificate_"]["fields"].update(
                gradient_norm={"__float__": "-1.0"}
            ),
            r"certificate_.gradient_norm: must be a real number >= 0",
        ),
        (
            lambda m: m["attributes"]["certificate_"]["fields"].pop("computed_from"),
            r"certificate_: malformed Certificate",
        ),
        (
            lambda m: m["attributes"]["certificate_"]["fields"].update(evil=1),
            r"certificate_: a Certificate has the fields",
        ),
        (lambda m: m["attributes"].update(coef_={"__float__": "1.0"}), r"coef_: must be a float"),
        (lambda m: m["attributes"].update(coef_=[1, 2, 3, 4]), r"coef_: must be a float"),
        (lambda m: m.update(l2reg_version=1), r"l2reg_version: must be a string"),
        (lambda m: m.update(objective=["x"]), r"objective: must be a string"),
        (lambda m: m.update(format_version=True), r"invalid format version"),
        (lambda m: m.update(attributes=[]), r"attributes: must be a mapping"),
        (lambda m: m.update(attributes={}), r"attributes: none: the model in the file is not"),
        (lambda m: m["params"].update(alpha={"__float__": None}), r"float must be written"),
        (lambda m: m["params"].update(alpha={"__float__": "one"}), r"'one' is not a float"),
        (lambda m: m["params"].update(alpha=0.5), r"unexpected value 0.5"),
        (lambda m: m["params"].update(alpha={"__tuple__": 1}), r"a tuple must be a list"),
        (lambda m: m["params"].update(alpha={"__dict__": [1]}), r"a mapping must be an object"),
        (
            lambda m: m["attributes"]["coef_"].update(kind="pickle"),
            r"unknown array kind 'pickle'",
        ),
        (
            lambda m: m["attributes"]["coef_"].update(__array__="../../etc/passwd"),
            r"bad array reference",
        ),
        (
            lambda m: m["attributes"].update(intercept_=m["attributes"]["coef_"]),
            r"referenced twice",
        ),
    ],
)
def test_tampered_metadata_is_refused(saved, tmp_path, edit, match):
    """The saved model here is a 2-target Ridge with penalize_intercept=True."""
    with pytest.raises(ModelFileError, match=match) as caught:
        load(_metadata_edit(saved, tmp_path, edit))
    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize("intercept", [10**400, {"__float__": "inf"}, {"__float__": "nan"}])
def test_single_target_intercept_must_be_a_finite_float(rng, tmp_path, intercept):
    X = rng.standard_normal((20, 3))
    path = save(Ridge().fit(X, X[:, 0]), tmp_path / "m.l2reg")
    edit = lambda m: m["attributes"].update(intercept_=intercept)  # noqa: E731
    with pytest.raises(ModelFileError, match="intercept_: must be a finite real number"):
        load(_metadata_edit(path, tmp_path, edit))


def _replace_array(path, target, attribute, array, **kwargs):
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    node = metadata["attributes"]
    for key in attribute.split("/"):
        node = node[key]
    buffer = __import__("io").BytesIO()
    np.save(buffer, array, **kwargs)
    return _rewrite(path, target, replace={node["__array__"]: buffer.getvalue()})


@pytest.mark.parametrize(
    ("attribute", "array", "match"),
    [
        ("coef_", np.full((2, 4), np.nan), r"coef_: holds NaN or infinity"),
        ("coef_", np.zeros((2, 4), dtype=np.float16), r"not float32 or float64"),
        ("coef_", np.zeros((2, 4), dtype=np.int64), r"coef_: must be a float array"),
        ("coef_", np.array(["a", "b"]), r"coef_: must be a float array"),
        ("coef_", np.zeros((2, 4), dtype=complex), r"not a number, boolean or string"),
        ("coef_", np.zeros(2, dtype=[("a", "f8")]), r"structured dtype"),
        ("intercept_", np.zeros(3), r"intercept_: has shape \(3,\); expected \(2,\)"),
    ],
)
def test_tampered_arrays_are_refused(saved, tmp_path, attribute, array, match):
    with pytest.raises(ModelFileError, match=match):
        load(_replace_array(saved, tmp_path / "bad.l2reg", attribute, array))


def test_tampered_classifier_and_selection_attributes_are_refused(rng, tmp_path):
    X = rng.standard_normal((40, 3))
    labels = np.where(X[:, 0] > 0, "b", "a")
    path = save(l2reg.LogisticRegressionCV(alphas=4, cv=3).fit(X, labels), tmp_path / "m.l2reg")
    unsorted = _replace_array(path, tmp_path / "c.l2reg", "classes_", np.array(["b", "a"]))
    with pytest.raises(ModelFileError, match="classes_: must be sorted and distinct"):
        load(unsorted)
    three = _replace_array(path, tmp_path / "t.l2reg", "classes_", np.array(["a", "b", "c"]))
    with pytest.raises(ModelFileError, match=r"coef_: has shape \(1, 3\); expected \(3, 3\)"):
        load(three)
    negative = _replace_array(path, tmp_path / "a.l2reg", "alphas_", -np.ones(4))
    with pytest.raises(ModelFileError, match="alphas_: must be > 0"):
        load(negative)
    chosen = _rewrite(
        path,
        tmp_path / "alpha.l2reg",
        metadata=lambda m: {
            **m,
            "attributes": {**m["attributes"], "alpha_": {"__float__": "0.123"}},
        },
    )
    with pytest.raises(ModelFileError, match="alpha_: is not one of the alphas"):
        load(chosen)
    tol = _rewrite(
        path,
        tmp_path / "tol.l2reg",
        metadata=lambda m: {**m, "params": {**m["params"], "tol": {"__float__": "0.0"}}},
    )
    with pytest.raises(ModelFileError, match=r"params: LogisticRegressionCV: 'tol' must be"):
        load(tol)


def test_tampered_composite_model_is_refused(rng, tmp_path):
    pandas = pytest.importorskip("pandas")
    from l2reg.preprocessing import TabularModel, TabularPreprocessor

    frame = pandas.DataFrame({"a": rng.standard_normal(30), "y": rng.standard_normal(30)})
    path = save(
        TabularModel(TabularPreprocessor(standardize=True), target="y").fit(frame),
        tmp_path / "m.l2reg",
    )
    negative = _replace_array(
        path, tmp_path / "s.l2reg", "preprocessor_/__estimator__/attributes/scale_", -np.ones(1)
    )
    with pytest.raises(ModelFileError, match=r"preprocessor_.scale_: must be > 0"):
        load(negative)

    def inner_alpha(metadata):
        inner = metadata["attributes"]["estimator_"]["__estimator__"]
        inner["params"]["alphas"] = [{"__float__": "-1.0"}]
        return metadata

    with pytest.raises(ModelFileError, match=r"estimator_.params: RidgeCV: every alpha"):
        load(_rewrite(path, tmp_path / "a.l2reg", metadata=inner_alpha))


# --- hostile archives: refused before anything large is read or allocated ------------


def _measure(call):
    """(exception raised, seconds, peak bytes traced) of ``call()``."""
    import time
    import tracemalloc

    tracemalloc.start()
    start = time.perf_counter()
    try:
        call()
    except Exception as error:  # noqa: BLE001 - returned for the caller to check
        caught = error
    else:
        caught = None
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return caught, elapsed, peak


# The issue's bound for refusing a hostile file: under 2 s and 200 MB.
REFUSAL_SECONDS = 2.0
REFUSAL_BYTES = 200 * 2**20


def _npy_header(shape, descr="<f8") -> bytes:
    buffer = __import__("io").BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def test_header_claiming_a_huge_array_is_refused_without_allocating(rng, tmp_path):
    X = rng.standard_normal((20, 3))
    path = save(Ridge().fit(X, X[:, 0]), tmp_path / "m.l2reg")
    hostile = _rewrite(
        path,
        tmp_path / "hostile.l2reg",
        replace={"arrays/0.npy": _npy_header((10**11,))},
        compression=zipfile.ZIP_DEFLATED,
    )
    assert hostile.stat().st_size < 1000
    error, seconds, peak = _measure(lambda: load(hostile))
    assert isinstance(error, ModelFileError), error
    assert "header claims shape (100000000000,)" in str(error)
    assert seconds < REFUSAL_SECONDS and peak < REFUSAL_BYTES


def test_npy_header_claiming_a_huge_header_is_refused_unread(rng, tmp_path):
    import struct

    X = rng.standard_normal((20, 3))
    path = save(Ridge().fit(X, X[:, 0]), tmp_path / "m.l2reg")
    # Format 2.0 stores the header's length in 4 bytes: numpy would read all of it
    # before comparing it with its limit.
    claim = np.lib.format.magic(2, 0) + struct.pack("<I", 2**32 - 1) + rng.bytes(2**21)
    hostile = _rewrite(
        path,
        tmp_path / "hostile.l2reg",
        replace={"arrays/0.npy": claim},
        compression=zipfile.ZIP_DEFLATED,
    )
    error, seconds, peak = _measure(lambda: load(hostile))
    assert isinstance(error, ModelFileError), error
    assert "header of 4294967295 bytes is implausibly long" in str(error)
    assert seconds < REFUSAL_SECONDS and peak < 2**20


def _bomb(path, target, *, n_elements, n_features_in):
    """A Ridge file whose coef_ member inflates to ``8 * n_elements`` bytes of zeros."""
    with zipfile.ZipFile(path) as source:
        metadata = json.loads(source.read("metadata.json"))
    metadata["attributes"]["n_features_in_"] = n_features_in
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("metadata.json", json.dumps(metadata))
        with out.open("arrays/0.npy", "w", force_zip64=True) as member:
            member.write(_npy_header((n_elements,)))
            zeros = bytes(2**24)
            for _ in range(8 * n_elements // len(zeros)):
                member.write(zeros)
    return target


# 256 MiB of zeros deflate to ~250 kB: a bomb of the issue's ratio (2 GB from 2.1 MB),
# small enough to build in a test.  Neither refusal below reads the member's data, so
# the time and memory they take do not grow with its size.
BOMB_ELEMENTS = 2**25


def test_inflation_bomb_that_contradicts_the_model_is_refused_from_its_header(
    rng, tmp_path, monkeypatch
):
    import l2reg._model_file

    X = rng.standard_normal((20, 3))
    path = save(Ridge().fit(X, X[:, 0]), tmp_path / "m.l2reg")
    bomb = _bomb(path, tmp_path / "bomb.l2reg", n_elements=BOMB_ELEMENTS, n_features_in=3)
    assert bomb.stat().st_size < 2**20
    # Without the compression-ratio guard, the header check alone must refuse it.
    monkeypatch.setattr(l2reg._model_file, "MAX_COMPRESSION_RATIO", float("inf"))
    error, seconds, peak = _measure(lambda: load(bomb))
    assert isinstance(error, ModelFileError), error
    assert f"coef_: has shape ({BOMB_ELEMENTS},); expected (3,)" in str(error)
    assert seconds < REFUSAL_SECONDS and peak < REFUSAL_BYTES


def test_inflation_bomb_consistent_with_its_metadata_is_refused_unread(rng, tmp_path):
    X = rng.standard_normal((20, 3))
    path = save(Ridge().fit(X, X[:, 0]), tmp_path / "m.l2reg")
    bomb = _bomb(
        path, tmp_path / "bomb.l2reg", n_elements=BOMB_ELEMENTS, n_features_in=BOMB_ELEMENTS
    )
    error, seconds, peak = _measure(lambda: load(bomb))
    assert isinstance(error, ModelFileError), error
    assert "the shape of a zip bomb" in str(error)
    assert seconds < REFUSAL_SECONDS and peak < REFUSAL_BYTES
    assert isinstance(_measure(lambda: l2reg.io.read_metadata(bomb))[0], ModelFileError)


def _patch_central_size(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size the central directory declares for ``name``."""
    import struct

    entry = data.index(b"PK\x01\x02")
    while data[entry + 46 : entry + 46 + len(name)] != name:
        entry = data.index(b"PK\x01\x02", entry + 4)
    return data[: entry + 24] + struct.pack("<I", size) + data[entry + 28 :]


def test_member_inflating_past_its_declared_size_is_refused(rng, tmp_path):
    X = rng.standard_normal((20, 3))
    path = save(Ridge().fit(X, X[:, 0]), tmp_path / "m.l2reg")
    honest = _npy_header((3,)) + bytes(24)
    longer = _rewrite(
        path,
        tmp_path / "long.l2reg",
        replace={"arrays/0.npy": honest + bytes(64)},
        compression=zipfile.ZIP_DEFLATED,
    )
    lying = tmp_path / "lying.l2reg"
    lying.write_bytes(_patch_central_size(longer.read_bytes(), b"arrays/0.npy", len(honest)))
    with pytest.raises(ModelFileError, match=r"Bad CRC|more data"):
        load(lying)
    short = tmp_path / "short.l2reg"
    short.write_bytes(_patch_central_size(longer.read_bytes(), b"arrays/0.npy", 10**6))
    with pytest.raises(ModelFileError, match="header claims shape"):
        load(short)


@pytest.mark.parametrize(("method", "name"), [(zipfile.ZIP_BZIP2, "12"), (zipfile.ZIP_LZMA, "14")])
def test_other_compression_methods_are_refused(saved, tmp_path, method, name):
    target = tmp_path / "other.l2reg"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(target, "w", method) as out:
        for item in source.namelist():
            out.writestr(item, source.read(item))
    for reader in (load, l2reg.io.read_metadata):
        with pytest.raises(ModelFileError, match=f"compression method {name}; model files"):
            reader(target)


def test_stored_archive_loads_identically(rng, saved, tmp_path):
    target = tmp_path / "stored.l2reg"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.namelist():
            out.writestr(item, source.read(item))
    X = rng.standard_normal((5, 4))
    assert np.array_equal(load(target).predict(X), load(saved).predict(X))


def test_flood_of_members_is_refused_before_zipfile_reads_them(saved, tmp_path):
    import l2reg._model_file

    flood = tmp_path / "flood.l2reg"
    with zipfile.ZipFile(flood, "w") as archive:
        for index in range(l2reg._model_file.MAX_MEMBERS + 1):
            archive.writestr(f"arrays/{index}.npy", b"")
    with pytest.raises(ModelFileError, match=r"declares 4097 members in a central directory"):
        load(flood)
    # A ZIP64 end record declaring 10**9 entries: zipfile would try to read them all.
    import struct

    data = saved.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    directory_bytes, directory_offset = struct.unpack("<II", data[end + 12 : end + 20])
    record = b"PK\x06\x06" + struct.pack(
        "<QHHIIQQQQ", 44, 45, 45, 0, 0, 10**9, 10**9, directory_bytes, directory_offset
    )
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, end, 1)
    patched = data[: end + 8] + struct.pack("<HH", 0xFFFF, 0xFFFF) + data[end + 12 :]
    zip64 = tmp_path / "zip64.l2reg"
    zip64.write_bytes(data[:end] + record + locator + patched[end:])
    with pytest.raises(ModelFileError, match=r"declares 1000000000 members"):
        load(zip64)


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def test_archive_structure_attacks_are_refused(saved, tmp_path):
    extra = _rewrite(saved, tmp_path / "extra.l2reg", replace={})
    with zipfile.ZipFile(extra, "a") as archive:
        archive.writestr("arrays/99.npy", b"")
    with pytest.raises(ModelFileError, match=r"no part of the model refers to: \['arrays/99"):
        load(extra)
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(extra, "a") as archive:
            archive.writestr("arrays/99.npy", b"")
    with pytest.raises(ModelFileError, match="duplicated member name"):
        load(extra)
    deep = _metadata_edit(
        saved,
        tmp_path,
        lambda m: m["params"].update(alpha=_nested(40)),
        name="deep.l2reg",
    )
    with pytest.raises(ModelFileError, match="nested more than"):
        load(deep)
    very_deep = _rewrite(
        saved, tmp_path / "very.l2reg", replace={"metadata.json": b"[" * 10**6 + b"]" * 10**6}
    )
    for reader in (load, l2reg.io.read_metadata):
        with pytest.raises(ModelFileError):
            reader(very_deep)
