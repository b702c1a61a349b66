"""Stage tables: a result's production, consumption and trade per supply-chain stage, and net imports.

The stage of a commodity comes from the prefix of its name (:func:`stage_of`); stock
releases and stockpile purchases are left out (:func:`stage_tables`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from reesim.impacts.risk.inputs import _keys, _require

#: Supply-chain stage of a commodity, by the prefix before ``:`` of its name.
STAGE_OF_PREFIX = {"concentrate": "mining", "oxide": "separation", "metal": "metal", "magnet": "magnet"}
#: Stage of commodities whose prefix is not in :data:`STAGE_OF_PREFIX` (e.g. a world file's ``widget``).
OTHER_STAGE = "other"
#: Process ids of stockpile releases (see ``reesim.instruments.stockpile.release_id``): a
#: drawdown of stocks, not production.
STOCK_RELEASE_PREFIX = "stock-release:"
#: Demand sector of stockpile purchases (see ``reesim.instruments.stockpile``): stock building.
STOCKPILE_SECTOR = "stockpile"


class StageTables(NamedTuple):
    """Per-(year, stage, commodity, region) tables in tonnes, built by :func:`stage_tables`."""

    production: pd.DataFrame
    """``year, stage, commodity, region, tonnes``."""
    consumption: pd.DataFrame
    """``year, stage, commodity, region, tonnes`` (final use, stock building excluded)."""
    net_imports: pd.DataFrame
    """``year, stage, commodity, region, tonnes`` (imports minus exports; negative: net exporter)."""
    trade: pd.DataFrame
    """``year, stage, commodity, exporter, importer, tonnes`` (bilateral flows)."""


#: A cracker's mixed heavy concentrate (``concentrate:hree_<ore>``, Lynas' "SEGH", and a heavy
#: circuit's residue ``concentrate:hree_rest_...``) is made where ore concentrate is cracked,
#: i.e. by separation plants, not mines.
SEPARATION_CONCENTRATE_PREFIX = "concentrate:hree_"


def stage_of(commodity: str) -> str:
    """Stage of ``commodity``: concentrate -> mining (a cracker's heavy concentrate -> separation),
    oxide -> separation, metal, magnet, else other."""
    if str(commodity).startswith(SEPARATION_CONCENTRATE_PREFIX):
        return "separation"
    return STAGE_OF_PREFIX.get(str(commodity).split(":", 1)[0], OTHER_STAGE)


def _stages(commodities: pd.Series) -> pd.Series:
    """:func:`stage_of` of every row, computed once per distinct commodity."""
    codes, names = commodities.factorize(use_na_sentinel=False)
    stages = np.array([stage_of(c) for c in names], dtype=object)
    return pd.Series(stages[codes] if len(names) else [], index=commodities.index, dtype="str")


def net_imports_from_trade(trade: pd.DataFrame) -> pd.DataFrame:
    """Imports minus exports per ``[year], [stage], commodity, region`` from bilateral flows.

    Parameters
    ----------
    trade : DataFrame
        ``[year], [stage], commodity, exporter, importer, tonnes``. Flows from a region to
        itself are ignored.

    Returns
    -------
    DataFrame
        Key columns, ``region`` and ``tonnes`` (negative for a net exporter).
    """
    keys = _keys(trade)
    _require(trade, "trade", ["commodity", "exporter", "importer", "tonnes"])
    t = trade[trade["exporter"] != trade["importer"]]
    inflow = t[[*keys, "importer", "tonnes"]].rename(columns={"importer": "region"})
    outflow = t[[*keys, "exporter", "tonnes"]].rename(columns={"exporter": "region"})
    outflow = outflow.assign(tonnes=-outflow["tonnes"].astype(float))
    both = pd.concat([inflow.assign(tonnes=inflow["tonnes"].astype(float)), outflow], ignore_index=True)
    return both.groupby([*keys, "region"], as_index=False, sort=True)["tonnes"].sum()


def stage_tables(
    production: pd.DataFrame, consumption: pd.DataFrame | None, trade: pd.DataFrame | None
) -> StageTables:
    """Annual production, consumption, net imports and trade per stage from a result's tables.

    Tonnes moved in each step (column ``tonnes``) are summed over the steps of a year. The
    stage of a commodity comes from its name (:func:`stage_of`). Left out: production rows
    of kind ``capacity`` (separation service), ``service:`` commodities, stockpile releases
    (processes ``stock-release:...``: a stock drawdown, not production) and stockpile
    purchases (sector ``stockpile``: stock building, not consumption). Stock changes are
    thus omitted from all tables, as in :func:`net_import_reliance`.

    Parameters
    ----------
    production : DataFrame
        A result's ``production`` table: ``period, year, region, process, kind, commodity,
        tonnes, tonnes_per_year`` (``process`` and ``kind`` optional).
    consumption : DataFrame or None
        A result's ``consumption`` table: ``period, year, region, sector, commodity, tonnes, ...``.
    trade : DataFrame or None
        A result's ``trade`` table: ``period, year, commodity, exporter, importer, tonnes, ...``.

    Returns
    -------
    StageTables
        ``production``, ``consumption``, ``net_imports`` (``year, stage, commodity, region,
        tonnes``) and ``trade`` (``year, stage, commodity, exporter, importer, tonnes``).
    """
    cols = ["year", "stage", "commodity", "region", "tonnes"]

    def keep(df: pd.DataFrame) -> pd.Series:
        return ~df["commodity"].astype(str).str.startswith("service:")

    _require(production, "production", ["year", "region", "commodity", "tonnes"])
    p = production[keep(production)]
    if "kind" in p.columns:
        p = p[p["kind"] != "capacity"]
    if "process" in p.columns:
        p = p[~p["process"].astype(str).str.startswith(STOCK_RELEASE_PREFIX)]
    p = p.assign(stage=_stages(p["commodity"]), tonnes=p["tonnes"].astype(float))
    prod = p.groupby(cols[:-1], as_index=False, sort=True)["tonnes"].sum()[cols]

    if consumption is None:
        cons = pd.DataFrame({c: pd.Series(dtype=float if c == "tonnes" else object) for c in cols})
    else:
        _require(consumption, "consumption", ["year", "region", "commodity", "tonnes"])
        c = consumption[keep(consumption)]
        if "sector" in c.columns:
            c = c[c["sector"] != STOCKPILE_SECTOR]
        c = c.assign(stage=_stages(c["commodity"]), tonnes=c["tonnes"].astype(float))
        cons = c.groupby(cols[:-1], as_index=False, sort=True)["tonnes"].sum()[cols]

    tcols = ["year", "stage", "commodity", "exporter", "importer", "tonnes"]
    if trade is None:
        flows = pd.DataFrame({c: pd.Series(dtype=float if c == "tonnes" else object) for c in tcols})
    else:
        _require(trade, "trade", ["year", "commodity", "exporter", "importer", "tonnes"])
        t = trade[keep(trade)]
        t = t.assign(stage=_stages(t["commodity"]), tonnes=t["tonnes"].astype(float))
        flows = t.groupby(tcols[:-1], as_index=False, sort=True)["tonnes"].sum()[tcols]
    net = net_imports_from_trade(flows)[cols] if len(flows) else pd.DataFrame(columns=cols)
    return StageTables(prod, cons, net.astype({"tonnes": float}), flows)
