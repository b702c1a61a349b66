"""EU supply risk after the critical-raw-materials methodology (European Commission 2017, 2020 revision)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from reesim.errors import InputError
from reesim.impacts.risk.governance import (
    _assessed,
    _positive_production,
    _unit_scores,
    group_index,
    weighted_hhi_by_group,
)
from reesim.impacts.risk.inputs import _common_keys, _require
from reesim.impacts.risk.reliance import net_import_reliance
from reesim.impacts.risk.stages import net_imports_from_trade

#: EU methodology: the scaled WGI runs from 0 to this value (here: 10 x a 0-1 score).
EU_WGI_SCALE = 10.0


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


def eu_score(
    hhi_gs: float, hhi_sourcing: float, ir: float, eol_rir: float = 0.0, si_sr: float = 1.0
) -> float:
    """EU supply risk ``[HHI_GS·IR/2 + HHI_sourcing·(1 − IR/2)]·(1 − EOL_RIR)·SI_SR``.

    See :func:`eu_supply_risk`. ``ir`` is a fraction in [0, 1]. The score is non-decreasing
    in ``ir`` exactly when ``hhi_gs >= hhi_sourcing`` (its derivative in ``ir`` is
    ``(hhi_gs − hhi_sourcing)/2 · (1 − EOL_RIR) · SI_SR``).
    """
    return (hhi_gs * ir / 2.0 + hhi_sourcing * (1.0 - ir / 2.0)) * (1.0 - eol_rir) * si_sr


def eu_supply_risk(
    production: pd.DataFrame,
    trade: pd.DataFrame,
    *,
    governance: Mapping[str, float] | None = None,
    eol_rir: float | Mapping[str, float] | None = None,
    substitution_index: float | Mapping[str, float] | None = None,
    trade_parameter: Mapping[str, float] | None = None,
    regions: Sequence[str] | None = None,
    nir: pd.DataFrame | None = None,
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
    nir : DataFrame or None
        ``net_import_reliance(production, None, net_imports_from_trade(trade))`` when the
        caller has it already (the indicators table shares it with :func:`usgs_supply_risk`).

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
    if nir is None:
        nir = net_import_reliance(production, None, net_imports_from_trade(t))
    _require(nir, "nir", [*keys, "region", "nir_pct"])
    nir = _assessed(nir, regions)
    q = _positive_production(production, keys)
    holders = sorted(
        set(q.index.get_level_values("region").tolist()) | set(t.loc[t["tonnes"] > 0, "exporter"].tolist())
    )
    g = {r: EU_WGI_SCALE * v for r, v in _unit_scores(holders, governance, "governance").items()}
    tp = _unit_scores(holders, trade_parameter, "trade_parameter", high=math.inf)
    weight = {r: g[r] * tp[r] for r in holders}
    gs = weighted_hhi_by_group(q, keys, weight)
    h_src = weighted_hhi_by_group(_sourcing(t, q, keys), [*keys, "region"], weight)

    out = nir[[*keys, "region"]].reset_index(drop=True)
    out["hhi_wgi_gs"] = gs.reindex(group_index(out, keys)).to_numpy(float)
    out["hhi_wgi_sourcing"] = h_src.reindex(group_index(out, [*keys, "region"])).to_numpy(float)
    out["ir"] = nir["nir_pct"].to_numpy(float) / 100.0
    codes, commodities = out["commodity"].factorize(use_na_sentinel=False)
    eol = [_per_commodity(eol_rir, c, "eol_rir", 0.0) for c in commodities]
    si = [_per_commodity(substitution_index, c, "substitution_index", 1.0) for c in commodities]
    out["eol_rir"] = np.array([v for v, _ in eol], dtype=float)[codes]
    out["si_sr"] = np.array([v for v, _ in si], dtype=float)[codes]
    out["supply_risk"] = eu_score(
        out["hhi_wgi_gs"], out["hhi_wgi_sourcing"], out["ir"], out["eol_rir"], out["si_sr"]
    )
    out["governance_weighted"] = governance is not None
    out["eol_rir_default"] = np.array([d for _, d in eol], dtype=bool)[codes]
    out["si_default"] = np.array([d for _, d in si], dtype=bool)[codes]
    out["trade_parameter_default"] = trade_parameter is None
    return out


def _sourcing(t: pd.DataFrame, production: pd.Series, keys: list[str]) -> pd.Series:
    """Step of :func:`eu_supply_risk`: each region's sourcing by origin, its imports (flows between
    regions) plus its own production, positive tonnes only, indexed by ``keys``, region, origin."""
    names = [*keys, "region", "origin"]
    imports = t.groupby([*keys, "importer", "exporter"], sort=True)["tonnes"].sum()
    imports.index = imports.index.set_names(names)
    own = production.copy()
    own.index = pd.MultiIndex.from_arrays(
        [*(own.index.get_level_values(k) for k in [*keys, "region"]), own.index.get_level_values("region")],
        names=names,
    )
    both = pd.concat([imports.astype(float), own.astype(float)]).groupby(level=names, sort=True).sum()
    return both[both > 0]
