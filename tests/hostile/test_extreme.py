"""Extreme but legal scenarios solve or fail with a diagnosis, never garbage.

Each scenario below is valid. Simulated against the baseline, it must either end in a
:class:`~reesim.errors.ModelFailure` that names the period and the failed condition, or give
a result in which every step passed the equilibrium guards (mass balance, arbitrage,
complementary slackness at 1e-6: :func:`reesim.solve.guards.check` runs on every step), no
price is NaN, infinite or negative, capacities are finite, and the headline holds only
determined, finite figures.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reesim.errors import InputError, ModelFailure
from reesim.impacts.compare import compare, impact_headline
from reesim.scenario.load import load_scenario, parse
from reesim.simulate import simulate
from reesim.simulate.headline import headline
from reesim.world.default import load_default_world
from tests.hostile.corpus import VALID

ALL_STAGES = ["concentrate", "oxide", "metal", "magnet"]
#: The default world's regions (DESIGN §1).
REGIONS = list(load_default_world().regions)


@cache
def baseline(start: int, end: int):
    sc = load_scenario("baseline").model_copy(update={"horizon": parse(_base(start, end)).horizon})
    return simulate(sc)


def _base(start: int, end: int) -> dict:
    return {"name": "x", "extends": "baseline", "horizon": {"start": start, "end": end}}


def _scenario(name: str, start: int, end: int, instruments: list[dict], **top) -> dict:
    from reesim.scenario.load import _merge

    base = load_scenario("baseline").model_dump(mode="json")
    data = _merge(
        base, {"name": name, "horizon": {"start": start, "end": end}, "instruments": instruments, **top}
    )
    data.pop("extends", None)
    return data


def check_result(res, cf) -> dict:
    """The checks every result must pass; returns the headline."""
    p = res.prices
    assert np.isfinite(p["usd_per_kg"]).all(), "non-finite price"
    assert (p["usd_per_kg"] >= -1e-6).all(), "negative price"
    assert np.isfinite(res.capacity["tonnes_per_year"].replace(np.inf, 0.0)).all(), "NaN capacity"
    assert not res.capacity["tonnes_per_year"].isna().any(), "NaN capacity"
    h = headline(res, cf)
    for r in h["price_changes"]:
        assert math.isfinite(r["peak_change_pct"]) and r["usd_per_kg_cf"] > 0, r
    ih = impact_headline(compare(res, cf))
    assert math.isfinite(ih["welfare_pv_usd_million_world"])
    assert all(math.isfinite(v) for v in ih["welfare_pv_usd_million_by_region"].values())
    for r in ih["product_cost_peaks"]:
        assert math.isfinite(r["change_usd_low"]) and math.isfinite(r["change_usd_high"]), r
    return h


def solve_or_diagnose(data: dict, start: int, end: int) -> dict | None:
    sc = parse(data, data["name"])
    cf = baseline(start, end)
    try:
        res = simulate(sc, counterfactual=cf)
    except ModelFailure as exc:
        text = str(exc)
        assert "period" in text and data["name"] in text, text
        return None
    return check_result(res, cf)


EXTREME = {
    "export quota 0 on every element and stage": [
        {
            "type": "export_quota",
            "name": "q0",
            "exporter": "CHN",
            "destinations": "all",
            "stages": ALL_STAGES,
            "approval_share": 0.0,
            "start": 2025,
        }
    ],
    "tariff of 10,000 % on every U.S. import": [
        {
            "type": "import_tariff",
            "name": "t",
            "importer": "USA",
            "origins": "all",
            "stages": ALL_STAGES,
            "rate": 100,
            "start": 2025,
        }
    ],
    "export tax of 10,000 % on every Chinese export": [
        {
            "type": "export_tax",
            "name": "t",
            "exporter": "CHN",
            "destinations": "all",
            "stages": ALL_STAGES,
            "rate": 100,
            "start": 2025,
        }
    ],
    "export bans from every region": [
        {
            "type": "export_ban",
            "name": f"ban-{r}",
            "exporter": r,
            "destinations": "all",
            "stages": ALL_STAGES,
            "start": 2025,
        }
        for r in REGIONS
    ],
    "stockpile of 10 million t": [
        {
            "type": "stockpile",
            "name": "s",
            "holder": "USA",
            "commodities": ["metal:Tb"],
            "target_tonnes": 1e7,
            "build_tonnes_per_year": 1e7,
            "release_tonnes_per_year": 1e7,
            "start": 2025,
        }
    ],
    "subsidy of 50,000 USD/kg": [
        {
            "type": "subsidy",
            "name": "s",
            "region": "USA",
            "stage": "magnet",
            "per_unit_usd_per_kg": 50000,
            "capex_share": 1.0,
            "start": 2025,
        }
    ],
    "price floor of 50,000 USD/kg": [
        {
            "type": "price_floor",
            "name": "f",
            "buyer": "USA",
            "region": "USA",
            "commodities": ["oxide:Nd"],
            "floor_usd_per_kg": 50000,
            "volume_tonnes_per_year": 1e7,
            "offtake_tonnes_per_year": 1e7,
            "start": 2025,
        }
    ],
    "licence cost of 50,000 USD/kg": [
        {
            "type": "export_quota",
            "name": "q",
            "exporter": "CHN",
            "destinations": "all",
            "stages": ["oxide", "metal", "magnet"],
            "approval_share": 1.0,
            "licence_cost_usd_per_kg": 50000,
            "start": 2025,
        }
    ],
    # one of each type, on goods that do not contradict each other (a ban and a quota on one
    # edge, or two import tariffs on one edge, would be refused as contradictory)
    "every instrument at once": [
        {**VALID["export_ban"][0], "name": "b"},
        {**VALID["export_quota"][0], "name": "q", "commodities": ["magnet:ndfeb"]},
        {**VALID["export_tax"][0], "name": "x", "commodities": ["oxide:Tb"]},
        VALID["tariff_exclusion"][1][0],
        {**VALID["tariff_exclusion"][0], "name": "ex"},
        {**VALID["technology_ban"][0], "name": "tb"},
        {**VALID["stockpile"][0], "name": "s"},
        {**VALID["price_floor"][0], "name": "f"},
        {**VALID["subsidy"][0], "name": "sub"},
        {**VALID["demand_shift"][0], "name": "d"},
    ],
}


@pytest.mark.parametrize("name", list(EXTREME))
def test_extreme_instruments_solve_or_are_diagnosed(name):
    data = _scenario(name.replace(" ", "-"), 2025, 2026, EXTREME[name])
    solve_or_diagnose(data, 2025, 2026)


def test_demand_times_1000_solves_or_is_diagnosed():
    growth = [
        {
            "type": "demand_shift",
            "name": "magnet-demand-growth",
            "sector": "magnet users",
            "start": 2025,
            "growth": {2025: 1.0},
        },
        {
            "type": "demand_shift",
            "name": "other-uses-growth",
            "sector": "other uses",
            "start": 2025,
            "growth": {2025: 1.0},
        },
    ]
    data = _scenario("demand-x1024", 2025, 2035, growth)
    h = solve_or_diagnose(data, 2025, 2035)
    if h is not None:  # 2^10: prices rise, none falls below the baseline for the main magnet input
        nd = [r for r in h["price_changes"] if r["commodity"] == "oxide:Nd"]
        assert nd and all(r["peak_change_pct"] > 0 for r in nd)


def test_capacity_zero_everywhere_leaves_prices_undetermined_not_garbage():
    data = _scenario("no-capacity", 2025, 2027, [], dynamics={"retirement_rate": 1.0})
    # China's mining quota sets its mines' capacity by policy each year: left out here
    data["instruments"] = [i for i in data["instruments"] if i["type"] != "mining_quota"]
    # Private stocks off: the stocks carried out of 2025 would (rightly) supply 2026.
    data.setdefault("world", {})["assumptions"] = {"stock_cover_months": 0.0}
    sc = parse(data, "no-capacity")
    cf = baseline(2025, 2027)
    res = simulate(sc, counterfactual=cf)
    h = check_result(res, cf)
    # Nothing can be produced: no price is pinned in the years without capacity, so none is a headline.
    assert h["undetermined_prices"]["market_periods"] > 0
    later = [r for r in h["price_changes"] if r["period"] != "2025"]
    assert later == [], later
    short = {(r["sector"], r["scope"]): r["shortage_pct"] for r in h["shortages"]}
    assert short[("magnet users", "world")] == pytest.approx(100.0, abs=0.5)


def test_capacity_zero_in_a_region_of_a_world_file(tmp_path):
    from reesim.solve.equilibrium import solve_equilibrium
    from reesim.world.worldfile import parse_world

    w = parse_world(
        """
name: two suppliers, one shut
regions: [A, B, C]
commodities: [x]
supply:
  - {region: A, commodity: x, intercept: 10, slope: 1, capacity: 0}
  - {region: B, commodity: x, intercept: 20, slope: 1}
demand:
  - {region: C, commodity: x, intercept: 130, slope: 1}
trade: {all_pairs: true, cost: 1}
"""
    )
    s = solve_equilibrium(w)
    prices = s.prices.set_index("region")["usd_per_kg"]
    # Hand solution: only B supplies; 20 + q = 130 - q - 1 => q = 54.5, p_C = 75.5, p_B = 74.5.
    assert prices["C"] == pytest.approx(75.5, abs=1e-4)
    assert prices["B"] == pytest.approx(74.5, abs=1e-4)


# ------------------------------------------------------------------------------ validate means run
def _instrument(kind: str, draw) -> dict:
    inst, extra = VALID[kind]
    inst = dict(inst)
    for fld, lo, hi in (
        ("approval_share", 0.0, 1.0),
        ("licence_cost_usd_per_kg", 0.0, 50000.0),
        ("rate", 0.0, 100.0),
        ("share_excluded", 0.0, 1.0),
        ("target_tonnes", 0.0, 1e7),
        ("build_tonnes_per_year", 0.0, 1e7),
        ("release_tonnes_per_year", 0.0, 1e7),
        ("floor_usd_per_kg", 0.01, 50000.0),
        ("volume_tonnes_per_year", 0.0, 1e7),
        ("capex_share", 0.01, 1.0),
        ("substitution_elasticity", 0.0, 2.0),
        ("capex_multiplier", 1.0, 10.0),
        ("learning_multiplier", 0.0, 1.0),
    ):
        if fld in inst:
            inst[fld] = draw(st.floats(lo, hi, allow_nan=False))
    inst["start"] = draw(st.sampled_from([2025, "2025-06-30", 2026]))
    return inst, extra


@st.composite
def valid_scenarios(draw) -> dict:
    kinds = draw(st.lists(st.sampled_from(sorted(VALID)), min_size=1, max_size=3, unique=True))
    insts: list[dict] = []
    for k, kind in enumerate(kinds):
        inst, extra = _instrument(kind, draw)
        insts += [dict(e, name=f"{e['name']}-{k}") for e in extra]
        if kind == "tariff_exclusion":
            inst["tariff"] = f"t1-{k}"
        insts.append(dict(inst, name=f"{kind}-{k}"))
    dyn = {
        "learning_rate": draw(st.floats(0.0, 0.99)),
        "retirement_rate": draw(st.floats(0.0, 1.0)),
        "lead_time_years": {"mining": draw(st.floats(0.0, 15.0))},
    }
    world = {"assumptions": {"demand_elasticity_oxide": draw(st.floats(0.01, 10.0))}}
    return _scenario("drawn", 2025, 2026, insts, dynamics=dyn, world=world)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scenarios())
def test_a_valid_scenario_runs_or_is_diagnosed_never_an_internal_error(data):
    try:
        sc = parse(data, "drawn")
        from reesim.simulate.stepper import scenario_world

        scenario_world(sc)
    except InputError:
        return  # contradictions between drawn instruments are input errors: fine
    solve_or_diagnose(data, 2025, 2026)
