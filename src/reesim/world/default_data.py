"""What the default world reads from the embedded dataset, and how it records it.

The provenance recorder (every calibrated parameter with its data row or assumption), the
curve helpers (linear demand and marginal cost through an observed point with an
elasticity; Francois & Hall 1997) and the readers of the dataset's tables used by
:mod:`reesim.world.default`: reference prices, deposit compositions, mine production by
country and ore, separation capacity outside China and the magnet recipe and makers.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reesim.data.dataset import Dataset
from reesim.errors import InputError
from reesim.memo import memo_of


@dataclass
class _Recorder:
    rows: list[tuple[str, float, str, str]] = field(default_factory=list)

    def data(
        self, parameter: str, value: float, unit: str, table: str, key: str, source_ids, caveat: str = ""
    ) -> float:
        """Record a value read from the data; ``caveat`` says what the row's figure covers, where it differs."""
        ids = ",".join(sorted({str(s) for s in np.atleast_1d(source_ids)}))
        text = f"data: {table} [{key}] source {ids}" + (f"; caveat: {caveat}" if caveat else "")
        self.rows.append((parameter, float(value), unit, text))
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


def replayed(ds: Dataset, key: tuple, rec: _Recorder, make: Callable[[_Recorder], Any]) -> Any:
    """``make(recorder)`` for a reading of the data alone, made once per dataset object and
    ``key`` (:func:`reesim.memo.memo_of`): later builds get a copy of its value and the
    provenance rows it recorded, appended to ``rec`` in the same place.

    For the stages' readings that no assumption enters (separation capacity outside China, the
    producers' reported cash costs): worlds that differ only in assumptions (an ensemble's
    members) read them once. ``key`` names the reading, the reference year and the
    configuration it reads (:func:`config_key`).
    """
    memo, key = memo_of(ds), ("replayed", *key)
    hit = memo.get(key)
    if hit is None:
        sub = _Recorder()
        hit = memo[key] = (make(sub), tuple(sub.rows))
    value, rows = hit
    rec.rows.extend(rows)
    return copy.deepcopy(value)


def config_key(section: Any) -> str:
    """A part of the configuration as text, for :func:`replayed`'s keys."""
    return json.dumps(section, sort_keys=True, default=str)


def in_valid(value: float, text: str) -> bool:
    """Whether ``value`` lies in an interval written ``(lo, hi]``, ``[lo, hi)`` ... (``valid:`` in the YAML)."""
    lo_open, hi_open = text[0] == "(", text[-1] == ")"
    lo, hi = (float(x) for x in text[1:-1].split(","))
    return (lo < value if lo_open else lo <= value) and (value < hi if hi_open else value <= hi)


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
    if not in_valid(value, text):
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
        left = _left_out(ds, cfg, deposit)
        rec.derived(
            f"composition[{ore}]",
            total,
            "percent of TREO (raw sum)",
            f"deposit_composition '{deposit}' (source {','.join(sorted(set(c['source_id'])))}), "
            "elements grouped as in the config and normalised to sum to 1; missing or '<' values count as given/0"
            + (f"; left out of the modelled basket: {left}" if left else ""),
        )
    return pd.DataFrame(rows).T, members  # ore x element shares; ore x raw element percent


def _left_out(ds: Dataset, cfg: dict, deposit: str) -> str:
    """The unmodelled elements of ``deposit`` with their percent of TREO (config ``unmodelled_elements``)."""
    skip = cfg.get("unmodelled_elements") or {}
    if not skip:
        return ""
    comp = ds.table("deposit_composition", deposit=deposit)
    comp = comp[comp["element"].isin(skip) & comp["qualifier"].isna() & comp["pct_of_treo"].notna()]
    have = comp.groupby("element")["pct_of_treo"].sum()
    return ", ".join(f"{e} {float(v):g} %" for e, v in have.items())


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
            heavy = rec.data(
                f"mining_ionic_quota[{r}]",
                float(q.loc[q["category"] == "medium and heavy REE", "value"].iloc[0]) / 1000.0,
                "kt REO",
                "china_export_quotas",
                f"year={y}, measure=mining_quota, category=medium and heavy REE",
                q["source_id"],
            )
            # The ionic (medium/heavy) quota has stayed near 19.1 kt a year while the hard-rock
            # quota grew, so the tonnage, not the share, carries over to other years.
            heavy = min(heavy, 0.5 * v)
            out[(r, spec["light"])] = v - heavy
            for ore, s in spec["heavy"].items():
                out[(r, ore)] = heavy * rec.assume(f"heavy_ore_split[{r},{ore}]", s, "share", spec["basis"])
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


def _producer_reports(ds: Dataset, year: int) -> pd.DataFrame:
    """Producers' reported cash costs and realized prices up to ``year`` (``processing_capacity``)."""
    rows = ds.table("processing_capacity", stage_code="mining", metric_code=["cash_cost", "realized_price"])
    return rows[rows["year"] <= year]


def _reported_cash_share(reports: pd.DataFrame, year: int, region: str, rec: _Recorder) -> float | None:
    """A region's mine cash cost as a share of its realized price, from the producer's reports.

    The producer's latest reported cash production cost (USD/t REO, ``metric_code`` ``cash_cost``
    in ``processing_capacity``, year at most the reference year) over its realized concentrate
    price in the reference year (``realized_price``): the cost of its last report against the
    year's price, so the share moves with the price (MP Materials: 1,653 / 11,636 = 0.14 in 2022,
    2,020 / 4,717 = 0.43 in 2024) instead of a fixed share of whatever the reference year's
    price was (a share fitted to 2024 puts the 2022 world's cash cost about 3x too high). It is
    a *share*: the builder applies it to the model's concentrate value, which is not MP's
    realized price (2.75 against 4.72 USD/kg in 2024), so the model's cash cost in USD/kg is not
    MP's (1.18 against 2.02 USD/kg in 2024). None when the region's mines report no cost, no
    price for the reference year, or several facilities. ``reports``: :func:`_producer_reports`.
    """
    rows = reports[reports["iso3"] == region]
    if rows.empty or rows["facility"].nunique() != 1:
        return None
    cost = rows[rows["metric_code"] == "cash_cost"].sort_values("year")
    price = rows[(rows["metric_code"] == "realized_price") & (rows["year"] == year)]
    if cost.empty or price.empty:
        return None
    c, p = cost.iloc[-1], price.iloc[-1]
    return rec.derived(
        f"cash_cost_share[{region}]",
        float(c["value"]) / float(p["value"]),
        "share of the reference price",
        f"processing_capacity cash_cost {c['year']} ({c['value']:,.0f} USD/t REO, source {c['source_id']}) / "
        f"realized_price {p['year']} ({p['value']:,.0f} USD/t REO, source {p['source_id']}); "
        "the latest reported cost against the reference year's price, applied to the model's concentrate value",
    )


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
    # A year whose heavy-RE supply cannot carry the recipe (e.g. a vintage view with less
    # Myanmar output): magnets take at most this share of the element, with leaner grades.
    cap = cfg["magnet_max_share_of_heavy"]
    for e in ("Dy", "Tb"):
        if world * recipe[e] * k[e] > cap["value"] * float(supply[e]):
            recipe[e] = rec.derived(
                f"magnet_recipe[{e}] (limited by supply)",
                cap["value"] * float(supply[e]) / (world * k[e]),
                "t/t magnet",
                f"the assumed recipe would take more than {cap['value']:.0%} of the year's {e} supply "
                f"({cap['basis']})",
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
