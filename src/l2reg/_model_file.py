"""The model archive read defensively: sizes, compression and ``.npy`` headers before data.

A model file comes from anywhere (a colleague, a download, a flaky disk), so every
number in it is treated as a claim to check before it is believed:

* the archive: at most :data:`MAX_MEMBERS` members with distinct names, each
  stored or deflated (bzip2, lzma and encryption are refused before a member is
  opened), none claiming more compressed bytes than the file on disk holds, and
  none inflating more than :data:`MAX_COMPRESSION_RATIO`-fold once above
  :data:`RATIO_CHECKED_ABOVE` bytes (the shape of a zip bomb);
* ``metadata.json``: at most :data:`MAX_METADATA_BYTES`, read through a bounded
  reader;
* each ``.npy`` member: its header is read first (magic string, format 1.0 or
  2.0, a header of at most numpy's default 10,000 bytes), its dtype must be a
  plain number, boolean or string type, and the bytes its shape needs must equal
  what the member holds, exactly, before a single element is allocated; the data
  is then read in chunks into that one allocation, and a member that inflates to
  more or fewer bytes than it declared fails its CRC check or comes up short.

Nothing here knows about estimators: what shapes a class allows is
:mod:`l2reg._model_checks`' business, checked on the headers read here before
:meth:`ModelArchive.read_array` reads any data.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from l2reg.exceptions import L2RegError

__all__ = [
    "ModelFileError",
    "ModelArchive",
    "ArrayHeader",
    "MAX_METADATA_BYTES",
    "MAX_MEMBERS",
    "MAX_COMPRESSION_RATIO",
    "RATIO_CHECKED_ABOVE",
]

METADATA = "metadata.json"
# The metadata of a real model is a few kB; a table with 100,000 categories makes
# it a few MB.  Parsed JSON takes up to ~20x its size in Python objects, so this
# also bounds the memory a hostile metadata.json can make the parser use.
MAX_METADATA_BYTES = 8 * 2**20
# A model has one member per array (a composite model, a few dozen): thousands
# can only be an attack on the central directory.
MAX_MEMBERS = 4096
# An entry of the central directory is 46 bytes plus its name (~16 for a model) and
# extras: 1 MiB holds far more than MAX_MEMBERS real entries.
_MAX_DIRECTORY_BYTES = 2**20
# Deflate inflates at most ~1032-fold (runs of one byte); real arrays of floats
# compress by ~1.1x, long padded string arrays by ~10-30x.  Only members above
# RATIO_CHECKED_ABOVE bytes are checked, so small members with NaN or zero runs
# are never refused.  A genuine file refused by this can be loaded after raising
# the limit (``l2reg._model_file.MAX_COMPRESSION_RATIO``).
MAX_COMPRESSION_RATIO = 200
RATIO_CHECKED_ABOVE = 2**20
# Data are inflated in pieces of this size: the only memory beyond the array itself.
_CHUNK_BYTES = 2**22
# Element types a model's arrays may have: floats of the two precisions l2reg
# computes in, integers, booleans and (fixed-width, UCS4) strings.
_FLOAT_SIZES = (4, 8)
_MAX_STRING_CHARS = 2**16
_MAX_NDIM = 4
_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
# .npy format versions read, with how each stores its header's length; numpy's own
# limit on the header (its default max_header_size).
_HEADER_LENGTH = {(1, 0): "<H", (2, 0): "<I"}
_MAX_HEADER_BYTES = 10_000


class ModelFileError(L2RegError, ValueError):
    """A model file cannot be read: corrupt, truncated, foreign or from a newer version."""


def file_error(path, part: str, problem: str) -> ModelFileError:
    """A :class:`ModelFileError` naming the file, the part that is wrong and how."""
    return ModelFileError(f"{path}: {part}: {problem}")


@dataclass(frozen=True)
class ArrayHeader:
    """What a ``.npy`` member's header claims, checked against the member's size.

    It stands in for the array while the model's layout is checked, so it has the
    array's ``shape``, ``ndim`` and ``dtype``.
    """

    key: str
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    data_bytes: int

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def dtype_problem(dtype: np.dtype) -> str | None:
    """Why ``dtype`` is not allowed in a model file, or None."""
    if dtype.hasobject:
        return "object arrays are never read (they would need unpickling)"
    if dtype.names is not None or dtype.subdtype is not None:
        return f"structured dtype {dtype} is not a model array type"
    if dtype.kind == "f" and dtype.itemsize not in _FLOAT_SIZES:
        return f"dtype {dtype} is not float32 or float64"
    if dtype.kind == "U" and not 0 < dtype.itemsize <= 4 * _MAX_STRING_CHARS:
        return f"string dtype {dtype} has an implausible width"
    if dtype.kind not in "biufU":
        return f"dtype {dtype} is not a number, boolean or string type"
    return None


def _declared_directory(handle, disk_bytes: int) -> tuple[int, int] | None:
    """(members, bytes) of the central directory, as the end records declare them.

    zipfile reads the whole central directory and makes an object per entry before
    anything can be checked: this reads the two numbers first.  None when no end
    record is found (zipfile then refuses the file itself).
    """
    tail_bytes = min(disk_bytes, 22 + 0xFFFF)  # the end record, plus a comment of <= 64 KiB
    handle.seek(disk_bytes - tail_bytes)
    tail = handle.read(tail_bytes)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries, directory_bytes = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:  # ZIP64: locator just before
        locator = tail[at - 20 : at] if at >= 20 else b""
        if locator[:4] != b"PK\x06\x07":
            return None
        (offset,) = struct.unpack("<Q", locator[8:16])
        if offset > disk_bytes - 56:
            return None
        handle.seek(offset)
        record = handle.read(56)
        if record[:4] != b"PK\x06\x06":
            return None
        entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    return entries, directory_bytes


class ModelArchive:
    """A model file's ZIP archive, its members checked before any is opened.

    Parameters
    ----------
    path : pathlib.Path
        An existing file.

    Raises
    ------
    ModelFileError
        Not a ZIP archive, or members that are too many, duplicated, encrypted,
        compressed with another method than stored/deflate, larger than the file
        or inflating like a zip bomb.  Other exceptions of :mod:`zipfile` (for
        example ``NotImplementedError`` for an unknown zip version) are turned
        into a :class:`ModelFileError` by the caller.
    """

    def __init__(self, path: Path):
        self.path = path
        disk_bytes = os.stat(path).st_size
        with open(path, "rb") as handle:
            declared = _declared_directory(handle, disk_bytes)
        if declared is not None:
            entries, directory_bytes = declared
            if entries > MAX_MEMBERS or directory_bytes > _MAX_DIRECTORY_BYTES:
                raise file_error(
                    path,
                    "archive",
                    f"declares {entries} members in a central directory of {directory_bytes} "
                    f"bytes; a model file has at most {MAX_MEMBERS} members",
                )
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            raise ModelFileError(f"{path}: not an l2reg model file ({error}).") from error
        try:
            self._check_members(disk_bytes)
        except BaseException:
            self._zip.close()
            raise
        self._headers: dict[str, ArrayHeader] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        return [info.filename for info in self._zip.infolist()]

    def _check_members(self, disk_bytes: int) -> None:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise file_error(
                self.path,
                "archive",
                f"{len(infos)} members; a model file has at most {MAX_MEMBERS}",
            )
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})[:5]
            raise file_error(self.path, "archive", f"duplicated member name(s) {duplicated}")
        for info in infos:
            part = f"member {info.filename!r}"
            if info.flag_bits & 0x1:
                raise file_error(self.path, part, "is encrypted; model files never are")
            if info.compress_type not in _COMPRESSION:
                raise file_error(
                    self.path,
                    part,
                    f"uses compression method {info.compress_type}; model files use only "
                    "stored or deflate (zipfile.ZIP_STORED, ZIP_DEFLATED)",
                )
            if info.compress_size > disk_bytes:
                raise file_error(
                    self.path,
                    part,
                    f"claims {info.compress_size} compressed bytes in a file of "
                    f"{disk_bytes} bytes (truncated?)",
                )
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise file_error(
                    self.path,
                    part,
                    f"is stored uncompressed but its sizes differ ({info.file_size} vs "
                    f"{info.compress_size} bytes)",
                )
            if (
                info.file_size > RATIO_CHECKED_ABOVE
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
            ):
                raise file_error(
                    self.path,
                    part,
                    f"inflates {info.compress_size} bytes to {info.file_size} (more than "
                    f"{MAX_COMPRESSION_RATIO}-fold, the shape of a zip bomb); refused unread",
                )

    def _info(self, name: str, part: str) -> zipfile.ZipInfo:
        try:
            return self._zip.getinfo(name)
        except KeyError as error:
            raise file_error(
                self.path, part, f"member {name!r} is missing (truncated file?)"
            ) from error

    def metadata_bytes(self) -> bytes:
        """The raw ``metadata.json``, at most :data:`MAX_METADATA_BYTES` of it."""
        try:
            info = self._zip.getinfo(METADATA)
        except KeyError:
            raise ModelFileError(f"{self.path}: not an l2reg model file (no {METADATA}).") from None
        if info.file_size > MAX_METADATA_BYTES:
            raise file_error(
                self.path,
                METADATA,
                f"is implausibly large ({info.file_size} bytes; at most {MAX_METADATA_BYTES})",
            )
        with self._zip.open(info) as member:
            data = member.read(MAX_METADATA_BYTES + 1)
        if len(data) != info.file_size:
            raise file_error(
                self.path,
                METADATA,
                f"holds {len(data)} bytes where the archive declares {info.file_size}",
            )
        return data

    def header(self, key: str, part: str) -> ArrayHeader:
        """The checked header of the ``.npy`` member ``key``; no data is read."""
        if key in self._headers:
            return self._headers[key]
        info = self._info(key, part)
        with self._zip.open(info) as member:
            magic = member.read(npy_format.MAGIC_LEN)
            version = npy_format.read_magic(io.BytesIO(magic))
            if version not in _HEADER_LENGTH:
                raise file_error(self.path, part, f".npy format version {version} is not read")
            # numpy reads a header of any declared length (4 GiB in format 2.0) before
            # comparing it with its limit: read the length first and bound it here.
            length_format = _HEADER_LENGTH[version]
            length = member.read(struct.calcsize(length_format))
            if len(length) != struct.calcsize(length_format):
                raise file_error(self.path, part, "member ends inside its .npy header")
            (header_length,) = struct.unpack(length_format, length)
            if header_length > _MAX_HEADER_BYTES:
                raise file_error(
                    self.path, part, f".npy header of {header_length} bytes is implausibly long"
                )
            text = member.read(header_length)
            if len(text) != header_length:
                raise file_error(self.path, part, "member ends inside its .npy header")
        read_header = (
            npy_format.read_array_header_1_0
            if version == (1, 0)
            else npy_format.read_array_header_2_0
        )
        try:
            shape, fortran_order, dtype = read_header(io.BytesIO(length + text))
        except Exception as error:  # noqa: BLE001
            # numpy parses the header text with ast and, for old files, tokenize: what
            # those raise on garbage (ValueError, SyntaxError, tokenize.TokenError...) is
            # not a documented set, and any of it means the header is unreadable.
            raise file_error(
                self.path, part, f"unreadable .npy header ({type(error).__name__}: {error})"
            ) from error
        header_bytes = len(magic) + len(length) + header_length
        problem = dtype_problem(dtype)
        if problem:
            raise file_error(self.path, part, problem)
        if len(shape) > _MAX_NDIM or any(type(n) is not int or n < 0 for n in shape):
            raise file_error(self.path, part, f"implausible array shape {shape}")
        # Python integers: a claim of 1e11 elements is a number here, never an allocation.
        data_bytes = math.prod(shape) * dtype.itemsize
        if header_bytes + data_bytes != info.file_size:
            raise file_error(
                self.path,
                part,
                f"header claims shape {shape} of {dtype} ({data_bytes} bytes) but the member "
                f"holds {info.file_size - header_bytes} bytes of data",
            )
        header = ArrayHeader(key, dtype, tuple(shape), bool(fortran_order), data_bytes)
        self._headers[key] = header
        return header

    def read_array(self, header: ArrayHeader, part: str) -> np.ndarray:
        """The array whose checked header is ``header``, in native byte order.

        One allocation of ``header.data_bytes``, filled in chunks: a member that
        inflates to other than what it declared stops at the declared size and
        fails zipfile's CRC check, or comes up short.
        """
        flat = np.empty(header.size, dtype=header.dtype)
        view = memoryview(flat.view(np.uint8)) if header.data_bytes else None
        with self._zip.open(header.key) as member:
            skip = self._zip.getinfo(header.key).file_size - header.data_bytes
            if len(member.read(skip)) != skip:
                raise file_error(self.path, part, "member ends inside its header")
            filled = 0
            while filled < header.data_bytes:
                count = member.readinto(view[filled : filled + _CHUNK_BYTES])
                if not count:
                    raise file_error(
                        self.path,
                        part,
                        f"holds {filled} of the {header.data_bytes} data bytes its header "
                        "declares (truncated?)",
                    )
                filled += count
            if member.read(1):
                raise file_error(self.path, part, "holds more data than its header declares")
        order = "F" if header.fortran_order else "C"
        array = flat.reshape(header.shape, order=order)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array
