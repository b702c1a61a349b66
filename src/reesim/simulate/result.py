"""The result of a simulation: immutable labelled tables, an xarray view, atomic writing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reesim.atomic import atomic_folder
from reesim.errors import InputError

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
)


@dataclass(frozen=True)
class Result:
    """Tables of a simulated scenario, one row per step and label.

    Quantities are tonnes moved in the step (``tonnes``) or annual rates (``tonnes_per_year``);
    prices in USD/kg; fiscal amounts in million USD per step.
    """

    scenario_name: str
    meta: dict
    _tables: dict[str, pd.DataFrame] = field(repr=False)

    def table(self, name: str) -> pd.DataFrame:
        """A copy of table ``name`` (one of :data:`TABLES`)."""
        if name not in self._tables:
            from reesim.errors import suggest

            raise InputError(suggest(name, TABLES, what="result table"))
        return self._tables[name].copy()

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


def read_result(folder: Path, name: str | None = None) -> Result:
    """A Result read back from the Parquet tables of a run folder (``reesim run --out``)."""
    folder = Path(folder)
    missing = [t for t in TABLES if not (folder / f"{t}.parquet").is_file()]
    if missing:
        raise InputError(
            f"{folder}: not a reesim run folder (missing {', '.join(m + '.parquet' for m in missing)})"
        )
    tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in TABLES}
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
) -> None:
    """Write a run (scenario and counterfactual tables, summary.json, resolved scenario) atomically.

    Tables of the scenario go to ``<table>.parquet``, the counterfactual's to
    ``counterfactual/<table>.parquet``. Everything is written into a temporary sibling folder
    and renamed at the end: a failed run leaves no half-written directory. ``finish(folder)``,
    if given, adds files (the HTML report) inside the same temporary folder before the rename.
    """
    with atomic_folder(directory) as tmp:
        for key, res in results.items():
            folder = tmp if key == "scenario" else tmp / key
            folder.mkdir(exist_ok=True)
            for name in TABLES:
                res.table(name).to_parquet(folder / f"{name}.parquet", index=False)
        for name, df in (extra or {}).items():
            df.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (tmp / "scenario.resolved.yaml").write_text(scenario_yaml)
        if finish is not None:
            finish(tmp)
