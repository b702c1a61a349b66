"""Private stocks: competitive storage by the holders in every consuming region.

Every region that consumes a good holds working stocks of it (users' and traders'
inventories; strategic stockpiles are instruments, :mod:`reesim.instruments.stockpile`).
The holders follow the competitive-storage rule (Williams & Wright 1991, *Storage and
Commodity Markets*, ch. 3; Deaton & Laroque 1992, *Review of Economic Studies* 59(1)):
carry stock ``S1 >= 0`` out of a step while the price today is no higher than the value of
a unit carried,

    p_t >= v(S1),  S1 >= 0,  (p_t - v(S1)) S1 = 0,

    v(S1) = p_e (1 - (S1 - S_t) / (eps C H)),

where ``p_e`` is the price expected for the next step (the lower of the price just cleared and
its adaptive level, Nerlove 1958, ``A <- A + lambda (p - A)``, ``lambda = 1 - exp(-dt / tau)``;
against a counterfactual, the counterfactual's expected price times the adaptively expected
ratio of the run's price to it: :meth:`Items.update`), ``S_t`` the stock aimed at in the step
(the holders close a share ``1 - exp(-dt / T)`` of the gap to the normal stock per step,
Lovell 1961), ``S*`` the
normal working stock (``cover`` years of the region's reference use ``C``, final demand
plus its plants' inputs, times the precautionary multiplier while a licence, quota or ban
restricts the region's supply of the good; an exporting region whose shipments await a
licence's approvals raises the part of it that matches those exports likewise,
:meth:`Items.awaiting`), ``eps`` the price elasticity of the region's demand at the reference
point and ``H`` the years over which stock above normal is worked off (so a kt carried
above normal lowers the next price by ``p_e / (eps C H)``). Working stocks earn a
convenience yield (Kaldor 1939; Working 1949) equal to interest and carrying cost at the
normal stock, so with flat expected prices the holders keep ``S*``; with the yield, the
arbitrage condition reads: while stocks are positive the expected price rises by at most
the carrying cost (``beta p_e - p_t - k <= 0``).

In the market core a step of ``dt`` years adds, per stock item, a release process (the
opening stock ``S0`` supplied at zero cost, capacity ``S0 / dt`` kt/yr) and a carry-out
demand (``S1 = q dt``) with the linear inverse demand ``p = a - b q``,
``b = p_e dt / (eps C H)``, ``a = p_e (1 + S* / (eps C H))``: the QP's KKT conditions are
the storage conditions above. A supply shock then empties stocks first (a spike smaller
than without them) and the holders rebuild later, above normal while the supply risk lasts.

Producers hold stocks too: every mine region holds its concentrate at the mine under the same
rule, with its own normal cover (months of its reference output, ``C``) and work-off time, and
unit elasticity (``eps = 1``: a concentrate has no final demand of its own). A producer's
expected price is not adaptive but what its concentrate fetches from China's separators, its
netback: the oxides its ore yields at China's prices less China's separation charge, at the
step just cleared (``crack:CHN:<ore>``), less the reference spread between that netback and the
price at the mine (transport and route costs). In a market that falls everywhere the netback
falls with the local price and producers keep their normal stock (adaptive expectations would
have them buy their own output as "cheap" all through 2023-24, a previous attempt); when a
barrier cuts a mine off from its buyers, the local price collapses while the netback does not,
and the mine keeps mining while the value of a unit carried covers its cash cost, and stores. MP Materials did: its REO
output rose 45 % year on year in Q2 2025 while its REO sales fell 54 % and its inventories rose
from 127 to 173 million USD (MP Materials, Q2 2025 results, 2025-08-07).

Stock movements are not consumption or production: the result shows them in the
``stocks`` table (``kind = private``) and leaves them out of consumer and producer surplus.
What the holders pay for the stock they carry out and receive for what they release is
nonetheless in the world's welfare: producers are paid for the goods put into stock and buyers
pay for the goods released, so a step's welfare values the change in stocks at the step's price
(the national accounts' change in inventories, SNA 2008 §6.147). Their gain or loss on the stock
they carried into the step, ``(p_t - p_{t-1}) S_0`` at their node's prices (:meth:`Items.holding_gains`,
welfare component ``holding_gain``), completes the storers' profit (Williams & Wright 1991, ch. 3:
buy at ``p_t``, sell at ``p_{t+1}``). Without it, stock bought dear and released cheap after a
shock showed as a gain to the consumers who bought it cheap and no loss to anyone; summed over a
run, the accounts now come to utility less production cost plus the closing stock at the last
price less the opening stock at the reference price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from reesim.memo import memo_of, private_copy
from reesim.model.qp import key_positions
from reesim.solve.solution import prices_at
from reesim.world.labels import frozen
from reesim.world.world import (
    PRIVATE_STOCK_SECTOR,
    PURCHASE_RULE_SECTORS,
    STOCK_KIND,
    World,
    floats,
    structure_frames,
)

SECTOR, KIND = PRIVATE_STOCK_SECTOR, STOCK_KIND
#: a producer that reaches its buyer keeps its normal stock at any price up to this multiple of
#: the expected price (its carry-out demand's intercept)
PINNED = 10.0
#: sectors whose purchases are not final consumption
NOT_FINAL = (*PURCHASE_RULE_SECTORS, SECTOR)
#: bounds of the expected ratio of a run's price to its counterfactual's (a guard against
#: near-zero counterfactual prices of goods hardly traded; observed licence premiums were 3-4x)
RATIO_BOUNDS = (0.1, 10.0)


@dataclass(frozen=True)
class StorageParams:
    """Parameters of private storage (from the world's assumptions)."""

    cover_years: float  # normal working stock, years of reference consumption
    precaution: float  # multiplier of the normal stock while the region's supply is restricted
    workoff_years: float  # H: years over which stock above normal is worked off
    expectation_years: float  # tau: adaptation time of expected prices
    adjustment_years: float  # time over which holders close the gap to the normal stock
    producer_cover_years: float = 0.0  # mines' normal stock of concentrate, years of output (0: none)
    producer_workoff_years: float = 1.0  # H of the mines' stocks
    exporter_share: float = 0.0  # share of the precaution exporters awaiting licences apply (0: none)

    @classmethod
    def of(cls, world: World) -> StorageParams | None:
        """The world's storage parameters, or None when it has none (private stocks off)."""
        spec = world.meta.get("storage")
        if not spec or spec.get("cover_years", 0.0) <= 0:
            return None
        return cls(
            float(spec["cover_years"]),
            float(spec["precaution"]),
            float(spec["workoff_years"]),
            float(spec["expectation_years"]),
            float(spec.get("adjustment_years", 0.25)),
            float(spec.get("producer_cover_years", 0.0)),
            float(spec.get("producer_workoff_years", 1.0)),
            float(spec.get("exporter_share", 0.0)),
        )


def release_id(region: str, commodity: str) -> str:
    """Id of the release process of a stock item."""
    return f"private-stock-release:{region}:{commodity}"


def demand_id(region: str, commodity: str) -> str:
    """Id of the carry-out demand of a stock item."""
    return f"private-stock:{region}:{commodity}"


def item_keys(world: World) -> list[tuple[str, str]]:
    """(region, commodity) of every stock item: each node with final demand, and each mine
    region's concentrates when producers hold stocks."""
    params = StorageParams.of(world)
    producers = params is not None and params.producer_cover_years > 0
    return _item_keys(world, ~world.demands["sector"].isin(NOT_FINAL).to_numpy(), producers)


def _item_keys(world: World, final: np.ndarray, producers: bool, mines=None) -> list[tuple[str, str]]:
    """:func:`item_keys` from the final demand rows (a mask) and, when ``producers``, the mines'
    output rows (:func:`_mine_rows`, read when not given)."""
    d = world.demands
    keys = set(
        zip(d["region"].to_numpy()[final].tolist(), d["commodity"].to_numpy()[final].tolist(), strict=True)
    )
    if producers:
        region, commodity = (mines or _mine_rows(world))[:2]
        keys |= set(zip(region, commodity, strict=True))
    return sorted(keys)


def _mine_rows(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Region, concentrate, process position and io row position of every mine's output row."""
    p, io = world.processes, world.io
    procs = p["process"].tolist()
    pos = {x: j for j, x in enumerate(procs)}
    mines = {x for x, k in zip(procs, p["kind"].tolist(), strict=True) if k == "mining"}
    rows = [
        (pos[x], c, i)  # plain lists: three Arrow string filters cost about 1.5 ms a call
        for i, (x, c, k) in enumerate(
            zip(io["process"].tolist(), io["commodity"].tolist(), io["coef"].tolist(), strict=True)
        )
        if k > 0 and x in mines and c.startswith("concentrate:")
    ]
    j = np.array([r[0] for r in rows], dtype=np.intp)
    commodity = np.array([r[1] for r in rows], dtype=object)
    return p["region"].to_numpy()[j], commodity, j, np.array([r[2] for r in rows], dtype=np.intp)


def mine_output(world: World, reference) -> dict[tuple[str, str], float]:
    """Concentrate output (kt/yr) of each (region, concentrate) node's mines at the reference solution."""
    params = StorageParams.of(world)
    lay = _ItemLayout.kept(world, params is not None and params.producer_cover_years > 0)
    return _mined(lay, floats(world.io["coef"]), reference.activity)


def _mined(lay: _ItemLayout, coef: np.ndarray, activity) -> dict[tuple[str, str], float]:
    """:func:`mine_output` from a world's item layout, io coefficients ``coef`` and ``activity`` (a
    solution's, by process)."""
    kt = coef[lay.mine_rows] * np.asarray(activity, dtype=float)[lay.mine_proc]
    return _sums((lay.mine_region, lay.mine_commodity), kt)


@dataclass(frozen=True)
class _ItemLayout:
    """What a world's labels decide of its stock items (:meth:`Items.of`): the items, the demand
    rows' nodes, the release and carry-out positions, the mines' output rows and the processes'
    input rows. Made once per process for worlds with the same labels
    (:func:`reesim.world.labels.shared`): read, never changed."""

    keys: tuple[tuple[str, str], ...]
    final: np.ndarray  # demand rows of final users
    node: pd.MultiIndex  # (region, commodity) of every demand row
    node_keys: tuple[tuple[str, str], ...]  # the nodes in the order a group-by by node gives them
    release_pos: dict[tuple[str, str], int]  # item -> position of its release process (-1: none)
    demand_pos: dict[tuple[str, str], int]  # item -> position of its carry-out demand (-1: none)
    mine_region: np.ndarray
    mine_commodity: np.ndarray
    mine_proc: np.ndarray
    mine_rows: np.ndarray
    use_rows: np.ndarray  # io rows of inputs (coefficient < 0)
    use_proc: np.ndarray
    use_region: np.ndarray
    use_commodity: np.ndarray

    @classmethod
    def kept(cls, world: World, producers: bool) -> _ItemLayout:
        """The layout of ``world``'s items, made once per process for its labels."""
        from reesim.world.labels import shared

        return shared(world, f"storage-items:{producers}", lambda: cls.of(world, producers))

    @classmethod
    def of(cls, world: World, producers: bool) -> _ItemLayout:
        """The layout of ``world``'s items (``producers``: whether mines hold stocks)."""
        from reesim.world.labels import frozen

        p, io, d = world.processes, world.io, world.demands
        final = ~d["sector"].isin(NOT_FINAL).to_numpy()
        mines = _mine_rows(world)
        mine_region, mine_commodity, mine_proc, mine_rows = mines
        keys = _item_keys(world, final, producers, mines)
        node = pd.MultiIndex.from_frame(d[["region", "commodity"]])
        zero = pd.DataFrame({"q": np.zeros(len(d))}, index=node).groupby(level=[0, 1]).sum()
        pids = pd.Index(p["process"])
        dids = pd.Index(d["demand"])
        use_rows = np.flatnonzero(floats(io["coef"]) < 0)
        use_proc = pids.get_indexer(io["process"].to_numpy()[use_rows])
        lay = cls(
            keys=tuple(keys),
            final=final,
            node=node,
            node_keys=tuple(zero.index.tolist()),
            release_pos=dict(
                zip(keys, pids.get_indexer([release_id(r, c) for r, c in keys]).tolist(), strict=True)
            ),
            demand_pos=dict(
                zip(keys, dids.get_indexer([demand_id(r, c) for r, c in keys]).tolist(), strict=True)
            ),
            mine_region=mine_region,
            mine_commodity=mine_commodity,
            mine_proc=mine_proc,
            mine_rows=mine_rows,
            use_rows=use_rows,
            use_proc=use_proc,
            use_region=p["region"].to_numpy()[use_proc],
            use_commodity=io["commodity"].to_numpy()[use_rows],
        )
        frozen(lay.final, mine_region, mine_commodity, mine_proc, mine_rows, use_rows, use_proc)
        frozen(lay.use_region, lay.use_commodity)
        return lay


def structure(world: World) -> dict[str, pd.DataFrame]:
    """Processes, io rows and demands of the private stock items (inactive until set per step).

    Made once per world (:func:`reesim.memo.memo_of`): an ensemble member's scenario and its
    counterfactual start from the same base world, and each asked for it (about 5 ms a member).
    The caller gets copies.
    """
    memo = memo_of(world)
    if "private_stock_structure" not in memo:
        keys = item_keys(world) if StorageParams.of(world) else []
        procs = [(release_id(r, c), r, KIND, 0.0, 0.0, 0.0) for r, c in keys]
        io = [(release_id(r, c), c, 1.0) for r, c in keys]
        dems = [(demand_id(r, c), SECTOR, r, c, 1.0, 1e-6, 0.0) for r, c in keys]
        memo["private_stock_structure"] = structure_frames(procs, io, dems)
    return {k: private_copy(v) for k, v in memo["private_stock_structure"].items()}


def _intermediate_use(lay: _ItemLayout, coef: np.ndarray, activity) -> dict[tuple[str, str], float]:
    """Inputs (kt/yr) of each (region, commodity) into the region's processes at ``activity`` (a
    solution's, by process; ``coef``: the world's io coefficients)."""
    act = np.asarray(activity, dtype=float)[lay.use_proc]
    amount = -coef[lay.use_rows] * act
    return _sums((lay.use_region, lay.use_commodity), amount)


def _shipments(reference) -> dict[tuple[str, str, str], float]:
    """Flows (kt/yr) by (origin, commodity, destination) at the reference solution, in key order."""
    return dict(sorted(reference.shipments.items()))


def _sums(columns: tuple[np.ndarray, ...], values: np.ndarray) -> dict[tuple, float]:
    """Sum of ``values`` per distinct tuple of ``columns``, in sorted key order (as a pandas groupby
    gives it, without building its index: a groupby on string columns and ``to_dict`` cost about
    10 ms per call here, twice per run). Values are added in row order, where pandas uses a
    compensated sum: a key summed over three or more rows may differ in the last bit."""
    out: dict[tuple, float] = {}
    for key, v in zip(
        zip(*(c.tolist() for c in columns), strict=True), np.asarray(values, float).tolist(), strict=True
    ):
        out[key] = out.get(key, 0.0) + v
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Items:
    """The stock items of a world with their reference consumption and elasticity."""

    region: np.ndarray
    commodity: np.ndarray
    consumption: np.ndarray  # C, kt/yr used (users) or mined (producers) at the reference
    exports: np.ndarray  # X, kt/yr the region ships abroad at the reference (users; 0 for producers)
    shipments: dict  # (region, commodity, destination) -> kt/yr at the reference
    elasticity: np.ndarray  # eps at the reference point (1 for producers)
    proc_pos: np.ndarray  # positions of the release processes in world.processes
    dem_pos: np.ndarray  # positions of the carry-out demands in world.demands
    params: StorageParams
    cover: np.ndarray  # normal stock, years of C
    workoff: np.ndarray  # H, years
    producer: np.ndarray  # True for a mine's stock of its concentrate
    outlet: np.ndarray  # the region a producer item mainly sells to (users: their own)
    adjust: np.ndarray  # T, years over which holders close the gap to normal
    baskets: Baskets | None  # the producers' netbacks (expected prices); None without producers
    #: (node index, each item's node position or -1): :meth:`_prices` of a solution, made once a run
    _node_pos: tuple | None = field(default=None, init=False, compare=False, repr=False)

    @classmethod
    def of(cls, world: World, reference) -> Items | None:
        """Items of ``world`` (with its storage structure) measured on the reference solution."""
        params = StorageParams.of(world)
        if params is None:
            return None
        lay = _ItemLayout.kept(world, params.producer_cover_years > 0)
        d = world.demands
        final = lay.final
        q = np.asarray(reference.quantities, dtype=float)
        slope = d["slope"].astype(float).to_numpy()
        # Sum over a node's demands of q and of dq/dp = 1/b: eps = p sum(1/b) / sum(q).
        frame = pd.DataFrame(
            {"q": np.where(final, q, 0.0), "inv_b": np.where(final, 1.0 / slope, 0.0)}, index=lay.node
        )
        agg = frame.groupby(level=[0, 1]).sum()
        if len(agg) != len(lay.node_keys):
            raise AssertionError("storage items: the demand nodes differ from their layout's")
        price = reference.price_map
        coef = floats(world.io["coef"])
        use = _intermediate_use(lay, coef, reference.activity)
        q_of = dict(zip(lay.node_keys, agg["q"].to_numpy(), strict=True))  # dict lookups, not .loc per item
        inv_b_of = dict(zip(lay.node_keys, agg["inv_b"].to_numpy(), strict=True))
        mined = _mined(lay, coef, reference.activity) if params.producer_cover_years > 0 else {}
        keys = lay.keys
        users = [k for k in keys if q_of.get(k, 0.0) > 1e-9]
        taken = set(users)
        makers = [k for k in keys if k not in taken and mined.get(k, 0.0) > 1e-9]
        final_q = np.array([q_of[k] for k in users])
        C_users = final_q + np.array([use.get(k, 0.0) for k in users])
        shipped = _shipments(reference)
        total: dict[tuple[str, str], float] = {}
        for (o, c, _), f in shipped.items():  # X: a region's exports of a good, all destinations
            total[(o, c)] = total.get((o, c), 0.0) + f
        X_users = np.array([total.get(k, 0.0) for k in users])
        eps = np.array([price.get((c, r), 0.0) * inv_b_of[(r, c)] for r, c in users]) / final_q
        keys = users + makers
        n_u, n_m = len(users), len(makers)
        region = np.array([r for r, _ in keys], dtype=object)
        frozen(region)  # grouped once by reesim.simulate.record.sum_by
        return cls(
            region,
            np.array([c for _, c in keys], dtype=object),
            np.concatenate([C_users, [mined[k] for k in makers]]),
            np.concatenate([X_users, np.zeros(n_m)]),
            shipped,
            np.concatenate([np.maximum(eps, 1e-3), np.ones(n_m)]),
            np.array([lay.release_pos[k] for k in keys], dtype=np.intp),
            np.array([lay.demand_pos[k] for k in keys], dtype=np.intp),
            params,
            np.concatenate([np.full(n_u, params.cover_years), np.full(n_m, params.producer_cover_years)]),
            np.concatenate([np.full(n_u, params.workoff_years), np.full(n_m, params.producer_workoff_years)]),
            np.concatenate([np.zeros(n_u, dtype=bool), np.ones(n_m, dtype=bool)]),
            np.array([r for r, _ in users] + _outlets(reference, makers, use), dtype=object),
            np.concatenate(
                [np.full(n_u, params.adjustment_years), np.full(n_m, params.producer_workoff_years)]
            ),
            Baskets.of(world, makers, n_u, price) if makers else None,
        )

    def __len__(self) -> int:
        return len(self.region)

    def _scale(self) -> np.ndarray:
        """eps C H (kt): the stock above normal that would halve the expected price."""
        return self.elasticity * self.consumption * self.workoff

    def _prices(self, prices) -> np.ndarray:
        """The price (USD/kg) at each item's node (0 where the world has none): from a price map by
        (commodity, region), or a solution's node prices (:attr:`Solution.node_prices`, the price
        map's values) gathered by position, without a dict lookup per item twice a step."""
        if not hasattr(prices, "node_prices"):  # a price map, or a solution's stand-in that has one
            price_map = prices if isinstance(prices, dict) else prices.price_map
            return np.array(
                [price_map.get((c, r), 0.0) for r, c in zip(self.region, self.commodity, strict=True)]
            )
        index = prices.qp.node_index
        if self._node_pos is None or self._node_pos[0] is not index:
            keys = [(c, r) for r, c in zip(self.region, self.commodity, strict=True)]
            # a cache: the items are unchanged
            object.__setattr__(self, "_node_pos", (index, key_positions(index, keys)))
        return prices_at(prices.node_prices, self._node_pos[1])

    def initial(self, reference) -> PrivateStocks:
        """Normal stocks, reference prices and no expected deviation from the counterfactual."""
        price = self._prices(reference.price_map)
        return PrivateStocks(
            stock=self.cover * self.consumption,
            expected=price,
            level=price.copy(),
            deviation=np.ones(len(self)),
            price=price.copy(),
        )

    def holding_gains(self, stocks: PrivateStocks, prices) -> np.ndarray:
        """Each holder's gain on its opening stock over the step (million USD): ``(p_t - p_{t-1}) S_0``.

        ``p_{t-1}`` is the price at the item's node in the step before (the reference price in the
        first step), ``p_t`` the step's (kt x USD/kg = million USD), from ``prices``: a price map
        or the step's solution (:meth:`_prices`). A price the step leaves undefined (NaN) counts
        as unchanged.
        """
        p = self._prices(prices)
        moved = np.where(np.isfinite(p), p - stocks.price, 0.0)
        return moved * stocks.stock

    def risk(
        self, restricted: set[tuple[str, str]], routes: set[tuple[str, str, str]] = frozenset()
    ) -> np.ndarray:
        """True where a licence, quota or ban in force restricts the region's supply of the good
        (users: a (commodity, region) pair of ``restricted``), or the mine's own exports of its
        concentrate to its main buyer (producers: a (commodity, region, buyer) route of
        ``routes``; never when the mine sells to its own region)."""
        users = np.array(
            [(c, r) in restricted for r, c in zip(self.region, self.commodity, strict=True)], dtype=bool
        )
        if not self.producer.any():
            return users
        cut = np.array(
            [
                d != r and (c, r, d) in routes
                for r, c, d in zip(self.region, self.commodity, self.outlet, strict=True)
            ],
            dtype=bool,
        )
        return np.where(self.producer, cut, users)

    def awaiting(self, routes: set[tuple[str, str, str]]) -> np.ndarray:
        """The share of each holder's reference use it exports under a licence in force.

        ``routes`` are the (commodity, origin, destination) routes a licence in force holds to
        its approvals (:func:`reesim.instruments.trade.step_policies`, ``licensed_origins``).
        An origin's share is ``X / C``: its reference exports on those routes (to the licensed
        destinations only) over its reference use, capped at 1; for every other item, and for
        producers, 0. The share does not depend on the approval share: like a buyer's
        precaution, the holding lasts while the licence is in force (the flagship's magnet
        licence, approving everything but 73 % of the U.S.'s flows, keeps China's magnet target
        at 1.43 times normal to 2040). Exporters waiting for
        approvals hold the goods they cannot yet ship instead of selling them at home: in the
        2025 licensing, China's magnet makers' inventory "piled up in domestic warehouses as
        producers waited on export licenses" while they cut output about 15 % in April-May
        (the Baotou Rare Earth Products Exchange and industry sources in a Reuters analysis of
        July 2025; ``exporter_stock_share`` in ``default_world.yaml``).
        """
        if not routes:
            return np.zeros(len(self))
        held: dict[tuple[str, str], float] = {}
        for c, o, d in sorted(routes):  # a fixed order: a set's varies with the process's hash seed
            held[(o, c)] = held.get((o, c), 0.0) + self.shipments.get((o, c, d), 0.0)
        x = np.array([held.get((r, c), 0.0) for r, c in zip(self.region, self.commodity, strict=True)])
        share = np.divide(x, self.consumption, out=np.zeros(len(self)), where=self.consumption > 0)
        return np.where(self.producer, 0.0, np.minimum(share, 1.0))

    def targets(self, risk: np.ndarray, awaiting: np.ndarray | None = None) -> np.ndarray:
        """Normal working stock S* (kt), raised by the precautionary multiplier under supply risk.

        A buyer whose supply a licence, quota or ban restricts (``risk``) multiplies its whole
        normal stock by the precaution; an exporter whose shipments await a licence's approvals
        does the same on the part of it that matches its exports (``awaiting``, the share of its
        use it exports, :meth:`awaiting`), to the degree ``exporter_share`` (the world's
        ``exporter_stock_share``): ``S* = cover C (1 + (precaution - 1) share exporter_share)``.
        """
        base = self.cover * self.consumption
        bought = np.where(risk & ~self.producer, base * self.params.precaution, base)
        if awaiting is None or not self.params.exporter_share:
            return bought
        return bought + base * awaiting * (self.params.precaution - 1.0) * self.params.exporter_share

    def step_targets(
        self, stocks: PrivateStocks, risk: np.ndarray, dt: float, awaiting: np.ndarray | None = None
    ) -> np.ndarray:
        """The stock the holders aim at in a step of ``dt`` years (partial adjustment, Lovell 1961).

        ``S0 + (1 - exp(-dt / T)) (S* - S0)``: holders close the gap to the normal stock over
        the adjustment time ``T`` (a flexible accelerator), so a rebuild after a shock takes
        months instead of one step. For producers ``T`` is their work-off time: a mine sells the
        stock it built against a barrier over about two years once the barrier lifts, instead of
        dumping it in one step.
        """
        alpha = 1.0 - np.exp(-dt / self.adjust)
        return stocks.stock + alpha * (self.targets(risk, awaiting) - stocks.stock)

    def settings(
        self, stocks: PrivateStocks, risk: np.ndarray, dt: float, awaiting: np.ndarray | None = None
    ) -> tuple[np.ndarray, ...]:
        """Release capacity (kt/yr) and carry-out demand (intercept, slope, most carried out in
        kt/yr) of each item for a step.

        A producer that still reaches its main buyer carries out the stock it aims at, whatever
        the price (its carry-out demand is capped there, with an intercept of ``PINNED`` times the
        expected price): miners sell their output on contracts and do not speculate on a lagged
        expectation, which in yearly steps would have them buy their own output in every falling
        market and sell their working stock in every rising one. One cut off from it stores on
        the storage rule."""
        scale = self._scale()
        pe = np.maximum(stocks.expected, 1e-9)
        slope = pe * dt / scale
        target = self.step_targets(stocks, risk, dt, awaiting)
        intercept = pe * (1.0 + target / scale)
        pinned = self.producer & ~risk
        intercept = np.where(pinned, np.maximum(intercept, PINNED * pe), intercept)
        most = np.where(pinned, np.maximum(target, 0.0) / dt, np.inf)
        return stocks.stock / dt, intercept, slope, most

    def carry_value(
        self,
        stocks: PrivateStocks,
        risk: np.ndarray,
        carry_out: np.ndarray,
        dt: float,
        awaiting: np.ndarray | None = None,
    ) -> np.ndarray:
        """v(S1), USD/kg: the value of a unit carried out at ``carry_out`` (kt) stock."""
        target = self.step_targets(stocks, risk, dt, awaiting)
        return stocks.expected * (1.0 - (carry_out - target) / self._scale())

    def update(self, stocks: PrivateStocks, sol, dt: float, cf_price: dict | None = None) -> PrivateStocks:
        """Closing stocks (kt) and the expectations after a solved step.

        Users' expectations have two parts (producers expect their netback, :class:`Baskets`):

        - *Their own*: the lower of the price just cleared and an adaptive level
          ``A <- A + lambda (p - A)``, ``lambda = 1 - exp(-dt / tau)`` (Nerlove 1958). A rise is
          taken as partly temporary until it has lasted about ``tau``, so holders release stock
          into a spike and do not chase it (expecting the last price, they bid a licence's spike
          up step after step while they rebuild: Dy at 56,000 USD/kg in Japan within a year). A
          fall is taken as it is reported (expecting the old, higher level, holders bought
          China's Nd all through 2023-24's fall and sold it into 2025, against the record).
        - *The policy's effect*, in a run against a counterfactual (``cf_price``): the ratio
          ``d`` of the run's price to the counterfactual's, expected adaptively,
          ``d <- d + lambda (p / p_cf - d)`` (the ratio clipped to ``RATIO_BOUNDS``). At the
          next step's opening :meth:`open` sets the expected price to the counterfactual's own
          expected price times ``d``: holders see through the path the market takes without
          the policy, and a run whose policies equal its counterfactual's repeats it exactly.
        """
        q = np.asarray(sol.quantities, dtype=float)[self.dem_pos]
        p = self._prices(sol)
        lam = 1.0 - math.exp(-dt / self.params.expectation_years)
        level = np.where(np.isfinite(p), stocks.level + lam * (p - stocks.level), stocks.level)
        deviation = stocks.deviation
        if cf_price is not None:
            base = self._prices(cf_price)
            ok = (base > 0) & np.isfinite(p)
            ratio = np.clip(np.where(ok, p / np.where(ok, base, 1.0), 1.0), *RATIO_BOUNDS)
            deviation = deviation + lam * (ratio - deviation)
        expected = np.minimum(p, level)
        if self.baskets is not None:
            expected = self.baskets.expected(expected, sol.price_map)
        return PrivateStocks(
            stock=np.maximum(q * dt, 0.0),
            expected=expected,
            level=level,
            deviation=deviation,
            price=np.where(np.isfinite(p), p, stocks.price),
        )

    def open(self, stocks: PrivateStocks, cf_expected: dict | None) -> PrivateStocks:
        """The step's opening expectations in a run against a counterfactual: each user's
        expected price is the counterfactual's expected price for the step (``cf_expected``,
        by (region, commodity)) times the expected ratio ``d`` (:meth:`update`). Items the
        counterfactual has no expectation for, producers, and runs without one are unchanged."""
        if not cf_expected:
            return stocks
        base = np.array(
            [cf_expected.get((r, c), 0.0) for r, c in zip(self.region, self.commodity, strict=True)]
        )
        use = ~self.producer & (base > 0)
        if not use.any():
            return stocks
        return replace(stocks, expected=np.where(use, base * stocks.deviation, stocks.expected))

    def columns(self, period: str, year: int, stocks: PrivateStocks) -> dict[str, list]:
        """Opening stocks of a step for the result's ``stocks`` table (tonnes), as columns
        (:meth:`reesim.simulate.record.Recorder.add_columns`)."""
        n = len(self.region)
        return {
            "period": [period] * n,
            "year": [year] * n,
            "holder": list(self.region),
            "commodity": list(self.commodity),
            "kind": ["private"] * n,
            "tonnes": (np.asarray(stocks.stock, dtype=float) * 1000.0).tolist(),
            "expected_usd_per_kg": np.asarray(stocks.expected, dtype=float).tolist(),
        }


def _outlets(reference, makers: list[tuple[str, str]], used: dict[tuple[str, str], float]) -> list[str]:
    """The region that buys most of each (region, concentrate) at the reference: the largest
    export destination, or the region itself when its own plants use more than that (``used``:
    :func:`_intermediate_use` at the reference)."""
    if not makers:
        return []
    top: dict[tuple[str, str], tuple[str, float]] = {}  # (origin, good) -> its largest destination
    for (o, c, d), f in reference.shipments.items():
        if o != d and f > top.get((o, c), ("", -1.0))[1]:
            top[(o, c)] = (d, f)
    local = reference.consumption_map
    result = []
    for r, c in makers:
        dest, flow = top.get((r, c), (r, 0.0))
        result.append(str(dest) if flow > max(local.get((c, r), 0.0), used.get((r, c), 0.0)) else r)
    return result


@dataclass(frozen=True)
class PrivateStocks:
    """Private stocks (kt), expected next-step prices and their adaptive level (USD/kg), and the
    expected ratio of the run's price to the counterfactual's (1 without one) by item."""

    stock: np.ndarray
    expected: np.ndarray  # the price the holders expect for the next step (used in this one)
    level: np.ndarray  # adaptive level of the price (Nerlove)
    deviation: np.ndarray  # expected ratio of the run's price to the counterfactual's (1 without one)
    price: np.ndarray  # the price at each item's node when the stock was carried out (USD/kg)


@dataclass(frozen=True)
class Baskets:
    """Each producer item's netback at China's separators: ``sum_k w_k p_k`` over the outputs
    (oxides, positive weights) and inputs other than the concentrate (the separation service,
    negative weights) of ``crack:CHN:<ore>``, per kg of concentrate, at China's prices."""

    rows: np.ndarray  # positions of the producer items among all items
    keys: tuple[tuple[str, str], ...]  # (commodity, "CHN")
    weights: np.ndarray  # (producers, keys)
    reference_price: np.ndarray  # the concentrate's reference price at the mine, USD/kg
    reference_value: np.ndarray  # the netback at reference prices, USD/kg

    @classmethod
    def of(cls, world: World, makers: list[tuple[str, str]], first: int, price: dict) -> Baskets:
        """Netbacks of the producer items ``first, first + 1, ...`` ((region, concentrate) in
        order), with reference prices from the reference solution's ``price`` map. A
        concentrate China does not crack gets no weights (it keeps the users' expectation)."""
        io = world.io
        pids = [f"crack:CHN:{c.split(':', 1)[1]}" for _, c in makers]
        crack = io[io["process"].isin(pids)]
        # each crack process's coefficients by commodity (a dense pivot; columns in name order)
        rows: dict[str, dict[str, float]] = {}
        for pid, c, v in zip(
            crack["process"].tolist(),
            crack["commodity"].tolist(),
            crack["coef"].astype(float).tolist(),
            strict=True,
        ):
            here = rows.setdefault(pid, {})
            here[c] = here.get(c, 0.0) + v
        cols = sorted({c for here in rows.values() for c in here})
        at = {c: j for j, c in enumerate(cols)}
        coef = np.zeros((len(pids), len(cols)))
        for i, pid in enumerate(pids):
            for c, v in rows.get(pid, {}).items():
                coef[i, at[c]] = v
        own = np.array([rows.get(pid, {}).get(c, 0.0) for pid, (_, c) in zip(pids, makers, strict=True)])
        for i, (_, c) in enumerate(makers):
            if c in at:
                coef[i, at[c]] = 0.0  # the concentrate itself is not part of its netback
        ok = own < 0
        weights = np.where(ok[:, None], coef / np.where(ok, -own, 1.0)[:, None], 0.0)
        keys = tuple((c, "CHN") for c in cols)
        value = weights @ np.array([price.get(k, 0.0) for k in keys])
        at_mine = np.array([price.get((c, r), 0.0) for r, c in makers])
        return cls(np.arange(first, first + len(makers)), keys, weights, at_mine, value)

    def expected(self, expected: np.ndarray, price_map: dict) -> np.ndarray:
        """``expected`` with each producer item's entry set to the netback at ``price_map`` less
        the reference spread (never below zero); items without a netback keep theirs."""
        value = self.weights @ np.array([price_map.get(k, 0.0) for k in self.keys])
        ok = self.weights.any(axis=1) & (self.reference_price > 0)
        out = expected.copy()
        implied = np.maximum(0.0, self.reference_price + value - self.reference_value)
        out[self.rows] = np.where(ok, implied, out[self.rows])
        return out
