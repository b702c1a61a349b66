"""Solving one step of the simulation, with price floors iterated to their fixed point.

A price floor pays producers ``max(0, floor - p)`` per kg up to its volume (the DoD-MP
agreement's NdPr floor, policy_events 2025-07); the payment lowers their marginal cost only
while output is below the volume, so the step is re-solved until the top-up and the price
agree (a damped fixed point), or bisected where output would pass the volume.
"""

from __future__ import annotations

import numpy as np

from reesim.errors import ModelFailure
from reesim.instruments import support as support_mod
from reesim.model.qp import update_qp
from reesim.scenario.spec import Scenario
from reesim.simulate.record import KT_TO_T
from reesim.simulate.steps import Step
from reesim.solve.equilibrium import SOLVE_FAILURES, solve_equilibrium
from reesim.world.world import World


def solve_step(wt: World, scenario: Scenario, qp0, backend, step: Step):
    """Solve one step; a solver, convergence or guard failure becomes a :class:`ModelFailure` naming the period."""
    try:
        return solve_with_floors(wt, scenario, qp0, backend)
    except SOLVE_FAILURES as exc:
        raise ModelFailure(
            f"scenario {scenario.name!r}, period {step.period}: {exc}. The scenario is valid but this "
            "step has no trustworthy equilibrium; soften the most extreme instrument or parameter"
        ) from None


def solve_with_floors(wt: World, scenario: Scenario, qp0, backend, tol: float = 1e-6, max_iter: int = 50):
    """Solve a step; with price floors, find the producers' top-up and its effect on output.

    The payment rate is ``s = max(0, floor - p)`` at the solution. It is marginal (lowers the
    producers' marginal cost) only up to the floor's volume: if the producers' output without
    any top-up already reaches the volume, the floor is a lump-sum transfer with no output
    effect; otherwise the marginal top-up is ``s``, or, where that would take output past the
    volume, the top-up at which output equals the volume (found by bisection on a common
    scale of the floors' top-ups).
    """
    floors = support_mod.floors(scenario)
    when = sol_when(wt)
    active = [(k, f) for k, f in floors if f.in_force(when)]
    sol0 = solve_equilibrium(wt, backend=backend, qp=update_qp(qp0, wt))
    if not active:
        return sol0, {}, wt
    base_int = wt.processes["mc_intercept"].astype(float).to_numpy()
    pos = {pid: j for j, pid in enumerate(wt.processes["process"])}

    # Read once per step (each was a pandas filter per iteration): every floor's producers, the
    # goods mix that weights its price and its per-process reduction per USD/kg of top-up.
    prods = {id(f): support_mod.producers(wt, f) for _, f in active}
    mixes = {k: support_mod.price_mix(prods[id(f)]) for k, f in active}
    unit_red = {
        k: support_mod.topup_reductions(wt, {k: 1.0}, scenario).to_numpy(dtype=float) for k, _ in active
    }

    def with_topups(topups: dict[int, float]) -> World:
        red = np.zeros(len(base_int))
        for k, _ in floors:  # in the floors' order, as topup_reductions adds them
            s = topups.get(k, 0.0)
            if s > 0 and k in unit_red:
                red = red + unit_red[k] * s
        p = wt.processes.copy()
        p["mc_intercept"] = base_int - red
        return wt.with_data(processes=p)

    def output(sol, f) -> float:
        prod = prods[id(f)]
        act = sol.activity
        return float(sum(act[pos[pid]] * c for pid, c in zip(prod["process"], prod["coef"], strict=True)))

    def payments(sol) -> dict[int, float]:
        prices = sol.price_map
        return {
            k: max(0.0, f.floor_usd_per_kg - support_mod.floor_price(mixes[k], f.region, prices))
            for k, f in active
        }

    cap = {k: f.volume_tonnes_per_year / KT_TO_T for k, f in active}
    if all(output(sol0, f) >= cap[k] - tol for k, f in active):
        return sol0, payments(sol0), wt  # infra-marginal: a transfer, no output effect
    # Full marginal top-up: damped fixed point on s = floor - p.
    sol, world, topups = sol0, wt, {}
    for _ in range(max_iter):
        new = payments(sol)
        merged = {k: 0.5 * new[k] + 0.5 * topups.get(k, new[k]) for k in new}
        if topups and all(abs(merged[k] - topups[k]) <= tol for k in merged):
            break
        topups = merged
        world = with_topups(topups)
        sol = solve_equilibrium(world, backend=backend, qp=update_qp(qp0, world))
    if all(output(sol, f) <= cap[k] + tol for k, f in active):
        return sol, payments(sol), world
    # Output would pass the volume: the marginal top-up stops where output reaches it.
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        world = with_topups({k: mid * v for k, v in topups.items()})
        sol = solve_equilibrium(world, backend=backend, qp=update_qp(qp0, world))
        if any(output(sol, f) > cap[k] for k, f in active):
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-6:
            break
    world = with_topups({k: lo * v for k, v in topups.items()})
    sol = solve_equilibrium(world, backend=backend, qp=update_qp(qp0, world))
    return sol, payments(sol), world


def sol_when(world: World):
    """The date of the step a world was built for (stored in its meta)."""
    return world.meta["when"]
