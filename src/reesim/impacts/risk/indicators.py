"""The long indicators table of a run: every concentration, reliance and supply-risk indicator.

One row per (year, stage, commodity, region, indicator) with its unit and its ``basis``
(the formula, the source and which inputs took defaults); written as ``indicators.parquet``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from reesim.errors import InputError
from reesim.impacts.risk.eu import eu_supply_risk
from reesim.impacts.risk.hhi import concentration
from reesim.impacts.risk.inputs import CHINA
from reesim.impacts.risk.reliance import net_import_reliance
from reesim.impacts.risk.stages import StageTables, stage_tables
from reesim.impacts.risk.usgs import usgs_supply_risk

#: Region label of world-level rows in :func:`indicators_table`.
WORLD = "world"


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


#: Key columns of every row of :func:`indicators_table`.
_ROW_KEYS = ["year", "stage", "commodity"]
#: Columns of :func:`indicators_table`, in order.
_COLUMNS = ["year", "stage", "commodity", "region", "indicator", "value", "unit", "basis"]


def _rows(
    df: pd.DataFrame,
    region: pd.Series | str,
    indicator: str,
    value: str,
    unit: str,
    basis: str | list[str],
) -> pd.DataFrame:
    """Rows of one indicator: ``df``'s key columns, ``region``, the indicator, its value, unit and basis."""
    part = df[_ROW_KEYS].copy()
    part["region"] = region
    part["indicator"] = indicator
    part["value"] = df[value].astype(float).to_numpy()
    part["unit"] = unit
    part["basis"] = basis
    return part


def _concentration_rows(st: StageTables, china: str) -> list[pd.DataFrame]:
    """``hhi`` (world), ``top_share`` and ``china_share`` rows from :func:`concentration`."""
    conc = concentration(st.production, china=china)
    hhi_basis = "HHI = sum of squared % shares of regional production (DOJ/FTC Merger Guidelines 2023 §2.1); complete shares"
    return [
        _rows(conc, WORLD, "hhi", "hhi", "index 0-10,000", hhi_basis),
        _rows(
            conc,
            conc["top_region"],
            "top_share",
            "top_share_pct",
            "%",
            "largest regional share of production",
        ),
        _rows(conc, china, "china_share", "china_share_pct", "%", f"share of {china} in production"),
    ]


def _reliance_rows(st: StageTables) -> list[pd.DataFrame]:
    """``nir`` and ``nir_unclipped`` rows per region from :func:`net_import_reliance`."""
    nir = net_import_reliance(st.production, st.consumption, st.net_imports)
    nir_basis = "NIR = (AC - P)/AC x 100, AC = P + net imports (USGS Mineral Commodity Summaries; stock changes omitted)"
    return [
        _rows(nir, nir["region"], "nir", "nir_pct", "%", nir_basis + "; clipped to [0, 100]"),
        _rows(nir, nir["region"], "nir_unclipped", "nir_unclipped_pct", "%", nir_basis + "; not clipped"),
    ]


def _usgs_rows(
    st: StageTables,
    nir: pd.DataFrame,
    governance: Mapping[str, float] | None,
    economic_vulnerability: Mapping[str, float] | None,
) -> list[pd.DataFrame]:
    """``usgs_dp`` (world) and ``usgs_supply_risk`` (per region) rows from :func:`usgs_supply_risk`."""
    us = usgs_supply_risk(
        st.production,
        st.net_imports,
        governance=governance,
        economic_vulnerability=economic_vulnerability,
        nir=nir,
    )
    us_flags = _flags_text(
        [
            (governance is None, "governance uniform g=1 (not governance-weighted)"),
            (economic_vulnerability is None, "EV=1"),
        ]
    )
    us_ref = "Nassar & Fortier 2021, USGS OFR 2021-1045"
    world_dp = us.drop_duplicates(_ROW_KEYS)
    return [
        _rows(world_dp, WORLD, "usgs_dp", "dp", "index 0-1", f"DP = sum g_c s_c^2 ({us_ref}); {us_flags}"),
        _rows(
            us,
            us["region"],
            "usgs_supply_risk",
            "supply_risk",
            "index 0-1",
            f"SR = DP x TE x EV ({us_ref}); {us_flags}",
        ),
    ]


def _eu_rows(
    st: StageTables,
    nir: pd.DataFrame,
    governance: Mapping[str, float] | None,
    eol_rir: float | Mapping[str, float] | None,
    substitution_index: float | Mapping[str, float] | None,
    trade_parameter: Mapping[str, float] | None,
) -> list[pd.DataFrame]:
    """``eu_hhi_wgi_gs`` (world), ``eu_hhi_wgi_sourcing`` and ``eu_supply_risk`` rows from :func:`eu_supply_risk`."""
    eu = eu_supply_risk(
        st.production,
        st.trade,
        governance=governance,
        eol_rir=eol_rir,
        substitution_index=substitution_index,
        trade_parameter=trade_parameter,
        nir=nir,
    )
    eu_ref = "EC 2017 CRM methodology, 2020 revision"
    flags = ["governance_weighted", "eol_rir_default", "si_default", "trade_parameter_default"]
    combos = eu[flags].astype(bool).drop_duplicates()
    text = {
        (gw, eol, si, tp): _flags_text(
            [
                (not gw, "governance uniform WGI=10 (not governance-weighted)"),
                (eol, "EOL_RIR=0"),
                (si, "SI_SR=1"),
                (tp, "t=1"),
            ]
        )
        for gw, eol, si, tp in combos.itertuples(index=False, name=None)
    }
    eu_basis = [text[k] for k in zip(*(eu[f].astype(bool).tolist() for f in flags), strict=True)]
    eu_hhi_flags = _flags_text(
        [
            (governance is None, "governance uniform WGI=10 (not governance-weighted)"),
            (trade_parameter is None, "t=1"),
        ]
    )
    world_eu = eu.drop_duplicates(_ROW_KEYS)
    return [
        _rows(
            world_eu,
            WORLD,
            "eu_hhi_wgi_gs",
            "hhi_wgi_gs",
            "index 0-10",
            f"HHI_WGI,GS = sum s_c^2 WGI_c t_c ({eu_ref}); {eu_hhi_flags}",
        ),
        _rows(
            eu,
            eu["region"],
            "eu_hhi_wgi_sourcing",
            "hhi_wgi_sourcing",
            "index 0-10",
            f"HHI_WGI,sourcing ({eu_ref}); {eu_hhi_flags}",
        ),
        _rows(
            eu,
            eu["region"],
            "eu_supply_risk",
            "supply_risk",
            "index (EU scale)",
            [
                f"SR = [HHI_GS IR/2 + HHI_sourcing (1 - IR/2)] (1 - EOL_RIR) SI_SR ({eu_ref}); {b}"
                for b in eu_basis
            ],
        ),
    ]


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
    nir = net_import_reliance(st.production, None, st.net_imports)  # the same for both supply risks
    frames = [
        *_concentration_rows(st, china),
        *_reliance_rows(st),
        *_usgs_rows(st, nir, governance, economic_vulnerability),
        *_eu_rows(st, nir, governance, eol_rir, substitution_index, trade_parameter),
    ]
    if not frames:
        return pd.DataFrame(columns=_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[_COLUMNS]
    return out[out["value"].notna()].reset_index(drop=True)
