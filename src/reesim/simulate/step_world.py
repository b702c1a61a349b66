"""The world of one simulation step: the run's world with the state and the instruments in force.

Capacity (with disruptions and stock releases), marginal costs (learning, technology-ban opex,
tolls, subsidies), demand (growth, substitution, stock purchases, offtakes, private stocks),
calibrated route terms, and the step's policies (bans, quota and licence limits, duties, rules
of origin, end-use rules) set on the tables of the run's world (:func:`step_world`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reesim.instruments import disruption as disruption_mod
from reesim.instruments import enduse as enduse_mod
from reesim.instruments import stockpile as stock_mod
from reesim.instruments import support as support_mod
from reesim.instruments import trade as trade_mod
from reesim.scenario.spec import Scenario
from reesim.simulate.counterfactual import Counterfactual
from reesim.simulate.state import State
from reesim.simulate.steps import Step
from reesim.world.world import Columns, World


def run_columns(world: World) -> dict[str, np.ndarray]:
    """The run's world's columns that every step starts from, read once per run (as arrays,
    not to be written to): the processes' reference capacity and cost line, the demand lines."""
    cols = {
        "capacity": world.numbers("processes", "capacity"),
        "mc_slope": world.numbers("processes", "mc_slope"),
        "mc_intercept": world.numbers("processes", "mc_intercept"),
        "d_intercept": world.numbers("demands", "intercept"),
        "d_slope": world.numbers("demands", "slope"),
        "d_max": world.numbers("demands", "max_quantity"),
    }
    for a in cols.values():
        a.flags.writeable = False
    return cols


def _spread_slope(base: dict[str, np.ndarray], capacity: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Marginal-cost slopes with the cost line of ``spread`` processes spread over their current capacity.

    A lean heavy-RE grade's extra cost runs from ``mc_intercept`` at its first kg to the cited
    high end at full capacity (:func:`reesim.world.default_magnets._lean_grade`); new lines built by
    investment have the same spread of costs. Capacity set by an exogenous path (China's mining
    and separation following its quotas) likewise comes with its cost line: the added quota is
    mined and separated at the costs of the reference tranche, not up a line steepened by the
    added tonnage. For these the slope is the reference slope times reference over current
    capacity, so the cost at capacity stays where it was; other processes keep theirs.
    """
    slope = base["mc_slope"].copy()
    cap0 = base["capacity"]
    scale = spread & (capacity > 0) & np.isfinite(cap0) & (cap0 > 0)
    slope[scale] *= cap0[scale] / capacity[scale]
    return slope


def step_world(
    world: World, scenario: Scenario, state: State, step: Step, cf: Counterfactual | None, extra
) -> World:
    """The world of one step (before price-floor top-ups and stock releases).

    Its stages: the processes' capacity and cost lines (:func:`_process_columns`), the demands
    (:func:`_demand_columns`), the calibrated route terms (:func:`_edges`), the policies in force
    (:func:`reesim.instruments.trade.step_policies`), the instruments' settings of capacity and
    demand rows (:func:`_instrument_settings`) and the policies' rows (:func:`_rule_tables`).
    The columns are built as arrays and given to the step's world as
    :class:`~reesim.world.world.Columns`: the solver reads them as arrays, and a table is made
    only if something reads it (making the step's tables cost about 1.5 ms a step). ``extra``
    is the run's fixed parts (:func:`reesim.simulate.stepper.start_run`).
    """
    cap, slope, intercept = _process_columns(world, scenario, state, step, extra)
    d_int, d_slope, d_max = _demand_columns(extra["columns"], state)
    pol = trade_mod.step_policies(
        scenario,
        world,
        step.mid,
        cf.flows.get(step.period) if cf else None,
        extra["quota_names"],
        step_start=step.start,
        step_days=max(1, round(step.dt * 365.25)),
    )
    risk, awaiting = _instrument_settings(
        world, scenario, state, step, cf, extra, pol, cap, d_int, d_slope, d_max
    )
    quotas, origin, enduse = _rule_tables(world, scenario, step, pol, extra["quota_names"])
    return world.with_data(
        processes=Columns(world.processes, {"capacity": cap, "mc_slope": slope, "mc_intercept": intercept}),
        demands=Columns(world.demands, {"intercept": d_int, "slope": d_slope, "max_quantity": d_max}),
        edges=_edges(world, state, extra),
        bans=pol["bans"],
        quotas=quotas,
        ad_valorem=pol["ad_valorem"],
        specific=pol["specific"],
        origin_rules=origin,
        enduse_rules=enduse,
        meta={
            **world.meta,
            "when": step.mid,
            "period": step.period,
            "stock_risk": risk,
            "stock_awaiting": awaiting,
        },
    )


def _process_columns(
    world: World, scenario: Scenario, state: State, step: Step, extra
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage of :func:`step_world`: capacity, marginal-cost slope and intercept of every process.

    Capacity is the state's, less a disruption's share of the step; the intercept carries
    learning (``(cumulative / start cumulative)^-b``), the technology-ban opex penalty on the
    share of capacity built under it, the tolls' index and, less, a subsidy per unit.
    """
    base_p = world.processes
    learn = np.where(
        state.learning_exponent > 0, (state.cumulative / extra["cum0"]) ** (-state.learning_exponent), 1.0
    )
    share_pen = np.divide(
        state.penalised, state.capacity, out=np.zeros_like(state.capacity), where=state.capacity > 0
    )
    opex = 1.0 + (state.opex_multiplier - 1.0) * share_pen
    days = disruption_mod.step_days(step.start, step.dt)
    cap = np.asarray(
        state.capacity * disruption_mod.capacity_factor(scenario, base_p, step.start, days), dtype=float
    )
    slope = _spread_slope(extra["columns"], state.capacity, extra["spread"])
    intercept = extra["columns"]["mc_intercept"] * learn * opex
    if extra.get("tolls") is not None:  # the charge is indexed; a subsidy per kg is not
        intercept, slope = (
            extra["tolls"].scale(intercept, state.toll_index),
            extra["tolls"].scale(slope, state.toll_index),
        )
    intercept = intercept - support_mod.subsidy_per_unit(scenario, step.mid, world)
    return cap, slope, intercept


def _demand_columns(base: dict[str, np.ndarray], state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage of :func:`step_world`: intercept, slope and cap of every demand row (of the run's
    world: :func:`run_columns`), the slope flattened by growth and substitution (quantity at a
    price scales with both)."""
    growth = state.demand_multiplier * state.substitution
    return base["d_intercept"].copy(), base["d_slope"] / growth, base["d_max"].copy()


def _edges(world: World, state: State, extra) -> Columns:
    """Stage of :func:`step_world`: the routes' calibrated terms, scaled with demand growth and,
    when indexed, with the good's price (:mod:`reesim.simulate.route_index`)."""
    quad = extra["route_scale"].quad(state.demand_multiplier * state.substitution)
    if state.route_index is None:
        return Columns(world.edges, {"route_quad": quad})
    rc = world.numbers("edges", "route_cost")
    return Columns(
        world.edges, {"route_cost": rc * state.route_index, "route_quad": quad * state.route_index}
    )


def _instrument_settings(
    world: World,
    scenario: Scenario,
    state: State,
    step: Step,
    cf: Counterfactual | None,
    extra,
    pol: dict,
    cap: np.ndarray,
    d_int: np.ndarray,
    d_slope: np.ndarray,
    d_max: np.ndarray,
):
    """Stage of :func:`step_world`: set the rows of stockpile purchases, offtakes, stock releases
    and private stocks in the step's arrays (in place), in that order; returns the private
    stocks' supply-risk flags and licence waits (None without private stocks)."""
    d_pos, p_pos = extra["demand_pos"], extra["process_pos"]  # the run's (start_run)
    cf_price = cf.prices.get(step.period, {}) if cf else extra["reference_prices"]
    for did, (a, b, q) in stock_mod.purchase_settings(
        scenario, world, step.mid, step.dt, state.stocks, cf_price, extra["releasing"]
    ).items():
        d_int[d_pos[did]], d_slope[d_pos[did]], d_max[d_pos[did]] = a, b, q
    for did, q in support_mod.offtake_settings(scenario, world, step.mid).items():
        d_max[d_pos[did]] = q
    for pid, value in extra.get("release", {}).items():
        cap[p_pos[pid]] = value
    items = extra.get("items")
    if items is None or state.private is None:
        return None, None
    risk = items.risk(pol["restricted"], pol["restricted_routes"])
    awaiting = items.awaiting(pol["licensed_origins"])
    release, s_int, s_slope, most = items.settings(state.private, risk, step.dt, awaiting)
    cap[items.proc_pos] = release
    d_int[items.dem_pos], d_slope[items.dem_pos], d_max[items.dem_pos] = s_int, s_slope, most
    return risk, awaiting


def _rule_tables(
    world: World, scenario: Scenario, step: Step, pol: dict, quota_names: tuple[str, ...]
) -> tuple[Columns, pd.DataFrame | Columns, pd.DataFrame | Columns]:
    """Stage of :func:`step_world`: quota and licence limits, rules-of-origin and end-use slacks
    of the step (a rule not in force is slack); ``quota_names``: the run's quota rows, in order."""
    limits = pol["quota_limits"]
    quotas = Columns(
        world.quotas, {"limit": np.array([limits.get(q, np.nan) for q in quota_names], dtype=float)}
    )
    origin = world.origin_rules
    if len(origin):
        origin = Columns(origin, {"slack": trade_mod.origin_slack(scenario, origin, step.mid).to_numpy()})
    enduse = world.enduse_rules
    if len(enduse):
        enduse = Columns(enduse, {"slack": enduse_mod.slack(scenario, enduse, step.mid)})
    return quotas, origin, enduse
