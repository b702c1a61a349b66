"""Price paths inside and outside China, scenario against counterfactual."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reesim.reports.figures.common import (
    MAIN_COMMODITIES,
    REGION_COLORS,
    _layout,
    _year_axis,
    period_x,
)


# --------------------------------------------------------------------------------------- prices
def _price_traces(
    groups: dict[tuple[str, str], pd.DataFrame], commodity: str, showlegend: bool, visible: bool = True
) -> list[go.Scatter]:
    traces = []
    # Inside China is drawn wide and light below outside China, so both show where they coincide.
    for market, color, width, opacity in (
        ("inside China", REGION_COLORS["CHN"], 4.0, 0.6),
        ("outside China", REGION_COLORS["USA"], 1.8, 1.0),
    ):
        g = groups.get((commodity, market))
        if g is None:
            continue
        for col, dash, label in (
            ("usd_per_kg", "solid", "scenario"),
            ("usd_per_kg_cf", "dash", "counterfactual"),
        ):
            traces.append(
                go.Scatter(
                    x=g["x"],
                    y=g[col],
                    customdata=g[["period"]],
                    mode="lines",
                    name=f"{market}, {label}",
                    legendgroup=f"{market}, {label}",
                    showlegend=showlegend,
                    visible=visible,
                    line={"color": color, "dash": dash, "width": width * (1.0 if dash == "solid" else 0.8)},
                    opacity=opacity,
                    hovertemplate=f"{commodity} {market} ({label})<br>%{{customdata[0]}}: %{{y:,.2f}} USD/kg<extra></extra>",
                )
            )
    return traces


def _with_x(price_changes: pd.DataFrame) -> pd.DataFrame:
    d = price_changes.copy()
    d["x"] = [period_x(p, y) for p, y in zip(d["period"], d["year"], strict=True)]
    return d


def _by_market(d: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """Each commodity's and market's rows in time order, split once (a filter of the whole table
    per trace took about a third of the price charts' time)."""
    return {
        (str(c), str(m)): g.sort_values("x")
        for (c, m), g in d.groupby(["commodity", "market"], sort=False, observed=True)
    }


def price_panel(price_changes: pd.DataFrame, commodities: Sequence[str] = MAIN_COMMODITIES) -> go.Figure:
    """Small multiples of the price paths inside and outside China, scenario solid, counterfactual dashed.

    Parameters
    ----------
    price_changes : DataFrame
        The run's ``price_changes`` table (period, year, commodity, market, usd_per_kg, usd_per_kg_cf).
    commodities : sequence of str
        Commodities to draw (those absent from the table are skipped).
    """
    d = _with_x(price_changes)
    present = [c for c in commodities if c in set(d["commodity"])]
    cols = 2 if len(present) > 1 else 1
    rows = max(1, -(-len(present) // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"{c} (USD/kg)" for c in present] or ["no price data"],
        horizontal_spacing=0.09,
        vertical_spacing=0.14,
    )
    groups = _by_market(d)
    for i, com in enumerate(present):
        for tr in _price_traces(groups, com, showlegend=i == 0):
            fig.add_trace(tr, row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(rangemode="tozero", tickformat=",")
    _year_axis(fig, d["x"])
    return _layout(
        fig,
        330 * rows + 60,
        legend={"orientation": "h", "y": -0.08, "x": 0},
        hovermode="x unified",
    )


def price_dropdown(
    price_changes: pd.DataFrame, exclude: Sequence[str] = MAIN_COMMODITIES
) -> go.Figure | None:
    """One price chart with a dropdown over every other commodity (None if there is none)."""
    d = _with_x(price_changes)
    rest = sorted(c for c in d["commodity"].unique() if c not in exclude)
    if not rest:
        return None
    fig = go.Figure()
    owner: list[int] = []
    groups = _by_market(d)
    for i, com in enumerate(rest):
        for tr in _price_traces(groups, com, showlegend=True, visible=i == 0):
            fig.add_trace(tr)
            owner.append(i)
    buttons = [
        {
            "label": com,
            "method": "update",
            "args": [{"visible": [o == i for o in owner]}, {"title.text": f"{com}: price, USD/kg"}],
        }
        for i, com in enumerate(rest)
    ]
    fig.update_layout(
        updatemenus=[
            {
                "buttons": buttons,
                "direction": "down",
                "x": 0.0,
                "xanchor": "left",
                "y": 1.2,
                "yanchor": "top",
                "showactive": True,
            }
        ],
        title={"text": f"{rest[0]}: price, USD/kg", "x": 0.5, "xanchor": "center"},
    )
    fig.update_yaxes(rangemode="tozero", tickformat=",", title="USD/kg")
    _year_axis(fig, d["x"])
    return _layout(
        fig,
        440,
        legend={"orientation": "h", "y": -0.15, "x": 0},
        hovermode="x unified",
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
    )
