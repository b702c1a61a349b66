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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reesim.backtest.episode import Episode, Series
from reesim.backtest.scores import align, score
from reesim.errors import InputError
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
    """First and last day of ``YYYY``, ``YYYY-Qn``, ``YYYY-MM`` or ``YYYY-MM-DD``; None for other forms."""
    text = str(text).strip()
    try:
        if len(text) == 4:
            y = int(text)
            return dt.date(y, 1, 1), dt.date(y, 12, 31)
        if len(text) == 7 and text[5] == "Q":
            y, q = int(text[:4]), int(text[6])
            if not 1 <= q <= 4:
                return None
            end = dt.date(y + (q == 4), (3 * q) % 12 + 1, 1) - dt.timedelta(days=1)
            return dt.date(y, 3 * q - 2, 1), end
        if len(text) == 7:
            y, m = int(text[:4]), int(text[5:7])
            end = (dt.date(y + (m == 12), m % 12 + 1, 1)) - dt.timedelta(days=1)
            return dt.date(y, m, 1), end
        d = dt.date.fromisoformat(text)
        return d, d
    except ValueError:
        return None


def observed_points(ds, s: Series) -> pd.DataFrame:
    """The observed series: start, end, value (in the series' unit), source_id, period text.

    Prices in USD/t are converted to USD/kg; other price units are left out (no exchange
    rates in the dataset). Trade quantities are converted from kg to t.
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
            if r.unit == "USD/t":
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


def simulated_points(res: Result, world: World, s: Series) -> pd.DataFrame:
    """The simulated series per step: start, end, value (see :class:`~reesim.backtest.episode.Simulated`)."""
    q = s.simulated
    steps = _steps(res)
    if q.kind == "price" and q.region is not None:
        p = res.prices
        v = p[(p["commodity"] == q.commodity) & (p["region"] == q.region)].set_index("period")["usd_per_kg"]
    elif q.kind == "price":
        p = res.prices
        p = p[p["commodity"] == q.commodity]
        own = p[p["region"] == "CHN"].set_index("period")["usd_per_kg"]
        tr = res.trade
        tr = tr[(tr["commodity"] == q.commodity) & (tr["exporter"] == "CHN") & (tr["tonnes"] > 0)]
        e = world.edges
        e = e[(e["commodity"] == q.commodity) & (e["origin"] == "CHN")].rename(columns={"dest": "importer"})
        tr = tr.merge(e[["importer", "transport"]], on="importer", how="left").merge(
            p.rename(columns={"region": "importer"})[["period", "importer", "usd_per_kg"]],
            on=["period", "importer"],
        )
        tr["fob_t"] = (tr["usd_per_kg"] - tr["transport"].fillna(0.0)) * tr["tonnes"]
        g = tr.groupby("period")[["fob_t", "tonnes"]].sum()
        fob = g["fob_t"] / g["tonnes"]
        v = own.copy()
        v.update(fob)
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

    def __init__(self, view) -> None:
        self.view = view
        self.read: list[tuple[str, pd.DataFrame]] = []
        self.as_of_date = view.as_of_date
        self.version = view.version

    def table(self, name: str, **filters):
        rows = self.view.table(name, **filters)
        if "source_id" in rows.columns:
            self.read.append((name, rows))
        return rows

    def report(self, full) -> dict:
        """Rows read per table, the latest observation, and every row beyond the cut-off (must be exceptions)."""
        vint = full.table("sources").set_index("source_id")["vintage_date"]
        cut = pd.Timestamp(self.as_of_date)
        tables: dict[str, dict] = {}
        beyond = []
        for name, rows in self.read:
            t = tables.setdefault(name, {"rows_read": 0, "latest_observed": None, "sources": set()})
            t["rows_read"] += len(rows)
            t["sources"].update(rows["source_id"])
            if "observed_end" in rows.columns and rows["observed_end"].notna().any():
                last = pd.Timestamp(rows["observed_end"].max()).date().isoformat()
                t["latest_observed"] = max(filter(None, [t["latest_observed"], last]))
            v = pd.to_datetime(rows["source_id"].map(vint))
            late = (v > cut) | (
                pd.to_datetime(rows.get("observed_end")) > cut if "observed_end" in rows else False
            )
            for r, is_late in zip(rows.itertuples(index=False), np.asarray(late), strict=True):
                if is_late:
                    beyond.append(
                        {"table": name, "source_id": r.source_id, "vintage": str(vint.get(r.source_id))}
                    )
        for t in tables.values():
            t["sources"] = sorted(t["sources"])
        uniq = [dict(x) for x in {tuple(sorted(b.items())) for b in beyond}]
        return {
            "as_of": self.as_of_date.isoformat(),
            "tables": tables,
            "rows_beyond_cutoff": sorted(uniq, key=str),
        }


@dataclass(frozen=True)
class BacktestResult:
    """A backtest's outcome: status, observed and simulated paths, scores, knowledge audit."""

    episode: Episode
    status: str  # "run" or "blocked"
    reason: str | None
    paths: pd.DataFrame  # label, path (observed / simulated / counterfactual), start, end, value, source_id
    scores: pd.DataFrame  # one row per series
    audit: dict
    results: dict[str, Result] = field(default_factory=dict, repr=False)


def _scenarios(ep: Episode):
    from reesim.scenario.load import parse

    data = {**ep.scenario}
    data.setdefault("name", f"backtest-{ep.name}")
    sc = parse(data, f"episode {ep.name}: scenario")
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
    view = full.as_of(
        ep.knowledge.as_of, exceptions=tuple((e.table, e.filters) for e in ep.knowledge.exceptions)
    )
    audit = _Audit(view)
    sc, cf_sc = _scenarios(ep)
    first, last = dt.date(sc.horizon.start, 1, 1), dt.date(sc.horizon.end, 12, 31)
    observed = {}
    for s in ep.series:
        o = observed_points(full, s)
        observed[s.label] = o[(o["end"] >= first) & (o["start"] <= last)].reset_index(drop=True)
    try:
        if progress:
            progress("calibrating the world on the vintage view")
        world = build_default_world(ep.knowledge.reference_year, audit)
    except InputError as exc:
        gaps = knowledge_gaps(audit.view, ep.knowledge.reference_year)
        exc = InputError(f"{exc}. As of {ep.knowledge.as_of} the dataset holds: {'; '.join(gaps)}")
        paths = (
            pd.concat([o.assign(label=k, path="observed") for k, o in observed.items()], ignore_index=True)
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
    paths = (
        china_quota_paths(audit, world, sc.horizon.start, sc.horizon.end) if ep.china_mining_quota else None
    )
    if progress:
        progress("simulating the counterfactual")
    cf = simulate(cf_sc, world=world, capacity_paths=paths)
    if progress:
        progress("simulating the episode")
    res = simulate(sc, counterfactual=cf, world=world, capacity_paths=paths)
    frames, rows = [], []
    for s in ep.series:
        obs = observed[s.label]
        sim = simulated_points(res, world, s)
        cfs = simulated_points(cf, world, s)
        a = align(obs[["start", "end", "value"]], sim)
        sc_ = score(a, ep.pre_episode)
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
        frames += [
            obs.assign(label=s.label, path="observed"),
            sim.assign(label=s.label, path="simulated", source_id=""),
            cfs.assign(label=s.label, path="counterfactual", source_id=""),
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


def knowledge_gaps(view, year: int) -> list[str]:
    """What a vintage view holds of the inputs a world of ``year`` needs (for a blocked backtest's reason)."""
    out = []
    mp = view.table("mine_production")
    mp = mp[(mp["year"] == year) & (mp["iso3"] != "WLD")]
    out.append(
        f"mine production by country for {year}: {len(mp)} row(s)"
        + (f" ({', '.join(mp['iso3'])})" if len(mp) else "")
    )
    p = view.table("prices")
    p = p[(p["market_code"] == "fob_china") & (p["form_code"] == "oxide") & (p["year_start"] == year)]
    out.append(f"FOB China oxide prices for {year}: {', '.join(sorted(set(p['element']))) or 'none'}")
    for t in ("deposit_composition", "processing_capacity", "demand_by_application"):
        out.append(f"{t}: {len(view.table(t))} row(s)")
    return out


def china_quota_paths(ds, world: World, first: int, last: int) -> dict[str, dict[int, float]]:
    """China's mining capacity by year (kt/yr): its annual mining quota as known to ``ds``.

    Years after the last known quota keep that quota; the total is split over China's mining
    processes in the proportions of the start world (as in the calibration run).
    """
    q = ds.table("china_export_quotas", measure="mining_quota", period="year", category="all REE")
    q = q[q["value"].notna()]
    known = {int(y): float(v) / 1000.0 for y, v in zip(q["year"], q["value"], strict=True)}
    if not known:
        raise InputError("china_mining_quota: no annual mining quota of China is known on the cut-off")
    p = world.processes
    chn = p[(p["region"] == "CHN") & (p["kind"] == "mining")]
    shares = chn["capacity"].astype(float) / chn["capacity"].astype(float).sum()
    total = {}
    for y in range(first, last + 1):
        past = [k for k in known if k <= y]
        if past:
            total[y] = known[max(past)]
    return {
        pid: {y: t * float(s) for y, t in total.items()}
        for pid, s in zip(chn["process"], shares, strict=True)
    }


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
