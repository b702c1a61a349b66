"""Data reductions and plotly figures of the HTML report (:mod:`reesim.reports.html`).

Every function here is pure: it takes the tables of a run folder (pandas DataFrames, as
written by ``reesim run --out``) and returns a table or a :class:`plotly.graph_objects.Figure`.
The HTML assembly, captions and tables live in :mod:`reesim.reports.html`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: Region code of China (the owner of the export controls in the shipped scenarios).
CHINA = "CHN"
#: Welfare components in the order of :data:`reesim.impacts.compare.COMPONENT_ORDER`.
COMPONENTS = (
    "consumer_surplus",
    "producer_surplus",
    "tariff_revenue",
    "export_tax_revenue",
    "quota_rents",
    "congestion_margin",
    "fiscal_cost",
)
#: Commodities drawn in the main price panel, in this order.
MAIN_COMMODITIES = ("magnet:ndfeb", "oxide:Nd", "oxide:Dy", "oxide:Tb")
#: Supply-chain stage of a production row, by its process ``kind``.
STAGE_OF_KIND = {
    "mining": "mining",
    "separation": "separation",
    "metal": "metal",
    "magnet": "magnet",
    "supply": "stock release",
}
#: Stages shown in the map and heat map, by the commodity prefix produced.
SHARE_STAGES = (("mining", "concentrate"), ("separation", "oxide"), ("metal", "metal"), ("magnet", "magnet"))
#: Demand sectors that are not final use (stock building, offtakes): left out of shortages.
NON_FINAL_SECTORS = ("stockpile", "offtake")
#: Colours of the regions (fixed, so a region has the same colour in every figure).
REGION_COLORS = {
    "CHN": "#d62728",
    "USA": "#1f77b4",
    "EU": "#2ca02c",
    "JPN": "#9467bd",
    "KOR": "#8c564b",
    "AUS": "#ff7f0e",
    "MMR": "#e377c2",
    "MYS": "#17becf",
    "VNM": "#bcbd22",
    "THA": "#7f7f7f",
    "IND": "#aec7e8",
    "RUS": "#ffbb78",
    "BRA": "#98df8a",
    "NGA": "#ff9896",
    "MDG": "#c5b0d5",
    "ROW": "#c49c94",
    "world": "#333333",
}
TEMPLATE = "plotly_white"
_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", "size": 12}


def region_color(region: str) -> str:
    """The fixed colour of ``region`` (grey for a region not in :data:`REGION_COLORS`)."""
    return REGION_COLORS.get(region, "#999999")


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    kw.setdefault("margin", {"l": 60, "r": 20, "t": 60, "b": 50})
    fig.update_layout(template=TEMPLATE, height=height, autosize=True, font=_FONT, **kw)
    return fig


def period_x(period: str, year: int) -> float:
    """Start of a step period in fractional years: ``"2025"`` -> 2025, ``"2025-Q2"`` -> 2025.25, ``"2025-04"`` -> 2025.25."""
    m = re.fullmatch(r"(\d{4})-Q([1-4])", str(period))
    if m:
        return int(m.group(1)) + (int(m.group(2)) - 1) / 4
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(period))
    if m:
        return int(m.group(1)) + (int(m.group(2)) - 1) / 12
    return float(year)


def _year_axis(fig: go.Figure, x: pd.Series) -> None:
    """Whole years on the x axes, about eight ticks."""
    span = float(x.max() - x.min()) if len(x) else 0.0
    fig.update_xaxes(tickformat="d", tick0=int(x.min()) if len(x) else 0, dtick=max(1, round(span / 8)))


def steps_per_year(df: pd.DataFrame) -> pd.Series:
    """Number of step periods in each year of ``df`` (columns ``period``, ``year``), indexed by year."""
    return df.groupby("year")["period"].nunique()


# --------------------------------------------------------------------------------------- prices
def _price_traces(
    d: pd.DataFrame, commodity: str, showlegend: bool, visible: bool = True
) -> list[go.Scatter]:
    traces = []
    # Inside China is drawn wide and light below outside China, so both show where they coincide.
    for market, color, width, opacity in (
        ("inside China", REGION_COLORS["CHN"], 4.0, 0.6),
        ("outside China", REGION_COLORS["USA"], 1.8, 1.0),
    ):
        g = d[(d["commodity"] == commodity) & (d["market"] == market)].sort_values("x")
        if g.empty:
            continue
        for col, dash, label in (
            ("usd_per_kg", "solid", "scenario"),
            ("usd_per_kg_cf", "dash", "counterfactual"),
        ):
            traces.append(
                go.Scatter(
                    x=g["x"],
                    y=g[col],
                    customdata=g[["period"]],
                    mode="lines",
                    name=f"{market}, {label}",
                    legendgroup=f"{market}, {label}",
                    showlegend=showlegend,
                    visible=visible,
                    line={"color": color, "dash": dash, "width": width * (1.0 if dash == "solid" else 0.8)},
                    opacity=opacity,
                    hovertemplate=f"{commodity} {market} ({label})<br>%{{customdata[0]}}: %{{y:,.2f}} USD/kg<extra></extra>",
                )
            )
    return traces


def _with_x(price_changes: pd.DataFrame) -> pd.DataFrame:
    d = price_changes.copy()
    d["x"] = [period_x(p, y) for p, y in zip(d["period"], d["year"], strict=True)]
    return d


def price_panel(price_changes: pd.DataFrame, commodities: Sequence[str] = MAIN_COMMODITIES) -> go.Figure:
    """Small multiples of the price paths inside and outside China, scenario solid, counterfactual dashed.

    Parameters
    ----------
    price_changes : DataFrame
        The run's ``price_changes`` table (period, year, commodity, market, usd_per_kg, usd_per_kg_cf).
    commodities : sequence of str
        Commodities to draw (those absent from the table are skipped).
    """
    d = _with_x(price_changes)
    present = [c for c in commodities if c in set(d["commodity"])]
    cols = 2 if len(present) > 1 else 1
    rows = max(1, -(-len(present) // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"{c} (USD/kg)" for c in present] or ["no price data"],
        horizontal_spacing=0.09,
        vertical_spacing=0.14,
    )
    for i, com in enumerate(present):
        for tr in _price_traces(d, com, showlegend=i == 0):
            fig.add_trace(tr, row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(rangemode="tozero", tickformat=",")
    _year_axis(fig, d["x"])
    return _layout(
        fig,
        330 * rows + 60,
        legend={"orientation": "h", "y": -0.08, "x": 0},
        hovermode="x unified",
    )


def price_dropdown(
    price_changes: pd.DataFrame, exclude: Sequence[str] = MAIN_COMMODITIES
) -> go.Figure | None:
    """One price chart with a dropdown over every other commodity (None if there is none)."""
    d = _with_x(price_changes)
    rest = sorted(c for c in d["commodity"].unique() if c not in exclude)
    if not rest:
        return None
    fig = go.Figure()
    owner: list[int] = []
    for i, com in enumerate(rest):
        for tr in _price_traces(d, com, showlegend=True, visible=i == 0):
            fig.add_trace(tr)
            owner.append(i)
    buttons = [
        {
            "label": com,
            "method": "update",
            "args": [{"visible": [o == i for o in owner]}, {"title.text": f"{com}: price, USD/kg"}],
        }
        for i, com in enumerate(rest)
    ]
    fig.update_layout(
        updatemenus=[
            {
                "buttons": buttons,
                "direction": "down",
                "x": 0.0,
                "xanchor": "left",
                "y": 1.2,
                "yanchor": "top",
                "showactive": True,
            }
        ],
        title={"text": f"{rest[0]}: price, USD/kg", "x": 0.5, "xanchor": "center"},
    )
    fig.update_yaxes(rangemode="tozero", tickformat=",", title="USD/kg")
    _year_axis(fig, d["x"])
    return _layout(
        fig,
        440,
        legend={"orientation": "h", "y": -0.15, "x": 0},
        hovermode="x unified",
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
    )


# --------------------------------------------------------------------------------------- Sankey
@dataclass
class SankeyFlows:
    """Links of the element's path through the chain in one year.

    ``links`` has columns ``source, target, stage, tonnes`` (tonnes in :attr:`unit`);
    ``notes`` says which links could not be built and why.
    """

    element: str
    year: int
    unit: str
    links: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    oxide_per_metal: float | None = None


def _node(kind: str, region: str) -> str:
    return f"{STAGE_OF_KIND.get(kind, kind)}: {region}"


def _route(
    sources: pd.DataFrame, trade: pd.DataFrame, uses: pd.DataFrame
) -> tuple[pd.DataFrame, float, float]:
    """Allocate uses at each region to the producing nodes, pooling own output and imports pro rata.

    Parameters
    ----------
    sources : DataFrame
        ``node, region, tonnes``: output of the commodity by producing node.
    trade : DataFrame
        ``exporter, importer, tonnes``: bilateral flows of the commodity.
    uses : DataFrame
        ``node, region, tonnes``: use of the commodity by using node (process input or final use).

    Returns
    -------
    (DataFrame, float, float)
        Links ``source, target, tonnes``; tonnes of use with no supply in its region; tonnes
        shipped by regions that produce none (re-exports), left out.
    """
    empty = pd.DataFrame({"source": [], "target": [], "tonnes": []})
    sources = sources[sources["tonnes"] > 0]
    uses = uses[uses["tonnes"] > 0]
    if sources.empty or uses.empty:
        return empty, float(uses["tonnes"].sum()), 0.0
    prod = sources.groupby("region")["tonnes"].sum()
    exports = trade.groupby("exporter")["tonnes"].sum().reindex(prod.index).fillna(0.0)
    kept = (prod - exports).clip(lower=0.0)
    supply = pd.concat(
        [
            pd.DataFrame({"origin": kept.index, "dest": kept.index, "tonnes": kept.to_numpy()}),
            trade.rename(columns={"exporter": "origin", "importer": "dest"})[["origin", "dest", "tonnes"]],
        ],
        ignore_index=True,
    )
    supply = supply[supply["tonnes"] > 0]
    reexport = float(supply.loc[~supply["origin"].isin(prod.index), "tonnes"].sum())
    pool = supply.groupby("dest")["tonnes"].sum()
    supply = supply.assign(share=supply["tonnes"] / supply["dest"].map(pool))
    unsupplied = float(uses.loc[~uses["region"].isin(pool.index), "tonnes"].sum())
    m = supply[["origin", "dest", "share"]].merge(
        uses.rename(columns={"region": "dest", "node": "target", "tonnes": "use"}), on="dest"
    )
    node_share = sources.groupby(["region", "node"], as_index=False)["tonnes"].sum()
    node_share["s"] = node_share["tonnes"] / node_share["region"].map(prod)
    m = m.merge(
        node_share.rename(columns={"region": "origin", "node": "source"})[["origin", "source", "s"]],
        on="origin",
    )
    m["tonnes"] = m["share"] * m["use"] * m["s"]
    links = m.groupby(["source", "target"], as_index=False)["tonnes"].sum()
    return links, unsupplied, reexport


def _sources(prod: pd.DataFrame, commodity: str) -> pd.DataFrame:
    p = prod[prod["commodity"] == commodity]
    return pd.DataFrame(
        {"node": [_node(k, r) for k, r in zip(p["kind"], p["region"], strict=True)], "region": p["region"]}
    ).assign(tonnes=p["tonnes"].to_numpy())


def _final_uses(cons: pd.DataFrame, commodity: str) -> pd.DataFrame:
    c = cons[cons["commodity"] == commodity].groupby(["sector", "region"], as_index=False)["tonnes"].sum()
    return pd.DataFrame(
        {"node": [f"{s}: {r}" for s, r in zip(c["sector"], c["region"], strict=True)], "region": c["region"]}
    ).assign(tonnes=c["tonnes"].to_numpy())


def _pool(prod: pd.DataFrame, trade: pd.DataFrame, commodity: str) -> pd.Series:
    """Own output kept plus imports, by region."""
    p = prod[prod["commodity"] == commodity].groupby("region")["tonnes"].sum()
    t = trade[trade["commodity"] == commodity]
    x = t.groupby("exporter")["tonnes"].sum()
    m = t.groupby("importer")["tonnes"].sum()
    kept = (p - x.reindex(p.index).fillna(0.0)).clip(lower=0.0)
    return kept.add(m, fill_value=0.0)


def sankey_flows(
    production: pd.DataFrame,
    trade: pd.DataFrame,
    consumption: pd.DataFrame,
    element: str,
    year: int,
    oxide_per_metal: float | None,
    stock_change: pd.DataFrame | None = None,
) -> SankeyFlows:
    """Flows of ``element`` mine → separation → metal → magnet → using sectors in ``year``.

    ``stock_change`` (``region, commodity, tonnes``; positive = stock built) adds private
    stock changes: a build is a use of the region's pool (sector ``stock build``), a draw a
    source of it (node ``stock draw: <region>``), so every node still balances.

    Each link is the commodity's flow between two (stage, region) nodes: trade from the
    exporter to the importer plus the producer's own use. Where a region pools its own
    output with imports, its uses (separation feed, metal making, magnet making, final use
    by sector) are allocated to the origins pro rata. Concentrates count with the element's
    share of their oxides (from the separation outputs); with ``oxide_per_metal`` given,
    quantities are tonnes of element (oxide tonnes / oxide_per_metal, metal tonnes, magnet
    tonnes x the element's content of the maker's magnets), else tonnes of oxide (REO).

    Parameters
    ----------
    production, trade, consumption : DataFrame
        The run's tables (``tonnes`` per step; summed over the year's steps).
    element : str
        Element symbol, e.g. ``"Nd"``.
    year : int
        Year of the flows.
    oxide_per_metal : float or None
        Tonnes of oxide per tonne of metal of the element (stoichiometry), if known.

    Returns
    -------
    SankeyFlows
    """
    notes: list[str] = []
    prod = (
        production[production["year"] == year]
        .groupby(["region", "kind", "commodity"], as_index=False)["tonnes"]
        .sum()
    )
    tr = (
        trade[trade["year"] == year]
        .groupby(["commodity", "exporter", "importer"], as_index=False)["tonnes"]
        .sum()
    )
    cons = consumption[consumption["year"] == year]
    if stock_change is not None and len(stock_change):
        sc = stock_change[stock_change["tonnes"].abs() > 1e-9]
        build, draw = sc[sc["tonnes"] > 0], sc[sc["tonnes"] < 0]
        cons = pd.concat([cons, build.assign(sector="stock build")], ignore_index=True)
        prod = pd.concat(
            [prod, draw.assign(kind="stock draw", tonnes=-draw["tonnes"])[list(prod.columns)]],
            ignore_index=True,
        )
    k = oxide_per_metal
    unit = f"t of {element} (element content)" if k else f"t of oxide:{element} (REO)"
    to_unit = 1.0 / k if k else 1.0
    oxide, metal = f"oxide:{element}", f"metal:{element}"
    frames: list[pd.DataFrame] = []

    def add(links: pd.DataFrame, stage: str, scale: float | pd.Series = 1.0) -> None:
        if links.empty:
            return
        links = links.copy()
        links["tonnes"] = links["tonnes"] * (scale if np.isscalar(scale) else links["source"].map(scale))
        frames.append(links.assign(stage=stage))

    def lost(what: str, unsupplied: float, reexport: float, scale: float) -> None:
        if unsupplied * scale > 0.5:
            notes.append(
                f"{what}: {unsupplied * scale:,.0f} {unit} used where nothing was supplied, not shown."
            )
        if reexport * scale > 0.5:
            notes.append(
                f"{what}: {reexport * scale:,.0f} {unit} re-exported by regions that make none, not shown."
            )

    # 1. Mining → separation: concentrates by ore, counted at the element's yield where they are
    # cracked (its oxide plus its share of a mixed heavy concentrate, e.g. Lynas' SEG/HRE).
    sep = production[(production["kind"] == "separation") & production["process"].str.startswith("crack")]
    sep = sep.assign(
        ore=sep["process"].str.split(":").str[2], heavy=sep["process"].str.startswith("crack-heavy:")
    )
    heavy_out = sep[sep["heavy"]]
    mix_share = (
        heavy_out[heavy_out["commodity"] == oxide].groupby("ore")["tonnes"].sum()
        / heavy_out.groupby("ore")["tonnes"].sum()
    ).fillna(0.0)
    cracks = sep[~sep["heavy"]]
    mixes = cracks["commodity"].str.startswith("concentrate:hree_")
    el = cracks["tonnes"].where(cracks["commodity"] == oxide, 0.0) + cracks["tonnes"].where(
        mixes, 0.0
    ) * cracks["ore"].map(mix_share).fillna(0.0)
    cracks = cracks.assign(el=el)
    by_ore = cracks.groupby("ore")[["el", "tonnes"]].sum()
    share = (by_ore["el"] / by_ore["tonnes"]).fillna(0.0)  # pooled over regions and years
    now = cracks[cracks["year"] == year].groupby(["region", "ore"])[["el", "tonnes"]].sum()
    local = (now["el"] / now["tonnes"]).fillna(0.0)  # yield of the region's own cracking this year
    feed = now["tonnes"].reset_index()
    concentrates = sorted(
        c
        for c in prod["commodity"].unique()
        if c.startswith("concentrate:") and not c.startswith("concentrate:hree_")
    )
    if not concentrates:
        notes.append("mining → separation: no concentrate output in this year.")
    if by_ore.empty:
        notes.append(
            "mining → separation: no separation ('crack:' processes) in the production table, so the "
            f"{element} content of the concentrates is unknown."
        )
    for com in concentrates:
        ore = com.split(":", 1)[1]
        if ore not in share.index:
            notes.append(
                f"mining → separation: {com} is never separated, so its {element} content is unknown."
            )
            continue
        if share[ore] <= 0:
            continue
        f = feed[feed["ore"] == ore]
        uses = pd.concat(
            [
                pd.DataFrame(
                    {"node": [_node("separation", r) for r in f["region"]], "region": f["region"]}
                ).assign(tonnes=f["tonnes"].to_numpy()),
                _final_uses(cons, com),
            ],
            ignore_index=True,
        )
        links, uns, rex = _route(_sources(prod, com), tr[tr["commodity"] == com], uses)
        region_of = dict(zip(uses["node"], uses["region"], strict=True))
        yld = [local.get((region_of.get(n), ore), share[ore]) for n in links["target"]]
        add(
            links.assign(tonnes=links["tonnes"] * np.asarray(yld, dtype=float)),
            "mining → separation",
            to_unit,
        )
        lost(f"mining → separation ({com})", uns, rex, float(share[ore]) * to_unit)

    # 1b. Mixed heavy concentrates: from the plants that crack the ore to those that separate them.
    for ore, sh in mix_share.items():
        com = f"concentrate:hree_{ore}"
        if sh <= 0 or com not in set(prod["commodity"]):
            continue
        fed = heavy_out[heavy_out["year"] == year].groupby("region")["tonnes"].sum()
        uses = pd.DataFrame(
            {"node": [_node("separation", r) for r in fed.index], "region": fed.index}
        ).assign(tonnes=fed.to_numpy())
        links, uns, rex = _route(_sources(prod, com), tr[tr["commodity"] == com], uses)
        links = links[links["source"] != links["target"]]
        add(links, "separation → separation (mixed heavy concentrate)", float(sh) * to_unit)
        lost(f"separation → separation ({com})", uns, rex, float(sh) * to_unit)

    # 2. Separation → metal making and final use of the oxide.
    if oxide not in set(prod["commodity"]):
        notes.append(f"separation → metal: no {oxide} output in {year}.")
    else:
        metal_out = prod[(prod["commodity"] == metal) & (prod["kind"] == "metal")]
        uses = [_final_uses(cons, oxide)]
        if k and not metal_out.empty:
            uses.append(
                pd.DataFrame(
                    {"node": [_node("metal", r) for r in metal_out["region"]], "region": metal_out["region"]}
                ).assign(tonnes=metal_out["tonnes"].to_numpy() * k)
            )
        elif not metal_out.empty:
            notes.append(
                f"separation → metal: the oxide-per-metal ratio of {element} is unknown, so the oxide going "
                "into metal making is not shown."
            )
        links, uns, rex = _route(
            _sources(prod, oxide), tr[tr["commodity"] == oxide], pd.concat(uses, ignore_index=True)
        )
        add(links, "separation → metal / final use", to_unit)
        lost("separation → metal", uns, rex, to_unit)

    # 3. Metal → magnet making (the rest of the region's metal after final use of the metal).
    if metal not in set(prod["commodity"]):
        notes.append(f"metal → magnet: no {metal} in the run ({element} does not go into magnets here).")
        content = pd.Series(dtype=float)
    else:
        pool = _pool(prod, tr, metal)
        final = _final_uses(cons, metal)
        magnets = (
            prod[(prod["commodity"] == "magnet:ndfeb") & (prod["kind"] == "magnet")]
            .groupby("region")["tonnes"]
            .sum()
        )
        into = (
            pool.reindex(magnets.index)
            .fillna(0.0)
            .sub(final.groupby("region")["tonnes"].sum(), fill_value=0.0)
        )
        into = into.clip(lower=0.0).reindex(magnets.index).fillna(0.0)
        uses = pd.concat(
            [
                final,
                pd.DataFrame({"node": [_node("magnet", r) for r in into.index], "region": into.index}).assign(
                    tonnes=into.to_numpy()
                ),
            ],
            ignore_index=True,
        )
        links, uns, rex = _route(_sources(prod, metal), tr[tr["commodity"] == metal], uses)
        add(links, "metal → magnet")
        lost("metal → magnet", uns, rex, 1.0)
        content = (into / magnets.where(magnets > 0)).dropna()
        # 4. Magnets → using sectors, at the element content of the maker's magnets.
        if magnets.sum() <= 0:
            notes.append(f"magnet → sectors: no magnet output in {year}.")
        else:
            avg = float(into.sum() / magnets.sum())
            src = _sources(prod, "magnet:ndfeb")
            scale = {n: float(content.get(r, avg)) for n, r in zip(src["node"], src["region"], strict=True)}
            links, uns, rex = _route(
                src, tr[tr["commodity"] == "magnet:ndfeb"], _final_uses(cons, "magnet:ndfeb")
            )
            add(links, "magnet → sectors", pd.Series(scale))
            lost("magnet → sectors", uns, rex, avg)
    links = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({"source": [], "target": [], "tonnes": [], "stage": []})
    )
    links = links[links["tonnes"] > 1e-6].reset_index(drop=True)
    return SankeyFlows(element, int(year), unit, links[["source", "target", "stage", "tonnes"]], notes, k)


_STAGE_RANK = {"mining": 0, "separation": 1, "metal": 2, "magnet": 3, "stock release": 1}


def sankey_figure(flows: SankeyFlows) -> go.Figure:
    """The Sankey diagram of :func:`sankey_flows` (nodes ``stage: region``, coloured by region)."""
    links = flows.links
    names = pd.unique(pd.concat([links["source"], links["target"]], ignore_index=True))
    names = sorted(
        names, key=lambda n: (_STAGE_RANK.get(n.split(": ")[0], 4), n.split(": ")[0], n.split(": ")[-1])
    )
    index = {n: i for i, n in enumerate(names)}
    regions = [n.split(": ")[-1] for n in names]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            valueformat=",.0f",
            valuesuffix=" t",
            node={
                "label": list(names),
                "color": [region_color(r) for r in regions],
                "pad": 12,
                "thickness": 16,
                "line": {"color": "#555", "width": 0.4},
            },
            link={
                "source": [index[s] for s in links["source"]],
                "target": [index[t] for t in links["target"]],
                "value": links["tonnes"].round(3).tolist(),
                "color": [_rgba(region_color(s.split(": ")[-1]), 0.35) for s in links["source"]],
                "customdata": links["stage"].tolist(),
                "hovertemplate": "%{source.label} → %{target.label}<br>%{value} (%{customdata})<extra></extra>",
            },
        )
    )
    return _layout(
        fig,
        max(520, 20 * len(names)),
        title={"text": f"{flows.element} through the chain in {flows.year}, {flows.unit}", "x": 0.01},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )


# ------------------------------------------------------------------------------ shares by stage
def stage_shares(production: pd.DataFrame, period: str) -> pd.DataFrame:
    """Shares of production by stage and region in ``period`` (stock releases left out).

    Returns
    -------
    DataFrame
        ``stage, region, tonnes, share_pct``: tonnes of concentrate (REO), oxide (REO), metal or
        magnet produced in the period and the region's share of the stage's world total.
    """
    p = production[(production["period"] == period) & (production["kind"] != "supply")]
    rows = []
    for stage, prefix in SHARE_STAGES:
        g = p[p["commodity"].str.startswith(prefix + ":")].groupby("region")["tonnes"].sum()
        total = float(g.sum())
        for region, t in g.items():
            rows.append(
                {
                    "stage": stage,
                    "region": region,
                    "tonnes": float(t),
                    "share_pct": 100 * float(t) / total if total > 0 else 0.0,
                }
            )
    return pd.DataFrame(rows, columns=["stage", "region", "tonnes", "share_pct"])


def map_figure(shares: pd.DataFrame, countries: pd.DataFrame) -> go.Figure:
    """Choropleth of the production shares with a dropdown over the stages.

    Countries take the share of their model region (``countries``: iso3, name, region);
    every member of an aggregate (EU, ROW) shows the aggregate's share.
    """
    stages = [s for s, _ in SHARE_STAGES if s in set(shares["stage"])]
    fig = go.Figure()
    for i, stage in enumerate(stages):
        s = shares[shares["stage"] == stage].set_index("region")["share_pct"]
        c = countries.assign(share=countries["region"].map(s).fillna(0.0))
        agg = c["region"].isin(["EU", "ROW"])
        label = np.where(agg, c["region"] + " (aggregate)", c["region"])
        fig.add_trace(
            go.Choropleth(
                locations=c["iso3"],
                locationmode="ISO-3",
                z=c["share"].round(2),
                zmin=0,
                zmax=100,
                customdata=np.column_stack([c["name"], label]),
                colorscale="YlOrRd",
                marker={"line": {"color": "#888", "width": 0.3}},
                colorbar={"title": {"text": "% of world"}, "ticksuffix": " %", "len": 0.8},
                name=stage,
                visible=i == 0,
                hovertemplate="%{customdata[0]}<br>region %{customdata[1]}: %{z:.1f} %<extra>"
                + stage
                + "</extra>",
            )
        )
    buttons = [
        {
            "label": stage,
            "method": "update",
            "args": [
                {"visible": [j == i for j in range(len(stages))]},
                {"title.text": f"Share of world {stage} output by region"},
            ],
        }
        for i, stage in enumerate(stages)
    ]
    fig.update_layout(
        updatemenus=[{"buttons": buttons, "x": 0.0, "xanchor": "left", "y": 1.08, "yanchor": "top"}],
        title={"text": f"Share of world {stages[0] if stages else ''} output by region", "x": 0.5},
        geo={
            "scope": "world",
            "resolution": 110,
            "projection": {"type": "natural earth"},
            "showframe": False,
            "showcoastlines": True,
            "coastlinecolor": "#999",
            "showcountries": True,
            "countrycolor": "#bbb",
            "showland": True,
            "landcolor": "#f2f2f2",
            "lataxis": {"range": [-58, 85]},
        },
    )
    return _layout(fig, 520, margin={"l": 0, "r": 0, "t": 70, "b": 0})


def shares_heatmap(shares: pd.DataFrame) -> go.Figure:
    """Heat map of the production shares, stage x region (percent of the stage's world output)."""
    stages = [s for s, _ in SHARE_STAGES if s in set(shares["stage"])]
    order = shares.groupby("region")["share_pct"].max().sort_values(ascending=False).index.tolist()
    z = shares.pivot_table(index="stage", columns="region", values="share_pct", aggfunc="sum").reindex(
        index=stages, columns=order
    )
    t = shares.pivot_table(index="stage", columns="region", values="tonnes", aggfunc="sum").reindex(
        index=stages, columns=order
    )
    text = [[("" if np.isnan(v) else f"{v:.1f}") for v in row] for row in z.to_numpy()]
    fig = go.Figure(
        go.Heatmap(
            z=z.to_numpy(),
            x=order,
            y=stages,
            text=text,
            texttemplate="%{text}",
            customdata=t.to_numpy(),
            colorscale="YlOrRd",
            zmin=0,
            zmax=100,
            colorbar={"title": {"text": "%"}, "ticksuffix": " %"},
            hovertemplate="%{y}, %{x}: %{z:.1f} % (%{customdata:,.0f} t)<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, 300, margin={"l": 90, "r": 20, "t": 30, "b": 40})


# ------------------------------------------------------------------------------------- welfare
def waterfall_data(welfare_discounted: pd.DataFrame, region: str) -> pd.DataFrame:
    """Components of the discounted welfare change of ``region`` (``"world"``: sum of the regions).

    Returns
    -------
    DataFrame
        ``component, pv_usd_million, measure``: each component of :data:`COMPONENTS`
        (0 where the table has no row) with measure ``relative``, then ``total`` with the
        table's total row (the sum of the regions' totals for the world).
    """
    w = welfare_discounted
    if region != "world":
        w = w[w["region"] == region]
    by = w.groupby("component")["pv_usd_million"].sum()
    extra = [c for c in by.index if c not in COMPONENTS and c != "total"]
    comps = [*COMPONENTS, *sorted(extra)]
    rows = [{"component": c, "pv_usd_million": float(by.get(c, 0.0)), "measure": "relative"} for c in comps]
    total = float(by["total"]) if "total" in by.index else float(sum(r["pv_usd_million"] for r in rows))
    rows.append({"component": "total", "pv_usd_million": total, "measure": "total"})
    return pd.DataFrame(rows)


def welfare_figure(
    welfare_discounted: pd.DataFrame, regions: Sequence[str], discount_rate: float
) -> go.Figure:
    """Waterfalls of the discounted welfare change by component, one panel per region."""
    cols = 3
    rows = -(-len(regions) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"{r}: {waterfall_data(welfare_discounted, r).iloc[-1, 1]:+,.0f}" for r in regions],
        horizontal_spacing=0.07,
        vertical_spacing=0.22,
    )
    for i, region in enumerate(regions):
        d = waterfall_data(welfare_discounted, region)
        fig.add_trace(
            go.Waterfall(
                name=region,
                x=[c.replace("_", " ") for c in d["component"]],
                y=d["pv_usd_million"].round(3),
                measure=d["measure"],
                text=[f"{v:+,.0f}" if abs(v) >= 0.5 else "" for v in d["pv_usd_million"]],
                textposition="outside",
                cliponaxis=False,
                connector={"line": {"color": "#aaa", "width": 0.6}},
                increasing={"marker": {"color": "#2ca02c"}},
                decreasing={"marker": {"color": "#d62728"}},
                totals={"marker": {"color": "#1f77b4"}},
                showlegend=False,
                hovertemplate=region + ", %{x}: %{y:+,.1f} million USD<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_xaxes(tickangle=-40, tickfont={"size": 10})
    fig.update_yaxes(tickformat=",", zeroline=True, zerolinecolor="#888")
    return _layout(
        fig,
        430 * rows,
        title={
            "text": f"Change in welfare, present value at {100 * discount_rate:g} %/yr, million USD",
            "x": 0.01,
        },
        margin={"l": 60, "r": 20, "t": 80, "b": 90},
    )


# ------------------------------------------------------------------------------------ shortages
def shortage_series(shortages: pd.DataFrame, china: str = CHINA) -> pd.DataFrame:
    """Shortfall of consumption below the counterfactual by scope (world, outside China, USA), sector, period.

    Returns
    -------
    DataFrame
        ``scope, sector, period, year, x, tonnes_per_year, tonnes_per_year_cf, shortage_tonnes_per_year,
        shortage_pct``: consumption summed over the scope's regions; the shortfall is the
        counterfactual minus the scenario, floored at 0 (a rise is no shortage).
    """
    s = shortages[~shortages["sector"].isin(NON_FINAL_SECTORS)]
    n = steps_per_year(s)
    out = []
    for scope, mask in (
        ("world", s["region"].notna()),
        ("outside China", s["region"] != china),
        ("USA", s["region"] == "USA"),
    ):
        g = s[mask].groupby(["sector", "period", "year"], as_index=False)[["tonnes", "tonnes_cf"]].sum()
        per = g["year"].map(n).astype(float)
        g["tonnes_per_year"] = g["tonnes"] * per
        g["tonnes_per_year_cf"] = g["tonnes_cf"] * per
        g["shortage_tonnes_per_year"] = (g["tonnes_per_year_cf"] - g["tonnes_per_year"]).clip(lower=0.0)
        g["shortage_pct"] = np.where(
            g["tonnes_per_year_cf"] > 0,
            100 * g["shortage_tonnes_per_year"] / g["tonnes_per_year_cf"].where(g["tonnes_per_year_cf"] > 0),
            0.0,
        )
        g["scope"] = scope
        out.append(g)
    df = pd.concat(out, ignore_index=True)
    df["x"] = [period_x(p, y) for p, y in zip(df["period"], df["year"], strict=True)]
    return df[
        [
            "scope",
            "sector",
            "period",
            "year",
            "x",
            "tonnes_per_year",
            "tonnes_per_year_cf",
            "shortage_tonnes_per_year",
            "shortage_pct",
        ]
    ]


def shortage_figure(series: pd.DataFrame) -> go.Figure:
    """Shortfall in percent of counterfactual consumption over time, one panel per scope, one line per sector."""
    scopes = ["world", "outside China", "USA"]
    sectors = sorted(series["sector"].unique())
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    fig = make_subplots(rows=1, cols=3, subplot_titles=scopes, shared_yaxes=True, horizontal_spacing=0.04)
    for j, scope in enumerate(scopes):
        for i, sector in enumerate(sectors):
            g = series[(series["scope"] == scope) & (series["sector"] == sector)].sort_values("x")
            fig.add_trace(
                go.Scatter(
                    x=g["x"],
                    y=g["shortage_pct"],
                    customdata=g[["period", "shortage_tonnes_per_year"]],
                    mode="lines+markers",
                    marker={"size": 4},
                    name=sector,
                    legendgroup=sector,
                    showlegend=j == 0,
                    line={"color": palette[i % len(palette)]},
                    hovertemplate=f"{scope}, {sector}<br>%{{customdata[0]}}: %{{y:.1f}} % "
                    "(%{customdata[1]:,.0f} t/yr)<extra></extra>",
                ),
                row=1,
                col=j + 1,
            )
    fig.update_yaxes(rangemode="tozero", ticksuffix=" %")
    fig.update_yaxes(title="shortfall, % of counterfactual use", row=1, col=1)
    _year_axis(fig, series["x"])
    return _layout(fig, 380, legend={"orientation": "h", "y": -0.15, "x": 0})


# ----------------------------------------------------------------------------------------- risk
def china_share_figure(indicators: pd.DataFrame, commodities: Sequence[str], china: str = CHINA) -> go.Figure:
    """China's share of world production over time for ``commodities`` (from the indicators table)."""
    d = indicators[(indicators["indicator"] == "china_share") & (indicators["region"] == china)]
    fig = go.Figure()
    for com in commodities:
        g = d[d["commodity"] == com].sort_values("year")
        if g.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=g["year"],
                y=g["value"],
                mode="lines+markers",
                marker={"size": 4},
                name=f"{com} ({g['stage'].iloc[0]})",
                hovertemplate=f"{com}<br>%{{x}}: %{{y:.1f}} %<extra></extra>",
            )
        )
    fig.update_yaxes(range=[0, 101], ticksuffix=" %", title="China's share of world output")
    _year_axis(fig, d["year"])
    return _layout(fig, 380, legend={"orientation": "h", "y": -0.18, "x": 0})


def sum_links(links: pd.DataFrame, prefix: str, column: str = "source") -> float:
    """Tonnes on the links whose ``column`` node starts with ``prefix`` (e.g. ``"mining:"``)."""
    return float(links.loc[links[column].str.startswith(prefix), "tonnes"].sum())


def node_balance(links: pd.DataFrame) -> pd.DataFrame:
    """Inflow and outflow of every node that has both (``node, inflow, outflow``)."""
    inflow = links.groupby("target")["tonnes"].sum()
    outflow = links.groupby("source")["tonnes"].sum()
    both = inflow.index.intersection(outflow.index)
    return pd.DataFrame(
        {"node": both, "inflow": inflow[both].to_numpy(), "outflow": outflow[both].to_numpy()}
    )
