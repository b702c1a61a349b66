"""Plugins that :func:`reesim.pool.dask_pool` registers on the workers of its pool.

A module of its own because it imports :mod:`distributed` (a worker unpickles a plugin by its
module and name): :mod:`reesim.pool` is imported for in-process runs too, which need no Dask.
"""

from __future__ import annotations

import gc
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class FreezeAfterFirstTask(WorkerPlugin):
    """Dask worker plugin: after the worker's first finished task, collect and :func:`gc.freeze`.

    What a worker holds after one task (imports, the dataset, the worlds and solvers its caches
    keep) lives as long as the worker, yet every full collection walked it again. Frozen, it moves
    to the collector's permanent generation, which later collections ignore (Python library
    reference, :func:`gc.freeze`); objects made afterwards, each task's own, are collected as
    before, and a frozen object freed by its reference count is freed as usual. Only what was
    alive at that moment is frozen (a collection runs first), once per worker.
    """

    name = "reesim-freeze-after-first-task"
    idempotent = True

    def setup(self, worker: Any) -> None:
        self.frozen = False

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if not self.frozen and finish == "memory":
            self.frozen = True
            gc.collect()
            gc.freeze()
