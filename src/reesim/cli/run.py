"""``reesim run``, ``reesim validate``, ``reesim schema``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from reesim.atomic import check_out_file, check_out_folder, write_file_atomic
from reesim.cli.data import _fmt
from reesim.cli.text import echo, out
from reesim.errors import InputError
from reesim.impacts.compare import AVERAGE_MARKETS
from reesim.pipeline import downstream_tariffs, impact_tables, run_pair  # noqa: F401 (used by compare, benchmarks)


def _sig3(value: float) -> str:
    """A count from a proportional estimate, to 3 significant figures (1,353,345 -> 1,350,000)."""
    return f"{float(f'{float(value):.3g}'):,.0f}"


def progress_bar() -> Progress:
    """The progress bar of long commands (description, bar, done/total, elapsed and the time left at
    the pace so far, e.g. an ensemble of a thousand members; removed when done)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=out,
        transient=True,
    )


def print_headline(h: dict, scenario_name: str, cf_name: str) -> None:
    """Print the headline tables."""
    t = Table(title=f"{scenario_name} vs {cf_name}: peak price change", header_style="bold")
    for col in ("commodity", "market", "change %", "period", "USD/kg", "counterfactual"):
        t.add_column(col, justify="right" if col not in ("commodity", "market") else "left")
    for r in h["price_changes"]:
        if r["market"] not in AVERAGE_MARKETS:
            continue
        if abs(r["peak_change_pct"]) >= 0.5 and r["commodity"].split(":")[0] in ("oxide", "metal", "magnet"):
            t.add_row(
                str(r["commodity"]),
                r["market"],
                f"{r['peak_change_pct']:+.1f}",
                r["period"],
                _fmt(round(r["usd_per_kg"], 2)),
                _fmt(round(r["usd_per_kg_cf"], 2)),
            )
    out.print(t if t.row_count else "No oxide, metal or magnet price moves by 0.5 % or more.")
    _print_named_markets(h["price_changes"])
    _print_near_choke(h.get("near_choke") or [])
    out.print("  (concentrate prices and every figure are in summary.json)")
    und = h.get("undetermined_prices") or {}
    if und.get("market_periods"):
        out.print(
            f"  Not shown: {und['market_periods']} of {und['of']} market-periods whose price is not determined "
            f"({', '.join(und['commodities'][:8])}{', ...' if len(und['commodities']) > 8 else ''}): no consumption "
            "and no trade there, so the solver's price is one point of an interval (determined=false in price_changes)."
        )
    t2 = Table(title="Largest shortage by sector (consumption below the counterfactual)", header_style="bold")
    for col in ("sector", "scope", "t/yr", "%", "period"):
        t2.add_column(col, justify="right" if col in ("t/yr", "%") else "left")
    for r in h["shortages"]:
        t2.add_row(
            r["sector"],
            r["scope"],
            _fmt(round(r["shortage_tonnes_per_year"], 1)),
            f"{r['shortage_pct']:.1f}",
            r["period"],
        )
    out.print(t2)
    t3 = Table(title="Capacity outside China at the horizon, t/yr", header_style="bold")
    for col in ("stage", "scenario", "counterfactual", "change %", "largest change, t/yr"):
        t3.add_column(col, justify="left" if col == "stage" else "right")
    for r in h["capacity_outside_china"]:
        ch = r["change_pct"]
        big = r.get("largest_change_tonnes_per_year") or 0.0
        t3.add_row(
            "thrift (lean magnet grades)" if r["stage"] == "thrift" else r["stage"],
            _fmt(round(r["scenario"])),
            _fmt(round(r["counterfactual"])),
            "" if ch != ch else f"{ch:+.1f}",
            f"{r['largest_region']} {round(big):+,}" if round(big) else "",
        )
    out.print(t3)
    _print_heavy_dose(h.get("heavy_re_per_magnet") or [])
    _print_recycled(h.get("recycled_supply") or [])
    _print_heavy_outside(h.get("heavy_separated_outside_china") or [])


KEY_COMMODITIES = ("oxide:Dy", "oxide:Tb", "oxide:Nd", "oxide:Pr", "magnet:ndfeb")


def _print_named_markets(rows: list[dict]) -> None:
    """Peak change of the key prices in the markets analysts quote (Europe, Japan, U.S.)."""
    from reesim.impacts.compare import NAMED_MARKETS

    names = list(NAMED_MARKETS.values())
    cells = {(r["commodity"], r["market"]): r for r in rows if r["market"] in names}
    shown = [c for c in KEY_COMMODITIES if any((c, m) in cells for m in names)]
    if not shown:
        return
    t = Table(title="Peak price change in named markets, % (period)", header_style="bold")
    t.add_column("commodity")
    for m in names:
        t.add_column(m, justify="right")
    for c in shown:
        t.add_row(
            c,
            *(
                f"{cells[(c, m)]['peak_change_pct']:+.1f} ({cells[(c, m)]['period']})"
                if (c, m) in cells
                else ""
                for m in names
            ),
        )
    out.print(t)


#: goods shown near their choke price (the rest are in summary.json)
NEAR_CHOKE_LINES = 4


def _print_near_choke(rows: list[dict]) -> None:
    """One line per good and period in which the price final uses pay reached 80 % of their demand's choke price
    (:func:`reesim.simulate.headline.near_choke`): there the peak is the demand line's cap."""
    df = pd.DataFrame(rows)
    if df.empty:
        return
    groups = list(df.groupby(["commodity", "sector", "period"], sort=False))  # highest share first
    for (com, sector, period), g in groups[:NEAR_CHOKE_LINES]:
        share = _span(g["share_of_choke"] * 100, lambda x: f"{x:.0f}")
        price, choke = _span(g["usd_per_kg"], _price3), _span(g["choke_usd_per_kg"], _price3)
        cf = g["tonnes_per_year_cf"]
        against = f"{cf.sum():,.1f}" if cf.notna().all() else "an unknown amount"
        out.print(
            f"{com} for {sector} in {', '.join(g['region'])}: {share} % of its demand's choke price in {period} "
            f"({price} of {choke} USD/kg), buying {g['tonnes_per_year'].sum():,.1f} t/yr against {against} "
            "without the measures."
        )
    if len(groups) > NEAR_CHOKE_LINES:
        out.print(f"  ... and {len(groups) - NEAR_CHOKE_LINES} more (near_choke in summary.json).")
    out.print(
        "  A use's linear demand line caps its price at (1 + 1/elasticity) x its reference price (3x for an "
        "oxide at the default 0.5, 3.5x for magnets at 0.4): near the cap, the peak is set by the demand "
        "elasticity assumption more than by the measure (near_choke in summary.json; reesim ensemble draws the "
        "elasticities over their ranges)."
    )


def _span(values: pd.Series, fmt) -> str:
    """``fmt`` of the smallest and largest of ``values``: one figure when they print the same."""
    lo, hi = fmt(values.min()), fmt(values.max())
    return lo if lo == hi else f"{lo}-{hi}"


def _price3(x: float) -> str:
    """A price in USD/kg to three significant figures (whole USD from 100)."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _print_heavy_dose(rows: list[dict]) -> None:
    """One line on Dy per t of magnet made outside China (lean grades), scenario vs counterfactual."""
    df = pd.DataFrame(rows)
    if df.empty:
        return
    df = df[df["scope"] == "outside China"]
    sc, cf = (
        df[df["path"] == "scenario"].set_index("year"),
        df[df["path"] == "counterfactual"].set_index("year"),
    )
    years = sc.index.intersection(cf.index)
    if years.empty:
        return
    gap = (sc.loc[years, "dy_kg_per_t"] - cf.loc[years, "dy_kg_per_t"]).abs()
    y = int(gap.idxmax())
    tail = "(heavy_re_per_magnet in summary.json; docs/thrifting.md)."
    if gap.max() < 0.05:
        first, last = int(years.min()), int(years.max())
        out.print(
            f"Dy per t of magnet made outside China: as without the measures ({sc.loc[first, 'dy_kg_per_t']:.2f} kg "
            f"in {first}, {sc.loc[last, 'dy_kg_per_t']:.2f} kg in {last}) {tail}"
        )
        return
    out.print(
        f"Dy per t of magnet made outside China: {sc.loc[y, 'dy_kg_per_t']:.2f} kg in {y} (lean grades "
        f"{100 * sc.loc[y, 'lean_share']:.0f} % of output) against {cf.loc[y, 'dy_kg_per_t']:.2f} kg "
        f"({100 * cf.loc[y, 'lean_share']:.0f} %) without the measures, the largest gap {tail}"
    )


def _scenario_rows(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    """A headline table's scenario and counterfactual rows and the scenario's regions; None
    when the scenario has none."""
    df = pd.DataFrame(rows)
    if df.empty or not (df["path"] == "scenario").any():
        return None
    sc = df[df["path"] == "scenario"]
    return sc, df[df["path"] == "counterfactual"], ", ".join(sorted(set(sc["region"])))


def _print_recycled(rows: list[dict]) -> None:
    """One line on magnet material made by recycling plants, first and last year of the scenario."""
    got = _scenario_rows(rows)
    if got is None:
        return
    sc, cf, regions = got[0].groupby("year")["tonnes"].sum(), got[1].groupby("year")["tonnes"].sum(), got[2]
    first, last = int(sc.index.min()), int(sc.index.max())
    out.print(
        f"Recycled magnet material ({regions}): {sc[first]:,.0f} t in {first}, {sc[last]:,.0f} t in {last} "
        f"(without the measures: {cf.get(last, 0.0):,.0f} t in {last}; recycled_supply in summary.json)."
    )


def _print_heavy_outside(rows: list[dict]) -> None:
    """One line on Dy and Tb separated outside China, first and last year the scenario makes any."""
    got = _scenario_rows(rows)
    if got is None:
        return
    sc = got[0].pivot_table(index="year", columns="commodity", values="tonnes", aggfunc="sum")
    sc, regions = sc[sc.sum(axis=1) > 0.5], got[2]
    if sc.empty:
        return
    first, last = int(sc.index.min()), int(sc.index.max())

    def fig(y: int) -> str:
        return ", ".join(
            f"{c.split(':')[1]} {sc.loc[y].get(c, 0.0):,.0f} t" for c in ("oxide:Dy", "oxide:Tb")
        )

    span = f"{fig(first)} in {first}" + (f"; {fig(last)} in {last}" if last != first else "")
    out.print(
        f"Heavy rare earths separated outside China ({regions}): {span} "
        "(heavy_separated_outside_china in summary.json)."
    )


def print_impacts(ih: dict) -> None:
    """Print the headline impacts."""
    w = ih["welfare_pv_usd_million_by_region"]
    t = Table(
        title=f"Welfare change, present value at {100 * ih['discount_rate']:.0f} %/yr, million USD",
        header_style="bold",
    )
    t.add_column("region")
    t.add_column("Δ welfare", justify="right")
    for region, v in sorted(w.items(), key=lambda kv: kv[1]):
        if abs(v) >= 0.5:
            t.add_row(region, f"{v:+,.0f}")
    t.add_row("world", f"{ih['welfare_pv_usd_million_world']:+,.0f}")
    out.print(t)
    t2 = Table(title="Largest change in the rare-earth cost of a product (USD per unit)", header_style="bold")
    for col in ("product", "per", "market", "period", "Δ USD (range)"):
        t2.add_column(col, justify="right" if col.startswith("Δ") else "left")
    for r in ih["product_cost_peaks"]:
        if r["market"] not in AVERAGE_MARKETS:  # named markets are in summary.json
            continue
        lo, hi = r["change_usd_low"], r["change_usd_high"]
        t2.add_row(
            r["product"],
            r["per"],
            r["market"],
            r["period"],
            f"{lo:+,.2f}" if abs(hi - lo) < 0.005 else f"{lo:+,.2f} to {hi:+,.2f}",
        )
    out.print(
        t2
        if t2.row_count
        else "No product cost change can be shown: the prices it needs are not determined in any period."
    )
    j = ih["us_jobs_exposed_peak"]
    if j:
        price = j.get("cause") == "price"
        what = "fall in magnet purchases" if price else "magnet shortfall"
        out.print(
            f"U.S. jobs exposed at the peak {what} ({100 * j['shortage_share']:.1f} % in {j['period']}): "
            f"about {_sig3(j['jobs_exposed_low'])} (REE-dependent products) to {_sig3(j['jobs_exposed_high'])} (all "
            f"magnet-using sectors), {_sig3(j['jobs_exposed_high_with_supply_chain'])} with supply-chain jobs "
            f"(employment in proportion to the {what}; 3 significant figures)."
            + (
                " The scenario limits no quantity against its counterfactual: buyers pay its duties or "
                "subsidised prices and buy less, much of it by substitution, so these are upper bounds, "
                "not jobs lost to a shortage."
                if price
                else ""
            )
        )
    u = (ih.get("units_at_risk_peak") or {}).get("USA") or {}
    if u.get("products"):
        by_sector: dict[str, list[str]] = {}
        tonnes: dict[str, float] = {}
        for p in u["products"]:
            low, high = _sig3(p["units_low"]), _sig3(p["units_high"])
            units = f"{low}-{high}" if low != high else low
            by_sector.setdefault(p["sector"], []).append(f"{units} x {p['product']}")
            tonnes[p["sector"]] = p["shortage_tonnes"]
        said = "; ".join(
            f"{sector} {tonnes[sector]:,.0f} t, the magnets of {' or '.join(items)}"
            for sector, items in by_sector.items()
        )
        out.print(
            f"U.S. magnets not bought at the peak ({u['period']}): {said} - each if all of it fell on that "
            "product (units_at_risk; docs/downstream.md)."
        )


def run(
    scenario: str = typer.Argument(
        ..., help="Scenario YAML file or shipped name (e.g. china-2025-licensing)."
    ),
    against: str = typer.Option(
        None, "--against", help="Counterfactual scenario (default: the scenario's, else baseline)."
    ),
    out_dir: Path = typer.Option(
        None, "--out", "-o", help="Write tables (Parquet), summary.json and the resolved scenario here."
    ),
    report: bool = typer.Option(False, "--report", help="Also write report.html into the --out folder."),
    fmt: str = typer.Option(
        "parquet",
        "--format",
        "-f",
        help="Table formats for --out, comma-separated: parquet (always written), csv, xlsx (one workbook).",
    ),
) -> None:
    """Run a scenario and its counterfactual; print the headline; write the results."""
    from reesim.pipeline import assess, write_outcome
    from reesim.scenario.load import load_scenario
    from reesim.simulate.export import check_formats_available, parse_formats
    from reesim.simulate.steps import make_steps

    formats = parse_formats(fmt)
    check_formats_available(formats)
    sc = load_scenario(scenario)
    if report and out_dir is None:
        raise InputError("--report needs --out DIR (the report is written into the result folder)")
    if formats != ("parquet",) and out_dir is None:
        raise InputError(f"--format {fmt}: needs --out DIR (the tables are written into the result folder)")
    if out_dir is not None:
        check_out_folder(out_dir)  # refuse before simulating
    n = len(make_steps(sc.horizon))
    with progress_bar() as bar:
        task = bar.add_task(f"simulating {sc.name} and its counterfactual", total=2 * n)
        res, cf, cf_sc = run_pair(sc, against, progress=lambda step: bar.advance(task))
    o = assess(sc, res, cf, cf_sc)
    print_headline(o.headline, sc.name, cf_sc.name)
    print_impacts(o.impact_headline)
    first = o.impact_headline.get("downstream_tariffs_first_year")
    if first:
        out.print(
            f"Section 301 downstream goods ({first['year']}, lists with known covered values): consumer cost "
            f"{first['consumer_cost_usd_bn']:.1f} bn USD, tariff revenue {first['tariff_revenue_usd_bn']:.1f} bn, "
            f"deadweight loss {first['deadweight_loss_usd_bn']:.1f} bn (downstream_tariffs.parquet)."
        )
    if out_dir is not None:
        write_outcome(o, out_dir, report=report, formats=formats)
        out.print(f"wrote {out_dir}")
        if report:
            out.print(f"report: {out_dir / 'report.html'}")


def validate(scenario: str = typer.Argument(..., help="Scenario YAML file or shipped name.")) -> None:
    """Check a scenario (format, names, contradictions) without running it."""
    from reesim.ensemble.space import check_uncertainty
    from reesim.scenario.load import load_scenario
    from reesim.simulate.stepper import scenario_world

    sc = load_scenario(scenario)
    scenario_world(sc)
    check_uncertainty(sc)
    out.print(
        f"{scenario}: valid ({len(sc.instruments)} instruments, {sc.horizon.start}-{sc.horizon.end} by {sc.horizon.step})"
    )


def schema(
    out_path: Path = typer.Option(None, "--out", "-o", help="Write the JSON Schema to this file."),
) -> None:
    """Print (or write) the JSON Schema of the scenario format, for editors."""
    from reesim.scenario.load import json_schema

    text = json.dumps(json_schema(), indent=2)
    if out_path is None:
        echo(text)
    else:
        check_out_file(out_path, example="scenario.schema.json")
        write_file_atomic(out_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        out.print(f"wrote {out_path}")


def _print_reference_fit(ref: dict) -> None:
    """The default world's fit to its reference year: routes, China's exports by stage, heavy REE."""
    t = Table(
        title=f"Reference year {ref['year']}: calibrated routes (target = data row)", header_style="bold"
    )
    for col in ("route", "target t/yr", "model t/yr", "error %"):
        t.add_column(col, justify="right" if col != "route" else "left")
    for r in ref["route_targets"]:
        t.add_row(
            r["route"],
            f"{1000 * r['target_kt']:,.0f}",
            f"{1000 * r['model_kt']:,.0f}",
            f"{r['error_pct']:+.3f}",
        )
    out.print(t)
    s = Table(
        title="China's exports by stage and destination (share of the stage, model)", header_style="bold"
    )
    for col in ("stage", "destination", "t/yr", "share %"):
        s.add_column(col, justify="right" if col in ("t/yr", "share %") else "left")
    for r in ref["china_export_shares"]:
        if r["kt"] >= 0.001:
            s.add_row(r["stage"], r["dest"], f"{1000 * r['kt']:,.0f}", f"{r['share_pct']:.1f}")
    out.print(s)
    h = ref["heavy"]
    out.print(
        f"China's magnet exports {1000 * ref['china_magnet_exports_kt']['model']:,.0f} t (customs "
        f"{1000 * ref['china_magnet_exports_kt']['data']:,.0f}); U.S. magnet imports from China "
        f"{1000 * ref['us_magnet_imports_from_china_kt']['model']:,.0f} t (USITC {1000 * ref['us_magnet_imports_from_china_kt']['data']:,.0f}); "
        f"China's share of separated Dy {h['china_share_of_separated_pct']['Dy']:.1f} %, Tb "
        f"{h['china_share_of_separated_pct']['Tb']:.1f} % (data {h['china_share_data_pct']} %); Dy oxide into China from "
        f"regions without heavy-RE separation {1000 * h['dy_oxide_into_china_from_non_heavy_regions_kt']:.1f} t; "
        f"magnets take {h['magnet_share_of_dy_use_pct']:.0f} % of Dy; routes observed closed carry "
        f"{1000 * ref['closed_routes']['flow_kt']:.1f} t."
    )


def calibrate(
    report: bool = typer.Option(True, "--report/--no-report", help="Print the fit statistics."),
    write: bool = typer.Option(False, "--write", help="Store the statistics with the package (maintainers)."),
) -> None:
    """Run the historical simulation (2021-2025) and print its fit to the data."""
    from reesim.simulate import calibrate as cal

    rep = cal.fit()
    stored = cal.stored()
    if report:
        t = Table(
            title=f"Calibration: {rep['run']} (China's and Myanmar's mining capacity as data; other capacity from the investment rule)",
            header_style="bold",
        )
        for col in (
            "year",
            "China model %",
            "China data %",
            "error pp",
            "mean |error| pp",
            "worst region",
            "max |log10 price ratio|",
        ):
            t.add_column(col, justify="right")
        for y in rep["years"]:
            t.add_row(
                str(y["year"]),
                f"{y['china_share_model_pct']:.1f}",
                f"{y['china_share_data_pct']:.1f}",
                f"{y['china_share_error_pp']:+.2f}",
                f"{y['mean_abs_share_error_pp']:.2f}",
                f"{y['worst_region']} {y['max_abs_share_error_pp']:.1f}",
                f"{y['max_abs_price_log10']:.2f}",
            )
        out.print(t)
        _print_reference_fit(rep["reference_year"])
        tol = rep["tolerances"]
        out.print(
            f"tolerances: China's share within {tol['china_share_mean_pp']} pp on average and {tol['china_share_max_pp']} pp every year; "
            f"prices within a factor 10^{tol['price_log10']}. passed: {rep['passed']}. "
            f"Median |log10 price ratio| {rep['summary']['median_abs_price_log10']:.3f}. "
            f"Stored report {'matches' if cal.matches(stored, rep) else 'differs (run with --write after a deliberate change)'}."
        )
    if write:
        path = cal.write(rep)
        out.print(f"wrote {path}")


def compare_runs(
    run_a: Path = typer.Argument(..., help="Result folder of the scenario (reesim run --out)."),
    run_b: Path = typer.Argument(..., help="Result folder of the counterfactual."),
    out_dir: Path = typer.Option(None, "--out", "-o", help="Write the impact tables here."),
    fmt: str = typer.Option(
        "parquet",
        "--format",
        "-f",
        help="Table formats for --out, comma-separated: parquet (always written), csv, xlsx (one workbook).",
    ),
) -> None:
    """Compare two result folders: impacts of RUN_A against RUN_B, on the periods both cover."""
    from reesim.atomic import atomic_folder
    from reesim.impacts.compare import compare, impact_headline
    from reesim.simulate.export import check_formats_available, parse_formats, write_tables
    from reesim.simulate.headline import headline
    from reesim.simulate.result import common_periods, read_result, restrict

    formats = parse_formats(fmt)
    check_formats_available(formats)
    if out_dir is not None:
        check_out_folder(out_dir)  # refuse before comparing
    a, b = read_result(run_a), read_result(run_b)
    periods = common_periods(a, b, str(run_a), str(run_b))
    pa, pb = sorted(a.prices["period"].unique()), sorted(b.prices["period"].unique())
    if pa != periods or pb != periods:
        out.print(
            f"Compared on the {len(periods)} periods both runs cover, {periods[0]} to {periods[-1]} "
            f"({run_a}: {pa[0]} to {pa[-1]}; {run_b}: {pb[0]} to {pb[-1]})."
        )
        a, b = restrict(a, periods), restrict(b, periods)
    print_headline(headline(a, b), a.scenario_name, b.scenario_name)
    im = compare(a, b)
    ih = impact_headline(im)
    ih["periods_compared"] = {"first": periods[0], "last": periods[-1], "count": len(periods)}
    print_impacts(ih)
    if out_dir is not None:
        with atomic_folder(out_dir) as tmp:
            write_tables(tmp, impact_tables(im, a), formats)
            (tmp / "impacts.json").write_text(json.dumps(ih, indent=2, default=str))
        out.print(f"wrote {out_dir}")


def report_cmd(
    run_dir: Path = typer.Argument(..., help="Result folder written by reesim run --out."),
    out_path: Path = typer.Option(
        None, "--out", "-o", help="HTML file to write (default RUN_DIR/report.html)."
    ),
    element: str = typer.Option("Nd", "--element", "-e", help="Element for the Sankey of flows."),
) -> None:
    """Write the self-contained HTML report of a run (works offline)."""
    from reesim.reports import write_report

    out.print(f"report: {write_report(run_dir, out_path, element=element)}")
