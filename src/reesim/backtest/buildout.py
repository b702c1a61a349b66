"""How fast plants outside China were built: the build-out record against the model's lead times.

Each plant of the ``plant_milestones`` table (announcement, investment decision, construction
start, first feed, first saleable output, nameplate, capex as budgeted and as spent, output by
year) is reduced to one row: its start (construction start, else the final investment decision),
its first output (first saleable product, else first feed) and the years between them, its
nameplate and its first-year output share, and its capex overrun (last figure over the first
budget, in the currency the sources give: no exchange rate is assumed).

The model's lead time for the plant's stage is ``Dynamics.lead_time_years`` (separation 3 years,
metal and magnet 2, mining 7: DESIGN §4 ranges), plus ``TechnologyBan.extra_lead_time_years``
(2 years by default) for a plant outside China started after China's technology-export ban of
2023-12-21 (policy_events). :func:`score` compares them with what happened, and calibrates a lead
time on the plants started before a year to score it on those started from that year on (held
out by start year), the usual out-of-sample check of a forecast (e.g. Diebold, *Elements of
Forecasting*, 4th ed., 2007, ch. 12).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import pandas as pd

from reesim.data.periods import first_day, last_day
from reesim.scenario.spec import Dynamics, TechnologyBan

#: plant stage (as in the table) -> the investment rule's stage for its lead time
MODEL_STAGE = {
    "mining": "mining",
    "separation": "separation",
    "heavy_separation": "separation",
    "metal": "metal",
    "magnet": "magnet",
}
#: stages China's technology ban covers (the model's ``technology_ban.stages``)
BAN_STAGES = {"separation", "metal", "magnet"}
#: the technology ban's default extra lead time outside its owner, years (its schema default)
BAN_EXTRA_YEARS: float = TechnologyBan.model_fields["extra_lead_time_years"].default


def period_mid(text: str) -> dt.date | None:
    """The midpoint of a period written as the dataset writes dates (None if it is not one)."""
    a, b = first_day(str(text)), last_day(str(text))
    if a is None or b is None:
        return None
    return a + (b - a) / 2


def _half_width_years(text: str) -> float:
    a, b = first_day(str(text)), last_day(str(text))
    return 0.0 if a is None or b is None else (b - a).days / 365.25 / 2


def ban_date(ds) -> dt.date:
    """The date of China's technology-export ban on rare-earth separation and magnet making (policy_events)."""
    ev = ds.table("policy_events")
    rows = ev[ev["instrument"].str.contains("technology export prohibition", case=False)]
    if rows.empty:
        raise ValueError("policy_events has no technology export prohibition row")
    return min(first_day(str(d)) for d in rows["date"])


def _dated(rows: pd.DataFrame) -> pd.DataFrame:
    """A plant's rows in time order (period midpoints; a budget before an actual of the same day)."""
    return rows.assign(
        _mid=[period_mid(d) for d in rows["date"]],
        _rank=(rows["milestone"] == "capex_actual").astype(int),
    ).sort_values(["_mid", "_rank"], kind="stable")


def _first(rows: pd.DataFrame, milestone: str) -> pd.Series | None:
    r = rows[rows["milestone"] == milestone]
    return None if r.empty else r.iloc[0]


def _last(rows: pd.DataFrame, milestone: str) -> pd.Series | None:
    r = rows[rows["milestone"] == milestone]
    return None if r.empty else r.iloc[-1]


#: what counts as a plant's start, in order of preference (the closest to the investment
#: rule's order, which its lead time runs from)
START_BASES = (
    ("construction_start", "construction start"),
    ("final_investment_decision", "final investment decision"),
    ("announced", "announcement"),
)


def _capex(capex: pd.DataFrame) -> tuple[float, float, str]:
    """First budget and last figure (actual if any) in one currency, or NaN without both (rows in time order).

    The currency is that of the latest figure; the first figure must be a budget and a later
    one must exist, so that the ratio compares a plan with what came of it.
    """
    nan = float("nan")
    if capex.empty:
        return nan, nan, ""
    unit = str(capex.iloc[-1]["unit"])
    same = capex[capex["unit"] == unit]
    if len(same) < 2 or same.iloc[0]["milestone"] != "capex_budget":
        return nan, nan, unit
    actual = same[same["milestone"] == "capex_actual"]
    last = (actual if len(actual) else same).iloc[-1]
    return float(same.iloc[0]["value"]), float(last["value"]), unit


def plant_record(ds) -> pd.DataFrame:
    """One row per plant: start, first output, lead time and what the model would have said.

    Columns: ``plant_id``, ``plant``, ``operator``, ``iso3``, ``stage``, ``start`` and
    ``start_basis`` (construction start, else final investment decision), ``first_output`` and
    ``output_basis`` (first saleable output, else first feed), ``lead_years`` (midpoints of
    the two periods) and ``lead_uncertainty_years`` (half the widths of the periods, e.g. a
    year-only date is +-0.5), ``waiting_years`` (a plant a source says had no output yet, the
    ``not_producing`` milestone: years from its start to that statement, a lower bound of its
    lead time), ``model_lead_years``, ``under_ban``, ``nameplate``, ``nameplate_unit`` (the
    latest stated), ``capex_first``, ``capex_last``, ``capex_unit``, ``capex_overrun``
    (last figure over the first budget, same currency) and ``sources`` (source ids).
    """
    m = ds.table("plant_milestones", preferred=True)
    dyn, ban_extra = Dynamics(), BAN_EXTRA_YEARS
    banned_from = ban_date(ds)
    out = []
    for pid, rows in m.groupby("plant_id", sort=True):
        for col in ("plant", "stage", "iso3"):  # what the record and the ban rule read: one per plant
            if rows[col].nunique() != 1:
                raise ValueError(
                    f"plant_milestones: plant {pid} has rows with several {col} values "
                    f"({', '.join(sorted(map(str, set(rows[col]))))}); one plant has one {col}"
                )
        rows = _dated(rows)
        first = rows.iloc[0]
        start, basis = None, ""
        for milestone, label in START_BASES:
            start = _first(rows, milestone)
            if start is not None:
                basis = label
                break
        output = _first(rows, "first_output")
        obasis = "first saleable output"
        if output is None:
            output, obasis = _first(rows, "first_feed"), "first feed"
        s_mid = period_mid(start["date"]) if start is not None else None
        o_mid = period_mid(output["date"]) if output is not None else None
        lead = (o_mid - s_mid).days / 365.25 if s_mid and o_mid else float("nan")
        # no output yet where a source says so: at least this long since the start (censored)
        pending = _last(rows, "not_producing")
        waiting = (
            (period_mid(pending["date"]) - s_mid).days / 365.25
            if s_mid and o_mid is None and pending is not None
            else float("nan")
        )
        unc = (
            _half_width_years(start["date"]) + _half_width_years(output["date"])
            if start is not None and output is not None
            else float("nan")
        )
        stage = MODEL_STAGE.get(str(first["stage"]))
        under_ban = bool(
            s_mid is not None and s_mid >= banned_from and first["iso3"] != "CHN" and stage in BAN_STAGES
        )
        model = dyn.lead_time_years[stage] + (ban_extra if under_ban else 0.0) if stage else float("nan")
        plate = _last(rows, "nameplate_capacity")
        c_first, c_last, c_unit = _capex(rows[rows["milestone"].isin(["capex_budget", "capex_actual"])])
        out.append(
            {
                "plant_id": pid,
                "plant": first["plant"],
                "operator": first["operator"],
                "iso3": first["iso3"],
                "stage": first["stage"],
                "start": None if start is None else str(start["date"]),
                "start_basis": basis if start is not None else "",
                "first_output": None if output is None else str(output["date"]),
                "output_basis": obasis if output is not None else "",
                "lead_years": lead,
                "waiting_years": waiting,
                "lead_uncertainty_years": unc,
                "model_lead_years": model,
                "under_ban": under_ban,
                "nameplate": float("nan") if plate is None else float(plate["value"]),
                "nameplate_unit": "" if plate is None else str(plate["unit"]),
                "capex_first": c_first,
                "capex_last": c_last,
                "capex_unit": c_unit,
                "capex_overrun": c_last / c_first if c_first > 0 else float("nan"),
                "sources": ",".join(sorted(set(rows["source_id"]))),
            }
        )
    return pd.DataFrame(out)


@dataclass(frozen=True)
class LeadScore:
    """Lead-time errors in years (actual minus predicted) on a set of plants."""

    plants: int
    bias_model: float
    mae_model: float
    calibrated_lead: float | None = None
    bias_calibrated: float | None = None
    mae_calibrated: float | None = None


def _errors(actual: list[float], predicted: list[float]) -> tuple[float, float]:
    e = [a - p for a, p in zip(actual, predicted, strict=True)]
    return statistics.fmean(e), statistics.fmean(abs(x) for x in e)


def score(record: pd.DataFrame, held_out_from: int | None = None) -> dict[str, LeadScore]:
    """Lead-time errors of the model's defaults, and of a lead calibrated on earlier plants.

    ``all``: every plant with a start and a first output, against the model's lead time.
    With ``held_out_from``, ``train`` holds the plants started before that year and ``test``
    those started in it or later; the calibrated lead is the median actual lead of the
    training plants (all stages pooled, net of the technology ban's extra years for plants
    under it, as the model adds them), and ``test`` scores both it and the model's default.
    """
    r = record.dropna(subset=["lead_years", "model_lead_years"])
    out = {}
    if len(r):
        b, m = _errors(list(r["lead_years"]), list(r["model_lead_years"]))
        out["all"] = LeadScore(len(r), b, m)
    if held_out_from is None or r.empty:
        return out
    year = r["start"].map(lambda s: first_day(str(s)).year)
    train, test = r[year < held_out_from], r[year >= held_out_from]
    if train.empty or test.empty:
        return out
    ban_extra = BAN_EXTRA_YEARS
    base = train["lead_years"] - train["under_ban"].astype(float) * ban_extra
    cal = float(statistics.median(base))
    pred_cal = [cal + (ban_extra if u else 0.0) for u in test["under_ban"]]
    bm, mm = _errors(list(test["lead_years"]), list(test["model_lead_years"]))
    bc, mc = _errors(list(test["lead_years"]), pred_cal)
    bt, mt = _errors(list(train["lead_years"]), list(train["model_lead_years"]))
    out["train"] = LeadScore(len(train), bt, mt)
    out["test"] = LeadScore(len(test), bm, mm, cal, bc, mc)
    return out


def kaplan_meier(times: list[float], observed: list[bool]) -> list[tuple[float, float]]:
    """The Kaplan-Meier estimate of the share still waiting, ``S(t)``, at each event time.

    ``times`` are durations; ``observed`` says whether each ended in the event (first output) or
    was censored (no output yet when a source said so: the duration is a lower bound). At each
    distinct event time ``t``, ``S`` is multiplied by ``1 - d / n`` (``d`` events at ``t``, ``n``
    durations at least ``t``; a censored duration equal to an event time counts as at risk:
    Kaplan & Meier 1958, *JASA* 53(282), 457-481).
    """
    if len(times) != len(observed):
        raise ValueError("times and observed differ in length")
    s, out = 1.0, []
    for t in sorted({t for t, o in zip(times, observed, strict=True) if o}):
        d = sum(1 for x, o in zip(times, observed, strict=True) if o and x == t)
        n = sum(1 for x in times if x >= t)
        s *= 1.0 - d / n
        out.append((t, s))
    return out


def km_median(times: list[float], observed: list[bool]) -> float | None:
    """The first event time at which the Kaplan-Meier share still waiting is at most a half;
    ``None`` when it never falls that far (too few events)."""
    for t, s in kaplan_meier(times, observed):
        if s <= 0.5 + 1e-12:
            return t
    return None


@dataclass(frozen=True)
class BanGroup:
    """Plants of the ban's stages outside China started before or after the ban: their lead times
    less the model's lead time without the ban (years), with the censored ones."""

    plants: tuple[str, ...]
    events: int
    censored: int
    median_excess: float | None


def ban_comparison(record: pd.DataFrame) -> dict[str, BanGroup]:
    """Lead time beyond the model's own (without the ban's extra years), before and after the ban.

    For every plant of a stage the technology ban covers with a start: its lead time (or, with no
    output yet, its waiting time, censored) less the stage's ``Dynamics.lead_time_years``; the
    groups are the plants started before China's ban and those started after it (``under_ban``).
    ``median_excess`` is the Kaplan-Meier median of that excess (:func:`km_median`). The
    difference of the two medians is what the record says of the ban's extra lead time, which
    the model assumes (``TechnologyBan.extra_lead_time_years``). Plants with a start but neither
    a first output nor a statement that they had none are left out: their status is unknown.
    """
    dyn = Dynamics()
    r = record[record["stage"].map(MODEL_STAGE).isin(BAN_STAGES)]
    out = {}
    for name, group in (("before", r[~r["under_ban"]]), ("after", r[r["under_ban"]])):
        times, observed, plants = [], [], []
        for row in group.itertuples(index=False):
            base = dyn.lead_time_years[MODEL_STAGE[row.stage]]
            if row.lead_years == row.lead_years:
                times.append(row.lead_years - base)
                observed.append(True)
            elif row.waiting_years == row.waiting_years:
                times.append(row.waiting_years - base)
                observed.append(False)
            else:
                continue
            plants.append(row.plant_id)
        out[name] = BanGroup(
            tuple(plants),
            sum(observed),
            len(observed) - sum(observed),
            km_median(times, observed) if times else None,
        )
    return out
