"""Heavy-RE thrifting in magnet making (lean grades: grain-boundary diffusion, heavy-RE-free).

* Structure: every magnet-making region takes one heavy-RE dose per kg of magnet, from the
  reference recipe or from a lean grade with ``1 - saving`` of its Dy and Tb; the element
  content of a magnet (what licences bind on) is the reference recipe's.
* Revealed preference: nobody thrifts at the reference point (2022 and 2024 worlds).
* Cost minimisation (complementary slackness) on every step of the licensing run: a lean
  grade runs only where the heavy rare earths it saves are worth at least its extra cost,
  and sits idle where they are worth less.
* Economics: thrifting makes the derived demand for Dy outside China more elastic, so the
  licence's Dy premium is smaller with it than without it.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from reesim.scenario.load import load_scenario
from reesim.simulate import simulate
from reesim.solve.equilibrium import solve_equilibrium
from reesim.world.content import element_content
from reesim.world.default import build_default_world, load_config, load_default_world
from reesim.world.world import HEAVY_DOSE_SERVICE

A = load_config()["assumptions"]
SAVE = A["hre_thrift_saving"]["value"]


def _io(world, pid: str) -> dict[str, float]:
    io = world.io[world.io["process"] == pid]
    return dict(zip(io["commodity"], io["coef"].astype(float), strict=True))


def test_every_magnet_region_has_a_recipe_dose_and_a_lean_grade():
    w = load_default_world()
    p = w.processes
    regions = p.loc[p["kind"] == "magnet", "region"].tolist()
    assert len(regions) >= 4
    for r in regions:
        magnet, dose, lean = _io(w, f"magnet:{r}"), _io(w, f"hre-dose:{r}"), _io(w, f"hre-lean:{r}")
        assert magnet[HEAVY_DOSE_SERVICE] == -1.0 and "metal:Dy" not in magnet
        assert dose[HEAVY_DOSE_SERVICE] == 1.0 and lean[HEAVY_DOSE_SERVICE] == 1.0
        for e in ("metal:Dy", "metal:Tb"):
            assert lean[e] == pytest.approx((1.0 - SAVE) * dose[e])
        row = p[p["process"] == f"hre-lean:{r}"].iloc[0]
        assert row["kind"] == "thrift" and 0 < row["capacity"] < np.inf
    # A magnet's element content (what a licence on magnets binds on) is the reference recipe's.
    c = element_content(w)
    dy = c[(c["commodity"] == "magnet:ndfeb") & (c["element"] == "Dy")]["reo_per_unit"].item()
    k_dy = 2 * (162.5 + 1.5 * 15.999) / (2 * 162.5)
    assert dy == pytest.approx(-_io(w, "hre-dose:CHN")["metal:Dy"] * k_dy, rel=1e-3)


@pytest.mark.parametrize("year", [2022, 2024])
def test_nobody_thrifts_at_the_reference_point(year):
    w = build_default_world(year)
    sol = solve_equilibrium(w)
    act = sol.production.set_index("process")["activity"]
    lean = [pid for pid in w.processes["process"] if pid.startswith("hre-lean:")]
    assert lean and float(act[lean].abs().max()) < 1e-6


@functools.cache
def _licensing(capacity_share: float | None = None, lynas: bool = True):
    """The flagship and its baseline; ``lynas=False`` leaves out the baseline's Lynas circuit."""
    sc = load_scenario("china-2025-licensing")
    if not lynas:
        keep = [i for i in sc.instruments if i.name != "lynas-malaysia-dy-tb-circuit"]
        sc = sc.model_copy(update={"instruments": keep})
    if capacity_share is not None:
        world = sc.world.model_copy(
            update={"assumptions": {**sc.world.assumptions, "hre_thrift_capacity_share": capacity_share}}
        )
        sc = sc.model_copy(update={"world": world})
    cf_sc = load_scenario("baseline").model_copy(update={"horizon": sc.horizon, "world": sc.world})
    if not lynas:
        cf_sc = cf_sc.model_copy(
            update={"instruments": [i for i in cf_sc.instruments if i.type != "capacity_project"]}
        )
    return sc, simulate(sc, counterfactual=simulate(cf_sc))


def test_lean_grades_run_only_where_the_saving_pays_every_step():
    """Complementary slackness of every lean grade in every step of the licensing run.

    With ``q`` its output, ``K`` its capacity that step, ``r`` the capacity's shadow rent and
    ``MC(q) = a + b K0/K q`` (the cost line spread over current capacity): idle means the first
    kg would not pay (``a >= saving``); running, the saving covers marginal cost plus the rent
    (zero inside capacity), with equality while the reference recipe also runs in the region
    (both make the same dose, so their costs are equal at the margin).
    """
    _sc, res = _licensing()
    w = load_default_world()
    procs = w.processes.set_index("process")
    prod = res.production
    lean = prod[prod["kind"] == "thrift"]
    cap = res.capacity.set_index(["period", "process"])
    ref_dose = prod[prod["kind"] == "dose"].set_index(["period", "region"])["tonnes_per_year"]
    prices = res.prices.set_index(["period", "commodity", "region"])["usd_per_kg"]
    ran_outside = inside = 0
    for row in lean.itertuples(index=False):
        q = row.tonnes_per_year / 1000.0  # kt/yr
        pr = procs.loc[row.process]
        k = cap.loc[(row.period, row.process), "tonnes_per_year"] / 1000.0
        rent = cap.loc[(row.period, row.process), "rent_usd_per_kg"]
        dose = _io(w, f"hre-dose:{row.region}")
        heavy = sum(
            -dose[f"metal:{e}"] * prices.get((row.period, f"metal:{e}", row.region), 0.0)
            for e in ("Dy", "Tb")
        )
        saving = SAVE * heavy  # USD per kg magnet
        mc = pr["mc_intercept"] + pr["mc_slope"] * pr["capacity"] / k * q
        tol = 1e-3 * max(1.0, saving)
        if q > 1e-6:
            ran_outside += row.region != "CHN"
            if q < k * (1 - 1e-6):
                assert rent == pytest.approx(0.0, abs=tol)
            if ref_dose.get((row.period, row.region), 0.0) > 1e-3:  # both run: equal at the margin
                assert saving == pytest.approx(mc + rent, abs=tol), (row.period, row.region)
                inside += q < k * (1 - 1e-6)
            else:  # only lean doses: the reference recipe would cost more
                assert saving >= mc + rent - tol, (row.period, row.region)
        else:
            assert pr["mc_intercept"] >= saving - tol, (row.period, row.region)  # idle: it would not pay
    assert ran_outside > 0  # the licence makes Dy dear enough outside China to thrift
    assert inside > 0  # the equality is tested, not only the inequalities
    # The dose's price is the reference recipe's cost where the recipe runs and never above it:
    # a product's heavy-RE cost at the margin is the recipe at metal prices (what product costs use).
    dose_price = prices.xs("service:hre_dose", level="commodity")
    for (period, region), q_ref in ref_dose.items():
        recipe = sum(
            -v * prices.get((period, c, region), 0.0)
            for c, v in _io(w, f"hre-dose:{region}").items()
            if v < 0
        )
        tol = 1e-3 * max(1.0, recipe)
        assert dose_price[(period, region)] <= recipe + tol, (period, region)
        if q_ref > 1e-3:
            assert dose_price[(period, region)] == pytest.approx(recipe, abs=tol), (period, region)


def test_thrifting_shrinks_the_dy_premium_outside_china():
    _, with_thrift = _licensing()
    _, without = _licensing(0.0)

    def dy(res, region, year):
        p = res.prices
        p = p[(p["commodity"] == "oxide:Dy") & (p["region"] == region) & (p["year"] == year)]
        return float(p["usd_per_kg"].mean())

    for region in ("EU", "JPN", "USA"):
        assert dy(with_thrift, region, 2026) < 0.9 * dy(without, region, 2026), region
    # Lean capacity is built outside China while Dy is dear there (the adoption lag's investment);
    # without the baseline's Lynas circuit, which cheapens Dy outside China from 2026.
    _, bare = _licensing(lynas=False)
    cap = bare.production
    lean = cap[(cap["kind"] == "thrift") & (cap["region"] != "CHN")]
    by_year = lean.groupby("year")["tonnes_per_year"].sum()
    assert by_year.loc[2029] > by_year.loc[2025] > 0
    assert isinstance(by_year, pd.Series)


def test_dy_per_magnet_headline_matches_the_recipes_in_the_world():
    from reesim.simulate.headline import heavy_re_per_magnet

    sc, res = _licensing()
    cf_sc = load_scenario("baseline").model_copy(update={"horizon": sc.horizon, "world": sc.world})
    cf = simulate(cf_sc)
    table = heavy_re_per_magnet(res, cf)
    w = load_default_world()
    io = w.io[w.io["commodity"] == "metal:Dy"].set_index("process")["coef"].astype(float)
    prod = res.production
    doses = prod[prod["kind"].isin(["dose", "thrift"]) & (prod["region"] != "CHN") & (prod["year"] == 2026)]
    dy = float((doses["tonnes"] * -doses["process"].map(io)).sum())  # t Dy metal
    expected = 1000 * dy / float(doses["tonnes"].sum())  # kg per t magnet
    row = table[(table["year"] == 2026) & (table["scope"] == "outside China") & (table["path"] == "scenario")]
    assert row["dy_kg_per_t"].item() == pytest.approx(expected, rel=1e-9)
    # Thrifting happens because of the licence: less Dy per magnet than without it.
    cfrow = table[
        (table["year"] == 2026) & (table["scope"] == "outside China") & (table["path"] == "counterfactual")
    ]
    assert row["dy_kg_per_t"].item() < cfrow["dy_kg_per_t"].item()
    assert 0 < row["lean_share"].item() <= 1
