"""``reesim ensemble``: a scenario over its stated assumption ranges, with bands."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from reesim.cli.text import out
from reesim.errors import InputError

#: the bands printed at the end (metric, item, markets)
SHOWN = (
    ("price_ratio", "oxide:Dy", ("Europe", "inside China")),
    ("price_ratio", "oxide:Tb", ("Europe",)),
    ("price_ratio", "oxide:Nd", ("outside China",)),
    ("price_ratio", "magnet:ndfeb", ("outside China",)),
)


def ensemble_cmd(
    scenario: str = typer.Argument(
        ..., help="Scenario YAML file or shipped name (e.g. china-2025-licensing)."
    ),
    n: int = typer.Option(
        32,
        "-n",
        help="Number of members (each runs the scenario and its counterfactual); with --sample saltelli "
        "the number of base points, and the members are n x (parameters + 2).",
    ),
    sample: str = typer.Option(
        "lhs",
        "--sample",
        help="Sampling of the unit hypercube: lhs, sobol or random; saltelli adds Sobol' sensitivity "
        "indices (first order and total, sobol.parquet).",
    ),
    vary: list[str] = typer.Option(
        None,
        "--vary",
        help="NAME=DIST, repeatable: uniform(lo, hi), triangular(lo, mode, hi), normal(mean, sd), "
        "lognormal(median, sigma), discrete(v1, v2, ...) or a number (fixed). NAME is a world "
        "assumption (demand_elasticity_oxide) or dynamics.<field>[.<stage>].",
    ),
    only_listed: bool = typer.Option(
        False, "--only-vary", help="Vary only the --vary parameters (default: every stated range as well)."
    ),
    seed: int = typer.Option(None, "--seed", help="Seed of the design (default: the scenario's seed)."),
    member: list[int] = typer.Option(
        None, "--member", help="Run only these members of the same design (repeatable): a re-run of member k."
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        "-w",
        help="Dask worker processes on this machine (1: in process; default: every core from 16 members "
        "on, else 1).",
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Address of a TLS Dask scheduler (tls://host:8786) instead of local workers (tcp:// only with REESIM_INSECURE_SCHEDULER=1).",
    ),
    against: str = typer.Option(
        None, "--against", help="Counterfactual scenario (default: the scenario's, else baseline)."
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for the design, member tables and bands."),
    report: bool = typer.Option(
        False, "--report", help="Also write report.html (fan charts, drivers) into --out."
    ),
) -> None:
    """Run a scenario over the ranges of its assumptions: quantile bands and exceedance shares."""
    from reesim.atomic import check_out_folder
    from reesim.cli.run import progress_bar
    from reesim.ensemble.design import METHODS, design_size
    from reesim.ensemble.runner import run_ensemble
    from reesim.ensemble.space import scenario_space
    from reesim.scenario.load import load_scenario

    if sample not in METHODS:
        raise InputError(f"--sample: {sample!r} is not a sampling method; allowed: {', '.join(METHODS)}")
    if n < 1 or n > 100_000:
        raise InputError(f"-n: {n} members; allowed: 1 to 100000")
    if workers is not None and workers < 1:
        raise InputError(f"--workers: {workers}; allowed: 1 or more")
    if seed is not None and not 0 <= seed < 2**63:
        raise InputError(f"--seed: {seed}; allowed: a whole number from 0 to 2**63 - 1")
    sc = load_scenario(scenario)
    if against is not None or sc.counterfactual:
        from reesim.scenario.checks import check_counterfactual

        field = "--against" if against is not None else "counterfactual"
        check_counterfactual(load_scenario(against or sc.counterfactual), field)  # before any member runs
    space = scenario_space(sc, list(vary or []), only_listed)
    if not space:
        raise InputError(
            "--only-vary: no --vary given and the scenario states no uncertainty, so nothing varies; "
            "add --vary NAME=DIST"
        )
    size = design_size(n, sample, len(space))
    if sample == "saltelli" and n < 4:
        raise InputError(
            f"-n: {n} base points; allowed with --sample saltelli: 4 or more (64 or more for usable indices)"
        )
    if size > 100_000:
        raise InputError(f"-n: {n} gives {size} members; allowed: at most 100000")
    bad = [m for m in member or [] if not 0 <= m < size]
    if bad:
        raise InputError(
            f"--member: {bad[0]} is not a member of a design of {size}; allowed: 0 to {size - 1}"
        )
    check_out_folder(out_dir)
    total = len(member) if member else size
    from reesim.pool import default_workers, freeze_held

    if workers is None:
        workers = 1 if scheduler else default_workers(total)
    failed = []
    with progress_bar() as bar:
        task = bar.add_task(f"ensemble of {sc.name}: {len(space)} parameters", total=total)
        frozen: list[bool] = []
        held = gc.get_freeze_count()  # frozen by the caller (the console script freezes its imports)
        in_process = workers == 1 and not scheduler  # members run here (on a pool: in its workers)

        def step(k: int, error: str | None) -> None:
            if error:
                failed.append((k, error))
            if not frozen and in_process:
                # the first member is done: as a pool worker does, the rest run with what this
                # process holds frozen (reesim.pool.freeze_held), until the ensemble ends
                frozen.append(True)
                freeze_held()
            bar.advance(task)

        try:
            s = run_ensemble(
                sc,
                space,
                n,
                out_dir,
                method=sample,
                seed=seed,
                against=against,
                workers=workers,
                scheduler=scheduler,
                only=member or None,
                progress=step,
            )
        finally:
            if frozen:  # the caller's collector as it was (a command run from Python: the tests)
                gc.unfreeze()
                if held:  # the console script had frozen its imports: frozen again
                    gc.freeze()
    where = "on the scheduler" if scheduler else f"on {workers} workers" if workers > 1 else "in process"
    out.print(
        f"{s.members} members ({s.method}, seed {s.seed}, {len(space)} parameters varied, {where}): "
        f"{s.ok} ok, {s.failed} failed."
    )
    from reesim.cache import OTHER_BUILDS_DIFFER, runtime, runtime_id

    others = set(s.runtimes) - {runtime_id(runtime())}
    if others:
        out.print(
            f"  {len(others)} of the {len(s.runtimes)} builds that ran members are not this machine's "
            "(design.parquet's runtime column, summary.json's member_runtimes): their members' figures "
            f"may differ from this machine's {OTHER_BUILDS_DIFFER}"
        )
    for k, error in sorted(failed)[:5]:
        out.print(f"  member {k} failed: {error[:200]}")
    if not s.ok:
        from reesim.errors import ModelFailure

        raise ModelFailure(
            f"no member of the ensemble succeeded; {out_dir}/design.parquet holds each member's inputs and error"
        )
    _print_bands(out_dir)
    if report:
        from reesim.reports.ensemble import write_ensemble_report

        out.print(f"report: {write_ensemble_report(out_dir)}")
    out.print(
        f"wrote {out_dir} (design.parquet, members/, bands.parquet, exceedance.parquet, sensitivity.parquet, "
        + ("sobol.parquet, " if (out_dir / "sobol.parquet").is_file() else "")
        + "space.json, summary.json)"
    )


def _chance(members: int) -> str:
    """How large a rank correlation over ``members`` members must be to stand out from chance
    (:func:`reesim.ensemble.runner.chance_band`); below 10 members, where its approximation does
    not hold, no driver is claimed."""
    from reesim.ensemble.runner import chance_band

    if members < 10:
        return f"with {members} members no correlation can be told from chance: run more members"
    return (
        f"|rho| above {chance_band(members):.2f} is unlikely by chance with {members} members, two-sided 5 %"
    )


def _dy_europe(table: pd.DataFrame, year: int) -> pd.DataFrame:
    """The rows of a driver table (sensitivity or sobol) for Dy oxide's price ratio in Europe in ``year``."""
    return table[
        (table["metric"] == "price_ratio")
        & (table["item"] == "oxide:Dy")
        & (table["where"] == "Europe")
        & (table["year"] == year)
    ]


def _print_bands(folder: Path) -> None:
    bands = pd.read_parquet(folder / "bands.parquet")
    ex = pd.read_parquet(folder / "exceedance.parquet")
    t = Table(
        title="Scenario over counterfactual, yearly mean: median [p5-p95] and P(ratio > 2)",
        header_style="bold",
    )
    for col in ("figure", "market", "year", "median", "p5-p95", "P(>2)"):
        t.add_column(col, justify="left" if col in ("figure", "market") else "right")
    years = sorted(int(y) for y in bands["year"].dropna().unique())
    shown_years = set(years[:3]) | {y for y in years if y % 5 == 0} | set(years[-1:])
    for metric, item, markets in SHOWN:
        b = bands[
            (bands["metric"] == metric)
            & (bands["item"] == item)
            & bands["where"].isin(markets)
            & bands["year"].isin(shown_years)
        ]
        for r in b.sort_values(["where", "year"]).itertuples(index=False):
            e = ex[(ex["item"] == item) & (ex["where"] == r.where) & (ex["year"] == r.year)]
            t.add_row(
                item,
                r.where,
                str(r.year),
                f"{r.p50:.2f}",
                f"{r.p5:.2f}-{r.p95:.2f}",
                f"{e['p_above_2'].iloc[0]:.0%}" if len(e) else "",
            )
    if t.row_count:
        out.print(t)
        out.print(f"  (years {', '.join(map(str, sorted(shown_years)))}; every year in bands.parquet)")
    sens = folder / "sensitivity.parquet"
    if sens.is_file() and len(years) > 1:
        year = years[1]
        s = _dy_europe(pd.read_parquet(sens), year)
        top = s.reindex(s["spearman"].abs().sort_values(ascending=False).index).head(4)
        if len(top):
            drivers = ", ".join(f"{r.parameter} {r.spearman:+.2f}" for r in top.itertuples(index=False))
            m = int(top["n"].iloc[0])
            out.print(
                f"What drives Dy in Europe over the counterfactual in {year} (Spearman rank correlation, "
                f"{m} members): {drivers} (sensitivity.parquet; {_chance(m)})."
            )
    sob = folder / "sobol.parquet"
    if sob.is_file() and len(years) > 1:
        year = years[1]
        s = _dy_europe(pd.read_parquet(sob), year).sort_values("st", ascending=False)
        if len(s):
            top = ", ".join(
                f"{r.parameter} {r.st:.2f} [{r.st_low:.2f}-{r.st_high:.2f}]"
                for r in s.head(4).itertuples(index=False)
            )
            out.print(
                f"Sobol' total indices of Dy in Europe over the counterfactual in {year} ({int(s['n_base'].iloc[0])} "
                f"base points; share of its variance each explains with its interactions, 95 % interval): {top}; "
                f"first-order indices sum to {s['s1'].sum():.2f} (sobol.parquet)."
            )
