"""Routes of ensembles as jobs: submit, summary, bands and other tables, fan chart and drivers, report."""

from __future__ import annotations

import io
import json
import warnings
from typing import Annotated, Any

import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from reesim.api.common import (
    ERRORS,
    RUN_TABLE_FORMATS,
    Ctx,
    HeldFileResponse,
    client_of,
    records,
    report_response,
)
from reesim.api.schemas import (
    EnsembleRequest,
    JobOut,
)
from reesim.errors import InputError


def check_choices(bands: pd.DataFrame, **chosen: str | list[str]) -> None:
    """422 naming the query parameter, the value and the values the ensemble has (metric, item, where)."""
    from fastapi.exceptions import RequestValidationError

    bad = []
    for key, value in chosen.items():
        allowed = sorted({str(v) for v in bands[key].dropna().unique()})
        for v in [value] if isinstance(value, str) else value:
            if v not in allowed:
                shown = ", ".join(allowed[:30]) + (
                    f", ... ({len(allowed)} in all)" if len(allowed) > 30 else ""
                )
                bad.append(
                    {
                        "loc": ["query", key],
                        "msg": f"{key} {v!r} is not in this ensemble; allowed: {shown}",
                        "type": "reesim_input",
                    }
                )
    if bad:
        raise RequestValidationError(bad)


def add_routes(app: FastAPI, ctx: Ctx) -> None:
    """Add the ensemble routes to ``app``."""
    manager = ctx.manager
    job_or_404 = ctx.job_or_404
    done_folder = ctx.done_folder
    job_out = ctx.job_out

    # ---------------------------------------------------------------------- ensembles
    @app.post("/api/ensembles", response_model=JobOut, status_code=202, responses=ERRORS, tags=["ensembles"])
    def submit_ensemble(body: EnsembleRequest, http: Request) -> JobOut:
        """Queue an ensemble: the scenario over the ranges of its assumptions (``reesim ensemble``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return job_out(manager.submit_ensemble(body.model_dump(exclude_none=True), client_of(http)))

    @app.get("/api/ensembles/{job_id}", response_model=JobOut, responses=ERRORS, tags=["ensembles"])
    def ensemble_status(job_id: str) -> JobOut:
        """An ensemble job's state and progress (members done of the total)."""
        return job_out(job_or_404(job_id))

    @app.get("/api/ensembles/{job_id}/summary", responses=ERRORS, tags=["ensembles"])
    def ensemble_summary(job_id: str) -> dict[str, Any]:
        """``summary.json`` and ``space.json``: counts, method, seed, and every varied parameter with its basis."""
        folder = done_folder(job_id, "ensemble")
        return {
            **json.loads((folder / "summary.json").read_text()),
            "space": json.loads((folder / "space.json").read_text()),
        }

    @app.get("/api/ensembles/{job_id}/tables/{table}", responses=ERRORS, tags=["ensembles"])
    def ensemble_table(
        job_id: str,
        table: str,
        format: str = Query("json", description="json, csv or parquet"),
        item: str | None = Query(None, description="keep rows of this item (e.g. oxide:Dy)", max_length=100),
    ) -> Response:
        """``bands``, ``exceedance``, ``sensitivity`` or ``design`` as JSON, CSV or Parquet."""
        from reesim.simulate.export import spreadsheet_safe

        folder = done_folder(job_id, "ensemble")
        names = ("bands", "exceedance", "sensitivity", "design")
        if table not in names:
            from reesim.errors import suggest

            raise HTTPException(404, suggest(table, names, what="ensemble table"))
        if format not in RUN_TABLE_FORMATS:
            raise InputError(f"format: {format!r}; allowed: {', '.join(RUN_TABLE_FORMATS)}")
        file = folder / f"{table}.parquet"
        if not file.is_file():
            raise HTTPException(404, f"{table}: not written (no member succeeded)")
        if format == "parquet" and item is None:
            return HeldFileResponse(
                file, media_type="application/vnd.apache.parquet", filename=f"{table}.parquet"
            )
        df = pd.read_parquet(file)
        if item is not None and "item" in df.columns:
            df = df[df["item"] == item]
        if format == "parquet":
            buf = io.BytesIO()
            df.to_parquet(buf, index=False)
            return Response(buf.getvalue(), media_type="application/vnd.apache.parquet")
        if format == "csv":
            return Response(spreadsheet_safe(df).to_csv(index=False), media_type="text/csv")
        return JSONResponse({"table": table, "columns": list(df.columns), "rows": records(df)})

    @app.get("/api/ensembles/{job_id}/figures/{name}", responses=ERRORS, tags=["ensembles"])
    def ensemble_figure(
        job_id: str,
        name: str,
        item: str = Query("oxide:Dy", max_length=100),
        where: Annotated[list[str] | None, Query(description="markets (fan) or the market (drivers)")] = None,
        metric: str = Query("price_ratio", max_length=100),
        year: int | None = Query(None, description="year of the drivers (default: the horizon's second)"),
    ) -> Response:
        """``fan`` (bands over the years) or ``drivers`` (Spearman bars), the ensemble report's own figures."""
        from reesim.reports.ensemble import driver_year, fan_chart, sensitivity_bars

        where = where or ["Europe", "inside China"]
        folder = done_folder(job_id, "ensemble")
        if name not in ("fan", "drivers"):
            raise HTTPException(404, f"no ensemble figure {name!r}; allowed: fan, drivers")
        bands_file = folder / "bands.parquet"
        if not bands_file.is_file():
            return JSONResponse({"data": [], "layout": {}, "absent": True})
        bands = pd.read_parquet(bands_file)
        check_choices(bands, metric=metric, item=item, where=where)
        if name == "fan":
            fig = fan_chart(bands, metric, item, where)
        else:
            sens = pd.read_parquet(folder / "sensitivity.parquet")
            fig = sensitivity_bars(sens, metric, item, where[0], year or driver_year(bands) or 0)
        if fig is None:
            return JSONResponse({"data": [], "layout": {}, "absent": True})
        return Response(fig.to_json(), media_type="application/json")

    @app.get(
        "/api/ensembles/{job_id}/report", response_class=HTMLResponse, responses=ERRORS, tags=["ensembles"]
    )
    def ensemble_report(job_id: str) -> Response:
        """The ensemble's HTML report (fan charts, drivers, exceedance, parameters)."""
        from reesim.reports.ensemble import write_ensemble_report

        # a job stopped between its tables and its report: the report is rendered now
        report = ctx.report(done_folder(job_id, "ensemble"), write_ensemble_report)
        return report_response(report, "ensemble.html")
