"""The Dask pool that parallel runs share: a local cluster or a scheduler's cluster.

Ensembles (:mod:`reesim.ensemble.runner`) and games (:mod:`reesim.game.payoffs`, and a game's
ensemble, whose members all use one pool) submit their runs to a :class:`distributed.Client`:

* by default a :class:`distributed.LocalCluster` of ``workers`` single-threaded processes, whose
  workers persist for the whole command, so imports, the dataset and the default world are paid
  once per worker, not once per batch;
* with ``scheduler`` (``tcp://host:8786``), the cluster started with ``dask scheduler`` and
  ``dask worker`` on several machines (``docs/ensemble.md``).

With one worker and no scheduler there is no pool: the caller runs in process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reesim.errors import InputError


@contextmanager
def dask_pool(workers: int, scheduler: str | None = None) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``workers`` local processes or the ``scheduler``; None
    when the work runs in this process (one worker, no scheduler). Closed on exit.

    Raises
    ------
    InputError
        If no scheduler answers at ``scheduler`` within 10 s.
    """
    if scheduler is None and workers <= 1:
        yield None
        return
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"--scheduler {scheduler}: no Dask scheduler answers there ({exc}); start one with "
                "`dask scheduler` and give its tcp://host:port (docs/ensemble.md)"
            ) from None
    else:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
