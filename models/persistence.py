"""Model files that run no code when they are read: one JSON document and one `.npz` of arrays.

A pickle names the functions to call while it is read, so a registered model file that was
written by someone hostile runs their code in the server the moment it is loaded, whatever
is checked afterwards. This format cannot: the file is a zip holding

- `model.json`: a header (`format`, plus what the writer asks to record, such as the feature
  layout) and the object tree, as JSON with tagged values (tuples, sets, dates, frames,
  arrays by reference, and objects of the classes this package registers);
- `arrays.npz`: the numeric arrays, read with `allow_pickle=False`.

Reading builds only plain values, numpy arrays, pandas frames and instances of the classes
decorated `@persistable` (the fitted model's own classes, whose code is this package's),
created with `__new__` and given their state; a class name the package did not register is
refused, never imported. The header can be read alone, so a caller can check it before
anything is built (`read_header`).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "m.polku"
>>> dump({"w": np.arange(3.0), "names": ("a", "b")}, path, header={"note": "x"})
>>> read_header(path)["note"]
'x'
>>> load(path)["names"]
('a', 'b')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import pandas as pd

FORMAT: Final = "polku-model/1"
DOCUMENT: Final = "model.json"
ARRAYS: Final = "arrays.npz"
# The model files are small (a few MB); anything far larger is not one.
MAX_MEMBER_BYTES: Final = 1 << 30

T = TypeVar("T", bound=type)
_TRUSTED: dict[str, type[Any]] = {}


class PersistenceError(ValueError):
    """A model file cannot be written or read in this format; the message says why."""


def persistable(cls: T) -> T:
    """Register a class whose instances a model file may hold (a class decorator)."""
    _TRUSTED[_name(cls)] = cls
    return cls


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# -- writing ---------------------------------------------------------------------------------


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray, where: str) -> dict[str, Any]:
        key = f"a{len(self.arrays)}"
        if value.dtype == object:
            if not all(isinstance(item, str) for item in value.ravel()):
                raise PersistenceError(f"{where}: an object array may hold only strings")
            self.arrays[key] = value.astype(str)
            return {"__array__": key, "object": True}
        if value.dtype.hasobject or value.dtype.kind == "V":
            raise PersistenceError(f"{where}: arrays of dtype {value.dtype} are not stored")
        self.arrays[key] = value
        return {"__array__": key}

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic):
            return self.encode(value.item(), where)
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, tuple | list):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {"__tuple__": items} if isinstance(value, tuple) else items
        if isinstance(value, set | frozenset):
            return {"__set__": [self.encode(v, f"{where}{{}}") for v in sorted(value, key=repr)]}
        if isinstance(value, Mapping):
            return {
                "__dict__": [
                    [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        if isinstance(value, dt.datetime):
            return {"__datetime__": value.isoformat()}
        if isinstance(value, dt.date):
            return {"__date__": value.isoformat()}
        if isinstance(value, pd.DataFrame):
            return {
                "__frame__": {
                    "columns": self.encode(tuple(value.columns), f"{where}.columns"),
                    "index": self.array(np.asarray(value.index.to_numpy()), f"{where}.index"),
                    "data": [
                        self.array(np.asarray(value[c].to_numpy()), f"{where}[{c!r}]")
                        for c in value.columns
                    ],
                }
            }
        name = _name(type(value))
        if _TRUSTED.get(name) is type(value) and dataclasses.is_dataclass(value):
            # A (possibly frozen, slotted) dataclass is stored field by field.
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return {"__object__": name, "fields": self.encode(fields, where)}
        if _TRUSTED.get(name) is type(value):
            state = value.__getstate__()
            if not isinstance(state, dict):
                raise PersistenceError(f"{where}: {name} has no dictionary state to store")
            return {"__object__": name, "state": self.encode(state, where)}
        raise PersistenceError(
            f"{where}: a {name} cannot be stored in a model file (plain values, arrays, frames "
            "and @persistable classes only)"
        )


def dump(value: Any, path: str | Path, *, header: Mapping[str, Any] | None = None) -> None:
    """Write `value` to `path` (atomically: a reader never sees half a file).

    Raises
    ------
    PersistenceError
        Something in `value` cannot be stored (the message names where it sits).
    """
    encoder = _Encoder()
    document = {"format": FORMAT, **dict(header or {}), "root": encoder.encode(value, "model")}
    arrays = io.BytesIO()
    np.savez(arrays, allow_pickle=False, **encoder.arrays)
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(DOCUMENT, json.dumps(document, allow_nan=True))
            z.writestr(ARRAYS, arrays.getvalue())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- reading ---------------------------------------------------------------------------------


def _member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise PersistenceError(f"{path.name} is not a Polku model file (no {name})") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise PersistenceError(f"{path.name}: {name} is implausibly large; refusing it")
    return archive.read(name)


def _document(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        document = json.loads(_member(archive, DOCUMENT, path))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PersistenceError(f"{path.name}: {DOCUMENT} is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise PersistenceError(f"{path.name}: format {found!r}, expected {FORMAT!r}")
    return document


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise PersistenceError(
            f"{path.name} is not a Polku model file (models are no longer pickles: a pickle "
            "runs code when it is read; retrain, or re-save a trusted model with this code)"
        ) from None


def read_header(path: str | Path) -> dict[str, Any]:
    """The header of a model file (everything but the object tree); builds nothing."""
    path = Path(path)
    with _open(path) as archive:
        document = _document(archive, path)
    document.pop("root", None)
    return document


class _Decoder:
    def __init__(self, arrays: Mapping[str, np.ndarray], path: Path) -> None:
        self.arrays = arrays
        self.path = path

    def fail(self, message: str) -> PersistenceError:
        return PersistenceError(f"{self.path.name}: {message}")

    def array(self, node: Mapping[str, Any]) -> np.ndarray:
        key = node.get("__array__")
        if not isinstance(key, str) or key not in self.arrays:
            raise self.fail(f"missing array {key!r}")
        value = self.arrays[key]
        return value.astype(object) if node.get("object") else value

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise self.fail(f"unexpected value {type(node).__name__}")
        readers: dict[str, Callable[[Any], Any]] = {
            "__tuple__": lambda v: tuple(self.decode(x) for x in v),
            "__set__": lambda v: frozenset(self.decode(x) for x in v),
            "__dict__": lambda v: {self.decode(k): self.decode(x) for k, x in v},
            "__datetime__": dt.datetime.fromisoformat,
            "__date__": dt.date.fromisoformat,
            "__array__": lambda _: self.array(node),
            "__frame__": self.frame,
            "__object__": lambda _: self.instance(node),
        }
        tag = next(iter(node))
        if tag not in readers:
            raise self.fail(f"unknown tag {tag!r}")
        try:
            return readers[tag](node[tag])
        except (TypeError, ValueError, KeyError) as exc:
            if isinstance(exc, PersistenceError):
                raise
            raise self.fail(f"malformed {tag} ({type(exc).__name__})") from None

    def frame(self, node: Mapping[str, Any]) -> pd.DataFrame:
        columns = self.decode(node["columns"])
        data = [self.array(c) for c in node["data"]]
        index = self.array(node["index"])
        return pd.DataFrame(dict(zip(columns, data, strict=True)), index=index)

    def instance(self, node: Mapping[str, Any]) -> Any:
        name = node["__object__"]
        cls = _TRUSTED.get(name) if isinstance(name, str) else None
        if cls is None:
            raise self.fail(f"holds a {name!r}, which is not a Polku model class; refusing it")
        if "fields" in node:
            fields = self.decode(node["fields"])
            known = (
                {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else ()
            )
            if not isinstance(fields, dict) or set(fields) != set(known):
                raise self.fail(f"{name} with other fields than this code's")
            built: Any = object.__new__(cls)
            for key, item in fields.items():
                object.__setattr__(built, key, item)  # frozen dataclasses too
            return built
        state = self.decode(node.get("state"))
        if not isinstance(state, dict):
            raise self.fail(f"{name} without a dictionary state")
        obj: Any = object.__new__(cls)
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj


def load(path: str | Path) -> Any:
    """Read a model file written by `dump`.

    Raises
    ------
    PersistenceError
        Not such a file (a pickle included: it is refused without being read), another
        format version, or anything in it this package does not know.
    """
    path = Path(path)
    with _open(path) as archive:
        document = _document(archive, path)
        try:
            with np.load(io.BytesIO(_member(archive, ARRAYS, path)), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            if isinstance(exc, PersistenceError):
                raise
            # An object array (a pickle inside the .npz) lands here too, unread.
            problem = f"{path.name}: unreadable arrays ({type(exc).__name__})"
            raise PersistenceError(problem) from None
    return _Decoder(arrays, path).decode(document["root"])
