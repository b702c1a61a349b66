"""The world of a scenario: the base world with the structure its instruments need.

Named plants add their processes, goods and routes; the rows of stockpiles, offtakes, licences,
quotas and rules of origin are built on that world, so that they cover the plants' own goods and
routes. Private stocks and end-use rules are built on the base world: they follow final demand
and mines, which plants do not add. Limits and settings are set per
step (:mod:`reesim.simulate.step_world`).
"""

from __future__ import annotations

from reesim.instruments import enduse as enduse_mod
from reesim.instruments import projects as projects_mod
from reesim.instruments import stockpile as stock_mod
from reesim.instruments import support as support_mod
from reesim.instruments import trade as trade_mod
from reesim.scenario.checks import check_scenario
from reesim.scenario.spec import Scenario
from reesim.simulate import storage
from reesim.world.world import World, stack_rows


def scenario_world(scenario: Scenario, base: World | None = None) -> World:
    """The base world of ``scenario`` (default: the default world of its reference year) with the structure its instruments need."""
    from reesim.world.default import load_default_world

    if base is None:
        base = load_default_world(scenario.world.reference_year, assumptions=scenario.world.assumptions)
    base = enduse_mod.split_demands(scenario, base)
    plants = projects_mod.structure(scenario, base, label=scenario.name)
    # Instruments cover the goods and routes of the run's world, a plant's own included (a heavy
    # circuit's concentrate; its oxide's new routes): their rows are built on it. Built on the
    # base world, a stockpile of concentrates beside the baseline's Lynas circuit failed with a
    # KeyError, and a ban's rules of origin left a U.S. circuit's new Dy route to Japan open to
    # China's oxide.
    planted = base.with_data(
        commodities=base.commodities + tuple(plants["commodities"]),
        edges=stack_rows([base.edges, plants["edges"]]),
        processes=stack_rows([base.processes, plants["processes"]]),
        io=stack_rows([base.io, plants["io"]]),
    )
    stock = stock_mod.structure(scenario, planted)
    offtakes = support_mod.structure(scenario, planted)
    quotas, members = trade_mod.quota_structure(scenario, planted)
    origin = trade_mod.origin_structure(scenario, planted)
    private = storage.structure(base)
    world = base.replace(
        commodities=planted.commodities,
        edges=planted.edges,
        origin_rules=origin,
        enduse_rules=enduse_mod.structure(scenario, base),
        processes=stack_rows([planted.processes, stock["processes"], private["processes"]]),
        io=stack_rows([planted.io, stock["io"], private["io"]]),
        demands=stack_rows([base.demands, stock["demands"], offtakes, private["demands"]]),
        quotas=quotas,
        quota_members=members,
    )
    check_scenario(scenario, world, label=scenario.name)
    return world
