"""The embedded rare-earth dataset: sourced CSV tables, validated and served from DuckDB.

Quick use::

    import reesim.data as rd
    rd.table("mine_production", year=2024, iso3="CHN")
    rd.cite("mine_production", year=2024, iso3="CHN")
    con = rd.connect()          # read-only DuckDB connection
    con.sql("SELECT * FROM prices WHERE element = 'Dy'").df()
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from reesim.data.dataset import Dataset

if TYPE_CHECKING:
    import duckdb


@cache
def default_dataset() -> Dataset:
    """The package's embedded dataset (validated and cached on first use)."""
    return Dataset()


def connect() -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the embedded dataset."""
    return default_dataset().connect()


def table(name: str, **filters: Any) -> pd.DataFrame:
    """Rows of table ``name`` matching ``filters`` (see :meth:`Dataset.table`)."""
    return default_dataset().table(name, **filters)


def cite(name: str, **key: Any) -> pd.DataFrame:
    """Citations behind the matching rows of ``name`` (see :meth:`Dataset.cite`)."""
    return default_dataset().cite(name, **key)


def tables() -> list[str]:
    """Names of the tables."""
    return list(default_dataset().registry)


__all__ = ["Dataset", "cite", "connect", "default_dataset", "table", "tables"]
