"""Welfare accounting of one solved step, by region and component.

With linear inverse demand ``p = a - b q`` and linear marginal cost ``c + d x`` (the market
core), the surpluses at the equilibrium are the textbook integrals (Just, Hueth & Schmitz
2004, *The Welfare Economics of Public Policy*, ch. 4-6):

* consumer surplus of a demand: ``a q - b q^2 / 2 - p q``;
* producer surplus of a process: value of its outputs minus value of its inputs at the
  region's prices, minus its production cost ``c x + d x^2 / 2`` (with ``c`` net of
  subsidies and price-floor top-ups, which the producer receives);
* tariff revenue (ad valorem, CIF base) accrues to the importer, export-tax revenue (origin
  base) and quota rents (rent x flow) to the exporter, the route margin
  ``(congestion + route_quad) x f^2 / 2`` (marginal minus average route cost, reported as
  ``congestion_margin``) to the exporter; transport, calibrated route costs and licence costs
  are real costs;
* fiscal costs (price-floor payments, offtake and stockpile purchases, per-unit subsidies) are
  paid by the named government; the goods taken into stock are not valued.

Identity (tested): summed over regions, consumer + producer surplus + tariff and tax revenue
+ quota rents + congestion margin = gross consumer utility - production cost - transport cost
- licence (specific wedge) cost - route costs, i.e. the QP's objective plus the ad
valorem wedges it charged. Quantities in kt and prices in USD/kg give million USD per year.
Purchases by the stockpile and offtake buyers are not consumer surplus (they are fiscal).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reesim.model.qp import edge_tuples, floats, key_positions
from reesim.solve.equilibrium import ad_valorem_terms
from reesim.solve.solution import Solution
from reesim.world.world import PRIVATE_STOCK_SECTOR, PURCHASE_RULE_SECTORS, STOCK_KIND

#: sectors whose purchases are not final consumption: government programmes and the private
#: stockholders of :mod:`reesim.simulate.storage` (whose stock changes are not valued)
PUBLIC_BUYERS = (*PURCHASE_RULE_SECTORS, PRIVATE_STOCK_SECTOR)

COMPONENTS = (
    "consumer_surplus",
    "producer_surplus",
    "tariff_revenue",
    "export_tax_revenue",
    "quota_rents",
    "congestion_margin",
)


def _positions(index: dict, labels: list) -> np.ndarray:
    """Each label's position in ``index``, as ``Series.map(index).to_numpy()`` gives it: an int
    array, or floats with NaN where a label is not in ``index``."""
    pos = [index.get(x) for x in labels]
    if any(v is None for v in pos):
        return np.array([np.nan if v is None else v for v in pos], dtype=float)
    return np.array(pos, dtype=np.int64)


def _layout(world, qp) -> dict[str, object]:
    """The index arrays of :class:`WelfareAccount` that ``world``'s labels decide (made once per
    process for worlds with the same labels, :func:`reesim.world.labels.shared`; read-only)."""
    from reesim.world.labels import frozen

    regions = list(world.regions)
    ridx = {r: i for i, r in enumerate(regions)}
    d, p, io, e = world.demands, world.processes, world.io, world.edges
    # labels read as lists and looked up in dicts (pandas maps cost about 4 ms a run)
    d_keys = edge_tuples(d, ("commodity", "region"))
    procs, p_regions = p["process"].tolist(), p["region"].tolist()
    io_procs = io["process"].tolist()
    region_of = dict(zip(procs, p_regions, strict=True))
    io_keys = zip(io["commodity"].astype(str).tolist(), [str(region_of[x]) for x in io_procs], strict=True)
    m, o = world.quota_members, world.origin_rules
    out = {
        "regions": regions,
        "d_node": key_positions(qp.node_index, d_keys),
        "d_reg": _positions(ridx, [r for _, r in d_keys]),
        "public": d["sector"].isin(PUBLIC_BUYERS).to_numpy(),
        "io_proc": key_positions({x: j for j, x in enumerate(procs)}, io_procs),
        "io_node": key_positions(qp.node_index, list(io_keys)),
        "p_reg": _positions(ridx, p_regions),
        "producing": (p["kind"] != STOCK_KIND).to_numpy(),
        "e_orig": _positions(ridx, e["origin"].tolist()),
        "e_dest": _positions(ridx, e["dest"].tolist()),
        "m_edge": key_positions(qp.edge_index, edge_tuples(m)),
        "m_quota": pd.Index(world.quotas["quota"]).get_indexer(m["quota"]),
        "m_orig": m["origin"].map(ridx).to_numpy(),
        "o_edge": key_positions(qp.edge_index, edge_tuples(o, ("commodity", "via", "dest"))),
        "o_via": o["via"].map(ridx).to_numpy(),
    }
    frozen(*(v for v in out.values() if isinstance(v, np.ndarray)))
    return out


class WelfareAccount:
    """Index arrays of a world's structure, built once and reused for every step's accounting."""

    def __init__(self, world, qp) -> None:
        from reesim.world.labels import shared

        lay = shared(world, "welfare", lambda: _layout(world, qp))
        self.regions = list(lay["regions"])
        self.d_node, self.d_reg, self.public = lay["d_node"], lay["d_reg"], lay["public"]
        self.io_proc, self.io_node, self.p_reg = lay["io_proc"], lay["io_node"], lay["p_reg"]
        self.producing, self.e_orig, self.e_dest = lay["producing"], lay["e_orig"], lay["e_dest"]
        self.m_edge, self.m_quota, self.m_orig = lay["m_edge"], lay["m_quota"], lay["m_orig"]
        self.o_edge, self.o_via = lay["o_edge"], lay["o_via"]
        self.node_pos, self.edge_pos = qp.node_index, qp.edge_index
        self.qp = qp  # its edge and node positions: those of every step's QP of the run
        # the numbers: coefficients, transport and route costs of this world
        self.io_coef = floats(world.io["coef"])
        self.transport = floats(world.edges["transport"])
        self.quad = world.congestion + floats(world.edges["route_quad"])
        self.congested = bool((self.quad > 0).any())
        self.m_coef = world.quota_members["coef"].astype(float).to_numpy()  # quota unit per unit of flow
        self.n_nodes, self.n_p, self.n_d = qp.n_nodes, qp.n_proc, qp.n_dem
        self.quota_rows, self.origin_rows = qp.quota_rows, qp.origin_rows
        # End-use exclusions: the excluded users pay the row's dual on what they buy (a loss of
        # consumer surplus) and the destination's own producers receive it on their output. The
        # allowed imports receive nothing more: their node price margin is already short of the
        # dual (p_dest = p_orig + transport - dual), which the users' payment covers.
        self.enduse_rows = qp.enduse_rows
        eu = qp.G[qp.enduse_rows].tocoo()
        col_region = np.concatenate([self.p_reg, self.d_reg, self.e_orig])
        self.eu_row, self.eu_col, self.eu_coef = eu.row, eu.col, eu.data
        self.eu_reg = col_region[eu.col] if eu.nnz else np.zeros(0, dtype=int)
        self.eu_is_demand = (eu.col >= qp.n_proc) & (eu.col < qp.n_proc + qp.n_dem)
        self.eu_is_process = eu.col < qp.n_proc

    def components(self, sol: Solution) -> pd.DataFrame:
        """Welfare components of one solved step: ``region, component, usd_million_per_year``."""
        return pd.DataFrame(self.rows(sol), columns=["region", "component", "usd_million_per_year"])

    def rows(self, sol: Solution) -> list[tuple[str, str, float]]:
        """:meth:`components` as ``(region, component, usd_million_per_year)`` tuples, zeros left
        out (a simulation records them each step and builds its table once)."""
        world, raw = sol.world, sol.raw
        n, n_p, n_d, R = self.n_nodes, self.n_p, self.n_d, len(self.regions)
        v = raw.x
        prices = np.maximum(np.nan_to_num(raw.row_dual[:n], nan=0.0), 0.0)
        out = np.zeros((R, len(COMPONENTS)))
        q = v[n_p : n_p + n_d]
        a, b = world.numbers("demands", "intercept"), world.numbers("demands", "slope")
        cs = np.where(self.public, 0.0, a * q - 0.5 * b * q * q - prices[self.d_node] * q)
        out[:, 0] = np.bincount(self.d_reg, weights=cs, minlength=R)
        x = v[:n_p]
        value = np.bincount(
            self.io_proc, weights=self.io_coef * prices[self.io_node] * x[self.io_proc], minlength=n_p
        )
        cost = (
            world.numbers("processes", "mc_intercept") * x
            + 0.5 * world.numbers("processes", "mc_slope") * x * x
        )
        out[:, 1] = np.bincount(self.p_reg, weights=np.where(self.producing, value - cost, 0.0), minlength=R)
        f = v[n_p + n_d :]
        if len(world.ad_valorem):
            # the rows' positions, kept per table by the solver (a step's tariffs are one object)
            epos, onode, rate, cif = ad_valorem_terms(world, self.qp)
            revenue = rate * (prices[onode] + np.where(cif, self.transport[epos], 0.0)) * f[epos]
            out[:, 2] = np.bincount(self.e_dest[epos][cif], weights=revenue[cif], minlength=R)
            out[:, 3] = np.bincount(self.e_orig[epos][~cif], weights=revenue[~cif], minlength=R)
        if len(self.m_edge):
            rent = np.maximum(np.nan_to_num(raw.row_dual[self.quota_rows], nan=0.0), 0.0)
            out[:, 4] = np.bincount(
                self.m_orig, weights=rent[self.m_quota] * self.m_coef * f[self.m_edge], minlength=R
            )
        if len(
            self.o_edge
        ):  # rents of the rules of origin accrue to the region allowed to ship its own goods
            rent = np.maximum(np.nan_to_num(raw.row_dual[self.origin_rows], nan=0.0), 0.0)
            out[:, 4] += np.bincount(self.o_via, weights=rent * f[self.o_edge], minlength=R)
        if len(self.eu_row):
            mu = np.maximum(np.nan_to_num(raw.row_dual[self.enduse_rows], nan=0.0), 0.0)
            amount = -mu[self.eu_row] * self.eu_coef * v[self.eu_col]  # < 0 for the users
            dem, made = self.eu_is_demand, self.eu_is_process
            out[:, 0] += np.bincount(self.eu_reg[dem], weights=amount[dem], minlength=R)
            out[:, 4] += np.bincount(self.eu_reg[made], weights=amount[made], minlength=R)
        if self.congested:
            out[:, 5] = np.bincount(self.e_orig, weights=0.5 * self.quad * f * f, minlength=R)
        return [  # the table as Python floats once, not an array element at a time
            (region, c, value)
            for region, values in zip(self.regions, out.tolist(), strict=True)
            for c, value in zip(COMPONENTS, values, strict=True)
            if value != 0.0
        ]


def step_welfare(sol: Solution) -> pd.DataFrame:
    """Welfare components of one solved step (million USD per year) by region.

    Returns
    -------
    DataFrame
        ``region, component, usd_million_per_year`` (rows with a zero value are left out).
    """
    return WelfareAccount(sol.world, sol.qp).components(sol)


def world_welfare_identity(sol: Solution) -> tuple[float, float]:
    """(sum of all components, gross utility - production - transport - licence - route costs), million USD/yr."""
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
    route_lin = e["route_cost"].astype(float).to_numpy()
    specific = qp.base_edge_cost - e["transport"].astype(float).to_numpy() - route_lin
    transport = float(np.sum((e["transport"].astype(float).to_numpy() + route_lin) * f))
    licence = float(np.sum(specific * f))
    quad = world.congestion + e["route_quad"].astype(float).to_numpy()
    congestion = float(0.5 * np.sum(quad * f * f))
    total = float(step_welfare(sol)["usd_million_per_year"].sum())
    return total, utility - cost - transport - licence - congestion
