"""The Dask pool: a local cluster no other process can join, and scheduler addresses that must be TLS."""

from __future__ import annotations

import gc

import pytest

from reesim.errors import InputError
from reesim.pool import INSECURE_ENV, QUIET, YOUNG_THRESHOLD, check_scheduler, dask_pool


def _square(x: int) -> int:
    return x * x


def test_the_local_cluster_refuses_clients_without_its_credentials():
    """A Dask cluster runs whatever its clients send: the pool's own client computes, a bare client
    (no certificate) and one with its own throwaway authority (another user's) cannot connect."""
    from distributed import Client
    from distributed.security import Security

    from reesim.pool import share, submit

    with dask_pool(2) as client:
        # neither a task of another kind nor a shared value freezes anything: they come before any
        # run has loaded the dataset or a world
        assert client.submit(_square, 7).result() == 49 and share(client, 7).result() == 7
        assert all(v == 0 for v in client.run(gc.get_freeze_count).values())
        fut = submit(client, _square, 7)
        assert fut.result()[0] == 49
        # the worker that ran the first reesim task froze what it held then (FreezeAfterFirstTask),
        # once; the other froze nothing
        ran = next(iter(client.who_has(fut)[fut.key]))
        frozen = client.run(gc.get_freeze_count)
        assert frozen[ran] > 1_000 and all(v == 0 for w, v in frozen.items() if w != ran), frozen
        assert submit(client, _square, 8, workers=[ran]).result()[0] == 64
        # not frozen again (frozen objects freed since leave the count: it may only fall)
        assert client.run(gc.get_freeze_count, workers=[ran])[ran] <= frozen[ran]
        # the periodic work the local cluster has no use for is made rarer on every worker
        # (pool.QUIET); a worker spawned without the settings would still run the profiler every
        # 10 ms. Work stealing stays on (the game's profiles differ in cost).
        import dask

        def settings() -> tuple:
            return tuple(dask.config.get(k) for k in QUIET)

        assert set(client.run(settings).values()) == {tuple(QUIET.values())}
        # every worker collects young objects rarely from its start (pool.collect_rarely)
        assert {t[0] for t in client.run(gc.get_threshold).values()} == {YOUNG_THRESHOLD}
        assert client.run_on_scheduler(lambda dask_scheduler: "stealing" in dask_scheduler.extensions) is True
        address = client.scheduler.address
        assert address.startswith("tls://")
        ca = client.security.tls_ca_file  # the cluster's authority, which an intruder could learn
        other = Security.temporary()
        # an intruder that trusts the cluster's certificate (so its own side accepts the server)
        # and shows a certificate of another authority, or none: the server must refuse it
        with_other_cert = Security(
            tls_ca_file=ca,
            tls_client_cert=other.tls_client_cert,
            tls_client_key=other.tls_client_key,
            require_encryption=True,
        )
        for intruder in (
            lambda: Client(address, timeout="3s", security=with_other_cert),
            lambda: Client(address.replace("tls://", "tcp://"), timeout="3s"),
            lambda: Client(address, timeout="3s", security=other),
        ):
            with pytest.raises(Exception):  # noqa: B017 - distributed raises several kinds
                c = intruder()
                c.close()
        # the same client settings with the cluster's own certificate do connect: the refusals
        # above are the server's checks, not a broken client
        own = Security(
            tls_ca_file=ca,
            tls_client_cert=client.security.tls_client_cert,
            tls_client_key=client.security.tls_client_key,
            require_encryption=True,
        )
        friend = Client(address, timeout="5s", security=own)
        assert friend.submit(_square, 3).result() == 9
        friend.close()


def test_scheduler_addresses(monkeypatch):
    monkeypatch.delenv(INSECURE_ENV, raising=False)
    check_scheduler("tls://10.0.0.5:8786")
    for bad in ("tcp://10.0.0.5:8786", "10.0.0.5:8786"):
        with pytest.raises(InputError, match="plain-TCP Dask scheduler"):
            check_scheduler(bad)
    with pytest.raises(InputError, match="must start with tls://"):
        check_scheduler("ucx://10.0.0.5:8786")
    monkeypatch.setenv(INSECURE_ENV, "1")
    check_scheduler("tcp://10.0.0.5:8786")  # the user says the network is trusted
    monkeypatch.setenv(INSECURE_ENV, "yes")  # only 1 counts
    with pytest.raises(InputError):
        check_scheduler("tcp://10.0.0.5:8786")


def test_a_tls_scheduler_without_certificates_is_an_input_error(monkeypatch):
    with pytest.raises(InputError, match="no TLS certificates"), dask_pool(2, "tls://127.0.0.1:9"):
        pass


def test_a_pool_refuses_workers_that_run_another_reesim(monkeypatch):
    """A worker with another reesim source (or dataset) would compute members with other code, mixed
    silently into one result: the pool asks every worker when it opens and names what differs.
    Here this process's source fingerprint is made to differ; the workers compute their own."""
    from reesim import cache
    from reesim.pool import WorkerMismatch

    monkeypatch.setattr(cache, "code_fingerprint", lambda *s: "0" * 64)
    with pytest.raises(WorkerMismatch) as err, dask_pool(2):
        pass
    text = str(err.value)
    assert text.startswith("the local pool: worker tls://")
    assert text.count("its reesim source") == 2 and "is not the client's 000000000000" in text
    assert "dataset" not in text  # the dataset is the same
    assert text.endswith("start it again")  # this process read its files before they changed
    assert isinstance(err.value, InputError)  # the CLI exits 2 with the message


def test_a_worker_that_cannot_say_which_reesim_it_runs_is_refused(monkeypatch):
    """A worker with an older reesim (no reesim.pool.same_code) or none cannot answer: refused with
    what it said, as an input error (exit 2), not an internal error."""
    from reesim import pool
    from reesim.pool import WorkerMismatch

    async def older() -> dict:  # what a worker without the function raises, sent by value
        raise AttributeError("module 'reesim.pool' has no attribute 'same_code'")

    monkeypatch.setattr(pool, "_same_code_off_the_loop", older)
    with pytest.raises(WorkerMismatch) as err, dask_pool(2):
        pass
    text = str(err.value)
    assert text.count("cannot run reesim.pool.same_code (AttributeError: module 'reesim.pool' has no") == 2
    assert "an older reesim, or none" in text


def test_a_task_refuses_a_worker_that_joined_with_another_reesim(monkeypatch):
    """A worker that joins after the pool opened is checked at every task (reesim.pool.on_worker):
    the task fails with the reason instead of computing; a matching one runs with its warnings and
    names the runtime it ran with."""
    import warnings

    from reesim.cache import runtime
    from reesim.pool import WorkerMismatch, on_worker, same_code

    def noisy(x: int) -> int:
        warnings.warn("careful", UserWarning, stacklevel=1)
        return x + 1

    mine = same_code()
    assert on_worker(mine, noisy, 1) == (2, [("UserWarning", "careful")], runtime())
    other = {**mine, "dataset": "f" * 16}
    with pytest.raises(
        WorkerMismatch, match=r"this process: its reesim dataset .* is not the client's ffffffffffff"
    ):
        on_worker(other, noisy, 1)


def _where(_: int) -> str:
    import time

    from distributed import get_worker

    time.sleep(0.02)  # long enough that both workers would take some
    return get_worker().address


def test_tasks_go_only_to_workers_that_advertise_this_reesim():
    """Every worker of a pool reesim opened advertises its own reesim as a Dask resource, those that
    join later included (AdvertiseReesim), and reesim's tasks ask for the client's: a worker made
    to advertise another reesim gets none of twelve tasks (it would have taken about half). A
    client opened elsewhere asks for nothing (its workers advertise nothing)."""
    from distributed import Client, LocalCluster

    from reesim.pool import on_worker, resource_name, same_code, task_options

    name = resource_name(same_code())
    with dask_pool(2) as client:
        advertised = client.run_on_scheduler(
            lambda dask_scheduler: {w: dict(ws.resources) for w, ws in dask_scheduler.workers.items()}
        )
        assert list(advertised.values()) == [{name: 1}, {name: 1}]
        a, b = sorted(client.nthreads())

        async def other(dask_worker, name=name):
            await dask_worker.set_resources(**{name: 0, "reesim-another": 1})

        client.run(other, workers=[b])
        opts = task_options(client)
        assert opts == {"resources": {name: 1}}
        futs = [client.submit(on_worker, same_code(), _where, i, pure=False, **opts) for i in range(12)]
        assert [f.result()[0] for f in futs] == [a] * 12
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as bare,
    ):
        assert task_options(bare) == {}


def _sleep_where(seconds: float) -> str:
    import time

    from distributed import get_worker

    time.sleep(seconds)
    return get_worker().address


def test_tasks_run_on_workers_that_replace_every_advertising_one():
    """Workers restarted by their nannies (both at once, as out of memory or a cluster's workers
    all replaced) register before they advertise their reesim: the scheduler must look again at
    the waiting tasks once they do, or the run would wait for ever."""
    import os

    from reesim.pool import on_worker, same_code, task_options

    with dask_pool(2) as client:
        opts = task_options(client)
        before = set(client.nthreads())
        futs = [
            client.submit(on_worker, same_code(), _sleep_where, 0.5, pure=False, **opts) for _ in range(6)
        ]

        async def die() -> None:  # both workers die with their tasks, once this call has answered
            import asyncio

            asyncio.get_running_loop().call_later(0.2, os._exit, 1)

        client.run(die)
        done = [f.result(timeout=90)[0] for f in futs]
        assert not set(done) & before  # the new workers ran them


def test_a_cluster_without_a_worker_of_this_reesim_is_told_apart_from_one_without_workers():
    from reesim.pool import without_match

    wanted = "reesim-aaaa-bbbb"
    assert not without_match({}, wanted)  # starting or scaling up: its tasks wait
    assert not without_match({"w1": {"resources": {wanted: 1}}, "w2": {"resources": {}}}, wanted)
    assert without_match({"w1": {"resources": {"reesim-cccc-bbbb": 1}}, "w2": {}}, wanted)
    assert without_match({"w1": {"resources": {wanted: 0}}}, wanted)  # gave its units up
    assert without_match({"w1": {"resources": None}}, wanted)


def _all_workers_run_another(client) -> None:
    """Make every worker of ``client``'s pool advertise another reesim than this process's (as
    workers of another version that replaced them would)."""
    from reesim.pool import resource_name, same_code

    name = resource_name(same_code())

    async def other(dask_worker, name=name):
        await dask_worker.set_resources(**{name: 0, "reesim-another-0000": 1})

    client.run(other)


def test_tasks_waiting_on_workers_that_all_run_another_reesim_fail_with_the_reason(monkeypatch):
    """Once every worker of the cluster runs another reesim, the pool's tasks would wait for ever
    (they ask for this reesim's resource): after the patience they are cancelled with the reason,
    a WorkerMismatch saying what to install, and a task submitted later fails at the next look."""
    from reesim import pool

    with dask_pool(2) as client:
        _all_workers_run_another(client)
        futs = [pool.submit(client, _where, i, pure=False) for i in range(3)]
        with pool.watch(client, lambda: futs, patience=0.5, every=0.1):
            errors = []
            for f in futs:
                with pytest.raises(Exception) as caught:
                    f.result(timeout=30)
                errors.append(pool.no_match(caught.value))
            late = pool.submit(client, _where, 9, pure=False)
            futs.append(late)
            with pytest.raises(Exception) as caught:
                late.result(timeout=30)
            errors.append(pool.no_match(caught.value))
    assert all(isinstance(e, pool.WorkerMismatch) for e in errors), errors
    # the local pool's workers restart with reesim's files as they are now
    assert "for 0 s no worker ran the client's reesim: reesim's files changed" in str(errors[0])
    assert pool.no_match(ValueError("other")) is None


def test_tasks_wait_while_a_worker_runs_this_reesim():
    """The watch cancels nothing while a worker runs this reesim, however long the tasks take."""
    from reesim import pool

    with dask_pool(2) as client:
        futs = [pool.submit(client, _sleep_where, 0.6, pure=False) for _ in range(2)]
        with pool.watch(client, lambda: futs, patience=0.2, every=0.1):
            assert {f.result(timeout=30)[0] for f in futs} <= set(client.nthreads())  # none cancelled


def test_the_watch_says_what_to_do_first():
    """The command prints the first 200 characters of a member's error: what to do comes before the
    cluster's address and the resource's name. A local pool's workers restart with reesim's files
    as they are now; a scheduler's need the client's reesim installed."""
    from types import SimpleNamespace

    from reesim.pool import _no_match_message

    name = "reesim-" + "a" * 16 + "-" + "b" * 16
    far = SimpleNamespace(cluster=None, scheduler=SimpleNamespace(address="tls://" + "x" * 60 + ":8786"))
    text = "WorkerMismatch: " + _no_match_message(far, 120, name)  # as a member's error is printed
    assert (
        "install it on the workers and run again what failed (reesim ensemble --member, or the game)"
        in (text[:200])
    )
    assert text.endswith(name)
    local = SimpleNamespace(cluster=object(), scheduler=far.scheduler)
    assert (
        "reesim's files changed since this process first read them; start it again"
        in (_no_match_message(local, 120, name)[:150])
    )


def all_workers_replaced_by_another_reesim(monkeypatch, patience: float = 1.0) -> None:
    """Make every worker of the next pools reesim opens run another reesim once the pool's check
    has passed (as workers of another version that replaced them mid-run would: each advertises
    its own), and :func:`reesim.pool.watch` patient for ``patience`` seconds only."""
    from reesim import pool

    real = pool.check_workers

    def then_all_differ(client, scheduler=None):
        real(client, scheduler)

        async def other(dask_worker):
            import reesim.pool as p

            real_code = p.same_code
            p.same_code = lambda: {**real_code(), "source": "0" * 64}

        client.run(other)

    monkeypatch.setattr(pool, "check_workers", then_all_differ)
    monkeypatch.setattr(pool, "NO_MATCH_S", patience)
    monkeypatch.setattr(pool, "WATCH_EVERY_S", 0.2)


def _sleep_plus_one(value: dict, seconds: float) -> int:
    import time

    time.sleep(seconds)
    return value["x"] + 1


def test_a_shared_value_outlives_every_worker_that_held_it():
    """The scenario and counterfactual of an ensemble, and a game's base run, are shared with the
    pool's tasks (reesim.pool.share) as a task's result, which the scheduler computes again when
    every worker that held it leaves. Scattered data would be lost: on a real scheduler whose only
    worker was restarted, 88 of 120 members failed ("cancelled for reason: already forgotten")."""
    import os

    from reesim.pool import share, submit

    with dask_pool(2) as client:
        value = share(client, {"x": 41})
        futs = [submit(client, _sleep_plus_one, value, 0.5, pure=False) for _ in range(6)]
        assert value.result(timeout=30) == {"x": 41}  # held by one worker, or both, by now

        async def die() -> None:  # both workers die with what they hold, once this call has answered
            import asyncio

            asyncio.get_running_loop().call_later(0.2, os._exit, 1)

        client.run(die)
        assert [f.result(timeout=90)[0] for f in futs] == [42] * 6
