"""How fast plants outside China ramped up: output over nameplate in the build-out record.

A plant's first output is not its nameplate. The ``plant_milestones`` table holds, for some
plants, their output by period after first output (``annual_output``: a year, a fiscal year or a
quarter) and their nameplate (``nameplate_capacity``). Each such period gives a point: the
years since first output it covers and the plant's output rate over it (tonnes over the
period's length in years) as a share of the nameplate stated by first output.

The model brings a plant's nameplate online in equal tranches over ``R`` ramp years
(:func:`reesim.instruments.projects.ramp_offsets`: named plants' ``ramp_years``, the
investment rule's ``Dynamics.ramp_years``). :func:`predicted_share` is that rule's share of
nameplate in service, averaged over the same span as the observation; :func:`fit` finds the
``R`` with the least squared error over a set of points (a grid of 0.1 year), and
:func:`score` fits it on plants whose first output came before a year and scores it on the
rest (held out by the year of first output, as :func:`reesim.backtest.buildout.score` holds lead
times out by start year).

Which points count (so that output and nameplate measure the same thing):

* the output row's unit, less its period, is the nameplate's unit less ``/yr`` and any
  qualifier in brackets (``t REO`` against ``t REO/yr (phases 1+2)``); an output row whose own
  unit carries a qualifier measures something else and is left out (Molycorp's rows are U.S.
  mine production, ``t REO (U.S. mine production, USGS)``, not the plant's separated output);
* the nameplate is the one in place at first output: of the figures stated on the latest date
  on or before it, the smallest (Lynas Malaysia: 11,000 t REO a year for phase 1, stated in
  October 2012 beside the 22,000 t of phases 1 and 2, of which phase 2 came later; first product
  February 2013); a period whose output exceeds it (Lynas' fiscal 2016, 12,630 t) has a later
  phase in it and is left out;
* the period starts on or after the first output's midpoint (MP Materials' 2023 output, a year
  that began before its first NdPr in Q3 2023, is left out).

Output below nameplate is not only ramp-up: a plant may also run below capacity because the price
does not cover its cash cost. The two plants with series ran through price troughs (2014-16 and
2024) while their operators reported commissioning and ramp-up problems; the model's own
output also falls with the price, so the fit may overstate how slow the ramp is. It is a
statement about what plants delivered, not an engineering estimate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reesim.backtest.buildout import period_mid
from reesim.data.periods import first_day, last_day
from reesim.instruments.projects import ramp_offsets

#: the grid the fit searches, years (0 to 10, the schema's bounds of a ramp)
GRID = np.round(np.arange(0.0, 10.0 + 1e-9, 0.1), 1)


def _years(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 365.25


def _length_years(start: dt.date, end: dt.date) -> float:
    """A period's length in years: whole months count as twelfths (a quarter is 0.25, a fiscal
    year 1.0), other spans by days."""
    if start.day == 1 and (end + dt.timedelta(days=1)).day == 1:
        return ((end.year - start.year) * 12 + end.month - start.month + 1) / 12
    return ((end - start).days + 1) / 365.25


def _base_unit(unit: str) -> tuple[str, str]:
    """A unit without its qualifier in brackets and without ``/yr``, and the qualifier."""
    text = str(unit).strip()
    base, _, rest = text.partition("(")
    return base.strip().removesuffix("/yr").strip(), rest.rstrip(")").strip()


def ramp_points(ds) -> pd.DataFrame:
    """One row per output period after a plant's first output, with its share of nameplate.

    Columns: ``plant_id``, ``stage``, ``iso3``, ``first_output`` (the milestone's text),
    ``period`` (the output row's date text), ``years_from``, ``years_to`` (the period in years
    since the first output's midpoint), ``output_rate`` (output over the period's length in
    years), ``nameplate``, ``unit`` (the output's), ``share`` (rate over nameplate) and
    ``source_id`` (the output row's).
    """
    m = ds.table("plant_milestones", preferred=True)
    out = []
    for pid, rows in m.groupby("plant_id", sort=True):
        first = rows[rows["milestone"] == "first_output"]
        if first.empty:
            continue
        f = first.iloc[0]
        t0 = period_mid(f["date"])
        if t0 is None:
            continue
        plates = rows[rows["milestone"] == "nameplate_capacity"].copy()
        plates["_on"] = [first_day(str(d)) for d in plates["date"]]
        plates = plates[plates["_on"].notna() & (plates["_on"] <= t0)]
        for r in rows[rows["milestone"] == "annual_output"].itertuples(index=False):
            unit, qualifier = _base_unit(r.unit)
            start, end = first_day(str(r.date)), last_day(str(r.date))
            if qualifier or start is None or end is None or start < t0:
                continue
            same = plates[[_base_unit(u)[0] == unit for u in plates["unit"]]]
            if same.empty:
                continue
            latest = same[same["_on"] == same["_on"].max()]
            plate = float(latest["value"].astype(float).min())  # the phase in place at first output
            length = _length_years(start, end)
            rate = float(r.value) / length
            if rate > plate:
                continue  # more than the nameplate: a later phase has come in, not this ramp
            out.append(
                {
                    "plant_id": pid,
                    "stage": str(f["stage"]),
                    "iso3": str(f["iso3"]),
                    "first_output": str(f["date"]),
                    "period": str(r.date),
                    "years_from": _years(t0, start),
                    "years_to": _years(t0, end + dt.timedelta(days=1)),
                    "output_rate": rate,
                    "nameplate": plate,
                    "unit": unit,
                    "share": rate / plate,
                    "source_id": str(r.source_id),
                }
            )
    return pd.DataFrame(
        out,
        columns=[
            "plant_id",
            "stage",
            "iso3",
            "first_output",
            "period",
            "years_from",
            "years_to",
            "output_rate",
            "nameplate",
            "unit",
            "share",
            "source_id",
        ],
    )


def predicted_share(ramp_years: float, years_from: float, years_to: float) -> float:
    """The model's share of nameplate in service, averaged from ``years_from`` to ``years_to``
    after first output, for a ramp of ``ramp_years`` (equal tranches at
    :func:`~reesim.instruments.projects.ramp_offsets`)."""
    if years_to <= years_from:
        raise ValueError(f"an empty span: {years_from} to {years_to} years")
    offsets = ramp_offsets(ramp_years)
    span = years_to - years_from
    inside = sum(max(0.0, years_to - max(years_from, off)) for off in offsets)
    return inside / span / len(offsets)


def errors(points: pd.DataFrame, ramp_years: float) -> np.ndarray:
    """Predicted minus observed share of nameplate at each point, for a ramp of ``ramp_years``."""
    pred = [
        predicted_share(ramp_years, a, b)
        for a, b in zip(points["years_from"], points["years_to"], strict=True)
    ]
    return np.asarray(pred) - points["share"].to_numpy(float)


def fit(points: pd.DataFrame) -> float:
    """The ramp (years, on :data:`GRID`) with the least sum of squared errors over ``points``;
    the shortest of equal fits."""
    if points.empty:
        raise ValueError("no output points to fit a ramp on")
    if points["share"].isna().any():
        raise ValueError("an output point has no share of nameplate")
    sse = [float(np.sum(errors(points, r) ** 2)) for r in GRID]
    return float(GRID[int(np.argmin(sse))])


@dataclass(frozen=True)
class RampScore:
    """A ramp fitted on the plants before a year, scored on those from it (shares of nameplate)."""

    train_plants: tuple[str, ...]
    test_plants: tuple[str, ...]
    fitted_years: float
    mae_fitted: float
    #: mean absolute error on the test points of other ramps: years -> error
    mae_other: dict[float, float]


def score(
    points: pd.DataFrame, held_out_from: int, others: tuple[float, ...] = (0.0, 1.0)
) -> RampScore | None:
    """Fit the ramp on plants whose first output came before ``held_out_from``, score it on the
    rest, beside the ramps in ``others`` (0: whole at first output, as the investment rule built
    before ramps; 1: a named plant's default ``ramp_years``). ``None`` without points on both sides."""
    year = points["first_output"].map(lambda s: first_day(str(s)).year)
    train, test = points[year < held_out_from], points[year >= held_out_from]
    if train.empty or test.empty:
        return None
    r = fit(train)
    return RampScore(
        tuple(sorted(set(train["plant_id"]))),
        tuple(sorted(set(test["plant_id"]))),
        r,
        float(np.mean(np.abs(errors(test, r)))),
        {o: float(np.mean(np.abs(errors(test, o)))) for o in others},
    )
