"""The investment phase of a simulation step: orders of new capacity on expected capacity rents.

Each process of an investing stage that is in service, not on an exogenous path and not
disrupted orders capacity by the rent rule (:func:`reesim.simulate.state.orders_array`: a build
rate proportional to the expected rent's excess over the annual capital charge, limited by
what is already under construction) and, for makers that keep capacity ahead of demand, by
the acceleration principle (:func:`reesim.simulate.state.planned_order`). Technology bans
lengthen the lead time, raise capex, opex and slow learning of what they cover; capex
subsidies pay a share of it (:mod:`reesim.instruments.technology`, :mod:`reesim.instruments.support`).

The rent rule is evaluated for every candidate at once on arrays (the same floating-point
operations, in the same order, as the scalar rule); only the few makers with a planned
utilisation and the processes that order anything are visited one by one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from reesim.instruments import demand as demand_mod
from reesim.instruments import disruption as disruption_mod
from reesim.instruments import projects as projects_mod
from reesim.instruments import support as support_mod
from reesim.instruments import technology as tech_mod
from reesim.simulate.state import POLICY_STAGE, State, orders_array, planned_order
from reesim.simulate.steps import Step
from reesim.world.world import MAGNET_SECTOR

if TYPE_CHECKING:
    from reesim.simulate.stepper import _Run

#: the penalty of every order in a scenario without technology bans (what
#: :func:`reesim.instruments.technology.penalty` returns there)
NO_PENALTY = tech_mod.Penalty()


class _Candidates:
    """The processes that may order in a step, with what the rent rule reads for each (arrays in
    the order of ``cand``, the processes' positions)."""

    def __init__(self, run: _Run, state: State, step: Step) -> None:
        scenario = run.scenario
        # a disrupted operation's scarcity rent is no signal to build there
        days = disruption_mod.step_days(step.start, step.dt)
        disrupted = disruption_mod.blocked(scenario, run.world.processes, step.start, days)
        fixed = run.fixed.copy()
        for pid, path in run.paths.items():
            if step.year in path:
                fixed[run.proc_pos[pid]] = True
        self.cand = cand = np.flatnonzero(run.invests & (state.capacity > 0) & ~fixed & ~disrupted)
        self.pens, capex_mult, extra_lead, self.sub = _policies(run, step, cand)
        self.capex_full = run.capex0[cand] * capex_mult
        self.lead = run.lead0[cand] + extra_lead
        # tonnes under construction by process, summed in the pipeline's order (each process
        # orders at most once a step, after its own sum is taken)
        under_way = np.zeros(len(state.capacity))
        for item in state.pipeline:
            under_way[item[1]] += item[2]
        self.building = under_way[cand]
        # An expansion tranche builds at the pace of the whole operation (base + expansion).
        base = run.base_of[cand]
        self.size = state.capacity[cand] + np.where(base >= 0, state.capacity[np.maximum(base, 0)], 0.0)


def _policies(
    run: _Run, step: Step, cand: np.ndarray
) -> tuple[list | None, np.ndarray, np.ndarray, np.ndarray]:
    """Penalty of each candidate (None: no penalty for any), its capex multiplier, extra lead time
    (years) and capex subsidy share, from the policies in force by (region, stage), each read once."""
    n = len(cand)
    if not run.invest_policies:
        return None, np.ones(n), np.zeros(n), np.zeros(n)
    policy: dict[tuple[str, str], tuple] = {}
    out = []
    for j in cand.tolist():
        st = run.stage[j]
        key = (run.regions[j], POLICY_STAGE.get(st, st))
        if key not in policy:
            policy[key] = (
                tech_mod.penalty(run.scenario, step.mid, *key),
                support_mod.capex_share(run.scenario, step.mid, *key),
            )
        out.append(policy[key])
    pens = [pen for pen, _ in out]
    return (
        pens,
        np.array([pen.capex_multiplier for pen in pens], dtype=float),
        np.array([pen.extra_lead_time_years for pen in pens], dtype=float),
        np.array([sub for _, sub in out], dtype=float),
    )


def _planned_orders(run: _Run, state: State, step: Step, sol, c: _Candidates, q: np.ndarray) -> None:
    """Raise ``q`` (in place) to the orders of makers that keep capacity ahead of demand: the
    acceleration principle on the magnet users' projected growth over the lead time."""
    dyn = run.scenario.dynamics
    growth_over: dict[float, float] = {}  # the magnet users' projected growth by lead time
    for i in np.flatnonzero(run.planned[c.cand] > 0).tolist():
        j, lead, building = int(c.cand[i]), float(c.lead[i]), c.building[i]
        if lead not in growth_over:
            growth_over[lead] = demand_mod.projected_growth(
                run.scenario, run.world, step.mid, lead, run.demand_weights, MAGNET_SECTOR
            )
        plan = planned_order(sol.activity[j], state.capacity[j], building, run.planned[j], growth_over[lead])
        room = max(0.0, dyn.max_under_construction * c.size[i] - building)
        q[i] = max(q[i], min(plan, room))


def phase_invest(run: _Run, state: State, step: Step, sol) -> State:
    """Investment on expected capacity rents, with technology-ban penalties and capex subsidies."""
    dyn = run.scenario.dynamics
    w = dyn.expectation_weight
    exp_rent = w * sol.capacity_rents + (1 - w) * state.expected_rent
    c = _Candidates(run, state, step)
    q = orders_array(
        exp_rent[c.cand],
        c.size,
        c.capex_full * (1.0 - c.sub),
        dyn.max_build_rate,
        step.dt,
        c.building,
        dyn.max_under_construction,
    )
    _planned_orders(run, state, step, sol, c, q)
    pipeline = list(state.pipeline)
    opex_mult = state.opex_multiplier.copy()
    learn_exp = state.learning_exponent.copy()
    fiscal_capex: dict[str, float] = {}  # million USD per year of annuity, by paying region
    offsets_of: dict[str, tuple[float, ...]] = {}  # ramp tranches by stage
    now = step.time
    for i in np.flatnonzero(q > 0).tolist():
        j, qi, si, cx = int(c.cand[i]), float(q[i]), float(c.sub[i]), float(c.capex_full[i])
        pen = NO_PENALTY if c.pens is None else c.pens[i]
        st = run.stage[j]
        banned = pen.capex_multiplier > 1 or pen.extra_lead_time_years > 0
        # USD/kg/yr x kt/yr = million USD a year, paid from first output (state.arrivals)
        # the plant ramps to nameplate in equal tranches from first output
        # (Dynamics.ramp_years); its whole capital charge runs from first output
        if st not in offsets_of:
            offsets_of[st] = projects_mod.ramp_offsets(dyn.ramp_years[st])
        offsets = offsets_of[st]
        share = qi / len(offsets)
        pipeline.extend(
            (now + float(c.lead[i]) + off, j, share, banned, cx * qi if k == 0 else 0.0)
            for k, off in enumerate(offsets)
        )
        if si:  # USD/kg/yr x kt/yr = million USD per year of annuity, paid by the plant's government
            region = run.regions[j]
            fiscal_capex[region] = fiscal_capex.get(region, 0.0) + si * cx * qi
        if banned:
            opex_mult[j] = max(opex_mult[j], pen.opex_multiplier)
            if learn_exp[j] > 0 and dyn.learning_rate > 0:
                learn_exp[j] = -math.log2(1.0 - dyn.learning_rate) * pen.learning_multiplier
    run.rec.add_rows(
        "fiscal",
        [
            {
                "period": step.period,
                "year": step.year,
                "instrument": "subsidy (capex)",
                "payer": payer,
                "usd_million": amount,
            }
            for payer, amount in sorted(fiscal_capex.items())
        ],
    )
    return state.evolve(
        pipeline=tuple(pipeline),
        cumulative=state.cumulative + sol.activity * step.dt,
        expected_rent=exp_rent,
        opex_multiplier=opex_mult,
        learning_exponent=learn_exp,
    )
