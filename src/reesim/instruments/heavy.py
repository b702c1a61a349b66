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

import numpy as np
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
            {
                r
                for pid, r in zip(p["process"].tolist(), p["region"].tolist(), strict=True)
                if pid.startswith("crack-heavy:")
            }
        )
    return list(memo["heavy regions"])


def _templates(world: World, region: str) -> dict[str, str]:
    """Ore -> the heavy region's circuit for the heavy concentrate ``region``'s crackers make
    (found for every region at once, once per world object; a fresh dict each call)."""
    memo = memo_of(world)
    if "heavy templates" not in memo:
        memo["heavy templates"] = _find_templates(world)
    return dict(memo["heavy templates"].get(region, {}))


def _find_templates(world: World) -> dict[str, dict[str, str]]:
    """Region -> ore -> template, for every region whose crackers (``crack:<region>:...``) make
    a heavy concentrate (plain lists: a string filter of the io table per region cost 1.3 ms)."""
    io, names = world.io, set(world.processes["process"].tolist())
    made: dict[str, set[str]] = {}
    for pid, c in zip(io["process"].tolist(), io["commodity"].tolist(), strict=True):
        parts = pid.split(":", 2)  # crack:<region>:<ore>; a malformed id names no region
        if len(parts) == 3 and parts[0] == "crack" and c.startswith("concentrate:hree_"):
            made.setdefault(parts[1], set()).add(c.removeprefix("concentrate:hree_"))
    heavy = heavy_regions(world)
    out: dict[str, dict[str, str]] = {}
    for region, ores in made.items():
        for o in sorted(ores):
            tpl = next((f"crack-heavy:{h}:{o}" for h in heavy if f"crack-heavy:{h}:{o}" in names), None)
            if tpl is not None:
                out.setdefault(region, {})[o] = tpl
    return out


def allowed_regions(world: World) -> list[str]:
    """Regions where a heavy circuit can go: crackers of a heavy concentrate, no circuit yet."""
    p = world.processes
    crackers = {
        r
        for pid, r in zip(p["process"].tolist(), p["region"].tolist(), strict=True)
        if pid.startswith("crack:")
    }
    heavy = set(heavy_regions(world))
    return [r for r in sorted(crackers) if r not in heavy and _templates(world, r)]


def separable(world: World, region: str) -> list[str]:
    """The elements a heavy circuit in ``region`` can separate (its feeds' heavy oxides)."""
    io = world.io
    rows = io[io["process"].isin(_templates(world, region).values()) & (io["coef"] > 0)]
    return sorted({c.split(":", 1)[1] for c in rows["commodity"].tolist() if c.startswith("oxide:")})


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
    # Plain lists: a boolean filter of the io and edge tables per ore cost about 1.5 ms each.
    io_p, io_c, io_k = io["process"].tolist(), io["commodity"].tolist(), io["coef"].tolist()
    rows_of: dict[str, list[int]] = {}
    for i, pid in enumerate(io_p):
        rows_of.setdefault(pid, []).append(i)
    p, e = world.processes, world.edges
    region_of = dict(zip(p["process"].tolist(), p["region"].tolist(), strict=True))
    e_c, e_o = e["commodity"].tolist(), e["origin"].tolist()
    procs, rows, goods, seg_pos, seg_good = [], [], [], [], []
    for o, tpl in _templates(world, region).items():
        out = [i for i in rows_of.get(tpl, []) if io_k[i] > 0]
        mine = [i for i in out if io_c[i].split(":", 1)[1] in keep]
        if not mine:
            continue
        pid = f"crack-heavy:{region}:{o}:{name}"
        procs.append((pid, region, "separation", float("inf"), 0.0, 0.0))
        rows += [(pid, f"concentrate:hree_{o}", -1.0), (pid, service, -1.0)]
        rows += [(pid, io_c[i], io_k[i]) for i in mine]
        rest = [i for i in out if i not in set(mine)]
        share = float(np.array([io_k[i] for i in rest], dtype=float).sum())
        if share <= 1e-12:
            continue
        # The residue: the other elements, shipped like the heavy concentrate and separated by
        # the heavy region that the template belongs to.
        residue = f"concentrate:hree_rest_{o}:{name}"
        goods.append(residue)
        rows.append((pid, residue, share))
        h = region_of[tpl]
        rid = f"crack-heavy-rest:{h}:{o}:{name}"
        procs.append((rid, h, "separation", float("inf"), 0.0, 0.0))
        rows += [(rid, residue, -1.0), (rid, SEPARATION_SERVICE, -1.0)]
        rows += [(rid, io_c[i], io_k[i] / share) for i in rest]
        # The residue goes where the heavy compound went, at its transport cost and slope but
        # without its calibrated route cost: that intercept was fitted to the observed SEGH flow
        # (negative on MYS -> CHN) and on a second, parallel route would pay for shipping.
        seg = [
            j
            for j, (c, r) in enumerate(zip(e_c, e_o, strict=True))
            if c == f"concentrate:hree_{o}" and r == region
        ]
        seg_pos += seg
        seg_good += [residue] * len(seg)
    new_io = pd.DataFrame(rows, columns=IO_COLUMNS).astype(
        {"process": "str", "commodity": "str", "coef": float}
    )
    edges = [e.iloc[seg_pos].assign(commodity=seg_good, route_cost=0.0)] if seg_pos else []
    edges.append(_oxide_routes(world, region, new_io))
    return Circuit(procs, new_io, pd.concat(edges, ignore_index=True), [service, *goods])


def _oxide_routes(world: World, region: str, io: pd.DataFrame) -> pd.DataFrame:
    """Trade edges for the oxides the circuit makes in ``region`` that it had no route for."""
    e = world.edges
    goods = {
        c
        for pid, c, k in zip(
            io["process"].tolist(), io["commodity"].tolist(), io["coef"].tolist(), strict=True
        )
        if k > 0 and pid.startswith("crack-heavy:") and c.startswith("oxide:")
    }
    heavy = set(heavy_regions(world))
    keys = list(zip(e["commodity"].tolist(), e["origin"].tolist(), e["dest"].tolist(), strict=True))
    have = set(keys)
    # per (good, destination) the route from the first heavy region in name order
    first: dict[tuple[str, str], int] = {}
    for j, (c, o, d) in enumerate(keys):
        if c in goods and o in heavy and d != region and ((c, d) not in first or o < keys[first[(c, d)]][1]):
            first[(c, d)] = j
    new = [first[k] for k in sorted(first) if (k[0], region, k[1]) not in have]
    return e.iloc[new].assign(origin=region, route_cost=0.0).reset_index(drop=True)
