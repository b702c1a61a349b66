"""The game over an ensemble of assumptions: expected payoffs and how often each equilibrium holds.

One payoff tensor per member of an ensemble design (:mod:`reesim.ensemble.design`): the member's
assumption values (world assumptions, dynamics) are applied to the game's base and so to every
profile (:func:`reesim.game.payoffs.payoff_tensor` with ``values``), each profile run against
the member's own base. Reported over the members that succeeded:

* the expected payoff of every profile and player (mean) with its 5th and 95th percentiles;
* for every profile, the share of members in which it is a pure Nash equilibrium (a strategy
  choice that holds whatever the assumptions, or only for some);
* the pure equilibria of the expected payoffs (a risk-neutral government's game).

A member that fails is recorded with its inputs and error, never redrawn (as in
:mod:`reesim.ensemble.runner`). Bases and profiles run on one Dask pool kept for all the members
(:func:`reesim.pool.dask_pool`), the members pipelined so that no worker waits for a member's
base or its last profile (:mod:`reesim.game.pooled`), and profiles are cached on disk by
scenario hash, so a re-run with the same design reads them back. Each member records the builds
that computed its base and profiles (``runtimes``: short ids of :func:`reesim.cache.runtime`,
spelled out in ``member_runtimes``): a scheduler's workers may have other CPU builds, whose
figures differ in the last digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reesim.ensemble.design import make_design
from reesim.ensemble.space import Parameter
from reesim.errors import InputError, ModelFailure
from reesim.game.analysis import pure_nash
from reesim.game.profiles import all_profiles, profile_label
from reesim.game.spec import Game


@dataclass(frozen=True)
class EnsembleGame:
    """Payoffs of every member (``payoffs[m, s_1, ..., s_k, i]``, million USD present value)."""

    game: Game
    design: pd.DataFrame  # member, seed, status, error, runtimes and the parameter values
    payoffs: np.ndarray  # members that succeeded x profile shape x players
    members: tuple[int, ...]  # the members behind each row of ``payoffs``
    #: each short id of ``design``'s ``runtimes`` column and its runtime (:func:`reesim.cache.runtime`)
    member_runtimes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def players(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.game.players)

    def expected(self) -> np.ndarray:
        """Mean payoff over the members, profile shape x players."""
        return self.payoffs.mean(axis=0)

    def equilibrium_share(self) -> np.ndarray:
        """Share of members in which each profile is a pure Nash equilibrium (profile shape)."""
        counts = np.zeros(self.payoffs.shape[1:-1])
        for P in self.payoffs:
            for prof in pure_nash(P):
                counts[prof] += 1
        return counts / max(1, len(self.payoffs))

    def table(self) -> pd.DataFrame:
        """One row per profile and player: mean, p5, p95 and the profile's equilibrium share."""
        share = self.equilibrium_share()
        expected_eq = set(pure_nash(self.expected()))
        rows = []
        for prof in all_profiles(self.game):
            for i, player in enumerate(self.players):
                v = self.payoffs[(slice(None), *prof, i)]
                rows.append(
                    {
                        "profile": profile_label(self.game, prof),
                        "player": player,
                        "mean_usd_million": float(v.mean()),
                        "p5_usd_million": float(np.percentile(v, 5)),
                        "p95_usd_million": float(np.percentile(v, 95)),
                        "equilibrium_share": float(share[prof]),
                        "equilibrium_of_expected": prof in expected_eq,
                    }
                )
        return pd.DataFrame(rows)

    def long(self) -> pd.DataFrame:
        """Every member's payoffs: ``member, profile, player, payoff_usd_million, pure_equilibrium``."""
        rows = []
        for m, P in zip(self.members, self.payoffs, strict=True):
            eq = set(pure_nash(P))
            for prof in all_profiles(self.game):
                for i, player in enumerate(self.players):
                    rows.append((m, profile_label(self.game, prof), player, float(P[(*prof, i)]), prof in eq))
        return pd.DataFrame(
            rows, columns=["member", "profile", "player", "payoff_usd_million", "pure_equilibrium"]
        )


def ensemble_game(
    game: Game,
    folder: Path | None,
    space: dict[str, Parameter],
    n: int,
    *,
    method: str = "lhs",
    seed: int = 0,
    workers: int | None = None,
    cache: bool = True,
    progress: Callable[[int, str | None], None] | None = None,
    scheduler: str | None = None,
) -> EnsembleGame:
    """Payoff tensors of ``n`` members of the design over ``space`` (module docstring).

    Every member's base and profiles run on one Dask pool (:func:`reesim.pool.dask_pool`),
    opened once for the ensemble (a worker pays its imports and the dataset once, not once per
    member), the members pipelined (:mod:`reesim.game.pooled`); with one worker and no
    scheduler they run in this process, one after another.
    """
    import os

    from reesim.pool import dask_pool

    if not space:
        raise InputError("--ensemble: nothing varies (no parameter in the space); add --vary NAME=DIST")
    names = sorted(space)
    design = make_design(space, n, method, seed)
    status: dict[int, str] = {}
    tensors, members = [], []
    n_workers = workers or os.cpu_count() or 1
    rows = [(int(r["member"]), {k: float(r[k]) for k in names}) for r in design.to_dict("records")]
    with dask_pool(n_workers, scheduler) as client:
        if client is not None:  # every member's base and profiles on the pool, pipelined
            from reesim.game.pooled import members_on_pool

            got = members_on_pool(client, game, folder, rows, cache=cache, progress=progress)
        else:
            got = _members_in_process(game, folder, rows, cache, progress)
    ran_with: dict[int, str] = {}  # member -> the short ids of the builds that computed it
    kept: dict[str, list[str]] = {}
    for m, _ in rows:
        t = got[m]
        if isinstance(t, str):
            status[m], ran_with[m] = t, ""
            continue
        status[m] = ""
        tensors.append(t.payoffs())
        members.append(m)
        b = t.builds()
        kept.update(b.get("runtimes", {}))
        ran_with[m] = ", ".join(sorted(b.get("runtimes", {})))
    design = design.assign(
        status=design["member"].map(lambda k: "failed" if status[k] else "ok"),
        error=design["member"].map(status),
        runtimes=design["member"].map(ran_with),
    )[["member", "seed", "status", "error", "runtimes", *names]]
    if not tensors:  # nothing is written: say why the first member failed
        first = next(m for m, _ in rows if status[m])
        raise ModelFailure(f"no member of the game's ensemble succeeded; member {first}: {status[first]}")
    return EnsembleGame(game, design, np.stack(tensors), tuple(members), kept)


def _members_in_process(game: Game, folder: Path | None, rows, cache: bool, progress) -> dict:
    """Each member's payoff tensor or its error, one member after another in this process (as
    :func:`reesim.game.pooled.members_on_pool` gives them on a pool)."""
    from reesim.game.payoffs import payoff_tensor

    out: dict = {}
    for m, values in rows:
        try:
            out[m], _, _ = payoff_tensor(game, folder, workers=1, cache=cache, values=values)
        except (InputError, ModelFailure) as exc:
            out[m] = f"{type(exc).__name__}: {exc}"
        if progress:
            progress(m, out[m] if isinstance(out[m], str) else None)
    return out
