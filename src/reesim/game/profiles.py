"""Strategy profiles as scenarios: the base scenario plus every player's chosen bundle of instruments."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reesim.errors import InputError
from reesim.game.spec import Game
from reesim.scenario.load import parse, resolve
from reesim.scenario.spec import Scenario


def _dump(inst) -> dict[str, Any]:
    return inst.model_dump(mode="json", exclude_none=True)


def _key(d: dict) -> str:
    return json.dumps(d, sort_keys=True)


@dataclass(frozen=True)
class Bundles:
    """Base scenario (resolved, with the game's horizon) and every strategy's instruments (as mappings)."""

    base: Scenario
    instruments: dict[tuple[str, str], tuple[dict[str, Any], ...]]  # (player, strategy) -> instruments


def load_scenario_near(ref: str, folder: Path | None) -> Scenario:
    """A scenario by shipped name or path, relative paths read next to the game file first."""
    data, chain = resolve(ref, folder)
    return parse(data, chain[-1])


def bundles(game: Game, folder: Path | None = None) -> Bundles:
    """Resolve the base scenario and each strategy's instruments.

    A strategy's ``scenarios`` contribute the instruments they hold that the base does not
    (compared by content, so a scenario extending the base adds only its own instruments);
    inline ``instruments`` follow. Duplicates within a strategy are dropped.
    """
    base = load_scenario_near(game.base, folder)
    if game.horizon is not None:
        base = base.model_copy(update={"horizon": game.horizon})
    base_keys = {_key(_dump(i)) for i in base.instruments}
    out: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {}
    for p, player in enumerate(game.players):
        for s, strat in enumerate(player.strategies):
            items: list[dict[str, Any]] = []
            seen: set[str] = set()
            for ref in strat.scenarios:
                try:
                    sc = load_scenario_near(ref, folder)
                except InputError as exc:
                    raise InputError(f"players[{p}].strategies[{s}].scenarios: {exc}") from None
                for inst in sc.instruments:
                    d = _dump(inst)
                    k = _key(d)
                    if k not in base_keys and k not in seen:
                        seen.add(k)
                        items.append(d)
            for inst in strat.instruments:
                d = _dump(inst)
                if _key(d) not in seen:
                    seen.add(_key(d))
                    items.append(d)
            out[(player.name, strat.name)] = tuple(items)
    return Bundles(base, out)


def profile_label(game: Game, profile: tuple[int, ...]) -> str:
    """``US=section-301, China=licensing``."""
    return ", ".join(
        f"{pl.name}={pl.strategies[s].name}" for pl, s in zip(game.players, profile, strict=True)
    )


def all_profiles(game: Game) -> list[tuple[int, ...]]:
    """Every pure profile, in C order (the first player's strategy varies slowest)."""
    return list(itertools.product(*(range(len(p.strategies)) for p in game.players)))


def _scenario_data(b: Bundles, name: str, description: str, instruments: list[dict]) -> dict[str, Any]:
    """The base scenario's mapping with ``instruments`` added; one with a base instrument's name replaces it."""
    data = b.base.model_dump(mode="json", exclude_none=True)
    data.pop("extends", None)
    data["name"] = name
    data["description"] = description
    given = {i.get("name") for i in instruments if i.get("name")}
    data["instruments"] = [*(_dump(i) for i in b.base.instruments if i.name not in given), *instruments]
    return data


def overrides(b: Bundles) -> dict[tuple[str, str], list[str]]:
    """Strategies whose instruments replace base instruments of the same name."""
    base = {i.name for i in b.base.instruments if i.name}
    out = {}
    for key, insts in b.instruments.items():
        names = [i["name"] for i in insts if i.get("name") in base]
        if names:
            out[key] = names
    return out


def profile_scenario(game: Game, b: Bundles, profile: tuple[int, ...]) -> Scenario:
    """The scenario of a profile: the base plus each player's strategy instruments."""
    label = profile_label(game, profile)
    insts = []
    for pl, s in zip(game.players, profile, strict=True):
        insts.extend(b.instruments[(pl.name, pl.strategies[s].name)])
    data = _scenario_data(b, f"{game.name}[{label}]", f"Game {game.name}: {label}", insts)
    return parse(data, f"{game.name}: profile {label}")


#: Instruments that carry state of their own (stocks): kept as one instrument over a player's path.
STATEFUL = ("stockpile",)
#: instruments that commit for good: a named plant, once its strategy is played, is built on its
#: own dates and stays (a plant is not unbuilt when the strategy changes; it has no ``end``); a
#: mining quota path, once set, runs to the horizon's end
COMMITTED = ("capacity_project", "mining_quota")


def _clip(inst: dict[str, Any], first: dt.date, last: dt.date, suffix: str) -> dict[str, Any] | None:
    """The instrument restricted to [first, last], renamed with ``suffix``; None if not in force then."""
    start = dt.date.fromisoformat(inst["start"])
    end = dt.date.fromisoformat(inst["end"]) if inst.get("end") else None
    lo = max(start, first)
    hi = last if end is None else min(end, last)
    if hi < lo:
        return None
    out = {**inst, "start": lo.isoformat(), "end": hi.isoformat()}
    if out.get("name"):
        out["name"] = f"{out['name']}{suffix}"
    if out.get("type") == "tariff_exclusion":
        out["tariff"] = f"{out['tariff']}{suffix}"
    return out


def path_scenario(game: Game, b: Bundles, choices: dict[str, list[str]], last_year: int) -> Scenario:
    """The scenario of a path of yearly choices, simulated from the base's start to ``last_year``.

    ``choices[player]`` lists the strategy each player plays in each year from the horizon's
    start. Consecutive years with the same strategy form one spell; each instrument of the
    strategy is in force during the spell (clipped to the spell and to its own dates) and
    named ``name@<first year of the spell>``; tariff exclusions follow their tariff's spell; a
    named plant (``capacity_project``) is committed the first year its strategy is played and
    stays from its own start (or that year, if later) without an end.
    """
    over = overrides(b)
    if over:
        (player, strategy), names = next(iter(over.items()))
        raise InputError(
            f"repeated play: {player} strategy '{strategy}' replaces base instrument(s) {names}; a year-by-year path "
            "cannot switch a base instrument off and on — give the strategy instruments of its own names"
        )
    start = b.base.horizon.start
    insts: list[dict[str, Any]] = []
    for pl in game.players:
        years = choices[pl.name][: last_year - start + 1]
        spells: list[tuple[str, int, int]] = []
        k = 0
        while k < len(years):
            j = k
            while j + 1 < len(years) and years[j + 1] == years[k]:
                j += 1
            spells.append((years[k], start + k, start + j))
            k = j + 1
        for strategy in dict.fromkeys(s for s, _, _ in spells):
            mine = [(y0, y1) for s, y0, y1 in spells if s == strategy]
            for inst in b.instruments[(pl.name, strategy)]:
                if inst["type"] in COMMITTED:
                    y0 = mine[0][0]
                    first = max(dt.date.fromisoformat(inst["start"]), dt.date(y0, 1, 1))
                    insts.append({**inst, "start": first.isoformat(), "name": f"{inst['name']}@{y0}"})
                    continue
                if inst["type"] in STATEFUL:
                    # A stock, once started, is one instrument from the first to the last spell
                    # of its strategy: it is not bought again when the strategy returns.
                    y0, y1 = mine[0][0], mine[-1][1]
                    c = _clip(inst, dt.date(y0, 1, 1), dt.date(y1, 12, 31), f"@{y0}")
                    if c is not None:
                        insts.append(c)
                    continue
                for y0, y1 in mine:
                    c = _clip(inst, dt.date(y0, 1, 1), dt.date(y1, 12, 31), f"@{y0}")
                    if c is not None:
                        insts.append(c)
    # An exclusion whose tariff was not in force in its spell would name a missing tariff: drop it.
    tariffs = {i.get("name") for i in insts if i["type"] == "import_tariff"}
    insts = [i for i in insts if i["type"] != "tariff_exclusion" or i["tariff"] in tariffs]
    data = _scenario_data(b, f"{game.name}[path to {last_year}]", f"Game {game.name}: repeated path", insts)
    data["horizon"] = {**data["horizon"], "end": last_year}
    return parse(data, f"{game.name}: repeated path to {last_year}")
