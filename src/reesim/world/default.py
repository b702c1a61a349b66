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

import functools
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from reesim.data import default_dataset
from reesim.data.dataset import Dataset
from reesim.errors import InputError
from reesim.world.world import World

CONFIG = "default_world.yaml"


def load_config() -> dict[str, Any]:
    """The default-world configuration (data selections and assumptions)."""
    return yaml.safe_load(resources.files("reesim.world").joinpath(CONFIG).read_text(encoding="utf-8"))


@dataclass
class _Recorder:
    rows: list[tuple[str, float, str, str]] = field(default_factory=list)

    def data(self, parameter: str, value: float, unit: str, table: str, key: str, source_ids) -> float:
        ids = ",".join(sorted({str(s) for s in np.atleast_1d(source_ids)}))
        self.rows.append((parameter, float(value), unit, f"data: {table} [{key}] source {ids}"))
        return float(value)

    def lookup(
        self,
        ds: Dataset,
        parameter: str,
        table: str,
        row: dict,
        unit: str,
        column: str = "value",
        scale: float = 1.0,
    ) -> float:
        """Record and return ``column`` x ``scale`` of the single row of ``table`` matching ``row``."""
        rows = ds.table(table, **row)
        if len(rows) != 1 or pd.isna(rows[column].iloc[0]):
            raise InputError(
                f"default_world.yaml: expected one {table} row with a {column} for {row}, found {len(rows)}"
            )
        return self.data(
            parameter, float(rows[column].iloc[0]) * scale, unit, table, str(row), rows["source_id"]
        )

    def assume(self, parameter: str, value: float, unit: str, spec: dict | str) -> float:
        if isinstance(spec, dict):
            rng = spec.get("range")
            basis = spec.get("basis", "")
            text = (basis if basis.startswith("assumption") else f"assumption: {basis}") + (
                f" (range {rng[0]}-{rng[1]})" if rng else ""
            )
        else:
            text = spec if spec.startswith("DERIVED") else f"assumption: {spec}"
        self.rows.append((parameter, float(value), unit, text))
        return float(value)

    def derived(self, parameter: str, value: float, unit: str, how: str) -> float:
        self.rows.append((parameter, float(value), unit, f"derived: {how}"))
        return float(value)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["parameter", "value", "unit", "source"])


def _check_valid(key: str, value: object, spec: dict) -> None:
    """Refuse an assumption override outside its mathematically valid interval (``valid:`` in the YAML).

    The documented ``range`` is what the literature supports (values outside it are allowed and
    flagged in the provenance); ``valid`` is where the calibration formulas are defined (an
    elasticity of 0 divides by zero, a cost share of 1 leaves no margin).
    """
    where = f"world.assumptions.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where}: {value!r} is not a finite number")
    text = spec.get("valid")
    if not text:
        return
    lo_open, hi_open = text[0] == "(", text[-1] == ")"
    lo, hi = (float(x) for x in text[1:-1].split(","))
    ok = (lo < value if lo_open else lo <= value) and (value < hi if hi_open else value <= hi)
    if not ok:
        rng = spec.get("range")
        doc = f"; documented range {rng[0]}-{rng[1]}" if rng else ""
        raise InputError(f"{where}: {value} is not allowed; allowed: {text}{doc}")


def _linear_demand(price: float, qty: float, eps: float) -> tuple[float, float]:
    """Intercept and slope of ``p = a - b q`` through (price, qty) with elasticity ``eps``."""
    slope = price / (eps * qty)
    return price + slope * qty, slope


def _linear_cost(price: float, qty: float, eta: float) -> tuple[float, float]:
    """Intercept and slope of ``mc = c + d x`` through (qty, price) with supply elasticity ``eta``.

    ``eta = p / (d x)``; the intercept is clipped at 0 (elasticities below 1 would need a
    negative intercept).
    """
    slope = price / (eta * qty)
    return max(0.0, price - slope * qty), slope


def _prices(ds: Dataset, cfg: dict, year: int, weights: pd.Series, rec: _Recorder) -> dict[str, float]:
    """Reference oxide prices; a group's price is the mean of its members' prices weighted by
    ``weights`` (the members' world supply implied by the ore compositions)."""
    members = {e: [e] for e in cfg["elements"]} | cfg["element_groups"]
    wanted = sorted({m for ms in members.values() for m in ms})
    p = ds.table(
        "prices", date=str(year), market_code="fob_china", form_code="oxide", unit="USD/kg", preferred=True
    )
    p = p[p["element"].isin(wanted)].drop_duplicates("element")
    found = dict(zip(p["element"], p["price"].astype(float), strict=True))
    sources = dict(zip(p["element"], p["source_id"], strict=True))
    carried: dict[str, str] = {}
    if getattr(ds, "as_of_date", None) is not None and set(wanted) - set(found):
        # A vintage view may lack the year's price of a minor element: carry each member's latest
        # earlier annual price known on the as-of date forward (recorded as such).
        older = ds.table("prices", market_code="fob_china", form_code="oxide", unit="USD/kg", preferred=True)
        older = older[older["element"].isin(set(wanted) - set(found)) & (older["date"].str.len() == 4)]
        older = older[older["year_end"] < year].sort_values("date")
        for r in older.groupby("element").tail(1).itertuples(index=False):
            found[r.element], sources[r.element], carried[r.element] = float(r.price), r.source_id, r.date
    out = {}
    for e, ms in members.items():
        have = [m for m in ms if m in found]
        if not have:
            raise InputError(f"no FOB China oxide price for {e} in {year} in the prices table")
        if len(ms) == 1:
            out[e] = rec.data(
                f"price_ref[oxide:{e}]",
                found[e],
                "USD/kg",
                "prices",
                f"date={carried.get(e, year)}, element={e}, market_code=fob_china"
                + (f" (no {year} price known on {ds.as_of_date}; carried forward)" if e in carried else ""),
                sources[e],
            )
        else:
            w = weights.reindex(have).fillna(0.0)
            out[e] = float(sum(found[m] * w[m] for m in have) / w.sum())
            rec.derived(
                f"price_ref[oxide:{e}]",
                out[e],
                "USD/kg",
                f"FOB China prices of {', '.join(have)} in {year} (prices; {', '.join(sorted({sources[m] for m in have}))}) "
                f"weighted by their supply from the modelled ores ({', '.join(f'{m} {w[m] / w.sum():.2f}' for m in have)}); "
                + (
                    f"carried forward from earlier years: {', '.join(f'{m} {d}' for m, d in carried.items() if m in have)}; "
                    if any(m in carried for m in have)
                    else ""
                )
                + f"no price for {', '.join(sorted(set(ms) - set(have))) or 'none missing'}",
            )
    return out


def _compositions(ds: Dataset, cfg: dict, rec: _Recorder) -> pd.DataFrame:
    comp = ds.table("deposit_composition", deposit=list(cfg["ores"].values()))
    comp = comp[comp["qualifier"].isna() | (comp["qualifier"] == "<")]
    group_of = {m: g for g, ms in cfg["element_groups"].items() for m in ms} | {e: e for e in cfg["elements"]}
    comp = comp[comp["element"].isin(group_of)].assign(group=lambda d: d["element"].map(group_of))
    members = comp.pivot_table(
        index="deposit", columns="element", values="pct_of_treo", aggfunc="sum"
    ).fillna(0.0)
    members.index = members.index.map({d: o for o, d in cfg["ores"].items()})
    rows = {}
    for ore, deposit in cfg["ores"].items():
        c = comp[comp["deposit"] == deposit]
        pct = c.groupby("group")["pct_of_treo"].sum().reindex(cfg["elements"]).fillna(0.0).astype(float)
        total = float(pct.sum())
        rows[ore] = pct / total
        rec.derived(
            f"composition[{ore}]",
            total,
            "percent of TREO (raw sum)",
            f"deposit_composition '{deposit}' (source {','.join(sorted(set(c['source_id'])))}), "
            "elements grouped as in the config and normalised to sum to 1; missing or '<' values count as given/0",
        )
    return pd.DataFrame(rows).T, members  # ore x element shares; ore x raw element percent


def _mining(ds: Dataset, cfg: dict, year: int, rec: _Recorder) -> pd.Series:
    """Mine production (kt REO) by (region, ore)."""
    countries = ds.table("countries").set_index("iso3")["region"]
    mp = ds.table("mine_production", year=year, preferred=True)
    mp = mp[mp["production_t_reo"].fillna(0) > 0]
    mp = mp[mp["iso3"] != "WLD"]
    region = mp["iso3"].map(countries).fillna("ROW")  # USGS 'Other countries' -> ROW
    by_region = (mp.assign(region=region).groupby("region")["production_t_reo"].sum() / 1000.0).astype(float)
    for r, v in by_region.items():
        ids = mp.loc[region == r, "source_id"]
        rec.data(f"mine_production[{r}]", v, "kt REO", "mine_production", f"year={year}, region={r}", ids)
    out = {}
    for r, v in by_region.items():
        spec = cfg["mining_ores"].get(r)
        if spec is None:
            raise InputError(f"default_world.yaml: no ore assignment for mining region {r}")
        if "from_quota_split" in spec:
            y = spec["from_quota_split"]
            q = ds.table("china_export_quotas", year=y, measure="mining_quota", period="year")
            light = float(q.loc[q["category"] == "light REE", "value"].iloc[0])
            heavy = float(q.loc[q["category"] == "medium and heavy REE", "value"].iloc[0])
            share_light = rec.data(
                f"mining_light_share[{r}]",
                light / (light + heavy),
                "share",
                "china_export_quotas",
                f"year={y}, measure=mining_quota",
                q["source_id"],
            )
            out[(r, spec["light"])] = v * share_light
            for ore, s in spec["heavy"].items():
                out[(r, ore)] = (
                    v
                    * (1 - share_light)
                    * rec.assume(f"heavy_ore_split[{r},{ore}]", s, "share", spec["basis"])
                )
        else:
            for ore, s in spec["ores"].items():
                out[(r, ore)] = v * rec.assume(f"ore_share[{r},{ore}]", s, "share", spec["basis"])
    return pd.Series(out, name="kt")


def _separation_ex_china(
    ds: Dataset, cfg: dict, year: int, comp: pd.DataFrame, mining: pd.Series, rec: _Recorder
) -> dict[str, float]:
    out = {}
    for r, spec in cfg["separation_ex_china"].items():
        if spec.get("same_as_mining"):
            out[r] = rec.assume(f"separation_ref[{r}]", float(mining.loc[r].sum()), "kt REO", spec["basis"])
            continue
        key = dict(spec["row"])
        rows = ds.table("processing_capacity", **key)
        if spec.get("by_year"):
            rows = rows[rows["year"] == year]
        else:
            rows = rows[rows["year"] <= year] if (rows["year"] <= year).any() else rows
        if rows.empty:
            raise InputError(f"default_world.yaml: no processing_capacity row for {key} (year {year})")
        row = rows.sort_values("year").iloc[-1]
        value = float(row["value"]) / 1000.0
        if spec.get("convert") == "ndpr_to_reo":
            share = float(comp.loc[spec["ore"], ["Nd", "Pr"]].sum())
            value = value / share
        out[r] = rec.data(
            f"separation_ref[{r}]",
            value,
            "kt REO feed",
            "processing_capacity",
            f"{key}, year={row['year']}",
            row["source_id"],
        )
    return out


def _magnets(ds: Dataset, cfg: dict, k: dict, supply: pd.Series, rec: _Recorder) -> tuple[float, dict, dict]:
    """World magnet output (kt), recipe (t metal per t magnet), production shares by region."""
    r = cfg["magnet_recipe"]
    ndpr = rec.lookup(
        ds, "magnet_recipe[NdPr]", "end_use_intensity", r["NdPr"]["row"], "t/t magnet", scale=0.01
    )
    nd_metal, pr_metal = float(supply["Nd"]) / k["Nd"], float(supply["Pr"]) / k["Pr"]
    nd_share = rec.derived(
        "magnet_recipe[Nd share of NdPr]",
        nd_metal / (nd_metal + pr_metal),
        "share",
        "Nd:Pr of the world oxide supply (metal basis)",
    )
    recipe = {
        "Nd": ndpr * nd_share,
        "Pr": ndpr * (1 - nd_share),
        "Dy": rec.assume("magnet_recipe[Dy]", r["Dy"]["value"], "t/t magnet", r["Dy"]),
        "Tb": rec.assume("magnet_recipe[Tb]", r["Tb"]["value"], "t/t magnet", r["Tb"]),
    }
    share = rec.assume(
        "magnet_share_of_ndpr", cfg["magnet_share_of_ndpr"]["value"], "share", cfg["magnet_share_of_ndpr"]
    )
    world = rec.derived(
        "magnet_output_world",
        share * (nd_metal + pr_metal) / ndpr,
        "kt magnet",
        "share of NdPr supply (metal) / NdPr per t magnet",
    )
    row = cfg["magnet_ree_demand"]["row"]
    rec.lookup(
        ds, "magnet_ree_demand (cross-check, not used)", "demand_by_application", row, "kt", "quantity", 1e-3
    )
    rec.derived(
        "magnet_ree_use (model)",
        world * sum(recipe[e] * k[e] for e in recipe),
        "kt REO",
        "magnet output x recipe x oxide per metal",
    )
    mm = cfg["magnet_making"]
    chn = rec.lookup(ds, "magnet_share[CHN]", "processing_capacity", mm["CHN"]["row"], "share", scale=0.01)
    shares = {"CHN": chn}
    for reg, s in mm["rest_split"].items():
        shares[reg] = rec.assume(f"magnet_share[{reg}]", (1 - chn) * s, "share", {"basis": mm["rest_basis"]})
    return world, recipe, shares


def load_default_world(
    year: int | None = None, ds: Dataset | None = None, assumptions: dict[str, float] | None = None
) -> World:
    """The default world (cached per reference year and assumption overrides; see :func:`build_default_world`)."""
    if ds is not None:
        return build_default_world(year, ds, assumptions)
    return _cached_world(year, tuple(sorted((assumptions or {}).items())))


@functools.lru_cache(maxsize=16)
def _cached_world(year: int | None, assumptions: tuple) -> World:
    """Build once per process (about 0.1 s; no disk cache: a world is never read back from a file)."""
    return build_default_world(year, None, dict(assumptions))


def build_default_world(
    year: int | None = None, ds: Dataset | None = None, assumptions: dict[str, float] | None = None
) -> World:
    """Build the default world calibrated to ``year`` (default: the config's reference year).

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
    ds = ds or default_dataset()
    year = cfg["default_reference_year"] if year is None else int(year)
    if year not in cfg["reference_years"]:
        raise InputError(
            f"reference year {year} is not allowed; allowed: {', '.join(map(str, cfg['reference_years']))} "
            "(years with mine production by country and MCS FOB prices)"
        )
    rec = _Recorder()
    a = cfg["assumptions"]
    elements = cfg["elements"]
    metal_el = cfg["metal_elements"]
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
    ores = list(cfg["ores"])

    # Ore values and the separation service price.
    p_vec = pd.Series(prices)[elements]
    v_ore = comp[elements] @ p_vec
    v_bar = float((v_ore.reindex(by_ore.index) * by_ore).sum() / by_ore.sum())
    sep_share = rec.assume(
        "separation_cost_share", a["separation_cost_share"]["value"], "share", a["separation_cost_share"]
    )
    s_price = rec.derived(
        "separation_service_price",
        sep_share * v_bar,
        "USD/kg REO",
        f"share x world-average basket value {v_bar:.3f} USD/kg",
    )
    conc_price = {}
    for o in ores:
        cp = float(v_ore[o]) - s_price
        if cp <= 0:
            cp = 0.05 * float(v_ore[o])
            rec.derived(
                f"concentrate_price[{o}]",
                cp,
                "USD/kg REO",
                "basket value below the separation service price; set to 5% of the basket value",
            )
        else:
            rec.derived(
                f"concentrate_price[{o}]",
                cp,
                "USD/kg REO",
                f"basket value {float(v_ore[o]):.3f} - service price",
            )
        conc_price[o] = cp

    eta = rec.assume("supply_elasticity", a["supply_elasticity"]["value"], "-", a["supply_elasticity"])
    h_mine = rec.assume("mining_headroom", a["mining_headroom"]["value"], "share", a["mining_headroom"])
    h_proc = rec.assume(
        "processing_headroom", a["processing_headroom"]["value"], "share", a["processing_headroom"]
    )
    t_cost = a["transport_cost"]["value"]
    for cls, v in t_cost.items():
        rec.assume(f"transport[{cls}]", v, "USD/kg", a["transport_cost"])

    procs, io = [], []

    def add(pid, region, kind, cap, price, qty, coefs):
        c, d = _linear_cost(price, qty, eta) if qty > 0 else (price, 0.0)
        procs.append((pid, region, kind, cap, c, d))
        io.extend((pid, com, coef) for com, coef in coefs.items())

    # Mining.
    chn_cost = rec.assume(
        "china_mining_cost_share",
        a["china_mining_cost_share"]["value"],
        "share",
        a["china_mining_cost_share"],
    )
    for (r, o), m in mining.items():
        if r == "CHN":  # the quota binds: marginal cost at the quota below the concentrate value
            add(f"mining:{r}:{o}", r, "mining", m, conc_price[o] * chn_cost, m, {f"concentrate:{o}": 1.0})
        else:
            add(
                f"mining:{r}:{o}",
                r,
                "mining",
                m * (1.0 + h_mine),
                conc_price[o],
                m,
                {f"concentrate:{o}": 1.0},
            )

    # Separation: a regional service with capacity and cost, and a cracking route per ore.
    sep = _separation_ex_china(ds, cfg, year, comp, mining, rec)
    world_mined = float(mining.sum())
    sep["CHN"] = rec.derived(
        "separation_ref[CHN]",
        world_mined - sum(sep.values()),
        "kt REO feed",
        "world mine production minus separation outside China (mass balance)",
    )
    for r, s in sep.items():
        add(
            f"separation-capacity:{r}",
            r,
            "capacity",
            s * (1 + h_proc),
            s_price,
            s,
            {"service:separation": 1.0},
        )
        for o in ores:
            coefs = {f"concentrate:{o}": -1.0, "service:separation": -1.0}
            coefs |= {f"oxide:{e}": float(comp.loc[o, e]) for e in elements if comp.loc[o, e] > 0}
            procs.append((f"crack:{r}:{o}", r, "separation", np.inf, 0.0, 0.0))
            io.extend((f"crack:{r}:{o}", com, coef) for com, coef in coefs.items())

    # Metals and magnets.
    supply = comp[elements].mul(by_ore.reindex(comp.index).fillna(0.0), axis=0).sum()
    magnet_world, recipe, mshares = _magnets(ds, cfg, k, supply, rec)
    conv = rec.assume(
        "metal_conversion_cost", a["metal_conversion_cost"]["value"], "USD/kg", a["metal_conversion_cost"]
    )
    proc_cost = rec.assume(
        "magnet_processing_cost", a["magnet_processing_cost"]["value"], "USD/kg", a["magnet_processing_cost"]
    )
    metal_price = {e: prices[e] * k[e] + conv for e in metal_el}
    magnet_price = rec.derived(
        "price_ref[magnet:ndfeb]",
        sum(recipe[e] * metal_price[e] for e in metal_el) + proc_cost,
        "USD/kg",
        "metal content at reference prices + processing cost",
    )
    rec.assume(
        "metal_capacity[CHN]",
        float("inf"),
        "kt/yr",
        "assumption: oxide-to-metal conversion in China is not a binding constraint (no capacity data); "
        "outside China metal capacity is the reference output plus headroom",
    )
    for r, share in mshares.items():
        out = magnet_world * share
        for e in metal_el:
            qty = out * recipe[e]
            add(
                f"metal:{r}:{e}",
                r,
                "metal",
                np.inf if r == "CHN" else qty * (1 + h_proc),
                conv,
                qty,
                {f"oxide:{e}": -k[e], f"metal:{e}": 1.0},
            )
        add(
            f"magnet:{r}",
            r,
            "magnet",
            out * (1 + h_proc),
            proc_cost,
            out,
            {f"metal:{e}": -recipe[e] for e in metal_el} | {"magnet:ndfeb": 1.0},
        )

    # Demand.
    eps_o = rec.assume(
        "demand_elasticity_oxide", a["demand_elasticity_oxide"]["value"], "-", a["demand_elasticity_oxide"]
    )
    eps_m = rec.assume(
        "demand_elasticity_magnet", a["demand_elasticity_magnet"]["value"], "-", a["demand_elasticity_magnet"]
    )
    shares = cfg["demand_shares"]
    dems = []
    for e in elements:
        use = magnet_world * recipe[e] * k[e] if e in metal_el else 0.0
        rest = float(supply[e]) - use
        rec.derived(
            f"oxide_supply[{e}]", float(supply[e]), "kt", "sum over ores of composition x mine production"
        )
        if rest <= 1e-9:
            raise InputError(
                f"default world {year}: magnet use of {e} ({use:.3f} kt) exceeds its supply ({float(supply[e]):.3f} kt)"
            )
        rec.derived(f"oxide_demand_other[{e}]", rest, "kt", "supply minus magnet use")
        for r, s in shares["oxides"].items():
            q = (
                rest * rec.assume(f"demand_share[oxide,{r}]", s, "share", shares["basis"])
                if e == elements[0]
                else rest * s
            )
            price = prices[e] + (0.0 if r == "CHN" else t_cost["oxide"])
            ai, b = _linear_demand(price, q, eps_o)
            dems.append((f"other:oxide:{e}:{r}", "other uses", r, f"oxide:{e}", ai, b))
    for r, s in shares["magnets"].items():
        q = magnet_world * rec.assume(f"demand_share[magnet,{r}]", s, "share", shares["basis"])
        price = magnet_price + (0.0 if r == "CHN" else t_cost["magnet"])
        ai, b = _linear_demand(price, q, eps_m)
        dems.append((f"magnets:magnet:ndfeb:{r}", "magnet users", r, "magnet:ndfeb", ai, b))

    commodities = (
        [f"concentrate:{o}" for o in ores]
        + [f"oxide:{e}" for e in elements]
        + [f"metal:{e}" for e in metal_el]
        + ["magnet:ndfeb", "service:separation"]
    )
    processes = pd.DataFrame(
        procs, columns=["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"]
    )
    io_df = pd.DataFrame(io, columns=["process", "commodity", "coef"])
    demands = pd.DataFrame(dems, columns=["demand", "sector", "region", "commodity", "intercept", "slope"])

    # Trade edges: from every region that makes a commodity to every region that uses it.
    region_of = dict(zip(processes["process"], processes["region"], strict=True))
    flows = io_df.assign(region=io_df["process"].map(region_of))
    makers = flows[flows["coef"] > 0].groupby("commodity")["region"].unique()
    users = (
        pd.concat([flows[flows["coef"] < 0][["commodity", "region"]], demands[["commodity", "region"]]])
        .groupby("commodity")["region"]
        .unique()
    )
    edges = []
    for com in commodities:
        if com.startswith("service:") or com not in makers or com not in users:
            continue
        cost = t_cost[com.split(":")[0]]
        edges += [(com, o, d, cost) for o in makers[com] for d in users[com] if o != d]
    edge_df = pd.DataFrame(edges, columns=["commodity", "origin", "dest", "transport"])

    congestion = rec.assume("congestion", a["congestion"]["value"], "USD/kg per kt", a["congestion"])
    reference = {
        "year": year,
        "mine_production_kt": mining.groupby(level=0).sum().to_dict(),
        "oxide_price_usd_per_kg": prices,
        "magnet_price_usd_per_kg": magnet_price,
        "separation_kt": sep,
    }
    return World(
        name=f"default world, reference year {year}",
        regions=regions,
        commodities=tuple(commodities),
        processes=processes,
        io=io_df,
        demands=demands,
        edges=edge_df,
        congestion=congestion,
        quantity_unit="kt",
        provenance=rec.frame(),
        meta={"reference": reference, "source": "reesim.world.default"},
    )
