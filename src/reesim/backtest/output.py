"""A backtest's outputs: backtest.json, paths.parquet and the HTML report section (generated, never typed)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from reesim.atomic import atomic_folder
from reesim.backtest.run import BacktestResult

SCORE_COLUMNS = (
    "series",
    "unit",
    "points",
    "pre_observed",
    "pre_simulated",
    "extreme",
    "peak_multiple_observed",
    "peak_multiple_simulated",
    "peak_multiple_counterfactual",
    "peak_observed",
    "peak_simulated",
    "peak_timing_error_months",
    "direction_observed",
    "direction_simulated",
    "log_rmse",
    "log_rmse_change",
    "verdict",
    "sources",
    "note",
)


def fmt(v, digits: int = 2) -> str:
    """A score for display: thousands separators, ``—`` for a missing or non-finite value.

    A float is first cut to 10 significant digits, so that a value on a rounding boundary
    (Myanmar's trough is 1 - 0.185 = 0.815 by construction) prints the same whichever solver's
    last digits it carries (0.81499999999997 and 0.8150000000000006 both print 0.81).
    """
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{float(f'{v:.10g}'):,.{digits}f}" if isinstance(v, float) else str(v)


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def summary(r: BacktestResult) -> dict:
    """Counts of verdicts and a generated one-paragraph reading."""
    s = r.scores
    counts = s["verdict"].value_counts().to_dict() if len(s) else {}
    if r.status != "run":
        text = (
            f"Backtest {r.episode.name} could not be run: {r.reason}. The observed series below show what a model "
            "would have to reproduce; the data that would be needed: "
            + ("; ".join(r.episode.missing_data) or "see the reason")
            + "."
        )
        return {"verdicts": counts, "reading": text}
    scored = s[s["verdict"].isin(["hit", "partial", "miss"])]
    parts = [
        f"Of {len(s)} series, {len(scored)} are scored (a pre-episode observation and one after it): "
        f"{counts.get('hit', 0)} hit, {counts.get('partial', 0)} partial, {counts.get('miss', 0)} miss; "
        f"{counts.get('no score', 0)} are compared in levels only (no observation before the episode, or a "
        "simulated value of zero)"
        + (
            f"; {counts['input']} {'is an input' if counts['input'] == 1 else 'are inputs'} ("
            + ", ".join(s.loc[s["verdict"] == "input", "series"])
            + "): sizing an event of the episode, shown, not scored"
            if counts.get("input")
            else ""
        )
        + "."
    ]
    miss = scored[scored["verdict"] == "miss"]
    if len(miss):
        parts.append(
            "The model misses: "
            + "; ".join(
                f"{m.series} (observed x{m.peak_multiple_observed:.2f}, {m.direction_observed}; "
                f"simulated x{m.peak_multiple_simulated:.2f}, {m.direction_simulated})"
                for m in miss.itertuples()
            )
            + "."
        )
    hit = scored[scored["verdict"] == "hit"]
    if len(hit):
        parts.append("It gets right: " + "; ".join(h.series for h in hit.itertuples()) + ".")
    lv = s.loc[s["verdict"] != "input", "log_rmse"].dropna()
    if len(lv):
        parts.append(
            f"Median level error exp(log-RMSE) = x{math.exp(float(lv.median())):.2f} "
            f"(worst: {s.loc[lv.idxmax(), 'series']}, x{math.exp(float(lv.max())):.2f})."
        )
    return {"verdicts": counts, "reading": " ".join(parts)}


def document(r: BacktestResult, ref: str | None = None) -> dict:
    """backtest.json as plain data (``ref``: how the episode was named on the command line)."""
    from reesim.cache import identity

    ep = r.episode
    scores = [
        {k: _clean(row.get(k)) for k in SCORE_COLUMNS if k in row}
        for row in r.scores.to_dict(orient="records")
    ]
    return {
        "episode": ep.name,
        "title": ep.title,
        "status": r.status,
        "reason": r.reason,
        **identity(),
        "knowledge": {
            "as_of": ep.knowledge.as_of.isoformat(),
            "reference_year": ep.knowledge.reference_year,
            "exceptions": [e.model_dump(mode="json") for e in ep.knowledge.exceptions],
            "audit": r.audit,
        },
        "pre_episode": ep.pre_episode.isoformat(),
        "shocks": ep.shocks,
        "judgement": [j.model_dump(mode="json") for j in ep.judgement],
        "missing_data": ep.missing_data,
        "scores": scores,
        "summary": summary(r),
        "regenerate": f"reesim backtest {ref or ep.name} --out DIR",
    }


def write_backtest(
    directory: Path,
    r: BacktestResult,
    ref: str | None = None,
    render: Callable[[dict, pd.DataFrame], str] | None = None,
) -> Path:
    """Write backtest.json, paths.parquet and (with ``render``, e.g.
    :func:`reesim.reports.backtest.render_backtest`) report.html into a new folder, atomically.

    The report's renderer is passed in rather than imported, so that this module (results)
    does not depend on the reports that read it.
    """
    doc = document(r, ref)
    with atomic_folder(directory) as tmp:
        (tmp / "backtest.json").write_text(json.dumps(doc, indent=2, default=str))
        paths = r.paths.copy()
        for c in ("start", "end"):
            if c in paths:
                paths[c] = pd.to_datetime(paths[c])
        paths.to_parquet(tmp / "paths.parquet", index=False)
        if render is not None:
            (tmp / "report.html").write_text(render(doc, r.paths), encoding="utf-8")
    return Path(directory)


def markdown_table(doc: dict) -> str:
    """The score table as Markdown (the README's table is this output)."""

    lines = [
        "| series | extreme × observed | extreme × simulated | × without shocks | direction obs / sim | log-RMSE | verdict |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for s in doc["scores"]:
        ex = " (trough)" if s.get("extreme") == "trough" else ""
        lines.append(
            f"| {s['series']}{ex} | {fmt(s.get('peak_multiple_observed'))} | {fmt(s.get('peak_multiple_simulated'))} | "
            f"{fmt(s.get('peak_multiple_counterfactual'))} | {s.get('direction_observed', 'n/a')} / "
            f"{s.get('direction_simulated', 'n/a')} | {fmt(s.get('log_rmse'))} | {s.get('verdict')} |"
        )
    return "\n".join(lines)
