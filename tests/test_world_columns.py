"""A step's world carries its changed columns as arrays and makes its tables only when read.

* A table given as :class:`~reesim.world.world.Columns` reads as ``base.assign(**values)``,
  made once; :meth:`World.numbers`, :meth:`World.column` and :meth:`World.n_rows` read it
  without making it; :meth:`World.with_columns` adds columns to those already given.
* The QP of a step's world is the same, bit for bit, whether its tables were made or not.
* A simulated step of the flagship makes none of its world's tables (the solver, the welfare
  account, the recorder and the fiscal rows read arrays).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest

from reesim.model.qp import build_qp, update_qp
from reesim.scenario.load import load_scenario
from reesim.simulate import simulate
from reesim.world.default import load_default_world
from reesim.world.world import Columns


@pytest.fixture(scope="module")
def world():
    return load_default_world(2024)


def _step_like(w):
    rng = np.random.default_rng(3)
    n_p, n_d = w.n_rows("processes"), w.n_rows("demands")
    cap = w.numbers("processes", "capacity") * rng.uniform(0.5, 1.5, n_p)
    return w.with_data(
        processes=Columns(w.processes, {"capacity": cap, "mc_slope": w.numbers("processes", "mc_slope") * 2}),
        demands=Columns(w.demands, {"intercept": w.numbers("demands", "intercept") + rng.uniform(0, 5, n_d)}),
    )


def test_a_table_given_as_columns_is_made_on_first_read_and_once(world):
    step = _step_like(world)
    assert "processes" not in step.__dict__  # nothing made yet
    assert step.n_rows("processes") == len(world.processes)
    pd.testing.assert_series_equal(step.column("processes", "process"), world.processes["process"])
    assert "processes" not in step.__dict__  # labels read from the table it is made from
    cap = step.numbers("processes", "capacity")
    made = step.processes
    assert made is step.processes  # kept
    np.testing.assert_array_equal(made["capacity"].to_numpy(), cap)
    assert list(made.columns) == list(world.processes.columns)
    pd.testing.assert_frame_equal(
        made.drop(columns=["capacity", "mc_slope"]), world.processes.drop(columns=["capacity", "mc_slope"])
    )
    # the base world is untouched
    assert not np.array_equal(world.numbers("processes", "capacity"), cap)


def test_with_columns_adds_to_the_columns_given(world):
    step = _step_like(world)
    cut = step.numbers("processes", "mc_intercept") - 1.0
    later = step.with_columns("processes", mc_intercept=cut)
    np.testing.assert_array_equal(
        later.numbers("processes", "capacity"), step.numbers("processes", "capacity")
    )
    np.testing.assert_array_equal(later.processes["mc_intercept"].to_numpy(), cut)
    np.testing.assert_array_equal(
        step.processes["mc_intercept"].to_numpy(), world.numbers("processes", "mc_intercept")
    )
    # a table given whole replaces the columns pending for it
    whole = later.with_data(processes=world.processes)
    assert whole.processes is world.processes


def test_the_qp_is_the_same_whether_the_tables_were_made_or_not(world):
    qp0 = build_qp(world)
    lazy = _step_like(world)
    # the same step with its tables given whole (made from the columns, then read as tables)
    whole = world.with_data(processes=_step_like(world).processes, demands=_step_like(world).demands)
    a, b = update_qp(qp0, lazy), update_qp(qp0, whole)
    for name in ("P", "c", "ub", "h", "base_edge_cost"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert "processes" not in lazy.__dict__ and "processes" in whole.__dict__


def test_columns_are_checked_copied_and_read_only(world):
    cap = world.numbers("processes", "capacity").copy()
    step = world.with_data(processes=Columns(world.processes, {"capacity": cap}))
    cap[:] = -1.0  # the caller's array, changed afterwards, reaches neither the numbers nor the table
    got = step.numbers("processes", "capacity")
    assert (got >= 0).all() and (step.processes["capacity"].to_numpy() >= 0).all()
    with pytest.raises(ValueError, match="read-only"):
        got[0] = 1.0
    with pytest.raises(ValueError, match="rows"):
        Columns(world.processes, {"capacity": cap[:-1]})


def test_a_simulated_step_makes_none_of_its_tables():
    sc = load_scenario("china-2025-licensing")
    sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2027})})
    with mock.patch.object(Columns, "frame", autospec=True, side_effect=Columns.frame) as made:
        res = simulate(sc)
        assert len(res.table("prices")) and made.call_count == 0
