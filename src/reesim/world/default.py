"""The default world: 16 regions x 11 elements x 7 ore types, calibrated to a reference year.

Everything comes from the embedded dataset or from an assumption declared in
``default_world.yaml``; each calibrated parameter is recorded in ``World.provenance`` with
its data row (table, key and source id) or its assumption (value, range, basis).

Calibration (standard for partial-equilibrium models: curves through an observed point
with an elasticity, e.g. Francois & Hall 1997 for GSIM-type models):

* oxide reference prices: USGS MCS annual average FOB China prices of the reference year;
* ore basket value ``v_o = sum_e alpha_oe p_e`` with ``alpha`` the USGS deposit compositions;
  separation earns a service price ``s`` (a share of the world-average basket) and the
  concentrate of ore ``o`` is worth ``v_o - s``;
* mining: USGS mine production by country in the reference year, assigned to ores; marginal
  cost passes through (production, concentrate value) with the supply elasticity;
  capacity = production x (1 + headroom), China's = its mining quota;
* separation: capacity outside China from company and USGS rows, China separates the rest;
* magnets: a share of the world NdPr supply goes into NdFeB magnets (the IEA magnet-REE
  demand is kept as a cross-check), turned into magnet mass with the recipe and shared
  among makers (China's share from IEA, the rest by assumption);
* demand: linear, through (reference price, reference quantity) with an elasticity:
  ``slope = p / (eps q)``, ``intercept = p (1 + 1/eps)``; oxide demand outside magnets is
  the supply of each element left after magnet use (no stock change).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from reesim.data import default_dataset
from reesim.data.dataset import Dataset
from reesim.errors import InputError
from reesim.memo import memo_of
from reesim.world.default_data import (
    _check_valid,
    _compositions,
    _linear_cost,
    _linear_demand,
    _mining,
    _prices,
    _Recorder,
)
from reesim.world.default_magnets import HEAVY_DOSE, _stage_magnets
from reesim.world.default_supply import (
    _anchors,
    _basket_weights,
    _heavy_share,
    _stage_mining,
    _stage_separation,
)
from reesim.world.default_trade import _magnet_exports, _stage_route_targets, _stage_routes, _stage_trade
from reesim.world.default_uses import _split_end_uses, _stage_end_uses
from reesim.world.world import HEAVY_DOSE_SERVICE as DOSE
from reesim.world.world import World

__all__ = ["_Recorder", "_prices", "build_default_world", "load_config", "load_default_world"]

CONFIG = "default_world.yaml"


def load_config() -> dict[str, Any]:
    """The default-world configuration (data selections and assumptions): a fresh copy each call."""
    return copy.deepcopy(_parsed_config())


@functools.lru_cache(maxsize=1)
def _parsed_config() -> dict[str, Any]:
    """The YAML parsed once per process, with libyaml's parser where PyYAML has it (the pure-Python
    parser took 90 ms of a 370 ms world build; the constructor is the same safe one)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = resources.files("reesim.world").joinpath(CONFIG).read_text(encoding="utf-8")
    return yaml.load(text, Loader=loader)  # a safe loader: no object construction


def load_default_world(
    year: int | None = None, ds: Dataset | None = None, assumptions: dict[str, float] | None = None
) -> World:
    """The default world (cached per reference year and assumption overrides; see :func:`build_default_world`)."""
    if ds is not None:
        return build_default_world(year, ds, assumptions)
    return _cached_world(year, tuple(sorted((assumptions or {}).items())))


@functools.lru_cache(maxsize=16)
def _cached_world(year: int | None, assumptions: tuple) -> World:
    """Build once per process; the world of the stated assumptions also once per cache folder.

    A build takes 0.1-0.2 s (the data's queries, the route calibration's solve), a fifth of a
    ``reesim run``; the world of the configuration's own assumptions (``assumptions`` empty), the
    one most commands use, is kept in the cache as verified JSON (:func:`_stored_world`).
    Worlds with overrides (a scenario's, an ensemble member's) are built in memory only: an
    ensemble would otherwise leave a file per member.
    """
    if not assumptions:
        return _stored_world(year)
    return build_default_world(year, None, dict(assumptions))


def _stored_world(year: int | None) -> World:
    """The default world of ``year`` from the cache folder, built and kept there if absent.

    The file is JSON (:mod:`reesim.world.stored`; nothing is un-pickled) with the SHA-256 of
    its content in a header and its key inside (:func:`reesim.cache.kept`: a file that does not
    verify, or holds another key's world, is rebuilt with a warning), under a key that hashes the
    reference year, the dataset, the source of every reesim module and the YAML configuration
    (:func:`reesim.cache.code_fingerprint`), the interpreter, the machine type, the numeric
    libraries and the builds the CPU selects (:func:`reesim.cache.runtime`), so that a changed builder, dataset or solver never
    meets an old world. At most eight worlds are kept (the least recently used removed).
    """
    from reesim import cache
    from reesim.world import stored

    year = _parsed_config()["default_reference_year"] if year is None else int(year)
    world, _ = cache.kept(
        "worlds",
        "world",
        cache.computed_key("default world", stored.FORMAT, year),
        lambda: build_default_world(year, None, {}),
        stored.encode,
        stored.decode,
        keep=8,
        max_bytes=50_000_000,
    )
    return world


def _config(assumptions: dict[str, float] | None) -> dict[str, Any]:
    """The configuration with scalar assumption overrides applied (checked and recorded as such)."""
    cfg = load_config()
    for key, value in (assumptions or {}).items():
        spec = cfg["assumptions"].get(key)
        if spec is None or not isinstance(spec.get("value"), int | float):
            scalars = [k for k, v in cfg["assumptions"].items() if isinstance(v.get("value"), int | float)]
            from reesim.errors import suggest

            raise InputError("world.assumptions: " + suggest(key, scalars, what="scalar assumption"))
        _check_valid(key, value, spec)
        lo, hi = spec.get("range", [None, None])
        spec["basis"] = (
            f"assumption (scenario override; default {spec['value']}): {spec.get('basis', '').removeprefix('assumption: ')}"
        )
        spec["value"] = float(value)
        if lo is not None and not lo <= value <= hi:
            spec["basis"] += f" (outside the documented range {lo}-{hi})"
    return cfg


@dataclass
class _Ctx:
    """What every stage reads: data selections, the reference point and the recorder."""

    ds: Dataset
    cfg: dict
    year: int
    rec: _Recorder
    k: dict[str, float]  # t oxide per t metal
    comp: pd.DataFrame  # ore x element shares of TREO
    mining: pd.Series  # kt REO by (region, ore)
    prices: dict[str, float]  # reference oxide prices, USD/kg
    regions: tuple[str, ...]

    @property
    def a(self) -> dict:
        return self.cfg["assumptions"]

    @functools.cached_property
    def heavy_shares(self) -> dict[str, float]:
        """Heavy-RE share of each ore's TREO (read ~120 times while building a world)."""
        heavy = self.comp[self.cfg["heavy_separation"]["elements"]].sum(axis=1)
        return {str(o): float(v) for o, v in heavy.items()}

    @property
    def elements(self) -> list[str]:
        return self.cfg["elements"]

    @property
    def metal_el(self) -> list[str]:
        return self.cfg["metal_elements"]

    @property
    def ores(self) -> list[str]:
        return list(self.cfg["ores"])

    @functools.cached_property
    def by_ore(self) -> pd.Series:
        """Mine production by ore (kt REO; read, never changed, by the stages)."""
        return self.mining.groupby(level=1).sum()

    @functools.cached_property
    def basket_weights(self) -> dict[str, float]:
        """kg of each oxide per kg REO of the world-average ore (mine production by ore x
        composition); stages read copies (:func:`reesim.world.default_supply._basket_weights`)."""
        by_ore = self.by_ore
        comp = self.comp[self.elements].reindex(by_ore.index).fillna(0.0)
        return {e: float(v) for e, v in (comp.mul(by_ore, axis=0).sum() / by_ore.sum()).items()}

    @functools.cached_property
    def supply(self) -> pd.Series:
        """Oxide supply by element (kt REO): compositions x mine production by ore."""
        return self.comp[self.elements].mul(self.by_ore.reindex(self.comp.index).fillna(0.0), axis=0).sum()

    def assume(self, key: str, unit: str = "-") -> float:
        spec = self.a[key]
        return self.rec.assume(key, spec["value"], unit, spec)


@dataclass
class _Parts:
    """Processes, io coefficients and demands as they are added, stage by stage."""

    eta: float
    procs: list = field(default_factory=list)
    io: list = field(default_factory=list)
    dems: list = field(default_factory=list)

    base_tranches: list = field(default_factory=list)

    def add(self, pid, region, kind, cap, price, qty, coefs) -> None:
        """A process whose marginal cost passes through (qty, price) with the supply elasticity."""
        c, d = _linear_cost(price, qty, self.eta) if qty > 0 else (price, 0.0)
        self.procs.append((pid, region, kind, cap, c, d))
        self.io.extend((pid, com, coef) for com, coef in coefs.items())

    def add_cash_cost(
        self, pid, region, kind, headroom, price, qty, coefs, cash: float, spread: float
    ) -> None:
        """An operation on a cash-cost curve: a base tranche and an expansion tranche.

        The base tranche is the reference output ``qty`` with marginal (cash) cost rising
        from ``(1 - spread) cash`` to ``cash`` across it: it runs at capacity while the price
        covers the cash cost and shuts in below it (the short-run supply of a mine or plant
        whose capital is sunk; Dixit & Pindyck 1994, ch. 7; Moore, Ross & Welch's cost
        curves for metal mines). The expansion tranche (``pid:expansion``) is the headroom
        above reference output, with marginal cost from the reference price up with the
        supply elasticity; it alone invests. At the reference price the two reproduce the
        reference output exactly.
        """
        if qty <= 0:
            self.add(pid, region, kind, qty * (1.0 + headroom), price, qty, coefs)
            return
        low = (1.0 - spread) * cash
        self.procs.append((pid, region, kind, qty, low, (cash - low) / qty))
        self.io.extend((pid, com, coef) for com, coef in coefs.items())
        self.base_tranches.append(pid)
        if headroom > 0:
            xid = f"{pid}:expansion"
            self.procs.append((xid, region, kind, qty * headroom, price, price / (self.eta * qty)))
            self.io.extend((xid, com, coef) for com, coef in coefs.items())


def _stage_reference(ds: Dataset, cfg: dict, year: int) -> _Ctx:
    """Stage 1, memoised per dataset object and year (:func:`reesim.memo.memo_of`).

    It reads only data and the configuration's data selections (no assumption), so worlds that
    differ only in assumptions (an ensemble's members) share it (:func:`_read_reference`).
    """
    memo = memo_of(ds)
    # the configuration's element lists, which the derived sums read, are part of the key (an
    # assumption override changes neither; the data selections are the configuration file's)
    key = ("world stage 1", year, tuple(cfg["elements"]), tuple(cfg["heavy_separation"]["elements"]))
    hit = memo.get(key)
    if hit is None:
        ctx = _read_reference(ds, cfg, year)
        memo[key] = (
            list(ctx.rec.rows),
            ctx.k,
            ctx.comp,
            ctx.mining,
            ctx.prices,
            ctx.regions,
            {name: copy.copy(getattr(ctx, name)) for name in _DATA_ONLY},
        )
        return ctx
    rows, k, comp, mining, prices, regions, derived = hit
    rec = _Recorder()
    rec.rows.extend(rows)
    ctx = _Ctx(ds, cfg, year, rec, dict(k), comp.copy(), mining.copy(), dict(prices), regions)
    ctx.__dict__.update({name: copy.copy(value) for name, value in derived.items()})  # cached properties
    return ctx


#: the context's cached properties made from stage 1's data alone (compositions and mine
#: production, and the configuration's element lists): kept with stage 1, not remade per build
_DATA_ONLY = ("heavy_shares", "by_ore", "basket_weights", "supply")


def _read_reference(ds: Dataset, cfg: dict, year: int) -> _Ctx:
    """Stage 1: compositions, mine production by ore, reference prices, stoichiometry."""
    rec = _Recorder()
    k = {e: float(v) for e, v in cfg["oxide_per_metal"].items()}
    for e, v in k.items():
        rec.assume(
            f"oxide_per_metal[{e}]",
            v,
            "t oxide/t metal",
            "DERIVED from IUPAC standard atomic weights (stoichiometry)",
        )
    comp, raw_pct = _compositions(ds, cfg, rec)
    mining = _mining(ds, cfg, year, rec)
    by_ore = mining.groupby(level=1).sum()
    member_supply = raw_pct.mul(by_ore.reindex(raw_pct.index).fillna(0.0), axis=0).sum()
    prices = _prices(ds, cfg, year, member_supply, rec)
    regions = tuple(ds.table("regions")["region"])
    return _Ctx(ds, cfg, year, rec, k, comp, mining, prices, regions)


def _stage_values(ctx: _Ctx) -> tuple[float, dict[str, float]]:
    """Stage 2: ore basket values, the separation service price and concentrate prices (USD/kg REO)."""
    rec, elements = ctx.rec, ctx.elements
    v_ore = ctx.comp[elements] @ pd.Series(ctx.prices)[elements]
    weights = _basket_weights(ctx)
    v_bar = float(sum(w * ctx.prices[e] for e, w in weights.items()))
    sep_share = ctx.assume("separation_cost_share", "share")
    s_price = rec.derived(
        "separation_service_price",
        sep_share * v_bar,
        "USD/kg REO",
        f"share x world-average basket value {v_bar:.3f} USD/kg",
    )
    conc_price = {}
    for o in ctx.ores:
        cp = float(v_ore[o]) - s_price
        if cp <= 0:
            cp = 0.05 * float(v_ore[o])
            how = "basket value below the separation service price; set to 5% of the basket value"
        else:
            how = f"basket value {float(v_ore[o]):.3f} - service price"
        conc_price[o] = rec.derived(f"concentrate_price[{o}]", cp, "USD/kg REO", how)
    return s_price, conc_price


def _separation_toll(ctx: _Ctx) -> dict:
    """China's separation charge, indexed to its oxide basket in a run (:mod:`reesim.simulate.tolls`)."""
    return {
        "processes": [f"separation-capacity:{r}" for r in sorted(ctx.cfg["heavy_separation"]["regions"])],
        "region": "CHN",
        "weights": _basket_weights(ctx),
        "exponent": ctx.assume("separation_charge_indexation", "elasticity"),
    }


def _stage_demand(
    ctx: _Ctx,
    parts: _Parts,
    magnet_world: float,
    recipe: dict,
    mshares: dict,
    magnet_price: float,
    exports: dict,
) -> None:
    """Stage 6: linear demand through the reference point: oxides for other uses, magnets by region.

    Magnet consumption outside China is what the region makes plus what it imports from
    China (customs); China uses the rest of its output.
    """
    rec, k = ctx.rec, ctx.k
    eps_o = ctx.assume("demand_elasticity_oxide")
    eps_m = ctx.assume("demand_elasticity_magnet")
    t_cost = ctx.a["transport_cost"]["value"]
    supply = ctx.supply
    shares = ctx.cfg["demand_shares"]
    for e in ctx.elements:
        use = magnet_world * recipe[e] * k[e] if e in ctx.metal_el else 0.0
        rest = float(supply[e]) - use
        rec.derived(
            f"oxide_supply[{e}]", float(supply[e]), "kt", "sum over ores of composition x mine production"
        )
        if rest <= 1e-9:
            raise InputError(
                f"default world {ctx.year}: magnet use of {e} ({use:.3f} kt) exceeds its supply ({float(supply[e]):.3f} kt)"
            )
        rec.derived(f"oxide_demand_other[{e}]", rest, "kt", "supply minus magnet use")
        if use > 0:
            rec.derived(f"magnet_share_of_use[{e}]", use / float(supply[e]), "share", "magnet use / supply")
        for r, s in shares["oxides"].items():
            q = rest * (
                rec.assume(f"demand_share[oxide,{r}]", s, "share", shares["basis"])
                if e == ctx.elements[0]
                else s
            )
            price = ctx.prices[e] + (0.0 if r == "CHN" else t_cost["oxide"])
            ai, b = _linear_demand(price, q, eps_o)
            parts.dems.append((f"other:oxide:{e}:{r}", "other uses", r, f"oxide:{e}", ai, b))
    regions = set(mshares) | set(exports)
    for r in sorted(regions, key=lambda x: (x != "CHN", x)):
        made = magnet_world * mshares.get(r, 0.0)
        q = made - sum(exports.values()) if r == "CHN" else made + exports.get(r, 0.0)
        rec.derived(
            f"magnet_use[{r}]",
            q,
            "kt magnet",
            "China's output minus its exports"
            if r == "CHN"
            else "made in the region plus imports from China",
        )
        price = magnet_price + (0.0 if r == "CHN" else t_cost["magnet"])
        ai, b = _linear_demand(price, q, eps_m)
        parts.dems.append((f"magnets:magnet:ndfeb:{r}", "magnet users", r, "magnet:ndfeb", ai, b))


def build_default_world(
    year: int | None = None, ds: Dataset | None = None, assumptions: dict[str, float] | None = None
) -> World:
    """Build the default world calibrated to ``year`` (default: the config's reference year).

    Stages (one function each): reference data, values, mining, separation (heavy rare
    earths only where they are separated), metals and magnets, demand, trade edges, route
    targets; the last step calibrates the route costs to the targets by positive
    mathematical programming (:func:`reesim.solve.routes.calibrate_routes`, which solves
    the reference year once).

    Parameters
    ----------
    year : int, optional
        Reference year.
    ds : Dataset, optional
        The dataset (default: the embedded one).
    assumptions : dict, optional
        Overrides of scalar assumptions of ``default_world.yaml`` (e.g.
        ``{"demand_elasticity_oxide": 0.3}``), recorded in the provenance as such.

    Raises
    ------
    InputError
        If ``year`` is not a reference year (one with mine production by country and MCS
        FOB prices in the dataset), or an override names an unknown or non-scalar assumption.
    """
    cfg = _config(assumptions)
    ds = ds or default_dataset()
    year = cfg["default_reference_year"] if year is None else int(year)
    if year not in cfg["reference_years"]:
        raise InputError(
            f"reference year {year} is not allowed; allowed: {', '.join(map(str, cfg['reference_years']))} "
            "(years with mine production by country and MCS FOB prices)"
        )
    ctx = _stage_reference(ds, cfg, year)
    world, targets, sigma = _stage_world(ctx, _stage_chain(ctx))
    return _stage_routes(world, targets, sigma)


@dataclass
class _Chain:
    """The chain as stages 2-7 leave it: processes, io and demands, and what later stages read."""

    parts: _Parts
    sep: dict[str, float]  # separation by region at the reference, kt REO feed
    recipe: dict  # t of each element per t of magnet
    magnet_price: float  # USD/kg
    exports: dict  # China's magnet exports by destination, kt
    end_uses: Any  # end-use sectors (meta)
    demand_parent: Any  # each end-use demand's parent demand (meta)


def _stage_chain(ctx: _Ctx) -> _Chain:
    """Stages 2-7: values, mines, separation, metals and magnets, demand, end uses (in this
    order: each records its assumptions in the provenance as it reads them)."""
    s_price, conc_price = _stage_values(ctx)
    parts = _Parts(eta=ctx.assume("supply_elasticity"))
    h_proc = ctx.assume("processing_headroom", "share")
    anchor_ore, anchor_sep = _anchors(ctx)
    _stage_mining(ctx, parts, conc_price, anchor_ore)
    sep = _stage_separation(ctx, parts, s_price, h_proc, anchor_sep)
    magnet_world, recipe, mshares, magnet_price = _stage_magnets(ctx, parts, h_proc)
    exports = _magnet_exports(ctx, magnet_world, mshares)
    _stage_demand(ctx, parts, magnet_world, recipe, mshares, magnet_price, exports)
    end_uses = _stage_end_uses(ctx, parts.dems)
    parts.dems, demand_parent = _split_end_uses(parts.dems, end_uses)
    return _Chain(parts, sep, recipe, magnet_price, exports, end_uses, demand_parent)


def _commodities(ctx: _Ctx) -> tuple[str, ...]:
    """Concentrates (and the mixed heavy concentrates of ores that carry heavy rare earths),
    oxides, metals, magnets and the two services."""
    heavy_ores = [o for o in ctx.ores if _heavy_share(ctx, o) > 0]
    return tuple(
        [f"concentrate:{o}" for o in ctx.ores]
        + [f"concentrate:hree_{o}" for o in heavy_ores]
        + [f"oxide:{e}" for e in ctx.elements]
        + [f"metal:{e}" for e in ctx.metal_el]
        + ["magnet:ndfeb", "service:separation", DOSE]
    )


def _storage(ctx: _Ctx) -> dict[str, float]:
    """The private stocks' settings (:mod:`reesim.simulate.storage`), years where timed."""
    return {
        "cover_years": ctx.assume("stock_cover_months", "months") / 12.0,
        "precaution": ctx.assume("stock_precaution", "x"),
        "workoff_years": ctx.assume("stock_workoff_years", "years"),
        "expectation_years": ctx.assume("price_expectation_years", "years"),
        "adjustment_years": ctx.assume("stock_adjustment_years", "years"),
        "producer_cover_years": ctx.assume("producer_stock_cover_months", "months") / 12.0,
        "producer_workoff_years": ctx.assume("producer_stock_workoff_years", "years"),
        "exporter_share": ctx.assume("exporter_stock_share", "share"),
    }


def _meta(ctx: _Ctx, chain: _Chain) -> dict[str, Any]:
    """The world's settings and reference point (``World.meta``); the assumptions they read are
    recorded before the provenance is frozen, so that `reesim world describe` lists them."""
    storage = _storage(ctx)
    reference = {
        "year": ctx.year,
        "mine_production_kt": ctx.mining.groupby(level=0).sum().to_dict(),
        "oxide_price_usd_per_kg": ctx.prices,
        "magnet_price_usd_per_kg": chain.magnet_price,
        "separation_kt": chain.sep,
        "magnet_exports_kt": chain.exports,
    }
    toll = _separation_toll(ctx)
    route_indexation = {
        "exponent": ctx.assume("route_cost_indexation", "elasticity"),
        "adjustment_years": ctx.assume("route_cost_adjustment_years", "years"),
    }
    return {
        "reference": reference,
        "source": "reesim.world.default",
        "base_tranches": tuple(chain.parts.base_tranches),
        "storage": storage,
        "elements": {
            "groups": {g: list(ms) for g, ms in ctx.cfg["element_groups"].items()},
            "unmodelled": dict(ctx.cfg.get("unmodelled_elements") or {}),
        },
        "end_use_sectors": chain.end_uses,
        "demand_parent": chain.demand_parent,
        "heavy_dose": {
            "recipe_t_per_t_magnet": {e: float(chain.recipe[e]) for e in HEAVY_DOSE if e in chain.recipe},
            "lean_saving": float(ctx.a["hre_thrift_saving"]["value"]),
        },
        "separation_toll": toll,
        "route_indexation": route_indexation,
    }


def _stage_world(ctx: _Ctx, chain: _Chain) -> tuple[World, pd.DataFrame, float]:
    """Stage 8: the tables, trade edges and route targets, the world's settings; returns the
    uncalibrated world, the route targets and the route elasticity (stage 9 calibrates)."""
    parts = chain.parts
    processes = pd.DataFrame(
        parts.procs, columns=["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"]
    )
    io_df = pd.DataFrame(parts.io, columns=["process", "commodity", "coef"])
    demands = pd.DataFrame(
        parts.dems, columns=["demand", "sector", "region", "commodity", "intercept", "slope"]
    )
    edges = _stage_trade(ctx, processes, io_df, demands)
    targets = _stage_route_targets(ctx, chain.sep, chain.exports, edges)
    congestion = ctx.assume("congestion", "USD/kg per kt")
    sigma = ctx.assume("route_elasticity")
    meta = _meta(ctx, chain)
    world = World(
        name=f"default world, reference year {ctx.year}",
        regions=ctx.regions,
        commodities=_commodities(ctx),
        processes=processes,
        io=io_df,
        demands=demands,
        edges=edges,
        congestion=congestion,
        quantity_unit="kt",
        provenance=ctx.rec.frame(),
        meta=meta,
    )
    return world, targets, sigma
