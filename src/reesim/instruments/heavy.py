"""A heavy rare-earth circuit outside China: what a ``heavy_separation`` project adds to the world.

In the default world only China separates heavy rare earths (``heavy_separation.regions``):
the crackers of every other region make the light oxides and a mixed heavy concentrate
(``concentrate:hree_<ore>``, Lynas' "SEGH"), which goes to China's ``crack-heavy:CHN:<ore>``
circuits. Lynas Malaysia changed that on 2025-05-16 (first separated Dy oxide; a circuit for
up to 1,500 t of SEGH a year, separating Dy and Tb only) and announced in 2025 a facility for
up to 5,000 t/yr of heavy feedstock separating the whole suite (processing_capacity).

A circuit for a project ``name`` in region ``R`` adds:

* the project's own service ``service:heavy_separation:<name>`` (t of heavy concentrate a
  year; the plant of :mod:`reesim.instruments.projects` provides it);
* ``crack-heavy:<R>:<ore>:<name>`` for every ore whose heavy concentrate R's crackers make: the
  heavy region's circuit for that ore (same oxides per kg of feed) with the project's service in
  place of China's separation service, making only the project's ``elements`` (default: all);
* when it separates only some elements, the rest of the feed as a residue
  ``concentrate:hree_rest_<ore>:<name>`` (kg per kg of feed: the other elements' share), which
  R ships where it shipped its heavy concentrate (the same transport cost and slope, no
  calibrated route cost) and
  China separates in ``crack-heavy-rest:CHN:<ore>:<name>`` (its other oxides per kg of
  residue, one unit of separation service per kg) - Lynas sold the unseparated SmEuGd, Ho and
  SEGH products on;
* trade routes for the oxides R did not make before, to where China ships them, at China's
  transport cost and route slope and no calibrated route cost (nothing was observed on them),
  as :func:`reesim.solve.routes.calibrate_routes` treats an unused edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reesim.errors import InputError
from reesim.memo import memo_of
from reesim.world.world import World

#: the separation service of the heavy regions' circuits, which a new circuit's copy replaces
SEPARATION_SERVICE = "service:separation"
IO_COLUMNS = ["process", "commodity", "coef"]


def service_id(name: str) -> str:
    """The service a project's heavy circuit provides (t of heavy concentrate a year)."""
    return f"service:heavy_separation:{name}"


@dataclass(frozen=True)
class Circuit:
    """Processes, io rows, trade edges and commodities a heavy circuit adds to a world."""

    processes: list[tuple]
    io: pd.DataFrame
    edges: pd.DataFrame
    commodities: list[str]


def heavy_regions(world: World) -> list[str]:
    """Regions of the world that separate heavy rare earths (their ``crack-heavy`` circuits).

    Read once per world object (:func:`reesim.memo.memo_of`; a circuit asks for them for every
    region and ore); a fresh list is returned each call.
    """
    memo = memo_of(world)
    if "heavy regions" not in memo:
        p = world.processes
        memo["heavy regions"] = sorted(
            {r for pid, r in zip(p["process"], p["region"], strict=True) if pid.startswith("crack-heavy:")}
        )
    return list(memo["heavy regions"])


def _templates(world: World, region: str) -> dict[str, str]:
    """Ore -> the heavy region's circuit for the heavy concentrate ``region``'s crackers make
    (once per world object and region; a fresh dict each call)."""
    memo = memo_of(world)
    key = ("heavy templates", region)
    if key not in memo:
        memo[key] = _find_templates(world, region)
    return dict(memo[key])


def _find_templates(world: World, region: str) -> dict[str, str]:
    io, names = world.io, set(world.processes["process"])
    made = io[
        io["process"].str.startswith(f"crack:{region}:") & io["commodity"].str.startswith("concentrate:hree_")
    ]
    out, heavy = {}, heavy_regions(world)
    for o in sorted({c.removeprefix("concentrate:hree_") for c in made["commodity"]}):
        tpl = next((f"crack-heavy:{h}:{o}" for h in heavy if f"crack-heavy:{h}:{o}" in names), None)
        if tpl is not None:
            out[o] = tpl
    return out


def allowed_regions(world: World) -> list[str]:
    """Regions where a heavy circuit can go: crackers of a heavy concentrate, no circuit yet."""
    crackers = world.processes.loc[world.processes["process"].str.startswith("crack:"), "region"]
    heavy = set(heavy_regions(world))
    return [r for r in sorted(set(crackers)) if r not in heavy and _templates(world, r)]


def separable(world: World, region: str) -> list[str]:
    """The elements a heavy circuit in ``region`` can separate (its feeds' heavy oxides)."""
    io = world.io
    rows = io[io["process"].isin(_templates(world, region).values()) & (io["coef"] > 0)]
    return sorted({c.split(":", 1)[1] for c in rows["commodity"] if c.startswith("oxide:")})


def circuit(world: World, region: str, name: str, elements: list[str] | None, label: str) -> Circuit:
    """What a heavy circuit of project ``name`` in ``region`` adds (module docstring).

    Memoised per world object (:func:`reesim.memo.memo_of`): a run and its counterfactual, and an
    ensemble member's two runs, build on the same cached default world. The result is shared:
    callers copy, never change it.

    Raises :class:`InputError` naming the allowed regions or elements.
    """
    memo = memo_of(world)
    key = ("heavy circuit", region, name, None if elements is None else tuple(elements))
    if key not in memo:
        memo[key] = _circuit(world, region, name, elements, label)
    return memo[key]


def _circuit(world: World, region: str, name: str, elements: list[str] | None, label: str) -> Circuit:
    allowed = allowed_regions(world)
    if region not in allowed:
        raise InputError(
            f"{label}.region: {region!r} cannot take a heavy-separation plant (it separates heavy rare earths "
            f"already, or its crackers make no heavy concentrate); allowed: {', '.join(allowed) or 'none'}"
        )
    can = separable(world, region)
    unknown = sorted(set(elements or []) - set(can))
    if unknown:
        raise InputError(
            f"{label}.elements: {', '.join(unknown)} not in the heavy concentrate of {region}'s ores; "
            f"allowed: {', '.join(can)}"
        )
    if elements and len(set(elements)) != len(elements):
        twice = sorted({e for e in elements if elements.count(e) > 1})
        raise InputError(f"{label}.elements: {', '.join(twice)} listed twice; list each element once")
    keep = set(elements) if elements else set(can)
    io, service = world.io, service_id(name)
    procs, rows, edges, goods = [], [], [], []
    for o, tpl in _templates(world, region).items():
        t = io[io["process"] == tpl]
        out = t[t["coef"] > 0]
        mine = out[out["commodity"].map(lambda c: c.split(":", 1)[1] in keep)]
        if mine.empty:
            continue
        pid = f"crack-heavy:{region}:{o}:{name}"
        procs.append((pid, region, "separation", float("inf"), 0.0, 0.0))
        feed = [(pid, f"concentrate:hree_{o}", -1.0), (pid, service, -1.0)]
        rows.append(pd.DataFrame(feed, columns=IO_COLUMNS))
        rows.append(mine.assign(process=pid))
        rest = out[~out.index.isin(mine.index)]
        share = float(rest["coef"].sum())
        if share <= 1e-12:
            continue
        # The residue: the other elements, shipped like the heavy concentrate and separated by
        # the heavy region that the template belongs to.
        residue = f"concentrate:hree_rest_{o}:{name}"
        goods.append(residue)
        rows.append(pd.DataFrame([(pid, residue, share)], columns=IO_COLUMNS))
        h = world.processes.loc[world.processes["process"] == tpl, "region"].iloc[0]
        rid = f"crack-heavy-rest:{h}:{o}:{name}"
        procs.append((rid, h, "separation", float("inf"), 0.0, 0.0))
        rows.append(pd.DataFrame([(rid, residue, -1.0), (rid, SEPARATION_SERVICE, -1.0)], columns=IO_COLUMNS))
        rows.append(rest.assign(process=rid, coef=rest["coef"] / share))
        # The residue goes where the heavy compound went, at its transport cost and slope but
        # without its calibrated route cost: that intercept was fitted to the observed SEGH flow
        # (negative on MYS -> CHN) and on a second, parallel route would pay for shipping.
        e = world.edges
        seg = e[(e["commodity"] == f"concentrate:hree_{o}") & (e["origin"] == region)]
        edges.append(seg.assign(commodity=residue, route_cost=0.0))
    new_io = pd.concat(rows, ignore_index=True)
    edges.append(_oxide_routes(world, region, new_io))
    return Circuit(procs, new_io, pd.concat(edges, ignore_index=True), [service, *goods])


def _oxide_routes(world: World, region: str, io: pd.DataFrame) -> pd.DataFrame:
    """Trade edges for the oxides the circuit makes in ``region`` that it had no route for."""
    e = world.edges
    goods = {c for c in io.loc[(io["coef"] > 0) & io["process"].str.startswith("crack-heavy:"), "commodity"]}
    goods = {c for c in goods if c.startswith("oxide:")}
    heavy = heavy_regions(world)
    have = set(zip(e["commodity"], e["origin"], e["dest"], strict=True))
    src = e[e["commodity"].isin(goods) & e["origin"].isin(heavy) & (e["dest"] != region)]
    src = src.sort_values(["commodity", "dest", "origin"]).drop_duplicates(["commodity", "dest"])
    new = src.assign(origin=region, route_cost=0.0)
    keep = [(c, region, d) not in have for c, d in zip(new["commodity"], new["dest"], strict=True)]
    return new[keep].reset_index(drop=True)
