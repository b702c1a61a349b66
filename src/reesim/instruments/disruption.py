"""Supply disruptions: a share of a stage's capacity in a region out of service for a while.

A :class:`~reesim.scenario.spec.SupplyDisruption` multiplies, in each step, the capacity of the
processes it hits by ``1 - share_out x f``, where ``f`` is the fraction of the step's days in
force (a disruption from 15 October is half of October in a monthly run, a fifth of the year in
a yearly one). The state's capacity is not changed, so the capacity comes back when the
disruption ends; the operations hit order no new capacity in a step they are disrupted
(:func:`blocked`), because their scarcity rent is no signal to build where output cannot run.

Processes hit, by stage (the world's process ids, :mod:`reesim.world.default`):

* ``mining`` — ``mining:<region>:<deposit>`` and its ``:expansion`` tranche, for every deposit
  or only those in ``deposits``;
* ``separation`` — ``separation-capacity:<region>`` (and expansion);
* ``metal`` — ``metal:<region>:<element>``; ``magnet`` — ``magnet:<region>``; named plants
  (``capacity_project``) of the stage in the region are hit too.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from reesim.scenario.spec import Scenario, SupplyDisruption
from reesim.world.world import World

#: process kind of each stage
KIND = {"mining": "mining", "separation": "capacity", "metal": "metal", "magnet": "magnet"}


def disruptions(scenario: Scenario) -> list[tuple[int, SupplyDisruption]]:
    """The scenario's supply disruptions with their positions in ``instruments``."""
    return [(k, i) for k, i in enumerate(scenario.instruments) if isinstance(i, SupplyDisruption)]


def deposit_of(process: str) -> str | None:
    """The deposit type of a mining process id (``mining:MMR:iac_low_y:expansion`` -> ``iac_low_y``)."""
    parts = process.split(":")
    return parts[2] if len(parts) >= 3 and parts[0] == "mining" else None


def hit_mask(inst: SupplyDisruption, processes: pd.DataFrame) -> np.ndarray:
    """Which of ``processes`` the disruption hits (region, stage, and deposits for mining)."""
    p = processes
    mask = (p["region"] == inst.region).to_numpy() & (p["kind"] == KIND[inst.stage]).to_numpy()
    if inst.deposits is not None:
        mask &= np.array([deposit_of(pid) in inst.deposits for pid in p["process"].tolist()])
    return mask


def problems(inst: SupplyDisruption, world: World, path: str) -> list[str]:
    """What is wrong with a disruption on ``world``: a stage the region lacks, an unknown deposit."""
    p = world.processes
    here = p[(p["region"] == inst.region) & (p["kind"] == KIND[inst.stage])]
    if here.empty:
        have = sorted(set(p.loc[p["kind"] == KIND[inst.stage], "region"]))
        return [
            f"{path}.region: {inst.region!r} has no {inst.stage} stage in the world; "
            f"allowed for {inst.stage}: {', '.join(have)}"
        ]
    out = []
    known = sorted({d for d in map(deposit_of, here["process"]) if d})
    for i, dep in enumerate(inst.deposits or []):
        if dep not in known:
            out.append(
                f"{path}.deposits[{i}]: {dep!r} is not mined in {inst.region}; allowed: {', '.join(known)}"
            )
    return out


def _fraction(inst: SupplyDisruption, start: dt.date, days: int) -> float:
    """Fraction of the step ``[start, start + days)`` on which the disruption is in force."""
    last = start + dt.timedelta(days=days - 1)
    a = max(start, inst.start)
    b = last if inst.end is None else min(last, inst.end)
    return max(0, (b - a).days + 1) / days


def step_days(start: dt.date, years: float) -> int:
    """Calendar days of a step of ``years`` (1, 1/4 or 1/12) from ``start``: to the next step's start."""
    months = max(1, round(years * 12))
    y, m = divmod(start.month - 1 + months, 12)
    return (dt.date(start.year + y, m + 1, 1) - start).days


def capacity_factor(scenario: Scenario, processes: pd.DataFrame, start: dt.date, days: int) -> np.ndarray:
    """Multiplier of each process's capacity in the step (1 where nothing is disrupted).

    Two disruptions of the same process compound: ``(1 - s1 f1)(1 - s2 f2)``.
    """
    factor = np.ones(len(processes))
    for _k, inst in disruptions(scenario):
        f = _fraction(inst, start, days)
        if f > 0:
            factor[hit_mask(inst, processes)] *= 1.0 - inst.share_out * f
    return factor


def blocked(scenario: Scenario, processes: pd.DataFrame, start: dt.date, days: int) -> np.ndarray:
    """Processes that order no capacity in the step: those any disruption hits in it."""
    out = np.zeros(len(processes), dtype=bool)
    for _k, inst in disruptions(scenario):
        if _fraction(inst, start, days) > 0:
            out |= hit_mask(inst, processes)
    return out
