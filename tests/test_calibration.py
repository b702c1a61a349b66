"""The baseline's historical run against the data, and the statistics stored with the package."""

from __future__ import annotations

import pytest

from reesim.simulate import calibrate as cal


@pytest.fixture(scope="module")
def report():
    return cal.fit()


def test_historical_run_meets_the_stated_tolerances(report):
    years = report["years"]
    assert [y["year"] for y in years] == list(range(cal.FIRST, cal.LAST + 1))
    errors = [abs(y["china_share_error_pp"]) for y in years]
    assert sum(errors) / len(errors) <= cal.CHINA_SHARE_TOL_PP
    assert max(errors) <= cal.CHINA_SHARE_MAX_PP
    assert all(y["max_abs_price_log10"] <= cal.PRICE_LOG10_TOL for y in years)
    assert report["passed"] is True
    # The start year is the calibration year: shares and prices match the data there.
    assert abs(years[0]["china_share_error_pp"]) < 0.5
    assert years[0]["max_abs_price_log10"] < 0.02


def test_china_share_in_the_data_is_usgs(report):
    data = {y["year"]: y["china_share_data_pct"] for y in report["years"]}
    assert data[2024] == pytest.approx(
        100 * 270_000 / 384_000, abs=0.01
    )  # country rows incl. Other countries


def test_stored_report_is_current(report):
    stored = cal.stored()
    assert cal.matches(stored, report)  # what `reesim calibrate` says ("Stored report matches")
    assert not cal.matches(stored, {**stored, "passed": not stored["passed"]})
    first = {
        **stored["years"][0],
        "china_share_model_pct": stored["years"][0]["china_share_model_pct"] + 0.01,
    }
    assert not cal.matches(stored, {**stored, "years": [first, *stored["years"][1:]]})
    assert stored["tolerances"] == report["tolerances"]
    for a, b in zip(stored["years"], report["years"], strict=True):
        assert a["china_share_model_pct"] == pytest.approx(b["china_share_model_pct"], abs=1e-6)
        assert a["price_log10_ratio"] == pytest.approx(b["price_log10_ratio"], abs=1e-4)
