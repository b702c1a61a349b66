"""Exception hierarchy of reesim.

Every error a user can cause by bad input is an :class:`InputError`: the CLI prints its
message on one line and exits with code 2 (the API answers HTTP 422). A valid scenario the
model cannot solve to a trustworthy equilibrium raises :class:`ModelFailure` (exit code 3):
its message names the period, the condition family and the place. Anything else is an
internal error (exit code 1).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ReesimError(Exception):
    """Base class of reesim's own exceptions."""


class InputError(ReesimError, ValueError):
    """Bad input: an unknown name, a value out of range, a malformed file.

    The message names what was wrong, the value, and what is allowed.
    """


class SchemaError(InputError):
    """A data file does not match the schema registry.

    Parameters
    ----------
    file : str
        The file (or table) that failed.
    row : int or None
        1-based data row (the header is line 1, so data row ``n`` is line ``n + 1``).
    column : str or None
        The offending column.
    problem : str
        What is wrong and what is allowed.
    """

    def __init__(self, file: str, row: int | None, column: str | None, problem: str) -> None:
        self.file, self.row, self.column, self.problem = file, row, column, problem
        where = file
        if row is not None:
            where += f", row {row} (line {row + 1})"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")


class ModelFailure(ReesimError):
    """A valid scenario the model could not solve: the solver failed (after the Clarabel
    fallback), the ad valorem wedges did not converge, or an equilibrium guard (mass balance,
    arbitrage, complementary slackness, finite non-negative prices) failed. The message names
    the scenario, the period and the cause."""


def suggest(value: str, allowed: Iterable[str], *, what: str, limit: int = 12) -> str:
    """Build the standard 'unknown X' message: the value, the closest match and the allowed values.

    Parameters
    ----------
    value : str
        The value the user gave.
    allowed : iterable of str
        The values that would have been accepted.
    what : str
        What kind of thing it is ("table", "column", "country", ...).
    limit : int
        At most this many allowed values are listed.
    """
    allowed = sorted({str(a) for a in allowed})
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {what} '{value}'{hint or '.'} Allowed: {listing(allowed, limit)}"


def listing(allowed: Iterable[str], limit: int = 12) -> str:
    """The allowed values as text, sorted, at most ``limit`` of them (``a, b, ... (N in all)``)."""
    allowed = sorted({str(a) for a in allowed})
    return ", ".join(allowed[:limit]) + (f", ... ({len(allowed)} in all)" if len(allowed) > limit else "")
