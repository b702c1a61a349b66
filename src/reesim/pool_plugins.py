"""Plugins that :func:`reesim.pool.dask_pool` registers on the workers of its pool.

A module of its own because it imports :mod:`distributed` (a worker unpickles a plugin by its
module and name): :mod:`reesim.pool` is imported for in-process runs too, which need no Dask.
"""

from __future__ import annotations

from typing import Any

from dask.utils import key_split
from distributed.diagnostics.plugin import WorkerPlugin

from reesim.pool import collect_rarely, freeze_held


class FreezeAfterFirstTask(WorkerPlugin):
    """Dask worker plugin: :func:`reesim.pool.freeze_held` once, after the worker's first finished
    reesim task (what a worker holds then, imports, the dataset, the worlds and solvers its caches
    keep, lives as long as the worker), and young objects collected rarely from the start
    (:func:`reesim.pool.collect_rarely`).

    A reesim task is one :func:`reesim.pool.submit` made (its key names
    :func:`reesim.pool.on_worker`) that the worker ran: data that arrives (scattered, or fetched
    from another worker) and :func:`reesim.pool.share`'s values also end in memory, before any
    run has loaded the dataset or a world, which a freeze then would leave to the collector."""

    name = "reesim-freeze-after-first-task"
    idempotent = True

    def setup(self, worker: Any) -> None:
        self.frozen = False
        collect_rarely()

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if not self.frozen and finish == "memory" and start == "executing" and key_split(key) == "on_worker":
            self.frozen = True
            freeze_held()


class AdvertiseReesim(WorkerPlugin):
    """Dask worker plugin: the worker advertises the reesim it runs as a resource
    (:func:`reesim.pool.resource_name` of its own :func:`reesim.pool.same_code`, as many units as
    it has threads), on every worker of the pool, those that join later included. Tasks ask for
    one unit of the client's (:func:`reesim.pool.task_options`), so a worker with another reesim
    (or one whose reesim cannot load this plugin) never gets them. The reesim is read on the
    worker's thread pool: a fresh worker's first read loads the dataset (about 0.4 s), which would
    hold up its event loop.
    """

    name = "reesim-advertise"
    idempotent = True

    async def setup(self, worker: Any) -> None:
        from reesim.pool import _same_code_off_the_loop, resource_name

        mine = await _same_code_off_the_loop()
        await worker.set_resources(**{resource_name(mine): worker.state.nthreads})
        # The scheduler looks again at tasks no worker could run when a worker joins or starts
        # running, not when one gains a resource; a worker that replaces all the advertising ones
        # (a restart) registers before this runs, so its tasks would wait for ever: a pause and
        # resume makes the scheduler look again (distributed's handle_worker_status_change).
        from distributed.core import Status

        if worker.status == Status.running:
            worker.status = Status.paused
            worker.status = Status.running
