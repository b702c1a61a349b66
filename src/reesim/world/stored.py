"""A world as JSON: what the cache keeps of a built default world, and reading it back.

A world is data (names, numbers, tables of them), so it is kept as JSON, never pickled: reading
it back constructs strings, numbers, lists and dicts only, then the :class:`World` checks its
tables as for any world (``docs/security.md``). Floats are written with Python's shortest
round-trip representation (``Infinity`` and ``NaN`` included), tables column by column with
their pandas dtypes, tuples and frames inside ``meta`` tagged so that they come back as tuples
and frames.

:func:`encode` refuses a world it cannot give back exactly: the encoded world is decoded at once
and compared with the original (every table exactly, dtypes included, and ``meta``), and a
world that differs raises :class:`NotStorable` (the caller then keeps it in memory only).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from reesim.world.world import World

#: version of this encoding; part of the cache key, so that a changed layout never meets an old file
FORMAT = 1
_FRAME, _TUPLE = "__frame__", "__tuple__"
_DTYPES = {"float64", "int64", "bool", "str", "object"}


class NotStorable(ValueError):
    """A world that the JSON encoding would not give back exactly."""


def _frame(df: pd.DataFrame) -> dict[str, Any]:
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


def _unframe(obj: dict[str, Any]) -> pd.DataFrame:
    cols = obj["columns"]
    index = pd.Index(obj["index"], dtype="int64") if "index" in obj else None
    data = {
        c: pd.Series(v, dtype=t, index=index)
        for c, t, v in zip(cols, obj["dtypes"], obj["data"], strict=True)
    }
    return pd.DataFrame(data, columns=cols, index=index)


def _value(obj: Any) -> Any:
    if isinstance(obj, pd.DataFrame):
        return {_FRAME: _frame(obj)}
    if isinstance(obj, tuple):
        return {_TUPLE: [_value(v) for v in obj]}
    if isinstance(obj, list):
        return [_value(v) for v in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj) or {_FRAME, _TUPLE} & set(obj):
            raise NotStorable("a mapping with keys that are not plain names")
        return {k: _value(v) for k, v in obj.items()}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    raise NotStorable(f"a value of type {type(obj).__name__}")


def _unvalue(obj: Any) -> Any:
    if isinstance(obj, dict):
        if _FRAME in obj:
            return _unframe(obj[_FRAME])
        if _TUPLE in obj:
            return tuple(_unvalue(v) for v in obj[_TUPLE])
        return {k: _unvalue(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unvalue(v) for v in obj]
    return obj


def _fields(world: World) -> dict[str, Any]:
    return {f.name: getattr(world, f.name) for f in dataclasses.fields(World)}


def decode(payload: bytes) -> World:
    """The world encoded in ``payload`` (checked by :class:`World` as any world is)."""
    doc = json.loads(payload)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NotStorable("not a world of this format")
    fields = {k: _unvalue(v) for k, v in doc["world"].items()}
    for name in ("regions", "commodities"):
        fields[name] = tuple(fields[name])
    return World(**fields)


def encode(world: World) -> bytes:
    """The JSON of ``world``, checked to decode to an identical world (:class:`NotStorable` if not)."""
    fields = _fields(world)
    doc = {"format": FORMAT, "world": {k: _value(v) for k, v in fields.items()}}
    payload = json.dumps(doc, separators=(",", ":"), allow_nan=True).encode("utf-8")
    if not same(decode(payload), world):
        raise NotStorable("the world does not come back identical from its JSON")
    return payload


def same(a: Any, b: Any) -> bool:
    """Whether two worlds (or parts of them) are identical: tables with equal dtypes and values
    (NaN equal to NaN), tuples and lists in order, floats bit for bit."""
    if isinstance(a, World) and isinstance(b, World):
        return same(_fields(a), _fields(b))
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        if not (isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)):
            return False
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError:
            return False
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)
