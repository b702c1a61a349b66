"""Producers' stocks of concentrate at the mine, held against a barrier.

* The netback a producer expects is China's separators' (oxide yields at China's prices less
  the separation charge), by hand on the default world; a producer's main buyer is read from
  the reference flows.
* While a mine reaches its buyer its stock stays at normal in every step (no speculation):
  the baseline with producer stocks is the baseline without them.
* When an export ban cuts the U.S. mine off from China, it keeps mining and stores (the
  competitive-storage conditions hold on its item); with producer stocks off it shuts in. When
  the ban ends the overhang is sold back.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from reesim.scenario.load import load_scenario
from reesim.simulate import simulate, stepper
from reesim.simulate.steps import make_steps

MP = ("USA", "concentrate:mountain_pass")


def _scenario(tmp_path, name: str, instruments: list, assumptions: dict | None = None, end: int = 2028):
    doc = {
        "name": name,
        "extends": "baseline",
        "horizon": {"start": 2025, "end": end},
        "instruments": instruments,
    }
    if assumptions:
        doc["world"] = {"assumptions": assumptions}
    f = tmp_path / f"{name}.yaml"
    f.write_text(yaml.safe_dump(doc))
    return load_scenario(f)


BAN = {
    "type": "export_ban",
    "name": "mp-halt",
    "exporter": "USA",
    "destinations": ["CHN"],
    "commodities": ["concentrate:mountain_pass"],
    "start": "2026-01-01",
    "end": "2026-12-31",
}


@pytest.fixture(scope="module")
def baseline_run():
    sc = load_scenario("baseline")
    sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"start": 2025, "end": 2028})})
    return stepper.start_run(sc)


def test_netback_and_main_buyer_by_hand(baseline_run):
    run, _state = baseline_run
    items, ref = run.items, run.reference
    b = items.baskets
    from reesim.simulate.storage import mine_output

    mined = {k for k, v in mine_output(run.world, ref).items() if v > 1e-9}
    assert set(zip(items.region[b.rows], items.commodity[b.rows], strict=True)) == mined
    i = next(k for k, key in enumerate(zip(items.region, items.commodity, strict=True)) if key == MP)
    row = i - b.rows[0]
    io = run.world.io
    crack = io[io["process"] == "crack:CHN:mountain_pass"]
    price = ref.price_map
    by_hand = sum(
        coef * price.get((c, "CHN"), 0.0)
        for c, coef in zip(crack["commodity"], crack["coef"], strict=True)
        if c != MP[1]
    )  # oxides out (+), the separation service in (-), per kg of concentrate in
    assert b.reference_value[row] == pytest.approx(by_hand)
    assert b.reference_price[row] == pytest.approx(price[(MP[1], "USA")])
    # a netback 1 USD/kg higher raises the expectation by 1 USD/kg
    bumped = dict(price)
    nd = ("oxide:Nd", "CHN")
    y = float(crack.loc[crack["commodity"] == "oxide:Nd", "coef"].iloc[0])
    bumped[nd] = price[nd] + 1.0 / y
    e = b.expected(np.zeros(len(items)), bumped)
    assert e[i] == pytest.approx(price[(MP[1], "USA")] + 1.0)
    outlet = dict(zip(zip(items.region, items.commodity, strict=True), items.outlet, strict=True))
    assert outlet[MP] == "CHN"  # Mountain Pass fed China until April 2025
    assert outlet[("AUS", "concentrate:mount_weld")] == "MYS"  # Mount Weld feeds Lynas Malaysia
    assert outlet[("CHN", "concentrate:bayan_obo")] == "CHN"


def test_producer_stocks_stay_normal_while_the_buyer_is_reached(baseline_run):
    run, state = baseline_run
    items = run.items
    normal = items.cover * items.consumption
    for step in make_steps(run.scenario.horizon):
        state = stepper.phase_capacity(run, state, step)
        state = stepper.phase_expectations(run, state, step)
        sol, topups, wt = stepper.phase_clear(run, state, step)
        stepper.phase_record(run, state, step, sol, wt, topups)
        state = stepper.phase_indexation(run, state, sol, step.dt)
        state = stepper.phase_invest(run, state, step, sol)
        state = stepper.phase_stocks(run, state, step, sol)
        state = stepper.phase_demand(run, state, step, sol)
        held = state.private.stock[items.producer]
        np.testing.assert_allclose(held, normal[items.producer], rtol=1e-4, atol=1e-6, err_msg=step.period)


def test_a_cut_off_mine_keeps_mining_and_stores_then_sells_the_overhang(tmp_path):
    with_stocks = simulate(_scenario(tmp_path, "ban", [BAN]))
    without = simulate(_scenario(tmp_path, "ban0", [BAN], {"producer_stock_cover_months": 0}))
    base = simulate(_scenario(tmp_path, "base", []))

    def mined(res, year):
        p = res.production
        return p[(p["kind"] == "mining") & (p["region"] == "USA") & (p["year"] == year)]["tonnes"].sum()

    def stock(res, year):
        s = res.stocks
        s = s[
            (s["holder"] == "USA")
            & (s["commodity"] == MP[1])
            & (s["kind"] == "private")
            & (s["year"] == year)
        ]
        return float(s["tonnes"].sum())

    assert mined(with_stocks, 2026) >= 0.9 * mined(base, 2026)  # keeps mining through the ban
    assert mined(without, 2026) < 0.5 * mined(base, 2026)  # shuts in without stocks
    normal = stock(base, 2026)
    assert stock(with_stocks, 2027) > normal + 0.3 * mined(base, 2026)  # stored (opening 2027)
    # sold back after the ban over the work-off time (2 years: 1 - exp(-1/2) = 39 % a year), not dumped
    over27, over28 = stock(with_stocks, 2027) - normal, stock(with_stocks, 2028) - normal
    assert over28 == pytest.approx(over27 * np.exp(-0.5), rel=0.05)

    def price(res, year):
        p = res.prices
        return float(
            p[(p["commodity"] == MP[1]) & (p["region"] == "USA") & (p["year"] == year)]["usd_per_kg"].iloc[0]
        )

    assert price(with_stocks, 2027) > 0.6 * price(base, 2027)  # the overhang does not crash the price


def test_a_ban_on_one_exporter_cuts_off_that_mine_only():
    """A Thai ban on monazite to China flags Thailand's mine, not the other monazite miners that
    sell to China nor China's own mines; China's licences on oxides and magnets flag no mine."""
    sc = load_scenario("baseline")
    run, _state = stepper.start_run(sc)
    items = run.items
    routes = {("concentrate:monazite", "THA", "CHN")}
    risk = items.risk({("concentrate:monazite", "CHN")}, routes)
    flagged = set(
        zip(items.region[risk & items.producer], items.commodity[risk & items.producer], strict=True)
    )
    assert flagged == {("THA", "concentrate:monazite")}
    own = items.risk({("concentrate:iac_low_y", "CHN")}, {("concentrate:iac_low_y", "MMR", "CHN")})
    assert not own[(items.region == "CHN") & items.producer].any()
    assert own[(items.region == "MMR") & (items.commodity == "concentrate:iac_low_y") & items.producer].all()


def test_storage_conditions_hold_on_a_cut_off_mine(tmp_path):
    """In the ban year the U.S. mine's item carries stock and its price equals the value of a unit
    carried (the competitive-storage condition, on a producer item)."""
    sc = _scenario(tmp_path, "ban-phases", [BAN], end=2026)
    run, state = stepper.start_run(sc)
    items = run.items
    i = next(k for k, key in enumerate(zip(items.region, items.commodity, strict=True)) if key == MP)
    seen = False
    for step in make_steps(sc.horizon):
        state = stepper.phase_capacity(run, state, step)
        state = stepper.phase_expectations(run, state, step)
        sol, topups, wt = stepper.phase_clear(run, state, step)
        risk = wt.meta["stock_risk"]
        carry = np.asarray(sol.quantities)[items.dem_pos] * step.dt
        if step.year == 2026:
            assert risk[i] and carry[i] > items.cover[i] * items.consumption[i]  # cut off, storing
            v = items.carry_value(state.private, risk, carry, step.dt)[i]
            assert sol.price_map[MP[::-1]] == pytest.approx(v, rel=2e-4)
            seen = True
        else:
            assert not risk[i]
        stepper.phase_record(run, state, step, sol, wt, topups)
        state = stepper.phase_indexation(run, state, sol, step.dt)
        state = stepper.phase_invest(run, state, step, sol)
        state = stepper.phase_stocks(run, state, step, sol)
        state = stepper.phase_demand(run, state, step, sol)
    assert seen
