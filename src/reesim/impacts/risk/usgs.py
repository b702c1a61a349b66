"""USGS supply risk: DP x TE x EV (Nassar & Fortier 2021, USGS OFR 2021-1045)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from reesim.impacts.risk.governance import (
    _assessed,
    _positive_production,
    _unit_scores,
    group_index,
    weighted_hhi_by_group,
)
from reesim.impacts.risk.inputs import _common_keys, _require
from reesim.impacts.risk.reliance import net_import_reliance


def usgs_score(dp: float, te: float, ev: float = 1.0) -> float:
    """USGS supply risk ``DP x TE x EV`` (see :func:`usgs_supply_risk`); NaN if any factor is NaN."""
    return dp * te * ev


def usgs_supply_risk(
    production: pd.DataFrame,
    net_imports: pd.DataFrame,
    *,
    governance: Mapping[str, float] | None = None,
    economic_vulnerability: Mapping[str, float] | None = None,
    regions: Sequence[str] | None = None,
    nir: pd.DataFrame | None = None,
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
    nir : DataFrame or None
        ``net_import_reliance(production, None, net_imports)`` when the caller has it
        already (the indicators table shares it with :func:`eu_supply_risk`).

    Returns
    -------
    DataFrame
        Key columns, ``region, dp, te, ev, supply_risk, governance_weighted, ev_default``.
        ``te`` and ``supply_risk`` are NaN where apparent consumption is not positive, and
        ``dp`` is NaN where the commodity has no production in the year.
    """
    keys = _common_keys({"production": production, "net_imports": net_imports})
    if nir is None:
        nir = net_import_reliance(production, None, net_imports)
    _require(nir, "nir", [*keys, "region", "nir_pct"])
    nir = _assessed(nir, regions)
    q = _positive_production(production, keys)
    producers = sorted(set(q.index.get_level_values("region").tolist()))
    g = _unit_scores(producers, governance, "governance")
    ev = _unit_scores(sorted(set(nir["region"].tolist())), economic_vulnerability, "economic_vulnerability")
    dp = weighted_hhi_by_group(q, keys, g)  # NaN below where a commodity has no production
    out = nir[[*keys, "region"]].copy()
    out["dp"] = dp.reindex(group_index(nir, keys)).to_numpy()
    out["te"] = nir["nir_pct"].to_numpy() / 100.0
    out["ev"] = out["region"].map(ev).astype(float)
    out["supply_risk"] = usgs_score(out["dp"], out["te"], out["ev"])
    out["governance_weighted"] = governance is not None
    out["ev_default"] = economic_vulnerability is None
    return out.reset_index(drop=True)
