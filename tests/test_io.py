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


def _rewrite(path, target, *, metadata=None, drop=(), replace=None):
    """Copy the model file at ``path`` to ``target`` with changes."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
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
        (l2reg.RidgeCV(), X, y),
        (l2reg.RidgeCV(cv=3, alpha_per_target=True), X, np.column_stack([y, -y])),
        (l2reg.LogisticRegression(alpha=0.01), X, labels),
        (l2reg.LogisticRegression(alpha=0.01), X, three),
        (l2reg.PoissonRegression(alpha=0.01), X, counts),
        (l2reg.LogisticRegressionCV(cv=3), X, labels),
        (l2reg.PoissonRegressionCV(cv="alo"), X, counts),
    ]


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
        assert np.array_equal(loaded.predict(X), model.predict(X)), type(model).__name__
        if hasattr(model, "predict_proba"):
            assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_committed_format_1_file_still_loads():
    """Golden file written by l2reg 0.1 (tests/reference/make_model_v1.py): bit-for-bit."""
    reference = Path(__file__).parent / "reference"
    expected = json.loads((reference / "model_v1.json").read_text())
    model = load(reference / "model_v1.l2reg")
    predictions = model.predict(np.array(expected["probe"]))
    assert [float(v).hex() for v in predictions] == expected["predictions"]
