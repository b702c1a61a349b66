"""The DuckDB store of the embedded dataset.

On first use the validated CSV tables are written to a DuckDB file in the private cache
folder (:mod:`reesim.cache`), named by a key over the dataset (tables and schema) and the
code that builds the store, with its SHA-256 recorded beside it; the next process verifies
the file against that record and skips validation. A file that does not verify (truncated,
changed, planted) is rebuilt with a warning. Without a private cache folder the database is
built in a private temporary folder for the process. Callers get read-only connections:
the dataset cannot be changed through them.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

import pandas as pd

from reesim.cache import cached_file, code_fingerprint, key_of
from reesim.data.periods import last_day, year_span
from reesim.data.registry import TableSpec
from reesim.data.validate import load_tables

#: Bump when the database layout changes, so that old cache files are not reused.
STORE_FORMAT = 2


def dataset_hash(tables_dir: Path, schema_dir: Path) -> str:
    """SHA-256 over the store format and every CSV of the dataset and its schema (sorted by name)."""
    h = hashlib.sha256(f"reesim-store-{STORE_FORMAT}".encode())
    for folder in (schema_dir, tables_dir):
        for path in sorted(folder.glob("*.csv")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _with_years(df: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Add ``year_start``/``year_end`` (first and last calendar year) from the table's time column."""
    if spec.time_column is None:
        return df
    col = df[spec.time_column]
    spans = col.map(lambda v: year_span(str(v)) if v is not None and not pd.isna(v) else None)
    out = df.copy()
    out["year_start"] = pd.array([s[0] if s else None for s in spans], dtype="Int64")
    out["year_end"] = pd.array([s[1] if s else None for s in spans], dtype="Int64")
    out["observed_end"] = pd.to_datetime(
        col.map(lambda v: last_day(str(v)) if v is not None and not pd.isna(v) else None)
    )
    return out


def build_database(path: Path, frames: dict[str, pd.DataFrame], registry: dict[str, TableSpec]) -> None:
    """Write the validated frames to a new DuckDB file at ``path`` (which must not exist)."""
    import duckdb  # imported where a file is built or read: a run served from the cache needs neither

    con = duckdb.connect(str(path))
    try:
        for name, spec in registry.items():
            df = _with_years(frames[name], spec)
            cols = [f'CAST("{c.name}" AS {c.sql_type}) AS "{c.name}"' for c in spec.columns]
            if spec.time_column:
                cols += [
                    "CAST(year_start AS INTEGER) AS year_start",
                    "CAST(year_end AS INTEGER) AS year_end",
                    "CAST(observed_end AS DATE) AS observed_end",
                ]
            if name == "sources":
                df = df.assign(
                    vintage_date=pd.to_datetime(
                        df["vintage"].map(
                            lambda v: last_day(str(v)) if v is not None and not pd.isna(v) else None
                        )
                    )
                )
                cols += ["CAST(vintage_date AS DATE) AS vintage_date"]
            con.register("frame", df)
            con.execute(f'CREATE TABLE "{name}" AS SELECT {", ".join(cols)} FROM frame')
            con.unregister("frame")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def open_database(tables_dir: Path, schema_dir: Path, registry: dict[str, TableSpec]) -> tuple[Path, str]:
    """Path of the verified (possibly new) database file for this dataset, and the dataset's hash."""
    digest = dataset_hash(tables_dir, schema_dir)
    # the engine's version from its package metadata (the same string as duckdb.__version__),
    # so that finding the file does not import the engine (about 50 ms)
    key = key_of(digest, code_fingerprint("data"), metadata.version("duckdb"))
    return cached_file(
        f"dataset-{key[:16]}.duckdb",
        lambda path: build_database(path, load_tables(tables_dir, registry), registry),
    ), digest
