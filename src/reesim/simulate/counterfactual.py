"""What a scenario reads from its counterfactual: prices, flows, consumption and expected prices by period.

Instruments that refer to the counterfactual (licences given as approval shares of the
counterfactual's exports, stockpile triggers and purchase prices, holders' expectations)
read these maps at every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reesim.simulate.record import KT_TO_T
from reesim.simulate.result import Result
from reesim.simulate.run_arrays import RunArrays


@dataclass(frozen=True)
class Counterfactual:
    """What a scenario reads from its counterfactual, per step period."""

    prices: dict[str, dict]  # period -> {(commodity, region): USD/kg}
    flows: dict[str, dict]  # period -> {(commodity, origin, dest): kt/yr}
    consumption: dict[str, dict]  # period -> {(commodity, region): kt/yr}
    expected: dict[str, dict] = field(default_factory=dict)  # period -> {(holder, commodity): USD/kg}

    @classmethod
    def from_result(cls, res: Result) -> Counterfactual:
        """The counterfactual's prices, flows and consumption by period, each one pass over its table
        (columns read as lists: iterating pandas' Arrow-backed strings cost 16 ms per run), or
        over its recorded arrays when it has them (:meth:`from_arrays`: its tables are not made)."""
        if res.arrays is not None:
            return cls.from_arrays(res.arrays)
        prices: dict[str, dict] = {}
        p = res.prices
        for period, c, r, v in zip(*_lists(p, "period", "commodity", "region", "usd_per_kg"), strict=True):
            prices.setdefault(period, {})[(c, r)] = v
        flows: dict[str, dict] = {}
        t = res.trade
        for period, c, o, d, v in zip(
            *_lists(t, "period", "commodity", "exporter", "importer", "tonnes_per_year"), strict=True
        ):
            flows.setdefault(period, {})[(c, o, d)] = v / KT_TO_T
        consumption: dict[str, dict] = {}
        cons = res.consumption
        for period, c, r, v in zip(
            *_lists(cons, "period", "commodity", "region", "tonnes_per_year"), strict=True
        ):
            here = consumption.setdefault(period, {})
            here[(c, r)] = here.get((c, r), 0.0) + v / KT_TO_T
        expected: dict[str, dict] = {}
        st = res.table("stocks")
        if "expected_usd_per_kg" in st.columns:
            st = st[(st["kind"] == "private") & st["expected_usd_per_kg"].notna()]
            for period, h, c, v in zip(
                *_lists(st, "period", "holder", "commodity", "expected_usd_per_kg"), strict=True
            ):
                expected.setdefault(period, {})[(h, c)] = v
        return cls(prices, flows, consumption, expected)

    @classmethod
    def from_arrays(cls, a: RunArrays) -> Counterfactual:
        """:meth:`from_result` from a run's recorded arrays: the same maps, value for value (the
        tables' columns are these arrays; flows as the trade table keeps them, above zero)."""
        nodes = list(zip(a.node_commodity, a.node_region, strict=True))
        edges = list(zip(a.edge_commodity, a.edge_exporter, a.edge_importer, strict=True))
        demands = list(zip(a.dem_commodity, a.dem_region, strict=True))
        prices, flows, consumption = {}, {}, {}
        for s, period in enumerate(a.periods):
            prices[period] = dict(zip(nodes, a.prices[s].tolist(), strict=True))
            shipped = np.flatnonzero(a.flow[s] > 0)
            flows[period] = dict(
                zip([edges[j] for j in shipped], (a.flow[s, shipped] / KT_TO_T).tolist(), strict=True)
            )
            here: dict = {}
            for key, v in zip(demands, (a.consumption[s] / KT_TO_T).tolist(), strict=True):
                here[key] = here.get(key, 0.0) + v
            consumption[period] = here
        return cls(prices, flows, consumption, {p: dict(e) for p, e in a.expected.items()})


def _lists(df: pd.DataFrame, *cols: str) -> list[list]:
    """Columns of ``df`` as Python lists (for loops over rows)."""
    return [df[c].tolist() for c in cols]
