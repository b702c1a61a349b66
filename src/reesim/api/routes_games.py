"""Routes of games as jobs: shipped games, submit, result, payoffs, heat maps, report."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from reesim.api.common import ERRORS, Ctx, client_of, records, report_response
from reesim.api.jobs import game_of
from reesim.api.schemas import (
    GameInfo,
    GameRequest,
    JobOut,
)
from reesim.errors import InputError


def add_routes(app: FastAPI, ctx: Ctx) -> None:
    """Add the game routes to ``app``."""
    manager = ctx.manager
    job_or_404 = ctx.job_or_404
    done_folder = ctx.done_folder
    job_out = ctx.job_out

    # -------------------------------------------------------------------------- games
    @app.get("/api/games", response_model=list[GameInfo], tags=["games"])
    def games() -> list[GameInfo]:
        """The shipped games (``reesim game NAME``)."""

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
    def submit_game(body: GameRequest, http: Request) -> JobOut:
        """Queue a game: every strategy profile simulated, equilibria, bargaining (``reesim game``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return job_out(manager.submit_game(body.model_dump(exclude_none=True), client_of(http)))

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
    def game_report(job_id: str) -> Response:
        """The game's HTML report (rendered again once by this code if another built it)."""
        from reesim.game.output import write_game_report

        report = ctx.report(done_folder(job_id, "game"), write_game_report)
        return report_response(report, "game.html")
