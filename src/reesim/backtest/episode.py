"""Backtest episodes: what was known when, what happened to policy, and what to compare.

An episode file (YAML, shipped in ``src/reesim/scenarios/backtests/``) gives

* ``knowledge``: the cut-off date the calibration may know (``as_of``), the reference year of
  the world built from that vintage view of the dataset, and named ``exceptions`` — rows the
  calibration needs that no source published before the cut-off, each with its justification;
* ``scenario``: the policies as they happened (the scenario format, without ``extends``) and
  ``shocks``: the names of the instruments that make the episode (the counterfactual drops
  them);
* ``pre_episode``: the date of the pre-episode level of every series;
* ``series``: observed series (a dataset table and filters) with the simulated quantity each
  is compared with;
* ``judgement``: parameters chosen by judgement, each with its justification (printed with
  the scores: no parameter is tuned to the episode's post-cut-off observations).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reesim.yamlsafe import short


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _date(v):
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise ValueError(f"{short(v)} is not a date (YYYY-MM-DD)") from None


class Exception_(_Strict):
    """Rows the calibration may read although they were published or observed after the cut-off."""

    table: str
    filters: dict[str, Any]
    justification: str


class Knowledge(_Strict):
    """What the calibration may know."""

    as_of: dt.date
    reference_year: int
    exceptions: list[Exception_] = []

    _d = field_validator("as_of", mode="before")(_date)

    @field_validator("as_of", mode="after")
    @classmethod
    def _past(cls, v: dt.date) -> dt.date:
        """A knowledge cut-off lies in the past (and after the dataset's first year)."""
        today = dt.date.today()
        if not dt.date(1990, 1, 1) <= v <= today:
            raise ValueError(f"{v} is not between 1990-01-01 and today ({today}): a cut-off is a past date")
        return v


class Observed(_Strict):
    """An observed series: rows of a dataset table."""

    table: Literal["prices", "trade_flows", "mine_production", "china_export_quotas"]
    filters: dict[str, Any]


class Simulated(_Strict):
    """The simulated quantity compared with an observed series.

    ``price``: the price of ``commodity`` in ``region``, or at China's border for exports
    (``market: fob_china``: China's own price, which the default world is calibrated to from
    the USGS FOB China averages, plus the licence rent on China's exports below); ``flow``:
    tonnes per year of ``commodities`` from ``exporter`` to ``importer``; ``production``:
    output of ``stage`` in ``region``, t/yr.

    ``licence_rent: included`` (default) adds the scarcity rent of China's export licences (the
    shadow price of each licence on the good's content, the result's ``licence_rents``, weighted
    by China's exports of the good) to the FOB price, as the export-quota rent was in 2010-11's
    FOB quotes. ``excluded`` leaves it out: what an exporter is paid on a licensed contract when
    the premium accrues outside China, as in 2025 (Dy oxide FOB China 239 USD/kg for the year,
    SMM's China price 1,660,000 CNY/t in July, Europe 800-850 USD/kg in May-July; prices table).
    """

    kind: Literal["price", "flow", "production"]
    commodity: str | None = None
    commodities: list[str] = []
    region: str | None = None
    market: Literal["fob_china"] | None = None
    exporter: str | None = None
    importer: str | None = None
    stage: Literal["mining", "separation", "metal", "magnet"] | None = None
    licence_rent: Literal["included", "excluded"] = "included"

    @model_validator(mode="after")
    def _complete(self):
        need = {
            "price": ["commodity"],
            "flow": ["exporter", "importer"],
            "production": ["stage", "region"],
        }[self.kind]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"kind {self.kind} needs {', '.join(missing)}")
        if self.kind == "price" and (self.region is None) == (self.market is None):
            raise ValueError("kind price needs exactly one of region or market")
        if self.kind == "flow" and not self.commodities:
            raise ValueError("kind flow needs commodities")
        if self.licence_rent == "excluded" and self.market != "fob_china":
            raise ValueError("licence_rent: excluded applies to market fob_china only")
        return self


#: units the model's series are in; a series observed in another (CNY/t: China's domestic quotes)
#: is scored on its changes (direction, peak multiple), not on its level, and drawn as an index:
#: there are no exchange rates in the dataset
MODEL_UNITS = frozenset({"USD/kg", "t/yr", "t REO/yr"})
#: price units a series may be observed in besides the model's (rows read as printed)
OTHER_PRICE_UNITS = frozenset({"CNY/t"})


class Series(_Strict):
    """One compared series.

    ``unit`` is one of the model's units (``MODEL_UNITS``) or, for a price series read from the
    prices table, ``CNY/t`` (China's domestic quotes), which is scored on its changes only.

    ``role: input`` marks a series that sizes one of the episode's events (Myanmar's mine
    output sizes the Kachin disruption): it is compared and shown, with the verdict ``input``,
    but not scored (left out of the verdict counts and the median level error), since the
    model reproduces its change by construction (not its level). Its ``note`` must say which event it sizes.
    """

    label: str
    unit: str
    observed: Observed
    simulated: Simulated
    note: str = ""
    role: Literal["scored", "input"] = "scored"

    @model_validator(mode="after")
    def _input_explained(self):
        if self.role == "input" and not self.note.strip():
            raise ValueError(f"series {self.label!r}: role input needs a note naming the event it sizes")
        return self

    @property
    def in_model_units(self) -> bool:
        """Whether the series is in one of the model's units (else scored on its changes only)."""
        return self.unit in MODEL_UNITS

    @model_validator(mode="after")
    def _known_unit(self):
        # the unit selects the observed rows and whether levels are scored: a typo must not
        # silently read nothing or drop the level error
        if self.in_model_units:
            return self
        if (
            self.unit in OTHER_PRICE_UNITS
            and self.observed.table == "prices"
            and self.simulated.kind == "price"
        ):
            return self
        allowed = ", ".join(sorted(MODEL_UNITS)) + ", or " + ", ".join(sorted(OTHER_PRICE_UNITS))
        raise ValueError(
            f"series {self.label!r}: unit {self.unit!r} is not allowed; allowed: {allowed} "
            "(the latter for a price series from the prices table, scored on its changes only)"
        )


class Judgement(_Strict):
    """A parameter chosen by judgement."""

    parameter: str
    value: Any
    justification: str


class Episode(_Strict):
    """A backtest episode (see the module docstring)."""

    name: str
    title: str
    description: str = ""
    knowledge: Knowledge
    pre_episode: dt.date
    scenario: dict[str, Any]
    shocks: list[str] = Field(min_length=1)
    series: list[Series] = Field(min_length=1)
    judgement: list[Judgement] = []
    missing_data: list[str] = Field([], description="data the episode would need that the dataset lacks")
    china_mining_quota: bool = Field(
        False,
        description="China's mine output follows its published annual mining quota (as known on the cut-off), "
        "held at the last known value after that",
    )
    known_mine_output: list[str] = Field(
        [],
        description="regions (ISO3 codes of the world) whose mining capacity follows their mine production "
        "as published by the cut-off, held at the last published year after that: for output set by "
        "border closures or conflict rather than price (Myanmar), as in `reesim calibrate`",
    )

    _d = field_validator("pre_episode", mode="before")(_date)

    @model_validator(mode="after")
    def _shocks_named(self):
        names = [i.get("name") for i in self.scenario.get("instruments", []) if isinstance(i, dict)]
        unknown = [s for s in self.shocks if s not in names]
        if unknown:
            raise ValueError(f"shocks: {unknown} name no instrument of the scenario; instruments: {names}")
        return self


def load_episode(ref: str | Path) -> Episode:
    """An episode by shipped name (``2010``, ``2025``) or YAML path."""
    from reesim.scenario.load import load_model

    return load_model(ref, "episode", "backtests", Episode)[0]
