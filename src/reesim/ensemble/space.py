"""The uncertain inputs of an ensemble: which parameters vary, over what distribution.

By default every scalar assumption of the default world that states a ``range`` in
``default_world.yaml`` is drawn uniformly over that range, the capacity lead times over the
ranges DESIGN §4 and the build-out record state (:data:`DESIGN_LEAD_TIMES`), and the capex of new
magnet and separation capacity over the build-out record's (:data:`CAPEX_RANGES`). A user
overrides or adds any of them with ``--vary NAME=DIST``:

* ``uniform(low, high)``;
* ``triangular(low, mode, high)``;
* ``normal(mean, sd)``;
* ``lognormal(median, sigma)`` (``sigma`` the standard deviation of the logarithm);
* ``discrete(v1, v2, ...)`` (equally likely values);
* a plain number: the parameter is fixed at it.

Names: a world assumption by its key (``demand_elasticity_oxide``), a dynamics parameter as
``dynamics.<field>`` or ``dynamics.<field>.<stage>`` (``dynamics.lead_time_years.mining``), and
``mining_quota.growth_factor``: a multiplier on every growth rate of the scenario's mining
quotas (China's quota path; drawn by default over 0-1.2, see :data:`QUOTA_GROWTH_RANGE`).
Dynamics and quota draws apply to the counterfactual too (they are the outlook, not the measure).
Draws are made on the unit hypercube (:mod:`reesim.ensemble.design`) and mapped through
each distribution's quantile function (inverse-CDF sampling; McKay, Beckman & Conover 1979,
*Technometrics* 21(2) for the Latin hypercube).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from scipy import stats

from reesim.errors import InputError
from reesim.scenario.spec import Dynamics, Scenario

#: the kinds of distribution a parameter may take, with the number of arguments each needs
KINDS = {"uniform": 2, "triangular": 3, "normal": 2, "lognormal": 2, "discrete": None, "fixed": 1}

#: lead-time ranges (years), drawn uniformly by default, and their basis. Mines: DESIGN §4
#: (5-10 y; the build-out record has no new mine). Separation and magnets: the build-out record
#: of plants outside China (``plant_milestones``, ``reesim world buildout``): separation took
#: 0.9-4.1 years from start to first output (Lynas' heavy circuit and Molycorp's restart at the
#: low end, MP's Stage II at the top; Eneabba had none 2.7 years after its investment decision,
#: so DESIGN's 5 years stays the top); magnet plants 1.8-2.8 years (USA Rare Earth had none 3.0
#: years after its announcement, so the top is 3.5 rather than DESIGN's 3).
DESIGN_LEAD_TIMES = {"mining": (5.0, 10.0), "separation": (1.0, 5.0), "magnet": (1.0, 3.5)}
LEAD_TIME_BASIS = {
    "mining": "DESIGN §4 lead-time range",
    "separation": "build-out record: 0.9-4.1 y to first output, none yet at 2.7 y (plant_milestones)",
    "magnet": "build-out record: 1.8-2.8 y to first output, none yet at 3.0 y (plant_milestones)",
}

#: capex ranges (USD/kg/yr, annualised at 12 %), drawn from a triangular distribution whose mode
#: is the default, and their basis: the build-out record's capital cost per kg of annual capacity
#: (``reesim world buildout``, :mod:`reesim.backtest.capex`; a test keeps them equal to it).
#: Magnets: nine plants, 20-253 USD per kg (x 12 %). Separation: from the default (an expansion of
#: running plants, Lynas' MREC) to the dearest new plant of four in the record (Molycorp's 79).
CAPEX_RANGES = {"magnet": (2.4, 9.2, 30.4), "separation": (1.7, 1.7, 9.4)}
CAPEX_BASIS = {
    "magnet": "build-out record: nine magnet plants, 20-253 USD per kg of annual capacity, median 77 (x 12 %)",
    "separation": "default (Lynas' MREC, an expansion) to the record's dearest new plant, 79 USD per kg (x 12 %)",
}

#: the quota-growth multiplier's default range and its basis: 0 holds China's quota at 270 kt (USGS
#: estimates 2025 flat on 2024); 1.2 is about 2024's published growth (+5.9 %) over the baseline's 5 %
QUOTA_GROWTH = "mining_quota.growth_factor"
QUOTA_GROWTH_RANGE = (0.0, 1.2)
QUOTA_GROWTH_BASIS = (
    "0: quota held at 270 kt (USGS MCS 2026 estimates 2025 flat on 2024) to 1.2: about 2024's published "
    "growth, +5.9 % (china_export_quotas), over the baseline's 5 %/yr"
)

_DIST = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$")


@dataclass(frozen=True)
class Distribution:
    """One parameter's distribution: ``kind`` and its arguments (see the module docstring)."""

    kind: str
    args: tuple[float, ...]

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """The quantile function at ``u`` in (0, 1): a uniform draw mapped to this distribution."""
        a = self.args
        if self.kind == "fixed":
            return np.full(len(u), a[0])
        if self.kind == "uniform":
            return a[0] + (a[1] - a[0]) * u
        if self.kind == "triangular":
            lo, mode, hi = a
            c = 0.0 if hi == lo else (mode - lo) / (hi - lo)
            return stats.triang.ppf(u, c, loc=lo, scale=hi - lo)
        if self.kind == "normal":
            return stats.norm.ppf(u, loc=a[0], scale=a[1])
        if self.kind == "lognormal":
            return stats.lognorm.ppf(u, s=a[1], scale=a[0])
        values = np.asarray(a)  # discrete: equal weights
        return values[np.minimum((u * len(values)).astype(int), len(values) - 1)]

    def support(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take."""
        a = self.args
        if self.kind in ("normal",):
            return -math.inf, math.inf
        if self.kind == "lognormal":
            return 0.0, math.inf
        if self.kind in ("uniform", "triangular"):
            return a[0], a[-1]
        return min(a), max(a)

    def text(self) -> str:
        return f"{self.kind}({', '.join(f'{x:g}' for x in self.args)})"


@dataclass(frozen=True)
class Parameter:
    """An uncertain input: its name, distribution, the value it has without the ensemble and its basis."""

    name: str
    dist: Distribution
    value: float
    basis: str


def parse_distribution(name: str, text: str, origin: str = "--vary") -> Distribution:
    """``uniform(0.2, 0.8)`` and the like (module docstring); a clear :class:`InputError` otherwise.

    ``origin`` names where the text came from in the message (``--vary NAME`` or
    ``uncertainty.NAME`` of a scenario).
    """
    where = _where(origin, name)
    allowed = "uniform(low, high), triangular(low, mode, high), normal(mean, sd), lognormal(median, sigma), discrete(v1, v2, ...) or a number"
    try:
        return Distribution("fixed", (float(text),))
    except ValueError:
        pass
    m = _DIST.match(text)
    if not m or m.group(1) not in KINDS or m.group(1) == "fixed":
        raise InputError(f"{where}: {text!r} is not a distribution; allowed: {allowed}")
    kind = m.group(1)
    try:
        args = tuple(float(x) for x in m.group(2).split(","))
    except ValueError:
        raise InputError(
            f"{where}: {text!r} has an argument that is not a number; allowed: {allowed}"
        ) from None
    if not all(math.isfinite(x) for x in args):
        raise InputError(f"{where}: {text!r} has an argument that is not finite")
    need = KINDS[kind]
    if need is not None and len(args) != need:
        raise InputError(f"{where}: {kind} takes {need} numbers, got {len(args)} in {text!r}")
    if kind == "uniform" and not args[0] < args[1]:
        raise InputError(f"{where}: uniform(low, high) needs low < high, got {text!r}")
    if kind == "triangular" and not (args[0] <= args[1] <= args[2] and args[0] < args[2]):
        raise InputError(
            f"{where}: triangular(low, mode, high) needs low <= mode <= high and low < high, got {text!r}"
        )
    if kind in ("normal", "lognormal") and not args[1] > 0:
        raise InputError(f"{where}: the second argument of {kind} must be > 0, got {text!r}")
    if kind == "lognormal" and not args[0] > 0:
        raise InputError(f"{where}: lognormal's median must be > 0, got {text!r}")
    return Distribution(kind, args)


def default_space(scenario: Scenario) -> dict[str, Parameter]:
    """Every stated assumption range of the default world, the lead-time ranges (:data:`DESIGN_LEAD_TIMES`)
    and the capex ranges of the build-out record (:data:`CAPEX_RANGES`).

    A world assumption the scenario itself sets (``world.assumptions``) is taken as chosen,
    not uncertain, and is left out.
    """
    from reesim.world.default import load_config

    space: dict[str, Parameter] = {}
    for key, spec in load_config()["assumptions"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), int | float):
            continue
        rng = spec.get("range")
        if not rng or key in scenario.world.assumptions or not rng[0] < rng[1]:
            continue
        space[key] = Parameter(
            key,
            Distribution("uniform", (float(rng[0]), float(rng[1]))),
            float(spec["value"]),
            f"default_world.yaml range ({spec.get('basis', '')[:80]})",
        )
    for stage, (lo, hi) in DESIGN_LEAD_TIMES.items():
        name = f"dynamics.lead_time_years.{stage}"
        space[name] = Parameter(
            name,
            Distribution("uniform", (lo, hi)),
            float(scenario.dynamics.lead_time_years[stage]),
            LEAD_TIME_BASIS[stage],
        )
    defaults = Dynamics.model_fields["capex_usd_per_kg_year"].default
    for stage, (lo, mode, hi) in CAPEX_RANGES.items():
        if scenario.dynamics.capex_usd_per_kg_year[stage] != defaults[stage]:
            continue  # the scenario chose its own capex: taken as chosen, as a world assumption it sets
        name = f"dynamics.capex_usd_per_kg_year.{stage}"
        space[name] = Parameter(
            name,
            Distribution("triangular", (lo, mode, hi)),
            float(scenario.dynamics.capex_usd_per_kg_year[stage]),
            CAPEX_BASIS[stage],
        )
    if _quota_growths(scenario):
        space[QUOTA_GROWTH] = Parameter(
            QUOTA_GROWTH, Distribution("uniform", QUOTA_GROWTH_RANGE), 1.0, QUOTA_GROWTH_BASIS
        )
    return space


def _quota_growths(scenario: Scenario) -> bool:
    """Whether the scenario has a mining quota with a growth path (something to scale)."""
    return any(i.type == "mining_quota" and i.growth for i in scenario.instruments)


def scenario_space(scenario: Scenario, vary: list[str], only_vary: bool = False) -> dict[str, Parameter]:
    """What an ensemble of ``scenario`` draws: the default ranges (unless ``only_vary``), then the
    scenario's own ``uncertainty``, then ``--vary`` (each replaces what came before it by name)."""
    space = {} if only_vary else default_space(scenario)
    space = _apply(space, scenario, list(scenario.uncertainty.items()), "uncertainty")
    return with_overrides(space, scenario, vary)


def check_uncertainty(scenario: Scenario, label: str | None = None) -> None:
    """Refuse a scenario whose ``uncertainty`` names an unknown parameter or a bad distribution
    (``reesim validate`` and ``/api/validate``; a single run does not read it)."""
    try:
        _apply({}, scenario, list(scenario.uncertainty.items()), "uncertainty")
    except InputError as exc:
        raise InputError(f"{label or scenario.name}: {exc}") from None


def with_overrides(space: dict[str, Parameter], scenario: Scenario, vary: list[str]) -> dict[str, Parameter]:
    """The space with ``NAME=DIST`` overrides applied (names checked against what can vary)."""
    pairs = []
    for item in vary:
        if "=" not in item:
            raise InputError(
                f"--vary {item!r}: write NAME=DIST, e.g. demand_elasticity_oxide=uniform(0.2, 0.8)"
            )
        pairs.append(tuple(s.strip() for s in item.split("=", 1)))
    return _apply(space, scenario, pairs, "--vary")


def _apply(
    space: dict[str, Parameter], scenario: Scenario, pairs: list[tuple[str, str]], origin: str
) -> dict[str, Parameter]:
    """``space`` with each (name, distribution text) applied; messages name ``origin``."""
    from reesim.errors import suggest
    from reesim.world.default import load_config

    out = dict(space)
    assumptions = load_config()["assumptions"]
    scalar = sorted(
        k for k, v in assumptions.items() if isinstance(v, dict) and isinstance(v.get("value"), int | float)
    )
    basis = "--vary" if origin == "--vary" else "the scenario's uncertainty"
    for name, text in pairs:
        where = _where(origin, name)
        dist = parse_distribution(name, str(text), origin)
        if name.startswith("dynamics."):
            value = _dynamics_value(scenario, name, where)
            _check_dynamics_support(scenario, name, dist, where)
        elif name == QUOTA_GROWTH:
            if not _quota_growths(scenario):
                raise InputError(f"{where}: the scenario has no mining_quota with a growth path to scale")
            if dist.kind not in ("normal", "lognormal") and min(dist.support()) < 0:
                raise InputError(f"{where}: {dist.text()} reaches below 0; a growth factor is 0 or more")
            value = 1.0
        elif name in scalar:
            value = float(assumptions[name]["value"])
            _check_support(name, dist, assumptions[name].get("valid"), where)
        else:
            raise InputError(
                f"{where}: "
                + suggest(name, [*scalar, "dynamics.<field>[.<stage>]", QUOTA_GROWTH], what="parameter")
            )
        out[name] = Parameter(name, dist, value, basis)
    return out


def _where(origin: str, name: str) -> str:
    """How a message names a parameter: ``--vary NAME`` or ``uncertainty.NAME``."""
    return f"{origin} {name}" if origin == "--vary" else f"{origin}.{name}"


def _dynamics_value(scenario: Scenario, name: str, where: str) -> float:
    parts = name.split(".")[1:]
    fields = sorted(Dynamics.model_fields)
    if not parts or parts[0] not in Dynamics.model_fields:
        from reesim.errors import suggest

        raise InputError(f"{where}: " + suggest(parts[0] if parts else "", fields, what="dynamics field"))
    value = getattr(scenario.dynamics, parts[0])
    if isinstance(value, dict):
        if len(parts) != 2 or parts[1] not in value:
            raise InputError(
                f"{where}: name a stage of dynamics.{parts[0]}; allowed: {', '.join(sorted(value))}"
            )
        return float(value[parts[1]])
    if len(parts) != 1:
        raise InputError(f"{where}: dynamics.{parts[0]} is a number, not a table of stages")
    return float(value)


def _check_support(name: str, dist: Distribution, valid: str | None, where: str) -> None:
    """A bounded distribution must stay where the assumption is defined (``valid:`` in the YAML).

    Unbounded ones (normal, lognormal) may draw outside it; such members fail and are
    recorded with their inputs (never redrawn).
    """
    if not valid or dist.kind in ("normal", "lognormal"):
        return
    from reesim.world.default_data import in_valid

    if not all(in_valid(x, valid) for x in dist.support()):
        raise InputError(f"{where}: {dist.text()} reaches outside the allowed values {valid}")


def _check_dynamics_support(scenario: Scenario, name: str, dist: Distribution, where: str) -> None:
    """A bounded distribution of a dynamics parameter must stay within the field's bounds."""
    if dist.kind in ("normal", "lognormal"):
        return
    from pydantic import ValidationError

    for x in dist.support():
        try:
            apply(scenario, {name: float(x)})
        except ValidationError as exc:
            why = exc.errors()[0]["msg"]
            raise InputError(f"{where}: {dist.text()} reaches {x:g}, which is not allowed ({why})") from None


def outlook(values: dict[str, float]) -> dict[str, float]:
    """The draws a counterfactual shares with its scenario: dynamics and quota growth (the world
    is shared whole)."""
    return {k: v for k, v in values.items() if k.startswith("dynamics.") or k == QUOTA_GROWTH}


def apply(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """The scenario with one member's parameter values (world assumptions, dynamics, quota growth)."""
    world = {k: v for k, v in values.items() if not k.startswith("dynamics.") and k != QUOTA_GROWTH}
    instruments = scenario.instruments
    if QUOTA_GROWTH in values:
        f = float(values[QUOTA_GROWTH])
        instruments = [
            i.model_copy(update={"growth": {y: g * f for y, g in i.growth.items()}})
            if i.type == "mining_quota"
            else i
            for i in instruments
        ]
    dyn = scenario.dynamics.model_dump()
    for k, v in values.items():
        if k.startswith("dynamics."):
            parts = k.split(".")[1:]
            if len(parts) == 2:
                dyn[parts[0]] = {**dyn[parts[0]], parts[1]: v}
            else:
                dyn[parts[0]] = v
    return scenario.model_copy(
        update={
            "world": scenario.world.model_copy(
                update={"assumptions": {**scenario.world.assumptions, **world}}
            ),
            "dynamics": Dynamics.model_validate(dyn),
            "instruments": instruments,
        }
    )
