"""The default world's end-user sectors: use by a sector that a licence can exclude.

An export licence may deny some end users (``excluded_sectors``: China's Announcement 2024
No. 46 and 2025 No. 61 presumptively deny military end users). A pooled market cannot keep an
exporter's goods from one sector unless the sector's use is known: this stage reads it from
the data (``end_use_sectors`` in ``default_world.yaml``) and records it, with its share of the
region's demand for the good at the reference, in ``World.meta['end_use_sectors']``, and splits
the sector's use off the region's demand row exactly (:func:`_split_end_uses`): the sector's
row keeps the parent's intercept with slope ``b / s`` and the rest slope ``b / (1 - s)``, so
the two buy together what the parent bought at every price and every result is unchanged; a
licence that excludes the sector then adds its row (:mod:`reesim.instruments.enduse`). Each
split row follows its parent sector's growth paths as well as its own
(``meta['demand_parent']``; assumption: no separate data on the sector's growth).
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
    dems : the demand rows built so far ``(demand, sector, region, commodity, a, b)``; the
        reference quantity of a region's magnet use is read from the recorder
        (``magnet_use[r]``), so only magnet entries are used.

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


def end_use_demand_id(sector: str, commodity: str, region: str) -> str:
    """Id of the demand row split off for an end-user ``sector``."""
    return f"{sector}:{commodity}:{region}"


def _split_end_uses(dems: list[tuple], end_uses: dict[str, list[dict]]) -> tuple[list[tuple], dict[str, str]]:
    """Stage 6c: the demand rows with each end-user sector split off its parent (exact split).

    Returns the rows and ``{split row: parent sector}``.
    """
    out, parents = list(dems), {}
    for sector, entries in end_uses.items():
        for e in entries:
            s = float(e["share"])
            pos = [i for i, d in enumerate(out) if d[0] == e["parent"]]
            if len(pos) != 1 or not 0.0 < s < 1.0:
                continue
            did, parent_sector, region, commodity, a, b = out[pos[0]]
            out[pos[0]] = (did, parent_sector, region, commodity, a, b / (1.0 - s))
            split = end_use_demand_id(sector, commodity, region)
            out.append((split, sector, region, commodity, a, b / s))
            parents[split] = parent_sector
    return out, parents
