"""The scenario language: YAML parsed into frozen, strict pydantic models.

A scenario names a horizon and time step, the world it starts from, demand growth paths
and a list of policy instruments, each with a start and an optional end date. Scenarios
compose: ``extends: baseline`` (a shipped scenario) or ``extends: path/to/file.yaml`` takes
the parent's content, then the child's keys replace the parent's, except ``instruments``
and ``demand``, which are appended (an instrument with the same ``name`` replaces the
parent's).

Validation is strict (STYLE habit 2): unknown keys, impossible dates, negative tonnages,
rates outside [0, 10], unknown regions/commodities/sectors and contradictory instruments
are errors naming the YAML path of the field, the bad value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from reesim.yamlsafe import short

Rate = Annotated[
    float, Field(ge=0, le=100, description="ad valorem rate as a fraction (0.25 = 25 %), 0-100 (10,000 %)")
]
Share = Annotated[float, Field(ge=0, le=1)]
#: Largest tonnage an instrument may name: about 25 times world mine output (390 kt REO in 2024).
MAX_TONNES = 10_000_000
Tonnes = Annotated[float, Field(ge=0, le=MAX_TONNES, description="tonnes per year, at most 10 million")]
#: A stock (not a flow): tonnes held.
TonnesStock = Annotated[
    float, Field(ge=0, le=MAX_TONNES, description="tonnes held (a stock), at most 10 million")
]
#: Largest price-like figure (USD/kg) an instrument may name: ten times the dearest oxide ever quoted
#: (Tb and Dy oxide peaked near 4,000 USD/kg in 2011 and Europe 2025).
MAX_USD_PER_KG = 50_000.0
UsdPerKg = Annotated[float, Field(ge=0, le=MAX_USD_PER_KG, description="USD/kg, at most 50,000")]
#: Most instruments in one scenario (the shipped ones have under 10; checks are pairwise).
MAX_INSTRUMENTS = 500
#: Years an instrument, a growth path or a date may name.
FIRST_YEAR, LAST_YEAR = 1900, 2100
Names = str | list[str]


class _Strict(BaseModel):
    # No NaN or infinity anywhere in a scenario: every figure is finite (fields that mean
    # "no limit" are optional instead).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _to_date(value, end: bool = False) -> dt.date | None:
    """A year (2025) means 1 January, or 31 December for an end date; a date stays a date."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not FIRST_YEAR <= value <= LAST_YEAR:
            raise ValueError(f"year {value} is outside {FIRST_YEAR}-{LAST_YEAR}")
        return dt.date(value, 12, 31) if end else dt.date(value, 1, 1)
    if isinstance(value, dt.date):
        date = value
    elif isinstance(value, str):
        try:
            date = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{short(value)} is not a date (YYYY-MM-DD) or a year") from None
    else:
        raise ValueError(f"{short(value)} is not a date (YYYY-MM-DD) or a year")
    if not FIRST_YEAR <= date.year <= LAST_YEAR:
        raise ValueError(f"{date} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return date


DateOrYear = Annotated[
    dt.date,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "integer", "minimum": 1900, "maximum": 2100},
            ]
        }
    ),
]


def _not_self(own: str, others: Names, what: str, field: str) -> None:
    """A region does not trade with itself: refuse ``own`` among ``others``."""
    if isinstance(others, list) and own in others:
        raise ValueError(f"{field} lists {own}, the {what} itself; a region does not trade with itself")


class InForce(_Strict):
    """Start and optional end (inclusive) of an instrument."""

    start: DateOrYear = Field(description="first day in force (YYYY-MM-DD or a year)")
    end: DateOrYear | None = Field(
        None, description="last day in force (YYYY-MM-DD or a year); none = open-ended"
    )
    name: str | None = Field(
        None, description="optional label; a child scenario replaces a parent instrument of the same name"
    )

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v):
        return _to_date(v)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, v):
        return _to_date(v, end=True)

    @model_validator(mode="after")
    def _order(self):
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def in_force(self, when: dt.date) -> bool:
        """Whether the instrument applies on ``when``."""
        return self.start <= when and (self.end is None or when <= self.end)


class Goods(_Strict):
    """What an instrument covers: commodities by name, or all commodities of some elements or stages."""

    commodities: list[str] = Field([], description="commodity names, e.g. oxide:Dy, magnet:ndfeb")
    elements: list[str] = Field([], description="elements: every oxide:E and metal:E")
    stages: list[Literal["concentrate", "oxide", "metal", "magnet"]] = Field(
        [], description="stages: every commodity of the stage"
    )

    @model_validator(mode="after")
    def _some(self):
        if not (self.commodities or self.elements or self.stages):
            raise ValueError("name at least one of commodities, elements or stages")
        return self


class ExportBan(Goods, InForce):
    """Exports of the goods from ``exporter`` to ``destinations`` are forbidden (edges fixed to 0)."""

    type: Literal["export_ban"]
    exporter: str
    destinations: Names = Field("all", description="region codes or 'all'")
    no_reexport: bool = Field(
        False,
        description="rules of origin: third regions may ship the goods to the destinations only up to their own "
        "production (re-export control, as in MOFCOM Announcement 2025 No. 61)",
    )

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.exporter, self.destinations, "exporter", "destinations")
        return self


class ApprovalChange(_Strict):
    """From ``start`` on, the licence approves ``share`` for the listed destinations."""

    start: DateOrYear = Field(description="first day of the new approval share (YYYY-MM-DD or a year)")
    share: Share = Field(description="share of the counterfactual's exports approved from then on")
    destinations: Names = Field(
        "all", description="destinations it applies to (default: all of the licence's)"
    )

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v):
        return _to_date(v)


class ExportLicensing(Goods, InForce):
    """Export quota / licensing: exports limited to a tonnage or a share of the counterfactual's exports.

    ``approval_share`` is the share of the counterfactual exports licensed per destination
    (1 = what the destination would have bought without the licence); ``tonnes_per_year`` caps the total instead. ``licence_cost``
    is a per-kg compliance cost on licensed exports.

    The licence binds on element content (t REO), as China writes its controls: for each
    destination and each covered element (``content_of``, by default the elements of the
    listed goods' ``oxide:``/``metal:`` forms) the content of that element in all listed goods (oxides,
    metals, magnets) is limited; listed goods containing no covered element are limited by
    weight. ``processing_working_days`` is the review time of a licence application: nothing
    is approved in that time after ``start`` (45 working days by MOFCOM's rules); a step
    partly before ``start`` or inside the review time gets the time-weighted share.
    ``catch_up_days`` is how long after the review the exports held in it are shipped, on
    top of the approved share (applications are delayed, not refused: China's magnet
    exports made up most of the April-June 2025 trough in July-December); 0 (the default)
    means exports held in review are lost.

    A share of 1 still binds: the licence approves what the buyers would have bought without
    it (the counterfactual's exports, declared end use), not stock building on top.
    """

    type: Literal["export_quota"]
    exporter: str
    destinations: Names = "all"
    no_reexport: bool = Field(False, description="rules of origin for the destinations (see export_ban)")
    tonnes_per_year: Tonnes | None = None
    approval_share: Share | None = None
    approval_by_destination: dict[str, Share] = Field({}, description="approval share for named destinations")
    licence_cost_usd_per_kg: UsdPerKg = 0.0
    content_of: list[str] = Field(
        [],
        description="elements whose content the licence limits (default: those of the listed oxides and metals)",
    )
    processing_working_days: Annotated[int, Field(ge=0, le=1000)] = Field(
        0,
        description="review time of an application in working days: nothing approved in that time after start",
    )
    catch_up_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        0,
        description="calendar days after the review over which the exports held in it are shipped "
        "on top of the approved share (0: exports held in review are lost)",
    )
    approval_changes: list[ApprovalChange] = Field(
        [],
        max_length=100,
        description="approval shares that change over time, e.g. general licences from a date: "
        "[{start: 2025-12-19, share: 1.0, destinations: [USA]}]; the latest change on a day wins",
    )
    excluded_sectors: list[str] = Field(
        [],
        description=(
            "end users that may not receive these exports, e.g. defense: their purchases in a "
            "destination are limited to its own output and imports not from the exporter; needs "
            "the sector's use in the data (default world: U.S. defense magnets, 175 t/yr)"
        ),
    )

    @model_validator(mode="after")
    def _one_limit(self):
        if self.tonnes_per_year is None and self.approval_share is None and not self.approval_by_destination:
            raise ValueError("give tonnes_per_year, approval_share or approval_by_destination")
        if self.tonnes_per_year is not None and self.approval_changes:
            raise ValueError(
                "approval_changes change approval shares: give approval_share, not tonnes_per_year"
            )
        if self.tonnes_per_year is not None and (
            self.approval_share is not None or self.approval_by_destination
        ):
            raise ValueError("give either tonnes_per_year or approval shares, not both")
        if self.catch_up_days and self.tonnes_per_year is not None:
            raise ValueError(
                "catch_up_days ships what a review held on top of approval shares: give approval_share, "
                "not tonnes_per_year"
            )
        if self.catch_up_days and not self.processing_working_days:
            raise ValueError(
                f"catch_up_days: {self.catch_up_days} with no review (processing_working_days 0) ships "
                "nothing; give processing_working_days or drop catch_up_days"
            )
        return self

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.exporter, self.destinations, "exporter", "destinations")
        return self


class ExportTax(Goods, InForce):
    """Ad valorem export tax on the origin price."""

    type: Literal["export_tax"]
    exporter: str
    destinations: Names = "all"
    rate: Rate

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.exporter, self.destinations, "exporter", "destinations")
        return self


class ImportTariff(Goods, InForce):
    """Ad valorem import tariff on CIF value (origin price + transport)."""

    type: Literal["import_tariff"]
    importer: str
    origins: Names = "all"
    rate: Rate
    rules_of_origin: bool = Field(
        True,
        description="the duty follows the goods' origin: third regions may ship the taxed goods to the importer "
        "only up to their own output (customs rules of origin; U.S. 19 CFR Part 102), so a pooled market "
        "cannot pass the taxed origin's goods through them; false = duty on direct imports only",
    )

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.importer, self.origins, "importer", "origins")
        return self


class TariffExclusion(InForce):
    """Exempts a share of the goods covered by a named import tariff while it lasts.

    The effective rate is ``rate x (1 - share_excluded)``; at each expiry the exclusion is
    renewed with probability ``renewal_probability`` (expected value in a single run: the
    excluded share decays by that factor at each expiry after the first).
    """

    type: Literal["tariff_exclusion"]
    tariff: str = Field(description="name of the import_tariff instrument it exempts")
    share_excluded: Share
    renewal_years: Annotated[float, Field(gt=0, le=50)] = 1.0
    renewal_probability: Share = 1.0


class TechnologyBan(InForce):
    """Ban on exporting technology for the named stages: new capacity outside the owner is slower, dearer, learns slower."""

    type: Literal["technology_ban"]
    owner: str = "CHN"
    stages: list[Literal["separation", "metal", "magnet"]]
    extra_lead_time_years: Annotated[float, Field(ge=0, le=10)] = 2.0
    capex_multiplier: Annotated[float, Field(ge=1, le=10)] = 1.5
    opex_multiplier: Annotated[float, Field(ge=1, le=10)] = 1.2
    learning_multiplier: Annotated[float, Field(ge=0, le=1)] = 0.5


class Stockpile(Goods, InForce):
    """A holder builds a stock of the goods up to ``target_tonnes`` and releases it when the price or a shortage triggers."""

    type: Literal["stockpile"]
    holder: str
    target_tonnes: TonnesStock
    build_tonnes_per_year: Tonnes
    release_trigger: Literal["price", "shortage"] = "price"
    trigger_ratio: Annotated[float, Field(gt=1, le=20)] = Field(
        1.5,
        description="price / counterfactual price (price trigger) or demand served / counterfactual (shortage trigger, as 1/ratio)",
    )
    release_tonnes_per_year: Tonnes


class PriceFloor(Goods, InForce):
    """A buyer (e.g. a defense department) guarantees producers in ``region`` a floor price on ``volume`` per year.

    The producer receives max(floor, market price); the fiscal cost is
    max(0, floor - market price) x min(output, volume).
    """

    type: Literal["price_floor"]
    buyer: str
    region: str
    floor_usd_per_kg: Annotated[float, Field(gt=0, le=MAX_USD_PER_KG, description="USD/kg, at most 50,000")]
    volume_tonnes_per_year: Tonnes
    offtake_tonnes_per_year: Tonnes = Field(
        0.0, description="volume the buyer also takes off the market at the floor (into its stock)"
    )


class Subsidy(InForce):
    """Support to a process kind in a region: a share of capex, or a per-unit payment on output."""

    type: Literal["subsidy"]
    region: str
    stage: Literal["mining", "separation", "metal", "magnet"]
    capex_share: Share = 0.0
    per_unit_usd_per_kg: UsdPerKg = 0.0

    @model_validator(mode="after")
    def _some(self):
        if self.capex_share == 0 and self.per_unit_usd_per_kg == 0:
            raise ValueError("give capex_share or per_unit_usd_per_kg")
        return self


class CapacityProject(InForce):
    """A named plant: committed capacity of a stage in a region, online from ``start``, ramping to nameplate.

    The capacity does not wait for the investment rule (a project with its financing and offtake
    decided, e.g. MP Materials' 10X magnet plant with the DoD's offtake of July 2025). It is a
    plant of its own: a cash-cost tranche whose marginal cost runs from ``(1 - spread)`` of its
    unit cost to the unit cost across its capacity (``cash_cost_spread`` of the world), so it runs
    while the price covers its cost. A child scenario delays a project by giving the same
    ``name`` a later ``start``, or cancels it by leaving it out.
    """

    type: Literal["capacity_project"]
    name: str = Field(
        ..., min_length=1, description="the project's name (required: scenarios override it by name)"
    )
    region: str
    stage: Literal["separation", "heavy_separation", "magnet", "recycling"] = Field(
        ...,
        description="separation (t REO of separated oxides a year), heavy_separation (t REO a year of mixed "
        "heavy rare-earth concentrate separated into Sm, Eu, Gd, Tb, Dy, Ho, Er, Y, Yb, Lu oxides, in a region "
        "that cracks ores but sends its heavy fraction to China, e.g. Lynas Malaysia's circuit of May 2025), "
        "magnet (t of NdFeB magnet a year) or recycling (t a year of NdFeB magnet material made from "
        "end-of-life magnets, short loop: no new rare earths; needs unit_cost_usd_per_kg)",
    )
    capacity_tonnes_per_year: Annotated[float, Field(gt=0, le=MAX_TONNES)] = Field(
        ..., description="nameplate capacity, tonnes per year"
    )
    ramp_years: Annotated[float, Field(ge=0, le=10)] = Field(
        1.0, description="years from first output to nameplate, in equal yearly tranches (0: all at start)"
    )
    unit_cost_usd_per_kg: UsdPerKg | None = Field(
        None,
        description="cash cost at nameplate, USD/kg of output (default: the stage's reference cost in the world: "
        "magnet_processing_cost for magnets, the region's separation cash cost per kg of feed for separation and "
        "heavy_separation; required for recycling: scrap and processing)",
    )
    capex_usd_million: Annotated[float, Field(ge=0, le=1e6)] | None = Field(
        None,
        description="capital cost, million USD, charged at 12 %/yr to the region from first output "
        "(default: the investment rule's capex_usd_per_kg_year of the stage x nameplate; a magnet line's for "
        "recycling)",
    )
    elements: list[str] | None = Field(
        None,
        description="heavy_separation only: the elements the circuit separates (default: every heavy element of "
        "its feed); the rest of the feed goes on as a residue to China, e.g. [Dy, Tb] for Lynas' 2025 circuit",
    )
    basis: str = Field("", description="where the figures come from (a dataset row, a company report)")

    @model_validator(mode="after")
    def _no_end(self):
        if self.end is not None:
            raise ValueError(
                "a project's capacity stays once built: leave out end (cancel it by leaving it out)"
            )
        return self

    @model_validator(mode="after")
    def _elements_only_for_heavy(self):
        if self.elements is not None and self.stage != "heavy_separation":
            raise ValueError(
                f"elements: only a heavy_separation project separates chosen elements (stage is {self.stage})"
            )
        if self.elements is not None and not self.elements:
            raise ValueError(
                "elements: an empty list separates nothing; leave it out for every heavy element"
            )
        return self

    @model_validator(mode="after")
    def _recycling_cost(self):
        if self.stage == "recycling" and self.unit_cost_usd_per_kg is None:
            raise ValueError(
                "unit_cost_usd_per_kg: a recycling project needs its cash cost (scrap and processing, USD/kg "
                "of magnet material); the world has no recycling cost to default to"
            )
        return self


class SupplyDisruption(InForce):
    """A share of a stage's capacity in a region out of service from ``start`` to ``end``.

    War, a border closure, a flood or a licence not renewed: the capacity is there but cannot
    run (Myanmar's ion-adsorption clay mines after the Kachin Independence Army seized Pangwa
    and Chipwi in October 2024, policy_events). In each step the capacity of the matching
    processes is multiplied by ``1 - share_out`` times the fraction of the step in force; it
    comes back when the disruption ends. A disrupted operation orders no new capacity while
    the disruption lasts (its scarcity rent is not a signal to build there).
    """

    type: Literal["supply_disruption"]
    region: str
    stage: Literal["mining", "separation", "metal", "magnet"] = Field(
        ..., description="mining (by deposit type, see deposits), separation, metal or magnet making"
    )
    deposits: list[str] | None = Field(
        None,
        description="mining only: the deposit types hit (e.g. [iac_low_y, iac_high_y] for ion-adsorption "
        "clays); none = every mine of the region",
    )
    share_out: Annotated[float, Field(gt=0, le=1)] = Field(
        ..., description="share of the capacity out of service while in force (0-1]"
    )
    basis: str = Field("", description="where the figures come from (a dataset row, a report)")

    @model_validator(mode="after")
    def _deposits_for_mining(self):
        if self.deposits is not None and self.stage != "mining":
            raise ValueError(f"deposits: only a mining disruption names deposits (stage is {self.stage!r})")
        return self


class DemandShift(InForce):
    """Demand growth for a sector (optionally one region), and substitution after sustained high prices."""

    type: Literal["demand_shift"]
    sector: str
    regions: Names = "all"
    growth: dict[
        Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)], Annotated[float, Field(ge=-0.5, le=1.0)]
    ] = Field(
        {},
        description="annual growth rate from each year on (piecewise constant), e.g. {2025: 0.08, 2030: 0.05}",
    )
    substitution_elasticity: Annotated[float, Field(ge=0, le=2)] = 0.0
    substitution_lag_years: Annotated[float, Field(ge=0, le=10)] = 2.0


Instrument = Annotated[
    ExportBan
    | ExportLicensing
    | ExportTax
    | ImportTariff
    | TariffExclusion
    | TechnologyBan
    | Stockpile
    | PriceFloor
    | Subsidy
    | CapacityProject
    | SupplyDisruption
    | DemandShift,
    Field(discriminator="type"),
]

#: instrument type tag -> model (the single list of instrument types)
INSTRUMENT_MODELS: dict[str, type[BaseModel]] = {
    "export_ban": ExportBan,
    "export_quota": ExportLicensing,
    "export_tax": ExportTax,
    "import_tariff": ImportTariff,
    "tariff_exclusion": TariffExclusion,
    "technology_ban": TechnologyBan,
    "stockpile": Stockpile,
    "price_floor": PriceFloor,
    "subsidy": Subsidy,
    "capacity_project": CapacityProject,
    "supply_disruption": SupplyDisruption,
    "demand_shift": DemandShift,
}
INSTRUMENT_TYPES = tuple(INSTRUMENT_MODELS)


class Horizon(_Strict):
    """First and last year simulated and the time step."""

    start: Annotated[int, Field(ge=2009, le=2100)]
    end: Annotated[int, Field(ge=2009, le=2100)]
    step: Literal["year", "quarter", "month"] = "year"

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class WorldChoice(_Strict):
    """Which world the scenario starts from."""

    reference_year: int | None = Field(None, description="reference year of the default world (2021-2025)")
    assumptions: dict[str, float] = Field(
        {},
        description="overrides of default_world.yaml assumptions (scalar ones), e.g. demand_elasticity_oxide: 0.3",
    )


class Dynamics(_Strict):
    """Parameters of the capacity dynamics (defaults are documented assumptions)."""

    expectation_weight: Share = Field(0.5, description="adaptive expectations: weight of the latest price")
    lead_time_years: dict[str, Annotated[float, Field(ge=0, le=15)]] = Field(
        {"mining": 7.0, "separation": 3.0, "metal": 2.0, "magnet": 2.0, "thrift": 1.0},
        description=(
            "DESIGN §4: mine 5-10 y, separation 2-5 y, magnets 1-3 y; thrift (lean heavy-RE grades: "
            "a diffusion step added to existing magnet lines) 1 y, assumption: Nissan cut the Dy of "
            "the Leaf's magnets by 40 % within two years of the 2010 crisis (docs/thrifting.md)"
        ),
    )
    max_build_rate: Share = Field(
        0.25, description="new capacity ordered per year, as a share of the process's capacity (assumption)"
    )
    max_under_construction: Share = Field(
        0.35,
        description="capacity under construction at most this share of capacity (assumption; bounds supply response)",
    )
    capex_usd_per_kg_year: dict[str, Annotated[float, Field(ge=0, le=1000)]] = Field(
        {"mining": 1.5, "separation": 1.7, "metal": 0.5, "magnet": 2.0, "thrift": 0.5},
        description=(
            "annualised capital cost per kg of annual capacity, USD/kg/yr. Separation: Lynas' MREC "
            "(AUD 800 million for 9,000 t/yr of NdPr, processing_capacity) is about USD 14 per kg of REO "
            "feed capacity at Mt Weld's NdPr share, annualised at 12 %; thrift (lean heavy-RE grades, per kg "
            "of magnet) a quarter of a magnet line's, as a diffusion step added to a line; the others are "
            "assumptions"
        ),
    )
    retirement_rate: Share = Field(0.0, description="share of capacity retired per year")
    learning_rate: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.1,
        description="cost reduction per doubling of cumulative output of new capacity outside the owner "
        "(below 1: a rate of 1 would make costs vanish)",
    )

    @field_validator("lead_time_years", "capex_usd_per_kg_year", mode="after")
    @classmethod
    def _stages(cls, value: dict[str, float], info) -> dict[str, float]:
        """A partial stage map keeps the documented defaults for the stages it does not name."""
        defaults = cls.model_fields[info.field_name].default
        unknown = sorted(set(value) - set(defaults))
        if unknown:
            from reesim.errors import suggest

            raise ValueError(suggest(unknown[0], defaults, what="stage"))
        return {**defaults, **value}


class Scenario(_Strict):
    """A scenario: what-if content only (solver options live elsewhere)."""

    name: str
    description: str = ""
    extends: str | None = Field(None, description="a shipped scenario name or a path to a YAML file")
    counterfactual: str | None = Field(None, description="scenario to compare with (default: baseline)")
    horizon: Horizon
    world: WorldChoice = WorldChoice()
    dynamics: Dynamics = Dynamics()
    instruments: list[Instrument] = Field([], max_length=MAX_INSTRUMENTS, description="at most 500")
    uncertainty: dict[
        Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=200)] | float
    ] = Field(
        {},
        max_length=200,
        description="what `reesim ensemble` draws for this scenario: NAME: DIST, with the names and the "
        "distributions of --vary (uniform(low, high), triangular(low, mode, high), normal(mean, sd), "
        "lognormal(median, sigma), discrete(v1, ...) or a number), e.g. demand_elasticity_oxide: "
        "uniform(0.2, 0.6); they replace the default ranges and --vary replaces them; a single run ignores it",
    )
    seed: int = 0
