"""The cache's file format for one cell: JSON that runs no code on load, with a checksum.

A cell file (suffix ``SUFFIX``) is two parts:

    {"format":"regdiff-cell-v1","experiment":E,"key":K,"sha256":H}\\n   (the header line)
    PAYLOAD                                                              (the rows, JSON)

where ``H = sha256(PAYLOAD)`` and both parts are written in one canonical form (compact,
ASCII), so that ``read`` can require the file to be byte for byte what ``write`` makes of
the rows it decodes: any change to any byte (a flipped bit, a truncation, an appended byte)
is detected, and the cell is treated as missing (issue 32: a pickle changed by 16 ulp loaded
silently, and a pickle is code).

The rows are a list of dicts with string keys; a value is JSON's own ``null``, ``true``,
``false``, an integer or a string, or a tagged object (one key) for everything whose exact
value JSON would not keep:

    {"$f": float.hex(x)}                         Python float (every bit, nan and inf too)
    {"$c": [float.hex(re), float.hex(im)]}       Python complex
    {"$np": [dtype.str, bytes.hex()]}            NumPy scalar (dtype kept: float32 stays)
    {"$nd": [dtype.str, shape, bytes.hex()]}     NumPy array (C order)
    {"$list": [...]}, {"$tuple": [...]}, {"$dict": [[key, value], ...]}   nested values

Any other type is refused when the cell is written (``CellFormatError`` naming the column),
never silently converted. NumPy values of object, void or structured dtype are refused too.

Notation: none (file format only).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

__all__ = ["FORMAT", "SUFFIX", "CellFormatError", "decode_rows", "encode_rows", "read", "write"]

FORMAT = "regdiff-cell-v1"
#: The file suffix; a new format gets a new suffix, so the files of an older one are never
#: read (the ``.pkl`` files of the pickle format are removed as stale at start-up).
SUFFIX = ".cell.json"
#: NumPy dtype kinds that are stored (bool, signed, unsigned, float, complex, bytes,
#: unicode, datetime, timedelta): fixed-size values whose bytes are their value.
_NUMPY_KINDS = "biufcSUMm"


class CellFormatError(ValueError):
    """A cell file that is damaged, or rows that this format cannot hold."""


def _encode(value: Any, where: str) -> Any:
    # np.float64 is a float and np.str_ a str: NumPy scalars first, to keep their dtype.
    if isinstance(value, np.generic):
        if value.dtype.kind not in _NUMPY_KINDS or value.dtype.fields is not None:
            raise CellFormatError(f"{where}: NumPy dtype {value.dtype} cannot be cached")
        return {"$np": [value.dtype.str, value.tobytes().hex()]}
    if value is None or isinstance(value, (bool, str)):
        if type(value) not in (type(None), bool, str):
            raise CellFormatError(f"{where}: type {type(value).__name__} cannot be cached")
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        return {"$f": value.hex()}
    if type(value) is complex:
        return {"$c": [value.real.hex(), value.imag.hex()]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMPY_KINDS or value.dtype.fields is not None:
            raise CellFormatError(f"{where}: NumPy array of dtype {value.dtype} cannot be cached")
        data = np.ascontiguousarray(value).tobytes().hex()
        return {"$nd": [value.dtype.str, list(value.shape), data]}
    if type(value) in (list, tuple):
        tag = "$list" if type(value) is list else "$tuple"
        return {tag: [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if type(value) is dict:
        items = []
        for k, v in value.items():
            if type(k) is not str:
                raise CellFormatError(f"{where}: dict key {k!r} is not a string")
            items.append([k, _encode(v, f"{where}[{k!r}]")])
        return {"$dict": items}
    raise CellFormatError(
        f"{where}: values of type {type(value).__module__}.{type(value).__qualname__} cannot "
        "be cached (allowed: None, bool, int, float, complex, str, NumPy scalars and arrays of "
        "numeric, bool, string or datetime dtype, and lists, tuples and str-keyed dicts of these)"
    )


def encode_rows(rows: list[dict]) -> list[dict]:
    """The rows in the tagged JSON form (module docstring); ``CellFormatError`` names the
    row and column of a value that cannot be stored."""
    if type(rows) is not list:
        raise CellFormatError(f"rows must be a list of dicts, not {type(rows).__name__}")
    out = []
    for i, row in enumerate(rows):
        if type(row) is not dict:
            raise CellFormatError(f"row {i} is a {type(row).__name__}, not a dict")
        encoded = {}
        for column, value in row.items():
            if type(column) is not str:
                raise CellFormatError(f"row {i}: column name {column!r} is not a string")
            encoded[column] = _encode(value, f"row {i} column {column!r}")
        out.append(encoded)
    return out


def _fromhex(text: Any) -> float:
    if type(text) is not str:
        raise CellFormatError(f"a float's hex form must be a string, not {text!r}")
    return float.fromhex(text)


def _numpy(dtype_str: Any, data: Any, shape: Any = None) -> Any:
    if type(dtype_str) is not str or type(data) is not str:
        raise CellFormatError("a NumPy value needs a dtype string and hex data")
    dtype = np.dtype(dtype_str)
    if dtype.kind not in _NUMPY_KINDS or dtype.fields is not None:
        raise CellFormatError(f"NumPy dtype {dtype_str!r} is not stored by this format")
    raw = bytes.fromhex(data)
    if shape is None:
        if len(raw) != dtype.itemsize:
            raise CellFormatError(f"a NumPy {dtype} scalar has {dtype.itemsize} bytes")
        return np.frombuffer(raw, dtype=dtype)[0]
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise CellFormatError(f"bad array shape {shape!r}")
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise CellFormatError(f"array data does not fill shape {shape} of {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode(value: Any) -> Any:
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is not dict or len(value) != 1:
        raise CellFormatError(f"unexpected value {value!r:.60} in a cell file")
    ((tag, body),) = value.items()
    if tag == "$f":
        return _fromhex(body)
    if tag == "$c" and type(body) is list and len(body) == 2:
        return complex(_fromhex(body[0]), _fromhex(body[1]))
    if tag == "$np" and type(body) is list and len(body) == 2:
        return _numpy(body[0], body[1])
    if tag == "$nd" and type(body) is list and len(body) == 3:
        return _numpy(body[0], body[2], body[1])
    if tag in ("$list", "$tuple") and type(body) is list:
        items = [_decode(v) for v in body]
        return items if tag == "$list" else tuple(items)
    if tag == "$dict" and type(body) is list:
        if not all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in body):
            raise CellFormatError("a $dict holds [key, value] pairs with string keys")
        return {k: _decode(v) for k, v in body}
    raise CellFormatError(f"unknown tag {tag!r} in a cell file")


def decode_rows(encoded: Any) -> list[dict]:
    """The rows of ``encode_rows``'s form (its inverse: every value bit for bit)."""
    if type(encoded) is not list or not all(type(r) is dict for r in encoded):
        raise CellFormatError("a cell's rows must be a JSON list of objects")
    return [{column: _decode(v) for column, v in row.items()} for row in encoded]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _header(experiment: str, key: str, digest: str) -> bytes:
    return _dumps({"format": FORMAT, "experiment": experiment, "key": key, "sha256": digest})


def write(rows: list[dict], experiment: str, key: str) -> bytes:
    """The bytes of the cell file of ``rows`` (module docstring)."""
    payload = _dumps(encode_rows(rows))
    return _header(experiment, key, hashlib.sha256(payload).hexdigest()) + b"\n" + payload


def _reject(name: str, value: Any) -> Any:
    raise CellFormatError(f"bare JSON {name} {value!r} in a cell file (floats are tagged)")


def read(data: bytes, experiment: str, key: str) -> list[dict]:
    """The rows of a cell file's bytes, after checking that the file is exactly what
    ``write`` makes of them for this experiment and key; ``CellFormatError`` otherwise."""
    head, sep, payload = data.partition(b"\n")
    if not sep:
        raise CellFormatError("no header line")
    digest = hashlib.sha256(payload).hexdigest()
    if head != _header(experiment, key, digest):
        raise CellFormatError(
            "header does not match (another format, experiment or key, or a checksum "
            "mismatch: the rows were changed)"
        )
    try:
        encoded = json.loads(
            payload.decode("ascii"),
            parse_float=lambda s: _reject("float", s),
            parse_constant=lambda s: _reject("constant", s),
        )
        rows = decode_rows(encoded)
        canonical = _dumps(encode_rows(rows))
    except CellFormatError:
        raise
    # A payload with a valid checksum but hostile content (a crafted file): bad hex, an
    # unknown dtype, nesting deep enough to exhaust the stack, an absurd array shape.
    except (TypeError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
        raise CellFormatError(f"payload cannot be decoded: {type(exc).__name__}: {exc}") from None
    if canonical != payload:
        raise CellFormatError("payload is not in canonical form")
    return rows
