"""A run folder (``reesim run SCENARIO --out DIR``) read back: tables, summary and scenario.

The HTML report, the dashboard of ``reesim serve`` and ``reesim compare`` read the same folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reesim.errors import InputError
from reesim.yamlsafe import read_yaml_file

#: Tables a run folder must have (the scenario's results).
REQUIRED = ("prices", "production", "trade", "consumption", "capacity")
#: Optional tables of a run folder (impacts and indicators).
OPTIONAL = (
    "stocks",
    "fiscal",
    "quota_rents",
    "surplus",
    "welfare",
    "welfare_discounted",
    "shortages",
    "product_costs",
    "jobs",
    "units_at_risk",
    "price_changes",
    "indicators",
)


@dataclass(frozen=True)
class Run:
    """The contents of a run folder."""

    folder: Path
    summary: dict
    scenario: dict
    tables: dict[str, pd.DataFrame]
    counterfactual: dict[str, pd.DataFrame]

    def has(self, name: str) -> bool:
        """Whether table ``name`` is in the run folder."""
        return name in self.tables

    def t(self, name: str) -> pd.DataFrame:
        """Table ``name`` (an empty frame if absent)."""
        return self.tables.get(name, pd.DataFrame())

    @property
    def name(self) -> str:
        """The scenario's name."""
        return str(self.summary.get("scenario") or self.scenario.get("name") or self.folder.name)

    @property
    def cf_name(self) -> str:
        """The counterfactual's name."""
        return str(self.summary.get("counterfactual") or self.scenario.get("counterfactual") or "baseline")


def read_run(folder: Path) -> Run:
    """Read a run folder written by ``reesim run --out``.

    Raises
    ------
    InputError
        If the folder lacks ``summary.json`` or one of the scenario's tables.
    """
    folder = Path(folder)
    missing = [f"{t}.parquet" for t in REQUIRED if not (folder / f"{t}.parquet").is_file()]
    if not (folder / "summary.json").is_file():
        missing.append("summary.json")
    if missing:
        raise InputError(
            f"{folder}: not a reesim run folder (missing {', '.join(missing)}); write one with reesim run SCENARIO --out DIR"
        )
    summary = json.loads((folder / "summary.json").read_text())
    sc_file = folder / "scenario.resolved.yaml"
    # a run folder is input: its YAML is read by the bounded reader (size, aliases, depth)
    scenario = (read_yaml_file(sc_file, "scenario.resolved.yaml") or {}) if sc_file.is_file() else {}
    tables = {
        t: pd.read_parquet(folder / f"{t}.parquet")
        for t in (*REQUIRED, *OPTIONAL)
        if (folder / f"{t}.parquet").is_file()
    }
    cf_dir = folder / "counterfactual"
    cf = {p.stem: pd.read_parquet(p) for p in sorted(cf_dir.glob("*.parquet"))} if cf_dir.is_dir() else {}
    return Run(folder, summary, scenario, tables, cf)
