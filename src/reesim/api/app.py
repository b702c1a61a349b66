"""The web service: FastAPI routes over the dataset, the shipped scenarios, runs as jobs, and the dashboard.

Start it with ``reesim serve`` (:mod:`reesim.cli.serve`); the OpenAPI schema is at ``/docs``.
Errors a user can cause answer 422 with one problem per line of the message that ``reesim
validate`` would print (``loc`` = the YAML path or parameter, ``msg`` = the whole line naming
the value and what is allowed); an unknown job, table or figure answers 404. Everything is
served from the package: no request leaves the machine (plotly.js and the map's borders
included).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import tempfile
import threading
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from reesim.api.jobs import JobManager, Limits, QueueFull, game_of, load_shipped, scenario_of
from reesim.api.schemas import (
    ErrorBody,
    GameInfo,
    GameRequest,
    Health,
    JobOut,
    Rows,
    RunRequest,
    ScenarioDetail,
    ScenarioInfo,
    TableInfo,
    Validated,
    ValidateRequest,
)
from reesim.api.store import Job, JobStore
from reesim.errors import InputError

#: the dashboard's own files (``reesim/api/static``)
STATIC = ("index.html", "dashboard.js", "dashboard.css")
#: the page's policy: scripts and data from this server only
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
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


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN and infinities as null, dates as ISO text)."""
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def create_app(
    home: Path, *, workers: int = 1, limits: Limits | None = None, start_jobs: bool = True
) -> FastAPI:
    """The application over ``home`` (job store ``jobs.duckdb``, run folders ``runs/``).

    ``workers`` simulations run at a time; ``limits`` bounds each request. With
    ``start_jobs=False`` jobs are recorded but not run (tests of the API alone).
    """
    from reesim import __version__
    from reesim.cache import code_fingerprint
    from reesim.data import default_dataset

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

    app = FastAPI(
        title="reesim",
        version=__version__,
        description="Rare-earth supply chains under policy: data, scenarios, runs and their results. "
        "Every figure is traceable to a dataset row (with its citation) or a scenario parameter.",
        lifespan=lifespan,
    )
    app.state.manager, app.state.store, app.state.limits = manager, store, limits

    # ------------------------------------------------------------------ errors and limits
    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError):
        return JSONResponse({"detail": problems(exc)}, status_code=422)

    @app.exception_handler(QueueFull)
    async def _queue_full(_request: Request, exc: QueueFull):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError):
        detail = [
            {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.middleware("http")
    async def _body_limit(request: Request, call_next):
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > limits.max_body_bytes:
            return JSONResponse(
                {"detail": f"request body of {size} bytes; allowed: at most {limits.max_body_bytes}"},
                status_code=413,
            )
        return await call_next(request)

    report_lock = threading.Lock()

    def job_or_404(job_id: str) -> Job:
        job = store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} (GET /api/runs lists them)")
        return job

    def done_folder(job_id: str, kind: str = "run") -> Path:
        job = job_or_404(job_id)
        if job.kind != kind:
            raise HTTPException(404, f"job {job_id} is a {job.kind}, not a {kind}")
        if job.status != "done":
            raise HTTPException(409, f"job {job_id} is {job.status}: its results are not there yet")
        return manager.folder(job)

    def job_out(job: Job) -> JobOut:
        base = f"/api/{job.kind}s/{job.id}"
        links = {"self": base}
        if job.status == "done" and job.kind == "game":
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
        share = job.done_steps / job.total_steps if job.total_steps else 0.0
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

    # ------------------------------------------------------------------------ service
    @app.get("/api/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Version, dataset, workers, queue and limits."""
        return Health(
            version=__version__,
            dataset_version=default_dataset().version,
            workers=workers,
            queued=store.count("queued"),
            running=store.count("running"),
            limits=limits.__dict__,
        )

    # --------------------------------------------------------------------------- data
    @app.get("/api/data/tables", response_model=list[TableInfo], tags=["data"])
    def data_tables() -> list[TableInfo]:
        """The dataset's tables (``reesim data list``)."""
        ds = default_dataset()
        con = ds.connect()
        out = []
        for name, spec in ds.registry.items():
            n = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            out.append(
                TableInfo(
                    name=name,
                    title=spec.title,
                    kind=spec.kind,
                    description=spec.description,
                    columns=list(ds.columns(name)),
                    rows=int(n),
                )
            )
        return out

    @app.get("/api/data/tables/{name}", response_model=Rows, responses=ERRORS, tags=["data"])
    def data_rows(
        name: str,
        request: Request,
        limit: int = Query(200, ge=1, le=5000, description="rows per page"),
        offset: int = Query(0, ge=0, description="rows to skip"),
    ) -> Rows:
        """Rows of a dataset table; any other query parameter filters a column (``?year=2024&iso3=CHN``).

        Each row's ``source_id`` is cited in ``citations`` (citation, where read, licence, vintage).
        """
        ds = default_dataset()
        if name not in ds.registry:
            from reesim.errors import suggest

            raise HTTPException(404, suggest(name, ds.registry, what="table", limit=20))
        filters = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}
        df = ds.table(name, **filters)
        page = df.iloc[offset : offset + limit]
        cites: dict[str, dict[str, Any]] = {}
        if "source_id" in page.columns and name != "sources" and not page.empty:
            src = ds.table("sources", source_id=sorted({str(s) for s in page["source_id"].dropna()}))
            keep = [
                c for c in ("source_id", "citation", "where_read", "licence", "vintage") if c in src.columns
            ]
            cites = {r["source_id"]: r for r in records(src[keep])}
        return Rows(
            table=name,
            columns=list(df.columns),
            rows=records(page),
            total=len(df),
            offset=offset,
            citations=cites,
        )

    # ---------------------------------------------------------------------- scenarios
    def info(name: str, text: str) -> ScenarioInfo:
        from reesim.scenario.load import load_scenario_text

        sc = load_scenario_text(text, name)
        raw = json.loads(sc.model_dump_json())
        return ScenarioInfo(
            name=name,
            description=sc.description or "",
            extends=sc.extends,
            counterfactual=sc.counterfactual,
            horizon=raw["horizon"],
            instruments=raw["instruments"],
        )

    @app.get("/api/scenarios", response_model=list[ScenarioInfo], tags=["scenarios"])
    def scenarios() -> list[ScenarioInfo]:
        """The shipped scenarios (``reesim run NAME``), resolved."""
        from reesim.scenario.load import shipped

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [info(n, t) for n, t in sorted(shipped().items())]

    @app.get("/api/scenarios/{name}", response_model=ScenarioDetail, responses=ERRORS, tags=["scenarios"])
    def scenario(name: str) -> ScenarioDetail:
        """A shipped scenario: its file, the chain of files it extends, and the resolved scenario."""
        from reesim.pipeline import resolved_yaml
        from reesim.scenario.load import parse, resolve, shipped

        ships = shipped()
        if name not in ships:
            from reesim.errors import suggest

            raise HTTPException(404, suggest(name, ships, what="shipped scenario"))
        data, chain = resolve(name, shipped_only=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = parse(data, chain[-1])
            base = info(name, ships[name])
            parent = (
                [i.model_dump(mode="json") for i in load_shipped(sc.extends, "extends").instruments]
                if sc.extends
                else []
            )
        return ScenarioDetail(
            inherited=[i.model_dump(mode="json") in parent for i in sc.instruments],
            **base.model_dump(),
            text=ships[name],
            chain=chain,
            resolved=json.loads(sc.model_dump_json()),
            resolved_yaml=resolved_yaml(sc),
        )

    @app.get("/api/schema/scenario", tags=["scenarios"])
    def scenario_schema() -> dict[str, Any]:
        """The JSON Schema of the scenario format (``reesim schema``)."""
        from reesim.scenario.load import json_schema

        return json_schema()

    @app.post("/api/validate", response_model=Validated, responses=ERRORS, tags=["scenarios"])
    def validate(body: ValidateRequest) -> Validated:
        """Check scenario text as ``reesim validate`` does (format, names, contradictions), without running it."""
        from reesim.scenario.load import load_scenario_text
        from reesim.simulate.stepper import scenario_world

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sc = load_scenario_text(body.yaml, "scenario")
            scenario_of({"yaml": body.yaml})  # the counterfactual must be a shipped scenario too
            scenario_world(sc)
        return Validated(
            name=sc.name,
            description=sc.description or "",
            horizon=sc.horizon.model_dump(),
            instruments=len(sc.instruments),
            counterfactual=sc.counterfactual or "baseline",
            warnings=[str(w.message) for w in caught],
        )

    # --------------------------------------------------------------------------- runs
    @app.post("/api/runs", response_model=JobOut, status_code=202, responses=ERRORS, tags=["runs"])
    def submit(body: RunRequest) -> JobOut:
        """Queue a run of a scenario and its counterfactual; answered at once with the job (poll its link)."""
        request = body.model_dump(exclude_none=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return job_out(manager.submit(request))

    @app.get("/api/runs", response_model=list[JobOut], tags=["runs"])
    def runs(limit: int = Query(100, ge=1, le=1000)) -> list[JobOut]:
        """The latest jobs, newest first."""
        return [job_out(j) for j in store.list(limit)]

    @app.get("/api/runs/{job_id}", response_model=JobOut, responses=ERRORS, tags=["runs"])
    def run_status(job_id: str) -> JobOut:
        """A job's state and progress (any kind of job)."""
        return job_out(job_or_404(job_id))

    @app.get("/api/runs/{job_id}/summary", responses=ERRORS, tags=["runs"])
    def run_summary(job_id: str) -> dict[str, Any]:
        """The run's ``summary.json`` (headline, impacts, identities, units)."""
        return json.loads((done_folder(job_id) / "summary.json").read_text())

    @app.get("/api/runs/{job_id}/tables", responses=ERRORS, tags=["runs"])
    def run_tables(job_id: str) -> dict[str, list[str]]:
        """The run's tables: the scenario's and the counterfactual's."""
        folder = done_folder(job_id)
        return {
            "scenario": sorted(p.stem for p in folder.glob("*.parquet")),
            "counterfactual": sorted(p.stem for p in (folder / "counterfactual").glob("*.parquet")),
        }

    @app.get("/api/runs/{job_id}/tables.xlsx", responses=ERRORS, tags=["runs"])
    def run_workbook(job_id: str) -> Response:
        """Every table of the run in one Excel workbook (a sheet per table, a contents sheet with units)."""
        from reesim.simulate.export import write_tables

        folder = done_folder(job_id)
        summary = json.loads((folder / "summary.json").read_text())
        tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
        tables |= {
            f"counterfactual/{p.stem}": pd.read_parquet(p)
            for p in sorted(folder.glob("counterfactual/*.parquet"))
        }
        with tempfile.TemporaryDirectory() as tmp:
            write_tables(Path(tmp), tables, ("parquet", "xlsx"), summary.get("units"))
            data = (Path(tmp) / "tables.xlsx").read_bytes()
        return Response(
            data,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={
                "Content-Disposition": f'attachment; filename="{summary.get("scenario", "run")}-tables.xlsx"'
            },
        )

    @app.get("/api/runs/{job_id}/tables/{table}", responses=ERRORS, tags=["runs"])
    def run_table(
        job_id: str,
        table: str,
        format: str = Query("json", description="json, csv or parquet"),
        path: str = Query("scenario", description="scenario or counterfactual"),
        limit: int = Query(100_000, ge=1, le=1_000_000),
    ) -> Response:
        """One table of the run as JSON (``columns`` and ``rows``), CSV or Parquet."""
        from reesim.simulate.export import spreadsheet_safe

        folder = done_folder(job_id)
        if format not in RUN_TABLE_FORMATS:
            raise InputError(f"format: {format!r}; allowed: {', '.join(RUN_TABLE_FORMATS)}")
        if path not in ("scenario", "counterfactual"):
            raise InputError(f"path: {path!r}; allowed: scenario, counterfactual")
        base = folder if path == "scenario" else folder / "counterfactual"
        names = sorted(p.stem for p in base.glob("*.parquet"))
        if table not in names:
            from reesim.errors import suggest

            raise HTTPException(404, suggest(table, names, what=f"table of the {path}"))
        file = base / f"{table}.parquet"
        if format == "parquet":
            return FileResponse(
                file, media_type="application/vnd.apache.parquet", filename=f"{table}.parquet"
            )
        df = pd.read_parquet(file).head(limit)
        if format == "csv":
            buf = io.StringIO()
            spreadsheet_safe(df).to_csv(buf, index=False)
            return Response(
                buf.getvalue(),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
            )
        return JSONResponse({"table": table, "path": path, "columns": list(df.columns), "rows": records(df)})

    @app.get("/api/runs/{job_id}/report", response_class=HTMLResponse, responses=ERRORS, tags=["runs"])
    def run_report(job_id: str) -> FileResponse:
        """The run's self-contained HTML report (the same as ``reesim run --report``), rendered on first request."""
        from reesim.reports import write_report

        folder = done_folder(job_id)
        report = folder / "report.html"
        if not report.is_file():
            with report_lock:
                if not report.is_file():
                    write_report(folder)  # atomic: a temporary file renamed into the folder
        return FileResponse(report, media_type="text/html", filename="report.html")

    @app.get("/api/runs/{job_id}/figures/{name}", responses=ERRORS, tags=["runs"])
    def run_figure(job_id: str, name: str, element: str = Query("Nd", max_length=20)) -> Response:
        """A figure of the run as plotly JSON: the report's own figure (``reesim.reports.run_figures``)."""
        from reesim.reports import run_figures as RF
        from reesim.reports.runfolder import read_run

        if name not in RF.FIGURES:
            from reesim.errors import suggest

            raise HTTPException(404, suggest(name, RF.FIGURES, what="figure"))
        fig = RF.figure(read_run(done_folder(job_id)), name, element)
        if fig is None:
            return JSONResponse({"data": [], "layout": {}, "absent": True})
        return Response(fig.to_json(), media_type="application/json")

    @app.get("/api/compare", responses=ERRORS, tags=["runs"])
    def compare_jobs(
        a: str = Query(..., description="job of the scenario"),
        b: str = Query(..., description="job of the reference"),
    ):
        """Impacts of run ``a``'s scenario against run ``b``'s scenario, on the periods both cover (``reesim compare``)."""
        from reesim.impacts.compare import compare, impact_headline
        from reesim.simulate.headline import headline
        from reesim.simulate.result import common_periods, read_result, restrict

        ra, rb = read_result(done_folder(a)), read_result(done_folder(b))
        periods = common_periods(ra, rb, f"run {a}", f"run {b}")
        ra, rb = restrict(ra, periods), restrict(rb, periods)
        ih = impact_headline(compare(ra, rb))
        ih["periods_compared"] = {"first": periods[0], "last": periods[-1], "count": len(periods)}
        return json.loads(json.dumps({"headline": headline(ra, rb), "impacts": ih}, default=_clean))

    # -------------------------------------------------------------------------- games
    @app.get("/api/games", response_model=list[GameInfo], tags=["games"])
    def games() -> list[GameInfo]:
        """The shipped games (``reesim game NAME``)."""
        import math

        from reesim.scenario.load import shipped

        out = []
        for name, text in sorted(shipped("games").items()):
            g = game_of({"game": name})
            out.append(
                GameInfo(
                    name=name,
                    description=g.description,
                    base=g.base,
                    players=[
                        {"name": p.name, "regions": p.regions, "strategies": [s.name for s in p.strategies]}
                        for p in g.players
                    ],
                    profiles=math.prod(len(p.strategies) for p in g.players),
                    text=text,
                )
            )
        return out

    @app.post("/api/games", response_model=JobOut, status_code=202, responses=ERRORS, tags=["games"])
    def submit_game(body: GameRequest) -> JobOut:
        """Queue a game: every strategy profile simulated, equilibria, bargaining (``reesim game``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return job_out(manager.submit_game(body.model_dump(exclude_none=True)))

    @app.get("/api/games/{job_id}", response_model=JobOut, responses=ERRORS, tags=["games"])
    def game_status(job_id: str) -> JobOut:
        """A game job's state and progress (profiles simulated of the total)."""
        return job_out(job_or_404(job_id))

    @app.get("/api/games/{job_id}/result", responses=ERRORS, tags=["games"])
    def game_result(job_id: str) -> dict[str, Any]:
        """``equilibria.json``: payoffs, equilibria (verified), dominance, Pareto set, bargaining, sensitivity, reading."""
        return json.loads((done_folder(job_id, "game") / "equilibria.json").read_text())

    @app.get("/api/games/{job_id}/payoffs", responses=ERRORS, tags=["games"])
    def game_payoffs(job_id: str, format: str = Query("json", description="json or csv")) -> Response:
        """The payoff of every player in every profile, million USD present value."""
        df = pd.read_parquet(done_folder(job_id, "game") / "payoffs.parquet")
        if format == "csv":
            from reesim.simulate.export import spreadsheet_safe

            return Response(spreadsheet_safe(df).to_csv(index=False), media_type="text/csv")
        if format != "json":
            raise InputError(f"format: {format!r}; allowed: json, csv")
        return JSONResponse({"columns": list(df.columns), "rows": records(df)})

    @app.get("/api/games/{job_id}/figures", responses=ERRORS, tags=["games"])
    def game_figures(job_id: str) -> Response:
        """The payoff heat maps as plotly JSON with their captions (the game report's own figures)."""
        from reesim.reports.game import heatmaps

        folder = done_folder(job_id, "game")
        a = json.loads((folder / "equilibria.json").read_text())
        figs = heatmaps(pd.read_parquet(folder / "payoffs.parquet"), a)
        import html

        # captions as plain text (the report's are HTML-escaped)
        body = ",".join(
            f'{{"figure": {f.to_json()}, "caption": {json.dumps(html.unescape(c))}}}' for f, c in figs
        )
        return Response(
            f'{{"figures": [{body}], "reading": {json.dumps(a.get("reading", ""))}}}',
            media_type="application/json",
        )

    @app.get("/api/games/{job_id}/report", response_class=HTMLResponse, responses=ERRORS, tags=["games"])
    def game_report(job_id: str) -> FileResponse:
        """The game's HTML report."""
        return FileResponse(
            done_folder(job_id, "game") / "report.html", media_type="text/html", filename="game.html"
        )

    # ---------------------------------------------------------------------- dashboard
    static = resources.files("reesim.api").joinpath("static")

    def page(name: str, media: str) -> Response:
        return Response(
            static.joinpath(name).read_text(encoding="utf-8"),
            media_type=media,
            headers={"Content-Security-Policy": CSP},
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> Response:
        return page("index.html", "text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, f"no file {name!r}")
        media = {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
        return page(name, media)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        from plotly.offline import get_plotlyjs

        return Response(
            get_plotlyjs(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    @app.get("/static/vendor/world_110m.json", include_in_schema=False)
    def topojson() -> Response:
        from reesim.reports.run_figures import topojson as topo

        return Response(
            topo() or "{}", media_type="application/json", headers={"Cache-Control": "max-age=86400"}
        )

    return app
