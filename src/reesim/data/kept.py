"""Small tables derived from the embedded dataset, kept in the cache folder between processes.

A ``reesim run`` served from the cache (its default world and its counterfactual run kept there)
still read two small tables from the dataset's DuckDB file: the kg of each priced good per
product unit behind the product cost table, and the employment rows behind the jobs table.
Importing the engine and its first query took about 80 ms of a 1.2 s run (issue 16's target,
measured 2026-12-06). :func:`kept_table` keeps such a table as verified JSON
(:func:`reesim.cache.kept`, encoded by :mod:`reesim.jsondata`: no pickle) under a key of the
dataset, the source of every module and the runtime (:func:`reesim.cache.computed_key`), so that
a changed row, builder or library never meets an old table. A table the JSON would not give back
exactly (dtypes included) is returned without being kept, as is every table when there is no
private cache folder.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from reesim.jsondata import NotStorable, dumps, frame, loads, same, unframe

__all__ = ["FORMAT", "kept_table"]

#: version of this encoding; part of the key, so that a changed layout never meets an old file
FORMAT = 1
#: at most this many tables (and bytes) are kept; the least recently used go first
KEEP, MAX_BYTES = 16, 5_000_000


def kept_table(name: str, build: Callable[[], pd.DataFrame], inputs: tuple[str, ...] = ()) -> pd.DataFrame:
    """``build()``, the table ``name`` derived from the embedded dataset, read back from the cache
    folder when kept there (module docstring); the caller may change what it gets.

    ``inputs`` names whatever else the table is made of that the key does not cover (the key
    hashes the dataset's tables and the package's ``.py`` and ``.yaml`` files, not its other
    files): e.g. the SHA-256 of a CSV of the package that ``build`` reads.
    """
    from reesim import cache

    key = cache.computed_key("dataset table", FORMAT, name, *inputs)
    table, _ = cache.kept("tables", "table", key, build, encode, decode, keep=KEEP, max_bytes=MAX_BYTES)
    return table


def encode(table: pd.DataFrame, key: str | None = None) -> bytes:
    """The JSON of ``table`` (under ``key``), checked to decode to an identical table
    (:class:`~reesim.jsondata.NotStorable` if not)."""
    payload = dumps({"format": FORMAT, "key": key, "table": frame(table)}, "table")
    if not same(decode(payload, key), table):
        raise NotStorable("the table does not come back identical from its JSON")
    return payload


def decode(payload: bytes, key: str | None = None) -> pd.DataFrame:
    """The table encoded in ``payload``; with ``key``, only if it was written under that key."""
    doc = loads(payload, FORMAT, key, "table")
    if not isinstance(doc.get("table"), dict):
        raise NotStorable("not a table of this format")
    return unframe(doc["table"])
