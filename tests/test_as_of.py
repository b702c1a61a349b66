"""Vintage-correct data access: the dataset as it could be known on a date (issue 6, item 1)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

CUTOFF = dt.date(2010, 6, 30)


@pytest.fixture(scope="module")
def view(ds):
    return ds.as_of(CUTOFF)


def test_no_fact_row_observed_or_published_after_the_cutoff(ds, view):
    vintages = ds.table("sources").set_index("source_id")["vintage_date"]
    for name, spec in ds.registry.items():
        if spec.kind != "fact":
            continue
        rows = view.table(name)
        if spec.time_column:
            ends = pd.to_datetime(rows["observed_end"]).dropna()
            assert (ends.dt.date <= CUTOFF).all(), name
        published = pd.to_datetime(vintages.reindex(rows["source_id"]))
        assert published.notna().all(), name
        assert (published.dt.date <= CUTOFF).all(), name


def test_a_mid_2010_calibration_cannot_read_later_prices_or_production(view):
    # Everything about 2010 prices and production published after June 2010 is invisible.
    prices = view.table("prices")
    assert not prices["date"].str.startswith(("2010-07", "2010-Q3", "2011", "2012")).any()
    # only the MCS editions out by then (2003, 2007); the other country series came later
    mp = view.table("mine_production")
    assert set(mp["source_id"]) == {"usgs-mcs-2003-rare-earths", "usgs-mcs-2007-rare-earths"}
    assert mp["year"].max() == 2006
    quotas = view.table("china_export_quotas")
    assert quotas["year"].max() <= 2009  # the JMB export-licence volumes 2005-2009 were published by then


def test_annual_figures_are_known_only_after_the_year_ends(ds):
    early = ds.as_of("2026-12-30").table("mine_production", iso3="CHN")
    late = ds.as_of("2026-12-31").table("mine_production", iso3="CHN")
    assert 2026 not in set(early["year"]) and len(late) == len(early)  # no 2026 rows exist at all
    q4 = ds.as_of("2025-06-01").table("mine_production", iso3="CHN")
    assert 2025 not in set(q4["year"])
    assert 2024 in set(ds.as_of("2026-06-01").table("mine_production", iso3="CHN")["year"])


def test_the_full_dataset_is_unchanged(ds, view):
    assert len(ds.table("prices")) == 497
    assert ds.as_of_date is None and view.as_of_date == CUTOFF
    assert len(view.table("countries")) == len(ds.table("countries"))  # reference tables unaffected


def test_as_of_view_rederives_preferred_among_the_rows_it_can_see(ds):
    """Full dataset: the 2022 Nd oxide FOB China price of USGS MCS (published later) is preferred over
    MYB 2022's. As of 2025-03-31 only MYB's row is visible, and it is the preferred one."""
    key = {"date": "2022", "element": "Nd", "market_code": "fob_china", "form_code": "oxide"}
    full = ds.table("prices", **key)
    assert len(full) >= 2 and full["preferred"].sum() == 1
    myb = full[full["source_id"] == "usgs-minerals-yearbook-aaeed7"]
    assert len(myb) == 1 and not bool(myb["preferred"].iloc[0])
    view = ds.as_of("2025-03-31").table("prices", **key)
    assert list(view["source_id"]) == ["usgs-minerals-yearbook-aaeed7"]
    assert bool(view["preferred"].iloc[0])
    assert list(view.columns) == list(full.columns)
    # One preferred row per quantity in the view, and filtering on preferred uses the re-derived flag.
    v = ds.as_of("2025-03-31").table("prices")
    keys = ["date", "element", "form_code", "market_code", "unit"]
    assert v[v["preferred"]].duplicated(keys).sum() == 0
    assert (v.groupby(keys, dropna=False)["preferred"].sum() == 1).all()
    pref = ds.as_of("2025-03-31").table("prices", preferred=True, **key)
    assert list(pref["source_id"]) == ["usgs-minerals-yearbook-aaeed7"]


def test_vintage_view_carries_each_group_members_latest_annual_price_forward():
    """HREE_other in a vintage view without its year's prices: each member's latest earlier annual
    price (monthly quotes ignored), weighted by supply as in the normal path."""
    import datetime as dt

    import pandas as pd

    from reesim.world.default import _prices, _Recorder, load_config

    cfg = dict(load_config())  # a world that pools Ho, Er and Yb (the default world prices each)
    cfg["elements"] = [e for e in cfg["elements"] if e not in ("Ho", "Er", "Yb")] + ["HREE_other"]
    cfg["element_groups"] = {"HREE_other": ["Ho", "Er", "Yb"]}
    rows = [
        {"date": "2022", "element": e, "price": 10.0, "source_id": "s-now", "year_end": 2022}
        for e in cfg["elements"]
        if e not in cfg["element_groups"]
    ]
    rows += [
        {"date": "2020", "element": "Er", "price": 40.0, "source_id": "s-er", "year_end": 2020},
        {"date": "2019", "element": "Er", "price": 99.0, "source_id": "s-old", "year_end": 2019},
        {"date": "2021-05", "element": "Er", "price": 500.0, "source_id": "s-month", "year_end": 2021},
        {"date": "2019", "element": "Ho", "price": 100.0, "source_id": "s-ho", "year_end": 2019},
    ]
    table = pd.DataFrame(rows)

    class View:
        as_of_date = dt.date(2023, 3, 31)

        def table(self, name, date=None, **filters):
            return table if date is None else table[table["date"] == date]

    rec = _Recorder()
    weights = pd.Series({"Er": 3.0, "Ho": 1.0, "Yb": 2.0})
    out = _prices(View(), cfg, 2022, weights, rec)
    assert out["HREE_other"] == pytest.approx((40.0 * 3 + 100.0 * 1) / 4)  # Yb has no price: left out
    prov = rec.frame()
    text = prov.loc[prov["parameter"] == "price_ref[oxide:HREE_other]", "source"].iloc[0]
    assert "carried forward from earlier years: " in text and "Er 2020" in text and "Ho 2019" in text


def test_usgs_mcs_sources_carry_their_edition_as_vintage(ds):
    """A figure printed in USGS MCS edition Y was public in Y, whatever the date of the copy it was
    read from: the vintage is the edition's (audit of issue 14: an MCS 2019 excerpt had been tagged
    with its 2025 copy, and so hidden from views before 2025)."""
    import re

    src = ds.table("sources")
    wrong = []
    for sid, cit, vintage in zip(src["source_id"], src["citation"], src["vintage"].fillna(""), strict=True):
        m = re.search(r"(?:USGS MCS|Mineral Commodity Summaries) (\d{4})\b", cit)
        if m and not str(vintage).startswith(m.group(1)):
            wrong.append((sid, m.group(1), vintage))
    assert wrong == []


def test_adamas_2014_outlook_is_visible_from_its_publication(ds):
    rows = ds.as_of("2015-01-01").table("demand_by_application")
    # the 2014 demand row; its forecast for 2020 describes 2020 and is read only after that year
    assert (rows["source_id"] == "adamas-intelligence-rare-5c8bec").sum() == 1
    assert (
        ds.as_of("2014-09-30").table("demand_by_application")["source_id"]
        == "adamas-intelligence-rare-5c8bec"
    ).sum() == 0


def _country_sum_over_world(view) -> dict[int, float]:
    """Preferred country rows of each year over the preferred world total (years with both)."""
    iso = set(view.table("countries")["iso3"])
    mp = view.table("mine_production", preferred=True)
    out = {}
    for year, g in mp.groupby("year"):
        world = g.loc[g["iso3"] == "WLD", "production_t_reo"]
        if len(world) and world.iloc[0] > 0:
            out[int(year)] = float(g.loc[g["iso3"].isin(iso), "production_t_reo"].fillna(0).sum()) / float(
                world.iloc[0]
            )
    return out


def test_country_rows_never_exceed_the_world_total_in_any_vintage_view(ds):
    """Issue 14's audit: shares of a world total stay <= 100 % (plus USGS rounding) in the full
    dataset and in every year-end view; where series contradict each other the data say which is
    the world's (USGS DS140), and the other rows are preferred in no view."""
    from reesim.data.dependence import ROUNDING_TOLERANCE_PCT

    limit = 1 + ROUNDING_TOLERANCE_PCT / 100
    for label, view in [("full", ds), *((y, ds.as_of(f"{y}-12-31")) for y in range(2001, 2027))]:
        mp = view.table("mine_production", preferred=True)
        countries = mp[mp["iso3"].fillna("") != ""]
        assert not countries.duplicated(["year", "iso3"]).any(), label
        over = {y: r for y, r in _country_sum_over_world(view).items() if r > limit}
        assert over == {}, label
    # the contradicting rows are kept, with their reason
    china_2010 = ds.table("mine_production", year=2010, iso3="CHN")
    assert china_2010["production_t_reo"].tolist() == [130_000]
    assert not china_2010["preferred"].iloc[0] and "DS140 is the world series" in china_2010["note"].iloc[0]


def test_each_mcs_edition_is_seen_by_the_views_of_its_time(ds):
    """U.S. mine production 2015 as printed by MCS 2016 (4,100 t, estimate) and by MCS 2019
    (5,900 t); DS140 (2023) carries the later compilation."""

    def us_2015(view):
        rows = view.table("mine_production", year=2015, iso3="USA", preferred=True)
        return rows["production_t_reo"].tolist(), rows["source_id"].tolist()

    assert us_2015(ds.as_of("2016-12-31")) == ([4_100], ["usgs-mcs-2016-rare-earths"])
    assert us_2015(ds.as_of("2019-12-31")) == ([5_900], ["usgs-mcs-2019-rare-earths"])
    assert us_2015(ds)[1] == ["usgs-data-series-120a0d"]
    # MCS 2007 (released 2007-01-23): China's 2006 estimate
    china = ds.as_of("2007-06-30").table("mine_production", year=2006, iso3="CHN", preferred=True)
    assert china["production_t_reo"].tolist() == [120_000]


def test_us_net_import_reliance_as_printed_by_mcs_2019(ds):
    from reesim.data.dependence import us_salient

    sal = us_salient(ds, 2014).set_index("measure")
    assert sal.loc["net_import_reliance:compounds_and_metals", "value"] == 56
    assert sal.loc["net_import_reliance:compounds_and_metals", "unit"] == "percent of apparent consumption"
    assert us_salient(ds.as_of("2019-02-27"), 2014).query("measure.str.startswith('net_import')").empty


def test_us_apparent_consumption_as_mcs_2019_printed_it_before_ds140(ds):
    """Between MCS 2019 (2019-02-28) and the DS140 workbook (2023-09-27) a view sees MCS 2019's
    apparent consumption for 2014 (12,200 t); the full dataset prefers DS140's later 10,800 t."""
    from reesim.data.dependence import us_salient

    early = us_salient(ds.as_of("2020-12-31"), 2014).set_index("measure")
    assert early.loc["apparent_consumption", "value"] == 12_200
    assert early.loc["apparent_consumption", "source_ids"] == "usgs-mcs-2019-rare-earths"
    assert us_salient(ds, 2014).set_index("measure").loc["apparent_consumption", "value"] == 10_800


def test_mcs_editions_are_dated_to_their_release(ds):
    """MCS 2025 (2023 output, 2024 first estimates) is public from its release (reported 2025-02-03),
    not from the end of 2025; its 2024 estimate gives way to MCS 2026's revision once that is out
    (data release 2026-02-06; the PDF row read is v1.3 of 2026-05-27)."""

    def burma(date, year):
        mp = ds.as_of(date).table("mine_production", preferred=True, iso3="MMR", year=year)
        return list(mp["production_t_reo"])

    assert burma("2025-02-02", 2023) == [] and burma("2025-02-03", 2023) == [43000.0]
    assert burma("2025-03-31", 2024) == [31000.0]
    assert burma("2026-06-30", 2024) == [27000.0]
    assert ds.table("sources", source_id="usgs-mcs-2024-cd7b6b")["vintage"].iloc[0] == "2024-01-31"


def test_a_view_knows_a_year_price_as_first_published(ds):
    """USGS MCS 2025 (vintage 2025-02-03) estimated the 2024 Dy oxide average at 260 USD/kg; MCS 2026
    revised it to 257. The full dataset prefers the revision; a view as of 2025-03-31 knows only
    MCS 2025's figure, and prefers it (the cash-cost anchor of a 2022 world reads it)."""
    key = {"date": "2024", "element": "Dy", "market_code": "fob_china", "form_code": "oxide"}
    full = ds.table("prices", preferred=True, **key)
    assert list(full["price"]) == [257.0]
    view = ds.as_of("2025-03-31").table("prices", preferred=True, **key)
    assert list(view["price"]) == [260.0] and list(view["source_id"]) == ["usgs-mineral-commodity-cf92a5"]
    # A view of 2024-12-31 knows no 2024 price yet (MCS 2025 was published in January 2025).
    assert ds.as_of("2024-12-31").table("prices", **key).empty
