"""The fiscal and strategic-stock rows a simulation records for each step (million USD, t)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reesim.instruments import projects as projects_mod
from reesim.instruments import stockpile as stock_mod
from reesim.instruments import support as support_mod
from reesim.scenario.spec import Scenario
from reesim.simulate.record import KT_TO_T, sum_by
from reesim.simulate.state import State
from reesim.simulate.steps import Step
from reesim.world.world import World


def stock_rows(step: Step, scenario: Scenario, wt: World, state: State) -> list[dict]:
    """Stocks at the start of the step (t)."""
    return [
        {
            "period": step.period,
            "year": step.year,
            "holder": inst.holder,
            "commodity": c,
            "kind": "strategic",
            "tonnes": state.stocks.get((k, c), 0.0) * KT_TO_T,
            "expected_usd_per_kg": float("nan"),  # private holders' expectation only
        }
        for k, inst, c in stock_mod.items(scenario, wt)
    ]


def fiscal_rows(
    step: Step, sol, wt: World, scenario: Scenario, topups: dict, proc_pos: dict, dem_pos: dict
) -> list[dict]:
    """Fiscal costs of the step (million USD): price-floor top-ups, offtakes, stockpile purchases, per-unit subsidies."""
    tag = {"period": step.period, "year": step.year}
    rows = []
    act, qty, prices = sol.activity, sol.quantities, sol.price_map
    for k, f in support_mod.floors(scenario):
        s = topups.get(k, 0.0)
        if s > 0:
            prod = support_mod.producers(wt, f)
            output = float(
                sum(
                    act[proc_pos[pid]] * coef
                    for pid, coef in zip(prod["process"].tolist(), prod["coef"].tolist(), strict=True)
                )
            )
            paid = s * min(output, f.volume_tonnes_per_year / KT_TO_T) * step.dt  # USD/kg x kt = million USD
            rows.append(
                {
                    **tag,
                    "instrument": f"{f.name or f'instruments[{k}]'} price floor",
                    "payer": f.buyer,
                    "usd_million": paid,
                }
            )
        for c in support_mod.goods_of(f, wt, ""):
            i = dem_pos.get(support_mod.offtake_id(k, c))
            if i is not None and qty[i] > 0:
                rows.append(
                    {
                        **tag,
                        "instrument": f"{f.name or f'instruments[{k}]'} offtake {c}",
                        "payer": f.buyer,
                        "usd_million": qty[i] * prices[(c, f.region)] * step.dt,
                    }
                )
    for k, inst, c in stock_mod.items(scenario, wt):
        i = dem_pos[stock_mod.demand_id(k, c)]
        if qty[i] > 0:
            rows.append(
                {
                    **tag,
                    "instrument": f"{inst.name or f'instruments[{k}]'} stockpile {c}",
                    "payer": inst.holder,
                    "usd_million": qty[i] * prices[(c, inst.holder)] * step.dt,
                }
            )
    sub = support_mod.subsidy_per_unit(scenario, step.mid, wt)
    if sub.any():
        # Each government pays the per-unit subsidy on output in its own region (Subsidy.region).
        paid = pd.Series(sub * act * step.dt).groupby(wt.processes["region"].to_numpy()).sum()
        for payer, amount in paid[paid != 0].items():
            rows.append(
                {**tag, "instrument": "subsidy (per unit)", "payer": payer, "usd_million": float(amount)}
            )
    projects = projects_mod.projects(scenario)
    cap = wt.numbers("processes", "capacity") if projects else None  # the step's, by process position
    for _k, inst in projects:
        j = proc_pos.get(projects_mod.process_id(inst))
        charge = projects_mod.capital_charge(inst, scenario.dynamics, 0.0 if j is None else float(cap[j]))
        if charge > 0:
            rows.append(
                {
                    **tag,
                    "instrument": f"{inst.name} {projects_mod.CAPITAL_INSTRUMENT}",
                    "payer": inst.region,
                    "usd_million": charge * step.dt,
                }
            )
    return rows


def capital_rows(step: Step, charge: np.ndarray | None, regions: np.ndarray) -> list[dict]:
    """The step's capital charge of capacity the investment rule built, by region (million USD).

    ``charge`` is million USD per year by process (:class:`reesim.simulate.state.State`), paid by
    the region the capacity is in; a step of ``dt`` years pays ``dt`` of it.
    """
    if charge is None or not charge.any():
        return []
    return [
        {
            "period": step.period,
            "year": step.year,
            "instrument": projects_mod.INVESTMENT_CAPITAL_INSTRUMENT,
            "payer": payer,
            "usd_million": float(amount),
        }
        for payer, amount in sum_by(regions, charge * step.dt).items()
        if amount > 0
    ]
