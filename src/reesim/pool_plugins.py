"""Plugins that :func:`reesim.pool.dask_pool` registers on the workers of its pool.

A module of its own because it imports :mod:`distributed` (a worker unpickles a plugin by its
module and name): :mod:`reesim.pool` is imported for in-process runs too, which need no Dask.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from reesim.pool import collect_rarely, freeze_held


class FreezeAfterFirstTask(WorkerPlugin):
    """Dask worker plugin: :func:`reesim.pool.freeze_held` once, after the worker's first finished
    task (what a worker holds then, imports, the dataset, the worlds and solvers its caches keep,
    lives as long as the worker), and young objects collected rarely from the start
    (:func:`reesim.pool.collect_rarely`)."""

    name = "reesim-freeze-after-first-task"
    idempotent = True

    def setup(self, worker: Any) -> None:
        self.frozen = False
        collect_rarely()

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if not self.frozen and finish == "memory":
            self.frozen = True
            freeze_held()
