"""Time steps of a simulation: a year (default), a quarter or a month.

Quantities in the equilibrium are annual rates (kt/yr); a step of length ``dt`` years
moves ``rate x dt``. Capacities stay annual rates; lead times and growth rates are in years
and converted with ``dt``. An instrument applies to a step when it is in force on the
step's midpoint.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reesim.scenario.spec import Horizon


@dataclass(frozen=True)
class Step:
    """One time step."""

    index: int
    year: int
    period: str  # "2025", "2025-Q2" or "2025-04"
    start: dt.date
    mid: dt.date
    dt: float  # length in years

    @property
    def time(self) -> float:
        """Start of the step in fractional years (for lead times)."""
        return self.year + (self.start.timetuple().tm_yday - 1) / 365.25


def make_steps(h: Horizon) -> list[Step]:
    """The steps of a horizon, in order."""
    out: list[Step] = []
    for year in range(h.start, h.end + 1):
        if h.step == "year":
            parts = [(f"{year}", dt.date(year, 1, 1), dt.date(year, 7, 2), 1.0)]
        elif h.step == "quarter":
            parts = [
                (f"{year}-Q{q}", dt.date(year, 3 * q - 2, 1), dt.date(year, 3 * q - 1, 15), 0.25)
                for q in range(1, 5)
            ]
        else:
            parts = [
                (f"{year}-{m:02d}", dt.date(year, m, 1), dt.date(year, m, 15), 1.0 / 12.0)
                for m in range(1, 13)
            ]
        for period, start, mid, length in parts:
            out.append(Step(len(out), year, period, start, mid, length))
    return out
