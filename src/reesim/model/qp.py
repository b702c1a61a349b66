"""The spatial price equilibrium of one year as a sparse convex QP.

Samuelson (1952) and Takayama & Judge (1971): the competitive spatial equilibrium
maximises consumer surplus minus production and transport costs. With linear inverse
demand ``a - b q`` and linear marginal cost ``c + d x`` it is the QP

    minimise   1/2 v' diag(P) v + c' v
    subject to G v <= h          (commodity balances, export quotas)
               0 <= v <= u       (capacities; banned edges and zero capacities presolved away)

over v = [process activities x | demand quantities q | edge flows f], with
P = [d | b | congestion + route_quad], c = [c | -a | transport + route_cost + wedges]
(the route terms are the calibrated route costs of :mod:`reesim.solve.routes`, Howitt 1995). The balance row of commodity
k in region r reads ``-(sum_p io[p,k] x_p + inflow - outflow - sum q) <= 0``: free
disposal, so its dual (>= 0) is the price, and a co-product in excess supply has price 0.
A quota row ``sum_{e in group} coef_e f_e <= limit`` has the quota rent as dual
(``coef`` converts a flow into the quota's unit, e.g. the Dy content of a magnet). Rules of
origin and end-use exclusions are rows of the same kind on flows, own production and (for an
exclusion) the excluded users' demand; see :class:`reesim.world.world.World`. KKT conditions
of this QP are exactly the equilibrium conditions checked by :mod:`reesim.solve.guards`.

The constraint matrix is built once per world structure with vectorised scipy.sparse code;
costs, bounds and right-hand sides of a world with the same structure are recomputed without
rebuilding the matrix (:func:`update_qp`), and the solver back end updates in place.

References
----------
Samuelson, P. A. (1952). Spatial price equilibrium and linear programming. *American
Economic Review* 42(3), 283-303. Takayama, T. & Judge, G. G. (1971). *Spatial and
Temporal Price and Allocation Models*. North-Holland.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reesim.memo import memo_of, private_copy
from reesim.world.world import STOCK_KIND, STOCKPILE_RELEASE, World, floats

#: Upper bounds below this, in the world's quantity unit (kt or kt/yr in the default world: one
#: gram), are zero and presolved away. A private stock drawn to zero closes at the
#: interior-point solver's rendering of a zero, 1e-15 to 1e-9 kt, and opens the next step as a
#: release capacity that small: a box [0, 1e-12] whose bound multiplier is barely determined. PIQP then stalled on the dual residual (about 8e-5) in 68
#: of the 271 solves of ``reesim backtest 2025`` and Clarabel took over; those failed attempts
#: took 17.5 s of the 26.7 s run (measured 2026-12-05).
ZERO_BOUND = 1e-9


@dataclass(frozen=True)
class QP:
    """A built QP with its labels.

    All arrays cover the full variable set; :attr:`keep` marks the columns passed to the
    solver (presolve drops columns whose upper bound is 0).
    """

    P: np.ndarray  # diagonal of the Hessian, length n
    c: np.ndarray  # linear cost, length n
    G: sp.csc_matrix  # rows: balances, then quotas, then rules of origin, then end-use exclusions
    h: np.ndarray  # right-hand sides
    ub: np.ndarray  # upper bounds (inf where none)
    n_proc: int
    n_dem: int
    n_edge: int
    nodes: pd.DataFrame  # balance rows: commodity, region
    quota_names: tuple[str, ...]
    base_edge_cost: np.ndarray  # transport + route cost + specific wedge per edge (ad valorem added later)
    # Lookups of the structure, built once by build_qp and shared by every QP update_qp makes from
    # it (the steps' worlds keep the run's edges and nodes, in order): position of each edge by
    # (commodity, origin, dest), of each balance row by (commodity, region), and the balance rows
    # of every edge's origin and destination. A step's edge table is a new frame, so a cache keyed
    # on the table missed at every step (about 2 ms a step).
    edge_index: dict[tuple[str, str, str], int] = field(compare=False, repr=False)
    node_index: dict[tuple[str, str], int] = field(compare=False, repr=False)
    edge_ends: tuple[np.ndarray, np.ndarray] = field(compare=False, repr=False)
    origin_names: tuple[str, ...] = ()
    enduse_names: tuple[str, ...] = ()

    @property
    def quota_rows(self) -> slice:
        """Rows of the export quotas."""
        return slice(len(self.nodes), len(self.nodes) + len(self.quota_names))

    @property
    def origin_rows(self) -> slice:
        """Rows of the rules of origin."""
        start = len(self.nodes) + len(self.quota_names)
        return slice(start, start + len(self.origin_names))

    @property
    def enduse_rows(self) -> slice:
        """Rows of the end-use exclusions."""
        start = self.origin_rows.stop
        return slice(start, start + len(self.enduse_names))

    def enduse_usage(self, v: np.ndarray, slack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(purchases of the excluded users, supply they may buy + slack) of each exclusion row at ``v``."""
        rows = self.G[self.enduse_rows]
        used = rows.multiply(rows > 0) @ v
        return used, used - rows @ v + np.asarray(slack, dtype=float)

    @property
    def n(self) -> int:
        """Number of variables."""
        return len(self.c)

    @property
    def keep(self) -> np.ndarray:
        """Columns that stay after presolve (upper bound > 0)."""
        return self.ub > 0

    @property
    def n_nodes(self) -> int:
        """Number of balance rows."""
        return len(self.nodes)

    def sizes(self) -> dict[str, int]:
        """Problem size before and after presolve."""
        k = self.keep
        Gk = self.G[:, k]
        return {
            "variables": self.n,
            "rows": self.G.shape[0],
            "nonzeros": int(self.G.nnz),
            "variables_presolved": int(k.sum()),
            "nonzeros_presolved": int(Gk.nnz),
        }

    def with_edge_wedges(self, wedges: np.ndarray) -> QP:
        """The same QP with ad valorem wedges (USD/kg per edge) added to the edge costs."""
        c = self.c.copy()
        s = self.n_proc + self.n_dem
        c[s:] = self.base_edge_cost + wedges
        return _replace(self, c=c)


def _replace(qp: QP, **kw) -> QP:
    from dataclasses import replace

    return replace(qp, **kw)


def edge_tuples(df: pd.DataFrame, cols: tuple[str, ...] = ("commodity", "origin", "dest")) -> list[tuple]:
    """The key columns ``cols`` (by default an edge's commodity, from, to) of each row as plain
    tuples of str (a few thousand rows: faster to look up in a dict than a MultiIndex)."""
    return list(zip(*(df[c].astype(str).tolist() for c in cols), strict=True))


def key_positions(index: dict[tuple, int], keys: list[tuple]) -> np.ndarray:
    """Position of each key in ``index`` (key -> position), -1 where absent."""
    return np.fromiter((index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))


def _edge_lookup(index: dict, frame: pd.DataFrame) -> np.ndarray:
    """Position of each row of ``frame`` (commodity, origin, dest) in ``index`` (:attr:`QP.edge_index`), -1 where absent.

    Kept per frame (:func:`reesim.memo.memo_of`): a step's policy frames are the same objects
    while the same policies are in force, so a run looks their edges up once, not every step.
    """
    memo = memo_of(frame)
    hit = memo.get("edge_lookup")
    if hit is None or hit[0] is not index:
        pos = key_positions(index, edge_tuples(frame))
        pos.flags.writeable = False  # shared by every step that reads the frame
        hit = memo["edge_lookup"] = (index, pos)
    return hit[1]


def _edge_positions(
    edge_index: dict[tuple[str, str, str], int],
    frame: pd.DataFrame,
    cols: list[str],
    label: str,
    name_col: str,
) -> np.ndarray:
    """Positions of ``frame``'s edges (columns ``cols``: commodity, from, to); an unknown edge is an InputError."""
    pos = key_positions(edge_index, edge_tuples(frame, tuple(cols)))
    if (pos < 0).any():
        from reesim.errors import InputError

        bad = frame[pos < 0].iloc[0]
        raise InputError(
            f"{label} '{bad[name_col]}' names edge {bad[cols[0]]} {bad[cols[1]]}->{bad[cols[2]]}, which is not a trade edge"
        )
    return pos


def build_qp(world: World) -> QP:
    """Build the sparse QP of ``world`` (vectorised; no Python loop over edges).

    What the labels alone decide (the balance rows, every coefficient's row and column, the
    lookups) is made once per process for worlds with the same labels (:class:`_Layout`,
    :func:`reesim.world.labels.shared`): an ensemble's members differ in numbers only. The numbers
    (coefficients, costs, bounds, limits) are read from ``world`` at every build.

    Parameters
    ----------
    world : World
        The market year.

    Returns
    -------
    QP
        Matrices and labels; ad valorem wedges are not yet included (see
        :func:`reesim.solve.equilibrium.solve_equilibrium`).
    """
    from reesim.world.labels import shared

    lay: _Layout = shared(world, "qp", lambda: _Layout.of(world))
    vals = lay.const.copy()
    vals[lay.io_at] = -floats(world.io["coef"])[lay.io_rows]
    vals[lay.member_at] = floats(world.quota_members["coef"])
    G = sp.csc_matrix((vals, (lay.rows, lay.cols)), shape=lay.shape)
    G.sum_duplicates()

    P, c, ub, edge_cost = _vectors(world, lay.edge_index)
    h = np.concatenate(
        [
            np.zeros(len(lay.nodes)),
            floats(world.quotas["limit"]),
            floats(world.origin_rules["slack"]),
            floats(world.enduse_rules["slack"]),
        ]
    )
    qp = QP(
        P=P,
        c=c,
        G=G,
        h=h,
        ub=ub,
        n_proc=lay.n_proc,
        n_dem=lay.n_dem,
        n_edge=lay.n_edge,
        nodes=private_copy(lay.nodes),
        quota_names=lay.quota_names,
        origin_names=lay.origin_names,
        enduse_names=lay.enduse_names,
        base_edge_cost=edge_cost,
        edge_index=lay.edge_index,
        node_index=lay.node_index,
        edge_ends=lay.edge_ends,
    )
    _close_zero_limits(qp.G, qp.quota_rows, qp.h, qp.ub)  # in place: arrays of the new QP
    return qp


@dataclass(frozen=True)
class _Layout:
    """What a world's labels decide of its QP: the balance rows, the row and column of every
    stored coefficient of the matrix, where its value comes from, and lookups.

    A coefficient's value is a constant (:attr:`const`: a demand's 1, an edge's -1 at its
    destination and 1 at its origin, a rule's 1 on its edge, an end-use exclusion's 1 and -1), a
    negated io coefficient (entries :attr:`io_at`, io rows :attr:`io_rows`: a process's inputs
    and outputs in its balance rows, a region's own output in a rule of origin or an end-use
    exclusion) or a quota member's coefficient (entries :attr:`member_at`, in the members' order).
    Shared by every build for these labels: read, never changed.
    """

    rows: np.ndarray
    cols: np.ndarray
    shape: tuple[int, int]
    const: np.ndarray  # each entry's constant value (0 where a number of the world goes)
    io_at: np.ndarray
    io_rows: np.ndarray
    member_at: np.ndarray
    nodes: pd.DataFrame
    node_index: dict[tuple[str, str], int]
    edge_index: dict[tuple[str, str, str], int]
    edge_ends: tuple[np.ndarray, np.ndarray]
    n_proc: int
    n_dem: int
    n_edge: int
    quota_names: tuple[str, ...]
    origin_names: tuple[str, ...]
    enduse_names: tuple[str, ...]

    @classmethod
    def of(cls, world: World) -> _Layout:
        """The layout of ``world``'s QP (reads its labels and the signs of its io coefficients)."""
        from reesim.world.labels import frozen

        p, io, d, e = world.processes, world.io, world.demands, world.edges
        n_p, n_d, n_e = len(p), len(d), len(e)

        # Balance nodes: every (commodity, region) touched by a process, a demand or an edge, in
        # sorted order; looked up in plain dicts (a MultiIndex per lookup cost most of a build).
        procs = p["process"].tolist()
        proc_region = dict(zip(procs, p["region"].tolist(), strict=True))
        io_keys = list(  # str like the other keys (a hand-made world may label regions 1, 2, ...)
            zip(
                io["commodity"].astype(str).tolist(),
                [str(proc_region[x]) for x in io["process"].tolist()],
                strict=True,
            )
        )
        d_keys = edge_tuples(d, ("commodity", "region"))
        e_keys = edge_tuples(e)
        orig_keys = [(c, o) for c, o, _ in e_keys]
        dest_keys = [(c, t) for c, _, t in e_keys]
        node_list = sorted({*io_keys, *d_keys, *orig_keys, *dest_keys})
        node_index = {k: i for i, k in enumerate(node_list)}
        nodes = pd.DataFrame(node_list or None, columns=["commodity", "region"], dtype="str")

        proc_index = {pid: j for j, pid in enumerate(procs)}
        proc_pos = key_positions(proc_index, io["process"].tolist())
        # each block of entries: rows, columns, and the value's source (constant, io row, member)
        rows, cols, const, io_src, member_src = [], [], [], [], []

        def block(r: np.ndarray, c: np.ndarray, value: float = 0.0, io_row=None, member=None) -> None:
            n = len(r)
            rows.append(r)
            cols.append(c)
            const.append(np.full(n, value))
            io_src.append(np.full(n, -1) if io_row is None else io_row)
            member_src.append(np.full(n, -1) if member is None else member)

        block(key_positions(node_index, io_keys), proc_pos, io_row=np.arange(len(io)))
        block(key_positions(node_index, d_keys), n_p + np.arange(n_d), 1.0)
        edge_cols = n_p + n_d + np.arange(n_e)
        edge_dest, edge_orig = key_positions(node_index, dest_keys), key_positions(node_index, orig_keys)
        block(edge_dest, edge_cols, -1.0)
        block(edge_orig, edge_cols, 1.0)

        # Quota rows.
        quotas = world.quotas.reset_index(drop=True)
        members = world.quota_members
        q_rows = pd.Index(quotas["quota"]).get_indexer(members["quota"])
        edge_index = {k: i for i, k in enumerate(e_keys)}
        q_cols = _edge_positions(edge_index, members, ["commodity", "origin", "dest"], "quota", "quota")
        block(len(nodes) + q_rows, n_p + n_d + q_cols, member=np.arange(len(members)))

        # Rules of origin: flow(c, via->dest) - via's own production of c <= slack. Releases from
        # stocks (private and strategic) are not the region's own production: their origin is not
        # known, so they cannot carry goods of the restricted origin through it.
        rules = world.origin_rules.reset_index(drop=True)
        enduse = world.enduse_rules.reset_index(drop=True)
        own = _OwnOutput(world, proc_index, proc_region) if len(rules) or len(enduse) else None

        def own_output(row: int, commodity: str, region: str) -> None:  # -coef x activity
            pos = own.rows_of(commodity, region)
            if len(pos):
                block(np.full(len(pos), row), own.proc_pos[pos], io_row=pos)

        if len(rules):
            r_edge = _edge_positions(
                edge_index, rules, ["commodity", "via", "dest"], "rule of origin", "rule"
            )
            base_row = len(nodes) + len(quotas)
            block(base_row + np.arange(len(rules)), n_p + n_d + r_edge, 1.0)
            for k, (c, via) in enumerate(
                zip(rules["commodity"].tolist(), rules["via"].tolist(), strict=True)
            ):
                own_output(base_row + k, c, via)
        # End-use exclusions: q(excluded users of c in dest) - imports of c into dest from regions
        # other than the exporter - dest's own production of c <= slack (releases from stocks are
        # not own production, as for the rules of origin).
        if len(enduse):
            base_row = len(nodes) + len(quotas) + len(rules)
            block(
                base_row + np.arange(len(enduse)),
                n_p + pd.Index(d["demand"]).get_indexer(enduse["demand"]),
                1.0,
            )
            e_comm, e_orig, e_dest = (e[c].astype(str).to_numpy() for c in ("commodity", "origin", "dest"))
            for k, r in enumerate(enduse.itertuples(index=False)):
                pos = np.flatnonzero((e_comm == r.commodity) & (e_dest == r.dest) & (e_orig != r.exporter))
                block(np.full(len(pos), base_row + k), n_p + n_d + pos, -1.0)
                own_output(base_row + k, r.commodity, r.dest)
        m = len(nodes) + len(quotas) + len(rules) + len(enduse)
        io_src, member_src = np.concatenate(io_src), np.concatenate(member_src)
        io_at, member_at = np.flatnonzero(io_src >= 0), np.flatnonzero(member_src >= 0)
        lay = cls(
            rows=np.concatenate(rows),
            cols=np.concatenate(cols),
            shape=(m, n_p + n_d + n_e),
            const=np.concatenate(const),
            io_at=io_at,
            io_rows=io_src[io_at],
            member_at=member_at,
            nodes=nodes,
            node_index=node_index,
            edge_index=edge_index,
            edge_ends=(edge_orig, edge_dest),
            n_proc=n_p,
            n_dem=n_d,
            n_edge=n_e,
            quota_names=tuple(quotas["quota"]),
            origin_names=tuple(rules["rule"]),
            enduse_names=tuple(enduse["rule"]),
        )
        frozen(lay.rows, lay.cols, lay.const, lay.io_at, lay.io_rows, lay.member_at, edge_orig, edge_dest)
        return lay


class _OwnOutput:
    """Each region's own output rows of each good, by (commodity, region): io rows with a positive
    coefficient of processes that make goods in their region, not releases from stocks (private,
    kind ``stock``, or strategic, ``stock-release:`` processes of
    :mod:`reesim.instruments.stockpile`), whose origin is not known. For the ``-coef x activity``
    terms of a constraint row (rules of origin, end-use exclusions)."""

    def __init__(self, world: World, proc_index: dict[str, int], region_of: dict) -> None:
        p, io = world.processes, world.io
        kind_of = dict(zip(p["process"].tolist(), p["kind"].tolist(), strict=True))
        io_proc = io["process"].tolist()
        self.proc_pos = key_positions(proc_index, io_proc)
        self.groups: dict[tuple, list[int]] = {}
        for i, (x, c, v) in enumerate(
            zip(io_proc, io["commodity"].tolist(), floats(io["coef"]), strict=True)
        ):
            if v > 0 and kind_of.get(x) != STOCK_KIND and not str(x).startswith(STOCKPILE_RELEASE):
                self.groups.setdefault((c, region_of.get(x)), []).append(i)

    def rows_of(self, commodity: str, region: str) -> np.ndarray:
        """The io rows of ``region``'s own output of ``commodity`` (none if it makes none)."""
        return np.array(self.groups.get((commodity, region), ()), dtype=np.intp)


def _specific_wedge(edge_index: dict, spec: pd.DataFrame, n_e: int) -> np.ndarray:
    """The specific wedges (USD/kg) of ``spec`` summed per edge, read-only.

    Kept per frame, like :func:`_edge_lookup`: a step's ``specific`` frame is the same object
    while the same policies are in force, and its boolean selection cost about 0.45 ms a step.
    """
    memo = memo_of(spec)
    hit = memo.get("wedge")
    if hit is None or hit[0] is not edge_index or len(hit[1]) != n_e:
        wedge = np.zeros(n_e)
        if len(spec):
            pos = _edge_lookup(edge_index, spec)
            ok = pos >= 0
            np.add.at(wedge, pos[ok], floats(spec.loc[ok, "per_unit"]))
        wedge.flags.writeable = False
        hit = memo["wedge"] = (edge_index, wedge)
    return hit[1]


def _vectors(world: World, edge_index: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hessian diagonal, linear cost, upper bounds and edge costs of ``world`` (vectorised;
    ``edge_index``: the edges' positions by key, :attr:`QP.edge_index`; columns read by
    :meth:`~reesim.world.world.World.numbers`, so a step's tables are not made)."""
    n_p, n_d, n_e = world.n_rows("processes"), world.n_rows("demands"), world.n_rows("edges")

    def p(col: str) -> np.ndarray:
        return world.numbers("processes", col)

    def d(col: str) -> np.ndarray:
        return world.numbers("demands", col)

    def e(col: str) -> np.ndarray:
        return world.numbers("edges", col)

    edge_cost = e("transport") + e("route_cost") + _specific_wedge(edge_index, world.specific, n_e)
    P = np.concatenate([p("mc_slope"), d("slope"), world.congestion + e("route_quad")])
    c = np.concatenate([p("mc_intercept"), -d("intercept"), edge_cost])
    ub = np.concatenate([p("capacity"), d("max_quantity"), np.full(n_e, np.inf)])
    if len(world.bans):
        banned = _edge_lookup(edge_index, world.bans)
        ub[n_p + n_d + np.unique(banned[banned >= 0])] = 0.0
    ub[ub < ZERO_BOUND] = 0.0
    return P, c, ub, edge_cost


def update_qp(qp: QP, world: World) -> QP:
    """The QP of ``world``, re-using the matrix of ``qp`` built for a world of the same structure.

    Only costs, bounds and right-hand sides are recomputed; the structure (processes,
    demands, edges, their order, the io coefficients and quota memberships) must be the same.
    The matrix object is shared, so a :class:`~reesim.solve.backends.PiqpBackend` that solved
    ``qp`` updates its factorisation in place instead of setting up again (unless bans change
    which columns are presolved away).

    Raises
    ------
    ValueError
        If the sizes differ (the structure changed: use :func:`build_qp`).
    """
    tables = ("processes", "demands", "edges", "quotas", "origin_rules", "enduse_rules")
    if tuple(world.n_rows(t) for t in tables) != (
        qp.n_proc,
        qp.n_dem,
        qp.n_edge,
        len(qp.quota_names),
        len(qp.origin_names),
        len(qp.enduse_names),
    ):
        raise ValueError("update_qp: the world's structure differs from the QP's; build a new QP")
    P, c, ub, edge_cost = _vectors(world, qp.edge_index)
    h = qp.h.copy()
    h[qp.quota_rows] = world.numbers("quotas", "limit")
    h[qp.origin_rows] = world.numbers("origin_rules", "slack")
    h[qp.enduse_rows] = world.numbers("enduse_rules", "slack")
    _close_zero_limits(qp.G, qp.quota_rows, h, ub)
    return _replace(qp, P=P, c=c, ub=ub, h=h, base_edge_cost=edge_cost)


def _close_zero_limits(G: sp.csc_matrix, rows: slice, h: np.ndarray, ub: np.ndarray) -> None:
    """Give every flow that a quota row with limit 0 holds at zero an upper bound of 0 (in place).

    A row ``sum coef_e f_e <= 0`` with positive coefficients on flows that are also bounded
    below by 0 makes the flows' zero doubly binding: its dual is not determined (any value
    above the route's price gap satisfies the KKT conditions, the bound's multiplier taking up
    the rest), and interior-point solvers drift towards ever larger duals (10^12 USD/kg on the
    October 2025 package's Tb magnet rows run without a counterfactual, which approves nothing)
    until they stall; PIQP failed in 18 of its 24 monthly steps and Clarabel had to take over. Closed by a bound instead, the flows are
    presolved away with the row (its dual, undetermined, reads NaN as for a ban, and a
    licence's rent for that step 0), the same equilibrium, while the route's wedge is the
    bound's multiplier. Rows with a negative coefficient are left alone.
    """
    lim = h[rows]
    zero = np.flatnonzero(lim <= 0)
    if not zero.size:
        return
    block = G[rows].tocsr()
    for i in zero:
        data = block.data[block.indptr[i] : block.indptr[i + 1]]
        if data.size and (data >= 0).all():
            cols = block.indices[block.indptr[i] : block.indptr[i + 1]]
            ub[cols[data > 0]] = 0.0
