"""``reesim backtest EPISODE``: run a shipped or user episode and print its score table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from reesim.atomic import check_out_folder
from reesim.cli.text import echo, out


def print_scores(doc: dict) -> None:
    """The compact score table and the generated reading."""
    from reesim.backtest.output import fmt

    t = Table(title=f"Backtest {doc['episode']}: {doc['title']} ({doc['status']})", header_style="bold")
    for col in (
        "series",
        "× obs",
        "× sim",
        "× no shock",
        "dir obs/sim",
        "timing, mo",
        "log-RMSE",
        "verdict",
    ):
        t.add_column(col, justify="left" if col in ("series", "dir obs/sim", "verdict") else "right")
    for s in doc["scores"]:
        t.add_row(
            s["series"] + (" (trough)" if s.get("extreme") == "trough" else ""),
            fmt(s.get("peak_multiple_observed")),
            fmt(s.get("peak_multiple_simulated")),
            fmt(s.get("peak_multiple_counterfactual")),
            f"{s.get('direction_observed', 'n/a')}/{s.get('direction_simulated', 'n/a')}",
            fmt(s.get("peak_timing_error_months"), 1),
            fmt(s.get("log_rmse")),
            s.get("verdict", ""),
        )
    out.print(t)
    out.print(
        "  × = peak (trough for a fall) after the pre-episode date / pre-episode level", soft_wrap=False
    )
    out.print(doc["summary"]["reading"], soft_wrap=False)
    k = doc["knowledge"]
    out.print(
        f"  knowledge: as of {k['as_of']}, world calibrated to {k['reference_year']}; "
        f"{len(k['exceptions'])} named exception(s); judgement parameters: {len(doc['judgement'])} "
        "(listed in backtest.json and the report)"
    )


def backtest_cmd(
    episode: str = typer.Argument(..., help="Episode: a shipped name (2010, 2025) or a YAML file."),
    out_dir: Path = typer.Option(
        None, "--out", "-o", help="Write backtest.json, paths.parquet and report.html here."
    ),
    markdown: bool = typer.Option(
        False, "--markdown", help="Also print the score table as Markdown (as in the README)."
    ),
) -> None:
    """Backtest an episode: calibrate on what was known at the cut-off, simulate, score against observations."""
    from reesim.backtest.episode import load_episode
    from reesim.backtest.output import document, write_backtest
    from reesim.backtest.run import run_backtest

    ep = load_episode(episode)
    if out_dir is not None:
        check_out_folder(out_dir)
    with out.status(f"backtest {ep.name}: calibrating as of {ep.knowledge.as_of} and simulating"):
        r = run_backtest(ep)
    doc = document(r, episode)
    print_scores(doc)
    if markdown:
        from reesim.backtest.output import markdown_table

        echo(markdown_table(doc))
    if out_dir is not None:
        from reesim.reports.backtest import render_backtest

        write_backtest(out_dir, r, episode, render=render_backtest)
        out.print(f"wrote {out_dir} (backtest.json, paths.parquet, report.html)")
