"""The element Sankey: flows of one element through mining, separation, metal, magnets and uses."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reesim.reports.figures.common import (
    STAGE_OF_KIND,
    _layout,
    _rgba,
    region_color,
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
    # Heavy circuits: China's, a plant's outside China (crack-heavy:<region>:<ore>:<plant>) and
    # China's for such a plant's residue (crack-heavy-rest:...); their oxide outputs together are
    # the ore's heavy compound, so the residue itself (a concentrate) is left out of the shares.
    sep = sep.assign(
        ore=sep["process"].str.split(":").str[2], heavy=sep["process"].str.startswith("crack-heavy")
    )
    heavy_out = sep[sep["heavy"] & ~sep["commodity"].str.startswith("concentrate:")]
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
