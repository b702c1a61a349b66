"""The report's licence section: shadow values by element, the wedge they leave, China's exports.

Reads what ``reesim run`` wrote to ``summary.json`` (``headline.licences``: what the licences
on each element's oxide add to its price, and the oxide prices inside and outside China;
``headline.licensed_goods``: the same per kg of the other licensed goods, metals and magnets;
``headline.china_exports``: China's exports by form and destination against the
counterfactual) and names the mechanism: which instrument binds, on which forms and elements.
See docs/trade.md for the formulation.
"""

from __future__ import annotations

import pandas as pd

from reesim.reports.html import Run, code, esc, num, table_html

#: periods shown in the tables (the first ones with a licence in force)
MAX_PERIODS = 6


def _times(value: float) -> str:
    text = num(value, 2)
    return text if text == "–" else f"{text} ×"


def _places(codes: str) -> str:
    """Destinations as a list the table can wrap ("EU, IND, JPN"), "none" when empty."""
    return ", ".join(c for c in str(codes or "").split(",") if c) or "none"


def _rent_table(rows: pd.DataFrame, what: str, caption: str) -> str:
    """A licence-rent table: one row per period and good (columns of :func:`reesim.simulate.headline._good_rows`)."""
    cells = [
        [
            r.period,
            r.good,
            _places(r.binding_destinations),
            num(r.rent_usd_per_kg_max, 1),
            num(r.inside_usd_per_kg, 1),
            num(r.outside_usd_per_kg, 1),
            *(_times(getattr(r, f"{m}_over_inside", float("nan"))) for m in ("outside", "eu", "jpn", "usa")),
        ]
        for r in rows.itertuples(index=False)
    ]
    heads = [
        "period",
        what,
        "binding for",
        "rent, USD/kg",
        "China, USD/kg",
        "outside, USD/kg",
        "outside ÷ China",
        "Europe ÷ China",
        "Japan ÷ China",
        "U.S. ÷ China",
    ]
    return table_html(heads, cells, caption, numeric=(3, 4, 5, 6, 7, 8, 9), cls="small")


def _mechanism(run: Run) -> str:
    items = []
    for inst in run.scenario.get("instruments", []) or []:
        if inst.get("type") != "export_quota" or inst.get("tonnes_per_year") is not None:
            continue
        goods = ", ".join(inst.get("commodities", []) + [f"element {e}" for e in inst.get("elements", [])])
        content = inst.get("content_of") or "the elements of its oxides and metals"
        share = inst.get("approval_share")
        by_dest = inst.get("approval_by_destination") or {}
        review = inst.get("processing_working_days", 0)
        catch_up = inst.get("catch_up_days", 0)
        items.append(
            f"<li>{code(inst.get('name') or 'export_quota')}: exports of {esc(goods)} from {esc(inst.get('exporter'))}, "
            f"limited per destination to {esc(share if share is not None else 1.0)} of the counterfactual's content of "
            f"{esc(content if isinstance(content, str) else ', '.join(content))}"
            + (f" ({esc(', '.join(f'{k} {v}' for k, v in by_dest.items()))})" if by_dest else "")
            + (f", nothing approved for the first {esc(review)} working days" if review else "")
            + (
                f", what the review held shipped over the next {esc(catch_up)} days"
                if review and catch_up
                else ""
            )
            + f", from {esc(inst.get('start'))}.</li>"
        )
    if not items:
        return ""
    return (
        "<p>Licences in the scenario. Each binds on element content (t REO) summed over the listed forms, "
        "per destination; its shadow value is what one more kg of licensed content would be worth to buyers "
        "abroad, and every licensed form carries its content times that value on top of transport and route "
        "costs.</p><ul>" + "".join(items) + "</ul>"
    )


def licences_section(run: Run) -> str:
    """The section's HTML (an explanation when the scenario has no licence)."""
    head = run.summary.get("headline", {})
    lic = pd.DataFrame(head.get("licences") or [])
    out = [_mechanism(run)]
    if lic.empty:
        out.append("<p>No export licence on element content in this scenario.</p>")
        return "\n".join(x for x in out if x)
    binding = lic[lic["binding_destinations"].astype(str) != ""]
    periods = list(dict.fromkeys(binding["period"]))[:MAX_PERIODS]
    out.append(
        _rent_table(
            lic[lic["period"].isin(periods)].rename(
                columns={
                    "element": "good",
                    "oxide_inside_usd_per_kg": "inside_usd_per_kg",
                    "oxide_outside_usd_per_kg": "outside_usd_per_kg",
                }
            ),
            "element",
            "Oxides. Rent of the licences on each element's oxide (what they add to a kg of oxide on the route where "
            "it is largest: the shadow value per kg of content, one kg per kg of oxide) and the oxide price "
            "wedge it leaves: inside China and the consumption-weighted mean of the other regions, USD/kg "
            "(outside includes transport and route costs), with the markets analysts quote (Europe, Japan, the "
            "U.S.) as multiples of China's price. A licence on magnets is not counted here: its shadow value "
            "per kg of Tb in a magnet is no price of Tb oxide (next table). From "
            f"{code('summary.json')} {code('headline.licences')} (every period; the first {MAX_PERIODS} with a binding licence here).",
        )
    )
    goods = pd.DataFrame(head.get("licensed_goods") or [])
    if not goods.empty:
        out.append(
            _rent_table(
                goods[goods["period"].isin(periods)],
                "good",
                "The other licensed goods (metals, magnets). Rent: what the licences add to a kg of the good on the "
                "route where it is largest, the sum over the licensed elements of their shadow value times the "
                "good's content of each (unique even where the split between elements is not), and the good's "
                "prices as above, USD/kg. From "
                f"{code('summary.json')} {code('headline.licensed_goods')}.",
            )
        )
    ex = pd.DataFrame(head.get("china_exports") or [])
    if not ex.empty:
        ex = ex[ex["period"].isin(periods)]
        by_form = ex.groupby(["period", "form"], as_index=False)[["scenario", "counterfactual"]].sum()
        rows = [
            [
                r.period,
                r.form,
                num(r.scenario),
                num(r.counterfactual),
                _change(r.scenario, r.counterfactual),
            ]
            for r in by_form.itertuples(index=False)
        ]
        out.append(
            table_html(
                ["period", "form", "China's exports, t/yr", "counterfactual, t/yr", "change"],
                rows,
                "China's exports by form, scenario against the counterfactual (t/yr; by destination in "
                f"{code('summary.json')} {code('headline.china_exports')}). Where the counterfactual exports "
                f"less than {num(MIN_BASE_T_PER_YEAR)} t/yr of a form the change is given in tonnes, not "
                "per cent: the default world makes each region's metal where its magnets are made (the "
                "dataset has no trade in rare-earth metals), so China's metal exports start from a few "
                "tonnes and a percentage of them says nothing.",
                numeric=(2, 3, 4),
            )
        )
    return "\n".join(x for x in out if x)


#: below this counterfactual flow (t/yr) a change is shown in tonnes, not per cent
MIN_BASE_T_PER_YEAR = 100.0


def _change(scenario: float, counterfactual: float) -> str:
    """The change of a flow as a percentage of the counterfactual, or in tonnes where that base is
    below :data:`MIN_BASE_T_PER_YEAR` (a few tonnes made +3,826 % of China's metal exports)."""
    if counterfactual >= MIN_BASE_T_PER_YEAR:
        return num(100 * (scenario / counterfactual - 1), 1, sign=True, unit="%")
    return num(scenario - counterfactual, 0, sign=True, unit="t")
