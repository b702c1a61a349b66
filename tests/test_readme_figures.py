"""The README's figures of the flagship are what the flagship prints now.

The README quotes the flagship (``reesim run china-2025-licensing``, yearly, against the
baseline) in its prose. A run of every README command on 2026-12-06 found ten of its figures
stale: the model had moved and the prose had not. This test runs the flagship once and checks
that each figure the README quotes from it, formatted as the README prints it, is in the README,
so that a change that moves one updates the README with it (as ``test_backtest`` does for the
backtest's table). Each expected text is built from the run's own ``summary.json`` and tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reesim.cli.run import _sig3  # as `reesim run` prints a count (3 significant figures)

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def flagship(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("flagship") / "run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "reesim.cli.main",
            "run",
            "china-2025-licensing",
            "--against",
            "baseline",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


@pytest.fixture(scope="module")
def summary(flagship) -> dict:
    return json.loads((flagship / "summary.json").read_text())


@pytest.fixture(scope="module")
def readme() -> str:
    return " ".join(README.read_text(encoding="utf-8").split())  # prose wraps across lines


def _dy_gap(summary: dict, year: str) -> float:
    row = next(r for r in summary["headline"]["licences"] if r["period"] == year and r["element"] == "Dy")
    return row["eu_over_inside"]


def test_the_dy_premium_in_europe_over_china(summary, readme):
    g25, g26, g27 = (_dy_gap(summary, y) for y in ("2025", "2026", "2027"))
    assert f"the model's Europe/China gap is {g25:.2f}× and {g26:.1f}×" in readme
    assert f"brings Dy in Europe to {g26:.1f} times China's price in 2026 and {g27:.1f} in 2027" in readme


def test_the_dy_price_in_europe_against_the_no_licence_run(flagship, readme):
    p, c = (
        pd.read_parquet(f / "prices.parquet").set_index(["commodity", "region", "period"])["usd_per_kg"]
        for f in (flagship, flagship / "counterfactual")
    )
    r25, r26 = (p["oxide:Dy", "EU", y] / c["oxide:Dy", "EU", y] for y in ("2025", "2026"))
    assert f"Dy in Europe {r25:.1f}× the no-licence run in 2025 and {r26:.1f}× in 2026" in readme


def test_the_heavy_rare_earths_separated_outside_china(summary, readme):
    rows = summary["headline"]["heavy_separated_outside_china"]
    t = {r["commodity"]: r["tonnes"] for r in rows if r["year"] == 2026 and r["path"] == "scenario"}
    assert f"{t['oxide:Dy']:.0f} t of Dy and {t['oxide:Tb']:.0f} t of Tb in 2026" in readme


def test_dy_per_tonne_of_magnet_outside_china(summary, readme):
    rows = summary["headline"]["heavy_re_per_magnet"]
    lic = next(
        r for r in rows if r["year"] == 2026 and r["scope"] == "outside China" and r["path"] == "scenario"
    )
    base = next(
        r
        for r in rows
        if r["year"] == 2026 and r["scope"] == "outside China" and r["path"] == "counterfactual"
    )
    assert (
        f"{lic['dy_kg_per_t']:.1f} kg in 2026 with lean grades on {100 * lic['lean_share']:.0f} % of output, "
        f"against the {base['dy_kg_per_t']:.1f} kg recipe"
    ) in readme


def test_the_us_magnets_not_bought(summary, readme):
    u = summary["impacts"]["units_at_risk_peak"]["USA"]
    assert u["period"] == "2025"
    by = {p["product"]: p for p in u["products"]}
    motor = by["Battery-electric car (traction motor)"]
    f35 = by["F-35 Lightning II (NdFeB motors)"]
    assert (
        f"of {motor['shortage_tonnes']:,.0f} t in 2025 equals {_sig3(motor['units_low'])}–"
        f"{_sig3(motor['units_high'])} traction motors, defense's {f35['shortage_tonnes']:,.0f} t "
        f"{_sig3(f35['units_low'])}–{_sig3(f35['units_high'])} F-35s"
    ) in readme


def test_the_calibration_figures(readme):
    """``reesim calibrate``'s fit as the stored report has it (``test_calibration`` keeps the
    stored report equal to a fresh run)."""
    from importlib import resources

    report = json.loads(
        resources.files("reesim.simulate").joinpath("calibration_report.json").read_text(encoding="utf-8")
    )
    summary = report["summary"]
    worst = max(report["years"], key=lambda y: abs(y["china_share_error_pp"]))
    assert (
        f"average ({summary['mean_abs_china_share_error_pp']:.1f} pp) and 6 pp in every year "
        f"(worst {abs(worst['china_share_error_pp']):.1f} pp in {worst['year']})"
    ) in readme
    assert f"(median |log10 ratio| {summary['median_abs_price_log10']:.2f})" in readme
    dy = report["reference_year"]["heavy"]["magnet_share_of_dy_use_pct"]
    assert f"magnets take {dy:.0f} % of Dy" in readme


def test_the_capacity_outside_china_that_moved(summary, readme):
    row = next(r for r in summary["headline"]["capacity_outside_china"] if r["stage"] == "mining")
    assert row["largest_region"] == "MMR"
    total = (row["scenario"] - row["counterfactual"]) / 1000
    mmr = row["largest_change_tonnes_per_year"] / 1000
    share = "all" if mmr / total > 0.995 else "almost all"
    assert (
        f"mining outside China is {-row['change_pct']:.1f} % lower in 2040, {share} of it Myanmar's clay "
        f"mines (−{-mmr:.1f} of −{-total:.1f} kt/yr)"
    ) in readme


def test_the_dy_for_other_uses_near_its_choke_price(summary, readme):
    rows = [
        r
        for r in summary["headline"]["near_choke"]
        if r["commodity"] == "oxide:Dy" and r["sector"] == "other uses" and r["period"] == "2026"
    ]
    assert {r["region"] for r in rows} == {"EU", "JPN", "USA", "ROW"}
    share = [100 * r["share_of_choke"] for r in rows]
    price = [r["usd_per_kg"] for r in rows]
    assert (
        f"reaches {min(share):.0f}-{max(share):.0f} % of its choke price in 2026 ({min(price):,.0f}-"
        f"{max(price):,.0f} of {rows[0]['choke_usd_per_kg']:,.0f} USD/kg), buying "
        f"{sum(r['tonnes_per_year'] for r in rows):.1f} t/yr against "
        f"{sum(r['tonnes_per_year_cf'] for r in rows):.1f} t/yr"
    ) in readme


def test_no_use_that_buys_pays_above_its_choke_price(flagship):
    """The demand side's stationarity condition: a use that buys (q > 0) pays a - b q <= a; and the
    choke price of Dy outside China is (1 + 1/eps) x its reference price, by hand: the 2024 FOB
    China price (257 USD/kg, USGS MCS 2026) plus freight (0.5) at the default elasticity 0.5."""
    for f in (flagship, flagship / "counterfactual"):
        c = pd.read_parquet(f / "consumption.parquet")
        c = c[~c["sector"].isin(["stockpile", "offtake"])]
        buying = c[c["tonnes_per_year"] > 1e-9]
        assert (buying["usd_per_kg"] <= buying["choke_usd_per_kg"] * (1 + 1e-7) + 1e-7).all()
        dy = c[(c["commodity"] == "oxide:Dy") & (c["sector"] == "other uses") & (c["region"] == "EU")]
        assert dy["choke_usd_per_kg"].to_numpy() == pytest.approx((257 + 0.5) * (1 + 1 / 0.5))
