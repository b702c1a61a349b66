"""Incidence of an ad valorem duty on one product group: a GSIM-style partial-equilibrium model.

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

This module owns the model: :class:`GroupOutcome` and the pure solver :func:`solve_group`
(no data access).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from reesim.errors import InputError
from reesim.impacts.tariffs.schedule import TariffGroup

#: The three import varieties, in the order of the solver's arrays.
_VARIETIES = ("china_taxed", "china_excluded", "other")


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
    from scipy.optimize import brentq  # imported when used: scipy.optimize alone takes 0.35 s

    return float(brentq(h, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=500))


def _check_fraction(name: str, value: float, upper: float | None) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (upper is not None and value > upper):
        allowed = f"0-{upper}" if upper is not None else ">= 0"
        raise InputError(f"{name} = {value!r} is not allowed (a fraction, {allowed})")
    return value


class _Market(NamedTuple):
    """Reference state of a group's import market, one entry per variety (:data:`_VARIETIES`)."""

    covered_value: float
    """Covered imports from China at world prices, USD bn (1.0 when the value is missing)."""
    values: np.ndarray
    """Reference import values at world prices (= quantities)."""
    expenditure: float
    """Reference expenditure ``E0`` on the group's imports (duty-inclusive)."""
    theta: np.ndarray
    """Reference expenditure shares."""
    log_t: np.ndarray
    """``ln T_i``: log of the duty factor relative to the base."""
    eps: np.ndarray
    """Export supply elasticities."""


class _Equilibrium(NamedTuple):
    """Solved prices and quantities of the three varieties (hat form, reference = 1)."""

    x: float
    """``ln P_hat``, the log change of the CES import price index."""
    log_w: np.ndarray
    """``ln w_hat_i``, log changes of the world (exporter-received) prices."""
    log_p: np.ndarray
    """``ln p_hat_i``, log changes of the importer's prices."""
    quantities: np.ndarray
    """Import volumes after the action, USD bn at reference world prices."""
    w_hat: np.ndarray
    """``w_hat_i``, world price changes."""


def _reference_market(g: TariffGroup, t: float, x_share: float) -> _Market:
    """Step 1 of :func:`solve_group`: values, shares, duty factors and elasticities of the base."""
    t0 = g.base_tariff_rate
    v_c = 1.0 if g.covered_import_value_usd_bn is None else float(g.covered_import_value_usd_bn)
    v_o = v_c * (1.0 - g.china_share_of_imports) / g.china_share_of_imports
    values = np.array([(1.0 - x_share) * v_c, x_share * v_c, v_o])  # at world prices = quantities
    ref_price = np.array([1.0 + t0, 1.0 + t0, 1.0])  # importer's reference prices
    spend = values * ref_price
    e0 = float(spend.sum())
    theta = spend / e0
    log_t = np.array([math.log1p(t) - math.log1p(t0), 0.0, 0.0])
    eps = np.array([g.eps_supply_china, g.eps_supply_china, g.eps_supply_other], dtype=float)
    return _Market(v_c, values, e0, theta, log_t, eps)


def _equilibrium(m: _Market, sigma: float, eta: float) -> _Equilibrium:
    """Step 2 of :func:`solve_group`: solve for ``ln P_hat``, then world prices and quantities."""
    x = _solve_log_price_index(m.log_t, m.theta, m.eps, sigma, eta)
    log_w = _log_world_price(m.log_t, x, m.eps, sigma, eta)
    log_p = m.log_t + log_w
    m_hat = np.exp(-sigma * log_p + (sigma - eta) * x)
    quantities = m.values * m_hat
    w_hat = np.exp(log_w)
    return _Equilibrium(x, log_w, log_p, quantities, w_hat)


def _welfare(m: _Market, eq: _Equilibrium, t: float, t0: float, eta: float) -> dict[str, float]:
    """Step 3 of :func:`solve_group`: the welfare fields of :class:`GroupOutcome` (USD bn a year).

    Francois & Hall (1997) measures; see the module docstring.
    """
    x, log_w, quantities, w_hat = eq.x, eq.log_w, eq.quantities, eq.w_hat
    e0, v_c = m.expenditure, m.covered_value
    # consumer surplus of the composite: -E0 * integral_1^P_hat z**(-eta) dz
    d_cs = -e0 * x if abs(eta - 1.0) < 1e-12 else -e0 * math.expm1((1.0 - eta) * x) / (1.0 - eta)
    revenue = t * w_hat[0] * quantities[0] + t0 * w_hat[1] * quantities[1]
    d_revenue = revenue - t0 * v_c
    d_ps = 0.0
    for v, lw, e in zip(m.values, log_w, m.eps, strict=True):
        if math.isfinite(e) and v > 0:
            d_ps += float(v * math.expm1((1.0 + e) * lw) / (1.0 + e))
    tot_gain = float(np.dot(-np.expm1(log_w), quantities))
    dwl = -(d_cs + d_revenue + d_ps)
    return {
        "consumer_surplus_change_usd_bn": d_cs,
        "consumer_cost_usd_bn": -d_cs,
        "tariff_revenue_usd_bn": float(d_revenue),
        "foreign_producer_surplus_change_usd_bn": d_ps,
        "terms_of_trade_gain_usd_bn": tot_gain,
        "deadweight_loss_usd_bn": float(dwl),
        "net_welfare_change_usd_bn": float(d_cs + d_revenue),
    }


def solve_group(group_params: TariffGroup, tariff_rate: float, excluded_share: float = 0.0) -> GroupOutcome:
    """Equilibrium of one product group under an ad valorem duty with exclusions.

    Pure function of its arguments (no data access). See the module docstring for the
    model (Francois & Hall 1997 multi-source PE model, constant elasticities). Steps:
    :func:`_reference_market`, :func:`_equilibrium`, :func:`_welfare`.

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

    market = _reference_market(g, t, x_share)
    eq = _equilibrium(market, sigma, eta)
    welfare = _welfare(market, eq, t, t0, eta)

    x, log_w, quantities, w_hat = eq.x, eq.log_w, eq.quantities, eq.w_hat
    price_change = np.expm1(eq.log_p) * 100.0
    importer_price_rise = (1.0 + t) * w_hat[0] - (1.0 + t0)
    pass_through = float(importer_price_rise / (t - t0)) if t != t0 else math.nan

    return GroupOutcome(
        group=g.name,
        tariff_rate=t,
        base_tariff_rate=t0,
        excluded_share=x_share,
        covered_import_value_usd_bn=market.covered_value,
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
        **welfare,
    )
