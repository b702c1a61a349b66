"""Fit of the calibrated default world to its reference year: trade, heavy-RE geography, levels.

What ``reesim calibrate`` reports next to the historical run (:mod:`reesim.simulate.calibrate`),
each figure beside the data row it is calibrated to:

* bilateral trade: China's magnet exports in total and by destination (customs, USITC),
  concentrate routes (companies' offtake), as model flow against target and as each
  destination's share of China's exports by stage (concentrate, oxide, metal, magnet);
* heavy rare earths: China's share of separated Dy and Tb, Dy oxide flowing into China from
  regions that do not separate heavy rare earths (should be none), the magnets' share of Dy use;
* levels: mine shares by region (USGS) and oxide prices in China (MCS FOB China).

The route calibration (:mod:`reesim.solve.routes`) reproduces targeted flows exactly; the
figures here show that it did, and how far the untargeted quantities land from the data.
"""

from __future__ import annotations

import pandas as pd

from reesim.solve.equilibrium import solve_equilibrium
from reesim.world.default import load_config, load_default_world

OWNER = "CHN"


def _trade_shares(trade: pd.DataFrame) -> list[dict]:
    """Share of each destination in China's exports, by stage (percent of the stage's tonnes)."""
    t = trade[trade["origin"] == OWNER]
    t = t.assign(stage=t["commodity"].str.split(":").str[0])
    by = t.groupby(["stage", "dest"])["flow"].sum()
    total = by.groupby(level=0).transform("sum")
    out = (100 * by / total).rename("share_pct").reset_index()
    out["kt"] = by.to_numpy()
    return out.round(4).to_dict("records")


def reference_fit(year: int | None = None) -> dict:
    """The calibrated default world's fit to its reference year (see the module docstring)."""
    world = load_default_world(year)
    sol = solve_equilibrium(world)
    ref = world.meta["reference"]
    targets = world.meta["route_targets"]
    trade = sol.trade
    flows = trade.set_index(["commodity", "origin", "dest"])["flow"]
    target_rows = []
    for r in targets[targets["flow"] > 0].itertuples(index=False):
        model = float(flows.get((r.commodity, r.origin, r.dest), 0.0))
        target_rows.append(
            {
                "route": f"{r.commodity} {r.origin}->{r.dest}",
                "target_kt": round(float(r.flow), 4),
                "model_kt": round(model, 4),
                "error_pct": round(100 * (model / float(r.flow) - 1), 4),
            }
        )
    closed = targets[targets["flow"] == 0]
    leaked = sum(
        float(flows.get(k, 0.0))
        for k in zip(closed["commodity"], closed["origin"], closed["dest"], strict=True)
    )

    out = sol.outputs
    heavy = {}
    for e in ("Dy", "Tb"):
        made = (
            out[(out["commodity"] == f"oxide:{e}") & (out["quantity"] > 0)]
            .groupby("region")["quantity"]
            .sum()
        )
        heavy[e] = round(100 * float(made.get(OWNER, 0.0)) / max(float(made.sum()), 1e-12), 4)
    hs = set(load_config()["heavy_separation"]["regions"])
    dy_in = trade[(trade["commodity"] == "oxide:Dy") & (trade["dest"] == OWNER) & ~trade["origin"].isin(hs)]
    prov = world.provenance.set_index("parameter")["value"]
    magnet_share_dy = float(prov.get("magnet_share_of_use[Dy]", float("nan")))

    mining = sol.production[sol.production["kind"] == "mining"].groupby("region")["activity"].sum()
    data_mine = pd.Series(ref["mine_production_kt"])
    mine = pd.DataFrame(
        {
            "model_pct": 100 * mining / mining.sum(),
            "data_pct": 100 * data_mine / data_mine.sum(),
        }
    ).fillna(0.0)
    prices = {
        e: {
            "model": round(float(sol.price_map.get((f"oxide:{e}", OWNER), float("nan"))), 4),
            "data": round(p, 4),
        }
        for e, p in ref["oxide_price_usd_per_kg"].items()
    }
    chn_magnets = float(
        trade[(trade["commodity"] == "magnet:ndfeb") & (trade["origin"] == OWNER)]["flow"].sum()
    )
    exp = ref.get("magnet_exports_kt", {})
    return {
        "year": int(ref["year"]),
        "route_targets": target_rows,
        "closed_routes": {"count": len(closed), "flow_kt": round(leaked, 6)},
        "china_magnet_exports_kt": {"model": round(chn_magnets, 4), "data": round(sum(exp.values()), 4)},
        "us_magnet_imports_from_china_kt": {
            "model": round(float(flows.get(("magnet:ndfeb", OWNER, "USA"), 0.0)), 4),
            "data": round(float(exp.get("USA", float("nan"))), 4),
        },
        "china_export_shares": _trade_shares(trade),
        "heavy": {
            "china_share_of_separated_pct": heavy,
            "china_share_data_pct": 99.9,
            "dy_oxide_into_china_from_non_heavy_regions_kt": round(float(dy_in["flow"].sum()), 6),
            "magnet_share_of_dy_use_pct": round(100 * magnet_share_dy, 4),
        },
        "mine_shares_pct": mine.round(4).reset_index(names="region").to_dict("records"),
        "oxide_prices_usd_per_kg": prices,
    }
