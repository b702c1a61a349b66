"""Units of magnet-using products that a magnet shortfall represents (downstream value at risk).

A shortfall of NdFeB magnets (consumption of the magnet-using sectors below the
counterfactual, :func:`reesim.impacts.compare.shortage_table`) stops some product from being
built; which one depends on who gets the magnets that remain, which the market model does not
say. So the table states, for each magnet product with a cited intensity (kg of NdFeB per
unit, ``products.csv`` and the ``end_use_intensity`` rows), how many units the shortfall's
magnets would have gone into if all of it fell on that product:

    units = shortfall (t) x 1000 / kg per unit

with a range over the intensity rows (``units_low`` at the highest kg per unit). It is an upper
bound for each product separately, not a sum over products. The 2025 episode's documented
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
    "shortage_tonnes",
    "units_low",
    "units_high",
    "source_ids",
]


def magnet_products(content: pd.DataFrame) -> pd.DataFrame:
    """Products with a cited NdFeB intensity: ``product, per, kg_low, kg_high, source_ids``."""
    m = content[content["commodity"] == MAGNET]
    if m.empty:
        return pd.DataFrame(columns=["product", "per", "kg_low", "kg_high", "source_ids"])
    return m.groupby(["product", "per"], as_index=False).agg(
        kg_low=("kg_low", "min"),
        kg_high=("kg_high", "max"),
        source_ids=("source_id", lambda s: ",".join(sorted(set(s)))),
    )


def units_table(shortages: pd.DataFrame, content: pd.DataFrame) -> pd.DataFrame:
    """Units-equivalent of the magnet shortfall, by period, scope and product (module docstring).

    Scopes: each region with a shortfall, ``outside China`` and ``world``.
    """
    s = shortages[shortages["sector"].isin(MAGNET_SECTORS)]
    products = magnet_products(content)
    if s.empty or products.empty:
        return pd.DataFrame(columns=COLUMNS)
    by_region = s.groupby(["period", "year", "region"], as_index=False)["shortage_tonnes"].sum()
    outside = (
        by_region[by_region["region"] != OWNER]
        .groupby(["period", "year"], as_index=False)["shortage_tonnes"]
        .sum()
        .assign(region="outside China")
    )
    world = (
        by_region.groupby(["period", "year"], as_index=False)["shortage_tonnes"].sum().assign(region="world")
    )
    short = pd.concat([by_region, outside, world], ignore_index=True).rename(columns={"region": "scope"})
    short = short[short["shortage_tonnes"] > 1e-6]
    m = short.merge(products, how="cross")
    m["units_low"] = m["shortage_tonnes"] * 1000.0 / m["kg_high"]
    m["units_high"] = m["shortage_tonnes"] * 1000.0 / m["kg_low"]
    return m[COLUMNS].reset_index(drop=True)


def peak_units(units: pd.DataFrame, scope: str) -> dict:
    """The period of ``scope``'s largest shortfall and each product's units-equivalent then."""
    u = units[units["scope"] == scope]
    if u.empty:
        return {}
    per = u.loc[u["shortage_tonnes"].idxmax(), "period"]
    at = u[u["period"] == per]
    return {
        "scope": scope,
        "period": per,
        "shortage_tonnes": float(at["shortage_tonnes"].iloc[0]),
        "products": [
            {
                "product": r.product,
                "per": r.per,
                "units_low": float(r.units_low),
                "units_high": float(r.units_high),
                "source_ids": r.source_ids,
            }
            for r in at.itertuples(index=False)
        ],
    }
