"""Demand shifts: growth paths by sector and region, and lagged substitution after high prices.

Growth moves a demand curve outwards (the quantity bought at each price is multiplied by
the growth factor, so the slope is divided by it). Substitution and thrifting (as after
2011) respond to sustained high prices with a lag: the quantity at each price is
multiplied by ``min(1, (p_lag / p_0) ** -elasticity)``, where ``p_lag`` is the commodity's
price in the region ``substitution_lag_years`` earlier in the same run and ``p_0`` its price
in the first step; it never raises demand.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from reesim.scenario.checks import regions_of
from reesim.scenario.spec import DemandShift, Scenario
from reesim.world.world import World


def growth_rate(inst: DemandShift, year: int) -> float:
    """Annual growth rate of ``inst`` in ``year`` (piecewise constant from each listed year)."""
    rate = 0.0
    for y in sorted(inst.growth):
        if y <= year:
            rate = inst.growth[y]
    return rate


def growth_factors(scenario: Scenario, world: World, when: dt.date, dt_years: float) -> np.ndarray:
    """Per-demand growth over one step (multiplies the quantity at each price)."""
    d = world.demands
    factor = np.ones(len(d))
    for inst in scenario.instruments:
        if isinstance(inst, DemandShift) and inst.in_force(when):
            mask = (d["sector"] == inst.sector).to_numpy() & d["region"].isin(
                regions_of(inst.regions, world, "")
            ).to_numpy()
            factor[mask] *= (1.0 + growth_rate(inst, when.year)) ** dt_years
    return factor


def substitution_factors(scenario: Scenario, world: World, when: dt.date, lagged_ratio) -> np.ndarray:
    """Per-demand substitution factor; ``lagged_ratio(commodity, region, lag_years)`` gives p_lag / p_0."""
    d = world.demands
    factor = np.ones(len(d))
    for inst in scenario.instruments:
        if isinstance(inst, DemandShift) and inst.in_force(when) and inst.substitution_elasticity > 0:
            regions = set(regions_of(inst.regions, world, ""))
            for i, row in enumerate(d.itertuples(index=False)):
                if row.sector == inst.sector and row.region in regions:
                    ratio = lagged_ratio(row.commodity, row.region, inst.substitution_lag_years)
                    if ratio > 1.0:
                        factor[i] *= ratio ** (-inst.substitution_elasticity)
    return factor
