"""Data as JSON for the cache: names, numbers, lists, mappings and pandas tables, given back exactly.

What the cache keeps of a world (:mod:`reesim.world.stored`) or a run
(:mod:`reesim.simulate.stored`) is data, so it is kept as JSON, never pickled: reading it back
constructs strings, numbers, lists and dicts only. Floats are written with Python's shortest
round-trip representation (``Infinity`` and ``NaN`` included); tables column by column with
their pandas dtypes (and their row numbers where they are not 0, 1, ...); tuples and tables
inside mappings are tagged so that they come back as tuples and tables. :func:`same` tells
whether what comes back is identical (the writers check it before they write).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

_FRAME, _TUPLE = "__frame__", "__tuple__"
_DTYPES = {"float64", "int64", "bool", "str", "object"}


class NotStorable(ValueError):
    """Data that the JSON encoding would not give back exactly."""


def dumps(doc: dict[str, Any], what: str) -> bytes:
    """``doc`` (built with :func:`value`) as compact JSON bytes; :class:`NotStorable` naming
    ``what`` if a value is not JSON data."""
    try:
        return json.dumps(doc, separators=(",", ":"), allow_nan=True).encode("utf-8")
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise NotStorable(f"the {what} is not JSON data ({type(exc).__name__}: {exc})") from None


def loads(payload: bytes, fmt: int, key: str | None, what: str) -> dict[str, Any]:
    """The JSON document in ``payload`` if it is of format ``fmt`` and, with ``key``, was written
    under that key (a file renamed to another key's name is refused); else :class:`NotStorable`."""
    doc = json.loads(payload)
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise NotStorable(f"not a {what} of this format")
    if key is not None and doc.get("key") != key:
        raise NotStorable(f"a {what} kept under another key")
    return doc


def frame(df: pd.DataFrame) -> dict[str, Any]:
    """A table as JSON-ready columns with their dtypes (:class:`NotStorable` for other dtypes or indexes)."""
    dtypes = [str(t) for t in df.dtypes]
    bad = sorted(set(dtypes) - _DTYPES)
    if bad:
        raise NotStorable(f"a column of dtype {bad[0]}")
    out = {
        "columns": [str(c) for c in df.columns],
        "dtypes": dtypes,
        "data": [df[c].tolist() for c in df.columns],
    }
    index = df.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        if str(index.dtype) != "int64" or index.name is not None:
            raise NotStorable("a table with an index that is not of row numbers")
        out["index"] = index.tolist()  # a selection's row numbers (e.g. the route targets)
    return out


def unframe(obj: dict[str, Any]) -> pd.DataFrame:
    """The table :func:`frame` encoded."""
    cols = obj["columns"]
    index = pd.Index(obj["index"], dtype="int64") if "index" in obj else None
    data = {
        c: pd.Series(v, dtype=t, index=index)
        for c, t, v in zip(cols, obj["dtypes"], obj["data"], strict=True)
    }
    return pd.DataFrame(data, columns=cols, index=index)


def value(obj: Any) -> Any:
    """``obj`` (names, numbers, lists, tuples, mappings with string keys, tables) as JSON-ready data."""
    if isinstance(obj, pd.DataFrame):
        return {_FRAME: frame(obj)}
    if isinstance(obj, tuple):
        return {_TUPLE: [value(v) for v in obj]}
    if isinstance(obj, list):
        return [value(v) for v in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj) or {_FRAME, _TUPLE} & set(obj):
            raise NotStorable("a mapping with keys that are not plain names")
        return {k: value(v) for k, v in obj.items()}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    raise NotStorable(f"a value of type {type(obj).__name__}")


def unvalue(obj: Any) -> Any:
    """The value :func:`value` encoded (tuples and tables given back as such)."""
    if isinstance(obj, dict):
        if _FRAME in obj:
            return unframe(obj[_FRAME])
        if _TUPLE in obj:
            return tuple(unvalue(v) for v in obj[_TUPLE])
        return {k: unvalue(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unvalue(v) for v in obj]
    return obj


def same(a: Any, b: Any) -> bool:
    """Whether two values are identical: tables with the same columns, dtypes, index class and
    row labels, float values bit for bit (the sign of zero included; NaN equal to NaN) and, in
    object columns, values of the same types; tuples and lists in order; mappings key by key."""
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame) and _same_frame(a, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return _same_floats(np.array([a]), np.array([b]))
    return bool(a == b)


def _same_floats(x: np.ndarray, y: np.ndarray) -> bool:
    nan = np.isnan(x)
    return bool((nan == np.isnan(y)).all() and (x[~nan].view(np.int64) == y[~nan].view(np.int64)).all())


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True, check_index_type=True)
    except AssertionError:
        return False
    for col in range(a.shape[1]):
        x, y = a.iloc[:, col], b.iloc[:, col]
        if x.dtype == np.float64 and not _same_floats(x.to_numpy(), y.to_numpy()):
            return False
        if x.dtype == object and [type(v) for v in x] != [type(v) for v in y]:
            return False
    return True
