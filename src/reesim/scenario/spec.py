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

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from reesim.scenario.spec_base import (  # noqa: F401 (re-exported)
    FIRST_YEAR,
    LAST_YEAR,
    MAX_INSTRUMENTS,
    MAX_TONNES,
    MAX_USD_PER_KG,
    DateOrYear,
    Goods,
    InForce,
    Names,
    Rate,
    Share,
    Tonnes,
    TonnesStock,
    UsdPerKg,
    _not_self,
    _Strict,
    _to_date,
)
from reesim.scenario.spec_trade import (  # noqa: F401 (re-exported)
    ApprovalChange,
    ExportBan,
    ExportLicensing,
    ExportTax,
    ImportTariff,
    TariffExclusion,
)


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


#: an annual growth rate from each listed year on (piecewise constant)
GrowthRates = dict[
    Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)], Annotated[float, Field(ge=-0.5, le=1.0)]
]


class _Lasting(InForce):
    """An instrument that, once started, stays to the horizon's end: ``end`` is refused with ``_why``."""

    _why: ClassVar[str]

    @model_validator(mode="after")
    def _no_end(self):
        if self.end is not None:
            raise ValueError(self._why)
        return self


class CapacityProject(_Lasting):
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

    _why: ClassVar[str] = "a project's capacity stays once built: leave out end (cancel it by leaving it out)"

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


class MiningQuota(_Lasting):
    """A government's mining quota as a policy path: the region's mining capacity from ``start`` on.

    China's MIIT sets a yearly mining quota (USGS reports it as China's production); its
    capacity then follows policy, not the investment rule's margins. From ``start`` the region's
    mines keep their reference capacity, and the mines of ``ores`` (default: all) grow at
    ``growth`` a year (piecewise constant from each year on, compounded from the year after
    ``start``). The region's separation capacity grows with the added tonnage, with the start
    world's headroom (MIIT issues the mining and smelting-separation quotas together), unless
    ``separation_follows`` is false. From ``start`` on the mines (and that separation) do not
    invest; before it they follow the investment rule. A supply disruption still takes a share
    out. One quota per region.
    """

    type: Literal["mining_quota"]
    name: str = Field(
        ..., min_length=1, description="the quota's name (required: scenarios override it by name)"
    )
    region: str
    ores: list[str] | None = Field(
        None,
        description="deposit types whose capacity grows (the world's names, e.g. [bayan_obo]); the region's "
        "other mines keep their reference capacity (default: all grow)",
    )
    growth: GrowthRates = Field(
        {},
        description="annual growth of the quota from each year on (piecewise constant), e.g. {2026: 0.05, 2031: "
        "0.016}; the start year keeps the reference capacity",
    )
    separation_follows: bool = Field(
        True,
        description="the region's separation capacity grows with the added tonnage (MIIT issues the mining and "
        "smelting-separation quotas together); false where the region's ore is separated elsewhere",
    )
    basis: str = Field("", description="where the path comes from (a dataset row, a stated assumption)")

    _why: ClassVar[str] = (
        "a mining quota runs to the horizon's end: leave out end (stop its growth with a rate of 0)"
    )


class DemandShift(InForce):
    """Demand growth for a sector (optionally one region), and substitution after sustained high prices."""

    type: Literal["demand_shift"]
    sector: str
    regions: Names = "all"
    growth: GrowthRates = Field(
        {},
        description="annual growth rate from each year on (piecewise constant), e.g. {2025: 0.08, 2030: 0.05}",
    )
    substitution_elasticity: Annotated[float, Field(ge=0, le=2)] = Field(
        0.0,
        description=(
            "buyers thrift towards (p / p0) ** -elasticity of their demand, never back up; p0 is the "
            "first step's price without the scenario's policies (the counterfactual's first step)"
        ),
    )
    substitution_lag_years: Annotated[float, Field(ge=0, le=10)] = Field(
        2.0, description="years over which buyers close the gap to that target (0: at once)"
    )


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
    | MiningQuota
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
    "mining_quota": MiningQuota,
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


#: years from first output to nameplate of separation capacity the investment rule builds: the
#: ramp fitted to the build-out record's output series (reesim.backtest.ramp.fit on every plant;
#: ``reesim world buildout``), kept equal to it by tests/test_buildout.py
RAMP_YEARS_SEPARATION = 2.2


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
    ramp_years: dict[str, Annotated[float, Field(ge=0, le=10)]] = Field(
        {"mining": 0.0, "separation": RAMP_YEARS_SEPARATION, "metal": 0.0, "magnet": 0.0, "thrift": 0.0},
        description=(
            "years from first output to nameplate of capacity the investment rule builds, in equal "
            "tranches a year apart or closer, the first at first output (as capacity_project's ramp_years). "
            "Separation: fitted to the build-out record (output over nameplate of Lynas Malaysia's phase 1, "
            "2013-15: 9-99 %, and MP Materials' Stage II in 2024: 22 %; reesim world buildout); the other "
            "stages have no output series in the record and come online whole (0)"
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
        {"mining": 1.5, "separation": 1.7, "metal": 0.5, "magnet": 9.2, "thrift": 0.5},
        description=(
            "annualised capital cost per kg of annual capacity, USD/kg/yr (capital cost x 12 %). "
            "Separation: Lynas' MREC (AUD 800 million for 9,000 t/yr of NdPr, processing_capacity) is "
            "about USD 14 per kg of REO feed capacity at Mt Weld's NdPr share, an expansion of running "
            "plants (four new plants in the build-out record cost 20-79, median 36: reesim world "
            "buildout). Magnets: the median of nine plants outside China in the build-out record, 77 "
            "USD per kg of annual capacity (20-253; plant_milestones, exchange_rates; 2.0 before "
            "2026-12-06, an assumption). Metal (two plants in the record: 11 and 58), mining and thrift "
            "(lean heavy-RE grades, per kg of magnet: a diffusion step added to a line) are assumptions"
        ),
    )
    planned_capacity: dict[str, list[Literal["magnet"]]] = Field(
        {"CHN": ["magnet"]},
        description=(
            "regions whose makers of a stage keep capacity ahead of demand: each step they order what "
            "their output, grown by the scenario's magnet demand over the lead time, needs at the start "
            "world's utilisation (a flexible accelerator; Chenery 1952), besides what rents pay for. "
            "Default: China's magnet makers, who ran at 70-80 % while output rose 14 % in 2023 "
            "(default_world.yaml magnet_headroom_china and its sources); {} turns it off"
        ),
    )
    retirement_rate: Share = Field(0.0, description="share of capacity retired per year")
    learning_rate: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.1,
        description="cost reduction per doubling of cumulative output of new capacity outside the owner "
        "(below 1: a rate of 1 would make costs vanish)",
    )

    @field_validator("lead_time_years", "ramp_years", "capex_usd_per_kg_year", mode="after")
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
