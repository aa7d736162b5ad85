"""Safe, versioned model files: ``save(model, path)`` and ``load(path)``.

A model file is a ZIP archive holding

* ``metadata.json`` — format name and version, the l2reg version that wrote it, the
  objective convention, the estimator's class, its parameters and its fitted
  scalar attributes;
* ``arrays/<name>.npy`` — one NumPy array per fitted array attribute (and per
  array-valued parameter), read with ``allow_pickle=False``.

Loading never unpickles or imports anything named by the file, and treats every
number in it as a claim to check before it is believed (docs/model_files.md):

1. the archive (:mod:`l2reg._model_file`): stored or deflate members only, sizes
   within the file, no zip-bomb inflation, a bounded ``metadata.json``;
2. the metadata and each ``.npy`` header, before any array data is read: the
   class must be one of l2reg's public estimators, each header's dtype a plain
   number or string type and its shape one the class allows for that attribute
   (:mod:`l2reg._model_checks`), with exactly the bytes the member holds;
3. the arrays are then read, and the model is checked like one ``fit`` made:
   parameters through the estimator's own validation, fitted attributes for
   their types, shapes and ranges.

Whatever fails, at whichever layer, is a :class:`ModelFileError` naming the file
and the part that is wrong.

Format history
--------------
1 (l2reg 0.1): the layout above.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from l2reg import conventions
from l2reg._model_checks import PARAMETER_CHECKS, check_fitted, lookup
from l2reg._model_file import MAX_METADATA_BYTES as MAX_METADATA_BYTES  # re-exported
from l2reg._model_file import (
    METADATA,
    ArrayHeader,
    ModelArchive,
    ModelFileError,
    dtype_problem,
    file_error,
)
from l2reg._stats_checks import PendingStats, check_stats_fields
from l2reg.objective.gram import GramStats

__all__ = ["save", "load", "read_metadata", "ModelFileError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "l2reg-model"
FORMAT_VERSION = 1
_METADATA = METADATA


def _saveable_classes() -> dict[str, type]:
    """Public l2reg estimators and preprocessing steps, by class name: the only
    classes a file may name."""
    import l2reg
    import l2reg.preprocessing

    classes = {}
    for module in (l2reg, l2reg.preprocessing):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and hasattr(value, "fit") and hasattr(value, "get_params"):
                classes[name] = value
    return classes


def _dataclasses() -> dict[str, type]:
    """Records of scalar fields a file may hold (a fitted attribute, a parameter)."""
    from l2reg.model_selection import HashedKFold
    from l2reg.solvers._result import Certificate

    return {"Certificate": Certificate, "HashedKFold": HashedKFold}


class _Encoder:
    """Turns parameters and attributes into JSON values plus named arrays."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, value: Any, name: str):
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            return {"__float__": repr(float(value))}  # keeps inf/nan and every bit
        if isinstance(value, np.ndarray):
            return self._array(value, name)
        if isinstance(value, list | tuple):
            encoded = [self.encode(v, f"{name}.{i}") for i, v in enumerate(value)]
            return encoded if isinstance(value, list) else {"__tuple__": encoded}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self.encode(v, f"{name}.{k}") for k, v in value.items()}}
        if _saveable_classes().get(type(value).__name__) is type(value):
            return {"__estimator__": _describe(value, self, name)}
        if type(value) is GramStats:
            return {"__gram_stats__": self.stats_fields(value, name)}
        if dataclasses.is_dataclass(value) and type(value).__name__ in _dataclasses():
            fields = {
                f.name: self.encode(getattr(value, f.name), f"{name}.{f.name}")
                for f in dataclasses.fields(value)
            }
            return {"__dataclass__": type(value).__name__, "fields": fields}
        raise TypeError(
            f"cannot save {name!r}: values of type {type(value).__name__} are not supported "
            "by the l2reg model format (numbers, strings, arrays, lists and dicts of them)."
        )

    def stats_fields(self, stats: GramStats, name: str) -> dict:
        """The fields of statistics, encoded (arrays as members of the file)."""
        return {
            f.name: self.encode(getattr(stats, f.name), f"{name}.{f.name}")
            for f in dataclasses.fields(stats)
        }

    def _array(self, array: np.ndarray, name: str):
        kind = "plain"
        if array.dtype == object:
            if not all(isinstance(v, str) for v in array.ravel()):
                raise TypeError(f"cannot save {name!r}: object arrays must hold only strings.")
            array, kind = array.astype(str), "object-str"
        problem = dtype_problem(array.dtype)  # what load() would refuse
        if problem:
            raise TypeError(f"cannot save {name!r}: {problem}.")
        key = f"arrays/{len(self.arrays)}.npy"
        self.arrays[key] = array
        return {"__array__": key, "kind": kind}


# Markers of encoded values, and the keys each one's mapping has (exactly).
_MARKERS = {
    "__float__": {"__float__"},
    "__tuple__": {"__tuple__"},
    "__dict__": {"__dict__"},
    "__array__": {"__array__", "kind"},
    "__estimator__": {"__estimator__"},
    "__dataclass__": {"__dataclass__", "fields"},
    "__gram_stats__": {"__gram_stats__"},
}
_ARRAY_KINDS = ("plain", "object-str")
# Encoded values nest a few levels (a composite model's estimators, their cv_results_);
# deeper nesting is an attack on the recursion, refused before Python's limit.
_MAX_DEPTH = 32
_ARRAY_KEY = re.compile(r"arrays/[0-9]{1,9}\.npy")


@dataclasses.dataclass(frozen=True)
class _ArrayRef(ArrayHeader):
    """An array of the file, known by its checked header until its data is read."""

    kind: str = "plain"
    where: str = ""


@dataclasses.dataclass(frozen=True)
class _Pending:
    """An estimator whose description passed the layout checks, not yet built."""

    cls: type
    params: dict
    attributes: dict
    where: str


class _Decoder:
    """Turns metadata back into values, in two steps.

    :meth:`describe` decodes the JSON and reads only the ``.npy`` headers, checking
    every estimator's layout on them (:func:`l2reg._model_checks.check_fitted`);
    :meth:`build` then reads the arrays and builds the estimators, checking
    values and parameters.  So nothing whose size the file claims is allocated
    before the claim has been checked against the model it belongs to.
    """

    def __init__(self, archive: ModelArchive, path):
        self.archive = archive
        self.path = path
        self.referenced: set[str] = set()

    def fail(self, where: str, problem: str):
        raise file_error(self.path, where, problem)

    # -- step 1: metadata and headers ------------------------------------------------

    def decode(self, value, where: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            self.fail(where, f"values nested more than {_MAX_DEPTH} levels deep")
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, list):
            return [self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        if not isinstance(value, dict):  # a bare JSON float: save never writes one
            self.fail(where, f"unexpected value {_short(value)} (floats are encoded)")
        marker = [key for key in value if key in _MARKERS]
        if len(marker) != 1 or set(value) != _MARKERS[marker[0]]:
            self.fail(where, f"unexpected value {_short(value)}")
        marker, content = marker[0], value[marker[0]]
        if marker == "__float__":
            if not isinstance(content, str) or len(content) > 40:
                self.fail(where, f"a float must be written as its repr; got {_short(content)}")
            try:
                return float(content)
            except ValueError as error:
                raise file_error(self.path, where, f"{content!r} is not a float") from error
        if marker == "__tuple__":
            if not isinstance(content, list):
                self.fail(where, f"a tuple must be a list; got {_short(content)}")
            return tuple(self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(content))
        if marker == "__dict__":
            if not isinstance(content, dict):
                self.fail(where, f"a mapping must be an object; got {_short(content)}")
            return {k: self.decode(v, f"{where}[{k!r}]", depth + 1) for k, v in content.items()}
        if marker == "__array__":
            return self._array(content, value["kind"], where)
        if marker == "__estimator__":
            return self.describe(content, where, depth + 1)
        if marker == "__gram_stats__":
            return self.statistics(content, where, depth + 1)
        return self._record(content, value["fields"], where)

    def statistics(self, fields, where: str, depth: int = 0) -> PendingStats:
        """GramStats fields, decoded and checked on their headers."""
        if not isinstance(fields, dict):
            self.fail(where or "attributes", "GramStats fields must be a mapping")
        prefix = f"{where}." if where else ""
        decoded = {k: self.decode(v, f"{prefix}{k}", depth + 1) for k, v in fields.items()}
        check_stats_fields(decoded, self.path, where, headers_only=True)
        return PendingStats(decoded, where)

    def _array(self, key, kind, where: str) -> _ArrayRef:
        if not isinstance(key, str) or not _ARRAY_KEY.fullmatch(key):
            self.fail(where, f"bad array reference {_short(key)}")
        if kind not in _ARRAY_KINDS:
            self.fail(where, f"unknown array kind {_short(kind)}")
        if key in self.referenced:
            self.fail(where, f"array {key!r} is referenced twice")
        self.referenced.add(key)
        part = f"{key} ({where})"
        header = self.archive.header(key, part)
        if kind == "object-str" and header.dtype.kind != "U":
            self.fail(part, f"string arrays are stored as unicode; got dtype {header.dtype}")
        fields = {f.name: getattr(header, f.name) for f in dataclasses.fields(header)}
        return _ArrayRef(**fields, kind=kind, where=part)

    def _record(self, name, fields, where: str):
        cls = _dataclasses().get(name) if isinstance(name, str) else None
        if cls is None:
            self.fail(where, f"unknown record {_short(name)}")
        # A field added to the record later has a default, so older files omit it.
        if not isinstance(fields, dict) or not set(fields) <= set(_field_names(cls)):
            self.fail(where, f"a {cls.__name__} has the fields {_field_names(cls)}")
        values = {}
        for key, value in fields.items():
            value = self.decode(value, f"{where}.{key}", _MAX_DEPTH)  # scalars only
            if not (value is None or isinstance(value, bool | int | float | str)):
                self.fail(f"{where}.{key}", "record fields are numbers or strings")
            values[key] = value
        try:
            return cls(**values)
        except TypeError as error:  # a field without a default is missing
            raise file_error(self.path, where, f"malformed {cls.__name__}: {error}") from error

    def describe(self, description, where: str, depth: int = 0) -> _Pending:
        """Class, parameters and attributes of one estimator, layout-checked."""
        if not isinstance(description, dict):
            self.fail(where, "an estimator description must be a mapping")
        for key in ("class", "params", "attributes"):
            if key not in description:
                self.fail(where, f"the description lacks {key!r}")
        name = description["class"]
        cls = _saveable_classes().get(name) if isinstance(name, str) else None
        if cls is None:
            self.fail(where, f"unknown estimator class {_short(name)}")
        params, attributes = description["params"], description["attributes"]
        if not isinstance(params, dict) or not isinstance(attributes, dict):
            self.fail(where, "params and attributes must be mappings")
        accepted = cls().get_params(deep=False)
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            self.fail(where or "params", f"unknown parameter(s) for {cls.__name__}: {unknown}")
        bad = [k for k in attributes if not k.endswith("_") or k.startswith("_")]
        if bad:
            self.fail(where or "attributes", f"{_short(bad)} are not fitted attribute names")
        prefix = f"{where}." if where else ""
        params = {k: self.decode(v, f"{prefix}params.{k}", depth + 1) for k, v in params.items()}
        attributes = {k: self.decode(v, f"{prefix}{k}", depth + 1) for k, v in attributes.items()}
        check_fitted(cls, attributes, self.path, prefix, headers_only=True)
        return _Pending(cls, params, attributes, where)

    # -- step 2: data ----------------------------------------------------------------

    def build(self, value):
        if isinstance(value, _ArrayRef):
            array = self.archive.read_array(value, value.where)
            return array.astype(object) if value.kind == "object-str" else array
        if isinstance(value, list):
            return [self.build(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.build(v) for v in value)
        if isinstance(value, dict):
            return {k: self.build(v) for k, v in value.items()}
        if isinstance(value, _Pending):
            return self._estimator(value)
        if isinstance(value, PendingStats):
            fields = {k: self.build(v) for k, v in value.fields.items()}
            check_stats_fields(fields, self.path, value.where, headers_only=False)
            return GramStats(**fields)
        return value

    def _estimator(self, pending: _Pending):
        params = {k: self.build(v) for k, v in pending.params.items()}
        attributes = {k: self.build(v) for k, v in pending.attributes.items()}
        prefix = f"{pending.where}." if pending.where else ""
        check_fitted(pending.cls, attributes, self.path, prefix, headers_only=False)
        model = pending.cls(**params)
        for key, value in attributes.items():
            setattr(model, key, value)
        try:
            lookup(PARAMETER_CHECKS, pending.cls)(model)
        except (ValueError, TypeError) as error:  # InvalidParameterError and friends
            raise file_error(self.path, f"{prefix}params", str(error)) from error
        if attributes and hasattr(model, "_check_loaded"):  # composites check their parts
            model._check_loaded(self.path)
        return model


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _describe(model, encoder: _Encoder, name: str, *, require_fitted: bool = False) -> dict:
    """Class, parameters and fitted attributes of an estimator, encoded.

    Nested estimators (a composite's unfitted templates) may be unfitted; the
    model passed to :func:`save` must be fitted.
    """
    from sklearn.utils.validation import check_is_fitted

    if require_fitted:
        check_is_fitted(model)
    return {
        "class": type(model).__name__,
        "params": {
            key: encoder.encode(value, f"{name}.{key}")
            for key, value in model.get_params(deep=False).items()
        },
        "attributes": {
            key: encoder.encode(value, f"{name}.{key}")
            for key, value in vars(model).items()
            if key.endswith("_") and not key.startswith("_")
        },
    }


def save(model, path) -> Path:
    """Write a fitted l2reg estimator, or :class:`~l2reg.GramStats`, to ``path``.

    Model files are conventionally ``*.l2reg``.  The file is written to a
    temporary name and renamed into place, so an existing file is never left
    half-written.  Statistics are written with ``"class": "GramStats"``, no
    parameters and their fields as the attributes; :func:`load` returns them
    as a :class:`~l2reg.GramStats`.

    Parameters
    ----------
    model : fitted l2reg estimator or GramStats
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from l2reg import __version__

    encoder = _Encoder()
    if type(model) is GramStats:
        description = {
            "class": "GramStats",
            "params": {},
            "attributes": encoder.stats_fields(model, "stats"),
        }
    elif _saveable_classes().get(type(model).__name__) is not type(model):
        raise TypeError(
            f"save() takes a fitted l2reg estimator or GramStats; got {type(model).__name__}."
        )
    else:
        description = _describe(model, encoder, "model", require_fitted=True)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "l2reg_version": __version__,
        "objective": conventions.OBJECTIVE,
        **description,
    }
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=".l2reg-", suffix=".tmp")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_METADATA, json.dumps(metadata, indent=1, allow_nan=False))
            for key, array in encoder.arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(key, buffer.getvalue())
        # mkstemp creates the file private (0600); give it the permissions a
        # plainly created file would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# What the zip, zlib, json and npy layers raise on a damaged or hostile file; load()
# and read_metadata() turn each into a ModelFileError naming the file.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,  # "zip file version 24.7"
    OSError,
    EOFError,
    struct.error,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    UnicodeDecodeError,
    RecursionError,  # deeply nested JSON
    OverflowError,
    MemoryError,
)


@contextlib.contextmanager
def _errors_named(path):
    """Turn what the layers below raise into a :class:`ModelFileError` naming ``path``."""
    try:
        yield
    except ModelFileError:
        raise
    except _READ_ERRORS as error:
        raise ModelFileError(
            f"{path}: cannot be read ({type(error).__name__}: {error})."
        ) from error


def _parse_metadata(archive: ModelArchive, path) -> dict:
    """The metadata, with its format and informational fields type-checked."""
    data = archive.metadata_bytes()
    try:
        metadata = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise file_error(path, _METADATA, f"is corrupt: {error}") from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not an l2reg model file (format is not {FORMAT_NAME!r}).")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise file_error(path, "format_version", f"invalid format version {_short(version)}")
    writer = metadata.get("l2reg_version", "?")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written with model format {version} (l2reg {_short(writer)}); this "
            f"l2reg reads formats up to {FORMAT_VERSION}. Upgrade l2reg to load it."
        )
    for key, limit in (("l2reg_version", 64), ("objective", 4096), ("class", 256)):
        value = metadata.get(key)
        if not isinstance(value, str) or len(value) > limit:
            raise file_error(path, key, f"must be a string of at most {limit} characters")
    for key in ("params", "attributes"):
        if not isinstance(metadata.get(key), dict):
            raise file_error(path, key, "must be a mapping")
    if not metadata["attributes"]:  # save() writes fitted models only
        raise file_error(path, "attributes", "none: the model in the file is not fitted")
    return metadata


def _open(path) -> ModelArchive:
    if not path.is_file():
        raise ModelFileError(f"no such model file: {path}")
    return ModelArchive(path)


def read_metadata(path) -> dict:
    """The validated ``metadata.json`` of a model file (format, versions, class...).

    Raises
    ------
    ModelFileError
        As :func:`load` does, for the archive and the metadata.
    """
    path = Path(path)
    with _errors_named(path), _open(path) as archive:
        return _parse_metadata(archive, path)


def load(path):
    """Read a model written by :func:`save`, without unpickling anything.

    Before any array is read, the archive's members are checked (stored or
    deflate only, sizes within the file, no zip-bomb inflation), each array's
    ``.npy`` header is checked against the size of its member and against the
    shapes the model's class allows; then the arrays are read and the model is
    checked like one ``fit`` made: parameters through the estimator's own
    validation, fitted attributes for their types, shapes and ranges.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    estimator or GramStats
        A fitted l2reg estimator that predicts exactly like the one saved, or
        the statistics saved (equal field by field).

    Raises
    ------
    ModelFileError
        For every way a file can fail: missing, not an l2reg model, corrupt,
        truncated, from a newer format version, hostile (a zip bomb, a header
        claiming a huge array, another compression method), or holding
        parameters or attributes that ``fit`` could not have produced.  The
        message names the file and the part that is wrong; the error of the
        layer that found it (zipfile, zlib, json) is chained as its cause.
    """
    path = Path(path)
    with _errors_named(path), _open(path) as archive:
        metadata = _parse_metadata(archive, path)
        decoder = _Decoder(archive, path)
        if metadata["class"] == "GramStats":
            if metadata["params"]:
                raise file_error(path, "params", "GramStats have no parameters")
            pending = decoder.statistics(metadata["attributes"], "", 0)
        else:
            pending = decoder.describe(metadata, "", 0)
        unexpected = sorted(set(archive.names()) - {_METADATA} - decoder.referenced)
        if unexpected:
            raise file_error(
                path, "archive", f"member(s) no part of the model refers to: {unexpected[:5]}"
            )
        return decoder.build(pending)
