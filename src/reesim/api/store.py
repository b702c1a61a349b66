"""Job records of the web service in a DuckDB file: they outlive the server process.

One row per job (a run of a scenario and its counterfactual). The request that made the job
is stored with it, so a job that was queued or running when the server stopped is queued
again when it starts (:meth:`JobStore.requeue_unfinished`). A finished job keeps its record
(without its request, which only a job still to run needs) and its result folder until the
folder is removed to bound the disk (:mod:`reesim.api.retention`): the job is then ``expired``.
DuckDB allows one writing process per file: a second server on the same home folder is refused
with a message that says so.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from reesim.errors import InputError

#: States of a job, in the order they happen (``failed`` is final; ``done`` becomes ``expired``
#: when its result folder is removed to keep the server's disk bounded, :mod:`reesim.api.retention`).
STATES = ("queued", "running", "done", "failed", "expired")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    cache_key VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    counterfactual VARCHAR NOT NULL,
    request VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    done_steps INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER NOT NULL DEFAULT 0,
    message VARCHAR NOT NULL DEFAULT '',
    cached BOOLEAN NOT NULL DEFAULT false,
    created TIMESTAMP NOT NULL,
    started TIMESTAMP,
    finished TIMESTAMP,
    client VARCHAR NOT NULL DEFAULT ''
)
"""
#: a store written before jobs recorded their client gains the column (every old job: '')
_MIGRATE = "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS client VARCHAR DEFAULT ''"

_COLUMNS = (
    "id",
    "kind",
    "cache_key",
    "scenario",
    "counterfactual",
    "request",
    "status",
    "done_steps",
    "total_steps",
    "message",
    "cached",
    "created",
    "started",
    "finished",
    "client",
)


@dataclass(frozen=True)
class Job:
    """One job's record (times in UTC)."""

    id: str
    kind: str
    cache_key: str
    scenario: str
    counterfactual: str
    request: dict[str, Any]
    status: str
    done_steps: int
    total_steps: int
    message: str
    cached: bool
    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    #: the address the job was submitted from (kept on the server, never shown in a listing:
    #: it bounds each client's outstanding jobs, ``Limits.max_queued_per_client``)
    client: str = ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class JobStore:
    """Thread-safe access to the ``jobs`` table of ``<home>/jobs.duckdb``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        with self._lock:
            self._con.execute(_SCHEMA)
            self._con.execute(_MIGRATE)

    @property
    def _con(self) -> duckdb.DuckDBPyConnection:
        """The connection, opened on first use (and again after :meth:`close`)."""
        if self._connection is None:
            try:
                self._connection = duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                raise InputError(
                    f"--home {self.path.parent}: the job store {self.path.name} is in use by another process "
                    f"(is another reesim serve running on this folder?): {exc}"
                ) from None
        return self._connection

    def close(self) -> None:
        """Close the DuckDB connection (the next use opens it again)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[Job]:
        with self._lock:
            rows = self._con.execute(sql, params or []).fetchall()
        out = []
        for r in rows:
            d = dict(zip(_COLUMNS, r, strict=True))
            d["request"] = json.loads(d["request"])
            out.append(Job(**d))
        return out

    def add(
        self,
        job_id: str,
        kind: str,
        cache_key: str,
        scenario: str,
        counterfactual: str,
        request: dict[str, Any],
        total_steps: int,
        *,
        done: bool = False,
        client: str = "",
    ) -> Job:
        """Record a new job: queued, or already done when its result is cached on disk."""
        now = _now()
        with self._lock:
            self._con.execute(
                f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                [
                    job_id,
                    kind,
                    cache_key,
                    scenario,
                    counterfactual,
                    json.dumps(request),
                    "done" if done else "queued",
                    total_steps if done else 0,
                    total_steps,
                    "result cached: the same scenario, counterfactual, data and code ran before"
                    if done
                    else "",
                    done,
                    now,
                    now if done else None,
                    now if done else None,
                    client,
                ],
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job | None:
        """The job ``job_id`` (None if there is no such job)."""
        rows = self._rows(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", [job_id])
        return rows[0] if rows else None

    def list(self, limit: int = 100) -> list[Job]:
        """The latest ``limit`` jobs, newest first, without their requests (``request`` is ``{}``: a
        listing never shows them, and each may be up to the body limit)."""
        cols = ", ".join("'{}' AS request" if c == "request" else c for c in _COLUMNS)
        return self._rows(f"SELECT {cols} FROM jobs ORDER BY created DESC, id LIMIT ?", [limit])

    def cached_with_key(self, cache_key: str) -> Job | None:
        """The first job with this cache key that was answered from the cache (later requests for
        the same result are answered with it, not with a row each)."""
        rows = self._rows(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE cache_key = ? AND status = 'done' AND cached "
            "ORDER BY created LIMIT 1",
            [cache_key],
        )
        return rows[0] if rows else None

    def active_with_key(self, cache_key: str) -> Job | None:
        """A queued or running job with the same cache key (a second request joins it)."""
        rows = self._rows(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE cache_key = ? AND status IN ('queued', 'running') "
            "ORDER BY created LIMIT 1",
            [cache_key],
        )
        return rows[0] if rows else None

    def active_keys(self) -> set[str]:
        """Cache keys of queued and running jobs (their folders are being written: never pruned)."""
        with self._lock:
            rows = self._con.execute(
                "SELECT DISTINCT cache_key FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchall()
        return {r[0] for r in rows}

    def done_keys(self) -> set[str]:
        """Cache keys of done jobs."""
        with self._lock:
            rows = self._con.execute("SELECT DISTINCT cache_key FROM jobs WHERE status = 'done'").fetchall()
        return {r[0] for r in rows}

    def owners(self) -> dict[str, str]:
        """The client whose job wrote each done result folder: of the done jobs that ran (not
        answered from the cache) with a cache key, the one that finished first (a job that found
        an identical job's folder on its turn finishes after it)."""
        with self._lock:
            rows = self._con.execute(
                "SELECT cache_key, arg_min(client, finished) FROM jobs "
                "WHERE status = 'done' AND NOT cached GROUP BY cache_key"
            ).fetchall()
        return {k: c or "" for k, c in rows}

    def count(self, *statuses: str, client: str | None = None) -> int:
        """How many jobs are in one of ``statuses`` (submitted from ``client``, if given)."""
        sql = f"SELECT count(*) FROM jobs WHERE status IN ({', '.join('?' * len(statuses))})"
        params: list[Any] = list(statuses)
        if client is not None:
            sql += " AND client = ?"
            params.append(client)
        with self._lock:
            return int(self._con.execute(sql, params).fetchone()[0])

    def claim(self, job_id: str) -> bool:
        """Mark a queued job running; False if it is not queued (another worker took it)."""
        with self._lock:
            rows = self._con.execute(
                "UPDATE jobs SET status = 'running', started = ?, done_steps = 0 "
                "WHERE id = ? AND status = 'queued' RETURNING id",
                [_now(), job_id],
            ).fetchall()
        return bool(rows)

    def progress(self, job_id: str, done_steps: int, total_steps: int) -> None:
        """Record a running job's progress (steps simulated of the pair's total)."""
        with self._lock:
            self._con.execute(
                "UPDATE jobs SET done_steps = ?, total_steps = ? WHERE id = ? AND status = 'running'",
                [done_steps, total_steps, job_id],
            )

    def finish(self, job_id: str, ok: bool, message: str = "") -> None:
        """Mark a job done (its folder is written) or failed (``message`` says why).

        Its request is dropped (it may be up to the body limit, and only a job still to run, which
        a restart queues again, needs it)."""
        with self._lock:
            self._con.execute(
                "UPDATE jobs SET status = ?, message = ?, finished = ?, request = '{}', "
                "done_steps = CASE WHEN ? THEN total_steps ELSE done_steps END WHERE id = ?",
                ["done" if ok else "failed", message, _now(), ok, job_id],
            )

    def expire(self, cache_key: str, message: str) -> int:
        """Mark the done jobs of ``cache_key`` expired (their folder was removed); how many."""
        with self._lock:
            rows = self._con.execute(
                "UPDATE jobs SET status = 'expired', message = ?, request = '{}' "
                "WHERE cache_key = ? AND status = 'done' RETURNING id",
                [message, cache_key],
            ).fetchall()
        return len(rows)

    def prune_records(self, keep: int) -> int:
        """Delete the oldest failed and expired records beyond the ``keep`` most recent; how many."""
        with self._lock:
            rows = self._con.execute(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('failed', 'expired') "
                "ORDER BY created DESC, id OFFSET ?) RETURNING id",
                [keep],
            ).fetchall()
        return len(rows)

    def requeue_unfinished(self) -> list[Job]:
        """Jobs left queued or running by a stopped server, queued again (oldest first)."""
        with self._lock:
            self._con.execute(
                "UPDATE jobs SET status = 'queued', started = NULL, done_steps = 0, "
                "message = 'queued again after a server restart' WHERE status = 'running'"
            )
        return self._rows(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE status = 'queued' ORDER BY created, id"
        )
