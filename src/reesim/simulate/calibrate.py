"""Calibration of the baseline dynamics against history: the historical run and its fit.

The historical run starts from the default world calibrated to the first reference year
with country data *and* prices (2021) and simulates to the latest (2025) with the baseline's
parameters (demand growth, elasticities, investment rule); nothing is fitted to the later
years. China's mining capacity follows its published mining quota, an exogenous policy
variable (USGS reports China's production as the official quota; mine_production notes), so
China's capacity is data; every other region's capacity comes from the investment rule.

Fit statistics, per year: model versus USGS mine share of every region (percentage points),
China's share error, the mean absolute share error, and the log10 ratio of the model's
oxide prices in China to the MCS FOB China prices (order of magnitude: |log10| < 1).
Tolerances (tested): China's mine share within 5 pp on average over the years and within
6 pp in every year; every oxide price within an order of magnitude (|log10 ratio| <= 1).
The report also carries the default world's fit to its reference year (bilateral trade,
heavy-RE geography, levels: :mod:`reesim.simulate.reference_fit`).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from reesim.data import default_dataset
from reesim.scenario.load import load_scenario
from reesim.simulate.paths import mining_paths
from reesim.simulate.stepper import scenario_world, simulate

FIRST, LAST = 2021, 2025
#: Regions whose mining *capacity* the calibration run takes from their output in the data (the
#: run may mine less where the price does not cover the cost): China's (its quota, which USGS
#: reports as production) and Myanmar's (set by China's border closures and the Kachin conflict,
#: not by price: 34.7, 12, 43, 27 and 22 kt in 2021-2025, mine_production; policy_events).
EXOGENOUS_MINING = ("CHN", "MMR")
CHINA_SHARE_TOL_PP = 5.0  # mean over years
CHINA_SHARE_MAX_PP = 6.0  # any single year
PRICE_LOG10_TOL = 1.0
REPORT_FILE = "calibration_report.json"


def history_scenario():
    """The baseline's parameters over 2021-2025, from the 2021 world."""
    base = load_scenario("baseline")
    return base.model_copy(
        update={
            "name": "history-2021-2025",
            "description": "Historical run for calibration: baseline parameters, 2021 world, China's mining quota as data.",
            "horizon": base.horizon.model_copy(update={"start": FIRST, "end": LAST}),
            "world": base.world.model_copy(update={"reference_year": FIRST}),
            # China's quota is data here (china_capacity_paths), not the outlook's policy path
            "instruments": [
                i.model_copy(update={"start": i.start.replace(year=FIRST)}) if i.type == "demand_shift" else i
                for i in base.instruments
                if i.type != "mining_quota"
            ],
        }
    )


def china_capacity_paths(world) -> dict[str, dict[int, float]]:
    """China's and Myanmar's capacities by year (kt/yr), from data.

    Mining: USGS production of China (= the official quota) and of Myanmar (``EXOGENOUS_MINING``),
    split over ores like the base year (Myanmar's cash-cost curve on its base tranches, none on
    its expansion tranche). Separation: world mine production of the year minus the base world's separation
    capacity outside China, plus the same headroom as the base world (the mass balance used to
    calibrate China's separation in the reference year).
    """
    ds = default_dataset()
    mp = ds.table("mine_production", preferred=True)
    mp = mp[(mp["year"] >= FIRST) & (mp["year"] <= LAST)]
    world_total = {
        int(y): float(v) / 1000.0
        for y, v in zip(
            mp.loc[mp["iso3"] == "WLD", "year"], mp.loc[mp["iso3"] == "WLD", "production_t_reo"], strict=True
        )
    }
    p = world.processes
    paths: dict[str, dict[int, float]] = {}
    for iso in EXOGENOUS_MINING:
        by_year = {
            int(y): float(v) / 1000.0
            for y, v in zip(
                mp.loc[mp["iso3"] == iso, "year"], mp.loc[mp["iso3"] == iso, "production_t_reo"], strict=True
            )
            if pd.notna(v)  # a withheld figure (W) sets no capacity
        }
        paths |= mining_paths(world, iso, by_year)
    sep = p[p["kind"] == "capacity"]
    chn_sep = sep[sep["region"] == "CHN"]
    outside = float(sep.loc[sep["region"] != "CHN", "capacity"].astype(float).sum())
    headroom = float(chn_sep["capacity"].iloc[0]) / max(
        1e-9, float(world_total[FIRST]) * 1.0 - outside / (1 + 0.1)
    )
    for pid in chn_sep["process"].tolist():
        paths[pid] = {y: (w - outside / (1 + 0.1)) * headroom for y, w in world_total.items()}
    return paths


def fit() -> dict:
    """Run the historical simulation and compute the fit statistics."""
    sc = history_scenario()
    world = scenario_world(sc)
    res = simulate(sc, capacity_paths=china_capacity_paths(world))
    ds = default_dataset()
    countries = ds.table("countries").set_index("iso3")["region"]
    years = []
    for year in range(FIRST, LAST + 1):
        mp = ds.table("mine_production", year=year, preferred=True)
        mp = mp[(mp["iso3"] != "WLD") & (mp["production_t_reo"].fillna(0) > 0)]
        data = (
            mp.assign(region=mp["iso3"].map(countries).fillna("ROW"))
            .groupby("region")["production_t_reo"]
            .sum()
        )
        data = 100 * data / data.sum()
        prod = res.production
        model = prod[(prod["year"] == year) & (prod["kind"] == "mining")].groupby("region")["tonnes"].sum()
        model = 100 * model / model.sum()
        err = model.reindex(data.index.union(model.index)).fillna(0) - data.reindex(
            data.index.union(model.index)
        ).fillna(0)
        prices = ds.table(
            "prices",
            date=str(year),
            market_code="fob_china",
            form_code="oxide",
            unit="USD/kg",
            preferred=True,
        )
        mprice = res.prices
        mprice = mprice[(mprice["year"] == year) & (mprice["region"] == "CHN")].set_index("commodity")[
            "usd_per_kg"
        ]
        logs = {}
        for e, pdata in zip(prices["element"].tolist(), prices["price"].astype(float).tolist(), strict=True):
            key = f"oxide:{e}"
            if key in mprice.index and mprice[key] > 0 and pdata > 0:
                logs[e] = math.log10(mprice[key] / pdata)
        years.append(
            {
                "year": year,
                "china_share_model_pct": float(model.get("CHN", 0.0)),
                "china_share_data_pct": float(data.get("CHN", 0.0)),
                "china_share_error_pp": float(err.get("CHN", 0.0)),
                "mean_abs_share_error_pp": float(err.abs().mean()),
                "max_abs_share_error_pp": float(err.abs().max()),
                "worst_region": str(err.abs().idxmax()),
                "price_log10_ratio": {k: round(v, 4) for k, v in sorted(logs.items())},
                "max_abs_price_log10": float(max((abs(v) for v in logs.values()), default=0.0)),
            }
        )
    from reesim.simulate.reference_fit import reference_fit

    return {
        "run": "history-2021-2025",
        "reference_year": reference_fit(),
        "method": __doc__.strip().splitlines()[0],
        "tolerances": {
            "china_share_mean_pp": CHINA_SHARE_TOL_PP,
            "china_share_max_pp": CHINA_SHARE_MAX_PP,
            "price_log10": PRICE_LOG10_TOL,
        },
        "years": years,
        "passed": bool(
            np.mean([abs(y["china_share_error_pp"]) for y in years]) <= CHINA_SHARE_TOL_PP
            and all(
                abs(y["china_share_error_pp"]) <= CHINA_SHARE_MAX_PP
                and y["max_abs_price_log10"] <= PRICE_LOG10_TOL
                for y in years
            )
        ),
        "summary": {
            "mean_abs_china_share_error_pp": float(np.mean([abs(y["china_share_error_pp"]) for y in years])),
            "mean_abs_share_error_pp": float(np.mean([y["mean_abs_share_error_pp"] for y in years])),
            "median_abs_price_log10": float(
                np.median([abs(v) for y in years for v in y["price_log10_ratio"].values()])
            ),
        },
    }


def stored() -> dict:
    """The fit statistics shipped with the package."""
    return json.loads(resources.files("reesim.simulate").joinpath(REPORT_FILE).read_text(encoding="utf-8"))


def matches(a, b, rel: float = 1e-6, abs_tol: float = 1e-6) -> bool:
    """Whether two reports are the same up to the solver's round-off (every number within
    ``rel`` relative or ``abs_tol`` absolute; keys, lengths and text equal). The fit re-solves
    thousands of QPs, whose last digits move with the platform's floating-point order."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(matches(a[k], b[k], rel, abs_tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(matches(x, y, rel, abs_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_tol)
    return a == b


def write(report: dict, path: Path | None = None) -> Path:
    """Store the report next to this module (maintainers regenerate it with ``reesim calibrate --write``)."""
    path = path or Path(__file__).with_name(REPORT_FILE)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def years_frame(report: dict) -> pd.DataFrame:
    """The per-year statistics as a table."""
    return pd.DataFrame(report["years"]).drop(columns=["price_log10_ratio"])
