"""Calibrated route costs that move with the price of the good they carry.

The positive-mathematical-programming route costs of :mod:`reesim.solve.routes` are calibrated in
USD/kg at the reference year's prices: ``route_quad = p_dest / (sigma f0)`` gives the route the
constant elasticity ``sigma`` of GTAP's Armington substitution (Hertel et al. 2012) *at the
reference price* only. Fixed in dollars, the slope makes the effective elasticity
``sigma p_t / p_0``: a route whose good falls to 40 % of its reference price becomes 2.5 times
stiffer, and its calibrated gap (``route_cost + route_quad f``) a 2.5 times larger share of the
good's value. That is how a 2022 world's Australia -> Malaysia concentrate route (8 USD/kg plus
0.45 USD/kg per kt, calibrated at the 2022 peak) took Mount Weld's mine-gate value from 16.6 to
4.3 USD/kg when Malaysia's price of the concentrate fell from 32.7 to 19.6 in 2024, and shut in
Australian output that kept running in fact (Lynas ran at capacity; USGS has Australia's
output flat to up).

Trade costs are ad valorem in the gravity and CGE tradition (Samuelson's iceberg cost; Anderson
& van Wincoop 2004, *J. Econ. Lit.* 42(3), 691-751). A run scales every calibrated route's
``route_cost`` and ``route_quad`` by its good's price index, lagged one step as the separation
charge is (:mod:`reesim.simulate.tolls`) and moved towards each step's value by
``1 - exp(-dt / T)`` (``route_cost_adjustment_years`` T = 1: contracts repriced about once a
year), raised to ``route_cost_indexation`` (1 = ad valorem, 0 = fixed in USD). Physical freight
(``transport``) and the solver's congestion term stay in USD.

**Opt-in.** The default world sets ``route_cost_indexation`` to 0, so no run is indexed unless
its scenario asks: measured on the 2025 backtest, fast indexation turns Australia's mines and Pr
in Europe into hits (3/3/8 against 1/4/9, before the China-domestic series) but brings the historical calibration to the edge of
its tolerance and leaves the October 2025 package's monthly runs without a counterfactual
without an equilibrium in 2026; with T = 1 the gain is gone (docs/trade.md, "Route costs in USD
or with prices").

The index of a good is the **median over the regions that price it** of the price over the
reference solution's: the good's market level, which a slump or a boom moves, not one node's
price. Node prices are no index: a licence moves the prices inside and outside China apart by
design (indexed on the destination, the routes into a licensed market fed on their own spike
and the October 2025 package's monthly run without a counterfactual diverged; on the origin, nodes with a negligible
reference price gave indices of 0 and 50), and a route's own wedge is the policy's to make.
The index is held within [0.2, 5] (a numerical guard: no route more than five times stiffer or
more elastic than calibrated). A good with no priced region, or a step that prices none, keeps
its last index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: bounds of a route's price index (numerical guard, see the module docstring)
INDEX_BOUNDS = (0.2, 5.0)


@dataclass(frozen=True)
class RouteIndex:
    """The calibrated routes of a world and the goods' prices they follow."""

    goods: tuple[str, ...]  # the goods carried by edges
    nodes: tuple[tuple[tuple[str, str], ...], ...]  # per good, its (good, region) keys with a reference price
    reference: tuple[np.ndarray, ...]  # per good, the reference prices at those nodes (USD/kg, > 0)
    edge_good: np.ndarray  # per edge, the position of its good in ``goods``
    exponent: float
    adjustment_years: float  # time constant of the move towards the good's price level

    @classmethod
    def of(cls, world, reference_prices: dict) -> RouteIndex | None:
        """The world's indexed routes, or None (no edges, or indexation 0 / not set)."""
        spec = world.meta.get("route_indexation") or {}
        exponent = float(spec.get("exponent", 0.0) or 0.0)
        e = world.edges
        if exponent == 0.0 or e.empty:
            return None
        goods = tuple(sorted(set(e["commodity"])))
        nodes, refs = [], []
        for g in goods:
            keys = tuple(k for k, v in reference_prices.items() if k[0] == g and np.isfinite(v) and v > 0)
            nodes.append(keys)
            refs.append(np.array([reference_prices[k] for k in keys], dtype=float))
        pos = {g: i for i, g in enumerate(goods)}
        edge_good = np.array([pos[c] for c in e["commodity"].tolist()], dtype=int)
        tau = float(spec.get("adjustment_years", 1.0))
        return cls(goods, tuple(nodes), tuple(refs), edge_good, exponent, tau)

    def initial(self) -> np.ndarray:
        """Every route at its calibrated cost (index 1)."""
        return np.ones(len(self.edge_good))

    def good_index(self, price_map: dict, previous: np.ndarray, dt: float) -> np.ndarray:
        """Per good: ``previous`` moved towards the target by ``1 - exp(-dt / adjustment_years)``;
        the target is the median over the good's priced regions of price / reference, bounded, to
        the exponent. A good with no positive finite price keeps ``previous``."""
        prev = np.asarray(previous, dtype=float)
        out = prev.copy()
        w = 1.0 - np.exp(-dt / self.adjustment_years) if self.adjustment_years > 0 else 1.0
        for i, (keys, ref) in enumerate(zip(self.nodes, self.reference, strict=True)):
            if not keys:
                continue
            p = np.array([price_map.get(k, np.nan) for k in keys], dtype=float)
            ok = np.isfinite(p) & (p > 0)
            if ok.any():
                ratio = float(np.median(p[ok] / ref[ok]))
                target = np.clip(ratio, *INDEX_BOUNDS) ** self.exponent
                out[i] = prev[i] + w * (target - prev[i])
        return out

    def index(self, price_map: dict, previous: np.ndarray, dt: float) -> np.ndarray:
        """Per edge: its good's index after a step of ``dt`` years that cleared at ``price_map``
        (``previous`` is per edge, as returned)."""
        prev_good = np.ones(len(self.goods))
        prev_good[self.edge_good] = previous  # every edge of a good carries the same index
        return self.good_index(price_map, prev_good, dt)[self.edge_good]
