"""Welfare accounting, shortages, product costs and jobs: identities and hand-computed cases."""

from __future__ import annotations

import pandas as pd
import pytest

from reesim.impacts.compare import jobs_table, product_cost_table
from reesim.impacts.welfare import step_welfare, world_welfare_identity
from reesim.solve.equilibrium import solve_equilibrium
from reesim.world.default import load_default_world
from reesim.world.worldfile import parse_world

TWO = """
name: two regions
regions: [A, B]
commodities: [w]
supply:
  - {region: A, commodity: w, intercept: 10, slope: 1}
  - {region: B, commodity: w, intercept: 40, slope: 1}
demand:
  - {region: A, commodity: w, intercept: 100, slope: 1}
  - {region: B, commodity: w, intercept: 130, slope: 1}
trade: {all_pairs: true, cost: 6}
"""


def welfare(sol) -> dict[tuple[str, str], float]:
    w = step_welfare(sol)
    return dict(zip(zip(w["region"], w["component"], strict=True), w["usd_million_per_year"], strict=True))


def test_surplus_changes_are_the_integrals_of_the_linear_curves():
    free = welfare(solve_equilibrium(parse_world(TWO)))  # p_A 67, p_B 73
    ban = welfare(solve_equilibrium(parse_world(TWO + "policies: {bans: [{from: A, to: B}]}\n")))  # 55, 85
    # B's consumers: integral of D(p) = 130 - p from 73 to 85 = 612 lost.
    assert ban[("B", "consumer_surplus")] - free[("B", "consumer_surplus")] == pytest.approx(-612.0, rel=1e-6)
    # B's producers: integral of S(p) = p - 40 from 73 to 85 = 468 gained.
    assert ban[("B", "producer_surplus")] - free[("B", "producer_surplus")] == pytest.approx(468.0, rel=1e-6)
    # A's consumers gain the integral of 100 - p from 55 to 67 = 4455.5 - 3987.5 = 468;
    # A's producers lose that of p - 10: (2244.5 - 670) - (1512.5 - 550) = 612.
    assert ban[("A", "consumer_surplus")] - free[("A", "consumer_surplus")] == pytest.approx(468.0, rel=1e-6)
    assert ban[("A", "producer_surplus")] - free[("A", "producer_surplus")] == pytest.approx(-612.0, rel=1e-6)


def test_tariff_revenue_is_rate_times_taxed_value():
    sol = solve_equilibrium(
        parse_world(TWO + "policies: {ad_valorem: [{from: A, to: B, rate: 0.1, base: cif}]}\n")
    )
    pa = sol.price("w", "A")
    flow = float(sol.trade["flow"].sum())
    assert pa == pytest.approx(266.8 / 4.2, rel=1e-6)
    assert welfare(sol)[("B", "tariff_revenue")] == pytest.approx(0.1 * (pa + 6) * flow, rel=1e-6)


def test_export_tax_and_quota_rents_accrue_to_the_exporter():
    tax = welfare(
        solve_equilibrium(
            parse_world(TWO + "policies: {ad_valorem: [{from: A, to: B, rate: 0.1, base: origin}]}\n")
        )
    )
    pa = 268 / 4.2
    assert tax[("A", "export_tax_revenue")] == pytest.approx(0.1 * pa * (2 * pa - 110), rel=1e-6)
    quota = welfare(
        solve_equilibrium(
            parse_world(TWO + "policies: {quotas: [{name: q, limit: 10, edges: [{from: A, to: B}]}]}\n")
        )
    )
    assert quota[("A", "quota_rents")] == pytest.approx(14.0 * 10.0, rel=1e-6)  # rent 14 USD/kg x 10 t


@pytest.mark.parametrize(
    "policy",
    [
        "",
        "policies: {quotas: [{name: q, limit: 10, edges: [{from: A, to: B}]}]}\n",
        "policies: {specific: [{from: A, to: B, per_unit: 4}]}\n",
        "policies: {ad_valorem: [{from: A, to: B, rate: 0.25, base: cif}]}\n",
    ],
)
def test_welfare_components_add_up_to_the_social_surplus(policy):
    total, objective = world_welfare_identity(solve_equilibrium(parse_world(TWO + policy)))
    assert total == pytest.approx(objective, rel=1e-7)


def test_identity_on_the_default_world():
    total, objective = world_welfare_identity(solve_equilibrium(load_default_world(2024)))
    assert total == pytest.approx(objective, rel=1e-6)


def test_product_cost_is_intensity_times_price_change():
    prices = pd.DataFrame(
        {
            "period": ["2026"] * 4,
            "year": [2026] * 4,
            "commodity": ["magnet:ndfeb", "metal:Nd", "metal:Dy", "oxide:La"],
            "market": ["outside China"] * 4,
            "usd_per_kg": [60.0, 80.0, 300.0, 1.0],
            "usd_per_kg_cf": [50.0, 70.0, 250.0, 1.0],
        }
    )
    pc = product_cost_table(prices).set_index("product")
    ev = pc.loc["Battery-electric car (magnets)"]
    assert (ev["change_usd_low"], ev["change_usd_high"]) == pytest.approx((1.11 * 10, 1.33 * 10))
    wind = pc.loc["Wind turbine direct drive (PMSG-DD)"]
    assert wind["change_usd_low"] == pytest.approx(168 * 10 + 15 * 50)  # Nd and Dy kg/MW (Jiang et al. 2024)
    # the high end adds the tower's magnets of the same model (12 kg Nd, 2 kg Dy per MW)
    assert wind["change_usd_high"] == pytest.approx(180 * 10 + 17 * 50)
    geared = pc.loc["Wind turbine geared (PMSG-GB)"]
    assert (geared["change_usd_low"], geared["change_usd_high"]) == pytest.approx(
        (39 * 10 + 4 * 50, 51 * 10 + 6 * 50)
    )
    f35 = pc.loc["F-35 Lightning II (NdFeB motors)"]
    assert (f35["change_usd_low"], f35["change_usd_high"]) == pytest.approx((80.0, 200.0))
    assert pc["share_of_product_price"].isna().all()  # no product prices in the dataset
    assert "jiang-p-et-b1f5a8" in wind["source_ids"]


def test_product_cost_citations_follow_the_commodities_priced_in_each_group():
    """A group cites the rows of the commodities it prices: both in one year, Nd only in the next
    (Dy unpriced there); without citations the figures are the same."""
    prices = pd.DataFrame(
        {
            "period": ["2026", "2026", "2027"],
            "year": [2026, 2026, 2027],
            "commodity": ["metal:Nd", "metal:Dy", "metal:Nd"],
            "market": ["outside China"] * 3,
            "usd_per_kg": [80.0, 300.0, 90.0],
            "usd_per_kg_cf": [70.0, 250.0, 70.0],
        }
    )
    pc = product_cost_table(prices)
    wind = pc[pc["product"] == "Wind turbine direct drive (PMSG-DD)"].set_index("year")
    assert wind.loc[2026, "change_usd_low"] == pytest.approx(168 * 10 + 15 * 50)
    assert wind.loc[2027, "change_usd_low"] == pytest.approx(168 * 20)
    both, nd_only = wind.loc[2026, "rows"].split(" ; "), wind.loc[2027, "rows"].split(" ; ")
    # two rows a commodity (the generator; with the tower's magnets), Dy's left out where it is unpriced
    assert len(both) == 4 and len(nd_only) == 2 and set(nd_only) < set(both)
    assert all("| Nd:" in r for r in nd_only) and sum("| Dy:" in r for r in both) == 2
    bare = product_cost_table(prices, citations=False)
    assert "source_ids" not in bare and "rows" not in bare
    pd.testing.assert_frame_equal(bare, pc.drop(columns=["source_ids", "rows"]), check_exact=True)


def test_jobs_exposed_are_shortage_share_times_employment():
    shortages = pd.DataFrame(
        {
            "period": ["2026"],
            "year": [2026],
            "region": ["USA"],
            "sector": ["magnet users"],
            "shortage_share": [0.1],
        }
    )
    jobs = jobs_table(shortages).set_index("sector")
    assert jobs.loc["motor vehicles and parts", "jobs_exposed"] == pytest.approx(0.1 * 997_300)
    rng = jobs.loc["all magnet users (range)"]
    assert rng["jobs_exposed"] == pytest.approx(0.1 * 100_000)  # REE-dependent products (Penn State 2023)
    high = 0.1 * (997_300 + 120_000 + 611_000)
    assert rng["jobs_exposed_high"] == pytest.approx(high)
    assert rng["jobs_exposed_high_with_supply_chain"] == pytest.approx(
        high * (1 + 7.441)
    )  # EPI 744.1 per 100


SHORT = """
extends: china-2025-licensing
name: short-licensing
horizon: {start: 2025, end: 2026}
"""
SHORT_BASE = """
extends: baseline
name: short-baseline
horizon: {start: 2025, end: 2026}
"""


def test_run_writes_impact_tables_and_compare_reads_two_runs(capsys, tmp_path):
    from tests.test_cli import invoke

    (tmp_path / "s.yaml").write_text(SHORT)
    (tmp_path / "b.yaml").write_text(SHORT_BASE)
    code, out, err = invoke(capsys, "run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "a"))
    assert code == 0, err
    assert "Δ welfare" in out
    for name in ("welfare", "welfare_discounted", "shortages", "product_costs", "jobs", "price_changes"):
        assert (tmp_path / "a" / f"{name}.parquet").is_file(), name
    import json

    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["impacts"]["discount_rate"] == 0.03
    assert "CHN" in summary["impacts"]["welfare_pv_usd_million_by_region"]
    code, _, err = invoke(capsys, "run", str(tmp_path / "b.yaml"), "--out", str(tmp_path / "b"))
    assert code == 0, err
    code, out, err = invoke(
        capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")
    )
    assert code == 0, err
    assert "peak price change" in out
    # The heavy-RE dose is read back from the run folders: compare prints the Dy-per-magnet line.
    assert summary["heavy_dose"]["recipe_t_per_t_magnet"]["Dy"] > 0
    assert "Dy per t of magnet made outside China" in " ".join(out.split())
    w_run = pd.read_parquet(tmp_path / "a" / "welfare_discounted.parquet").set_index(["region", "component"])
    w_cmp = pd.read_parquet(tmp_path / "c" / "welfare_discounted.parquet").set_index(["region", "component"])
    # The run's own counterfactual is the same baseline: both comparisons agree.
    assert w_cmp.loc[("CHN", "total"), "pv_usd_million"] == pytest.approx(
        w_run.loc[("CHN", "total"), "pv_usd_million"], rel=1e-6
    )
    code, _, err = invoke(capsys, "compare", str(tmp_path / "a"), str(tmp_path))
    assert code == 2 and "not a reesim run folder" in err


def test_outside_china_price_change_is_a_fixed_basket_of_the_counterfactual_use():
    """Two markets outside China, each using 10 t/yr without the measure. The measure triples
    A's price, which chokes A's use to 0; B's price is unchanged. With the counterfactual's use
    as weights the outside-China price doubles ((300 x 10 + 100 x 10) / 20 = 200 against 100);
    weighting by the scenario's own use would drop A and show no change at all."""
    from types import SimpleNamespace

    from reesim.impacts.compare import price_table

    def run(price_a: float, use_a: float):
        prices = pd.DataFrame(
            {
                "period": "2026",
                "year": 2026,
                "commodity": "oxide:Dy",
                "region": ["CHN", "A", "B"],
                "usd_per_kg": [50.0, price_a, 100.0],
                "determined": True,
            }
        )
        production = pd.DataFrame(
            {
                "period": "2026",
                "year": 2026,
                "region": ["CHN"],
                "process": ["sep"],
                "kind": ["separation"],
                "commodity": ["oxide:Dy"],
                "tonnes": [20.0],
                "tonnes_per_year": [10.0 + use_a],
            }
        )
        trade = pd.DataFrame(
            {
                "period": "2026",
                "year": 2026,
                "commodity": "oxide:Dy",
                "exporter": ["CHN", "CHN"],
                "importer": ["A", "B"],
                "tonnes": [use_a, 10.0],
                "tonnes_per_year": [use_a, 10.0],
            }
        )
        return SimpleNamespace(prices=prices, production=production, trade=trade)

    t = price_table(run(300.0, 0.0), run(100.0, 10.0)).set_index("market")
    assert t.loc["outside China", "usd_per_kg"] == pytest.approx(200.0)
    assert t.loc["outside China", "change_pct"] == pytest.approx(100.0)
    assert t.loc["inside China", "change_pct"] == pytest.approx(0.0)

    # The same with Result objects, whose derived tables are memoised per pair: a caller that
    # modifies the table it got does not change the next caller's, and another counterfactual
    # gets its own table.
    from reesim.simulate.result import Result

    def result(price_a: float, use_a: float) -> Result:
        ns = run(price_a, use_a)
        return Result("r", {}, {"prices": ns.prices, "production": ns.production, "trade": ns.trade})

    scen, cf_a, cf_b = result(300.0, 0.0), result(100.0, 10.0), result(150.0, 10.0)
    first = price_table(scen, cf_a)
    first["change_pct"] = -1.0
    again = price_table(scen, cf_a).set_index("market")
    assert again.loc["outside China", "change_pct"] == pytest.approx(100.0)
    other = price_table(scen, cf_b).set_index("market")
    assert other.loc["outside China", "usd_per_kg_cf"] == pytest.approx(125.0)
    assert other.loc["outside China", "change_pct"] == pytest.approx(60.0)

    # A price its own solution leaves open (determined false) is not shown: that run's column
    # is empty and the change too; the other run's determined price stays.
    loose = result(300.0, 0.0)
    loose._tables["prices"].loc[loose._tables["prices"]["region"] == "CHN", "determined"] = False
    t = price_table(loose, cf_a).set_index("market")
    assert pd.isna(t.loc["inside China", "usd_per_kg"]) and pd.isna(t.loc["inside China", "change_pct"])
    assert t.loc["inside China", "usd_per_kg_cf"] == pytest.approx(50.0)
    assert not t.loc["inside China", "determined"] and t.loc["outside China", "determined"]


def test_units_at_risk_by_hand():
    """U.S. magnet users short by 90 t and defense by 10 t, Japan short by 50 t, China buying 20 t
    MORE than without the measures: an EV traction motor of 1.43-2.0 kg stands for the 90 t of the
    U.S. magnet users (45,000-62,937 units) and an F-35 of 8-20 kg for the 10 t of defense
    (500-1,250); outside China nets 140 t of magnet users, the world 120 t (China's extra use
    offsets), and other uses never count."""
    from reesim.impacts.downstream import peak_units, units_table

    shortages = pd.DataFrame(
        {
            "period": "2025",
            "year": 2025,
            "region": ["USA", "USA", "JPN", "CHN", "USA"],
            "sector": ["magnet users", "defense", "magnet users", "magnet users", "other uses"],
            "tonnes": [910.0, 90.0, 450.0, 1020.0, 1.0],
            "tonnes_cf": [1000.0, 100.0, 500.0, 1000.0, 1000.0],
        }
    )
    content = pd.DataFrame(
        {
            "product": ["motor", "motor", "jet", "battery"],
            "per": ["motor", "motor", "aircraft", "car"],
            "sector": ["magnet users", "magnet users", "defense", "magnet users"],
            "commodity": ["magnet:ndfeb", "magnet:ndfeb", "magnet:ndfeb", "oxide:La"],
            "kg_low": [1.43, 2.0, 8.0, 10.0],
            "kg_high": [1.43, 2.0, 20.0, 10.0],
            "source_id": ["a", "b", "c", "d"],
        }
    )
    u = units_table(shortages, content).set_index(["scope", "product"])
    assert set(u.index.get_level_values("product")) == {"motor", "jet"}  # only NdFeB intensities
    assert u.loc[("USA", "motor"), "shortage_tonnes"] == pytest.approx(90.0)
    assert u.loc[("USA", "motor"), "units_low"] == pytest.approx(45_000.0)
    assert u.loc[("USA", "motor"), "units_high"] == pytest.approx(90_000 / 1.43)
    assert u.loc[("USA", "jet"), "units_low"] == pytest.approx(500.0)
    assert u.loc[("USA", "jet"), "units_high"] == pytest.approx(1_250.0)
    assert u.loc[("outside China", "motor"), "shortage_tonnes"] == pytest.approx(140.0)
    assert u.loc[("world", "motor"), "shortage_tonnes"] == pytest.approx(120.0)
    assert ("CHN", "motor") not in u.index  # China buys more: no shortfall there
    peak = peak_units(u.reset_index(), "USA")
    assert peak["period"] == "2025" and peak["shortage_tonnes"] == pytest.approx(100.0)
    assert {p["product"]: p["source_ids"] for p in peak["products"]} == {"motor": "a,b", "jet": "c"}


def test_price_table_of_a_few_goods_has_the_full_tables_rows_for_them():
    """An ensemble member asks for the prices of a few goods only; each good's rows, the
    outside-China average included (weighted by that good's own use), must be those of the
    full table, bit for bit, on a run whose licences move the weights."""
    from reesim.impacts.compare import price_table, product_commodities
    from reesim.pipeline import run_pair
    from reesim.scenario.load import load_scenario

    sc = load_scenario("china-2025-licensing")
    sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2027})})
    res, cf, _ = run_pair(sc)
    goods = {"oxide:Dy", "oxide:Nd", "magnet:ndfeb"} | product_commodities()
    full = price_table(res, cf)
    few = price_table(res, cf, goods)
    assert set(few["commodity"]) == goods
    expected = full[full["commodity"].isin(list(goods))].reset_index(drop=True)
    pd.testing.assert_frame_equal(few, expected, check_exact=True)
    assert {"inside China", "outside China", "Europe"} <= set(few["market"])


def test_capacity_outside_china_names_the_region_that_moved_most():
    """Capacity outside China at the horizon, by stage, with the region whose capacity moved most
    (by hand): China's own capacity is left out, earlier periods do not count, and a stage where
    nothing moved names no change."""
    from reesim.simulate.headline import capacity_outside
    from reesim.simulate.result import Result

    def run(rows):
        cap = pd.DataFrame(rows, columns=["period", "year", "region", "process", "kind", "tonnes_per_year"])
        return Result("r", {}, {"capacity": cap.assign(rent_usd_per_kg=0.0)})

    base = [
        ("2039", 2039, "AUS", "m1", "mining", 9_000.0),
        ("2040", 2040, "AUS", "m1", "mining", 10_000.0),
        ("2040", 2040, "MMR", "m2", "mining", 6_000.0),
        ("2040", 2040, "CHN", "m3", "mining", 50_000.0),
        ("2040", 2040, "USA", "s1", "capacity", 2_000.0),
    ]
    moved = [
        ("2039", 2039, "AUS", "m1", "mining", 1.0),
        ("2040", 2040, "AUS", "m1", "mining", 10_500.0),  # +500
        ("2040", 2040, "MMR", "m2", "mining", 1_000.0),  # -5,000: the largest
        ("2040", 2040, "CHN", "m3", "mining", 90_000.0),  # China's own: not outside China
        ("2040", 2040, "USA", "s1", "capacity", 2_000.0),
    ]
    t = capacity_outside(run(moved), run(base)).set_index("stage")
    mining = t.loc["mining"]
    assert mining["scenario"] == 11_500.0 and mining["counterfactual"] == 16_000.0
    assert mining["change_pct"] == pytest.approx(100 * (11_500 / 16_000 - 1))
    assert mining["largest_region"] == "MMR" and mining["largest_change_tonnes_per_year"] == -5_000.0
    assert t.loc["separation", "largest_change_tonnes_per_year"] == 0.0


def test_near_choke_reports_each_use_at_its_highest_share_of_the_choke_price():
    """By hand: a use is reported in the period where its price is the largest share of its
    choke price (the intercept of its demand line), from 80 %; stockpile purchases, uses below
    the threshold and uses that buy nothing (whose price is undetermined above the choke) are not; the counterfactual's tonnes of that period come with it; a
    run folder without the column (written before the column existed) reports nothing."""
    from reesim.simulate.headline import near_choke
    from reesim.simulate.result import Result

    cols = [
        "period",
        "year",
        "region",
        "sector",
        "commodity",
        "tonnes_per_year",
        "usd_per_kg",
        "choke_usd_per_kg",
    ]

    def run(rows):
        return Result("r", {}, {"consumption": pd.DataFrame(rows, columns=cols)})

    res = run(
        [
            ("2025", 2025, "EU", "other uses", "oxide:Dy", 8.0, 600.0, 750.0),  # 80 %
            ("2026", 2026, "EU", "other uses", "oxide:Dy", 2.0, 720.0, 750.0),  # 96 %: the peak
            ("2026", 2026, "JPN", "other uses", "oxide:Tb", 10.0, 1_500.0, 2_400.0),  # 62.5 %: below
            ("2026", 2026, "EU", "stockpile", "oxide:Dy", 1.0, 749.0, 750.0),  # a purchase rule, not a use
            ("2026", 2026, "USA", "other uses", "oxide:Sm", 0.0, 9e4, 8.0),  # priced out: no price paid
            (
                "2026",
                2026,
                "KOR",
                "other uses",
                "oxide:Dy",
                3e-16,
                1_300.0,
                750.0,
            ),  # solver noise: none bought
        ]
    )
    cf = run(
        [
            ("2025", 2025, "EU", "other uses", "oxide:Dy", 20.0, 260.0, 750.0),
            ("2026", 2026, "EU", "other uses", "oxide:Dy", 21.0, 280.0, 750.0),
        ]
    )
    t = near_choke(res, cf)
    assert len(t) == 1
    row = t.iloc[0]
    assert (row["commodity"], row["region"], row["sector"], row["period"]) == (
        "oxide:Dy",
        "EU",
        "other uses",
        "2026",
    )
    assert row["share_of_choke"] == pytest.approx(720 / 750)
    assert (row["tonnes_per_year"], row["tonnes_per_year_cf"]) == (2.0, 21.0)
    assert near_choke(res, cf, threshold=0.5)["commodity"].tolist() == ["oxide:Dy", "oxide:Tb"]
    old = Result("r", {}, {"consumption": res.consumption.drop(columns="choke_usd_per_kg")})
    assert near_choke(old, cf).empty


def test_reesim_run_prints_the_uses_near_their_choke_price(monkeypatch):
    """One line per good (highest share first, at most four, the rest counted), then the
    reason once; nothing when no use is near its choke price."""
    import io

    from rich.console import Console

    import reesim.cli.run as cli_run

    buf = io.StringIO()
    monkeypatch.setattr(cli_run, "out", Console(file=buf, width=400))
    rows = [
        {
            "commodity": f"oxide:{e}",
            "region": r,
            "sector": "other uses",
            "period": "2026",
            "usd_per_kg": p,
            "choke_usd_per_kg": 772.5,
            "share_of_choke": p / 772.5,
            "tonnes_per_year": 1.0,
            "tonnes_per_year_cf": 10.0,
        }
        for e, r, p in [
            ("Dy", "EU", 725.0),
            ("Dy", "USA", 722.0),
            ("Tb", "EU", 700.0),
            ("Y", "EU", 690.0),
            ("Gd", "EU", 680.0),
            ("Lu", "EU", 670.0),
        ]
    ]
    cli_run._print_near_choke(rows)
    text = buf.getvalue()
    assert (
        "oxide:Dy for other uses in EU, USA: 93-94 % of its demand's choke price in 2026 (722-725 of 772 USD/kg), "
        "buying 2.0 t/yr against 20.0 without the measures." in text
    )
    assert "oxide:Gd for" in text and "oxide:Lu for" not in text and "... and 1 more (" in text
    assert text.count("caps its price at (1 + 1/elasticity)") == 1
    buf.truncate(0)
    cli_run._print_near_choke([])
    assert buf.getvalue() == ""


def test_the_product_cost_peak_is_the_range_that_reaches_farthest_from_zero():
    """A fall of 1.3-1.5 thousand USD/MW in one year beats a rise of 1.1-1.3 in another: the peak is
    the period whose range reaches farthest from zero at either end (by the high end alone the
    rise was shown)."""
    from reesim.impacts.compare import Impacts, impact_headline

    costs = pd.DataFrame(
        {
            "product": ["Turbine"] * 3,
            "per": ["MW"] * 3,
            "market": ["inside China"] * 3,
            "period": ["2028", "2040", "2041"],
            "year": [2028, 2040, 2041],
            "determined": [True, True, False],
            "change_usd_low": [-1479.7, 1102.8, 9e9],
            "change_usd_high": [-1322.9, 1323.6, 9e9],  # an undetermined period is never the peak
            "source_ids": ["s"] * 3,
        }
    )
    empty = {
        "welfare_discounted": pd.DataFrame(columns=["region", "component", "pv_usd_million"]),
        "jobs": pd.DataFrame(columns=["sector", "jobs_exposed_high"]),
        "units_at_risk": pd.DataFrame(columns=["scope", "period", "shortage_tonnes", "sector"]),
    }
    head = impact_headline(Impacts("a", "b", 0.03, {**empty, "product_costs": costs}))
    (peak,) = head["product_cost_peaks"]
    assert (peak["period"], peak["change_usd_low"], peak["change_usd_high"]) == ("2028", -1479.7, -1322.9)
