"""The schema registry: every table and column of the embedded dataset, declared as data.

``schema/tables.csv`` lists the tables (title, time column, description) and
``schema/columns.csv`` every column (dtype, unit, required, key, description). Loading,
validation, the DuckDB DDL and ``reesim data list`` are all generated from these two files,
so adding a column is one row there (habit 1 of STYLE.md, after PyPSA's component_attrs).

Dtypes
------
text      free text as printed by the source
code      a short identifier (no surrounding whitespace)
int       integer
float     decimal number
bool      ``true`` or ``false``
period    a date or period string (see :mod:`reesim.data.periods`)
iso3      an ISO 3166-1 alpha-3 code, or an aggregate code declared in ``aggregates``
region    a model region declared in ``regions``
source_id an id declared in ``sources``
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DTYPES = ("text", "code", "int", "float", "bool", "period", "iso3", "region", "source_id")
DUCKDB_TYPES = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}
DEFAULT_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ColumnSpec:
    """One declared column."""

    name: str
    dtype: str
    unit: str
    required: bool
    key: bool
    description: str

    @property
    def sql_type(self) -> str:
        """DuckDB type of the column."""
        return DUCKDB_TYPES.get(self.dtype, "VARCHAR")


@dataclass(frozen=True)
class TableSpec:
    """One declared table."""

    name: str
    title: str
    time_column: str | None
    kind: str
    description: str
    columns: tuple[ColumnSpec, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Declared column names, in file order."""
        return tuple(c.name for c in self.columns)

    @property
    def key(self) -> tuple[str, ...]:
        """Columns whose values together identify a row."""
        return tuple(c.name for c in self.columns if c.key)

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name`` (KeyError if undeclared)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _bool(text: str, where: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"{where}: expected true or false, got {text!r}")
    return text == "true"


@cache
def load_registry(schema_dir: Path = DEFAULT_DIR / "schema") -> dict[str, TableSpec]:
    """Read the registry files.

    Parameters
    ----------
    schema_dir : Path
        Folder holding ``tables.csv`` and ``columns.csv``.

    Returns
    -------
    dict
        Table name to :class:`TableSpec`, in declaration order.
    """
    with open(schema_dir / "columns.csv", newline="", encoding="utf-8") as fh:
        col_rows = list(csv.DictReader(fh))
    with open(schema_dir / "tables.csv", newline="", encoding="utf-8") as fh:
        table_rows = list(csv.DictReader(fh))
    specs: dict[str, TableSpec] = {}
    for t in table_rows:
        cols = []
        for c in (r for r in col_rows if r["table"] == t["table"]):
            where = f"schema/columns.csv, table {t['table']}, column {c['column']}"
            if c["dtype"] not in DTYPES:
                raise ValueError(f"{where}: unknown dtype {c['dtype']!r}; allowed: {', '.join(DTYPES)}")
            cols.append(
                ColumnSpec(
                    name=c["column"],
                    dtype=c["dtype"],
                    unit=c["unit"],
                    required=_bool(c["required"], where),
                    key=_bool(c["key"], where),
                    description=c["description"],
                )
            )
        if not cols:
            raise ValueError(f"schema/tables.csv: table {t['table']} has no columns in columns.csv")
        time_col = t["time_column"] or None
        if time_col and time_col not in {c.name for c in cols}:
            raise ValueError(f"schema/tables.csv: time column {time_col!r} of {t['table']} is not declared")
        specs[t["table"]] = TableSpec(
            name=t["table"],
            title=t["title"],
            time_column=time_col,
            kind=t["kind"],
            description=t["description"],
            columns=tuple(cols),
        )
    orphans = {r["table"] for r in col_rows} - set(specs)
    if orphans:
        raise ValueError(f"schema/columns.csv: columns of undeclared tables {sorted(orphans)}")
    return specs
