"""Price floors with offtake, and subsidies.

A price floor guarantees producers of the goods in ``region`` the floor: they receive
``max(floor, market price)``, modelled as a per-unit top-up ``s = max(0, floor - p)`` on
their marginal revenue (a reduction of the separation routes' marginal cost by ``s`` times
their output of the goods), found by fixed-point iteration with the equilibrium. The fiscal
cost is ``s x min(output, volume)``. An offtake adds a buyer in the region willing to pay
the floor for up to ``offtake_tonnes_per_year`` (into the buyer's stock).

A subsidy lowers the marginal cost of a stage in a region by ``per_unit_usd_per_kg`` (fiscal
cost = per unit x output) and/or pays ``capex_share`` of the capital cost of new capacity
(it lowers the investment threshold; fiscal cost = share x capex of capacity ordered).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from reesim.memo import memo_of
from reesim.scenario.checks import goods_of
from reesim.scenario.spec import PriceFloor, Scenario, Subsidy
from reesim.world.world import STOCK_KIND, World

STAGE_KIND = {"mining": "mining", "separation": "capacity", "metal": "metal", "magnet": "magnet"}


def floors(scenario: Scenario) -> list[tuple[int, PriceFloor]]:
    """The price-floor instruments with their index."""
    return [(k, i) for k, i in enumerate(scenario.instruments) if isinstance(i, PriceFloor)]


def producers(world: World, inst: PriceFloor) -> pd.DataFrame:
    """io rows of the region's processes that produce the floor's goods (process, commodity, coef).

    Read once per io table and instrument: a run's step worlds share their io table and their
    processes' regions and kinds (only values change), and each step asked again (5 ms).
    """
    memo = memo_of(world.io).setdefault("floor_producers", {})
    hit = memo.get(id(inst))
    if hit is None or hit[0] is not inst or hit[1] != len(world.processes):
        hit = (inst, len(world.processes), _producers(world, inst))
        memo[id(inst)] = hit
    return hit[2]


def _producers(world: World, inst: PriceFloor) -> pd.DataFrame:
    goods = goods_of(inst, world, "")
    p = world.processes
    # Private stock releases sell goods but do not produce them: the floor does not pay them.
    region_of = dict(
        zip(p["process"].tolist(), p["region"].where(p["kind"] != STOCK_KIND).tolist(), strict=True)
    )
    io = world.io[(world.io["coef"] > 0) & world.io["commodity"].isin(goods)]
    return io[io["process"].map(region_of) == inst.region]


def offtake_id(k: int, c: str) -> str:
    """Id of an offtake demand."""
    return f"offtake:{k}:{c}"


def structure(scenario: Scenario, world: World) -> pd.DataFrame:
    """Offtake demands to add (max_quantity set per step)."""
    rows = []
    for k, inst in floors(scenario):
        if inst.offtake_tonnes_per_year > 0:
            for c in goods_of(inst, world, ""):
                rows.append((offtake_id(k, c), "offtake", inst.region, c, inst.floor_usd_per_kg, 1e-6, 0.0))
    return pd.DataFrame(
        rows, columns=["demand", "sector", "region", "commodity", "intercept", "slope", "max_quantity"]
    )


def offtake_settings(scenario: Scenario, world: World, when: dt.date) -> dict[str, float]:
    """max_quantity (kt/yr) of each offtake demand, split over the goods by the producers' output mix."""
    out = {}
    for k, inst in floors(scenario):
        if inst.offtake_tonnes_per_year <= 0:
            continue
        for c, w in _offtake_weights(world, inst).items():
            out[offtake_id(k, c)] = inst.offtake_tonnes_per_year / 1000.0 * w if inst.in_force(when) else 0.0
    return out


def _offtake_weights(world: World, inst: PriceFloor) -> dict[str, float]:
    """Each good's share of an offtake: the producers' output mix (equal shares without output),
    read once per world and instrument."""
    memo = memo_of(world).setdefault("offtake_weights", {})
    hit = memo.get(id(inst))
    if hit is None or hit[0] is not inst:
        mix = producers(world, inst).groupby("commodity")["coef"].sum()
        goods = goods_of(inst, world, "")
        weights = mix.reindex(goods).fillna(0.0)
        weights = weights / weights.sum() if weights.sum() > 0 else pd.Series(1.0 / len(goods), index=goods)
        hit = (inst, {c: float(weights[c]) for c in goods})
        memo[id(inst)] = hit
    return hit[1]


def price_mix(rows: pd.DataFrame) -> tuple[list[str], list[float], float]:
    """Goods and weights of a floor's market price: its producers' output coefficients by good.

    ``rows`` are :func:`producers`' rows; the floor's price is ``sum(p_c w_c) / sum(w_c)`` over
    the goods in its region (:func:`floor_price`).
    """
    mix = rows.groupby("commodity")["coef"].sum()
    return list(mix.index), [float(w) for w in mix.to_numpy()], float(mix.sum())


def floor_price(mix: tuple[list[str], list[float], float], region: str, prices: dict) -> float:
    """Market price of a floor's goods in its region, output-weighted (``mix`` from :func:`price_mix`)."""
    goods, weights, total = mix
    if total <= 0:
        return 0.0
    return float(sum(prices.get((c, region), 0.0) * w for c, w in zip(goods, weights, strict=True)) / total)


def topup_reductions(world: World, topups: dict[int, float], scenario: Scenario) -> pd.Series:
    """Reduction of each process's marginal-cost intercept (USD/kg of activity) from the floors' top-ups."""
    red = pd.Series(0.0, index=world.processes["process"])
    for k, inst in floors(scenario):
        s = topups.get(k, 0.0)
        if s <= 0:
            continue
        per_process = producers(world, inst).groupby("process")["coef"].sum()
        # reindex: ``add`` returns the union index sorted, not in the world's process order
        red = red.add(per_process * s, fill_value=0.0).reindex(world.processes["process"])
    return red


def subsidy_per_unit(scenario: Scenario, when: dt.date, world: World) -> np.ndarray:
    """Per-unit subsidy (USD/kg of activity) by process (``world.processes`` order), from subsidies in force."""
    out = np.zeros(world.n_rows("processes"))  # the table is read only when a subsidy applies
    for inst in scenario.instruments:
        if isinstance(inst, Subsidy) and inst.in_force(when) and inst.per_unit_usd_per_kg > 0:
            p = world.processes
            mask = ((p["region"] == inst.region) & (p["kind"] == STAGE_KIND[inst.stage])).to_numpy()
            out[mask] += inst.per_unit_usd_per_kg
    return out


def capex_share(scenario: Scenario, when: dt.date, region: str, stage: str) -> float:
    """Share of capex paid by subsidies in force for ``stage`` in ``region``."""
    share = 0.0
    for inst in scenario.instruments:
        if (
            isinstance(inst, Subsidy)
            and inst.in_force(when)
            and inst.region == region
            and inst.stage == stage
        ):
            share += inst.capex_share
    return min(max(float(share), 0.0), 1.0)  # a scalar: numpy's clip costs ~10 us a call, 27 calls a step
