"""The default world: built from the dataset, solved, and checked against the reference year's data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reesim.errors import InputError
from reesim.model.qp import build_qp, update_qp
from reesim.solve.backends import PiqpBackend
from reesim.solve.equilibrium import solve_equilibrium
from reesim.solve.guards import GuardError, check
from reesim.world.default import load_default_world

#: Tolerances of the reference-year check (stated in the README).
MINE_SHARE_TOL_PP = 1.0
OXIDE_PRICE_TOL = 0.05


@pytest.fixture(scope="module")
def world():
    return load_default_world(2024)


@pytest.fixture(scope="module")
def solution(world):
    return solve_equilibrium(world)


def test_sizes(world):
    assert len(world.regions) == 16
    oxides = [c for c in world.commodities if c.startswith("oxide:")]
    ores = [
        c for c in world.commodities if c.startswith("concentrate:") and not c.startswith("concentrate:hree_")
    ]
    mixed = [c for c in world.commodities if c.startswith("concentrate:hree_")]
    assert len(oxides) == 14 and len(ores) == 7 and len(mixed) == 7  # every ore carries some heavy REE
    # every rare earth with a FOB China price is its own oxide; Tm (no price) and Sc are left out
    assert {f"oxide:{e}" for e in ("Ho", "Er", "Yb", "Lu")} <= set(oxides)
    assert not {"oxide:Tm", "oxide:Sc", "oxide:HREE_other"} & set(oxides)
    assert set(world.meta["elements"]["unmodelled"]) == {"Tm", "Sc", "Pm"}
    assert {"magnet:ndfeb", "metal:Nd", "metal:Pr", "metal:Dy", "metal:Tb"} <= set(world.commodities)


def test_maps_without_tables_equal_the_tables(solution):
    """The solution's shipments and consumption maps (read by the run's start without building the
    labelled tables) hold the same figures as its trade and consumption tables."""
    t = solution.trade
    assert solution.shipments == {
        (o, c, d): f for o, c, d, f in zip(t["origin"], t["commodity"], t["dest"], t["flow"], strict=True)
    }
    assert len(solution.shipments) > 50
    cons = solution.consumption.groupby(["commodity", "region"])["quantity"].sum()
    assert solution.consumption_map == pytest.approx(cons.to_dict(), rel=1e-12, abs=1e-12)


def test_left_out_thulium_is_recorded_in_each_ore_composition(world, ds):
    """Tm is dropped before normalising: the provenance of an ore that has Tm says how much."""
    prov = world.provenance.set_index("parameter")["source"]
    assert "left out of the modelled basket: Tm 0.13 %" in prov["composition[iac_low_y]"]
    comp = ds.table("deposit_composition", deposit="Xunwu, Jiangxi Province")
    assert float(comp.loc[comp["element"] == "Tm", "pct_of_treo"].iloc[0]) == 0.13


def test_every_parameter_has_a_source(world, ds):
    prov = world.provenance
    assert len(prov) > 100
    assert prov["source"].str.match(r"^(data|assumption|derived|DERIVED)").all()
    known = set(ds.table("sources")["source_id"])
    cited = {
        s
        for text in prov.loc[prov["source"].str.startswith("data:"), "source"]
        for s in text.split("; caveat: ")[0].split("source ")[1].split(",")
    }
    assert cited and cited <= known
    # A caveat follows the ids: the U.S. magnet imports say what HTS 8505's kilograms cover.
    usa = prov.loc[prov["parameter"] == "magnet_exports[CHN->USA]", "source"].iloc[0]
    assert "; caveat: HTS 8505 is all magnets" in usa and "million USD reported in kg" in usa
    # Every assumption states its basis.
    assumptions = prov[prov["source"].str.startswith("assumption")]
    assert (assumptions["source"].str.len() > len("assumption: ") + 10).all()


def test_reference_mine_shares_match_usgs(world, solution, ds):
    mine = solution.production.query("kind == 'mining'").groupby("region")["activity"].sum()
    model = 100 * mine / mine.sum()
    data = pd.Series(world.meta["reference"]["mine_production_kt"])
    data = 100 * data / data.sum()
    assert (model - data).abs().max() < MINE_SHARE_TOL_PP
    # China's share of USGS mine production 2024 (270,000 of the country rows' 383,000 t).
    assert model["CHN"] == pytest.approx(100 * 270 / 383, abs=MINE_SHARE_TOL_PP)


def test_reference_oxide_prices_match_mcs(world, solution):
    ref = world.meta["reference"]["oxide_price_usd_per_kg"]
    chn = solution.prices.query("region == 'CHN'").set_index("commodity")["usd_per_kg"]
    for element, price in ref.items():
        assert chn[f"oxide:{element}"] == pytest.approx(price, rel=OXIDE_PRICE_TOL), element
    assert chn["magnet:ndfeb"] == pytest.approx(
        world.meta["reference"]["magnet_price_usd_per_kg"], rel=OXIDE_PRICE_TOL
    )


def test_piqp_and_clarabel_agree(world, solution):
    ref = solve_equilibrium(world, backend="clarabel")
    a = solution.prices.set_index(["commodity", "region"])
    b = ref.prices.set_index(["commodity", "region"])
    det = a["determined"]
    rel = (a["usd_per_kg"] - b["usd_per_kg"]).abs() / a["usd_per_kg"].abs().clip(lower=1.0)
    # 5e-5: the calibrated route slopes span six orders of magnitude (kt-scale oxides to
    # t-scale heavy mixes); both solvers stop within their tolerances of the same point
    assert rel[det].max() < 5e-5


def test_more_magnet_demand_raises_ndpr_and_pushes_la_ce_down(world, solution):
    """The balance problem: magnet demand drives mining; La and Ce are co-products."""
    more = world.with_scaled_demand(1.5, commodity="magnet:ndfeb")
    s = solve_equilibrium(more)

    def price(sol, com):
        return sol.price(com, "CHN")

    assert price(s, "oxide:Nd") > 1.2 * price(solution, "oxide:Nd")
    assert price(s, "oxide:Ce") < price(solution, "oxide:Ce")
    assert price(s, "oxide:La") < price(solution, "oxide:La")
    mined = s.production.query("kind == 'mining'")["activity"].sum()
    assert mined > solution.production.query("kind == 'mining'")["activity"].sum()


def test_every_reference_year_builds_and_solves():
    for year in (2021, 2022, 2023, 2024, 2025):
        s = solve_equilibrium(load_default_world(year))
        assert s.guards.worst < 1e-6
        assert s.price("oxide:Tb", "CHN") > 100


def test_bad_reference_year_names_the_allowed_years():
    with pytest.raises(InputError, match="allowed: 2021, 2022, 2023, 2024, 2025"):
        load_default_world(2019)


def test_solution_is_separate_from_inputs(world, solution):
    before = world.demands.copy()
    prices = solution.prices
    prices["usd_per_kg"] = 0.0
    assert solution.prices["usd_per_kg"].max() > 100
    pd.testing.assert_frame_equal(world.demands, before)
    with pytest.raises(ValueError):
        solution.raw.row_dual[0] = 1.0


def test_in_place_update_matches_a_fresh_build(world):
    backend = PiqpBackend()
    qp = build_qp(world)
    first = solve_equilibrium(world, backend=backend, qp=qp)
    scaled = world.with_scaled_demand(1.2)
    qp2 = update_qp(qp, scaled)  # same structure and matrix, new data
    assert qp2.G is qp.G
    updated = solve_equilibrium(scaled, backend=backend, qp=qp2)
    fresh = solve_equilibrium(scaled, backend=PiqpBackend())
    a = updated.prices.set_index(["commodity", "region"])["usd_per_kg"]
    b = fresh.prices.set_index(["commodity", "region"])["usd_per_kg"]
    assert ((a - b).abs() / b.abs().clip(lower=1)).max() < 1e-6
    assert (a != first.prices.set_index(["commodity", "region"])["usd_per_kg"]).any()


def test_guard_names_the_worst_violation(world):
    qp = build_qp(world)
    raw = PiqpBackend().solve(qp)
    check(world, qp, raw)  # passes
    y = raw.row_dual.copy()
    nd = int(np.flatnonzero((qp.nodes["commodity"] == "oxide:Nd") & (qp.nodes["region"] == "JPN"))[0])
    y[nd] += 5.0  # Japan's Nd price 5 USD/kg too high: arbitrage and demand conditions break
    with pytest.raises(GuardError, match=r"equilibrium guard failed at .*(oxide:Nd|JPN)"):
        check(world, qp, replace(raw, row_dual=y))


def test_update_qp_refuses_a_different_structure(world):
    qp = build_qp(world)
    smaller = world.replace(demands=world.demands.iloc[:-1])
    with pytest.raises(ValueError, match="structure differs"):
        update_qp(qp, smaller)


def test_piqp_failure_falls_back_to_clarabel(world, monkeypatch):
    from reesim.solve import backends

    def fail(self, qp):
        raise backends.SolverError("PIQP: PIQP_MAX_ITER_REACHED")

    monkeypatch.setattr(backends.PiqpBackend, "solve", fail)
    with pytest.warns(RuntimeWarning, match="PIQP failed .* solved with Clarabel"):
        s = solve_equilibrium(world)
    assert s.solver.startswith("clarabel (fallback after PIQP: PIQP_MAX_ITER_REACHED")
    assert s.guards.worst < 1e-6


def test_piqp_sets_up_afresh_when_an_update_stalls(world, monkeypatch):
    """A solve through PIQP's update path that stalls (first attempt and retry) is set up afresh
    once before the step falls back to Clarabel: the same QP then solves as on its first setup."""
    import piqp

    from reesim.solve import backends

    real = piqp.SparseSolver

    class StallsAfterUpdate:
        setups = 0

        def __init__(self):
            self._s, self._updated = real(), False

        @property
        def settings(self):
            return self._s.settings

        @property
        def result(self):
            return self._s.result

        def setup(self, *args):
            StallsAfterUpdate.setups += 1
            self._updated = False
            return self._s.setup(*args)

        def update(self, **kwargs):
            self._updated = True
            return self._s.update(**kwargs)

        def solve(self):
            return piqp.PIQP_MAX_ITER_REACHED if self._updated else self._s.solve()

    monkeypatch.setattr(piqp, "SparseSolver", StallsAfterUpdate)
    qp = build_qp(world)
    backend = backends.PiqpBackend()
    first = backend.solve(qp)
    again = backend.solve(qp)  # an update (same structure), which stalls; then a fresh setup
    assert StallsAfterUpdate.setups == 2 and again.status == "solved" and again.solver == "piqp"
    assert np.array_equal(first.x, again.x)


@pytest.mark.parametrize("year", [2022, 2024])
def test_a_world_built_from_kept_readings_equals_one_read_afresh(ds, year):
    """Stage 1 and the readings no assumption enters (separation outside China, the producers'
    reported cash costs, China's magnet exports) are kept per dataset object (default_data.replayed). Kept while building
    a world of other assumptions (headroom, cost shares, elasticities), they must give a world
    equal, table for table and provenance row for row, to the same world built after they are
    dropped: a kept reading that an assumption did enter would differ."""
    from reesim.memo import memo_of
    from reesim.world.default import build_default_world

    a = {"mining_headroom": 0.1, "processing_headroom": 0.1, "separation_cost_share": 0.2}
    b = {
        "mining_headroom": 0.45,
        "processing_headroom": 0.4,
        "separation_cost_share": 0.6,
        "cash_cost_share_ex_china": 0.7,
        "demand_elasticity_oxide": 0.31,
    }
    build_default_world(year, ds, a)  # the readings are kept now, under assumptions a
    kept = build_default_world(year, ds, b)
    memo = memo_of(ds)
    dropped = [k for k in memo if isinstance(k, tuple) and k[0] in ("replayed", "world stage 1")]
    assert any(k[0] == "replayed" for k in dropped) and any(k[0] == "world stage 1" for k in dropped)
    for k in dropped:
        del memo[k]
    afresh = build_default_world(year, ds, b)
    for table in ("processes", "io", "demands", "edges", "provenance"):
        pd.testing.assert_frame_equal(getattr(kept, table), getattr(afresh, table), check_exact=True)
    assert kept.meta["reference"] == afresh.meta["reference"]
    assert not kept.processes["capacity"].equals(build_default_world(year, ds, a).processes["capacity"])


def test_a_replayed_reading_is_made_once_and_handed_out_as_a_copy(ds):
    from reesim.world.default_data import _Recorder, replayed

    calls = []

    def reading(rec):
        calls.append(1)
        rec.derived("x", 2.0, "kt", "test")
        return {"a": [1.0]}

    first, second = _Recorder(), _Recorder()
    second.derived("before", 1.0, "kt", "test")
    v1 = replayed(ds, ("test reading", 0), first, reading)
    v1["a"].append(99.0)  # a caller's change stays its own
    v2 = replayed(ds, ("test reading", 0), second, reading)
    assert calls == [1] and v2 == {"a": [1.0]}
    assert [r[0] for r in first.rows] == ["x"] and [r[0] for r in second.rows] == ["before", "x"]
