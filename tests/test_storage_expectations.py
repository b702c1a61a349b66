"""Holders' price expectations: they see through the path the market takes without the policy.

Without a counterfactual a user expects the lower of the price just cleared and its adaptive
level (a fall as reported, a rise as partly temporary); against one, the counterfactual's
expected price times an adaptive expectation of the policy's effect (the ratio of the run's
price to the counterfactual's) (``reesim.simulate.storage.Items.update`` and ``open``).
"""

from __future__ import annotations

import math
from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest

from reesim.scenario.load import parse
from reesim.simulate import simulate, stepper
from reesim.simulate.counterfactual import Counterfactual
from reesim.world.default import build_default_world


@pytest.fixture(scope="module")
def items_and_state():
    s = parse({"name": "t", "horizon": {"start": 2025, "end": 2025}}, "t")
    run, state = stepper.start_run(s)
    return run, state


def _solution(run, prices: dict) -> SimpleNamespace:
    return SimpleNamespace(quantities=np.zeros(len(run.world.demands)), price_map=prices)


def test_expected_price_by_hand(items_and_state):
    run, state = items_and_state
    items, private = run.items, state.private
    users = ~items.producer
    keys = list(zip(items.commodity, items.region, strict=True))
    p0 = private.expected
    dt, tau = 1 / 12, items.params.expectation_years
    lam = 1.0 - math.exp(-dt / tau)

    # A rise is taken as partly temporary: the adaptive level A = p0 + lam (p - p0) is below p.
    up = items.update(private, _solution(run, {k: 2.0 * v for k, v in zip(keys, p0, strict=True)}), dt)
    np.testing.assert_allclose(up.level[users], p0[users] * (1.0 + lam))
    np.testing.assert_allclose(up.expected[users], p0[users] * (1.0 + lam))
    np.testing.assert_array_equal(up.deviation, private.deviation)  # no counterfactual: no policy effect
    # A fall is taken as reported: the expected price is the price just cleared.
    down = items.update(private, _solution(run, {k: 0.5 * v for k, v in zip(keys, p0, strict=True)}), dt)
    np.testing.assert_allclose(down.expected[users], 0.5 * p0[users])
    np.testing.assert_allclose(down.level[users], p0[users] * (1.0 - 0.5 * lam))

    # Against a counterfactual the ratio p / p_cf is expected adaptively; where the
    # counterfactual has no price it stays 1.
    prices = {k: 2.0 * v for k, v in zip(keys, p0, strict=True)}
    cf = {k: 1.6 * v for k, v in zip(keys, p0, strict=True)}
    first = keys[int(np.flatnonzero(users & (p0 > 0))[0])]
    cf[first] = 0.0
    out = items.update(private, _solution(run, prices), dt, cf)
    d = 1.0 + lam * (2.0 / 1.6 - 1.0)
    ok = users & (p0 > 0)
    ok[keys.index(first)] = False
    np.testing.assert_allclose(out.deviation[ok], d)
    assert out.deviation[keys.index(first)] == 1.0
    again = items.update(out, _solution(run, prices), dt, cf)
    np.testing.assert_allclose(again.deviation[ok], d + lam * (1.25 - d))
    # ... and at the next opening the expected price is the counterfactual's expected price times d.
    cf_expected = {(r, c): 3.0 for r, c in zip(items.region, items.commodity, strict=True)}
    opened = items.open(out, cf_expected)
    np.testing.assert_allclose(opened.expected[ok], 3.0 * d)
    np.testing.assert_array_equal(opened.expected[items.producer], out.expected[items.producer])
    assert items.open(out, None) is out


SLUMP = {
    "name": "slump",
    "horizon": {"start": 2025, "end": 2026, "step": "month"},
    "instruments": [
        {
            "type": "demand_shift",
            "name": "magnets",
            "sector": "magnet users",
            "start": 2025,
            "growth": {2025: -0.25},
        },
        {
            "type": "demand_shift",
            "name": "other",
            "sector": "other uses",
            "start": 2025,
            "growth": {2025: -0.25},
        },
    ],
}


@pytest.fixture(scope="module")
def slump():
    """Demand falling 25 %/yr for two years, monthly: a price fall common to run and counterfactual."""
    sc = parse(SLUMP, "slump")
    world = build_default_world(2024)
    return sc, world, simulate(sc, world=world)


def _private(res):
    s = res.table("stocks")
    return s[s["kind"] == "private"].set_index(["period", "holder", "commodity"])["tonnes"]


def test_a_run_against_its_own_path_holds_what_it_would_hold_alone(slump):
    """The trend is common, so a run against a counterfactual with the same path keeps the
    same stocks and prices as without one: no position is taken on a shared trend."""
    sc, world, alone = slump
    nd = alone.table("prices").query("commodity == 'oxide:Nd' and region == 'CHN'")["usd_per_kg"]
    assert nd.iloc[-1] < 0.6 * nd.iloc[0]  # the fall is steep
    against = simulate(sc, counterfactual=alone, world=world)
    a, b = _private(alone), _private(against)
    np.testing.assert_allclose(b.loc[a.index].to_numpy(), a.to_numpy(), rtol=1e-6, atol=1e-6)
    # The counterfactual's expectations are read from its stocks table, period by period.
    cf = Counterfactual.from_result(alone)
    st = alone.table("stocks").query("kind == 'private'")
    assert set(cf.expected) == set(st["period"])
    row = st.iloc[len(st) // 2]
    assert cf.expected[row["period"]][(row["holder"], row["commodity"])] == row["expected_usd_per_kg"]


def test_a_policy_spike_is_seen_as_temporary_and_a_shared_trend_is_not(slump):
    """Against the slump, a licence on Dy exports from mid-2025: outside China the holders of
    Dy release stock as the premium appears (they expect it to pass; the rebuild once it
    lasts is checked on the flagship, test_supply_storage); China's Nd holders, whom the
    licence does not touch, keep the counterfactual's stock within 5 % on every step
    although Nd falls by over 40 %."""
    _, world, cf = slump
    data = {
        **SLUMP,
        "name": "slump-licence",
        "instruments": [
            *SLUMP["instruments"],
            {
                "type": "export_quota",
                "name": "dy",
                "exporter": "CHN",
                "destinations": "all",
                "commodities": ["oxide:Dy", "metal:Dy"],
                "approval_share": 0.5,
                "start": "2025-06-01",
            },
        ],
    }
    res = simulate(parse(data, "slump-licence"), counterfactual=cf, world=world)
    run_, base = _private(res), _private(cf)
    nd = [(p, "CHN", "oxide:Nd") for p in base.index.get_level_values(0).unique()]
    np.testing.assert_allclose(run_.loc[nd].to_numpy(), base.loc[nd].to_numpy(), rtol=0.05)
    # The holders' expected price is the counterfactual's times the adaptive premium d > 1.
    exp = res.table("stocks").query("kind == 'private' and commodity == 'oxide:Dy' and holder == 'JPN'")
    exp_cf = cf.table("stocks").query("kind == 'private' and commodity == 'oxide:Dy' and holder == 'JPN'")
    e, e_cf = (x.set_index("period")["expected_usd_per_kg"] for x in (exp, exp_cf))
    assert e["2025-05"] == pytest.approx(e_cf["2025-05"])
    # Rebuilt by hand from both runs' prices: e_t = e_cf,t x d_t, d adapting to clip(p / p_cf).
    lam = 1.0 - math.exp(-(1 / 12) / 0.5)
    pj = (
        res.table("prices")
        .query("commodity == 'oxide:Dy' and region == 'JPN'")
        .set_index("period")["usd_per_kg"]
    )
    pj_cf = (
        cf.table("prices")
        .query("commodity == 'oxide:Dy' and region == 'JPN'")
        .set_index("period")["usd_per_kg"]
    )
    d, periods = 1.0, list(e.index)
    for t, nxt in pairwise(periods):
        d += lam * (min(max(pj[t] / pj_cf[t], 0.1), 10.0) - d)
        assert e[nxt] == pytest.approx(e_cf[nxt] * d, rel=1e-9), nxt
    assert (e.loc["2025-07":] > e_cf.loc["2025-07":]).all()
    assert e["2026-12"] > 2.0 * e_cf["2026-12"]  # d has adapted to the lasting premium
    for holder in ("JPN", "EU", "USA"):
        dy = run_.xs((holder, "oxide:Dy"), level=("holder", "commodity"))
        dy_cf = base.xs((holder, "oxide:Dy"), level=("holder", "commodity"))
        assert dy.loc["2025-05"] == pytest.approx(dy_cf.loc["2025-05"])  # before the licence
        assert dy.loc["2025-08"] < 0.7 * dy_cf.loc["2025-08"]  # released as the premium appears
