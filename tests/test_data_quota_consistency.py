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


def test_tariff_groups_use_the_rate_in_force_in_us_tariffs():
    """Each step of the impacts' tariff groups carries the rate of the latest preferred
    ``us_tariffs`` row of its list on or before its date (rows dated by year count from 1 January)."""
    from importlib import resources

    import pandas as pd

    t = default_dataset().table("us_tariffs")
    t = t[t["preferred"] & t["rate_pct"].notna()].copy()
    t["from"] = pd.to_datetime(t["effective_date"].astype(str).str.slice(0, 10), format="mixed")
    g = pd.read_csv(
        resources.files("reesim.impacts").joinpath("tariff_groups.csv").open(encoding="utf-8"),
        dtype=str,
        keep_default_na=False,
    )
    for r in g.itertuples(index=False):
        rows = t[(t["list"] == r.list) & (t["from"] <= pd.Timestamp(r.effective_date))]
        assert len(rows), (r.group, r.effective_date)
        in_force = rows[rows["from"] == rows["from"].max()]["rate_pct"].astype(float)
        assert float(r.rate_pct) in set(in_force), (r.group, r.effective_date, r.rate_pct, list(in_force))


def test_medical_rates_are_the_final_four_year_review():
    """89 FR 76581 (final, September 2024), not the May 2024 proposal."""
    t = default_dataset().table("us_tariffs")
    t = t[t["preferred"] & t["list"].str.contains("syringes|gloves|facemasks")]
    got = {
        (lst.split(": ")[1], str(d), float(r))
        for lst, d, r in zip(t["list"], t["effective_date"], t["rate_pct"], strict=True)
    }
    assert got == {
        ("syringes and needles", "2024-09-27", 100.0),
        ("facemasks and respirators", "2024-09-27", 25.0),
        ("facemasks and respirators", "2026-01-01", 50.0),
        ("rubber medical and surgical gloves", "2025-01-01", 50.0),
        ("rubber medical and surgical gloves", "2026-01-01", 100.0),
    }


def test_every_export_quota_says_whose_exports_it_covers():
    """Before 2010 the licence volumes reported by year covered domestic enterprises only; read as
    totals they make a false trough in 2008 (issue 14 audit). The scope column keeps them apart."""
    q = default_dataset().table("china_export_quotas", measure="export_quota")
    assert set(q["scope"]) <= {"total", "domestic", "foreign_invested"} and q["scope"].notna().all()
    assert set(q.loc[q["year"] <= 2008, "scope"]) == {"domestic"}
    # 2010 H1: domestic 16,304 t + foreign-invested 5,978 t = the 22,282 t total
    h1 = rows(year=2010, period="H1", measure="export_quota").set_index("scope")["value"]
    assert h1["domestic"] + h1["foreign_invested"] == h1["total"] == 22_282
    # the domestic 2009 first batch sits inside that year's total; a total series has no 2008 row
    dom = rows(year=2009, measure="export_quota", scope="domestic")["value"]
    tot = rows(year=2009, period="year", measure="export_quota", scope="total")["value"]
    assert float(dom.iloc[0]) < float(tot.iloc[0]) == 50_145
    totals = rows(period="year", measure="export_quota", scope="total", category="all REE")
    assert 2008 not in set(totals["year"]) and min(totals["year"]) == 2009
    assert (default_dataset().table("china_export_quotas", measure="mining_quota")["scope"].isna()).all()
