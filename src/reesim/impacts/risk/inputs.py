"""Conventions of the indicators' input tables: key columns, checks and per-region sums.

Inputs are long tables in tonnes with optional ``year`` and ``stage`` keys (:data:`KEYS`),
a ``commodity`` column and a ``region`` column (or ``exporter``/``importer`` for trade).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from reesim.errors import InputError

#: Region code of China (ISO 3166-1 alpha-3, as in reesim's world).
CHINA = "CHN"
#: Grouping keys an indicator is computed over, in this order, when the input has them.
KEYS = ("year", "stage", "commodity")


def _require(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {missing}; has {list(df.columns)}")


def _keys(df: pd.DataFrame) -> list[str]:
    return [k for k in KEYS if k in df.columns]


def _common_keys(frames: Mapping[str, pd.DataFrame | None]) -> list[str]:
    given = {n: _keys(f) for n, f in frames.items() if f is not None}
    first = next(iter(given.values()))
    for n, k in given.items():
        if k != first:
            raise InputError(f"tables have different key columns: {given}; {n} has {k}")
    if "commodity" not in first:
        raise InputError(f"tables need a 'commodity' column; key columns found: {given}")
    return first


def _by_region(df: pd.DataFrame | None, keys: list[str], name: str) -> pd.Series:
    """Tonnes summed per keys + region (empty Series when ``df`` is None)."""
    if df is None:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=[*keys, "region"]))
    _require(df, name, [*keys, "region", "tonnes"])
    tonnes = df["tonnes"].astype(float)
    if tonnes.isna().any():
        raise InputError(f"{name}: 'tonnes' has missing values")
    return tonnes.groupby([df[k] for k in [*keys, "region"]]).sum()
