"""Each region's share of world output by stage: world map and heat map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reesim.reports.figures.common import (
    SHARE_STAGES,
    _layout,
)


# ------------------------------------------------------------------------------ shares by stage
def stage_shares(production: pd.DataFrame, period: str) -> pd.DataFrame:
    """Shares of production by stage and region in ``period`` (stock releases left out).

    Returns
    -------
    DataFrame
        ``stage, region, tonnes, share_pct``: tonnes of concentrate (REO), oxide (REO), metal or
        magnet produced in the period and the region's share of the stage's world total.
    """
    p = production[(production["period"] == period) & (production["kind"] != "supply")]
    rows = []
    for stage, prefix in SHARE_STAGES:
        g = p[p["commodity"].str.startswith(prefix + ":")].groupby("region")["tonnes"].sum()
        total = float(g.sum())
        for region, t in g.items():
            rows.append(
                {
                    "stage": stage,
                    "region": region,
                    "tonnes": float(t),
                    "share_pct": 100 * float(t) / total if total > 0 else 0.0,
                }
            )
    return pd.DataFrame(rows, columns=["stage", "region", "tonnes", "share_pct"])


def map_figure(shares: pd.DataFrame, countries: pd.DataFrame) -> go.Figure:
    """Choropleth of the production shares with a dropdown over the stages.

    Countries take the share of their model region (``countries``: iso3, name, region);
    every member of an aggregate (EU, ROW) shows the aggregate's share.
    """
    stages = [s for s, _ in SHARE_STAGES if s in set(shares["stage"])]
    fig = go.Figure()
    for i, stage in enumerate(stages):
        s = shares[shares["stage"] == stage].set_index("region")["share_pct"]
        c = countries.assign(share=countries["region"].map(s).fillna(0.0))
        agg = c["region"].isin(["EU", "ROW"])
        label = np.where(agg, c["region"] + " (aggregate)", c["region"])
        fig.add_trace(
            go.Choropleth(
                locations=c["iso3"],
                locationmode="ISO-3",
                z=c["share"].round(2),
                zmin=0,
                zmax=100,
                customdata=np.column_stack([c["name"], label]),
                colorscale="YlOrRd",
                marker={"line": {"color": "#888", "width": 0.3}},
                colorbar={"title": {"text": "% of world"}, "ticksuffix": " %", "len": 0.8},
                name=stage,
                visible=i == 0,
                hovertemplate="%{customdata[0]}<br>region %{customdata[1]}: %{z:.1f} %<extra>"
                + stage
                + "</extra>",
            )
        )
    buttons = [
        {
            "label": stage,
            "method": "update",
            "args": [
                {"visible": [j == i for j in range(len(stages))]},
                {"title.text": f"Share of world {stage} output by region"},
            ],
        }
        for i, stage in enumerate(stages)
    ]
    fig.update_layout(
        updatemenus=[{"buttons": buttons, "x": 0.0, "xanchor": "left", "y": 1.08, "yanchor": "top"}],
        title={"text": f"Share of world {stages[0] if stages else ''} output by region", "x": 0.5},
        geo={
            "scope": "world",
            "resolution": 110,
            "projection": {"type": "natural earth"},
            "showframe": False,
            "showcoastlines": True,
            "coastlinecolor": "#999",
            "showcountries": True,
            "countrycolor": "#bbb",
            "showland": True,
            "landcolor": "#f2f2f2",
            "lataxis": {"range": [-58, 85]},
        },
    )
    return _layout(fig, 520, margin={"l": 0, "r": 0, "t": 70, "b": 0})


def shares_heatmap(shares: pd.DataFrame) -> go.Figure:
    """Heat map of the production shares, stage x region (percent of the stage's world output)."""
    stages = [s for s, _ in SHARE_STAGES if s in set(shares["stage"])]
    order = shares.groupby("region")["share_pct"].max().sort_values(ascending=False).index.tolist()
    z = shares.pivot_table(index="stage", columns="region", values="share_pct", aggfunc="sum").reindex(
        index=stages, columns=order
    )
    t = shares.pivot_table(index="stage", columns="region", values="tonnes", aggfunc="sum").reindex(
        index=stages, columns=order
    )
    text = [[("" if np.isnan(v) else f"{v:.1f}") for v in row] for row in z.to_numpy()]
    fig = go.Figure(
        go.Heatmap(
            z=z.to_numpy(),
            x=order,
            y=stages,
            text=text,
            texttemplate="%{text}",
            customdata=t.to_numpy(),
            colorscale="YlOrRd",
            zmin=0,
            zmax=100,
            colorbar={"title": {"text": "%"}, "ticksuffix": " %"},
            hovertemplate="%{y}, %{x}: %{z:.1f} % (%{customdata:,.0f} t)<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, 300, margin={"l": 90, "r": 20, "t": 30, "b": 40})
