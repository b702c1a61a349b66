"""Runs as jobs: a bounded pool of worker processes, results cached on disk by what made them.

A request is checked in the server (scenario, counterfactual, limits) before it becomes a job,
so a bad one is answered 422 at once. A job is a row in the :class:`~reesim.api.store.JobStore`
and, once done, a run folder ``<home>/runs/<cache key>`` in the format of ``reesim run --out``
(:mod:`reesim.pipeline`); its HTML report is rendered into the folder when first asked for. The cache key hashes the resolved scenario,
the resolved counterfactual, the dataset version and the code
(:func:`reesim.cache.code_fingerprint`): the same request again is answered from the folder.

``workers`` threads each take the next queued job and run it in a child process (started from
a ``forkserver`` that has imported reesim once), so at most ``workers`` simulations run at a
time however many requests arrive: memory stays bounded, the rest wait in the queue. A child
reports progress through a small file; a job past the wall-time limit is terminated and
recorded as failed, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing as mp
import os
import queue
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reesim.api import retention
from reesim.api.store import Job, JobStore
from reesim.errors import InputError, ReesimError

log = logging.getLogger("reesim.serve")

#: modules the forkserver imports once, so that each job's process starts warm (``warm`` also
#: simulates a baseline year, filling the world and solver caches)
PRELOAD = [
    "reesim.pipeline",
    "reesim.simulate",
    "reesim.impacts.compare",
    "reesim.reports",
    "reesim.api.warm",
]


@dataclass(frozen=True)
class Limits:
    """Per-request limits of the service (``reesim serve --max-...``)."""

    max_years: int = 40
    max_periods: int = 240
    max_members: int = 256
    wall_time_s: float = 900.0
    max_queued: int = 500
    #: jobs one client (address) may have queued or running at once; more get 429
    max_queued_per_client: int = 20
    max_body_bytes: int = 262_144
    #: result folders kept (the least recently used removed first; :mod:`reesim.api.retention`)
    keep_results: int = 200
    #: bytes all kept result folders may take (a run's folder is about 5 MB)
    keep_bytes: int = 5 * 2**30
    #: result folders one client's jobs may keep, and their bytes (a quarter of the above): beyond
    #: them the client's own least recently used go first (:func:`reesim.api.retention.to_remove_by_client`)
    keep_results_per_client: int = 50
    keep_bytes_per_client: int = 5 * 2**30 // 4
    #: failed and expired job records kept (the oldest deleted first)
    keep_records: int = 10_000


# ---------------------------------------------------------------------------- the request
def load_shipped(name: str, label: str):
    """A shipped scenario by name, never a file (text from a request reads no server file)."""
    from reesim.scenario.load import parse, resolve

    try:
        data, chain = resolve(name, shipped_only=True)
    except InputError as exc:
        raise InputError(f"{label}: {exc}") from None
    return parse(data, chain[-1])


def scenario_of(request: dict[str, Any]):
    """The scenario and the counterfactual of a run request (both validated).

    ``request`` holds ``scenario`` (a shipped name) or ``yaml`` (scenario text, whose
    ``extends`` and ``counterfactual`` may only name shipped scenarios), and optionally
    ``against`` (a shipped name).
    """
    from reesim.scenario.load import load_scenario_text

    if request.get("yaml") is not None:
        sc = load_scenario_text(request["yaml"], "scenario")
    else:
        sc = load_shipped(str(request.get("scenario")), "scenario")
    ref = request.get("against") or sc.counterfactual or "baseline"
    field = "against" if request.get("against") else "counterfactual"
    cf = load_shipped(ref, field)
    cf = cf.model_copy(update={"horizon": sc.horizon, "world": sc.world})
    from reesim.scenario.checks import check_counterfactual

    check_counterfactual(cf, field)
    return sc, cf


def check_limits(sc, limits: Limits) -> int:
    """Refuse a scenario beyond the service's limits; return the steps of the pair (scenario + counterfactual)."""
    from reesim.simulate.steps import make_steps

    years = sc.horizon.end - sc.horizon.start + 1
    if years > limits.max_years:
        raise InputError(
            f"scenario: horizon: {sc.horizon.start}-{sc.horizon.end} is {years} years; "
            f"allowed: at most {limits.max_years} years on this server"
        )
    periods = len(make_steps(sc.horizon))
    if periods > limits.max_periods:
        raise InputError(
            f"scenario: horizon.step: {sc.horizon.step} over {years} years is {periods} periods; allowed: at most "
            f"{limits.max_periods} periods on this server (a coarser step or a shorter horizon)"
        )
    return 2 * periods


def cache_key(sc, cf, fingerprint: str) -> str:
    """What a result folder depends on: scenario, counterfactual, dataset and code."""
    from reesim.cache import key_of
    from reesim.data import default_dataset
    from reesim.scenario.load import scenario_hash

    return key_of("run", scenario_hash(sc), scenario_hash(cf), default_dataset().version, fingerprint)[:24]


def game_of(request: dict[str, Any]):
    """The game of a game request: a shipped game's name (``game``) or game YAML (``yaml``).

    The base and every strategy's ``scenarios`` must be shipped scenario names (no file is read).
    """
    from pydantic import ValidationError

    from reesim.errors import suggest
    from reesim.game.spec import Game
    from reesim.scenario.load import format_errors, shipped
    from reesim.yamlsafe import load_yaml, require_mapping

    if request.get("yaml") is not None:
        text, label = request["yaml"], "game"
    else:
        games = shipped("games")
        name = str(request.get("game"))
        if name not in games:
            raise InputError(f"game: {suggest(name, games, what='shipped game')}")
        text, label = games[name], f"{name} (shipped game)"
    data = require_mapping(load_yaml(text, label, dates_as_strings=True), label, "game", Game.model_fields)
    try:
        game = Game.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_errors(exc, label, None)) from None
    ships = shipped()
    refs = [("base", game.base)] + [
        (f"players[{i}].strategies[{j}].scenarios", s)
        for i, p in enumerate(game.players)
        for j, st in enumerate(p.strategies)
        for s in st.scenarios
    ]
    for where, ref in refs:
        if ref not in ships:
            raise InputError(
                f"{label}: {where}: {ref!r}: only shipped scenario names are accepted here (no files); "
                + suggest(ref, ships, what="shipped scenario")
            )
    return game


def check_game_limits(game, limits: Limits) -> None:
    """Refuse a game beyond the service's limits (profiles, and the horizon as for a run)."""
    import math

    profiles = math.prod(len(p.strategies) for p in game.players)
    if profiles > limits.max_members:
        raise InputError(
            f"game: players: {profiles} strategy profiles; allowed: at most {limits.max_members} on this server"
        )
    base = load_shipped(game.base, "base")
    check_limits(base.model_copy(update={"horizon": game.horizon}) if game.horizon else base, limits)


# ----------------------------------------------------------------------------- the child
def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


class _Progress:
    """Progress written to ``scratch/progress.json``, at most every 0.2 s."""

    def __init__(self, scratch: Path, total: int = 0) -> None:
        self.path, self.done, self.total, self.at = scratch / "progress.json", 0, total, 0.0

    def step(self, _step=None) -> None:
        self.set(self.done + 1, self.total)

    def set(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if now - self.at > 0.2:
            self.at = now
            _write_json_atomic(self.path, {"done": done, "total": total})


def _run_job(request: dict[str, Any], folder: Path, scratch: Path) -> None:
    from reesim.pipeline import run_scenario, write_outcome
    from reesim.simulate.steps import make_steps

    sc, cf = scenario_of(request)
    progress = _Progress(scratch, 2 * len(make_steps(sc.horizon)))
    outcome = run_scenario(sc, request.get("against") or cf.name, progress=progress.step)
    write_outcome(outcome, folder)  # the HTML report is rendered when first asked for


def _game_job(request: dict[str, Any], folder: Path, scratch: Path) -> None:
    from reesim.game.equilibria import analyse, reading
    from reesim.game.output import write_game
    from reesim.game.payoffs import payoff_tensor

    game = game_of(request)
    progress = _Progress(scratch)
    tensor, bundles, _base = payoff_tensor(game, None, workers=1, progress=progress.set)
    analysis = analyse(tensor)
    analysis["reading"] = reading(analysis)
    write_game(folder, tensor, bundles, analysis, report=False)  # rendered when first asked for (Ctx.once)


def ensemble_space(request: dict[str, Any], sc):
    """The parameters an ensemble request varies (every stated range unless ``only_vary``)."""
    from reesim.ensemble.space import scenario_space

    space = scenario_space(sc, list(request.get("vary") or []), bool(request.get("only_vary")))
    if not space:
        raise InputError(
            "only_vary: no vary given and the scenario states no uncertainty, so nothing varies; "
            "add vary: [NAME=DIST]"
        )
    return space


def _ensemble_job(request: dict[str, Any], folder: Path, scratch: Path) -> None:
    from reesim.ensemble.design import design_size
    from reesim.ensemble.runner import run_ensemble

    sc, cf = scenario_of(request)
    n = int(request.get("n", 16))
    space = ensemble_space(request, sc)
    progress = _Progress(scratch, design_size(n, request.get("sample", "lhs"), len(space)))
    run_ensemble(
        sc,
        space,
        n,
        folder,
        method=request.get("sample", "lhs"),
        seed=request.get("seed"),
        against=request.get("against") or cf.name,
        progress=lambda _member, _error: progress.step(),
    )  # its report is rendered when first asked for (Ctx.once), as a run's


JOBS = {"run": _run_job, "game": _game_job, "ensemble": _ensemble_job}


def child_main(kind: str, request: dict[str, Any], folder: str, scratch: str) -> None:
    """Run one job in a child process: a run (simulate, assess, write the run folder) or a game
    (profiles, equilibria, write the game folder).

    Progress goes to ``scratch/progress.json`` (at most every 0.2 s); an error's message to
    ``scratch/error.txt`` and exit code 1.
    """
    scratch_dir = Path(scratch)
    os.chdir(scratch_dir)  # nothing relative resolves against the server's working folder
    try:
        JOBS[kind](request, Path(folder), scratch_dir)
    except BaseException as exc:  # recorded for the job's status, then the process ends
        text = str(exc) if isinstance(exc, ReesimError) else f"{type(exc).__name__}: {exc}"
        (scratch_dir / "error.txt").write_text(text or type(exc).__name__)
        os._exit(1)


# --------------------------------------------------------------------------- the manager
class JobManager:
    """Queue, worker threads and child processes of the service's jobs."""

    def __init__(self, home: Path, store: JobStore, workers: int, limits: Limits, fingerprint: str) -> None:
        self.home = Path(home)
        self.runs = self.home / "runs"
        self.scratch = self.home / "scratch"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.store, self.workers, self.limits, self.fingerprint = store, workers, limits, fingerprint
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._procs: dict[str, Any] = {}
        self._stopping = threading.Event()
        self._submit_lock = threading.Lock()  # check-then-add of identical requests is one step
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(PRELOAD)

    # lifecycle
    def start(self) -> None:
        """Queue again what a stopped server left unfinished, then start the worker threads."""
        self._stopping.clear()
        self.sweep()
        retention.sweep_removed(self.runs)
        self.prune()
        for job in self.store.requeue_unfinished():
            self._queue.put(job.id)
        for k in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"reesim-job-{k}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop taking jobs; end running children (their jobs are queued again at the next start)."""
        self._stopping.set()
        for _ in self._threads:
            self._queue.put(None)
        for proc in list(self._procs.values()):
            with contextlib.suppress(Exception):
                proc.terminate()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def sweep(self) -> list[Path]:
        """Remove the partial run folders (``runs/.<key>.*``) of children that died writing them.

        Called at start (a killed server's children) and after a job's child is killed at the
        wall-time limit; a folder whose writer still runs is kept (:mod:`reesim.atomic`).
        """
        from reesim.atomic import remove_stale_partials_in

        return remove_stale_partials_in(self.runs)  # quiet: no warning filters touched from a thread

    def prune(self) -> list[str]:
        """Remove the least recently used result folders beyond the limits (each client's share,
        ``Limits.keep_results_per_client`` and ``keep_bytes_per_client``, then ``keep_results`` and
        ``keep_bytes`` for all), expire their jobs, and delete the oldest failed and expired records beyond
        ``keep_records``; the keys removed.

        Under the submission lock, so that a request is never answered from a folder on its way out,
        and never the folder of a queued or running job (one whose child may have just written it).
        Done jobs whose folder is missing (removed by hand, or by a server that stopped between
        the removal and the record) are expired too. Each folder is renamed out of view under the
        lock and deleted after it. A folder that cannot be moved (permissions) is left and skipped:
        pruning never fails a job or the server's start (it is logged).
        """
        limits, removed, moved = self.limits, [], []
        again = "send the request again to run it again"
        why = (
            "result removed to keep the server's disk bounded (the least recently used go first: "
            f"at most {limits.keep_results} results, {limits.keep_bytes / 2**30:g} GiB); {again}"
        )
        why_share = (
            "result removed because the client that asked for it keeps more than its share of the "
            f"server's disk (at most {limits.keep_results_per_client} results, "
            f"{limits.keep_bytes_per_client / 2**30:g} GiB per client; its least recently used go first); {again}"
        )
        try:
            with self._submit_lock:
                active = self.store.active_keys()
                folders = [k for k in retention.result_folders(self.runs) if k.key not in active]
                share, common = retention.to_remove_by_client(
                    folders,
                    self.store.owners(),
                    limits.keep_results,
                    limits.keep_bytes,
                    limits.keep_results_per_client,
                    limits.keep_bytes_per_client,
                )
                for k, reason in [(k, why_share) for k in share] + [(k, why) for k in common]:
                    gone = retention.move_out(self.runs, k.key)
                    if gone is not None:
                        moved.append(gone)
                        removed.append(k.key)
                        self.store.expire(k.key, reason)
                for key in self.store.done_keys() - {k.key for k in folders} - active:
                    if not (self.runs / key).is_dir():
                        self.store.expire(key, why)
                self.store.prune_records(limits.keep_records)
        except Exception:  # a disk or store error must not fail the job that triggered it
            log.exception("reesim serve: pruning the result folders failed")
        for gone in moved:  # outside the lock: deleting a large folder takes time
            shutil.rmtree(gone, ignore_errors=True)
        return removed

    # requests
    def folder(self, job: Job) -> Path:
        """The run folder of a job (exists once the job is done)."""
        return self.runs / job.cache_key

    def submit(self, request: dict[str, Any], client: str = "") -> Job:
        """Check a run request and queue it (or answer it from the cache, or join the same running job)."""
        sc, cf = scenario_of(request)
        total = check_limits(sc, self.limits)
        key = cache_key(sc, cf, self.fingerprint)
        return self._queue_job("run", key, sc.name, cf.name, request, total, client)

    def submit_game(self, request: dict[str, Any], client: str = "") -> Job:
        """Check a game request and queue it (or answer it from the cache, or join the same running job)."""
        from reesim.cache import key_of
        from reesim.data import default_dataset

        game = game_of(request)
        check_game_limits(game, self.limits)
        key = key_of("game", game.model_dump(mode="json"), default_dataset().version, self.fingerprint)[:24]
        return self._queue_job("game", key, game.name, game.base, request, 0, client)

    def submit_ensemble(self, request: dict[str, Any], client: str = "") -> Job:
        """Check an ensemble request (scenario, parameters, limits) and queue it (or answer it from the cache)."""
        from reesim.cache import key_of
        from reesim.data import default_dataset
        from reesim.scenario.load import scenario_hash

        sc, cf = scenario_of(request)
        check_limits(sc, self.limits)
        from reesim.ensemble.design import design_size

        n = int(request.get("n", 16))
        space = ensemble_space(request, sc)  # names and ranges checked before the job is queued
        members = design_size(n, request.get("sample", "lhs"), len(space))
        if members > self.limits.max_members:
            raise InputError(
                f"n: {n} gives {members} members; allowed: at most {self.limits.max_members} on this server"
            )
        design = {k: request.get(k) for k in ("n", "sample", "seed", "vary", "only_vary")}
        key = key_of(
            "ensemble",
            scenario_hash(sc),
            scenario_hash(cf),
            design,
            default_dataset().version,
            self.fingerprint,
        )[:24]
        return self._queue_job("ensemble", key, sc.name, cf.name, request, members, client)

    def _queue_job(
        self,
        kind: str,
        key: str,
        name: str,
        reference: str,
        request: dict[str, Any],
        total: int,
        client: str = "",
    ) -> Job:
        """Record a job and queue it, unless its result is on disk or an identical job is active
        (the request is answered with that job: neither counts against a limit).

        A new job is refused when the queue is full (``QueueFull``, 503) or when ``client`` already
        has ``max_queued_per_client`` jobs queued or running (``TooManyJobs``, 429), so that one
        client cannot fill the queue that others share."""
        with self._submit_lock:
            done = (self.runs / key).is_dir()
            if done:
                # the result is there: one job per result answers every request for it from the
                # cache, not a row each holding its request (a review of 2026-12-06 grew the store
                # by 289 MB with 1,000 re-sent requests padded with YAML comments)
                retention.touch(self.runs / key)
                same = self.store.cached_with_key(key)
                if same is not None:
                    return same
            else:
                same = self.store.active_with_key(key)
                if same is not None:
                    return same
                if self.store.count("queued") >= self.limits.max_queued:
                    raise QueueFull(
                        f"{self.limits.max_queued} jobs are already queued on this server; try again later"
                    )
                mine = self.store.count("queued", "running", client=client)
                if mine >= self.limits.max_queued_per_client:
                    raise TooManyJobs(
                        f"you have {mine} jobs queued or running on this server (allowed: "
                        f"{self.limits.max_queued_per_client} at once); try again when one has finished"
                    )
            job = self.store.add(
                uuid.uuid4().hex[:16], kind, key, name, reference, request, total, done=done, client=client
            )
        if job.status == "queued":
            self._queue.put(job.id)
        return job

    # workers
    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return  # a stopping server starts nothing; queued jobs run at the next start
            try:
                self._execute(job_id)
            except Exception as exc:  # a broken job must not stop the worker thread
                self.store.finish(job_id, False, f"internal error: {type(exc).__name__}: {exc}")

    def _execute(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is None or not self.store.claim(job_id):
            return  # unknown, or already taken by another worker
        folder = self.folder(job)
        if folder.is_dir():  # an identical job finished while this one waited
            self.store.finish(job_id, True, "result cached: an identical job finished first")
            return
        scratch = self.scratch / job_id
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        proc = self._ctx.Process(
            target=child_main, args=(job.kind, job.request, str(folder), str(scratch)), daemon=True
        )
        proc.start()
        self._procs[job_id] = proc
        deadline = time.monotonic() + self.limits.wall_time_s
        try:
            while proc.is_alive():
                proc.join(0.25)
                self._read_progress(job_id, scratch)
                if time.monotonic() > deadline and proc.is_alive():
                    proc.terminate()
                    proc.join(5)
                    self.sweep()
                    self.store.finish(
                        job_id, False, f"stopped at the wall-time limit of {self.limits.wall_time_s:g} s"
                    )
                    return
            with self._submit_lock:  # no prune between the check and the record
                done = folder.is_dir()  # written by this job (or, in a race, by an identical one)
                if done:
                    retention.touch(folder)
                    self.store.finish(job_id, True)
            if done:
                self.prune()
            elif self._stopping.is_set():
                return  # the server is stopping: the job stays 'running' and is queued again at the next start
            else:
                err = scratch / "error.txt"
                text = (
                    err.read_text() if err.is_file() else f"the job's process ended with code {proc.exitcode}"
                )
                self.store.finish(job_id, False, text)
        finally:
            self._procs.pop(job_id, None)
            shutil.rmtree(scratch, ignore_errors=True)

    def _read_progress(self, job_id: str, scratch: Path) -> None:
        with contextlib.suppress(OSError, ValueError):
            p = json.loads((scratch / "progress.json").read_text())
            self.store.progress(job_id, int(p["done"]), int(p["total"]))


class QueueFull(ReesimError):
    """The service's queue is full (HTTP 503 with Retry-After)."""


class TooManyJobs(ReesimError):
    """One client has as many jobs queued or running as it may (HTTP 429 with Retry-After)."""
