"""Country codes and the mapping of every country to a model region."""

from __future__ import annotations

import pycountry

# DESIGN.md §1, default regions.
DESIGN_REGIONS = {
    "CHN",
    "USA",
    "AUS",
    "MMR",
    "MYS",
    "VNM",
    "THA",
    "IND",
    "RUS",
    "BRA",
    "NGA",
    "MDG",
    "JPN",
    "KOR",
    "EU",
    "ROW",
}
EU27 = {
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL",
    "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE",
}  # fmt: skip


def test_regions_are_the_design_defaults(ds):
    regions = ds.table("regions")
    assert set(regions["region"]) == DESIGN_REGIONS
    assert set(regions.loc[regions["kind"] == "aggregate", "region"]) == {"EU", "ROW"}


def test_every_iso_country_maps_to_exactly_one_region(ds):
    countries = ds.table("countries")
    assert set(countries["iso3"]) == {c.alpha_3 for c in pycountry.countries}
    assert countries["iso3"].is_unique
    regions = ds.table("regions").set_index("region")
    counts = countries.groupby("region").size()
    assert counts.sort_index().to_dict() == regions["members"].sort_index().to_dict()
    assert counts.sum() == len(countries)


def test_eu_is_the_27_member_states(ds):
    countries = ds.table("countries")
    assert set(countries.loc[countries["region"] == "EU", "iso3"]) == EU27
    # Countries that are regions of their own map to themselves.
    own = countries[countries["iso3"].isin(DESIGN_REGIONS)]
    assert (own["iso3"] == own["region"]).all()


def test_every_code_in_the_fact_tables_maps_to_a_region_or_a_declared_aggregate(ds):
    countries = set(ds.table("countries")["iso3"])
    aggregates = set(ds.table("aggregates")["code"].dropna())
    for name, spec in ds.registry.items():
        if spec.kind != "fact":
            continue
        for col in spec.columns:
            if col.dtype != "iso3":
                continue
            codes = set(ds.table(name)[col.name].dropna())
            assert codes <= countries | aggregates, (name, col.name, codes - countries - aggregates)


def test_rows_without_a_code_are_declared_residuals(ds):
    names = set(ds.table("aggregates").query("code.isna()", engine="python")["name"])
    assert names == {"Other countries"}
    for name, col, label in (
        ("mine_production", "iso3", "country"),
        ("trade_flows", "partner_iso3", "partner"),
    ):
        df = ds.table(name)
        assert set(df.loc[df[col].isna(), label]) <= names
