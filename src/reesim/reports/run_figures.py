"""The figures of a run, built from its folder: one code path for the report and the dashboard.

Each builder takes a :class:`~reesim.reports.runfolder.Run` and returns a plotly figure (or
``None`` when the run lacks the table it needs); :data:`FIGURES` names them. The HTML report
(:mod:`reesim.reports.html`) puts each in a section with its caption; the web service
(:mod:`reesim.api`) sends the same figure as JSON to the dashboard, which draws it with the
same plotly.js.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources

import pandas as pd
import plotly.graph_objects as go

from reesim.errors import InputError
from reesim.reports import figures as F
from reesim.reports.runfolder import Run

#: Regions drawn as welfare waterfalls (plus the largest other loser or winner, and the world).
WELFARE_REGIONS = ("CHN", "USA", "EU", "JPN")
#: Commodities in the China-share chart of the risk section.
RISK_COMMODITIES = ("concentrate:bayan_obo", "oxide:Nd", "oxide:Dy", "oxide:Tb", "metal:Nd", "magnet:ndfeb")
#: The world map's borders (Natural Earth 1:110m, README.md beside this module).
TOPOJSON = "world_110m.json"


def policy_year(run: Run, years: Sequence[int]) -> tuple[int, str]:
    """The first year of the horizon in which the scenario's own instruments are in force.

    The scenario's own instruments are those not in its counterfactual (compared after
    validation); a year counts when one is in force at the midpoint of one of its steps.
    Falls back to the last year.
    """
    years = sorted(int(y) for y in years)
    last = years[-1]
    try:
        from reesim.scenario.load import load_scenario, parse
        from reesim.simulate.steps import make_steps

        sc = parse(run.scenario, "scenario.resolved.yaml")
        try:
            cf = load_scenario(run.cf_name)
            cf_insts = [i.model_dump(mode="json") for i in cf.instruments]
            whose = "the scenario's own instruments (those not in its counterfactual)"
        except Exception:  # the counterfactual may not be loadable here: use every instrument
            cf_insts = []
            whose = f"the scenario's instruments (its counterfactual {run.cf_name!r} could not be loaded to compare)"
        own = [i for i in sc.instruments if i.model_dump(mode="json") not in cf_insts]
        for step in make_steps(sc.horizon):
            on = [i for i in own if i.in_force(step.mid)]
            if on and step.year in years:
                names = ", ".join(sorted({i.name or i.type for i in on}))
                return step.year, f"the first year in which {whose} are in force: {names}"
    except Exception as exc:  # a resolved file that no longer validates: say so and use the last year
        return last, f"the last year (the scenario's instruments could not be read: {exc})"
    return last, "the last year (none of the scenario's own instruments is in force within the horizon)"


def oxide_per_metal(element: str) -> float | None:
    """Tonnes of oxide per tonne of metal of ``element`` (stoichiometry, ``default_world.yaml``), if known."""
    try:
        from reesim.world.default import load_config

        v = (load_config().get("oxide_per_metal") or {}).get(element)
        return float(v) if v else None
    except Exception:
        return None


def sankey_for(run: Run, element: str) -> tuple[F.SankeyFlows, str]:
    """The Sankey flows of ``element`` in the report's year, and why that year."""
    prod = run.t("production")
    oxides = sorted(c.split(":", 1)[1] for c in prod["commodity"].unique() if str(c).startswith("oxide:"))
    if element not in oxides:
        from reesim.errors import suggest

        raise InputError(suggest(element, oxides, what="element"))
    year, why = policy_year(run, prod["year"].unique())
    flows = F.sankey_flows(
        prod,
        run.t("trade"),
        run.t("consumption"),
        element,
        year,
        oxide_per_metal(element),
        stock_change=_private_stock_change(run.t("stocks"), year),
    )
    return flows, why


def _private_stock_change(stocks: pd.DataFrame, year: int) -> pd.DataFrame | None:
    """Private stocks built (+) or drawn (-) in ``year``, tonnes: opening of the next year minus this year's."""
    if "kind" not in stocks.columns:
        return None
    s = stocks[stocks["kind"] == "private"]
    first = s.sort_values("period").groupby(["year", "holder", "commodity"])["tonnes"].first()
    if year + 1 not in first.index.get_level_values(0) or year not in first.index.get_level_values(0):
        return None
    change = (first.loc[year + 1] - first.loc[year]).rename("tonnes").reset_index()
    return change.rename(columns={"holder": "region"})


def topojson() -> str | None:
    try:
        return resources.files("reesim.reports").joinpath(TOPOJSON).read_text()
    except (FileNotFoundError, OSError):
        return None


def countries() -> pd.DataFrame:
    import reesim.data as rd

    return rd.table("countries")[["iso3", "name", "region"]]


def welfare_regions(wd: pd.DataFrame) -> list[str]:
    """Regions drawn as waterfalls: :data:`WELFARE_REGIONS`, the largest other change, and ``world``."""
    totals = wd[wd["component"] == "total"].set_index("region")["pv_usd_million"]
    regs = [r for r in WELFARE_REGIONS if r in totals.index]
    others = totals.drop(regs, errors="ignore")
    if not others.empty:
        regs.append(str(others.abs().idxmax()))
    return [*regs, "world"]


# ------------------------------------------------------------------------------------ builders
def prices(run: Run) -> go.Figure | None:
    """Magnet, Nd, Dy and Tb oxide prices inside and outside China, scenario and counterfactual."""
    return F.price_panel(run.t("price_changes")) if run.has("price_changes") else None


def prices_other(run: Run) -> go.Figure | None:
    """Every other commodity's price, chosen in a menu."""
    return F.price_dropdown(run.t("price_changes")) if run.has("price_changes") else None


def sankey(run: Run, element: str = "Nd") -> go.Figure | None:
    """Flows of ``element`` through the chain in the year the scenario's instruments start."""
    flows, _ = sankey_for(run, element)
    return None if flows.links.empty else F.sankey_figure(flows)


def last_period_shares(run: Run) -> tuple[pd.DataFrame, str]:
    """Each region's share of world output by stage in the last period, and that period."""
    prod = run.t("production")
    last = prod.sort_values(["year", "period"])["period"].iloc[-1] if not prod.empty else ""
    return F.stage_shares(prod, last), last


def world_map(run: Run) -> go.Figure | None:
    """Map of each region's share of world output by stage (last period)."""
    shares, _ = last_period_shares(run)
    return None if shares.empty else F.map_figure(shares, countries())


def stage_heatmap(run: Run) -> go.Figure | None:
    """The same shares as a heat map, stage x region."""
    shares, _ = last_period_shares(run)
    return None if shares.empty else F.shares_heatmap(shares)


def discount_rate(run: Run) -> float:
    """The discount rate of the run's welfare (``summary.json``, default 3 %/yr)."""
    return float((run.summary.get("impacts") or {}).get("discount_rate", 0.03))


def welfare(run: Run) -> go.Figure | None:
    """Welfare waterfalls (present value by component) for the main regions and the world."""
    if not run.has("welfare_discounted"):
        return None
    wd = run.t("welfare_discounted")
    return F.welfare_figure(wd, welfare_regions(wd), discount_rate(run))


def shortages(run: Run) -> go.Figure | None:
    """Consumption below the counterfactual by sector (world, outside China, U.S.)."""
    return F.shortage_figure(F.shortage_series(run.t("shortages"))) if run.has("shortages") else None


def china_share(run: Run) -> go.Figure | None:
    """China's share of world production of the key commodities over the horizon."""
    if not run.has("indicators"):
        return None
    ind = run.t("indicators")
    present = [c for c in RISK_COMMODITIES if c in set(ind["commodity"])]
    return F.china_share_figure(ind, present) if present else None


#: The figures of a run by name (the dashboard asks for them by these names).
FIGURES: dict[str, Callable[..., go.Figure | None]] = {
    "prices": prices,
    "prices_other": prices_other,
    "sankey": sankey,
    "map": world_map,
    "stage_heatmap": stage_heatmap,
    "welfare": welfare,
    "shortages": shortages,
    "china_share": china_share,
}


def figure(run: Run, name: str, element: str = "Nd") -> go.Figure | None:
    """Figure ``name`` of ``run`` (:data:`FIGURES`); ``element`` is the Sankey's."""
    if name not in FIGURES:
        from reesim.errors import suggest

        raise InputError(suggest(name, FIGURES, what="figure"))
    return FIGURES[name](run, element) if name == "sankey" else FIGURES[name](run)
