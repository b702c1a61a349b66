"""End-use exclusions (``excluded_sectors``): hand-computed equilibrium, exact demand split,
the default world's data, validation, and a run's tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from reesim.errors import InputError
from reesim.impacts.welfare import step_welfare, world_welfare_identity
from reesim.instruments import enduse
from reesim.scenario.load import load_scenario, parse
from reesim.solve.equilibrium import solve_equilibrium
from reesim.world.worldfile import load_world

WORLDS = Path(__file__).parent / "worlds"


def _licence(excluded=("defense",), **kw) -> dict:
    inst = {
        "type": "export_quota",
        "name": "mil",
        "exporter": "A",
        "destinations": ["B"],
        "commodities": ["w"],
        "approval_share": 1.0,
        "excluded_sectors": list(excluded),
        "start": 2025,
    }
    return inst | kw


def _two_region(share: float):
    """The two-region textbook world (tests/worlds/two_region.yaml) with a defense use in B."""
    w = load_world(WORLDS / "two_region.yaml")
    d = w.demands
    parent = d.loc[d["region"] == "B", "demand"].iloc[0]
    uses = {
        "defense": [
            {"commodity": "w", "region": "B", "share": share, "parent": parent, "parent_sector": "final"}
        ]
    }
    return w.replace(meta=dict(w.meta, end_use_sectors=uses))


def _excluded_world(share: float, in_force: bool = True):
    w = _two_region(share)
    sc = parse({"name": "x", "horizon": {"start": 2025, "end": 2025}, "instruments": [_licence()]})
    split = enduse.split_demands(sc, w)
    rules = enduse.structure(sc, split)
    return split.replace(enduse_rules=rules.assign(slack=0.0 if in_force else enduse.NOT_BINDING))


def test_two_region_exclusion_hand_numbers():
    """B's defense users (75 % of B's demand) may not buy A's goods.

    Free trade: p_A = 67, p_B = 73, B makes 33 and buys 57, of which defense 42.75 > 33, so the
    exclusion binds. Defense buys all of B's output at P = p_B + mu with P - 40 = 0.75 (130 - P):
    P = 137.5 / 1.75 = 78.571; B's other users buy only imports: 0.25 (130 - p_A - 6) =
    2 p_A - 110, so p_A = 141 / 2.25 = 62.667, p_B = 68.667, mu = 9.905 USD/kg.
    """
    sol = solve_equilibrium(_excluded_world(0.75))
    prices = sol.prices.set_index("region")["usd_per_kg"]
    assert prices["A"] == pytest.approx(141 / 2.25, abs=1e-4)
    assert prices["B"] == pytest.approx(141 / 2.25 + 6, abs=1e-4)
    cons = sol.consumption.set_index("sector")
    assert cons.loc["defense", "quantity"] == pytest.approx(137.5 / 1.75 - 40, abs=1e-4)
    assert cons.loc["defense", "usd_per_kg"] == pytest.approx(137.5 / 1.75, abs=1e-4)
    rent = sol.quota_rents.set_index("quota")["rent_usd_per_kg"]
    assert rent["mil:B:excluded defense (w)"] == pytest.approx(137.5 / 1.75 - 141 / 2.25 - 6, abs=1e-4)
    # welfare: the premium moves from B's defense users to B's producers (net zero), and the
    # components still add up to the world's objective
    total, identity = world_welfare_identity(sol)
    assert total == pytest.approx(identity, rel=1e-7)


def test_exclusion_that_does_not_bind_changes_nothing():
    """Defense 10 % of B's demand (5.7 < B's output of 33): the row is slack, prices are free trade's."""
    sol = solve_equilibrium(_excluded_world(0.10))
    prices = sol.prices.set_index("region")["usd_per_kg"]
    assert prices["A"] == pytest.approx(67.0, abs=1e-4) and prices["B"] == pytest.approx(73.0, abs=1e-4)
    rent = sol.quota_rents.set_index("quota")["rent_usd_per_kg"]
    assert rent.iloc[-1] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("share", [0.03, 0.3, 0.75, 0.97])
def test_split_is_exact_when_the_licence_is_not_in_force(share):
    """The split rows buy together what the parent bought at every price: same equilibrium."""
    base = solve_equilibrium(load_world(WORLDS / "two_region.yaml"))
    split = solve_equilibrium(_excluded_world(share, in_force=False))
    a = base.prices.set_index("region")["usd_per_kg"]
    b = split.prices.set_index("region")["usd_per_kg"]
    assert np.allclose(a.sort_index(), b.sort_index(), atol=1e-6)
    cons = split.consumption[split.consumption["region"] == "B"].set_index("sector")["quantity"]
    assert cons.sum() == pytest.approx(57.0, abs=1e-5)
    assert cons["defense"] == pytest.approx(share * 57.0, abs=1e-5)


def test_welfare_moves_the_premium_from_the_excluded_users_to_the_allowed_suppliers():
    sol = solve_equilibrium(_excluded_world(0.75))
    w = step_welfare(sol).set_index(["region", "component"])["usd_million_per_year"]
    mu = 137.5 / 1.75 - 141 / 2.25 - 6
    x_b = 137.5 / 1.75 - 40
    # B's producers receive mu on their whole output (all of it goes to defense)
    assert w[("B", "quota_rents")] == pytest.approx(mu * x_b, rel=1e-5)


def test_default_world_knows_us_defense_magnet_use_from_data():
    from reesim.world.default import load_default_world

    world = load_default_world(2024)
    (entry,) = world.meta["end_use_sectors"]["defense"]
    assert (entry["commodity"], entry["region"]) == ("magnet:ndfeb", "USA")
    assert entry["kt"] == pytest.approx(0.175)  # DoD 2012: 175 t/yr of NdFeB in U.S. weapon systems
    assert 0.02 < entry["share"] < 0.04  # of ~5.8 kt of U.S. magnet use in 2024
    # the world is built split, exactly: same intercept, slopes b/s and b/(1-s) of the parent's b
    d = world.demands.set_index("demand")
    dfn, rest = d.loc["defense:magnet:ndfeb:USA"], d.loc["magnets:magnet:ndfeb:USA"]
    assert dfn["sector"] == "defense" and dfn["intercept"] == rest["intercept"]
    s = entry["share"]
    assert dfn["slope"] * s == pytest.approx(rest["slope"] * (1 - s))
    assert world.meta["demand_parent"] == {"defense:magnet:ndfeb:USA": "magnet users"}


def _scenario(tmp_path, inst: dict) -> Path:
    f = tmp_path / "x.yaml"
    f.write_text(
        yaml.safe_dump({"name": "x", "horizon": {"start": 2025, "end": 2026}, "instruments": [inst]})
    )
    return f


MAGNETS_USA = {
    "type": "export_quota",
    "name": "mil",
    "exporter": "CHN",
    "destinations": ["USA"],
    "commodities": ["magnet:ndfeb"],
    "approval_share": 1.0,
    "excluded_sectors": ["defense"],
    "start": "2025-12-01",
}


def test_defense_exclusion_validates_and_splits_us_magnet_demand(tmp_path):
    from reesim.simulate.stepper import scenario_world

    world = scenario_world(load_scenario(_scenario(tmp_path, MAGNETS_USA)))
    d = world.demands
    defense = d[d["sector"] == "defense"]
    assert list(defense["region"]) == ["USA"] and list(defense["commodity"]) == ["magnet:ndfeb"]
    assert world.meta["demand_parent"] == {"defense:magnet:ndfeb:USA": "magnet users"}
    assert len(world.enduse_rules) == 1


def test_shortages_compare_the_same_sectors_in_scenario_and_counterfactual(tmp_path):
    """The counterfactual has the defense row too (the default world is built split), so a
    licence that approves everything shows a defense shortfall from its counterfactual, not
    one from a missing row, and the U.S. magnet users' shortfall is measured on the same rows."""
    from reesim.impacts.compare import shortage_table
    from reesim.pipeline import run_pair

    res, cf, _ = run_pair(load_scenario(_scenario(tmp_path, MAGNETS_USA | {"start": "2025-01-01"})))
    short = shortage_table(res, cf)
    us = short[short["region"] == "USA"].set_index(["year", "sector"])
    assert us.loc[(2025, "defense"), "tonnes_cf"] > 100  # ~175 t/yr: present in the counterfactual
    total = us.xs(2025, level="year")[["tonnes", "tonnes_cf"]].loc[["defense", "magnet users"]].sum()
    share = us.loc[(2025, "magnet users"), "shortage_share"]
    assert share == pytest.approx(1 - total["tonnes"] / total["tonnes_cf"], abs=0.005)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"excluded_sectors": ["defence"]}, "did you mean 'defense'?"),
        ({"destinations": ["EU"]}, "the data give defense use only of magnet:ndfeb in USA"),
        ({"commodities": ["oxide:Dy"]}, "this licence covers none of them"),
    ],
)
def test_exclusion_without_data_is_refused_with_what_the_data_have(tmp_path, change, expected):
    from reesim.simulate.stepper import scenario_world

    with pytest.raises(InputError) as err:
        scenario_world(load_scenario(_scenario(tmp_path, MAGNETS_USA | change)))
    assert "excluded_sectors[0]" in str(err.value) and expected in str(err.value)


def test_run_records_the_exclusion_and_defense_follows_magnet_growth(tmp_path):
    """A run with the exclusion: the row is in the quota rents, defense use grows with the
    magnet users' growth path (its parent's sector) and the U.S. total is the unsplit run's."""
    from reesim.simulate.stepper import simulate

    inst = MAGNETS_USA | {"start": "2025-01-01"}
    growth = {
        "type": "demand_shift",
        "sector": "magnet users",
        "regions": "all",
        "growth": {2025: 0.05},
        "start": 2025,
    }
    data = {"name": "x", "horizon": {"start": 2025, "end": 2027}, "instruments": [inst, growth]}
    res = simulate(parse(data))
    rents = res.quota_rents
    row = rents[rents["quota"] == "mil:USA:excluded defense (magnet:ndfeb)"]
    assert len(row) == 3 and (row["used_tonnes_per_year"] <= row["limit_tonnes_per_year"] + 1e-6).all()
    cons = res.consumption
    us = cons[(cons["region"] == "USA") & (cons["commodity"] == "magnet:ndfeb")]
    defense = us[us["sector"] == "defense"].set_index("year")["tonnes_per_year"]
    users = us[us["sector"] == "magnet users"].set_index("year")["tonnes_per_year"]
    ratio = defense / (defense + users)
    assert ratio.max() - ratio.min() < 1e-3  # same growth, same price: a constant share while slack
    without = simulate(parse({**data, "instruments": [inst | {"excluded_sectors": []}, growth]}))
    c0 = without.consumption
    us0 = (
        c0[(c0["region"] == "USA") & (c0["commodity"] == "magnet:ndfeb")]
        .groupby("year")["tonnes_per_year"]
        .sum()
    )
    assert np.allclose(us.groupby("year")["tonnes_per_year"].sum().to_numpy(), us0.to_numpy(), rtol=1e-5)


THREE = """
name: three regions
quantity_unit: t
regions: [A, B, C]
commodities: [w]
supply:
  - {region: A, commodity: w, intercept: 10, slope: 1}
  - {region: B, commodity: w, intercept: 60, slope: 1}
  - {region: C, commodity: w, intercept: 30, slope: 2}
demand:
  - {region: A, commodity: w, intercept: 100, slope: 1}
  - {region: B, commodity: w, intercept: 130, slope: 1}
  - {region: C, commodity: w, intercept: 60, slope: 1}
trade: {all_pairs: true, cost: 6}
"""


def test_welfare_adds_up_when_the_excluded_users_also_buy_allowed_imports(tmp_path):
    """A exports, B's defense (80 % of B) may buy B's output and imports from C. The binding row
    prices C's goods into B at p_C + 6 - mu; the users' premium covers that margin, so only B's
    producers are credited and the components still sum to the objective (C credited as well
    would overstate world welfare by mu x f_CB)."""
    path = tmp_path / "three.yaml"
    path.write_text(THREE)
    w = load_world(path)
    parent = w.demands.loc[w.demands["region"] == "B", "demand"].iloc[0]
    uses = {
        "defense": [
            {"commodity": "w", "region": "B", "share": 0.8, "parent": parent, "parent_sector": "final"}
        ]
    }
    w = w.replace(meta=dict(w.meta, end_use_sectors=uses))
    sc = parse({"name": "x", "horizon": {"start": 2025, "end": 2025}, "instruments": [_licence()]})
    split = enduse.split_demands(sc, w)
    sol = solve_equilibrium(split.replace(enduse_rules=enduse.structure(sc, split).assign(slack=0.0)))
    mu = float(sol.quota_rents["rent_usd_per_kg"].iloc[-1])
    t = sol.trade.set_index(["origin", "dest"])["flow"]
    assert mu > 1.0 and t.get(("C", "B"), 0.0) > 1.0  # binding, and C supplies B
    total, identity = world_welfare_identity(sol)
    assert total == pytest.approx(identity, rel=1e-7)
    w_ = step_welfare(sol).set_index(["region", "component"])["usd_million_per_year"]
    assert ("C", "quota_rents") not in w_.index


def test_a_licence_named_with_a_colon_still_binds():
    """The row carries its licence's name; a ':' in the name (which splits row labels) does not
    keep the exclusion from holding while the licence is in force."""
    import datetime as dt

    w = _two_region(0.75)
    sc = parse(
        {"name": "x", "horizon": {"start": 2025, "end": 2025}, "instruments": [_licence(name="mil:v2")]}
    )
    split = enduse.split_demands(sc, w)
    rules = enduse.structure(sc, split)
    assert list(rules["licence"]) == ["mil:v2"]
    assert enduse.slack(sc, rules, dt.date(2025, 6, 1)).tolist() == [0.0]
    assert enduse.slack(sc, rules, dt.date(2024, 6, 1)).tolist() == [enduse.NOT_BINDING]


def test_defense_follows_magnet_growth_and_its_own_shifts():
    """A shift of 'magnet users' moves the defense row too (split from it); a shift of 'defense'
    moves only the defense row (it used to validate and move nothing)."""
    import datetime as dt

    from reesim.instruments.demand import growth_factors
    from reesim.world.default import load_default_world

    world = load_default_world(2024)
    d = world.demands
    base = {"name": "x", "horizon": {"start": 2025, "end": 2025}}
    shift = {"type": "demand_shift", "regions": ["USA"], "growth": {2025: 0.10}, "start": 2025}
    users = growth_factors(
        parse({**base, "instruments": [shift | {"sector": "magnet users"}]}), world, dt.date(2025, 7, 1), 1.0
    )
    own = growth_factors(
        parse({**base, "instruments": [shift | {"sector": "defense"}]}), world, dt.date(2025, 7, 1), 1.0
    )
    is_def = (d["sector"] == "defense").to_numpy()
    is_users_us = ((d["sector"] == "magnet users") & (d["region"] == "USA")).to_numpy()
    assert np.allclose(users[is_def | is_users_us], 1.1) and np.allclose(users[~(is_def | is_users_us)], 1.0)
    assert np.allclose(own[is_def], 1.1) and np.allclose(own[~is_def], 1.0)
