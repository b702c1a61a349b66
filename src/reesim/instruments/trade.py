"""Trade instruments: export bans, export quotas and licensing, export taxes, import tariffs, exclusions.

How they enter the year's equilibrium (DESIGN §3): a ban fixes the covered edges to zero;
a quota or licence adds a row ``sum of covered flows <= limit`` whose dual is the quota
rent, and a licence cost is a specific wedge; taxes and tariffs are ad valorem wedges
(export tax on the origin price, import tariff on CIF value) iterated to a fixed point by
the solver. A tariff exclusion scales its tariff's rate by ``1 - share_excluded`` while it
lasts; at each expiry after the first the excluded share is multiplied by the renewal
probability (the expected value over renewals).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from reesim.scenario.checks import goods_of, regions_of
from reesim.scenario.spec import (
    ExportBan,
    ExportLicensing,
    ExportTax,
    ImportTariff,
    Scenario,
    TariffExclusion,
)
from reesim.world.world import World

#: Limit used for a quota row while its instrument is not in force (rows stay in the matrix).
NOT_BINDING = 1e5  # kt/yr: 100 Mt, ~250x world mine output; 1e9 wrecks the solvers' scaling


def _edges(inst, world: World) -> list[tuple[str, str, str]]:
    goods = goods_of(inst, world, "")
    keys = set(zip(world.edges["commodity"], world.edges["origin"], world.edges["dest"], strict=True))
    if isinstance(inst, ImportTariff):
        origins = regions_of(inst.origins, world, "")
        cand = [(c, o, inst.importer) for c in goods for o in origins]
    else:
        dests = regions_of(inst.destinations, world, "")
        cand = [(c, inst.exporter, d) for c in goods for d in dests]
    return [k for k in cand if k in keys]


def quota_label(k: int, inst: ExportLicensing, dest: str | None = None) -> str:
    """Name of the quota row of instrument ``k`` (per destination when approval shares are given)."""
    base = inst.name or f"instruments[{k}]"
    return f"{base}:{dest}" if dest else base


def quota_structure(scenario: Scenario, world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quota rows and their member edges for every licensing instrument (limits set per step)."""
    rows, members = [], []
    for k, inst in enumerate(scenario.instruments):
        if not isinstance(inst, ExportLicensing):
            continue
        edges = _edges(inst, world)
        if inst.tonnes_per_year is not None:
            rows.append((quota_label(k, inst), NOT_BINDING))
            members += [(quota_label(k, inst), *e) for e in edges]
        else:
            for dest in sorted({e[2] for e in edges}):
                rows.append((quota_label(k, inst, dest), NOT_BINDING))
                members += [(quota_label(k, inst, dest), *e) for e in edges if e[2] == dest]
    return pd.DataFrame(rows, columns=["quota", "limit"]), pd.DataFrame(
        members, columns=["quota", "commodity", "origin", "dest"]
    )


def origin_structure(scenario: Scenario, world: World) -> pd.DataFrame:
    """Rules-of-origin rows for every ban or licence with ``no_reexport`` (slack set per step).

    For goods ``c`` an exporter may not (freely) ship to destination ``d``, every third region
    ``v`` may ship ``c`` to ``d`` only up to its own production of ``c``: the pooled market
    then cannot pass the exporter's goods through ``v``.
    """
    keys = set(zip(world.edges["commodity"], world.edges["origin"], world.edges["dest"], strict=True))
    rows = []
    for k, inst in enumerate(scenario.instruments):
        if not isinstance(inst, ExportBan | ExportLicensing) or not inst.no_reexport:
            continue
        label = inst.name or f"instruments[{k}]"
        for c, _, d in _edges(inst, world):
            for v in world.regions:
                if v not in (inst.exporter, d) and (c, v, d) in keys:
                    rows.append((f"{label}:{c}:{v}->{d}", c, v, d, NOT_BINDING))
    return pd.DataFrame(rows, columns=["rule", "commodity", "via", "dest", "slack"]).drop_duplicates("rule")


def origin_slack(scenario: Scenario, rules: pd.DataFrame, when: dt.date) -> pd.Series:
    """Slack of each rule on ``when``: 0 while its instrument is in force, non-binding otherwise."""
    active = {
        inst.name or f"instruments[{k}]"
        for k, inst in enumerate(scenario.instruments)
        if isinstance(inst, ExportBan | ExportLicensing) and inst.no_reexport and inst.in_force(when)
    }
    owner = rules["rule"].str.split(":").str[0]
    return pd.Series([0.0 if o in active else NOT_BINDING for o in owner], index=rules.index)


def _exclusion_factor(scenario: Scenario, tariff: str, when: dt.date) -> float:
    factor = 1.0
    for ex in scenario.instruments:
        if isinstance(ex, TariffExclusion) and ex.tariff == tariff and ex.in_force(when):
            years = (when - ex.start).days / 365.25
            renewals = int(years // ex.renewal_years)
            share = ex.share_excluded * ex.renewal_probability**renewals
            factor *= 1.0 - share
    return factor


def step_policies(
    scenario: Scenario, world: World, when: dt.date, cf_flows: pd.Series | None, quota_names: tuple[str, ...]
) -> dict[str, pd.DataFrame | dict]:
    """Bans, quota limits (kt/yr), ad valorem rows and specific wedges in force on ``when``.

    ``cf_flows`` are the counterfactual's flows (kt/yr) by (commodity, origin, dest) in the
    same step, needed for quotas given as approval shares of the counterfactual.
    """
    bans, adval, specific = [], [], []
    limits = dict.fromkeys(quota_names, NOT_BINDING)
    for k, inst in enumerate(scenario.instruments):
        if not isinstance(inst, ExportBan | ExportLicensing | ExportTax | ImportTariff) or not inst.in_force(
            when
        ):
            continue
        edges = _edges(inst, world)
        if isinstance(inst, ExportBan):
            bans += edges
        elif isinstance(inst, ExportTax):
            adval += [(*e, inst.rate, "origin") for e in edges]
        elif isinstance(inst, ImportTariff):
            rate = inst.rate * _exclusion_factor(scenario, inst.name, when) if inst.name else inst.rate
            adval += [(*e, rate, "cif") for e in edges]
        else:
            if inst.licence_cost_usd_per_kg:
                specific += [(*e, inst.licence_cost_usd_per_kg) for e in edges]
            if inst.tonnes_per_year is not None:
                limits[quota_label(k, inst)] = inst.tonnes_per_year / 1000.0
            else:
                base = cf_flows if cf_flows is not None else pd.Series(dtype=float)
                for dest in sorted({e[2] for e in edges}):
                    share = inst.approval_by_destination.get(
                        dest, inst.approval_share if inst.approval_share is not None else 1.0
                    )
                    flow = float(sum(base.get(e, 0.0) for e in edges if e[2] == dest))
                    limits[quota_label(k, inst, dest)] = share * flow
    return {
        "bans": pd.DataFrame(bans, columns=["commodity", "origin", "dest"]).drop_duplicates(),
        "ad_valorem": pd.DataFrame(adval, columns=["commodity", "origin", "dest", "rate", "base"]),
        "specific": pd.DataFrame(specific, columns=["commodity", "origin", "dest", "per_unit"]),
        "quota_limits": limits,
    }
