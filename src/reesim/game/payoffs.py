"""The payoff tensor: one simulator run per strategy profile, measured against the base run.

Every profile's scenario is simulated over the game's horizon with the base run as its
counterfactual (licences given as approval shares refer to the base's exports). A player's
welfare payoff is the present value of the change in total welfare of its regions
(:func:`reesim.impacts.compare.welfare_table` and :func:`~reesim.impacts.compare.discounted`:
consumer and producer surplus, tariff and export-tax revenue, quota rents, congestion margin,
minus fiscal costs), million USD at the game's discount rate, base year = the horizon's first
year. Declared terms add ``weight x (share in the profile - share in the base)``.

Runs are cached on disk by a hash of the profile's resolved scenario, the base's, the discount
rate, the declared terms, the dataset version and a hash of reesim's code (each file verified
against its recorded SHA-256 before use, :mod:`reesim.cache`); missing profiles run in parallel on
the shared Dask pool (:func:`reesim.pool.dask_pool`: a local cluster of persistent workers, or a
scheduler's cluster), longest first, with the base run sent to each worker once. The cache is
bounded like reesim's others (:func:`reesim.cache.evict`): beyond :data:`CACHE_KEEP` outcomes or
:data:`CACHE_MAX_BYTES` the least recently used are removed, so that games submitted to ``reesim
serve`` cannot fill its disk.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reesim.errors import InputError, suggest
from reesim.game.profiles import Bundles, all_profiles, bundles, profile_label, profile_scenario
from reesim.game.spec import Game, Term
from reesim.scenario.load import scenario_hash
from reesim.scenario.spec import Scenario
from reesim.simulate.result import Result

CACHE_FORMAT = 2
#: profile outcomes kept on disk (about 4 KB each; a game has at most ``max_members`` profiles)
#: and their total size: the least recently used beyond either are removed
CACHE_KEEP, CACHE_MAX_BYTES = 5_000, 50_000_000


def term_value(res: Result, regions: list[str], term: Term) -> float:
    """The share (%) a term measures in a run, averaged over the steps (weighted by step length).

    See :class:`reesim.game.spec.Term` for the definitions.
    """
    if term.kind == "supply_not_from":
        cons = res.consumption
        cons = cons[cons["region"].isin(regions) & cons["commodity"].isin(term.commodities)]
        total = cons.groupby("period")["tonnes"].sum()
        tr = res.trade
        tr = tr[
            tr["importer"].isin(regions)
            & tr["exporter"].isin(term.adversary)
            & tr["commodity"].isin(term.commodities)
        ]
        bad = tr.groupby("period")["tonnes"].sum().reindex(total.index, fill_value=0.0)
        share = 100.0 * (1.0 - bad / total.where(total > 0))
    else:
        prod = res.production
        prod = prod[prod["kind"] == term.stage]
        world = prod.groupby("period")["tonnes"].sum()
        own = (
            prod[prod["region"].isin(regions)]
            .groupby("period")["tonnes"]
            .sum()
            .reindex(world.index, fill_value=0.0)
        )
        share = 100.0 * own / world.where(world > 0)
    ok = share.notna()
    if not ok.any():
        return float("nan")
    return float(share[ok].mean())  # steps of a horizon have equal length


def outcome(res: Result, base: Result, game: Game) -> dict:
    """What the game needs from one run: welfare PV by region and component, term shares, headline figures."""
    from reesim.impacts.compare import discounted, price_table, shortage_table, welfare_table

    welfare = welfare_table(res, base)
    base_year = int(welfare["year"].min())
    pv = discounted(welfare, game.discount_rate, base_year)
    tot = pv[pv["component"] == "total"]
    comp = pv[pv["component"] != "total"]
    prices = price_table(res, base)
    mag = prices[prices["commodity"] == "magnet:ndfeb"]
    short = shortage_table(res, base)
    short = short[short["sector"] == "magnet users"]
    return {
        "welfare_pv_usd_million": dict(zip(tot["region"], tot["pv_usd_million"].astype(float), strict=True)),
        "welfare_pv_components": {
            r: dict(zip(g["component"], g["pv_usd_million"].astype(float), strict=True))
            for r, g in comp.groupby("region")
        },
        "terms": {
            f"{pl.name}:{t.label}": term_value(res, pl.regions, t) for pl in game.players for t in pl.terms
        },
        "magnet_price_change_pct_peak": {
            m: float(g.loc[g["change_pct"].abs().idxmax(), "change_pct"]) if len(g) else 0.0
            for m, g in mag.groupby("market")
        },
        "magnet_shortage_pct_peak": {
            r: float(100 * g["shortage_share"].fillna(0).max()) for r, g in short.groupby("region")
        },
    }


def _run_profile(data: dict, label: str, base: Result, game_json: str) -> dict:
    """Worker: simulate one profile against the base and measure its outcome."""
    from reesim.scenario.load import parse
    from reesim.simulate import simulate

    game = Game.model_validate_json(game_json)
    sc = parse(data, label)
    res = simulate(sc, counterfactual=base)
    return outcome(res, base, game)


def _cache_key(sc: Scenario, base: Scenario, game: Game) -> str:
    """A profile's key (:func:`reesim.cache.computed_key`: with the dataset, every module that
    simulates and measures, and the runtime, whose builds give other last bits on another CPU)."""
    from reesim.cache import computed_key

    payload = {
        "format": CACHE_FORMAT,
        "profile": scenario_hash(sc),
        "base": scenario_hash(base),
        "discount_rate": game.discount_rate,
        "terms": {pl.name: [t.model_dump(mode="json") for t in pl.terms] for pl in game.players},
        "regions": {pl.name: pl.regions for pl in game.players},
    }
    return computed_key("game profile", payload)


def _cache_folder() -> Path | None:
    from reesim.cache import subfolder

    return subfolder("games")  # private (mode 0700, yours, not a link) or not used


def _cache_read(key: str) -> dict | None:
    """A cached outcome, verified against the hash recorded when it was written (else ``None``)."""
    from reesim.cache import read_blob

    folder = _cache_folder()
    path = None if folder is None else folder / f"{key}.json"
    payload = None if path is None else read_blob(path)
    try:
        value = None if payload is None else json.loads(payload)
    except ValueError:
        return None
    if value is not None:
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: eviction removes the least recently used
    return value


def _cache_write(key: str, value: dict) -> None:
    from reesim.cache import evict, write_blob

    folder = _cache_folder()
    if folder is None:
        return  # no private cache folder: it only costs time
    if write_blob(folder / f"{key}.json", json.dumps(value).encode()):
        evict(folder, "*.json", CACHE_KEEP, CACHE_MAX_BYTES)


@dataclass(frozen=True)
class PayoffTensor:
    """Outcomes of every pure profile and the payoffs they give each player.

    ``welfare[s_1, ..., s_k, i]`` is player ``i``'s welfare payoff (million USD, present value);
    ``terms[(player, label)]`` the change of the term's share in percentage points against the
    base (shape ``(n_1, ..., n_k)``); ``weights[(player, label)]`` its declared weight.
    """

    game: Game
    welfare: np.ndarray
    terms: dict[tuple[str, str], np.ndarray]
    weights: dict[tuple[str, str], float]
    base_terms: dict[tuple[str, str], float]
    outcomes: tuple[dict, ...] = field(repr=False)  # in the order of all_profiles(game)
    cached: int = 0
    #: the runtime (:func:`reesim.cache.runtime`) that computed each profile's outcome, in the order
    #: of all_profiles(game) (this process's for one read from the cache, whose key names it), and
    #: the base run's; empty where not recorded
    runtimes: tuple[tuple[str, ...], ...] = field(default=(), repr=False)
    base_runtime: tuple[str, ...] = field(default=(), repr=False)

    def builds(self) -> dict:
        """Which builds computed the payoffs (``equilibria.json``'s ``builds``): the short id
        (:func:`reesim.cache.runtime_id`) of the base run's runtime, each profile's by its label,
        and each id's runtime; empty where not recorded. Another CPU's builds of the same
        libraries give figures that differ in the last digits (a scheduler's workers)."""
        from reesim.cache import runtime_id

        if not self.runtimes:
            return {}
        ids: dict[str, list[str]] = {}

        def named(rt: tuple[str, ...]) -> str:
            rid = runtime_id(rt)
            ids.setdefault(rid, list(rt))
            return rid

        profiles = {
            profile_label(self.game, prof): named(rt)
            for prof, rt in zip(all_profiles(self.game), self.runtimes, strict=True)
        }
        return {"base": named(self.base_runtime), "profiles": profiles, "runtimes": ids}

    @property
    def players(self) -> tuple[str, ...]:
        """Player names."""
        return tuple(p.name for p in self.game.players)

    @property
    def strategies(self) -> tuple[tuple[str, ...], ...]:
        """Strategy names per player."""
        return tuple(tuple(s.name for s in p.strategies) for p in self.game.players)

    def payoffs(self, weights: dict[tuple[str, str], float] | None = None) -> np.ndarray:
        """Payoff array ``(n_1, ..., n_k, k)``: welfare plus weighted terms (weights default to the declared ones)."""
        w = {**self.weights, **(weights or {})}
        unknown = sorted(set(w) - set(self.terms))
        if unknown:
            raise InputError(
                suggest(f"{unknown[0][0]}:{unknown[0][1]}", [f"{p}:{t}" for p, t in self.terms], what="term")
            )
        P = self.welfare.copy()
        for (player, label), delta in self.terms.items():
            i = self.players.index(player)
            P[..., i] += w[(player, label)] * delta
        return P

    def table(self, weights: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
        """One row per profile and player: strategies, welfare, term changes, payoff."""
        P = self.payoffs(weights)
        rows = []
        for k, prof in enumerate(all_profiles(self.game)):
            strat = {
                f"strategy_{p}": self.strategies[i][s]
                for i, (p, s) in enumerate(zip(self.players, prof, strict=True))
            }
            for i, p in enumerate(self.players):
                row = {
                    **strat,
                    "player": p,
                    "welfare_pv_usd_million": float(self.welfare[(*prof, i)]),
                    "payoff_usd_million": float(P[(*prof, i)]),
                }
                for (pp, label), delta in self.terms.items():
                    if pp == p:
                        row[f"term_{label}_change_pp"] = float(delta[prof])
                o = self.outcomes[k]
                row["world_welfare_pv_usd_million"] = float(sum(o["welfare_pv_usd_million"].values()))
                row["magnet_price_outside_china_peak_change_pct"] = o["magnet_price_change_pct_peak"].get(
                    "outside China", 0.0
                )
                rows.append(row)
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class Prepared:
    """A game's profiles for one base, before any run: what :func:`payoff_tensor` and a game's
    pooled ensemble (:mod:`reesim.game.pooled`) share."""

    bundles: Bundles  # the strategy bundles, the base with the member's values applied
    scenarios: list[Scenario]  # one per profile, in the order of :func:`all_profiles`
    keys: list[str]  # each profile's cache key
    outcomes: tuple[dict | None, ...]  # each profile's cached outcome, None where it must run
    todo: list[int]  # the profiles to run, longest first
    hits: int  # profiles read from the cache


def prepare_profiles(
    game: Game, folder: Path | None, values: dict[str, float] | None = None, cache: bool = True
) -> Prepared:
    """The profiles' scenarios, cache keys and cached outcomes for the base with ``values`` applied.

    Raises
    ------
    InputError
        If the base is not a valid counterfactual or a player names a region or commodity the
        base's world lacks.
    """
    from reesim.ensemble.space import apply as apply_values
    from reesim.scenario.checks import check_counterfactual
    from reesim.world.default import load_default_world

    b = bundles(game, folder)
    check_counterfactual(b.base, "base")  # every profile runs against the base
    # The players' regions and goods are checked on the base's own world (one build, cached):
    # a member's values change its numbers, not its regions and goods, and the member's world is
    # built by its base run (a value the world refuses fails that run).
    world = load_default_world(b.base.world.reference_year, assumptions=b.base.world.assumptions)
    _check_players(game, world)
    if values:
        b = replace(b, base=apply_values(b.base, values))
    scenarios = [profile_scenario(game, b, prof) for prof in all_profiles(game)]
    keys = [_cache_key(sc, b.base, game) for sc in scenarios]
    outcomes = tuple(_cache_read(k) if cache else None for k in keys)
    todo = _longest_first(scenarios, [k for k, o in enumerate(outcomes) if o is None])
    return Prepared(b, scenarios, keys, outcomes, todo, sum(o is not None for o in outcomes))


def payoff_tensor(
    game: Game,
    folder: Path | None = None,
    *,
    workers: int | None = None,
    cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    values: dict[str, float] | None = None,
    scheduler: str | None = None,
    client: Any = None,
) -> tuple[PayoffTensor, Bundles, Result]:
    """Simulate every profile (cached, in parallel) and assemble the payoff tensor.

    Parameters
    ----------
    game : Game
        The game definition.
    folder : Path, optional
        Folder of the game file (relative scenario paths are read from there first).
    workers : int, optional
        Worker processes (default: the machine's cores); 1 runs in this process.
    cache : bool
        Read and write the on-disk cache of profile outcomes.
    progress : callable, optional
        Called as ``progress(done, total)`` after the base run and after each profile.
    values : dict, optional
        One ensemble member's assumption values (:func:`reesim.ensemble.space.apply`), applied
        to the base and so to every profile.
    scheduler : str, optional
        Address of a Dask scheduler (``tls://host:8786``) to run the profiles on, instead of a
        local cluster of ``workers`` processes (:func:`reesim.pool.dask_pool`).
    client : distributed.Client, optional
        A pool already open (a game's ensemble keeps one for all its members); overrides
        ``workers`` and ``scheduler``.

    Returns
    -------
    (PayoffTensor, Bundles, Result)
        The tensor, the resolved strategy bundles and the base run.
    """
    from reesim.simulate import simulate

    prep = prepare_profiles(game, folder, values, cache)
    b, scenarios, keys, todo, hits = prep.bundles, prep.scenarios, prep.keys, prep.todo, prep.hits
    from reesim.cache import runtime

    outcomes = list(prep.outcomes)  # the runs below fill in the rest
    here = runtime()
    runtimes = [here] * len(outcomes)  # a cached outcome's key names this runtime
    total = len(scenarios) + 1
    base_res = simulate(b.base)
    base_terms = base_term_values(game, base_res)
    if progress:
        progress(1, total)
    done = 1 + hits
    if progress:
        progress(done, total)
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    if todo:

        def tick() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        ran, ran_with = _run_profiles(
            scenarios, todo, base_res, game.model_dump_json(), tick, n_workers, scheduler, client
        )
        for k in todo:
            outcomes[k], runtimes[k] = ran[k], ran_with[k]
        if cache:
            for k in own(todo, runtimes, here):  # not what a worker with other builds computed
                _cache_write(keys[k], outcomes[k])
    return assemble(game, outcomes, base_terms, hits, runtimes=runtimes, base_runtime=here), b, base_res


def own(todo: list[int], runtimes: list[tuple[str, ...]], base_runtime: tuple[str, ...]) -> list[int]:
    """The profiles of ``todo`` whose outcome this process's runtime computed against a base it ran
    too: the only ones kept in the cache, whose keys name this runtime (another CPU's builds give
    figures that differ in the last digits; such an outcome is used, not kept)."""
    from reesim.cache import runtime

    here = runtime()
    return [k for k in todo if runtimes[k] == here] if base_runtime == here else []


def _check_players(game: Game, world) -> None:
    """Every player's regions and every term's commodities and adversaries exist in ``world``."""
    for p, pl in enumerate(game.players):
        for r in pl.regions:
            if r not in world.regions:
                raise InputError(f"players[{p}].regions: {suggest(r, world.regions, what='region')}")
        for j, t in enumerate(pl.terms):
            for c in t.commodities:
                if c not in world.commodities:
                    raise InputError(
                        f"players[{p}].terms[{j}].commodities: {suggest(c, world.commodities, what='commodity')}"
                    )
            for r in t.adversary:
                if r not in world.regions:
                    raise InputError(
                        f"players[{p}].terms[{j}].adversary: {suggest(r, world.regions, what='region')}"
                    )


def base_term_values(game: Game, base_res: Result) -> dict[tuple[str, str], float]:
    """Each declared term's share in the base run (refused where it measures nothing)."""
    base_terms = {
        (pl.name, t.label): term_value(base_res, pl.regions, t) for pl in game.players for t in pl.terms
    }
    for (player, label), v in base_terms.items():
        if not np.isfinite(v):
            raise InputError(
                f"term '{label}' of {player} measures nothing in the base run (no consumption or output of what it "
                "counts in the player's regions); change its commodities, stage or the player's regions"
            )
    return base_terms


def _longest_first(scenarios: list[Scenario], todo: list[int]) -> list[int]:
    """Profiles to run, longest first (price floors iterate the equilibrium many times per step):
    better load balance."""
    return sorted(
        todo,
        key=lambda k: (
            -sum(i.type == "price_floor" for i in scenarios[k].instruments),
            -len(scenarios[k].instruments),
        ),
    )


def _run_profiles(
    scenarios: list[Scenario],
    todo: list[int],
    base: Result,
    game_json: str,
    tick: Callable[[], None],
    n_workers: int,
    scheduler: str | None,
    client: Any,
) -> tuple[dict[int, dict], dict[int, tuple[str, ...]]]:
    """The outcomes of the profiles ``todo`` against ``base``, in this process (one worker, no
    pool) or on a Dask pool (``client``, else one opened for them), and the runtime that ran
    each (:func:`reesim.cache.runtime`: a scheduler's worker may have other builds)."""
    from reesim.cache import runtime

    if client is None and scheduler is None and n_workers == 1:
        out = {}
        for k in todo:
            out[k] = _run_profile(scenarios[k].model_dump(mode="json"), scenarios[k].name, base, game_json)
            tick()
        return out, dict.fromkeys(todo, runtime())
    from reesim.pool import dask_pool
    from reesim.relay import reissue

    if client is not None:
        results = _on_pool(client, scenarios, todo, base, game_json, tick)
    else:
        with dask_pool(n_workers, scheduler) as pool:
            results = _on_pool(pool, scenarios, todo, base, game_json, tick)
    out, ran_with = {}, {}
    for k, (r, caught, rt) in zip(todo, results, strict=True):
        reissue(caught)  # the workers' warnings, printed and counted by this process
        out[k], ran_with[k] = r, rt
    return out, ran_with


def _on_pool(client, scenarios: list[Scenario], todo: list[int], base: Result, game_json: str, tick) -> list:
    """Run the profiles ``todo`` on a Dask pool, longest first; ``(outcome, warnings, runtime)`` of each, in
    the order of ``todo``. The base run is sent to the cluster once, not with every profile
    (:func:`reesim.pool.share`).

    A profile that fails on a worker raises here as it would in process (an input error or a
    model failure names the profile's scenario), after the other profiles were cancelled; so
    does a :class:`reesim.pool.WorkerMismatch` if every worker of the cluster ran another reesim
    for too long (:func:`reesim.pool.watch`).
    """
    from distributed import as_completed

    from reesim.pool import no_match, share, submit, watch

    base_f = share(client, base)  # computed again if every worker that holds it leaves
    futures = [
        submit(
            client,
            _run_profile,
            scenarios[k].model_dump(mode="json"),
            scenarios[k].name,
            base_f,
            game_json,
            pure=False,  # unique keys: a profile re-run is run again
        )
        for k in todo
    ]
    try:
        with watch(client, lambda: futures):  # read inside: a result whose worker left is computed again
            for _ in as_completed(futures):
                tick()
            return [f.result() for f in futures]
    except Exception as exc:
        if (mismatch := no_match(exc)) is not None:
            raise mismatch from None
        raise
    finally:
        client.cancel(futures)


def assemble(
    game: Game,
    outcomes: list[dict],
    base_terms: dict[tuple[str, str], float],
    hits: int = 0,
    *,
    runtimes: list[tuple[str, ...]] | tuple = (),
    base_runtime: tuple[str, ...] = (),
) -> PayoffTensor:
    """The payoff tensor from every profile's outcome (in the order of :func:`all_profiles`), with
    the runtime that computed each and the base run's (:attr:`PayoffTensor.runtimes`)."""
    profs = all_profiles(game)
    shape = tuple(len(p.strategies) for p in game.players)
    welfare = np.zeros((*shape, len(game.players)))
    terms = {(pl.name, t.label): np.zeros(shape) for pl in game.players for t in pl.terms}
    for prof, o in zip(profs, outcomes, strict=True):
        for i, pl in enumerate(game.players):
            welfare[(*prof, i)] = sum(o["welfare_pv_usd_million"].get(r, 0.0) for r in pl.regions)
            for t in pl.terms:
                terms[(pl.name, t.label)][prof] = (
                    o["terms"][f"{pl.name}:{t.label}"] - base_terms[(pl.name, t.label)]
                )
    for (player, label), arr in terms.items():
        if not np.isfinite(arr).all():
            bad = all_profiles(game)[int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])]
            raise InputError(
                f"term '{label}' of {player} measures nothing in profile {profile_label(game, bad)}; "
                "change its commodities, stage or the player's regions"
            )
    weights = {(pl.name, t.label): t.weight_usd_million_per_pp for pl in game.players for t in pl.terms}
    return PayoffTensor(
        game,
        welfare,
        terms,
        weights,
        base_terms,
        tuple(outcomes),
        cached=hits,
        runtimes=tuple(runtimes),
        base_runtime=tuple(base_runtime),
    )


__all__ = ["PayoffTensor", "outcome", "payoff_tensor", "profile_label", "term_value"]
