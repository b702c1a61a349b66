"""Request and response bodies of the web service (they make its OpenAPI schema at ``/docs``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Strict):
    """A scenario to run: a shipped name or scenario YAML (JSON is YAML too), and its counterfactual."""

    scenario: str | None = Field(
        None,
        description="a shipped scenario name (GET /api/scenarios)",
        max_length=200,
        examples=["baseline"],
    )
    yaml: str | None = Field(
        None,
        description="scenario text in the format of `reesim validate` (extends/counterfactual: shipped names only)",
        max_length=200_000,
    )
    against: str | None = Field(
        None,
        description="counterfactual, a shipped name (default: the scenario's, else baseline)",
        max_length=200,
    )

    @model_validator(mode="after")
    def _one(self):
        if (self.scenario is None) == (self.yaml is None):
            raise ValueError("give exactly one of scenario (a shipped name) or yaml (scenario text)")
        return self


class GameRequest(_Strict):
    """A game to solve: a shipped game's name or game YAML (base and strategies' scenarios: shipped names)."""

    game: str | None = Field(
        None, description="a shipped game (GET /api/games)", max_length=200, examples=["us-china"]
    )
    yaml: str | None = Field(None, description="game text in the format of `reesim game`", max_length=200_000)

    @model_validator(mode="after")
    def _one(self):
        if (self.game is None) == (self.yaml is None):
            raise ValueError("give exactly one of game (a shipped name) or yaml (game text)")
        return self


class EnsembleRequest(RunRequest):
    """A scenario over the ranges of its assumptions (``reesim ensemble``)."""

    n: int = Field(
        16,
        ge=1,
        le=100_000,
        description="members, or base points with saltelli (members = n x (parameters + 2)); the server's limit applies",
    )
    sample: Literal["lhs", "sobol", "random", "saltelli"] = Field(
        "lhs", description="design; saltelli adds Sobol' sensitivity indices (sobol.parquet)"
    )
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1, description="seed of the design (default: the scenario's)"
    )
    vary: list[Annotated[str, Field(max_length=200)]] = Field(
        [], max_length=100, description="NAME=DIST overrides, e.g. demand_elasticity_oxide=uniform(0.2, 0.8)"
    )
    only_vary: bool = Field(
        False, description="vary only the listed parameters (default: every stated range as well)"
    )


class GameInfo(BaseModel):
    """A shipped game: players, their regions and strategies, the base scenario."""

    name: str
    description: str
    base: str
    players: list[dict[str, Any]]
    profiles: int
    text: str = Field(..., description="the game file")


class ValidateRequest(_Strict):
    """Scenario text to check without running it."""

    yaml: str = Field(..., description="scenario YAML or JSON text", max_length=200_000)


class Problem(BaseModel):
    """One problem with a request: where (YAML path or parameter), and the message."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The body of a 4xx answer."""

    detail: list[Problem] | str


class Validated(BaseModel):
    """A valid scenario: what it holds."""

    valid: Literal[True] = True
    name: str
    description: str
    horizon: dict[str, Any]
    instruments: int
    counterfactual: str
    warnings: list[str]


class JobOut(BaseModel):
    """A job: its state, progress and where its results are."""

    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "expired"] = Field(
        ...,
        description="expired: the results were removed to keep the server's disk bounded "
        "(least recently used first); send the request again",
    )
    scenario: str
    counterfactual: str
    progress: float = Field(..., description="share of the pair's steps simulated, 0 to 1")
    done_steps: int
    total_steps: int
    message: str
    cached: bool
    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    links: dict[str, str]


class ScenarioInfo(BaseModel):
    """A shipped scenario: name, description, horizon, what it extends and its counterfactual."""

    name: str
    description: str
    extends: str | None
    counterfactual: str | None
    horizon: dict[str, Any]
    instruments: list[dict[str, Any]]


class ScenarioDetail(ScenarioInfo):
    """A shipped scenario with its file text, the chain of files it extends and the resolved scenario."""

    text: str
    chain: list[str]
    inherited: list[bool] = Field(
        ..., description="per resolved instrument: unchanged from the scenario it extends"
    )
    resolved: dict[str, Any]
    resolved_yaml: str


class TableInfo(BaseModel):
    """A dataset table: its name, title, kind, columns and row count."""

    name: str
    title: str
    kind: str
    description: str
    columns: list[str]
    rows: int


class Rows(BaseModel):
    """Rows of a table, with the citation behind each source id they name."""

    table: str
    columns: list[str]
    rows: list[dict[str, Any]]
    total: int
    offset: int
    citations: dict[str, dict[str, Any]] = {}


class Health(BaseModel):
    """What the server is and how busy."""

    status: Literal["ok"] = "ok"
    version: str
    dataset_version: str
    workers: int
    queued: int
    running: int
    limits: dict[str, Any]
