"""One run from scenario to result folder: simulate, compare, summarise, write.

The terminal (``reesim run``) and the web service (``reesim serve``) call the same steps, so a
folder written by either is the same folder (:func:`reesim.simulate.result.write_run`):

1. :func:`run_pair` simulates the counterfactual and the scenario on the same horizon and world;
2. :func:`assess` computes the headline (:func:`reesim.simulate.headline.headline`), the impact
   tables (:func:`reesim.impacts.compare.compare`) and their headline, and the Section 301
   downstream programme where the scenario taxes U.S. imports from China;
3. :func:`write_outcome` writes tables, ``summary.json``, the resolved scenario and (optionally)
   the HTML report into a folder, atomically (complete or absent).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

#: units of the figures in ``summary.json``
SUMMARY_UNITS = {
    "tonnes": "t per step",
    "tonnes_per_year": "t/yr",
    "usd_per_kg": "USD/kg",
    "usd_million": "million USD per step",
    "usd_million_per_year": "million USD per year (a step's amount over its length, step_years)",
}


def run_pair(scenario, against: str | None = None, progress: Callable[[Any], None] | None = None):
    """Simulate the counterfactual (same horizon, world and dynamics) and then the scenario.

    The counterfactual takes the scenario's dynamics (lead times, investment rule, planned
    capacity), as an ensemble member's does: the two runs differ only by their instruments.
    Its result is kept in the cache and read back when the same counterfactual is asked for
    again (:mod:`reesim.simulate.stored`).

    Returns the scenario's result, the counterfactual's result and the counterfactual scenario.
    """
    from reesim.scenario.load import load_scenario
    from reesim.simulate import simulate

    ref = against or scenario.counterfactual or "baseline"
    cf_scenario = load_scenario(ref).model_copy(
        update={"horizon": scenario.horizon, "world": scenario.world, "dynamics": scenario.dynamics}
    )
    from reesim.scenario.checks import check_counterfactual

    check_counterfactual(cf_scenario, "--against" if against else "counterfactual")
    from reesim.simulate.stored import simulate_kept

    cf = simulate_kept(cf_scenario, progress=progress)  # the same counterfactual is simulated once
    res = simulate(scenario, counterfactual=cf, progress=progress)
    return res, cf, cf_scenario


def downstream_tariffs(sc) -> pd.DataFrame | None:
    """The Section 301 downstream programme over the horizon, when the scenario taxes U.S. imports from China.

    The programme (lists 1-4A and the 2024 increases, from the dataset) is applied with its
    exclusions if the scenario has tariff exclusions. Returns None when the scenario has no
    U.S. import tariff on Chinese goods.
    """
    taxed = [
        i
        for i in sc.instruments
        if i.type == "import_tariff" and i.importer == "USA" and (i.origins == "all" or "CHN" in i.origins)
    ]
    if not taxed:
        return None  # before importing the tariff module (0.6 s, scipy.optimize): most runs have no U.S. duty
    from reesim.impacts import tariffs

    exclusions = any(i.type == "tariff_exclusion" for i in sc.instruments)
    start, end = f"{sc.horizon.start}-01-01", f"{sc.horizon.end}-12-31"
    return tariffs.programme(start, end, with_exclusions=exclusions).reset_index()


def impact_tables(im, res, sc=None) -> dict[str, pd.DataFrame]:
    """The impact tables written next to a run's results."""
    from reesim.impacts.risk import indicators_table

    tables = {
        "welfare": im.welfare,
        "welfare_discounted": im.welfare_discounted,
        "shortages": im.shortages,
        "product_costs": im.product_costs,
        "jobs": im.jobs,
        "units_at_risk": im.units_at_risk,
        "price_changes": im.prices,
        "indicators": indicators_table(res),
    }
    down = downstream_tariffs(sc) if sc is not None else None
    if down is not None:
        tables["downstream_tariffs"] = down
    return tables


@dataclass(frozen=True)
class Outcome:
    """A simulated pair and what is derived from it (inputs are not modified)."""

    scenario: Any
    counterfactual_scenario: Any
    result: Any
    counterfactual: Any
    headline: dict
    impacts: Any
    impact_headline: dict
    downstream: pd.DataFrame | None


def assess(sc, res, cf, cf_sc) -> Outcome:
    """Headline, impacts and the downstream tariff programme of a simulated pair."""
    from reesim.impacts.compare import compare, impact_headline
    from reesim.simulate.headline import headline

    h = headline(res, cf)
    im = compare(res, cf)
    ih = impact_headline(im)
    if ih.get("us_jobs_exposed_peak"):
        ih["us_jobs_exposed_peak"]["cause"] = "restriction" if restricts_supply(sc, cf_sc) else "price"
    down = downstream_tariffs(sc)
    if down is not None:
        yearly = down.groupby("year")[
            ["consumer_cost_usd_bn", "tariff_revenue_usd_bn", "deadweight_loss_usd_bn"]
        ].sum()
        ih["downstream_tariffs_first_year"] = {
            "year": int(yearly.index[0]),
            **{k: float(v) for k, v in yearly.iloc[0].items()},
        }
    return Outcome(sc, cf_sc, res, cf, h, im, ih, down)


#: instruments that limit a quantity (exports, mining, capacity, technology): the consumption they
#: take away is a shortfall of supply; the others (duties, taxes, subsidies, floors, stockpile
#: purchases, demand shifts, named plants) move prices, and buyers answer by buying less
QUANTITY_INSTRUMENTS = frozenset(
    {"export_ban", "export_quota", "supply_disruption", "technology_ban", "mining_quota"}
)


def restricts_supply(sc, cf_sc) -> bool:
    """True when ``sc`` has a quantity instrument its counterfactual does not have (by content)."""
    base = [i.model_dump() for i in cf_sc.instruments]
    return any(i.type in QUANTITY_INSTRUMENTS and i.model_dump() not in base for i in sc.instruments)


def run_scenario(sc, against: str | None = None, progress: Callable[[Any], None] | None = None) -> Outcome:
    """Simulate ``sc`` and its counterfactual and assess the pair (steps 1 and 2)."""
    res, cf, cf_sc = run_pair(sc, against, progress=progress)
    return assess(sc, res, cf, cf_sc)


def summary(o: Outcome) -> dict:
    """``summary.json``: identities (hashes, versions, seed), units, headline and impacts."""
    from reesim.cache import identity
    from reesim.scenario.load import scenario_hash

    sc, cf_sc = o.scenario, o.counterfactual_scenario
    return {
        "scenario": sc.name,
        "scenario_hash": scenario_hash(sc),
        "counterfactual": cf_sc.name,
        "counterfactual_hash": scenario_hash(cf_sc),
        **identity(),
        "seed": sc.seed,
        "horizon": sc.horizon.model_dump(),
        "units": dict(SUMMARY_UNITS),
        "headline": o.headline,
        "impacts": o.impact_headline,
        # the heavy-RE dose of a magnet, so that `reesim compare` can read Dy/Tb per magnet back
        "heavy_dose": o.result.meta.get("heavy_dose"),
    }


def resolved_yaml(sc) -> str:
    """The resolved scenario as YAML (every default written out)."""
    return yaml.safe_dump(json.loads(sc.model_dump_json()), sort_keys=False)


def write_outcome(
    o: Outcome, out_dir: Path, *, report: bool = False, formats: Sequence[str] = ("parquet",)
) -> Path:
    """Write the run folder (step 3), atomically; the report is written inside the atomic folder."""
    from reesim.simulate.result import write_run

    def finish(tmp: Path) -> None:
        from reesim.reports import write_report  # plotly and the templates only when asked for

        write_report(tmp, folder_name=Path(out_dir).name)

    write_run(
        out_dir,
        {"scenario": o.result, "counterfactual": o.counterfactual},
        summary(o),
        resolved_yaml(o.scenario),
        impact_tables(o.impacts, o.result, o.scenario),
        finish=finish if report else None,
        formats=tuple(formats),
    )
    return Path(out_dir)
