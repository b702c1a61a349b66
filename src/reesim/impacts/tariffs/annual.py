"""The Section 301 programme over a date window: year x group tables of its effects.

Each group's schedule is cut into intervals of constant rate and expected excluded share;
each interval's equilibrium (:func:`~reesim.impacts.tariffs.incidence.solve_group`) is
weighted by its days.

The model is static: each year's figures are the annual flows at the reference import values
(no trade growth), weighted by the days each rate was in force.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping

import pandas as pd

from reesim.errors import InputError
from reesim.impacts.tariffs.incidence import GroupOutcome, solve_group
from reesim.impacts.tariffs.loader import load_groups
from reesim.impacts.tariffs.schedule import TariffGroup, _as_date

#: Flow figures summed over the days of a year (USD bn, annual rate x days / days in year).
FLOW_FIELDS: tuple[str, ...] = (
    "consumer_surplus_change_usd_bn",
    "consumer_cost_usd_bn",
    "tariff_revenue_usd_bn",
    "foreign_producer_surplus_change_usd_bn",
    "terms_of_trade_gain_usd_bn",
    "deadweight_loss_usd_bn",
    "net_welfare_change_usd_bn",
)
#: Price figures averaged over the days of the window in the year.
PRICE_FIELDS: tuple[str, ...] = (
    "china_import_price_change_pct",
    "composite_import_price_change_pct",
    "china_world_price_change_pct",
)


def _breakpoints(g: TariffGroup, start: dt.date, stop: dt.date) -> list[dt.date]:
    """Dates in ``[start, stop)`` where the group's state may change, plus 1 January of each year."""
    points = {start}
    for step in g.schedule:
        points.add(step.effective_date)
        points.update(e + dt.timedelta(days=1) for e in step.exclusion_expiries)
    points.update(dt.date(y, 1, 1) for y in range(start.year, stop.year + 1))
    return sorted(p for p in points if start <= p < stop)


def _accumulate(g: TariffGroup, start: dt.date, stop: dt.date, with_exclusions: bool) -> dict[int, dict]:
    """Step 1 of :func:`_year_rows`: day-weighted sums per year over the constant-state intervals."""
    points = [*_breakpoints(g, start, stop), stop]
    acc: dict[int, dict] = {}
    solved: dict[tuple[float, float], GroupOutcome] = {}
    for a, b in itertools.pairwise(points):
        year = a.year
        days = (b - a).days
        year_days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
        rate = g.rate_at(a)
        share = g.excluded_share_at(a) if with_exclusions else 0.0
        rec = acc.setdefault(
            year,
            {
                "days": 0,
                "rate_days": 0.0,
                "share_days": 0.0,
                "active_days": 0,
                "pt_days": 0.0,
                "unknown": False,
                **{f: 0.0 for f in FLOW_FIELDS + PRICE_FIELDS},
            },
        )
        rec["days"] += days
        rec["rate_days"] += rate * days
        rec["share_days"] += share * days
        if with_exclusions and g.exclusion_share_unknown_at(a):
            rec["unknown"] = True
        if rate == g.base_tariff_rate:
            continue
        key = (rate, share)
        if key not in solved:
            solved[key] = solve_group(g, rate, share)
        out = solved[key]
        rec["active_days"] += days
        rec["pt_days"] += out.pass_through * days
        for f in FLOW_FIELDS:
            rec[f] += getattr(out, f) * days / year_days
        for f in PRICE_FIELDS:
            rec[f] += getattr(out, f) * days
    return acc


def _year_row(g: TariffGroup, year: int, rec: dict) -> dict:
    """Step 2 of :func:`_year_rows`: one year's row of :func:`programme` from its sums."""
    value = g.covered_import_value_usd_bn
    row = {
        "year": year,
        "group": g.name,
        "list": g.list_name,
        "days_in_window": rec["days"],
        "days_action_in_force": rec["active_days"],
        "tariff_rate_avg_pct": 100.0 * rec["rate_days"] / rec["days"],
        "base_tariff_rate_pct": 100.0 * g.base_tariff_rate,
        "excluded_share_avg_pct": 100.0 * rec["share_days"] / rec["days"],
        "exclusion_share_unknown": rec["unknown"],
        "covered_import_value_usd_bn": math.nan if value is None else value,
        "value_missing": value is None,
        "pass_through": rec["pt_days"] / rec["active_days"] if rec["active_days"] else math.nan,
    }
    for f in PRICE_FIELDS:
        row[f] = rec[f] / rec["days"]
    scale = 1.0 if value is None else value
    for f in FLOW_FIELDS:
        row[f] = math.nan if value is None else rec[f]
    for f in FLOW_FIELDS:
        row[f.replace("_usd_bn", "_per_usd_1bn_imports")] = rec[f] / scale
    return row


def _year_rows(g: TariffGroup, start: dt.date, stop: dt.date, with_exclusions: bool) -> list[dict]:
    """Annual figures of one group over ``[start, stop)``."""
    acc = _accumulate(g, start, stop, with_exclusions)
    return [_year_row(g, year, rec) for year, rec in sorted(acc.items())]


def programme(
    date_from: dt.date | str,
    date_to: dt.date | str,
    with_exclusions: bool = True,
    groups: Mapping[str, TariffGroup] | Iterable[TariffGroup] | None = None,
) -> pd.DataFrame:
    """Year x group table of the programme's effects between two dates (both inclusive).

    Parameters
    ----------
    date_from, date_to : date or ISO string
        The window; a year only partly inside counts only its days inside (flows are the
        annual rate times the share of the year's days).
    with_exclusions : bool
        Apply the expected excluded shares (False: the same figures without exclusions).
    groups : mapping or iterable of TariffGroup, optional
        The groups (default: :func:`load_groups`).

    Returns
    -------
    pandas.DataFrame
        Indexed by (``year``, ``group``). Money columns ``*_usd_bn`` are USD bn accrued in the
        year (NaN where the group's covered value is missing: see ``value_missing``); the
        ``*_per_usd_1bn_imports`` columns are the same flows per USD 1 bn of covered imports
        from China (always filled). Prices are day-weighted averages over the window's days
        (percent, relative to the base); ``pass_through`` is averaged over the days the action
        was in force. ``exclusion_share_unknown`` flags years with exclusions in force whose
        value share is not in the data (treated as 0).
    """
    start, end = _as_date(date_from), _as_date(date_to)
    if end < start:
        raise InputError(f"date_to {end} is before date_from {start}")
    if groups is None:
        chosen = list(load_groups().values())
    elif isinstance(groups, Mapping):
        chosen = list(groups.values())
    else:
        chosen = list(groups)
    stop = end + dt.timedelta(days=1)
    rows = [r for g in chosen for r in _year_rows(g, start, stop, with_exclusions)]
    frame = pd.DataFrame(rows)
    return frame.set_index(["year", "group"]).sort_index(level="year", sort_remaining=False)


def exclusion_effect(date_from: dt.date | str, date_to: dt.date | str, **kwargs) -> pd.DataFrame:
    """The programme's flows with and without exclusions side by side, and their difference.

    Columns ``<flow>_with``, ``<flow>_without`` and ``<flow>_exclusion_effect`` (with minus
    without) for every flow in :data:`FLOW_FIELDS`; keyword arguments go to :func:`programme`.
    """
    with_ = programme(date_from, date_to, with_exclusions=True, **kwargs)
    without = programme(date_from, date_to, with_exclusions=False, **kwargs)
    out = with_[["excluded_share_avg_pct", "exclusion_share_unknown", "value_missing"]].copy()
    for f in FLOW_FIELDS:
        out[f"{f}_with"] = with_[f]
        out[f"{f}_without"] = without[f]
        out[f"{f}_exclusion_effect"] = with_[f] - without[f]
    return out
