"""Risk indices over the horizon: China's share of world production."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from reesim.reports.figures.common import (
    CHINA,
    _layout,
    _year_axis,
)


# ----------------------------------------------------------------------------------------- risk
def china_share_figure(indicators: pd.DataFrame, commodities: Sequence[str], china: str = CHINA) -> go.Figure:
    """China's share of world production over time for ``commodities`` (from the indicators table)."""
    d = indicators[(indicators["indicator"] == "china_share") & (indicators["region"] == china)]
    fig = go.Figure()
    for com in commodities:
        g = d[d["commodity"] == com].sort_values("year")
        if g.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=g["year"],
                y=g["value"],
                mode="lines+markers",
                marker={"size": 4},
                name=f"{com} ({g['stage'].iloc[0]})",
                hovertemplate=f"{com}<br>%{{x}}: %{{y:.1f}} %<extra></extra>",
            )
        )
    fig.update_yaxes(range=[0, 101], ticksuffix=" %", title="China's share of world output")
    _year_axis(fig, d["year"])
    return _layout(fig, 380, legend={"orientation": "h", "y": -0.18, "x": 0})
