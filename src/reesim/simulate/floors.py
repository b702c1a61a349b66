"""Solving one step of the simulation, with price floors iterated to their fixed point.

A price floor pays producers ``max(0, floor - p)`` per kg up to its volume (the DoD-MP
agreement's NdPr floor, policy_events 2025-07); the payment lowers their marginal cost only
while output is below the volume, so the step is re-solved until the top-up and the price
agree (a damped fixed point), or bisected where output would pass the volume.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reesim.errors import ModelFailure
from reesim.instruments import support as support_mod
from reesim.model.qp import QP, update_qp
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
    volume, the top-up at which output equals the volume (found by the Illinois method on a
    common scale of the floors' top-ups).
    """
    floors = support_mod.floors(scenario)
    when = sol_when(wt)
    active = [(k, f) for k, f in floors if f.in_force(when)]
    qp_step = update_qp(qp0, wt)
    sol0 = solve_equilibrium(wt, backend=backend, qp=qp_step)
    if not active:
        return sol0, {}, wt
    base_int = wt.numbers("processes", "mc_intercept")
    n_p = len(base_int)
    pos = {pid: j for j, pid in enumerate(wt.column("processes", "process").tolist())}

    # Read once per step (each was a pandas filter per iteration): every floor's producers (as
    # positions and output coefficients), the goods mix that weights its price and its
    # per-process reduction per USD/kg of top-up.
    prods = {id(f): support_mod.producers(wt, f) for _, f in active}
    made = {
        id(f): (
            np.array([pos[pid] for pid in prod["process"].tolist()], dtype=int),
            prod["coef"].to_numpy(dtype=float),
        )
        for f, prod in ((f, prods[id(f)]) for _, f in active)
    }
    mixes = {k: support_mod.price_mix(prods[id(f)]) for k, f in active}
    unit_red = {
        k: support_mod.topup_reductions(wt, {k: 1.0}, scenario).to_numpy(dtype=float) for k, _ in active
    }

    def with_topups(topups: dict[int, float]) -> tuple[World, QP]:
        """The step's world with the top-ups lowering the producers' marginal cost, and its QP:
        only the processes' linear costs differ from the step's (:func:`~reesim.model.qp.update_qp`
        puts ``mc_intercept`` there), so they are set without recomputing the rest."""
        red = np.zeros(len(base_int))
        for k, _ in floors:  # in the floors' order, as topup_reductions adds them
            s = topups.get(k, 0.0)
            if s > 0 and k in unit_red:
                red = red + unit_red[k] * s
        c_proc = base_int - red
        c = qp_step.c.copy()
        c[:n_p] = c_proc
        return wt.with_columns("processes", mc_intercept=c_proc), replace(qp_step, c=c)

    def solve(topups: dict[int, float]):
        world, qp = with_topups(topups)
        return solve_equilibrium(world, backend=backend, qp=qp), world

    def output(sol, f) -> float:
        at, coef = made[id(f)]
        return float(sum(sol.activity[at] * coef))  # summed in the rows' order, as before

    def payments(sol) -> dict[int, float]:
        prices = sol.price_map
        return {
            k: max(0.0, f.floor_usd_per_kg - support_mod.floor_price(mixes[k], f.region, prices))
            for k, f in active
        }

    cap = {k: f.volume_tonnes_per_year / KT_TO_T for k, f in active}
    if all(output(sol0, f) >= cap[k] - tol for k, f in active):
        return sol0, payments(sol0), wt  # infra-marginal: a transfer, no output effect
    # Full marginal top-up: the fixed point s = floor - p(s).
    sol, world, topups = _fixed_point(solve, payments, active, sol0, wt, tol, max_iter)
    if all(output(sol, f) <= cap[k] + tol for k, f in active):
        return sol, payments(sol), world
    # Output would pass the volume: the marginal top-up stops where output reaches it, on a
    # common scale of the floors' top-ups (0: none, 1: the full marginal top-up).

    def over(sol) -> float:
        return max(output(sol, f) - cap[k] for k, f in active)

    def excess(scale: float):
        sol, world = solve({k: scale * v for k, v in topups.items()})
        return over(sol), (sol, world)

    if over(sol0) > 0:  # a floor is past its volume without any top-up: no marginal top-up at all
        return sol0, payments(sol0), wt
    low, high = (over(sol0), (sol0, wt)), (over(sol), (sol, world))
    sol, world = _illinois(excess, 0.0, low, 1.0, high, xtol=1e-6, ftol=tol, either_side=False)
    return sol, payments(sol), world


def _fixed_point(solve, payments, active, sol0, wt: World, tol: float, max_iter: int):
    """The marginal top-up ``s = max(0, floor - p(s))`` and its solution: ``(sol, world, topups)``.

    With one floor in force it is the root of ``u(s) = s - g(s)``, ``g(s) = max(0, floor -
    p(s))``. A top-up lowers the producers' marginal cost, so output rises and the price falls:
    ``g`` rises with ``s`` and ``u`` is bracketed by ``u(0) = -g(0) <= 0`` and ``u(floor) =
    floor - g(floor) >= 0`` (a price is not negative). :func:`_one_floor_root` finds it in a
    few solves (a step's prices are piecewise linear in ``s``), where the damped iteration
    ``s <- (s + g(s)) / 2`` took 5 to 20. With several floors the damped iteration is kept.
    """
    if len(active) == 1:
        (k, f), g0 = active[0], payments(sol0)
        if g0[k] <= 0:  # the market price is at or above the floor: nothing to pay at the margin
            return sol0, wt, {k: 0.0}

        def u(s: float):
            sol, world = solve({k: s})
            return s - payments(sol)[k], (sol, world, {k: s})

        return _one_floor_root(u, g0[k], (sol0, wt, {k: 0.0}), f.floor_usd_per_kg, tol)
    sol, world, topups = sol0, wt, {}
    for _ in range(max_iter):
        new = payments(sol)
        merged = {k: 0.5 * new[k] + 0.5 * topups.get(k, new[k]) for k in new}
        if topups and all(abs(merged[k] - topups[k]) <= tol for k in merged):
            break
        topups = merged
        sol, world = solve(topups)
    return sol, world, topups


def _one_floor_root(u, g0: float, at_zero, floor: float, tol: float):
    """The root of ``u(s) = s - g(s)`` for one floor, from ``g0 = g(0) > 0``.

    The first solve is the damped iteration's first point, ``s = g0``: where the top-up moves
    no price (producers at capacity) it is the root, in one solve. ``g`` rises with ``s``, so
    ``u(g0) = g0 - g(g0) <= 0``; the secant through ``(0, -g0)`` and ``(g0, u(g0))`` is the root
    where ``g`` is linear there, else it brackets it. ``s = floor`` (``u >= 0``: a price is not
    negative) is solved only when no point so far lies above the root, so the solver is not
    sent to a full-floor top-up that the answer does not need.
    """
    lo, (v_lo, p_lo) = 0.0, (-g0, at_zero)
    v1, p1 = u(g0)
    if abs(v1) <= tol:
        return p1
    if v1 > 0:  # g fell between 0 and g0 (not expected): the root lies between them
        return _illinois(u, lo, (v_lo, p_lo), g0, (v1, p1), xtol=1e-9, ftol=tol)
    slope = (v1 - v_lo) / g0
    lo, v_lo, p_lo = g0, v1, p1
    if slope > 0:
        x = g0 - v1 / slope
        if g0 < x < floor:
            vx, px = u(x)
            if abs(vx) <= tol:
                return px
            if vx > 0:
                return _illinois(u, lo, (v_lo, p_lo), x, (vx, px), xtol=1e-9, ftol=tol)
            lo, v_lo, p_lo = x, vx, px
    return _illinois(u, lo, (v_lo, p_lo), floor, u(floor), xtol=1e-9, ftol=tol)


def _illinois(
    fun,
    a: float,
    fa,
    b: float,
    fb,
    *,
    xtol: float,
    ftol: float,
    either_side: bool = True,
    max_iter: int = 100,
):
    """Root of a continuous function increasing across ``[a, b]``: the Illinois method.

    Regula falsi with the retained end's value halved when the same end is kept twice
    (Dowell & Jarratt 1971, *BIT* 11, 168-174), so the bracket shrinks superlinearly also
    across kinks. ``fun(x)`` returns ``(value, payload)``; ``fa = (f(a), payload)`` with
    ``f(a) <= 0`` and ``fb`` with ``f(b) >= 0``. Stops at a point with ``|f| <= ftol`` (with
    ``either_side=False`` only at ``-ftol <= f <= 0``) or when the bracket is narrower than
    ``xtol``, and returns that point's payload (the low end's when the bracket closed).
    """
    (va, pa), (vb, pb) = fa, fb
    if va >= -ftol and (either_side or va <= 0):
        return pa
    if vb <= ftol and (either_side or vb <= 0):
        return pb
    side = 0
    for _ in range(max_iter):
        if b - a <= xtol:
            break
        x = b - vb * (b - a) / (vb - va) if vb != va else 0.5 * (a + b)
        if not a < x < b:
            x = 0.5 * (a + b)
        vx, px = fun(x)
        if abs(vx) <= ftol and (either_side or vx <= 0):
            return px
        if vx < 0:
            a, va, pa = x, vx, px
            if side == -1:
                vb *= 0.5
            side = -1
        else:
            b, vb, pb = x, vx, px
            if side == 1:
                va *= 0.5
            side = 1
    return pa


def sol_when(world: World):
    """The date of the step a world was built for (stored in its meta)."""
    return world.meta["when"]
