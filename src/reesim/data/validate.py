"""Strict loading of the dataset's CSV files against the schema registry.

Tier-1 (structural) validation in the sense of STYLE.md habit 6: every file must have
exactly the declared columns; every value must parse as its declared dtype; required
values must be present; keys must be unique; every country code must be ISO 3166-1
alpha-3 or a declared aggregate; every row must cite a declared source. The first problem
found raises :class:`reesim.errors.SchemaError` naming file, row and column.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pycountry

from reesim.data.periods import ALLOWED as PERIOD_FORMATS
from reesim.data.periods import year_span
from reesim.data.registry import TableSpec
from reesim.errors import SchemaError, suggest

#: Reference tables are validated first: the others point into them.
REFERENCE_ORDER = ("sources", "aggregates", "regions", "countries")
ISO3 = frozenset(c.alpha_3 for c in pycountry.countries)


def read_csv(path: Path) -> pd.DataFrame:
    """Read a dataset CSV as strings, empty cells as empty strings (nothing converted)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def _first_bad(mask: pd.Series) -> int | None:
    """1-based data row of the first True in ``mask``, or None."""
    hits = mask.to_numpy().nonzero()[0]
    return int(hits[0]) + 1 if len(hits) else None


def _check_header(raw: pd.DataFrame, spec: TableSpec, file: str) -> None:
    declared = spec.column_names
    for col in raw.columns:
        if col not in declared:
            raise SchemaError(file, None, col, suggest(col, declared, what="column", limit=40))
    for col in declared:
        if col not in raw.columns:
            raise SchemaError(file, None, col, "declared column is missing from the file")


def _convert(raw: pd.Series, dtype: str, file: str, column: str) -> pd.Series:
    empty = raw == ""
    if dtype in ("int", "float"):
        num = pd.to_numeric(raw.where(~empty), errors="coerce")
        row = _first_bad((num.isna() | num.abs().eq(float("inf"))) & ~empty)
        if row is not None:
            raise SchemaError(file, row, column, f"{raw.iloc[row - 1]!r} is not a number ({dtype})")
        if dtype == "int":
            row = _first_bad(~empty & ((num % 1 != 0) | (num.abs() >= 2**63)))
            if row is not None:
                raise SchemaError(file, row, column, f"{raw.iloc[row - 1]!r} is not an integer (64-bit)")
            return num.astype("Int64")
        return num.astype("Float64")
    if dtype == "bool":
        row = _first_bad(~raw.isin(["true", "false", ""]))
        if row is not None:
            raise SchemaError(
                file, row, column, f"{raw.iloc[row - 1]!r} is not a boolean; allowed: true, false"
            )
        return raw.map({"true": True, "false": False, "": None}).astype("boolean")
    if dtype == "period":
        spans = raw.map(lambda v: year_span(v) if v else (0, 0))
        row = _first_bad(spans.isna())
        if row is not None:
            raise SchemaError(
                file, row, column, f"{raw.iloc[row - 1]!r} is not a date or period; allowed: {PERIOD_FORMATS}"
            )
    if dtype in ("code", "iso3", "region", "source_id", "period"):
        row = _first_bad(raw != raw.str.strip())
        if row is not None:
            raise SchemaError(file, row, column, f"{raw.iloc[row - 1]!r} has surrounding whitespace")
    return raw.where(~empty, None).astype("object")


def _check_refs(raw: pd.Series, dtype: str, file: str, column: str, refs: dict[str, frozenset[str]]) -> None:
    if dtype not in refs:
        return
    allowed = refs[dtype]
    bad = (raw != "") & ~raw.isin(allowed)
    row = _first_bad(bad)
    if row is not None:
        what = {"iso3": "country code", "region": "region", "source_id": "source id"}[dtype]
        raise SchemaError(file, row, column, suggest(raw.iloc[row - 1], allowed, what=what))


def validate_table(
    raw: pd.DataFrame, spec: TableSpec, file: str, refs: dict[str, frozenset[str]]
) -> pd.DataFrame:
    """Validate one table read by :func:`read_csv` and return it with typed columns.

    Parameters
    ----------
    raw : DataFrame
        The file as strings.
    spec : TableSpec
        Its declaration in the registry.
    file : str
        Name used in error messages.
    refs : dict
        Allowed values for reference dtypes (``iso3``, ``region``, ``source_id``); a dtype
        missing from ``refs`` is not checked (used while loading the reference tables).

    Raises
    ------
    SchemaError
        On the first problem, naming file, row and column.
    """
    _check_header(raw, spec, file)
    raw = raw[list(spec.column_names)]
    out = {}
    for col in spec.columns:
        series = raw[col.name]
        if col.required:
            row = _first_bad(series.str.strip() == "")
            if row is not None:
                raise SchemaError(file, row, col.name, "value is required but empty")
        out[col.name] = _convert(series, col.dtype, file, col.name)
        _check_refs(series, col.dtype, file, col.name, refs)
    if spec.key:
        key = list(spec.key)
        row = _first_bad(raw.duplicated(key, keep="first"))
        if row is not None:
            values = tuple(raw.iloc[row - 1][key])
            first = _first_bad((raw[key] == pd.Series(values, index=key)).all(axis=1))
            raise SchemaError(
                file,
                row,
                None,
                f"duplicated key ({', '.join(key)}) = ({', '.join(values)}); same as row {first}",
            )
    return pd.DataFrame(out)


def load_tables(tables_dir: Path, registry: dict[str, TableSpec]) -> dict[str, pd.DataFrame]:
    """Load and validate every declared table from ``tables_dir``.

    Parameters
    ----------
    tables_dir : Path
        Folder with one ``<table>.csv`` per declared table and nothing else.
    registry : dict
        The schema registry (:func:`reesim.data.registry.load_registry`).

    Returns
    -------
    dict
        Table name to typed DataFrame, in registry order.
    """
    present = {p.stem for p in tables_dir.glob("*.csv")}
    for extra in sorted(present - set(registry)):
        raise SchemaError(
            f"{extra}.csv", None, None, suggest(extra, registry, what="table (file not declared)")
        )
    for name in registry:
        if name not in present:
            raise SchemaError(f"{name}.csv", None, None, "declared table has no file")

    frames: dict[str, pd.DataFrame] = {}
    refs: dict[str, frozenset[str]] = {}
    raws = {name: read_csv(tables_dir / f"{name}.csv") for name in registry}
    ordered = [n for n in REFERENCE_ORDER if n in registry] + [
        n for n in registry if n not in REFERENCE_ORDER
    ]
    for name in ordered:
        frames[name] = validate_table(raws[name], registry[name], f"{name}.csv", refs)
        if name == "sources":
            refs["source_id"] = frozenset(raws[name]["source_id"])
        elif name == "aggregates":
            refs["iso3"] = ISO3 | frozenset(c for c in raws[name]["code"] if c)
        elif name == "regions":
            refs["region"] = frozenset(raws[name]["region"])
    _check_countries_total(raws["countries"])
    return {name: frames[name] for name in registry}


def _check_countries_total(countries: pd.DataFrame) -> None:
    """Every ISO 3166-1 country maps to exactly one model region, and nothing else is listed."""
    listed = set(countries["iso3"])
    missing = sorted(ISO3 - listed)
    if missing:
        raise SchemaError(
            "countries.csv", None, "iso3", f"ISO 3166-1 countries without a region: {missing[:10]}"
        )
    extra = sorted(listed - ISO3)
    if extra:
        raise SchemaError("countries.csv", None, "iso3", f"not ISO 3166-1 alpha-3 codes: {extra[:10]}")
