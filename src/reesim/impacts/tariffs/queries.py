"""Point queries on the programme: a group's equilibrium, rate or import-price change at a date."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Literal

from reesim.errors import InputError, suggest
from reesim.impacts.tariffs.incidence import GroupOutcome, solve_group
from reesim.impacts.tariffs.loader import load_groups
from reesim.impacts.tariffs.schedule import TariffGroup, _as_date

#: Name of the permanent-magnet group (the one the rare-earth model reads).
MAGNET_GROUP = "permanent magnets (HTS 8505.11)"


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
