"""The HTML report of a backtest: reading, score table, observed vs simulated paths, knowledge and judgement.

Self-contained like the other reports; every figure comes from ``backtest.json`` and the
paths table. Nothing is hidden: every series of the episode is drawn, scored or not.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reesim.backtest.episode import MODEL_UNITS
from reesim.backtest.output import fmt
from reesim.reports.html import Page, esc, html_document, table_html


def paths_figure(
    paths: pd.DataFrame, labels: list[str], index: dict[str, tuple[float, float]] | None = None
) -> go.Figure:
    """One panel per series: observed points (with their period), simulated and counterfactual paths.

    A series in ``index`` (label -> pre-episode observed and simulated levels) is drawn as an
    index, each path over its own pre-episode level: observed in yuan and simulated in dollars
    share no axis (no exchange rates in the dataset). One without a pre-episode point says in
    its title which unit each path is in (the paths' ``unit`` column).
    """
    index = index or {}
    cols = 3
    rows = max(1, math.ceil(len(labels) / cols))
    obs = paths[paths["path"] == "observed"]
    unit = obs.groupby("label")["unit"].first() if "unit" in obs else pd.Series(dtype=object)

    def title(x: str) -> str:
        if x in index:
            return f"{x} (pre-episode = 1)"
        if unit.get(x, "USD/kg") not in MODEL_UNITS:
            return f"{x} (observed {unit[x]}, simulated USD/kg)"
        return x

    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[title(x) for x in labels],
        vertical_spacing=0.08 / max(1, rows / 4),
    )
    for k, label in enumerate(labels):
        r, c = k // cols + 1, k % cols + 1
        g = paths[paths["label"] == label]
        base_obs, base_sim = index.get(label, (1.0, 1.0))
        for name, color, dash in (("simulated", "#b5332e", "solid"), ("counterfactual", "#888", "dot")):
            s = g[g["path"] == name].sort_values("start")
            if len(s):
                fig.add_trace(
                    go.Scatter(
                        x=pd.to_datetime(s["start"]),
                        y=s["value"] / base_sim,
                        mode="lines",
                        line={"color": color, "dash": dash, "width": 1.6},
                        name=name,
                        legendgroup=name,
                        showlegend=k == 0,
                    ),
                    row=r,
                    col=c,
                )
        o = g[g["path"] == "observed"]
        if len(o):
            start, end = pd.to_datetime(o["start"]), pd.to_datetime(o["end"])
            mid = start + (end - start) / 2
            fig.add_trace(
                go.Scatter(
                    x=mid,
                    y=o["value"] / base_obs,
                    mode="markers",
                    marker={"color": "#1f5f8b", "size": 8},
                    error_x={
                        "type": "data",
                        "array": (end - mid).dt.days * 86400000,
                        "visible": True,
                        "thickness": 1,
                    },
                    name="observed (bar: period)",
                    legendgroup="observed",
                    showlegend=k == 0,
                    customdata=o[["period", "source_id"]].to_numpy(),
                    hovertemplate="%{customdata[0]}: %{y:,.2f}<br>%{customdata[1]}<extra></extra>",
                ),
                row=r,
                col=c,
            )
    fig.update_layout(
        height=260 * rows + 60, template="plotly_white", legend={"orientation": "h", "y": 1.02 + 0.02 * rows}
    )
    fig.update_annotations(font_size=12)
    return fig


def _indexed(doc: dict) -> dict[str, tuple[float, float]]:
    """Series observed in a unit the model does not use, with their pre-episode levels."""
    out = {}
    for s in doc["scores"]:
        o, m = s.get("pre_observed"), s.get("pre_simulated")
        if s.get("unit") not in MODEL_UNITS and o and m and math.isfinite(o) and math.isfinite(m):
            out[s["series"]] = (float(o), float(m))
    return out


def _pre_simulated(score: dict) -> str:
    """The model's pre-episode level, with its unit where the series is observed in another
    (a yuan quote's simulated level is the model's price, USD/kg)."""
    text = fmt(score.get("pre_simulated"))
    return f"{text} USD/kg" if score.get("unit") not in MODEL_UNITS and text != "—" else text


def render_backtest(doc: dict, paths: pd.DataFrame) -> str:
    """The backtest report as one HTML document."""

    page = Page()
    parts = [
        f'<section id="reading"><h2>Reading</h2><p>{esc(doc["summary"]["reading"])}</p>'
        f'<p class="note">Regenerate: <code>{esc(doc["regenerate"])}</code>. Status: {esc(doc["status"])}'
        + (f" — {esc(doc['reason'])}" if doc.get("reason") else "")
        + "</p></section>"
    ]
    heads = [
        "series",
        "unit",
        "pre obs",
        "pre sim",
        "extreme",
        "× obs",
        "× sim",
        "× no shock",
        "extreme obs",
        "timing error, months",
        "direction obs / sim",
        "log-RMSE",
        "log-RMSE of changes",
        "verdict",
    ]
    rows = []
    for s in doc["scores"]:
        rows.append(
            [
                s["series"],
                s.get("unit", ""),
                fmt(s.get("pre_observed")),
                _pre_simulated(s),
                s.get("extreme") or "—",
                fmt(s.get("peak_multiple_observed")),
                fmt(s.get("peak_multiple_simulated")),
                fmt(s.get("peak_multiple_counterfactual")),
                fmt(s.get("peak_observed")),
                fmt(s.get("peak_timing_error_months"), 1),
                f"{s.get('direction_observed', 'n/a')} / {s.get('direction_simulated', 'n/a')}",
                fmt(s.get("log_rmse")),
                fmt(s.get("log_rmse_change")),
                s.get("verdict", ""),
            ]
        )
    body = table_html(
        heads,
        rows,
        "Scores generated by reesim.backtest.scores: × = the extreme after the pre-episode date (the peak of a rise, "
        f"the trough of a fall) / the pre-episode level (pre-episode date {esc(doc['pre_episode'])}); 'no shock' = the counterfactual without "
        "the episode's shocks; log-RMSE over all observed points (levels) and over changes from the pre-episode "
        "level; verdict hit = same direction and peak multiple within ×1.5, partial = same direction, miss = otherwise; input = the series sizes an event of the episode and is not scored. "
        "A series observed in another currency than the model's (CNY/t) has its pre-episode levels in both units and no level error.",
        numeric=(2, 3, 5, 6, 7, 9, 11, 12),
    )
    src = table_html(
        ["series", "sources", "note"],
        [[s["series"], s.get("sources", ""), s.get("note", "")] for s in doc["scores"]],
        "Observed series come only from the embedded dataset (reesim data cite prices source_id=… gives the citation).",
    )
    parts.append(f'<section id="scores"><h2>Scores</h2>{body}{src}</section>')
    labels = [s["series"] for s in doc["scores"]]
    if len(paths):
        parts.append(
            '<section id="paths"><h2>Observed and simulated paths</h2>'
            + page.figure(
                paths_figure(paths, labels, _indexed(doc)),
                "Blue: observed (the bar spans the period an observation covers, e.g. an annual average); red: "
                "simulated with the episode's policies; grey dotted: the counterfactual without the shocks.",
            )
            + "</section>"
        )
    k = doc["knowledge"]
    exc = table_html(
        ["table", "filters", "justification"],
        [[e["table"], str(e["filters"]), e["justification"]] for e in k["exceptions"]],
        "Named exceptions: rows the calibration reads although no source in the dataset published them before the cut-off.",
    )
    audit = k["audit"]
    aud = table_html(
        ["table", "rows read", "latest observation", "sources"],
        [
            [t, v["rows_read"], v.get("latest_observed") or "", ", ".join(v["sources"])]
            for t, v in audit.get("tables", {}).items()
        ],
        f"Knowledge audit: every row the calibration read from the vintage view as of {esc(k['as_of'])}. Rows beyond "
        "the cut-off (must all be named exceptions): "
        + (
            esc(
                "; ".join(
                    f"{b['table']} {b['source_id']} ({b['vintage']})"
                    for b in audit.get("rows_beyond_cutoff", [])
                )
            )
            or "none"
        )
        + ".",
    )
    jud = table_html(
        ["parameter", "value", "justification"],
        [[j["parameter"], str(j["value"]), j["justification"]] for j in doc["judgement"]],
        "Parameters chosen by judgement (none tuned to the episode's post-cut-off observations).",
    )
    missing = (
        "<p>Data that would improve this backtest: " + esc("; ".join(doc["missing_data"])) + ".</p>"
        if doc.get("missing_data")
        else ""
    )
    parts.append(
        f'<section id="knowledge"><h2>What the calibration knew</h2><p>Cut-off {esc(k["as_of"])}; world '
        f"calibrated to {k['reference_year']}.</p>{exc}{aud}{jud}{missing}</section>"
    )
    title = f"reesim backtest {doc['episode']}: {doc['title']}"
    nav = (("reading", "Reading"), ("scores", "Scores"), ("paths", "Paths"), ("knowledge", "Knowledge"))
    footer = f"reesim {esc(doc.get('code_version', ''))} · dataset {esc(doc.get('dataset_version', ''))}. Works offline."
    return html_document(title, esc(title), nav, parts, page, footer)
