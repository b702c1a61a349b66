"""The state carried from one step to the next, and the investment rule.

State (immutable snapshots): capacity by process, capacity under construction (with its
online time), the share of each process's capacity built under a technology-ban penalty,
cumulative output (for learning), expected capacity rents (adaptive expectations), demand
growth multipliers, stocks, and the price history (for lagged substitution).

Capacity the investment rule builds is not free: each order carries its annual capital charge,
``k x q`` (million USD per year, the capex multiplier of a technology ban included, capex
subsidies not deducted: they are a transfer), which the builder's region pays from the step the
capacity comes online, on the share still in service (it retires with the capacity). The result
records it in the fiscal table as ``capital charge (investment rule)``, counted in welfare as
``capital_cost`` like a named plant's (:mod:`reesim.instruments.projects`): without it a scenario
that made the rest of the world build showed the lower prices the new capacity brought and not
what it cost.

Investment (DESIGN §4), a myopic rule on expected margins: the capacity rent of a process
(the dual of its capacity bound, USD/kg of annual capacity) is the margin a marginal unit of
capacity would earn. Expectations are adaptive, ``r_e <- w r + (1 - w) r_e``. When the
expected rent exceeds the annualised capital cost ``k`` (per stage, times the technology-ban
capex multiplier, less capex subsidies), the region orders new capacity
``max_build_rate x capacity x min(1, (r_e - k) / k) x dt``, online after the stage's lead time
(plus the technology-ban delay) and ramping to its full size over the stage's ramp
(``Dynamics.ramp_years``: equal tranches, :func:`reesim.instruments.projects.ramp_offsets`;
separation 2.2 years, fitted to the build-out record's output series, :mod:`reesim.backtest.ramp`;
its whole capital charge from first output), as long as the capacity under construction stays below
``max_under_construction x capacity`` (a ramp's tranches not yet in service count). Makers that keep capacity ahead of demand
(``Dynamics.planned_capacity``: China's magnet makers by default) also order what their output,
grown by magnet demand over the lead time, needs at their start utilisation (:func:`planned_order`),
within the same limit. Capacity retires at ``retirement_rate`` per year. Learning:
outside the ban's owner, the marginal-cost intercept of separation, metal and magnet capacity
falls with cumulative output as ``(cum / cum_0) ** -b``, ``b = -log2(1 - learning_rate)``
times the ban's learning multiplier (Wright's law).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

#: process kind -> stage name used by lead times, capex and technology bans
KIND_STAGE = {"mining": "mining", "capacity": "separation", "metal": "metal", "magnet": "magnet"}
#: process kind -> the stage whose lead time and capex its investment follows (lean heavy-RE
#: grades have their own: the adoption lag, ``Dynamics.lead_time_years["thrift"]``)
INVEST_STAGE = {**KIND_STAGE, "thrift": "thrift"}
#: investment stage -> the stage named by technology bans and capex subsidies (a lean grade is
#: magnet-making technology: China's 2023 ban on magnet-making technology covers it)
POLICY_STAGE = {"thrift": "magnet"}


@dataclass(frozen=True)
class State:
    """Snapshot of the dynamic state (arrays indexed like ``world.processes`` / ``world.demands``)."""

    capacity: np.ndarray
    pipeline: tuple[
        tuple[float, int, float, bool, float], ...
    ]  # (online time, process index, kt/yr, built under ban, capital charge in million USD/yr)
    penalised: np.ndarray  # kt/yr of each process's capacity built under a technology-ban penalty
    cumulative: np.ndarray  # kt of output since the start (+ one year of reference output)
    expected_rent: np.ndarray  # USD/kg per year of capacity
    demand_multiplier: np.ndarray
    substitution: np.ndarray  # lagged substitution/thrifting factor per demand (<= 1)
    stocks: dict
    opex_multiplier: np.ndarray  # opex multiplier of the penalised capacity (1 where none)
    learning_exponent: np.ndarray  # Wright's-law exponent per process (0 where no learning)
    private: Any = None  # private stocks and expected prices (reesim.simulate.storage.PrivateStocks)
    toll_index: float = 1.0  # China's separation charge over the reference one (reesim.simulate.tolls)
    route_index: np.ndarray | None = None  # per edge: route cost over the calibrated one (route_index)
    capital_charge: np.ndarray | None = None  # million USD/yr per process: rule-built capacity in service

    def evolve(self, **changes) -> State:
        """A new snapshot with some fields replaced (as :func:`dataclasses.replace` makes it, without
        its call of ``__init__``: a state has no checks to run, and a step evolves it about eight
        times, 12 us each through ``replace``)."""
        unknown = changes.keys() - _STATE_FIELDS
        if unknown:
            raise TypeError(
                f"State.evolve: unknown fields {sorted(unknown)}; allowed: {sorted(_STATE_FIELDS)}"
            )
        new = object.__new__(State)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new


#: the fields a state has (:meth:`State.evolve` refuses others)
_STATE_FIELDS = frozenset(f.name for f in fields(State))


def arrivals(state: State, now: float) -> State:
    """Move capacity whose online time has come from the pipeline into service."""
    cap = state.capacity.copy()
    pen = state.penalised.copy()
    charge = np.zeros_like(cap) if state.capital_charge is None else state.capital_charge.copy()
    keep = []
    for item in state.pipeline:
        t, j, q, banned, annuity = item
        if t <= now + 1e-9:
            cap[j] += q
            charge[j] += annuity
            if banned:
                pen[j] += q
        else:
            keep.append(item)
    return state.evolve(capacity=cap, penalised=pen, pipeline=tuple(keep), capital_charge=charge)


def planned_order(
    output: float, capacity: float, under_construction: float, utilisation: float, growth: float
) -> float:
    """Capacity (kt/yr) a maker that keeps capacity ahead of demand orders in a step.

    The acceleration principle with a capacity target (Chenery, H.B., 1952, "Overcapacity and
    the acceleration principle", *Econometrica* 20(1), 1-28): desired capacity at arrival is
    the output expected then (``output x growth``, demand growth over the lead time) at the
    maker's usual ``utilisation``. The order closes the whole gap left by the capacity in service
    and under construction each step (no partial adjustment: the only brake is the caller's limit
    on capacity under construction). Nothing is ordered for a maker that produces nothing or has
    no usual rate; a rate above 1 (output a hair above capacity in a solve) counts as 1.
    """
    if output <= 0 or utilisation <= 0:
        return 0.0
    utilisation = min(utilisation, 1.0)
    return max(0.0, output * growth / utilisation - capacity - under_construction)


def orders(
    expected_rent: float,
    capacity: float,
    capex: float,
    max_build_rate: float,
    dt: float,
    under_construction: float = 0.0,
    max_under_construction: float = 0.35,
) -> float:
    """New capacity ordered in a step (kt/yr of capacity) by the investment rule.

    Orders stop once the capacity under construction reaches ``max_under_construction x
    capacity``: investors see the pipeline, so a long lead time does not pile up orders
    against a rent that the capacity already on its way will remove.
    """
    if capacity <= 0 or capex <= 0 or expected_rent <= capex:
        return 0.0
    want = max_build_rate * capacity * min(1.0, (expected_rent - capex) / capex) * dt
    room = max(0.0, max_under_construction * capacity - under_construction)
    return min(want, room)


def orders_array(
    rent: np.ndarray,
    size: np.ndarray,
    capex: np.ndarray,
    max_build_rate: float,
    dt: float,
    building: np.ndarray,
    max_under_construction: float,
) -> np.ndarray:
    """:func:`orders` for arrays of processes (the investment phase's form, every candidate of a
    step at once), element by element the same numbers: the same operations in the same order,
    and Python's ``min(a, b)`` (``b if b < a else a``) and ``max`` written out, NaN included."""
    ok = ~(size <= 0) & ~(capex <= 0) & ~(rent <= capex)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (rent - capex) / capex
        want = max_build_rate * size * np.where(x < 1.0, x, 1.0) * dt
    y = max_under_construction * size - building
    room = np.where(y > 0.0, y, 0.0)
    return np.where(ok, np.where(room < want, room, want), 0.0)
