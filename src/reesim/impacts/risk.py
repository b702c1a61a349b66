"""Concentration and supply-risk indicators as pure functions on plain tables.

The inputs are long pandas tables in tonnes, so the same functions serve simulation results
(see :func:`stage_tables`) and data:

* production: columns ``[year], [stage], commodity, region, tonnes``;
* consumption: the same columns (final use by region);
* net imports: the same columns (imports minus exports of the region);
* bilateral trade: ``[year], [stage], commodity, exporter, importer, tonnes``.

``year`` and ``stage`` are optional (data tables may give one year, or no stage); every
indicator is computed per ``(year, stage, commodity)`` using whichever of those keys the
input has. Shares here are of the regions listed in the table, so they are complete
(the Herfindahl-Hirschman bounds of :func:`reesim.metrics.hhi_bounds` coincide).

Governance scores, end-of-life recycling input rates, substitution indices and the
economic vulnerability of users are not in reesim's dataset. The functions take them as
arguments; where one is not given they use a stated default and say so in a flag column
(``governance_weighted``, ``ev_default``, ``eol_rir_default``, ``si_default``,
``trade_parameter_default``) and in the ``basis`` text of :func:`indicators_table`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from reesim.errors import InputError
from reesim.metrics import hhi_bounds, shares_pct

#: Region code of China (ISO 3166-1 alpha-3, as in reesim's world).
CHINA = "CHN"
#: Region label of world-level rows in :func:`indicators_table`.
WORLD = "world"
#: Supply-chain stage of a commodity, by the prefix before ``:`` of its name.
STAGE_OF_PREFIX = {"concentrate": "mining", "oxide": "separation", "metal": "metal", "magnet": "magnet"}
#: Stage of commodities whose prefix is not in :data:`STAGE_OF_PREFIX` (e.g. a world file's ``widget``).
OTHER_STAGE = "other"
#: Grouping keys an indicator is computed over, in this order, when the input has them.
KEYS = ("year", "stage", "commodity")
#: Process ids of stockpile releases (see ``reesim.instruments.stockpile.release_id``): a
#: drawdown of stocks, not production.
STOCK_RELEASE_PREFIX = "stock-release:"
#: Demand sector of stockpile purchases (see ``reesim.instruments.stockpile``): stock building.
STOCKPILE_SECTOR = "stockpile"
#: EU methodology: the scaled WGI runs from 0 to this value (here: 10 x a 0-1 score).
EU_WGI_SCALE = 10.0

_REL_TOL = 1e-9


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


# --------------------------------------------------------------------------- helpers


def stage_of(commodity: str) -> str:
    """Stage of ``commodity``: concentrate -> mining, oxide -> separation, metal, magnet, else other."""
    return STAGE_OF_PREFIX.get(str(commodity).split(":", 1)[0], OTHER_STAGE)


def _require(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {missing}; has {list(df.columns)}")


def _keys(df: pd.DataFrame) -> list[str]:
    return [k for k in KEYS if k in df.columns]


def _common_keys(frames: Mapping[str, pd.DataFrame | None]) -> list[str]:
    given = {n: _keys(f) for n, f in frames.items() if f is not None}
    first = next(iter(given.values()))
    for n, k in given.items():
        if k != first:
            raise InputError(f"tables have different key columns: {given}; {n} has {k}")
    if "commodity" not in first:
        raise InputError(f"tables need a 'commodity' column; key columns found: {given}")
    return first


def _by_region(df: pd.DataFrame | None, keys: list[str], name: str) -> pd.Series:
    """Tonnes summed per keys + region (empty Series when ``df`` is None)."""
    if df is None:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=[*keys, "region"]))
    _require(df, name, [*keys, "region", "tonnes"])
    tonnes = df["tonnes"].astype(float)
    if tonnes.isna().any():
        raise InputError(f"{name}: 'tonnes' has missing values")
    return tonnes.groupby([df[k] for k in [*keys, "region"]]).sum()


def _unit_scores(
    regions: Sequence[str], scores: Mapping[str, float] | None, what: str, low: float = 0.0, high: float = 1.0
) -> dict[str, float]:
    """Each region's score from ``scores`` (checked against [low, high]); 1.0 for all when None."""
    if scores is None:
        return dict.fromkeys(regions, 1.0)
    missing = sorted(set(regions) - set(scores))
    if missing:
        raise InputError(f"{what}: no value for region(s) {missing}; give one for every region, or None")
    out = {r: float(scores[r]) for r in regions}
    bad = {r: v for r, v in out.items() if not low <= v <= high}  # also rejects NaN
    if bad:
        raise InputError(f"{what} must be in [{low}, {high}], got {bad}")
    return out


def _per_commodity(
    value: float | Mapping[str, float] | None, commodity: str, what: str, default: float
) -> tuple[float, bool]:
    """(value for ``commodity``, whether it is the default), checked against [0, 1]."""
    if value is None:
        return default, True
    if isinstance(value, Mapping):
        if commodity not in value:
            raise InputError(f"{what}: no value for commodity {commodity!r}; give one for every commodity")
        v = float(value[commodity])
    else:
        v = float(value)
    if not 0.0 <= v <= 1.0:
        raise InputError(f"{what} must be in [0, 1], got {v} for {commodity!r}")
    return v, False


# --------------------------------------------------------------------------- stage tables


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
    p = p.assign(stage=p["commodity"].map(stage_of), tonnes=p["tonnes"].astype(float))
    prod = p.groupby(cols[:-1], as_index=False, sort=True)["tonnes"].sum()[cols]

    if consumption is None:
        cons = pd.DataFrame({c: pd.Series(dtype=float if c == "tonnes" else object) for c in cols})
    else:
        _require(consumption, "consumption", ["year", "region", "commodity", "tonnes"])
        c = consumption[keep(consumption)]
        if "sector" in c.columns:
            c = c[c["sector"] != STOCKPILE_SECTOR]
        c = c.assign(stage=c["commodity"].map(stage_of), tonnes=c["tonnes"].astype(float))
        cons = c.groupby(cols[:-1], as_index=False, sort=True)["tonnes"].sum()[cols]

    tcols = ["year", "stage", "commodity", "exporter", "importer", "tonnes"]
    if trade is None:
        flows = pd.DataFrame({c: pd.Series(dtype=float if c == "tonnes" else object) for c in tcols})
    else:
        _require(trade, "trade", ["year", "commodity", "exporter", "importer", "tonnes"])
        t = trade[keep(trade)]
        t = t.assign(stage=t["commodity"].map(stage_of), tonnes=t["tonnes"].astype(float))
        flows = t.groupby(tcols[:-1], as_index=False, sort=True)["tonnes"].sum()[tcols]
    net = net_imports_from_trade(flows)[cols] if len(flows) else pd.DataFrame(columns=cols)
    return StageTables(prod, cons, net.astype({"tonnes": float}), flows)


# --------------------------------------------------------------------------- concentration


def concentration(production: pd.DataFrame, china: str = CHINA) -> pd.DataFrame:
    """Top region, top share, China's share and HHI of production per (year, stage, commodity).

    Shares are each region's percent of the total of the regions listed
    (:func:`reesim.metrics.shares_pct`), so they are complete and the HHI's lower and upper
    bounds (:func:`reesim.metrics.hhi_bounds`) are equal:

    .. math:: s_i = 100 \\, q_i / \\sum_j q_j, \\qquad HHI = \\sum_i s_i^2 \\in [10\\,000/n, 10\\,000].

    References
    ----------
    U.S. Department of Justice and Federal Trade Commission, *Merger Guidelines* (2023), §2.1:
    HHI = sum of the squares of the market shares, in percent.

    Parameters
    ----------
    production : DataFrame
        ``[year], [stage], commodity, region, tonnes``.
    china : str
        Region code whose share is reported as ``china_share_pct`` (0 when it does not produce).

    Returns
    -------
    DataFrame
        Key columns, ``total_tonnes, n_regions, top_region, top_share_pct, china_share_pct,
        hhi, hhi_low, hhi_high``. Groups with zero total production are left out; ties for
        the top share go to the alphabetically first region.
    """
    keys = _common_keys({"production": production})
    q = _by_region(production, keys, "production")
    if (q < 0).any():
        raise InputError(f"production: negative tonnes {q[q < 0].to_dict()}")
    rows = []
    for key, grp in q[q > 0].groupby(level=keys, sort=True):
        by_region = dict(zip(grp.index.get_level_values("region"), grp.to_numpy(float), strict=True))
        total = float(sum(by_region.values()))
        shares = shares_pct(by_region, total)
        low, high = hhi_bounds(shares)
        top = min(by_region, key=lambda r: (-by_region[r], str(r)))
        rows.append(
            {
                **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                "total_tonnes": total,
                "n_regions": len(by_region),
                "top_region": top,
                "top_share_pct": shares[top],
                "china_share_pct": shares.get(china, 0.0),
                "hhi": low,
                "hhi_low": low,
                "hhi_high": high,
            }
        )
    columns = [*keys, "total_tonnes", "n_regions", "top_region", "top_share_pct", "china_share_pct"]
    return pd.DataFrame(rows, columns=[*columns, "hhi", "hhi_low", "hhi_high"])


# --------------------------------------------------------------------------- net import reliance


def net_import_reliance(
    production: pd.DataFrame, consumption: pd.DataFrame | None, net_imports: pd.DataFrame
) -> pd.DataFrame:
    """Net import reliance of each region, in percent of apparent consumption.

    .. math::

        AC = P + NI, \\qquad NIR = 100 \\, (AC - P) / AC = 100 \\, NI / AC,

    with ``P`` the region's production and ``NI`` its net imports (imports minus exports).
    USGS defines net import reliance as imports minus exports plus adjustments for stock
    changes, as a percentage of apparent consumption (production + imports - exports +
    stock changes); stock changes are omitted here. ``nir_pct`` is clipped to [0, 100] (a
    net exporter has 0 %) and ``nir_unclipped_pct`` is not (negative for a net exporter).
    Both are NaN where apparent consumption is not positive (zero, or negative through
    inconsistent inputs).

    References
    ----------
    U.S. Geological Survey, *Mineral Commodity Summaries* (annual), Introduction and the
    "Net import reliance" entries of each commodity: net import reliance as a percentage of
    apparent consumption.

    Parameters
    ----------
    production, net_imports : DataFrame
        ``[year], [stage], commodity, region, tonnes``; a region missing from one table has 0 there.
    consumption : DataFrame or None
        Final use (same columns), reported as ``consumption_t`` for comparison; it does not
        enter the formula (apparent consumption also counts intermediate use). None: NaN.

    Returns
    -------
    DataFrame
        Key columns, ``region, production_t, net_imports_t, apparent_consumption_t,
        consumption_t, nir_pct, nir_unclipped_pct``, one row per region found in any input.
    """
    keys = _common_keys({"production": production, "consumption": consumption, "net_imports": net_imports})
    p = _by_region(production, keys, "production")
    n = _by_region(net_imports, keys, "net_imports")
    c = _by_region(consumption, keys, "consumption")
    index = p.index.union(n.index).union(c.index)
    out = pd.DataFrame(index=index)
    out["production_t"] = p.reindex(index).fillna(0.0)
    out["net_imports_t"] = n.reindex(index).fillna(0.0)
    out["apparent_consumption_t"] = out["production_t"] + out["net_imports_t"]
    out["consumption_t"] = c.reindex(index).fillna(0.0) if consumption is not None else np.nan
    ac = out["apparent_consumption_t"]
    scale = np.maximum(out["production_t"].abs(), out["net_imports_t"].abs())
    defined = ac > _REL_TOL * np.maximum(scale, 1.0)
    unclipped = 100.0 * (ac - out["production_t"]) / ac.where(defined)
    out["nir_pct"] = unclipped.clip(0.0, 100.0)
    out["nir_unclipped_pct"] = unclipped
    return out.reset_index()


# --------------------------------------------------------------------------- supply risk


def governance_weighted_hhi(
    quantities: Mapping[str, float],
    governance: Mapping[str, float] | None = None,
    trade_parameter: Mapping[str, float] | None = None,
) -> float:
    """Sum over holders of governance score x trade parameter x squared share (shares as fractions).

    .. math:: H_g = \\sum_c g_c \\, t_c \\, (q_c / \\sum_j q_j)^2.

    With ``g = t = 1`` this is the HHI of :func:`reesim.metrics.hhi_bounds` divided by
    10,000 (shares as fractions rather than percent).

    Parameters
    ----------
    quantities : mapping
        Holder to quantity (>= 0, positive total).
    governance : mapping or None
        Holder to score (any non-negative scale; each caller fixes its own); None: 1 for all.
    trade_parameter : mapping or None
        Holder to trade parameter ``t_c`` (>= 0); None: 1 for all.
    """
    shares = shares_pct(quantities, float(sum(quantities.values())))
    g = governance if governance is not None else dict.fromkeys(shares, 1.0)
    t = trade_parameter if trade_parameter is not None else dict.fromkeys(shares, 1.0)
    return float(sum(g[c] * t[c] * (s / 100.0) ** 2 for c, s in shares.items()))


def usgs_score(dp: float, te: float, ev: float = 1.0) -> float:
    """USGS supply risk ``DP x TE x EV`` (see :func:`usgs_supply_risk`); NaN if any factor is NaN."""
    return dp * te * ev


def eu_score(
    hhi_gs: float, hhi_sourcing: float, ir: float, eol_rir: float = 0.0, si_sr: float = 1.0
) -> float:
    """EU supply risk ``[HHI_GS·IR/2 + HHI_sourcing·(1 − IR/2)]·(1 − EOL_RIR)·SI_SR``.

    See :func:`eu_supply_risk`. ``ir`` is a fraction in [0, 1]. The score is non-decreasing
    in ``ir`` exactly when ``hhi_gs >= hhi_sourcing`` (its derivative in ``ir`` is
    ``(hhi_gs − hhi_sourcing)/2 · (1 − EOL_RIR) · SI_SR``).
    """
    return (hhi_gs * ir / 2.0 + hhi_sourcing * (1.0 - ir / 2.0)) * (1.0 - eol_rir) * si_sr


def _assessed(nir: pd.DataFrame, regions: Sequence[str] | None) -> pd.DataFrame:
    if regions is None:
        return nir
    unknown = sorted(set(regions) - set(nir["region"]))
    if unknown:
        raise InputError(
            f"regions {unknown} appear in none of the tables; known: {sorted(set(nir['region']))}"
        )
    return nir[nir["region"].isin(list(regions))]


def _production_groups(production: pd.DataFrame, keys: list[str]) -> dict[tuple, dict[str, float]]:
    q = _by_region(production, keys, "production")
    if (q < 0).any():
        raise InputError(f"production: negative tonnes {q[q < 0].to_dict()}")
    out: dict[tuple, dict[str, float]] = {}
    for key, grp in q[q > 0].groupby(level=keys, sort=True):
        k = key if isinstance(key, tuple) else (key,)
        out[k] = dict(zip(grp.index.get_level_values("region"), grp.to_numpy(float), strict=True))
    return out


def usgs_supply_risk(
    production: pd.DataFrame,
    net_imports: pd.DataFrame,
    *,
    governance: Mapping[str, float] | None = None,
    economic_vulnerability: Mapping[str, float] | None = None,
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Supply risk of each region after the USGS 2021/2022 critical-minerals method.

    Supply risk is the product of the likelihood of a foreign supply disruption, the
    region's exposure to it and its users' vulnerability:

    .. math::

        SR = DP \\times TE \\times EV, \\qquad DP = \\sum_c g_c \\, s_c^2, \\qquad
        TE = \\max(0, \\min(1, NIR / 100)),

    where ``s_c`` is producer ``c``'s share (fraction) of world production of the commodity
    in the year, ``g_c`` in [0, 1] its governance score (World Bank WGI rescaled so that
    1 is the worst governance), ``NIR`` the region's net import reliance
    (:func:`net_import_reliance`) and ``EV`` in [0, 1] the economic vulnerability of the
    region's users of the commodity.

    Variant implemented: DP is the governance-weighted HHI of production shares (squared
    shares weighted by the producers' scores), TE the net import reliance as a fraction,
    floored at 0 for net exporters, and the score is computed per year. The published
    assessment derives EV from industry data and combines yearly scores into a
    recency-weighted mean compared with a 0.40 threshold; those steps are not reproduced,
    so scores here are not comparable with that threshold.

    Inputs not in reesim's dataset:

    * governance scores: with ``governance=None`` every producer gets ``g = 1``, so DP is
      the plain HHI / 10,000 -- the largest value any scores in [0, 1] could give -- and the
      rows say ``governance_weighted = False``;
    * EV: with ``economic_vulnerability=None`` EV = 1 and ``ev_default = True``.

    References
    ----------
    Nassar, N. T., and Fortier, S. M. (2021), *Methodology and technical input for the 2021
    review and revision of the U.S. Critical Minerals List*, U.S. Geological Survey
    Open-File Report 2021-1045, doi:10.3133/ofr20211045.

    Nassar, N. T., et al. (2020), "Evaluating the mineral commodity supply risk of the U.S.
    manufacturing sector", *Science Advances* 6(8), eaay8647, doi:10.1126/sciadv.aay8647.

    Parameters
    ----------
    production, net_imports : DataFrame
        ``[year], [stage], commodity, region, tonnes``.
    governance : mapping or None
        Region to score in [0, 1] (1 = worst); must cover every producing region.
    economic_vulnerability : mapping or None
        Region to EV in [0, 1]; must cover every assessed region.
    regions : sequence or None
        Regions to assess (default: every region in the tables).

    Returns
    -------
    DataFrame
        Key columns, ``region, dp, te, ev, supply_risk, governance_weighted, ev_default``.
        ``te`` and ``supply_risk`` are NaN where apparent consumption is not positive, and
        ``dp`` is NaN where the commodity has no production in the year.
    """
    keys = _common_keys({"production": production, "net_imports": net_imports})
    nir = _assessed(net_import_reliance(production, None, net_imports), regions)
    groups = _production_groups(production, keys)
    producers = sorted({r for g in groups.values() for r in g})
    g = _unit_scores(producers, governance, "governance")
    ev = _unit_scores(sorted(set(nir["region"])), economic_vulnerability, "economic_vulnerability")
    dp = {k: governance_weighted_hhi(q, g) for k, q in groups.items()}
    out = nir[[*keys, "region"]].copy()
    out["dp"] = [dp.get(tuple(k), math.nan) for k in nir[keys].itertuples(index=False, name=None)]
    out["te"] = nir["nir_pct"].to_numpy() / 100.0
    out["ev"] = out["region"].map(ev).astype(float)
    out["supply_risk"] = usgs_score(out["dp"], out["te"], out["ev"])
    out["governance_weighted"] = governance is not None
    out["ev_default"] = economic_vulnerability is None
    return out.reset_index(drop=True)


def eu_supply_risk(
    production: pd.DataFrame,
    trade: pd.DataFrame,
    *,
    governance: Mapping[str, float] | None = None,
    eol_rir: float | Mapping[str, float] | None = None,
    substitution_index: float | Mapping[str, float] | None = None,
    trade_parameter: Mapping[str, float] | None = None,
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Supply risk of each region after the EU critical-raw-materials methodology.

    .. math::

        SR = \\left[HHI_{WGI,GS} \\frac{IR}{2} + HHI_{WGI,sourcing}
             \\left(1 - \\frac{IR}{2}\\right)\\right] (1 - EOL_{RIR}) \\, SI_{SR},

        HHI_{WGI} = \\sum_c s_c^2 \\, WGI_c \\, t_c,

    where ``s_c`` is country ``c``'s share (fraction) of global supply (GS: world
    production) or of the assessed region's sourcing (its own production plus its imports,
    by origin), ``WGI_c`` the World Bank governance indicator scaled to 0-10 (10 = worst),
    ``t_c`` a trade parameter for export restrictions and trade agreements, ``IR`` the
    region's import reliance (imports − exports)/(production + imports − exports) as a
    fraction clipped to [0, 1] (:func:`net_import_reliance` / 100), ``EOL_RIR`` the
    end-of-life recycling input rate and ``SI_SR`` the substitution index for supply risk
    (1 = no substitutes). The same ``t_c`` is applied to both HHI terms here. SR is
    non-decreasing in IR only where ``HHI_WGI,GS >= HHI_WGI,sourcing`` (:func:`eu_score`).

    Governance is taken as a score in [0, 1] (1 = worst, as in :func:`usgs_supply_risk`)
    and scaled to the EU's 0-10 range: ``WGI_c = 10 g_c``.

    Inputs not in reesim's dataset, and their defaults:

    * governance: ``None`` -> ``g_c = 1`` (WGI 10) for every country, an upper bound;
      ``governance_weighted = False``;
    * ``eol_rir``: ``None`` -> 0.0 (no recycled input), ``eol_rir_default = True``. The EU
      2023 study reports small end-of-life recycling input rates for rare earths (about
      1 %); pass the study's values explicitly to use them;
    * ``substitution_index``: ``None`` -> 1.0 (no substitution), ``si_default = True``;
    * ``trade_parameter``: ``None`` -> 1.0 for every country, ``trade_parameter_default = True``.

    References
    ----------
    European Commission (2017), *Methodology for establishing the EU list of critical raw
    materials: guidelines*, Publications Office of the European Union (Blengini, G. A., et
    al.), section on supply risk.

    European Commission (2020), *Study on the EU's list of critical raw materials (2020):
    final report*, Publications Office of the European Union (the 2020 revision, same
    supply-risk formula).

    European Commission (2023), *Study on the critical raw materials for the EU 2023: final
    report* (Grohol, M., and Veeh, C.), for EOL-RIR values.

    Parameters
    ----------
    production : DataFrame
        ``[year], [stage], commodity, region, tonnes``.
    trade : DataFrame
        Bilateral flows ``[year], [stage], commodity, exporter, importer, tonnes`` (the
        ``trade`` of :func:`stage_tables`); import reliance and sourcing come from it.
    governance : mapping or None
        Region to score in [0, 1]; must cover every producing or exporting region.
    eol_rir, substitution_index : float, mapping or None
        One value in [0, 1] for every commodity, or commodity to value (all commodities).
    trade_parameter : mapping or None
        Region to ``t_c >= 0``; must cover every producing or exporting region.
    regions : sequence or None
        Regions to assess (default: every region in the tables).

    Returns
    -------
    DataFrame
        Key columns, ``region, hhi_wgi_gs, hhi_wgi_sourcing, ir, eol_rir, si_sr,
        supply_risk, governance_weighted, eol_rir_default, si_default,
        trade_parameter_default``. NaN where import reliance is undefined (apparent
        consumption not positive) or the region has no sourcing.
    """
    keys = _common_keys({"production": production, "trade": trade})
    _require(trade, "trade", ["exporter", "importer", "tonnes"])
    t = trade[trade["exporter"] != trade["importer"]]
    nir = _assessed(net_import_reliance(production, None, net_imports_from_trade(t)), regions)
    groups = _production_groups(production, keys)
    holders = sorted({r for g in groups.values() for r in g} | set(t.loc[t["tonnes"] > 0, "exporter"]))
    g = {r: EU_WGI_SCALE * v for r, v in _unit_scores(holders, governance, "governance").items()}
    tp = _unit_scores(holders, trade_parameter, "trade_parameter", high=math.inf)
    sourced: dict[tuple, dict[str, float]] = {}
    for (*key, importer, exporter), q in (
        t.groupby([*keys, "importer", "exporter"], sort=True)["tonnes"].sum().items()
    ):
        sourced.setdefault((*key, importer), {})[exporter] = float(q)
    gs = {k: governance_weighted_hhi(q, g, tp) for k, q in groups.items()}

    rows = []
    for rec in nir.itertuples(index=False):
        d = rec._asdict()
        key = tuple(d[k] for k in keys)
        region = d["region"]
        sourcing = dict(sourced.get((*key, region), {}))
        sourcing[region] = sourcing.get(region, 0.0) + groups.get(key, {}).get(region, 0.0)
        sourcing = {r: q for r, q in sourcing.items() if q > 0}
        h_src = governance_weighted_hhi(sourcing, g, tp) if sourcing else math.nan
        ir = d["nir_pct"] / 100.0
        eol, eol_def = _per_commodity(eol_rir, d["commodity"], "eol_rir", 0.0)
        si, si_def = _per_commodity(substitution_index, d["commodity"], "substitution_index", 1.0)
        h_gs = gs.get(key, math.nan)
        rows.append(
            {
                **{k: d[k] for k in keys},
                "region": region,
                "hhi_wgi_gs": h_gs,
                "hhi_wgi_sourcing": h_src,
                "ir": ir,
                "eol_rir": eol,
                "si_sr": si,
                "supply_risk": eu_score(h_gs, h_src, ir, eol, si),
                "governance_weighted": governance is not None,
                "eol_rir_default": eol_def,
                "si_default": si_def,
                "trade_parameter_default": trade_parameter is None,
            }
        )
    columns = [*keys, "region", "hhi_wgi_gs", "hhi_wgi_sourcing", "ir", "eol_rir", "si_sr", "supply_risk"]
    flags = ["governance_weighted", "eol_rir_default", "si_default", "trade_parameter_default"]
    return pd.DataFrame(rows, columns=[*columns, *flags])


# --------------------------------------------------------------------------- long table


def _tables_of(result_like: Any) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    get: Callable[[str], pd.DataFrame | None]
    if isinstance(result_like, str | os.PathLike):
        folder = Path(result_like)

        def get(name: str) -> pd.DataFrame | None:
            f = folder / f"{name}.parquet"
            return pd.read_parquet(f) if f.exists() else None

    elif isinstance(result_like, Mapping):
        get = result_like.get
    elif hasattr(result_like, "table"):
        get = result_like.table
    else:
        raise InputError(
            f"indicators_table needs a Result, a mapping of tables or a run folder, got {type(result_like).__name__}"
        )
    production = get("production")
    if production is None:
        raise InputError("indicators_table: no 'production' table")
    return production, get("consumption"), get("trade")


def _flags_text(parts: list[tuple[bool, str]]) -> str:
    used = [text for is_default, text in parts if is_default]
    return "defaults: " + ", ".join(used) if used else "no defaults"


def indicators_table(
    result_like: Any,
    *,
    governance: Mapping[str, float] | None = None,
    economic_vulnerability: Mapping[str, float] | None = None,
    eol_rir: float | Mapping[str, float] | None = None,
    substitution_index: float | Mapping[str, float] | None = None,
    trade_parameter: Mapping[str, float] | None = None,
    china: str = CHINA,
) -> pd.DataFrame:
    """Concentration, net import reliance and supply-risk indicators of a run as one long table.

    Built from :func:`stage_tables`, then :func:`concentration` (world rows: ``hhi``;
    ``top_share`` on the top region's row; ``china_share`` on China's), :func:`net_import_reliance`
    (``nir``, ``nir_unclipped`` per region), :func:`usgs_supply_risk` (``usgs_dp`` world,
    ``usgs_supply_risk`` per region) and :func:`eu_supply_risk` (``eu_hhi_wgi_gs`` world,
    ``eu_hhi_wgi_sourcing`` and ``eu_supply_risk`` per region). Inputs not given take the
    defaults of those functions, and ``basis`` says which. Undefined values (NaN, e.g. no
    apparent consumption) are left out.

    Parameters
    ----------
    result_like : Result, mapping or path
        A :class:`reesim.simulate.result.Result`, a mapping of table name to DataFrame, or a
        run folder with ``production.parquet`` (and ``consumption.parquet``, ``trade.parquet``).
    governance, economic_vulnerability, eol_rir, substitution_index, trade_parameter
        Passed to :func:`usgs_supply_risk` / :func:`eu_supply_risk`.
    china : str
        Region code of China.

    Returns
    -------
    DataFrame
        ``year, stage, commodity, region, indicator, value, unit, basis``.
    """
    production, consumption, trade = _tables_of(result_like)
    st = stage_tables(production, consumption, trade)
    keys = ["year", "stage", "commodity"]
    frames: list[pd.DataFrame] = []

    def add(
        df: pd.DataFrame,
        region: pd.Series | str,
        indicator: str,
        value: str,
        unit: str,
        basis: str | list[str],
    ) -> None:
        part = df[keys].copy()
        part["region"] = region
        part["indicator"] = indicator
        part["value"] = df[value].astype(float).to_numpy()
        part["unit"] = unit
        part["basis"] = basis
        frames.append(part)

    conc = concentration(st.production, china=china)
    hhi_basis = "HHI = sum of squared % shares of regional production (DOJ/FTC Merger Guidelines 2023 §2.1); complete shares"
    add(conc, WORLD, "hhi", "hhi", "index 0-10,000", hhi_basis)
    add(conc, conc["top_region"], "top_share", "top_share_pct", "%", "largest regional share of production")
    add(conc, china, "china_share", "china_share_pct", "%", f"share of {china} in production")

    nir = net_import_reliance(st.production, st.consumption, st.net_imports)
    nir_basis = "NIR = (AC - P)/AC x 100, AC = P + net imports (USGS Mineral Commodity Summaries; stock changes omitted)"
    add(nir, nir["region"], "nir", "nir_pct", "%", nir_basis + "; clipped to [0, 100]")
    add(nir, nir["region"], "nir_unclipped", "nir_unclipped_pct", "%", nir_basis + "; not clipped")

    us = usgs_supply_risk(
        st.production, st.net_imports, governance=governance, economic_vulnerability=economic_vulnerability
    )
    us_flags = _flags_text(
        [
            (governance is None, "governance uniform g=1 (not governance-weighted)"),
            (economic_vulnerability is None, "EV=1"),
        ]
    )
    us_ref = "Nassar & Fortier 2021, USGS OFR 2021-1045"
    world_dp = us.drop_duplicates(keys)
    add(world_dp, WORLD, "usgs_dp", "dp", "index 0-1", f"DP = sum g_c s_c^2 ({us_ref}); {us_flags}")
    add(
        us,
        us["region"],
        "usgs_supply_risk",
        "supply_risk",
        "index 0-1",
        f"SR = DP x TE x EV ({us_ref}); {us_flags}",
    )

    eu = eu_supply_risk(
        st.production,
        st.trade,
        governance=governance,
        eol_rir=eol_rir,
        substitution_index=substitution_index,
        trade_parameter=trade_parameter,
    )
    eu_ref = "EC 2017 CRM methodology, 2020 revision"
    eu_basis = [
        _flags_text(
            [
                (not r.governance_weighted, "governance uniform WGI=10 (not governance-weighted)"),
                (bool(r.eol_rir_default), "EOL_RIR=0"),
                (bool(r.si_default), "SI_SR=1"),
                (bool(r.trade_parameter_default), "t=1"),
            ]
        )
        for r in eu.itertuples(index=False)
    ]
    eu_hhi_flags = _flags_text(
        [
            (governance is None, "governance uniform WGI=10 (not governance-weighted)"),
            (trade_parameter is None, "t=1"),
        ]
    )
    world_eu = eu.drop_duplicates(keys)
    add(
        world_eu,
        WORLD,
        "eu_hhi_wgi_gs",
        "hhi_wgi_gs",
        "index 0-10",
        f"HHI_WGI,GS = sum s_c^2 WGI_c t_c ({eu_ref}); {eu_hhi_flags}",
    )
    add(
        eu,
        eu["region"],
        "eu_hhi_wgi_sourcing",
        "hhi_wgi_sourcing",
        "index 0-10",
        f"HHI_WGI,sourcing ({eu_ref}); {eu_hhi_flags}",
    )
    add(
        eu,
        eu["region"],
        "eu_supply_risk",
        "supply_risk",
        "index (EU scale)",
        [
            f"SR = [HHI_GS IR/2 + HHI_sourcing (1 - IR/2)] (1 - EOL_RIR) SI_SR ({eu_ref}); {b}"
            for b in eu_basis
        ],
    )

    columns = ["year", "stage", "commodity", "region", "indicator", "value", "unit", "basis"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)[columns]
    return out[out["value"].notna()].reset_index(drop=True)
