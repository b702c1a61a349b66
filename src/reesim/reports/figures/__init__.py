"""Data reductions and plotly figures of the HTML report and the dashboard, one module per family.

Every function here is pure: it takes the tables of a run folder (pandas DataFrames, as written
by ``reesim run --out``) and returns a table or a :class:`plotly.graph_objects.Figure`. Figures
built from a whole run folder are in :mod:`reesim.reports.run_figures`; the HTML assembly,
captions and tables in :mod:`reesim.reports.html`.

* :mod:`~reesim.reports.figures.common` — region colours, layout, time axes;
* :mod:`~reesim.reports.figures.prices` — price paths;
* :mod:`~reesim.reports.figures.sankey` — the element Sankey;
* :mod:`~reesim.reports.figures.maps` — stage shares as map and heat map;
* :mod:`~reesim.reports.figures.welfare` — welfare waterfalls;
* :mod:`~reesim.reports.figures.shortages` — shortages;
* :mod:`~reesim.reports.figures.risk` — China's share of production.
"""

from reesim.reports.figures.common import (
    CHINA,
    COMPONENTS,
    MAIN_COMMODITIES,
    NON_FINAL_SECTORS,
    REGION_COLORS,
    SHARE_STAGES,
    STAGE_OF_KIND,
    TEMPLATE,
    period_x,
    region_color,
    steps_per_year,
)
from reesim.reports.figures.maps import map_figure, shares_heatmap, stage_shares
from reesim.reports.figures.prices import price_dropdown, price_panel
from reesim.reports.figures.risk import china_share_figure
from reesim.reports.figures.sankey import SankeyFlows, node_balance, sankey_figure, sankey_flows, sum_links
from reesim.reports.figures.shortages import shortage_figure, shortage_series
from reesim.reports.figures.welfare import waterfall_data, welfare_figure

__all__ = [
    "CHINA",
    "COMPONENTS",
    "MAIN_COMMODITIES",
    "NON_FINAL_SECTORS",
    "REGION_COLORS",
    "SHARE_STAGES",
    "STAGE_OF_KIND",
    "TEMPLATE",
    "SankeyFlows",
    "china_share_figure",
    "map_figure",
    "node_balance",
    "period_x",
    "price_dropdown",
    "price_panel",
    "region_color",
    "sankey_figure",
    "sankey_flows",
    "shares_heatmap",
    "shortage_figure",
    "shortage_series",
    "stage_shares",
    "steps_per_year",
    "sum_links",
    "waterfall_data",
    "welfare_figure",
]
