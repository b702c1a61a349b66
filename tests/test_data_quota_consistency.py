"""China's export-quota rows agree with each other (corrections of issue 14, item 5)."""

from __future__ import annotations

import pytest

from reesim.data import default_dataset


def rows(**filters):
    q = default_dataset().table("china_export_quotas", **filters)
    return q[q["preferred"]]


def test_2013_batches_sum_to_the_year():
    h1 = rows(year=2013, period="H1", measure="export_quota", category="all REE")["value"]
    h2 = rows(year=2013, period="H2", measure="export_quota", category="all REE")["value"]
    year = rows(year=2013, period="year", measure="export_quota", category="all REE")["value"]
    assert len(h1) == len(h2) == len(year) == 1  # the misprinted 15,550 t row is not preferred
    assert float(h1.iloc[0]) + float(h2.iloc[0]) == float(year.iloc[0]) == 31_001
    split = rows(year=2013, period="H2", measure="export_quota")
    light = float(split.loc[split["category"] == "light REE", "value"].iloc[0])
    heavy = float(split.loc[split["category"] == "medium and heavy REE", "value"].iloc[0])
    assert light + heavy == float(h2.iloc[0])


@pytest.mark.parametrize("year", [2012, 2013])
def test_quota_utilisation_is_exports_over_the_quota(year):
    """The utilisation rows are labelled with the year whose exports and quota they divide."""
    used = float(rows(year=year, period="year", measure="quota_utilization")["value"].iloc[0])
    exports = rows(year=year, period="year", measure="actual_exports", category="REE")["value"]
    quota = rows(year=year, period="year", measure="export_quota", category="all REE")["value"]
    assert len(exports) == 1 and len(quota) == 1
    assert used == pytest.approx(100 * float(exports.iloc[0]) / float(quota.iloc[0]), abs=1.0)


def test_2011_utilisation_is_about_three_fifths():
    used = rows(year=2011, period="year", measure="quota_utilization")["value"]
    assert list(used) == [61.0]  # ECNS 2012-12-31; the old 52 % row was 2012's
