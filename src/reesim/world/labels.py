"""A world's labels as one key, and structures derived from labels alone, made once per process.

Every table of a :class:`~reesim.world.world.World` has label columns (ids, regions, goods,
sectors, rule names) and number columns (capacities, costs, coefficients). What is derived from
the labels alone (the index arrays of the QP's matrix, the recorder's and the welfare account's
lookups) is the same for every world with the same labels in the same order. An ensemble's members
differ in numbers only: each member's runs of a scenario have worlds with the same labels, so a
pool worker makes those structures once per scenario instead of once per run.

:func:`labels_key` is the key: every label column of the tables the structures read, in row
order, and the sign of every io coefficient (an output, an input or neither: the recorder and the
rules of origin read outputs). :func:`shared` keeps what ``make`` returns under ``(name, key)``
for the life of the process, the :data:`KEEP` most recently used. A kept structure is shared by
every run that asks for it: its arrays are read-only and its tables are handed out as copies
(:func:`reesim.memo.private_copy`); callers must not change its dicts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from reesim.memo import memo_of

#: label columns of each table that structures read (the number columns are left out)
LABELS: dict[str, tuple[str, ...]] = {
    "processes": ("process", "region", "kind"),
    "io": ("process", "commodity"),
    "demands": ("demand", "sector", "region", "commodity"),
    "edges": ("commodity", "origin", "dest"),
    "quotas": ("quota",),
    "quota_members": ("quota", "commodity", "origin", "dest"),
    "origin_rules": ("rule", "owner", "commodity", "via", "dest"),
    "enduse_rules": ("rule", "licence", "commodity", "dest", "exporter", "demand"),
}
#: structures kept per process (a few per scenario: its world's and the calibration world's
#: layouts, and each World's checked labels, ``World._validate``)
KEEP = 48

_KEPT: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()  # a service's threads may run simulations at once


def _column(world, table: str, column: str) -> tuple:
    """A label column as its dtype and values, read from a step's base table where the table is
    pending (:class:`~reesim.world.world.Columns` change numbers only). The dtype is part of the
    key: kept tables carry their columns' dtypes, and labels 1 and 1.0 are equal in Python but
    not as text (a region ``1`` of an integer column and ``1.0`` of a float one)."""
    pending = world.__dict__.get("_pending", {}).get(table)
    frame = pending.base if pending is not None else getattr(world, table)
    if column not in frame.columns:  # a table made without the World's checks (with_data)
        return ("missing",)
    values = frame[column]
    return (str(values.dtype), tuple(values.tolist()))


def labels_key(world) -> tuple:
    """The labels of ``world`` (module docstring) as one hashable tuple, made once per world."""
    memo = memo_of(world)
    key = memo.get("labels_key")
    if key is None:
        signs = np.sign(world.numbers("io", "coef"))
        key = (
            tuple(world.regions),
            tuple(world.commodities),
            *(tuple(_column(world, t, c) for c in cols) for t, cols in LABELS.items()),
            tuple(signs.tolist()),
        )
        memo["labels_key"] = key
    return key


def shared(world, name: str, make: Callable[[], Any]) -> Any:
    """``make()``, made once per process for worlds with the labels of ``world`` (module docstring).

    ``make`` must read only the labels of ``world`` (:data:`LABELS` and the signs of the io
    coefficients); the caller computes what numbers enter. A key that holds NaN matches only the
    world it was made of (NaN differs from itself; the same key object is the same world): another
    world with NaN labels makes its own.
    """
    key = (name, labels_key(world))
    with _LOCK:
        hit = _KEPT.get(key)
        if hit is not None:
            _KEPT.move_to_end(key)
            return hit
    made = make()
    with _LOCK:
        _KEPT[key] = made
        _KEPT.move_to_end(key)
        while len(_KEPT) > KEEP:
            _KEPT.popitem(last=False)
    return made


def clear() -> None:
    """Forget every kept structure (tests)."""
    with _LOCK:
        _KEPT.clear()


def frozen(*arrays: np.ndarray) -> None:
    """Make ``arrays`` read-only (they are shared by every run that reads the structure)."""
    for a in arrays:
        a.flags.writeable = False
