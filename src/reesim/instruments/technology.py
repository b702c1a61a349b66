"""Technology export bans: penalties on new capacity outside the owner for the banned stages.

China's December 2023 catalogue banned exporting the technology to extract and separate
rare earths and to make magnets. Outside the owner, new capacity of a banned stage takes
longer to build (``extra_lead_time_years``), costs more to build (``capex_multiplier``) and
to run (``opex_multiplier`` on the marginal-cost intercept of the new capacity) and learns
more slowly (``learning_multiplier`` scales the learning exponent). Defaults (2 years, 1.5x,
1.2x, 0.5) are assumptions with ranges in the spec (0-10 y, 1-10x, 1-10x, 0-1): no
measurement of these effects exists in the dataset.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reesim.scenario.spec import Scenario, TechnologyBan


@dataclass(frozen=True)
class Penalty:
    """Penalties on new capacity of one stage in one region."""

    extra_lead_time_years: float = 0.0
    capex_multiplier: float = 1.0
    opex_multiplier: float = 1.0
    learning_multiplier: float = 1.0


def penalty(scenario: Scenario, when: dt.date, region: str, stage: str) -> Penalty:
    """The (combined) penalty on capacity ordered on ``when`` in ``region`` for ``stage``."""
    out = Penalty()
    for inst in scenario.instruments:
        if (
            isinstance(inst, TechnologyBan)
            and inst.in_force(when)
            and region != inst.owner
            and stage in inst.stages
        ):
            out = Penalty(
                out.extra_lead_time_years + inst.extra_lead_time_years,
                out.capex_multiplier * inst.capex_multiplier,
                out.opex_multiplier * inst.opex_multiplier,
                out.learning_multiplier * inst.learning_multiplier,
            )
    return out
