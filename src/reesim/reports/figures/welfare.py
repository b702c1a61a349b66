"""Welfare waterfalls: present value of the change by component and region."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reesim.reports.figures.common import (
    COMPONENTS,
    _layout,
)


# ------------------------------------------------------------------------------------- welfare
def waterfall_data(welfare_discounted: pd.DataFrame, region: str) -> pd.DataFrame:
    """Components of the discounted welfare change of ``region`` (``"world"``: sum of the regions).

    Returns
    -------
    DataFrame
        ``component, pv_usd_million, measure``: each component of :data:`COMPONENTS`
        (0 where the table has no row) with measure ``relative``, then ``total`` with the
        table's total row (the sum of the regions' totals for the world).
    """
    w = welfare_discounted
    if region != "world":
        w = w[w["region"] == region]
    by = w.groupby("component")["pv_usd_million"].sum()
    extra = [c for c in by.index if c not in COMPONENTS and c != "total"]
    comps = [*COMPONENTS, *sorted(extra)]
    rows = [{"component": c, "pv_usd_million": float(by.get(c, 0.0)), "measure": "relative"} for c in comps]
    total = float(by["total"]) if "total" in by.index else float(sum(r["pv_usd_million"] for r in rows))
    rows.append({"component": "total", "pv_usd_million": total, "measure": "total"})
    return pd.DataFrame(rows)


def welfare_figure(
    welfare_discounted: pd.DataFrame, regions: Sequence[str], discount_rate: float
) -> go.Figure:
    """Waterfalls of the discounted welfare change by component, one panel per region."""
    cols = 3
    rows = -(-len(regions) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"{r}: {waterfall_data(welfare_discounted, r).iloc[-1, 1]:+,.0f}" for r in regions],
        horizontal_spacing=0.07,
        vertical_spacing=0.22,
    )
    for i, region in enumerate(regions):
        d = waterfall_data(welfare_discounted, region)
        fig.add_trace(
            go.Waterfall(
                name=region,
                x=[c.replace("_", " ") for c in d["component"]],
                y=d["pv_usd_million"].round(3),
                measure=d["measure"],
                text=[f"{v:+,.0f}" if abs(v) >= 0.5 else "" for v in d["pv_usd_million"]],
                textposition="outside",
                cliponaxis=False,
                connector={"line": {"color": "#aaa", "width": 0.6}},
                increasing={"marker": {"color": "#2ca02c"}},
                decreasing={"marker": {"color": "#d62728"}},
                totals={"marker": {"color": "#1f77b4"}},
                showlegend=False,
                hovertemplate=region + ", %{x}: %{y:+,.1f} million USD<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_xaxes(tickangle=-40, tickfont={"size": 10})
    fig.update_yaxes(tickformat=",", zeroline=True, zerolinecolor="#888")
    return _layout(
        fig,
        430 * rows,
        title={
            "text": f"Change in welfare, present value at {100 * discount_rate:g} %/yr, million USD",
            "x": 0.01,
        },
        margin={"l": 60, "r": 20, "t": 80, "b": 90},
    )
