"""The build-out record of plants outside China against the model's lead times (issue 14, item 4)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from reesim.backtest.buildout import BAN_EXTRA_YEARS, ban_date, plant_record, score
from reesim.data import default_dataset
from reesim.scenario.spec import Dynamics
from tests.test_cli import invoke

MILESTONES = {
    "announced",
    "final_investment_decision",
    "construction_start",
    "first_feed",
    "first_output",
    "not_producing",
    "nameplate_capacity",
    "capex_budget",
    "capex_actual",
    "annual_output",
}


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    return plant_record(default_dataset()).set_index("plant_id")


def _years(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 365.25


def test_rows_use_the_vocabulary_and_every_plant_is_outside_china():
    m = default_dataset().table("plant_milestones")
    assert set(m["milestone"]) <= MILESTONES
    assert set(m["stage"]) <= {"mining", "separation", "heavy_separation", "metal", "magnet"}
    assert "CHN" not in set(m["iso3"])
    per_plant = m.groupby("plant_id")[["stage", "iso3"]].nunique()
    assert (per_plant == 1).all().all()  # the record reads one stage and one country per plant
    dated = m[m["milestone"].isin(["capex_budget", "capex_actual", "nameplate_capacity", "annual_output"])]
    assert dated["value"].notna().all() and dated["unit"].notna().all()  # a figure always has its unit


def test_lead_times_by_hand(record):
    dyn = Dynamics()
    # Kalgoorlie: sod turned April 2022, first carbonate June 2024 (month midpoints)
    k = record.loc["lynas_kalgoorlie"]
    assert k["start_basis"] == "construction start" and k["output_basis"] == "first saleable output"
    assert k["lead_years"] == pytest.approx(_years(dt.date(2022, 4, 15), dt.date(2024, 6, 15)), abs=0.01)
    assert k["model_lead_years"] == dyn.lead_time_years["separation"] and not k["under_ban"]
    assert k["capex_overrun"] == pytest.approx(800 / 500)  # A$500m first estimate, A$800m final
    # a budget and an actual stated the same day: the budget comes first (USD 25m, 16m spent)
    assert record.loc["ef_whitemesa", "capex_overrun"] == pytest.approx(16 / 25)
    # one capex figure only, or conflicting actuals that neither source wins: no ratio
    assert pd.isna(record.loc["neo_narva", "capex_overrun"])
    # e-VAC's magnet plant started after China's technology ban: the model adds the ban's years
    e = record.loc["evac_sumter"]
    assert e["under_ban"] and e["model_lead_years"] == dyn.lead_time_years["magnet"] + BAN_EXTRA_YEARS
    # a month-only start (March 2024) and a month-only first output (December 2025): +-15 days each
    assert e["lead_years"] == pytest.approx(_years(dt.date(2024, 3, 16), dt.date(2025, 12, 16)), abs=0.01)
    assert e["lead_uncertainty_years"] == pytest.approx((30 + 30) / 365.25 / 2, abs=0.001)
    # Molycorp's restart is dated by its first feed (no saleable-output date in the record)
    assert record.loc["molycorp_mtpass", "output_basis"] == "first feed"
    # MP's Stage II: from its 2019 announcement (no construction date) to its first separated
    # NdPr in the third quarter of 2023
    m = record.loc["mp_mtpass_stage2"]
    assert m["start_basis"] == "announcement"
    assert m["lead_years"] == pytest.approx(_years(dt.date(2019, 7, 2), dt.date(2023, 8, 16)), abs=0.01)
    # a non-preferred row is not read: Neo Narva's two conflicting costs at opening
    assert pd.isna(record.loc["neo_narva", "capex_last"])
    # Eneabba had no output when a source said so in December 2024: a lower bound, not a lead
    n = record.loc["iluka_eneabba"]
    assert pd.isna(n["lead_years"])
    assert n["waiting_years"] == pytest.approx(_years(dt.date(2022, 4, 4), dt.date(2024, 12, 16)), abs=0.01)
    assert ban_date(default_dataset()) == dt.date(2023, 12, 21)


def test_score_by_hand_with_a_held_out_year():
    rec = pd.DataFrame(
        {
            "start": ["2010", "2012", "2020", "2024-06"],
            "lead_years": [2.0, 4.0, 3.0, 1.0],
            "model_lead_years": [3.0, 3.0, 3.0, 3.0 + BAN_EXTRA_YEARS],
            "under_ban": [False, False, False, True],
        }
    )
    s = score(rec, held_out_from=2018)
    # all: errors -1, +1, 0, 1-5 = -4 -> bias -1, mean absolute error 1.5
    assert s["all"].plants == 4
    assert s["all"].bias_model == pytest.approx(-1.0) and s["all"].mae_model == pytest.approx(1.5)
    # calibrated on 2010 and 2012: median lead 3.0; on the test plants 3.0 and 3.0 + ban
    te = s["test"]
    assert s["train"].plants == 2 and te.plants == 2 and te.calibrated_lead == pytest.approx(3.0)
    assert te.bias_calibrated == pytest.approx((0.0 + (1.0 - 3.0 - BAN_EXTRA_YEARS)) / 2)
    assert te.mae_model == pytest.approx((0.0 + abs(1.0 - 3.0 - BAN_EXTRA_YEARS)) / 2)
    assert "test" not in score(rec, held_out_from=2030)  # nothing to hold out


def test_cli_prints_the_record_and_the_scores(capsys):
    code, out, err = invoke(capsys, "world", "buildout", "--held-out-from", "2018")
    assert code == 0, err
    assert "lynas_kalgoorlie" in out and "Held out by start year" in out
    code, _, err = invoke(capsys, "world", "buildout", "--held-out-from", "18")
    assert code == 2 and "--held-out-from" in err
