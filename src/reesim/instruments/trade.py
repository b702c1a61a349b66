"""Trade instruments: export bans, export quotas and licensing, export taxes, import tariffs, exclusions.

How they enter the year's equilibrium (DESIGN §3): a ban fixes the covered edges to zero;
a licence adds, per destination and covered element, a row ``sum over the listed goods of
element content x flow <= limit`` (t REO; :mod:`reesim.world.content`) whose dual is the
licence's shadow value per t of the element, and a licence cost is a specific wedge; taxes and tariffs are ad valorem wedges
(export tax on the origin price, import tariff on CIF value) iterated to a fixed point by
the solver. A tariff exclusion scales its tariff's rate by ``1 - share_excluded`` while it
lasts; at each expiry after the first the excluded share is multiplied by the renewal
probability (the expected value over renewals).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from reesim.memo import memo_of
from reesim.scenario.checks import goods_of, regions_of
from reesim.scenario.spec import (
    ExportBan,
    ExportLicensing,
    ExportTax,
    ImportTariff,
    Scenario,
    TariffExclusion,
)
from reesim.world.content import content_map
from reesim.world.world import World, floats

#: Limit used for a quota row while its instrument is not in force (rows stay in the matrix).
NOT_BINDING = 1e5  # kt/yr: 100 Mt, ~250x world mine output; 1e9 wrecks the solvers' scaling


def _memo(world: World) -> dict:
    """What does not change between a run's steps, per world (:func:`reesim.memo.memo_of`): edge
    keys, each instrument's edges, the slack limits, the quota members' layout. An instrument's
    entry keeps the instrument itself and is used only for that same object."""
    return memo_of(world)


def _edge_keys(world: World) -> set[tuple[str, str, str]]:
    memo = _memo(world)
    if "keys" not in memo:
        e = world.edges
        memo["keys"] = set(
            zip(e["commodity"].tolist(), e["origin"].tolist(), e["dest"].tolist(), strict=True)
        )
    return memo["keys"]


def _edges(inst, world: World) -> list[tuple[str, str, str]]:
    memo = _memo(world).setdefault("edges", {})
    hit = memo.get(id(inst))
    if hit is not None and hit[0] is inst:
        return hit[1]
    out = _edges_of(inst, world)
    if len(memo) >= 256:  # a long-lived (cached) world sees many scenarios' instruments: stay bounded
        memo.clear()
    memo[id(inst)] = (inst, out)
    return out


def _edges_of(inst, world: World) -> list[tuple[str, str, str]]:
    goods = goods_of(inst, world, "")
    keys = _edge_keys(world)
    if isinstance(inst, ImportTariff):
        origins = regions_of(inst.origins, world, "")
        cand = [(c, o, inst.importer) for c in goods for o in origins]
    else:
        dests = regions_of(inst.destinations, world, "")
        cand = [(c, inst.exporter, d) for c in goods for d in dests]
    return [k for k in cand if k in keys]


def quota_label(k: int, inst: ExportLicensing, dest: str | None = None, element: str | None = None) -> str:
    """Name of a quota row of instrument ``k``: ``name``, ``name:DEST`` or ``name:DEST:ELEMENT``."""
    base = inst.name or f"instruments[{k}]"
    return ":".join([base] + ([dest] if dest else []) + ([element] if element else []))


def split_quota_label(label: str) -> tuple[str, str | None, str | None]:
    """The inverse of :func:`quota_label`: ``name[:DEST[:ELEMENT]]`` -> (name, dest, element)."""
    parts = label.split(":")
    return parts[0], (parts[1] if len(parts) > 1 else None), (parts[2] if len(parts) > 2 else None)


def covered_elements(inst: ExportLicensing, world: World) -> list[str]:
    """Elements a licence binds on: ``content_of``, else those of its listed oxides and metals."""
    if inst.content_of:
        return sorted(set(inst.content_of))
    goods = goods_of(inst, world, "")
    return sorted({c.split(":", 1)[1] for c in goods if c.startswith(("oxide:", "metal:"))})


def quota_structure(scenario: Scenario, world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quota rows and their member edges (with coefficients) for every licensing instrument.

    A licence given as approval shares gets one row per destination and covered element
    (coefficient: t REO of the element per t of the good) plus one weight row per destination
    for listed goods without a covered element; a tonnage quota gets one row on gross tonnes,
    or on the content (t REO) of its ``content_of`` elements when given.
    Limits are set per step (:func:`step_policies`).
    """
    content = content_map(world) if any(isinstance(i, ExportLicensing) for i in scenario.instruments) else {}
    rows, members = [], []
    for k, inst in enumerate(scenario.instruments):
        if not isinstance(inst, ExportLicensing):
            continue
        edges = _edges(inst, world)
        elements = covered_elements(inst, world)
        if inst.tonnes_per_year is not None:  # gross tonnes, or t REO of ``content_of`` when given
            rows.append((quota_label(k, inst), NOT_BINDING))
            for e in edges:
                coef = sum(content.get(e[0], {}).get(el, 0.0) for el in inst.content_of)
                members.append((quota_label(k, inst), *e, coef if coef > 0 else 1.0))
            continue
        for dest in sorted({e[2] for e in edges}):
            here = [e for e in edges if e[2] == dest]
            for el in elements:
                mine = [(*e, content[e[0]][el]) for e in here if content.get(e[0], {}).get(el, 0.0) > 0]
                if mine:
                    rows.append((quota_label(k, inst, dest, el), NOT_BINDING))
                    members += [(quota_label(k, inst, dest, el), *m) for m in mine]
            plain = [e for e in here if not any(content.get(e[0], {}).get(el, 0.0) > 0 for el in elements)]
            if plain:
                rows.append((quota_label(k, inst, dest), NOT_BINDING))
                members += [(quota_label(k, inst, dest), *e, 1.0) for e in plain]
    members = pd.DataFrame(members, columns=["quota", "commodity", "origin", "dest", "coef"])
    quotas = pd.DataFrame(rows, columns=["quota", "limit"])
    return quotas.assign(limit=slack_limits(quotas["quota"], members).to_numpy()), members


def slack_limits(quota_names, members: pd.DataFrame) -> pd.Series:
    """Limit of each row while its instrument does not bind: ``NOT_BINDING`` kt of its goods.

    Scaled by the row's largest coefficient, so that a row on the Tb content of magnets (about
    0.001 t per t) is as far from binding as a row on oxide tonnes: an unscaled 1e5 against
    coefficients of 1e-3 stalls the interior-point solvers.
    """
    top: dict = {}  # each row's largest coefficient, NaN skipped (a group-by's max, a plain loop)
    for q, c in zip(members["quota"].tolist(), floats(members["coef"]).tolist(), strict=True):
        if c == c and (q not in top or c > top[q]):
            top[q] = c
    names = pd.Index(quota_names)
    return pd.Series(NOT_BINDING * np.array([top.get(q, 1.0) for q in names], dtype=float), index=names)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    """Days in both of the inclusive day ranges [a0, a1] and [b0, b1] (ordinals)."""
    return max(0, min(a1, b1) - max(a0, b0) + 1)


def approval_segments(inst: ExportLicensing, share: float, dest: str | None) -> list[tuple[int, float]]:
    """``(first day ordinal, share)`` pieces of the approval share for ``dest``: ``share`` from the
    start, then each of ``approval_changes`` that names ``dest`` (or all destinations) from its
    date, in date order (a later change on the same day wins)."""
    pieces = [(dt.date.min.toordinal(), share)]
    for ch in sorted(inst.approval_changes, key=lambda c: c.start):
        if ch.destinations == "all" or (dest is not None and dest in ch.destinations):
            pieces.append((ch.start.toordinal(), ch.share))
    return pieces


def approval_factor(
    inst: ExportLicensing, share: float, start: dt.date, days: int, dest: str | None = None
) -> float:
    """Time-weighted share of counterfactual exports approved over a step of ``days`` from ``start``.

    Each day counts 1 before the licence starts or after it ends (nothing to approve), 0 while
    the first applications are under review (``processing_working_days`` x 7/5 calendar days
    after ``start``) and the approval share of that day afterwards: ``share``, or the latest of
    the licence's ``approval_changes`` for ``dest`` (:func:`approval_segments`).

    With ``catch_up_days`` = ``K``, what would have been approved during the review (``R``
    days at the share of the first day after it, ``s``) is shipped evenly over the ``K`` days
    after the review, on top: each of those days adds ``s R / K`` (while the licence is in
    force). A step holding the review and the whole catch-up then gets the same factor as a
    licence without review.
    """
    first, last = start.toordinal(), start.toordinal() + days - 1
    on0 = inst.start.toordinal()
    on1 = inst.end.toordinal() if inst.end is not None else last
    review_end = on0 + round(inst.processing_working_days * 7 / 5)  # first day after the review
    in_force = _overlap(first, last, on0, on1)
    approved = 0.0
    pieces = approval_segments(inst, share, dest)
    lo = max(on0, review_end)  # first day with approvals
    for i, (begin, value) in enumerate(pieces):
        end = pieces[i + 1][0] - 1 if i + 1 < len(pieces) else last
        approved += value * _overlap(first, last, max(begin, lo), min(end, on1))
    if inst.catch_up_days and review_end > on0:
        held = _share_at(pieces, review_end) * (min(review_end, on1 + 1) - on0)  # share x days
        window = _overlap(first, last, review_end, min(review_end + inst.catch_up_days - 1, on1))
        approved += held * window / inst.catch_up_days
    return ((days - in_force) + approved) / days


def _share_at(pieces: list[tuple[int, float]], day: int) -> float:
    """The approval share on ``day`` (ordinal) from :func:`approval_segments`' pieces."""
    value = pieces[0][1]
    for begin, v in pieces:
        if begin <= day:
            value = v
    return value


def share_on(inst: ExportLicensing, share: float, when: dt.date, dest: str | None = None) -> float:
    """The approval share for ``dest`` on ``when`` (a step solved without its start and length)."""
    return _share_at(approval_segments(inst, share, dest), when.toordinal())


def _origin_ruled(inst) -> bool:
    """Whether an instrument carries rules of origin: a ban or licence with ``no_reexport``, or an
    import tariff on named origins with ``rules_of_origin``."""
    if isinstance(inst, ExportBan | ExportLicensing):
        return inst.no_reexport
    return isinstance(inst, ImportTariff) and inst.rules_of_origin and inst.origins != "all"


def origin_structure(scenario: Scenario, world: World) -> pd.DataFrame:
    """Rules-of-origin rows for every ban or licence with ``no_reexport`` and every import tariff
    on named origins with ``rules_of_origin`` (slack set per step).

    For goods ``c`` an exporter may not (freely) ship to destination ``d`` — banned, licensed or
    taxed there — every third region ``v`` may ship ``c`` to ``d`` only up to its own production
    of ``c``: the pooled market then cannot pass the exporter's goods through ``v`` (for a
    tariff: customs rules of origin, a good keeps its origin unless substantially transformed,
    U.S. 19 CFR Part 102).

    A region with no route in for the good gets no rule: it can ship only its own output (and
    stocks of it), so the rule would be redundant, and a redundant rule that binds (a plant
    exporting all it makes) splits the region's price into an arbitrary rent and leaves the
    price undetermined.
    """
    keys = set(_edge_keys(world))
    receives = {(c, d) for c, _, d in keys}  # a region with no route in for a good ships only its own
    rows = []
    for k, inst in enumerate(scenario.instruments):
        if not _origin_ruled(inst):
            continue
        label = inst.name or f"instruments[{k}]"
        sources = (
            set(regions_of(inst.origins, world, "")) if isinstance(inst, ImportTariff) else {inst.exporter}
        )
        for c, _, d in _edges(inst, world):
            for v in world.regions:
                if v not in sources and v != d and (c, v, d) in keys and (c, v) in receives:
                    rows.append((f"{label}:{c}:{v}->{d}", label, c, v, d, NOT_BINDING))
    return pd.DataFrame(rows, columns=["rule", "owner", "commodity", "via", "dest", "slack"]).drop_duplicates(
        "rule"
    )


def origin_slack(scenario: Scenario, rules: pd.DataFrame, when: dt.date) -> pd.Series:
    """Slack of each rule on ``when``: 0 while its instrument is in force, non-binding otherwise."""
    active = {
        inst.name or f"instruments[{k}]"
        for k, inst in enumerate(scenario.instruments)
        if _origin_ruled(inst) and inst.in_force(when)
    }
    return pd.Series(
        [0.0 if o in active else NOT_BINDING for o in rules["owner"].tolist()], index=rules.index
    )


def _exclusion_factor(scenario: Scenario, tariff: str, when: dt.date) -> float:
    factor = 1.0
    for ex in scenario.instruments:
        if isinstance(ex, TariffExclusion) and ex.tariff == tariff and ex.in_force(when):
            years = (when - ex.start).days / 365.25
            renewals = int(years // ex.renewal_years)
            share = ex.share_excluded * ex.renewal_probability**renewals
            factor *= 1.0 - share
    return factor


def _content_by_row(
    members: pd.DataFrame, cf_flows: dict | pd.Series | None, memo: dict | None = None
) -> dict[str, float]:
    """The counterfactual's exports on each quota row, in the row's unit: sum of coef x flow,
    by row name in the members' order of rows.

    With a ``memo`` (the world's), the members' keys, coefficients and row codes are built
    once per world; each step only looks its flows up.
    """
    if cf_flows is None or members.empty:
        return dict.fromkeys(members["quota"].unique().tolist(), 0.0)
    memo = {} if memo is None else memo
    if "member_keys" not in memo:
        codes, names = pd.factorize(members["quota"].to_numpy())
        memo.update(
            member_keys=list(
                zip(
                    members["commodity"].tolist(),
                    members["origin"].tolist(),
                    members["dest"].tolist(),
                    strict=True,
                )
            ),
            coef=members["coef"].astype(float).to_numpy(),
            codes=codes,
            names=list(names),
        )
    by_edge = cf_flows if isinstance(cf_flows, dict) else cf_flows.to_dict()
    flows = np.array([by_edge.get(k, 0.0) for k in memo["member_keys"]], dtype=float)
    flows = np.nan_to_num(flows, nan=0.0)
    sums = np.bincount(memo["codes"], weights=memo["coef"] * flows, minlength=len(memo["names"]))
    return dict(zip(memo["names"], sums.tolist(), strict=True))


def _rows_of(memo: dict, prefix: str, names) -> list[str]:
    """The quota rows of a licence's destination ``prefix`` (``prefix`` and ``prefix:ELEMENT``),
    found once per world (every step asked each of a thousand names again)."""
    rows_of = memo.setdefault("rows_of", {})
    if prefix not in rows_of:
        rows_of[prefix] = [q for q in names if q == prefix or q.startswith(prefix + ":")]
    return rows_of[prefix]


def _step_frame(memo: dict, rows: list, columns: tuple[str, ...], unique: bool = False) -> pd.DataFrame:
    """A step's policy rows as a frame, built once per distinct set of rows in a world's run
    (the same tariffs and licences are in force for many steps). The same object is returned
    each time, so the solver's lookups cached per table (:mod:`reesim.solve.equilibrium`) hold
    across steps: a world's tables are read-only (:meth:`~reesim.world.world.World.with_data`
    replaces a table, nothing writes into one)."""
    frames = memo.setdefault("frames", {})
    key = (columns, tuple(rows))
    if key not in frames:
        if len(frames) >= 256:  # a long-lived (cached) world sees many scenarios: stay bounded
            frames.clear()
        frame = pd.DataFrame(rows, columns=list(columns))
        frames[key] = frame.drop_duplicates() if unique else frame
    return frames[key]


def _step_overlaps(inst: ExportLicensing, start: dt.date | None, days: int) -> bool:
    if start is None:
        return False
    last = start + dt.timedelta(days=days - 1)
    return inst.start <= last and (inst.end is None or inst.end >= start)


def step_policies(
    scenario: Scenario,
    world: World,
    when: dt.date,
    cf_flows: dict | pd.Series | None,
    quota_names: tuple[str, ...],
    step_start: dt.date | None = None,
    step_days: int = 1,
) -> dict[str, pd.DataFrame | dict]:
    """Bans, quota limits (kt/yr), ad valorem rows and specific wedges in force on ``when``.

    ``restricted`` holds the (commodity, destination) pairs a ban or licence in force restricts
    (the supply risk private stockholders respond to, :mod:`reesim.simulate.storage`), and
    ``restricted_routes`` the (commodity, origin, destination) routes (a mine cut off from its
    buyer), and ``licensed_origins`` the (commodity, origin, destination) routes whose exports
    await the approvals of a licence in force (not a ban, nor a quota in tonnes: nothing is
    waiting for approval there), whose exporters hold the goods (the storage module's
    :meth:`~reesim.simulate.storage.Items.awaiting`).

    ``cf_flows`` are the counterfactual's flows (kt/yr) by (commodity, origin, dest) in the
    same step, needed for quotas given as approval shares of the counterfactual; a licence's
    limit per destination and element is ``approval x sum(content x counterfactual flow)``
    with the approval weighted over the step's days (``step_start``, ``step_days``; see
    :func:`approval_factor`).
    """
    bans, adval, specific = [], [], []
    restricted: set[tuple[str, str]] = set()  # (commodity, dest) under a ban, licence or quota in force
    awaiting: set[tuple[str, str, str]] = set()  # (commodity, origin, dest) awaiting a licence's approvals
    routes: set[tuple[str, str, str]] = set()  # (commodity, origin, dest) of the same
    members = world.quota_members
    memo = _memo(world)
    if memo.get("slack_for") != quota_names:
        memo["slack"], memo["slack_for"] = slack_limits(quota_names, members).to_dict(), quota_names
    limits = dict(memo["slack"])
    cf_content: dict[str, float] | None = None  # counterfactual content per row, computed when first needed
    for k, inst in enumerate(scenario.instruments):
        licensed = isinstance(inst, ExportLicensing) and inst.tonnes_per_year is None
        if not isinstance(inst, ExportBan | ExportLicensing | ExportTax | ImportTariff):
            continue
        if not inst.in_force(when) and not (licensed and _step_overlaps(inst, step_start, step_days)):
            continue
        edges = _edges(inst, world)
        if isinstance(inst, ExportBan | ExportLicensing) and inst.in_force(when):
            restricted.update((c, d) for c, _, d in edges)
            routes.update(edges)
            if licensed:  # not a tonnage quota: its exporters have no approvals to wait for
                awaiting.update(edges)
        if isinstance(inst, ExportBan):
            bans += edges
        elif isinstance(inst, ExportTax):
            adval += [(*e, inst.rate, "origin") for e in edges]
        elif isinstance(inst, ImportTariff):
            rate = inst.rate * _exclusion_factor(scenario, inst.name, when) if inst.name else inst.rate
            adval += [(*e, rate, "cif") for e in edges]
        else:
            if inst.licence_cost_usd_per_kg and inst.in_force(when):
                specific += [(*e, inst.licence_cost_usd_per_kg) for e in edges]
            if inst.tonnes_per_year is not None:
                limits[quota_label(k, inst)] = inst.tonnes_per_year / 1000.0
                continue
            if cf_content is None:
                cf_content = _content_by_row(members, cf_flows, memo)
            for dest in sorted({e[2] for e in edges}):
                share = inst.approval_by_destination.get(
                    dest, inst.approval_share if inst.approval_share is not None else 1.0
                )
                if step_start is not None:
                    share = approval_factor(inst, share, step_start, step_days, dest)
                else:
                    share = share_on(inst, share, when, dest)
                for q in _rows_of(memo, quota_label(k, inst, dest), cf_content):
                    limits[q] = share * cf_content[q]
    return {
        "bans": _step_frame(memo, bans, ("commodity", "origin", "dest"), unique=True),
        "ad_valorem": _step_frame(memo, adval, ("commodity", "origin", "dest", "rate", "base")),
        "specific": _step_frame(memo, specific, ("commodity", "origin", "dest", "per_unit")),
        "quota_limits": limits,
        "restricted": restricted,
        "restricted_routes": routes,
        "licensed_origins": awaiting,
    }
