"""Backtest scores on hand-made series: alignment by period overlap, peak multiple, timing,
direction, log-RMSE and the verdict."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.backtest.scores import align, score

D = dt.date


def monthly(year: int, values: list[float]) -> pd.DataFrame:
    rows = []
    for m, v in enumerate(values, start=1):
        end = (D(year, m + 1, 1) if m < 12 else D(year + 1, 1, 1)) - dt.timedelta(days=1)
        rows.append({"start": D(year, m, 1), "end": end, "value": v})
    return pd.DataFrame(rows)


def test_annual_observation_is_compared_with_the_mean_of_its_months():
    sim = pd.concat([monthly(2024, [10.0] * 12), monthly(2025, [10.0] * 3 + [40.0] * 9)], ignore_index=True)
    obs = pd.DataFrame(
        [
            {"start": D(2024, 1, 1), "end": D(2024, 12, 31), "value": 10.0},
            {"start": D(2025, 1, 1), "end": D(2025, 12, 31), "value": 25.0},
            {"start": D(2025, 5, 6), "end": D(2025, 5, 6), "value": 50.0},  # a single day in May
            {"start": D(2030, 1, 1), "end": D(2030, 12, 31), "value": 1.0},  # outside the horizon
        ]
    )
    a = align(obs, sim)
    assert len(a) == 3
    # 2025: Jan-Mar at 10 (31+28+31 = 90 days), Apr-Dec at 40 (275 days), weighted by days.
    assert a.loc[1, "simulated"] == pytest.approx((90 * 10 + 275 * 40) / 365)
    assert a.loc[2, "simulated"] == 40.0


def test_scores_by_hand():
    obs = pd.DataFrame(
        {
            "start": [D(2024, 1, 1), D(2025, 1, 1), D(2026, 1, 1)],
            "end": [D(2024, 12, 31), D(2025, 12, 31), D(2026, 12, 31)],
            "value": [100.0, 300.0, 150.0],
        }
    )
    a = obs.assign(simulated=[50.0, 100.0, 200.0])
    s = score(a, D(2024, 12, 31))
    assert s["pre_observed"] == 100 and s["pre_simulated"] == 50
    assert s["peak_multiple_observed"] == pytest.approx(3.0)
    assert s["peak_multiple_simulated"] == pytest.approx(4.0)  # 200 / 50
    assert s["peak_observed"] == "2025-07-02" and s["peak_simulated"] == "2026-07-02"
    assert s["peak_timing_error_months"] == pytest.approx(365 / 30.4375, abs=0.05)
    assert s["direction_observed"] == "up" and s["direction_simulated"] == "up"
    # Levels: ln(0.5), ln(1/3), ln(4/3).
    lv = [math.log(0.5), math.log(1 / 3), math.log(4 / 3)]
    assert s["log_rmse"] == pytest.approx(math.sqrt(sum(x * x for x in lv) / 3))
    # Changes after the pre-episode point: ln(2) - ln(3), ln(4) - ln(1.5).
    ch = [math.log(2) - math.log(3), math.log(4) - math.log(1.5)]
    assert s["log_rmse_change"] == pytest.approx(math.sqrt(sum(x * x for x in ch) / 2))
    # Direction matches and 4 / 3 is within a factor 1.5: a hit.
    assert s["verdict"] == "hit"


def test_verdicts_partial_miss_and_no_score():
    obs = pd.DataFrame(
        {
            "start": [D(2024, 1, 1), D(2025, 1, 1)],
            "end": [D(2024, 12, 31), D(2025, 12, 31)],
            "value": [10.0, 30.0],
        }
    )
    assert score(obs.assign(simulated=[10.0, 12.0]), D(2024, 12, 31))["verdict"] == "partial"  # up, 1.2 vs 3
    miss = score(obs.assign(simulated=[10.0, 8.0]), D(2024, 12, 31))
    assert miss["verdict"] == "miss" and miss["direction_simulated"] == "down"
    flat = score(obs.assign(simulated=[10.0, 10.4]), D(2024, 12, 31))
    assert flat["direction_simulated"] == "flat"  # within the 5 % dead band
    assert score(obs.assign(simulated=[10.0, 30.0]), D(2023, 12, 31))["verdict"] == "no score"  # no pre point
    assert score(obs.iloc[:0].assign(simulated=[]), D(2024, 12, 31))["points"] == 0


def test_a_fall_is_scored_on_its_trough_and_zeros_count():
    years = [D(2024, 1, 1), D(2025, 1, 1), D(2026, 1, 1), D(2027, 1, 1)]
    obs = pd.DataFrame(
        {"start": years, "end": [D(y.year, 12, 31) for y in years], "value": [100.0, 95.0, 50.0, 20.0]}
    )
    s = score(obs.assign(simulated=[100.0, 99.0, 92.0, 90.0]), D(2024, 12, 31))
    assert (
        s["extreme"] == "trough" and s["direction_observed"] == "down" and s["direction_simulated"] == "down"
    )
    assert s["peak_multiple_observed"] == pytest.approx(0.2) and s[
        "peak_multiple_simulated"
    ] == pytest.approx(0.9)
    assert s["verdict"] == "partial"  # the right direction, but a fall 4.5 times too shallow
    halt = score(obs.assign(value=[100.0, 0.0, 0.0, 0.0], simulated=[100.0, 0.0, 10.0, 0.0]), D(2024, 12, 31))
    assert halt["peak_multiple_observed"] == 0.0 and halt["peak_multiple_simulated"] == 0.0
    assert (
        halt["direction_simulated"] == "down" and halt["verdict"] == "partial"
    )  # multiples of 0 have no ratio


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0.5, 500.0), min_size=3, max_size=8),
    k_obs=st.floats(0.1, 10.0),
    k_sim=st.floats(0.1, 10.0),
)
def test_property_scores_ignore_units_and_a_perfect_forecast_scores_zero(values, k_obs, k_sim):
    """Multiples, directions, timing and the log error of changes do not depend on the units of
    either series; a simulation equal to the observations (up to a constant factor) has zero
    error of changes, the same extreme and, when it is exact, zero level error and a hit."""
    years = [D(2020 + i, 1, 1) for i in range(len(values))]
    obs = pd.DataFrame({"start": years, "end": [D(y.year, 12, 31) for y in years], "value": values})
    pre = D(2020, 12, 31)
    exact = score(obs.assign(simulated=values), pre)
    assert exact["log_rmse"] == pytest.approx(0.0, abs=1e-12)
    assert exact["log_rmse_change"] == pytest.approx(0.0, abs=1e-12)
    assert exact["verdict"] == "hit" and exact["peak_timing_error_months"] == 0
    scaled = score(obs.assign(value=[v * k_obs for v in values], simulated=[v * k_sim for v in values]), pre)
    for key in ("peak_multiple_observed", "peak_multiple_simulated"):
        assert scaled[key] == pytest.approx(exact[key], rel=1e-9)
    for key in ("direction_observed", "direction_simulated", "extreme", "verdict", "peak_observed"):
        assert scaled[key] == exact[key]
    assert scaled["log_rmse_change"] == pytest.approx(0.0, abs=1e-9)
    assert scaled["log_rmse"] == pytest.approx(abs(math.log(k_sim / k_obs)), abs=1e-9)


def test_display_is_stable_on_a_rounding_boundary():
    """Myanmar's trough is 1 - 0.185 = 0.815 by construction; PIQP and Clarabel leave it at
    0.81499999999997 or 0.8150000000000006, which printed 0.81 or 0.82 (the README's table then
    depended on the solver's last digits)."""
    from reesim.backtest.output import fmt

    assert fmt(0.8149999999999651) == fmt(0.8150000000000006) == fmt(0.815) == "0.81"
    assert fmt(0.8160000000000006) == "0.82" and fmt(1234.5678) == "1,234.57"
    assert fmt(None) == fmt(float("nan")) == "—" and fmt(3) == "3"
