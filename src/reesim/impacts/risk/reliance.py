"""Net import reliance of each region (USGS Mineral Commodity Summaries definition)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reesim.impacts.risk.inputs import _by_region, _common_keys

_REL_TOL = 1e-9


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
