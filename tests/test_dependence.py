"""The dependence report against figures computed by hand from the USGS rows."""

from __future__ import annotations

import pytest

from reesim.data.dependence import dependence, mining_years, us_import_sources, us_salient
from reesim.errors import InputError

# USGS MCS 2026, World Mine Production and Reserves, 2024 column (t REO), as printed.
MCS2026_2024 = {
    "AUS": 29_000,
    "BRA": 560,
    "MMR": 27_000,
    "CHN": 270_000,
    "IND": 2_900,
    "MDG": 1_400,
    "MYS": 140,
    "NGA": 1_500,
    "RUS": 2_600,
    "THA": 2_100,
    "USA": 45_500,
    "VNM": 300,
}
WORLD_2024 = 380_000


def test_mining_2024_matches_hand_computation(ds):
    row = dependence(ds, 2024).set_index("stage").loc["mining"]
    assert row["year"] == 2024
    assert row["top_country"] == "CHN"
    assert row["china_share_pct"] == pytest.approx(100 * 270_000 / WORLD_2024, rel=1e-12)  # 71.05 %
    hhi = sum((100 * v / WORLD_2024) ** 2 for v in MCS2026_2024.values())
    assert row["hhi_low"] == pytest.approx(hhi, rel=1e-12)  # 5,302
    assert row["hhi_high"] == pytest.approx(hhi, rel=1e-12)  # coverage > 100 %: no residual
    assert row["coverage_pct"] == pytest.approx(100 * sum(MCS2026_2024.values()) / WORLD_2024)
    assert "rounds" in row["note"]
    assert row["n_holders"] == len(MCS2026_2024)


def test_default_year_is_the_latest_with_country_data(ds):
    dep = dependence(ds)
    assert dep["year"].iloc[0] == mining_years(ds)[-1] == 2025
    china = dep.set_index("stage").loc["mining", "china_share_pct"]
    assert china == pytest.approx(100 * 270_000 / 390_000)


def test_separation_and_magnets_use_the_latest_share_rows_with_bounds(ds):
    dep = dependence(ds, 2025).set_index("stage")
    sep = dep.loc["separation"]
    assert (sep["year"], sep["china_share_pct"]) == (2025, 91.0)
    assert (sep["hhi_low"], sep["hhi_high"]) == (91.0**2, 91.0**2 + 9.0**2)
    mag = dep.loc["magnet"]
    assert (mag["year"], mag["china_share_pct"]) == (2025, 94.0)
    assert mag["source_ids"] == "iea-commentary-2025-c13645"


def test_magnets_2010_have_full_coverage(ds):
    # China.org.cn (2013): China 79.4 %, Japan 19.3 %, Europe 1.3 % of sintered NdFeB in 2010.
    mag = dependence(ds, 2012).set_index("stage").loc["magnet"]
    assert mag["year"] == 2010
    assert mag["coverage_pct"] == pytest.approx(100.0)
    assert mag["hhi_low"] == pytest.approx(79.4**2 + 19.3**2 + 1.3**2)
    assert mag["hhi_high"] == pytest.approx(mag["hhi_low"])


def test_conflicting_sources_are_named_not_computed(ds):
    # 2010: China ~130,000 t (secondary) against the DS140 world total of 101,000 t: the China
    # row is kept but not preferred (the data say DS140 is the world series), and the error says so.
    with pytest.raises(
        InputError, match=r"keeps CHN 130,000 t \(indexmundi-blog-world-c46c0e\), but not as preferred"
    ):
        dependence(ds, 2010)


def test_unknown_year_names_the_years_with_data(ds):
    with pytest.raises(InputError, match="years with country data: 2004, 2005, 2006, 2012"):
        dependence(ds, 1990)


def test_us_import_sources(ds):
    imp = us_import_sources(ds).set_index("commodity")
    ree = imp.loc["2805.30+2846+3606.90 (rare-earth compounds and metals)"]
    assert (ree["period"], ree["china_share_pct"], ree["top_partner"]) == ("2021-2024", 71.0, "CHN")
    tb = imp.loc["Tb compounds and metals (no dedicated HTS code)"]
    assert tb["china_share_pct"] == 100.0
    older = us_import_sources(ds, 2023).set_index("commodity")
    assert older.loc["2805.30+2846+3606.90 (rare-earth compounds and metals)", "china_share_pct"] == 70.0


def test_us_salient_statistics_2010_as_in_ds140(ds):
    """USGS DS140 (rare earths workbook, last modified 2023-09-27), 2010 row, as printed."""
    sal = us_salient(ds, 2010).set_index("measure")
    assert sal.loc["imports", "value"] == 12_900
    assert sal.loc["exports", "value"] == 7_880
    assert sal.loc["apparent_consumption", "value"] == 5_050
    assert set(sal["unit"]) == {"t REO"}
    # DS140's apparent consumption differs from imports - exports by the stock change it records
    assert (
        sal.loc["imports", "value"] - sal.loc["exports", "value"] != sal.loc["apparent_consumption", "value"]
    )


def test_us_salient_statistics_follow_the_vintage_rule(ds):
    assert us_salient(ds.as_of("2023-09-26"), 2010).empty  # the workbook of 2023-09-27 not yet out
    assert len(us_salient(ds.as_of("2023-12-31"), 2010)) == 3


def test_us_salient_statistics_2025_from_mcs_2026(ds):
    """MCS 2026's salient statistics by product (t REO), as its data release prints them; its net
    import reliance only where it printed a number (2024-2025; '>95' and '>90' before)."""
    sal = us_salient(ds, 2025).set_index("measure")
    assert sal.loc["imports:compounds", "value"] == 21_000
    assert sal.loc["exports:ores_and_compounds", "value"] == 14_000
    assert sal.loc["apparent_consumption:compounds_and_metals", "value"] == 27_000
    assert sal.loc["net_import_reliance:compounds_and_metals", "value"] == 67
    assert set(sal["source_ids"]) == {"usgs-mineral-commodity-ea8a2b"}
    assert "net_import_reliance:compounds_and_metals" not in set(us_salient(ds, 2022)["measure"])
    assert us_salient(ds.as_of("2026-02-05"), 2025).empty  # MCS 2026 was posted on 2026-02-06
