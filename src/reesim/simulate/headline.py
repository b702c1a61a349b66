"""Headline figures of a scenario against its counterfactual (the short table of ``reesim run``).

* Peak price change by commodity, inside China and outside China (outside = the
  consumption-weighted average over the other regions' markets), in percent of the
  counterfactual, with the period of the peak;
* shortage by sector: the largest drop of consumption below the counterfactual, in tonnes
  per year and percent, world and outside China;
* capacity outside China at the horizon, by stage, scenario and counterfactual;
* demands near their choke price: final uses whose price reached 80 % of the price at
  which they buy nothing (the intercept of their linear demand line), where the peak is set by
  the demand elasticity assumption more than by the measure;
* licences: by element and period, the licence's shadow value (the dual of its content row,
  USD per kg of the element's oxide equivalent) and the price wedge it leaves between the
  oxide outside and inside China (net of transport and route costs), and China's exports by
  form and destination against the counterfactual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reesim.simulate.result import Result
from reesim.simulate.state import INVEST_STAGE
from reesim.world.world import PURCHASE_RULE_SECTORS

OWNER = "CHN"
#: markets whose prices analysts quote next to China's (licence wedges are shown for each)
QUOTED = ("EU", "JPN", "USA")
#: share of its choke price from which a final use's price is reported as set by its demand line
CHOKE_SHARE = 0.8
#: a use buying less than this (t/yr) buys nothing: interior-point solvers leave 1e-16 t
BUYS_TONNES_PER_YEAR = 1e-6


def price_changes(res: Result, cf: Result, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Peak % price change per commodity inside and outside China (rows with a change > 0.01 %).

    Only determined, finite prices count (:func:`reesim.impacts.compare.price_table`); see
    :func:`undetermined` for what is left out.
    """
    from reesim.impacts.compare import price_table

    m = price_table(res, cf) if table is None else table
    m = m[m["determined"] & (m["usd_per_kg_cf"] > 1e-6) & np.isfinite(m["change_pct"])]
    if m.empty:
        return pd.DataFrame()
    m = m.reset_index(drop=True)  # positions as labels: a caller's table may repeat index labels
    # each (commodity, market)'s row of largest |change| (the first of ties, in table order)
    peak = m["change_pct"].abs().groupby([m["commodity"], m["market"]], sort=True).idxmax()
    g = m.loc[peak.to_numpy()]
    out = pd.DataFrame(
        {
            "commodity": g["commodity"].to_numpy(),
            "market": g["market"].to_numpy(),
            "peak_change_pct": g["change_pct"].astype(float).to_numpy(),
            "period": g["period"].to_numpy(),
            "usd_per_kg": g["usd_per_kg"].astype(float).to_numpy(),
            "usd_per_kg_cf": g["usd_per_kg_cf"].astype(float).to_numpy(),
        }
    )
    return (
        out[out["peak_change_pct"].abs() > 0.01].sort_values(["commodity", "market"]).reset_index(drop=True)
    )


def undetermined(res: Result, cf: Result, table: pd.DataFrame | None = None) -> dict:
    """What the headline leaves out: market-periods whose price is not determined or not finite.

    A price is not determined where nothing pins it (no consumption and no trade in that market
    in that period, or output at capacity with no other use): the solver returns one point of
    an interval, and a change against it means nothing.
    """
    from reesim.impacts.compare import price_table

    m = price_table(res, cf) if table is None else table
    m = m[~m["commodity"].str.startswith("concentrate:")]
    bad = m[~m["determined"]]
    return {
        "market_periods": len(bad),
        "of": len(m),
        "commodities": sorted(bad["commodity"].unique().tolist()),
        "explanation": "prices not determined by the solution (no consumption and no trade in that market in that "
        "period, or a price anywhere in an interval) or not finite: left out of the headline and flagged "
        "determined=false in price_changes",
    }


def shortages(res: Result, cf: Result) -> pd.DataFrame:
    """Largest shortfall of consumption against the counterfactual, by sector, world and outside China."""
    rows = []
    for scope, mask in (
        ("world", lambda d: d["region"].notna()),
        ("outside China", lambda d: d["region"] != OWNER),
    ):
        a = res.consumption
        b = cf.consumption
        a = a[mask(a)].groupby(["period", "sector"])["tonnes_per_year"].sum()
        b = b[mask(b)].groupby(["period", "sector"])["tonnes_per_year"].sum()
        m = pd.concat({"scenario": a, "cf": b}, axis=1).fillna(0.0).reset_index()
        m = m[~m["sector"].isin(PURCHASE_RULE_SECTORS)]
        m["short_t"] = m["cf"] - m["scenario"]
        for sector, g in m.groupby("sector"):
            i = g["short_t"].idxmax()
            rows.append(
                {
                    "sector": sector,
                    "scope": scope,
                    "shortage_tonnes_per_year": float(max(g.loc[i, "short_t"], 0.0)),
                    "shortage_pct": float(100 * max(g.loc[i, "short_t"], 0.0) / g.loc[i, "cf"])
                    if g.loc[i, "cf"] > 0
                    else 0.0,
                    "period": g.loc[i, "period"],
                }
            )
    return pd.DataFrame(rows)


def near_choke(res: Result, cf: Result, threshold: float = CHOKE_SHARE) -> pd.DataFrame:
    """Final uses whose price reached ``threshold`` of their choke price, at their peak.

    The default world's demands are linear through their reference point (price ``p0``,
    quantity ``q0``) with elasticity ``eps`` there: ``p = a - b q`` with the choke price
    ``a = p0 (1 + 1/eps)`` (:func:`reesim.world.default_data._linear_demand`; growth and
    substitution scale the quantity bought at each price, turning the line about ``a``). A use that still buys pays at most
    ``a``: 3 ``p0`` at the default oxide elasticity 0.5 (range 0.1-1.0, 11 ``p0`` at 0.1; 3.5
    ``p0`` for magnets at 0.4; a world file's intercepts are its own). A
    price close to ``a`` means that nearly all of the use has been priced out and that the peak
    is set by the demand line, i.e. by the elasticity assumption, more than by the size of the
    measure (``reesim ensemble`` draws the elasticities over their ranges).

    One row per commodity, region and sector (not stockpiles or offtakes, whose intercept is a
    purchase rule's price) that still buys (more than ``BUYS_TONNES_PER_YEAR``) and whose price reached
    ``threshold`` of its choke price in some period: the period of its highest share, the
    price, the choke price, the share, and the tonnes bought in the scenario and the
    counterfactual that period. Empty when the result has no ``choke_usd_per_kg`` (a run folder
    written before 2026-12-06) or no use comes that close.
    """
    cols = [
        "commodity",
        "region",
        "sector",
        "period",
        "usd_per_kg",
        "choke_usd_per_kg",
        "share_of_choke",
        "tonnes_per_year",
        "tonnes_per_year_cf",
    ]
    c = res.consumption
    if "choke_usd_per_kg" not in c.columns:
        return pd.DataFrame(columns=cols)
    # Only uses that still buy: one priced out entirely (none bought) pays no price, and its
    # node's price can be anywhere above the choke (the shortage table counts it).
    c = c[
        ~c["sector"].isin(PURCHASE_RULE_SECTORS)
        & (c["choke_usd_per_kg"] > 0)
        & (c["tonnes_per_year"] > BUYS_TONNES_PER_YEAR)
    ]
    c = c.assign(share_of_choke=c["usd_per_kg"] / c["choke_usd_per_kg"])
    # above the cap a use buys nothing (the solver's 1e-16 t is none)
    c = c[(c["share_of_choke"] >= threshold) & (c["share_of_choke"] <= 1 + 1e-6)]
    if c.empty:
        return pd.DataFrame(columns=cols)
    keys = ["commodity", "region", "sector"]
    top = c.loc[c.groupby(keys)["share_of_choke"].idxmax()]
    base = cf.consumption.groupby(["period", *keys], as_index=False)["tonnes_per_year"].sum()
    top = top.merge(base, on=["period", *keys], how="left", suffixes=("", "_cf"))
    return top.sort_values(["share_of_choke", "commodity", "region"], ascending=[False, True, True])[
        cols
    ].reset_index(drop=True)


def capacity_outside(res: Result, cf: Result) -> pd.DataFrame:
    """Capacity outside China at the horizon by stage (t/yr), scenario and counterfactual.

    ``largest_region`` and ``largest_change_tonnes_per_year``: the region whose capacity moved
    most (scenario minus counterfactual) in each stage, so that a stage's change can be read:
    Myanmar's clay mines, which feed China, are outside China too, and follow China's prices.
    """
    last = res.capacity["period"].iloc[-1]
    stage = INVEST_STAGE  # the lean magnet grades are their own stage, ``thrift``
    out, by_region = [], []
    for label, r in (("scenario", res), ("counterfactual", cf)):
        c = r.capacity
        c = c[(c["period"] == last) & (c["region"] != OWNER)]
        out.append(c.groupby(c["kind"].map(stage))["tonnes_per_year"].sum().rename(label))
        by_region.append(
            c.groupby([c["kind"].map(stage), c["region"]])["tonnes_per_year"].sum().rename(label)
        )
    df = pd.concat(out, axis=1).fillna(0.0)
    df["change_pct"] = 100 * (df["scenario"] / df["counterfactual"].where(df["counterfactual"] > 0) - 1)
    reg = pd.concat(by_region, axis=1).fillna(0.0)
    diff = (reg["scenario"] - reg["counterfactual"]).rename_axis(["stage", "region"])
    top = diff.abs().groupby(level="stage").idxmax()  # stage -> (stage, region) of the largest move
    df["largest_region"] = [top[s][1] if s in top else None for s in df.index]
    df["largest_change_tonnes_per_year"] = [float(diff[top[s]]) if s in top else 0.0 for s in df.index]
    return df.reset_index(names="stage").assign(period=last)


def _licence_rents(res: Result) -> pd.DataFrame:
    """The run's ``licence_rents`` (empty for a result recorded without it)."""
    t = res._tables.get("licence_rents")
    return t.copy() if t is not None else pd.DataFrame()


def _lookup(table: pd.DataFrame, keys: tuple[str, ...]) -> dict[tuple, float]:
    """``usd_per_kg`` of each row of ``table`` by its ``keys`` columns."""
    return dict(
        zip(
            zip(*(table[k].tolist() for k in keys), strict=True),
            table["usd_per_kg"].astype(float).tolist(),
            strict=True,
        )
    )


def _good_rows(res: Result, oxides: bool) -> list[dict]:
    """Per period and licensed good (the oxides, or the other goods): the licences, the
    destinations where they bind, the largest rent per kg of the good, and the good's prices
    inside and outside China and in the quoted markets (:func:`licence_wedges`,
    :func:`licensed_goods`)."""
    rents = _licence_rents(res)
    if rents.empty:
        return []
    rents = rents[rents["commodity"].astype(str).str.startswith("oxide:") == oxides]
    if rents.empty:
        return []
    from reesim.impacts.compare import market_prices

    prices = res.prices
    ox = prices[prices["region"].isin(QUOTED)]
    # plain dicts looked up per (period, good): a filter of the price table per group cost 0.2 s;
    # the columns read as lists (zipping the Series themselves read each cell through pandas)
    quoted = _lookup(ox, ("period", "commodity", "region"))
    markets = _lookup(market_prices(res), ("period", "commodity", "market"))
    # the rent per kg of a good on a route: the sum over the licences that cover it (one pass
    # over the rows with plain dicts: a pandas group per period and good cost about 0.1 s a run)
    route_rent: dict[tuple, dict] = {}  # (period, good) -> importer -> rent, in first-seen order
    names: dict[tuple, set] = {}
    for period, good, importer, licence, rent in zip(
        *(rents[c].tolist() for c in ("period", "commodity", "importer", "licence", "rent_usd_per_kg")),
        strict=True,
    ):
        by_dest = route_rent.setdefault((period, good), {})
        by_dest[importer] = by_dest.get(importer, 0.0) + rent
        names.setdefault((period, good), set()).add(licence)
    rows = []
    for (period, good), by_dest in route_rent.items():
        inside = float(markets.get((period, good, "inside China"), np.nan))
        outside = float(markets.get((period, good, "outside China"), np.nan))
        rows.append(
            {
                "period": period,
                "good": good,
                "licences": ",".join(sorted(names[(period, good)])),
                "binding_destinations": ",".join(sorted({str(d) for d, r in by_dest.items() if r > 1e-6})),
                "rent_usd_per_kg_max": float(max(by_dest.values())),
                "inside_usd_per_kg": inside,
                "outside_usd_per_kg": outside,
                "wedge_usd_per_kg": outside - inside,
                "outside_over_inside": outside / inside if inside > 0 else np.nan,
                # the markets analysts quote (Rotterdam/Europe, Japan, the U.S.), where modelled
                **{
                    f"{r.lower()}_over_inside": quoted[(period, good, r)] / inside
                    if (period, good, r) in quoted and inside > 0
                    else np.nan
                    for r in QUOTED
                },
            }
        )
    return rows


def licence_wedges(res: Result) -> pd.DataFrame:
    """Shadow value of the licences on each element's oxide by period, next to the oxide price wedge.

    Columns: ``period, element, licences, binding_destinations, rent_usd_per_kg_max`` (the
    largest, over destinations, of what the licences covering the oxide add to its price per kg:
    their shadow prices per kg of element content times the oxide's content, 1 kg per kg),
    ``oxide_inside_usd_per_kg`` (China), ``oxide_outside_usd_per_kg`` (mean of the other regions
    weighted by this run's apparent consumption: :func:`reesim.impacts.compare.market_prices`),
    ``wedge_usd_per_kg`` (outside minus inside: transport, route costs and the licence),
    ``outside_over_inside`` and the ratios for the quoted markets (``eu_over_inside``,
    ``jpn_over_inside``, ``usa_over_inside``).

    Only licences on the oxide count: a licence on magnets that binds on their Dy and Tb content
    has a shadow price per kg of Tb in a magnet (thousands of USD/kg where a magnet holds 0.1 % Tb,
    and split between Dy and Tb in no unique way when both bind together), which is not a wedge
    on Tb oxide; it is in :func:`licensed_goods` as a rent per kg of magnet.
    """
    out = pd.DataFrame(_good_rows(res, oxides=True))
    if out.empty:
        return out
    out.insert(1, "element", out.pop("good").str.split(":", n=1).str[1])
    return out.rename(
        columns={
            "inside_usd_per_kg": "oxide_inside_usd_per_kg",
            "outside_usd_per_kg": "oxide_outside_usd_per_kg",
        }
    )


def licensed_goods(res: Result) -> pd.DataFrame:
    """The licences' rent on the other goods they cover (metals, magnets), per kg of the good.

    Columns as :func:`licence_wedges` with ``good`` for the element and ``inside_usd_per_kg``,
    ``outside_usd_per_kg`` for the oxide prices: the good's own prices. A magnet's rent is
    the sum over the licensed elements of their shadow prices times the magnet's content of
    each (``quota_members.coef``), which is unique even where the split between elements is not.
    """
    return pd.DataFrame(_good_rows(res, oxides=False))


def china_exports(res: Result, cf: Result) -> pd.DataFrame:
    """China's exports by form (stage) and destination, t/yr, scenario against counterfactual."""
    out = []
    for label, r in (("scenario", res), ("counterfactual", cf)):
        t = r.trade
        t = t[t["exporter"] == OWNER]
        form = t["commodity"].str.split(":").str[0]
        out.append(
            t.assign(form=form).groupby(["period", "form", "importer"])["tonnes_per_year"].sum().rename(label)
        )
    df = pd.concat(out, axis=1).fillna(0.0).reset_index()
    df["change_pct"] = 100 * (df["scenario"] / df["counterfactual"].where(df["counterfactual"] > 0) - 1)
    return df


def heavy_re_per_magnet(res: Result, cf: Result) -> pd.DataFrame:
    """Dy and Tb per t of magnet made, inside and outside China, by year (kg metal per t).

    A magnet's heavy-RE dose comes from the reference recipe (``dose`` processes) or a lean
    grade (``thrift``) with ``1 - lean_saving`` of it (:func:`reesim.world.default_magnets._add_heavy_dose`),
    so the intensity is ``recipe x (dose + (1 - saving) lean) / (dose + lean)``; the lean share
    is ``lean / (dose + lean)``. Each path uses its own world's recipe and saving (its
    ``meta["heavy_dose"]``, kept in a run folder's summary.json); a path without one (a run
    written before the doses existed) uses the other's. Empty for worlds without heavy-RE doses.
    """
    cols = ["year", "scope", "path", "lean_share", "dy_kg_per_t", "tb_kg_per_t"]
    specs = {id(r): r.meta.get("heavy_dose") for r in (res, cf)}
    fallback = specs[id(res)] or specs[id(cf)]
    if not fallback:
        return pd.DataFrame(columns=cols)
    rows = []
    for path, r in (("scenario", res), ("counterfactual", cf)):
        spec = specs[id(r)] or fallback
        recipe, save = spec["recipe_t_per_t_magnet"], float(spec["lean_saving"])
        p = r.production
        p = p[p["kind"].isin(["dose", "thrift"])].assign(
            scope=lambda t: t["region"].where(t["region"] == "CHN", "outside China").replace("CHN", "China")
        )
        t = p.groupby(["year", "scope", "kind"])["tonnes"].sum().unstack("kind", fill_value=0.0)
        dose, thrift = ([0.0] * len(t) if k not in t else t[k].tolist() for k in ("dose", "thrift"))
        for (year, scope), d, th in zip(t.index, dose, thrift, strict=True):  # not iterrows: a Series a row
            total = float(d + th)
            if total <= 0:
                continue
            lean = float(th) / total
            factor = 1.0 - save * lean
            rows.append(
                (
                    int(year),
                    scope,
                    path,
                    lean,
                    1000 * recipe.get("Dy", 0.0) * factor,
                    1000 * recipe.get("Tb", 0.0) * factor,
                )
            )
    return pd.DataFrame(rows, columns=cols)


def _made_by_path(res: Result, cf: Result, select, keys: list[str]) -> pd.DataFrame:
    """Production rows ``select(production)`` of both runs summed by ``keys``, t, with ``path``
    (``scenario``/``counterfactual``); empty (with the columns) when neither run has any."""
    parts = []
    for path, r in (("scenario", res), ("counterfactual", cf)):
        p = r.production
        p = p[select(p)]
        if len(p):
            parts.append(p.groupby(keys, as_index=False)["tonnes"].sum().assign(path=path))
    cols = [*keys, "path", "tonnes"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def recycled_supply(res: Result, cf: Result) -> pd.DataFrame:
    """Magnet material made by recycling plants (kind ``recycling``), by region and year, t.

    Columns ``year, region, path`` (``scenario``/``counterfactual``) and ``tonnes`` (the year's
    output); empty when neither run recycles.
    """
    return _made_by_path(res, cf, lambda p: p["kind"] == "recycling", ["year", "region"])


def heavy_separated_outside_china(res: Result, cf: Result) -> pd.DataFrame:
    """Dy and Tb oxide separated outside China (heavy circuits of ``heavy_separation`` plants), t.

    Columns ``year, region, commodity, path`` (``scenario``/``counterfactual``) and ``tonnes``;
    empty when no region outside China separates heavy rare earths in either run.
    """

    def select(p: pd.DataFrame) -> pd.Series:
        heavy = p["process"].str.startswith("crack-heavy:") & (p["region"] != "CHN")
        return heavy & p["commodity"].isin(["oxide:Dy", "oxide:Tb"])

    return _made_by_path(res, cf, select, ["year", "region", "commodity"])


def headline(res: Result, cf: Result) -> dict:
    """The headline figures as plain data (for summary.json)."""
    from reesim.impacts.compare import price_table

    table = price_table(res, cf)
    return {
        "price_changes": price_changes(res, cf, table).to_dict("records"),
        "undetermined_prices": undetermined(res, cf, table),
        "shortages": shortages(res, cf).to_dict("records"),
        "near_choke": near_choke(res, cf).to_dict("records"),
        "capacity_outside_china": capacity_outside(res, cf).to_dict("records"),
        "licences": licence_wedges(res).to_dict("records"),
        "licensed_goods": licensed_goods(res).to_dict("records"),
        "china_exports": china_exports(res, cf).to_dict("records"),
        "heavy_re_per_magnet": heavy_re_per_magnet(res, cf).to_dict("records"),
        "recycled_supply": recycled_supply(res, cf).to_dict("records"),
        "heavy_separated_outside_china": heavy_separated_outside_china(res, cf).to_dict("records"),
    }
