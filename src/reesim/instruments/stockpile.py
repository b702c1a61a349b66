"""Stockpiles: a holder buys up to a target and releases when a price or shortage trigger fires.

Structure (added once per scenario): for each stockpile instrument and covered commodity, a
purchase demand in the holder's region (a buyer willing to pay up to ``trigger_ratio`` x
the counterfactual price, for at most ``build_tonnes_per_year``) and a release process (a
supply at zero marginal cost whose capacity is the release volume while triggered).

Per step: purchases while in force, below target and not releasing; release when the
step's price exceeds ``trigger_ratio`` x the counterfactual price (price trigger) or when
consumption in the holder's region falls below counterfactual / ``trigger_ratio`` (shortage
trigger), limited by the stock. Stocks carry over between steps.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from reesim.scenario.checks import goods_of
from reesim.scenario.spec import Scenario, Stockpile
from reesim.world.world import STOCKPILE_RELEASE, World, structure_frames


def items(scenario: Scenario, world: World) -> list[tuple[int, Stockpile, str]]:
    """(instrument index, instrument, commodity) for every stockpiled commodity."""
    return [
        (k, inst, c)
        for k, inst in enumerate(scenario.instruments)
        if isinstance(inst, Stockpile)
        for c in goods_of(inst, world, "")
    ]


def demand_id(k: int, c: str) -> str:
    """Id of the purchase demand."""
    return f"stockpile:{k}:{c}"


def release_id(k: int, c: str) -> str:
    """Id of the release process."""
    return f"{STOCKPILE_RELEASE}{k}:{c}"


def structure(scenario: Scenario, world: World) -> dict[str, pd.DataFrame]:
    """Processes, io rows and demands to add for the scenario's stockpiles."""
    procs, io, dems = [], [], []
    for k, inst, c in items(scenario, world):
        procs.append((release_id(k, c), inst.holder, "supply", 0.0, 0.0, 0.0))
        io.append((release_id(k, c), c, 1.0))
        dems.append((demand_id(k, c), "stockpile", inst.holder, c, 1.0, 1e-6, 0.0))
    return structure_frames(procs, io, dems)


def purchase_settings(
    scenario: Scenario,
    world: World,
    when: dt.date,
    dt_years: float,
    stocks: dict,
    cf_price: dict,
    releasing: set,
) -> dict[str, tuple[float, float, float]]:
    """(intercept USD/kg, slope, max_quantity kt/yr) of each purchase demand on ``when``."""
    out = {}
    for k, inst, c in items(scenario, world):
        target = inst.target_tonnes / 1000.0 / len(goods_of(inst, world, ""))
        room = max(0.0, target - stocks.get((k, c), 0.0)) / dt_years
        buy = inst.in_force(when) and (k, c) not in releasing
        q = min(inst.build_tonnes_per_year / 1000.0 / len(goods_of(inst, world, "")), room) if buy else 0.0
        wtp = inst.trigger_ratio * cf_price.get((c, inst.holder), 1.0)
        out[demand_id(k, c)] = (wtp, wtp * 1e-6 / max(q, 1e-6), q)
    return out


def triggered(
    scenario: Scenario,
    world: World,
    when: dt.date,
    prices: dict,
    cf_price: dict,
    consumption: dict,
    cf_consumption: dict,
) -> set[tuple[int, str]]:
    """Stockpiles whose release trigger fires on this step's solution."""
    out = set()
    for k, inst, c in items(scenario, world):
        if not inst.in_force(when):
            continue
        key = (c, inst.holder)
        if inst.release_trigger == "price":
            ref = cf_price.get(key)
            if ref and prices.get(key, 0.0) > inst.trigger_ratio * ref:
                out.add((k, c))
        else:
            ref = cf_consumption.get(key)
            if ref and consumption.get(key, 0.0) < ref / inst.trigger_ratio:
                out.add((k, c))
    return out


def release_capacity(
    scenario: Scenario, world: World, releasing: set, stocks: dict, dt_years: float
) -> dict[str, float]:
    """Capacity (kt/yr) of each release process: the release rate while triggered, within the stock."""
    out = {}
    for k, inst, c in items(scenario, world):
        rate = inst.release_tonnes_per_year / 1000.0 / len(goods_of(inst, world, ""))
        out[release_id(k, c)] = min(rate, stocks.get((k, c), 0.0) / dt_years) if (k, c) in releasing else 0.0
    return out


def update(stocks: dict, bought: dict, released: dict, dt_years: float) -> dict:
    """Stocks after a step (kt): + purchases - releases, never below zero."""
    new = dict(stocks)
    for key in set(bought) | set(released):
        new[key] = max(0.0, new.get(key, 0.0) + (bought.get(key, 0.0) - released.get(key, 0.0)) * dt_years)
    return new


__all__ = ["items", "np", "purchase_settings", "release_capacity", "structure", "triggered", "update"]
