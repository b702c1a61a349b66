"""The HTML report of a game: payoff heat maps, equilibria, bargaining, sensitivity, repeated paths.

Self-contained like the run report (plotly.js and the style sheet embedded, works offline).
Every figure is drawn from ``equilibria.json``, ``payoffs.parquet`` and ``repeated.parquet``.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reesim.reports.html import Page, esc, html_document, table_html

COLORS = ("#1f5f8b", "#b5332e", "#2e7d32", "#8e6c00")
PATH_DASH = ("solid", "dot", "dash")


def heatmaps(payoffs: pd.DataFrame, a: dict) -> list[tuple[go.Figure, str]]:
    """One heat map per player (rows: first player's strategies, columns: second's), equilibria marked."""
    players = a["players"]
    s0, s1 = a["strategies"][players[0]], a["strategies"][players[1]]
    thirds = [None] if len(players) == 2 else a["strategies"][players[2]]
    pure = [e["profile"] for e in a["equilibria"]["pure"]]
    figs = []
    for third in thirds:
        fig = make_subplots(
            rows=1,
            cols=len(players),
            subplot_titles=[f"{p}'s payoff" for p in players],
            horizontal_spacing=0.12,
        )
        df = payoffs if third is None else payoffs[payoffs[f"strategy_{players[2]}"] == third]
        for k, p in enumerate(players):
            d = df[df["player"] == p].pivot_table(
                index=f"strategy_{players[0]}", columns=f"strategy_{players[1]}", values="payoff_usd_million"
            )
            d = d.reindex(index=s0, columns=s1) / 1000.0
            text = [[f"{v:+,.2f}" for v in row] for row in d.to_numpy()]
            for e in pure:
                if third is None or e[players[2]] == third:
                    i, j = s0.index(e[players[0]]), s1.index(e[players[1]])
                    text[i][j] += " ★"
            lim = max(1e-9, float(abs(d.to_numpy()).max()))
            fig.add_trace(
                go.Heatmap(
                    z=d.to_numpy(),
                    x=s1,
                    y=s0,
                    text=text,
                    texttemplate="%{text}",
                    colorscale="RdBu",
                    zmin=-lim,
                    zmax=lim,
                    showscale=False,
                    hovertemplate=f"{players[0]} %{{y}}<br>{players[1]} %{{x}}<br>{p}: %{{z:+,.2f}} bn USD<extra></extra>",
                ),
                row=1,
                col=k + 1,
            )
            fig.update_xaxes(title_text=players[1], row=1, col=k + 1)
            fig.update_yaxes(title_text=players[0] if k == 0 else "", autorange="reversed", row=1, col=k + 1)
        fig.update_layout(height=380, margin={"l": 40, "r": 20, "t": 50, "b": 40}, template="plotly_white")
        caption = (
            f"Payoff of each player, bn USD present value at {100 * a['discount_rate']:.0f} %/yr against the base "
            "scenario (blue gain, red loss); ★ marks pure Nash equilibria."
        )
        if third is not None:
            caption += f" {esc(players[2])} plays '{esc(third)}'."
        figs.append((fig, caption))
    return figs


def repeated_figure(rep: pd.DataFrame) -> go.Figure:
    """Welfare change per player and year on each repeated path, and the magnet price outside China."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            "Welfare change against the base, million USD per year",
            "NdFeB magnet price outside China, USD/kg",
        ),
        horizontal_spacing=0.1,
    )
    players = list(dict.fromkeys(rep["player"]))
    for n, (path, g) in enumerate(rep.groupby("path", sort=False)):
        dash = PATH_DASH[n % len(PATH_DASH)]
        for k, p in enumerate(players):
            gp = g[g["player"] == p]
            fig.add_trace(
                go.Scatter(
                    x=gp["year"],
                    y=gp["welfare_change_usd_million"],
                    name=f"{p} — {path}",
                    mode="lines+markers",
                    line={"color": COLORS[k % len(COLORS)], "dash": dash},
                    customdata=gp["strategy"],
                    hovertemplate="%{x}: %{y:+,.0f} million USD<br>plays %{customdata}<extra></extra>",
                ),
                row=1,
                col=1,
            )
        g0 = g[g["player"] == players[0]]
        fig.add_trace(
            go.Scatter(
                x=g0["year"],
                y=g0["magnet_price_outside_china_usd_per_kg"],
                name=f"price — {path}",
                mode="lines",
                line={"color": "#555", "dash": dash},
            ),
            row=1,
            col=2,
        )
    g0 = rep[rep["player"] == players[0]].drop_duplicates("year")
    fig.add_trace(
        go.Scatter(
            x=g0["year"],
            y=g0["magnet_price_outside_china_base_usd_per_kg"],
            name="price — base",
            line={"color": "#aaa"},
        ),
        row=1,
        col=2,
    )
    fig.update_layout(height=460, template="plotly_white", legend={"orientation": "h", "y": -0.25})
    return fig


def outcomes_table(payoffs: pd.DataFrame, players: list[str]) -> str:
    """One row per profile: each player's welfare, the world's, the magnet price peak and the declared terms."""
    cols = [f"strategy_{p}" for p in players]
    terms = [c for c in payoffs.columns if c.startswith("term_")]
    rows = []
    for key, g in payoffs.groupby(cols, sort=False):
        g = g.set_index("player")
        key = key if isinstance(key, tuple) else (key,)
        term_cells = []
        for c in terms:
            v = g[c].dropna()
            term_cells.append(f"{v.iloc[0]:+.1f}" if len(v) else "")
        rows.append(
            [
                *key,
                *(f"{g.loc[p, 'welfare_pv_usd_million'] / 1000:+,.2f}" for p in players),
                f"{g['world_welfare_pv_usd_million'].iloc[0] / 1000:+,.2f}",
                f"{g['magnet_price_outside_china_peak_change_pct'].iloc[0]:+.0f}",
                *term_cells,
            ]
        )
    heads = [
        *players,
        *(f"{p} welfare, bn USD" for p in players),
        "world welfare, bn USD",
        "magnet price outside China, peak Δ %",
        *(c.removeprefix("term_").replace("_change_pp", "") + ", Δ pp" for c in terms),
    ]
    n = len(players)
    return table_html(
        heads,
        rows,
        "Outcome of every profile against the base: welfare (present value, before declared terms), the world's "
        "welfare (all regions), the largest change of the NdFeB magnet price outside China, and the change of each "
        "declared term's share (percentage points, horizon average).",
        numeric=tuple(range(n, len(heads))),
    )


def _builds_line(a: dict) -> str:
    """The footer's words on the builds that computed the game (``equilibria.json``'s ``builds``),
    when some are not the writing machine's: figures that differ in the last digits."""
    from reesim.cache import runtime_id

    builds = a.get("builds") or {}
    if not builds or not a.get("runtime"):
        return ""
    here = runtime_id(a["runtime"])
    other = sum(rid != here for rid in builds["profiles"].values())
    base = builds["base"] != here
    if not other and not base:
        return ""
    what = f"{other} of {len(builds['profiles'])} profiles" + (" and the base run" if base else "")
    return (
        f" {what} were computed on other CPU builds than the writing machine's (equilibria.json's builds): "
        "their payoffs may differ in the last digits."
    )


def render_game(a: dict, payoffs: pd.DataFrame, repeated: pd.DataFrame | None = None) -> str:
    """The game report as one HTML document."""

    page = Page()
    players = a["players"]
    parts = [f'<section id="reading"><h2>Reading</h2><p>{esc(a.get("reading", ""))}</p></section>']
    body = "".join(page.figure(f, c) for f, c in heatmaps(payoffs, a))
    rows = []
    for e in a["equilibria"]["all"]:
        strat = "; ".join(
            f"{p}: " + ", ".join(s + ("" if x > 1 - 1e-9 else f" ({100 * x:.0f} %)") for s, x in m.items())
            for p, m in e["strategies"].items()
        )
        rows.append(
            ["pure" if e["pure"] else "mixed", strat]
            + [f"{e['payoffs_usd_million'][p] / 1000:+,.2f}" for p in players]
            + [f"{e['max_regret_usd_million']:.2g}"]
        )
    body += table_html(
        ["type", "strategies", *(f"{p}, bn USD" for p in players), "max regret, million USD"],
        rows,
        "Nash equilibria: pure by enumeration, mixed by support enumeration (nashpy); each verified by a best-response "
        "check (max regret = largest gain from a unilateral pure deviation)."
        + "".join(f" Note: {esc(w)}" for w in a["equilibria"].get("warnings", [])),
        numeric=tuple(range(2, 3 + len(players))),
    )
    dom = a["dominance"]
    body += table_html(
        ["player", "strategy", "dominated by", "strictly"],
        [
            [d["player"], d["strategy"], d["dominated_by"], "yes" if d["strict"] else "weakly"]
            for d in dom["dominated"]
        ],
        "Strategies dominated by another pure strategy. Surviving iterated elimination of strictly dominated strategies: "
        + esc("; ".join(f"{p}: {', '.join(s)}" for p, s in dom["surviving_iterated_strict"].items()))
        + ".",
    )
    body += outcomes_table(payoffs, players)
    parts.append(f'<section id="payoffs"><h2>Payoffs and equilibria</h2>{body}</section>')
    b = a["bargaining"]
    brow = []
    for key, label in (("without_transfers", "no side payments"), ("with_transfers", "with side payments")):
        x = b.get(key)
        if x is None:
            brow.append(
                [label, "no agreement better for every player than the equilibrium", *("" for _ in players)]
            )
            continue
        prof = " + ".join(
            f"{100 * g['weight']:.0f} % " + ", ".join(f"{p} {s}" for p, s in g["profile"].items())
            for g in x["agreement"]
        )
        brow.append(
            [label, prof, *(f"{x['value_of_cooperation_usd_million'][p] / 1000:+,.2f}" for p in players)]
        )
    pareto = "; ".join(", ".join(f"{p} {s}" for p, s in e["profile"].items()) for e in a["pareto_efficient"])
    coop = table_html(
        ["agreement", "profile(s)", *(f"{p} gain, bn USD" for p in players)],
        brow,
        "Nash bargaining solution relative to the non-cooperative equilibrium (the value of cooperation). Without side "
        "payments the agreement may mix profiles (a lottery or shares of time); with side payments it plays the profile "
        "of largest joint payoff and splits the gain equally. Pareto-efficient profiles: "
        + esc(pareto)
        + ".",
        numeric=tuple(range(2, 2 + len(players))),
    )
    parts.append(f'<section id="cooperation"><h2>What cooperation is worth</h2>{coop}</section>')
    sens = [r for r in a["sensitivity"] if "weight_usd_million_per_pp" in r]
    if sens:
        srows = [
            [
                r["player"],
                r["term"],
                f"{r['weight_usd_million_per_pp']:,.0f}",
                "; ".join(", ".join(f"{p} {s}" for p, s in e.items()) for e in r["pure"]) or "none",
                str(r["equilibria"]),
            ]
            for r in sens
        ]
        switches = [r for r in a["sensitivity"] if "switch_at_usd_million_per_pp" in r]
        text = (
            " ".join(
                f"Above {r['switch_at_usd_million_per_pp']:,.1f} million USD per pp of {esc(r['player'])} "
                f"'{esc(r['term'])}' the pure equilibria change."
                for r in switches
            )
            or "No weight in the scanned range changes the pure equilibria."
        )
        basis = " ".join(
            f"{esc(x['player'])} '{esc(x['term'])}': {esc(x['basis'])}" for x in a["assumptions"]
        )
        parts.append(
            '<section id="sensitivity"><h2>Sensitivity to the payoff weights</h2>'
            + table_html(
                ["player", "term", "weight, million USD per pp", "pure equilibria", "equilibria (all)"],
                srows,
                f"Equilibria when one declared term is weighted as shown (others at their declared weight). {text} "
                f"Declared weights and their basis — {basis}",
                numeric=(2, 4),
            )
            + "</section>"
        )
    if repeated is not None and len(repeated):
        rep_body = page.figure(
            repeated_figure(repeated),
            "Repeated game against the dynamic model: each year's welfare change (solid: the chosen rules; dotted: both "
            "always cooperate; dashed: both always escalate) and the magnet price outside China.",
        )
        moves = repeated.pivot_table(
            index=["path", "year"], columns="player", values="strategy", aggfunc="first"
        ).reset_index()
        rep_body += table_html(
            ["path", "year", *players],
            moves[["path", "year", *players]].itertuples(index=False),
            "Strategy played by each player in each year.",
        )
        parts.append(f'<section id="repeated"><h2>Repeated game</h2>{rep_body}</section>')
    title = f"reesim game: {a['game']}"
    nav = (
        ("reading", "Reading"),
        ("payoffs", "Payoffs"),
        ("cooperation", "Cooperation"),
        ("sensitivity", "Sensitivity"),
        ("repeated", "Repeated game"),
    )
    sub = ", ".join(f"{p}: {len(s)} strategies" for p, s in a["strategies"].items())
    return html_document(
        title,
        esc(title),
        nav,
        parts,
        page,
        f"reesim {esc(a.get('code_version', ''))} · dataset {esc(a.get('dataset_version', ''))}."
        + _builds_line(a)
        + " Works offline.",
        sub=f"{sub}; {a['profiles']} profiles, each a simulator run.",
    )
