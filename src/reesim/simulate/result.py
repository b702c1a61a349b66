"""The result of a simulation: immutable labelled tables, an xarray view, atomic writing."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from reesim.atomic import atomic_folder
from reesim.errors import InputError
from reesim.memo import private_copy
from reesim.simulate.run_arrays import RunArrays

TABLES = (
    "prices",
    "production",
    "trade",
    "consumption",
    "capacity",
    "stocks",
    "fiscal",
    "quota_rents",
    "surplus",
    "licence_rents",
)
#: labels of a ``licence_rents`` row (after ``period, year``; then ``rent_usd_per_kg``)
LICENCE_RENT_LABELS = ("licence", "exporter", "importer", "commodity")
#: tables added after run folders were first written: an older folder reads them as empty
LATER_TABLES = {"licence_rents": ("period", "year", *LICENCE_RENT_LABELS, "rent_usd_per_kg")}


class LazyTables(Mapping):
    """A run's tables, made from its recorder on first read (:meth:`reesim.simulate.record.Recorder.tables`).

    An ensemble member reads its figures from the runs' arrays and its scenario run's tables
    are never read (about 12 ms a member to make). Made once; read-only as a mapping.
    """

    def __init__(self, make: Callable[[], dict[str, pd.DataFrame]]) -> None:
        self._make: Callable[[], dict[str, pd.DataFrame]] | None = make
        self._data: dict[str, pd.DataFrame] | None = None
        self._lock = threading.Lock()  # a service's threads may read one result at once

    def _tables(self) -> dict[str, pd.DataFrame]:
        if self._data is None:
            with self._lock:
                if self._data is None and self._make is not None:
                    self._data, self._make = self._make(), None
        assert self._data is not None
        return self._data

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self._tables()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables())

    def __len__(self) -> int:
        return len(self._tables())

    def __reduce__(self):
        return dict, (dict(self._tables()),)


@dataclass(frozen=True)
class Result:
    """Tables of a simulated scenario, one row per step and label.

    Quantities are tonnes moved in the step (``tonnes``) or annual rates (``tonnes_per_year``);
    prices in USD/kg; fiscal amounts in million USD per step.
    """

    scenario_name: str
    meta: dict
    _tables: Mapping[str, pd.DataFrame] = field(repr=False)
    #: the recorded steps as arrays, in the process that simulated the run (None once pickled or
    #: read back: the tables are the record; :mod:`reesim.simulate.run_arrays`)
    arrays: RunArrays | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        """Pickled without :attr:`arrays` (a pool sends the tables; the arrays stay where they were made)."""
        return {k: v for k, v in self.__dict__.items() if k != "arrays"}

    def __copy__(self) -> Result:
        """A copy in the same process keeps :attr:`arrays` (only pickling leaves them behind)."""
        return replace(self)

    def table(self, name: str) -> pd.DataFrame:
        """A copy of table ``name`` (one of :data:`TABLES`) that the caller may change.

        Shallow under pandas' copy-on-write (:func:`reesim.memo.private_copy`): a column is
        copied only when one side writes to it. The deep copy of every table read cost an
        ensemble member about 20 copies of tables of a few thousand rows.
        """
        if name not in self._tables:
            from reesim.errors import suggest

            raise InputError(suggest(name, TABLES, what="result table"))
        return private_copy(self._tables[name])

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name in TABLES:
            return self.table(name)
        raise AttributeError(name)

    def to_xarray(self):
        """Prices, consumption and capacity as an xarray Dataset (period x commodity/sector x region)."""
        import xarray as xr

        p = self._tables["prices"].set_index(["period", "commodity", "region"])["usd_per_kg"]
        c = self._tables["consumption"].groupby(["period", "commodity", "region"])["tonnes"].sum()
        k = self._tables["capacity"].groupby(["period", "kind", "region"])["tonnes_per_year"].sum()
        ds = xr.Dataset({"price": p.to_xarray(), "consumption": c.to_xarray(), "capacity": k.to_xarray()})
        ds["price"].attrs["units"] = "USD/kg"
        ds["consumption"].attrs["units"] = "t per step"
        ds["capacity"].attrs["units"] = "t/yr"
        ds.attrs.update({k: str(v) for k, v in self.meta.items() if not isinstance(v, dict | list)})
        return ds


def common_periods(a: Result, b: Result, label_a: str = "run A", label_b: str = "run B") -> list[str]:
    """The periods both results cover (same step), in time order.

    Raises
    ------
    InputError
        If the runs step differently (years, quarters, months) or share no period.
    """

    def step(periods: list[str]) -> str:
        p = str(periods[0]) if periods else ""
        return "quarter" if "Q" in p else ("month" if "-" in p else "year")

    pa, pb = sorted(a.prices["period"].unique()), sorted(b.prices["period"].unique())
    if step(pa) != step(pb):
        raise InputError(
            f"{label_a} steps by {step(pa)} and {label_b} by {step(pb)}; compare runs with the same step "
            "(horizon.step in the scenario)"
        )
    both = sorted(set(pa) & set(pb))
    if not both:
        raise InputError(
            f"{label_a} ({pa[0]}-{pa[-1]}) and {label_b} ({pb[0]}-{pb[-1]}) share no period; "
            "compare runs whose horizons overlap"
        )
    return both


def restrict(res: Result, periods: list[str]) -> Result:
    """The result on ``periods`` only (tables without a period column are kept whole)."""
    keep = set(periods)
    tables = {
        k: (df[df["period"].isin(keep)].reset_index(drop=True) if "period" in df.columns else df)
        for k, df in res._tables.items()
    }
    return Result(res.scenario_name, res.meta, tables)


def read_result(folder: Path, name: str | None = None) -> Result:
    """A Result read back from the Parquet tables of a run folder (``reesim run --out``)."""
    folder = Path(folder)
    missing = [t for t in TABLES if not (folder / f"{t}.parquet").is_file() and t not in LATER_TABLES]
    if missing:
        raise InputError(
            f"{folder}: not a reesim run folder (missing {', '.join(m + '.parquet' for m in missing)})"
        )
    tables = {
        t: pd.read_parquet(folder / f"{t}.parquet")
        if (folder / f"{t}.parquet").is_file()
        else pd.DataFrame(columns=list(LATER_TABLES[t]))
        for t in TABLES
    }
    meta = {}
    summary = folder / "summary.json"
    if summary.is_file():
        meta = json.loads(summary.read_text())
    return Result(scenario_name=name or meta.get("scenario", folder.name), meta=meta, _tables=tables)


def write_run(
    directory: Path,
    results: dict[str, Result],
    summary: dict,
    scenario_yaml: str,
    extra: dict[str, pd.DataFrame] | None = None,
    finish: Callable[[Path], None] | None = None,
    formats: tuple[str, ...] = ("parquet",),
) -> None:
    """Write a run (scenario and counterfactual tables, summary.json, resolved scenario) atomically.

    Tables of the scenario go to ``<table>.parquet``, the counterfactual's to
    ``counterfactual/<table>.parquet``; ``formats`` adds CSV files beside them and/or one
    Excel workbook ``tables.xlsx`` (:mod:`reesim.simulate.export`). Everything is written
    into a temporary sibling folder and renamed at the end: a failed run leaves no
    half-written directory. ``finish(folder)``, if given, adds files (the HTML report) inside
    the same temporary folder before the rename.
    """
    from reesim.simulate.export import write_tables

    tables: dict[str, pd.DataFrame] = {}
    for key, res in results.items():
        for name in TABLES:
            df = res.table(name)
            if name == "prices" and "determined" in df.columns:
                df = written_prices(df)
            tables[name if key == "scenario" else f"{key}/{name}"] = df
    tables.update(extra or {})
    with atomic_folder(directory) as tmp:
        write_tables(tmp, tables, formats, summary.get("units"))
        (tmp / "summary.json").write_text(
            json.dumps(json_finite(summary), indent=2, default=str, allow_nan=False)
        )
        (tmp / "scenario.resolved.yaml").write_text(scenario_yaml)
        if finish is not None:
            finish(tmp)


def written_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """The prices table as written to a run folder: ``usd_per_kg`` empty where ``determined`` is
    false. Such a price is one point of an interval the solution leaves open (no consumption and
    no trade in that market and period); the solver's point means nothing and can be absurd
    (millions of USD/kg for a residue no one buys), so a table or a spreadsheet shows a gap."""
    out = prices.copy()
    out.loc[~out["determined"].astype(bool), "usd_per_kg"] = float("nan")
    return out


def json_finite(value):
    """``value`` with every NaN or infinite float replaced by None, so that it is valid JSON (RFC 8259
    has no NaN; a change against a counterfactual of zero has no percentage)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_finite(v) for v in value]
    return value
