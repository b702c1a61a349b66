"""The web service: FastAPI routes over the dataset, the shipped scenarios, runs as jobs, and the dashboard.

Start it with ``reesim serve`` (:mod:`reesim.cli.serve`); the OpenAPI schema is at ``/docs``.
Errors a user can cause answer 422 with one problem per line of the message that ``reesim
validate`` would print (``loc`` = the YAML path or parameter, ``msg`` = the whole line naming
the value and what is allowed); an unknown job, table or figure answers 404. Everything is
served from the installed packages: no request leaves the machine (plotly.js, the map's borders
and the Swagger UI page included; ReDoc is off: its page fetches a logo from a CDN). A request body is limited to
``Limits.max_body_bytes`` however it is sent (:mod:`reesim.api.limits`).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.middleware.trustedhost import TrustedHostMiddleware

from reesim.api import routes_catalog, routes_dashboard, routes_ensembles, routes_games, routes_runs
from reesim.api.common import Ctx, problems
from reesim.api.jobs import JobManager, Limits, QueueFull, TooManyJobs
from reesim.api.limits import BodyLimit
from reesim.api.store import JobStore
from reesim.errors import InputError

#: Host headers a server on this machine answers by default (a page that rebinds its own domain
#: to 127.0.0.1 sends its domain in Host and is refused: DNS rebinding)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
#: the path and query parameters that name a job whose results a route reads (``/api/compare``: a, b)
JOB_ID_PARAMS = ("job_id", "a", "b")

log = logging.getLogger("reesim.serve")


def create_app(
    home: Path,
    *,
    workers: int = 1,
    limits: Limits | None = None,
    start_jobs: bool = True,
    allowed_hosts: tuple[str, ...] | list[str] = LOCAL_HOSTS,
) -> FastAPI:
    """The application over ``home`` (job store ``jobs.duckdb``, run folders ``runs/``).

    ``workers`` simulations run at a time; ``limits`` bounds each request. With
    ``start_jobs=False`` jobs are recorded but not run (tests of the API alone). Requests whose
    ``Host`` header is not in ``allowed_hosts`` get 400 (``"*"`` allows any), so that a web page
    cannot reach a server on this machine by DNS rebinding.
    """
    from reesim import __version__
    from reesim.cache import code_fingerprint

    limits = limits or Limits()
    home = Path(home)
    store = JobStore(home / "jobs.duckdb")
    manager = JobManager(home, store, workers, limits, code_fingerprint())

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        if start_jobs:
            manager.start()
        yield
        manager.stop()
        store.close()

    app = FastAPIOffline(  # /docs and /redoc from files in the installed package, not a CDN
        title="reesim",
        version=__version__,
        description="Rare-earth supply chains under policy: data, scenarios, runs and their results. "
        "Every figure is traceable to a dataset row (with its citation) or a scenario parameter.",
        lifespan=lifespan,
        redoc_url=None,  # ReDoc's page fetches its logo from cdn.redoc.ly: /docs only
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
    )
    app.state.manager, app.state.store, app.state.limits = manager, store, limits

    # ------------------------------------------------------------------ errors and limits
    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError):
        return JSONResponse({"detail": problems(exc)}, status_code=422)

    @app.exception_handler(QueueFull)
    async def _queue_full(_request: Request, exc: QueueFull):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(TooManyJobs)
    async def _too_many(_request: Request, exc: TooManyJobs):
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError):
        detail = [
            {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(FileNotFoundError)
    async def _file_gone(request: Request, exc: FileNotFoundError):
        # a result folder removed by the disk bound while the request read it: 410, not 500
        ids = [
            str(v) for k, v in {**request.path_params, **request.query_params}.items() if k in JOB_ID_PARAMS
        ]
        why = ctx.removed_while_read(ids)
        if why is not None:
            return JSONResponse({"detail": why}, status_code=410)
        log.error("missing file answering %s", request.url.path, exc_info=exc)
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)

    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    ctx = Ctx(store, manager, limits, workers)
    app.state.ctx = ctx
    for routes in (routes_catalog, routes_runs, routes_games, routes_ensembles, routes_dashboard):
        routes.add_routes(app, ctx)
    return app
