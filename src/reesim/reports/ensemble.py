"""Figures and the HTML report of an ensemble folder (``reesim ensemble --out DIR``).

* :func:`fan_chart` — a figure's quantile bands over the years (p5-p95 and p25-p75 shaded,
  the median as a line) for one or more markets, from ``bands.parquet``;
* :func:`sensitivity_bars` — which assumptions drive a figure in a year: Spearman's rank
  correlation of each varied parameter with it over the members (``sensitivity.parquet``;
  Saltelli et al. 2004, *Sensitivity Analysis in Practice*, §5.2), strongest first;
* :func:`render_ensemble` / :func:`write_ensemble_report` — a self-contained HTML report (works
  offline): the bands of Dy, Tb, Nd and magnets over the counterfactual, the exceedance shares,
  the drivers of each, and the parameters with their distributions and bases.

The same figure functions serve the dashboard of ``reesim serve``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from reesim.cache import OTHER_BUILDS_DIFFER
from reesim.ensemble.runner import chance_band
from reesim.errors import InputError
from reesim.reports.figures import region_color
from reesim.reports.html import Page, esc, html_document, table_html

#: the ratios the report shows: (item, markets)
SHOWN = (
    ("oxide:Dy", ("Europe", "inside China")),
    ("oxide:Tb", ("Europe", "inside China")),
    ("oxide:Nd", ("outside China", "inside China")),
    ("magnet:ndfeb", ("outside China", "inside China")),
)
METRIC_TEXT = {
    "price_ratio": "price over the counterfactual's (ratio)",
    "price_usd_per_kg": "price, USD/kg",
    "price_cf_usd_per_kg": "counterfactual price, USD/kg",
    "dy_kg_per_t_magnet": "kg of Dy per t of magnet",
    "welfare_pv_usd_million": "welfare change, present value, million USD",
}
_MARKET_COLOR = {
    "inside China": "CHN",
    "outside China": "ROW",
    "Europe": "EU",
    "Japan": "JPN",
    "United States": "USA",
}


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[k : k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def fan_chart(bands: pd.DataFrame, metric: str, item: str, wheres: Sequence[str]) -> go.Figure | None:
    """Bands of ``metric`` of ``item`` over the years, one fan per market in ``wheres``."""
    b = bands[(bands["metric"] == metric) & (bands["item"] == item) & bands["where"].isin(list(wheres))]
    if b.empty:
        return None
    fig = go.Figure()
    for where in wheres:
        d = b[b["where"] == where].sort_values("year")
        if d.empty:
            continue
        color = region_color(_MARKET_COLOR.get(where, where))
        x = d["year"].tolist()
        for lo, hi, alpha, name in (("p5", "p95", 0.15, "p5-p95"), ("p25", "p75", 0.3, "p25-p75")):
            fig.add_trace(
                go.Scatter(
                    x=x + x[::-1],
                    y=d[hi].tolist() + d[lo].tolist()[::-1],
                    fill="toself",
                    fillcolor=_rgba(color, alpha),
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"{where} {name}",
                    legendgroup=where,
                    showlegend=False,
                )
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=d["p50"],
                mode="lines+markers",
                line={"color": color, "width": 2},
                name=f"{where}: median (bands p25-p75, p5-p95)",
                legendgroup=where,
                customdata=d[["p5", "p25", "p75", "p95", "n"]].to_numpy(),
                hovertemplate=(
                    f"{where} %{{x}}: median %{{y:.3g}}<br>p25-p75 %{{customdata[1]:.3g}}-%{{customdata[2]:.3g}}"
                    "<br>p5-p95 %{customdata[0]:.3g}-%{customdata[3]:.3g}<br>%{customdata[4]} members<extra></extra>"
                ),
            )
        )
    if metric == "price_ratio":
        fig.add_hline(y=1, line={"color": "#888", "dash": "dot", "width": 1})
    fig.update_layout(
        title=f"{item}: {METRIC_TEXT.get(metric, metric)}",
        height=380,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.15},
        xaxis={"title": "year", "dtick": 1},
    )
    return fig


def sensitivity_bars(
    sens: pd.DataFrame, metric: str, item: str, where: str, year: int, top: int = 12
) -> go.Figure | None:
    """The parameters most correlated (Spearman) with ``metric`` of ``item`` in ``where`` and ``year``."""
    s = sens[
        (sens["metric"] == metric)
        & (sens["item"] == item)
        & (sens["where"] == where)
        & (sens["year"] == year)
    ].dropna(subset=["spearman"])
    if s.empty:
        return None
    s = s.reindex(s["spearman"].abs().sort_values(ascending=False).index).head(top).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=s["spearman"],
            y=s["parameter"],
            orientation="h",
            marker={"color": ["#2b6cb0" if v > 0 else "#c53030" for v in s["spearman"]]},
            hovertemplate="%{y}: %{x:+.2f}<extra></extra>",
        )
    )
    n = int(s["n"].iloc[0])
    if n > 2:  # |rho| within the band is what no correlation gives by chance (95 %)
        noise = chance_band(n)
        fig.add_vrect(x0=-noise, x1=noise, fillcolor="#999", opacity=0.15, line_width=0, layer="below")
        fig.add_annotation(
            x=noise, y=1.02, yref="paper", text=f"chance band ±{noise:.2f}", showarrow=False, xanchor="left"
        )
    fig.update_layout(
        title=f"What drives {item} ({where}, {year}): Spearman rank correlation over {n} members",
        height=max(260, 28 * len(s) + 90),
        margin={"l": 230, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
        xaxis={"range": [-1, 1], "title": "rank correlation with the figure (+: raises it)"},
    )
    return fig


def sobol_bars(
    sob: pd.DataFrame, metric: str, item: str, where: str, year: int, top: int = 12
) -> go.Figure | None:
    """Sobol' total and first-order indices of ``metric`` of ``item`` in ``where`` and ``year``, largest total first."""
    if sob.empty:
        return None
    s = sob[
        (sob["metric"] == metric) & (sob["item"] == item) & (sob["where"] == where) & (sob["year"] == year)
    ].dropna(subset=["st"])
    if s.empty:
        return None
    s = s.sort_values("st", ascending=False).head(top).iloc[::-1]
    fig = go.Figure()
    for col, name, color in (
        ("st", "total (with interactions)", "#2b6cb0"),
        ("s1", "first order (alone)", "#90cdf4"),
    ):
        fig.add_trace(
            go.Bar(
                x=s[col],
                y=s["parameter"],
                orientation="h",
                name=name,
                marker={"color": color},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (s[f"{col}_high"] - s[col]).clip(lower=0),
                    "arrayminus": (s[col] - s[f"{col}_low"]).clip(lower=0),
                },
                hovertemplate="%{y}: %{x:.2f}<extra>" + name + "</extra>",
            )
        )
    n = int(s["n_base"].iloc[0])
    fig.update_layout(
        title=f"Share of the variance of {item} ({where}, {year}) each assumption explains: Sobol' indices, {n} base points",
        barmode="group",
        height=max(300, 40 * len(s) + 140),
        margin={"l": 230, "r": 20, "t": 50, "b": 90},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.35},
        xaxis={"title": "share of variance (bars: 95 % bootstrap interval)"},
    )
    return fig


def read_ensemble(folder: Path) -> dict:
    """The tables of an ensemble folder (InputError naming what is missing)."""
    folder = Path(folder)
    need = ("summary.json", "space.json", "design.parquet")
    missing = [n for n in need if not (folder / n).is_file()]
    if missing:
        raise InputError(
            f"{folder}: not a reesim ensemble folder (missing {', '.join(missing)}); write one with reesim ensemble"
        )
    out = {
        "summary": json.loads((folder / "summary.json").read_text()),
        "space": json.loads((folder / "space.json").read_text()),
        "design": pd.read_parquet(folder / "design.parquet"),
    }
    for t in ("bands", "exceedance", "sensitivity", "sobol"):
        p = folder / f"{t}.parquet"
        out[t] = pd.read_parquet(p) if p.is_file() else pd.DataFrame()
    return out


def driver_year(bands: pd.DataFrame) -> int | None:
    """The year the drivers are shown for: the second of the horizon (the first full year of most measures)."""
    years = sorted(int(y) for y in bands["year"].dropna().unique()) if not bands.empty else []
    return years[1] if len(years) > 1 else (years[0] if years else None)


def identity_table(summary: dict, design: pd.DataFrame) -> str:
    """What made the ensemble: reesim's version, the dataset's, this machine's runtime and the builds
    that ran its members (``design.parquet``'s ``runtime`` column), with how many members each ran.
    Folders written before a field was recorded say so."""
    unknown = "not recorded"
    kept = summary.get("member_runtimes") or {}
    if "runtime" in design.columns:
        counts = (
            design["runtime"]
            .replace("", "none (its task failed on its worker or was lost)")
            .value_counts()
            .sort_index()
        )
        builds = "; ".join(
            f"{rid}: {n} member{'s' if n != 1 else ''}"
            + (f" ({', '.join(kept[rid])})" if rid in kept else "")
            for rid, n in counts.items()
        )
    else:
        builds = unknown
    rows = [
        ["code version", f"reesim {summary['code_version']}" if "code_version" in summary else unknown],
        ["dataset version", summary.get("dataset_version", unknown)],
        ["runtime of the machine that wrote it", ", ".join(summary.get("runtime") or [unknown])],
        ["members ran on", summary.get("members_ran_on", unknown)],
        ["members' builds", builds],
    ]
    return table_html(
        ["field", "value"],
        rows,
        "What made these figures. Another CPU's builds of the same libraries give figures that differ "
        f"{OTHER_BUILDS_DIFFER}; each member's build is in design.parquet's runtime column.",
    )


def render_ensemble(folder: Path) -> str:
    """The ensemble report as one HTML document."""
    e = read_ensemble(folder)
    s, bands, sens, ex = e["summary"], e["bands"], e["sensitivity"], e["exceedance"]
    page = Page()
    parts = []
    overview = table_html(
        ["scenario", "counterfactual", "sampling", "seed", "members", "ok", "failed"],
        [
            [
                s["scenario"],
                s["counterfactual"],
                s["method"],
                s["seed"],
                s["members_run"],
                s["ok"],
                s["failed"],
            ]
        ],
        "The ensemble: each member runs the scenario and its counterfactual with one draw of every varied "
        "assumption (design.parquet has each member's inputs, status and error).",
    )
    parts.append(
        f'<section id="overview"><h2>Overview</h2>{overview}{identity_table(s, e["design"])}</section>'
    )
    body = []
    year = driver_year(bands)
    for item, wheres in SHOWN:
        fig = fan_chart(bands, "price_ratio", item, wheres)
        if fig is None:
            continue
        body.append(
            page.figure(
                fig,
                f"{esc(item)}: scenario price over the counterfactual's, yearly mean, median and bands over the "
                "members (from bands.parquet; 1 = no change).",
            )
        )
        bars = sensitivity_bars(sens, "price_ratio", item, wheres[0], year) if year else None
        if bars is not None:
            body.append(
                page.figure(
                    bars,
                    f"Which assumptions drive {esc(item)} in {esc(wheres[0])} in {year}: Spearman's rank correlation "
                    "of each parameter with the ratio over the members (sensitivity.parquet). The grey band is what "
                    "no correlation gives by chance with this many members (±1.96/√(n−1)): bars inside it are not "
                    "distinguishable from noise. A screening: it ranks monotonic effects and misses effects that "
                    "are not monotonic.",
                )
            )
        sob = sobol_bars(e["sobol"], "price_ratio", item, wheres[0], year) if year else None
        if sob is not None:
            body.append(
                page.figure(
                    sob,
                    f"Sobol' indices of {esc(item)} in {esc(wheres[0])} in {year} (sobol.parquet; Saltelli et al. 2010 "
                    "estimators on a Saltelli design): the total index is the share of the ratio's variance an "
                    "assumption explains with its interactions, the first-order index what it explains alone; an "
                    "assumption whose total index is near 0 can be fixed anywhere in its range.",
                )
            )
    parts.append(
        f'<section id="bands"><h2>Bands and drivers</h2>{"".join(body) or "<p>No bands.</p>"}</section>'
    )
    if not ex.empty:
        rows = []
        years = sorted(int(y) for y in ex["year"].unique())
        shown_years = set(years[:3]) | {y for y in years if y % 5 == 0} | set(years[-1:])
        for item, wheres in SHOWN:
            for where in wheres:
                d = ex[
                    (ex["item"] == item) & (ex["where"] == where) & ex["year"].isin(shown_years)
                ].sort_values("year")
                for r in d.itertuples(index=False):
                    rows.append(
                        [
                            item,
                            where,
                            r.year,
                            r.n,
                            f"{r.p_above_1_5:.0%}",
                            f"{r.p_above_2:.0%}",
                            f"{r.p_above_3:.0%}",
                        ]
                    )
        parts.append(
            '<section id="exceedance"><h2>Exceedance</h2>'
            + table_html(
                ["item", "market", "year", "members", "P(ratio > 1.5)", "P(> 2)", "P(> 3)"],
                rows,
                f"Share of members whose price ratio exceeds 1.5, 2 and 3, in {', '.join(map(str, sorted(shown_years)))} "
                "(every year in exceedance.parquet).",
                numeric=(3, 4, 5, 6),
                cls="wide small",
            )
            + "</section>"
        )
    params = table_html(
        ["parameter", "distribution", "value without the ensemble", "basis"],
        [
            [k, v["distribution"], f"{v['value_without_ensemble']:g}", v["basis"]]
            for k, v in e["space"].items()
        ],
        "Every varied assumption: its distribution, its value in a single run, and the basis of its range "
        "(space.json; the world's stated ranges in default_world.yaml, the dynamics' in the scenario format).",
        cls="wide small",
    )
    parts.append(f'<section id="parameters"><h2>Parameters</h2>{params}</section>')
    nav = [
        ("overview", "Overview"),
        ("bands", "Bands and drivers"),
        ("exceedance", "Exceedance"),
        ("parameters", "Parameters"),
    ]
    return html_document(
        f"reesim ensemble: {s['scenario']} vs {s['counterfactual']}",
        f"{esc(s['scenario'])} <span class='vs'>vs {esc(s['counterfactual'])}</span>: ensemble of {esc(s['members_run'])}",
        nav,
        parts,
        page,
        f"Generated by reesim from the ensemble folder {esc(Path(folder).name)}; works offline.",
    )


def write_ensemble_report(folder: Path, out: Path | None = None) -> Path:
    """Write ``report.html`` of an ensemble folder (atomically)."""
    from reesim.atomic import check_out_file, write_file_atomic

    folder = Path(folder)
    out = check_out_file(out if out is not None else folder / "report.html", example="report.html")
    text = render_ensemble(folder)
    return write_file_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
