"""Named plants (capacity_project) and the investment rule's response to a capex subsidy, by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from reesim.errors import InputError
from reesim.instruments import projects as P
from reesim.scenario.load import load_scenario
from reesim.simulate.state import orders
from reesim.simulate.stepper import scenario_world
from tests.test_instruments import baseline, capacity_at_horizon, run, scenario


def project(**kw) -> dict:
    return {
        "type": "capacity_project",
        "name": "plant-x",
        "region": "USA",
        "stage": "magnet",
        "capacity_tonnes_per_year": 3000,
        "ramp_years": 1,
        "start": "2026-01-01",
        **kw,
    }


def test_tranches_by_hand():
    sc = scenario(project(capacity_tonnes_per_year=9000, ramp_years=2, start="2028-01-01"))
    world = scenario_world(sc)
    index = {pid: j for j, pid in enumerate(world.processes["process"])}
    j = index["project:plant-x"]
    # first output at the start, nameplate two years later: three equal tranches of 3 kt/yr
    # (a project's capital is charged on its own: its tranches carry no investment-rule charge)
    assert P.tranches(sc, index) == [
        (2028.0, j, 3.0, False, 0.0),
        (2029.0, j, 3.0, False, 0.0),
        (2030.0, j, 3.0, False, 0.0),
    ]
    now = scenario(project(ramp_years=0, start="2026-07-02"))
    (t, _, q, _, _), *rest = P.tranches(now, index)
    assert not rest and q == 3.0 and t == pytest.approx(2026 + 182 / 365.25)
    half = scenario(project(ramp_years=1.5))
    assert [round(t, 6) for t, *_ in P.tranches(half, index)] == [2026.0, 2026.75, 2027.5]


def test_a_project_is_a_cash_cost_plant_with_its_regions_recipe():
    sc = scenario(project())
    world = scenario_world(sc)
    p = world.processes.set_index("process")
    row = p.loc["project:plant-x"]
    assert row["kind"] == "magnet" and row["region"] == "USA" and row["capacity"] == 0.0
    # magnet processing cost 25 USD/kg at nameplate, 20 % below it at the first kg (cash_cost_spread)
    assert row["mc_intercept"] == pytest.approx(0.8 * 25.0)
    assert row["mc_intercept"] + row["mc_slope"] * 3.0 == pytest.approx(25.0)
    io = world.io.set_index(["process", "commodity"])["coef"]
    assert io.loc["project:plant-x"].sort_index().equals(io.loc["magnet:USA"].sort_index())
    sep = scenario_world(scenario(project(stage="separation", unit_cost_usd_per_kg=None)))
    s = sep.processes.set_index("process")
    base = s.loc["separation-capacity:USA"]
    cash = base["mc_intercept"] + base["mc_slope"] * base["capacity"]
    assert s.loc["project:plant-x", "mc_intercept"] + s.loc[
        "project:plant-x", "mc_slope"
    ] * 3.0 == pytest.approx(cash)
    assert s.loc["project:plant-x", "kind"] == "capacity"


def test_the_plant_comes_online_on_its_dates_and_runs_while_the_price_covers_its_cost():
    cf = baseline(end=2028)
    res = run(project(), cf=cf, end=2028)
    c = res.capacity
    cap = c[c["process"] == "project:plant-x"].set_index("period")["tonnes_per_year"]
    assert cap.to_dict() == pytest.approx({"2025": 0.0, "2026": 1500.0, "2027": 3000.0, "2028": 3000.0})
    prod = res.production
    out = prod[prod["process"] == "project:plant-x"].groupby("period")["tonnes_per_year"].sum()
    rent = c[c["process"] == "project:plant-x"].set_index("period")["rent_usd_per_kg"]
    for per in ("2026", "2027", "2028"):
        # complementary slackness: a rent only at capacity, capacity never exceeded
        assert out.get(per, 0.0) <= cap[per] * (1 + 1e-6)
        if rent[per] > 1e-6:
            assert out[per] == pytest.approx(cap[per], rel=1e-6)
    assert out["2028"] > 0.9 * 3000  # the U.S. magnet price covers 25 USD/kg of processing
    us = capacity_at_horizon(res, "magnet", region="USA")
    assert us == pytest.approx(capacity_at_horizon(cf, "magnet", region="USA") + 3000, rel=1e-3)


def test_a_child_scenario_delays_a_project_by_name(tmp_path):
    parent = tmp_path / "parent.yaml"
    parent.write_text(
        "name: parent\nextends: baseline\nhorizon: {start: 2025, end: 2028, step: year}\ninstruments:\n"
        "  - {type: capacity_project, name: plant-x, region: USA, stage: magnet, capacity_tonnes_per_year: 3000,"
        " ramp_years: 0, start: 2026-01-01}\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text(
        "name: child\nextends: parent.yaml\ninstruments:\n"
        "  - {type: capacity_project, name: plant-x, region: USA, stage: magnet, capacity_tonnes_per_year: 3000,"
        " ramp_years: 0, start: 2028-01-01}\n"
    )
    (inst,) = [i for i in load_scenario(child).instruments if i.name == "plant-x"]
    assert inst.start == dt.date(2028, 1, 1)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"region": "KOR", "stage": "separation"},
            "has no separation stage in the world to build on; allowed:",
        ),
        ({"region": "USAA"}, "did you mean 'USA'"),
        ({"end": "2030-01-01"}, "leave out end"),
        ({"capacity_tonnes_per_year": 0}, "greater than 0"),
        ({"stage": "mining"}, "'separation', 'heavy_separation', 'magnet' or 'recycling'"),
        (
            {"stage": "heavy_separation", "region": "CHN"},
            "'CHN' cannot take a heavy-separation plant.*allowed: ",
        ),
        (
            {"stage": "heavy_separation", "region": "MYS", "elements": ["Nd"]},
            "elements: Nd not in .*allowed: Dy",
        ),
        ({"stage": "magnet", "elements": ["Dy"]}, "elements: only a heavy_separation project"),
        ({"stage": "heavy_separation", "region": "MYS", "elements": []}, "an empty list separates nothing"),
        (
            {"stage": "heavy_separation", "region": "MYS", "elements": ["Dy", "Dy"]},
            "elements: Dy listed twice",
        ),
        (
            {"stage": "heavy_separation", "region": "JPN"},
            "'JPN' cannot take .*allowed: EU, IND, MYS, RUS, USA$",
        ),
        ({"stage": "recycling"}, "unit_cost_usd_per_kg: a recycling project needs its cash cost"),
    ],
)
def test_bad_projects_are_named(change, says):
    with pytest.raises(InputError, match=says):
        scenario_world(scenario(project(**change)))


def test_capex_subsidy_effect_on_orders_by_hand():
    # orders = max_build_rate x capacity x min(1, (r_e - k) / k) x dt, with k = capex x (1 - subsidy)
    r_e, cap, capex, rate, dt_ = 2.6, 4.0, 2.0, 0.25, 1.0
    assert orders(r_e, cap, capex, rate, dt_) == pytest.approx(0.25 * 4.0 * (0.6 / 2.0))  # 0.3 kt/yr
    assert orders(r_e, cap, capex * (1 - 0.5), rate, dt_) == pytest.approx(0.25 * 4.0 * 1.0)  # capped at 1
    assert orders(1.9, cap, capex, rate, dt_) == 0.0  # below the threshold without the subsidy ...
    assert orders(1.9, cap, capex * 0.5, rate, dt_) == pytest.approx(
        0.25 * 4.0 * min(1.0, 0.9 / 1.0)
    )  # ... above with it
    # no rent, no order, whatever the subsidy: why a U.S. line running below capacity gets none
    assert orders(0.0, cap, capex * 0.01, rate, dt_) == 0.0


def test_onshoring_scenario_builds_the_10x_plant_on_its_dates():
    sc = load_scenario("us-onshoring-price-floor")
    (ten_x,) = [i for i in sc.instruments if i.type == "capacity_project" and i.name == "mp-10x"]
    assert (ten_x.name, ten_x.capacity_tonnes_per_year, ten_x.start) == ("mp-10x", 9000, dt.date(2028, 1, 1))
    short = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2030})})
    from reesim.simulate import simulate

    res = simulate(short)
    c = res.capacity
    cap = c[c["process"] == "project:mp-10x"].set_index("period")["tonnes_per_year"]
    assert cap.reindex(["2027", "2028", "2029", "2030"]).to_numpy() == pytest.approx([0, 3000, 6000, 9000])
    out = res.production
    made = (
        out[(out["region"] == "USA") & (out["commodity"] == "magnet:ndfeb")].groupby("period")["tonnes"].sum()
    )
    assert made["2030"] > 9000  # the plant runs: U.S. magnets were 0.6 kt before it
    assert np.isfinite(res.prices["usd_per_kg"]).all()


def test_a_project_charges_its_capital_to_its_region():
    # 3,000 t/yr with a stated capital cost of 400 million USD: 48 million USD a year at 12 %,
    # half in 2026 (half the nameplate in service), in full from 2027, counted as capital_cost.
    from reesim.impacts.compare import compare

    cf = baseline(end=2028)
    res = run(project(capex_usd_million=400.0), cf=cf, end=2028)
    f = res.fiscal
    f = f[f["instrument"] == "plant-x capital charge (project)"].set_index("period")
    assert f["payer"].unique().tolist() == ["USA"]
    assert f["usd_million"].to_dict() == pytest.approx({"2026": 24.0, "2027": 48.0, "2028": 48.0})
    w = compare(res, cf).welfare
    cap = w[(w["region"] == "USA") & (w["component"] == "capital_cost")].set_index("period")[
        "change_usd_million"
    ]

    def rule_built(r) -> pd.Series:  # the investment rule's own charge in the U.S. (state.py)
        g = r.fiscal
        g = g[(g["instrument"] == "capital charge (investment rule)") & (g["payer"] == "USA")]
        return g.groupby("period")["usd_million"].sum().reindex(["2026", "2027", "2028"], fill_value=0.0)

    extra = (rule_built(res) - rule_built(cf)).to_numpy()
    assert cap.reindex(["2026", "2027", "2028"]).to_numpy() == pytest.approx([-24.0, -48.0, -48.0] - extra)
    # without a stated capital cost: the investment rule's annuity, 9.2 USD/kg/yr x 3 kt = 27.6 million USD/yr
    from reesim.scenario.spec import CapacityProject, Dynamics

    inst = CapacityProject.model_validate(project())
    assert P.capital_charge(inst, Dynamics(), 3.0) == pytest.approx(27.6)
    assert P.capital_charge(inst, Dynamics(), 1.5) == pytest.approx(13.8)


def test_a_recycling_plant_makes_magnets_from_scrap_at_its_cost():
    """A short-loop recycling line (stage recycling): magnet material with no rare-earth input,
    kind 'recycling', at capacity while the magnet price covers its cash cost, idle when it does
    not; its capital charge defaults to a magnet line's annuity."""
    cf = baseline(end=2026)
    cheap = run(
        project(stage="recycling", region="EU", unit_cost_usd_per_kg=30, ramp_years=0, start="2025-01-01"),
        cf=cf,
        end=2026,
    )
    world = scenario_world(scenario(project(stage="recycling", region="EU", unit_cost_usd_per_kg=30)))
    io = world.io[world.io["process"] == "project:plant-x"]
    assert io[["commodity", "coef"]].values.tolist() == [["magnet:ndfeb", 1.0]]  # no input at all
    prod = cheap.production
    out = prod[prod["process"] == "project:plant-x"].set_index("period")
    assert set(out["kind"]) == {"recycling"}
    assert out["tonnes_per_year"].to_dict() == pytest.approx({"2025": 3000.0, "2026": 3000.0}, rel=1e-6)
    dear = run(
        project(stage="recycling", region="EU", unit_cost_usd_per_kg=500, ramp_years=0, start="2025-01-01"),
        cf=cf,
        end=2026,
    )
    p = dear.production
    assert p[p["process"] == "project:plant-x"]["tonnes_per_year"].sum() < 1e-6  # 500 USD/kg: never pays
    (inst,) = [
        i
        for i in scenario(project(stage="recycling", unit_cost_usd_per_kg=30)).instruments
        if i.type == "capacity_project"
    ]
    dyn = scenario().dynamics
    assert P.capital_charge(inst, dyn, 3.0) == pytest.approx(dyn.capex_usd_per_kg_year["magnet"] * 3.0)


def test_shipped_recycling_scenario_recycles_on_the_dates_of_its_sources():
    """recycling-and-thrifting: Heraeus Remloy's 600 t/yr in service from the start, 1,200 t/yr
    from 2028 (second line from 2027-01-01, one year's ramp)."""
    import copy

    from reesim.pipeline import run_pair
    from reesim.scenario.load import parse, resolve

    data, _ = resolve("recycling-and-thrifting")
    data = copy.deepcopy(data)
    data["horizon"] = {**data["horizon"], "end": 2028}
    res, _, _ = run_pair(parse(data, "recycling-and-thrifting"))
    p = res.production
    rec = p[p["kind"] == "recycling"].groupby("year")["tonnes_per_year"].sum()
    assert rec.to_dict() == pytest.approx({2025: 600.0, 2026: 600.0, 2027: 900.0, 2028: 1200.0}, rel=1e-6)


def test_a_recycling_plant_needs_a_magnet_market_in_its_region():
    with pytest.raises(InputError, match=r"instruments\[\d+\]\.region: 'MDG' has no magnet market"):
        scenario_world(scenario(project(stage="recycling", region="MDG", unit_cost_usd_per_kg=30)))


def test_a_heavy_circuit_copies_chinas_and_sends_the_rest_of_its_feed_to_china():
    """stage heavy_separation, elements [Dy, Tb] in Malaysia (Lynas' 2025 circuit): per kg of
    Mt Weld's heavy concentrate the Dy and Tb of China's circuit, the rest as a residue that
    China separates into the other oxides (mass and element content conserved), new routes
    for Dy and Tb oxide from Malaysia, and the project's own service."""
    from reesim.instruments import heavy

    inst = project(name="dytb", stage="heavy_separation", region="MYS", elements=["Dy", "Tb"])
    world = scenario_world(scenario(inst))
    io = world.io.set_index(["process", "commodity"])["coef"]
    chn = io.loc["crack-heavy:CHN:mount_weld"]
    mine = io.loc["crack-heavy:MYS:mount_weld:dytb"]
    residue = "concentrate:hree_rest_mount_weld:dytb"
    assert mine["concentrate:hree_mount_weld"] == -1.0 and mine[heavy.service_id("dytb")] == -1.0
    assert mine["oxide:Dy"] == chn["oxide:Dy"] and mine["oxide:Tb"] == chn["oxide:Tb"]
    others = chn.drop(["concentrate:hree_mount_weld", "service:separation", "oxide:Dy", "oxide:Tb"])
    assert mine[residue] == pytest.approx(others.sum())
    rest = io.loc["crack-heavy-rest:CHN:mount_weld:dytb"]
    assert rest[residue] == -1.0 and rest["service:separation"] == -1.0
    # every other element of the feed comes out of China's residue circuit, in full
    for c, v in others.items():
        assert mine[residue] * rest[c] == pytest.approx(v), c
    assert io.loc[("project:dytb", heavy.service_id("dytb"))] == 1.0
    assert {heavy.service_id("dytb"), residue} <= set(world.commodities)
    e = world.edges
    dy = e[(e["commodity"] == "oxide:Dy") & (e["origin"] == "MYS")]
    assert set(dy["dest"]) == set(e[(e["commodity"] == "oxide:Dy") & (e["origin"] == "CHN")]["dest"]) - {
        "MYS"
    }
    assert (dy["route_cost"] == 0.0).all()
    seg = e[(e["commodity"] == "concentrate:hree_mount_weld") & (e["origin"] == "MYS")]
    res = e[(e["commodity"] == residue) & (e["origin"] == "MYS")]
    # the heavy compound's routes, transport and slope, but not its calibrated intercept (fitted
    # to the observed SEGH flow; negative on MYS -> CHN, it would pay for shipping the residue)
    cols = ["dest", "transport", "route_quad"]
    assert res[cols].values.tolist() == seg[cols].values.tolist()
    assert (res["route_cost"] == 0.0).all() and (seg["route_cost"] != 0.0).any()


def _short(name: str, end: int, drop: str | None = None):
    """A shipped scenario over 2025-``end`` by year (optionally without the instrument ``drop``)
    and its baseline, as ``run_pair`` gives them."""
    import copy

    from reesim.pipeline import run_pair
    from reesim.scenario.load import parse, resolve

    data = copy.deepcopy(resolve(name)[0])
    data["horizon"] = {**data["horizon"], "end": end}
    data["instruments"] = [i for i in data["instruments"] if i.get("name") != drop]
    res, cf, _ = run_pair(parse(data, name))
    return res, cf


LYNAS = "lynas-malaysia-dy-tb-circuit"


def _dy_made_in_malaysia(res) -> pd.Series:
    p = res.production
    mine = p[p["process"].str.startswith("crack-heavy:MYS:") & (p["commodity"] == "oxide:Dy")]
    return mine.groupby("year")["tonnes_per_year"].sum()


def _price(res, commodity: str, region: str, year: int) -> float:
    q = res.prices
    sel = (q["commodity"] == commodity) & (q["region"] == region) & (q["year"] == year)
    return float(q[sel]["usd_per_kg"].iloc[0])


def test_the_baseline_separates_dy_and_tb_in_malaysia_and_the_licence_premium_shrinks():
    """The baseline's Lynas circuit (1,500 t SEGH/yr from 2025-05-16, Dy and Tb only): Malaysia
    makes Dy oxide from 2026 (the first step that starts after the date), from at most 1.5 kt
    of feed, in the baseline and more under the licensing; with it, Dy in Japan and Europe
    costs less under the licensing than without it, and China's Dy no less."""
    lic, cf = _short("china-2025-licensing", 2026)
    bare, _ = _short("china-2025-licensing", 2026, drop=LYNAS)
    dy, dy_cf = _dy_made_in_malaysia(lic), _dy_made_in_malaysia(cf)
    assert dy.get(2025, 0.0) < 1e-6 and dy[2026] > 10.0 and dy[2026] >= dy_cf[2026] - 1e-6
    assert _dy_made_in_malaysia(bare).sum() < 1e-6
    world = scenario_world(parse_shipped("china-2025-licensing"))
    coef = world.io.set_index(["process", "commodity"])["coef"][f"crack-heavy:MYS:mount_weld:{LYNAS}"]
    assert dy[2026] / coef["oxide:Dy"] <= 1500.0 * (1 + 1e-6)
    for r in ("JPN", "EU"):
        assert _price(lic, "oxide:Dy", r, 2026) < 0.9 * _price(bare, "oxide:Dy", r, 2026), r
    assert _price(lic, "oxide:Dy", "CHN", 2026) >= _price(bare, "oxide:Dy", "CHN", 2026) - 1e-6
    # the run's headline reports the same Dy
    from reesim.simulate.headline import heavy_separated_outside_china

    h = heavy_separated_outside_china(lic, cf)
    got = h[(h["path"] == "scenario") & (h["commodity"] == "oxide:Dy") & (h["year"] == 2026)]["tonnes"].sum()
    assert got == pytest.approx(dy[2026])


def parse_shipped(name: str):
    import copy

    from reesim.scenario.load import parse, resolve

    return parse(copy.deepcopy(resolve(name)[0]), name)


def test_shipped_lynas_facility_separates_the_whole_suite_in_malaysia_from_2027():
    """lynas-heavy-separation adds the 5,000 t/yr facility (full suite from 2026-04-01): by 2027
    Malaysia makes Sm and Gd oxide, which the licensing alone leaves to China, and Sm outside
    China costs less."""
    lyn, _ = _short("lynas-heavy-separation", 2027)
    lic, _ = _short("china-2025-licensing", 2027)
    for res, expect in ((lyn, True), (lic, False)):
        p = res.production
        sm = p[
            p["process"].str.startswith("crack-heavy:MYS:")
            & (p["commodity"] == "oxide:Sm")
            & (p["year"] == 2027)
        ]
        assert (sm["tonnes_per_year"].sum() > 10.0) == expect
    assert _price(lyn, "oxide:Sm", "JPN", 2027) < _price(lic, "oxide:Sm", "JPN", 2027)


def test_two_heavy_plants_in_one_region_share_the_new_routes():
    """A Dy/Tb circuit and a full-suite plant in Malaysia: each its own service and circuits,
    the oxide routes they both open added once."""
    a = project(name="dytb", stage="heavy_separation", region="MYS", elements=["Dy", "Tb"])
    b = project(name="suite", stage="heavy_separation", region="MYS")
    world = scenario_world(scenario(a, b))
    names = set(world.processes["process"])
    assert {"crack-heavy:MYS:mount_weld:dytb", "crack-heavy:MYS:mount_weld:suite"} <= names
    assert "crack-heavy-rest:CHN:mount_weld:suite" not in names  # the full suite leaves no residue
    e = world.edges
    assert not e.duplicated(["commodity", "origin", "dest"]).any()
    dy = e[(e["commodity"] == "oxide:Dy") & (e["origin"] == "MYS")]
    assert len(dy) == len(set(dy["dest"])) > 0
