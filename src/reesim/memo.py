"""Per-object memos keyed by identity, for objects that are not hashable (a World, a Dataset).

:func:`memo_of` gives each live object its own dict, found again while the object lives and
dropped when it is collected (a weak reference confirms that an ``id`` still names the same
object, so a reused ``id`` never returns another object's entries). An object that cannot be
weakly referenced gets a fresh dict each time: nothing is kept for it.

:func:`private_copy` hands out a kept table so that the caller's changes never reach it.
"""

from __future__ import annotations

import weakref
from typing import Any

_MEMOS: dict[int, tuple[weakref.ref, dict]] = {}


def memo_of(obj: Any) -> dict:
    """The memo dict of ``obj`` (see the module docstring)."""
    key = id(obj)
    hit = _MEMOS.get(key)
    if hit is not None and hit[0]() is obj:
        return hit[1]
    memo: dict = {}
    try:
        ref = weakref.ref(obj)
    except TypeError:
        return memo
    _MEMOS[key] = (ref, memo)
    weakref.finalize(obj, _MEMOS.pop, key, None)
    return memo


def private_copy(df: Any) -> Any:
    """A copy of the table ``df`` that a caller may change without changing ``df``.

    Shallow under pandas' copy-on-write (always from pandas 3; an option in pandas 2), which
    copies a column only when one side writes to it; a deep copy otherwise.
    """
    import pandas as pd

    cow = int(pd.__version__.split(".")[0]) >= 3 or bool(getattr(pd.options.mode, "copy_on_write", False))
    return df.copy(deep=not cow)
