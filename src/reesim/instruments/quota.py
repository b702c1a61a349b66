"""Mining quotas as policy paths: a region's mining capacity set by its government, year by year.

A :class:`~reesim.scenario.spec.MiningQuota` turns the region's mines into exogenous capacity
(the simulation's ``capacity_paths``, as China's published quota is in ``reesim calibrate`` and
in the backtests): from the quota's start year each mine keeps its reference capacity, and the
mines of ``ores`` grow by the quota's growth path,

    K_m(y) = K_m(ref) x prod_{t = start+1..y} (1 + g(t)),   g(t) = growth[max{k <= t}] (0 before the first key),

(a cash-cost curve's expansion tranche is a mine of its ore like its base tranche), and, unless
``separation_follows`` is false, the region's separation capacity grows with the added tonnage
A(y) = sum_m K_m(y) - K_m(ref) as in the calibration run,

    S(y) = S(ref) x (s_ref + A(y)) / s_ref,

where ``s_ref`` is the region's reference separated output (``world.meta['reference']``): MIIT
issues the mining and smelting-separation quotas together (2024: 270 and 254 kt,
``china_export_quotas``), and separation sized for the reference output could not separate a
larger quota. None of these processes invests in the years its path covers (from the quota's
start year; :func:`reesim.simulate.stepper.phase_invest`).
"""

from __future__ import annotations

from reesim.instruments.demand import growth_rate
from reesim.instruments.disruption import deposit_of
from reesim.scenario.spec import MiningQuota, Scenario
from reesim.world.world import World


def quotas(scenario: Scenario) -> list[MiningQuota]:
    """The scenario's mining quotas."""
    return [i for i in scenario.instruments if isinstance(i, MiningQuota)]


def growth_factors(inst: MiningQuota, years: range) -> dict[int, float]:
    """Cumulative growth of the quota by year (1 in the start year; the years before it are left out)."""
    out, factor = {}, 1.0
    for y in years:
        if y < inst.start.year:
            continue
        if y > inst.start.year:
            factor *= 1.0 + growth_rate(inst, y)
        out[y] = factor
    return out


def quota_paths(scenario: Scenario, world: World) -> dict[str, dict[int, float]]:
    """Capacity (kt/yr) by process id and year over the horizon for every mining quota of ``scenario``."""
    p = world.processes
    cap = dict(zip(p["process"].tolist(), p["capacity"].astype(float).tolist(), strict=True))
    years = range(scenario.horizon.start, scenario.horizon.end + 1)
    paths: dict[str, dict[int, float]] = {}
    for inst in quotas(scenario):
        factors = growth_factors(inst, years)
        mines = p.loc[(p["region"] == inst.region) & (p["kind"] == "mining"), "process"]
        added = dict.fromkeys(factors, 0.0)
        for pid in mines:
            grows = inst.ores is None or deposit_of(pid) in inst.ores
            paths[pid] = {y: cap[pid] * (f if grows else 1.0) for y, f in factors.items()}
            for y in factors:
                added[y] += paths[pid][y] - cap[pid]
        if inst.separation_follows:
            paths |= separation_path(world, inst.region, added)
    return paths


def separation_path(world: World, region: str, added: dict[int, float]) -> dict[str, dict[int, float]]:
    """``region``'s separation capacity by year when ``added`` kt/yr of ore (by year) joins its
    reference feed: S(y) = S(ref) x (s_ref + A(y)) / s_ref, the start world's headroom kept.

    Empty where the region has no separation capacity or no reference separated output.
    """
    p = world.processes
    sep = f"separation-capacity:{region}"
    cap = p.loc[p["process"] == sep, "capacity"]
    s0 = float((world.meta.get("reference") or {}).get("separation_kt", {}).get(region, 0.0))
    if cap.empty or s0 <= 0:
        return {}
    c0 = float(cap.iloc[0])
    return {sep: {y: c0 * max(0.0, s0 + a) / s0 for y, a in added.items()}}


def problems(inst: MiningQuota, world: World, path: str) -> list[str]:
    """What is wrong with a quota on ``world``: a region without mines, an ore it does not mine."""
    p = world.processes
    here = p[(p["region"] == inst.region) & (p["kind"] == "mining")]
    if here.empty:
        have = sorted(set(p.loc[p["kind"] == "mining", "region"]))
        return [f"{path}.region: {inst.region!r} has no mines in the world; allowed: {', '.join(have)}"]
    known = sorted({d for d in map(deposit_of, here["process"]) if d})
    return [
        f"{path}.ores[{i}]: {ore!r} is not mined in {inst.region}; allowed: {', '.join(known)}"
        for i, ore in enumerate(inst.ores or [])
        if ore not in known
    ]
