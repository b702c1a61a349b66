"""Stage 5 of the default world: metal making, magnet making and the heavy-RE dose of magnets.

Magnets are made from the NdPr supply with the NdFeB recipe and shared among makers
(:func:`reesim.world.default_data._magnets`); each kg of magnet takes one heavy-RE dose, the
reference recipe or a lean grade (grain-boundary diffusion, heavy-RE-free magnets) at an
extra processing cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from reesim.world.default_data import _magnets
from reesim.world.world import HEAVY_DOSE_SERVICE as DOSE

if TYPE_CHECKING:
    from reesim.world.default import _Ctx, _Parts

#: elements of the magnet recipe that come as a heavy-RE dose (recipe or lean grade)
HEAVY_DOSE = ("Dy", "Tb")
#: the reference recipe is strictly preferred at reference prices: the cheapest lean kg costs at
#: least this multiple of the heavy rare earths it saves there (numerical margin, so that the
#: reference solution, whose prices sit a hair off the reference, does not thrift)
REVEALED_MARGIN = 1.05


def _stage_magnets(ctx: _Ctx, parts: _Parts, h_proc: float) -> tuple[float, dict, dict, float]:
    """Stage 5: metal making and magnet making by region (recipe, shares, reference price)."""
    rec, k, metal_el = ctx.rec, ctx.k, ctx.metal_el
    supply = ctx.supply
    magnet_world, recipe, mshares = _magnets(ctx.ds, ctx.cfg, k, supply, rec)
    conv = ctx.assume("metal_conversion_cost", "USD/kg")
    proc_cost = ctx.assume("magnet_processing_cost", "USD/kg")
    metal_price = {e: ctx.prices[e] * k[e] + conv for e in metal_el}
    magnet_price = rec.derived(
        "price_ref[magnet:ndfeb]",
        sum(recipe[e] * metal_price[e] for e in metal_el) + proc_cost,
        "USD/kg",
        "metal content at reference prices + processing cost",
    )
    rec.assume(
        "metal_capacity[CHN]",
        float("inf"),
        "kt/yr",
        "assumption: oxide-to-metal conversion in China is not a binding constraint (no capacity data); "
        "outside China metal capacity is the reference output plus headroom",
    )
    minor = ctx.assume("minor_metal_capacity_factor", "x reference output")
    h_magnet_chn = ctx.assume("magnet_headroom_china", "share of reference output")
    heavy = {e: recipe[e] for e in HEAVY_DOSE if e in recipe}
    lean = _lean_grade(ctx, heavy, metal_price, proc_cost)
    for r, share in mshares.items():
        out = magnet_world * share
        for e in metal_el:
            qty = out * recipe[e]
            parts.add(
                f"metal:{r}:{e}",
                r,
                "metal",
                np.inf if r == "CHN" else qty * (1 + h_proc) * (minor if e in ("Dy", "Tb") else 1.0),
                conv,
                qty,
                {f"oxide:{e}": -k[e], f"metal:{e}": 1.0},
            )
        light = {f"metal:{e}": -recipe[e] for e in metal_el if e not in HEAVY_DOSE}
        parts.add(
            f"magnet:{r}",
            r,
            "magnet",
            out * (1 + (h_magnet_chn if r == "CHN" else h_proc)),
            proc_cost,
            out,
            light | {DOSE: -1.0, "magnet:ndfeb": 1.0},
        )
        _add_heavy_dose(parts, r, out, heavy, lean)
    return magnet_world, recipe, mshares, magnet_price


def _lean_grade(
    ctx: _Ctx, heavy: dict, metal_price: dict, proc_cost: float
) -> tuple[float, float, float, float]:
    """Saving (share), extra cost from low to high (USD/kg magnet) and capacity share of lean grades."""
    save = ctx.assume("hre_thrift_saving", "share")
    cost_share = ctx.assume("hre_thrift_cost_share", "share of processing cost")
    cap_share = ctx.assume("hre_thrift_capacity_share", "share of reference output")
    saved_ref = save * sum(v * metal_price[e] for e, v in heavy.items())
    low = ctx.rec.derived(
        "hre_lean_cost_low",
        max(0.5 * cost_share * proc_cost, REVEALED_MARGIN * saved_ref),
        "USD/kg magnet",
        "extra cost of the cheapest lean kg: half the cited extra cost or the heavy rare earths it "
        f"saves at reference prices ({saved_ref:.2f}) plus {REVEALED_MARGIN - 1:.0%}, whichever is higher",
    )
    return save, low, max(1.5 * cost_share * proc_cost, low), cap_share


def _add_heavy_dose(
    parts: _Parts, region: str, out: float, heavy: dict, lean: tuple[float, float, float, float]
) -> None:
    """The heavy-RE dose of a region's magnets: the reference recipe or a lean grade.

    Each kg of magnet takes one dose (``service:hre_dose``, not traded) of Dy and Tb: the
    reference recipe at no extra cost (``hre-dose:<r>``, unlimited), or a lean grade
    (``hre-lean:<r>``, kind ``thrift``) with ``1 - hre_thrift_saving`` of the recipe's Dy and
    Tb (grain-boundary diffusion, hot-deformed heavy-RE-free magnets) at an extra processing
    cost that rises across its capacity. The reference recipe is taken as the cost-minimising
    mix at reference prices (revealed preference), so the cheapest lean kg costs at least the
    heavy rare earths it saves at those prices (plus ``REVEALED_MARGIN``) and nobody thrifts
    at the reference point.
    Thrifting is the substitution of processing for heavy rare earths inside magnet making;
    with it the derived demand for Dy and Tb has the elasticity ``s eta + (1 - s) sigma``
    instead of ``s eta`` (Hicks 1932, *The Theory of Wages*, Marshall's rules; ``s`` the
    heavy-RE cost share of a magnet). Lean capacity grows by investment at the magnet
    stage's lead time (the adoption lag).
    """
    save, low, high, cap_share = lean
    parts.procs.append((f"hre-dose:{region}", region, "dose", np.inf, 0.0, 0.0))
    parts.io.extend(
        [(f"hre-dose:{region}", f"metal:{e}", -v) for e, v in heavy.items()]
        + [(f"hre-dose:{region}", DOSE, 1.0)]
    )
    if out <= 0 or save <= 0:
        return
    cap = cap_share * out
    pid = f"hre-lean:{region}"
    parts.procs.append((pid, region, "thrift", cap, low, (high - low) / cap if cap > 0 else 0.0))
    parts.io.extend(
        [(pid, f"metal:{e}", -(1.0 - save) * v) for e, v in heavy.items() if v > 0] + [(pid, DOSE, 1.0)]
    )
