"""``compare(result, counterfactual)``: the impacts of a scenario, year by year and by region.

Tables (all immutable copies):

* ``prices`` — price by commodity inside China and outside China (consumption-weighted over
  the other regions' markets) and in the named markets (Europe, Japan, United States),
  scenario, counterfactual and % change;
* ``trade`` — exports by exporter and commodity, scenario vs counterfactual (trade diversion);
* ``shortages`` — consumption by sector and region below the counterfactual, t and share;
* ``welfare`` — Δ consumer and producer surplus, tariff and export-tax revenue, quota rents,
  congestion margin (see :mod:`reesim.impacts.welfare`), the private stockholders' holding
  gains (:mod:`reesim.simulate.storage`), fiscal costs by payer, the capital
  charge of named plants built outside the investment rule (:mod:`reesim.instruments.projects`)
  and of the capacity the rule built (:mod:`reesim.simulate.state`), both ``capital_cost``, and
  the total,
  by region and period (million USD); ``welfare_discounted`` sums the total over the horizon
  at ``discount_rate`` (default 3 % a year, real: U.S. OMB Circular A-4, 2003, the lower of
  its two reference rates — an outside assumption);
* ``product_costs`` — Δ cost of the rare-earth content per product (EV, hybrid, MW of wind,
  F-35, ...) = intensity (end_use_intensity row, cited) x Δ price of the priced commodity, in
  USD per unit, with the range over the intensity rows; product prices are not in the dataset,
  so no share of the product's price is computed;
* ``jobs`` — U.S. jobs exposed = shortage share of U.S. magnet users x employment of the
  magnet-using sectors (employment rows, cited): low = REE-dependent products (Penn State),
  high = motor vehicles + wind + aerospace; ``high_with_supply_chain`` adds the EPI indirect-jobs
  multiplier for durable manufacturing. Assumes output falls in proportion to the magnet
  shortfall (no substitution within the step);
* ``units_at_risk`` — the magnet shortfall of each region, outside China and the world as the
  units of each magnet product (EV traction motor, EV, F-35) its magnets would have gone into
  if all of it fell on that product (:mod:`reesim.impacts.downstream`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

from reesim.impacts.downstream import peak_units, units_table
from reesim.memo import memo_of
from reesim.simulate.result import Result
from reesim.world.world import PURCHASE_RULE_SECTORS

OWNER = "CHN"
#: the averages inside and outside China; the named markets below are single regions
AVERAGE_MARKETS = ("inside China", "outside China")
#: regions whose own price is quoted beside the average outside China (Europe's is the
#: Rotterdam/European quote of Fastmarkets and Argus; Japan and the U.S. import markets)
NAMED_MARKETS = {"EU": "Europe", "JPN": "Japan", "USA": "United States"}
DISCOUNT_RATE = 0.03
COMPONENT_ORDER = (
    "consumer_surplus",
    "producer_surplus",
    "tariff_revenue",
    "export_tax_revenue",
    "quota_rents",
    "congestion_margin",
    "holding_gain",
    "fiscal_cost",
    "capital_cost",
)


@dataclass(frozen=True)
class Impacts:
    """Scenario-minus-counterfactual tables (see module docstring)."""

    scenario: str
    counterfactual: str
    discount_rate: float
    _tables: dict[str, pd.DataFrame] = field(repr=False)

    def table(self, name: str) -> pd.DataFrame:
        """A copy of table ``name``."""
        return self._tables[name].copy()

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("_tables", {})
        if name in tables:
            return tables[name].copy()
        raise AttributeError(name)

    @property
    def names(self) -> tuple[str, ...]:
        """Table names."""
        return tuple(self._tables)


def _memoised(res: Result, name: str, make, other: Result | None = None) -> pd.DataFrame:
    """A table derived from ``res`` (and ``other``), computed once per pair of result objects.

    Results are immutable, so what is derived from them is too: a run's headline, impact
    tables and risk indicators read the same price tables several times (0.06 s each for the
    flagship). The entry for ``other`` keeps a weak reference to it, so a reused ``id`` never
    returns another pair's table; a copy is returned, so callers may modify it.
    """
    try:
        ref = None if other is None else weakref.ref(other)
    except TypeError:  # not weakly referenceable (a stand-in): nothing is kept
        return make()
    memo = memo_of(res)
    key = (name, None if other is None else id(other))
    hit = memo.get(key)
    if hit is None or (ref is not None and hit[0]() is not other):
        hit = memo[key] = (ref, make())
    return hit[1].copy()


def apparent_use(res: Result) -> pd.DataFrame:
    """Apparent consumption (USGS's definition: production + imports - exports, t/yr) of every
    commodity by region and period: final users and the region's own plants together.

    Columns ``period, commodity, region, use_tonnes_per_year`` (negative values, a region that
    exports from stocks, are set to 0).
    """
    return _memoised(res, "apparent_use", lambda: _apparent_use(res))


def _apparent_use(res: Result, commodities: frozenset[str] | None = None) -> pd.DataFrame:
    keys = ["period", "commodity", "region"]
    prod, t = res.production, res.trade
    if commodities is not None:  # the same rows for these goods: each good's sums are its own
        prod = prod[prod["commodity"].isin(list(commodities))]
        t = t[t["commodity"].isin(list(commodities))]
    prod = prod.groupby(keys)["tonnes_per_year"].sum()
    imp = t.rename(columns={"importer": "region"}).groupby(keys)["tonnes_per_year"].sum()
    exp = t.rename(columns={"exporter": "region"}).groupby(keys)["tonnes_per_year"].sum()
    use = prod.add(imp, fill_value=0.0).sub(exp, fill_value=0.0).clip(lower=0.0)
    return use.rename("use_tonnes_per_year").reset_index()


def market_prices(
    res: Result, weights: pd.DataFrame | None = None, commodities: frozenset[str] | None = None
) -> pd.DataFrame:
    """Prices inside China (CHN's market), outside (a use-weighted mean over the other regions)
    and in the named markets analysts quote (:data:`NAMED_MARKETS`: Europe, Japan, the United
    States, each its region's price).

    The outside-China mean weights each region by its apparent consumption of the good
    (:func:`apparent_use`), by default the run's own; :func:`price_table` passes the
    counterfactual's to both runs, a fixed basket (Laspeyres), so that a market whose use a
    restriction chokes off still counts at its counterfactual weight instead of leaving the
    mean (which would understate the premium).

    ``determined``: whether the price is pinned by the solution (see
    :func:`reesim.solve.solution._determined`) and finite; outside China only determined
    regional prices enter the average, so a row exists only where at least one does.

    ``commodities`` limits the table to those goods (their rows are the same as in the full
    table: each good's average is its own).
    """
    if weights is None and commodities is not None:
        return market_prices(res, _apparent_use(res, commodities), commodities)
    if weights is None:
        return _memoised(res, "market_prices", lambda: market_prices(res, apparent_use(res)))
    p = res.prices
    if commodities is not None:
        p = p[p["commodity"].isin(list(commodities))]
    p = p.merge(weights, on=["period", "commodity", "region"], how="left").fillna(
        {"use_tonnes_per_year": 0.0}
    )
    p["determined"] = p["determined"].astype(bool) & np.isfinite(p["usd_per_kg"].astype(float))
    inside = p[p["region"] == OWNER][["period", "year", "commodity", "usd_per_kg", "determined"]].assign(
        market="inside China"
    )
    out = p[(p["region"] != OWNER) & p["determined"]].copy()
    out["w"] = out["use_tonnes_per_year"].where(out["use_tonnes_per_year"] > 0, 1e-9)
    out["pw"] = out["usd_per_kg"] * out["w"]
    g = out.groupby(["period", "year", "commodity"], as_index=False)[["pw", "w"]].sum()
    g["usd_per_kg"] = g["pw"] / g["w"]
    outside = g[["period", "year", "commodity", "usd_per_kg"]].assign(market="outside China", determined=True)
    named = p[p["region"].isin(list(NAMED_MARKETS))].assign(market=lambda t: t["region"].map(NAMED_MARKETS))
    named = named[["period", "year", "commodity", "usd_per_kg", "determined", "market"]]
    return pd.concat([inside, outside, named], ignore_index=True)


def price_table(res: Result, cf: Result, commodities: Iterable[str] | None = None) -> pd.DataFrame:
    """Prices inside and outside China, scenario vs counterfactual.

    Outside China both runs are averaged with the counterfactual's apparent consumption as
    weights (a fixed basket; :func:`market_prices`), so the change is a price change, not a
    change of which markets still buy.

    ``determined`` is true where both prices are pinned by their solutions and finite;
    ``change_pct`` of the other rows means nothing (a price in an interval, e.g. a market
    with no trade and no consumption in that period) and is left NaN. A run's own price that
    its solution does not pin is left NaN too (``usd_per_kg`` or ``usd_per_kg_cf``): the
    solver's point of the interval can be anything above it, up to millions of USD/kg for a
    heavy-RE residue no one buys, and would read as a price in a table or a chart.

    ``commodities`` limits the table to those goods, with the same rows for them as the full
    table (an ensemble member reads a few goods: a third of the time); such a table is not memoised.
    """
    if commodities is not None:
        return _price_table(res, cf, frozenset(commodities))
    return _memoised(res, "price_table", lambda: _price_table(res, cf), other=cf)


def _price_table(res: Result, cf: Result, commodities: frozenset[str] | None = None) -> pd.DataFrame:
    basket = apparent_use(cf) if commodities is None else _apparent_use(cf, commodities)
    a, b = market_prices(res, basket, commodities), market_prices(cf, basket, commodities)
    m = a.merge(b, on=["period", "year", "commodity", "market"], suffixes=("", "_cf"))
    m.loc[~m["determined"], "usd_per_kg"] = np.nan
    m.loc[~m["determined_cf"], "usd_per_kg_cf"] = np.nan
    m["determined"] = m.pop("determined") & m.pop("determined_cf")
    m["change_pct"] = 100 * (m["usd_per_kg"] / m["usd_per_kg_cf"].where(m["usd_per_kg_cf"] > 1e-9) - 1)
    m.loc[~m["determined"], "change_pct"] = np.nan
    return m[~m["commodity"].str.startswith("service:")].reset_index(drop=True)


def trade_table(res: Result, cf: Result) -> pd.DataFrame:
    """Exports by exporter and commodity (t per step), scenario vs counterfactual."""
    a = res.trade.groupby(["period", "year", "exporter", "commodity"])["tonnes"].sum()
    b = cf.trade.groupby(["period", "year", "exporter", "commodity"])["tonnes"].sum()
    m = pd.concat({"tonnes": a, "tonnes_cf": b}, axis=1).fillna(0.0).reset_index()
    m["change_tonnes"] = m["tonnes"] - m["tonnes_cf"]
    return m


def shortage_table(res: Result, cf: Result) -> pd.DataFrame:
    """Consumption below the counterfactual by sector and region (t per step and share)."""
    keys = ["period", "year", "region", "sector"]
    a = res.consumption.groupby(keys)["tonnes"].sum()
    b = cf.consumption.groupby(keys)["tonnes"].sum()
    m = pd.concat({"tonnes": a, "tonnes_cf": b}, axis=1).fillna(0.0).reset_index()
    m = m[~m["sector"].isin(PURCHASE_RULE_SECTORS)]
    m["shortage_tonnes"] = (m["tonnes_cf"] - m["tonnes"]).clip(lower=0.0)
    m["shortage_share"] = m["shortage_tonnes"] / m["tonnes_cf"].where(m["tonnes_cf"] > 0)
    return m.reset_index(drop=True)


def _welfare_levels(res: Result) -> pd.DataFrame:
    s = res.surplus[["period", "year", "region", "component", "usd_million"]]
    f = res.fiscal
    if len(f):
        from reesim.instruments.projects import CAPITAL_INSTRUMENTS

        f = f[f["instrument"] != "subsidy (capex)"]
        capital = f["instrument"].str.endswith(CAPITAL_INSTRUMENTS)
        fiscal = (
            f.assign(component=np.where(capital, "capital_cost", "fiscal_cost"))
            .groupby(["period", "year", "payer", "component"], as_index=False)["usd_million"]
            .sum()
        )
        fiscal = fiscal.rename(columns={"payer": "region"})
        fiscal["usd_million"] = -fiscal["usd_million"]
        s = pd.concat(
            [s, fiscal[["period", "year", "region", "component", "usd_million"]]], ignore_index=True
        )
    return s


def step_years(period: str) -> float:
    """Length of a step in years from its label: ``2025`` 1, ``2025-Q2`` 0.25, ``2025-04`` 1/12."""
    p = str(period)
    if "Q" in p:
        return 0.25
    return 1.0 / 12.0 if "-" in p else 1.0


def welfare_table(res: Result, cf: Result) -> pd.DataFrame:
    """Δ welfare by period, region and component, with a 'total' component.

    ``scenario``, ``counterfactual`` and ``change_usd_million`` are million USD in the step;
    ``change_usd_million_per_year`` is the step's change at an annual rate (divided by
    ``step_years``), comparable across yearly, quarterly and monthly runs.
    """
    keys = ["period", "year", "region", "component"]
    a = _welfare_levels(res).groupby(keys)["usd_million"].sum()
    b = _welfare_levels(cf).groupby(keys)["usd_million"].sum()
    m = pd.concat({"scenario": a, "counterfactual": b}, axis=1).fillna(0.0).reset_index()
    m["change_usd_million"] = m["scenario"] - m["counterfactual"]
    total = m.groupby(["period", "year", "region"], as_index=False)[
        ["scenario", "counterfactual", "change_usd_million"]
    ].sum()
    total["component"] = "total"
    out = pd.concat([m, total], ignore_index=True)
    out["step_years"] = out["period"].map(step_years).astype(float)
    out["change_usd_million_per_year"] = out["change_usd_million"] / out["step_years"]
    return out


def discounted(welfare: pd.DataFrame, rate: float, base_year: int) -> pd.DataFrame:
    """Discounted sum of the Δ welfare by region and component (million USD, base-year value)."""
    w = welfare.copy()
    w["factor"] = (1.0 + rate) ** -(w["year"] - base_year)
    w["pv_usd_million"] = w["change_usd_million"] * w["factor"]
    return w.groupby(["region", "component"], as_index=False)["pv_usd_million"].sum()


def product_cost_table(prices: pd.DataFrame, citations: bool = True) -> pd.DataFrame:
    """Δ cost of the rare-earth content per product unit (USD), by period and market, with ranges.

    ``citations=False`` leaves out the ``source_ids`` and ``rows`` columns (an ensemble member
    keeps only the figures).
    """
    content = _product_content()
    if content.empty:
        return content.copy()
    return _product_costs(content, prices, citations)


def product_commodities() -> frozenset[str]:
    """The commodities whose prices the product cost table reads."""
    return frozenset(_product_content()["commodity"])


@functools.lru_cache(maxsize=1)
def _product_content() -> pd.DataFrame:
    """kg of each priced commodity per product unit (low, high), from products.csv and the cited
    end_use_intensity rows: made once per process (the embedded dataset does not change) and
    kept in the cache folder between processes (:mod:`reesim.data.kept`; keyed also by the
    SHA-256 of products.csv)."""
    from reesim.data.kept import kept_table

    text = resources.files("reesim.impacts").joinpath("products.csv").read_bytes()
    return kept_table(
        "product content", lambda: _read_product_content(text), (hashlib.sha256(text).hexdigest(),)
    )


def _read_product_content(products_csv: bytes) -> pd.DataFrame:
    """The table of :func:`_product_content` from the bytes of products.csv and the dataset."""
    import reesim.data as rd

    spec = pd.read_csv(io.BytesIO(products_csv), dtype=str, keep_default_na=False, encoding="utf-8")
    ei = rd.table("end_use_intensity")
    by_key: dict[tuple, list] = {}  # the intensity rows of each product, component and material, in order
    for e in ei.itertuples(index=False):
        by_key.setdefault((e.product, e.component, e.material), []).append(e)
    rows = []
    for r in spec.itertuples(index=False):
        for e in by_key.get((r.ei_product, r.ei_component, r.ei_material), []):
            vals = [v for v in (e.value, e.value_low, e.value_high) if pd.notna(v)]
            if not vals:
                continue
            factor = float(r.kg_per_unit_of_row)
            rows.append(
                {
                    "product": r.product,
                    "per": r.per,
                    "sector": r.sector,
                    "commodity": r.commodity,
                    "kg_low": min(vals) * factor,
                    "kg_high": max(vals) * factor,
                    "source_id": e.source_id,
                    "intensity_row": f"{e.product} | {e.component} | {e.material}: {vals} {e.unit}",
                }
            )
    return pd.DataFrame(rows)


def _product_costs(content: pd.DataFrame, prices: pd.DataFrame, citations: bool = True) -> pd.DataFrame:
    """The product cost table from the content per unit and the price changes."""
    if "determined" not in prices:
        prices = prices.assign(determined=True)
    dp = prices.assign(delta=prices["usd_per_kg"] - prices["usd_per_kg_cf"])[
        ["period", "year", "commodity", "market", "delta", "determined"]
    ]
    m = content.merge(dp, on="commodity", how="inner")
    m["cost_a"] = m["kg_low"] * m["delta"]
    m["cost_b"] = m["kg_high"] * m["delta"]
    m["cost_low"] = m[["cost_a", "cost_b"]].min(axis=1)
    m["cost_high"] = m[["cost_a", "cost_b"]].max(axis=1)
    # Rows of the same product and commodity are alternative estimates (a range); different
    # commodities of a product (Nd and Dy in a generator) add up. One reduction per column:
    # pandas' named aggregation took 8-12 ms a table.
    keys = ["product", "per", "period", "year", "market"]
    gb = m.groupby([*keys, "commodity"])
    num = pd.concat(
        {
            "cost_low": gb["cost_low"].min(),
            "cost_high": gb["cost_high"].max(),
            "determined": gb["determined"].all(),
        },
        axis=1,
    ).reset_index()
    gb = num.groupby(keys)
    g = pd.concat(
        {
            "determined": gb["determined"].all(),
            "change_usd_low": gb["cost_low"].sum(),
            "change_usd_high": gb["cost_high"].sum(),
        },
        axis=1,
    ).reset_index()
    if citations:
        g["source_ids"], g["rows"] = _group_citations(num, content, keys)
    lo = g[["change_usd_low", "change_usd_high"]].min(axis=1)
    hi = g[["change_usd_low", "change_usd_high"]].max(axis=1)
    g["change_usd_low"], g["change_usd_high"] = lo, hi
    # A cost change built on a price the solution does not determine means nothing: NaN, flagged.
    g.loc[~g["determined"], ["change_usd_low", "change_usd_high"]] = np.nan
    g["share_of_product_price"] = np.nan  # product prices are not in the dataset
    return g


def _citations(content: pd.DataFrame) -> tuple[dict, dict]:
    """The citations of each product and commodity (its source ids, its intensity rows), and each
    product's text with all of its commodities: they depend on the content only, so they are
    made once per content table (:func:`reesim.memo.memo_of`)."""
    memo = memo_of(content)
    if "citations" not in memo:
        by_commodity: dict[tuple, tuple[set, set]] = {}
        for prod, per, com, sid, row in zip(
            *(content[c].tolist() for c in ("product", "per", "commodity", "source_id", "intensity_row")),
            strict=True,
        ):
            ids, rows = by_commodity.setdefault((prod, per, com), (set(), set()))
            ids.add(sid)
            rows.add(row)
        cite = {
            k: (",".join(sorted(ids)), " ; ".join(sorted(rows))) for k, (ids, rows) in by_commodity.items()
        }
        products: dict[tuple, list[str]] = {}
        for prod, per, com in cite:
            products.setdefault((prod, per), []).append(com)
        full = {pp: (len(coms), _citation_text(cite, pp, coms)) for pp, coms in products.items()}
        memo["citations"] = (cite, full)
    return memo["citations"]


def _citation_text(cite: dict, product: tuple, commodities) -> tuple[str, str]:
    """Source ids (the union, sorted) and intensity rows (in commodity order) of ``commodities``."""
    coms = sorted(commodities)
    ids = sorted({i for c in coms for i in cite[(*product, c)][0].split(",")})
    return ",".join(ids), " ; ".join(cite[(*product, c)][1] for c in coms)


def _group_citations(
    num: pd.DataFrame, content: pd.DataFrame, keys: list[str]
) -> tuple[list[str], list[str]]:
    """Step of :func:`_product_costs`: each group's citations, the union of its commodities'
    source ids and their intensity rows in commodity order.

    They depend only on the product and which of its commodities have a price in the group:
    a group with all of them (nearly every one) takes its product's text, made once per
    content table (:func:`_citations`); the others are joined from their own commodities.
    """
    cite, full = _citations(content)
    ids, rows = [], []
    current, coms = None, []

    def close() -> None:
        size, both = full[current[:2]]
        if len(coms) != size:  # a commodity without a price here: this group's own rows
            both = _citation_text(cite, current[:2], coms)
        ids.append(both[0])
        rows.append(both[1])

    # ``num`` is sorted by the group keys, then commodity: one pass closes each group in order
    for group in zip(*(num[c].tolist() for c in [*keys, "commodity"]), strict=True):
        key, com = group[:-1], group[-1]
        if key != current:
            if current is not None:
                close()
            current, coms = key, []
        coms.append(com)
    if current is not None:
        close()
    return ids, rows


@functools.lru_cache(maxsize=1)
def _employment() -> pd.DataFrame:
    """The employment rows :func:`jobs_table` reads (year, sector, measure, value, source): made
    once per process and kept in the cache folder between processes (:mod:`reesim.data.kept`)."""
    from reesim.data.kept import kept_table

    def read() -> pd.DataFrame:
        import reesim.data as rd

        cols = ["year", "sector", "measure", "value", "source_id"]
        return rd.table("employment")[cols].reset_index(drop=True)

    return kept_table("employment", read)


def jobs_table(shortages: pd.DataFrame) -> pd.DataFrame:
    """U.S. jobs exposed to the magnet shortfall (see module docstring), by period and sector."""
    emp = _employment()

    def row(sector: str, measure: str | None = None) -> pd.Series:
        m = emp[emp["sector"] == sector]
        if measure:
            m = m[m["measure"] == measure]
        return m.sort_values("year").iloc[-1]

    sectors = {
        "motor vehicles and parts": row(
            "motor vehicles and parts manufacturing (NAICS 3361-3363)", "employment (all employees, SA)"
        ),
        "wind energy": row("wind energy (all segments)"),
        "aerospace products and parts": row("aerospace product and parts manufacturing (NAICS 3364)"),
    }
    low = row("REE-dependent end products and technologies", "employment (estimate)")
    mult = row("durable manufacturing", "indirect jobs per 100 direct jobs")
    us = shortages[(shortages["region"] == "USA") & (shortages["sector"] == "magnet users")]
    out = []
    for r in us.itertuples(index=False):
        share = float(r.shortage_share) if pd.notna(r.shortage_share) else 0.0
        for name, e in sectors.items():
            out.append(
                {
                    "period": r.period,
                    "year": r.year,
                    "sector": name,
                    "shortage_share": share,
                    "employment": float(e["value"]),
                    "employment_year": e["year"],
                    "jobs_exposed": share * float(e["value"]),
                    "source_id": e["source_id"],
                }
            )
        total_high = share * sum(float(e["value"]) for e in sectors.values())
        out.append(
            {
                "period": r.period,
                "year": r.year,
                "sector": "all magnet users (range)",
                "shortage_share": share,
                "employment": float(low["value"]),
                "employment_year": low["year"],
                "jobs_exposed": share * float(low["value"]),
                "jobs_exposed_high": total_high,
                "jobs_exposed_high_with_supply_chain": total_high * (1 + float(mult["value"]) / 100.0),
                "source_id": ",".join(
                    [low["source_id"], mult["source_id"], *(e["source_id"] for e in sectors.values())]
                ),
            }
        )
    return pd.DataFrame(out)


def compare(result: Result, counterfactual: Result, discount_rate: float = DISCOUNT_RATE) -> Impacts:
    """Impacts of ``result`` against ``counterfactual`` (same steps)."""
    prices = price_table(result, counterfactual)
    shortages = shortage_table(result, counterfactual)
    welfare = welfare_table(result, counterfactual)
    base_year = int(welfare["year"].min()) if len(welfare) else 0
    tables = {
        "prices": prices,
        "trade": trade_table(result, counterfactual),
        "shortages": shortages,
        "welfare": welfare,
        "welfare_discounted": discounted(welfare, discount_rate, base_year),
        "product_costs": product_cost_table(prices),
        "jobs": jobs_table(shortages),
        "units_at_risk": units_table(shortages, _product_content()),
    }
    return Impacts(result.scenario_name, counterfactual.scenario_name, discount_rate, tables)


def impact_headline(im: Impacts) -> dict:
    """Headline impact figures as plain data (for summary.json and the CLI)."""
    pv = im.welfare_discounted
    tot = pv[pv["component"] == "total"].sort_values("pv_usd_million")
    pc = im.product_costs
    peaks = []
    if len(pc):
        for (product, per, market), g in pc[pc["determined"]].groupby(["product", "per", "market"]):
            # the period whose range reaches farthest from zero (either end): by the high end alone, a
            # fall whose low end is the larger was passed over for a smaller rise elsewhere
            i = g[["change_usd_low", "change_usd_high"]].abs().max(axis=1).idxmax()
            peaks.append(
                {
                    "product": product,
                    "per": per,
                    "market": market,
                    "period": g.loc[i, "period"],
                    "change_usd_low": float(g.loc[i, "change_usd_low"]),
                    "change_usd_high": float(g.loc[i, "change_usd_high"]),
                    "source_ids": g.loc[i, "source_ids"],
                }
            )
    jobs = im.jobs
    jobs_peak = {}
    if len(jobs):
        rng = jobs[jobs["sector"] == "all magnet users (range)"]
        if len(rng):
            r = rng.loc[rng["jobs_exposed_high"].idxmax()]
            jobs_peak = {
                "period": r["period"],
                "shortage_share": float(r["shortage_share"]),
                "jobs_exposed_low": float(r["jobs_exposed"]),
                "jobs_exposed_high": float(r["jobs_exposed_high"]),
                "jobs_exposed_high_with_supply_chain": float(r["jobs_exposed_high_with_supply_chain"]),
            }
    return {
        "discount_rate": im.discount_rate,
        "welfare_pv_usd_million_by_region": dict(
            zip(tot["region"], tot["pv_usd_million"].astype(float), strict=True)
        ),
        "welfare_pv_usd_million_world": float(tot["pv_usd_million"].sum()),
        "product_cost_peaks": peaks,
        "us_jobs_exposed_peak": jobs_peak,
        "units_at_risk_peak": {
            scope: peak_units(im.units_at_risk, scope) for scope in ("USA", "outside China")
        },
    }
