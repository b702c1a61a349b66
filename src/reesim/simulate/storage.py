"""Private stocks: competitive storage by the holders in every consuming region.

Every region that consumes a good holds working stocks of it (users' and traders'
inventories; strategic stockpiles are instruments, :mod:`reesim.instruments.stockpile`).
The holders follow the competitive-storage rule (Williams & Wright 1991, *Storage and
Commodity Markets*, ch. 3; Deaton & Laroque 1992, *Review of Economic Studies* 59(1)):
carry stock ``S1 >= 0`` out of a step while the price today is no higher than the value of
a unit carried,

    p_t >= v(S1),  S1 >= 0,  (p_t - v(S1)) S1 = 0,

    v(S1) = p_e (1 - (S1 - S*) / (eps C H)),

where ``p_e`` is the price expected for the next step, ``S*`` the stock aimed at in the step
(the holders close a share ``1 - exp(-dt / T)`` of the gap to the normal stock per step,
Lovell 1961), (adaptive expectations, Nerlove
1958: ``p_e <- p_e + lambda (p - p_e)``, ``lambda = 1 - exp(-dt / tau)``), ``S*`` the
normal working stock (``cover`` years of the region's reference use ``C``, final demand
plus its plants' inputs,
times the precautionary multiplier while a licence, quota or ban restricts the region's
supply of the good), ``eps`` the price elasticity of the region's demand at the reference
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

Stock movements are not consumption or production: the result shows them in the
``stocks`` table (``kind = private``) and leaves them out of consumer and producer surplus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reesim.world.world import PRIVATE_STOCK_SECTOR, STOCK_KIND, World, structure_frames

SECTOR, KIND = PRIVATE_STOCK_SECTOR, STOCK_KIND
#: sectors whose purchases are not final consumption
NOT_FINAL = ("stockpile", "offtake", SECTOR)


@dataclass(frozen=True)
class StorageParams:
    """Parameters of private storage (from the world's assumptions)."""

    cover_years: float  # normal working stock, years of reference consumption
    precaution: float  # multiplier of the normal stock while the region's supply is restricted
    workoff_years: float  # H: years over which stock above normal is worked off
    expectation_years: float  # tau: adaptation time of expected prices
    adjustment_years: float  # time over which holders close the gap to the normal stock

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
        )


def release_id(region: str, commodity: str) -> str:
    """Id of the release process of a stock item."""
    return f"private-stock-release:{region}:{commodity}"


def demand_id(region: str, commodity: str) -> str:
    """Id of the carry-out demand of a stock item."""
    return f"private-stock:{region}:{commodity}"


def item_keys(world: World) -> list[tuple[str, str]]:
    """(region, commodity) of every stock item: each node with final demand."""
    d = world.demands
    final = d[~d["sector"].isin(NOT_FINAL)]
    return sorted(set(zip(final["region"], final["commodity"], strict=True)))


def structure(world: World) -> dict[str, pd.DataFrame]:
    """Processes, io rows and demands of the private stock items (inactive until set per step)."""
    keys = item_keys(world) if StorageParams.of(world) else []
    procs = [(release_id(r, c), r, KIND, 0.0, 0.0, 0.0) for r, c in keys]
    io = [(release_id(r, c), c, 1.0) for r, c in keys]
    dems = [(demand_id(r, c), SECTOR, r, c, 1.0, 1e-6, 0.0) for r, c in keys]
    return structure_frames(procs, io, dems)


def _intermediate_use(world: World, reference) -> dict[tuple[str, str], float]:
    """Inputs (kt/yr) of each (region, commodity) into the region's processes at the reference."""
    p, io = world.processes, world.io
    inputs = io[io["coef"] < 0]
    pos = pd.Index(p["process"]).get_indexer(inputs["process"])
    act = np.asarray(reference.activity, dtype=float)[pos]
    region = p["region"].to_numpy()[pos]
    amount = -inputs["coef"].to_numpy(dtype=float) * act
    frame = pd.DataFrame({"region": region, "commodity": inputs["commodity"].to_numpy(), "kt": amount})
    return frame.groupby(["region", "commodity"])["kt"].sum().to_dict()


@dataclass(frozen=True)
class Items:
    """The stock items of a world with their reference consumption and elasticity."""

    region: np.ndarray
    commodity: np.ndarray
    consumption: np.ndarray  # C, kt/yr used at the reference (final demand + the region's processes)
    elasticity: np.ndarray  # eps at the reference point
    proc_pos: np.ndarray  # positions of the release processes in world.processes
    dem_pos: np.ndarray  # positions of the carry-out demands in world.demands
    params: StorageParams

    @classmethod
    def of(cls, world: World, reference) -> Items | None:
        """Items of ``world`` (with its storage structure) measured on the reference solution."""
        params = StorageParams.of(world)
        if params is None:
            return None
        keys = item_keys(world)
        d = world.demands
        final = ~d["sector"].isin(NOT_FINAL).to_numpy()
        q = np.asarray(reference.quantities, dtype=float)
        slope = d["slope"].astype(float).to_numpy()
        node = pd.MultiIndex.from_frame(d[["region", "commodity"]])
        # Sum over a node's demands of q and of dq/dp = 1/b: eps = p sum(1/b) / sum(q).
        frame = pd.DataFrame(
            {"q": np.where(final, q, 0.0), "inv_b": np.where(final, 1.0 / slope, 0.0)}, index=node
        )
        agg = frame.groupby(level=[0, 1]).sum()
        price = reference.price_map
        use = _intermediate_use(world, reference)
        q_of = dict(zip(agg.index, agg["q"].to_numpy(), strict=True))  # dict lookups, not .loc per item
        inv_b_of = dict(zip(agg.index, agg["inv_b"].to_numpy(), strict=True))
        keys = [k for k in keys if q_of.get(k, 0.0) > 1e-9]
        final_q = np.array([q_of[k] for k in keys])
        C = final_q + np.array([use.get(k, 0.0) for k in keys])
        eps = np.array([price.get((c, r), 0.0) * inv_b_of[(r, c)] for r, c in keys]) / final_q
        pids = pd.Index(world.processes["process"])
        dids = pd.Index(d["demand"])
        return cls(
            np.array([r for r, _ in keys], dtype=object),
            np.array([c for _, c in keys], dtype=object),
            C,
            np.maximum(eps, 1e-3),
            pids.get_indexer([release_id(r, c) for r, c in keys]),
            dids.get_indexer([demand_id(r, c) for r, c in keys]),
            params,
        )

    def __len__(self) -> int:
        return len(self.region)

    def _scale(self) -> np.ndarray:
        """eps C H (kt): the stock above normal that would halve the expected price."""
        return self.elasticity * self.consumption * self.params.workoff_years

    def _prices(self, price_map: dict) -> np.ndarray:
        """The price (USD/kg) at each item's node in a solution's price map."""
        return np.array(
            [price_map.get((c, r), 0.0) for r, c in zip(self.region, self.commodity, strict=True)]
        )

    def initial(self, reference) -> PrivateStocks:
        """Normal stocks and reference prices as the opening state."""
        return PrivateStocks(
            stock=self.params.cover_years * self.consumption, expected=self._prices(reference.price_map)
        )

    def risk(self, restricted: set[tuple[str, str]]) -> np.ndarray:
        """True where a licence, quota or ban in force restricts the region's supply of the good."""
        return np.array(
            [(c, r) in restricted for r, c in zip(self.region, self.commodity, strict=True)], dtype=bool
        )

    def targets(self, risk: np.ndarray) -> np.ndarray:
        """Normal working stock S* (kt), raised by the precautionary multiplier under supply risk."""
        base = self.params.cover_years * self.consumption
        return np.where(risk, base * self.params.precaution, base)

    def step_targets(self, stocks: PrivateStocks, risk: np.ndarray, dt: float) -> np.ndarray:
        """The stock the holders aim at in a step of ``dt`` years (partial adjustment, Lovell 1961).

        ``S0 + (1 - exp(-dt / T)) (S* - S0)``: holders close the gap to the normal stock over
        the adjustment time ``T`` (a flexible accelerator), so a rebuild after a shock takes
        months instead of one step.
        """
        alpha = 1.0 - math.exp(-dt / self.params.adjustment_years)
        return stocks.stock + alpha * (self.targets(risk) - stocks.stock)

    def settings(self, stocks: PrivateStocks, risk: np.ndarray, dt: float) -> tuple[np.ndarray, ...]:
        """Release capacity (kt/yr) and carry-out demand (intercept, slope) of each item for a step."""
        scale = self._scale()
        pe = np.maximum(stocks.expected, 1e-9)
        slope = pe * dt / scale
        intercept = pe * (1.0 + self.step_targets(stocks, risk, dt) / scale)
        return stocks.stock / dt, intercept, slope

    def carry_value(
        self, stocks: PrivateStocks, risk: np.ndarray, carry_out: np.ndarray, dt: float
    ) -> np.ndarray:
        """v(S1), USD/kg: the value of a unit carried out at ``carry_out`` (kt) stock."""
        return stocks.expected * (1.0 - (carry_out - self.step_targets(stocks, risk, dt)) / self._scale())

    def update(self, stocks: PrivateStocks, sol, dt: float) -> PrivateStocks:
        """Closing stocks (kt) and the expected prices after a solved step."""
        q = np.asarray(sol.quantities, dtype=float)[self.dem_pos]
        p = self._prices(sol.price_map)
        lam = 1.0 - math.exp(-dt / self.params.expectation_years)
        return PrivateStocks(
            stock=np.maximum(q * dt, 0.0), expected=stocks.expected + lam * (p - stocks.expected)
        )

    def rows(self, period: str, year: int, stocks: PrivateStocks) -> list[dict]:
        """Opening stocks of a step for the result's ``stocks`` table (tonnes)."""
        return [
            {
                "period": period,
                "year": year,
                "holder": r,
                "commodity": c,
                "kind": "private",
                "tonnes": s * 1000.0,
            }
            for r, c, s in zip(self.region, self.commodity, stocks.stock, strict=True)
        ]


@dataclass(frozen=True)
class PrivateStocks:
    """Private stocks (kt) and expected next-step prices (USD/kg) by item."""

    stock: np.ndarray
    expected: np.ndarray
