"""Cash costs outside China anchored at the price trough (reesim.world.cash_costs), by hand."""

from __future__ import annotations

import pytest

from reesim.data import default_dataset
from reesim.world.default import _config, _stage_reference, build_default_world

ORES = ["bayan_obo", "mountain_pass", "mount_weld", "monazite", "iac_low_y", "iac_high_y", "loparite"]


def _annual(ds, year):
    p = ds.table(
        "prices", date=str(year), market_code="fob_china", form_code="oxide", unit="USD/kg", preferred=True
    )
    return dict(zip(p["element"], p["price"].astype(float), strict=False))


def test_2022_world_anchor_by_hand():
    """The 2022 world's anchor for each ore, from the prices table and the ore compositions:
    the lowest over 2021-2025 of (basket - separation charge) at the year's prices over the same
    at 2022's. 2024 is the trough (Nd oxide 56 against 134 USD/kg in 2022)."""
    ds = default_dataset()
    cfg = _config(None)
    ctx = _stage_reference(ds, cfg, 2022)
    s = cfg["assumptions"]["separation_cost_share"]["value"]
    el = cfg["elements"]
    by_ore = ctx.mining.groupby(level=1).sum()
    comp = ctx.comp[el]
    w = comp.reindex(by_ore.index).fillna(0.0).mul(by_ore, axis=0).sum() / by_ore.sum()
    prices = {y: _annual(ds, y) for y in cfg["reference_years"]}
    assert all(set(el) <= set(p) for p in prices.values())  # the full dataset prices every oxide

    def conc(ore, p):
        basket = sum(comp.loc[ore, e] * p[e] for e in el)
        world = sum(w[e] * p[e] for e in el)
        return basket - s * world

    world = build_default_world(2022)
    prov = world.provenance.set_index("parameter")["value"]
    for ore in ORES:
        ratios = {y: conc(ore, p) / conc(ore, prices[2022]) for y, p in prices.items()}
        want = min(1.0, min(ratios.values()))
        assert prov[f"cash_cost_anchor[{ore}]"] == pytest.approx(want, rel=1e-9), ore
        assert min(ratios, key=ratios.get) == 2024, ore
    sep = min(sum(w[e] * p[e] for e in el) / sum(w[e] * prices[2022][e] for e in el) for p in prices.values())
    assert prov["cash_cost_anchor[separation]"] == pytest.approx(sep, rel=1e-9)
    # The base tranche of a mine that reports no cost tops out at share x anchor x its value.
    p = world.processes.set_index("process")
    share = prov["cash_cost_share_ex_china"]
    for pid, ore in [("mining:AUS:mount_weld", "mount_weld"), ("mining:THA:monazite", "monazite")]:
        top = p.loc[pid, "mc_intercept"] + p.loc[pid, "mc_slope"] * p.loc[pid, "capacity"]
        assert top == pytest.approx(
            share * prov[f"cash_cost_anchor[{ore}]"] * prov[f"concentrate_price[{ore}]"]
        )
        # ... which is below the ore's concentrate value at the 2024 trough: it kept producing.
        assert top < conc(ore, prices[2024])


def test_the_trough_year_world_is_unanchored():
    """2024 is the trough of the priced years: every anchor is one, so the default world (and
    every run on it) is the one built before anchoring."""
    prov = build_default_world(2024).provenance
    a = prov[prov["parameter"].str.startswith("cash_cost_anchor")]
    assert len(a) == len(ORES) + 1 and (a["value"] == 1.0).all()


def test_a_vintage_view_anchors_on_what_it_knew():
    """As of 2025-03-31 the 2024 prices known are MCS 2025's six (Ce, Dy, Eu, La, Nd, Tb); the
    anchor indexes each ore on them and still finds the 2024 trough."""
    from reesim.backtest.episode import load_episode
    from reesim.backtest.run import _Audit

    ep = load_episode("2025")
    full = default_dataset()
    view = full.as_of(
        ep.knowledge.as_of, exceptions=tuple((e.table, e.filters) for e in ep.knowledge.exceptions)
    )
    world = build_default_world(2022, _Audit(view, full, ep.knowledge.exceptions))
    rows = world.provenance.set_index("parameter")
    for ore in ORES:
        assert rows.loc[f"cash_cost_anchor[{ore}]", "value"] < 0.6, ore
        assert "2024 (6 oxides)" in rows.loc[f"cash_cost_anchor[{ore}]", "source"]
        assert "2022's: 2024 (" in rows.loc[f"cash_cost_anchor[{ore}]", "source"], ore  # the trough year


def test_trough_factors_edge_cases_by_hand():
    """A synthetic two-ore, two-oxide world: the trough year, a year priced too thinly to index
    (skipped), an ore with no positive reference value (no anchor) and the builder's 5 % floor."""
    import pandas as pd

    from reesim.memo import memo_of
    from reesim.world.cash_costs import trough_factors
    from reesim.world.default_data import _Recorder

    class Fake:  # a dataset stand-in: annual_prices reads the memo first
        pass

    ds = Fake()
    memo_of(ds)["world annual prices"] = {
        2021: {"A": 5.0, "B": 2.0},  # x: 3.5 - 0.4 * 3.5 = 2.1, half its reference 4.2
        2022: {"B": 0.1},  # B alone carries 2 of the basket's 7: skipped for every ore and separation
        2023: {"A": 1.0, "B": 0.0},  # the trough: x 0.5 - 0.4 * 0.5 = 0.3; y floored at 0
    }
    comp = pd.DataFrame({"A": [0.5, 0.0], "B": [0.5, 1.0]}, index=["x", "y"])
    weights = {"A": 0.5, "B": 0.5}
    ref = {"A": 10.0, "B": 4.0}  # x: 7 - 0.4*7 = 4.2; y: 4 - 2.8 = 1.2
    rec = _Recorder()
    anchors, sep = trough_factors(ds, {"reference_years": []}, 2024, comp, weights, ref, 0.4, rec)
    # 2023: I = (0.5*1 + 0.5*0)/7 = 1/14; x = (0.5 - 0.4*0.5) / 4.2; y = max(0 - 0.2, 0.05*0) / 1.2
    assert anchors["x"] == pytest.approx((0.5 - 0.2) / 4.2)
    assert anchors["y"] == pytest.approx(0.0)
    assert sep == pytest.approx(0.5 / 7.0)
    rows = dict((r[0], r[3]) for r in rec.rows)
    assert "2024's: 2023" in rows["cash_cost_anchor[x]"]
    # An ore with no positive reference value keeps one.
    comp2 = pd.DataFrame({"A": [0.0], "B": [1.0]}, index=["z"])
    a2, _ = trough_factors(ds, {"reference_years": []}, 2024, comp2, weights, {"A": 10.0, "B": 1.0}, 0.9, rec)
    assert a2["z"] == 1.0
