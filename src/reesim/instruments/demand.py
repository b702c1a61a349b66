"""Demand shifts: growth paths by sector and region, and lagged substitution after high prices.

Growth moves a demand curve outwards (the quantity bought at each price is multiplied by
the growth factor, so the slope is divided by it). Substitution and thrifting (as after
2011) respond to sustained high prices with a lag, by partial adjustment (Nerlove): the
quantity at each price is multiplied by a factor ``m`` that moves each step towards the
target ``min(1, (p / p_0) ** -elasticity)`` (``p`` the step's price of the commodity in the
region, ``p_0`` its price in the first step) by the share ``dt / substitution_lag_years`` of
the gap. Thrifting is irreversible within a run: ``m`` only falls (after 2011 demand did not
come back when prices fell), which also rules out cobweb cycles.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from reesim.memo import memo_of
from reesim.scenario.checks import regions_of
from reesim.scenario.spec import DemandShift, MiningQuota, Scenario
from reesim.world.world import World


def parent_of_rows(world: World) -> np.ndarray:
    """Each demand row's parent sector: for a row split off for an end-user sector (e.g. defense)
    the sector it was split from (``meta['demand_parent']``), otherwise its own sector."""
    parent = world.meta.get("demand_parent") or {}
    d = world.demands
    if not parent:
        return d["sector"].to_numpy()
    return np.array(
        [parent.get(i, s) for i, s in zip(d["demand"].tolist(), d["sector"].tolist(), strict=True)],
        dtype=object,
    )


def _follows(own: np.ndarray, parent: np.ndarray, sector: str) -> np.ndarray:
    """Rows a shift of ``sector`` moves: the sector's own rows and the rows split off it (a split
    row follows its parent's paths and its own; assumption: no data on its own growth)."""
    return (own == sector) | (parent == sector)


def growth_rate(inst: DemandShift | MiningQuota, year: int) -> float:
    """Annual growth rate of ``inst`` in ``year`` (piecewise constant from each listed year)."""
    rate = 0.0
    for y in sorted(inst.growth):
        if y <= year:
            rate = inst.growth[y]
    return rate


def _sector_rows(world: World, sector: str) -> np.ndarray:
    """The demand rows of ``sector`` and those split off it (:func:`_follows`), memoised per world
    object: a simulation asks every step, and the planned-capacity rule once more per year of
    lead time."""
    memo = memo_of(world).setdefault("sector_rows", {})
    if sector not in memo:
        memo[sector] = _follows(world.demands["sector"].to_numpy(), parent_of_rows(world), sector)
    return memo[sector]


def _shift_rows(world: World, inst: DemandShift) -> np.ndarray:
    """The demand rows a shift moves: its sector's rows (:func:`_sector_rows`) in its regions,
    memoised per world object and (sector, regions)."""
    memo = memo_of(world).setdefault("demand_shift_rows", {})
    key = (inst.sector, inst.regions if isinstance(inst.regions, str) else tuple(inst.regions))
    if key not in memo:
        regions = regions_of(inst.regions, world, "")
        memo[key] = _sector_rows(world, inst.sector) & world.demands["region"].isin(regions).to_numpy()
    return memo[key]


def growth_factors(
    scenario: Scenario, world: World, when: dt.date, dt_years: float, rows: np.ndarray | None = None
) -> np.ndarray:
    """Per-demand growth over one step (multiplies the quantity at each price); of the demand rows
    ``rows`` (a mask) only, when given."""
    factor = np.ones(len(world.demands) if rows is None else int(rows.sum()))
    for inst in scenario.instruments:
        if isinstance(inst, DemandShift) and inst.in_force(when):
            moved = _shift_rows(world, inst)
            factor[moved if rows is None else moved[rows]] *= (1.0 + growth_rate(inst, when.year)) ** dt_years
    return factor


def projected_growth(
    scenario: Scenario, world: World, start: dt.date, years: float, weights: np.ndarray, sector: str
) -> float:
    """Growth of ``sector``'s demand over ``years`` from ``start``, as investors read the scenario.

    The scenario's growth paths (:func:`growth_factors`) compounded over spans cut at year
    boundaries (a path's rate changes on 1 January), each span's factor the quantity-weighted
    mean over the sector's demand rows.

    Parameters
    ----------
    scenario, world : Scenario, World
        Whose growth paths and demand rows.
    start : datetime.date
        Start of the projection (a step's midpoint).
    years : float
        Length of the projection (a lead time), years.
    weights : numpy.ndarray
        Quantity bought per demand row (the start world's), the weights of the mean.
    sector : str
        The sector whose demand is projected (its own rows and rows split off it).

    Returns
    -------
    float
        The growth factor (1 where the sector has no rows or no quantity).
    """
    rows = _sector_rows(world, sector)
    w = np.asarray(weights, dtype=float)[rows]
    if w.sum() <= 0:
        return 1.0
    growth, t, left = 1.0, start, years
    while left > 1e-9:
        year_end = dt.date(t.year + 1, 1, 1)
        span = min(left, (year_end - t).days / 365.25)
        f = growth_factors(scenario, world, t, span, rows)
        growth *= float(np.dot(w, f) / w.sum())
        left -= span
        t = year_end
    return growth


def substitution_update(
    scenario: Scenario, world: World, when: dt.date, dt_years: float, current: np.ndarray, price_ratios
) -> np.ndarray:
    """Substitution factors after a step; ``price_ratios(keys)`` gives p / p_0 of each
    (commodity, region) of ``keys`` (an array; its elements' powers are NumPy's scalar ones).

    Each shift in force with a substitution elasticity ``e`` moves the factor of its rows towards
    ``min(1, ratio^-e)`` at the speed ``dt / lag`` (never up: substitution is not undone), in the
    scenario's order of instruments. The target is computed once per (commodity, region) of the
    rows a shift moves, and the rows move together (a loop over every demand row per step cost
    about 0.2 ms a step).
    """
    out = current.copy()
    for inst in scenario.instruments:
        if isinstance(inst, DemandShift) and inst.in_force(when) and inst.substitution_elasticity > 0:
            rows, keys, key_of_row = _substitution_rows(world, inst)
            if not len(rows):
                continue
            speed = (
                1.0 if inst.substitution_lag_years <= 0 else min(1.0, dt_years / inst.substitution_lag_years)
            )
            e = inst.substitution_elasticity
            targets = [min(1.0, ratio ** (-e)) if ratio > 0 else 1.0 for ratio in price_ratios(keys)]
            target = np.array(targets, dtype=float)[key_of_row]
            now = out[rows]
            down = target < now
            out[rows[down]] = now[down] + speed * (target[down] - now[down])
    return out


def _substitution_rows(world: World, inst: DemandShift) -> tuple[np.ndarray, list, np.ndarray]:
    """The demand rows a shift's substitution moves (its sector's own rows and those split off it,
    in its regions), the distinct (commodity, region) of those rows and each row's position in
    them; memoised per world object and (sector, regions)."""
    memo = memo_of(world).setdefault("substitution_rows", {})
    key = (inst.sector, inst.regions if isinstance(inst.regions, str) else tuple(inst.regions))
    if key not in memo:
        d = world.demands
        regions = set(regions_of(inst.regions, world, ""))
        rows = [
            i
            for i, (own, parent, region) in enumerate(
                zip(d["sector"].tolist(), parent_of_rows(world).tolist(), d["region"].tolist(), strict=True)
            )
            if inst.sector in (own, parent) and region in regions
        ]
        pairs = list(
            zip(d["commodity"].to_numpy()[rows].tolist(), d["region"].to_numpy()[rows].tolist(), strict=True)
        )
        keys = list(dict.fromkeys(pairs))
        index = {k: n for n, k in enumerate(keys)}
        memo[key] = np.array(rows, dtype=int), keys, np.array([index[k] for k in pairs], dtype=int)
    return memo[key]
