"""The product-group file ``tariff_groups.csv``: its columns, validation and loading.

One row per schedule step (:class:`~reesim.impacts.tariffs.schedule.RateStep`); the
group-level columns repeat on every row of a group and must agree. Every error names the
file, the row and the column.

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
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

from reesim.errors import InputError, SchemaError, suggest
from reesim.impacts.tariffs.schedule import RateStep, TariffGroup

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
