"""China's separation charge indexed to its oxide basket (:mod:`reesim.simulate.tolls`).

* By hand: the index is the basket at the step's prices over the reference basket, raised to
  the exponent; a missing price counts at its reference; only the indexed processes' cost line
  is scaled, intercept and slope alike; no indexation (exponent 0) means no tolls at all.
* The world: the service price calibrated with ``separation_cost_share`` reproduces MP
  Materials' realized concentrate price for Mountain Pass ore in 2022 and 2024 (the data the
  share is bounded by).
* A run: the phase alone sets the next step's index from the step's prices; with prices
  falling, China's separation service price falls with its basket.
* The 2025 backtest's China: separation grows with the mining quota.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reesim.backtest.run import china_quota_paths
from reesim.data import default_dataset
from reesim.simulate import stepper
from reesim.simulate.steps import make_steps
from reesim.simulate.tolls import Tolls
from reesim.world.default import load_default_world

from .test_instruments import scenario


class _World:
    def __init__(self, exponent: float = 1.0):
        self.meta = {
            "separation_toll": {
                "processes": ["sep:CHN"],
                "region": "CHN",
                "weights": {"La": 0.7, "Nd": 0.3},
                "exponent": exponent,
            }
        }
        self.processes = pd.DataFrame(
            {
                "process": ["mine:CHN", "sep:CHN"],
                "mc_intercept": [1.0, 2.0],
                "mc_slope": [0.5, 0.25],
            }
        )


REF = {("oxide:La", "CHN"): 1.0, ("oxide:Nd", "CHN"): 100.0}  # basket 0.7 + 30 = 30.7 USD/kg


def test_index_by_hand():
    t = Tolls.of(_World(), REF)
    assert t.base == pytest.approx(30.7)
    # Nd halves: (0.7 * 1 + 0.3 * 50) / 30.7
    assert t.index({("oxide:La", "CHN"): 1.0, ("oxide:Nd", "CHN"): 50.0}) == pytest.approx(15.7 / 30.7)
    # a missing price counts at its reference level
    assert t.index({("oxide:Nd", "CHN"): 50.0}) == pytest.approx(15.7 / 30.7)
    # a non-finite price counts at its reference too; a basket worth nothing keeps the previous index
    assert t.index({("oxide:Nd", "CHN"): np.inf}) == pytest.approx(1.0)
    assert t.index({("oxide:La", "CHN"): 0.0, ("oxide:Nd", "CHN"): 0.0}, previous=0.8) == 0.8
    half = Tolls.of(_World(exponent=0.5), REF)
    assert half.index({("oxide:Nd", "CHN"): 50.0}) == pytest.approx((15.7 / 30.7) ** 0.5)
    assert Tolls.of(_World(exponent=0.0), REF) is None


def test_scale_touches_only_the_indexed_cost_line():
    w = _World()
    t = Tolls.of(w, REF)
    intercept = w.processes["mc_intercept"].to_numpy()
    assert t.scale(intercept, 0.5).tolist() == [1.0, 1.0]
    assert t.scale(w.processes["mc_slope"].to_numpy(), 0.5).tolist() == [0.5, 0.125]
    assert intercept.tolist() == [1.0, 2.0]  # a new array


@pytest.mark.parametrize("year, realized", [(2022, 11.636), (2024, 4.717)])
def test_service_price_reproduces_mp_realized_concentrate_price(year, realized):
    """Mountain Pass ore's basket less the service price is MP's realized price (±5 %)."""
    w = load_default_world(year)
    prov = w.provenance.set_index("parameter")["value"]
    conc = float(prov["concentrate_price[mountain_pass]"])
    assert conc == pytest.approx(realized, rel=0.05)
    ds = default_dataset()
    rows = ds.table("processing_capacity", metric_code="realized_price", year=year)
    assert float(rows["value"].iloc[0]) / 1000 == pytest.approx(realized)


def test_phase_indexation_alone_sets_the_index_from_the_step_prices():
    s = scenario(end=2025)
    run, state = stepper.start_run(s)
    tolls = run.extra["tolls"]
    assert tolls is not None and state.toll_index == 1.0
    step = make_steps(s.horizon)[0]
    state = stepper.phase_capacity(run, state, step)
    state = stepper.phase_expectations(run, state, step)
    sol, _, _ = stepper.phase_clear(run, state, step)
    after = stepper.phase_indexation(run, state, sol, 1.0)
    w = run.world.meta["separation_toll"]["weights"]
    basket = sum(v * sol.price_map[(f"oxide:{e}", "CHN")] for e, v in w.items())
    ref = sum(v * run.reference.price_map[(f"oxide:{e}", "CHN")] for e, v in w.items())
    assert after.toll_index == pytest.approx(basket / ref)


def _run(indexation: float):
    cut = {
        "type": "demand_shift",
        "name": "magnet-demand-growth",
        "sector": "magnet users",
        "start": 2025,
        "growth": {2025: -0.25},
    }
    s = scenario(cut, end=2027)
    s = s.model_copy(
        update={
            "world": s.world.model_copy(
                update={"assumptions": {**s.world.assumptions, "separation_charge_indexation": indexation}}
            )
        }
    )
    return stepper.simulate(s)


def _china_price(res, commodity: str, year: int) -> float:
    p = res.table("prices")
    return float(
        p[(p["commodity"] == commodity) & (p["region"] == "CHN") & (p["year"] == year)]["usd_per_kg"].iloc[0]
    )


def test_falling_prices_lower_chinas_separation_charge():
    indexed, fixed = _run(1.0), _run(0.0)
    nd, service = "oxide:Nd", "service:separation"
    assert (
        _china_price(indexed, nd, 2026) < _china_price(indexed, nd, 2025) * 0.9
    )  # the cut lowers the basket
    # the same first year (the index starts at 1), a lower charge once the basket has fallen
    assert _china_price(indexed, service, 2025) == pytest.approx(_china_price(fixed, service, 2025), rel=1e-6)
    assert _china_price(indexed, service, 2027) < _china_price(fixed, service, 2027)


def test_backtest_china_separation_grows_with_the_quota():
    ds = default_dataset()
    world = load_default_world(2022)
    paths = china_quota_paths(ds, world, 2023, 2024)
    p = world.processes
    cap0 = float(p.loc[p["process"] == "separation-capacity:CHN", "capacity"].iloc[0])
    mined0 = float(p.loc[(p["region"] == "CHN") & (p["kind"] == "mining"), "capacity"].sum())
    s0 = world.meta["reference"]["separation_kt"]["CHN"]
    sep = paths["separation-capacity:CHN"]
    mining_2024 = sum(v[2024] for k, v in paths.items() if k.startswith("mining:"))
    assert mining_2024 == pytest.approx(270.0)
    assert sep[2024] == pytest.approx(cap0 * (s0 + 270.0 - mined0) / s0)
    assert sep[2024] - sep[2023] == pytest.approx((270.0 - 255.0) * cap0 / s0)
