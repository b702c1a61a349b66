"""Welfare across steps: the capital charge of capacity the investment rule builds and the private
stockholders' holding gains, by hand from a run's own state and tables; and the sign of a pure
loss of supply."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from reesim.impacts.compare import compare
from reesim.instruments.projects import INVESTMENT_CAPITAL_INSTRUMENT
from reesim.simulate import stepper as S
from reesim.simulate.steps import make_steps
from tests.test_disruption import kachin
from tests.test_instruments import baseline, run, scenario


def test_rule_built_capacity_pays_its_capital_charge_from_first_output_while_in_service():
    """Every order the investment rule places carries ``capex x q`` a year (million USD), paid by
    its region from the step its capacity comes online and retired with it; the fiscal table's
    rows equal that sum by hand, and the welfare table counts them as capital_cost."""
    sc = scenario(end=2031, dynamics={"retirement_rate": 0.05})
    run_, state = S.start_run(sc)
    survive = 1.0 - 0.05  # yearly steps
    orders: list[tuple[float, int, float]] = []  # (online time, process, million USD a year)
    online: dict[int, int] = {}  # order -> index of the step it came online in
    expected: dict[tuple[str, str], float] = {}
    for n, step in enumerate(make_steps(sc.horizon)):
        opening, _sol, wt, state = S.advance(run_, state, step)
        # by hand: each arrived order's charge, retired like its capacity from the step it arrives in
        for k, (t, j, annuity) in enumerate(orders):
            if t <= step.time + 1e-9:
                first = online.setdefault(k, n)
                key = (step.period, run_.regions[j])
                expected[key] = expected.get(key, 0.0) + annuity * survive ** (n - first + 1)
        # an order arrives in ramp tranches (Dynamics.ramp_years), its whole charge on the first
        placed: dict[int, list[float]] = {}  # process -> [tonnes, million USD a year]
        for t, j, q, _banned, annuity in set(state.pipeline) - set(opening.pipeline):
            tot = placed.setdefault(j, [0.0, 0.0])
            tot[0] += q
            tot[1] += annuity
            orders.append((t, j, annuity))
        for j, (q, annuity) in placed.items():
            stage = S.INVEST_STAGE[wt.processes["kind"].iloc[j]]
            assert annuity == pytest.approx(sc.dynamics.capex_usd_per_kg_year[stage] * q)  # no ban here
    assert online, "no order came online: the test sees nothing"
    fiscal = pd.DataFrame(run_.rec.extra["fiscal"])
    got = fiscal[fiscal["instrument"] == INVESTMENT_CAPITAL_INSTRUMENT]
    got = got.groupby(["period", "payer"])["usd_million"].sum().to_dict()
    assert set(got) == {k for k, v in expected.items() if v > 0}
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key


def test_holding_gains_are_the_price_change_on_the_opening_stock_by_hand():
    """holding_gain of a region in a step = sum over its stock items of (p_t - p_{t-1}) x opening
    stock, from the run's own prices and stocks tables (kt x USD/kg = million USD)."""
    res = run(kachin(), cf=baseline(end=2028), end=2028)
    st = res.table("stocks")
    st = st[st["kind"] == "private"]
    prices = res.prices.set_index(["period", "commodity", "region"])["usd_per_kg"]
    periods = sorted(res.prices["period"].unique())
    surplus = res.surplus
    gains = surplus[surplus["component"] == "holding_gain"].set_index(["period", "region"])["usd_million"]
    assert len(gains) > 0
    for before, now in itertools.pairwise(periods):  # the first step's p_{t-1} is the reference price
        rows = st[st["period"] == now]
        nodes = list(zip(rows["commodity"], rows["holder"], strict=True))
        p_now = prices.loc[now].reindex(nodes).to_numpy()
        p_then = prices.loc[before].reindex(nodes).to_numpy()
        by_hand = (
            pd.Series((p_now - p_then) * rows["tonnes"].to_numpy() / 1000.0)
            .groupby(rows["holder"].to_numpy())
            .sum()
        )
        for region, value in by_hand.items():
            got = gains.get((now, region), 0.0)
            assert got == pytest.approx(value, rel=1e-6, abs=1e-6), (now, region)
    # the shock year's spike is a gain to those holding stock, and its unwinding a loss
    total = gains.groupby(level=0).sum()
    assert total["2025"] > 0 and total["2026"] < 0


def test_a_one_year_loss_of_supply_lowers_world_welfare():
    """Half of Myanmar's clay mining out for 2025 (the tests' kachin): world welfare falls in the
    shock year and over the run, and the components include the stockholders' holding gains."""
    cf = baseline(end=2030)
    imp = compare(run(kachin(), cf=cf, end=2030), cf)
    w = imp.welfare
    total = w[w["component"] == "total"].groupby("year")["change_usd_million"].sum()
    assert total[2025] < 0
    assert total.sum() < 0
    pv = imp.welfare_discounted
    assert pv.loc[pv["component"] == "total", "pv_usd_million"].sum() < 0
    assert "holding_gain" in set(w["component"])
    assert np.isfinite(w["change_usd_million"]).all()
