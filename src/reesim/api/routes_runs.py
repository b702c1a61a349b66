"""Routes of runs as jobs: submit, status, summary, tables, workbook, report, figures, compare."""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from reesim.api.common import (
    ERRORS,
    RUN_TABLE_FORMATS,
    Ctx,
    HeldFileResponse,
    client_of,
    json_safe,
    records,
    report_response,
)
from reesim.api.schemas import (
    JobOut,
    RunRequest,
)
from reesim.errors import InputError

#: the run's workbook, kept in its folder once built
WORKBOOK = "tables.xlsx"


def add_routes(app: FastAPI, ctx: Ctx) -> None:
    """Add the run routes to ``app``."""
    store = ctx.store
    manager = ctx.manager
    job_or_404 = ctx.job_or_404
    done_folder = ctx.done_folder
    job_out = ctx.job_out

    # --------------------------------------------------------------------------- runs
    @app.post("/api/runs", response_model=JobOut, status_code=202, responses=ERRORS, tags=["runs"])
    def submit(body: RunRequest, http: Request) -> JobOut:
        """Queue a run of a scenario and its counterfactual; answered at once with the job (poll its link)."""
        request = body.model_dump(exclude_none=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return job_out(manager.submit(request, client_of(http)))

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

        def write(folder: Path) -> None:
            summary = json.loads((folder / "summary.json").read_text())
            tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
            tables |= {
                f"counterfactual/{p.stem}": pd.read_parquet(p)
                for p in sorted(folder.glob("counterfactual/*.parquet"))
            }
            with tempfile.TemporaryDirectory(dir=folder, prefix=".xlsx-") as tmp:
                write_tables(Path(tmp), tables, ("parquet", "xlsx"), summary.get("units"))
                os.replace(Path(tmp) / "tables.xlsx", folder / WORKBOOK)  # atomic: never half a file

        # built once per run folder, one build at a time (it costs seconds of CPU: rebuilt per
        # request, 40 concurrent requests held the server for minutes in a review of 2026-12-06)
        book = ctx.once(folder, WORKBOOK, write)
        return HeldFileResponse(
            book,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename="run-tables.xlsx",
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
            return HeldFileResponse(
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
    def run_report(job_id: str) -> Response:
        """The run's self-contained HTML report (the same as ``reesim run --report``), rendered on first request."""
        from reesim.reports import write_report

        report = ctx.report(done_folder(job_id), write_report)
        return report_response(report, "report.html")

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
        return JSONResponse(json_safe({"headline": headline(ra, rb), "impacts": ih}))
