"""Dependence report: who holds each stage of the chain, and how concentrated it is.

For each stage with data (mining from USGS mine production; separation/refining and
magnet making from the world-share rows of ``processing_capacity``) it gives the top
country's share, China's share and the Herfindahl-Hirschman index (with bounds where the
data covers less than the whole world), each with the source ids of the rows it used.
U.S. import reliance is reported from the USGS import-source shares the data carries.
"""

from __future__ import annotations

import pandas as pd

from reesim.data.dataset import Dataset
from reesim.errors import InputError
from reesim.metrics import hhi_bounds, shares_pct

STAGES = ("mining", "separation", "magnet")
COLUMNS = [
    "stage",
    "year",
    "top_country",
    "top_share_pct",
    "china_share_pct",
    "hhi_low",
    "hhi_high",
    "coverage_pct",
    "n_holders",
    "basis",
    "source_ids",
    "note",
]


def country_codes(ds: Dataset) -> set[str]:
    """ISO3 codes of real countries (not aggregates)."""
    return set(ds.table("countries")["iso3"])


def mining_years(ds: Dataset) -> list[int]:
    """Years for which a positive mine production is given for at least one country besides the U.S."""
    df = ds.table("mine_production", preferred=True)
    iso = country_codes(ds)
    ok = df[df["iso3"].isin(iso - {"USA"}) & (df["production_t_reo"].fillna(0) > 0)]
    return sorted(int(y) for y in ok["year"].unique())


#: Country rows may exceed the printed world total by this much (percent) before the
#: report calls the rows inconsistent: USGS rounds world totals to 2-3 significant digits.
ROUNDING_TOLERANCE_PCT = 2.0


def _row(
    stage: str, year: int, shares: dict[str, float], basis: str, sources: list[str], note: str = ""
) -> dict:
    if not shares:
        return {
            "stage": stage,
            "year": year,
            "basis": basis,
            "source_ids": ",".join(sorted(set(sources))),
            "note": note,
        }
    low, high = hhi_bounds(shares, tolerance_pct=ROUNDING_TOLERANCE_PCT)
    top = max(shares, key=shares.__getitem__)
    return {
        "stage": stage,
        "year": year,
        "top_country": top,
        "top_share_pct": shares[top],
        "china_share_pct": shares.get("CHN", float("nan")),
        "hhi_low": low,
        "hhi_high": high,
        "coverage_pct": sum(shares.values()),
        "n_holders": len(shares),
        "basis": basis,
        "source_ids": ",".join(sorted(set(sources))),
        "note": note,
    }


def mining_row(ds: Dataset, year: int) -> dict:
    """Shares of world mine production (t REO) in ``year`` from USGS rows."""
    years = mining_years(ds)
    if year not in years:
        rows = ds.table("mine_production")
        held = rows[
            (rows["year"] == year) & ~rows["preferred"].astype(bool) & rows["iso3"].isin(country_codes(ds))
        ]
        why = ""
        if len(held):
            listed = ", ".join(
                f"{c} {v:,.0f} t ({s})"
                for c, v, s in zip(held["iso3"], held["production_t_reo"], held["source_id"], strict=True)
            )
            why = f" (the dataset keeps {listed}, but not as preferred: see the rows' notes)"
        raise InputError(
            f"no mine production by country for year {year}{why}; years with country data: "
            f"{', '.join(map(str, years))}"
        )
    df = ds.table("mine_production", year=year, preferred=True)
    world = df[df["iso3"] == "WLD"]
    if world.empty or pd.isna(world["production_t_reo"].iloc[0]):
        raise InputError(f"mine_production has no world total for {year}")
    iso = country_codes(ds)
    countries = df[df["iso3"].isin(iso) & df["production_t_reo"].notna()]
    countries = countries[countries["production_t_reo"] > 0]
    total = float(world["production_t_reo"].iloc[0])
    listed = float(countries["production_t_reo"].sum())
    sources = [*countries["source_id"], *world["source_id"]]
    n = len(countries)
    basis = f"mine production, t REO, {n} {'country' if n == 1 else 'countries'} of a world total of {total:,.0f} t"
    if listed > total * (1 + ROUNDING_TOLERANCE_PCT / 100):
        note = (
            f"listed countries sum to {listed:,.0f} t, more than the world total of {total:,.0f} t "
            "(the rows come from sources that disagree, see the rows' notes); shares not computed"
        )
        return _row("mining", year, {}, basis, sources, note)
    note = ""
    if listed > total:
        note = (
            f"country rows sum to {100 * listed / total:.1f} % of the printed world total, "
            "which USGS rounds; shares are of the printed total"
        )
    shares = shares_pct(
        dict(zip(countries["iso3"], countries["production_t_reo"].astype(float), strict=True)), total
    )
    return _row("mining", year, shares, basis, sources, note)


def share_row(ds: Dataset, stage: str, year: int) -> dict | None:
    """World shares of ``stage`` for the latest year <= ``year`` with share rows, or None."""
    df = ds.table(
        "processing_capacity", stage_code=stage, metric_code="world_share", unit="percent", preferred=True
    )
    df = df[(df["year"] <= year) & (df["iso3"] != "WLD") & df["value"].notna()]
    if df.empty:
        return None
    latest = int(df["year"].max())
    rows = df[df["year"] == latest]
    vintages = ds.table("sources", source_id=list(rows["source_id"].unique())).set_index("source_id")[
        "vintage"
    ]
    rows = (
        rows.assign(vintage=rows["source_id"].map(vintages).fillna(""))
        .sort_values("vintage", ascending=False)
        .drop_duplicates("iso3")
    )
    shares = dict(zip(rows["iso3"], rows["value"].astype(float), strict=True))
    metrics = "; ".join(sorted(set(rows["metric"])))
    return _row(stage, latest, shares, f"{metrics} (percent)", list(rows["source_id"]))


def dependence(ds: Dataset, year: int | None = None) -> pd.DataFrame:
    """Concentration of each stage of the chain.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    year : int, optional
        Year of interest; default the latest year with mine production by country.
        Stages without data for that year use their latest earlier year (column ``year``).

    Returns
    -------
    DataFrame
        One row per stage with data (columns :data:`COLUMNS`); shares in percent, HHI on
        the 0-10,000 scale with bounds (``hhi_low`` = ``hhi_high`` when coverage is full).
    """
    year = year if year is not None else mining_years(ds)[-1]
    rows = [mining_row(ds, year)]
    for stage in STAGES[1:]:
        row = share_row(ds, stage, year)
        if row is not None:
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def us_import_sources(ds: Dataset, year: int | None = None) -> pd.DataFrame:
    """U.S. import-source shares (USGS MCS, multi-year periods) with China's share.

    Returns one row per commodity for the latest period ending at or before ``year``
    (default: the latest period): ``commodity, period, china_share_pct, top_partner,
    top_share_pct, source_ids``.
    """
    df = ds.table("trade_flows", flow="import_share", reporter_iso3="USA")
    if year is not None:
        df = df[df["year_end"] <= year]
    out = []
    for commodity, grp in df.groupby("hs_code", sort=True):
        last = grp[grp["year_end"] == grp["year_end"].max()]
        top = last.loc[last["share_pct"].idxmax()]
        china = last.loc[last["partner_iso3"] == "CHN", "share_pct"]
        out.append(
            {
                "commodity": commodity,
                "period": last["year"].iloc[0],
                "china_share_pct": float(china.iloc[0]) if len(china) else 0.0,
                "top_partner": top["partner_iso3"] or top["partner"],
                "top_share_pct": float(top["share_pct"]),
                "source_ids": ",".join(sorted(set(last["source_id"]))),
            }
        )
    return pd.DataFrame(out)


#: The U.S. salient statistics shown by ``reesim data dependence``, in this order.
SALIENT = ("imports", "exports", "apparent_consumption", "net_import_reliance")


def us_salient(ds: Dataset, year: int) -> pd.DataFrame:
    """U.S. imports, exports, apparent consumption and net import reliance for ``year``.

    One row per measure the dataset holds for the year (``us_salient_statistics``, preferred
    rows; the net import reliance only where a USGS MCS edition printed it, with its product
    split after a colon): ``measure, value, unit, source_ids``.
    """
    df = ds.table("us_salient_statistics", preferred=True)
    df = df[(df["year"] == year) & df["measure"].str.split(":").str[0].isin(SALIENT) & df["value"].notna()]
    order = {m: i for i, m in enumerate(SALIENT)}
    df = df.assign(_o=df["measure"].str.split(":").str[0].map(order)).sort_values(["_o", "measure"])
    return pd.DataFrame(
        {
            "measure": df["measure"].to_numpy(),
            "value": df["value"].astype(float).to_numpy(),
            "unit": df["unit"].to_numpy(),
            "source_ids": df["source_id"].to_numpy(),
        }
    )
