"""The static description of one market year: :class:`World`.

A world is data, never code: regions, commodities, processes with input/output
coefficients, capacities and linear marginal-cost curves, demands with linear inverse
demand, trade edges with transport costs, and the policy wedges of the year (bans, export
quotas, specific and ad valorem wedges). It is built from a world file
(:mod:`reesim.world.worldfile`) or from the embedded dataset (:mod:`reesim.world.default`).

Conventions
-----------
* Quantities are in the world's ``quantity_unit`` per year (the default world uses
  ``kt``: thousand tonnes; REO for concentrates and oxides, metal for metals, magnet mass
  for magnets). Prices and costs are in ``USD/kg``; with quantities in kt, money in the
  objective is in million USD.
* Process activity is measured in units of the process's reference flow (``activity_unit``);
  ``io`` coefficients are per unit of activity, positive for outputs, negative for inputs.
* Marginal cost of a process: ``mc_intercept + mc_slope * activity`` (USD/kg of activity).
* Inverse demand: ``price = intercept - slope * quantity``, optionally up to ``max_quantity``
  (a buyer with a fixed volume, e.g. an offtake or a stockpile purchase).

The tables are pandas DataFrames validated on construction; a World is treated as
immutable (``with_*`` methods return a new World).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from reesim.errors import InputError
from reesim.memo import private_copy
from reesim.world.labels import shared

#: ``capacity``: a shared capacity of a stage in a region, provided as a non-traded service
#: that the stage's processes use (e.g. one separation plant cracking several ores).
#: ``dose`` / ``thrift``: the heavy-RE dose of a magnet by the reference recipe or a lean grade.
PROCESS_KINDS = (
    "supply",
    "mining",
    "separation",
    "metal",
    "magnet",
    "recycling",
    "capacity",
    "stock",
    "dose",
    "thrift",
    "other",
)

#: process kind and demand sector of the private stocks (reesim.simulate.storage): stock
#: releases and carry-outs are stock changes, not production or final consumption
STOCK_KIND = "stock"
#: id prefix of a strategic stockpile's release process (:func:`reesim.instruments.stockpile.release_id`)
STOCKPILE_RELEASE = "stock-release:"
#: the heavy-RE (Dy, Tb) dose of one kg of magnet: a non-traded service made by the reference
#: recipe or a lean grade (:func:`reesim.world.default_magnets._add_heavy_dose`)
HEAVY_DOSE_SERVICE = "service:hre_dose"
PRIVATE_STOCK_SECTOR = "private stock"
#: demand sectors of the purchase rules (strategic stockpiles, offtakes): their intercept is the
#: rule's price, not a willingness to pay, and their purchases are not final use
PURCHASE_RULE_SECTORS = ("stockpile", "offtake")
#: the sector of magnet buyers in the default world, whose growth magnet makers plan for
MAGNET_SECTOR = "magnet users"

_COLUMNS = {
    "processes": ["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"],
    "io": ["process", "commodity", "coef"],
    "demands": ["demand", "sector", "region", "commodity", "intercept", "slope", "max_quantity"],
    "edges": ["commodity", "origin", "dest", "transport", "route_cost", "route_quad"],
    "bans": ["commodity", "origin", "dest"],
    "quotas": ["quota", "limit"],
    "quota_members": ["quota", "commodity", "origin", "dest", "coef"],
    "specific": ["commodity", "origin", "dest", "per_unit"],
    "ad_valorem": ["commodity", "origin", "dest", "rate", "base"],
    "origin_rules": ["rule", "owner", "commodity", "via", "dest", "slack"],
    "enduse_rules": ["rule", "licence", "commodity", "dest", "exporter", "demand", "slack"],
    "provenance": ["parameter", "value", "unit", "source"],
}


def stack_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of ``frames`` (same columns) as one table, empty frames left out.

    pandas 3 lets an empty frame's column set the dtype of the result: an empty instrument
    table of ``object`` columns made every column of a scenario's world ``object``, its numbers
    Python floats, which each step then converted again (a few ms a step).
    """
    full = [f for f in frames if len(f)]
    return pd.concat(full or frames[:1], ignore_index=True)


def structure_frames(procs: list, io: list, dems: list) -> dict[str, pd.DataFrame]:
    """Rows of processes, io and demands to add to a world's structure, as frames with its columns."""
    return {
        "processes": pd.DataFrame(procs, columns=_COLUMNS["processes"]),
        "io": pd.DataFrame(io, columns=_COLUMNS["io"]),
        "demands": pd.DataFrame(dems, columns=_COLUMNS["demands"]),
    }


def empty(table: str) -> pd.DataFrame:
    """An empty frame with the columns of ``table`` (a copy of one made once per process: making
    the seven empty policy tables of a new world cost about 5 ms)."""
    return private_copy(_empty(table))


@functools.cache
def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in _COLUMNS[table]})


def _check_columns(df: pd.DataFrame, table: str) -> pd.DataFrame:
    if table == "demands" and "max_quantity" not in df.columns:
        df = df.assign(max_quantity=np.inf)  # optional: an upper bound on the quantity bought
    if table == "edges":  # optional: calibrated route costs (see reesim.solve.routes)
        df = df.assign(**{c: 0.0 for c in ("route_cost", "route_quad") if c not in df.columns})
    if table == "quota_members" and "coef" not in df.columns:
        df = df.assign(coef=1.0)  # optional: content of the quota's unit per unit of flow
    columns = _COLUMNS[table]
    index = df.index
    if (
        list(df.columns) == columns
        and isinstance(index, pd.RangeIndex)
        and (index.start, index.step, index.name) == (0, 1, None)
    ):
        # already in shape (a table of a world being replaced): a shallow copy, which
        # copy-on-write keeps independent of the caller's frame, instead of a selection
        return private_copy(df)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"world table '{table}': missing columns {missing}; expected {columns}")
    return df[columns].reset_index(drop=True)


def _numbers(values: pd.Series) -> np.ndarray:
    """``values`` as floats, NaN where missing or not a number (``pd.to_numeric(errors="coerce")``;
    a column that is numeric already is read as it is, without the conversion's pass; an empty one,
    whose dtype is object, is no numbers without the 60 us of a conversion)."""
    if not len(values):
        return np.zeros(0)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def floats(column: pd.Series) -> np.ndarray:
    """``column`` as a float array, missing values NaN, without the copy a Series ``astype`` makes
    (35 us a column; the step's QP reads a dozen)."""
    if not len(column):  # an empty rule table's column is of dtype object: 60 us to convert nothing
        return np.zeros(0)
    return column.to_numpy(dtype=float, na_value=np.nan)


def _unknown(values: pd.Series, allowed: set[str], where: str) -> None:
    # the column as a list into a set: a third of pd.unique's time on the Python-backed string
    # columns reesim makes (see reesim/__init__.py)
    bad = set(values.tolist()) - allowed
    if not bad:
        return
    from reesim.errors import listing, suggest

    if any(pd.isna(v) for v in bad):
        raise InputError(f"{where}: a row has no name (a missing value); allowed: {listing(allowed)}")
    raise InputError(f"{where}: " + suggest(sorted(bad, key=str)[0], allowed, what="name"))


def _refuse_rows(column: pd.Series, bad: np.ndarray, where: str, allowed: str) -> None:
    """Raise naming the first row of ``column`` marked in ``bad``, its value and what is allowed."""
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = column.iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise InputError(f"{where} (row {row}): values must be {allowed}; got {value!r}")


def _first_repeat(column: pd.Series, where: str) -> object | None:
    """The first label of ``column`` that occurs twice (None when each occurs once), found in one
    pass over its values as a list (a third of :meth:`pandas.Series.duplicated`'s time). A missing
    label (None, NaN) is refused first: an id that is missing identifies nothing."""
    if column.isna().any():
        raise InputError(f"{where}: a row has no id (a missing value)")
    seen: set = set()
    for v in column.tolist():
        if v in seen:
            return v
        seen.add(v)
    return None


@dataclass(frozen=True)
class Columns:
    """New values of some numeric columns of a world table, set on it when the table is read.

    A simulation step changes a few columns of a few tables (capacities, costs, demand lines,
    route terms, limits); the solver reads them as arrays (:meth:`World.numbers`), so the step's
    tables need not be made unless something reads them (:meth:`World.with_data`).
    """

    base: pd.DataFrame
    values: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        """Each column as a read-only float array of the table's length (a Series would align by
        index in the table but not in :meth:`World.numbers`; a writer would change one and not the other)."""
        cols = {}
        for name, v in self.values.items():
            a = np.array(v, dtype=float)  # a copy of the caller's array: later writes reach neither
            if a.shape != (len(self.base),):
                raise ValueError(
                    f"Columns: {name!r} has shape {a.shape}; the table has {len(self.base)} rows"
                )
            a.flags.writeable = False
            cols[name] = a
        object.__setattr__(self, "values", cols)

    def frame(self) -> pd.DataFrame:
        """The table: ``base`` with the new columns (``DataFrame.assign``)."""
        return self.base.assign(**self.values)


@dataclass(frozen=True)
class World:
    """One market year of the rare-earth chain (see module docstring for units).

    Parameters
    ----------
    name : str
        Name of the world.
    regions, commodities : tuple of str
        The sets.
    processes, io, demands, edges : DataFrame
        Processes (capacity, marginal cost), their input/output coefficients, demands
        (linear inverse demand) and trade edges: ``transport`` (USD/kg, freight and
        handling; the CIF base of tariffs) and the calibrated route cost
        ``route_cost * f + route_quad * f^2 / 2`` (USD/kg and USD/kg per unit of flow; 0
        unless the routes are calibrated to observed flows, :mod:`reesim.solve.routes`).
    bans, quotas, quota_members, specific, ad_valorem : DataFrame
        Policy wedges of the year: banned edges, export quotas on groups of edges (a
        member's ``coef`` is the quota's unit per unit of flow, e.g. t of Dy per t of magnet),
        specific wedges (USD/kg) and ad valorem rates (``base`` = ``origin`` for an export
        tax on the origin price, ``cif`` for an import tariff on origin price + transport).
    origin_rules : DataFrame
        Rules of origin (re-export controls, set by instrument ``owner``): the flow of ``commodity`` from ``via`` to
        ``dest`` may not exceed ``via``'s own production of it plus ``slack`` (kt/yr), so goods
        an exporter may not ship to ``dest`` cannot reach it through ``via``.
    enduse_rules : DataFrame
        End-use exclusions (an exporter's ``licence`` denies an end-user sector, e.g. defense):
        the quantity of ``demand`` (a demand row of ``commodity`` in ``dest``) may not exceed
        ``dest``'s own production of ``commodity`` plus its imports from regions other than
        ``exporter``, plus ``slack`` (kt/yr). Its dual is the premium the excluded users pay
        for goods not from ``exporter`` (USD/kg).
    congestion : float
        Quadratic cost ``congestion/2 * flow^2`` on every edge (USD/kg per unit of flow);
        0 keeps flows linear (prices and net trade are unique; routes may tie).
    quantity_unit : str
        Unit of all quantities (e.g. ``kt`` or ``t``).
    provenance : DataFrame
        Where every calibrated parameter came from (data row or stated assumption).
    """

    name: str
    regions: tuple[str, ...]
    commodities: tuple[str, ...]
    processes: pd.DataFrame
    io: pd.DataFrame
    demands: pd.DataFrame
    edges: pd.DataFrame
    bans: pd.DataFrame = field(default_factory=lambda: empty("bans"))
    quotas: pd.DataFrame = field(default_factory=lambda: empty("quotas"))
    quota_members: pd.DataFrame = field(default_factory=lambda: empty("quota_members"))
    specific: pd.DataFrame = field(default_factory=lambda: empty("specific"))
    ad_valorem: pd.DataFrame = field(default_factory=lambda: empty("ad_valorem"))
    origin_rules: pd.DataFrame = field(default_factory=lambda: empty("origin_rules"))
    enduse_rules: pd.DataFrame = field(default_factory=lambda: empty("enduse_rules"))
    congestion: float = 0.0
    quantity_unit: str = "t"
    provenance: pd.DataFrame = field(default_factory=lambda: empty("provenance"))
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table in _COLUMNS:
            object.__setattr__(self, table, _check_columns(getattr(self, table), table))
        self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        """Check the labels (names known, ids unique, rules consistent) and the numbers.

        The label checks read only what :func:`reesim.world.labels.labels_key` holds, so they
        pass or fail alike for every world with the same labels: they run once per process for
        those labels (:func:`reesim.world.labels.shared`; an ensemble member makes four worlds,
        each with the labels of the same worlds of the member before, about 1 ms each). A key is
        kept only when its checks passed. The numbers are checked on every world, the io
        coefficients first: the key holds their signs.
        """
        _refuse_rows(self.io["coef"], ~np.isfinite(_numbers(self.io["coef"])), "io.coef", "finite numbers")
        shared(self, "labels checked", self._validate_labels)
        self._validate_numbers()

    def _validate_labels(self) -> bool:
        regions, commodities = set(self.regions), set(self.commodities)
        if len(regions) != len(self.regions) or len(commodities) != len(self.commodities):
            raise InputError("world: regions and commodities must be unique")
        p, io, d, e = self.processes, self.io, self.demands, self.edges
        _unknown(p["region"], regions, "processes.region")
        _unknown(p["kind"], set(PROCESS_KINDS), "processes.kind")
        _unknown(io["process"], set(p["process"].tolist()), "io.process")
        _unknown(io["commodity"], commodities, "io.commodity")
        _unknown(d["region"], regions, "demands.region")
        _unknown(d["commodity"], commodities, "demands.commodity")
        for col in ("origin", "dest"):
            _unknown(e[col], regions, f"edges.{col}")
        _unknown(e["commodity"], commodities, "edges.commodity")
        # duplicates counted with sets of plain values (pandas' duplicated took 0.3 ms on the edges)
        repeated = _first_repeat(p["process"], "processes.process")
        if repeated is not None:
            raise InputError(f"processes: duplicated process {repeated!r}")
        repeated = _first_repeat(d["demand"], "demands.demand")
        if repeated is not None:
            raise InputError(f"demands: duplicated demand {repeated!r}")
        keys = list(zip(e["commodity"].tolist(), e["origin"].tolist(), e["dest"].tolist(), strict=True))
        if len(set(keys)) != len(keys):  # their labels are known names (checked above): none missing
            raise InputError("edges: duplicated (commodity, origin, dest)")
        if (e["origin"] == e["dest"]).any():
            raise InputError("edges: origin and dest must differ")
        _unknown(self.quota_members["quota"], set(self.quotas["quota"].tolist()), "quota_members.quota")
        _unknown(self.origin_rules["via"], regions, "origin_rules.via")
        _unknown(self.origin_rules["dest"], regions, "origin_rules.dest")
        _unknown(self.origin_rules["commodity"], commodities, "origin_rules.commodity")
        eu = self.enduse_rules
        _unknown(eu["dest"], regions, "enduse_rules.dest")
        _unknown(eu["exporter"], regions, "enduse_rules.exporter")
        _unknown(eu["commodity"], commodities, "enduse_rules.commodity")
        _unknown(eu["demand"], set(d["demand"].tolist()), "enduse_rules.demand")
        if len(eu):
            dem = d.set_index("demand").loc[eu["demand"]]
            if (dem["commodity"].to_numpy() != eu["commodity"].to_numpy()).any() or (
                dem["region"].to_numpy() != eu["dest"].to_numpy()
            ).any():
                raise InputError("enduse_rules: each rule's demand must be of its commodity in its dest")
        return True

    def _validate_numbers(self) -> None:
        p, d, e = self.processes, self.demands, self.edges
        for name, table, col, lo in (
            ("processes", p, "capacity", 0.0),
            ("processes", p, "mc_slope", 0.0),
            ("demands", d, "slope", 0.0),
            ("edges", e, "transport", 0.0),
            ("edges", e, "route_quad", 0.0),
        ):
            # NaN (missing or not a number) fails the comparison
            _refuse_rows(table[col], ~(_numbers(table[col]) >= lo), f"{name}.{col}", f"numbers >= {lo}")
        if (_numbers(d["slope"]) <= 0).any():
            raise InputError("demands.slope must be > 0 (linear inverse demand)")
        if not (_numbers(self.ad_valorem["rate"]) >= 0).all():
            raise InputError("ad_valorem.rate must be >= 0")
        _unknown(self.ad_valorem["base"], {"origin", "cif"}, "ad_valorem.base")  # not in the labels key
        if not np.isfinite(_numbers(e["route_cost"])).all():
            raise InputError("edges.route_cost must be finite numbers")
        if not (_numbers(self.quota_members["coef"]) > 0).all():
            raise InputError("quota_members.coef must be numbers > 0")
        if self.congestion < 0:
            raise InputError("congestion must be >= 0")

    # ------------------------------------------------------------------ helpers
    @property
    def sizes(self) -> dict[str, int]:
        """Counts of the main sets."""
        return {
            "regions": len(self.regions),
            "commodities": len(self.commodities),
            "processes": len(self.processes),
            "demands": len(self.demands),
            "edges": len(self.edges),
            "quotas": len(self.quotas),
        }

    def replace(self, **changes: Any) -> World:
        """A new World with some fields replaced (validated again)."""
        return replace(self, **changes)

    def with_data(self, **changes: Any) -> World:
        """A new World with some tables' *values* replaced, skipping validation.

        For the simulation's inner loop only: the caller guarantees the same columns and
        names (only numbers such as capacities, costs, slopes and limits change, or policy
        tables built from validated scenario instruments). A change given as :class:`Columns`
        is made into its table when the table is first read; :meth:`numbers` reads its
        columns without making it (a step's tables cost a few ms a step to make, and the
        solver reads only their numbers).
        """
        new = object.__new__(World)
        new.__dict__.update(self.__dict__)
        pending = dict(self.__dict__.get("_pending", {}))
        for name, value in changes.items():
            if isinstance(value, Columns):
                pending[name] = value
                new.__dict__.pop(name, None)
            else:
                pending.pop(name, None)
                new.__dict__[name] = value
        new.__dict__["_pending"] = pending
        return new

    def __getattr__(self, name: str) -> Any:
        """A table given as :class:`Columns` to :meth:`with_data`, made on first read and kept."""
        pending = self.__dict__.get("_pending")
        if pending and name in pending:
            table = pending[name].frame()
            self.__dict__[name] = table  # once: the World is immutable, the table fixed
            return table
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def with_columns(self, table: str, **values: np.ndarray) -> World:
        """A new World with columns of ``table`` replaced by ``values``, made into the table when it
        is first read (:class:`Columns`, on top of the columns already given that way)."""
        pending = self.__dict__.get("_pending", {}).get(table)
        if pending is None:
            return self.with_data(**{table: Columns(getattr(self, table), values)})
        return self.with_data(**{table: Columns(pending.base, {**pending.values, **values})})

    def column(self, table: str, column: str) -> pd.Series:
        """Column ``column`` of ``table``; a column that a :class:`Columns` change leaves as it was
        (a label) is read from the table it is made from, without making it."""
        pending = self.__dict__.get("_pending", {}).get(table)
        if pending is not None and column not in pending.values:
            return pending.base[column]
        return getattr(self, table)[column]

    def n_rows(self, table: str) -> int:
        """The number of rows of ``table``, without making a table given as :class:`Columns`."""
        pending = self.__dict__.get("_pending", {}).get(table)
        return len(pending.base) if pending is not None else len(getattr(self, table))

    def numbers(self, table: str, column: str) -> np.ndarray:
        """Column ``column`` of ``table`` as a float array (NaN where missing), without making a
        table given as :class:`Columns`. Read it, do not write to it: it is the step's column
        (read-only) or the table's own data."""
        pending = self.__dict__.get("_pending", {}).get(table)
        if pending is not None and column in pending.values:
            return pending.values[column]
        return floats(pending.base[column] if pending is not None else getattr(self, table)[column])

    def with_scaled_demand(self, factor: float, commodity: str | None = None) -> World:
        """Demand curves shifted outwards by ``factor`` (quantity at each price times ``factor``)."""
        d = self.demands.copy()
        mask = np.ones(len(d), bool) if commodity is None else (d["commodity"] == commodity).to_numpy()
        d.loc[mask, "slope"] = d.loc[mask, "slope"].astype(float) / factor
        return self.replace(demands=d)
