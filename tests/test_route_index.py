"""Calibrated route costs indexed to the price level of the good they carry
(:mod:`reesim.simulate.route_index`; opt-in, ``route_cost_indexation``).

* By hand: a good's index moves from the previous one towards the median over its priced
  regions of price / reference (bounded, to the exponent) by ``1 - exp(-dt / T)``; a good with
  no positive finite price keeps its index; every edge of a good carries it; indexation 0 (the
  default) means no index at all, so every shipped run is unchanged.
* A run: the phase alone sets the next step's index from the step's prices, and the next step's
  world carries ``route_cost`` and ``route_quad`` times the index while ``transport`` stays in USD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reesim.simulate import stepper
from reesim.simulate.route_index import RouteIndex
from reesim.simulate.step_world import step_world
from reesim.simulate.steps import make_steps

from .test_instruments import scenario


class _World:
    def __init__(self, exponent: float = 1.0, years: float = 1.0):
        self.meta = {"route_indexation": {"exponent": exponent, "adjustment_years": years}}
        self.edges = pd.DataFrame(
            {
                "commodity": ["oxide:Nd", "oxide:Nd", "concentrate:x"],
                "origin": ["CHN", "AUS", "AUS"],
                "dest": ["EU", "EU", "MYS"],
                "transport": [0.5, 0.5, 0.2],
                "route_cost": [-2.0, 3.0, 8.0],
                "route_quad": [0.1, 0.2, 0.45],
            }
        )


# Nd priced in three regions; the concentrate in none (no reference price)
REF = {("oxide:Nd", "CHN"): 80.0, ("oxide:Nd", "EU"): 90.0, ("oxide:Nd", "AUS"): 100.0}
NOW = {("oxide:Nd", "CHN"): 40.0, ("oxide:Nd", "EU"): 99.0, ("oxide:Nd", "AUS"): 60.0}  # ratios 0.5, 1.1, 0.6


def test_index_by_hand():
    w = 1.0 - np.exp(-1.0)  # one year against a time constant of one year
    r = RouteIndex.of(_World(), REF)
    prev = r.initial()
    assert prev.tolist() == [1.0, 1.0, 1.0]
    # the median ratio is 0.6: both Nd routes move 63 % of the way; the concentrate keeps its index
    got = r.index(NOW, np.array([1.0, 1.0, 0.7]), 1.0)
    assert got.tolist() == pytest.approx([1 - 0.4 * w, 1 - 0.4 * w, 0.7])
    # a month moves 1 - exp(-1/12) of the way; a step as long as many time constants all of it
    assert r.index(NOW, prev, 1 / 12)[0] == pytest.approx(1 - 0.4 * (1 - np.exp(-1 / 12)))
    assert r.index(NOW, prev, 50.0)[0] == pytest.approx(0.6)
    # a missing, zero or non-finite price keeps the previous index
    assert r.index({}, np.array([0.9, 0.9, 1.0]), 1.0).tolist() == [0.9, 0.9, 1.0]
    assert r.index({("oxide:Nd", "EU"): 0.0, ("oxide:Nd", "CHN"): np.nan}, prev, 1.0).tolist() == [1.0] * 3
    # bounded: a price 100 times its reference counts as 5 times
    spike = {k: 100 * v for k, v in REF.items()}
    assert r.index(spike, prev, 50.0)[0] == pytest.approx(5.0)
    half = RouteIndex.of(_World(exponent=0.5, years=1e-9), REF)
    assert half.index(NOW, prev, 1.0)[0] == pytest.approx(0.6**0.5)
    assert RouteIndex.of(_World(exponent=0.0), REF) is None


def _first_step(assumptions: dict | None = None):
    s = scenario(
        {
            "type": "demand_shift",
            "name": "magnet-demand-growth",
            "sector": "magnet users",
            "start": 2025,
            "growth": {2025: -0.25},
        },
        end=2026,
        assumptions={"route_cost_indexation": 1.0, **(assumptions or {})},
    )
    run, state = stepper.start_run(s)
    steps = make_steps(s.horizon)
    state = stepper.phase_capacity(run, state, steps[0])
    state = stepper.phase_expectations(run, state, steps[0])
    sol, _, _ = stepper.phase_clear(run, state, steps[0])
    return run, state, sol, steps


def test_phase_sets_the_next_steps_route_terms_from_the_step_prices():
    run, state, sol, steps = _first_step()
    routes = run.extra["route_index"]
    assert routes is not None and state.route_index is None  # the first step clears on the calibration
    after = stepper.phase_indexation(run, state, sol, 1.0)
    e = run.world.edges
    w = 1.0 - np.exp(-1.0)
    for good in ("oxide:Nd", "concentrate:mount_weld", "magnet:ndfeb"):
        keys = [k for k, v in run.reference.price_map.items() if k[0] == good and v > 0]
        ratio = np.median([sol.price_map[k] / run.reference.price_map[k] for k in keys])
        on = (e["commodity"] == good).to_numpy()
        assert on.any()
        assert after.route_index[on] == pytest.approx(1 + w * (np.clip(ratio, 0.2, 5.0) - 1))
    # the magnet cut moved prices, so the index is not trivially one
    assert np.abs(after.route_index - 1.0).max() > 0.05
    # the next step's world: the calibrated terms scaled, freight unchanged
    nxt = step_world(run.world, run.scenario, after, steps[1], None, run.extra)
    base = step_world(run.world, run.scenario, after.evolve(route_index=None), steps[1], None, run.extra)
    assert nxt.edges["route_cost"].to_numpy() == pytest.approx(
        base.edges["route_cost"].to_numpy() * after.route_index
    )
    assert nxt.edges["route_quad"].to_numpy() == pytest.approx(
        base.edges["route_quad"].to_numpy() * after.route_index
    )
    assert nxt.edges["transport"].tolist() == base.edges["transport"].tolist()


def test_fixed_in_usd_by_default():
    """The default world keeps the route costs in USD: no index, so shipped runs are unchanged."""
    run, state, sol, _ = _first_step({"route_cost_indexation": 0.0})
    assert run.extra["route_index"] is None
    assert stepper.phase_indexation(run, state, sol, 1.0).route_index is None
    from reesim.world.default import load_config

    assert load_config()["assumptions"]["route_cost_indexation"]["value"] == 0.0


def test_world_describe_lists_the_indexation_assumptions():
    """The run-time assumptions of the world's meta are in its provenance (they were read after
    the provenance was frozen, so `reesim world describe` did not list them)."""
    from reesim.world.default import build_default_world

    prov = build_default_world(2024).provenance.set_index("parameter")["value"]
    assert prov["route_cost_indexation"] == 0.0
    assert prov["route_cost_adjustment_years"] == 1.0
    assert prov["separation_charge_indexation"] == 1.0
