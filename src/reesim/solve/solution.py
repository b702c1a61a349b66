"""The solution of one market year: immutable, labelled, separate from the inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reesim.memo import memo_of
from reesim.model.qp import QP
from reesim.solve.backends import RawSolution
from reesim.solve.guards import GuardReport
from reesim.world.world import World


def _frozen(df: pd.DataFrame) -> pd.DataFrame:
    for col in df.columns:
        arr = df[col].to_numpy()
        if isinstance(arr, np.ndarray) and arr.dtype != object:
            arr.flags.writeable = False
    return df


@dataclass(frozen=True)
class Solution:
    """Prices, production, trade, consumption and rents of one solved year.

    The solver's arrays are kept read-only and the labelled tables are built on first
    access (so a solve costs no table building unless the tables are read). Every table is
    returned as a fresh copy: editing it cannot change the solution, and nothing is ever
    written back into the :class:`~reesim.world.world.World`.

    Units: quantities in the world's ``quantity_unit`` per year, prices and rents in USD/kg.
    """

    world: World = field(repr=False)
    qp: QP = field(repr=False)
    raw: RawSolution = field(repr=False)
    wedges: np.ndarray = field(repr=False)
    wedge_iterations: int
    guards: GuardReport | None

    def __post_init__(self) -> None:
        for arr in (self.raw.x, self.raw.row_dual, self.raw.ub_dual, self.wedges):
            arr.flags.writeable = False

    @property
    def world_name(self) -> str:
        """Name of the world solved."""
        return self.world.name

    @property
    def quantity_unit(self) -> str:
        """Unit of quantities."""
        return self.world.quantity_unit

    @property
    def solver(self) -> str:
        """Back end that solved it."""
        return self.raw.solver

    @property
    def iterations(self) -> int:
        """Solver iterations of the last solve."""
        return self.raw.iterations

    @property
    def sizes(self) -> dict:
        """Problem size before and after presolve."""
        return self.qp.sizes()

    @cached_property
    def node_prices(self) -> np.ndarray:
        """Price at each node (``qp.node_index`` order), USD/kg: the values of :attr:`price_map`."""
        n = self.qp.n_nodes
        prices = np.maximum(np.nan_to_num(self.raw.row_dual[:n], nan=0.0), 0.0)
        prices.flags.writeable = False  # the solution's: read, never changed
        return prices

    @cached_property
    def price_map(self) -> dict[tuple[str, str], float]:
        """Price by (commodity, region), USD/kg, without building the tables."""
        return dict(zip(self.qp.node_index, self.node_prices, strict=True))  # the nodes' keys, in row order

    @property
    def activity(self) -> np.ndarray:
        """Process activities in ``world.processes`` order (read-only)."""
        return self.raw.x[: self.qp.n_proc]

    @property
    def quantities(self) -> np.ndarray:
        """Demand quantities in ``world.demands`` order (read-only)."""
        return self.raw.x[self.qp.n_proc : self.qp.n_proc + self.qp.n_dem]

    @property
    def capacity_rents(self) -> np.ndarray:
        """Capacity duals (USD/kg) in ``world.processes`` order (read-only)."""
        return self.raw.ub_dual[: self.qp.n_proc]

    @cached_property
    def shipments(self) -> dict[tuple[str, str, str], float]:
        """Flows by (origin, commodity, destination), two-way pairs on a route netted, for the
        flows of the ``trade`` table (above the solver's accuracy), without building the tables."""
        v = self.raw.x
        f = _net_two_way(self.world, v[self.qp.n_proc + self.qp.n_dem :])
        keep = np.flatnonzero(f > accuracy(v))
        origin, commodity, dest = (
            self.world.column("edges", c).to_numpy()[keep].tolist() for c in ("origin", "commodity", "dest")
        )
        return dict(zip(zip(origin, commodity, dest, strict=True), f[keep].tolist(), strict=True))

    @cached_property
    def consumption_map(self) -> dict[tuple[str, str], float]:
        """Consumption by (commodity, region), summed over sectors."""
        labels = (self.world.column("demands", c).tolist() for c in ("commodity", "region"))
        out: dict[tuple[str, str], float] = {}
        keys = zip(*labels, strict=True)
        for key, q in zip(keys, self.quantities, strict=True):
            out[key] = out.get(key, 0.0) + float(q)  # a plain loop: ~0.1 ms, a MultiIndex ~1.5 ms
        return out

    @cached_property
    def _tables(self) -> dict[str, pd.DataFrame]:
        return {k: _frozen(v) for k, v in _build_tables(self.world, self.qp, self.raw, self.wedges).items()}

    @property
    def prices(self) -> pd.DataFrame:
        """``commodity, region, usd_per_kg, determined``: balance duals. ``determined`` is
        False where nothing is bought or sold at the node (any price in a range would do)."""
        return self._tables["prices"].copy()

    @property
    def production(self) -> pd.DataFrame:
        """``process, region, kind, activity, capacity, capacity_rent_usd_per_kg``."""
        return self._tables["production"].copy()

    @property
    def outputs(self) -> pd.DataFrame:
        """``process, region, commodity, quantity``: production (+) and use (-) by commodity."""
        return self._tables["outputs"].copy()

    @property
    def trade(self) -> pd.DataFrame:
        """``commodity, origin, dest, flow, transport_usd_per_kg, wedge_usd_per_kg`` for flows > 0."""
        return self._tables["trade"].copy()

    @property
    def consumption(self) -> pd.DataFrame:
        """``demand, sector, region, commodity, quantity, usd_per_kg``."""
        return self._tables["consumption"].copy()

    @property
    def quota_rents(self) -> pd.DataFrame:
        """``quota, limit, used, rent_usd_per_kg`` (rent = dual of the quota row)."""
        return self._tables["quota_rents"].copy()

    def price(self, commodity: str, region: str) -> float:
        """Price of ``commodity`` in ``region`` (USD/kg)."""
        p = self._tables["prices"]
        hit = p[(p["commodity"] == commodity) & (p["region"] == region)]
        if hit.empty:
            from reesim.errors import InputError

            raise InputError(f"no market for {commodity} in {region}")
        return float(hit["usd_per_kg"].iloc[0])

    def net_exports(self, commodity: str) -> pd.Series:
        """Exports minus imports of ``commodity`` by region."""
        t = self._tables["trade"]
        t = t[t["commodity"] == commodity]
        out = t.groupby("origin")["flow"].sum()
        inn = t.groupby("dest")["flow"].sum()
        return out.sub(inn, fill_value=0.0).reindex(list(self.world.regions), fill_value=0.0)

    def to_xarray(self):
        """Prices and consumption as an xarray Dataset with named dimensions."""
        import xarray as xr

        p = self._tables["prices"].set_index(["commodity", "region"])["usd_per_kg"]
        c = self._tables["consumption"].groupby(["commodity", "region"])["quantity"].sum()
        ds = xr.Dataset({"price": p.to_xarray(), "consumption": c.to_xarray()})
        ds["price"].attrs["units"] = "USD/kg"
        ds["consumption"].attrs["units"] = f"{self.quantity_unit}/yr"
        return ds


def prices_at(node_prices: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The node prices (:attr:`Solution.node_prices`) at positions ``pos`` in ``qp.node_index``
    (:func:`reesim.model.qp.key_positions`); 0 where a position is -1 (no such node): what a
    lookup in :attr:`Solution.price_map` with a default of 0 gives, without a dict lookup a key."""
    if not len(node_prices):  # a world without nodes
        return np.zeros(len(pos))
    return np.where(pos >= 0, node_prices[np.maximum(pos, 0)], 0.0)


def _reverse_edges(edges: pd.DataFrame) -> np.ndarray:
    """Position of each edge's reverse edge (-1 if none)."""
    from reesim.model.qp import edge_tuples

    keys = edge_tuples(edges)
    pos = {k: i for i, k in enumerate(keys)}
    return np.array([pos.get((c, d, o), -1) for c, o, d in keys], dtype=np.int64)


def accuracy(v: np.ndarray) -> float:
    """A quantity at or below this is zero for tables of the solution ``v`` (above the solver's accuracy)."""
    return 1e-7 * max(1.0, float(np.abs(v).max(initial=0.0)))


def _net_two_way(world: World, f: np.ndarray, rev: np.ndarray | None = None) -> np.ndarray:
    """Flows with two-way pairs on the same route netted (A->B and B->A both > 0).

    ``rev`` (:func:`_reverse_edges` of the world's edges) may be passed when known.
    """
    rev = _reverse_edges(world.edges) if rev is None else rev
    back = np.where(rev >= 0, f[np.maximum(rev, 0)], 0.0)
    return np.maximum(0.0, f - np.minimum(f, back))


def _row_blocks(qp: QP) -> tuple[sp.csc_matrix, sp.csr_matrix]:
    """``qp.G``'s balance rows as CSC and its quota and rule rows as CSR, kept per matrix
    (:func:`reesim.memo.memo_of`): a run's QPs share one matrix, so each step slices none."""
    memo = memo_of(qp.G)
    if "row_blocks" not in memo:
        memo["row_blocks"] = qp.G[: qp.n_nodes].tocsc(), qp.G[qp.n_nodes :].tocsr()
    return memo["row_blocks"]


def quota_block(qp: QP) -> sp.csc_matrix:
    """``qp.G``'s quota rows, sliced once per matrix like :func:`_row_blocks` (a run's QPs share
    one: a step's record read them every step, about 0.1 ms)."""
    memo = memo_of(qp.G)
    if "quota_block" not in memo:
        memo["quota_block"] = qp.G[qp.quota_rows]
    return memo["quota_block"]


def _patterns(qp: QP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The structure of ``qp.G``'s balance rows as the row and column of each stored entry (the
    node and variable it links) and a mask of the demand columns, kept per matrix like
    :func:`_row_blocks`: a step counts links with :func:`numpy.bincount` instead of multiplying
    sparse matrices (each product carried about 20 us of SciPy's checks)."""
    memo = memo_of(qp.G)
    if "patterns" not in memo:
        G, _ = _row_blocks(qp)
        cols = np.repeat(np.arange(G.shape[1]), np.diff(G.indptr))
        demand = np.zeros(qp.n, bool)
        demand[qp.n_proc : qp.n_proc + qp.n_dem] = True
        memo["patterns"] = G.indices.astype(np.intp), cols, demand
    return memo["patterns"]


def _quota_links(qp: QP) -> tuple[np.ndarray, np.ndarray]:
    """The quota and rule rows' stored entries as (row, column) index arrays, kept per matrix."""
    memo = memo_of(qp.G)
    if "quota_links" not in memo:
        _, others = _row_blocks(qp)
        memo["quota_links"] = np.repeat(np.arange(others.shape[0]), np.diff(others.indptr)), others.indices
    return memo["quota_links"]


def _determined(qp: QP, v: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    """Which balance duals (prices) are unique at this solution.

    A price is pinned by a variable strictly inside its bounds, through that variable's
    stationarity condition: consumption ``q > 0`` fixes ``p = a - b q``; a process strictly
    between 0 and capacity fixes the value of its outputs net of inputs to its marginal cost,
    so it pins the last of its prices once the others are pinned; a flow > 0 on an edge that
    is in no binding quota fixes ``p_dest - p_orig``. Prices are propagated through these
    relations to a fixed point; the rest lie in an interval (e.g. a metal made at capacity
    and not traded) and are reported as not determined.

    The links are counted with :func:`numpy.bincount` over the balance rows' stored entries
    (node ``row[k]`` and variable ``col[k]``): the count of a node's interior links and of a
    variable's undetermined nodes are sums of ones, exact in floating point.
    """
    n_nodes = qp.n_nodes
    if len(y) != qp.G.shape[0] or len(v) != qp.n:
        raise ValueError(
            f"_determined: {len(y)} duals and {len(v)} values for a QP of {qp.G.shape} rows x columns"
        )
    row, col, demand = _patterns(qp)  # the balance rows only: every row is a node
    q_row, q_col = _quota_links(qp)
    binding = y[n_nodes:] > tol
    in_binding = np.zeros(qp.n, bool)
    if binding.any():
        in_binding[q_col[binding[q_row]]] = True
    interior = (v > tol) & (v < qp.ub - tol) & ~in_binding

    def nodes_linked_to(cols: np.ndarray) -> np.ndarray:  # per node: links to the marked columns
        return np.bincount(row, weights=cols[col], minlength=n_nodes)

    # consumption strictly positive pins the price of its node directly
    det = nodes_linked_to((interior & demand).astype(float)) > 0
    # Fixed point, vectorised: a relation (interior column) with exactly one undetermined price
    # pins it. Marking is monotone, so firing all such columns at once reaches the same closure.
    while True:
        undetermined = np.bincount(col, weights=(~det).astype(float)[row], minlength=qp.n)
        fire = (undetermined == 1) & interior
        new = (nodes_linked_to(fire.astype(float)) > 0) & ~det
        if not new.any():
            return det
        det |= new


def _build_tables(world: World, qp: QP, raw: RawSolution, wedges: np.ndarray) -> dict[str, pd.DataFrame]:
    """Labelled tables of a raw solution (vectorised)."""
    v = raw.x
    n_p, n_d = qp.n_proc, qp.n_dem
    x, q, f = v[:n_p], v[n_p : n_p + n_d], _net_two_way(world, v[n_p + n_d :])
    y = raw.row_dual
    nodes = qp.nodes
    prices = np.maximum(np.nan_to_num(y[: len(nodes)], nan=0.0), 0.0)
    tol = accuracy(v)
    v_net = np.concatenate([v[: n_p + n_d], f])  # two-way flows on one route netted
    determined = _determined(qp, v_net, np.nan_to_num(y, nan=0.0), tol)
    price_df = nodes.assign(usd_per_kg=prices, determined=determined)

    p = world.processes
    production = pd.DataFrame(
        {
            "process": p["process"],
            "region": p["region"],
            "kind": p["kind"],
            "activity": x,
            "capacity": p["capacity"].astype(float),
            "capacity_rent_usd_per_kg": raw.ub_dual[:n_p],
        }
    )
    io = world.io
    act = pd.Series(x, index=p["process"])
    outputs = pd.DataFrame(
        {
            "process": io["process"],
            "region": io["process"].map(dict(zip(p["process"].tolist(), p["region"].tolist(), strict=True))),
            "commodity": io["commodity"],
            "quantity": io["coef"].astype(float).to_numpy() * act.reindex(io["process"]).to_numpy(),
        }
    )
    e = world.edges
    trade = pd.DataFrame(
        {
            "commodity": e["commodity"],
            "origin": e["origin"],
            "dest": e["dest"],
            "flow": f,
            "transport_usd_per_kg": e["transport"].astype(float),
            # marginal calibrated route cost (PMP term, reesim.solve.routes) at this flow
            "route_usd_per_kg": e["route_cost"].astype(float).to_numpy()
            + (world.congestion + e["route_quad"].astype(float).to_numpy()) * f,
            "wedge_usd_per_kg": qp.base_edge_cost
            - e["transport"].astype(float).to_numpy()
            - e["route_cost"].astype(float).to_numpy()
            + wedges,
        }
    )
    trade = trade[trade["flow"] > tol].reset_index(drop=True)
    d = world.demands
    node_price = pd.Series(prices, index=pd.MultiIndex.from_frame(nodes))
    paid = node_price.reindex(pd.MultiIndex.from_frame(d[["commodity", "region"]])).to_numpy()
    enduse = world.enduse_rules
    premium = np.maximum(np.nan_to_num(y[qp.enduse_rows], nan=0.0), 0.0)
    if len(enduse):  # users under an end-use exclusion pay the exclusion's premium on top
        paid = paid + np.bincount(
            pd.Index(d["demand"]).get_indexer(enduse["demand"]), weights=premium, minlength=len(d)
        )
    consumption = pd.DataFrame(
        {
            "demand": d["demand"],
            "sector": d["sector"],
            "region": d["region"],
            "commodity": d["commodity"],
            "quantity": q,
            "usd_per_kg": paid,
        }
    )
    quotas = world.quotas.reset_index(drop=True)
    used = (quota_block(qp) @ v) if len(quotas) else np.zeros(0)
    rents = pd.DataFrame(
        {
            "quota": quotas["quota"],
            "limit": quotas["limit"].astype(float),
            "used": used,
            "rent_usd_per_kg": np.maximum(np.nan_to_num(y[qp.quota_rows], nan=0.0), 0.0),
        }
    )
    if len(enduse):  # an exclusion's row: the excluded users' purchases against their allowed supply
        used_eu, limit_eu = qp.enduse_usage(v, enduse["slack"].astype(float).to_numpy())
        rents = pd.concat(
            [
                rents,
                pd.DataFrame(
                    {
                        "quota": enduse["rule"].to_numpy(),
                        "limit": limit_eu,
                        "used": used_eu,
                        "rent_usd_per_kg": premium,
                    }
                ),
            ],
            ignore_index=True,
        )
    return {
        "prices": price_df,
        "production": production,
        "outputs": outputs,
        "trade": trade,
        "consumption": consumption,
        "quota_rents": rents,
    }
