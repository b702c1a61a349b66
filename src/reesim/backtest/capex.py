"""What plants outside China cost per tonne of capacity: the build-out record against the model's capex.

The investment rule charges new capacity ``Dynamics.capex_usd_per_kg_year`` (USD a year per kg
of annual capacity: a capital cost annualised at
:data:`~reesim.instruments.projects.CAPITAL_CHARGE_RATE`, 12 %). :func:`capex_intensity`
reads, for each plant of ``plant_milestones`` with a nameplate in its stage's own output and a
capital cost, the capital cost per kg of annual capacity in U.S. dollars (the capex in the
currency printed, converted at the Federal Reserve's annual average rate of the year it was
stated, ``exchange_rates``), and :func:`by_stage` sets the record beside the model's
assumption, undone of its annualisation.

Which figure and which nameplate, so that the comparison is like with like:

* the capex is the latest figure as spent (``capex_actual``), else the latest budget, that can
  be converted (a year with no rate in the dataset is not guessed: the next older figure is
  taken, and a plant with none is listed as not compared);
* the nameplate is the latest preferred one in the stage's own output (separation: t of REO
  separated, not the NdPr alone, which is a fraction of the feed, nor a feed tonnage; metal: t of
  metal or alloy; magnets: t of magnets); a plant whose latest date carries two such nameplates
  (phases) is not compared, since which the capex covers is not said;
* a plant under 100 t/yr is a pilot, not compared (IREL's 3 t/yr magnet line).

A capital cost per unit of capacity is the usual yardstick of process plants (e.g. Peters,
Timmerhaus & West, *Plant Design and Economics for Chemical Engineers*, 5th ed., 2003, ch. 6).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

import pandas as pd

from reesim.backtest.buildout import MODEL_STAGE, period_mid
from reesim.instruments.projects import CAPITAL_CHARGE_RATE
from reesim.scenario.spec import Dynamics

#: how ``exchange_rates`` quotes a rate (as the G.5A release prints it)
QUOTES = ("units per USD", "USD per unit")
#: smallest nameplate compared, t/yr (below: a pilot line)
MIN_NAMEPLATE_T = 100.0
_MILLION = re.compile(r"^\s*million\s+([A-Z]{3})\s*$")


def _stage_unit(stage: str, unit: str) -> bool:
    """Whether a nameplate's unit measures the stage's own output (module docstring)."""
    u = unit.lower()
    if not u.startswith("t"):
        return False
    if stage in ("separation", "heavy_separation"):
        # REO separated; not a nameplate of NdPr alone ("t NdPr/yr", "t NdPr-equivalent/yr") nor of feed
        return ("reo" in u or "rare earths" in u) and not u.startswith("t ndpr") and "feed" not in u
    if stage == "metal":
        return "metal" in u or "alloy" in u
    if stage == "magnet":
        return "ndpr" not in u and "reo" not in u
    return False


def usd_rates(ds) -> dict[tuple[int, str], float]:
    """USD per currency unit by (year, ISO code), from the preferred ``exchange_rates`` rows."""
    fx = ds.table("exchange_rates", preferred=True)
    out = {}
    for year, cur, rate, quote in zip(fx["year"], fx["currency"], fx["rate"], fx["quote"], strict=True):
        if quote not in QUOTES:
            raise ValueError(f"exchange_rates: quote {quote!r} ({cur}, {year}); allowed: {', '.join(QUOTES)}")
        out[int(year), str(cur)] = float(rate) if quote == "USD per unit" else 1.0 / float(rate)
    return out


def _in_usd(row, rates: dict[tuple[int, str], float]) -> tuple[float, str] | None:
    """A capex row in million USD and how it was converted, or None without a rate."""
    m = _MILLION.match(str(row["unit"]))
    mid = period_mid(str(row["date"]))
    if m is None or mid is None:
        return None
    cur = m.group(1)
    if cur == "USD":
        return float(row["value"]), "USD"
    rate = rates.get((mid.year, cur))
    if rate is None:
        return None
    return float(row["value"]) * rate, f"{cur} at {rate:.4g} USD ({mid.year})"


def capex_intensity(ds) -> pd.DataFrame:
    """One row per plant with a capex and a nameplate: USD per kg of annual capacity, or why not.

    Columns: ``plant_id``, ``plant``, ``iso3``, ``stage``, ``model_stage``, ``capex_musd``
    (million USD), ``capex_kind`` (``capex_actual`` or ``capex_budget``), ``capex_date``,
    ``converted`` (the currency and rate), ``nameplate_t`` and ``nameplate_unit``,
    ``usd_per_kg_capacity`` (NaN where not compared) and ``why_not`` (empty where compared).
    """
    m = ds.table("plant_milestones", preferred=True)
    rates = usd_rates(ds)
    out = []
    for pid, rows in m.groupby("plant_id", sort=True):
        capex = rows[rows["milestone"].isin(["capex_budget", "capex_actual"])]
        if capex.empty:
            continue
        first = rows.iloc[0]
        stage = str(first["stage"])
        rec = {
            "plant_id": pid,
            "plant": first["plant"],
            "iso3": first["iso3"],
            "stage": stage,
            "model_stage": MODEL_STAGE.get(stage, ""),
            "capex_musd": float("nan"),
            "capex_kind": "",
            "capex_date": "",
            "converted": "",
            "nameplate_t": float("nan"),
            "nameplate_unit": "",
            "usd_per_kg_capacity": float("nan"),
            "why_not": "",
        }
        plates = rows[rows["milestone"] == "nameplate_capacity"]
        own = [_stage_unit(stage, str(u)) for u in plates["unit"]]
        plates = plates.loc[pd.Series(own, index=plates.index, dtype=bool)]
        plates = plates.assign(_mid=[period_mid(str(d)) for d in plates["date"]]).sort_values("_mid")
        capex = capex.assign(
            _mid=[period_mid(str(d)) for d in capex["date"]],
            _actual=(capex["milestone"] == "capex_actual").astype(int),
        ).sort_values(["_actual", "_mid"], ascending=False)  # as spent first, then the latest
        for _, c in capex.iterrows():
            usd = _in_usd(c, rates)
            if usd is not None:
                rec |= {
                    "capex_musd": usd[0],
                    "capex_kind": str(c["milestone"]),
                    "capex_date": str(c["date"]),
                    "converted": usd[1],
                }
                break
        if plates.empty:
            rec["why_not"] = "no nameplate in the stage's own output"
        else:
            latest = plates[plates["_mid"] == plates["_mid"].iloc[-1]]
            rec["nameplate_t"] = float(latest["value"].iloc[0])
            rec["nameplate_unit"] = str(latest["unit"].iloc[0])
            if len(latest) > 1:
                rec["why_not"] = (
                    "several nameplates of the same date (phases): which the capex covers is not said"
                )
            elif rec["nameplate_t"] < MIN_NAMEPLATE_T:
                rec["why_not"] = f"a pilot line (under {MIN_NAMEPLATE_T:,.0f} t/yr)"
        if not rec["why_not"] and rec["capex_kind"] == "":
            units = ", ".join(
                sorted(
                    {
                        f"{u} ({period_mid(str(d)).year})"
                        for u, d in zip(capex["unit"], capex["date"], strict=True)
                    }
                )
            )
            rec["why_not"] = f"no exchange rate in the dataset for its capex ({units})"
        if not rec["why_not"]:
            # million USD / t per year = USD per kg per year of capacity (1e6 USD / 1e3 kg)
            rec["usd_per_kg_capacity"] = rec["capex_musd"] * 1000.0 / rec["nameplate_t"]
        out.append(rec)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class StageCapex:
    """The record's capex per kg of annual capacity for one model stage, beside the model's."""

    stage: str
    plants: int
    low: float
    median: float
    high: float
    model: float  # the model's capex_usd_per_kg_year / CAPITAL_CHARGE_RATE
    model_annual: float  # Dynamics.capex_usd_per_kg_year[stage]


def by_stage(record: pd.DataFrame, dynamics: Dynamics | None = None) -> dict[str, StageCapex]:
    """Low, median and high of the compared plants by model stage, and the model's assumption."""
    dyn = dynamics or Dynamics()
    r = record.dropna(subset=["usd_per_kg_capacity"])
    out = {}
    for stage, g in r.groupby("model_stage", sort=True):
        v = sorted(g["usd_per_kg_capacity"])
        annual = dyn.capex_usd_per_kg_year[stage]
        out[stage] = StageCapex(
            stage, len(v), v[0], statistics.median(v), v[-1], annual / CAPITAL_CHARGE_RATE, annual
        )
    return out
