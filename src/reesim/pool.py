"""The Dask pool that parallel runs share: a local cluster or a scheduler's cluster.

Ensembles (:mod:`reesim.ensemble.runner`) and games (:mod:`reesim.game.payoffs`, and a game's
ensemble, whose members all use one pool) submit their runs to a :class:`distributed.Client`:

* by default a :class:`distributed.LocalCluster` of ``workers`` single-threaded processes, whose
  workers persist for the whole command, so imports, the dataset and the default world are paid
  once per worker, not once per batch;
* with ``scheduler`` (``tls://host:8786``), the cluster started with ``dask scheduler`` and
  ``dask worker`` on several machines (``docs/ensemble.md``).

A Dask cluster runs whatever code its clients send. The local cluster therefore speaks TLS with
temporary credentials made for it (``security=True``: a throwaway certificate authority whose
key stays in this process and its workers), so that no other process on the machine, another
user's included, can connect to it and run code as you (without it the scheduler and workers
listened on plain TCP on 127.0.0.1, open to every local user). A scheduler address must be
``tls://`` (with the certificates of Dask's ``distributed.comm.tls`` configuration); a plain
``tcp://`` one is refused unless ``REESIM_INSECURE_SCHEDULER=1`` says the network is trusted.

With one worker and no scheduler there is no pool: the caller runs in process.

Every worker must run the client's reesim: the same source (:func:`reesim.cache.code_fingerprint`)
and the same dataset. A worker of a user's cluster with another reesim installed would otherwise
compute members and payoffs with other code and data, mixed silently into one result. The pool
asks every worker when it opens (:func:`check_workers`: a :class:`WorkerMismatch` naming the
worker and what differs); every worker, those that join later included, advertises its own
reesim as a Dask resource (:class:`reesim.pool_plugins.AdvertiseReesim`) and every task asks for
the client's (:func:`task_options`), so a worker with another reesim gets no task; and every task
checks again on its worker (:func:`on_worker`). A task also names its worker's runtime (:func:`reesim.cache.runtime`:
another CPU's builds give figures that differ in the last digits), so that an ensemble
can record which build computed each member. Tasks that wait while the cluster's workers all run
another reesim (replaced by workers of another version mid-run) are cancelled with the reason
after :data:`NO_MATCH_S` (:func:`watch`), not left waiting for ever.

After a worker's first task its long-lived objects (modules, the dataset, the default world and
other caches) are moved out of the cyclic garbage collector's reach (:func:`gc.freeze`, through
:class:`reesim.pool_plugins.FreezeAfterFirstTask`): a full collection of a worker holding them took about 85 ms and
hit one ensemble member in six (about 14 ms a member on average; 2 ms once they are frozen).
"""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from reesim.errors import InputError
from reesim.relay import Record, collecting

#: ensembles of fewer members run in process unless told otherwise: a local cluster's start-up and
#: each worker's first member (imports, the dataset: about 3 s on this machine's 2 cores,
#: docs/ensemble.md) cost more than two workers save on them
PARALLEL_FROM = 16


def default_workers(tasks: int) -> int:
    """Worker processes for ``tasks`` members when the user names none: every core from
    :data:`PARALLEL_FROM` members on (``os.cpu_count()``, as ``reesim game``), else 1 (in process)."""
    return (os.cpu_count() or 1) if tasks >= PARALLEL_FROM else 1


#: young objects allocated between two collections of a reesim process (Python's default: 700): a
#: step, a member and a command's pandas tables make and drop objects by the hundred thousand
YOUNG_THRESHOLD = 20_000


def collect_rarely() -> None:
    """Collect young objects every :data:`YOUNG_THRESHOLD` allocations (:func:`gc.set_threshold`;
    the older generations' thresholds as they were), in a process that runs reesim's commands or
    members: with Python's 700 an ensemble member ran about 17 young and 2 middle collections
    (5 ms; 1 ms at 20,000). Memory is freed by reference counts as before; only cycles wait longer."""
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def freeze_held() -> None:
    """Collect, then move what this process holds now to the garbage collector's permanent
    generation, which later collections ignore (Python library reference, :func:`gc.freeze`).

    For a process that runs many members after its first (a pool worker, or ``reesim ensemble``
    in process): its modules, dataset and caches live as long as it does, yet every full
    collection walked them again (about 85 ms, on one member in six). Objects made afterwards,
    each member's own, are collected as before; a frozen object freed by its reference count is
    freed as usual; :func:`gc.unfreeze` gives them back.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def dask_pool(workers: int, scheduler: str | None = None) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``workers`` local processes or the ``scheduler``; None
    when the work runs in this process (one worker, no scheduler). Closed on exit.

    Raises
    ------
    InputError
        If no scheduler answers at ``scheduler`` within 10 s.
    WorkerMismatch
        If a worker runs another reesim source or dataset than this process (:func:`check_workers`).
    """
    if scheduler is None and workers <= 1:
        yield None
        return
    from distributed import Client

    cluster = None
    if scheduler is not None:
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout="10s")
        except TypeError as exc:  # distributed's words for a tls:// address without certificates
            raise InputError(
                f"--scheduler {scheduler}: no TLS certificates to connect with ({exc}); set Dask's "
                "distributed.comm.tls.ca-file and distributed.comm.tls.client.cert/key (docs/ensemble.md)"
            ) from None
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"--scheduler {scheduler}: no Dask scheduler answers there ({exc}); start one with "
                "`dask scheduler` and give its tls://host:port (docs/ensemble.md)"
            ) from None
    else:
        cluster = local_cluster(workers)
        client = Client(cluster)
    try:
        from reesim.pool_plugins import AdvertiseReesim, FreezeAfterFirstTask

        client.register_plugin(FreezeAfterFirstTask())
        check_workers(client, scheduler)  # first: a worker too old to load the plugin is named
        client.register_plugin(AdvertiseReesim())
        _ADVERTISED.add(client)
        yield client
    finally:
        _ADVERTISED.discard(client)
        client.close()
        if cluster is not None:
            cluster.close()


#: Dask's periodic work, made rarer on a local cluster. Its defaults (a statistical profiler sampling
#: every worker every 10 ms, an event-loop tick every 20 ms, a system monitor every 0.5 s and a
#: memory monitor every 0.1 s) feed a dashboard the local cluster does not serve; on two cores
#: they took about 19 ms of CPU per ensemble member, 5 % of a member (worker event loops 27 -> 14
#: ms per member, client and scheduler 17.5 -> 12 ms; docs/ensemble.md, ninth session). The
#: memory limit is still enforced, checked every 0.5 s. Work stealing stays on: turned off it
#: saved nothing measurable on an ensemble and the game's profiles, whose costs differ, ran a
#: little slower. Workers of a user's own cluster (``--scheduler``) keep their own configuration.
QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "500ms",
}


def local_cluster(workers: int) -> Any:
    """A :class:`distributed.LocalCluster` of ``workers`` single-threaded processes that no other
    process can use: TLS with temporary credentials (``security=True``; a client gets them from
    ``cluster.security``), and no HTTP routes on the scheduler or the workers (they answered plain
    HTTP on 127.0.0.1, logs, call stacks and task names, to any local process)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(
        {**QUIET, "distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}
    ):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
            security=True,
        )


#: environment variable that allows a plain-TCP scheduler (a network the user trusts)
INSECURE_ENV = "REESIM_INSECURE_SCHEDULER"


def check_scheduler(address: str) -> None:
    """Refuse a scheduler address that is not TLS, unless ``REESIM_INSECURE_SCHEDULER=1``.

    Raises
    ------
    InputError
        For a ``tcp://`` (or scheme-less) address without the override, or another scheme.
    """
    scheme = address.split("://", 1)[0].lower() if "://" in address else "tcp"
    if scheme == "tls":
        return
    if scheme == "tcp" and os.environ.get(INSECURE_ENV) == "1":
        return
    if scheme == "tcp":
        raise InputError(
            f"--scheduler {address}: a plain-TCP Dask scheduler runs any code a client sends, with no "
            "authentication; give a tls:// address with Dask's TLS certificates (distributed.comm.tls "
            f"configuration; docs/ensemble.md), or set {INSECURE_ENV}=1 on a network you trust"
        )
    raise InputError(
        f"--scheduler {address}: the address must start with tls:// (or tcp:// with {INSECURE_ENV}=1)"
    )


class WorkerMismatch(InputError):
    """A worker of the pool runs another reesim (source or dataset) than the client."""


def same_code() -> dict[str, str]:
    """What every process of one pool must share: the fingerprint of reesim's source (every module
    and scenario file, :func:`reesim.cache.code_fingerprint`, which includes the version) and the
    dataset's version (a digest of its files); the version is given for the messages."""
    from reesim import __version__
    from reesim.cache import code_fingerprint
    from reesim.data import default_dataset

    return {"source": code_fingerprint(), "dataset": default_dataset().version, "version": __version__}


async def _same_code_off_the_loop() -> dict[str, str]:
    """:func:`same_code` on a worker's thread pool: ``Client.run`` calls a plain function on the
    worker's event loop, and a fresh worker's first call imports the data layer and reads the
    dataset (about 0.4 s here), which would hold up its heartbeats."""
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, same_code)


def _mismatch(expected: dict[str, str], mine: dict[str, str]) -> str | None:
    """What differs between a worker's :func:`same_code` and the client's, in words; None if nothing."""
    differ = [
        f"its reesim {what} {str(mine.get(what, 'unknown'))[:12]} (reesim {mine.get('version', '?')}) "
        f"is not the client's {expected[what][:12]} (reesim {expected.get('version', '?')})"
        for what in ("source", "dataset")
        if mine.get(what) != expected[what]
    ]
    return "; ".join(differ) or None


def _fix(scheduler: str | None, expected: dict[str, str]) -> str:
    if scheduler is None:  # the local workers read the files as they are now; this process, at its start
        return "reesim's files changed since this process first read them; start it again"
    return (
        f"install the client's reesim (reesim {expected['version']}, the same commit, with its dataset) on "
        f"every worker of {scheduler}, or point --scheduler at a cluster that has it"
    )


def resource_name(code: dict[str, str]) -> str:
    """The Dask resource a worker advertises for the reesim it runs (:func:`same_code`):
    ``reesim-<source>-<dataset>``, 16 hex digits of each."""
    return f"reesim-{code['source'][:16]}-{code['dataset'][:16]}"


#: the clients :func:`dask_pool` opened, whose workers advertise their reesim as a resource
_ADVERTISED: weakref.WeakSet = weakref.WeakSet()


def task_options(client: Any) -> dict[str, Any]:
    """What a pool task asks of its worker: on a pool :func:`dask_pool` opened, one unit of the
    resource of this process's reesim (:func:`resource_name`), which only workers that run it
    advertise (:class:`reesim.pool_plugins.AdvertiseReesim`), so the scheduler never gives a task
    to, nor lets one be stolen by, a worker with another reesim, one that joins later included;
    nothing on a client opened elsewhere (its workers advertise nothing)."""
    return {"resources": {resource_name(same_code()): 1}} if client in _ADVERTISED else {}


def submit(client: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A reesim pool task: ``fn(*args)`` through :func:`on_worker` (checked against this process's
    :func:`same_code`), asking for this reesim's resource (:func:`task_options`); ``kwargs`` go to
    ``client.submit`` (``pure``, ``priority``). Its result is ``(result, warnings, runtime)``."""
    return client.submit(on_worker, same_code(), fn, *args, **task_options(client), **kwargs)


def _value(value: Any) -> Any:
    return value


def share(client: Any, value: Any) -> Any:
    """A future of ``value`` for the pool's tasks to take as an argument (a game's base run, which
    every profile needs), sent to the cluster once and fetched once by each worker that needs it.

    A task's result, not scattered data: the scheduler keeps the task and computes it again if
    every worker that held the value leaves, where scattered data is lost and the tasks that need
    it are cancelled ("already forgotten"). Measured on a real scheduler (2026-12-07): with
    ``client.scatter(..., broadcast=True)``, an ensemble whose only worker was restarted recorded
    88 of its 120 members as failed. It runs where this reesim runs (:func:`task_options`). The
    tasks that depend on it are first placed on the worker that holds it (work stealing spreads
    them): small inputs are better passed to each task, as the ensemble's scenarios are.
    """
    return client.submit(_value, value, pure=False, **task_options(client))


def check_workers(client: Any, scheduler: str | None = None) -> None:
    """Refuse a pool whose workers do not all run this process's reesim (:func:`same_code`).

    Raises
    ------
    WorkerMismatch
        Naming each worker that differs and what differs (source, dataset), or that could not say
        (a reesim without :func:`same_code`, or none); a worker that left meanwhile is not counted.
    """
    from distributed.comm.core import CommClosedError

    expected = same_code()
    bad = []
    for address, mine in sorted(client.run(_same_code_off_the_loop, on_error="return").items()):
        if isinstance(mine, CommClosedError):
            continue  # the worker left
        if isinstance(mine, BaseException):
            bad.append(
                f"worker {address}: cannot run reesim.pool.same_code ({type(mine).__name__}: {mine}): "
                "an older reesim, or none"
            )
        elif problem := _mismatch(expected, mine):
            bad.append(f"worker {address}: {problem}")
    if bad:
        where = f"--scheduler {scheduler}" if scheduler else "the local pool"
        raise WorkerMismatch(f"{where}: {'; '.join(bad)}; {_fix(scheduler, expected)}")


def _this_worker() -> str:
    from distributed import get_worker

    try:
        return f"worker {get_worker().address}"
    except ValueError:  # not on a worker
        return "this process"


def on_worker(
    expected: dict[str, str], fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[Any, list[Record], tuple[str, ...]]:
    """A pool task: ``fn(*args, **kwargs)`` on a worker that runs the client's reesim, with the
    warnings it raised (:func:`reesim.relay.collecting`) and the worker's runtime.

    ``expected`` is the client's :func:`same_code`: a worker that joined after
    :func:`check_workers` asked is checked here, at every task (cached values, microseconds).

    Raises
    ------
    WorkerMismatch
        If this worker's reesim source or dataset is not the client's.
    """
    from reesim.cache import runtime

    problem = _mismatch(expected, same_code())
    if problem:
        raise WorkerMismatch(f"{_this_worker()}: {problem}; install the client's reesim on it")
    result, caught = collecting(fn, *args, **kwargs)
    return result, caught, runtime()


#: seconds a pool's tasks wait while every worker of the cluster runs another reesim (none
#: advertises this one's resource) before they are cancelled with the reason (:func:`watch`)
NO_MATCH_S = 120.0

#: why :func:`watch` cancelled a task (``FutureCancelledError.reason``)
NO_MATCH_REASON = "no worker runs this reesim"


def without_match(workers: dict[str, dict], wanted: str) -> bool:
    """Whether a cluster's workers (``scheduler_info()["workers"]``) all run another reesim: there
    are some, and none advertises ``wanted`` (:func:`resource_name`). A cluster without workers
    is not: it may be starting or scaling up, and its tasks wait as any Dask task does."""
    return bool(workers) and not any((w.get("resources") or {}).get(wanted) for w in workers.values())


#: seconds between :func:`watch`'s looks at the cluster's workers
WATCH_EVERY_S = 5.0


def no_match(exc: BaseException) -> WorkerMismatch | None:
    """The :class:`WorkerMismatch` behind a task :func:`watch` cancelled (``exc``, the error its
    result raised), or None for any other error."""
    if getattr(exc, "reason", None) == NO_MATCH_REASON and getattr(exc, "msg", None):
        return WorkerMismatch(exc.msg)
    return None


def _no_match_message(client: Any, patience: float, wanted: str) -> str:
    """What :func:`watch` says, what to do first (the command prints the first 200 characters)."""
    # a local pool's workers restart with reesim's files as they are now
    if getattr(client, "cluster", None) is not None:
        what = "reesim's files changed since this process first read them; start it again"
    else:
        what = (
            "install it on the workers and run again what failed (reesim ensemble --member, or the "
            f"game); the cluster is {client.scheduler.address}"
        )
    return f"for {patience:.0f} s no worker ran the client's reesim: {what}; its Dask resource is {wanted}"


@contextmanager
def watch(
    client: Any,
    pending: Callable[[], Iterable[Any]],
    patience: float | None = None,
    every: float | None = None,
) -> Iterator[None]:
    """Cancel the pool's tasks that are not done (of ``pending()``: waiting to run, or a result lost
    with the worker that held it, which the scheduler would compute again) if for ``patience``
    seconds (default :data:`NO_MATCH_S`) the cluster has workers and none runs this reesim
    (:func:`without_match`): the scheduler would keep them waiting for ever, since they ask for
    this reesim's resource (:func:`task_options`). Each then fails with :data:`NO_MATCH_REASON`
    and what to do (:func:`no_match` makes it a :class:`WorkerMismatch`: an ensemble records its
    members as failed, a game stops with the error), instead of the command hanging; tasks
    submitted later are cancelled at the next look while it lasts. The cluster is asked every
    ``every`` seconds (default :data:`WATCH_EVERY_S`), from a thread of this process, while the
    block runs; nothing is watched on a client :func:`dask_pool` did not open (its tasks ask for
    no resource).
    """
    if client not in _ADVERTISED:
        yield
        return
    patience = NO_MATCH_S if patience is None else patience
    every = WATCH_EVERY_S if every is None else every
    stop = threading.Event()
    wanted = resource_name(same_code())
    msg = _no_match_message(client, patience, wanted)

    def look(since: float | None) -> float | None:
        """One look at the cluster: when its workers began to run only other reesims (None while
        one runs this reesim, or none is there); the waiting tasks are cancelled past the patience."""
        workers = client.scheduler_info()["workers"]  # this process's last view if it cannot ask
        if not without_match(workers, wanted):
            return None
        since = time.monotonic() if since is None else since
        if time.monotonic() - since >= patience:
            # not done: waiting to run, or lost with the worker that held it and to be computed
            # again (which no worker of this cluster can); and those submitted later, at the next look
            waiting = [f for f in list(pending()) if not f.done()]
            if waiting:
                client.cancel(waiting, reason=NO_MATCH_REASON, msg=msg)
        return since

    def run() -> None:
        since = None
        while not stop.wait(every):
            try:
                since = look(since)
            except Exception:  # a look that failed (the client closing): the next one tries again
                continue

    thread = threading.Thread(target=run, name="reesim-pool-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)  # a look holds it up at most as long as the scheduler takes to answer
