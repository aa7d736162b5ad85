"""Safe, versioned model files: ``save(model, path)`` and ``load(path)``.

A model file is a ZIP archive holding

* ``metadata.json`` — format name and version, the l2reg version that wrote it, the
  objective convention, the estimator's class, its parameters and its fitted
  scalar attributes;
* ``arrays/<name>.npy`` — one NumPy array per fitted array attribute (and per
  array-valued parameter), read with ``allow_pickle=False``.

Loading never unpickles or imports anything named by the file: the class must be
one of l2reg's public estimators, every array is a plain numeric or string array,
and the shapes are checked against each other.  Files from a newer format
version, truncated or corrupt files and foreign files (a pickle renamed ``.l2reg``,
say) are refused with a :class:`ModelFileError`.

Format history
--------------
1 (l2reg 0.1): the layout above.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from l2reg import conventions
from l2reg.exceptions import L2RegError

__all__ = ["save", "load", "read_metadata", "ModelFileError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "l2reg-model"
FORMAT_VERSION = 1
# metadata.json of any real model is a few kB; refuse to parse absurd ones.
MAX_METADATA_BYTES = 16 * 2**20
_METADATA = "metadata.json"


class ModelFileError(L2RegError, ValueError):
    """A model file cannot be read: corrupt, truncated, foreign or from a newer version."""


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
    from l2reg.solvers._result import Certificate

    return {"Certificate": Certificate}


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

    def _array(self, array: np.ndarray, name: str):
        kind = "plain"
        if array.dtype == object:
            if not all(isinstance(v, str) for v in array.ravel()):
                raise TypeError(f"cannot save {name!r}: object arrays must hold only strings.")
            array, kind = array.astype(str), "object-str"
        if array.dtype.kind not in "biufU":
            raise TypeError(
                f"cannot save {name!r}: arrays of dtype {array.dtype} are not supported."
            )
        key = f"arrays/{len(self.arrays)}.npy"
        self.arrays[key] = array
        return {"__array__": key, "kind": kind}


class _Decoder:
    def __init__(self, archive: zipfile.ZipFile, path):
        self.archive = archive
        self.path = path

    def decode(self, value):
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            raise ModelFileError(f"{self.path}: unexpected value {value!r} in the metadata.")
        if "__float__" in value:
            return float(value["__float__"])
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {str(k): self.decode(v) for k, v in value["__dict__"].items()}
        if "__array__" in value:
            return self._array(value["__array__"], value.get("kind", "plain"))
        if "__estimator__" in value:
            return _rebuild(value["__estimator__"], self, self.path)
        if "__dataclass__" in value:
            cls = _dataclasses().get(value["__dataclass__"])
            if cls is None:
                raise ModelFileError(f"{self.path}: unknown record {value['__dataclass__']!r}.")
            fields = {k: self.decode(v) for k, v in value["fields"].items()}
            try:
                return cls(**fields)
            except TypeError as error:
                raise ModelFileError(f"{self.path}: malformed {cls.__name__}: {error}") from None
        raise ModelFileError(f"{self.path}: unexpected value {value!r} in the metadata.")

    def _array(self, key: str, kind: str) -> np.ndarray:
        if not isinstance(key, str) or not key.startswith("arrays/"):
            raise ModelFileError(f"{self.path}: bad array reference {key!r}.")
        try:
            data = self.archive.read(key)
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except KeyError:
            raise ModelFileError(
                f"{self.path}: array {key!r} is missing (truncated file?)."
            ) from None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ModelFileError(
                f"{self.path}: array {key!r} cannot be read safely: {error}"
            ) from None
        if array.dtype.kind not in "biufU":
            raise ModelFileError(f"{self.path}: array {key!r} has unsupported dtype {array.dtype}.")
        return array.astype(object) if kind == "object-str" else array


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


def _rebuild(description, decoder, path):
    """The inverse of :func:`_describe`: an allow-listed class, its parameters, its attributes."""
    if not isinstance(description, dict):
        raise ModelFileError(f"{path}: an estimator description must be a mapping.")
    for key in ("class", "params", "attributes"):
        if key not in description:
            raise ModelFileError(f"{path}: metadata lacks {key!r}.")
    cls = _saveable_classes().get(description["class"])
    if cls is None:
        raise ModelFileError(f"{path}: unknown estimator class {description['class']!r}.")
    if not isinstance(description["params"], dict) or not isinstance(
        description["attributes"], dict
    ):
        raise ModelFileError(f"{path}: params and attributes must be mappings.")
    params = {key: decoder.decode(value) for key, value in description["params"].items()}
    attributes = {key: decoder.decode(value) for key, value in description["attributes"].items()}
    accepted = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ModelFileError(f"{path}: unknown parameter(s) for {cls.__name__}: {unknown}.")
    model = cls(**params)
    for key, value in attributes.items():
        if not key.endswith("_") or key.startswith("_"):
            raise ModelFileError(f"{path}: {key!r} is not a fitted attribute name.")
        setattr(model, key, value)
    if attributes:
        _check_shapes(model, path)
    return model


def save(model, path) -> Path:
    """Write a fitted l2reg estimator to ``path`` (conventionally ``*.l2reg``).

    The file is written to a temporary name and renamed into place, so an
    existing file is never left half-written.

    Parameters
    ----------
    model : fitted l2reg estimator
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from l2reg import __version__

    if _saveable_classes().get(type(model).__name__) is not type(model):
        raise TypeError(f"save() takes a fitted l2reg estimator; got {type(model).__name__}.")
    encoder = _Encoder()
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


def _read_metadata(archive: zipfile.ZipFile, path) -> dict:
    try:
        info = archive.getinfo(_METADATA)
    except KeyError:
        raise ModelFileError(f"{path}: not an l2reg model file (no {_METADATA}).") from None
    if info.file_size > MAX_METADATA_BYTES:
        raise ModelFileError(f"{path}: {_METADATA} is implausibly large ({info.file_size} bytes).")
    try:
        metadata = json.loads(archive.read(_METADATA).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, EOFError) as error:
        raise ModelFileError(f"{path}: {_METADATA} is corrupt: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not an l2reg model file (format is not {FORMAT_NAME!r}).")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written with model format {version} (l2reg "
            f"{metadata.get('l2reg_version', '?')}); this l2reg reads formats up to "
            f"{FORMAT_VERSION}. Upgrade l2reg to load it."
        )
    return metadata


def _check_shapes(model, path) -> None:
    """Fitted arrays must agree with each other: a crafted file fails here."""
    if hasattr(model, "_check_loaded"):  # composite models check their own parts
        model._check_loaded(path)
        return
    n_features = getattr(model, "n_features_in_", None)
    if not isinstance(n_features, int) or n_features < 1:
        raise ModelFileError(f"{path}: n_features_in_ must be a positive integer.")
    coef = getattr(model, "coef_", None)
    if coef is not None:
        if (
            not isinstance(coef, np.ndarray)
            or coef.ndim not in (1, 2)
            or coef.shape[-1] != n_features
        ):
            raise ModelFileError(
                f"{path}: coef_ has shape {getattr(coef, 'shape', None)}, "
                f"inconsistent with n_features_in_={n_features}."
            )
        intercept = np.asarray(getattr(model, "intercept_", 0.0))
        expected = () if coef.ndim == 1 else coef.shape[:1]
        if intercept.shape != expected:
            raise ModelFileError(
                f"{path}: intercept_ has shape {intercept.shape}, expected {expected} for "
                f"coef_ of shape {coef.shape}."
            )
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise ModelFileError(f"{path}: coef_ or intercept_ holds NaN or infinity.")
    names = getattr(model, "feature_names_in_", None)
    if names is not None and np.shape(names) != (n_features,):
        raise ModelFileError(f"{path}: feature_names_in_ does not have {n_features} entries.")


def read_metadata(path) -> dict:
    """The validated ``metadata.json`` of a model file (format, versions, class...)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no such model file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_metadata(archive, path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelFileError(f"{path}: not an l2reg model file ({error}).") from None


def load(path):
    """Read a model written by :func:`save`, without unpickling anything.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    estimator
        A fitted l2reg estimator that predicts exactly like the one saved.

    Raises
    ------
    ModelFileError
        The file is missing, not an l2reg model, corrupt, truncated, from a newer
        format version, or its arrays are inconsistent.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no such model file: {path}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelFileError(f"{path}: not an l2reg model file ({error}).") from None
    with archive:
        metadata = _read_metadata(archive, path)
        return _rebuild(metadata, _Decoder(archive, path), path)
