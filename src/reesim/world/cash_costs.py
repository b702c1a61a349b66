"""Cash costs outside China anchored at the price trough, not at the reference year's price.

A mine's or separation plant's cash cost is set by its labour, reagents, energy and haulage,
not by the rare-earth price of the year a world is calibrated on. The default world states the
cash cost of operations that report none (``cash_cost_share_ex_china``) as a share of a price,
and the data say at which price: operations outside China kept or raised output through the
2023-24 trough (Nd oxide FOB China 134 USD/kg in 2022, 56 in 2024; U.S. mining 42.5 -> 45.5
kt, Australia 18 -> 29 kt, ``mine_production``), so their cash cost lies below the value of
their ore at the trough. The share therefore applies to the ore's concentrate value at the
lowest-priced of the default world's reference years that the dataset (or a vintage view)
prices, never to a peak: a world calibrated on 2022 otherwise put the cash cost of Australian,
Thai and Malagasy mines at 32-40 % of the 2022 peak value, shut in 13-35 % of their output
when prices fell in 2024, and Malaysia's separation with them (the spurious supply response
named in "Model credibility II").

The value of ore ``o`` in year ``y`` is indexed on the oxides priced that year (annual FOB
China rows; a vintage view may price only some of them, e.g. the six of USGS MCS 2025):
``I_o(y) = sum_e c_oe p_e(y) / sum_e c_oe p_e(ref)`` over those oxides, with ``c_oe`` the
ore's composition, and likewise ``I(y)`` for the world-average basket. The concentrate value
is the builder's (:func:`reesim.world.default._stage_values`), basket value less the
separation charge: ``I_o(y) V_o - s I(y) V``. The anchor of ore ``o`` is
``min(1, min_y value_o(y) / value_o(ref))``; separation plants take ``min(1, min_y I(y))``
(their charge is a share of the basket). A year whose priced oxides carry less than half of
an ore's reference value is skipped for that ore, and for every ore and separation when they
carry less than half of the world basket's; the concentrate value is floored at 5 % of the
basket as in the builder. An ore whose reference concentrate value is not positive keeps an
anchor of one (no anchor).

Limits: the separation charge is indexed to the basket in full here, while a run indexes
China's charge with ``separation_charge_indexation`` (0.5-1), so at its low end the anchor
slightly overstates the trough value; and a world of 2021 or 2022 built on the full dataset is
anchored on the 2024 trough, which lay in its future (the ``reesim calibrate`` run from 2021
uses this hindsight; a vintage view anchors only on what it knew). A reference year at the trough has anchors
of one (the default 2024 world is unchanged). Reported costs (MP Materials: cost over the
reference year's realized price, :func:`reesim.world.default_data._reported_cash_share`) need
no anchor.

China's mines are not anchored: their marginal cost at the quota stays a share of the reference
year's value (``china_mining_cost_share``), so in a world calibrated on a high-price year they
mine below the quota when prices fall. Anchoring them too was tried: China then mined its full
quota through 2023-24 (as USGS reports, the quota standing for production), but the 2021 world's
historical run (``reesim calibrate``) crashed the NdPr prices to 0.16-0.4x the data by 2025 and
put China's share of mining 6-8 points above the data in 2023-25, failing the stated tolerance:
the model has nothing that absorbed China's full quota in the trough (producers' and the state's
stock building in China is not in the dataset).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reesim.memo import memo_of
from reesim.world.default_data import _Recorder

MIN_COVERAGE = 0.5  # share of an ore's reference value its year's priced oxides must carry


def annual_prices(ds, cfg: dict) -> dict[int, dict[str, float]]:
    """Annual FOB China oxide prices (USD/kg, preferred rows) of the reference years, by year and element.

    Only what each year's rows report (nothing carried forward). Memoised per dataset object.
    """
    memo = memo_of(ds)
    if "world annual prices" in memo:
        return memo["world annual prices"]
    p = ds.table("prices", market_code="fob_china", form_code="oxide", unit="USD/kg", preferred=True)
    years = {str(y) for y in cfg["reference_years"]}
    p = p[p["date"].isin(years) & p["element"].isin(cfg["elements"])]
    out: dict[int, dict[str, float]] = {}
    for r in p.itertuples(index=False):
        out.setdefault(int(r.date), {}).setdefault(str(r.element), float(r.price))
    memo["world annual prices"] = out
    return out


def trough_factors(
    ds,
    cfg: dict,
    year: int,
    comp: pd.DataFrame,
    weights: dict[str, float],
    ref_prices: dict[str, float],
    sep_share: float,
    rec: _Recorder,
) -> tuple[dict[str, float], float]:
    """Cash-cost anchors: by ore (mines) and for separation (module docstring), each in (0, 1].

    Each is recorded (``cash_cost_anchor[<ore>]``, ``cash_cost_anchor[separation]``) with the
    year it comes from.
    """
    elements = list(weights)
    ores = [str(o) for o in comp.index]
    c = comp[elements].to_numpy(dtype=float)  # ore x element
    w = np.array([weights[e] for e in elements])
    p_ref = np.array([ref_prices[e] for e in elements])
    v_ore = c @ p_ref
    v_bar = float(w @ p_ref)
    conc_ref = v_ore - sep_share * v_bar
    low = {o: (1.0, year) for o in ores}
    low_sep = (1.0, year)
    years = annual_prices(ds, cfg)
    for y, prices in sorted(years.items()):
        have = np.array([e in prices for e in elements])
        if not have.any():
            continue
        p_y = np.array([prices.get(e, 0.0) for e in elements])
        base = np.where(have, p_ref, 0.0)
        if float(w @ base) < MIN_COVERAGE * v_bar:  # too few oxides priced to index the basket
            continue
        i_bar = float(w @ p_y) / float(w @ base)
        if i_bar < low_sep[0]:
            low_sep = (i_bar, y)
        covered = c @ base
        i_o = (c @ p_y) / np.where(covered > 0, covered, 1.0)
        conc_y = np.maximum(
            i_o * v_ore - sep_share * i_bar * v_bar, 0.05 * i_o * v_ore
        )  # the builder's floor
        ratio = conc_y / np.where(conc_ref > 0, conc_ref, 1.0)
        ok = (conc_ref > 0) & (covered >= MIN_COVERAGE * v_ore)
        for k, o in enumerate(ores):
            if ok[k] and ratio[k] < low[o][0]:
                low[o] = (float(ratio[k]), y)
    priced = ", ".join(f"{y} ({len(p)} oxides)" for y, p in sorted(years.items())) or "none"
    out = {}
    for o, (r, y) in low.items():
        out[o] = rec.derived(
            f"cash_cost_anchor[{o}]",
            r,
            "x reference concentrate value",
            f"lowest concentrate value of ore {o} over the priced reference years ({priced}) relative to "
            f"{year}'s: {y} (operations outside China kept producing through the trough; "
            "reesim.world.cash_costs)",
        )
    sep = rec.derived(
        "cash_cost_anchor[separation]",
        low_sep[0],
        "x reference basket value",
        f"lowest world-average basket value over the priced reference years ({priced}) relative to "
        f"{year}'s: {low_sep[1]} (reesim.world.cash_costs)",
    )
    return out, sep
