"""The recursive year-by-year (or quarter, month) simulation (DESIGN §4).

Each step is one equilibrium of the market core on the same QP structure (only costs,
bounds and right-hand sides change, :func:`reesim.model.qp.update_qp`):

1. capacity ordered earlier comes online; the step's world is assembled from the base
   world, the state (capacity, learning, technology-ban opex, demand growth, substitution)
   and the instruments in force (bans, quotas, wedges, subsidies, stockpile purchases,
   offtakes);
2. the equilibrium is solved; price floors are iterated to their fixed point; stockpiles
   whose trigger fires release and the step is solved again;
3. the state is updated: investment on expected capacity rents, retirements, learning,
   stocks, demand growth.

Instruments that refer to the counterfactual (licences as approval shares of the
counterfactual's exports, stockpile triggers) read the counterfactual's step tables
(:mod:`reesim.simulate.counterfactual`). The run's world is built by
:mod:`reesim.simulate.scenario_world`, each step's by :mod:`reesim.simulate.step_world`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reesim import __version__
from reesim.instruments import demand as demand_mod
from reesim.instruments import projects as projects_mod
from reesim.instruments import stockpile as stock_mod
from reesim.instruments.quota import quota_paths
from reesim.model.qp import build_qp, key_positions
from reesim.scenario.load import scenario_hash
from reesim.scenario.spec import Scenario, Subsidy, TechnologyBan
from reesim.simulate import storage
from reesim.simulate.counterfactual import Counterfactual
from reesim.simulate.fiscal import capital_rows, fiscal_rows, stock_rows
from reesim.simulate.floors import solve_step
from reesim.simulate.invest import phase_invest
from reesim.simulate.record import Recorder
from reesim.simulate.result import LazyTables, Result
from reesim.simulate.route_index import RouteIndex
from reesim.simulate.scenario_world import scenario_world
from reesim.simulate.state import INVEST_STAGE, State, arrivals
from reesim.simulate.step_world import run_columns, step_world
from reesim.simulate.steps import Step, make_steps
from reesim.simulate.tolls import Tolls
from reesim.solve import routes as routes_mod
from reesim.solve.backends import PiqpBackend
from reesim.solve.equilibrium import solve_equilibrium
from reesim.solve.solution import Solution, prices_at
from reesim.world.labels import frozen
from reesim.world.world import World


def _reference_activity(world: World, reference) -> np.ndarray:
    """Each process's output in the start world's equilibrium, in ``world.processes`` order."""
    if reference.world is not world:
        raise ValueError("_reference_activity: the reference solution is of another world")
    return np.array(reference.activity, dtype=float)  # the solver's activities, in this world's order


def _initial_state(world: World, scenario: Scenario, reference) -> State:
    p = world.processes
    n = len(p)
    act = _reference_activity(world, reference)
    lr = scenario.dynamics.learning_rate
    b = -math.log2(1.0 - lr) if lr > 0 else 0.0
    learns = (p["kind"].isin(["capacity", "metal", "magnet"]) & (p["region"] != "CHN")).to_numpy()
    index = {pid: j for j, pid in enumerate(p["process"].tolist())}
    return State(
        capacity=p["capacity"].astype(float).to_numpy().copy(),
        pipeline=tuple(projects_mod.tranches(scenario, index)),  # named plants on their own dates
        penalised=np.zeros(n),
        cumulative=np.maximum(act, 1e-9),
        expected_rent=np.array(reference.capacity_rents, dtype=float),  # the production table's column
        demand_multiplier=np.ones(len(world.demands)),
        substitution=np.ones(len(world.demands)),
        stocks={},
        opex_multiplier=np.ones(n),
        learning_exponent=np.where(learns, b, 0.0),
        capital_charge=np.zeros(n),
    )


@dataclass
class _Run:
    """What every phase of a simulation reads: the world, the scenario and fixed index maps."""

    world: World
    scenario: Scenario
    qp0: object
    backend: PiqpBackend
    cf: Counterfactual | None
    reference: object
    rec: Recorder
    items: storage.Items | None
    paths: dict[str, dict[int, float]]
    extra: dict
    stage: np.ndarray  # each process's investing stage (object array; None where it does not invest)
    invests: np.ndarray  # processes with an investing stage (``stage`` not None)
    regions: np.ndarray
    proc_pos: dict[str, int]
    dem_pos: dict[str, int]
    fixed: np.ndarray  # processes that do not invest (exogenous paths, cash-cost base tranches)
    base_of: np.ndarray  # index of an expansion tranche's base tranche (-1 where none)
    first_price: dict
    planned: np.ndarray  # usual utilisation of makers that keep capacity ahead of demand (0 where none)
    demand_weights: np.ndarray  # quantities bought in the start world, by demand row
    capex0: np.ndarray  # capex of each process's investing stage, USD/kg/yr (NaN where none)
    lead0: np.ndarray  # lead time of each process's investing stage, years (NaN where none)
    #: the scenario has technology bans or capex subsidies (otherwise no order meets a penalty or a subsidy)
    invest_policies: bool = True


def simulate(
    scenario: Scenario,
    counterfactual: Result | None = None,
    *,
    progress: Callable[[Step], None] | None = None,
    capacity_paths: dict[str, dict[int, float]] | None = None,
    world: World | None = None,
) -> Result:
    """Simulate ``scenario`` over its horizon.

    Each step runs the phases in order: :func:`phase_capacity` (arrivals, retirements,
    exogenous paths), :func:`phase_expectations` (holders' opening expectations),
    :func:`phase_clear` (the step's equilibrium, with price floors and
    stockpile releases), :func:`phase_record`, :func:`phase_invest`, :func:`phase_stocks`
    (strategic and private stocks, expected prices) and :func:`phase_demand` (growth and
    substitution); each is a function of the run, the state and the step's solution.

    Parameters
    ----------
    scenario : Scenario
        The resolved scenario.
    counterfactual : Result, optional
        The counterfactual's result over the same steps, for instruments that refer to it
        (licences given as approval shares, stockpile prices and triggers). Without it, a
        licence given as an approval share allows nothing (no counterfactual exports to
        approve), and stockpiles compare prices with the reference solution of the start world.
    progress : callable, optional
        Called after every step.
    capacity_paths : dict, optional
        Exogenous capacity (kt/yr) by process id and year, e.g. China's published mining
        quota in the historical run; those processes do not invest. They override the paths of
        the scenario's mining quotas (:mod:`reesim.instruments.quota`) for the same process.
    world : World, optional
        The base world (default: the default world of the scenario's reference year), e.g.
        one built from a vintage view of the dataset for a backtest.
    """
    run, state = start_run(scenario, counterfactual, capacity_paths, world)
    steps = make_steps(scenario.horizon)
    for step in steps:
        _, _, _, state = advance(run, state, step, progress)

    from reesim.data import default_dataset

    meta = {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "dataset_version": default_dataset().version,
        "code_version": __version__,
        "seed": scenario.seed,
        "horizon": scenario.horizon.model_dump(),
        "steps": len(steps),
        "world": run.world.name,
    }
    if "heavy_dose" in run.world.meta:
        meta["heavy_dose"] = run.world.meta["heavy_dose"]
    return Result(
        scenario_name=scenario.name, meta=meta, _tables=LazyTables(run.rec.tables), arrays=run.rec.arrays()
    )


def advance(
    run: _Run, state: State, step: Step, progress: Callable[[Step], None] | None = None
) -> tuple[State, Solution, World, State]:
    """One step's phases in order (see :func:`simulate`).

    Returns the state the step cleared on (after capacity and expectations), its solution and
    world, and the state carried into the next step.
    """
    state = phase_capacity(run, state, step)
    opening = phase_expectations(run, state, step)
    sol, topups, wt = phase_clear(run, opening, step)
    phase_record(run, opening, step, sol, wt, topups)
    if progress:
        progress(step)
    state = phase_indexation(run, opening, sol, step.dt)
    state = phase_invest(run, state, step, sol)
    state = phase_stocks(run, state, step, sol)
    return opening, sol, wt, phase_demand(run, state, step, sol)


def start_run(
    scenario: Scenario,
    counterfactual: Result | None = None,
    capacity_paths: dict[str, dict[int, float]] | None = None,
    world: World | None = None,
) -> tuple[_Run, State]:
    """The run's fixed parts and the initial state (the reference solution of the start world)."""
    world = scenario_world(scenario, world)
    # mining quotas are policy paths; capacity paths given by the caller (data) take precedence
    paths = quota_paths(scenario, world) | (capacity_paths or {})
    qp0 = build_qp(world)
    backend = PiqpBackend()
    cf = Counterfactual.from_result(counterfactual) if counterfactual is not None else None
    reference = solve_equilibrium(world, backend=backend, qp=qp0)
    state = _initial_state(world, scenario, reference)
    items = storage.Items.of(world, reference)
    if items is not None:
        state = state.evolve(private=items.initial(reference))
    p = world.processes
    # Capacity that does not invest: exogenous paths and the base tranches of cash-cost
    # curves (reference capacity; only their expansion tranches invest).
    base = set(world.meta.get("base_tranches", ()))
    procs = p["process"].tolist()  # plain lists: a column iterated element by element is slow
    pos = {pid: j for j, pid in enumerate(procs)}
    dem_pos = {did: i for i, did in enumerate(world.demands["demand"].tolist())}
    stage = p["kind"].map(INVEST_STAGE).to_numpy(dtype=object, na_value=None)
    regions = np.array(p["region"].tolist(), dtype=object)
    frozen(regions)  # the run's labels, which reesim.simulate.record.sum_by groups once
    run = _Run(
        world=world,
        scenario=scenario,
        qp0=qp0,
        backend=backend,
        cf=cf,
        reference=reference,
        rec=Recorder(world, qp0),
        items=items,
        paths=paths,
        extra={
            "cum0": state.cumulative.copy(),
            "columns": run_columns(world),
            "releasing": set(),
            "release": {},
            "reference_prices": reference.price_map,
            "route_scale": routes_mod.RouteScale.of(world, reference.quantities),
            "items": items,
            "tolls": Tolls.of(world, reference.price_map),
            "route_index": RouteIndex.of(world, reference.price_map),
            "spread": ((p["kind"] == "thrift") | p["process"].isin(list(paths))).to_numpy(),
            "process_pos": pos,  # the same maps as the run's, for the step's world
            "demand_pos": dem_pos,
            "quota_names": qp0.quota_names,  # the quota rows of every step, in order
        },
        stage=stage,
        invests=pd.notna(stage),
        regions=regions,
        proc_pos=pos,
        dem_pos=dem_pos,
        # cash-cost base tranches and named plants do not invest themselves; a process on an
        # exogenous path does not invest in the years its path covers (phase_invest)
        fixed=np.array([pid in base or pid.startswith("project:") for pid in procs]),
        base_of=np.array(
            [
                pos[pid.removesuffix(":expansion")] if pid.removesuffix(":expansion") in base else -1
                for pid in procs
            ]
        ),
        first_price={},
        planned=_planned_utilisation(world, scenario, reference, base),
        demand_weights=np.asarray(reference.quantities, dtype=float),
        capex0=_by_stage(stage, scenario.dynamics.capex_usd_per_kg_year),
        lead0=_by_stage(stage, scenario.dynamics.lead_time_years),
        invest_policies=any(isinstance(i, TechnologyBan | Subsidy) for i in scenario.instruments),
    )
    return run, state


def _by_stage(stage: np.ndarray, values: dict[str, float]) -> np.ndarray:
    """Each process's value of its investing stage (NaN where it has none)."""
    return np.array([np.nan if st is None else values.get(st, np.nan) for st in stage], dtype=float)


def _planned_utilisation(
    world: World, scenario: Scenario, reference: Solution, base_tranches: set[str]
) -> np.ndarray:
    """Usual utilisation of the makers that keep capacity ahead of demand (0 for other processes).

    Parameters
    ----------
    world, scenario : World, Scenario
        The run's start world and scenario (``Dynamics.planned_capacity`` names the regions and
        stages; regions the world lacks are skipped, as the default names China).
    reference : Solution
        The start world's equilibrium, whose output over capacity is each maker's usual rate.
    base_tranches : set of str
        Cash-cost base tranches, which do not invest (named plants do not either).

    Returns
    -------
    numpy.ndarray
        Utilisation in (0, 1] per process (clipped at 1: a solver may return output a hair above
        capacity), 0 where a process is not planned.
    """
    p = world.processes
    act = _reference_activity(world, reference)
    cap = p["capacity"].to_numpy(dtype=float)
    wanted = scenario.dynamics.planned_capacity
    on = np.array(
        [
            kind in wanted.get(region, ()) and pid not in base_tranches and not pid.startswith("project:")
            for pid, region, kind in zip(
                p["process"].tolist(), p["region"].tolist(), p["kind"].tolist(), strict=True
            )
        ]
    )
    on &= np.isfinite(cap) & (cap > 0)
    used = np.divide(act, cap, out=np.zeros_like(cap), where=on)
    return np.where(on, np.minimum(used, 1.0), 0.0)


def phase_capacity(run: _Run, state: State, step: Step) -> State:
    """Capacity ordered earlier comes online; capacity retires; exogenous paths are applied."""
    state = arrivals(state, step.time)
    # Unbounded processes (capacity inf) do not retire: inf x 0 would be NaN.
    cap = np.array(state.capacity, dtype=float)
    finite = np.isfinite(cap)
    survive = (1.0 - run.scenario.dynamics.retirement_rate) ** step.dt
    cap[finite] *= survive
    for pid, path in run.paths.items():
        if step.year in path:
            cap[run.proc_pos[pid]] = path[step.year]
    return state.evolve(capacity=cap, capital_charge=state.capital_charge * survive)


def phase_expectations(run: _Run, state: State, step: Step) -> State:
    """Holders' opening expectations: against a counterfactual, its expected prices for the step
    times the expected effect of the policy (:meth:`reesim.simulate.storage.Items.open`)."""
    if run.items is None or state.private is None or run.cf is None:
        return state
    return state.evolve(private=run.items.open(state.private, run.cf.expected.get(step.period)))


def phase_clear(run: _Run, state: State, step: Step):
    """The step's equilibrium: solve; if a stockpile trigger fires on it, release and solve again.

    Returns the solution, the price-floor top-ups and the step's world.
    """
    scenario, world, cf, extra = run.scenario, run.world, run.cf, run.extra
    extra["releasing"], extra["release"] = set(), {}
    wt = step_world(world, scenario, state, step, cf, extra)
    sol, topups, wt = solve_step(wt, scenario, run.qp0, run.backend, step)
    fire = set()
    if stock_mod.items(scenario, world):  # the maps are read only where a stockpile may fire
        cf_price = cf.prices.get(step.period, {}) if cf else run.reference.price_map
        cf_cons = cf.consumption.get(step.period, {}) if cf else {}
        fire = stock_mod.triggered(
            scenario, world, step.mid, sol.price_map, cf_price, sol.consumption_map, cf_cons
        )
    if fire:
        extra["releasing"] = fire
        extra["release"] = stock_mod.release_capacity(scenario, world, fire, state.stocks, step.dt)
        wt = step_world(world, scenario, state, step, cf, extra)
        sol, topups, wt = solve_step(wt, scenario, run.qp0, run.backend, step)
    return sol, topups, wt


def phase_record(run: _Run, state: State, step: Step, sol, wt: World, topups: dict) -> None:
    """Record the step: the solution, opening stocks and fiscal costs."""
    run.rec.add(step.period, step.year, step.dt, sol)
    run.rec.add_rows("stocks", stock_rows(step, run.scenario, wt, state))
    if run.items is not None and state.private is not None:
        run.rec.add_columns(
            "stocks", run.items.columns(step.period, step.year, state.private), len(run.items.region)
        )
        gains = run.items.holding_gains(state.private, sol)
        run.rec.add_welfare(step.period, step.year, step.dt, "holding_gain", run.items.region, gains)
    run.rec.add_rows("fiscal", fiscal_rows(step, sol, wt, run.scenario, topups, run.proc_pos, run.dem_pos))
    run.rec.add_rows("fiscal", capital_rows(step, state.capital_charge, run.regions))


def phase_indexation(run: _Run, state: State, sol, dt: float) -> State:
    """Costs indexed to this step's prices, for the next step (a lag of one step).

    China's separation charge follows its oxide basket (:mod:`reesim.simulate.tolls`); each
    calibrated route's cost and slope move towards its good's price level over ``dt`` years
    (:mod:`reesim.simulate.route_index`).
    """
    tolls, routes = run.extra.get("tolls"), run.extra.get("route_index")
    if tolls is not None:
        state = state.evolve(toll_index=tolls.index(sol.price_map, state.toll_index))
    if routes is not None:
        prev = state.route_index if state.route_index is not None else routes.initial()
        state = state.evolve(route_index=routes.index(sol.price_map, prev, dt))
    return state


def phase_stocks(run: _Run, state: State, step: Step, sol) -> State:
    """Strategic stockpiles (bought, released) and private stocks (carried out, expected prices)."""
    bought, released = {}, {}
    for k, _inst, c in stock_mod.items(run.scenario, run.world):
        bought[(k, c)] = float(sol.quantities[run.dem_pos[stock_mod.demand_id(k, c)]])
        released[(k, c)] = float(sol.activity[run.proc_pos[stock_mod.release_id(k, c)]])
    private = state.private
    if run.items is not None and private is not None:
        private = run.items.update(private, sol, step.dt, run.cf.prices.get(step.period) if run.cf else None)
    return state.evolve(stocks=stock_mod.update(state.stocks, bought, released, step.dt), private=private)


def _node_values(run: _Run, sol, keys: list[tuple[str, str]]) -> np.ndarray:
    """The step's price (USD/kg) at each (commodity, region) of ``keys``, 0 where the solution has
    no such node: ``sol.price_map``'s values, gathered by position (:attr:`Solution.node_prices`)
    with the positions kept per list of keys and node index (a shift's keys are the same list
    every step of a run)."""
    index = sol.qp.node_index
    kept = run.extra.setdefault("node_positions", {})
    hit = kept.get(id(keys))
    if hit is None or hit[0] is not keys or hit[1] is not index:
        hit = kept[id(keys)] = (keys, index, key_positions(index, keys))
    return prices_at(sol.node_prices, hit[2])


def phase_demand(run: _Run, state: State, step: Step, sol) -> State:
    """Demand growth and lagged substitution, on prices relative to the first step's.

    The first step's prices are the counterfactual's when the run has one: a shock in the first
    step (a licence, a disruption) must not become the base against which later prices are
    judged. With its own first prices as the base, a scenario whose shock raised the first
    step's prices saw every later price as cheap, thrifted less than its counterfactual and
    kept a larger demand for the rest of the horizon: world welfare rose after a pure loss of
    supply (``myanmar-kachin``: +330 million USD in present value).
    """
    growth = demand_mod.growth_factors(run.scenario, run.world, step.mid, step.dt)
    if not run.first_price:
        first_cf = run.cf.prices.get(step.period) if run.cf is not None else None
        run.first_price.update(first_cf if first_cf else sol.price_map)
    # every step's nodes are the run's (one node index): a first price for each, checked once
    if run.extra.get("first_price_nodes") is not sol.qp.node_index:
        if not run.first_price.keys() >= sol.price_map.keys():
            for key, v in sol.price_map.items():
                run.first_price.setdefault(key, v)
        run.extra["first_price_nodes"] = sol.qp.node_index
    first = run.first_price

    def ratios(keys: list[tuple[str, str]]) -> np.ndarray:
        """p / p_0 at each (commodity, region): 1 where p_0 is missing or 0, p 0 where the step's
        solution has no such node (the step's prices gathered by position, :func:`_node_values`).
        An array, whose elements are NumPy scalars as the price map's values were: their powers
        are NumPy's scalar ones (``inf`` on overflow, where Python's floats raise)."""
        p0 = np.array([first.get(k) or 0.0 for k in keys], dtype=float)
        has = p0 != 0.0
        with np.errstate(invalid="ignore"):
            return np.where(has, _node_values(run, sol, keys) / np.where(has, p0, 1.0), 1.0)

    substitution = demand_mod.substitution_update(
        run.scenario, run.world, step.mid, step.dt, state.substitution, ratios
    )
    return state.evolve(demand_multiplier=state.demand_multiplier * growth, substitution=substitution)
