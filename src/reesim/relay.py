"""Warnings raised in worker processes, carried back to the process that prints them.

A Dask worker's warnings go to the worker's own stderr, one line per repeat, bypassing the
CLI's handler that prints a text once and counts its repeats (:mod:`reesim.cli.main`). A
worker function runs under :func:`collecting` and returns the warnings it saw as plain data;
the parent calls :func:`reissue`, so they reach the same handler as warnings raised in process.
Only warning classes of the standard library and of :mod:`reesim` are rebuilt by name; any
other class comes back as a :class:`UserWarning` with the same text.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Callable
from typing import Any

Record = tuple[str, str]  # (class name, message)


def collecting(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[Record]]:
    """``fn(*args, **kwargs)`` and the warnings it raised (each repeat kept)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [(w.category.__name__, str(w.message)) for w in caught]


#: warning classes of reesim, by name, with the module that defines them
_REESIM = {
    "ScenarioWarning": "reesim.scenario.load",
    "OutputWarning": "reesim.atomic",
    "CacheWarning": "reesim.cache",
}


def _category(name: str) -> type[Warning]:
    import importlib

    cat = getattr(builtins, name, None)
    if cat is None and name in _REESIM:
        cat = getattr(importlib.import_module(_REESIM[name]), name, None)
    return cat if isinstance(cat, type) and issubclass(cat, Warning) else UserWarning


def reissue(records: list[Record]) -> None:
    """Raise the collected warnings again in this process, in order."""
    for name, message in records:
        warnings.warn(message, _category(name), stacklevel=2)
