"""Scores of a simulated series against an observed one (pure functions).

A series is a table of periods (``start``, ``end`` dates, inclusive) and values. Observed
points may be annual averages ("2025"), months or single days; simulated steps are years,
quarters or months. Each observed point is compared with the simulated value over the same
period: the mean of the simulated steps weighted by their overlap with it (an annual average
against twelve monthly steps, a single day against the step that contains it).

Scores (the usual event-study measures of forecast evaluation; e.g. Diebold, *Elements of
Forecasting*, 4th ed., 2007, ch. 12, for the log error):

* ``peak_multiple`` (``extreme`` = peak or trough): the extreme, in the observed direction of
  change, of the points ending after the pre-episode date (an annual average that straddles it
  counts as after) divided by the pre-episode level (the last point ending at or before that
  date) — the highest value for a rise or a flat series, the lowest for a fall — observed and
  simulated on the same points (zeros count: a halt of trade is a multiple of 0);
* ``peak`` timing: the midpoint of the period of each extreme, and the difference in months;
* ``direction``: up / down / flat of the last point against the pre-episode level, with a
  +-5 % dead band, observed vs simulated;
* ``log_rmse``: root mean squared log error of the levels, sqrt(mean(ln(sim/obs)^2)), over
  every aligned point; ``log_rmse_change`` the same for changes from the pre-episode level
  (ln(sim/sim_pre) - ln(obs/obs_pre) on the points after the pre-episode date), which
  separates the dynamics from a level bias.

The verdict is generated from them: ``hit`` when the direction matches and the simulated peak
multiple is within a factor 1.5 of the observed one, ``partial`` when only the direction
matches, ``miss`` otherwise; ``no score`` when there is no pre-episode point or nothing after it.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

DEAD_BAND = 0.05
PEAK_FACTOR = 1.5


def _days(a: dt.date, b: dt.date) -> int:
    return (b - a).days + 1


def align(observed: pd.DataFrame, simulated: pd.DataFrame) -> pd.DataFrame:
    """Observed points with the simulated value over each point's period.

    Parameters
    ----------
    observed : DataFrame
        Columns ``start``, ``end`` (dates, inclusive) and ``value``.
    simulated : DataFrame
        Columns ``start``, ``end`` and ``value`` (one row per step).

    Returns
    -------
    DataFrame
        The observed rows (in time order) with ``simulated``; points outside the simulated
        horizon are dropped.
    """
    rows = []
    sim = simulated.sort_values("start")
    for r in observed.sort_values(["start", "end"]).itertuples(index=False):
        weights, values = [], []
        for s in sim.itertuples(index=False):
            lo, hi = max(r.start, s.start), min(r.end, s.end)
            if hi >= lo:
                weights.append(_days(lo, hi))
                values.append(float(s.value))
        if weights:
            rows.append({**r._asdict(), "simulated": float(np.average(values, weights=weights))})
    return pd.DataFrame(rows, columns=[*observed.columns, "simulated"])


def _direction(ratio: float) -> str:
    if not math.isfinite(ratio):
        return "n/a"
    if ratio > 1 + DEAD_BAND:
        return "up"
    if ratio < 1 - DEAD_BAND:
        return "down"
    return "flat"


def _mid(start: dt.date, end: dt.date) -> dt.date:
    return start + (end - start) / 2


def score(aligned: pd.DataFrame, pre_episode: dt.date) -> dict:
    """Scores of one aligned series (see the module docstring); plain data."""
    out = {
        "points": len(aligned),
        "log_rmse": float("nan"),
        "log_rmse_change": float("nan"),
        "pre_observed": float("nan"),
        "pre_simulated": float("nan"),
        "extreme": None,
        "peak_multiple_observed": float("nan"),
        "peak_multiple_simulated": float("nan"),
        "peak_observed": None,
        "peak_simulated": None,
        "peak_timing_error_months": float("nan"),
        "direction_observed": "n/a",
        "direction_simulated": "n/a",
        "verdict": "no score",
    }
    if aligned.empty:
        return out
    pos = aligned[(aligned["value"] > 0) & (aligned["simulated"] > 0)]
    if len(pos):
        out["log_rmse"] = float(np.sqrt(np.mean(np.log(pos["simulated"] / pos["value"]) ** 2)))
    pre = aligned[aligned["end"] <= pre_episode]
    post = aligned[aligned["end"] > pre_episode]
    if pre.empty or post.empty:
        return out
    base = pre.sort_values(["end", "start"]).iloc[-1]
    o0, s0 = float(base["value"]), float(base["simulated"])
    if o0 <= 0 or s0 <= 0:
        return out
    out["pre_observed"], out["pre_simulated"] = o0, s0
    last = post.sort_values(["end", "start"]).iloc[-1]
    out["direction_observed"] = _direction(float(last["value"]) / o0)
    out["direction_simulated"] = _direction(float(last["simulated"]) / s0)
    # The extreme in the observed direction: the trough of a fall, the peak otherwise.
    trough = out["direction_observed"] == "down"
    out["extreme"] = "trough" if trough else "peak"
    io = post["value"].idxmin() if trough else post["value"].idxmax()
    is_ = post["simulated"].idxmin() if trough else post["simulated"].idxmax()
    out["peak_multiple_observed"] = float(post.loc[io, "value"] / o0)
    out["peak_multiple_simulated"] = float(post.loc[is_, "simulated"] / s0)
    po = _mid(post.loc[io, "start"], post.loc[io, "end"])
    ps = _mid(post.loc[is_, "start"], post.loc[is_, "end"])
    out["peak_observed"], out["peak_simulated"] = po.isoformat(), ps.isoformat()
    out["peak_timing_error_months"] = round((ps - po).days / 30.4375, 1)
    both = post[(post["value"] > 0) & (post["simulated"] > 0)]
    if len(both):
        change = np.log(both["simulated"] / s0) - np.log(both["value"] / o0)
        out["log_rmse_change"] = float(np.sqrt(np.mean(change**2)))
    same = out["direction_observed"] == out["direction_simulated"]
    mo, ms = out["peak_multiple_observed"], out["peak_multiple_simulated"]
    close = mo > 0 and ms > 0 and abs(math.log(ms / mo)) <= math.log(PEAK_FACTOR)
    out["verdict"] = "hit" if same and close else ("partial" if same else "miss")
    return out
