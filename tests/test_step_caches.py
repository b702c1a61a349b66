"""What a run works out once and reuses every step gives what working it out each time gives.

A run's groups of regions (``reesim.simulate.record.sum_by``), its stock items' node positions
(``Items._prices`` of a solution), the plants a member's two runs share
(``reesim.instruments.projects.structure``) and the specific wedges of a step's policy frame
(``reesim.model.qp._specific_wedge``) are kept, and the holders' expected prices are taken a
step at a time (``Recorder._expected``); each test compares them with the plain computation,
bit for bit, and fails if a kept value outlives what it was made of.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.instruments import projects
from reesim.instruments.trade import NOT_BINDING, slack_limits
from reesim.model.qp import _specific_wedge
from reesim.scenario.load import load_scenario, parse
from reesim.simulate import stepper
from reesim.simulate.record import Recorder, _Columns, sum_by
from reesim.world.default import load_default_world

FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


def _items(d: dict) -> list[tuple]:
    """A dict's items in order, each value as its bits (``-0.0`` differs from ``0.0``)."""
    return [(k, np.float64(v).tobytes()) for k, v in d.items()]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["CHN", "USA", "EU", "JPN", "AUS", "MYS"]), FLOATS), max_size=60))
def test_sum_by_on_a_kept_grouping_is_the_loop_bit_for_bit(rows):
    keys = np.array([k for k, _ in rows], dtype=object)
    values = np.array([v for _, v in rows], dtype=float)
    loop = sum_by(keys.tolist(), values)  # a list: summed by the plain loop
    keys.flags.writeable = False  # a run's labels: grouped once
    assert _items(sum_by(keys, values)) == _items(loop)
    assert _items(sum_by(keys, values * 2.0)) == _items(sum_by(keys.tolist(), values * 2.0))  # kept


def test_sum_by_does_not_keep_the_grouping_of_a_writable_array():
    keys = np.array(["b", "a", "b"], dtype=object)
    assert sum_by(keys, [1.0, 2.0, 3.0]) == {"a": 2.0, "b": 4.0}
    keys[0] = "c"  # a writable array may change between calls
    assert sum_by(keys, [1.0, 2.0, 3.0]) == {"a": 2.0, "b": 3.0, "c": 1.0}


def test_item_prices_of_a_solution_are_those_of_its_price_map():
    s = parse({"name": "t", "horizon": {"start": 2025, "end": 2025}}, "t")
    run, _ = stepper.start_run(s)
    sol = run.reference
    by_map = run.items._prices(sol.price_map)
    assert (by_map > 0).any()
    assert run.items._prices(sol).tobytes() == by_map.tobytes()
    assert run.items._prices(sol).tobytes() == by_map.tobytes()  # the kept positions
    # an item whose node the solution lacks is priced 0 both ways (an item with a price, and the
    # first node priced too: a position of -1 read as the first node would show)
    assert sol.node_prices[0] > 0
    i = int(np.flatnonzero(by_map > 0)[0])
    index = dict(sol.qp.node_index)
    index.pop((run.items.commodity[i], run.items.region[i]))
    fake = type("Sol", (), {"qp": type("QP", (), {"node_index": index})(), "node_prices": sol.node_prices})()
    got = run.items._prices(fake)
    assert got[i] == 0.0
    others = np.arange(len(got)) != i
    assert got[others].tobytes() == by_map[others].tobytes()


def test_a_members_two_runs_share_their_plants_and_other_assumptions_do_not():
    base = load_scenario("baseline")
    assert projects.projects(base)  # the baseline's named plants
    world = load_default_world(2024)
    first = projects.structure(base, world, label="a")
    second = projects.structure(base.model_copy(update={"name": "b"}), world, label="b")
    assert second is not first and second["processes"] is first["processes"]  # the tables shared
    spread = dict(base.world.assumptions, cash_cost_spread=0.5)
    other = base.model_copy(update={"world": base.world.model_copy(update={"assumptions": spread})})
    again = projects.structure(other, world)
    assert again["processes"] is not first["processes"]
    assert not np.array_equal(
        again["processes"]["mc_slope"].to_numpy(), first["processes"]["mc_slope"].to_numpy()
    )
    zero, negative_zero = (
        base.model_copy(
            update={
                "world": base.world.model_copy(update={"assumptions": {**base.world.assumptions, "x": v}})
            }
        )
        for v in (0.0, -0.0)
    )
    assert (
        projects.structure(zero, world)["processes"]
        is not projects.structure(negative_zero, world)["processes"]
    )


def test_a_kept_specific_wedge_follows_the_edge_index_it_is_read_with():
    spec = pd.DataFrame(
        {
            "commodity": ["oxide:Dy", "oxide:Dy"],
            "origin": ["CHN", "CHN"],
            "dest": ["USA", "X"],
            "per_unit": [2.5, 9.0],
        }
    )
    first = {("oxide:Dy", "CHN", "USA"): 1, ("oxide:Tb", "CHN", "USA"): 0}
    np.testing.assert_array_equal(_specific_wedge(first, spec, 3), [0.0, 2.5, 0.0])  # X is no edge
    np.testing.assert_array_equal(_specific_wedge(first, spec, 3), [0.0, 2.5, 0.0])
    other = {("oxide:Dy", "CHN", "USA"): 0}
    np.testing.assert_array_equal(_specific_wedge(other, spec, 2), [2.5, 0.0])


def _expected_by_loop(entries) -> dict:
    """The private holders' expected prices by period, row by row (Recorder._expected's definition)."""
    out: dict = {}
    for entry in entries:
        block = entry.columns if isinstance(entry, _Columns) else {c: [v] for c, v in entry.items()}
        if "expected_usd_per_kg" not in block:
            continue
        cols = ("period", "kind", "holder", "commodity", "expected_usd_per_kg")
        for period, kind, holder, good, v in zip(*(block[c] for c in cols), strict=True):
            if kind == "private" and v == v:
                out.setdefault(period, {})[(holder, good)] = v
    return out


def test_expected_prices_taken_a_step_at_a_time_are_those_taken_row_by_row():
    nan = float("nan")

    def step(period, holders, values):
        n = len(values)
        cols = {
            "period": [period] * n,
            "holder": holders,
            "commodity": ["oxide:Dy"] * n,
            "kind": ["private"] * n,
            "expected_usd_per_kg": values,
        }
        return _Columns(cols, n)

    strategic = {"period": "2025", "holder": "USA", "commodity": "oxide:Dy", "kind": "strategic"}
    entries = [
        {**strategic, "expected_usd_per_kg": 5.0},  # not a private holder's: left out
        step("2025", ["CHN", "USA", "CHN"], [1.0, 2.0, 3.0]),  # CHN twice: the later row wins
        step("2026", ["CHN", "USA"], [nan, 4.0]),  # NaN: no expectation, the earlier value stays
        step("2026", ["CHN"], [6.0]),
        step("2027", ["CHN", "USA"], [nan, nan]),  # no expectation at all: no period
        _Columns(
            {
                "period": ["2028", "2029"],
                "holder": ["CHN"] * 2,
                "commodity": ["oxide:Tb"] * 2,
                "kind": ["private", "private"],
                "expected_usd_per_kg": [7.0, 8.0],
            },
            2,
        ),
        {"period": "2029", "holder": "JPN", "commodity": "oxide:Tb", "kind": "private"},  # no column
    ]
    got = Recorder._expected(SimpleNamespace(extra={"stocks": entries}))
    want = _expected_by_loop(entries)
    assert got == want
    assert [list(v.items()) for v in got.values()] == [list(v.items()) for v in want.values()]  # order
    assert want == {
        "2025": {("CHN", "oxide:Dy"): 3.0, ("USA", "oxide:Dy"): 2.0},
        "2026": {("USA", "oxide:Dy"): 4.0, ("CHN", "oxide:Dy"): 6.0},
        "2028": {("CHN", "oxide:Tb"): 7.0},
        "2029": {("CHN", "oxide:Tb"): 8.0},
    }


def test_node_values_of_a_step_are_its_price_map_lookups():
    s = parse({"name": "t", "horizon": {"start": 2025, "end": 2025}}, "t")
    run, _ = stepper.start_run(s)
    sol = run.reference
    keys = [*list(sol.price_map)[:5], ("oxide:Atlantis", "CHN")]  # the last is no node: 0
    assert sol.node_prices[0] > 0  # a position of -1 read as the first node would show
    want = np.array([sol.price_map.get(k, 0.0) for k in keys])
    assert stepper._node_values(run, sol, keys).tobytes() == want.tobytes()
    assert stepper._node_values(run, sol, keys).tobytes() == want.tobytes()  # the kept positions
    other = keys[::-1]  # another list of keys gets its own positions
    assert stepper._node_values(run, sol, other).tobytes() == want[::-1].tobytes()


def test_slack_limits_take_each_rows_largest_number_coefficient():
    members = pd.DataFrame(
        {
            "quota": ["a", "a", "b", "c", "d"],
            "commodity": ["x"] * 5,
            "origin": ["CHN"] * 5,
            "dest": ["USA"] * 5,
            "coef": [0.002, float("nan"), 0.5, float("nan"), -0.0],
        }
    )
    got = slack_limits(("a", "b", "c", "e", "d"), members)
    assert list(got.index) == ["a", "b", "c", "e", "d"]
    # NaN skipped; a row of NaN only, or no members, is not scaled (1); -0.0 is a number
    want = NOT_BINDING * np.array([0.002, 0.5, 1.0, 1.0, -0.0])
    assert got.to_numpy().tobytes() == want.tobytes()
