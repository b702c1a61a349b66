"""Routes of the service's catalogue: health, the dataset with citations, shipped scenarios, validation."""

from __future__ import annotations

import json
import warnings
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError

from reesim import __version__
from reesim.api.common import ERRORS, Ctx, records
from reesim.api.jobs import load_shipped, scenario_of
from reesim.api.schemas import (
    Health,
    Rows,
    ScenarioDetail,
    ScenarioInfo,
    TableInfo,
    Validated,
    ValidateRequest,
)
from reesim.data import default_dataset
from reesim.errors import InputError


def filter_problems(exc: InputError, filters: dict[str, str]) -> list[dict[str, Any]]:
    """The problems of a bad data filter, each at ``["query", <column>]`` when its line names one."""
    out = []
    for line in str(exc).splitlines() or [str(exc)]:
        # the column the message is about ("column 'X'"), else any filter it quotes
        named = [k for k in filters if f"column '{k}'" in line] or [k for k in filters if f"'{k}'" in line]
        loc: list[str] = ["query", named[0]] if named else ["query"]
        out.append({"loc": loc, "msg": line, "type": "reesim_input"})
    return out


def add_routes(app: FastAPI, ctx: Ctx) -> None:
    """Add the catalogue routes to ``app``."""
    store = ctx.store
    limits = ctx.limits
    workers = ctx.workers

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
        try:
            df = ds.table(name, **filters)
        except InputError as exc:  # located at the query parameter the message names
            raise RequestValidationError(filter_problems(exc, filters)) from None
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
        from reesim.ensemble.space import check_uncertainty
        from reesim.scenario.load import load_scenario_text
        from reesim.simulate.stepper import scenario_world

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sc = load_scenario_text(body.yaml, "scenario")
            scenario_of({"yaml": body.yaml})  # the counterfactual must be a shipped scenario too
            scenario_world(sc)
            check_uncertainty(sc, "scenario")
        return Validated(
            name=sc.name,
            description=sc.description or "",
            horizon=sc.horizon.model_dump(),
            instruments=len(sc.instruments),
            counterfactual=sc.counterfactual or "baseline",
            warnings=[str(w.message) for w in caught],
        )
