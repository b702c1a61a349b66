"""Duty schedule of a Section 301 product group: its rate steps, exclusions and market parameters.

A :class:`TariffGroup` holds one group's market parameters (see :mod:`.incidence` for the
model they feed) and its schedule, a date-ordered tuple of :class:`RateStep` rows; each
row is the rate and exclusion state in force from its effective date on.

Exclusions: each schedule row may carry an excluded share of covered value (``None`` when
exclusions are known to be in force but their value share is not in the data: treated as 0
and flagged) and scheduled expiry dates; the expected excluded share at a date is ``share x
renewal_probability**n`` with ``n`` the number of expiry dates already passed (an exclusion
expiring on ``D`` covers entries through ``D``). Dates are inclusive effective dates.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from reesim.errors import InputError


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class RateStep:
    """One row of a group's schedule: the state in force from ``effective_date`` on.

    Parameters
    ----------
    effective_date : datetime.date
        First day (inclusive) of this state.
    tariff_rate : float
        Ad valorem Section 301 rate on the group's covered Chinese goods, fraction (0.25 = 25 %).
    excluded_share : float or None
        Share of the covered value exempted by product exclusions (fraction), ``None`` when
        exclusions are in force but their value share is not in the data (used as 0, flagged).
    exclusion_expiries : tuple of datetime.date
        Scheduled expiry dates (last day in force) of the exclusions of this row.
    renewal_probability : float
        Probability that the exclusions are renewed at each expiry (expected-value treatment).
    rate_source_id, exclusion_source_id : str
        ``us_tariffs`` / ``sources`` ids (``;``-separated) or ``assumption``.
    """

    effective_date: dt.date
    tariff_rate: float
    excluded_share: float | None = 0.0
    exclusion_expiries: tuple[dt.date, ...] = ()
    renewal_probability: float = 1.0
    rate_source_id: str = ""
    exclusion_source_id: str = ""

    def expected_excluded_share(self, when: dt.date) -> float:
        """Expected excluded share at ``when`` (0 where the share is unknown)."""
        if self.excluded_share is None:
            return 0.0
        passed = sum(1 for e in self.exclusion_expiries if e < when)
        return self.excluded_share * self.renewal_probability**passed


@dataclass(frozen=True)
class TariffGroup:
    """A product group of the Section 301 programme and its market parameters.

    Parameters
    ----------
    name : str
        Group name (e.g. ``"List 3"``, ``"permanent magnets (HTS 8505.11)"``).
    covered_import_value_usd_bn : float or None
        Reference annual U.S. imports from China of the covered products, USD bn at world
        prices; ``None`` when the data has no value (figures are then per USD 1 bn).
    china_share_of_imports : float
        China's share of the reference value of the group's imports from all sources, in (0, 1].
    eta_import_demand : float
        Price elasticity (> 0) of the demand for the group's import composite.
    sigma_armington : float
        Elasticity of substitution (> 0) between sources (Armington).
    eps_supply_china, eps_supply_other : float
        Export supply elasticities (>= 0, ``math.inf`` = perfectly elastic).
    base_tariff_rate : float
        Section 301 rate in force before the group's schedule (fraction); the reported effects
        are those of the schedule's rate over this base.
    schedule : tuple of RateStep
        The rate/exclusion states in date order.
    list_name, value_source_id, note : str
        Provenance: the ``us_tariffs`` list, the source of the value, free notes.
    eta_range, sigma_range, eps_range, china_share_range : tuple of float
        Plausible ranges stated with the assumptions (for sensitivity runs).
    """

    name: str
    covered_import_value_usd_bn: float | None
    china_share_of_imports: float
    eta_import_demand: float
    sigma_armington: float
    eps_supply_china: float = math.inf
    eps_supply_other: float = math.inf
    base_tariff_rate: float = 0.0
    schedule: tuple[RateStep, ...] = ()
    list_name: str = ""
    value_source_id: str = ""
    note: str = ""
    eta_range: tuple[float, float] = (math.nan, math.nan)
    sigma_range: tuple[float, float] = (math.nan, math.nan)
    eps_range: tuple[float, float] = (math.nan, math.nan)
    china_share_range: tuple[float, float] = (math.nan, math.nan)

    def __post_init__(self) -> None:
        value = self.covered_import_value_usd_bn
        checks = [
            (
                "covered_import_value_usd_bn",
                value is None or (math.isfinite(value) and value > 0),
                "> 0 or None",
            ),
            ("china_share_of_imports", 0 < self.china_share_of_imports <= 1, "in (0, 1]"),
            ("eta_import_demand", _positive(self.eta_import_demand), "finite and > 0"),
            ("sigma_armington", _positive(self.sigma_armington), "finite and > 0"),
            ("eps_supply_china", self.eps_supply_china >= 0, ">= 0 (inf allowed)"),
            ("eps_supply_other", self.eps_supply_other >= 0, ">= 0 (inf allowed)"),
            ("base_tariff_rate", math.isfinite(self.base_tariff_rate) and self.base_tariff_rate >= 0, ">= 0"),
        ]
        for field, ok, allowed in checks:
            if not ok:
                raise InputError(
                    f"tariff group '{self.name}': {field} = {getattr(self, field)!r} is not allowed ({allowed})"
                )
        dates = [s.effective_date for s in self.schedule]
        if dates != sorted(set(dates)):
            raise InputError(f"tariff group '{self.name}': schedule dates must be strictly increasing")

    @property
    def value_missing(self) -> bool:
        """True when the covered import value is not in the data (figures per USD 1 bn)."""
        return self.covered_import_value_usd_bn is None

    def step_at(self, when: dt.date | str) -> RateStep | None:
        """The schedule row in force at ``when`` (``None`` before the first row)."""
        when = _as_date(when)
        current = None
        for step in self.schedule:
            if step.effective_date <= when:
                current = step
        return current

    def rate_at(self, when: dt.date | str) -> float:
        """Statutory Section 301 rate (fraction) on the group's Chinese goods at ``when``."""
        step = self.step_at(when)
        return self.base_tariff_rate if step is None else step.tariff_rate

    def excluded_share_at(self, when: dt.date | str) -> float:
        """Expected excluded share of covered value at ``when`` (0 where unknown)."""
        when = _as_date(when)
        step = self.step_at(when)
        return 0.0 if step is None else step.expected_excluded_share(when)

    def exclusion_share_unknown_at(self, when: dt.date | str) -> bool:
        """True when exclusions are in force at ``when`` but their value share is not in the data."""
        step = self.step_at(when)
        return step is not None and step.excluded_share is None
