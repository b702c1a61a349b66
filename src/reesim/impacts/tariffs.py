"""Downstream tariffs: a GSIM-style partial-equilibrium model of the U.S. Section 301 duties on China.

One importer (the United States), one market per product group, three import varieties:
Chinese goods that pay the group's duty (``ct``), Chinese goods of the group exempted by
product exclusions (``cx``), and the same goods from all other sources (``o``). The model is
the single-market / multi-source partial-equilibrium model of Francois & Hall (1997) (the
structure later packaged as GSIM), with constant elasticities throughout:

* **Demand** (Armington 1969 nest). The importer buys a CES composite of the varieties with
  elasticity of substitution ``sigma`` between sources; the composite's demand has constant
  price elasticity ``eta``: ``Q = Q0 * P_hat**(-eta)``. In proportional changes ("hat"
  form, reference = 1)::

      M_hat_i = p_hat_i**(-sigma) * P_hat**(sigma - eta)
      P_hat**(1 - sigma) = sum_i theta_i * p_hat_i**(1 - sigma)

  with ``theta_i`` the reference expenditure shares (duty-inclusive values).
* **Export supply** of each variety, constant elasticity ``eps`` in the world (exporter-
  received) price ``w``: ``M_hat_i = w_hat_i**eps``; ``eps = inf`` is perfectly elastic
  supply (``w_hat = 1``, full pass-through of the duty to the importer's price).
* **Prices.** ``p_i = w_i * (1 + tau_i)``. The reference state is the group's *base*: world
  prices 1 (USD bn of imports = quantity units), Chinese goods paying ``base_tariff_rate``
  (0 for Lists 1-4A; the prior Section 301 rate for the 2024 four-year-review increases),
  the others duty-free (MFN duties are left out). The action raises the duty on the taxed
  Chinese share to ``tariff_rate``; the excluded share keeps paying the base rate.

Eliminating ``M`` and ``w`` gives ``ln w_hat_i = (-sigma ln T_i + (sigma - eta) ln P_hat) /
(eps_i + sigma)`` with ``T_i = (1 + tau_i) / (1 + tau0_i)``, so the whole equilibrium is one
equation in ``x = ln P_hat``: ``x = g(x)`` with ``g`` the log CES price index. With perfectly
elastic supply it is closed form; otherwise ``x - g(x)`` is strictly increasing (its slope is
``1 - sum_i s_i b_i`` with ``b_i = (sigma - eta)/(eps_i + sigma) < 1``) and is solved by
:func:`scipy.optimize.brentq`.

Welfare (annual flows, USD bn; Francois & Hall 1997, the standard PE measures):

* consumer surplus change of the composite ``dCS = -E0 * integral_1^P_hat z**(-eta) dz``
  (``E0`` = reference expenditure on the group's imports), negative = loss;
  ``consumer_cost_usd_bn = -dCS`` (positive = loss);
* tariff revenue ``tau * w_ct * M_ct + tau0 * w_cx * M_cx`` minus the base revenue
  ``tau0 * V_c``: the duty on the covered, non-excluded quantity at the world price;
* producer surplus change of foreign exporters ``sum_i V_i (w_hat_i**(1+eps_i) - 1)/(1+eps_i)``
  (zero with perfectly elastic supply);
* terms-of-trade gain ``sum_i (1 - w_hat_i) * M_i`` (the part of the duty foreigners bear);
* deadweight loss (world efficiency loss) ``DWL = -(dCS + dRevenue + dPS_foreign)``; to
  first order ``DWL = 1/2 * t * (fall in the taxed quantity)`` (Harberger triangle);
* net national welfare of the importer ``dCS + dRevenue`` (= ``-DWL`` with perfectly elastic
  supply; with upward-sloping supply it includes the terms-of-trade gain).

Defaults (``tariff_groups.csv``, every number with its basis):

* ``sigma = 2.53``: the elasticity of substitution between varieties (origin x HS10
  product) estimated by Fajgelbaum, Goldberg, Kennedy & Khandelwal (2020), "The Return to
  Protectionism", QJE 135(1); range 2.0-3.0 (assumption);
* ``eta = 1.5`` for the composite of all sources: an assumption, set below ``sigma`` (range
  1.0-2.53);
* ``eps = inf`` for China and the other sources: complete pass-through of the 2018-19 duties
  to U.S. import prices (Amiti, Redding & Weinstein 2019, "The Impact of the 2018 Tariffs on
  Prices and Welfare", JEP 33(4); FGKK 2020); lower bound 5 for sensitivity (assumption);
* China's share of the group's imports from all sources: not in the dataset; 0.5
  (assumption) except permanent magnets (0.65, derived from the HTS 8505 heading in
  ``trade_flows``).

Schedules and values come from the dataset table ``us_tariffs`` (``source_id`` per row).
Where the covered import value of a group is not in the data (the 2024 four-year-review
increases, e.g. permanent magnets) the figures are reported per USD 1 bn of covered imports
from China and flagged; the value is never invented.

Exclusions: each schedule row may carry an excluded share of covered value (``None`` when
exclusions are known to be in force but their value share is not in the data: treated as 0
and flagged) and scheduled expiry dates; the expected excluded share at a date is ``share x
renewal_probability**n`` with ``n`` the number of expiry dates already passed (an exclusion
expiring on ``D`` covers entries through ``D``). Dates are inclusive effective dates.

The model is static: each year's figures are the annual flows at the reference import values
(no trade growth), weighted by the days each rate was in force.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from reesim.errors import InputError, SchemaError, suggest

#: Name of the permanent-magnet group (the one the rare-earth model reads).
MAGNET_GROUP = "permanent magnets (HTS 8505.11)"

#: Columns of ``tariff_groups.csv``, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "group",
    "list",
    "effective_date",
    "rate_pct",
    "rate_source_id",
    "base_rate_pct",
    "excluded_share_pct",
    "exclusion_expiry",
    "renewal_probability",
    "exclusion_source_id",
    "covered_import_value_usd_bn",
    "value_source_id",
    "china_share_of_imports",
    "china_share_range",
    "china_share_basis",
    "eta_import_demand",
    "eta_range",
    "sigma_armington",
    "sigma_range",
    "eps_supply_china",
    "eps_supply_other",
    "eps_range",
    "elasticity_basis",
    "note",
)

#: Columns that must be the same on every row of a group.
GROUP_COLUMNS: tuple[str, ...] = (
    "list",
    "base_rate_pct",
    "covered_import_value_usd_bn",
    "value_source_id",
    "china_share_of_imports",
    "china_share_range",
    "china_share_basis",
    "eta_import_demand",
    "eta_range",
    "sigma_armington",
    "sigma_range",
    "eps_supply_china",
    "eps_supply_other",
    "eps_range",
    "elasticity_basis",
)

_SOURCE_COLUMNS = ("rate_source_id", "exclusion_source_id", "value_source_id")
_VARIETIES = ("china_taxed", "china_excluded", "other")


# ---------------------------------------------------------------------------- data classes
def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


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


@dataclass(frozen=True)
class GroupOutcome:
    """Equilibrium of one group under one tariff state, relative to its base (annual flows).

    Price changes are in percent of the reference prices, pass-through is a fraction, money
    figures are USD bn per year. When ``per_usd_1bn_covered_imports`` is True the covered value
    was missing and every ``*_usd_bn`` figure is per USD 1 bn of covered imports from China.
    Import volumes are in USD bn at reference world prices.
    """

    group: str
    tariff_rate: float
    base_tariff_rate: float
    excluded_share: float
    covered_import_value_usd_bn: float
    per_usd_1bn_covered_imports: bool
    china_world_price_change_pct: float
    china_import_price_change_pct: float
    china_excluded_import_price_change_pct: float
    other_import_price_change_pct: float
    composite_import_price_change_pct: float
    pass_through: float
    china_taxed_imports_usd_bn: float
    china_excluded_imports_usd_bn: float
    other_imports_usd_bn: float
    composite_quantity_change_pct: float
    consumer_surplus_change_usd_bn: float
    consumer_cost_usd_bn: float
    tariff_revenue_usd_bn: float
    foreign_producer_surplus_change_usd_bn: float
    terms_of_trade_gain_usd_bn: float
    deadweight_loss_usd_bn: float
    net_welfare_change_usd_bn: float

    @property
    def china_average_import_price_change_pct(self) -> float:
        """Change in the importer's price of the group's Chinese goods, averaged over taxed and excluded lines."""
        x = self.excluded_share
        return (1 - x) * self.china_import_price_change_pct + x * self.china_excluded_import_price_change_pct


# ---------------------------------------------------------------------------- the solver
def _ces_log_index(log_p: np.ndarray, theta: np.ndarray, sigma: float) -> float:
    """Log of the CES price index ``(sum theta p**(1-sigma))**(1/(1-sigma))`` (Cobb-Douglas at sigma=1)."""
    if abs(sigma - 1.0) < 1e-12:
        return float(np.dot(theta, log_p))
    z = (1.0 - sigma) * log_p
    zmax = float(np.max(np.where(theta > 0, z, -np.inf)))
    return (zmax + math.log(float(np.dot(theta, np.exp(z - zmax))))) / (1.0 - sigma)


def _log_world_price(log_t: np.ndarray, x: float, eps: np.ndarray, sigma: float, eta: float) -> np.ndarray:
    """``ln w_hat_i`` given ``x = ln P_hat`` (0 for perfectly elastic supply)."""
    out = np.zeros_like(log_t)
    finite = np.isfinite(eps)
    out[finite] = (-sigma * log_t[finite] + (sigma - eta) * x) / (eps[finite] + sigma)
    return out


def _solve_log_price_index(
    log_t: np.ndarray, theta: np.ndarray, eps: np.ndarray, sigma: float, eta: float
) -> float:
    """Solve ``x = g(x)`` for ``x = ln P_hat`` (closed form when all supplies are perfectly elastic)."""
    if not np.any(np.isfinite(eps)):
        return _ces_log_index(log_t, theta, sigma)

    def h(x: float) -> float:
        return x - _ces_log_index(log_t + _log_world_price(log_t, x, eps, sigma, eta), theta, sigma)

    lo, hi = float(np.min(log_t)) - 0.5, float(np.max(log_t)) + 0.5
    for _ in range(200):
        if h(lo) < 0:
            break
        lo -= max(1.0, abs(lo))
    for _ in range(200):
        if h(hi) > 0:
            break
        hi += max(1.0, abs(hi))
    return float(brentq(h, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=500))


def _check_fraction(name: str, value: float, upper: float | None) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (upper is not None and value > upper):
        allowed = f"0-{upper}" if upper is not None else ">= 0"
        raise InputError(f"{name} = {value!r} is not allowed (a fraction, {allowed})")
    return value


def solve_group(group_params: TariffGroup, tariff_rate: float, excluded_share: float = 0.0) -> GroupOutcome:
    """Equilibrium of one product group under an ad valorem duty with exclusions.

    Pure function of its arguments (no data access). See the module docstring for the
    model (Francois & Hall 1997 multi-source PE model, constant elasticities).

    Parameters
    ----------
    group_params : TariffGroup
        Market parameters: covered value (``None`` -> per USD 1 bn), China's share, ``eta``,
        ``sigma``, supply elasticities and the base rate.
    tariff_rate : float
        Ad valorem rate on the taxed Chinese goods, fraction (0.25 = 25 %), 0-10.
    excluded_share : float
        Share of covered value exempted from the action (pays the base rate), fraction 0-1.

    Returns
    -------
    GroupOutcome
        Prices, quantities and welfare changes relative to the base (annual, USD bn).

    Raises
    ------
    InputError
        A rate or share out of range.
    """
    g = group_params
    t = _check_fraction("tariff_rate", tariff_rate, 10.0)
    x_share = _check_fraction("excluded_share", excluded_share, 1.0)
    t0 = g.base_tariff_rate
    sigma, eta = g.sigma_armington, g.eta_import_demand

    v_c = 1.0 if g.covered_import_value_usd_bn is None else float(g.covered_import_value_usd_bn)
    v_o = v_c * (1.0 - g.china_share_of_imports) / g.china_share_of_imports
    values = np.array([(1.0 - x_share) * v_c, x_share * v_c, v_o])  # at world prices = quantities
    ref_price = np.array([1.0 + t0, 1.0 + t0, 1.0])  # importer's reference prices
    spend = values * ref_price
    e0 = float(spend.sum())
    theta = spend / e0
    log_t = np.array([math.log1p(t) - math.log1p(t0), 0.0, 0.0])
    eps = np.array([g.eps_supply_china, g.eps_supply_china, g.eps_supply_other], dtype=float)

    x = _solve_log_price_index(log_t, theta, eps, sigma, eta)
    log_w = _log_world_price(log_t, x, eps, sigma, eta)
    log_p = log_t + log_w
    m_hat = np.exp(-sigma * log_p + (sigma - eta) * x)
    quantities = values * m_hat
    w_hat = np.exp(log_w)

    # consumer surplus of the composite: -E0 * integral_1^P_hat z**(-eta) dz
    d_cs = -e0 * x if abs(eta - 1.0) < 1e-12 else -e0 * math.expm1((1.0 - eta) * x) / (1.0 - eta)
    revenue = t * w_hat[0] * quantities[0] + t0 * w_hat[1] * quantities[1]
    d_revenue = revenue - t0 * v_c
    d_ps = 0.0
    for v, lw, e in zip(values, log_w, eps, strict=True):
        if math.isfinite(e) and v > 0:
            d_ps += float(v * math.expm1((1.0 + e) * lw) / (1.0 + e))
    tot_gain = float(np.dot(-np.expm1(log_w), quantities))
    dwl = -(d_cs + d_revenue + d_ps)
    price_change = np.expm1(log_p) * 100.0
    importer_price_rise = (1.0 + t) * w_hat[0] - (1.0 + t0)
    pass_through = float(importer_price_rise / (t - t0)) if t != t0 else math.nan

    return GroupOutcome(
        group=g.name,
        tariff_rate=t,
        base_tariff_rate=t0,
        excluded_share=x_share,
        covered_import_value_usd_bn=v_c,
        per_usd_1bn_covered_imports=g.covered_import_value_usd_bn is None,
        china_world_price_change_pct=float(np.expm1(log_w[0]) * 100.0),
        china_import_price_change_pct=float(price_change[0]),
        china_excluded_import_price_change_pct=float(price_change[1]),
        other_import_price_change_pct=float(price_change[2]),
        composite_import_price_change_pct=math.expm1(x) * 100.0,
        pass_through=pass_through,
        china_taxed_imports_usd_bn=float(quantities[0]),
        china_excluded_imports_usd_bn=float(quantities[1]),
        other_imports_usd_bn=float(quantities[2]),
        composite_quantity_change_pct=math.expm1(-eta * x) * 100.0,
        consumer_surplus_change_usd_bn=d_cs,
        consumer_cost_usd_bn=-d_cs,
        tariff_revenue_usd_bn=float(d_revenue),
        foreign_producer_surplus_change_usd_bn=d_ps,
        terms_of_trade_gain_usd_bn=tot_gain,
        deadweight_loss_usd_bn=float(dwl),
        net_welfare_change_usd_bn=float(d_cs + d_revenue),
    )


# ---------------------------------------------------------------------------- the CSV
def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def default_path() -> Path:
    """Path of the shipped ``tariff_groups.csv``."""
    return Path(str(resources.files("reesim.impacts").joinpath("tariff_groups.csv")))


@cache
def _known_source_ids() -> frozenset[str]:
    import reesim.data as rd

    return frozenset(rd.table("sources")["source_id"].astype(str))


@cache
def _known_lists() -> frozenset[str]:
    import reesim.data as rd

    return frozenset(rd.table("us_tariffs")["list"].astype(str))


class _Row:
    """Typed access to one CSV row; every error names the file, the row and the column."""

    def __init__(self, file: str, index: int, record: Mapping[str, str]) -> None:
        self.file, self.index, self.record = file, index, record

    def fail(self, column: str, problem: str) -> SchemaError:
        return SchemaError(self.file, self.index, column, problem)

    def text(self, column: str, required: bool = True) -> str:
        value = str(self.record[column]).strip()
        if required and not value:
            raise self.fail(column, "is empty; a value is required")
        return value

    def number(
        self,
        column: str,
        *,
        lo: float,
        hi: float = math.inf,
        lo_open: bool = False,
        allow_inf: bool = False,
        required: bool = True,
    ) -> float | None:
        raw = self.text(column, required=required)
        if not raw:
            return None
        if raw.lower() == "inf" and not allow_inf:
            raise self.fail(column, "'inf' is only allowed for supply elasticities")
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(column, f"{raw!r} is not a number") from None
        if math.isnan(value) or (math.isinf(value) and not allow_inf):
            raise self.fail(column, f"{raw!r} is not a finite number")
        bad_lo = value <= lo if lo_open else value < lo
        if bad_lo or value > hi:
            bound = f"{'>' if lo_open else '>='} {lo}" + (f" and <= {hi}" if math.isfinite(hi) else "")
            raise self.fail(column, f"{raw} is out of range (must be {bound})")
        return value

    def date(self, column: str) -> dt.date:
        raw = self.text(column)
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise self.fail(column, f"{raw!r} is not a date (YYYY-MM-DD)") from None

    def dates(self, column: str) -> tuple[dt.date, ...]:
        raw = self.text(column, required=False)
        out = []
        for part in filter(None, (p.strip() for p in raw.split(";"))):
            try:
                out.append(dt.date.fromisoformat(part))
            except ValueError:
                raise self.fail(
                    column, f"{part!r} is not a date (YYYY-MM-DD; several separated by ';')"
                ) from None
        return tuple(out)

    def value_range(self, column: str, value: float, *, lo: float, lo_open: bool) -> tuple[float, float]:
        raw = self.text(column)
        parts = raw.split("..")
        try:
            low, high = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
        except ValueError:
            low = high = math.nan
        if math.isnan(low) or math.isnan(high) or low > high:
            raise self.fail(column, f"{raw!r} is not a range 'low..high' with low <= high")
        if (low <= lo if lo_open else low < lo) or not low <= value <= high:
            raise self.fail(column, f"range {raw} must lie above {lo} and contain the value {value}")
        return low, high

    def sources(self, column: str, required: bool = True) -> str:
        raw = self.text(column, required=required)
        known = _known_source_ids()
        for token in filter(None, (p.strip() for p in raw.split(";"))):
            if token not in known and not token.lower().startswith(("assumption", "derived")):
                raise self.fail(
                    column,
                    suggest(token, known, what="source_id", limit=5)
                    + " (or a token starting with 'assumption' or 'derived')",
                )
        return raw


def load_groups(path: str | Path | None = None) -> dict[str, TariffGroup]:
    """Read and validate the product groups of the tariff programme.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with the columns :data:`CSV_COLUMNS` (default: the shipped ``tariff_groups.csv``).
        One row per schedule step; the group-level columns (:data:`GROUP_COLUMNS`) repeat on
        every row of a group and must agree.

    Returns
    -------
    dict of str to TariffGroup
        The groups in file order.

    Raises
    ------
    InputError
        (a :class:`reesim.errors.SchemaError`) naming the file, the row (1-based data row;
        line = row + 1) and the column of the first bad value: unknown or missing columns,
        non-numbers, negative elasticities, shares outside [0, 1], unknown source ids or
        ``us_tariffs`` lists, dates out of order, group columns that disagree.
    """
    if path is None:
        return dict(_load_default())
    return _load(Path(path))


@cache
def _load_default() -> tuple[tuple[str, TariffGroup], ...]:
    return tuple(_load(default_path()).items())


def _load(path: Path) -> dict[str, TariffGroup]:
    name = path.name
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=False)
    except FileNotFoundError:
        raise InputError(f"tariff groups file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: not a readable CSV ({exc})") from None
    columns = [str(c) for c in frame.columns]
    for col in columns:
        if col not in CSV_COLUMNS:
            raise SchemaError(
                name,
                None,
                col,
                "unknown column in the header row (line 1); " + suggest(col, CSV_COLUMNS, what="column"),
            )
    for col in CSV_COLUMNS:
        if col not in columns:
            raise SchemaError(name, None, col, "missing from the header row (line 1)")
    if frame.empty:
        raise InputError(f"{name}: no data rows")

    steps: dict[str, list[RateStep]] = {}
    params: dict[str, dict] = {}
    first_row: dict[str, _Row] = {}
    for i, record in enumerate(frame.to_dict("records"), start=1):
        row = _Row(name, i, record)
        group = row.text("group")
        group_params = _group_params(row)  # validated on every row: errors name the row itself
        step = _rate_step(row)
        if group in steps:
            ref = first_row[group]
            for col in GROUP_COLUMNS:
                if row.text(col, required=False) != ref.text(col, required=False):
                    raise row.fail(
                        col, f"differs from row {ref.index} of group '{group}' (group columns must agree)"
                    )
            previous = steps[group][-1].effective_date
            if step.effective_date <= previous:
                raise row.fail(
                    "effective_date",
                    f"{step.effective_date} is not after the group's previous row ({previous})",
                )
            steps[group].append(step)
        else:
            first_row[group], params[group], steps[group] = row, group_params, [step]
    return {group: TariffGroup(name=group, schedule=tuple(steps[group]), **params[group]) for group in steps}


def _rate_step(row: _Row) -> RateStep:
    """The schedule step of one CSV row."""
    effective = row.date("effective_date")
    rate = float(row.number("rate_pct", lo=0, hi=1000)) / 100.0
    rate_src = row.sources("rate_source_id")
    share = row.number("excluded_share_pct", lo=0, hi=100, required=False)
    expiries = row.dates("exclusion_expiry")
    if any(e < effective for e in expiries):
        raise row.fail("exclusion_expiry", "an expiry date lies before the row's effective_date")
    renewal = row.number("renewal_probability", lo=0, hi=1, required=bool(expiries))
    excl_src = row.sources("exclusion_source_id", required=False)
    if share is None and not excl_src:
        share = 0.0  # no exclusion recorded
    return RateStep(
        effective_date=effective,
        tariff_rate=rate,
        excluded_share=None if share is None else share / 100.0,
        exclusion_expiries=expiries,
        renewal_probability=1.0 if renewal is None else renewal,
        rate_source_id=rate_src,
        exclusion_source_id=excl_src,
    )


def _group_params(row: _Row) -> dict:
    """The group-level parameters of one CSV row (keyword arguments of :class:`TariffGroup`)."""
    lst = row.text("list")
    if lst not in _known_lists():
        raise row.fail("list", suggest(lst, _known_lists(), what="us_tariffs list", limit=6))
    base = float(row.number("base_rate_pct", lo=0, hi=1000)) / 100.0
    value = row.number("covered_import_value_usd_bn", lo=0, lo_open=True, required=False)
    value_src = row.sources("value_source_id")
    share = float(row.number("china_share_of_imports", lo=0, hi=1, lo_open=True))
    share_range = row.value_range("china_share_range", share, lo=0, lo_open=True)
    row.text("china_share_basis")
    eta = float(row.number("eta_import_demand", lo=0, lo_open=True))
    eta_range = row.value_range("eta_range", eta, lo=0, lo_open=True)
    sigma = float(row.number("sigma_armington", lo=0, lo_open=True))
    sigma_range = row.value_range("sigma_range", sigma, lo=0, lo_open=True)
    eps_c = float(row.number("eps_supply_china", lo=0, allow_inf=True))
    eps_o = float(row.number("eps_supply_other", lo=0, allow_inf=True))
    eps_range = row.value_range("eps_range", eps_c, lo=0, lo_open=False)
    row.value_range("eps_range", eps_o, lo=0, lo_open=False)
    row.text("elasticity_basis")
    return {
        "covered_import_value_usd_bn": value,
        "china_share_of_imports": share,
        "eta_import_demand": eta,
        "sigma_armington": sigma,
        "eps_supply_china": eps_c,
        "eps_supply_other": eps_o,
        "base_tariff_rate": base,
        "list_name": lst,
        "value_source_id": value_src,
        "note": row.text("note", required=False),
        "eta_range": eta_range,
        "sigma_range": sigma_range,
        "eps_range": eps_range,
        "china_share_range": share_range,
    }


# ---------------------------------------------------------------------------- queries
def _pick(group: str | TariffGroup, groups: Mapping[str, TariffGroup] | None = None) -> TariffGroup:
    if isinstance(group, TariffGroup):
        return group
    table = load_groups() if groups is None else groups
    if group not in table:
        raise InputError(suggest(group, table, what="tariff group"))
    return table[group]


def outcome_at(
    group: str | TariffGroup, when: dt.date | str, *, with_exclusions: bool = True
) -> GroupOutcome:
    """Equilibrium of ``group`` under the rate and expected excluded share in force at ``when``."""
    g = _pick(group)
    when = _as_date(when)
    share = g.excluded_share_at(when) if with_exclusions else 0.0
    return solve_group(g, g.rate_at(when), share)


def magnet_tariff_rate(when: dt.date | str, *, with_exclusions: bool = False) -> float:
    """Section 301 rate on permanent magnets from China (HTS 8505.11) at ``when``, a fraction.

    0 before 2026-01-01 and 0.25 from then (USTR four-year review, ``us_tariffs`` source
    ``ustr-four-year-b4e332``). With ``with_exclusions`` the statutory rate is scaled by
    ``1 - expected excluded share`` (none recorded for magnets in the data).
    """
    g = _pick(MAGNET_GROUP)
    rate = g.rate_at(when)
    return rate * (1.0 - g.excluded_share_at(when)) if with_exclusions else rate


def import_price_change(
    group: str | TariffGroup,
    when: dt.date | str,
    *,
    measure: Literal["china", "china_taxed", "composite"] = "china",
    with_exclusions: bool = True,
    overrides: Mapping[str, float] | None = None,
) -> float:
    """Proportional change (fraction) in a U.S. import price of ``group`` caused by its duty at ``when``.

    Parameters
    ----------
    group : str or TariffGroup
        Group name (e.g. :data:`MAGNET_GROUP`) or a group object.
    when : date or ISO string
        The date whose rate and expected exclusions apply.
    measure : {"china", "china_taxed", "composite"}
        ``china``: duty-inclusive price of the group's Chinese goods, averaged over taxed and
        excluded lines (reference weights); ``china_taxed``: taxed lines only; ``composite``:
        the CES import price index of all sources.
    with_exclusions : bool
        Apply the expected excluded share.
    overrides : mapping, optional
        Replacement :class:`TariffGroup` parameters, e.g. ``{"eps_supply_china": 3.0}``.

    Returns
    -------
    float
        ``0.25`` means +25 % relative to the group's base (no action). With the default
        perfectly elastic supply the taxed lines rise by exactly the rate change.
    """
    g = _pick(group)
    if overrides:
        unknown = set(overrides) - {f.name for f in dataclasses.fields(TariffGroup)}
        if unknown:
            allowed = [f.name for f in dataclasses.fields(TariffGroup)]
            raise InputError(suggest(sorted(unknown)[0], allowed, what="TariffGroup parameter"))
        g = dataclasses.replace(g, **overrides)
    out = outcome_at(g, when, with_exclusions=with_exclusions)
    if measure == "china":
        return out.china_average_import_price_change_pct / 100.0
    if measure == "china_taxed":
        return out.china_import_price_change_pct / 100.0
    if measure == "composite":
        return out.composite_import_price_change_pct / 100.0
    raise InputError(suggest(measure, ["china", "china_taxed", "composite"], what="measure"))


# ---------------------------------------------------------------------------- the programme
#: Flow figures summed over the days of a year (USD bn, annual rate x days / days in year).
FLOW_FIELDS: tuple[str, ...] = (
    "consumer_surplus_change_usd_bn",
    "consumer_cost_usd_bn",
    "tariff_revenue_usd_bn",
    "foreign_producer_surplus_change_usd_bn",
    "terms_of_trade_gain_usd_bn",
    "deadweight_loss_usd_bn",
    "net_welfare_change_usd_bn",
)
#: Price figures averaged over the days of the window in the year.
PRICE_FIELDS: tuple[str, ...] = (
    "china_import_price_change_pct",
    "composite_import_price_change_pct",
    "china_world_price_change_pct",
)


def _breakpoints(g: TariffGroup, start: dt.date, stop: dt.date) -> list[dt.date]:
    """Dates in ``[start, stop)`` where the group's state may change, plus 1 January of each year."""
    points = {start}
    for step in g.schedule:
        points.add(step.effective_date)
        points.update(e + dt.timedelta(days=1) for e in step.exclusion_expiries)
    points.update(dt.date(y, 1, 1) for y in range(start.year, stop.year + 1))
    return sorted(p for p in points if start <= p < stop)


def _year_rows(g: TariffGroup, start: dt.date, stop: dt.date, with_exclusions: bool) -> list[dict]:
    """Annual figures of one group over ``[start, stop)``."""
    points = [*_breakpoints(g, start, stop), stop]
    acc: dict[int, dict] = {}
    solved: dict[tuple[float, float], GroupOutcome] = {}
    for a, b in itertools.pairwise(points):
        year = a.year
        days = (b - a).days
        year_days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
        rate = g.rate_at(a)
        share = g.excluded_share_at(a) if with_exclusions else 0.0
        rec = acc.setdefault(
            year,
            {
                "days": 0,
                "rate_days": 0.0,
                "share_days": 0.0,
                "active_days": 0,
                "pt_days": 0.0,
                "unknown": False,
                **{f: 0.0 for f in FLOW_FIELDS + PRICE_FIELDS},
            },
        )
        rec["days"] += days
        rec["rate_days"] += rate * days
        rec["share_days"] += share * days
        if with_exclusions and g.exclusion_share_unknown_at(a):
            rec["unknown"] = True
        if rate == g.base_tariff_rate:
            continue
        key = (rate, share)
        if key not in solved:
            solved[key] = solve_group(g, rate, share)
        out = solved[key]
        rec["active_days"] += days
        rec["pt_days"] += out.pass_through * days
        for f in FLOW_FIELDS:
            rec[f] += getattr(out, f) * days / year_days
        for f in PRICE_FIELDS:
            rec[f] += getattr(out, f) * days
    rows = []
    for year, rec in sorted(acc.items()):
        value = g.covered_import_value_usd_bn
        row = {
            "year": year,
            "group": g.name,
            "list": g.list_name,
            "days_in_window": rec["days"],
            "days_action_in_force": rec["active_days"],
            "tariff_rate_avg_pct": 100.0 * rec["rate_days"] / rec["days"],
            "base_tariff_rate_pct": 100.0 * g.base_tariff_rate,
            "excluded_share_avg_pct": 100.0 * rec["share_days"] / rec["days"],
            "exclusion_share_unknown": rec["unknown"],
            "covered_import_value_usd_bn": math.nan if value is None else value,
            "value_missing": value is None,
            "pass_through": rec["pt_days"] / rec["active_days"] if rec["active_days"] else math.nan,
        }
        for f in PRICE_FIELDS:
            row[f] = rec[f] / rec["days"]
        scale = 1.0 if value is None else value
        for f in FLOW_FIELDS:
            row[f] = math.nan if value is None else rec[f]
        for f in FLOW_FIELDS:
            row[f.replace("_usd_bn", "_per_usd_1bn_imports")] = rec[f] / scale
        rows.append(row)
    return rows


def programme(
    date_from: dt.date | str,
    date_to: dt.date | str,
    with_exclusions: bool = True,
    groups: Mapping[str, TariffGroup] | Iterable[TariffGroup] | None = None,
) -> pd.DataFrame:
    """Year x group table of the programme's effects between two dates (both inclusive).

    Parameters
    ----------
    date_from, date_to : date or ISO string
        The window; a year only partly inside counts only its days inside (flows are the
        annual rate times the share of the year's days).
    with_exclusions : bool
        Apply the expected excluded shares (False: the same figures without exclusions).
    groups : mapping or iterable of TariffGroup, optional
        The groups (default: :func:`load_groups`).

    Returns
    -------
    pandas.DataFrame
        Indexed by (``year``, ``group``). Money columns ``*_usd_bn`` are USD bn accrued in the
        year (NaN where the group's covered value is missing: see ``value_missing``); the
        ``*_per_usd_1bn_imports`` columns are the same flows per USD 1 bn of covered imports
        from China (always filled). Prices are day-weighted averages over the window's days
        (percent, relative to the base); ``pass_through`` is averaged over the days the action
        was in force. ``exclusion_share_unknown`` flags years with exclusions in force whose
        value share is not in the data (treated as 0).
    """
    start, end = _as_date(date_from), _as_date(date_to)
    if end < start:
        raise InputError(f"date_to {end} is before date_from {start}")
    if groups is None:
        chosen = list(load_groups().values())
    elif isinstance(groups, Mapping):
        chosen = list(groups.values())
    else:
        chosen = list(groups)
    stop = end + dt.timedelta(days=1)
    rows = [r for g in chosen for r in _year_rows(g, start, stop, with_exclusions)]
    frame = pd.DataFrame(rows)
    return frame.set_index(["year", "group"]).sort_index(level="year", sort_remaining=False)


def exclusion_effect(date_from: dt.date | str, date_to: dt.date | str, **kwargs) -> pd.DataFrame:
    """The programme's flows with and without exclusions side by side, and their difference.

    Columns ``<flow>_with``, ``<flow>_without`` and ``<flow>_exclusion_effect`` (with minus
    without) for every flow in :data:`FLOW_FIELDS`; keyword arguments go to :func:`programme`.
    """
    with_ = programme(date_from, date_to, with_exclusions=True, **kwargs)
    without = programme(date_from, date_to, with_exclusions=False, **kwargs)
    out = with_[["excluded_share_avg_pct", "exclusion_share_unknown", "value_missing"]].copy()
    for f in FLOW_FIELDS:
        out[f"{f}_with"] = with_[f]
        out[f"{f}_without"] = without[f]
        out[f"{f}_exclusion_effect"] = with_[f] - without[f]
    return out


__all__ = [
    "CSV_COLUMNS",
    "MAGNET_GROUP",
    "GroupOutcome",
    "RateStep",
    "TariffGroup",
    "exclusion_effect",
    "import_price_change",
    "load_groups",
    "magnet_tariff_rate",
    "outcome_at",
    "programme",
    "solve_group",
]
