"""A run's recorded solutions as arrays: steps by labelled columns, before any table is made.

The recorder (:class:`reesim.simulate.record.Recorder`) keeps each step's prices, outputs and
flows as arrays over the run's nodes, producing processes and routes; the result tables repeat
their labels for every step. An ensemble member reads a few dozen figures from two runs
(:mod:`reesim.ensemble.figures`): read from these arrays, they cost a fraction of the pandas
operations over the tables. The arrays are a process-local companion of a
:class:`~reesim.simulate.result.Result` (not pickled, not written): the tables are the record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RunArrays:
    """One run's recorded steps (rows) by label (columns).

    Units as in the result tables: prices USD/kg, outputs and flows t/yr, welfare and fiscal
    amounts million USD in the step. Each array's columns follow its labels, the rows
    :attr:`periods`.
    """

    periods: tuple[str, ...]
    years: np.ndarray  # (steps,) int
    step_years: np.ndarray  # (steps,) length of each step in years
    node_commodity: tuple[str, ...]
    node_region: tuple[str, ...]
    prices: np.ndarray  # (steps, nodes) USD/kg
    determined: np.ndarray  # (steps, nodes) bool: the price is pinned by the solution
    out_region: tuple[str, ...]
    out_kind: tuple[str, ...]
    out_commodity: tuple[str, ...]
    output: np.ndarray  # (steps, outputs) t/yr, the production table's tonnes_per_year
    edge_commodity: tuple[str, ...]
    edge_exporter: tuple[str, ...]
    edge_importer: tuple[str, ...]
    flow: np.ndarray  # (steps, edges) t/yr, the trade table's tonnes_per_year
    dem_commodity: tuple[str, ...]  # final demands (the consumption table's rows of a step)
    dem_region: tuple[str, ...]
    consumption: np.ndarray  # (steps, final demands) t/yr, the consumption table's tonnes_per_year
    #: period -> {(holder, commodity): USD/kg}, the private holders' expected prices
    expected: dict[str, dict]
    #: the surplus table's rows (period, year, region, component, usd_million, per year)
    welfare: tuple[tuple, ...]
    #: the fiscal table's rows (period, year, instrument, payer, usd_million)
    fiscal: tuple[dict, ...]
