"""What the service's routes share: error bodies, JSON-safe rows, and the context (store, jobs, limits)."""

from __future__ import annotations

import errno
import functools
import hashlib
import math
import os
import re
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import HTTPException, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from reesim.api import retention
from reesim.api.jobs import JobManager, Limits
from reesim.api.schemas import ErrorBody, JobOut
from reesim.api.store import Job, JobStore
from reesim.atomic import write_file_atomic
from reesim.errors import InputError

#: the page's policy: scripts and data from this server only
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
#: headers of a served report: its own policy is in the page (script hashes, nothing loaded);
#: the header adds what a meta element cannot say (no framing by another site) and no sniffing
REPORT_HEADERS = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Content-Type-Options": "nosniff"}
RUN_TABLE_FORMATS = ("json", "csv", "parquet")
_LINE = re.compile(r"^(?P<label>[^:]+): (?P<path>[A-Za-z_][\w.\[\]-]*): ")
ERRORS = {
    404: {"model": ErrorBody, "description": "no such job, table or figure"},
    422: {
        "model": ErrorBody,
        "description": "bad input: the YAML path or parameter, the value, what is allowed",
    },
}


def problems(exc: InputError, where: str = "body") -> list[dict[str, Any]]:
    """One problem per line of an :class:`InputError`, located at its YAML path when the line names one."""
    out = []
    for line in str(exc).splitlines() or [str(exc)]:
        m = _LINE.match(line)
        loc: list[str | int] = [where]
        if m:
            loc += [int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", m["path"]) if p]
        out.append({"loc": loc, "msg": line, "type": "reesim_input"})
    return out


def clean(value: Any) -> Any:
    """A JSON-safe scalar: NaN and infinities as None, dates as ISO text, numpy scalars as Python."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return clean(value.item())
    return value


def json_safe(value: Any) -> Any:
    """Nested data with every non-finite float as None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return clean(value)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN and infinities as null, dates as ISO text)."""
    return [{k: clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def client_of(request: Request) -> str:
    """The address a request came from, which bounds its outstanding jobs
    (``Limits.max_queued_per_client``).

    uvicorn takes it from ``X-Forwarded-For`` only when the connection comes from a trusted proxy
    (the addresses in ``FORWARDED_ALLOW_IPS``, by default this machine), so a remote client cannot
    name another address; behind a proxy on another machine every client shares the proxy's
    address (docs/security.md)."""
    return request.client.host if request.client is not None else ""


#: where the system shows a process's open files as paths (Linux, macOS, the BSDs)
FD_DIR = Path("/dev/fd")


class HeldFileResponse(FileResponse):
    """A file response (range requests, ETag) of a file opened here, in the route.

    Starlette's ``FileResponse`` opens its path only when the response is sent, after the route
    has returned: a result folder that the disk bound moved away in between answered 500. This
    one opens the file at once, so a folder already gone raises ``FileNotFoundError`` in the
    route (the app answers 410, :meth:`Ctx.removed_while_read`), and sends it through the open
    handle's path under :data:`FD_DIR` (which opens the same file even after a rename or
    removal), so a folder moved later is still sent whole. The handle is closed once the
    response is sent (or when the response is dropped). Where the system has no :data:`FD_DIR`
    the file's own path is sent, as ``FileResponse`` does.
    """

    def __init__(
        self, path: Path, media_type: str, filename: str, headers: dict[str, str] | None = None
    ) -> None:
        self._held = open(path, "rb")  # noqa: SIM115 (closed by the response's background task)
        fd_path = FD_DIR / str(self._held.fileno())
        super().__init__(
            fd_path if FD_DIR.is_dir() else path,
            headers=headers,
            media_type=media_type,
            filename=filename,
            stat_result=os.fstat(self._held.fileno()),
            background=BackgroundTask(self._held.close),
        )


def report_response(path: Path, filename: str) -> HeldFileResponse:
    """The HTML report ``path`` as a :class:`HeldFileResponse` (opened here, in the route: a
    folder moved later is still sent whole, one already gone answers 410), with
    :data:`REPORT_HEADERS`."""
    return HeldFileResponse(path, "text/html", filename, headers=REPORT_HEADERS)


@dataclass
class Ctx:
    """The service's state that routes use: the job store, the job manager, limits, workers."""

    store: JobStore
    manager: JobManager
    limits: Limits
    workers: int
    build_lock: threading.Lock = field(
        default_factory=threading.Lock
    )  # one report or workbook build at a time

    def report(self, folder: Path, write) -> Path:
        """``folder/report.html``, written by ``write(folder)`` (atomically) the first time it is asked for."""
        return self.once(folder, "report.html", write)

    def once(self, folder: Path, name: str, write) -> Path:
        """``folder/name``, written by ``write(folder)`` (atomically) the first time this code is asked
        for it; one such build at a time in the server (they cost seconds of CPU each).

        Beside the file, ``.<name>.made-by`` holds what built it (:attr:`made_by`: reesim's code,
        plotly's version, the reports' style sheet and map borders): a file built by anything else
        (another version, or no stamp at all) is built again once. So a report rendered before a
        fix (e.g. of its escaping) is never served from an old run folder.
        """
        target, stamp = folder / name, folder / f".{name}.made-by"
        if not folder.is_dir():  # removed by the disk bound after the route let the request in
            raise FileNotFoundError(errno.ENOENT, "result folder removed", str(folder))  # 410
        if not self._built_here(target, stamp):
            with self.build_lock:
                if not self._built_here(target, stamp):
                    write(folder)
                    write_file_atomic(stamp, lambda tmp: tmp.write_text(self.made_by))
        return target

    @functools.cached_property
    def made_by(self) -> str:
        """What a file built on request depends on besides its folder: reesim's code
        (:attr:`JobManager.fingerprint`), the plotly.js the reports embed, and the package's
        non-Python files they read (style sheet, map borders)."""
        import plotly

        from reesim.cache import key_of

        reports = resources.files("reesim.reports")
        files = {
            name: hashlib.sha256(reports.joinpath(name).read_bytes()).hexdigest()
            for name in ("report.css", "world_110m.json")
            if reports.joinpath(name).is_file()
        }
        return key_of("made-by", self.manager.fingerprint, plotly.__version__, files)

    def _built_here(self, target: Path, stamp: Path) -> bool:
        try:
            return target.is_file() and stamp.read_text() == self.made_by
        except OSError:
            return False

    def job_or_404(self, job_id: str) -> Job:
        """The job ``job_id`` (404 if unknown)."""
        job = self.store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} (GET /api/runs lists them)")
        return job

    def done_folder(self, job_id: str, kind: str = "run") -> Path:
        """The folder of a finished job of ``kind`` (404 if unknown or of another kind, 409 if not
        done, 410 if its results were removed to bound the disk)."""
        job = self.job_or_404(job_id)
        if job.kind != kind:
            raise HTTPException(404, f"job {job_id} is a {job.kind}, not a {kind}")
        if job.status == "expired":
            raise HTTPException(410, f"job {job_id} is expired: {job.message}")
        if job.status != "done":
            raise HTTPException(409, f"job {job_id} is {job.status}: its results are not there yet")
        folder = self.manager.folder(job)
        retention.touch(folder)  # used now: the least recently used results are removed first
        return folder

    def removed_while_read(self, job_ids: list[str]) -> str | None:
        """Why a request on ``job_ids`` found a file missing, if their results were removed (to bound
        the disk) after :meth:`done_folder` let it in: the job is expired and the reason returned
        (the route then answers 410, as for any expired job); ``None`` if every done job's folder is
        still there (a missing file is then the server's fault)."""
        for job_id in job_ids:
            job = self.store.get(job_id)
            if job is None or job.status not in ("done", "expired"):
                continue
            if job.status == "expired" or not self.manager.folder(job).is_dir():
                why = (
                    "its results were removed to keep the server's disk bounded while this request read them"
                )
                self.store.expire(job.cache_key, why)
                return f"job {job_id} is expired: {why}; send the same request again to run it again"
        return None

    @staticmethod
    def job_out(job: Job) -> JobOut:
        """A job's record as the API answers it, with the links to its results."""
        base = f"/api/{job.kind}s/{job.id}"
        links = {"self": base}
        if job.status == "done" and job.kind == "ensemble":
            links |= {
                "summary": f"{base}/summary",
                "bands": f"{base}/tables/bands",
                "figures": f"{base}/figures/fan",
                "report": f"{base}/report",
            }
        elif job.status == "done" and job.kind == "game":
            links |= {
                "result": f"{base}/result",
                "payoffs": f"{base}/payoffs",
                "figures": f"{base}/figures",
                "report": f"{base}/report",
            }
        elif job.status == "done":
            links |= {
                "summary": f"{base}/summary",
                "tables": f"{base}/tables",
                "report": f"{base}/report",
                "workbook": f"{base}/tables.xlsx",
            }
        share = (
            1.0 if job.status == "done" else (job.done_steps / job.total_steps if job.total_steps else 0.0)
        )
        return JobOut(
            id=job.id,
            kind=job.kind,
            status=job.status,  # type: ignore[arg-type]
            scenario=job.scenario,
            counterfactual=job.counterfactual,
            progress=round(min(1.0, share), 4),
            done_steps=job.done_steps,
            total_steps=job.total_steps,
            message=job.message,
            cached=job.cached,
            created=job.created,
            started=job.started,
            finished=job.finished,
            links=links,
        )
