"""Named plants (``capacity_project``): committed capacity on a project's own dates.

A project is a plant of its own in the world: a process ``project:<name>`` with the inputs and
outputs of its region's stage (``magnet:<region>`` or ``separation-capacity:<region>``) and
no capacity at the start. A ``heavy_separation`` project gives a region that cracks ores but
sends its mixed heavy concentrate to China a heavy rare-earth circuit of its own (Lynas
Malaysia, May 2025): the plant provides the project's ``service:heavy_separation:<name>`` (t of
heavy concentrate a year) and :mod:`reesim.instruments.heavy` adds the circuit that uses it. A ``recycling`` project makes magnet material from end-of-life
magnets (short loop: hydrogen processing of scrap into powder, as Heraeus Remloy and HyProMag
do): output ``magnet:ndfeb`` with no rare-earth input, at its stated cash cost (scrap and
processing), kind ``recycling`` in the production table. Its capacity comes through the investment pipeline on the project's
dates: equal tranches from ``start`` to ``start + ramp_years`` (one a year or closer; all at
``start`` when ``ramp_years`` is 0), so it is
in service from the first step that starts on or after each tranche's date
(:func:`reesim.simulate.state.arrivals`). It does not itself invest (the region's own line
does, by the investment rule).

Its capital is paid by its region: a capital charge each year (``capex_usd_million`` x
:data:`CAPITAL_CHARGE_RATE`, or the investment rule's own ``capex_usd_per_kg_year`` x nameplate),
in proportion to the capacity in service, recorded in the fiscal table and counted in welfare as
``capital_cost`` — a plant built outside the market's margins is not free.

Its cost is a cash-cost tranche (Dixit & Pindyck 1994, ch. 7: a plant whose capital is sunk
runs while the price covers its cash cost): marginal cost from ``(1 - cash_cost_spread)`` of the
unit cost to the unit cost across its nameplate. The unit cost is the project's
``unit_cost_usd_per_kg`` or, by default, the stage's reference cost in the world: the
``magnet_processing_cost`` assumption for magnets (the processing cost of a magnet line at its
reference output), and the cash cost of the region's base separation tranche for separation.
"""

from __future__ import annotations

import math

import pandas as pd

from reesim.errors import InputError
from reesim.instruments import heavy
from reesim.memo import memo_of
from reesim.scenario.spec import CapacityProject, Scenario
from reesim.world.world import World

#: the share of a plant's capital cost charged each year: the annualisation of the capex
#: assumptions of ``Dynamics.capex_usd_per_kg_year`` (Lynas' MREC, annualised at 12 %)
CAPITAL_CHARGE_RATE = 0.12
#: fiscal-table label of a project's capital charge (welfare component ``capital_cost``)
CAPITAL_INSTRUMENT = "capital charge (project)"
#: fiscal-table label of the capital charge of capacity the investment rule built (welfare
#: component ``capital_cost``; :mod:`reesim.simulate.state`)
INVESTMENT_CAPITAL_INSTRUMENT = "capital charge (investment rule)"
#: the instruments whose rows are capital, not fiscal, costs
CAPITAL_INSTRUMENTS = (CAPITAL_INSTRUMENT, INVESTMENT_CAPITAL_INSTRUMENT)
#: plant structures kept per world (:func:`structure`), beyond which they are made again
KEEP_STRUCTURES = 64
#: the process whose inputs and outputs a project of each stage copies
TEMPLATE = {
    "magnet": "magnet:{region}",
    "separation": "separation-capacity:{region}",
    "heavy_separation": "separation-capacity:{region}",
}
#: what a recycling project makes: magnet material (short loop, no new rare earths)
RECYCLED_GOOD = "magnet:ndfeb"
#: the stage whose capex annuity a project's capital charge defaults to
CAPEX_STAGE = {
    "separation": "separation",
    "heavy_separation": "separation",
    "magnet": "magnet",
    "recycling": "magnet",
}


def projects(scenario: Scenario) -> list[tuple[int, CapacityProject]]:
    """The project instruments with their index in the scenario."""
    return [(k, i) for k, i in enumerate(scenario.instruments) if isinstance(i, CapacityProject)]


def process_id(inst: CapacityProject) -> str:
    """The project's process id."""
    return f"project:{inst.name}"


def _assumption(scenario: Scenario, name: str) -> float:
    from reesim.world.default import load_config

    given = scenario.world.assumptions.get(name)
    return float(given) if given is not None else float(load_config()["assumptions"][name]["value"])


def unit_cost(scenario: Scenario, world: World, inst: CapacityProject) -> float:
    """The project's cash cost at nameplate, USD/kg of output (module docstring)."""
    if inst.unit_cost_usd_per_kg is not None:
        return float(inst.unit_cost_usd_per_kg)
    if inst.stage == "magnet":
        return _assumption(scenario, "magnet_processing_cost")
    p = world.processes.set_index("process")
    base = p.loc[TEMPLATE[inst.stage].format(region=inst.region)]
    return float(base["mc_intercept"] + base["mc_slope"] * base["capacity"])


def _magnet_markets(world: World) -> set[str]:
    """Regions where magnet material can go: magnet users, or a magnet trade route out."""
    d, e = world.demands, world.edges
    users = set(d.loc[d["commodity"] == RECYCLED_GOOD, "region"])
    return users | set(e.loc[e["commodity"] == RECYCLED_GOOD, "origin"])


def structure(scenario: Scenario, world: World, label: str = "scenario") -> dict[str, pd.DataFrame]:
    """The projects' processes (no capacity yet) and their io rows, copied from their region's stage,
    and the commodities they add to the world (a heavy circuit's service).

    Memoised per world object (:func:`reesim.memo.memo_of`), like :func:`heavy.circuit`, on what
    the plants are made of: the projects' definitions and the scenario's assumptions (their
    costs read ``cash_cost_spread`` and ``magnet_processing_cost``). A run and its counterfactual,
    and an ensemble member's two runs, build the same plants on the same cached default world
    (about 4 ms a member). The result is shared: callers copy, never change it. ``label`` names
    the scenario in errors only; nothing that fails is kept.
    """
    plan = projects(scenario)
    key = (
        tuple(inst.model_dump_json() for _, inst in plan),
        tuple(sorted((k, repr(v)) for k, v in scenario.world.assumptions.items())),  # -0.0 is not 0.0
    )
    kept = memo_of(world).setdefault("project structures", {})
    if key not in kept:
        if len(kept) >= KEEP_STRUCTURES:  # a long-lived (cached) world sees many scenarios
            kept.clear()
        kept[key] = _structure(scenario, world, plan, label)
    return dict(kept[key])  # the tables are shared, read-only


def _structure(
    scenario: Scenario, world: World, plan: list[tuple[int, CapacityProject]], label: str
) -> dict[str, pd.DataFrame]:
    procs, io, edges, goods = [], [], [], []
    ids = world.processes["process"].tolist()
    names = set(ids)
    kind_of = dict(zip(ids, world.processes["kind"].tolist(), strict=True))
    io_process = world.io["process"].to_numpy(dtype=object)  # compared in numpy, not as pandas strings
    spread = _assumption(scenario, "cash_cost_spread") if plan else 0.0
    for k, inst in plan:
        if inst.region not in world.regions:
            continue  # reesim.scenario.checks names the unknown region with the others' problems
        pid = process_id(inst)
        if pid in names:
            raise InputError(
                f"{label}: instruments[{k}].name: {inst.name!r} is already a process of the world"
            )
        if inst.stage == "recycling":  # short-loop: magnet material from end-of-life magnets
            markets = _magnet_markets(world)
            if inst.region not in markets:
                raise InputError(
                    f"{label}: instruments[{k}].region: {inst.region!r} has no magnet market in the world "
                    f"(no magnet users and no magnet trade) for recycled magnets to go to; allowed: "
                    f"{', '.join(sorted(markets))}"
                )
            cash, q = float(inst.unit_cost_usd_per_kg), inst.capacity_tonnes_per_year / 1000.0
            procs.append((pid, inst.region, "recycling", 0.0, (1.0 - spread) * cash, spread * cash / q))
            io.append(pd.DataFrame({"process": [pid], "commodity": [RECYCLED_GOOD], "coef": [1.0]}))
            continue
        circuit = None
        if inst.stage == "heavy_separation":  # validates the region and elements before the template
            circuit = heavy.circuit(
                world, inst.region, inst.name, inst.elements, f"{label}: instruments[{k}]"
            )
        tpl = TEMPLATE[inst.stage].format(region=inst.region)
        if tpl not in names:
            have = sorted(r for r in world.regions if TEMPLATE[inst.stage].format(region=r) in names)
            raise InputError(
                f"{label}: instruments[{k}].region: {inst.region!r} has no {inst.stage} stage in the world to "
                f"build on; allowed: {', '.join(have)}"
            )
        cash = unit_cost(scenario, world, inst)
        q = inst.capacity_tonnes_per_year / 1000.0
        kind = kind_of[tpl]
        procs.append((pid, inst.region, kind, 0.0, (1.0 - spread) * cash, spread * cash / q))
        if circuit is not None:
            procs.extend(circuit.processes)
            io += [
                circuit.io,
                pd.DataFrame({"process": [pid], "commodity": [heavy.service_id(inst.name)], "coef": [1.0]}),
            ]
            edges.append(circuit.edges)
            goods += circuit.commodities
            continue
        rows = world.io[io_process == tpl]
        io.append(rows.assign(process=pid))
    return {
        "processes": pd.DataFrame(
            procs, columns=["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"]
        ),
        "io": pd.concat(io, ignore_index=True) if io else world.io.iloc[0:0],
        "commodities": tuple(goods),
        # two circuits in one region open the same oxide routes: keep each route once
        "edges": (
            pd.concat(edges, ignore_index=True).drop_duplicates(["commodity", "origin", "dest"])
            if edges
            else world.edges.iloc[0:0]
        ),
    }


def capital_charge(inst: CapacityProject, dynamics, capacity_kt: float) -> float:
    """The project's capital charge for the capacity in service, million USD a year.

    ``capex_usd_million`` x :data:`CAPITAL_CHARGE_RATE`, or, without a stated capital cost, the
    stage's ``capex_usd_per_kg_year`` (the investment rule's own annuity) x nameplate; in
    proportion to the share of nameplate in service.
    """
    nameplate = inst.capacity_tonnes_per_year / 1000.0
    if inst.capex_usd_million is not None:
        full = inst.capex_usd_million * CAPITAL_CHARGE_RATE
    else:
        # USD/kg/yr x kt/yr = million USD/yr; a recycling line at a magnet line's (assumption: no data)
        full = dynamics.capex_usd_per_kg_year[CAPEX_STAGE[inst.stage]] * nameplate
    return full * min(1.0, max(0.0, capacity_kt / nameplate))


def year_fraction(day) -> float:
    """A date in fractional years, as :attr:`reesim.simulate.steps.Step.time` counts them."""
    return day.year + (day.timetuple().tm_yday - 1) / 365.25


def ramp_offsets(ramp_years: float) -> tuple[float, ...]:
    """Years after first output at which each equal tranche of a plant's nameplate comes online.

    A ramp of ``R`` years is ``ceil(R) + 1`` equal tranches, the first at first output and the
    last at ``R`` (a year apart or closer): a 1-year ramp is half the nameplate at first output
    and all of it a year later; ``R = 0`` is all at first output. Named plants
    (:func:`tranches`) and the investment rule (``Dynamics.ramp_years``) share it, and so does
    the build-out record's score of ramps (:mod:`reesim.backtest.ramp`).
    """
    n = math.ceil(ramp_years) + 1 if ramp_years > 0 else 1  # first output .. nameplate
    step = ramp_years / (n - 1) if n > 1 else 0.0
    return tuple(i * step for i in range(n))


def tranches(
    scenario: Scenario, process_index: dict[str, int]
) -> list[tuple[float, int, float, bool, float]]:
    """Pipeline items of every project: (online time, process index, kt/yr, built under a ban = False,
    capital charge 0: a project's capital is charged on its own, :func:`capital_charge`)."""
    out = []
    for _k, inst in projects(scenario):
        j = process_index[process_id(inst)]
        offsets = ramp_offsets(inst.ramp_years)
        q = inst.capacity_tonnes_per_year / 1000.0 / len(offsets)
        t0 = year_fraction(inst.start)
        out.extend((t0 + off, j, q, False, 0.0) for off in offsets)
    return out
