"""Makers that keep capacity ahead of demand (Dynamics.planned_capacity): by hand and in runs."""

from __future__ import annotations

import numpy as np
import pytest

from reesim.errors import InputError
from reesim.instruments import demand as D
from reesim.simulate.state import planned_order
from reesim.simulate.stepper import scenario_world, simulate
from tests.test_instruments import scenario


def test_the_order_closes_the_gap_to_projected_output_at_the_usual_rate_by_hand():
    # 200 kt/yr made at a usual 80 % utilisation, demand +10 % over the lead time: 275 kt/yr of
    # capacity wanted at arrival; 250 in service and 10 on the way leave 15 to order.
    assert planned_order(200.0, 250.0, 10.0, 0.8, 1.10) == pytest.approx(200 * 1.1 / 0.8 - 260)
    assert planned_order(200.0, 300.0, 0.0, 0.8, 1.10) == 0.0  # enough capacity already
    assert planned_order(0.0, 250.0, 0.0, 0.8, 1.10) == 0.0  # nothing made
    assert planned_order(200.0, 250.0, 0.0, 0.0, 1.10) == 0.0  # no usual rate: not a planned maker


def test_projected_growth_reads_the_scenario_paths_year_by_year_by_hand():
    sc = scenario(
        {
            "type": "demand_shift",
            "name": "magnet-demand-growth",
            "sector": "magnet users",
            "start": 2025,
            "growth": {2025: 0.05, 2026: 0.02},
        },
        end=2030,
    )
    world = scenario_world(sc)
    w = np.ones(len(world.demands))
    assert D.projected_growth(sc, world, 2025, 2.0, w, D.MAGNET_SECTOR) == pytest.approx(1.05 * 1.02)
    assert D.projected_growth(sc, world, 2026, 1.5, w, D.MAGNET_SECTOR) == pytest.approx(1.02**1.5)
    # a sector with no growth path does not grow
    assert D.projected_growth(sc, world, 2025, 2.0, w, "no such sector") == 1.0


def _china_magnets(res):
    c = res.capacity
    c = c[(c["region"] == "CHN") & (c["kind"] == "magnet")].set_index("year")
    out = res.production
    out = out[(out["region"] == "CHN") & (out["kind"] == "magnet")].groupby("year")["tonnes_per_year"].sum()
    return c["tonnes_per_year"], c["rent_usd_per_kg"], out


def test_chinas_magnet_makers_keep_their_spare_capacity_and_never_bind():
    """Without planning, the baseline's growing magnet demand meets China's start capacity in the
    late 2030s (a capacity rent, output capped); with it, capacity grows ahead and never binds."""
    planned = simulate(scenario(end=2040))
    cap, rent, out = _china_magnets(planned)
    assert cap[2040] > cap[2025] * 1.2  # capacity grew with demand
    assert (rent <= 1e-6).all()  # never a capacity rent: never binding
    assert (out / cap).max() < 0.95  # spare capacity kept
    myopic = simulate(scenario(end=2040, dynamics={"planned_capacity": {}}))
    cap0, rent0, out0 = _china_magnets(myopic)
    assert cap0[2040] == pytest.approx(cap0[2025])  # the rent rule alone builds nothing in time
    assert rent0[2040] > 1.0 and out0[2040] == pytest.approx(cap0[2040], rel=1e-6)
    assert out[2040] > out0[2040]  # planned capacity lets output follow demand


def test_an_unknown_region_is_named_with_what_is_allowed():
    with pytest.raises(InputError, match=r"dynamics\.planned_capacity\.CHINA.*CHN"):
        simulate(scenario(dynamics={"planned_capacity": {"CHINA": ["magnet"]}}))


def test_only_the_magnet_stage_can_be_planned():
    with pytest.raises(Exception, match="magnet"):
        scenario(dynamics={"planned_capacity": {"CHN": ["mining"]}})
