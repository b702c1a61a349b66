"""Read access to the embedded dataset: :class:`Dataset` and its filters and citations."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reesim.data.registry import DEFAULT_DIR, TableSpec, load_registry
from reesim.data.store import open_database
from reesim.errors import InputError, suggest
from reesim.memo import private_copy

if TYPE_CHECKING:
    import duckdb

#: Columns added by the store to every table with a time column.
DERIVED_COLUMNS = ("year_start", "year_end", "observed_end")
#: Columns joined from ``sources`` by :meth:`Dataset.cite`.
CITATION_COLUMNS = ("citation", "where_read", "licence", "vintage")


#: Tables whose ``preferred`` flag means "latest source vintage among rows reporting the same
#: quantity", with the columns that identify the quantity (scripts/import_shared_data.py uses
#: the same rule); an as-of view re-derives the flag among the rows it can see.
VINTAGE_PREFERENCE: dict[str, tuple[str, ...]] = {
    "prices": ("date", "element", "form_code", "market_code", "unit"),
    "reserves": ("year", "country"),
    "mine_production": ("year", "country"),
    "us_salient_statistics": ("year", "measure"),
    "exchange_rates": ("year", "currency"),
}


#: most query results a dataset keeps (a world build asks for a few dozen selections; an API's
#: filters are unbounded)
MAX_KEPT_QUERIES = 256
#: guards every dataset's kept query results (views share their dataset's dict)
_FRAMES_LOCK = threading.Lock()


@dataclass
class Dataset:
    """The embedded dataset, validated and loaded into a read-only DuckDB file.

    Parameters
    ----------
    tables_dir, schema_dir : Path
        Folders of the table CSVs and of the schema registry (defaults: the package's own).
    """

    tables_dir: Path = DEFAULT_DIR / "tables"
    schema_dir: Path = DEFAULT_DIR / "schema"
    as_of_date: dt.date | None = None
    as_of_exceptions: tuple = ()
    registry: dict[str, TableSpec] = field(init=False)
    path: Path = field(init=False)
    version: str = field(init=False)
    _con: duckdb.DuckDBPyConnection | None = field(init=False, default=None, repr=False)
    #: distinct values by (table, column), read once: the store is read-only
    _distinct: dict = field(init=False, default_factory=dict, repr=False)
    #: query results by (SQL, parameters), read once (the store is read-only); callers get copies
    _frames: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.registry = load_registry(self.schema_dir)
        self.path, digest = open_database(self.tables_dir, self.schema_dir, self.registry)
        self.version = digest[:16]

    # ------------------------------------------------------------------ access
    def as_of(self, when: dt.date | str, exceptions: tuple[tuple[str, dict[str, Any]], ...] = ()) -> Dataset:
        """A view of the dataset as it could be known on ``when`` (vintage-correct access).

        Rows of a fact table are kept only if (a) the period they describe had ended by
        ``when`` (an annual figure for 2010 is known from 2010-12-31; the ``observed_end``
        column) and (b) their source was published by ``when`` (``sources.vintage``, taken
        as the last day of the vintage period; rows whose source has no vintage are dropped).
        Later revisions of earlier years are therefore excluded. Reference tables (sources,
        countries, regions, aggregates) are unaffected.

        ``exceptions`` lists ``(table, filters)`` whose matching rows are kept although they
        fail (a) or (b) — explicit, named departures (e.g. a minor element's price that no
        source published before ``when``), which a backtest reports next to its scores.
        """
        when = dt.date.fromisoformat(when) if isinstance(when, str) else when
        view = object.__new__(Dataset)
        view.__dict__.update(self.__dict__)
        view.as_of_date = when
        view.as_of_exceptions = tuple((t, dict(f)) for t, f in exceptions)
        view._con = None
        for table, filters in view.as_of_exceptions:
            view._where(table, filters)  # unknown tables, columns or values fail here
        return view

    def _visible(self, name: str) -> tuple[str, list[Any]]:
        """SQL condition (on the table's own columns) for rows an as-of view can see, and its parameters."""
        cond = ["source_id IN (SELECT source_id FROM sources WHERE vintage_date <= ?)"]
        params: list[Any] = [self.as_of_date]
        if self.spec(name).time_column:
            cond.insert(0, "(observed_end IS NULL OR observed_end <= ?)")
            params.insert(0, self.as_of_date)
        sql = "(" + " AND ".join(cond) + ")"
        for table, filters in self.as_of_exceptions:
            if table == name:
                w, p = self._where(table, filters)
                sql += " OR (" + " AND ".join(w or ["TRUE"]) + ")"
                params += p
        return "(" + sql + ")", params

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only DuckDB connection (a cursor on one shared read-only handle)."""
        if self._con is None:
            import duckdb  # on the first query only (:mod:`reesim.data.kept`)

            self._con = duckdb.connect(str(self.path), read_only=True)
        return self._con.cursor()

    def spec(self, name: str) -> TableSpec:
        """Declaration of table ``name``; an unknown name raises :class:`InputError`."""
        if name not in self.registry:
            raise InputError(suggest(name, self.registry, what="table", limit=20))
        return self.registry[name]

    def columns(self, name: str) -> tuple[str, ...]:
        """Columns of table ``name`` in the store (declared plus derived year columns)."""
        spec = self.spec(name)
        return spec.column_names + (DERIVED_COLUMNS if spec.time_column else ())

    def table(self, name: str, **filters: Any) -> pd.DataFrame:
        """Rows of table ``name`` matching every filter, as a pandas DataFrame.

        Parameters
        ----------
        name : str
            Table name (``reesim data list`` shows them).
        **filters
            ``column=value`` equality filters. ``year=Y`` on a table whose time column is
            not an integer ``year`` keeps rows whose period covers Y. A list or tuple
            value matches any of its items.

        Raises
        ------
        InputError
            Unknown table, column, country code, a value of the wrong type, or a year
            the table does not cover.
        """
        where, params = self._where(name, filters)
        spec = self.spec(name)
        if self.as_of_date is not None and name in VINTAGE_PREFERENCE:
            return self._as_of_preferred(name, where, params)
        if self.as_of_date is not None and spec.kind == "fact":
            cond, p = self._visible(name)
            where.append(cond)
            params += p
        sql = f'SELECT * FROM "{name}"' + (f" WHERE {' AND '.join(where)}" if where else "")
        return self._query(sql, params)

    def _query(self, sql: str, params: list[Any]) -> pd.DataFrame:
        """The rows of ``sql``: queried once per dataset object and kept (the store is read-only:
        a world build asks for the same selections every time), a copy returned each call.

        The key is the full SQL with its parameters, which include an as-of view's date and
        exceptions, so views (which share this cache with their dataset) never see each other's rows.
        """
        key = (sql, tuple(params))
        with _FRAMES_LOCK:  # the API's threads share a dataset and its views
            frame = self._frames.get(key)
            if frame is not None:
                self._frames[key] = self._frames.pop(key)  # most recently used last
        if frame is None:
            frame = self.connect().execute(sql, params).df()
            # bounded, least recently used out: an API serves any filter a query string names (a
            # review of 2026-12-06 grew this dict by 20,000 entries and 300 MB with ?price=<n>)
            with _FRAMES_LOCK:
                while len(self._frames) >= MAX_KEPT_QUERIES:
                    self._frames.pop(next(iter(self._frames)))
                self._frames[key] = frame
        return private_copy(frame)  # shallow under copy-on-write: a deep copy cost ~3 ms a world build

    def _as_of_preferred(self, name: str, where: list[str], params: list[Any]) -> pd.DataFrame:
        """Rows visible on the as-of date, with ``preferred`` re-derived among them.

        Among visible rows reporting the same quantity (:data:`VINTAGE_PREFERENCE` keys) the one
        from the latest source vintage is preferred, as in the full dataset; a row that is
        preferred only because of a later revision thus gives way to the revision that was
        known on the date (ties keep the full dataset's choice). A row that the full dataset
        does not prefer although no other row reports its quantity is set aside for another
        reason (its series contradicts another, e.g. country rows above the USGS world total;
        the row's note says why) and is preferred in no view.
        """
        cols = self.columns(name)
        key = ", ".join(f'"{c}"' for c in VINTAGE_PREFERENCE[name])
        visible, vparams = self._visible(name)
        select = ", ".join(f'"{c}"' for c in cols if c != "preferred")
        sql = (
            f'WITH a AS (SELECT *, count(*) OVER (PARTITION BY {key}) AS _n FROM "{name}"), '
            "v AS (SELECT *, (SELECT vintage_date FROM sources s WHERE s.source_id = a.source_id) "
            f"AS _vintage FROM a WHERE {visible}), "
            f"r AS (SELECT {select}, (row_number() OVER (PARTITION BY {key} "
            "ORDER BY _vintage DESC, preferred DESC) = 1) AND (preferred OR _n > 1) AS preferred FROM v) "
            f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM r"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )
        return self._query(sql, vparams + params)

    def cite(self, name: str, **key: Any) -> pd.DataFrame:
        """The citation(s) behind the rows of ``name`` that match ``key``.

        Returns
        -------
        DataFrame
            The matching rows with their source id, citation, where it was read,
            licence and vintage. Raises :class:`InputError` when no row matches.
        """
        if not key:
            raise InputError(f"cite needs at least one column=value filter for table '{name}'")
        rows = self.table(name, **key)
        if rows.empty:
            shown = ", ".join(f"{k}={v}" for k, v in key.items())
            raise InputError(f"no row of table '{name}' matches {shown}")
        if name == "sources":
            return rows
        sources = self.table("sources", source_id=list(rows["source_id"].unique()))
        return rows.merge(sources, on="source_id", how="left", validate="many_to_one")

    def coverage(self, name: str) -> tuple[int | None, int | None]:
        """First and last calendar year covered by table ``name`` (None if it has no time column)."""
        if self.spec(name).time_column is None:
            return None, None
        key = (name, "(coverage)")  # read once, as the distinct values are
        if key not in self._distinct:
            sql = f'SELECT min(year_start), max(year_end) FROM "{name}"'
            self._distinct[key] = tuple(self.connect().execute(sql).fetchone())
        lo, hi = self._distinct[key]
        return lo, hi

    # ------------------------------------------------------------------ filters
    def _where(self, name: str, filters: dict[str, Any]) -> tuple[list[str], list[Any]]:
        spec = self.spec(name)
        allowed = self.columns(name)
        where: list[str] = []
        params: list[Any] = []
        for col, value in filters.items():
            if (
                col == "year"
                and spec.time_column
                and not (col in spec.column_names and spec.column("year").dtype == "int")
            ):
                year = self._year(name, value)
                where.append("year_start <= ? AND ? <= year_end")
                params += [year, year]
                continue
            if col not in allowed:
                raise InputError(f"table '{name}': " + suggest(col, allowed, what="column", limit=30))
            values = list(value) if isinstance(value, list | tuple | set) else [value]
            dtype = spec.column(col).dtype if col in spec.column_names else "int"
            typed = [self._typed(name, col, dtype, v) for v in values]
            if col == "year" or col in DERIVED_COLUMNS:
                for y in typed:
                    self._year(name, y)
            elif dtype in ("text", "code", "region", "source_id"):
                self._known_values(name, col, typed)
            where.append(f'"{col}" IN ({", ".join("?" * len(typed))})')
            params += typed
        return where, params

    def _typed(self, name: str, col: str, dtype: str, value: Any) -> Any:
        text = str(value).strip()
        try:
            if dtype == "int":
                return int(text)
            if dtype == "float":
                return float(text)
        except ValueError:
            raise InputError(f"table '{name}', column '{col}': {value!r} is not a number ({dtype})") from None
        if dtype == "bool":
            if text.lower() not in ("true", "false"):
                raise InputError(f"table '{name}', column '{col}': {value!r} is not true or false")
            return text.lower() == "true"
        if dtype == "iso3":
            known = self._codes()
            if text.upper() not in known:
                raise InputError(
                    f"table '{name}', column '{col}': " + suggest(text, known, what="country code")
                )
            return text.upper()
        return text

    def _known_values(self, name: str, col: str, values: list[str]) -> None:
        """Raise InputError naming the allowed values when a value never occurs in ``col``."""
        present = self._distinct.get((name, col))
        if present is None:
            rows = (
                self.connect()
                .execute(f'SELECT DISTINCT "{col}" FROM "{name}" WHERE "{col}" IS NOT NULL')
                .fetchall()
            )
            present = self._distinct[(name, col)] = frozenset(r[0] for r in rows)
        for v in values:
            if v not in present:
                raise InputError(
                    f"table '{name}', column '{col}': " + suggest(v, present, what="value", limit=25)
                )

    def _codes(self) -> frozenset[str]:
        key = ("countries", "(codes)")  # read once, as the distinct values are
        if key not in self._distinct:
            con = self.connect()
            iso = con.execute("SELECT iso3 FROM countries").fetchall()
            agg = con.execute("SELECT code FROM aggregates WHERE code IS NOT NULL").fetchall()
            self._distinct[key] = frozenset(r[0] for r in iso + agg)
        return self._distinct[key]

    def _year(self, name: str, value: Any) -> int:
        try:
            year = int(str(value).strip())
        except ValueError:
            raise InputError(f"table '{name}': year {value!r} is not an integer") from None
        lo, hi = self.coverage(name)
        if lo is None or not lo <= year <= hi:
            span = f"{lo}-{hi}" if lo is not None else "none (the table has no time column)"
            raise InputError(f"table '{name}' has no data for year {year}; years covered: {span}")
        return year
