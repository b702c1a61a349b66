"""The report's headline section: prices, welfare, shortages, jobs and units at risk of a run."""

from __future__ import annotations

import pandas as pd

from reesim.reports.markup import code, esc, note, num, table_html, usd_range
from reesim.reports.runfolder import Run


def _near_choke(rows: list[dict]) -> str:
    """Uses whose price came near their demand line's cap (:func:`reesim.simulate.headline.near_choke`)."""
    if not rows:
        return ""
    cap = (
        "Final uses that still buy, at their highest share of the choke price (the intercept of their "
        "linear demand line: the price at which they buy nothing, (1 + 1/elasticity) × their reference "
        "price, 3× at the default oxide elasticity 0.5). Near the cap, the peak is set by the demand "
        f"elasticity assumption more than by the measure; {code('reesim ensemble')} draws it over its range. "
        f"From {code('summary.json')} → {code('headline.near_choke')} and the {code('consumption')} table's "
        f"{code('choke_usd_per_kg')}."
    )
    body = [
        [
            esc(r["commodity"]),
            esc(r["region"]),
            esc(r["sector"]),
            esc(r["period"]),
            f"{num(100 * r['share_of_choke'], 0)} %",
            f"{num(r['usd_per_kg'], 2)} / {num(r['choke_usd_per_kg'], 2)}",
            f"{num(r['tonnes_per_year'], 1)} ({num(r['tonnes_per_year_cf'], 1)})",
        ]
        for r in rows
    ]
    headers = ["commodity", "region", "use", "period", "of choke", "USD/kg / choke", "t/yr (counterfactual)"]
    return "<h3>Prices at their demand line's cap</h3>" + table_html(
        headers, body, cap, numeric=(4, 5, 6), raw=True, cls="wide"
    )


def headline_section(run: Run) -> str:
    """The headline section's HTML: peak price changes, welfare, shortages, jobs and units at risk."""
    h = run.summary.get("headline") or {}
    ih = run.summary.get("impacts") or {}
    parts = []
    pc = pd.DataFrame(h.get("price_changes") or [])
    if not pc.empty:
        stage = pc["commodity"].str.split(":").str[0]
        main, conc = (
            pc[stage.isin(["oxide", "metal", "magnet"])],
            pc[~stage.isin(["oxide", "metal", "magnet"])],
        )

        def price_rows(d: pd.DataFrame) -> list[list[str]]:
            rows = []
            for com, g in d.groupby("commodity", sort=False):
                row = [esc(com)]
                for market in ("inside China", "outside China"):
                    r = g[g["market"] == market]
                    if r.empty:
                        row += ["–", "", "–"]
                        continue
                    r = r.iloc[0]
                    cls = " big" if abs(r["peak_change_pct"]) >= 10 else ""
                    row += [
                        f'<span class="chg{cls}">{num(r["peak_change_pct"], 1, sign=True)} %</span>',
                        esc(r["period"]),
                        f"{num(r['usd_per_kg'], 2)} <span class='cf'>({num(r['usd_per_kg_cf'], 2)})</span>",
                    ]
                rows.append(row)
            return rows

        headers = [
            "commodity",
            "inside China: peak Δ",
            "period",
            "USD/kg (counterfactual)",
            "outside China: peak Δ",
            "period",
            "USD/kg (counterfactual)",
        ]
        cap = (
            f"Peak price change against the counterfactual ({esc(run.cf_name)}), in % of the counterfactual "
            "price, with the period of the peak and both prices in USD/kg at that period. From "
            f"{code('summary.json')} → {code('headline.price_changes')} (computed from the {code('prices')} and "
            f"{code('consumption')} tables: inside China = the CHN market price; outside China = the "
            "consumption-weighted average of the other regions' market prices)."
        )
        parts.append("<h3>Peak price changes: oxides, metals, magnets</h3>")
        parts.append(table_html(headers, price_rows(main), cap, numeric=(1, 3, 4, 6), raw=True, cls="wide"))
        if not conc.empty:
            parts.append(
                "<details><summary>Concentrates</summary>"
                + table_html(headers, price_rows(conc), cap, numeric=(1, 3, 4, 6), raw=True, cls="wide")
                + "</details>"
            )
    parts.append(_near_choke(h.get("near_choke") or []))
    sh = h.get("shortages") or []
    parts.append("<h3>Shortages</h3>")
    parts.append(
        table_html(
            ["sector", "scope", "largest shortfall, t/yr", "% of counterfactual use", "period"],
            [
                [
                    r["sector"],
                    r["scope"],
                    num(r["shortage_tonnes_per_year"], 0),
                    num(r["shortage_pct"], 1),
                    r["period"],
                ]
                for r in sh
            ],
            f"Largest drop of consumption below the counterfactual by sector, tonnes per year (oxide REO for "
            f"other uses, magnet mass for magnet users). From {code('summary.json')} → {code('headline.shortages')} "
            f"(the {code('consumption')} tables of the scenario and the counterfactual).",
            numeric=(2, 3),
        )
    )
    cap_rows = h.get("capacity_outside_china") or []
    period = cap_rows[0].get("period", "") if cap_rows else ""
    parts.append(f"<h3>Capacity outside China at the horizon ({esc(period)})</h3>")
    parts.append(
        table_html(
            ["stage", "scenario, t/yr", "counterfactual, t/yr", "change", "largest change (region), t/yr"],
            [
                [
                    r["stage"],
                    num(r["scenario"]),
                    num(r["counterfactual"]),
                    num(r["change_pct"], 1, sign=True, unit="%"),
                    (
                        f"{esc(str(r['largest_region']))} {num(r['largest_change_tonnes_per_year'], 0, sign=True)}"
                        if round(r.get("largest_change_tonnes_per_year") or 0.0)
                        else ""
                    ),
                ]
                for r in cap_rows
            ],
            f"Capacity outside China in the last period by stage, tonnes per year (mining and separation: "
            f"REO; metal: metal; magnet: magnet mass; thrift: lean magnet grades that use less Dy/Tb, magnet mass, "
            f"part of the magnet stage's output), and the region whose capacity moved most: Myanmar's clay "
            f"mines are outside China but sell their ore to China, so they follow China's prices. From "
            f"{code('summary.json')} → {code('headline.capacity_outside_china')} (the {code('capacity')} tables).",
            numeric=(1, 2, 3),
        )
    )
    w = ih.get("welfare_pv_usd_million_by_region") or {}
    rate = ih.get("discount_rate")
    if w:
        # raw=True for the bold world row: every region name is escaped here (a run folder is input)
        rows = [[esc(r), num(v, 0, sign=True)] for r, v in sorted(w.items(), key=lambda kv: kv[1])]
        rows.append(
            [
                "<strong>world</strong>",
                f"<strong>{num(ih.get('welfare_pv_usd_million_world'), 0, sign=True)}</strong>",
            ]
        )
        parts.append(f"<h3>Welfare change, present value at {num(100 * (rate or 0), 1)} %/yr</h3>")
        parts.append(
            table_html(
                ["region", "Δ welfare, million USD"],
                rows,
                f"Present value of the change in welfare (all components) over the horizon, million USD, "
                f"discounted at {num(100 * (rate or 0), 1)} % a year. From {code('summary.json')} → "
                f"{code('impacts.welfare_pv_usd_million_by_region')} (= the 'total' rows of "
                f"{code('welfare_discounted')}); details in the Welfare section.",
                numeric=(1,),
                raw=True,
            )
        )
    peaks = ih.get("product_cost_peaks") or []
    if peaks:
        parts.append("<h3>Largest change in the rare-earth cost of a product</h3>")
        parts.append(
            table_html(
                ["product", "per", "market", "period", "Δ USD per unit (range)"],
                [
                    [
                        r["product"],
                        r["per"],
                        r["market"],
                        r["period"],
                        usd_range(r["change_usd_low"], r["change_usd_high"]),
                    ]
                    for r in peaks
                ],
                f"Peak change in the cost of the rare-earth content of a product, USD per unit (the range "
                f"spans the cited intensity rows). From {code('summary.json')} → {code('impacts.product_cost_peaks')} "
                f"(table {code('product_costs')}); sources in the Cost-per-product section.",
                numeric=(4,),
            )
        )
    j = ih.get("us_jobs_exposed_peak")
    parts.append("<h3>U.S. jobs exposed</h3>")
    if j:
        parts.append(
            table_html(
                [
                    "period",
                    "U.S. magnet shortfall",
                    "low: REE-dependent products",
                    "high: all magnet-using sectors",
                    "high, with supply-chain jobs",
                ],
                [
                    [
                        j["period"],
                        num(100 * j["shortage_share"], 1, unit="%"),
                        num(j["jobs_exposed_low"]),
                        num(j["jobs_exposed_high"]),
                        num(j["jobs_exposed_high_with_supply_chain"]),
                    ]
                ],
                f"Jobs exposed at the peak U.S. magnet shortfall = shortfall share × employment of the "
                f"magnet-using sectors (cited employment rows), jobs. From {code('summary.json')} → "
                f"{code('impacts.us_jobs_exposed_peak')} (table {code('jobs')}); assumes output falls in "
                "proportion to the magnet shortfall."
                + (
                    " This scenario limits no quantity against its counterfactual (no ban, licence, quota, "
                    "disruption or technology ban of its own): the 'shortfall' is buyers answering its prices "
                    "by buying less, much of it by substitution, so the figures are upper bounds, not jobs "
                    "lost to a shortage."
                    if j.get("cause") == "price"
                    else ""
                ),
                numeric=(1, 2, 3, 4),
            )
        )
    else:
        parts.append(note("No U.S. magnet shortfall in this run: no jobs exposed."))
    parts.append("<h3>Units not built</h3>")
    peaks = [p for p in (ih.get("units_at_risk_peak") or {}).values() if p and p.get("products")]
    if peaks:
        rows = [
            [
                p["scope"],
                p["period"],
                num(q["shortage_tonnes"]),
                q["product"],
                num(q["units_low"]),
                num(q["units_high"]),
                q["source_ids"],
            ]
            for p in peaks
            for q in p["products"]
        ]
        parts.append(
            table_html(
                [
                    "scope",
                    "period",
                    "its sector's shortfall, t",
                    "product",
                    "units, low",
                    "units, high",
                    "sources",
                ],
                rows,
                "The peak magnet shortfall as the units of each magnet product its magnets would have gone "
                "into if all of it fell on that product (an upper bound per product; rows do not add up). "
                f"From {code('summary.json')} → {code('impacts.units_at_risk_peak')} (table "
                f"{code('units_at_risk')}); method and the check against the 2025 halts in docs/downstream.md.",
                numeric=(2, 4, 5),
                cls="wide small",
                nowrap=(0, 1),
            )
        )
    else:
        parts.append(note("No magnet shortfall in this run: no units at risk."))
    return "\n".join(parts)
