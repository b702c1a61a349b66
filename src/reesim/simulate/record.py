"""Recording a simulation: per-step arrays, turned into labelled tables once at the end.

Building pandas tables at every step cost more than solving; the recorder keeps the
solver's arrays (prices, activities, quantities, flows, capacities, rents) per step and
assembles the long tables with repeated labels in one go.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress

import numpy as np
import pandas as pd

from reesim.impacts.welfare import WelfareAccount
from reesim.instruments.trade import split_quota_label
from reesim.memo import memo_of, private_copy
from reesim.model.qp import QP, edge_tuples, floats, key_positions
from reesim.simulate.result import LATER_TABLES, LICENCE_RENT_LABELS
from reesim.simulate.run_arrays import RunArrays
from reesim.simulate.state import INVEST_STAGE
from reesim.solve.solution import Solution, _determined, _net_two_way, _reverse_edges, quota_block
from reesim.world.world import PRIVATE_STOCK_SECTOR, STOCK_KIND, World

KT_TO_T = 1000.0


def sum_by(keys, values) -> dict:
    """``values`` summed by ``keys``, in sorted key order (no pandas group-by: per step it cost more
    than the few hundred items it adds).

    Read-only key arrays (a run's regions of its processes and stock items, passed every step) are
    grouped once (:func:`_groups`) and summed with :func:`numpy.bincount`, which adds each group's
    values in the order given, from 0, as the plain loop does for other keys: the same bits.
    """
    groups = _groups(keys)
    if groups is not None:
        labels, inverse = groups
        sums = np.bincount(inverse, weights=np.asarray(values, dtype=float), minlength=len(labels))
        return dict(zip(labels, sums.tolist(), strict=True))
    out: dict = {}
    for k, v in zip(keys, values, strict=True):
        out[k] = out.get(k, 0.0) + float(v)
    return dict(sorted(out.items()))


def _groups(keys) -> tuple[list, np.ndarray] | None:
    """The sorted distinct keys and each key's group, kept per read-only object array of keys that
    owns its data (not a view, which its base could change; :func:`reesim.memo.memo_of`); None
    for other keys, or keys that do not sort. An array made read-only stays so: nothing makes it
    writable again."""
    if (
        not isinstance(keys, np.ndarray)
        or keys.dtype != object
        or keys.flags.writeable
        or keys.base is not None
        or keys.ndim != 1
    ):
        return None
    memo = memo_of(keys)
    if "sum_by groups" not in memo:
        try:
            labels, inverse = np.unique(keys, return_inverse=True)
        except TypeError:  # keys of mixed types
            memo["sum_by groups"] = None
        else:
            inverse.flags.writeable = False
            memo["sum_by groups"] = (labels.tolist(), inverse)
    return memo["sum_by groups"]


@dataclass(frozen=True)
class _Columns:
    """Rows of a free-form table recorded as columns (:meth:`Recorder.add_columns`)."""

    columns: dict[str, list]
    n: int


def _rows_frame(entries: list) -> pd.DataFrame:
    """The table of recorded rows (dicts) and column blocks, in order, as ``pd.DataFrame`` makes
    it of the rows alone: columns in the order first seen, NaN where a row has no value."""
    data: dict[str, list] = {}
    n = 0
    for entry in entries:
        block, k = (
            (entry.columns, entry.n)
            if isinstance(entry, _Columns)
            else ({c: [v] for c, v in entry.items()}, 1)
        )
        for c in block:
            if c not in data:
                data[c] = [float("nan")] * n
        for c, values in data.items():
            values.extend(block[c] if c in block else [float("nan")] * k)
        n += k
    return pd.DataFrame(data)


@dataclass(frozen=True)
class _Layout:
    """What a run's labels decide of its record: the labels of each table's rows and the positions
    that pick them out of a step's solution. Made once per process for worlds with the same labels
    (:func:`reesim.world.labels.shared`) and shared by their runs: read, never changed."""

    nodes: pd.DataFrame
    out_labels: pd.DataFrame
    out_rows: np.ndarray  # io rows of the outputs (their coefficients are numbers: read per run)
    out_proc: np.ndarray
    final_dem: np.ndarray
    dem_labels: pd.DataFrame
    dem_node: np.ndarray
    eu_dem: np.ndarray
    edge_labels: pd.DataFrame
    rev_edge: np.ndarray
    cap_idx: np.ndarray
    cap_labels: pd.DataFrame
    lic_labels: pd.DataFrame
    lic_quota: np.ndarray
    lic_group: np.ndarray

    @classmethod
    def of(cls, world: World, qp: QP) -> _Layout:
        """The layout of a run on ``world`` (``qp``: its QP, whose balance rows are the price rows)."""
        from reesim.world.labels import frozen

        p, io, d, e = world.processes, world.io, world.demands, world.edges
        # labels read as lists and looked up in dicts (pandas maps and a MultiIndex per lookup
        # cost about 5 ms a run)
        procs = p["process"].tolist()
        region_of = dict(zip(procs, p["region"].tolist(), strict=True))
        kind_of = dict(zip(procs, p["kind"].tolist(), strict=True))
        # Private stock releases and carry-outs are stock changes, shown in the stocks table.
        io_proc = io["process"].tolist()
        keep_out = (floats(io["coef"]) > 0) & np.array(
            [kind_of[x] != STOCK_KIND for x in io_proc], dtype=bool
        )
        out = io[keep_out].reset_index(drop=True)
        out_proc = [x for x, k in zip(io_proc, keep_out, strict=True) if k]
        final_dem = (d["sector"] != PRIVATE_STOCK_SECTOR).to_numpy()
        dem_labels = d.loc[final_dem, ["region", "sector", "commodity"]].reset_index(drop=True)
        keep = p["kind"].isin(list(INVEST_STAGE)).to_numpy()  # every stage that invests
        lay = cls(
            nodes=qp.nodes.reset_index(drop=True),
            out_labels=pd.DataFrame(
                {
                    "region": pd.Series([region_of[x] for x in out_proc], dtype="str"),
                    "process": out["process"],
                    "kind": pd.Series([kind_of[x] for x in out_proc], dtype="str"),
                    "commodity": out["commodity"],
                }
            ),
            out_rows=np.flatnonzero(keep_out),
            out_proc=key_positions({x: j for j, x in enumerate(procs)}, out_proc),
            final_dem=final_dem,
            dem_labels=dem_labels,
            dem_node=key_positions(qp.node_index, edge_tuples(dem_labels, ("commodity", "region"))),
            # users under an end-use exclusion pay its premium on top of the node price
            eu_dem=pd.Index(d.loc[final_dem, "demand"]).get_indexer(world.enduse_rules["demand"]),
            edge_labels=(
                e[["commodity", "origin", "dest"]]
                .rename(columns={"origin": "exporter", "dest": "importer"})
                .reset_index(drop=True)
            ),
            rev_edge=_reverse_edges(e),  # the steps' worlds keep the run's edges, in order
            cap_idx=np.flatnonzero(keep),
            cap_labels=p.loc[keep, ["region", "process", "kind"]].reset_index(drop=True),
            **_licence_goods(world),
        )
        frozen(
            lay.out_rows,
            lay.out_proc,
            lay.final_dem,
            lay.dem_node,
            lay.eu_dem,
            lay.rev_edge,
            lay.cap_idx,
            lay.lic_quota,
            lay.lic_group,
        )
        return lay


def _licence_goods(world: World) -> dict:
    """Index arrays from a licence's content rows to the goods it covers (``licence_rents``).

    A licence on element content (:func:`reesim.instruments.trade.quota_structure`) has one
    row per destination and element, and a good carries ``coef`` kg of the element per kg
    (``quota_members``). What the licence adds to a good's price on a route is the sum of
    its rows' shadow prices times the good's content in each: unique even where the split
    between elements is not (a magnet's Dy and Tb rows bind together).
    """
    m = world.quota_members
    if not len(m):
        empty = np.zeros(0, dtype=int)
        return {
            "lic_labels": pd.DataFrame(columns=list(LICENCE_RENT_LABELS)),
            "lic_quota": empty,
            "lic_group": empty.copy(),
        }
    pos = {q: i for i, q in enumerate(world.quotas["quota"].tolist())}
    keys = [
        (split_quota_label(q)[0], o, d, c)
        for q, o, d, c in zip(
            m["quota"].tolist(),
            m["origin"].tolist(),
            m["dest"].tolist(),
            m["commodity"].tolist(),
            strict=True,
        )
    ]
    groups = sorted(set(keys))
    gid = {k: i for i, k in enumerate(groups)}
    return {
        "lic_labels": pd.DataFrame(groups, columns=list(LICENCE_RENT_LABELS)),
        "lic_quota": np.array([pos[q] for q in m["quota"].tolist()], dtype=int),
        "lic_group": np.array([gid[k] for k in keys], dtype=int),
    }


class Recorder:
    """Collects one row block per step for every result table."""

    def __init__(self, world: World, qp: QP) -> None:
        from reesim.world.labels import shared

        self.world, self.qp = world, qp
        lay: _Layout = shared(world, "recorder", lambda: _Layout.of(world, qp))
        self.nodes = private_copy(lay.nodes)
        self.out_labels = private_copy(lay.out_labels)
        self.out_proc = lay.out_proc
        self.out_coef = floats(world.io["coef"])[lay.out_rows]
        self.final_dem = lay.final_dem
        self.dem_labels = private_copy(lay.dem_labels)
        self.dem_node = lay.dem_node
        self.eu_dem = lay.eu_dem
        self.premium: list[np.ndarray] = []
        # the intercept of each final demand's inverse demand line in the step: its choke price
        self.choke: list[np.ndarray] = []
        self.edge_labels = private_copy(lay.edge_labels)
        self.rev_edge = lay.rev_edge
        self.cap_idx = lay.cap_idx
        self.cap_labels = private_copy(lay.cap_labels)
        self.steps: list[tuple[str, int, float]] = []
        self.prices, self.determined, self.act, self.q, self.flow, self.cap, self.rent = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        # (period, year, names, limit t/yr, used t/yr, rent USD/kg) per step and kind of row
        self.quota: list[tuple] = []
        # licence rents (licence_rents): the content rows' groups; their coefficients are numbers
        self.lic_rent: list[np.ndarray] = []
        self.lic_labels = private_copy(lay.lic_labels)
        self.lic_quota, self.lic_group = lay.lic_quota, lay.lic_group
        self.lic_coef = world.quota_members["coef"].astype(float).to_numpy()
        # welfare and free-form rows as plain tuples and dicts, made into tables once (a frame
        # per step cost about 1.5 ms of a 9 ms step)
        self.welfare: list[tuple] = []
        self.account = WelfareAccount(world, qp)
        self.extra: dict[str, list[dict]] = {"stocks": [], "fiscal": []}

    def add(self, period: str, year: int, dt: float, sol: Solution) -> None:
        """Record one solved step."""
        raw, qp = sol.raw, sol.qp
        n, n_p, n_d = qp.n_nodes, qp.n_proc, qp.n_dem
        v = raw.x
        y = np.nan_to_num(raw.row_dual, nan=0.0)
        f = _net_two_way(sol.world, v[n_p + n_d :], self.rev_edge)
        tol = 1e-7 * max(1.0, float(np.abs(v).max(initial=0.0)))
        self.steps.append((period, year, dt))
        self.prices.append(np.maximum(y[:n], 0.0))
        self.determined.append(_determined(qp, np.concatenate([v[: n_p + n_d], f]), y, tol))
        # an activity below the solver's tolerance is no output (interior-point solvers leave idle
        # processes at 1e-17 t, which made 'shares' of nothing in the risk tables), as for flows
        self.act.append(np.where(v[:n_p] > tol, v[:n_p], 0.0))
        q = v[n_p : n_p + n_d][self.final_dem]
        # a purchase a hair below zero is solver noise (a Clarabel step: -1.7e-8 kt); within the
        # tolerance it is none, as for activities and flows; beyond it the guards have spoken
        self.q.append(np.where((q < 0) & (q > -tol), 0.0, q))
        self.choke.append(-qp.c[n_p : n_p + n_d][self.final_dem])  # the QP's demand cost is -intercept
        self.flow.append(np.where(f > tol, f, 0.0))
        self.cap.append(qp.ub[:n_p][self.cap_idx].copy())
        self.rent.append(raw.ub_dual[:n_p][self.cap_idx].copy())
        self.welfare.extend((period, year, r, c, v * dt, v) for r, c, v in self.account.rows(sol))
        if len(self.lic_labels):  # every step: the run's licences are in every step's world
            mu = np.maximum(y[qp.quota_rows], 0.0)
            self.lic_rent.append(
                np.bincount(
                    self.lic_group, weights=self.lic_coef * mu[self.lic_quota], minlength=len(self.lic_labels)
                )
            )
        if sol.world.n_rows("quotas"):
            used = quota_block(qp) @ v
            self.quota.append(
                (
                    period,
                    year,
                    qp.quota_names,
                    sol.world.numbers("quotas", "limit") * KT_TO_T,
                    used * KT_TO_T,
                    np.maximum(y[qp.quota_rows], 0.0),
                )
            )
        if len(self.eu_dem):
            mu = np.maximum(y[qp.enduse_rows], 0.0)
            self.premium.append(np.bincount(self.eu_dem, weights=mu, minlength=int(self.final_dem.sum())))
            self._record_exclusions(period, year, sol, v, mu)

    def _record_exclusions(
        self, period: str, year: int, sol: Solution, v: np.ndarray, mu: np.ndarray
    ) -> None:
        """End-use exclusions beside the quotas: the excluded users' purchases (``used``) against
        the supply they may buy (``limit``: own production and imports not from the exporter)."""
        rules = sol.world.enduse_rules
        used, limit = sol.qp.enduse_usage(v, rules["slack"].astype(float).to_numpy())
        self.quota.append((period, year, sol.qp.enduse_names, limit * KT_TO_T, used * KT_TO_T, mu))

    def add_welfare(
        self, period: str, year: int, dt: float, component: str, regions: np.ndarray, usd_million: np.ndarray
    ) -> None:
        """Record a welfare component given per step (million USD in the step) by item, summed by region."""
        self.welfare.extend(
            (period, year, r, component, v, v / dt) for r, v in sum_by(regions, usd_million).items() if v != 0
        )

    def add_rows(self, table: str, rows: list[dict]) -> None:
        """Record free-form rows (stocks, fiscal)."""
        self.extra[table].extend(rows)

    def add_columns(self, table: str, columns: dict[str, list], n: int) -> None:
        """Record ``n`` rows of ``table`` given as columns (lists of ``n`` values), after the rows
        recorded so far (a step's private stocks: a dict per item cost about 0.5 ms a step)."""
        self.extra[table].append(_Columns(columns, n))

    def arrays(self) -> RunArrays:
        """The recorded steps as arrays (:class:`~reesim.simulate.run_arrays.RunArrays`), made once
        for the steps recorded; :meth:`tables` makes its columns from them: ``output`` is the
        production table's ``tonnes_per_year`` before its zero rows are dropped, ``flow`` the
        trade table's, ``consumption`` the consumption table's."""
        made = getattr(self, "_arrays", None)
        if made is not None and len(made.periods) == len(self.steps):
            return made
        out, nodes, edges = self.out_labels, self.nodes, self.edge_labels

        def labels(df: pd.DataFrame, col: str) -> tuple[str, ...]:
            return tuple(df[col].tolist())

        def rows(values: list[np.ndarray], width: int) -> np.ndarray:
            return np.vstack(values) if values else np.zeros((0, width))

        fiscal = []
        for entry in self.extra["fiscal"]:  # rows given one by one or as columns, in order
            if isinstance(entry, _Columns):
                fiscal += [
                    dict(zip(entry.columns, r, strict=True))
                    for r in zip(*entry.columns.values(), strict=True)
                ]
            else:
                fiscal.append(dict(entry))
        out = RunArrays(
            periods=tuple(s[0] for s in self.steps),
            years=np.array([s[1] for s in self.steps], dtype=int),
            step_years=np.array([s[2] for s in self.steps], dtype=float),
            node_commodity=labels(nodes, "commodity"),
            node_region=labels(nodes, "region"),
            prices=rows(self.prices, len(nodes)),
            determined=rows(self.determined, len(nodes)).astype(bool),
            out_region=labels(out, "region"),
            out_kind=labels(out, "kind"),
            out_commodity=labels(out, "commodity"),
            output=rows([a[self.out_proc] * self.out_coef for a in self.act], len(out)) * KT_TO_T,
            edge_commodity=labels(edges, "commodity"),
            edge_exporter=labels(edges, "exporter"),
            edge_importer=labels(edges, "importer"),
            flow=rows(self.flow, len(edges)) * KT_TO_T,
            dem_commodity=labels(self.dem_labels, "commodity"),
            dem_region=labels(self.dem_labels, "region"),
            consumption=rows(self.q, len(self.dem_labels)) * KT_TO_T,
            expected=self._expected(),
            welfare=tuple(self.welfare),
            fiscal=tuple(fiscal),
        )
        for a in (
            out.years,
            out.step_years,
            out.prices,
            out.determined,
            out.output,
            out.flow,
            out.consumption,
        ):
            a.flags.writeable = False  # a record: read, never changed
        self._arrays = out
        return out

    def _expected(self) -> dict[str, dict]:
        """The private holders' expected prices by period, as the stocks table has them (rows of
        kind ``private`` with an expectation)."""
        out: dict[str, dict] = {}
        for entry in self.extra["stocks"]:
            block = entry.columns if isinstance(entry, _Columns) else {c: [v] for c, v in entry.items()}
            if "expected_usd_per_kg" not in block:
                continue
            periods, kinds, holders, goods, values = (
                block[c] for c in ("period", "kind", "holder", "commodity", "expected_usd_per_kg")
            )
            if len(set(periods)) == 1 and set(kinds) == {"private"}:
                # a step's private stocks (Items.columns): one period, every row private; its
                # expectations taken at once, NaN (no expectation) left out, later rows winning
                keys = zip(holders, goods, strict=True)
                ok = [v == v for v in values]
                if all(ok):
                    out.setdefault(periods[0], {}).update(zip(keys, values, strict=True))
                elif any(ok):
                    out.setdefault(periods[0], {}).update(compress(zip(keys, values, strict=True), ok))
                continue
            for period, kind, holder, good, v in zip(periods, kinds, holders, goods, values, strict=True):
                if kind == "private" and v == v:  # NaN: no expectation
                    out.setdefault(period, {})[(holder, good)] = v
        return out

    def _long(self, labels: pd.DataFrame, values, name: str) -> pd.DataFrame:
        """``labels`` repeated for every step, with ``values`` (a row per step: a list of arrays or
        a steps x labels array) as column ``name``."""
        k = len(labels)
        periods = np.repeat([s[0] for s in self.steps], k)
        years = np.repeat([s[1] for s in self.steps], k)
        out = pd.concat([labels] * len(self.steps), ignore_index=True)
        out.insert(0, "year", years)
        out.insert(0, "period", periods)
        out[name] = np.concatenate(values) if len(values) else np.zeros(0)  # a new, writable array
        return out

    def _quota_rents(self, cat) -> pd.DataFrame:
        """The quota and exclusion rows of every step, in the order recorded."""
        cols = ["period", "year", "quota", "limit_tonnes_per_year", "used_tonnes_per_year", "rent_usd_per_kg"]
        if not self.quota:
            return cat([], cols)
        sizes = [len(b[2]) for b in self.quota]
        return pd.DataFrame(
            {
                "period": np.repeat([b[0] for b in self.quota], sizes),
                "year": np.repeat([b[1] for b in self.quota], sizes),
                "quota": np.concatenate([np.asarray(b[2], dtype=object) for b in self.quota]),
                **{
                    c: np.concatenate([b[k] for b in self.quota]).astype(float)
                    for k, c in enumerate(cols[3:], 3)
                },
            }
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """The result tables."""
        a = self.arrays()
        dts = a.step_years
        prices = self._long(self.nodes, a.prices, "usd_per_kg")
        prices["determined"] = np.concatenate(a.determined) if len(a.determined) else np.zeros(0, bool)
        prices = prices[["period", "year", "commodity", "region", "usd_per_kg", "determined"]]

        prod = self._long(self.out_labels, a.output, "tonnes_per_year")
        prod["tonnes"] = prod["tonnes_per_year"] * np.repeat(dts, len(self.out_labels))
        prod = prod[prod["tonnes_per_year"] > 0][
            ["period", "year", "region", "process", "kind", "commodity", "tonnes", "tonnes_per_year"]
        ]

        trade = self._long(self.edge_labels, a.flow, "tonnes_per_year")
        trade["tonnes"] = trade["tonnes_per_year"] * np.repeat(dts, len(self.edge_labels))
        trade = trade[trade["tonnes_per_year"] > 0][
            ["period", "year", "commodity", "exporter", "importer", "tonnes", "tonnes_per_year"]
        ]

        cons = self._long(self.dem_labels, a.consumption, "tonnes_per_year")
        cons["tonnes"] = cons["tonnes_per_year"] * np.repeat(dts, len(self.dem_labels))
        cons["usd_per_kg"] = (
            np.concatenate([p[self.dem_node] for p in self.prices]) if self.prices else np.zeros(0)
        )
        if self.premium:
            cons["usd_per_kg"] += np.concatenate(self.premium)
        cons["choke_usd_per_kg"] = np.concatenate(self.choke) if self.choke else np.zeros(0)
        cons = cons[
            [
                "period",
                "year",
                "region",
                "sector",
                "commodity",
                "tonnes",
                "tonnes_per_year",
                "usd_per_kg",
                "choke_usd_per_kg",
            ]
        ]

        cap = self._long(self.cap_labels, self.cap, "tonnes_per_year")
        cap["tonnes_per_year"] *= KT_TO_T
        cap["rent_usd_per_kg"] = np.concatenate(self.rent) if self.rent else np.zeros(0)

        def cat(frames: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
            return (
                pd.concat(frames, ignore_index=True)
                if frames
                else pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
            )

        def of_rows(rows: list, cols: list[str]) -> pd.DataFrame:
            return _rows_frame(rows) if rows else cat([], cols)

        welfare_cols = ["period", "year", "region", "component", "usd_million", "usd_million_per_year"]
        licence_rents = (
            self._long(self.lic_labels, self.lic_rent, "rent_usd_per_kg")
            if self.lic_rent
            else cat([], list(LATER_TABLES["licence_rents"]))
        )

        return {
            "prices": prices.reset_index(drop=True),
            "production": prod.reset_index(drop=True),
            "trade": trade.reset_index(drop=True),
            "consumption": cons.reset_index(drop=True),
            "capacity": cap.reset_index(drop=True),
            "stocks": of_rows(
                self.extra["stocks"],
                ["period", "year", "holder", "commodity", "kind", "tonnes", "expected_usd_per_kg"],
            ),
            "fiscal": of_rows(self.extra["fiscal"], ["period", "year", "instrument", "payer", "usd_million"]),
            "quota_rents": self._quota_rents(cat),
            "surplus": (
                pd.DataFrame(self.welfare, columns=welfare_cols) if self.welfare else cat([], welfare_cols)
            ),
            "licence_rents": licence_rents,
        }
