"""Supply on cash-cost curves, private stocks (competitive storage) and the simulation's phases.

* A mine on a cash-cost curve runs at capacity while the price covers its cash cost and shuts
  in below it (hand-computed toy); the default world's base tranches reproduce the reference
  output and no base tranche outside China is idle while its price covers its cash cost.
* Storage: on every step of a monthly licensing run, stocks are never negative and the
  competitive-storage conditions hold (price = value of carrying while stocks are positive,
  price >= value of the first unit when they are zero); stocks outside China are drawn down
  in the licence's first months and rebuilt later.
* Each phase of the simulation can be called alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from reesim.instruments import trade as trade_mod
from reesim.scenario.load import load_scenario
from reesim.simulate import stepper, storage
from reesim.simulate.scenario_world import scenario_world
from reesim.simulate.steps import make_steps
from reesim.solve.equilibrium import solve_equilibrium
from reesim.world.default import _Parts, load_default_world
from reesim.world.worldfile import parse_world


def _toy(demand_intercept: float, eta: float = 1.0):
    """One region: a mine on a cash-cost curve (reference 10 kt at 8 USD/kg, cash cost 4,
    spread 0.25, headroom 20 %) and a linear demand ``p = a - 0.5 q``."""
    parts = _Parts(eta=eta)
    parts.add_cash_cost("mine", "A", "mining", 0.2, 8.0, 10.0, {"w": 1.0}, cash=4.0, spread=0.25)
    procs = [
        {"name": pid, "region": r, "kind": k, "io": {"w": 1}, "capacity": cap, "intercept": c, "slope": d}
        for pid, r, k, cap, c, d in parts.procs
    ]
    data = {
        "name": "cash cost toy",
        "quantity_unit": "kt",
        "regions": ["A"],
        "commodities": ["w"],
        "processes": procs,
        "demand": [{"region": "A", "commodity": "w", "intercept": demand_intercept, "slope": 0.5}],
    }
    return parse_world(yaml.safe_dump(data, sort_keys=False), source="toy"), parts


def test_cash_cost_tranches_by_hand():
    world, parts = _toy(13.0)
    assert parts.base_tranches == ["mine"]
    p = dict(zip(world.processes["process"], world.processes.itertuples(), strict=True))
    # base: mc from 0.75 x 4 = 3 to 4 over 10 kt; expansion: 8 + 8/(1 x 10) x over 2 kt
    assert p["mine"].mc_intercept == pytest.approx(3.0) and p["mine"].mc_slope == pytest.approx(0.1)
    assert p["mine"].capacity == pytest.approx(10.0)
    assert p["mine:expansion"].mc_intercept == pytest.approx(8.0)
    assert p["mine:expansion"].mc_slope == pytest.approx(0.8)
    assert p["mine:expansion"].capacity == pytest.approx(2.0)
    # Demand 13 - 0.5 q crosses supply at the reference point: q = 10, p = 8 (expansion idle).
    sol = solve_equilibrium(world)
    assert sol.price_map[("w", "A")] == pytest.approx(8.0, rel=1e-6)
    assert sol.activity.sum() == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize(
    ("intercept", "q_hand", "p_hand"),
    [
        # price 25 % below the reference, above the cash cost: output stays at capacity (10 kt)
        (11.0, 10.0, 6.0),
        # 9 - 0.5 x 10 = 4: the price falls to exactly the cash cost, output still 10 kt
        (9.0, 10.0, 4.0),
        # below the cash cost the mine shuts in along its curve: 8 - 0.5 q = 3 + 0.1 q
        (8.0, 5.0 / 0.6, 8.0 - 0.5 * 5.0 / 0.6),
        (4.0, 1.0 / 0.6, 4.0 - 0.5 / 0.6),
        # choke price 2 below the lowest cash cost 3: nothing is mined (the price is anywhere
        # between the choke price and the lowest cash cost: not determined)
        (2.0, 0.0, None),
    ],
)
def test_output_at_capacity_while_price_covers_cash_cost(intercept, q_hand, p_hand):
    world, _ = _toy(intercept)
    sol = solve_equilibrium(world)
    assert float(sol.activity.sum()) == pytest.approx(q_hand, rel=1e-6, abs=1e-6)
    if p_hand is None:
        assert 2.0 - 1e-6 <= sol.price_map[("w", "A")] <= 3.0 + 1e-6
        return
    assert sol.price_map[("w", "A")] == pytest.approx(p_hand, rel=1e-6)
    at_capacity = q_hand >= 10.0 - 1e-9
    assert at_capacity == (p_hand >= 4.0 - 1e-9)  # at capacity exactly when the cash cost is covered


def test_default_world_base_tranches_reproduce_reference():
    world = load_default_world()
    base = set(world.meta["base_tranches"])
    assert base and all(not pid.startswith(("mining:CHN", "separation-capacity:CHN")) for pid in base)
    sol = solve_equilibrium(world)
    p = world.processes.reset_index(drop=True)
    act = pd.Series(sol.activity, index=p["process"])
    cap = pd.Series(p["capacity"].to_numpy(), index=p["process"])
    mines = [pid for pid in base if pid.startswith("mining:")]
    # Every mine outside China runs its base tranche (the reference output) at capacity.
    for pid in mines:
        assert act[pid] == pytest.approx(cap[pid], rel=1e-4), pid
    # Base plus expansion reproduce the reference mine output outside China within 1 %.
    total = sum(act[pid] + act.get(f"{pid}:expansion", 0.0) for pid in mines)
    ref = sum(v for r, v in world.meta["reference"]["mine_production_kt"].items() if r != "CHN")
    assert total == pytest.approx(ref, rel=0.01)


@pytest.mark.parametrize(
    ("year", "cost", "price"),
    [(2022, 1653.0, 11636.0), (2023, 2020.0, 5718.0), (2024, 2020.0, 4717.0)],
)
def test_us_mine_cash_cost_from_mp_reports(year, cost, price):
    """The U.S. mine's cash cost is MP's latest reported cost over its realized price of the
    reference year (the cost held in USD since its last report; 2024 has no reported cost)."""
    world = load_default_world(year)
    prov = world.provenance.set_index("parameter")
    assert prov.loc["cash_cost_share[USA]", "value"] == pytest.approx(cost / price, rel=1e-12)
    assert "mp-materials" in prov.loc["cash_cost_share[USA]", "source"]
    p = world.processes.set_index("process")
    value = prov.loc["concentrate_price[mountain_pass]", "value"]
    base = p.loc["mining:USA:mountain_pass"]
    top = base["mc_intercept"] + base["mc_slope"] * base["capacity"]  # the cash cost at the top
    assert top == pytest.approx(cost / price * value, rel=1e-9)
    # Mines that report nothing take the stated share (0.40) of their value at the price trough
    # (reesim.world.cash_costs): MP's reported share needs no anchor.
    aus = p.loc["mining:AUS:mount_weld"]
    share = world.provenance.query("parameter == 'cash_cost_share_ex_china'")["value"].iloc[0]
    aus_value = prov.loc["concentrate_price[mount_weld]", "value"]
    anchor = prov.loc["cash_cost_anchor[mount_weld]", "value"]
    assert (anchor == 1.0) == (year == 2024)  # 2024 is the trough of the priced years
    assert aus["mc_intercept"] + aus["mc_slope"] * aus["capacity"] == pytest.approx(
        share * anchor * aus_value
    )


def test_us_mine_cash_cost_falls_back_without_a_price_of_the_year():
    """No realized price for the reference year (2021): the stated share applies."""
    world = load_default_world(2021)
    prov = world.provenance
    assert "cash_cost_share[USA]" not in set(prov["parameter"])
    share = prov.query("parameter == 'cash_cost_share_ex_china'")["value"].iloc[0]
    value = prov.set_index("parameter").loc["concentrate_price[mountain_pass]", "value"]
    anchor = prov.set_index("parameter").loc["cash_cost_anchor[mountain_pass]", "value"]
    base = world.processes.set_index("process").loc["mining:USA:mountain_pass"]
    assert base["mc_intercept"] + base["mc_slope"] * base["capacity"] == pytest.approx(share * anchor * value)


@pytest.fixture(scope="module")
def monthly_licensing():
    """The flagship scenario on monthly steps 2025-2026, run phase by phase, with each step's
    private stocks, risk and solution kept for the storage checks."""
    s = load_scenario("china-2025-licensing")
    b = load_scenario("baseline")
    h = s.horizon.model_copy(update={"start": 2025, "end": 2026, "step": "month"})
    s, b = s.model_copy(update={"horizon": h}), b.model_copy(update={"horizon": h})
    cf = stepper.simulate(b)
    run, state = stepper.start_run(s, cf)
    steps = []
    for step in make_steps(s.horizon):
        state = stepper.phase_capacity(run, state, step)
        state = stepper.phase_expectations(run, state, step)
        sol, topups, wt = stepper.phase_clear(run, state, step)
        stepper.phase_record(run, state, step, sol, wt, topups)
        steps.append((step, state.private, (wt.meta["stock_risk"], wt.meta["stock_awaiting"]), sol))
        state = stepper.phase_invest(run, state, step, sol)
        state = stepper.phase_stocks(run, state, step, sol)
        state = stepper.phase_demand(run, state, step, sol)
    return run, steps


def test_storage_arbitrage_conditions_hold_every_step(monthly_licensing):
    run, steps = monthly_licensing
    items = run.items
    assert items is not None and len(items) > 50
    for step, private, (risk, awaiting), sol in steps:
        assert (private.stock >= -1e-9).all()
        q = np.asarray(sol.quantities)[items.dem_pos]
        carry = q * step.dt
        assert (carry >= -1e-7).all(), step.period
        p = np.array([sol.price_map[(c, r)] for r, c in zip(items.region, items.commodity, strict=True)])
        v = items.carry_value(private, risk, carry, step.dt, awaiting)
        # the solver's precision, as for held stocks: a carry below 1e-6 t counts as none, and
        # its price is the value of carrying it to 2e-4 (USA Dy oxide, 2025-11: 1e-6 t, 1.07e-4)
        tol = 2e-4 * np.maximum(1.0, p)
        # A producer that reaches its main buyer carries out exactly the stock it aims at.
        pinned = items.producer & ~risk
        np.testing.assert_allclose(
            carry[pinned], items.step_targets(private, risk, step.dt, awaiting)[pinned], rtol=1e-5, atol=1e-7
        )
        held = (carry > 1e-6) & ~pinned
        # While stocks are positive, today's price equals the value of carrying a unit.
        np.testing.assert_allclose(p[held], v[held], atol=0, rtol=2e-4, err_msg=step.period)
        # At zero stock, today's price is at least the value of the first unit carried.
        v0 = items.carry_value(private, risk, np.zeros_like(carry), step.dt, awaiting)
        free = ~held & ~pinned
        assert (p[free] >= v0[free] - tol[free]).all(), step.period


def test_stocks_outside_china_drawn_down_then_rebuilt(monthly_licensing):
    run, steps = monthly_licensing
    items = run.items
    idx = [
        i
        for i, (r, c) in enumerate(zip(items.region, items.commodity, strict=True))
        if c == "magnet:ndfeb" and r != "CHN"
    ]
    by_period = {step.period: private.stock[idx].sum() for step, private, _, _ in steps}
    before, trough, later = by_period["2025-04"], by_period["2025-06"], by_period["2025-12"]
    assert trough < 0.7 * before  # drawn down in the licence's first months
    assert later > before  # rebuilt, above normal while the licence is a risk
    # Risk is on for magnets outside China while the licence is in force, off before.
    risk_of = {step.period: risk[idx].all() for step, _, (risk, _aw), _ in steps}
    assert not risk_of["2025-03"] and risk_of["2025-06"]


def test_restricted_pairs_name_bans_and_licences_only():
    s = load_scenario("china-2025-licensing")
    world = scenario_world(s)
    import datetime as dt

    pol = trade_mod.step_policies(s, world, dt.date(2025, 6, 15), None, tuple(world.quotas["quota"]))
    assert ("magnet:ndfeb", "EU") in pol["restricted"] and ("oxide:Dy", "JPN") in pol["restricted"]
    assert not any(c == "oxide:La" for c, _ in pol["restricted"])
    pol = trade_mod.step_policies(s, world, dt.date(2024, 6, 15), None, tuple(world.quotas["quota"]))
    assert pol["restricted"] == set()


def test_phase_capacity_alone_retires_and_applies_paths():
    s = load_scenario("baseline")
    run, state = stepper.start_run(s)
    step = make_steps(s.horizon)[0]
    j = run.proc_pos["mining:USA:mountain_pass"]
    cap0 = state.capacity[j]
    after = stepper.phase_capacity(run, state, step)
    rate = s.dynamics.retirement_rate
    assert after.capacity[j] == pytest.approx(cap0 * (1 - rate) ** step.dt)
    assert run.fixed[j]  # a base tranche does not invest
    assert not run.fixed[run.proc_pos["mining:USA:mountain_pass:expansion"]]


def test_private_stocks_off_when_cover_is_zero():
    world = load_default_world(assumptions={"stock_cover_months": 0.0})
    assert storage.StorageParams.of(world) is None
    assert storage.structure(world)["processes"].empty


def test_licensed_origins_name_the_exporters_of_licences_only():
    """Exporters wait for approvals under a licence, not under a ban (nothing will be approved)."""
    import datetime as dt

    s = load_scenario("china-2025-licensing")
    world = scenario_world(s)
    pol = trade_mod.step_policies(s, world, dt.date(2025, 6, 15), None, tuple(world.quotas["quota"]))
    assert {("magnet:ndfeb", "CHN", "EU"), ("oxide:Dy", "CHN", "USA")} <= pol["licensed_origins"]
    assert {o for _, o, _ in pol["licensed_origins"]} == {"CHN"}
    pol = trade_mod.step_policies(s, world, dt.date(2024, 6, 15), None, tuple(world.quotas["quota"]))
    assert pol["licensed_origins"] == set()
    ban = load_scenario("china-hree-magnet-ban-us")
    bworld = scenario_world(ban)
    when = next(i.start for i in ban.instruments if type(i).__name__ == "ExportBan")
    pol = trade_mod.step_policies(ban, bworld, when, None, tuple(bworld.quotas["quota"]))
    assert pol["restricted"] and pol["licensed_origins"] == set()


def test_only_the_licensed_destinations_and_no_tonnage_quota_count(monthly_licensing):
    """A licence to one destination holds only the exports to it: China's magnet share under a
    licence to the U.S. alone is its reference magnet exports to the U.S. over its use (about a
    tenth of the share under a licence to every destination). A quota in tonnes is no licence
    whose approvals exporters wait for."""
    import datetime as dt

    from reesim.scenario.spec_trade import ExportLicensing

    run, _ = monthly_licensing
    items = run.items
    i = next(
        k
        for k, key in enumerate(zip(items.region, items.commodity, strict=True))
        if key == ("CHN", "magnet:ndfeb")
    )
    to_us = items.shipments[("CHN", "magnet:ndfeb", "USA")]
    every = {("magnet:ndfeb", "CHN", d) for (o, c, d) in items.shipments if (o, c) == ("CHN", "magnet:ndfeb")}
    assert items.awaiting({("magnet:ndfeb", "CHN", "USA")})[i] == pytest.approx(to_us / items.consumption[i])
    assert items.awaiting(every)[i] == pytest.approx(items.exports[i] / items.consumption[i])
    assert items.awaiting({("magnet:ndfeb", "CHN", "USA")})[i] < 0.2 * items.awaiting(every)[i]
    assert not items.awaiting(set()).any()
    s = load_scenario("china-2025-licensing")
    quota = ExportLicensing(
        type="export_quota",
        name="cap",
        exporter="CHN",
        destinations="all",
        commodities=["oxide:Dy"],
        tonnes_per_year=100.0,
        start=dt.date(2025, 1, 1),
    )
    s = s.model_copy(update={"instruments": [quota]})
    world = scenario_world(s)
    pol = trade_mod.step_policies(s, world, dt.date(2025, 6, 15), None, tuple(world.quotas["quota"]))
    assert ("oxide:Dy", "USA") in pol["restricted"] and pol["licensed_origins"] == set()


def test_exporters_awaiting_licences_hold_the_exported_share_by_hand(monthly_licensing):
    """China's holders of a licensed good raise the part of their normal stock that matches their
    exports by the precaution: S* = cover C (1 + (precaution - 1) min(X / C, 1) share), X and C
    China's reference exports and use; nobody else, and no producer, is affected; with
    exporter_stock_share 0 the targets are the buyers' alone. Built up, the stock lifts China's
    magnet holdings in the licence's first months."""
    run, steps = monthly_licensing
    items = run.items
    prm = items.params
    assert prm.exporter_share == 1.0 and prm.precaution == 2.0
    by = {step.period: (private, risk, awaiting) for step, private, (risk, awaiting), _ in steps}
    _private, risk, awaiting = by["2025-06"]
    i = next(
        k
        for k, key in enumerate(zip(items.region, items.commodity, strict=True))
        if key == ("CHN", "magnet:ndfeb")
    )
    C, X = items.consumption[i], items.exports[i]
    assert 0 < X < C  # China exports part of the magnets it makes
    assert awaiting[i] == pytest.approx(X / C)
    expected = items.cover[i] * C * (1 + (prm.precaution - 1) * (X / C) * prm.exporter_share)
    assert items.targets(risk, awaiting)[i] == pytest.approx(expected, rel=1e-12)
    assert (awaiting[items.region != "CHN"] == 0).all() and (awaiting[items.producer] == 0).all()
    assert (by["2025-03"][2] == 0).all()  # before the licence
    from dataclasses import replace

    off = replace(items, params=replace(prm, exporter_share=0.0))
    np.testing.assert_array_equal(off.targets(risk, awaiting), items.targets(risk))
    china = by["2025-09"][0].stock[i]
    assert china > 1.2 * by["2025-03"][0].stock[i]  # held while exports await approvals
