"""The default world's trade stages: China's magnet exports, trade edges, route targets, routes.

Stages of :func:`reesim.world.default.build_default_world` that concern trade: China's magnet
exports by destination from customs data (the calibration target of magnet use by region), the
trade edges, the observed routes the route costs are calibrated to (customs, companies'
offtake, routes observed closed) and the calibration itself (positive mathematical
programming, :mod:`reesim.solve.routes`). See docs/trade.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reesim.data.dataset import Dataset
from reesim.errors import InputError
from reesim.world.default_data import _Recorder, config_key, replayed
from reesim.world.world import World

if TYPE_CHECKING:
    from reesim.world.default import _Ctx


def _latest_row(ds: Dataset, table: str, row: dict, year: int, column: str) -> pd.DataFrame:
    """Rows of ``table`` matching ``row`` for the latest year <= ``year`` with a positive ``column``."""
    rows = ds.table(table, **row)
    rows = rows[pd.to_numeric(rows[column], errors="coerce") > 0]
    years = pd.to_numeric(rows["year"], errors="coerce")
    ok = years <= year
    return rows[years == years[ok].max()] if ok.any() else rows.iloc[0:0]


def _unit_value_caveat(r: pd.DataFrame, text: str) -> str:
    """``text`` with the unit value of the kilograms the row reports (value of the kg lines / kg)."""
    if not text:
        return ""
    kg = float(pd.to_numeric(r["quantity_kg"]).iloc[0])
    covered = pd.to_numeric(r.get("quantity_value_usd", pd.Series([np.nan]))).iloc[0]
    if pd.isna(covered) or kg <= 0:
        return text
    value = float(pd.to_numeric(r["value_usd"]).iloc[0])
    return (
        f"{text} (this row: {covered / 1e6:.0f} of {value / 1e6:.0f} million USD reported in kg, "
        f"{covered / kg:.1f} USD/kg)"
    )


def _magnet_exports(ctx: _Ctx, magnet_world: float, mshares: dict) -> dict[str, float]:
    """China's magnet exports by destination in the reference year (kt magnet).

    The total is China's customs figure for the reference year (or the latest earlier one);
    without one (e.g. in a vintage view of the data) China's output times its export share
    (``fallback_share``). The U.S. takes what the U.S. reports importing from China (the latest
    year up to the reference year); the rest is split by the stated assumption.

    A reading of the data, the configuration and China's modelled output alone, made once per
    dataset object for those (:func:`reesim.world.default_data.replayed`; about 3 ms a world).
    """
    cfg, chn_out = ctx.cfg["magnet_exports"], magnet_world * mshares["CHN"]
    return replayed(
        ctx.ds,
        ("magnet exports", ctx.year, config_key(cfg), chn_out),
        ctx.rec,
        lambda rec: _read_magnet_exports(ctx.ds, cfg, ctx.year, chn_out, rec),
    )


def _read_magnet_exports(
    ds: Dataset, cfg: dict, year: int, chn_out: float, rec: _Recorder
) -> dict[str, float]:
    """:func:`_magnet_exports` from the data (``cfg``: the configuration's ``magnet_exports``;
    ``chn_out``: China's modelled magnet output, kt), recorded in ``rec``."""
    use = _latest_row(ds, "trade_flows", cfg["total"]["row"], year, "quantity_kg")
    if len(use):
        y0 = int(use["year"].iloc[0])
        total = rec.data(
            "magnet_exports[CHN]",
            float(pd.to_numeric(use["quantity_kg"]).sum()) / 1e6,
            "kt magnet",
            "trade_flows",
            f"{cfg['total']['row']}, year={y0}" + ("" if y0 == year else f" (latest up to {year})"),
            use["source_id"],
        )
    else:
        share = rec.lookup(
            ds,
            "magnet_export_share[CHN]",
            "processing_capacity",
            cfg["fallback_share"]["row"],
            "share",
            scale=0.01,
        )
        total = rec.derived(
            "magnet_exports[CHN]",
            share * chn_out,
            "kt magnet",
            "no customs total in the data: China's output x export share",
        )
    if total >= chn_out:
        raise InputError(
            f"default world {year}: China's magnet exports ({total:.1f} kt) exceed its modelled output ({chn_out:.1f} kt)"
        )
    out: dict[str, float] = {}
    for dest, spec in cfg["destinations"].items():
        if "row" not in spec:
            continue
        r = _latest_row(ds, "trade_flows", spec["row"], year, "quantity_kg")
        if len(r) != 1 and "fallback_share" in spec:  # e.g. a vintage view published before the row
            out[dest] = total * rec.assume(
                f"magnet_export_share[CHN->{dest}]",
                spec["fallback_share"],
                "share",
                {"basis": spec["fallback_basis"]},
            )
            continue
        if len(r) != 1:
            raise InputError(
                f"default_world.yaml: expected one trade_flows row for {spec['row']} up to {year}, found {len(r)}"
            )
        out[dest] = rec.data(
            f"magnet_exports[CHN->{dest}]",
            float(r["quantity_kg"].iloc[0]) / 1e6,
            "kt magnet",
            "trade_flows",
            f"{spec['row']}, year={int(r['year'].iloc[0])}",
            r["source_id"],
            caveat=_unit_value_caveat(r, spec.get("caveat", "")),
        )
    rest = total - sum(out.values())
    if rest < 0:
        raise InputError(
            f"default world {year}: the destinations with data ({', '.join(out)}) take "
            f"{sum(out.values()):.1f} kt of magnets, more than China's exports ({total:.1f} kt)"
        )
    split = {d: s["share_of_rest"] for d, s in cfg["destinations"].items() if "share_of_rest" in s}
    norm = sum(split.values())
    for dest, s in split.items():
        out[dest] = rest * rec.assume(
            f"magnet_export_share[CHN->{dest}]", s / norm, "share of the rest", {"basis": cfg["basis"]}
        )
    return out


def _stage_trade(
    ctx: _Ctx, processes: pd.DataFrame, io_df: pd.DataFrame, demands: pd.DataFrame
) -> pd.DataFrame:
    """Stage 7: trade edges from every region that makes a good to every region that uses it."""
    t_cost = ctx.a["transport_cost"]["value"]
    for cls, v in t_cost.items():
        ctx.rec.assume(f"transport[{cls}]", v, "USD/kg", ctx.a["transport_cost"])
    # Each good's makers and users in the order they first appear (the io rows, then the demands),
    # collected as dict keys from the columns read as lists (pandas groups took about 4 ms).
    region_of = dict(zip(processes["process"].tolist(), processes["region"].tolist(), strict=True))
    makers: dict[str, dict] = {}
    users: dict[str, dict] = {}
    for pid, com, coef in zip(
        io_df["process"].tolist(), io_df["commodity"].tolist(), io_df["coef"].tolist(), strict=True
    ):
        if coef > 0:
            makers.setdefault(com, {})[region_of.get(pid)] = None
        elif coef < 0:
            users.setdefault(com, {})[region_of.get(pid)] = None
    for com, region in zip(demands["commodity"].tolist(), demands["region"].tolist(), strict=True):
        users.setdefault(com, {})[region] = None
    edges = []
    for com in sorted(set(makers) & set(users)):
        if com.startswith("service:"):
            continue
        cost = t_cost[com.split(":")[0]]
        edges += [(com, o, d, cost) for o in makers[com] for d in users[com] if o != d]
    return pd.DataFrame(edges, columns=["commodity", "origin", "dest", "transport"])


def _stage_route_targets(
    ctx: _Ctx, sep: dict[str, float], exports: dict[str, float], edges: pd.DataFrame
) -> pd.DataFrame:
    """Stage 8: observed reference-year flows the routes are calibrated to (kt/yr).

    China's magnet exports by destination (customs), and the concentrate routes of the
    companies' offtake (``concentrate_routes`` in the config: an origin's mine output, less
    what its own plants separate, goes to the named destination, and to no other: those
    routes get a target of 0).
    """
    rows = [("magnet:ndfeb", "CHN", d, v) for d, v in exports.items() if v > 0]
    mined = ctx.mining.groupby(level=0).sum()
    ores: dict[str, list[tuple[str, float]]] = {}  # each region's ores and output, in the index's order
    for (region, ore), kt in ctx.mining.items():
        ores.setdefault(region, []).append((ore, float(kt)))
    for spec in ctx.cfg["concentrate_routes"]:
        o, d = spec["origin"], spec["dest"]
        if o not in mined.index:
            continue
        own = sep.get(o, 0.0) if spec.get("less_own_separation") else 0.0
        for ore, kt in ores[o]:
            share = kt / float(mined[o])
            flow = kt - own * share
            # The origin's offtake is the whole story: its other routes for the ore are closed.
            rows += [(f"concentrate:{ore}", o, x, 0.0) for x in ctx.regions if x not in (o, d)]
            if d != "none" and flow > 1e-6:
                rows.append(
                    (
                        f"concentrate:{ore}",
                        o,
                        d,
                        ctx.rec.derived(f"route_target[{ore}:{o}->{d}]", flow, "kt REO", spec["basis"]),
                    )
                )
    out = pd.DataFrame(rows, columns=["commodity", "origin", "dest", "flow"])
    keys = set(
        zip(edges["commodity"].tolist(), edges["origin"].tolist(), edges["dest"].tolist(), strict=True)
    )
    rows = zip(out["commodity"].tolist(), out["origin"].tolist(), out["dest"].tolist(), strict=True)
    return out[[k in keys for k in rows]]


def _stage_routes(world: World, targets: pd.DataFrame, sigma: float) -> World:
    """Stage 9: route costs calibrated to the targets (PMP); the fit is kept in ``meta``."""
    from reesim.solve.routes import calibrate_routes

    calibrated, table = calibrate_routes(world, targets, sigma)
    prov = pd.concat(
        [
            world.provenance,
            pd.DataFrame(
                [
                    (
                        "route_calibration",
                        float(table["target"].notna().sum()),
                        "targeted edges",
                        "derived: positive mathematical programming (Howitt 1995): route costs reproduce the "
                        "targeted flows and the calibration solve's flows elsewhere",
                    )
                ],
                columns=world.provenance.columns,
            ),
        ],
        ignore_index=True,
    )
    # the calibrated world is checked already; its provenance gains a row of the same columns and
    # its settings the fit, which no check reads (a second check cost about 2 ms a world)
    return calibrated.with_data(
        provenance=prov, meta={**world.meta, "routes": table, "route_targets": targets}
    )
