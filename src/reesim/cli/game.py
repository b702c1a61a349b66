"""``reesim game``: the strategic game between governments, computed from simulator runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from reesim.atomic import check_out_folder
from reesim.cli.run import progress_bar
from reesim.cli.text import out
from reesim.errors import InputError


def _bn(v: float) -> str:
    return f"{v / 1000:+,.2f}"


def print_matrix(t, a: dict) -> None:
    """The payoff matrix (bn USD, present value), equilibria starred; one matrix per strategy of a third player."""
    P = t.payoffs()
    pure = {tuple(e["profile"][p] for p in t.players) for e in a["equilibria"]["pure"]}
    rows, cols = t.strategies[0], t.strategies[1]
    thirds = [None] if len(t.players) == 2 else list(range(len(t.strategies[2])))
    for k in thirds:
        title = f"Payoffs, bn USD present value at {100 * t.game.discount_rate:.0f} %/yr vs {t.game.base}: {t.players[0]} / {t.players[1]}"
        if k is not None:
            title += f" / {t.players[2]} (when {t.players[2]} plays '{t.strategies[2][k]}')"
        tab = Table(title=title, header_style="bold", show_lines=True)
        tab.add_column(f"{t.players[0]} \\ {t.players[1]}")
        for c in cols:
            tab.add_column(c, justify="right")
        for i, r in enumerate(rows):
            cells = []
            for j, c in enumerate(cols):
                idx = (i, j) if k is None else (i, j, k)
                names = (r, c) if k is None else (r, c, t.strategies[2][k])
                star = " ★" if names in pure else ""
                cells.append(" / ".join(_bn(v) for v in P[idx]) + star)
            tab.add_row(r, *cells)
        out.print(tab)
    out.print("  ★ pure Nash equilibrium (verified: no player gains by deviating alone)")


def print_analysis(a: dict) -> None:
    """Equilibria, bargaining and sensitivity in short tables."""
    eq = a["equilibria"]
    tab = Table(
        title="Nash equilibria (support enumeration, each verified by a best-response check)",
        header_style="bold",
    )
    tab.add_column("type")
    tab.add_column("strategies")
    for p in a["players"]:
        tab.add_column(f"{p}, bn USD", justify="right")
    tab.add_column("max regret, million USD", justify="right")
    for e in eq["all"]:
        strat = "; ".join(
            f"{p}: " + ", ".join(f"{s}" + ("" if x > 1 - 1e-9 else f" {100 * x:.0f} %") for s, x in m.items())
            for p, m in e["strategies"].items()
        )
        tab.add_row(
            "pure" if e["pure"] else "mixed",
            strat,
            *(_bn(e["payoffs_usd_million"][p]) for p in a["players"]),
            f"{e['max_regret_usd_million']:.2g}",
        )
    out.print(tab)
    for w in eq.get("warnings", []):
        out.print(f"  note: {w}")
    b = a["bargaining"]
    if b.get("disagreement"):
        tab = Table(
            title="Nash bargaining relative to the equilibrium (value of cooperation)", header_style="bold"
        )
        tab.add_column("agreement")
        tab.add_column("profile(s)")
        for p in a["players"]:
            tab.add_column(f"{p} gain, bn USD", justify="right")
        for key, label in (
            ("without_transfers", "no side payments"),
            ("with_transfers", "with side payments"),
        ):
            x = b[key]
            if x is None:
                tab.add_row(label, "none better for all than the equilibrium", *("" for _ in a["players"]))
                continue
            prof = " + ".join(
                f"{100 * g['weight']:.0f} % " + ", ".join(f"{p} {s}" for p, s in g["profile"].items())
                for g in x["agreement"]
            )
            tab.add_row(label, prof, *(_bn(x["value_of_cooperation_usd_million"][p]) for p in a["players"]))
        out.print(tab)
    sens = [r for r in a["sensitivity"] if "switch_at_usd_million_per_pp" in r]
    for r in sens:
        after = "; ".join(", ".join(f"{p} {s}" for p, s in e.items()) for e in r["pure_after"]) or "none"
        out.print(
            f"  sensitivity: above {r['switch_at_usd_million_per_pp']:,.1f} million USD per pp of {r['player']} "
            f"'{r['term']}', the pure equilibria become: {after}"
        )


def print_repeated(paths: list) -> None:
    """Each repeated path's moves and present values."""
    for p in paths:
        tab = Table(
            title="Repeated game: " + ", ".join(f"{k} plays {v}" for k, v in p.rules.items()),
            header_style="bold",
        )
        tab.add_column("year")
        players = list(p.rules)
        for pl in players:
            tab.add_column(f"{pl} strategy")
            tab.add_column(f"{pl} Δ welfare, million USD", justify="right")
        tab.add_column("magnet USD/kg outside China (base)", justify="right")
        for year, g in p.table.groupby("year"):
            g = g.set_index("player")
            cells = []
            for pl in players:
                cells += [str(g.loc[pl, "strategy"]), f"{g.loc[pl, 'welfare_change_usd_million']:+,.0f}"]
            r0 = g.iloc[0]
            price = r0["magnet_price_outside_china_usd_per_kg"]
            base = r0["magnet_price_outside_china_base_usd_per_kg"]
            cells.append("" if np.isnan(price) else f"{price:,.1f} ({base:,.1f})")
            tab.add_row(str(year), *cells)
        out.print(tab)
        out.print(
            "  present value: "
            + "; ".join(f"{k} {v / 1000:+,.2f} bn USD" for k, v in p.pv_usd_million.items())
            + f" ({p.simulations} simulation(s) of the path)"
        )


def _rules(game, rule_us, rule_cn, rule, generosity, threshold):
    from reesim.game.repeated import Rule

    given: dict[str, str] = {}
    for item in rule or []:
        if "=" not in item:
            raise InputError(f"--rule {item!r}: expected PLAYER=RULE, e.g. US=tit-for-tat")
        k, v = item.split("=", 1)
        given[game.player(k.strip()).name] = v.strip()
    by_region = {r: pl.name for pl in game.players for r in pl.regions}
    if rule_us:
        if "USA" not in by_region:
            raise InputError(
                "--rule-us: no player of this game counts the USA's welfare; use --rule PLAYER=RULE"
            )
        given[by_region["USA"]] = rule_us
    if rule_cn:
        if "CHN" not in by_region:
            raise InputError(
                "--rule-cn: no player of this game counts China's welfare; use --rule PLAYER=RULE"
            )
        given[by_region["CHN"]] = rule_cn
    missing = [pl.name for pl in game.players if pl.name not in given]
    if missing:
        raise InputError(
            f"--repeated: no rule for {', '.join(missing)}; give --rule-us/--rule-cn or --rule PLAYER=RULE "
            "(rules: always-cooperate, always-escalate, tit-for-tat, grim, generous-tit-for-tat, concession)"
        )
    return {p: Rule(r, generosity=generosity, threshold_usd_million=threshold) for p, r in given.items()}


def game_cmd(
    game_file: str = typer.Argument(..., help="Game YAML file or shipped game name (e.g. us-china)."),
    out_dir: Path = typer.Option(
        None, "--out", "-o", help="Write payoffs.parquet, equilibria.json and report.html here."
    ),
    workers: int = typer.Option(
        None, "--workers", min=1, help="Worker processes for the profile runs (default: all cores)."
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Address of a TLS Dask scheduler (tls://host:8786) to run the profiles on instead of local workers (tcp:// only with REESIM_INSECURE_SCHEDULER=1).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Re-run every profile instead of reading the cache."
    ),
    repeated: bool = typer.Option(False, "--repeated", help="Also play the repeated game year by year."),
    rule_us: str = typer.Option(None, "--rule-us", help="Rule of the player counting U.S. welfare."),
    rule_cn: str = typer.Option(None, "--rule-cn", help="Rule of the player counting China's welfare."),
    rule: list[str] = typer.Option(None, "--rule", help="PLAYER=RULE (repeatable), e.g. EU=grim."),
    generosity: float = typer.Option(
        1 / 3, "--generosity", help="Forgiveness probability of generous-tit-for-tat."
    ),
    threshold: float = typer.Option(
        1000.0,
        "--threshold",
        help="concession: yearly welfare loss (million USD) after which the player concedes.",
    ),
    ensemble: int = typer.Option(
        None,
        "--ensemble",
        help="Also solve the game for N members drawn over the assumption ranges (as reesim ensemble): "
        "expected payoffs and how often each equilibrium holds.",
    ),
    sample: str = typer.Option("lhs", "--sample", help="With --ensemble: lhs, sobol or random."),
    seed: int = typer.Option(
        None, "--seed", help="With --ensemble: seed of the design (default: the base's)."
    ),
    vary: list[str] = typer.Option(
        None, "--vary", help="With --ensemble: NAME=DIST, repeatable (see reesim ensemble --help)."
    ),
    only_vary: bool = typer.Option(
        False, "--only-vary", help="With --ensemble: vary only the --vary parameters."
    ),
) -> None:
    """Solve the game: payoff matrix from simulator runs, equilibria, bargaining, optional repeated play."""
    from reesim.game.equilibria import analyse, reading
    from reesim.game.payoffs import payoff_tensor
    from reesim.game.spec import load_game

    game, folder = load_game(game_file)
    rules = _rules(game, rule_us, rule_cn, rule, generosity, threshold) if repeated else None
    if not repeated and (rule_us or rule_cn or rule):
        raise InputError("--rule-us/--rule-cn/--rule need --repeated")
    if ensemble is None and (vary or only_vary or seed is not None or sample != "lhs"):
        raise InputError("--sample/--seed/--vary/--only-vary need --ensemble N")
    if ensemble is not None and not 1 <= ensemble <= 1000:
        raise InputError(f"--ensemble: {ensemble} members; allowed: 1 to 1000")
    if ensemble is not None and sample not in ("lhs", "sobol", "random"):
        raise InputError(f"--sample: {sample!r}; allowed with --ensemble: lhs, sobol, random")
    if seed is not None and not 0 <= seed < 2**63:
        raise InputError(f"--seed: {seed}; allowed: a whole number from 0 to 2**63 - 1")
    space = _ensemble_space(game, folder, vary, only_vary) if ensemble is not None else None
    if out_dir is not None:
        check_out_folder(out_dir)
    with progress_bar() as bar:
        task = bar.add_task(f"simulating the profiles of {game.name}", total=None)
        tensor, b, base = payoff_tensor(
            game,
            folder,
            workers=workers,
            cache=not no_cache,
            progress=lambda d, n: bar.update(task, completed=d, total=n),
            scheduler=scheduler,
        )
    out.print(
        f"{game.name}: {tensor.welfare.size // len(game.players)} profiles"
        + (f" ({tensor.cached} from the cache)" if tensor.cached else "")
    )
    if note := other_builds_note(tensor.builds()):
        out.print(note)
    a = analyse(tensor)
    a["reading"] = reading(a)
    print_matrix(tensor, a)
    print_analysis(a)
    out.print()
    out.print(a["reading"], soft_wrap=False)
    paths = _repeated(game, b, base, rules) if repeated else []
    ens = (
        _ensemble(game, folder, b, space, ensemble, sample, seed, workers, not no_cache, scheduler)
        if ensemble
        else None
    )
    if out_dir is not None:
        from reesim.game.output import write_game

        write_game(out_dir, tensor, b, a, paths or None, ensemble=ens)
        out.print(
            f"wrote {out_dir} (payoffs.parquet, equilibria.json, report.html"
            + (", ensemble_payoffs.parquet, ensemble_summary.parquet, ensemble_design.parquet" if ens else "")
            + ")"
        )


def _repeated(game, b, base, rules) -> list:
    """Play the repeated game with the players' ``rules`` beside both-cooperate and both-escalate
    reference paths, and print them; the paths, in that order."""
    from reesim.game.repeated import Rule, play

    plan = [
        rules,
        {pl.name: Rule("always-cooperate") for pl in game.players},
        {pl.name: Rule("always-escalate") for pl in game.players},
    ]
    paths = []
    with progress_bar() as bar:
        for r in plan:
            task = bar.add_task(
                "repeated game: " + ", ".join(f"{k} {v.name}" for k, v in r.items()), total=None
            )
            paths.append(
                play(
                    game, b, base, r, progress=lambda d, n, task=task: bar.update(task, completed=d, total=n)
                )
            )
    print_repeated(paths[:1])
    for p in paths[1:]:
        out.print(
            "  reference path, "
            + ", ".join(f"{k} {v}" for k, v in p.rules.items())
            + ": "
            + "; ".join(f"{k} {v / 1000:+,.2f} bn USD" for k, v in p.pv_usd_million.items())
        )
    return paths


def other_builds_note(builds: dict) -> str | None:
    """A line saying which of the game's runs another build computed (a scheduler's workers with
    other CPU builds: figures that differ in the last digits), or None when this machine's did all."""
    from reesim.cache import OTHER_BUILDS_DIFFER, runtime, runtime_id

    here = runtime_id(runtime())
    profiles = [label for label, rid in builds.get("profiles", {}).items() if rid != here]
    base = builds.get("base", here) != here
    if not profiles and not base:
        return None
    what = f"{len(profiles)} of the {len(builds['profiles'])} profiles" + (
        " and the base run" if base else ""
    )
    return (
        f"  {what} ran on builds that are not this machine's (equilibria.json's builds): their payoffs may "
        f"differ from this machine's {OTHER_BUILDS_DIFFER}"
    )


def _ensemble_space(game, folder, vary, only_vary):
    """The parameters the game's ensemble varies, checked before any profile runs."""
    from reesim.ensemble.space import scenario_space
    from reesim.game.profiles import bundles

    space = scenario_space(bundles(game, folder).base, list(vary or []), only_vary)
    if not space:
        raise InputError("--only-vary: no --vary given and the base states no uncertainty, so nothing varies")
    return space


def _ensemble(game, folder, b, space, n, sample, seed, workers, cache, scheduler=None):
    """Solve the game for ``n`` members of an ensemble design and print the summary."""
    from reesim.game.ensemble import ensemble_game

    seed = b.base.seed if seed is None else seed
    failed = []
    with progress_bar() as bar:
        task = bar.add_task(f"game over {n} members ({len(space)} parameters)", total=n)

        def step(k: int, error: str | None) -> None:
            if error:
                failed.append((k, error))
            bar.advance(task)

        e = ensemble_game(
            game,
            folder,
            space,
            n,
            method=sample,
            seed=seed,
            workers=workers,
            cache=cache,
            progress=step,
            scheduler=scheduler,
        )
    t = e.table()
    tab = Table(
        title=f"Over {len(e.members)} members ({sample}, seed {seed}, {len(space)} parameters varied): "
        "payoff mean [p5, p95], bn USD, and how often the profile is a pure equilibrium",
        header_style="bold",
    )
    tab.add_column("profile")
    for p in e.players:
        tab.add_column(p, justify="right")
    tab.add_column("equilibrium in", justify="right")
    for prof, g in t.groupby("profile", sort=False):
        cells = [
            f"{r.mean_usd_million / 1000:+.2f} [{r.p5_usd_million / 1000:+.2f}, {r.p95_usd_million / 1000:+.2f}]"
            for r in g.itertuples(index=False)
        ]
        share = g["equilibrium_share"].iloc[0]
        mark = " ★" if g["equilibrium_of_expected"].iloc[0] else ""
        tab.add_row(prof + mark, *cells, f"{share:.0%}" if share else "")
    out.print(tab)
    out.print("  ★ pure equilibrium of the expected payoffs (a risk-neutral government's game)")
    from reesim.cache import runtime, runtime_id

    others = set(e.member_runtimes) - {runtime_id(runtime())}
    if others:
        n_other = int(e.design["runtimes"].map(lambda ids: bool(others & set(ids.split(", ")))).sum())
        out.print(
            f"  {n_other} of the members ran (their base or a profile) on builds that are not this machine's "
            "(ensemble_design.parquet's runtimes column): their payoffs may differ from this machine's in the "
            "last digits"
        )
    for k, error in sorted(failed)[:5]:
        out.print(f"  member {k} failed: {error[:200]}")
    return e
