"""The report's risk section: concentration, net import reliance and supply-risk indices of a run."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from reesim.reports import figures as F
from reesim.reports import run_figures as RF
from reesim.reports.markup import Page, code, note, num, table_html
from reesim.reports.run_figures import RISK_COMMODITIES
from reesim.reports.runfolder import Run

NIR_REGIONS = ("USA", "EU", "JPN")


def risk_section(run: Run, page: Page) -> str:
    """The risk section's HTML: concentration, net import reliance and supply-risk indices."""
    if not run.has("indicators"):
        return note(
            f"{code('indicators.parquet')} is absent from the run folder: no risk indices for this run "
            f"(they are written by {code('reesim run')} when {code('reesim.impacts.risk')} is available).",
            "absent",
        )
    ind = run.t("indicators")
    years = sorted(ind["year"].unique())
    y0, y1 = years[0], years[-1]
    src = f"From {code('indicators.parquet')}"
    out = []
    conc = ind[ind["indicator"].isin(["hhi", "top_share", "china_share"])]
    stage_order = {"mining": 0, "separation": 1, "metal": 2, "magnet": 3}
    rows = []
    keys = conc[["stage", "commodity"]].drop_duplicates()
    keys = keys.assign(o=keys["stage"].map(stage_order).fillna(9)).sort_values(["o", "commodity"])
    # the rows of each (stage, commodity, indicator, year), in table order, looked up instead of
    # filtered: four filters per cell took 0.2 s of the report
    cells: dict[tuple, list[tuple[object, float]]] = {}
    for stage, com, indicator, year, region, value in zip(
        *(conc[c].tolist() for c in ("stage", "commodity", "indicator", "year", "region", "value")),
        strict=True,
    ):
        cells.setdefault((stage, com, indicator, year), []).append((region, value))

    def total(stage: str, com: str, indicator: str, year: int) -> float:
        found = cells.get((stage, com, indicator, year))
        return pd.Series([v for _, v in found], dtype=float).sum() if found else np.nan

    for stage, com in zip(keys["stage"], keys["commodity"], strict=True):
        top = cells.get((stage, com, "top_share", y1))
        rows.append(
            [
                stage,
                com,
                num(total(stage, com, "hhi", y0)),
                num(total(stage, com, "hhi", y1)),
                num(total(stage, com, "china_share", y0), 1),
                num(total(stage, com, "china_share", y1), 1),
                f"{top[0][0]} {num(top[0][1], 1)} %" if top else "–",
            ]
        )
    out.append("<h3>Concentration of production by stage</h3>")
    out.append(
        table_html(
            [
                "stage",
                "commodity",
                f"HHI {y0}",
                f"HHI {y1}",
                f"China % {y0}",
                f"China % {y1}",
                f"top region {y1}",
            ],
            rows,
            f"Herfindahl-Hirschman index of regional production (0-10,000), China's share and the largest "
            f"regional share of production, first and last year of the horizon. {src} (indicators hhi, "
            f"china_share, top_share; built from the {code('production')} table).",
            numeric=(2, 3, 4, 5),
            cls="small",
        )
    )
    nir = ind[(ind["indicator"] == "nir") & ind["region"].isin(NIR_REGIONS)]
    if not nir.empty:
        piv = {
            y: nir[nir["year"] == y].pivot_table(
                index="commodity", columns="region", values="value", aggfunc="sum"
            )
            for y in (y0, y1)
        }
        coms = sorted(
            set(piv[y0].index) | set(piv[y1].index),
            key=lambda c: (stage_order.get(F.STAGE_OF_KIND.get(c.split(":")[0], ""), 9), c),
        )
        regs = [r for r in NIR_REGIONS if r in set(nir["region"])]
        rows = []
        for c in coms:
            row = [c]
            for r in regs:
                for y in (y0, y1):
                    p = piv[y]
                    v = p.loc[c, r] if c in p.index and r in p.columns else np.nan
                    row.append(num(v, 0))
            rows.append(row)
        out.append("<h3>Net import reliance of the U.S., the EU and Japan</h3>")
        out.append(
            table_html(
                ["commodity", *[f"{r} {y}, %" for r in regs for y in (y0, y1)]],
                rows,
                f"Net import reliance = (apparent consumption − production) ÷ apparent consumption, %, clipped to "
                f"0-100 (USGS definition; stock changes omitted); '–' where the region uses none. {src} "
                f"(indicator nir; from the {code('production')}, {code('consumption')} and {code('trade')} tables). "
                "Metals: the default world makes each region's Nd, Pr, Dy and Tb metal where its magnets are made "
                f"(an assumption of {code('default_world.yaml')}: the dataset has no data on metal trade), so a metal "
                "row measures reliance on imported oxide for the region's own metal making, not the metal that "
                "magnet makers in Japan or the U.S. buy abroad; USGS put U.S. net import reliance for rare-earth "
                "compounds and metals at 100 % in 2016-2018 (dataset table "
                f"{code('us_salient_statistics')}).",
                numeric=tuple(range(1, 1 + 2 * len(regs))),
                cls="small",
            )
        )
    present = [c for c in RISK_COMMODITIES if c in set(ind["commodity"])]
    if present:
        out.append(
            page.figure(
                RF.china_share(run),
                f"China's share of world production of selected commodities over the horizon, %. {src} "
                "(indicator china_share).",
            )
        )
    basis = ind.drop_duplicates("indicator")[["indicator", "unit", "basis"]]
    rows = []
    for r in basis.itertuples(index=False):
        b = str(r.basis)
        m = re.search(r"defaults?:\s*(.*)", b)
        rows.append([r.indicator, r.unit, b.split("; defaults")[0], m.group(1) if m else "none"])
    out.append("<h3>Method and default inputs</h3>")
    out.append(
        table_html(
            ["indicator", "unit", "definition", "inputs taken at their default"],
            rows,
            f"Every indicator of the table with its definition and, from its {code('basis')} column, the inputs "
            "that were not in the data and took a stated default (e.g. uniform governance scores).",
            cls="wide small",
        )
    )
    return "\n".join(out)
