"""The repeated game played year by year against the dynamic model.

Each year every player either cooperates (plays its ``cooperate`` strategy) or escalates
(plays its ``escalate`` strategy), by a rule applied to what happened up to the previous year.
The simulator carries the state: capacity ordered under a technology ban stays penalised,
stocks stay built, learning stays learnt. The simulation is recursive, so year ``t``'s outcome
depends only on the instruments in force up to ``t``: the path is simulated to the horizon
assuming every player repeats its latest move, and simulated again (from the start, with the
moves so far) only when a rule changes a move. Every outcome a rule reads is therefore the
outcome of the final path.

Rules (Axelrod, *The Evolution of Cooperation*, 1984; Nowak and Sigmund, "Tit for tat in
heterogeneous populations", Nature 355, 1992, for generous tit-for-tat):

``always-cooperate`` / ``always-escalate``
    The same move every year.
``tit-for-tat``
    Cooperate in the first year, then escalate exactly when another player escalated the year before.
``grim``
    Cooperate until another player has escalated once, then escalate for ever.
``generous-tit-for-tat``
    As tit-for-tat, but forgive an escalation (cooperate anyway) with probability
    ``generosity`` (default 1/3), drawn from the game's seeded generator.
``concession``
    Escalate until the player's own welfare loss in the previous year (million USD, against the
    base) exceeds ``threshold``, then cooperate for ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reesim.errors import InputError, suggest
from reesim.game.profiles import Bundles, path_scenario
from reesim.game.spec import Game
from reesim.simulate.result import Result

RULES = ("always-cooperate", "always-escalate", "tit-for-tat", "grim", "generous-tit-for-tat", "concession")


@dataclass(frozen=True)
class Rule:
    """A player's rule for the repeated game (see the module docstring)."""

    name: str
    generosity: float = 1.0 / 3.0
    threshold_usd_million: float = 1000.0

    def __post_init__(self):
        if self.name not in RULES:
            raise InputError(suggest(self.name, RULES, what="rule"))
        if not 0.0 <= self.generosity <= 1.0:
            raise InputError(f"generosity: {self.generosity} is outside 0-1")
        if self.threshold_usd_million < 0:
            raise InputError(
                f"threshold: {self.threshold_usd_million} must be >= 0 (million USD of yearly loss)"
            )

    def escalate(
        self, t: int, own: list[bool], others: list[bool], damage: list[float], rng: np.random.Generator
    ) -> bool:
        """Whether to escalate in year index ``t``.

        ``own``/``others`` hold, for years before ``t``, whether this player / any other player
        escalated; ``damage`` this player's welfare change (million USD) in those years.
        """
        if self.name == "always-cooperate":
            return False
        if self.name == "always-escalate":
            return True
        if self.name == "tit-for-tat":
            return t > 0 and others[t - 1]
        if self.name == "grim":
            return any(others[:t])
        if self.name == "generous-tit-for-tat":
            if t == 0 or not others[t - 1]:
                return False
            return bool(rng.random() >= self.generosity)
        # concession
        conceded = any(-d > self.threshold_usd_million for d in damage[:t])
        return not conceded


@dataclass(frozen=True)
class RepeatedPath:
    """The path of a repeated game: moves, strategies and outcomes per year, and present values."""

    rules: dict[str, str]
    table: pd.DataFrame  # one row per year and player
    pv_usd_million: dict[str, float]
    result: Result
    simulations: int  # full-horizon simulations run (one, plus one per unforeseen change of move)


def _outcomes(res: Result, base: Result, game: Game) -> dict[int, dict]:
    """Each year's welfare change per player (million USD) and magnet prices inside/outside China."""
    from reesim.impacts.compare import price_table, welfare_table

    w = welfare_table(res, base)
    w = w[w["component"] == "total"]
    p = price_table(res, base)
    p = p[p["commodity"] == "magnet:ndfeb"]
    out = {}
    for year, g in w.groupby("year"):
        o = {
            pl.name: float(g[g["region"].isin(pl.regions)]["change_usd_million"].sum()) for pl in game.players
        }
        py = p[p["year"] == year]
        o["_prices"] = {m: float(x["usd_per_kg"].mean()) for m, x in py.groupby("market")}
        o["_prices_cf"] = {m: float(x["usd_per_kg_cf"].mean()) for m, x in py.groupby("market")}
        out[int(year)] = o
    return out


def play(
    game: Game,
    b: Bundles,
    base: Result,
    rules: dict[str, Rule],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RepeatedPath:
    """Play the repeated game with one rule per player against the dynamic model.

    Parameters
    ----------
    game, b : Game, Bundles
        The game and its resolved strategy bundles (:func:`reesim.game.profiles.bundles`).
    base : Result
        The base run over the horizon (the counterfactual of every year's simulation).
    rules : dict
        Rule per player name.
    """
    from reesim.impacts.compare import discounted, welfare_table
    from reesim.simulate import simulate

    missing = [pl.name for pl in game.players if pl.name not in rules]
    if missing:
        raise InputError(f"rules: no rule for player(s) {missing}; give one of {', '.join(RULES)} for each")
    rng = np.random.default_rng(game.seed)
    start, end = b.base.horizon.start, b.base.horizon.end
    years = list(range(start, end + 1))
    escalated = {pl.name: [] for pl in game.players}
    damage = {pl.name: [] for pl in game.players}
    choices = {pl.name: [] for pl in game.players}
    res: Result | None = None
    assumed: dict[str, list[str]] = {}
    runs = 0
    for t, year in enumerate(years):
        for pl in game.players:
            others = [any(escalated[o.name][k] for o in game.players if o.name != pl.name) for k in range(t)]
            e = rules[pl.name].escalate(t, escalated[pl.name], others, damage[pl.name], rng)
            escalated[pl.name].append(e)
            choices[pl.name].append(pl.escalation if e else pl.cooperative)
        if res is None or any(assumed[p][t] != choices[p][t] for p in choices):
            # Simulate the path so far, continued with this year's moves to the horizon.
            assumed = {p: c + [c[-1]] * (len(years) - t - 1) for p, c in choices.items()}
            res = simulate(path_scenario(game, b, assumed, end), counterfactual=base)
            table = _outcomes(res, base, game)
            runs += 1
        o = table[year]
        for pl in game.players:
            damage[pl.name].append(o[pl.name])
        if progress:
            progress(t + 1, len(years))
    outcomes = [table[y] for y in years]
    rows = []
    for t, year in enumerate(years):
        for pl in game.players:
            rows.append(
                {
                    "year": year,
                    "player": pl.name,
                    "rule": rules[pl.name].name,
                    "escalated": escalated[pl.name][t],
                    "strategy": choices[pl.name][t],
                    "welfare_change_usd_million": outcomes[t][pl.name],
                    "magnet_price_outside_china_usd_per_kg": outcomes[t]["_prices"].get(
                        "outside China", np.nan
                    ),
                    "magnet_price_outside_china_base_usd_per_kg": outcomes[t]["_prices_cf"].get(
                        "outside China", np.nan
                    ),
                    "magnet_price_inside_china_usd_per_kg": outcomes[t]["_prices"].get(
                        "inside China", np.nan
                    ),
                }
            )
    pv = discounted(welfare_table(res, base), game.discount_rate, start)
    pv = pv[pv["component"] == "total"]
    pvs = {pl.name: float(pv[pv["region"].isin(pl.regions)]["pv_usd_million"].sum()) for pl in game.players}
    return RepeatedPath({p: r.name for p, r in rules.items()}, pd.DataFrame(rows), pvs, res, runs)
