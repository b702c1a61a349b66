"""Welfare accounting of one solved step, by region and component.

With linear inverse demand ``p = a - b q`` and linear marginal cost ``c + d x`` (the market
core), the surpluses at the equilibrium are the textbook integrals (Just, Hueth & Schmitz
2004, *The Welfare Economics of Public Policy*, ch. 4-6):

* consumer surplus of a demand: ``a q - b q^2 / 2 - p q``;
* producer surplus of a process: value of its outputs minus value of its inputs at the
  region's prices, minus its production cost ``c x + d x^2 / 2`` (with ``c`` net of
  subsidies and price-floor top-ups, which the producer receives);
* tariff revenue (ad valorem, CIF base) accrues to the importer, export-tax revenue (origin
  base) and quota rents (rent x flow) to the exporter, the congestion margin
  ``congestion x f^2 / 2`` to the exporter; transport and licence costs are real costs;
* fiscal costs (price-floor payments, offtake and stockpile purchases, per-unit subsidies) are
  paid by the named government; the goods taken into stock are not valued.

Identity (tested): summed over regions, consumer + producer surplus + tariff and tax revenue
+ quota rents + congestion margin = gross consumer utility - production cost - transport cost
- licence (specific wedge) cost - congestion cost, i.e. the QP's objective plus the ad
valorem wedges it charged. Quantities in kt and prices in USD/kg give million USD per year.
Purchases by the stockpile and offtake buyers are not consumer surplus (they are fiscal).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reesim.solve.solution import Solution

#: sectors whose purchases are government programmes, not final consumers
PUBLIC_BUYERS = ("stockpile", "offtake")

COMPONENTS = (
    "consumer_surplus",
    "producer_surplus",
    "tariff_revenue",
    "export_tax_revenue",
    "quota_rents",
    "congestion_margin",
)


def step_welfare(sol: Solution) -> pd.DataFrame:
    """Welfare components of one solved step (million USD per year) by region.

    Returns
    -------
    DataFrame
        ``region, component, usd_million_per_year``.
    """
    world, qp, raw = sol.world, sol.qp, sol.raw
    n, n_p, n_d = qp.n_nodes, qp.n_proc, qp.n_dem
    v = raw.x
    prices = np.maximum(np.nan_to_num(raw.row_dual[:n], nan=0.0), 0.0)
    node = pd.MultiIndex.from_frame(qp.nodes)
    rows: list[tuple[str, str, float]] = []

    d = world.demands
    q = v[n_p : n_p + n_d]
    a = d["intercept"].astype(float).to_numpy()
    b = d["slope"].astype(float).to_numpy()
    p_d = prices[node.get_indexer(pd.MultiIndex.from_frame(d[["commodity", "region"]]))]
    cs = a * q - 0.5 * b * q * q - p_d * q
    public = d["sector"].isin(PUBLIC_BUYERS).to_numpy()
    for region, val in pd.Series(np.where(public, 0.0, cs)).groupby(d["region"].to_numpy()).sum().items():
        rows.append((region, "consumer_surplus", float(val)))

    p = world.processes
    x = v[:n_p]
    io = world.io
    region_of = dict(zip(p["process"], p["region"], strict=True))
    io_region = io["process"].map(region_of)
    io_price = prices[
        node.get_indexer(pd.MultiIndex.from_arrays([io["commodity"].to_numpy(), io_region.to_numpy()]))
    ]
    pos = pd.Index(p["process"]).get_indexer(io["process"])
    value = np.zeros(n_p)
    np.add.at(value, pos, io["coef"].astype(float).to_numpy() * io_price * x[pos])
    cost = (
        p["mc_intercept"].astype(float).to_numpy() * x + 0.5 * p["mc_slope"].astype(float).to_numpy() * x * x
    )
    for region, val in pd.Series(value - cost).groupby(p["region"].to_numpy()).sum().items():
        rows.append((region, "producer_surplus", float(val)))

    e = world.edges
    f = v[n_p + n_d :]
    if len(world.ad_valorem):
        keys = pd.MultiIndex.from_frame(e[["commodity", "origin", "dest"]].astype(str))
        av = world.ad_valorem
        epos = keys.get_indexer(pd.MultiIndex.from_frame(av[["commodity", "origin", "dest"]].astype(str)))
        ok = epos >= 0
        av, epos = av[ok], epos[ok]
        p_o = prices[
            node.get_indexer(pd.MultiIndex.from_arrays([av["commodity"].to_numpy(), av["origin"].to_numpy()]))
        ]
        base = p_o + np.where(
            av["base"].to_numpy() == "cif", e["transport"].astype(float).to_numpy()[epos], 0.0
        )
        revenue = av["rate"].astype(float).to_numpy() * base * f[epos]
        is_tariff = av["base"].to_numpy() == "cif"
        for region, val in (
            pd.Series(revenue[is_tariff]).groupby(av["dest"].to_numpy()[is_tariff]).sum().items()
        ):
            rows.append((region, "tariff_revenue", float(val)))
        for region, val in (
            pd.Series(revenue[~is_tariff]).groupby(av["origin"].to_numpy()[~is_tariff]).sum().items()
        ):
            rows.append((region, "export_tax_revenue", float(val)))
    if len(world.quotas):
        rent = np.maximum(np.nan_to_num(raw.row_dual[n:], nan=0.0), 0.0)
        qrent = dict(zip(world.quotas["quota"], rent, strict=True))
        m = world.quota_members
        keys = pd.MultiIndex.from_frame(e[["commodity", "origin", "dest"]].astype(str))
        mpos = keys.get_indexer(pd.MultiIndex.from_frame(m[["commodity", "origin", "dest"]].astype(str)))
        val = m["quota"].map(qrent).to_numpy() * f[mpos]
        for region, v_ in pd.Series(val).groupby(m["origin"].to_numpy()).sum().items():
            rows.append((region, "quota_rents", float(v_)))
    if world.congestion > 0:
        margin = 0.5 * world.congestion * f * f
        for region, val in pd.Series(margin).groupby(e["origin"].to_numpy()).sum().items():
            rows.append((region, "congestion_margin", float(val)))
    out = pd.DataFrame(rows, columns=["region", "component", "usd_million_per_year"])
    return out.groupby(["region", "component"], as_index=False)["usd_million_per_year"].sum()


def world_welfare_identity(sol: Solution) -> tuple[float, float]:
    """(sum of all components, gross utility - production - transport - licence - congestion costs), million USD/yr."""
    world, qp, raw = sol.world, sol.qp, sol.raw
    n_p, n_d = qp.n_proc, qp.n_dem
    v = raw.x
    d, p, e = world.demands, world.processes, world.edges
    q, x, f = v[n_p : n_p + n_d], v[:n_p], v[n_p + n_d :]
    public = d["sector"].isin(PUBLIC_BUYERS).to_numpy()
    n = qp.n_nodes
    prices = np.maximum(np.nan_to_num(raw.row_dual[:n], nan=0.0), 0.0)
    node = pd.MultiIndex.from_frame(qp.nodes)
    p_d = prices[node.get_indexer(pd.MultiIndex.from_frame(d[["commodity", "region"]]))]
    a, b = d["intercept"].astype(float).to_numpy(), d["slope"].astype(float).to_numpy()
    utility = float(
        np.sum(np.where(public, p_d * q, a * q - 0.5 * b * q * q))
    )  # public buyers: value = spending
    cost = float(
        np.sum(
            p["mc_intercept"].astype(float).to_numpy() * x
            + 0.5 * p["mc_slope"].astype(float).to_numpy() * x * x
        )
    )
    specific = qp.base_edge_cost - e["transport"].astype(float).to_numpy()
    transport = float(np.sum(e["transport"].astype(float).to_numpy() * f))
    licence = float(np.sum(specific * f))
    congestion = float(0.5 * world.congestion * np.sum(f * f))
    total = float(step_welfare(sol)["usd_million_per_year"].sum())
    return total, utility - cost - transport - licence - congestion
