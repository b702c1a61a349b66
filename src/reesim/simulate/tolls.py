"""Separation charges that move with the oxide basket (China's toll separation).

China's separators buy concentrate at a price tied to the value of the oxides it holds, so the
charge for separating it (basket value less concentrate price) moves with oxide prices instead of
staying fixed in dollars. The data show it from the seller's side: MP Materials' realized
concentrate price was about half of its ore's oxide basket in both 2022 (11,636 USD/t REO, Q3)
and 2024 (4,717 USD/t REO, Q4) while the basket fell by more than half (``processing_capacity``;
the world builder's ``separation_cost_share`` basis). A charge fixed in dollars cannot do that:
the 2022 world's charge (10.9 USD/kg REO) is more than Mountain Pass ore's whole 2024 basket
(9.9 USD/kg at 2024 prices), while MP mined a record 45.5 kt in 2024.

The world builder records the indexed processes and the basket's weights (the world-average ore:
kg of each oxide per kg REO mined) in ``world.meta["separation_toll"]``; a run indexes them to
the basket at the last cleared step's prices, relative to the reference solution's (lagged one
step, as contract prices are set on the last period's quotes). The exponent (assumption
``separation_charge_indexation``) is 1 for full indexation and 0 for a dollar charge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolls:
    """The indexed separation processes of a world and the basket they follow."""

    positions: np.ndarray  # rows of world.processes whose marginal cost is indexed
    keys: tuple[tuple[str, str], ...]  # (oxide commodity, region) of the basket's prices
    weights: np.ndarray  # kg of each oxide per kg REO of the world-average ore (0: no reference price)
    reference: np.ndarray  # the reference solution's prices, USD/kg (0 where it has none)
    base: float  # basket value at the reference solution's prices, USD/kg REO
    exponent: float

    @classmethod
    def of(cls, world, reference_prices: dict) -> Tolls | None:
        """The world's indexed separation, or None when it has none (or no basket value)."""
        spec = world.meta.get("separation_toll")
        if not spec or spec.get("exponent", 0.0) == 0.0:
            return None
        procs = world.processes["process"].tolist()
        positions = np.array([procs.index(p) for p in spec["processes"] if p in procs], dtype=int)
        keys = tuple((f"oxide:{e}", spec["region"]) for e in spec["weights"])
        weights = np.array(list(spec["weights"].values()), dtype=float)
        prices = np.array([reference_prices.get(k, np.nan) for k in keys], dtype=float)
        known = np.isfinite(prices)
        weights, prices = np.where(known, weights, 0.0), np.where(known, prices, 0.0)
        base = float(weights @ prices)
        if positions.size == 0 or base <= 0:
            return None
        return cls(positions, keys, weights, prices, base, float(spec["exponent"]))

    def index(self, price_map: dict, previous: float = 1.0) -> float:
        """Basket value at ``price_map`` over the reference basket, raised to the exponent.

        A price missing from ``price_map`` or not finite counts at its reference level; a basket
        worth nothing keeps ``previous``.
        """
        prices = np.array([price_map.get(k, np.nan) for k in self.keys], dtype=float)
        prices = np.where(np.isfinite(prices), prices, self.reference)
        value = float(self.weights @ prices)
        if value <= 0:
            return previous
        return (value / self.base) ** self.exponent

    def scale(self, values: np.ndarray, index: float) -> np.ndarray:
        """``values`` (one per process: a marginal-cost intercept or slope) with the indexed
        processes' entries times ``index`` (a new array)."""
        out = np.asarray(values, dtype=float).copy()
        out[self.positions] *= index
        return out
