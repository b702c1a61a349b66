"""Concentration metrics, defined once and used by reports, indicators and tests.

Pure functions on shares; no I/O. Shares are in percent (0-100).
"""

from __future__ import annotations

from collections.abc import Mapping


def shares_pct(quantities: Mapping[str, float], total: float) -> dict[str, float]:
    """Each holder's share of ``total`` in percent.

    Parameters
    ----------
    quantities : mapping
        Holder (e.g. ISO3 code) to quantity (any unit, the same for all).
    total : float
        The total the shares are taken of (e.g. the world total printed by USGS, which
        may differ from the sum of the listed countries by rounding and unlisted producers).
    """
    if not total > 0:  # also rejects NaN
        raise ValueError(f"total must be positive, got {total}")
    if not all(v >= 0 for v in quantities.values()):
        raise ValueError(f"quantities must be >= 0 and not NaN, got {dict(quantities)}")
    return {k: 100.0 * v / total for k, v in quantities.items()}


def hhi_bounds(shares: Mapping[str, float], tolerance_pct: float = 0.5) -> tuple[float, float]:
    """Herfindahl-Hirschman index (sum of squared percent shares, 0-10,000) with bounds.

    Where the listed shares cover less than 100 %, the unlisted residual ``r`` may be
    spread over many small holders (index ``sum(s_i^2)``, the lower bound) or held by one
    (``sum(s_i^2) + r^2``, the upper bound). With full coverage both bounds are equal.

    References
    ----------
    U.S. Department of Justice and Federal Trade Commission, *Merger Guidelines* (2023),
    §2.1: HHI = sum of the squares of the market shares, in percent.

    Parameters
    ----------
    shares : mapping
        Holder to share in percent; shares must be >= 0 and sum to at most
        ``100 + tolerance_pct``.
    tolerance_pct : float
        How far above 100 % the shares may sum (printed totals are rounded: USGS rounds
        world production to two or three significant digits).

    Returns
    -------
    tuple of float
        ``(lower, upper)``.
    """
    values = list(shares.values())
    if not all(s >= 0 for s in values):  # also rejects NaN
        raise ValueError(f"shares must be >= 0 and not NaN, got {values}")
    covered = sum(values)
    if covered > 100.0 + tolerance_pct:
        raise ValueError(f"shares sum to {covered:.2f} % > 100 %")
    base = sum(s * s for s in values)
    residual = max(0.0, 100.0 - covered)
    return base, base + residual * residual
