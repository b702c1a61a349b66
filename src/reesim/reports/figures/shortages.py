"""Shortages: consumption below the counterfactual by sector and scope."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reesim.reports.figures.common import (
    CHINA,
    NON_FINAL_SECTORS,
    _layout,
    _year_axis,
    period_x,
    steps_per_year,
)


# ------------------------------------------------------------------------------------ shortages
def shortage_series(shortages: pd.DataFrame, china: str = CHINA) -> pd.DataFrame:
    """Shortfall of consumption below the counterfactual by scope (world, outside China, USA), sector, period.

    Returns
    -------
    DataFrame
        ``scope, sector, period, year, x, tonnes_per_year, tonnes_per_year_cf, shortage_tonnes_per_year,
        shortage_pct``: consumption summed over the scope's regions; the shortfall is the
        counterfactual minus the scenario, floored at 0 (a rise is no shortage).
    """
    s = shortages[~shortages["sector"].isin(NON_FINAL_SECTORS)]
    n = steps_per_year(s)
    out = []
    for scope, mask in (
        ("world", s["region"].notna()),
        ("outside China", s["region"] != china),
        ("USA", s["region"] == "USA"),
    ):
        g = s[mask].groupby(["sector", "period", "year"], as_index=False)[["tonnes", "tonnes_cf"]].sum()
        per = g["year"].map(n).astype(float)
        g["tonnes_per_year"] = g["tonnes"] * per
        g["tonnes_per_year_cf"] = g["tonnes_cf"] * per
        g["shortage_tonnes_per_year"] = (g["tonnes_per_year_cf"] - g["tonnes_per_year"]).clip(lower=0.0)
        g["shortage_pct"] = np.where(
            g["tonnes_per_year_cf"] > 0,
            100 * g["shortage_tonnes_per_year"] / g["tonnes_per_year_cf"].where(g["tonnes_per_year_cf"] > 0),
            0.0,
        )
        g["scope"] = scope
        out.append(g)
    df = pd.concat(out, ignore_index=True)
    df["x"] = [period_x(p, y) for p, y in zip(df["period"], df["year"], strict=True)]
    return df[
        [
            "scope",
            "sector",
            "period",
            "year",
            "x",
            "tonnes_per_year",
            "tonnes_per_year_cf",
            "shortage_tonnes_per_year",
            "shortage_pct",
        ]
    ]


def shortage_figure(series: pd.DataFrame) -> go.Figure:
    """Shortfall in percent of counterfactual consumption over time, one panel per scope, one line per sector."""
    scopes = ["world", "outside China", "USA"]
    sectors = sorted(series["sector"].unique())
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    fig = make_subplots(rows=1, cols=3, subplot_titles=scopes, shared_yaxes=True, horizontal_spacing=0.04)
    for j, scope in enumerate(scopes):
        for i, sector in enumerate(sectors):
            g = series[(series["scope"] == scope) & (series["sector"] == sector)].sort_values("x")
            fig.add_trace(
                go.Scatter(
                    x=g["x"],
                    y=g["shortage_pct"],
                    customdata=g[["period", "shortage_tonnes_per_year"]],
                    mode="lines+markers",
                    marker={"size": 4},
                    name=sector,
                    legendgroup=sector,
                    showlegend=j == 0,
                    line={"color": palette[i % len(palette)]},
                    hovertemplate=f"{scope}, {sector}<br>%{{customdata[0]}}: %{{y:.1f}} % "
                    "(%{customdata[1]:,.0f} t/yr)<extra></extra>",
                ),
                row=1,
                col=j + 1,
            )
    fig.update_yaxes(rangemode="tozero", ticksuffix=" %")
    fig.update_yaxes(title="shortfall, % of counterfactual use", row=1, col=1)
    _year_axis(fig, series["x"])
    return _layout(fig, 380, legend={"orientation": "h", "y": -0.15, "x": 0})
