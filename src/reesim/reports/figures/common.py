"""Constants and helpers every figure family shares: region colours, layout, time axes."""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from reesim.impacts.compare import COMPONENT_ORDER
from reesim.world.world import PURCHASE_RULE_SECTORS

#: Region code of China (the owner of the export controls in the shipped scenarios).
CHINA = "CHN"
#: Welfare components in the order of the impact tables (one list, owned by the impacts).
COMPONENTS = COMPONENT_ORDER
#: Commodities drawn in the main price panel, in this order.
MAIN_COMMODITIES = ("magnet:ndfeb", "oxide:Nd", "oxide:Dy", "oxide:Tb")
#: Supply-chain stage of a production row, by its process ``kind``.
STAGE_OF_KIND = {
    "mining": "mining",
    "separation": "separation",
    "metal": "metal",
    "magnet": "magnet",
    "supply": "stock release",
}
#: Stages shown in the map and heat map, by the commodity prefix produced.
SHARE_STAGES = (("mining", "concentrate"), ("separation", "oxide"), ("metal", "metal"), ("magnet", "magnet"))
#: Demand sectors that are not final use (stock building, offtakes): left out of shortages.
NON_FINAL_SECTORS = PURCHASE_RULE_SECTORS
#: Colours of the regions (fixed, so a region has the same colour in every figure).
REGION_COLORS = {
    "CHN": "#d62728",
    "USA": "#1f77b4",
    "EU": "#2ca02c",
    "JPN": "#9467bd",
    "KOR": "#8c564b",
    "AUS": "#ff7f0e",
    "MMR": "#e377c2",
    "MYS": "#17becf",
    "VNM": "#bcbd22",
    "THA": "#7f7f7f",
    "IND": "#aec7e8",
    "RUS": "#ffbb78",
    "BRA": "#98df8a",
    "NGA": "#ff9896",
    "MDG": "#c5b0d5",
    "ROW": "#c49c94",
    "world": "#333333",
}
TEMPLATE = "plotly_white"
_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", "size": 12}


def region_color(region: str) -> str:
    """The fixed colour of ``region`` (grey for a region not in :data:`REGION_COLORS`)."""
    return REGION_COLORS.get(region, "#999999")


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    kw.setdefault("margin", {"l": 60, "r": 20, "t": 60, "b": 50})
    fig.update_layout(template=TEMPLATE, height=height, autosize=True, font=_FONT, **kw)
    return fig


def period_x(period: str, year: int) -> float:
    """Start of a step period in fractional years: ``"2025"`` -> 2025, ``"2025-Q2"`` -> 2025.25, ``"2025-04"`` -> 2025.25."""
    m = re.fullmatch(r"(\d{4})-Q([1-4])", str(period))
    if m:
        return int(m.group(1)) + (int(m.group(2)) - 1) / 4
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(period))
    if m:
        return int(m.group(1)) + (int(m.group(2)) - 1) / 12
    return float(year)


def _year_axis(fig: go.Figure, x: pd.Series) -> None:
    """Whole years on the x axes, about eight ticks."""
    span = float(x.max() - x.min()) if len(x) else 0.0
    fig.update_xaxes(tickformat="d", tick0=int(x.min()) if len(x) else 0, dtick=max(1, round(span / 8)))


def steps_per_year(df: pd.DataFrame) -> pd.Series:
    """Number of step periods in each year of ``df`` (columns ``period``, ``year``), indexed by year."""
    return df.groupby("year")["period"].nunique()
