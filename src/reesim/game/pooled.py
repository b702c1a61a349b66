"""A game's ensemble on one Dask pool, its members pipelined.

Solving the members one after another, each member's profiles in parallel, leaves workers idle
twice per member: while the client runs the member's base, and at the tail of its profiles,
when fewer profiles are left than workers (the longest profile, with a price floor, runs alone).
Here every member's base run is a task on the pool like its profiles, and the profiles depend on
their base's future, so the scheduler starts the next member's base on the first worker that
the current member leaves. Priorities keep the members in order (a member's tasks before the
next member's; within a member the base first, then the profiles longest first, as
:func:`reesim.game.payoffs._longest_first` orders them), and only a few members are in flight
at once (their base runs stay in the workers' memory until their profiles are done).

Each task is the computation a serial run does (:func:`reesim.game.payoffs.payoff_tensor`), so
the payoffs are the same; a member whose base or a profile fails with an input error or a model
failure is recorded with that error (the base's first, then the profiles' in the run order),
never redrawn, and the other members go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reesim.errors import InputError, ModelFailure
from reesim.game.payoffs import (
    PayoffTensor,
    Prepared,
    _cache_write,
    _run_profile,
    assemble,
    base_term_values,
    own,
    prepare_profiles,
)
from reesim.game.profiles import all_profiles
from reesim.game.spec import Game
from reesim.pool import no_match, submit, watch
from reesim.relay import reissue
from reesim.scenario.spec import Scenario
from reesim.simulate.result import Result

#: what a member's failure may be (anything else is a defect and stops the ensemble)
MEMBER_ERRORS = (InputError, ModelFailure)


def _run_base(base: Scenario) -> Result:
    """Worker: the member's base run (as :func:`reesim.game.payoffs.payoff_tensor` runs it)."""
    from reesim.simulate import simulate

    return simulate(base)


#: what a pool task returns (:func:`reesim.pool.on_worker`): its result, its warnings, its worker's runtime
Task = tuple[Any, list, tuple[str, ...]]


def _base_terms(base: Task, game_json: str) -> tuple[dict[tuple[str, str], float], list, tuple[str, ...]]:
    """Worker: each declared term's share in the base run, the base run's warnings and the runtime
    that ran it (the client needs only these, not the run)."""
    return base_term_values(Game.model_validate_json(game_json), base[0]), base[1], base[2]


def _profile(data: dict, label: str, base: Task, game_json: str) -> dict:
    """Worker: one profile against its member's base (``base``: the base task's run, warnings and runtime)."""
    return _run_profile(data, label, base[0], game_json)


@dataclass
class _Member:
    """One member in flight: its prepared profiles and its futures (base, terms, then the profiles)."""

    member: int
    prep: Prepared
    futures: list  # base, base terms, then the profiles in prep.todo's order
    left: int


def members_on_pool(
    client: Any,
    game: Game,
    folder: Path | None,
    rows: Iterable[tuple[int, dict[str, float]]],
    *,
    cache: bool = True,
    progress: Callable[[int, str | None], None] | None = None,
) -> dict[int, PayoffTensor | str]:
    """Each member's payoff tensor (with the builds that computed it), or its error, run on ``client``.

    Parameters
    ----------
    client : distributed.Client
        The open pool.
    game, folder : Game, Path
        The game and the folder of its file.
    rows : iterable of (member, values)
        The members in design order, each with its assumption values.
    cache : bool
        Read and write the on-disk cache of profile outcomes (as :func:`payoff_tensor`).
    progress : callable, optional
        Called as ``progress(member, error or None)`` when a member is done, in the order
        members finish.
    """
    return _Pipeline(client, game, folder, rows, cache, progress).run()


class _Pipeline:
    """The members of a game's ensemble in flight on one pool (:func:`members_on_pool`): each
    member's tasks submitted as it is launched, its payoffs assembled once all of them are done,
    and the next members launched as the ones in flight finish."""

    def __init__(self, client: Any, game: Game, folder: Path | None, rows, cache: bool, progress) -> None:
        from distributed import as_completed

        self.client, self.game, self.folder, self.cache, self.progress = client, game, folder, cache, progress
        self.game_json = game.model_dump_json()
        self.pending = iter(rows)
        self.out: dict[int, PayoffTensor | str] = {}
        self.flight: dict[str, _Member] = {}  # future key -> its member
        self.active: dict[int, _Member] = {}  # the members in flight, by member id
        self.finished = as_completed()
        self.order = 0  # members submitted so far: the priority of the next
        # Priorities, higher first: member i's tasks lie in [-(i + 1) stride + 2, -i stride + 2], its
        # base and terms on top, then its profiles longest first, all above member i + 1's.
        self.n_profiles = len(all_profiles(game))
        self.stride = self.n_profiles + 3

    def fail(self, member: int, exc: BaseException) -> None:
        self.out[member] = f"{type(exc).__name__}: {exc}"
        if self.progress:
            self.progress(member, self.out[member])

    def window(self) -> int:
        """Members to keep in flight: enough that every thread of the pool (counted now: a
        scheduler's workers may join later) has a task while a member's profiles thin out."""
        slots = sum(self.client.nthreads().values())
        return max(2, math.ceil(slots / (self.n_profiles + 1)) + 1)

    def launch(self) -> bool:
        """Submit the next member that prepares without error; False when none is left."""
        for member, values in self.pending:
            try:
                prep = prepare_profiles(self.game, self.folder, values, self.cache)
            except MEMBER_ERRORS as exc:
                self.fail(member, exc)
                continue
            futs = _submit(self.client, prep, self.game_json, top=-self.order * self.stride + 2)
            self.order += 1
            m = self.active[member] = _Member(member, prep, futs, len(futs))
            for f in futs:
                self.flight[f.key] = m
                self.finished.add(f)
            return True
        return False

    def fill(self) -> None:
        while len(self.active) < self.window() and self.launch():
            pass

    def futures(self) -> list:
        """The futures of the members in flight (read from :func:`reesim.pool.watch`'s thread too)."""
        return [f for m in list(self.active.values()) for f in m.futures]

    def run(self) -> dict[int, PayoffTensor | str]:
        """Every member's payoff tensor or error; nothing left running on the pool on return."""
        try:
            with watch(self.client, self.futures):
                self.fill()
                for f in self.finished:
                    m = self.flight.pop(f.key)
                    m.left -= 1
                    if m.left:
                        continue
                    try:  # still in flight for the watch: a result whose worker left is computed again
                        _finish(m, self.game, self.cache, self.out, self.fail, self.progress)
                    except Exception as exc:
                        if (mismatch := no_match(exc)) is None:
                            raise
                        # no worker of the cluster runs this reesim (reesim.pool.watch): nor will it
                        # for the members to come
                        for member in [*self.active, *(k for k, _ in self.pending)]:
                            self.fail(member, mismatch)
                        break
                    del self.active[m.member]
                    self.fill()
        finally:  # an error or Ctrl-C: nothing left running on the pool
            self.client.cancel(self.futures())
        return self.out


def _submit(client: Any, prep: Prepared, game_json: str, top: int) -> list:
    """A member's tasks (:func:`reesim.pool.submit`: only on workers that run this reesim, checked
    there): its base run and base terms at priority ``top``, then its profiles longest first below it."""
    # the base as the serial run has it (a Scenario, not re-parsed: no second warning pass)
    futs = [submit(client, _run_base, prep.bundles.base, pure=False, priority=top)]
    futs.append(submit(client, _base_terms, futs[0], game_json, pure=False, priority=top))
    for rank, k in enumerate(prep.todo):
        sc = prep.scenarios[k]
        futs.append(
            submit(
                client,
                _profile,
                sc.model_dump(mode="json"),
                sc.name,
                futs[0],
                game_json,
                pure=False,  # unique keys: a profile re-run is run again
                priority=top - 1 - rank,
            )
        )
    return futs


def _finish(m: _Member, game: Game, cache: bool, out: dict, fail, progress) -> None:
    """A member whose futures are all done: its payoffs, or its first error (the base's, then the
    profiles' in run order). The warnings of the tasks that finished are issued again here, in
    the same order, failed member or not; the profiles' outcomes are cached before the payoffs are
    assembled, as :func:`reesim.game.payoffs.payoff_tensor` does."""
    terms = m.futures[1]  # the base run itself stays on its worker
    done = [f for f in m.futures[2:] if f.status == "finished"]
    if terms.status == "finished":
        (_, base_caught, _), terms_caught, _ = terms.result()
        reissue(base_caught)
        reissue(terms_caught)
    for f in done:
        reissue(f.result()[1])  # the workers' warnings, printed and counted by this process
    for f in m.futures:
        if f.status == "cancelled":  # by reesim.pool.watch (every worker runs another reesim) or the caller
            f.result()  # raises its cancellation
        if f.status == "error":
            exc = f.exception()
            if not isinstance(exc, MEMBER_ERRORS):
                raise exc
            fail(m.member, exc)
            return
    from reesim.cache import runtime

    # read again: a result whose worker left since is computed again, or cancelled by the watch
    (base_terms, _, base_ran_with), _, _ = terms.result()
    outcomes = list(m.prep.outcomes)
    here = runtime()
    runtimes = [here] * len(outcomes)  # a cached outcome's key names this runtime
    for k, f in zip(m.prep.todo, m.futures[2:], strict=True):
        outcomes[k], _, runtimes[k] = f.result()
    if cache:  # not kept under this process's runtime: what another build computed (payoffs.own)
        for k in own(m.prep.todo, runtimes, base_ran_with):
            _cache_write(m.prep.keys[k], outcomes[k])
    try:
        tensor = assemble(
            game, outcomes, base_terms, m.prep.hits, runtimes=runtimes, base_runtime=base_ran_with
        )
    except MEMBER_ERRORS as exc:
        fail(m.member, exc)
        return
    out[m.member] = tensor
    if progress:
        progress(m.member, None)
