"""A World refuses tables it cannot be solved on, naming the table, the column and the value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reesim.errors import InputError
from reesim.world.world import World

PROCESS_COLUMNS = ["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"]


def _world(processes=None, demands=None, edges=None) -> World:
    """A supplies (mc 1 + x) and ships to B, which consumes (p = 12 - q)."""
    return World(
        name="checks",
        regions=("A", "B"),
        commodities=("good",),
        processes=pd.DataFrame(
            processes or [("sA", "A", "supply", np.inf, 1.0, 1.0), ("sB", "B", "supply", np.inf, 2.0, 1.0)],
            columns=PROCESS_COLUMNS,
        ),
        io=pd.DataFrame([("sA", "good", 1.0), ("sB", "good", 1.0)], columns=["process", "commodity", "coef"]),
        demands=pd.DataFrame(
            demands or [("dB", "use", "B", "good", 12.0, 1.0)],
            columns=["demand", "sector", "region", "commodity", "intercept", "slope"],
        ),
        edges=pd.DataFrame(
            edges or [("good", "A", "B", 0.5)], columns=["commodity", "origin", "dest", "transport"]
        ),
    )


def test_a_valid_world_is_accepted():
    assert _world().sizes == {
        "regions": 2,
        "commodities": 1,
        "processes": 2,
        "demands": 1,
        "edges": 1,
        "quotas": 0,
    }


def test_an_unknown_region_is_named_with_the_nearest_allowed_one():
    rows = [("sA", "A", "supply", np.inf, 1.0, 1.0), ("sB", "C", "supply", np.inf, 2.0, 1.0)]
    with pytest.raises(InputError, match=r"processes\.region: unknown name 'C'.*Allowed: A, B"):
        _world(processes=rows)


def test_a_missing_label_is_reported_as_missing_beside_unknown_ones():
    rows = [("sA", "Z", "supply", np.inf, 1.0, 1.0), ("sB", None, "supply", np.inf, 2.0, 1.0)]
    with pytest.raises(
        InputError, match=r"processes\.region: a row has no name \(a missing value\); allowed: A, B"
    ):
        _world(processes=rows)


@pytest.mark.parametrize(
    ("table", "rows", "message"),
    [
        (
            "processes",
            [
                ("sA", "A", "supply", np.inf, 1.0, 1.0),
                ("sB", "B", "supply", np.inf, 2.0, 1.0),
                ("sB", "A", "supply", np.inf, 3.0, 1.0),
            ],
            "processes: duplicated process 'sB'",
        ),
        (
            "demands",
            [("dB", "use", "B", "good", 12.0, 1.0), ("dB", "other", "B", "good", 10.0, 1.0)],
            "demands: duplicated demand 'dB'",
        ),
        (
            "edges",
            [("good", "A", "B", 0.5), ("good", "A", "B", 0.7)],
            r"edges: duplicated \(commodity, origin, dest\)",
        ),
    ],
)
def test_duplicated_rows_are_refused(table, rows, message):
    with pytest.raises(InputError, match=message):
        _world(**{table: rows})


@pytest.mark.parametrize("missing", [[None, None], [np.nan, np.nan], [None, np.nan], ["dB", None]])
def test_a_demand_without_an_id_is_refused(missing):
    """A missing id (None, NaN, in an object or a float column) identifies nothing: refused as
    missing, whether or not another row's id is missing too."""
    rows = [(missing[0], "use", "B", "good", 12.0, 1.0), (missing[1], "other", "B", "good", 10.0, 1.0)]
    with pytest.raises(InputError, match=r"demands\.demand: a row has no id \(a missing value\)"):
        _world(demands=rows)


def test_a_missing_name_lists_at_most_twelve_allowed_names():
    regions = tuple(f"R{i:02d}" for i in range(20))
    with pytest.raises(InputError, match=r"allowed: R00, .*R11, \.\.\. \(20 in all\)$"):
        World(
            name="many regions",
            regions=regions,
            commodities=("good",),
            processes=pd.DataFrame([("sA", None, "supply", 1.0, 1.0, 1.0)], columns=PROCESS_COLUMNS),
            io=pd.DataFrame([("sA", "good", 1.0)], columns=["process", "commodity", "coef"]),
            demands=pd.DataFrame(
                [("d", "use", "R01", "good", 12.0, 1.0)],
                columns=["demand", "sector", "region", "commodity", "intercept", "slope"],
            ),
            edges=pd.DataFrame(columns=["commodity", "origin", "dest", "transport"]),
        )


def test_a_negative_capacity_is_refused_with_its_value():
    rows = [("sA", "A", "supply", -1.0, 1.0, 1.0), ("sB", "B", "supply", np.inf, 2.0, 1.0)]
    with pytest.raises(
        InputError, match=r"processes\.capacity \(row 0\): values must be numbers >= 0.0; got -1.0$"
    ):
        _world(processes=rows)
    rows = [("sA", "A", "supply", np.inf, 1.0, 1.0), ("sB", "B", "supply", np.inf, 2.0, "steep")]
    with pytest.raises(
        InputError, match=r"processes\.mc_slope \(row 1\): values must be numbers >= 0.0; got 'steep'$"
    ):
        _world(processes=rows)
