"""One ensemble member: the scenario and its counterfactual with the member's inputs, as a long table.

Every member yields the same figures (``metric, item, where, year, value``):

* ``price_usd_per_kg``, ``price_cf_usd_per_kg`` and ``price_ratio`` (scenario over
  counterfactual) of Dy, Tb, Nd and Pr oxide and NdFeB magnets in every market of the
  price table (inside/outside China and the quoted markets Europe, Japan, United States),
  yearly means of the steps;
* ``welfare_change_usd_million_per_year`` by region and for the world (component total) and
  ``welfare_pv_usd_million`` (present value at the impacts' discount rate; ``year`` empty);
* ``dy_kg_per_t_magnet`` inside and outside China (scenario; lean heavy-RE grades);
* ``product_cost_change_usd_low`` / ``_high`` by product and market.

A member that fails (an input outside where the world is defined, a step without a
trustworthy equilibrium) returns its error instead; it is recorded, never redrawn.
"""

from __future__ import annotations

import pandas as pd

from reesim.ensemble.figures import COLUMNS, COMMODITIES, from_arrays
from reesim.scenario.spec import Scenario

__all__ = ["COLUMNS", "COMMODITIES", "counterfactual_of", "outcomes", "run_member", "run_members"]


def outcomes(res, cf) -> pd.DataFrame:
    """The member's figures from a scenario result and its counterfactual (module docstring).

    This is their definition, through the impact tables; a member computes the same figures from
    its runs' recorded arrays (:func:`reesim.ensemble.figures.from_arrays`, about a sixth of a
    member's time less) and uses this for results that have none.
    """
    from reesim.impacts.compare import (
        DISCOUNT_RATE,
        discounted,
        price_table,
        product_commodities,
        product_cost_table,
        welfare_table,
    )
    from reesim.simulate.headline import heavy_re_per_magnet

    parts = []
    prices = price_table(res, cf, set(COMMODITIES) | product_commodities())  # the goods read below
    p = prices[prices["commodity"].isin(COMMODITIES)].copy()
    if "determined" in p:  # a price the solution does not pin down is one point of an interval
        p.loc[~p["determined"].astype(bool), ["usd_per_kg", "usd_per_kg_cf"]] = float("nan")
    p = p.groupby(["commodity", "market", "year"], as_index=False)[["usd_per_kg", "usd_per_kg_cf"]].mean()
    p["ratio"] = p["usd_per_kg"] / p["usd_per_kg_cf"].where(p["usd_per_kg_cf"] > 0)
    for col, metric in (
        ("usd_per_kg", "price_usd_per_kg"),
        ("usd_per_kg_cf", "price_cf_usd_per_kg"),
        ("ratio", "price_ratio"),
    ):
        parts.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "item": p["commodity"],
                    "where": p["market"],
                    "year": p["year"],
                    "value": p[col],
                }
            )
        )
    w = welfare_table(res, cf)
    w = w[w["component"] == "total"]
    by_year = w.groupby(["region", "year"], as_index=False)["change_usd_million_per_year"].mean()
    world = (
        by_year.groupby("year", as_index=False)["change_usd_million_per_year"].sum().assign(region="world")
    )
    by_year = pd.concat([by_year, world], ignore_index=True)
    parts.append(
        pd.DataFrame(
            {
                "metric": "welfare_change_usd_million_per_year",
                "item": "total",
                "where": by_year["region"],
                "year": by_year["year"],
                "value": by_year["change_usd_million_per_year"],
            }
        )
    )
    if len(w):
        pv = discounted(w, DISCOUNT_RATE, int(w["year"].min()))
        pv = pd.concat(
            [pv, pd.DataFrame({"region": ["world"], "pv_usd_million": [pv["pv_usd_million"].sum()]})]
        )
        parts.append(
            pd.DataFrame(
                {
                    "metric": "welfare_pv_usd_million",
                    "item": "total",
                    "where": pv["region"],
                    "year": None,
                    "value": pv["pv_usd_million"],
                }
            )
        )
    h = heavy_re_per_magnet(res, cf)
    h = h[h["path"] == "scenario"]
    if len(h):
        parts.append(
            pd.DataFrame(
                {
                    "metric": "dy_kg_per_t_magnet",
                    "item": "magnet:ndfeb",
                    "where": h["scope"],
                    "year": h["year"],
                    "value": h["dy_kg_per_t"],
                }
            )
        )
    pc = product_cost_table(prices, citations=False)  # the figures only
    if len(pc):
        pc = pc.groupby(["product", "market", "year"], as_index=False)[
            ["change_usd_low", "change_usd_high"]
        ].mean()
        for col in ("change_usd_low", "change_usd_high"):
            parts.append(
                pd.DataFrame(
                    {
                        "metric": f"product_cost_{col}",
                        "item": pc["product"],
                        "where": pc["market"],
                        "year": pc["year"],
                        "value": pc[col],
                    }
                )
            )
    out = pd.concat(parts, ignore_index=True)
    out["year"] = out["year"].astype("Int64")
    out["value"] = out["value"].astype(float)
    return out[COLUMNS]


def counterfactual_of(scenario: Scenario, against: str | Scenario | None) -> Scenario:
    """The counterfactual of ``scenario``: ``against`` itself when a scenario, else the one it
    names, the scenario's counterfactual, or the baseline."""
    if isinstance(against, Scenario):
        return against
    from reesim.scenario.load import load_scenario

    return load_scenario(against or scenario.counterfactual or "baseline")


def run_member(
    scenario: Scenario, against: str | Scenario | None, member: int, seed: int, values: dict[str, float]
):
    """Run member ``member``: ``(member, seed, table, None)`` or ``(member, seed, None, error)``.

    ``against`` is the counterfactual: a scenario, or its name or file (default: the scenario's
    counterfactual, else the baseline). An ensemble loads it once and passes the scenario.
    """
    from reesim.ensemble.space import apply, outlook
    from reesim.simulate import simulate

    try:
        sc = apply(scenario, values).model_copy(update={"seed": int(seed)})
        # The counterfactual shares the member's world, its drawn dynamics (lead times ...) and
        # China's quota growth:
        # otherwise the comparison mixes the measures with the draw.
        base = counterfactual_of(scenario, against)
        cf_sc = apply(base, outlook(values)).model_copy(update={"horizon": sc.horizon, "world": sc.world})
        cf = simulate(cf_sc)
        res = simulate(sc, counterfactual=cf)
        table = from_arrays(res, cf)
        if table is None:
            table = outcomes(res, cf)
    except Exception as exc:  # recorded with the member's inputs, never silently dropped
        return member, seed, None, f"{type(exc).__name__}: {exc}".strip()
    return member, seed, table.assign(member=member), None


def run_members(
    scenario: Scenario, against: str | Scenario | None, chunk: list[tuple[int, int, dict[str, float]]]
) -> list:
    """:func:`run_member` for each ``(member, seed, values)`` of ``chunk``, in order: one pool task
    for a few members (a Dask task's own cost is paid once per chunk)."""
    return [run_member(scenario, against, m, s, v) for m, s, v in chunk]
