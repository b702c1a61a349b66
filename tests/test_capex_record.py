"""Capital cost per kg of annual capacity from the build-out record (reesim.backtest.capex), and the
model's capex assumptions that rest on it."""

from __future__ import annotations

import pytest

from reesim.backtest.capex import _stage_unit, by_stage, capex_intensity, usd_rates
from reesim.data import default_dataset
from reesim.ensemble.space import CAPEX_RANGES, default_space
from reesim.instruments.projects import CAPITAL_CHARGE_RATE
from reesim.scenario.spec import Dynamics


@pytest.fixture(scope="module")
def record():
    return capex_intensity(default_dataset()).set_index("plant_id")


def test_exchange_rates_are_read_as_printed():
    rates = usd_rates(default_dataset())
    assert rates[2023, "EUR"] == pytest.approx(1.0817)  # printed as USD per euro (asterisked)
    assert rates[2012, "AUD"] == pytest.approx(1.0359)
    assert rates[2023, "KRW"] == pytest.approx(1 / 1306.7637)  # printed as won per USD
    assert rates[2014, "JPY"] == pytest.approx(1 / 105.74)
    assert all(cur != "USD" for _, cur in rates)  # a USD figure needs no rate
    assert (2024, "AUD") not in rates and (2011, "EUR") not in rates  # not in the releases read: not guessed


def test_a_vintage_view_sees_only_the_releases_published_by_then():
    fx = default_dataset().as_of("2021-12-31").table("exchange_rates", currency="EUR", preferred=True)
    assert sorted(fx["year"]) == [2012, 2013, 2014, 2015, 2017, 2018, 2019, 2020]
    assert default_dataset().as_of("2015-12-31").table("exchange_rates").empty


def test_capex_per_kg_of_capacity_by_hand(record):
    # Molycorp's Project Phoenix: USD 1,500 million as spent for 19,050 t REO a year
    assert record.loc["molycorp_mtpass", "usd_per_kg_capacity"] == pytest.approx(1500e6 / 19_050e3)
    # Neo Narva: EUR 100 million (2023) at 1.0817 USD per euro for 2,000 t of magnet block a year
    assert record.loc["neo_narva", "usd_per_kg_capacity"] == pytest.approx(100e6 * 1.0817 / 2_000e3)
    # Shin-Etsu Hai Phong magnets: JPY 12,000 million (2014) at 105.74 yen per USD for 2,000 t a year
    assert record.loc["shinetsu_haiphong_magnet", "usd_per_kg_capacity"] == pytest.approx(
        12_000e6 / 105.74 / 2_000e3
    )


def test_a_figure_without_a_rate_is_not_converted(record):
    # Iluka's latest budget (AUD 1,800 million, 2024) has no 2024 rate: its 2022 budget is taken
    r = record.loc["iluka_eneabba"]
    assert r["capex_date"] == "2022-04-04" and r["capex_musd"] == pytest.approx(1200 * 0.6951)
    # Caremag's budgets are all of 2024-2025 (no rate): not compared, and says why
    assert (
        record.loc["caremag_lacq", "usd_per_kg_capacity"] != record.loc["caremag_lacq", "usd_per_kg_capacity"]
    )
    assert "no exchange rate" in record.loc["caremag_lacq", "why_not"]


def test_plants_whose_capacity_is_not_comparable_are_named_not_compared(record):
    assert "phases" in record.loc["lynas_lamp", "why_not"]  # 11,000 and 22,000 t on the same date
    assert "pilot" in record.loc["irel_repm_vizag", "why_not"]  # 3 t/yr
    assert "nameplate" in record.loc["mp_mtpass_stage2", "why_not"]  # t NdPr oxide: a fraction of the feed
    compared = record.dropna(subset=["usd_per_kg_capacity"])
    assert (compared["why_not"] == "").all() and len(compared) == 15


@pytest.mark.parametrize(
    ("stage", "unit", "own"),
    [
        ("separation", "t REO/yr", True),
        ("separation", "t separated REO/yr (incl. 4,500 t NdPr oxide)", True),
        ("separation", "t NdPr oxide/yr", False),
        ("separation", "t NdPr-equivalent/yr", False),
        ("heavy_separation", "t HRE feedstock/yr (processing)", False),
        ("separation", "t REO feed/yr", False),
        ("magnet", "t/yr sintered NdFeB magnet block", True),
        ("magnet", "t NdPr oxide/yr", False),
        ("metal", "t NdPr metal/yr (once fully operational, early 2025)", True),
        ("metal", "t REO/yr", False),
        ("mining", "t REO/yr", False),
    ],
)
def test_nameplates_in_the_stage_own_output(stage, unit, own):
    assert _stage_unit(stage, unit) is own


def test_the_model_capex_rests_on_the_record(record):
    stages = by_stage(record.reset_index())
    mag, sep = stages["magnet"], stages["separation"]
    assert mag.plants == 9 and sep.plants == 4
    # magnets: the default is the record's median, annualised; the ensemble draws over its range
    assert Dynamics().capex_usd_per_kg_year["magnet"] == pytest.approx(
        mag.median * CAPITAL_CHARGE_RATE, abs=0.05
    )
    lo, mode, hi = CAPEX_RANGES["magnet"]
    assert (lo, hi) == pytest.approx(
        (mag.low * CAPITAL_CHARGE_RATE, mag.high * CAPITAL_CHARGE_RATE), abs=0.05
    )
    assert mode == Dynamics().capex_usd_per_kg_year["magnet"]
    # separation: from the default (an expansion of running plants) to the dearest new plant
    lo, mode, hi = CAPEX_RANGES["separation"]
    assert lo == mode == Dynamics().capex_usd_per_kg_year["separation"]
    assert hi == pytest.approx(sep.high * CAPITAL_CHARGE_RATE, abs=0.05)
    assert sep.model < sep.low  # the sourced expansion is cheaper than every new plant in the record


def test_the_ensemble_draws_the_capex_ranges():
    from reesim.scenario.load import load_scenario

    space = default_space(load_scenario("china-2025-licensing"))
    p = space["dynamics.capex_usd_per_kg_year.magnet"]
    assert p.dist.kind == "triangular" and p.dist.args == CAPEX_RANGES["magnet"]
    assert "build-out record" in p.basis


def test_a_scenario_that_sets_its_own_capex_keeps_it():
    from reesim.scenario.load import load_scenario

    sc = load_scenario("china-2025-licensing")
    mine = sc.model_copy(update={"dynamics": Dynamics(capex_usd_per_kg_year={"magnet": 2.0})})
    space = default_space(mine)
    assert "dynamics.capex_usd_per_kg_year.magnet" not in space  # chosen, not drawn
    assert "dynamics.capex_usd_per_kg_year.separation" in space
