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


# --- ramp-up: output over nameplate after first output (reesim.backtest.ramp) -----------------


def test_ramp_offsets_by_hand():
    from reesim.instruments.projects import ramp_offsets

    assert ramp_offsets(0) == (0.0,)
    assert ramp_offsets(1) == (0.0, 1.0)  # half at first output, all a year later
    assert ramp_offsets(2.5) == pytest.approx((0.0, 2.5 / 3, 5.0 / 3, 2.5))  # ceil(2.5) + 1 tranches
    assert len(ramp_offsets(5.1)) == 7 and ramp_offsets(5.1)[-1] == pytest.approx(5.1)


def test_predicted_share_by_hand():
    from reesim.backtest.ramp import predicted_share

    assert predicted_share(0, 0.2, 0.7) == 1.0
    # a 1-year ramp: half the nameplate from first output, all of it from a year on
    assert predicted_share(1, 0.0, 1.0) == pytest.approx(0.5)
    assert predicted_share(1, 0.5, 1.5) == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    # a 3-year ramp (4 tranches a year apart) over its second year: 2 of 4 tranches in service
    assert predicted_share(3, 1.0, 2.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty span"):
        predicted_share(1, 1.0, 1.0)


def test_fit_recovers_a_known_ramp():
    from reesim.backtest.ramp import fit, predicted_share

    spans = [(0.0, 0.5), (0.3, 1.3), (1.0, 2.0), (1.8, 2.8), (2.5, 3.5), (3.0, 4.0)]
    pts = pd.DataFrame(spans, columns=["years_from", "years_to"])
    pts["share"] = [predicted_share(3.0, a, b) for a, b in spans]
    assert fit(pts) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="no output points"):
        fit(pts.iloc[0:0])
    with pytest.raises(ValueError, match="no share"):
        fit(pts.assign(share=[float("nan")] * len(pts)))


def test_ramp_points_of_the_record_by_hand():
    """Lynas Malaysia's fiscal 2014 output (3,965 t REO) over its phase 1 nameplate (11,000 t REO a
    year, stated October 2012 beside phases 1+2's 22,000 t, before first product on 2013-02-27);
    fiscal 2016 (12,630 t, above phase 1: phase 2 had come in), MP's 2023 output (a year that
    began before its first NdPr) and Molycorp's mine production (another measure) are left out."""
    from reesim.backtest.ramp import ramp_points

    pts = ramp_points(default_dataset()).set_index(["plant_id", "period"])
    lamp = pts.loc[("lynas_lamp", "2013-07/2014-06")]
    assert lamp["nameplate"] == 11000 and lamp["share"] == pytest.approx(3965 / 11000)
    t0 = dt.date(2013, 2, 27)
    assert lamp["years_from"] == pytest.approx(_years(t0, dt.date(2013, 7, 1)))
    assert lamp["years_to"] == pytest.approx(_years(t0, dt.date(2014, 7, 1)))
    assert pts.loc[("lynas_lamp", "2013-07/2013-09"), "share"] == pytest.approx(253 * 4 / 11000)  # a quarter
    assert ("lynas_lamp", "2015-07/2016-06") not in pts.index
    assert ("mp_mtpass_stage2", "2023") not in pts.index
    assert ("mp_mtpass_stage2", "2024") in pts.index
    assert "molycorp_mtpass" not in set(pts.index.get_level_values(0))


def test_the_separation_ramp_is_the_records_fit_and_scores_out_of_sample():
    """Dynamics' separation ramp is the fit on every plant of the record; fitted on the plants with
    first output before 2018 alone, it predicts the later ones better than no ramp or a year's."""
    from reesim.backtest.ramp import fit, ramp_points
    from reesim.backtest.ramp import score as ramp_score

    pts = ramp_points(default_dataset())
    assert Dynamics().ramp_years["separation"] == fit(pts)
    s = ramp_score(pts, 2018)
    assert s is not None and s.train_plants and s.test_plants
    assert s.mae_fitted < min(s.mae_other.values())
    assert ramp_score(pts, 1990) is None  # nothing before 1990: no score


def test_the_investment_rule_brings_an_order_online_in_ramp_tranches():
    """With a separation ramp of 2.5 years, each separation order enters the pipeline as four equal
    tranches from its lead time on (ramp_offsets), the whole capital charge on the first."""
    from reesim.instruments.projects import ramp_offsets
    from reesim.simulate import stepper as S
    from reesim.simulate.steps import make_steps
    from tests.test_instruments import scenario

    sc = scenario(end=2031, dynamics={"ramp_years": {"separation": 2.5}})
    run_, state = S.start_run(sc)
    seen = 0
    for step in make_steps(sc.horizon):
        opening, _sol, wt, state = S.advance(run_, state, step)
        new = sorted(set(state.pipeline) - set(opening.pipeline))
        by_process: dict[int, list] = {}
        for item in new:
            by_process.setdefault(item[1], []).append(item)
        for j, items in by_process.items():
            stage = S.INVEST_STAGE[wt.processes["kind"].iloc[j]]
            offsets = ramp_offsets(sc.dynamics.ramp_years[stage])
            lead = sc.dynamics.lead_time_years[stage]
            assert [t for t, *_ in items] == pytest.approx([step.time + lead + o for o in offsets])
            qs = [q for _t, _j, q, _b, _a in items]
            assert max(qs) == pytest.approx(min(qs))  # equal tranches
            charges = [a for *_, a in items]
            assert charges[0] == pytest.approx(sc.dynamics.capex_usd_per_kg_year[stage] * sum(qs))
            assert all(a == 0 for a in charges[1:])
            seen += stage == "separation"
    assert seen, "no separation order: the test sees nothing"


# --- the technology ban's extra lead time in the record (censoring-aware) ---------------------


def test_kaplan_meier_by_hand():
    """Events at 1, 2, 4 and a censored duration at 3: S(1) = 3/4, S(2) = 3/4 x 2/3 = 1/2,
    S(4) = 1/2 x (1 - 1/1) = 0 (the censored 3 leaves the risk set before 4); median 2."""
    from reesim.backtest.buildout import kaplan_meier, km_median

    km = kaplan_meier([1.0, 2.0, 3.0, 4.0], [True, True, False, True])
    assert [t for t, _ in km] == [1.0, 2.0, 4.0]
    assert [s for _, s in km] == pytest.approx([0.75, 0.5, 0.0])
    assert km_median([1.0, 2.0, 3.0, 4.0], [True, True, False, True]) == 2.0
    # censored durations only lower the risk set: one event of three never halves S
    assert km_median([1.0, 5.0, 6.0], [True, False, False]) is None
    # a censored duration tied with an event is at risk at that event
    assert kaplan_meier([2.0, 2.0], [True, False]) == [(2.0, 0.5)]
    with pytest.raises(ValueError, match="differ in length"):
        kaplan_meier([1.0], [True, False])


def test_ban_comparison_groups_and_censoring_by_hand(record):
    from reesim.backtest.buildout import ban_comparison, km_median

    g = ban_comparison(record.reset_index())
    dyn = Dynamics()
    # after the ban: every plant of its stages started after 2023-12-21 with an output or a
    # statement that it had none (e-VAC, Lynas' heavy circuit, Caremag, Ucore, ...)
    after = record[record["under_ban"]]
    times, observed = [], []
    for _pid, row in after.iterrows():
        base = dyn.lead_time_years[MODEL_STAGE_OF[row["stage"]]]
        if pd.notna(row["lead_years"]):
            times.append(row["lead_years"] - base)
            observed.append(True)
        elif pd.notna(row["waiting_years"]):
            times.append(row["waiting_years"] - base)
            observed.append(False)
    assert g["after"].events == sum(observed) and g["after"].censored == len(observed) - sum(observed)
    assert g["after"].median_excess == km_median(times, observed)
    assert {"evac_sumter", "lynas_lamp_hre"} <= set(g["after"].plants)
    assert {"caremag_lacq", "ucore_louisiana_smc"} <= set(g["after"].plants)  # still waiting: censored
    # plants still waiting count as censored before the ban too (Eneabba, USA Rare Earth)
    assert {"iluka_eneabba", "usar_stillwater"} <= set(g["before"].plants) and g["before"].censored >= 2
    assert "lynas_lamp_hre" in g["after"].plants  # heavy separation is the separation stage's


MODEL_STAGE_OF = {
    "separation": "separation",
    "heavy_separation": "separation",
    "metal": "metal",
    "magnet": "magnet",
}
