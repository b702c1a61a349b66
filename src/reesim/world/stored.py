"""A world as JSON: what the cache keeps of a built default world, and reading it back.

The encoding is :mod:`reesim.jsondata` (no pickle; strings, numbers, lists and dicts are all that
reading constructs); the :class:`World` then checks its tables as for any world
(``docs/security.md``). :func:`encode` refuses a world it cannot give back exactly: the encoded
world is decoded at once and compared with the original (every table exactly, dtypes included,
and ``meta``), and a world that differs raises :class:`NotStorable` (the caller then keeps it in
memory only).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reesim.jsondata import NotStorable, dumps, loads, same, unvalue, value
from reesim.world.world import World

__all__ = ["FORMAT", "NotStorable", "decode", "encode", "same_world"]

#: version of this encoding; part of the cache key, so that a changed layout never meets an old file
FORMAT = 1


def _fields(world: World) -> dict[str, Any]:
    return {f.name: getattr(world, f.name) for f in dataclasses.fields(World)}


def decode(payload: bytes, key: str | None = None) -> World:
    """The world encoded in ``payload`` (checked by :class:`World` as any world is); with ``key``,
    only if it was written under that key (a file renamed to another key's name is refused)."""
    doc = loads(payload, FORMAT, key, "world")
    if not isinstance(doc.get("world"), dict):
        raise NotStorable("not a world of this format")
    fields = {k: unvalue(v) for k, v in doc["world"].items()}
    for name in ("regions", "commodities"):
        fields[name] = tuple(fields[name])
    return World(**fields)


def encode(world: World, key: str | None = None) -> bytes:
    """The JSON of ``world`` (under ``key``), checked to decode to an identical world
    (:class:`NotStorable` if not, or if a value is not JSON data)."""
    payload = dumps({"format": FORMAT, "key": key, "world": value(_fields(world))}, "world")
    if not same_world(decode(payload, key), world):
        raise NotStorable("the world does not come back identical from its JSON")
    return payload


def same_world(a: World, b: World) -> bool:
    """Whether two worlds are identical (every field; tables exactly: :func:`reesim.jsondata.same`)."""
    return same(_fields(a), _fields(b))
