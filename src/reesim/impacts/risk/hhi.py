"""Concentration of production: top region, China's share and the Herfindahl-Hirschman index."""

from __future__ import annotations

import pandas as pd

from reesim.impacts.risk.governance import _production_groups
from reesim.impacts.risk.inputs import CHINA, _common_keys
from reesim.metrics import hhi_bounds, shares_pct


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
    rows = []
    for key, by_region in _production_groups(production, keys).items():
        total = float(sum(by_region.values()))
        shares = shares_pct(by_region, total)
        low, high = hhi_bounds(shares)
        top = min(by_region, key=lambda r: (-by_region[r], str(r)))
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
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
