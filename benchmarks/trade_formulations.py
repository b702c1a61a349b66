"""Trade formulations compared on the 2024 default world: fit to observed flows and responses.

Two formulations of the same world (same supply, demand and policies), one year each:

* ``flat``: every route costs its transport (0.2-1.0 USD/kg) plus a numerical congestion of
  0.001 USD/kg per kt (the formulation before the route calibration);
* ``pmp``: route costs calibrated by positive mathematical programming to the observed flows
  (``reesim.solve.routes``, route elasticity 4.2), the shipped default.

For each it prints the fit to the reference year's observed flows (China's magnet exports by
destination, concentrate offtake routes, routes observed closed), and the response to

* a licence on Dy content (oxide, metal, magnets from China; 50 % of the reference content
  per destination approved): Dy oxide price outside / inside China, China's magnet exports;
* a 25 % U.S. tariff on Chinese magnets: U.S. imports from China, the U.S., EU and Japan
  magnet prices; and a 25 % U.S. tariff on Chinese oxides and metals (Section 301, 2024):
  U.S. imports of them from China (observed: +18 % in 2025, the backtest's series).

Run: ``.venv/bin/python benchmarks/trade_formulations.py``. Figures feed docs/trade.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _flat(world):
    e = world.edges.assign(route_cost=0.0, route_quad=0.0)
    return world.replace(edges=e)


def _licence(world, ref_flows: pd.Series, share: float):
    from reesim.world.content import element_content

    c = element_content(world)
    dy = c[c["element"] == "Dy"].set_index("commodity")["reo_per_unit"]
    e = world.edges
    sel = e[(e["origin"] == "CHN") & e["commodity"].isin(["oxide:Dy", "metal:Dy", "magnet:ndfeb"])]
    rows, members = [], []
    for dest, g in sel.groupby("dest"):
        name = f"dy:{dest}"
        cf = sum(
            dy[r.commodity] * ref_flows.get((r.commodity, r.origin, r.dest), 0.0) for r in g.itertuples()
        )
        rows.append((name, share * cf))
        members += [(name, r.commodity, r.origin, r.dest, float(dy[r.commodity])) for r in g.itertuples()]
    return world.replace(
        quotas=pd.DataFrame(rows, columns=["quota", "limit"]),
        quota_members=pd.DataFrame(members, columns=["quota", "commodity", "origin", "dest", "coef"]),
    )


def _tariff(world, goods: list[str]):
    e = world.edges
    e = e[(e["origin"] == "CHN") & (e["dest"] == "USA") & e["commodity"].isin(goods)]
    av = pd.DataFrame(
        [(c, "CHN", "USA", 0.25, "cif") for c in e["commodity"]],
        columns=["commodity", "origin", "dest", "rate", "base"],
    )
    return world.replace(ad_valorem=av)


def _outside_inside(sol, com: str) -> float:
    p = sol.prices
    p = p[p["commodity"] == com].set_index("region")["usd_per_kg"]
    c = sol.consumption
    c = c[(c["commodity"] == com) & (c["region"] != "CHN")].groupby("region")["quantity"].sum()
    c = c[c > 0]
    out = float((p.reindex(c.index) * c).sum() / c.sum())
    return out / float(p["CHN"])


def main() -> None:
    from reesim.solve.equilibrium import solve_equilibrium
    from reesim.world.default import load_default_world

    pmp = load_default_world(2024)
    targets = pmp.meta["route_targets"]
    rows = []
    worlds = [("flat", _flat(pmp)), ("pmp (sigma 4.2)", pmp)]
    worlds += [
        (f"pmp (sigma {x})", load_default_world(2024, assumptions={"route_elasticity": x}))
        for x in (2.0, 8.4)
    ]
    for name, world in worlds:
        base = solve_equilibrium(world)
        f0 = base.trade.set_index(["commodity", "origin", "dest"])["flow"]
        hit = targets[targets["flow"] > 0]
        err = [
            abs(f0.get(k, 0.0) / v - 1)
            for k, v in zip(
                zip(hit["commodity"], hit["origin"], hit["dest"], strict=True), hit["flow"], strict=True
            )
        ]
        closed = targets[targets["flow"] == 0]
        leak = sum(
            f0.get(k, 0.0) for k in zip(closed["commodity"], closed["origin"], closed["dest"], strict=True)
        )
        lic = solve_equilibrium(_licence(world, f0, 0.5))
        tar = solve_equilibrium(_tariff(world, ["magnet:ndfeb"]))
        f1 = tar.trade.set_index(["commodity", "origin", "dest"])["flow"]
        oxides = [c for c in world.commodities if c.startswith(("oxide:", "metal:"))]
        tox = solve_equilibrium(_tariff(world, oxides))
        ox0 = sum(f0.get((c, "CHN", "USA"), 0.0) for c in oxides)
        ox1 = sum(
            tox.trade.set_index(["commodity", "origin", "dest"])["flow"].get((c, "CHN", "USA"), 0.0)
            for c in oxides
        )

        def mag(s, r):
            return float(s.price_map[("magnet:ndfeb", r)])

        def chn_mag(s):
            t = s.trade
            return float(t[(t["commodity"] == "magnet:ndfeb") & (t["origin"] == "CHN")]["flow"].sum())

        rows.append(
            {
                "formulation": name,
                "targets: max |error| %": 100 * max(err),
                "closed routes: t/yr": 1000 * leak,
                "licence: Dy out/in": _outside_inside(lic, "oxide:Dy"),
                "licence: CHN magnet exports %": 100 * (chn_mag(lic) / chn_mag(base) - 1),
                "tariff: CHN->USA magnets %": 100
                * (f1.get(("magnet:ndfeb", "CHN", "USA"), 0.0) / f0[("magnet:ndfeb", "CHN", "USA")] - 1),
                "tariff: USA price %": 100 * (mag(tar, "USA") / mag(base, "USA") - 1),
                "tariff: EU price %": 100 * (mag(tar, "EU") / mag(base, "EU") - 1),
                "tariff: JPN price %": 100 * (mag(tar, "JPN") / mag(base, "JPN") - 1),
                "oxide tariff: CHN->USA oxides+metals %": 100 * (ox1 / ox0 - 1),
            }
        )
    df = pd.DataFrame(rows).set_index("formulation").T
    with pd.option_context("display.float_format", lambda v: f"{v:,.2f}"):
        print(df.to_string())
    print(
        f"\n(route elasticity {pmp.provenance.set_index('parameter').loc['route_elasticity', 'value']}; "
        f"{len(targets[targets['flow'] > 0])} targeted routes, {len(targets[targets['flow'] == 0])} observed closed; "
        f"{np.isfinite(pmp.edges['route_quad']).sum()} edges)"
    )


if __name__ == "__main__":
    main()
