"""Units of magnet-using products that a magnet shortfall represents (downstream value at risk).

A shortfall of NdFeB magnets (consumption of the magnet-using sectors below the
counterfactual, :func:`reesim.impacts.compare.shortage_table`) stops some product from being
built; which one depends on who gets the magnets that remain, which the market model does not
say. So the table states, for each magnet product with a cited intensity (kg of NdFeB per
unit, ``products.csv`` and the ``end_use_intensity`` rows), how many units the shortfall's
magnets would have gone into if all of it fell on that product:

    units = shortfall (t) x 1000 / kg per unit

with a range over the intensity rows (``units_low`` at the highest kg per unit), each product
taking the shortfall of its own sector (defense for an F-35, the magnet users for a car). It is
an upper bound for each product separately, not a sum over products. The 2025 episode's documented
halts are the order-of-magnitude check (docs/downstream.md).
"""

from __future__ import annotations

import pandas as pd

OWNER = "CHN"
#: demand sectors whose consumption of magnets is final use by product makers
MAGNET_SECTORS = ("magnet users", "defense")
MAGNET = "magnet:ndfeb"
COLUMNS = [
    "period",
    "year",
    "scope",
    "product",
    "per",
    "sector",
    "shortage_tonnes",
    "units_low",
    "units_high",
    "source_ids",
]


def magnet_products(content: pd.DataFrame) -> pd.DataFrame:
    """Products with a cited NdFeB intensity: ``product, per, sector, kg_low, kg_high, source_ids``.

    ``sector`` is the demand sector whose shortfall the product can suffer (``products.csv``:
    an F-35's magnets come out of the defense sector's, a car's out of the magnet users').
    """
    m = content[content["commodity"] == MAGNET]
    if m.empty:
        return pd.DataFrame(columns=["product", "per", "sector", "kg_low", "kg_high", "source_ids"])
    if "sector" not in m:
        m = m.assign(sector=MAGNET_SECTORS[0])
    return m.groupby(["product", "per", "sector"], as_index=False).agg(
        kg_low=("kg_low", "min"),
        kg_high=("kg_high", "max"),
        source_ids=("source_id", lambda s: ",".join(sorted(set(s)))),
    )


def _net_shortfall(s: pd.DataFrame) -> pd.DataFrame:
    """Shortfall of each scope (every region, outside China, world) and sector, t per step: the
    counterfactual's consumption minus the scenario's, summed over the scope's regions first, so
    a region that consumes more offsets one that consumes less; floored at 0."""
    keys = ["period", "year", "sector"]
    by_region = s.groupby([*keys, "region"], as_index=False)[["tonnes", "tonnes_cf"]].sum()
    outside = (
        by_region[by_region["region"] != OWNER].groupby(keys, as_index=False)[["tonnes", "tonnes_cf"]].sum()
    ).assign(region="outside China")
    world = by_region.groupby(keys, as_index=False)[["tonnes", "tonnes_cf"]].sum().assign(region="world")
    out = pd.concat([by_region, outside, world], ignore_index=True).rename(columns={"region": "scope"})
    out["shortage_tonnes"] = (out["tonnes_cf"] - out["tonnes"]).clip(lower=0.0)
    return out[out["shortage_tonnes"] > 1e-6]


def units_table(shortages: pd.DataFrame, content: pd.DataFrame) -> pd.DataFrame:
    """Units-equivalent of the magnet shortfall, by period, scope and product (module docstring).

    Scopes: each region with a shortfall, ``outside China`` and ``world`` (net of regions that
    consume more); each product takes the shortfall of its own sector only.
    """
    s = shortages[shortages["sector"].isin(MAGNET_SECTORS)]
    products = magnet_products(content)
    if s.empty or products.empty:
        return pd.DataFrame(columns=COLUMNS)
    m = _net_shortfall(s).merge(products, on="sector", how="inner")
    m["units_low"] = m["shortage_tonnes"] * 1000.0 / m["kg_high"]
    m["units_high"] = m["shortage_tonnes"] * 1000.0 / m["kg_low"]
    return m[COLUMNS].sort_values(["period", "scope", "product"]).reset_index(drop=True)


def peak_units(units: pd.DataFrame, scope: str) -> dict:
    """The period of ``scope``'s largest shortfall and each product's units-equivalent then."""
    u = units[units["scope"] == scope]
    if u.empty:
        return {}
    per = u.groupby("period")["shortage_tonnes"].max().idxmax()
    at = u[u["period"] == per]
    return {
        "scope": scope,
        "period": per,
        "shortage_tonnes": float(at.drop_duplicates("sector")["shortage_tonnes"].sum()),
        "products": [
            {
                "product": r.product,
                "per": r.per,
                "sector": r.sector,
                "shortage_tonnes": float(r.shortage_tonnes),
                "units_low": float(r.units_low),
                "units_high": float(r.units_high),
                "source_ids": r.source_ids,
            }
            for r in at.itertuples(index=False)
        ],
    }
