"""Running a backtest: calibrate on a vintage view, simulate the policies as they happened, score.

1. The world is built from ``Dataset.as_of(cut-off)`` plus the episode's named exceptions;
   every row the calibration reads is recorded (the knowledge audit), so the output shows
   what it knew and that nothing observed or published after the cut-off slipped in except
   the named exceptions.
2. The episode scenario (policies as they happened) and its counterfactual (the same without
   the episode's shocks) are simulated on that world.
3. Each observed series (from the full dataset, with its sources) is aligned with the
   simulated one and scored (:mod:`reesim.backtest.scores`); the counterfactual's peak
   multiple shows how much of the move the shocks explain in the model.

When the calibration cannot be built from what was known (missing data), the backtest is
``blocked``: the observed series are still extracted and shown, with the reason and the data
that would be needed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reesim.backtest.episode import Episode, Series
from reesim.backtest.scores import align, score
from reesim.errors import InputError, suggest
from reesim.instruments.quota import separation_path
from reesim.simulate.paths import mining_paths
from reesim.simulate.result import Result
from reesim.world.world import World

VALUE_COLUMN = {
    "prices": "price",
    "trade_flows": "quantity_kg",
    "mine_production": "production_t_reo",
    "china_export_quotas": "value",
}
TIME_COLUMN = {
    "prices": "date",
    "trade_flows": "year",
    "mine_production": "year",
    "china_export_quotas": "year",
}


def period_bounds(text: str) -> tuple[dt.date, dt.date] | None:
    """First and last day of a single period (``YYYY``, ``YYYY-Qn``, ``YYYY-MM``, ``YYYY-MM-DD``);
    None for spans of years or months, which are not points of a series."""
    from reesim.data.periods import first_day, last_day

    text = str(text).strip()
    if "/" in text or re.fullmatch(r"\d{4}-\d{4}", text):
        return None
    first, last = first_day(text), last_day(text)
    return (first, last) if first is not None and last is not None else None


def observed_points(ds, s: Series) -> pd.DataFrame:
    """The observed series: start, end, value (in the series' unit), source_id, period text.

    Prices in USD/t are converted to USD/kg. A series in another price unit (``CNY/t``: China's
    domestic quotes) keeps the rows in that unit as printed; rows in any other unit are left
    out (no exchange rates in the dataset). Trade quantities are converted from kg to t.
    """
    rows = ds.table(s.observed.table, preferred=True, **s.observed.filters)
    col = VALUE_COLUMN[s.observed.table]
    out = []
    for r in rows.itertuples(index=False):
        value = getattr(r, col)
        if value is None or pd.isna(value):
            continue
        value = float(value)
        if s.observed.table == "prices":
            if not s.in_model_units:
                if r.unit != s.unit:
                    continue
            elif r.unit == "USD/t":
                value /= 1000.0
            elif r.unit != "USD/kg":
                continue
        elif s.observed.table == "trade_flows":
            value /= 1000.0
        bounds = period_bounds(getattr(r, TIME_COLUMN[s.observed.table]))
        if bounds is None:
            continue
        out.append(
            {
                "start": bounds[0],
                "end": bounds[1],
                "value": value,
                "period": str(getattr(r, TIME_COLUMN[s.observed.table])),
                "source_id": r.source_id,
            }
        )
    return pd.DataFrame(out, columns=["start", "end", "value", "period", "source_id"]).sort_values(
        ["start", "end"]
    )


def _steps(res: Result) -> pd.DataFrame:
    from reesim.scenario.spec import Horizon
    from reesim.simulate.steps import make_steps

    steps = make_steps(Horizon(**res.meta["horizon"]))
    rows = []
    for k, st in enumerate(steps):
        nxt = steps[k + 1].start if k + 1 < len(steps) else dt.date(st.year + 1, 1, 1)
        rows.append({"period": st.period, "start": st.start, "end": nxt - dt.timedelta(days=1)})
    return pd.DataFrame(rows)


def licence_rents(res: Result) -> pd.DataFrame:
    """Scarcity rent of China's export licences per kg of each good and destination, by step:
    period, commodity, importer, rent (USD/kg), the sum over the licences binding on the route
    of their shadow price times the good's content (the result's ``licence_rents``)."""
    cols = ["period", "commodity", "importer", "rent"]
    t = res.table("licence_rents")
    t = t[t["exporter"] == "CHN"]
    if t.empty:
        return pd.DataFrame(columns=cols)
    return (
        t.groupby(["period", "commodity", "importer"], as_index=False)["rent_usd_per_kg"]
        .sum()
        .rename(columns={"rent_usd_per_kg": "rent"})[cols]
    )


def export_weighted_rent(res: Result, commodity: str, rents: pd.DataFrame) -> pd.Series:
    """Licence rent per kg on China's exports of ``commodity`` by period (USD/kg), the routes'
    rents (``rents`` from :func:`licence_rents`) weighted by their tonnes; periods without
    exports are absent."""
    tr = res.trade
    tr = tr[(tr["commodity"] == commodity) & (tr["exporter"] == "CHN") & (tr["tonnes"] > 0)]
    r = rents[rents["commodity"] == commodity][["period", "importer", "rent"]]
    tr = tr.merge(r, on=["period", "importer"], how="left")
    g = (tr["rent"].astype(float).fillna(0.0) * tr["tonnes"]).groupby(tr["period"]).sum()
    return g / tr.groupby("period")["tonnes"].sum()


def simulated_points(res: Result, s: Series, rents: pd.DataFrame | None = None) -> pd.DataFrame:
    """The simulated series per step: start, end, value (see :class:`~reesim.backtest.episode.Simulated`).

    The FOB China price is China's own price of the good, the price the default world is
    calibrated to (USGS MCS FOB China averages, :mod:`reesim.world.default_data`), plus, with
    ``licence_rent: included``, the licence rent per kg on China's exports of the good weighted
    by their tonnes (``rents`` from :func:`licence_rents`; China's price alone in a step it
    exports nothing). Free on board is the price at China's border: transport, the importer's
    duties and the calibrated route term (a buyers' preference where negative,
    :mod:`reesim.solve.routes`) come after it, so none of them is in it.
    """
    q = s.simulated
    steps = _steps(res)
    if q.kind == "price" and q.region is not None:
        p = res.prices
        v = p[(p["commodity"] == q.commodity) & (p["region"] == q.region)].set_index("period")["usd_per_kg"]
    elif q.kind == "price":
        p = res.prices
        v = p[(p["commodity"] == q.commodity) & (p["region"] == "CHN")].set_index("period")["usd_per_kg"]
        if q.licence_rent == "included" and rents is not None and len(rents):
            v = v + export_weighted_rent(res, q.commodity, rents).reindex(v.index).fillna(0.0)
    elif q.kind == "flow":
        tr = res.trade
        tr = tr[
            (tr["exporter"] == q.exporter)
            & (tr["importer"] == q.importer)
            & tr["commodity"].isin(q.commodities)
        ]
        v = tr.groupby("period")["tonnes_per_year"].sum()
    else:
        pr = res.production
        pr = pr[(pr["kind"] == q.stage) & (pr["region"] == q.region)]
        v = pr.groupby("period")["tonnes_per_year"].sum()
    out = steps.assign(value=steps["period"].map(v).astype(float))
    if q.kind in ("flow", "production"):
        out["value"] = out["value"].fillna(0.0)
    return out.dropna(subset=["value"])[["period", "start", "end", "value"]]


class _Audit:
    """A dataset view that records every row the calibration reads."""

    def __init__(self, view, full=None, exceptions=()) -> None:
        self.view = view
        self.full = full
        self.exceptions = tuple(exceptions)
        self.read: list[tuple[str, pd.DataFrame]] = []
        self.as_of_date = view.as_of_date
        self.version = view.version

    def table(self, name: str, **filters):
        rows = self.view.table(name, **filters)
        if "source_id" in rows.columns:
            self.read.append((name, rows))
        return rows

    def _explained(self, name: str) -> pd.DataFrame:
        """The rows of ``name`` that the named exceptions admit (from the full dataset; read once per table)."""
        cache = self.__dict__.setdefault("_admitted", {})
        if name not in cache:
            frames = [self.full.table(e.table, **e.filters) for e in self.exceptions if e.table == name]
            cache[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return cache[name]

    def report(self, full) -> dict:
        """Rows read per table, the latest observation, every row beyond the cut-off, and which of
        those no named exception admits (``unexplained``: must be empty)."""
        vint = full.table("sources").set_index("source_id")["vintage_date"]
        cut = pd.Timestamp(self.as_of_date)
        tables: dict[str, dict] = {}
        beyond, unexplained = [], []
        for name, rows in self.read:
            t = tables.setdefault(name, {"rows_read": 0, "latest_observed": None, "sources": set()})
            t["rows_read"] += len(rows)
            t["sources"].update(rows["source_id"])
            if "observed_end" in rows.columns and rows["observed_end"].notna().any():
                last = pd.Timestamp(rows["observed_end"].max()).date().isoformat()
                t["latest_observed"] = max(filter(None, [t["latest_observed"], last]))
            late = pd.to_datetime(rows["source_id"].map(vint)) > cut
            if "observed_end" in rows.columns:
                late |= pd.to_datetime(rows["observed_end"]) > cut
            late_rows = rows[np.asarray(late)]
            if late_rows.empty:
                continue
            key = list(
                dict.fromkeys([c for c in full.spec(name).key if c in late_rows.columns] + ["source_id"])
            )
            ok = self._explained(name)
            if len(ok):
                m = late_rows.merge(ok[key].drop_duplicates(), on=key, how="left", indicator=True)
                admitted = (m["_merge"] == "both").to_numpy()
            else:
                admitted = np.zeros(len(late_rows), dtype=bool)
            for r, a in zip(late_rows.itertuples(index=False), admitted, strict=True):
                item = {"table": name, "source_id": r.source_id, "vintage": str(vint.get(r.source_id))}
                beyond.append(item)
                if not a:
                    unexplained.append(item)
        for t in tables.values():
            t["sources"] = sorted(t["sources"])

        def uniq(items):
            return sorted((dict(x) for x in {tuple(sorted(b.items())) for b in items}), key=str)

        return {
            "as_of": self.as_of_date.isoformat(),
            "tables": tables,
            "rows_beyond_cutoff": uniq(beyond),
            "unexplained": uniq(unexplained),
        }


@dataclass(frozen=True)
class BacktestResult:
    """A backtest's outcome: status, observed and simulated paths, scores, knowledge audit."""

    episode: Episode
    status: str  # "run" or "blocked"
    reason: str | None
    paths: pd.DataFrame  # label, path (observed/simulated/counterfactual), start, end, value, unit, source_id
    scores: pd.DataFrame  # one row per series
    audit: dict
    results: dict[str, Result] = field(default_factory=dict, repr=False)


def _scenarios(ep: Episode):
    from reesim.scenario.load import parse

    data = {**ep.scenario}
    if "extends" in data:
        raise InputError(
            f"episode {ep.name}: scenario.extends: not allowed in an episode (got {data['extends']!r}); "
            "spell out the policies as they happened"
        )
    data.setdefault("name", f"backtest-{ep.name}")
    sc = parse(data, f"episode {ep.name}: scenario")
    ry = sc.world.reference_year
    if ry is not None and ry != ep.knowledge.reference_year:
        raise InputError(
            f"episode {ep.name}: scenario.world.reference_year: {ry} differs from knowledge.reference_year "
            f"{ep.knowledge.reference_year}; the world is built from the knowledge (drop it or make them equal)"
        )
    cf_data = {
        **data,
        "name": f"{data['name']}-counterfactual",
        "instruments": [i for i in data.get("instruments", []) if i.get("name") not in ep.shocks],
    }
    return sc, parse(cf_data, f"episode {ep.name}: counterfactual")


def run_backtest(ep: Episode, progress: Callable[[str], None] | None = None) -> BacktestResult:
    """Run an episode (see the module docstring)."""
    from reesim.data import default_dataset
    from reesim.simulate import simulate
    from reesim.world.default import build_default_world

    full = default_dataset()
    if ep.knowledge.reference_year > ep.knowledge.as_of.year:
        raise InputError(
            f"episode {ep.name}: knowledge.reference_year: {ep.knowledge.reference_year} is after the cut-off "
            f"{ep.knowledge.as_of} (a world can only be calibrated on a year that had ended)"
        )
    for k, e in enumerate(ep.knowledge.exceptions):
        try:
            n = len(full.table(e.table, **e.filters))
        except InputError as exc:
            raise InputError(f"episode {ep.name}: knowledge.exceptions[{k}]: {exc}") from None
        if n == 0:
            raise InputError(
                f"episode {ep.name}: knowledge.exceptions[{k}]: no row of table '{e.table}' matches {e.filters}"
            )
    view = full.as_of(
        ep.knowledge.as_of, exceptions=tuple((e.table, e.filters) for e in ep.knowledge.exceptions)
    )
    audit = _Audit(view, full, ep.knowledge.exceptions)
    sc, cf_sc = _scenarios(ep)
    first, last = dt.date(sc.horizon.start, 1, 1), dt.date(sc.horizon.end, 12, 31)
    observed = {}
    for s in ep.series:
        o = observed_points(full, s)
        observed[s.label] = o[(o["end"] >= first) & (o["start"] <= last)].reset_index(drop=True)
    try:
        if progress:
            progress("calibrating the world on the vintage view")
        world = build_default_world(ep.knowledge.reference_year, audit, sc.world.assumptions)
    except InputError as exc:
        gaps = knowledge_gaps(audit.view, ep.knowledge.reference_year)
        exc = InputError(f"{exc}. As of {ep.knowledge.as_of} the dataset holds: {'; '.join(gaps)}")
        paths = (
            pd.concat(
                [observed[s.label].assign(label=s.label, path="observed", unit=s.unit) for s in ep.series],
                ignore_index=True,
            )
            if observed
            else pd.DataFrame()
        )
        scores = pd.DataFrame(
            [
                {
                    "series": s.label,
                    "unit": s.unit,
                    "verdict": "not run",
                    **_observed_only(observed[s.label], ep.pre_episode),
                }
                for s in ep.series
            ]
        )
        return BacktestResult(ep, "blocked", str(exc), paths, scores, audit.report(full))
    check_series(ep, world)
    paths = capacity_paths(ep, audit, world, sc.horizon.start, sc.horizon.end)
    if progress:
        progress("simulating the counterfactual")
    cf = simulate(cf_sc, world=world, capacity_paths=paths)
    if progress:
        progress("simulating the episode")
    res = simulate(sc, counterfactual=cf, world=world, capacity_paths=paths)
    frames, rows = [], []
    rents, rents_cf = licence_rents(res), licence_rents(cf)
    for s in ep.series:
        obs = observed[s.label]
        sim = simulated_points(res, s, rents)
        cfs = simulated_points(cf, s, rents_cf)
        a = align(obs[["start", "end", "value"]], sim)
        sc_ = score(a, ep.pre_episode)
        if not s.in_model_units:  # e.g. yuan against the model's dollars: changes only
            sc_["log_rmse"] = float("nan")
        if s.role == "input":
            sc_["verdict"] = "input"
        ccf = score(align(obs[["start", "end", "value"]], cfs), ep.pre_episode)
        rows.append(
            {
                "series": s.label,
                "unit": s.unit,
                **sc_,
                "peak_multiple_counterfactual": ccf["peak_multiple_simulated"],
                "sources": ",".join(sorted(set(obs["source_id"]))),
                "note": s.note,
            }
        )
        # a yuan series is set against the model's price in dollars
        model_unit = s.unit if s.in_model_units else "USD/kg"
        frames += [
            obs.assign(label=s.label, path="observed", unit=s.unit),
            sim.assign(label=s.label, path="simulated", source_id="", unit=model_unit),
            cfs.assign(label=s.label, path="counterfactual", source_id="", unit=model_unit),
        ]
    paths = pd.concat(frames, ignore_index=True)
    return BacktestResult(
        ep,
        "run",
        None,
        paths,
        pd.DataFrame(rows),
        audit.report(full),
        {"scenario": res, "counterfactual": cf},
    )


def check_series(ep: Episode, world: World) -> None:
    """Every simulated field names something of the world (else an InputError naming the series)."""
    for k, s in enumerate(ep.series):
        q = s.simulated
        where = f"episode {ep.name}: series[{k}] ({s.label}).simulated"
        for field_ in ("region", "exporter", "importer"):
            v = getattr(q, field_)
            if v is not None and v not in world.regions:
                raise InputError(f"{where}.{field_}: " + suggest(v, world.regions, what="region"))
        for c in ([q.commodity] if q.commodity else []) + list(q.commodities):
            if c not in world.commodities:
                raise InputError(f"{where}.commodity: " + suggest(c, world.commodities, what="commodity"))


def knowledge_gaps(view, year: int) -> list[str]:
    """What a vintage view holds of the inputs a world of ``year`` needs (for a blocked backtest's reason)."""
    out = []
    mp = view.table("mine_production")
    mp = mp[(mp["year"] == year) & (mp["iso3"] != "WLD")]
    out.append(
        f"mine production by country for {year}: {len(mp)} row(s)"
        + (f" ({', '.join(mp['iso3'].fillna(mp['country']).astype(str))})" if len(mp) else "")
    )
    p = view.table("prices")
    p = p[(p["market_code"] == "fob_china") & (p["form_code"] == "oxide") & (p["year_start"] == year)]
    out.append(f"FOB China oxide prices for {year}: {', '.join(sorted(set(p['element']))) or 'none'}")
    for t in ("deposit_composition", "processing_capacity", "demand_by_application"):
        out.append(f"{t}: {len(view.table(t))} row(s)")
    return out


def capacity_paths(
    ep: Episode, ds, world: World, first: int, last: int
) -> dict[str, dict[int, float]] | None:
    """The episode's mining (and China's separation) capacity paths from data known on the cut-off.

    China's mining follows its quota (``china_mining_quota``); each region of
    ``known_mine_output`` mines what USGS published for it (:func:`published_output_paths`). Ore
    from these regions is separated in China (Myanmar's concentrate goes to Chinese separators;
    USGS MCS 2025, footnote 12: Myanmar's output is estimated from China's imports), so China's
    separation capacity grows with their output above the start world's as with the quota.
    """
    if not ep.china_mining_quota and not ep.known_mine_output:
        return None
    paths: dict[str, dict[int, float]] = {}
    extra: dict[int, float] = dict.fromkeys(range(first, last + 1), 0.0)
    for iso in ep.known_mine_output:
        if iso not in world.regions:
            raise InputError(
                f"episode {ep.name}: known_mine_output: " + suggest(iso, world.regions, what="region")
            )
        totals = published_output_paths(ds, iso, first, last)
        if not totals:
            raise InputError(
                f"episode {ep.name}: known_mine_output: no mine production of {iso} is known on the cut-off "
                f"for {first}-{last} or before"
            )
        paths |= mining_paths(world, iso, totals)
        mined0 = float(world.meta.get("reference", {}).get("mine_production_kt", {}).get(iso, 0.0))
        for y, t in totals.items():
            extra[y] = extra.get(y, 0.0) + t - mined0
    if ep.china_mining_quota:
        paths |= china_quota_paths(ds, world, first, last, extra_ore=extra)
    else:  # Myanmar's ore still widens China's separation without the quota path
        paths |= separation_path(world, "CHN", extra)
    return paths


def published_output_paths(ds, iso: str, first: int, last: int) -> dict[int, float]:
    """``iso``'s mine production by year (kt REO) as ``ds`` holds it (preferred rows), for ``first``..``last``.

    Years after the last published one keep its figure; a withheld figure sets nothing.
    """
    mp = ds.table("mine_production", preferred=True)
    mp = mp[(mp["iso3"] == iso) & mp["production_t_reo"].notna()]
    known = {int(y): float(v) / 1000.0 for y, v in zip(mp["year"], mp["production_t_reo"], strict=True)}
    return _held_forward(known, first, last)


def china_quota_paths(
    ds, world: World, first: int, last: int, extra_ore: dict[int, float] | None = None
) -> dict[str, dict[int, float]]:
    """China's mining and separation capacity by year (kt/yr), from its annual mining quota as known to ``ds``.

    Years after the last known quota keep that quota; the total is split over China's mining
    processes in the proportions of the start world (as in the calibration run). China's
    separation capacity grows by the quota's added tonnage (plus ``extra_ore``, kt/yr of ore from
    other regions separated in China above the start world's), with the start world's headroom:
    MIIT issues the mining and the smelting-separation quotas together (2024: 270 and 254 kt,
    ``china_export_quotas``), and a start world's separation sized for its reference output
    could not separate a larger quota.
    """
    q = ds.table("china_export_quotas", measure="mining_quota", period="year", category="all REE")
    q = q[q["value"].notna()]
    known = {int(y): float(v) / 1000.0 for y, v in zip(q["year"], q["value"], strict=True)}
    if not known:
        raise InputError("china_mining_quota: no annual mining quota of China is known on the cut-off")
    p = world.processes
    mined0 = float(p.loc[(p["region"] == "CHN") & (p["kind"] == "mining"), "capacity"].astype(float).sum())
    total = _held_forward(known, first, last)
    extra_ore = extra_ore or {}
    added = {y: t - mined0 + extra_ore.get(y, 0.0) for y, t in total.items()}
    return mining_paths(world, "CHN", total) | separation_path(world, "CHN", added)


def _held_forward(known: dict[int, float], first: int, last: int) -> dict[int, float]:
    """``known`` values by year over ``first``..``last``, each year taking the latest known at or
    before it (years before the first known one are left out)."""
    out = {}
    for y in range(first, last + 1):
        past = [k for k in known if k <= y]
        if past:
            out[y] = known[max(past)]
    return out


def _observed_only(obs: pd.DataFrame, pre: dt.date) -> dict:
    """Observed peak multiple and direction when nothing could be simulated."""
    s = score(obs.assign(simulated=obs["value"]), pre)
    return {
        "points": s["points"],
        "peak_multiple_observed": s["peak_multiple_observed"],
        "peak_observed": s["peak_observed"],
        "direction_observed": s["direction_observed"],
        "sources": ",".join(sorted(set(obs["source_id"]))),
    }
