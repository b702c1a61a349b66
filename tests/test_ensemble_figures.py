"""A member's figures from the runs' arrays equal their definition through the impact tables.

* :func:`reesim.ensemble.figures.from_arrays` gives the rows, columns and dtypes of
  :func:`reesim.ensemble.member.outcomes` and its values to 1e-11 relative (1e-9 absolute: a
  product cost change of a thousandth of a dollar made of two nearly equal prices differs
  in its last bits), for shipped scenarios with licences, price floors and named plants, for a
  member with every assumption drawn, and for quarterly and monthly steps.
* Results that carry no arrays (read back, pickled) fall back to the tables.
* A run's tables are made on first read only, and once; a pickled result carries them.
"""

from __future__ import annotations

import pickle
from unittest import mock

import numpy as np
import pandas as pd
import pytest

import reesim.simulate.record as record
from reesim.ensemble.design import make_design
from reesim.ensemble.figures import from_arrays
from reesim.ensemble.member import outcomes
from reesim.ensemble.space import apply, default_space, outlook
from reesim.scenario.load import load_scenario
from reesim.simulate import simulate
from reesim.simulate.result import TABLES


def _pair(name: str, end: int, step: str = "year", values: dict | None = None):
    sc = load_scenario(name)
    sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": end, "step": step})})
    base = load_scenario(sc.counterfactual or "baseline")
    if values is not None:
        sc, base = apply(sc, values), apply(base, outlook(values))
    cf = simulate(base.model_copy(update={"horizon": sc.horizon, "world": sc.world}))
    return simulate(sc, counterfactual=cf), cf


def _same(res, cf) -> pd.DataFrame:
    want, got = outcomes(res, cf), from_arrays(res, cf)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-11, atol=1e-9)
    return got


@pytest.mark.parametrize(
    "name, end, step",
    [
        ("china-2025-licensing", 2028, "year"),  # licences on oxides and magnets
        ("us-onshoring-price-floor", 2027, "year"),  # price floor, named plants, capital costs
        ("china-2023-tech-ban", 2027, "year"),  # technology ban
        ("china-2025-licensing", 2026, "quarter"),  # a year's steps averaged
        ("us-onshoring-price-floor", 2025, "month"),
    ],
)
def test_figures_from_arrays_equal_the_tables(name, end, step):
    got = _same(*_pair(name, end, step))
    metrics = set(got["metric"])
    assert {
        "price_ratio",
        "welfare_pv_usd_million",
        "dy_kg_per_t_magnet",
        "product_cost_change_usd_high",
    } <= metrics
    # one row per figure, market and year; the present values have no year
    keys = got[["metric", "item", "where", "year"]].astype(str)
    assert not keys.duplicated().any()
    assert got.loc[got["metric"] == "welfare_pv_usd_million", "year"].isna().all()


def test_a_run_against_another_scenarios_run_gives_the_same_figures():
    """A heavy-RE ban against a world with a Lynas heavy circuit: markets present in one run only,
    and transit regions whose apparent use is exactly zero (the smallest weight)."""
    a, b = (
        simulate(sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2032})}))
        for sc in map(load_scenario, ("china-hree-magnet-ban-us", "lynas-heavy-separation"))
    )
    _same(a, b)


def test_undetermined_prices_give_the_same_figures_both_ways():
    import dataclasses

    from reesim.simulate.result import Result

    res, cf = _pair("china-2025-licensing", 2028, step="quarter")
    rng = np.random.default_rng(7)

    def blurred(r, share):
        det = r.arrays.determined & (rng.random(r.arrays.determined.shape) > share)
        det[2] = False  # a whole quarter with no determined price anywhere
        tables = dict(r._tables)
        tables["prices"] = tables["prices"].assign(determined=det.ravel())  # step by step, node by node
        return Result(r.scenario_name, r.meta, tables, dataclasses.replace(r.arrays, determined=det))

    got = _same(blurred(res, 0.3), blurred(cf, 0.2))
    assert got["value"].isna().any()


def test_a_drawn_member_gives_the_same_figures_both_ways():
    sc = load_scenario("china-2025-licensing")
    space = default_space(sc)
    row = make_design(space, 3, "lhs", 5).iloc[1]
    values = {k: float(row[k]) for k in space}
    got = _same(*_pair("china-2025-licensing", 2029, values=values))
    # the Dy premium of the flagship: the licence raises Dy oxide outside China against its counterfactual
    dy = got[
        (got["metric"] == "price_ratio") & (got["item"] == "oxide:Dy") & (got["where"] == "outside China")
    ]
    assert (dy["value"] > 1.0).any()


def test_results_without_arrays_use_the_tables():
    res, cf = _pair("china-2025-licensing", 2025)
    back = pickle.loads(pickle.dumps(res))
    assert back.arrays is None and from_arrays(back, cf) is None
    pd.testing.assert_frame_equal(back.table("prices"), res.table("prices"), check_exact=True)


def test_tables_are_made_on_first_read_and_once():
    with mock.patch.object(
        record.Recorder, "tables", autospec=True, side_effect=record.Recorder.tables
    ) as made:
        sc = load_scenario("baseline")
        res = simulate(
            sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": sc.horizon.start})})
        )
        assert made.call_count == 0
        prices = res.table("prices")
        assert len(prices) and res.table("trade") is not None and made.call_count == 1
        assert set(dict(res._tables)) == set(TABLES) and made.call_count == 1


@pytest.mark.parametrize("name", ["china-2025-licensing", "us-onshoring-price-floor"])
def test_the_counterfactual_maps_from_arrays_equal_those_from_the_tables(name):
    from reesim.jsondata import same
    from reesim.simulate.counterfactual import Counterfactual

    sc = load_scenario(name)
    res = simulate(sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2028})}))
    fast = Counterfactual.from_result(res)  # from its arrays
    tables = Counterfactual.from_result(pickle.loads(pickle.dumps(res)))  # without them: its tables
    for field in ("prices", "flows", "consumption", "expected"):
        a, b = getattr(fast, field), getattr(tables, field)
        assert same(a, b), field
        assert [list(m) for m in a.values()] == [list(m) for m in b.values()], field  # and in the same order
    assert any(fast.expected.values()) and any(fast.flows.values())
