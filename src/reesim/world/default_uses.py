"""The default world's end-user sectors: use by a sector that a licence can exclude.

An export licence may deny some end users (``excluded_sectors``: China's Announcement 2024
No. 46 and 2025 No. 61 presumptively deny military end users). A pooled market cannot keep an
exporter's goods from one sector unless the sector's use is known: this stage reads it from
the data (``end_use_sectors`` in ``default_world.yaml``) and records it, with its share of the
region's demand for the good at the reference, in ``World.meta['end_use_sectors']``. The
demand row is split only by a scenario that excludes the sector
(:func:`reesim.instruments.enduse.split_demands`), so worlds without such a licence are
unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from reesim.world.default import _Ctx

#: unit of an ``end_use_intensity`` row -> kt per year
_TO_KT = {"t/yr": 1e-3, "kt/yr": 1.0}


def _stage_end_uses(ctx: _Ctx, dems: list[tuple]) -> dict[str, list[dict]]:
    """Stage 6b: each configured sector's use (kt/yr) and its share of its region's demand.

    Parameters
    ----------
    ctx : the builder's context (dataset, config, recorder).
    dems : the demand rows built so far ``(demand, sector, region, commodity, a, b)``, whose
        reference quantities are read from the recorder (``magnet_use[r]``) or from the row.

    Returns
    -------
    dict
        ``{sector: [{commodity, region, kt, share, parent, parent_sector, source}]}``; a
        configured entry without a data row in the view (e.g. an earlier vintage) is left
        out.
    """
    spec = ctx.cfg.get("end_use_sectors") or {}
    out: dict[str, list[dict]] = {}
    prov = ctx.rec.frame().set_index("parameter")["value"]
    for sector, entries in spec.items():
        for entry in entries:
            commodity, region = entry["commodity"], entry["region"]
            rows = ctx.ds.table("end_use_intensity", **entry["row"])
            rows = rows[pd.to_numeric(rows["value"], errors="coerce") > 0]
            parent = next((d for d in dems if d[2] == region and d[3] == commodity), None)
            if rows.empty or parent is None or rows["unit"].iloc[0] not in _TO_KT:
                continue  # no data row in this view: the sector cannot be excluded here
            r = rows.iloc[0]
            kt = ctx.rec.data(
                f"end_use[{sector},{commodity},{region}]",
                float(r["value"]) * _TO_KT[r["unit"]],
                "kt/yr",
                "end_use_intensity",
                f"product={r['product']}, year={r['year']}; {entry['basis']}",
                r["source_id"],
            )
            reference = float(prov.get(f"magnet_use[{region}]", float("nan")))
            if commodity != "magnet:ndfeb" or not reference > 0:
                continue  # only magnet use is recorded by region at the reference
            share = ctx.rec.derived(
                f"end_use_share[{sector},{commodity},{region}]",
                min(kt / reference, 1.0),
                "share of the region's demand at the reference",
                f"end_use[{sector},{commodity},{region}] / magnet_use[{region}]",
            )
            out.setdefault(sector, []).append(
                {
                    "commodity": commodity,
                    "region": region,
                    "kt": kt,
                    "share": share,
                    "parent": parent[0],
                    "parent_sector": parent[1],
                    "source": str(r["source_id"]),
                }
            )
    return out
