"""Makers that keep capacity ahead of demand (Dynamics.planned_capacity): by hand and in runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reesim.errors import InputError
from reesim.instruments import demand as D
from reesim.simulate.state import planned_order
from reesim.simulate.stepper import scenario_world, simulate
from reesim.world.world import MAGNET_SECTOR
from tests.test_instruments import scenario

MYOPIC = {"planned_capacity": {}}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_order_closes_the_gap_to_projected_output_at_the_usual_rate_by_hand():
    # 200 kt/yr made at a usual 80 % utilisation, demand +10 % over the lead time: 275 kt/yr of
    # capacity wanted at arrival; 250 in service and 10 on the way leave 15 to order.
    assert planned_order(200.0, 250.0, 10.0, 0.8, 1.10) == pytest.approx(200 * 1.1 / 0.8 - 260)
    assert planned_order(200.0, 300.0, 0.0, 0.8, 1.10) == 0.0  # enough capacity already
    assert planned_order(200.0, 250.0, 0.0, 0.8, 0.95) == 0.0  # shrinking demand: nothing
    assert planned_order(0.0, 250.0, 0.0, 0.8, 1.10) == 0.0  # nothing made
    assert planned_order(200.0, 250.0, 0.0, 0.0, 1.10) == 0.0  # no usual rate: not a planned maker
    # output a hair above capacity in the start solve counts as full use, not as "no rate"
    assert planned_order(200.0, 199.0, 0.0, 1.0005, 1.10) == pytest.approx(200 * 1.1 - 199)


def test_projected_growth_cuts_spans_at_year_boundaries_by_hand():
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
    # from mid-2025, two years: the rest of 2025 at 5 %, then 2026 and a bit of 2027 at 2 %
    start = dt.date(2025, 7, 2)
    first = (dt.date(2026, 1, 1) - start).days / 365.25
    expected = 1.05**first * 1.02 ** (2.0 - first)
    assert D.projected_growth(sc, world, start, 2.0, w, MAGNET_SECTOR) == pytest.approx(expected)
    # a month-step midpoint in December still sees the 2026 rate from 1 January
    dec = dt.date(2025, 12, 16)
    first = (dt.date(2026, 1, 1) - dec).days / 365.25
    assert D.projected_growth(sc, world, dec, 1.0, w, MAGNET_SECTOR) == pytest.approx(
        1.05**first * 1.02 ** (1.0 - first)
    )
    assert D.projected_growth(sc, world, start, 2.0, w, "no such sector") == 1.0


def test_projected_growth_weights_regions_by_the_quantities_bought_by_hand():
    sc = scenario(
        {
            "type": "demand_shift",
            "name": "magnet-demand-growth",
            "sector": "magnet users",
            "regions": ["CHN"],
            "start": 2025,
            "growth": {2025: 0.10},
        },
        end=2030,
    )
    world = scenario_world(sc)
    d = world.demands
    magnets = ((d["sector"] == MAGNET_SECTOR) | (d["demand"].str.startswith("magnets:"))).to_numpy()
    chn = magnets & (d["region"] == "CHN").to_numpy()
    assert chn.sum() >= 1 and (magnets & ~chn).sum() >= 1
    w = np.where(chn, 3.0, 1.0)
    rows = D._follows(d["sector"].to_numpy(), D.parent_of_rows(world), MAGNET_SECTOR)
    wr, cr = w[rows], chn[rows]
    start = dt.date(2025, 1, 1)
    span1 = (dt.date(2026, 1, 1) - start).days / 365.25

    def mean(span):
        f = np.where(cr, 1.10**span, 1.0)
        return float(np.dot(wr, f) / wr.sum())

    expected = mean(span1) * mean(1.0 - span1)
    assert D.projected_growth(sc, world, start, 1.0, w, MAGNET_SECTOR) == pytest.approx(expected)
    assert 1.0 < expected < 1.10  # between the regions' rates, nearer China's for its weight


def _china_magnets(res):
    c = res.capacity
    c = c[(c["region"] == "CHN") & (c["kind"] == "magnet")].groupby("period")
    out = res.production
    out = out[(out["region"] == "CHN") & (out["kind"] == "magnet")].groupby("period")["tonnes_per_year"].sum()
    return c["tonnes_per_year"].sum(), c["rent_usd_per_kg"].max(), out


@pytest.fixture(scope="module")
def runs():
    return simulate(scenario(end=2040)), simulate(scenario(end=2040, dynamics=MYOPIC))


def test_chinas_magnet_makers_keep_their_spare_capacity_and_never_bind(runs):
    """Without planning, the baseline's growing magnet demand meets China's start capacity in the
    late 2030s (a capacity rent, output capped); with it, capacity grows ahead and never binds."""
    planned, myopic = runs
    cap, rent, out = _china_magnets(planned)
    assert cap["2040"] > cap["2025"] * 1.2  # capacity grew with demand
    assert (rent <= 1e-6).all()  # never a capacity rent: never binding
    assert (out / cap).max() < 0.95  # spare capacity kept
    cap0, rent0, out0 = _china_magnets(myopic)
    assert cap0["2040"] == pytest.approx(cap0["2025"])  # the rent rule alone builds nothing in time
    assert rent0["2040"] > 1.0 and out0["2040"] == pytest.approx(cap0["2040"], rel=1e-6)
    assert out["2040"] > out0["2040"]  # planned capacity lets output follow demand


def test_prices_move_only_once_the_rent_rule_alone_would_have_bound(runs):
    """Capacity that does not bind changes no price: to 2036, when the myopic run's capacity was
    still slack, the two runs agree (to the solver's tolerance)."""
    planned, myopic = runs
    m = planned.prices.merge(myopic.prices, on=["period", "commodity", "region"], suffixes=("", "_0"))
    m = m[m["determined"] & m["determined_0"] & (m["usd_per_kg_0"] > 0.5)]
    early = m[m["period"].astype(int) <= 2036]
    # (the largest gap is Russia's separation service, 0.24 % in 2032: a thin market's tolerance)
    assert (early["usd_per_kg"] / early["usd_per_kg_0"] - 1).abs().max() < 5e-3
    late = m[(m["period"] == "2040") & (m["commodity"] == "oxide:Nd") & (m["region"] == "CHN")]
    assert float(late["usd_per_kg"].iloc[0]) > 1.2 * float(late["usd_per_kg_0"].iloc[0])  # no Nd slump


def test_monthly_steps_plan_like_yearly_ones():
    yearly = _china_magnets(simulate(scenario(end=2028)))[0]
    monthly = _china_magnets(simulate(scenario(end=2028, step="month")))[0]
    assert monthly["2028-12"] == pytest.approx(yearly["2028"], rel=0.03)
    assert monthly["2028-12"] > monthly["2025-01"]


def test_the_limit_on_capacity_under_construction_binds_the_plan():
    tight = simulate(scenario(end=2030, dynamics={"max_under_construction": 0.02}))
    cap = _china_magnets(tight)[0]
    # at most 2 % of capacity on order at a time, arriving after the 2-year lead time
    assert cap["2030"] <= cap["2025"] * 1.02**4 + 1e-6
    assert cap["2030"] > cap["2025"]


def test_the_counterfactual_of_a_run_takes_the_scenario_dynamics():
    from reesim.pipeline import run_pair

    sc = scenario(end=2026, dynamics=MYOPIC)
    _, _, cf = run_pair(sc)
    assert cf.dynamics.planned_capacity == {}


def test_a_world_without_the_default_region_runs_and_a_named_unknown_region_is_refused():
    from reesim.world.worldfile import load_world

    world = load_world(EXAMPLES / "two-regions.yaml")
    assert "CHN" not in world.regions
    sc = scenario(end=2026)
    sc = sc.model_copy(
        update={"instruments": [], "world": sc.world.model_copy(update={"reference_year": None})}
    )
    res = simulate(sc, world=world)  # the default names China: skipped where the world has none
    assert isinstance(res.prices, pd.DataFrame) and len(res.prices)
    with pytest.raises(InputError, match=r"dynamics\.planned_capacity\.CHINA.*CHN"):
        simulate(scenario(dynamics={"planned_capacity": {"CHINA": ["magnet"]}}))


def test_only_the_magnet_stage_can_be_planned():
    with pytest.raises(InputError, match="magnet"):
        scenario(dynamics={"planned_capacity": {"CHN": ["mining"]}})
