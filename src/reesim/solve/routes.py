"""Route costs calibrated to observed bilateral flows: positive mathematical programming.

Homogeneous goods traded at a flat transport cost give corner solutions: every buyer takes
the cheapest origin, routes with equal costs tie, and a small wedge moves a whole flow.
Observed trade is not like that (offtake contracts, qualified suppliers, logistics), so the
model gives every trade edge a calibrated route cost

    route(f) = transport * f + route_cost * f + route_quad * f^2 / 2

with the two route terms chosen by positive mathematical programming (PMP; Howitt 1995,
*AJAE* 77(2) 329-342; Paris & Howitt 1998, *AJAE* 80(1) 124-138), so that the calibrated
QP reproduces the reference year's flows exactly and responds smoothly to wedges:

1. **Calibration solve.** Every targeted edge is held at its observed flow ``f0`` (the edge
   leaves the QP and its flow enters the balances as a fixed shipment); the rest of the
   market clears. The price gap ``lambda = p_dest - p_orig - transport - congestion f0`` is
   the PMP dual: what it takes to hold the route at its observed flow (positive: the route
   carries more than the flat-cost model would; negative: less).
2. **Route costs.** The slope is set from a route elasticity ``sigma`` (the percentage change
   of the route's flow for a change of its margin by one percent of the delivered price),
   ``route_quad = p_dest / (sigma f0)``; the intercept makes the marginal route cost at
   ``f0`` equal the observed gap, ``route_cost = lambda - route_quad f0``. Edges without a
   target that carry a flow in the calibration solve are calibrated in the same way to that
   flow (``lambda = 0``); unused edges get the slope of a typical route of their good at
   ``route_cost = 0``, so they open only when a wedge makes them worth it; routes observed
   closed (target 0) keep their calibration-solve margin as route cost. (A route's slope is
   taken at no less than a tenth of its good's typical flow and 10 t, for the solver's
   conditioning.)

At the calibrated costs the KKT conditions of the calibration solve hold with every edge
free, so the calibrated equilibrium *is* the calibration solve (tested). ``sigma`` plays
the part of an Armington elasticity (GTAP: 4.2 for the domestic/import choice of
non-ferrous metals, 8.4 among import sources; Hertel et al. 2012, GTAP 8 Data Base
Documentation ch. 14): a wedge of ``w`` USD/kg on a route moves its flow by about
``-sigma f0 w / p_dest`` when prices elsewhere stay put.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from reesim.errors import InputError
from reesim.model.qp import build_qp, edge_tuples, key_positions
from reesim.world.world import World

TARGET_COLUMNS = ["commodity", "origin", "dest", "flow"]


def _fixed_flow_qp(world: World, targets: pd.DataFrame):
    """The QP of ``world`` with the targeted edges held at their flows (calibration solve)."""
    qp = build_qp(world)
    keys = edge_tuples(targets)  # looked up in the QP's dicts, not a MultiIndex each
    pos = key_positions(qp.edge_index, keys)
    if (pos < 0).any():
        bad = targets[pos < 0].iloc[0]
        raise InputError(
            f"route target {bad['commodity']} {bad['origin']}->{bad['dest']} is not a trade edge of the world"
        )
    ub = qp.ub.copy()
    ub[qp.n_proc + qp.n_dem + pos] = 0.0
    h = qp.h.copy()
    flow = targets["flow"].astype(float).to_numpy()
    dest = key_positions(qp.node_index, [(c, d) for c, _, d in keys])
    orig = key_positions(qp.node_index, [(c, o) for c, o, _ in keys])
    np.add.at(h, dest, flow)  # a fixed inflow relaxes the destination's balance
    np.add.at(h, orig, -flow)  # a fixed outflow tightens the origin's
    return replace(qp, ub=ub, h=h), pos


def calibrate_routes(
    world: World,
    targets: pd.DataFrame,
    sigma: float,
    *,
    min_flow: float = 1e-4,
    min_scale: float = 0.01,
) -> tuple[World, pd.DataFrame]:
    """Route costs that reproduce ``targets`` exactly (PMP, see the module docstring).

    Parameters
    ----------
    world : World
        The uncalibrated world (flat transport costs; no policy wedges).
    targets : DataFrame
        ``commodity, origin, dest, flow``: observed flows (world quantity unit per year) on
        trade edges of ``world``; a flow of 0 is a route observed closed (held at 0 in the
        calibration solve, then given its margin there as a route cost).
    sigma : float
        Route elasticity (> 0).
    min_flow : float
        Flows below this count as zero (unused edges).
    min_scale : float
        Smallest flow at which a slope is set (world quantity unit; 0.01 kt = 10 t in the
        default world): routes of goods traded by the tonne would otherwise get slopes a
        million times those of the oxides and the QP becomes ill-conditioned.

    Returns
    -------
    (World, DataFrame)
        The calibrated world (``edges.route_cost``, ``edges.route_quad``) and one row per
        edge: ``commodity, origin, dest, flow, target, gap_usd_per_kg, route_cost, route_quad``.

    Raises
    ------
    InputError
        If a target names an unknown edge, is negative, or the calibration solve is
        infeasible (the targets ship more than the origin can supply).
    """
    from reesim.solve.backends import PiqpBackend
    from reesim.solve.equilibrium import SOLVE_FAILURES, _solve

    if sigma <= 0:
        raise InputError(f"route elasticity sigma must be > 0; got {sigma}")
    targets = targets[TARGET_COLUMNS].reset_index(drop=True)
    if not (targets["flow"].astype(float) >= 0).all():
        bad = targets[~(targets["flow"].astype(float) >= 0)].iloc[0]
        raise InputError(
            f"route target {bad['commodity']} {bad['origin']}->{bad['dest']}: flow must be >= 0; got {bad['flow']}"
        )
    if targets.duplicated(["commodity", "origin", "dest"]).any():
        raise InputError("route targets: an edge is targeted twice")
    qp, pos = _fixed_flow_qp(world, targets)
    try:
        raw = _solve(PiqpBackend(), qp)
    except SOLVE_FAILURES as exc:
        raise InputError(f"route calibration: the targeted flows cannot be shipped ({exc})") from None
    n = qp.n_nodes
    prices = np.maximum(np.nan_to_num(raw.row_dual[:n], nan=0.0), 0.0)
    e = world.edges
    orig, dest = qp.edge_ends  # each edge's origin and destination balance rows
    p_o, p_d = prices[orig], prices[dest]
    flow = raw.x[qp.n_proc + qp.n_dem :].copy()
    flow[pos] = targets["flow"].astype(float).to_numpy()
    target = np.full(len(e), np.nan)
    target[pos] = flow[pos]
    closed = np.zeros(len(e), bool)
    closed[pos[targets["flow"].astype(float).to_numpy() == 0]] = True
    transport = e["transport"].astype(float).to_numpy()
    rc0 = e["route_cost"].astype(float).to_numpy()
    base_quad = world.congestion + e["route_quad"].astype(float).to_numpy()
    used = flow > min_flow
    margin = p_d - p_o - transport - rc0  # what the route earns above its costs before calibration
    gap = np.where(used, margin - base_quad * flow, 0.0)
    # The slope is set at the largest of the route's flow, a tenth of its good's typical flow (the
    # mean over the good's used routes; also the scale of unused routes) and ``min_scale``: a route
    # carrying a trickle would otherwise get a slope 1e5 times its neighbours' (PMP reproduces the
    # calibration point for any positive slope; only conditioning is at stake). Trickles below
    # ``min_scale`` do not set a good's typical flow: two flows of under a tonne of Pr metal from
    # the U.S. would otherwise give every Pr-metal route a slope 100 times that of the Nd-metal ones.
    sizable = flow >= min_scale
    typical = pd.Series(np.where(sizable, flow, np.nan)).groupby(e["commodity"].to_numpy()).transform("mean")
    typical = typical.fillna(1.0).to_numpy()
    scale = np.maximum(np.where(used, np.maximum(flow, 0.1 * typical), typical), min_scale)
    level = np.maximum(p_d, transport)  # a free co-product (price 0) still has a slope
    quad = level / (sigma * scale)
    # A route observed closed keeps its calibration-solve margin as a barrier (unobserved costs:
    # contracts, qualification), so it stays closed at the reference and opens on a wedge.
    route_cost = np.where(used, rc0 + gap - quad * flow, rc0 + np.where(closed, np.maximum(0.0, margin), 0.0))
    edges = e.assign(route_cost=route_cost, route_quad=e["route_quad"].astype(float).to_numpy() + quad)
    table = pd.DataFrame(
        {
            "commodity": e["commodity"],
            "origin": e["origin"],
            "dest": e["dest"],
            "flow": np.where(used, flow, 0.0),
            "target": target,
            "gap_usd_per_kg": gap,
            "route_cost": route_cost,
            "route_quad": edges["route_quad"].to_numpy(),
        }
    )
    return world.replace(edges=edges), table


@dataclass(frozen=True)
class RouteScale:
    """Route slopes of a market that has grown since the reference year: ``route_quad / scale``.

    PMP route costs are calibrated at the reference year's volumes; with each slope divided by
    its good's market size the marginal route cost at ``scale x f0`` is still the calibrated
    gap, so a market that grows does not price its own growth as congestion (the calibrated
    cost function is homogeneous of degree one in the market's scale). A good's size is the
    reference-quantity-weighted mean of its demands' growth (demand multiplier x substitution);
    a good without final demand (concentrates, metals, mixed concentrates) takes the mean over
    every demand of the world. Built once per simulation; :meth:`quad` is one matrix product.
    """

    route_quad: np.ndarray  # reference slopes, one per edge
    weights: np.ndarray  # edges x demands, rows summing to 1
    has_demand: np.ndarray  # rows with weights (every row, unless the world has no demand)

    @classmethod
    def of(cls, world: World, ref_quantity: np.ndarray) -> RouteScale:
        """The scaling of ``world``'s routes, with the reference solution's demand quantities."""
        q0 = np.maximum(np.asarray(ref_quantity, dtype=float), 0.0)
        goods = world.demands["commodity"].to_numpy()
        every = q0 / q0.sum() if q0.sum() > 0 else np.zeros_like(q0)
        rows = {}
        edge_goods = world.edges["commodity"].tolist()
        for com in set(edge_goods):
            w = np.where(goods == com, q0, 0.0)
            rows[com] = w / w.sum() if w.sum() > 0 else every
        weights = np.stack([rows[c] for c in edge_goods]) if len(world.edges) else np.zeros((0, len(q0)))
        return cls(world.edges["route_quad"].astype(float).to_numpy(), weights, weights.sum(axis=1) > 0)

    def quad(self, growth: np.ndarray) -> np.ndarray:
        """Route slopes for demand growth ``growth`` (one factor per demand, 1 = reference)."""
        if not self.weights.size:
            return self.route_quad
        scale = self.weights @ np.asarray(growth, dtype=float)
        scale = np.where(self.has_demand, scale, 1.0)  # a world with no demand at all
        return self.route_quad / np.maximum(scale, 1e-6)
