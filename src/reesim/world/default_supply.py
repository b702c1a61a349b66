"""Stages 3 and 4 of the default world: mines and separation plants (the supply side).

Mines outside China and separation plants outside the heavy-separating regions sit on cash-cost
curves (a base tranche at capacity while the price covers its cash cost, and an expansion
tranche that invests; :meth:`reesim.world.default._Parts.add_cash_cost`), with their cash cost
anchored at the price trough (:mod:`reesim.world.cash_costs`); China's mines and separation
follow its quotas. Each function reads the builder's context (``ctx``: data selections, the
reference point, the provenance recorder) and adds its processes to ``parts``
(:func:`reesim.world.default.build_default_world`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reesim.world.cash_costs import trough_factors
from reesim.world.default_data import (
    _producer_reports,
    _reported_cash_share,
    _separation_ex_china,
    config_key,
    replayed,
)

if TYPE_CHECKING:
    from reesim.world.default import _Ctx as Ctx
    from reesim.world.default import _Parts as Parts


def _basket_weights(ctx: Ctx) -> dict[str, float]:
    """kg of each oxide per kg REO of the world-average ore (mine production by ore x composition):
    a copy of the build's (:attr:`reesim.world.default._Ctx.basket_weights`, read by three stages)."""
    return dict(ctx.basket_weights)


def _stage_mining(ctx: Ctx, parts: Parts, conc_price: dict[str, float], anchor: dict[str, float]) -> None:
    """Stage 3: mines (China's quota binds; elsewhere a cash-cost curve, :meth:`reesim.world.default._Parts.add_cash_cost`).

    Outside China the cash cost is a share of the concentrate value at the price trough, not at
    the reference year's price (:mod:`reesim.world.cash_costs`): those mines kept producing
    through the 2023-24 trough.
    """
    chn_cost = ctx.assume("china_mining_cost_share", "share")
    h_mine = ctx.assume("mining_headroom", "share")
    cash_share, spread = _cash_cost(ctx)
    reported = replayed(ctx.ds, ("reported cash shares", ctx.year), ctx.rec, lambda rec: _reported(ctx, rec))
    for (r, o), m in ctx.mining.items():
        if r == "CHN":  # the quota binds: marginal cost at the quota below the concentrate value
            mc = conc_price[o] * chn_cost  # not anchored at the trough (module docstring of cash_costs)
            parts.add(f"mining:{r}:{o}", r, "mining", m, mc, m, {f"concentrate:{o}": 1.0})
        else:
            parts.add_cash_cost(
                f"mining:{r}:{o}",
                r,
                "mining",
                h_mine,
                conc_price[o],
                m,
                {f"concentrate:{o}": 1.0},
                cash=(reported[r] if reported[r] is not None else cash_share * anchor[o]) * conc_price[o],
                spread=spread,
            )


def _reported(ctx: Ctx, rec) -> dict[str, float | None]:
    """Each mining region's reported cash-cost share outside China (None without reports), in
    the regions' order (:func:`reesim.world.default_data._reported_cash_share`)."""
    reports = _producer_reports(ctx.ds, ctx.year)
    with_reports = set(reports["iso3"].tolist())  # a region without report rows has no reported share
    regions = sorted(set(ctx.mining.index.get_level_values(0).tolist()) - {"CHN"})
    return {
        r: _reported_cash_share(reports, ctx.year, r, rec) if r in with_reports else None for r in regions
    }


def _cash_cost(ctx: Ctx) -> tuple[float, float]:
    """Cash cost of operations outside China (share of the trough price) and its spread."""
    return ctx.assume("cash_cost_share_ex_china", "share"), ctx.assume("cash_cost_spread", "share")


def _anchors(ctx: Ctx) -> tuple[dict[str, float], float]:
    """Where the cash-cost share applies: the trough's value over the reference year's, by ore
    and for separation (:func:`reesim.world.cash_costs.trough_factors`). The separation cost
    share is read, not recorded again (:func:`_stage_values` records it)."""
    sep_share = float(ctx.a["separation_cost_share"]["value"])
    return trough_factors(
        ctx.ds, ctx.cfg, ctx.year, ctx.comp, _basket_weights(ctx), ctx.prices, sep_share, ctx.rec
    )


def _heavy_share(ctx: Ctx, ore: str) -> float:
    """Share of the heavy rare earths (``heavy_separation.elements``) in an ore's TREO."""
    return ctx.heavy_shares[ore]


def _stage_separation(
    ctx: Ctx, parts: Parts, s_price: float, h_proc: float, anchor_sep: float
) -> dict[str, float]:
    """Stage 4: separation capacity by region and a cracking route per (region, ore).

    Outside the regions that separate heavy rare earths, cracking yields the light oxides and
    a mixed heavy-RE concentrate (``concentrate:hree_<ore>``, e.g. Lynas' SEG/HRE product),
    which only those regions separate into single heavy oxides.
    """
    rec, comp, elements = ctx.rec, ctx.comp, ctx.elements
    hs = ctx.cfg["heavy_separation"]
    heavy, heavy_regions = set(hs["elements"]), set(hs["regions"])
    rec.assume("heavy_separation_regions", len(heavy_regions), "regions", {"basis": hs["basis"]})
    sep = replayed(
        ctx.ds,
        ("separation outside China", ctx.year, config_key(ctx.cfg["separation_ex_china"])),
        rec,
        lambda r: _separation_ex_china(ctx.ds, ctx.cfg, ctx.year, comp, ctx.mining, r),
    )
    # one selection read as rows of plain floats (a scalar .loc per ore and element took ~2 ms)
    grid = comp.loc[list(ctx.ores), list(elements)].to_numpy()
    shares = {
        o: {e: float(v) for e, v in zip(elements, row, strict=True)}
        for o, row in zip(ctx.ores, grid, strict=True)
    }
    mix_est = sum(
        v * max(_heavy_share(ctx, o) for o in ctx.ores) for r, v in sep.items() if r not in heavy_regions
    )
    sep["CHN"] = rec.derived(
        "separation_ref[CHN]",
        float(ctx.mining.sum()) - sum(sep.values()) + mix_est,
        "kt REO feed",
        "world mine production minus separation outside China (mass balance), plus the mixed heavy "
        f"concentrate of the plants outside China ({mix_est:.2f} kt at the highest heavy share of the ores)",
    )
    cash_share, spread = _cash_cost(ctx)
    for r, s in sep.items():
        if r in heavy_regions:  # China: separation follows its domestic market and quotas
            parts.add(
                f"separation-capacity:{r}",
                r,
                "capacity",
                s * (1 + h_proc),
                s_price,
                s,
                {"service:separation": 1.0},
            )
        else:
            parts.add_cash_cost(
                f"separation-capacity:{r}",
                r,
                "capacity",
                h_proc,
                s_price,
                s,
                {"service:separation": 1.0},
                cash=cash_share * anchor_sep * s_price,
                spread=spread,
            )
        for o in ctx.ores:
            coefs = {f"concentrate:{o}": -1.0, "service:separation": -1.0}
            share = shares[o]  # plain dict: ~4,000 scalar .loc reads per world otherwise
            if r in heavy_regions:
                coefs |= {f"oxide:{e}": share[e] for e in elements if share[e] > 0}
            else:
                coefs |= {f"oxide:{e}": share[e] for e in elements if share[e] > 0 and e not in heavy}
                if _heavy_share(ctx, o) > 0:
                    coefs[f"concentrate:hree_{o}"] = _heavy_share(ctx, o)
            parts.procs.append((f"crack:{r}:{o}", r, "separation", np.inf, 0.0, 0.0))
            parts.io.extend((f"crack:{r}:{o}", com, coef) for com, coef in coefs.items())
    for r in sorted(heavy_regions):
        for o in ctx.ores:
            h = _heavy_share(ctx, o)
            if h <= 0:
                continue
            coefs = {f"concentrate:hree_{o}": -1.0, "service:separation": -1.0}
            share = shares[o]
            coefs |= {f"oxide:{e}": share[e] / h for e in elements if e in heavy and share[e] > 0}
            parts.procs.append((f"crack-heavy:{r}:{o}", r, "separation", np.inf, 0.0, 0.0))
            parts.io.extend((f"crack-heavy:{r}:{o}", com, coef) for com, coef in coefs.items())
    return sep
