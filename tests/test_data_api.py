"""The Python API of reesim.data: tables, filters, citations, the read-only store."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import reesim.data as rd
from reesim.data.dataset import Dataset
from reesim.data.store import dataset_hash
from reesim.errors import InputError


def test_every_declared_table_is_in_the_store_with_its_rows(ds):
    con = ds.connect()
    for name in ds.registry:
        csv_rows = len(pd.read_csv(ds.tables_dir / f"{name}.csv", dtype=str, keep_default_na=False))
        (n,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        assert n == csv_rows, name


def test_column_types_follow_the_registry(ds):
    con = ds.connect()
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='prices'"
        ).fetchall()
    )
    assert types["price"] == "DOUBLE"
    assert types["preferred"] == "BOOLEAN"
    assert types["date"] == "VARCHAR"
    assert types["year_start"] == "INTEGER"


def test_connection_is_read_only(ds):
    with pytest.raises(duckdb.Error, match="read-only"):
        ds.connect().execute("DELETE FROM prices")
    with pytest.raises(duckdb.Error, match="read-only"):
        rd.connect().execute("CREATE TABLE x (a INT)")


def test_filters_select_the_usgs_row():
    df = rd.table("mine_production", year=2025, iso3="CHN")
    assert len(df) == 1
    assert df["production_t_reo"].iloc[0] == 270_000
    assert df["country"].iloc[0] == "China"


def test_year_filter_on_period_tables_keeps_rows_covering_the_year():
    df = rd.table("trade_flows", flow="import_share", year=2022)
    assert set(df["year"]) == {"2020-2023", "2021-2024"}
    prices = rd.table("prices", element="Dy", year=2025)
    assert (prices["year_start"] <= 2025).all() and (prices["year_end"] >= 2025).all()


def test_list_values_match_any():
    df = rd.table("mine_production", year=2025, iso3=["CHN", "USA"])
    assert sorted(df["iso3"]) == ["CHN", "USA"]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: rd.table("pricez"), "did you mean 'prices'"),
        (lambda: rd.table("prices", elemnt="Dy"), "did you mean 'element'"),
        (lambda: rd.table("mine_production", iso3="CHX"), "unknown country code 'CHX'"),
        (lambda: rd.table("mine_production", year=1850), "years covered: 1900-2025"),
        (lambda: rd.table("prices", year=3000), "no data for year 3000"),
        (lambda: rd.table("mine_production", year="abc"), "not a number"),
        (lambda: rd.table("prices", element="Zz"), "unknown value 'Zz'"),
        (lambda: rd.table("prices", preferred="maybe"), "not true or false"),
        (lambda: rd.table("deposit_composition", year=2020), "unknown column 'year'"),
    ],
)
def test_bad_filters_name_what_is_allowed(call, fragment):
    with pytest.raises(InputError) as info:
        call()
    assert fragment in str(info.value)


def test_cite_returns_the_citation_behind_a_value():
    c = rd.cite("mine_production", year=2025, iso3="CHN")
    assert len(c) == 1
    row = c.iloc[0]
    assert row["source_id"] == "usgs-mineral-commodity-ee47b4"
    assert "Mineral Commodity Summaries 2026" in row["citation"]
    assert row["licence"].startswith("U.S. Government work")
    assert row["vintage"] == "2026-05-27"
    assert "therealjameswilson/critical-minerals-records-stage-v3" in row["where_read"]


def test_cite_without_a_match_or_key_is_an_input_error():
    with pytest.raises(InputError, match="no row of table 'mine_production'"):
        rd.cite("mine_production", year=2024, iso3="FRA")
    with pytest.raises(InputError, match="at least one"):
        rd.cite("mine_production")


def test_conflicting_vintages_are_kept_and_the_latest_is_preferred():
    # MYB 2022 (Table 3) and MCS 2026 both give the 2021 Tb oxide FOB price: 1,350 vs 1,340 USD/kg.
    tb = rd.table("prices", date="2021", element="Tb", market_code="fob_china")
    assert sorted(tb["price"]) == [1340.0, 1350.0]
    preferred = tb[tb["preferred"]]
    assert list(preferred["price"]) == [1340.0]
    assert "Mineral Commodity Summaries 2026" in preferred["source"].iloc[0]


def test_superseded_quota_row_is_not_preferred():
    q = rd.table("china_export_quotas", year=2012, period="year", measure="export_quota", category="all REE")
    assert sorted(q["value"]) == [30966.0, 30996.0]
    assert list(q.loc[q["preferred"], "value"]) == [30996.0]


def test_dataset_hash_changes_with_content(tmp_path, ds):
    import shutil

    tables = tmp_path / "tables"
    shutil.copytree(ds.tables_dir, tables)
    before = dataset_hash(tables, ds.schema_dir)
    assert before == dataset_hash(ds.tables_dir, ds.schema_dir)
    path = tables / "regions.csv"
    path.write_text(path.read_text().replace("Rest of world", "Rest of the world"))
    assert dataset_hash(tables, ds.schema_dir) != before


def test_a_modified_copy_gets_its_own_store(tmp_path, ds):
    import shutil

    tables = tmp_path / "tables"
    shutil.copytree(ds.tables_dir, tables)
    path = tables / "regions.csv"
    path.write_text(path.read_text().replace("Rest of world", "Rest of the world"))
    other = Dataset(tables_dir=tables)
    assert other.version != ds.version
    assert other.path != ds.path
    assert "Rest of the world" in set(other.table("regions")["name"])
    assert "Rest of world" in set(ds.table("regions")["name"])


def test_magnet_kilograms_carry_the_value_they_cover():
    """HTS 8505 reports most of its value by number: the kilograms cover only the kg lines, whose
    value is stored beside them (issue 14 audit; USITC DataWeb 'Value for: kilograms')."""
    r = rd.table(
        "trade_flows", reporter_iso3="USA", partner_iso3="CHN", hs_code="8505", flow="import", year=2024
    )
    assert len(r) == 1
    value, kg, covered = (float(r[c].iloc[0]) for c in ("value_usd", "quantity_kg", "quantity_value_usd"))
    assert (value, kg, covered) == (486_914_658, 5_212_740, 71_690_142)
    assert covered / kg == pytest.approx(13.75, abs=0.01)  # the naive value / kg would be 93 USD/kg
    # where every line is reported in kg (HS 2846), the covered value is the whole value
    c = rd.table("trade_flows", reporter_iso3="USA", hs_code="2846", flow="import")
    c = c[c["quantity_value_usd"].notna()]
    assert len(c) > 300 and (c["quantity_value_usd"] == c["value_usd"]).all()


def test_a_kept_selection_is_a_fresh_copy_and_views_keep_their_own_rows(ds):
    # The dataset keeps each query's rows (the store is read-only): a caller that changes
    # what it got must not change what the next caller gets.
    first = ds.table("mine_production", iso3="CHN")
    n, total = len(first), first["production_t_reo"].sum()
    first.loc[:, "production_t_reo"] = -1.0
    first.drop(first.index, inplace=True)
    again = ds.table("mine_production", iso3="CHN")
    assert len(again) == n and again["production_t_reo"].sum() == total
    # A vintage view shares the cache but not the rows: the same selection differs by date.
    view = ds.as_of("2020-06-30")
    early = view.table("mine_production", iso3="CHN")
    assert 0 < len(early) < n and early["year"].max() <= 2019
    assert len(ds.table("mine_production", iso3="CHN")) == n
    assert len(ds.as_of("2020-06-30").table("mine_production", iso3="CHN")) == len(early)


def test_kept_selections_are_bounded_least_recently_used_out(ds, monkeypatch):
    """Any filter a query string names is a new selection: the dataset keeps at most
    MAX_KEPT_QUERIES of them (the oldest unused goes first) and answers the same rows either way."""
    import reesim.data.dataset as dsm

    monkeypatch.setattr(dsm, "MAX_KEPT_QUERIES", 5)
    fresh = Dataset()
    keep = fresh.table("prices", element="Dy")  # used again below: stays
    for year in range(2015, 2025):
        fresh.table("mine_production", year=year)
        assert len(fresh._frames) <= 5
        pd.testing.assert_frame_equal(fresh.table("prices", element="Dy"), keep)
    assert len(fresh._frames) == 5
    # least recently used goes first, not the oldest: re-read the oldest kept, add one more
    oldest, second = list(fresh._frames)[:2]
    fresh._query(*[oldest[0], list(oldest[1])])
    fresh.table("mine_production", year=2010)
    assert oldest in fresh._frames and second not in fresh._frames
    pd.testing.assert_frame_equal(
        fresh.table("mine_production", year=2015), ds.table("mine_production", year=2015)
    )


def test_kept_selections_are_safe_under_threads():
    """The API's threads read one dataset at once: reads and evictions of its kept results race
    without a lock (a review of 2026-12-06 saw KeyError in 2 of 3 runs of 16 threads)."""
    from concurrent.futures import ThreadPoolExecutor

    import reesim.data.dataset as dsm

    fresh = Dataset()
    expected = {y: fresh.table("mine_production", year=y) for y in range(2018, 2025)}

    def read(i: int) -> bool:
        y = 2018 + i % 7
        return fresh.table("mine_production", year=y).equals(expected[y])

    old = dsm.MAX_KEPT_QUERIES
    try:
        dsm.MAX_KEPT_QUERIES = 3  # evictions all the time
        with ThreadPoolExecutor(16) as pool:
            assert all(pool.map(read, range(2000)))
    finally:
        dsm.MAX_KEPT_QUERIES = old
