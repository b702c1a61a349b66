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

import numpy as np
import pandas as pd
import yaml

from reesim.data import default_dataset
from reesim.data.dataset import Dataset
from reesim.errors import InputError
from reesim.memo import memo_of
from reesim.world.cash_costs import trough_factors
from reesim.world.default_data import (
    _check_valid,
    _compositions,
    _linear_cost,
    _linear_demand,
    _mining,
    _prices,
    _producer_reports,
    _Recorder,
    _reported_cash_share,
    _separation_ex_china,
)
from reesim.world.default_magnets import HEAVY_DOSE, _stage_magnets
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
    (:func:`reesim.cache.code_fingerprint`), the interpreter, the machine type and the numeric
    libraries (:func:`reesim.cache.runtime`), so that a changed builder, dataset or solver never
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
    hit = memo.get(("world stage 1", year))
    if hit is None:
        ctx = _read_reference(ds, cfg, year)
        memo[("world stage 1", year)] = (
            list(ctx.rec.rows),
            ctx.k,
            ctx.comp,
            ctx.mining,
            ctx.prices,
            ctx.regions,
        )
        return ctx
    rows, k, comp, mining, prices, regions = hit
    rec = _Recorder()
    rec.rows.extend(rows)
    return _Ctx(ds, cfg, year, rec, dict(k), comp.copy(), mining.copy(), dict(prices), regions)


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


def _basket_weights(ctx: _Ctx) -> dict[str, float]:
    """kg of each oxide per kg REO of the world-average ore (mine production by ore x composition)."""
    by_ore = ctx.by_ore
    comp = ctx.comp[ctx.elements].reindex(by_ore.index).fillna(0.0)
    return {e: float(v) for e, v in (comp.mul(by_ore, axis=0).sum() / by_ore.sum()).items()}


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


def _stage_mining(ctx: _Ctx, parts: _Parts, conc_price: dict[str, float], anchor: dict[str, float]) -> None:
    """Stage 3: mines (China's quota binds; elsewhere a cash-cost curve, :meth:`_Parts.add_cash_cost`).

    Outside China the cash cost is a share of the concentrate value at the price trough, not at
    the reference year's price (:mod:`reesim.world.cash_costs`): those mines kept producing
    through the 2023-24 trough.
    """
    chn_cost = ctx.assume("china_mining_cost_share", "share")
    h_mine = ctx.assume("mining_headroom", "share")
    cash_share, spread = _cash_cost(ctx)
    reports = _producer_reports(ctx.ds, ctx.year)
    with_reports = set(reports["iso3"])  # a region without report rows has no reported share
    reported = {
        r: _reported_cash_share(reports, ctx.year, r, ctx.rec) if r in with_reports else None
        for r in {r for r, _ in ctx.mining.index} - {"CHN"}
    }
    for (r, o), m in ctx.mining.items():
        if r == "CHN":  # the quota binds: marginal cost at the quota below the concentrate value
            mc = conc_price[o] * chn_cost  # not anchored at the trough (module docstring of cash_costs)
            parts.add(f"mining:{r}:{o}", r, "mining", m, mc, m, {f"concentrate:{o}": 1.0})
        else:
            parts.add_cash_cost(
                f"mining:{r}:{o}",
                r,
                "mining",
                h_mine,
                conc_price[o],
                m,
                {f"concentrate:{o}": 1.0},
                cash=(reported[r] if reported[r] is not None else cash_share * anchor[o]) * conc_price[o],
                spread=spread,
            )


def _cash_cost(ctx: _Ctx) -> tuple[float, float]:
    """Cash cost of operations outside China (share of the trough price) and its spread."""
    return ctx.assume("cash_cost_share_ex_china", "share"), ctx.assume("cash_cost_spread", "share")


def _anchors(ctx: _Ctx) -> tuple[dict[str, float], float]:
    """Where the cash-cost share applies: the trough's value over the reference year's, by ore
    and for separation (:func:`reesim.world.cash_costs.trough_factors`). The separation cost
    share is read, not recorded again (:func:`_stage_values` records it)."""
    sep_share = float(ctx.a["separation_cost_share"]["value"])
    return trough_factors(
        ctx.ds, ctx.cfg, ctx.year, ctx.comp, _basket_weights(ctx), ctx.prices, sep_share, ctx.rec
    )


def _heavy_share(ctx: _Ctx, ore: str) -> float:
    """Share of the heavy rare earths (``heavy_separation.elements``) in an ore's TREO."""
    return ctx.heavy_shares[ore]


def _stage_separation(
    ctx: _Ctx, parts: _Parts, s_price: float, h_proc: float, anchor_sep: float
) -> dict[str, float]:
    """Stage 4: separation capacity by region and a cracking route per (region, ore).

    Outside the regions that separate heavy rare earths, cracking yields the light oxides and
    a mixed heavy-RE concentrate (``concentrate:hree_<ore>``, e.g. Lynas' SEG/HRE product),
    which only those regions separate into single heavy oxides.
    """
    rec, comp, elements = ctx.rec, ctx.comp, ctx.elements
    hs = ctx.cfg["heavy_separation"]
    heavy, heavy_regions = set(hs["elements"]), set(hs["regions"])
    rec.assume("heavy_separation_regions", len(heavy_regions), "regions", {"basis": hs["basis"]})
    sep = _separation_ex_china(ctx.ds, ctx.cfg, ctx.year, comp, ctx.mining, rec)
    shares = {o: {e: float(comp.loc[o, e]) for e in elements} for o in ctx.ores}
    mix_est = sum(
        v * max(_heavy_share(ctx, o) for o in ctx.ores) for r, v in sep.items() if r not in heavy_regions
    )
    sep["CHN"] = rec.derived(
        "separation_ref[CHN]",
        float(ctx.mining.sum()) - sum(sep.values()) + mix_est,
        "kt REO feed",
        "world mine production minus separation outside China (mass balance), plus the mixed heavy "
        f"concentrate of the plants outside China ({mix_est:.2f} kt at the highest heavy share of the ores)",
    )
    cash_share, spread = _cash_cost(ctx)
    for r, s in sep.items():
        if r in heavy_regions:  # China: separation follows its domestic market and quotas
            parts.add(
                f"separation-capacity:{r}",
                r,
                "capacity",
                s * (1 + h_proc),
                s_price,
                s,
                {"service:separation": 1.0},
            )
        else:
            parts.add_cash_cost(
                f"separation-capacity:{r}",
                r,
                "capacity",
                h_proc,
                s_price,
                s,
                {"service:separation": 1.0},
                cash=cash_share * anchor_sep * s_price,
                spread=spread,
            )
        for o in ctx.ores:
            coefs = {f"concentrate:{o}": -1.0, "service:separation": -1.0}
            share = shares[o]  # plain dict: ~4,000 scalar .loc reads per world otherwise
            if r in heavy_regions:
                coefs |= {f"oxide:{e}": share[e] for e in elements if share[e] > 0}
            else:
                coefs |= {f"oxide:{e}": share[e] for e in elements if share[e] > 0 and e not in heavy}
                if _heavy_share(ctx, o) > 0:
                    coefs[f"concentrate:hree_{o}"] = _heavy_share(ctx, o)
            parts.procs.append((f"crack:{r}:{o}", r, "separation", np.inf, 0.0, 0.0))
            parts.io.extend((f"crack:{r}:{o}", com, coef) for com, coef in coefs.items())
    for r in sorted(heavy_regions):
        for o in ctx.ores:
            h = _heavy_share(ctx, o)
            if h <= 0:
                continue
            coefs = {f"concentrate:hree_{o}": -1.0, "service:separation": -1.0}
            coefs |= {
                f"oxide:{e}": float(comp.loc[o, e]) / h for e in elements if e in heavy and comp.loc[o, e] > 0
            }
            parts.procs.append((f"crack-heavy:{r}:{o}", r, "separation", np.inf, 0.0, 0.0))
            parts.io.extend((f"crack-heavy:{r}:{o}", com, coef) for com, coef in coefs.items())
    return sep


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

    ores = ctx.ores
    heavy_ores = [o for o in ores if _heavy_share(ctx, o) > 0]
    commodities = (
        [f"concentrate:{o}" for o in ores]
        + [f"concentrate:hree_{o}" for o in heavy_ores]
        + [f"oxide:{e}" for e in ctx.elements]
        + [f"metal:{e}" for e in ctx.metal_el]
        + ["magnet:ndfeb", "service:separation", DOSE]
    )
    processes = pd.DataFrame(
        parts.procs, columns=["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"]
    )
    io_df = pd.DataFrame(parts.io, columns=["process", "commodity", "coef"])
    demands = pd.DataFrame(
        parts.dems, columns=["demand", "sector", "region", "commodity", "intercept", "slope"]
    )
    edges = _stage_trade(ctx, processes, io_df, demands)
    targets = _stage_route_targets(ctx, sep, exports, edges)
    congestion = ctx.assume("congestion", "USD/kg per kt")
    sigma = ctx.assume("route_elasticity")
    storage = {
        "cover_years": ctx.assume("stock_cover_months", "months") / 12.0,
        "precaution": ctx.assume("stock_precaution", "x"),
        "workoff_years": ctx.assume("stock_workoff_years", "years"),
        "expectation_years": ctx.assume("price_expectation_years", "years"),
        "adjustment_years": ctx.assume("stock_adjustment_years", "years"),
        "producer_cover_years": ctx.assume("producer_stock_cover_months", "months") / 12.0,
        "producer_workoff_years": ctx.assume("producer_stock_workoff_years", "years"),
        "exporter_share": ctx.assume("exporter_stock_share", "share"),
    }
    reference = {
        "year": year,
        "mine_production_kt": ctx.mining.groupby(level=0).sum().to_dict(),
        "oxide_price_usd_per_kg": ctx.prices,
        "magnet_price_usd_per_kg": magnet_price,
        "separation_kt": sep,
        "magnet_exports_kt": exports,
    }
    # read before the provenance is frozen, so that `reesim world describe` lists them
    toll = _separation_toll(ctx)
    route_indexation = {
        "exponent": ctx.assume("route_cost_indexation", "elasticity"),
        "adjustment_years": ctx.assume("route_cost_adjustment_years", "years"),
    }
    world = World(
        name=f"default world, reference year {year}",
        regions=ctx.regions,
        commodities=tuple(commodities),
        processes=processes,
        io=io_df,
        demands=demands,
        edges=edges,
        congestion=congestion,
        quantity_unit="kt",
        provenance=ctx.rec.frame(),
        meta={
            "reference": reference,
            "source": "reesim.world.default",
            "base_tranches": tuple(parts.base_tranches),
            "storage": storage,
            "elements": {
                "groups": {g: list(ms) for g, ms in ctx.cfg["element_groups"].items()},
                "unmodelled": dict(ctx.cfg.get("unmodelled_elements") or {}),
            },
            "end_use_sectors": end_uses,
            "demand_parent": demand_parent,
            "heavy_dose": {
                "recipe_t_per_t_magnet": {e: float(recipe[e]) for e in HEAVY_DOSE if e in recipe},
                "lean_saving": float(ctx.a["hre_thrift_saving"]["value"]),
            },
            "separation_toll": toll,
            "route_indexation": route_indexation,
        },
    )
    return _stage_routes(world, targets, sigma)
