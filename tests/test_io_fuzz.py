"""Seeded mutation of saved model files: every outcome is a valid model or a ModelFileError.

Each public estimator class that :mod:`l2reg.io` saves is fitted, saved, and its
file mutated the ways a flaky disk or an attacker would: bytes flipped, the file
truncated, a metadata field replaced by ``null``, ``-1``, a string, ``1e308``, a
list or an object, an array replaced by an object (pickled) array, a text array,
another shape or garbage, the archive re-packed with bzip2 or lzma (or stored).
A mutated file must either load as a model that predicts without error, or
raise :class:`l2reg.ModelFileError`; any other exception type fails the test.

The normal run makes :data:`SHORT_RUN` mutations per class (a few seconds in
all).  ``L2REG_FUZZ=1`` makes :data:`LONG_RUN` per class; the run prints its
counts (``pytest -s``).
"""

import io
import json
import os
import warnings
import zipfile
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import l2reg
from l2reg import ModelFileError, load, save
from l2reg.io import _saveable_classes
from l2reg.model_selection import HashedKFold
from l2reg.penalties import difference_matrix
from l2reg.preprocessing import TabularModel, TabularPreprocessor

SHORT_RUN = 100
LONG_RUN = 1200
N_MUTATIONS = LONG_RUN if os.environ.get("L2REG_FUZZ") == "1" else SHORT_RUN


def _data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((50, 3))
    y = X @ [1.0, -1.0, 0.5] + 0.3 * rng.standard_normal(50)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": np.where(X[:, 2] > 0, "p", "q"), "y": y})
    return X, y, frame


def _cases():
    """(name, fitted model, how to use it) for every saveable class, some twice."""
    X, y, frame = _data()
    labels = np.where(y > 0, "up", "down")
    three = np.array(["a", "b", "c"])[np.digitize(y, [-0.5, 0.5])]
    counts = np.random.default_rng(1).poisson(np.exp(0.3 * X[:, 0]))
    predict = ("predict", X)
    return [
        ("Ridge", l2reg.Ridge(alpha=0.1).fit(X, y), predict),
        (
            "ElasticNet",
            l2reg.ElasticNet(alpha=0.05, penalty_factor=[1.0, 0.0, 2.0]).fit(X, y),
            predict,
        ),
        (
            "ElasticNet-standardize",
            l2reg.ElasticNet(alpha=0.05, standardize=True).fit(X, y),
            predict,
        ),
        (
            "ElasticNetCV",
            l2reg.ElasticNetCV(l1_ratio=[0.5, 1.0], n_alphas=6, cv=3).fit(X, y),
            predict,
        ),
        ("ElasticNetCV-1", l2reg.ElasticNetCV(n_alphas=5, cv=3).fit(X, y), predict),
        (
            "MultiTaskElasticNet",
            l2reg.MultiTaskElasticNet(alpha=0.05).fit(X, np.column_stack([y, -y])),
            predict,
        ),
        ("Ridge-2", l2reg.Ridge(alpha=[0.1, 1.0]).fit(X, np.column_stack([y, -y])), predict),
        (
            "Ridge-penalties",
            l2reg.Ridge(
                alpha=0.1,
                standardize=True,
                penalty_matrix=difference_matrix(3, 1),
                prior_mean=[0.5, 0.0, -0.5],
            ).fit(X, y),
            predict,
        ),
        (
            "RidgeCV-groups",
            l2reg.RidgeCV(alphas=[0.01, 0.1, 1.0], feature_groups=["a", "b", "a"]).fit(X, y),
            predict,
        ),
        (
            "RidgeCV-factors",
            l2reg.RidgeCV(alphas=[0.01, 0.1, 1.0], penalty_factor=[1.0, 0.0, 2.0]).fit(X, y),
            predict,
        ),
        ("RidgeCV", l2reg.RidgeCV(alphas=np.logspace(-3, 1, 8)).fit(X, y), predict),
        (
            "RidgeCV-2",
            l2reg.RidgeCV(alphas=[0.01, 0.1, 1.0], cv=3, alpha_per_target=True).fit(
                X, np.column_stack([y, -y])
            ),
            predict,
        ),
        ("LogisticRegression", l2reg.LogisticRegression(alpha=0.01).fit(X, three), predict),
        ("PoissonRegression", l2reg.PoissonRegression(alpha=0.01).fit(X, counts), predict),
        (
            "PoissonRegression-penalties",
            l2reg.PoissonRegression(
                alpha=0.01, standardize=True, penalty_matrix=np.eye(3), prior_mean=[0.1, 0, 0]
            ).fit(X, counts),
            predict,
        ),
        (
            "LogisticRegressionCV",
            l2reg.LogisticRegressionCV(alphas=4, cv=3).fit(X, labels),
            predict,
        ),
        (
            "PoissonRegressionCV",
            l2reg.PoissonRegressionCV(alphas=4, cv="alo").fit(X, counts),
            predict,
        ),
        (
            "Ridge-partial_fit",
            l2reg.Ridge(alpha=0.1).partial_fit(X[:20], y[:20]).partial_fit(X[20:], y[20:]),
            ("continue", (X, y)),
        ),
        (
            "RidgeCV-partial_fit",
            l2reg.RidgeCV(alphas=[0.01, 0.1, 1.0], cv=HashedKFold(3, seed=4)).partial_fit(
                X, np.column_stack([y, -y])
            ),
            ("continue", (X, np.column_stack([y, -y]))),
        ),
        ("GramStats", l2reg.GramStats.from_chunk(X, y, np.linspace(0, 1, 50)), ("fit_stats", None)),
        (
            "TabularPreprocessor",
            TabularPreprocessor(["a", "b", "c"], standardize=True).fit(frame),
            ("transform", frame),
        ),
        (
            "TabularModel",
            TabularModel(estimator=l2reg.Ridge(alpha=0.1), target="y").fit(frame),
            ("predict", frame),
        ),
    ]


# -- mutations -------------------------------------------------------------------------

_REPLACEMENTS = [None, -1, "x", 1e308, [1, 2], {"a": 1}, True, -1.5, 10**30, 10**400, [], {}]


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _pack(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _json_paths(value, path=()):
    """Every position in a JSON tree, as a tuple of keys and indices."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_paths(item, (*path, index))


def _replace_at(tree, path, new):
    if not path:
        return new
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return tree


def _flip_bytes(data, rng):
    data = bytearray(data)
    for _ in range(rng.integers(1, 9)):
        data[rng.integers(len(data))] ^= int(rng.integers(1, 256))
    return bytes(data), "flip"


def _truncate(data, rng):
    return data[: rng.integers(0, len(data))], "truncate"


def _replace_field(data, rng):
    members = _members(data)
    metadata = json.loads(members["metadata.json"])
    paths = list(_json_paths(metadata))
    path = paths[rng.integers(len(paths))]
    new = _REPLACEMENTS[rng.integers(len(_REPLACEMENTS))]
    members["metadata.json"] = json.dumps(_replace_at(metadata, path, new)).encode()
    return _pack(members), f"field {'/'.join(map(str, path))} = {new!r}"


def _npy(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


class _Harmless:
    """Pickled inside an object array; unpickling it would be the bug."""


def _array_variants(rng):
    return [
        ("object", _npy(np.array([_Harmless(), 1.0], dtype=object), allow_pickle=True)),
        ("text", _npy(np.array(["a", "bb", "ccc"]))),
        ("garbage", rng.bytes(int(rng.integers(0, 200)))),
        ("shape", _npy(rng.standard_normal((int(rng.integers(0, 5)), 7)))),
        ("nan", _npy(np.full(3, np.nan))),
        ("int", _npy(np.arange(3))),
        ("big-endian", _npy(np.arange(3.0).astype(">f8"))),
        ("3-d", _npy(np.zeros((1, 1, 3)))),
        ("scalar", _npy(np.float64(2.0))),
        ("float16", _npy(np.ones(3, dtype=np.float16))),
        ("complex", _npy(np.ones(3, dtype=complex))),
        ("structured", _npy(np.zeros(3, dtype=[("a", "f8")]))),
        ("header-only", _npy(np.zeros(3))[:60]),
    ]


def _replace_array(data, rng):
    members = _members(data)
    keys = sorted(k for k in members if k.endswith(".npy"))
    if not keys:
        return _flip_bytes(data, rng)
    key = keys[rng.integers(len(keys))]
    variants = _array_variants(rng)
    name, content = variants[rng.integers(len(variants))]
    members[key] = content
    return _pack(members), f"array {key} = {name}"


def _flip_inside_member(data, rng):
    """Bytes flipped inside metadata.json or an array's header, then re-packed with
    valid CRCs: the damage reaches the json and npy parsers, not only zipfile's check."""
    members = _members(data)
    name = sorted(members)[rng.integers(len(members))]
    content = bytearray(members[name])
    span = len(content) if name == "metadata.json" else min(len(content), 128)
    for _ in range(rng.integers(1, 4)):
        content[rng.integers(span)] = int(rng.integers(32, 127))
    members[name] = bytes(content)
    return _pack(members), f"flip inside {name}"


def _repack(data, rng):
    methods = [
        ("bzip2", zipfile.ZIP_BZIP2),
        ("lzma", zipfile.ZIP_LZMA),
        ("stored", zipfile.ZIP_STORED),
    ]
    name, method = methods[rng.integers(len(methods))]
    return _pack(_members(data), method), f"repack {name}"


_MUTATIONS = [
    _flip_bytes,
    _truncate,
    _replace_field,
    _replace_field,
    _replace_array,
    _flip_inside_member,
    _repack,
]


def _use(model, how):
    method, data = how
    with np.errstate(all="ignore"):  # a huge but finite coefficient may overflow: no error
        if method == "continue":  # a streamed model predicts and takes more chunks
            model.predict(data[0])
            model.partial_fit(*data)
        elif method == "fit_stats":  # loaded statistics fit a model
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", l2reg.AccuracyWarning)
                l2reg.Ridge(alpha=0.1).fit_stats(model)
        else:
            getattr(model, method)(data)


def _fuzz(name, model, how, tmp_path, n_mutations, seed):
    data = save(model, tmp_path / f"{name}.l2reg").read_bytes()
    rng = np.random.default_rng(seed)
    outcomes, wrong = Counter(), []
    target = tmp_path / "mutated.l2reg"
    for _ in range(n_mutations):
        mutation = _MUTATIONS[rng.integers(len(_MUTATIONS))]
        mutated, label = mutation(data, rng)
        target.write_bytes(mutated)
        try:
            loaded = load(target)
        except ModelFileError:
            outcomes["refused"] += 1
            continue
        except Exception as error:  # noqa: BLE001 - the point is to catch every type
            wrong.append(f"{label}: {type(error).__name__}: {error}")
            continue
        try:
            _use(loaded, how)
            outcomes["loaded"] += 1
        except Exception as error:  # noqa: BLE001
            wrong.append(f"{label}: loaded, then {type(error).__name__}: {error}")
    return outcomes, wrong


@pytest.mark.parametrize("index", range(len(_cases())), ids=[c[0] for c in _cases()])
def test_mutated_files_load_validly_or_raise_model_file_error(index, tmp_path):
    name, model, how = _cases()[index]
    outcomes, wrong = _fuzz(name, model, how, tmp_path, N_MUTATIONS, seed=1000 + index)
    print(f"{name}: {N_MUTATIONS} mutations, {dict(outcomes)}, {len(wrong)} wrong")
    assert not wrong, "\n".join(wrong[:20])
    # The mutations really exercise both outcomes (else the test could not fail).
    assert outcomes["refused"] > N_MUTATIONS // 4
    assert outcomes["loaded"] > 0


def test_every_saveable_class_is_fuzzed():
    fuzzed = {type(model).__name__ for _, model, _ in _cases()}
    assert "GramStats" in fuzzed
    assert set(_saveable_classes()) <= fuzzed, f"add {set(_saveable_classes()) - fuzzed}"
