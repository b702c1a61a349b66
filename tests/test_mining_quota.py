"""Mining quotas (mining_quota): a region's mining capacity as a policy path, by hand and in runs."""

from __future__ import annotations

import pytest

from reesim.errors import InputError
from reesim.instruments import quota as Q
from reesim.scenario.load import load_scenario
from reesim.simulate.stepper import scenario_world, simulate
from tests.test_instruments import scenario

CHINA = {
    "type": "mining_quota",
    "name": "china-mining-quota",
    "region": "CHN",
    "ores": ["bayan_obo"],
    "start": 2025,
    "growth": {2026: 0.05, 2028: 0.01},
}


def test_growth_compounds_from_the_year_after_start_by_hand():
    inst = Q.quotas(scenario(CHINA))[0]
    f = Q.growth_factors(inst, range(2024, 2030))
    assert 2024 not in f  # before the quota starts
    assert f[2025] == 1.0
    assert f[2026] == pytest.approx(1.05)
    assert f[2027] == pytest.approx(1.05**2)
    assert f[2028] == pytest.approx(1.05**2 * 1.01)
    assert f[2029] == pytest.approx(1.05**2 * 1.01**2)


def test_paths_grow_the_named_ores_hold_the_rest_and_widen_separation():
    sc = scenario(CHINA, end=2028)
    world = scenario_world(sc)
    cap = world.processes.set_index("process")["capacity"].astype(float)
    paths = Q.quota_paths(sc, world)
    hard, clay = "mining:CHN:bayan_obo", "mining:CHN:iac_low_y"
    assert paths[hard][2025] == pytest.approx(cap[hard])
    assert paths[hard][2028] == pytest.approx(cap[hard] * 1.05**2 * 1.01)
    assert paths[clay] == {y: pytest.approx(cap[clay]) for y in range(2025, 2029)}
    assert not [k for k in paths if k.endswith(":expansion")]  # China's mines have no expansion tranche
    # separation: S(ref) x (s_ref + added) / s_ref
    s0 = world.meta["reference"]["separation_kt"]["CHN"]
    added = paths[hard][2028] - cap[hard]
    sep = paths["separation-capacity:CHN"][2028]
    assert sep == pytest.approx(cap["separation-capacity:CHN"] * (s0 + added) / s0)
    # China's 2024 quota (270 kt) is the world's reference capacity: the path starts on the quota
    mines = [k for k in paths if k.startswith("mining:CHN:") and not k.endswith(":expansion")]
    assert sum(paths[k][2025] for k in mines) == pytest.approx(270.0, rel=1e-6)


def test_a_run_follows_the_path_and_its_mines_do_not_invest():
    res = simulate(scenario(CHINA, end=2028))
    c = res.capacity
    c = c[(c["region"] == "CHN") & (c["kind"] == "mining")]
    by = c.pivot_table(index="process", columns="year", values="tonnes_per_year")
    assert by.loc["mining:CHN:bayan_obo", 2028] / by.loc["mining:CHN:bayan_obo", 2025] == pytest.approx(
        1.05**2 * 1.01, rel=1e-9
    )
    assert by.loc["mining:CHN:iac_low_y"].nunique() == 1  # held, whatever the prices
    mined = res.production
    mined = mined[(mined["region"] == "CHN") & (mined["kind"] == "mining")].groupby("year")["tonnes"].sum()
    assert (mined.to_numpy() <= by.sum().to_numpy() * 1000 * (1 + 1e-9)).all()


def test_capacity_paths_from_data_override_the_quota():
    sc = scenario(CHINA, end=2026)
    world = scenario_world(sc)
    fixed = {"mining:CHN:bayan_obo": {2025: 200.0, 2026: 200.0}}
    res = simulate(sc, capacity_paths=fixed)
    c = res.capacity
    row = c[(c["process"] == "mining:CHN:bayan_obo")].set_index("year")["tonnes_per_year"]
    assert row.loc[2026] == pytest.approx(200_000.0)
    assert world is not None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"ores": ["bayan_obbo"]}, r"ores\[0\]: 'bayan_obbo' is not mined in CHN; allowed: bayan_obo"),
        ({"region": "EU"}, r"region: 'EU' has no mines in the world; allowed: .*CHN"),
        ({"region": "CHX"}, r"region: .*CHX"),
        ({"end": 2030}, "runs to the horizon's end"),
    ],
)
def test_mistakes_name_the_field_and_what_is_allowed(change, match):
    with pytest.raises((InputError, ValueError), match=match):
        sc = scenario({**CHINA, **change})
        scenario_world(sc)


def test_the_baseline_grows_chinas_hard_rock_quota_with_magnet_demand_and_calibration_uses_data():
    from reesim.simulate.calibrate import history_scenario

    base = load_scenario("baseline")
    q = Q.quotas(base)
    assert [i.name for i in q] == ["china-mining-quota"] and q[0].ores == ["bayan_obo"]
    magnets = next(i for i in base.instruments if i.name == "magnet-demand-growth")

    def rate(growth: dict, y: int) -> float:
        return growth[max(k for k in growth if k <= y)]

    # year by year from the first year the quota grows, the magnet demand's rate
    assert all(rate(q[0].growth, y) == rate(magnets.growth, y) for y in range(2026, 2041))
    assert Q.growth_factors(q[0], range(2025, 2027)) == {2025: 1.0, 2026: pytest.approx(1.05)}
    assert Q.quotas(history_scenario()) == []  # the historical run takes China's quota from data


def test_a_growth_key_at_the_start_year_does_not_grow_the_start_year():
    inst = Q.quotas(scenario({**CHINA, "growth": {2025: 0.1}}))[0]
    assert Q.growth_factors(inst, range(2025, 2028)) == {
        2025: 1.0,
        2026: pytest.approx(1.1),
        2027: pytest.approx(1.21),
    }


def test_before_a_late_start_the_mines_follow_the_investment_rule():
    """Pinned only from the quota's start: before it China's hard-rock mines retire and invest by
    the rule (doubling magnet demand, no lead time: they build), from 2027 they are the quota."""
    from tests.test_instruments import FAST_BUILD, growth

    def hard_rock(*instruments):
        sc = scenario(growth(1.0), *instruments, end=2028, dynamics=FAST_BUILD, china_quota=False)
        c = simulate(sc).capacity
        return c[c["process"] == "mining:CHN:bayan_obo"].set_index("year")["tonnes_per_year"] / 1000, sc

    free, _ = hard_rock()
    late, sc = hard_rock({**CHINA, "start": 2027, "growth": {}})
    ref = float(scenario_world(sc).processes.set_index("process").loc["mining:CHN:bayan_obo", "capacity"])
    assert free.loc[2026] > ref * 1.01  # the rule builds when demand doubles
    assert late.loc[2026] == pytest.approx(free.loc[2026], rel=1e-9)  # the same before the start
    assert late.loc[2027] == pytest.approx(ref) and late.loc[2028] == pytest.approx(ref)


def test_a_quota_keeps_expansion_tranches_and_may_leave_separation_alone():
    """A region whose mines have cash-cost expansion tranches (the U.S.) keeps all of its
    reference capacity under a flat quota; separation_follows: false leaves its separation out."""
    us = {"type": "mining_quota", "name": "us-quota", "region": "USA", "start": 2025, "growth": {2026: 0.1}}
    sc = scenario(us, end=2026)
    world = scenario_world(sc)
    cap = world.processes.set_index("process")["capacity"].astype(float)
    paths = Q.quota_paths(sc, world)
    mines = [k for k in paths if k.startswith("mining:USA:")]
    assert any(k.endswith(":expansion") for k in mines)
    assert sum(paths[k][2025] for k in mines) == pytest.approx(sum(cap[k] for k in mines))
    assert sum(paths[k][2026] for k in mines) == pytest.approx(1.1 * sum(cap[k] for k in mines))
    assert "separation-capacity:USA" in paths
    apart = Q.quota_paths(scenario({**us, "separation_follows": False}, end=2026), world)
    assert "separation-capacity:USA" not in apart


def test_a_disruption_still_cuts_output_under_a_quota():
    cut = {
        "type": "supply_disruption",
        "name": "bayan-flood",
        "region": "CHN",
        "stage": "mining",
        "deposits": ["bayan_obo"],
        "share_out": 0.3,
        "start": "2026-01-01",
        "end": "2026-12-31",
    }

    def mined(res, year):
        p = res.production
        return float(
            p[(p["region"] == "CHN") & (p["kind"] == "mining") & (p["year"] == year)]["tonnes"].sum()
        )

    base, hit = simulate(scenario(CHINA, end=2026)), simulate(scenario(CHINA, cut, end=2026))
    assert mined(hit, 2026) < 0.8 * mined(base, 2026)
    assert mined(hit, 2025) == pytest.approx(mined(base, 2025), rel=1e-6)


def test_two_quotas_on_one_region_are_refused():
    with pytest.raises(InputError, match=r"'CHN' already has a mining quota \(instruments\[\d+\]\)"):
        scenario_world(scenario(CHINA, {**CHINA, "name": "clay-quota", "ores": ["iac_low_y"]}))
