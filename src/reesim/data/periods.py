"""Parsing of the date and period strings used by the dataset.

The raw tables write time as printed by their sources: ``2024`` (a year or an annual
average), ``2024-05`` (a month), ``2024-05-06`` (a day), ``2010-Q1`` (a quarter),
``2020-2023`` (a span of years) and ``2018-07/2020-12`` (a span of months). This module
turns each into the first and last calendar year it covers; nothing else is inferred.
"""

from __future__ import annotations

import re
from datetime import date

_PATTERNS = [  # ASCII digits only (re.ASCII): "２０２４" is not a year here
    re.compile(r"^(?P<a>\d{4})$", re.ASCII),
    re.compile(r"^(?P<a>\d{4})-(?P<m>0[1-9]|1[0-2])$", re.ASCII),
    re.compile(r"^(?P<a>\d{4})-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])$", re.ASCII),
    re.compile(r"^(?P<a>\d{4})-Q[1-4]$", re.ASCII),
    re.compile(r"^(?P<a>\d{4})-(?P<b>\d{4})$", re.ASCII),
    re.compile(r"^(?P<a>\d{4})-(0[1-9]|1[0-2])/(?P<b>\d{4})-(0[1-9]|1[0-2])$", re.ASCII),
]

ALLOWED = "YYYY, YYYY-MM, YYYY-MM-DD, YYYY-Qn, YYYY-YYYY or YYYY-MM/YYYY-MM"


def year_span(text: str) -> tuple[int, int] | None:
    """First and last calendar year covered by a period string.

    Parameters
    ----------
    text : str
        A period as written in the dataset (see module docstring).

    Returns
    -------
    tuple of int or None
        ``(first_year, last_year)``, or None when ``text`` is not a period.
    """
    for pat in _PATTERNS:
        m = pat.match(text)
        if m:
            if m.groupdict().get("d"):
                try:
                    date(int(m.group("a")), int(m.group("m")), int(m.group("d")))
                except ValueError:
                    return None
            a = int(m.group("a"))
            b = int(m.groupdict().get("b") or a)
            return (a, b) if a <= b else None
    return None


def last_day(text: str) -> date | None:
    """Last calendar day a period string covers (when a value for it could first be known).

    ``2010`` -> 2010-12-31, ``2010-06`` -> 2010-06-30, ``2010-Q1`` -> 2010-03-31,
    ``2010-07-26`` -> itself, ``2020-2023`` -> 2023-12-31, ``2018-07/2020-12`` -> 2020-12-31.
    """
    import calendar
    import re as _re

    if year_span(text) is None:
        return None
    m = _re.match(r"^(\d{4})-(\d{2})-(\d{2})$", text, _re.ASCII)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    m = _re.match(r"^(?:\d{4}-\d{2}/)?(\d{4})-(\d{2})$", text, _re.ASCII)
    if m:
        y, mo = int(m[1]), int(m[2])
        return date(y, mo, calendar.monthrange(y, mo)[1])
    m = _re.match(r"^(\d{4})-Q([1-4])$", text, _re.ASCII)
    if m:
        y, q = int(m[1]), int(m[2])
        return date(y, 3 * q, calendar.monthrange(y, 3 * q)[1])
    return date(year_span(text)[1], 12, 31)


def first_day(text: str) -> date | None:
    """First calendar day a period string covers (``2010-Q2`` -> 2010-04-01; see :func:`last_day`)."""
    import re as _re

    span = year_span(text)
    if span is None:
        return None
    m = _re.match(r"^(\d{4})-(\d{2})-(\d{2})$", text, _re.ASCII)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    m = _re.match(r"^(\d{4})-(\d{2})(?:/\d{4}-\d{2})?$", text, _re.ASCII)
    if m:
        return date(int(m[1]), int(m[2]), 1)
    m = _re.match(r"^(\d{4})-Q([1-4])$", text, _re.ASCII)
    if m:
        return date(int(m[1]), 3 * int(m[2]) - 2, 1)
    return date(span[0], 1, 1)
