"""End-use exclusions: a licence that denies the exporter's goods to some end users.

China's Announcement 2024 No. 46 bans dual-use exports to U.S. military users and Announcement
2025 No. 61 presumptively denies licences for military end users (policy_events). In a pooled
market the exporter's goods cannot be kept from one sector unless that sector's purchases are
their own demand row and are tied to the goods they may still buy. For each licence with
``excluded_sectors``, each destination and covered good for which the world knows the sector's
use (``World.meta['end_use_sectors']``, from data: :mod:`reesim.world.default_uses`):

1. the destination's demand row is split exactly: the sector's row keeps the parent's
   intercept with slope ``b / s`` and the rest slope ``b / (1 - s)`` (``s`` the sector's share
   at the reference), so the two buy together what the parent bought at every price. The
   default world is built split (:mod:`reesim.world.default_uses`), so scenario and
   counterfactual have the same rows; :func:`split_demands` splits a world that is not;
2. a row ``q_sector - imports from regions other than the exporter - own production <= 0``
   holds while the licence is in force (:func:`structure`, :func:`slack`); its dual is the
   premium the sector pays for goods not from the exporter (USD/kg), reported with the
   quota rents and in the sector's consumption price. In welfare the sector loses the premium
   on what it buys and the destination's own producers gain it on their output; allowed
   imports gain nothing more, because the row already prices them into the destination at
   the origin's price plus transport minus the premium.

Releases from stocks are not own production (as for the rules of origin: their origin is not
known). Third regions' exports count as allowed supply: with ``no_reexport`` the rules of origin
limit them to their own output, which is how the extraterritorial rule (foreign goods made with
the exporter's rare earths) is approximated.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from reesim.instruments.trade import NOT_BINDING, _edge_keys
from reesim.scenario.checks import goods_of, regions_of
from reesim.scenario.spec import ExportLicensing, Scenario
from reesim.world.default_uses import end_use_demand_id
from reesim.world.world import World

#: start of the element part of an exclusion row's name (``LICENCE:DEST:excluded SECTOR (GOOD)``),
#: so that readers of the quota rents tell it from a licence's element rows
EXCLUDED_PREFIX = "excluded "


def _label(k: int, inst: ExportLicensing) -> str:
    return inst.name or f"instruments[{k}]"


def _entries(scenario: Scenario, world: World):
    """(k, licence, sector, entry) for every excluded sector with data on a covered good and destination."""
    uses = world.meta.get("end_use_sectors") or {}
    for k, inst in enumerate(scenario.instruments):
        if not isinstance(inst, ExportLicensing) or not inst.excluded_sectors:
            continue
        keys = _edge_keys(world)  # the world's routes, memoised per world (reesim.instruments.trade)
        goods = set(goods_of(inst, world, ""))
        dests = set(regions_of(inst.destinations, world, ""))
        for sector in inst.excluded_sectors:
            for entry in uses.get(sector, []):
                c, r = entry["commodity"], entry["region"]
                if c in goods and r in dests and (c, inst.exporter, r) in keys:
                    yield k, inst, sector, entry


#: id of the demand row split off for an end-user sector (as the default world names it)
demand_id = end_use_demand_id


def split_demands(scenario: Scenario, world: World) -> World:
    """``world`` with the demand of every excluded sector split off its parent row (exact split).

    Records ``meta['demand_parent']`` (split row -> the parent's sector), so that growth and
    substitution paths given for the parent's sector move the split row too.
    """
    todo = {(sector, e["commodity"], e["region"]): e for _, _, sector, e in _entries(scenario, world)}
    if not todo:
        return world
    d = world.demands.copy()
    new, parent_of = [], dict(world.meta.get("demand_parent") or {})
    have = set(d["demand"])
    for (sector, c, r), e in sorted(todo.items()):
        if demand_id(sector, c, r) in have:
            continue  # already split (the default world splits every sector its data give)
        pos = np.flatnonzero((d["demand"] == e["parent"]).to_numpy())
        if len(pos) != 1:
            continue
        i, s = pos[0], float(e["share"])
        if not 0.0 < s < 1.0:
            continue
        row = d.iloc[i]
        b = float(row["slope"])
        new.append(
            {
                "demand": demand_id(sector, c, r),
                "sector": sector,
                "region": r,
                "commodity": c,
                "intercept": float(row["intercept"]),
                "slope": b / s,
                "max_quantity": float(row["max_quantity"]) * s,
            }
        )
        d.iloc[i, d.columns.get_loc("slope")] = b / (1.0 - s)
        d.iloc[i, d.columns.get_loc("max_quantity")] = float(row["max_quantity"]) * (1.0 - s)
        parent_of[demand_id(sector, c, r)] = row["sector"]
    if not new:
        return world
    meta = dict(world.meta, demand_parent=parent_of)
    return world.replace(demands=pd.concat([d, pd.DataFrame(new)], ignore_index=True), meta=meta)


def structure(scenario: Scenario, world: World) -> pd.DataFrame:
    """Exclusion rows (slack set per step) for a world already split by :func:`split_demands`."""
    have = set(world.demands["demand"])
    rows = []
    for k, inst, sector, e in _entries(scenario, world):
        did = demand_id(sector, e["commodity"], e["region"])
        if did in have:
            name = f"{_label(k, inst)}:{e['region']}:{EXCLUDED_PREFIX}{sector} ({e['commodity']})"
            rows.append((name, _label(k, inst), e["commodity"], e["region"], inst.exporter, did, NOT_BINDING))
    return pd.DataFrame(
        rows, columns=["rule", "licence", "commodity", "dest", "exporter", "demand", "slack"]
    ).drop_duplicates("rule")


def slack(scenario: Scenario, rules: pd.DataFrame, when: dt.date) -> np.ndarray:
    """Slack of each row on ``when``: 0 while its licence is in force, non-binding otherwise."""
    active = {
        _label(k, inst)
        for k, inst in enumerate(scenario.instruments)
        if isinstance(inst, ExportLicensing) and inst.excluded_sectors and inst.in_force(when)
    }
    return np.array([0.0 if o in active else NOT_BINDING for o in rules["licence"].tolist()], dtype=float)
