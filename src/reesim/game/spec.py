"""The game definition: players, their strategies as bundles of scenario instruments, payoffs.

A game file (YAML) names the ``base`` scenario every strategy profile starts from (and against
which welfare is measured), the horizon and discount rate, and two or three players. Each
player has

* ``regions`` whose discounted welfare (the impacts module's total: consumer and producer
  surplus, tariff and tax revenue, quota rents, minus fiscal costs) is its payoff;
* ``strategies``: named bundles of instruments, given inline (``instruments:``, the scenario
  instrument format) and/or as shipped scenarios (``scenarios:``: the instruments a scenario
  adds to the base);
* ``cooperate`` and ``escalate``: the strategies the repeated-game rules play (default: the
  first and the last);
* optional ``terms``: declared, weighted additions to the payoff, each a share in percent
  (its change against the base) times a weight in million USD per percentage point.

Strict validation (unknown keys, duplicate names, unknown strategies) with YAML paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reesim.errors import InputError, suggest
from reesim.scenario.spec import Horizon, Instrument


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Term(_Strict):
    """A declared, weighted payoff term: weight (million USD per percentage point) x change of a share.

    Kinds
    -----
    ``supply_not_from``
        Share (%) of the player's regions' consumption of ``commodities`` not imported
        directly from the ``adversary`` regions (domestic output and imports from third
        regions count as trusted; the adversary's content inside third-region products is
        not traced), averaged over the horizon's steps.
    ``producer_share``
        Share (%) of world output of ``stage`` made in the player's regions, averaged over
        the horizon's steps.
    """

    kind: Literal["supply_not_from", "producer_share"]
    label: str = Field(description="short name shown in tables")
    weight_usd_million_per_pp: float = Field(
        0.0, description="million USD (present value) per percentage point of the share's change"
    )
    basis: str = Field(description="why this weight: a source or a stated judgement")
    commodities: list[str] = Field(["magnet:ndfeb"], description="goods (supply_not_from)")
    adversary: list[str] = Field(["CHN"], description="regions not trusted (supply_not_from)")
    stage: Literal["mining", "separation", "metal", "magnet"] = Field("magnet", description="producer_share")
    sensitivity: list[float] = Field(
        [], description="weights (million USD per pp) at which the equilibria are recomputed"
    )


class Strategy(_Strict):
    """A named bundle of instruments."""

    name: str
    description: str = ""
    scenarios: list[str] = Field(
        [], description="shipped scenario names or paths: the instruments each adds to the game's base"
    )
    instruments: list[Instrument] = Field([], description="instruments in the scenario format")


class Player(_Strict):
    """A government: the regions whose welfare it counts, its strategies, its declared extra terms."""

    name: str
    regions: list[str] = Field(min_length=1)
    strategies: list[Strategy] = Field(min_length=1)
    cooperate: str | None = Field(None, description="strategy the repeated-game rules call cooperation")
    escalate: str | None = Field(None, description="strategy the repeated-game rules call escalation")
    terms: list[Term] = []

    @model_validator(mode="after")
    def _names(self):
        names = [s.name for s in self.strategies]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"strategy names must be unique; repeated: {dup}")
        for key in ("cooperate", "escalate"):
            v = getattr(self, key)
            if v is not None and v not in names:
                raise ValueError(f"{key}: {suggest(v, names, what='strategy')}")
        labels = [t.label for t in self.terms]
        if len(set(labels)) != len(labels):
            raise ValueError("term labels must be unique")
        return self

    @property
    def cooperative(self) -> str:
        """The cooperative strategy (default: the first)."""
        return self.cooperate or self.strategies[0].name

    @property
    def escalation(self) -> str:
        """The escalation strategy (default: the last)."""
        return self.escalate or self.strategies[-1].name

    def index(self, strategy: str) -> int:
        """Position of a strategy by name."""
        return [s.name for s in self.strategies].index(strategy)


class Game(_Strict):
    """A game between governments whose payoffs come from simulator runs."""

    name: str
    description: str = ""
    base: str = Field(
        "baseline", description="scenario every profile starts from; welfare is measured against it"
    )
    horizon: Horizon | None = Field(None, description="default: the base scenario's horizon")
    discount_rate: Annotated[float, Field(ge=0, le=0.5)] = Field(
        0.03, description="real discount rate per year (default 3 %: OMB Circular A-4, 2003)"
    )
    players: list[Player] = Field(min_length=2, max_length=3)
    seed: int = Field(0, description="seed of the random draws of generous tit-for-tat")

    @model_validator(mode="after")
    def _unique(self):
        names = [p.name for p in self.players]
        if len(set(names)) != len(names):
            raise ValueError(f"player names must be unique; got {names}")
        return self

    def player(self, name: str) -> Player:
        """A player by name (case-insensitive), or an InputError listing the players."""
        for p in self.players:
            if p.name.lower() == name.lower():
                return p
        raise InputError(suggest(name, [p.name for p in self.players], what="player"))


def load_game(ref: str | Path) -> tuple[Game, Path | None]:
    """A game from a YAML path or a shipped name, and the folder relative scenario paths are read from."""
    from reesim.scenario.load import load_model

    return load_model(ref, "game", "games", Game)
