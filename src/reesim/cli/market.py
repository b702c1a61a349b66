"""``reesim solve`` (one market year) and ``reesim world describe`` (the default world's calibration)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from reesim import __version__
from reesim.atomic import atomic_folder, check_out_folder
from reesim.cli.data import _fmt
from reesim.cli.text import out
from reesim.errors import InputError


class SolverName(StrEnum):
    """QP back ends."""

    piqp = "piqp"
    clarabel = "clarabel"


def load_any_world(world: str, year: int | None):
    """``default`` for the calibrated default world, otherwise a world-file path."""
    if world == "default":
        from reesim.world.default import load_default_world

        return load_default_world(year)
    from reesim.world.worldfile import load_world

    return load_world(world, year)


def write_solution(solution, world, directory: Path) -> None:
    """Write the solution's tables (Parquet) and summary.json into ``directory`` atomically.

    Everything is written to a temporary sibling folder first and renamed at the end, so a
    failure leaves no half-written directory.
    """
    from reesim.cache import runtime

    with atomic_folder(directory) as tmp:
        for name in ("prices", "production", "outputs", "trade", "consumption", "quota_rents"):
            getattr(solution, name).to_parquet(tmp / f"{name}.parquet", index=False)
        if len(world.provenance):
            world.provenance.to_parquet(tmp / "provenance.parquet", index=False)
        summary = {
            "world": world.name,
            "quantity_unit": world.quantity_unit,
            "price_unit": "USD/kg",
            "solver": solution.solver,
            "iterations": solution.iterations,
            "wedge_iterations": solution.wedge_iterations,
            "guard_worst_residual": solution.guards.worst if solution.guards else None,
            "sizes": solution.sizes,
            "code_version": __version__,
            "runtime": list(runtime()),  # the builds this CPU selects (reesim.cache.instruction_sets)
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))


def solve(
    world: str = typer.Argument(
        ..., help="A world file (YAML) or 'default' for the calibrated default world."
    ),
    year: int = typer.Option(
        None, "--year", "-y", help="Year: policies in force (world file) or reference year (default world)."
    ),
    out_dir: Path = typer.Option(
        None, "--out", "-o", help="Write Parquet tables and summary.json to this new folder."
    ),
    solver: SolverName = typer.Option(
        SolverName.piqp, "--solver", help="QP solver (clarabel is the reference)."
    ),
    top: int = typer.Option(15, "--top", min=1, help="Rows of trade to show."),
) -> None:
    """Solve one market year and print prices, quantities and trade."""
    from reesim.solve.equilibrium import solve_equilibrium

    if out_dir is not None:
        check_out_folder(out_dir)  # refuse before solving

    w = load_any_world(world, year)
    from reesim.errors import ModelFailure
    from reesim.solve.equilibrium import SOLVE_FAILURES

    try:
        s = solve_equilibrium(w, backend=str(solver))
    except SOLVE_FAILURES as exc:
        raise ModelFailure(f"{world}: {exc}") from None
    unit = w.quantity_unit
    prices = s.prices
    prices = prices[prices["determined"]]
    pivot = prices.pivot(index="commodity", columns="region", values="usd_per_kg")
    t = Table(title=f"Prices, USD/kg — {w.name}", header_style="bold")
    t.add_column("commodity", no_wrap=True)
    if len(pivot.columns) <= 8:
        for r in pivot.columns:
            t.add_column(r, justify="right")
        for com, row in pivot.iterrows():
            t.add_row(str(com), *(_fmt(round(v, 3)) if pd.notna(v) else "" for v in row))
    else:  # many regions: China against the rest
        inside = "CHN" if "CHN" in pivot.columns else pivot.columns[0]
        for col in (inside, "min elsewhere", "max elsewhere", "markets"):
            t.add_column(col, justify="right")
        for com, row in pivot.iterrows():
            rest = row.drop(inside).dropna()
            t.add_row(
                str(com),
                _fmt(round(row[inside], 3)) if pd.notna(row[inside]) else "",
                _fmt(round(rest.min(), 3)) if len(rest) else "",
                _fmt(round(rest.max(), 3)) if len(rest) else "",
                str(int(row.notna().sum())),
            )
    out.print(t)

    prod = s.production
    prod = prod[prod["kind"] != "capacity"]  # shared-capacity services repeat their stage's activity
    by = prod.groupby(["kind", "region"])["activity"].sum().unstack("region").fillna(0.0)
    t2 = Table(title=f"Activity by process kind and region, {unit}/yr", header_style="bold")
    t2.add_column("kind")
    for r in by.columns:
        t2.add_column(r, justify="right")
    for kind, row in by.iterrows():
        t2.add_row(kind, *(_fmt(round(v, 3)) if v else "" for v in row))
    out.print(t2)

    trade = s.trade.sort_values("flow", ascending=False).head(top)
    t3 = Table(title=f"Largest trade flows, {unit}/yr", header_style="bold")
    for col in ("commodity", "from", "to", "flow", "transport", "wedge"):
        t3.add_column(col, justify="right" if col in ("flow", "transport", "wedge") else "left")
    for r in trade.itertuples(index=False):
        t3.add_row(
            r.commodity,
            r.origin,
            r.dest,
            _fmt(round(r.flow, 4)),
            _fmt(r.transport_usd_per_kg),
            _fmt(round(r.wedge_usd_per_kg, 4)),
        )
    out.print(t3)
    rents = s.quota_rents
    if len(rents):
        out.print(rents.round(4).to_string(index=False))
    out.print(
        f"solver {s.solver}: {s.iterations} iterations, {s.wedge_iterations} wedge iterations; "
        f"equilibrium guards passed (worst scaled residual {s.guards.worst:.1e}); "
        f"{s.sizes['variables_presolved']} variables, {s.sizes['rows']} rows, {s.sizes['nonzeros']} non-zeros"
    )
    if out_dir is not None:
        write_solution(s, w, out_dir)
        out.print(f"wrote {out_dir}")


world_app = typer.Typer(
    help="The default world: its calibration and where each parameter comes from.", no_args_is_help=True
)


@world_app.command()
def describe(
    year: int = typer.Option(None, "--year", "-y", help="Reference year (default: the configured one)."),
    grep: str = typer.Option(
        None, "--grep", "-g", help="Show only parameters whose name contains this text."
    ),
) -> None:
    """Print every calibrated parameter of the default world with its value, unit and source."""
    from reesim.world.default import load_default_world

    w = load_default_world(year)
    prov = w.provenance
    if grep:
        prov = prov[prov["parameter"].str.contains(grep, case=False, regex=False)]
        if prov.empty:
            raise InputError(
                f"no parameter matches '{grep}'; e.g. price_ref, mine_production, demand_share, transport"
            )
    t = Table(title=f"{w.name}: {len(prov)} parameters", header_style="bold", show_lines=False)
    t.add_column("parameter", overflow="fold")
    t.add_column("value", justify="right")
    t.add_column("unit")
    t.add_column("source or assumption", overflow="fold")
    for r in prov.itertuples(index=False):
        t.add_row(str(r.parameter), _fmt(round(r.value, 6)), str(r.unit), str(r.source))
    out.print(t)
    sizes = ", ".join(f"{v} {k}" for k, v in w.sizes.items())
    out.print(f"{sizes}; quantities in {w.quantity_unit}, prices in USD/kg")


@world_app.command()
def buildout(
    held_out_from: int = typer.Option(
        2018,
        "--held-out-from",
        help="Calibrate a lead time on plants started before this year and score it on the rest.",
    ),
) -> None:
    """How fast plants outside China were built, against the model's lead times (build-out record)."""
    from reesim.backtest.buildout import plant_record, score
    from reesim.data import default_dataset

    if not 1990 <= held_out_from <= 2100:
        raise InputError(f"--held-out-from: {held_out_from} is not a year between 1990 and 2100")
    rec = plant_record(default_dataset())
    t = _columns_table(
        f"Build-out record: {len(rec)} plants outside China",
        [
            ("plant", "left"),
            ("stage", "left"),
            ("start", "left"),
            ("first output", "left"),
            ("years", "right"),
            ("model", "right"),
            ("capex", "right"),
        ],
    )
    short = {
        "construction start": "build",
        "final investment decision": "FID",
        "announcement": "announced",
        "first saleable output": "product",
        "first feed": "feed",
    }

    def when(date, basis) -> str:
        return "—" if pd.isna(date) else f"{date} {short.get(basis, basis)}"

    for r in rec.itertuples(index=False):
        if r.lead_years == r.lead_years:
            years = f"{r.lead_years:.1f}" + (
                f"±{r.lead_uncertainty_years:.1f}" if r.lead_uncertainty_years > 0 else ""
            )
        elif r.waiting_years == r.waiting_years:
            years = f"≥{r.waiting_years:.1f}"
        else:
            years = "—"
        t.add_row(
            f"{r.plant_id} ({r.iso3})",
            r.stage,
            when(r.start, r.start_basis),
            when(r.first_output, r.output_basis),
            years,
            f"{r.model_lead_years:.0f}" + (" ban" if r.under_ban else ""),
            f"{r.capex_overrun:.2f}×" if r.capex_overrun == r.capex_overrun else "—",
        )
    out.print(t)
    out.print(
        "  years: start to first output (≥: no output yet when a source said so); model: the investment "
        "rule's lead time (+ the technology ban's, 'ban'); capex: last figure over the first budget, same currency"
    )
    s = score(rec, held_out_from)
    if "all" in s:
        a = s["all"]
        out.print(
            f"Lead time, start to first output, {a.plants} plants: actual minus model {a.bias_model:+.1f} "
            f"years on average (mean absolute error {a.mae_model:.1f})."
        )
    if "test" in s:
        tr, te = s["train"], s["test"]
        out.print(
            f"Held out by start year: calibrated on {tr.plants} plants started before {held_out_from}, "
            f"a lead of {te.calibrated_lead:.1f} years (plus the ban's extra years where it applies); on the "
            f"{te.plants} started from {held_out_from}: mean absolute error {te.mae_calibrated:.1f} years "
            f"(bias {te.bias_calibrated:+.1f}) against the model's {te.mae_model:.1f} (bias {te.bias_model:+.1f})."
        )
    else:
        out.print(f"No held-out score: no plants with both dates on both sides of {held_out_from}.")
    _ban_lines(rec)
    _ramp_table(default_dataset(), held_out_from)
    _capex_table(default_dataset())
    out.print(
        "  rows and sources: reesim data show plant_milestones; reesim data cite plant_milestones plant_id=ID"
    )


def _columns_table(title: str, columns: list[tuple[str, str]]) -> Table:
    """A table with a bold header and the given (name, justify) columns."""
    t = Table(title=title, header_style="bold")
    for name, justify in columns:
        t.add_column(name, justify=justify)
    return t


def _ban_lines(rec: pd.DataFrame) -> None:
    """What the record says of the technology ban's extra lead time (censoring-aware medians)."""
    from reesim.backtest.buildout import BAN_EXTRA_YEARS, ban_comparison

    groups = ban_comparison(rec)

    def said(g) -> str:
        med = "no median yet" if g.median_excess is None else f"median {g.median_excess:+.1f} years"
        return f"{g.events} with output, {g.censored} still waiting: {med}"

    before, after = groups["before"], groups["after"]
    out.print(
        f"Technology ban (lead time less the model's own, Kaplan-Meier median over plants of its stages): "
        f"started before the ban, {said(before)}; after it, {said(after)}."
    )
    if before.median_excess is not None and after.median_excess is not None:
        out.print(
            f"  the record's estimate of the ban's extra lead time: {after.median_excess - before.median_excess:+.1f} "
            f"years on {len(after.plants)} plants started after it ({', '.join(after.plants)}), against the "
            f"+{BAN_EXTRA_YEARS:g} the technology_ban instrument assumes"
        )


def _ramp_table(ds, held_out_from: int) -> None:
    """Output over nameplate after first output (build-out record) against the model's ramp."""
    from reesim.backtest import ramp
    from reesim.scenario.spec import Dynamics

    pts = ramp.ramp_points(ds)
    if pts.empty:
        out.print("No output series after first output in the record: no ramp to score.")
        return
    model = Dynamics().ramp_years["separation"]
    t = _columns_table(
        "Ramp-up: output over nameplate after first output",
        [
            ("plant", "left"),
            ("output period", "left"),
            ("years after first output", "right"),
            ("output, t/yr", "right"),
            ("nameplate, t/yr", "right"),
            ("share", "right"),
            (f"model ({model:g} y ramp)", "right"),
        ],
    )
    for r in pts.itertuples(index=False):
        t.add_row(
            f"{r.plant_id} ({r.iso3})",
            r.period,
            f"{r.years_from:.1f}-{r.years_to:.1f}",
            f"{r.output_rate:,.0f} {r.unit}",
            f"{r.nameplate:,.0f}",
            f"{r.share:.0%}",
            f"{ramp.predicted_share(model, r.years_from, r.years_to):.0%}",
        )
    out.print(t)
    fitted = ramp.fit(pts)
    out.print(
        f"  share: output rate over the nameplate stated by first output; model: the share of nameplate in "
        f"service under Dynamics.ramp_years (separation {model:g} years: the fit on every point, {fitted:g})"
    )
    s = ramp.score(pts, held_out_from)
    if s is None:
        out.print(f"No held-out ramp score: no output series on both sides of {held_out_from}.")
        return
    others = ", ".join(f"{v:.0%} with a {k:g}-year ramp" for k, v in s.mae_other.items())
    out.print(
        f"Held out by first output: a ramp fitted on {', '.join(s.train_plants)} (before {held_out_from}) is "
        f"{s.fitted_years:g} years; on {', '.join(s.test_plants)} its mean absolute error is {s.mae_fitted:.1%} "
        f"of nameplate, against {others}."
    )


def _capex_table(ds) -> None:
    """Capital cost per kg of annual capacity (build-out record) against the investment rule's capex."""
    from reesim.backtest.capex import by_stage, capex_intensity
    from reesim.instruments.projects import CAPITAL_CHARGE_RATE

    rec = capex_intensity(ds)
    t = _columns_table(
        "Capital cost per kg of annual capacity (USD)",
        [
            ("plant", "left"),
            ("stage", "left"),
            ("capex", "left"),
            ("million USD", "right"),
            ("nameplate, t/yr", "right"),
            ("USD per kg/yr", "right"),
        ],
    )
    for r in rec.itertuples():
        kind = {"capex_actual": "as spent", "capex_budget": "budget"}.get(r.capex_kind, "")
        usd = r.usd_per_kg_capacity
        t.add_row(
            f"{r.plant_id} ({r.iso3})",
            r.stage,
            f"{kind} {r.capex_date}" + (f", {r.converted}" if r.converted not in ("", "USD") else ""),
            "—" if r.capex_musd != r.capex_musd else f"{r.capex_musd:,.0f}",
            "—" if r.nameplate_t != r.nameplate_t else f"{r.nameplate_t:,.0f}",
            f"{usd:,.1f}" if usd == usd else f"— {r.why_not}",
        )
    out.print(t)
    for st in by_stage(rec).values():
        out.print(
            f"{st.stage}: {st.plants} plants, {st.low:,.0f}-{st.high:,.0f} USD per kg of annual capacity, median "
            f"{st.median:,.0f}; the investment rule's {st.model_annual:g} USD/kg/yr is {st.model:,.0f} at "
            f"{CAPITAL_CHARGE_RATE:.0%} a year (Dynamics.capex_usd_per_kg_year)"
        )
    out.print(
        "  capex in other currencies at the Federal Reserve's annual average rate of the year it was stated "
        "(exchange_rates); latest figure as spent, else latest budget; nameplate in the stage's own output"
    )
