"""The world file: a small YAML format in which anyone can pose a market by hand.

Example (a two-region textbook market; see ``docs/world-format.md``)::

    name: two regions
    quantity_unit: t
    regions: [A, B]
    commodities: [widget]
    supply:                       # marginal cost = intercept + slope * quantity
      - {region: A, commodity: widget, intercept: 10, slope: 1}
    demand:                       # inverse demand: price = intercept - slope * quantity
      - {region: B, commodity: widget, intercept: 130, slope: 1}
    trade:
      all_pairs: true             # an edge for every ordered pair of regions and commodity
      cost: 6                     # transport cost, USD/kg
    policies:
      quotas:
        - {name: cap, limit: 10, edges: [{commodity: widget, from: A, to: B}]}

Every key is checked (unknown keys, unknown regions and commodities, negative slopes and
capacities are errors naming the YAML path, the value and what is allowed). Policies may
carry ``start``/``end`` years; ``load_world(path, year=Y)`` keeps those in force in Y.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reesim.errors import InputError, suggest
from reesim.world.world import PROCESS_KINDS, World
from reesim.yamlsafe import join_problems, load_yaml, read_text_file, require_mapping, short

NonNeg = Annotated[float, Field(ge=0)]
Pos = Annotated[float, Field(gt=0)]
Names = str | list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SupplySpec(_Strict):
    """A linear supply curve: a process with one output and no inputs."""

    region: str
    commodity: str
    intercept: NonNeg = Field(description="marginal cost at zero output, USD/kg")
    slope: NonNeg = Field(description="increase of marginal cost per unit of output")
    capacity: NonNeg = math.inf
    name: str | None = None


class DemandSpec(_Strict):
    """Linear inverse demand: price = intercept - slope * quantity."""

    region: str
    commodity: str
    intercept: NonNeg = Field(description="choke price, USD/kg")
    slope: Pos
    sector: str = "all"


class ProcessSpec(_Strict):
    """A process with input (-) and output (+) coefficients per unit of activity."""

    name: str
    region: str
    kind: Literal[PROCESS_KINDS] = "other"  # type: ignore[valid-type]
    io: dict[str, float]
    intercept: NonNeg = 0.0
    slope: NonNeg = 0.0
    capacity: NonNeg = math.inf


class EdgeSelector(_Strict):
    """Edges by commodity, origin and destination; each may be a name, a list or '*'."""

    commodity: Names = "*"
    from_: Names = Field("*", alias="from")
    to: Names = "*"


class EdgeSpec(_Strict):
    """An explicit trade edge with its transport cost (USD/kg) and optional calibrated route cost.

    ``route_cost`` (USD/kg, may be negative: a preference) and ``route_quad`` (USD/kg per unit
    of flow) add ``route_cost * f + route_quad * f^2 / 2`` to the edge (see docs/trade.md).
    """

    commodity: str
    from_: str = Field(alias="from")
    to: str
    cost: NonNeg
    route_cost: Annotated[float, Field(allow_inf_nan=False, ge=-1e6, le=1e6)] = 0.0
    route_quad: Annotated[NonNeg, Field(le=1e9)] = 0.0


class TradeSpec(_Strict):
    """Trade edges: all ordered pairs at a default cost, and/or explicit edges."""

    all_pairs: bool = False
    cost: NonNeg = 0.0
    edges: list[EdgeSpec] = []


class _InForce(_Strict):
    start: int | None = None
    end: int | None = None

    @model_validator(mode="after")
    def _order(self):
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self

    def in_force(self, year: int | None) -> bool:
        return year is None or (
            (self.start is None or self.start <= year) and (self.end is None or year <= self.end)
        )


class BanSpec(EdgeSelector, _InForce):
    """Edges fixed to zero."""


class QuotaSpec(_InForce):
    """An export quota on a group of edges (tonnes per year, in the world's unit)."""

    name: str
    limit: NonNeg
    edges: list[EdgeSelector]


class SpecificSpec(EdgeSelector, _InForce):
    """A specific wedge (USD/kg) on edges."""

    per_unit: NonNeg


class AdValoremSpec(EdgeSelector, _InForce):
    """An ad valorem wedge: export tax on the origin price, or import tariff on CIF value."""

    rate: Annotated[float, Field(ge=0, le=100)]
    base: Literal["origin", "cif"] = "cif"


class PoliciesSpec(_Strict):
    """The policy wedges."""

    bans: list[BanSpec] = []
    quotas: list[QuotaSpec] = []
    specific: list[SpecificSpec] = []
    ad_valorem: list[AdValoremSpec] = []


class WorldFile(_Strict):
    """The root of a world file."""

    name: str
    quantity_unit: str = "t"
    regions: list[str]
    commodities: list[str]
    congestion: NonNeg = 0.0
    supply: list[SupplySpec] = []
    demand: list[DemandSpec] = []
    processes: list[ProcessSpec] = []
    trade: TradeSpec = TradeSpec()
    policies: PoliciesSpec = PoliciesSpec()


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = "from" if part == "from_" else part
            out += ("." if out else "") + str(part)
    return out


def _format(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if p not in ("function-after[_order(), _InForce]",))
        value = e.get("input")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        got = "" if e["type"] == "missing" else f" (got {short(value)})"
        lines.append(f"{source}: {_path(loc)}: {msg}{got}")
    return join_problems(lines, "; ")


class _Names:
    """Checks names against the declared sets, reporting the YAML path."""

    def __init__(self, spec: WorldFile, source: str) -> None:
        self.sets = {"region": set(spec.regions), "commodity": set(spec.commodities)}
        self.source = source

    def one(self, kind: str, value: str, path: str) -> str:
        if value not in self.sets[kind]:
            raise InputError(f"{self.source}: {path}: " + suggest(value, self.sets[kind], what=kind))
        return value

    def many(self, kind: str, value: Names, path: str) -> list[str]:
        if value == "*":
            return sorted(self.sets[kind])
        values = [value] if isinstance(value, str) else value
        return [self.one(kind, v, f"{path}[{i}]" if len(values) > 1 else path) for i, v in enumerate(values)]


def _expand(sel: EdgeSelector, names: _Names, path: str, source: str) -> list[tuple[str, str, str]]:
    cs = names.many("commodity", sel.commodity, f"{path}.commodity")
    os = names.many("region", sel.from_, f"{path}.from")
    ds = names.many("region", sel.to, f"{path}.to")
    keys = [(c, o, d) for c in cs for o in os for d in ds if o != d]
    if not keys:
        raise InputError(
            f"{source}: {path}: matches no trade edge (from and to select the same single region)"
        )
    return keys


def world_from_spec(spec: WorldFile, year: int | None = None, source: str = "world") -> World:
    """Build a :class:`World` from a validated world file, keeping policies in force in ``year``."""
    for key in ("regions", "commodities"):
        values = getattr(spec, key)
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise InputError(f"{source}: {key}: {short(dup[0])} is listed twice; names must be unique")
    names = _Names(spec, source)
    procs, io, dems = [], [], []
    seen: dict[str, str] = {}

    def once(ident: str, path: str) -> str:
        if ident in seen:
            raise InputError(
                f"{source}: {path}: duplicates {seen[ident]} ({ident}); merge them or give a distinct name"
            )
        seen[ident] = path
        return ident

    for i, s in enumerate(spec.supply):
        names.one("region", s.region, f"supply[{i}].region")
        names.one("commodity", s.commodity, f"supply[{i}].commodity")
        pid = once(s.name or f"supply:{s.commodity}:{s.region}", f"supply[{i}]")
        procs.append((pid, s.region, "supply", s.capacity, s.intercept, s.slope))
        io.append((pid, s.commodity, 1.0))
    for i, p in enumerate(spec.processes):
        names.one("region", p.region, f"processes[{i}].region")
        once(p.name, f"processes[{i}]")
        for c, coef in p.io.items():
            names.one("commodity", c, f"processes[{i}].io")
            io.append((p.name, c, coef))
        procs.append((p.name, p.region, p.kind, p.capacity, p.intercept, p.slope))
    for i, d in enumerate(spec.demand):
        names.one("region", d.region, f"demand[{i}].region")
        names.one("commodity", d.commodity, f"demand[{i}].commodity")
        dems.append(
            (f"{d.sector}:{d.commodity}:{d.region}", d.sector, d.region, d.commodity, d.intercept, d.slope)
        )

    edges: dict[tuple[str, str, str], float] = {}
    if spec.trade.all_pairs:
        for c in spec.commodities:
            for o in spec.regions:
                for d in spec.regions:
                    if o != d:
                        edges[(c, o, d)] = (spec.trade.cost, 0.0, 0.0)
    for i, e in enumerate(spec.trade.edges):
        key = (
            names.one("commodity", e.commodity, f"trade.edges[{i}].commodity"),
            names.one("region", e.from_, f"trade.edges[{i}].from"),
            names.one("region", e.to, f"trade.edges[{i}].to"),
        )
        if key[1] == key[2]:
            raise InputError(
                f"{source}: trade.edges[{i}]: from and to are both {short(key[1])}; an edge joins two regions"
            )
        edges[key] = (e.cost, e.route_cost, e.route_quad)

    def edge_rows(items, path, extra):
        rows = []
        for i, item in enumerate(items):
            if not item.in_force(year):
                continue
            for key in _expand(item, names, f"{path}[{i}]", source):
                if key not in edges:
                    raise InputError(
                        f"{source}: {path}[{i}]: {key[0]} {key[1]}->{key[2]} is not a trade edge"
                    )
                rows.append((*key, *extra(item)))
        return rows

    pol = spec.policies
    bans = edge_rows(pol.bans, "policies.bans", lambda b: ())
    specific = edge_rows(pol.specific, "policies.specific", lambda s: (s.per_unit,))
    adval = edge_rows(pol.ad_valorem, "policies.ad_valorem", lambda a: (a.rate, a.base))
    quotas, members = [], []
    for i, q in enumerate(pol.quotas):
        if not q.in_force(year):
            continue
        quotas.append((q.name, q.limit))
        for j, sel in enumerate(q.edges):
            for key in _expand(sel, names, f"policies.quotas[{i}].edges[{j}]", source):
                if key not in edges:
                    raise InputError(
                        f"{source}: policies.quotas[{i}].edges[{j}]: {key[0]} {key[1]}->{key[2]} is not a trade edge"
                    )
                members.append((q.name, *key))

    def df(rows, cols):
        return pd.DataFrame(rows, columns=cols)

    return World(
        name=spec.name,
        regions=tuple(spec.regions),
        commodities=tuple(spec.commodities),
        processes=df(procs, ["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"]),
        io=df(io, ["process", "commodity", "coef"]),
        demands=df(dems, ["demand", "sector", "region", "commodity", "intercept", "slope"]),
        edges=df(
            [(*k, *v) for k, v in edges.items()],
            ["commodity", "origin", "dest", "transport", "route_cost", "route_quad"],
        ),
        bans=df(bans, ["commodity", "origin", "dest"]),
        quotas=df(quotas, ["quota", "limit"]),
        quota_members=df(members, ["quota", "commodity", "origin", "dest"]).drop_duplicates(),
        specific=df(specific, ["commodity", "origin", "dest", "per_unit"]),
        ad_valorem=df(adval, ["commodity", "origin", "dest", "rate", "base"]),
        congestion=spec.congestion,
        quantity_unit=spec.quantity_unit,
        meta={"source": source, "year": year},
    )


def parse_world(text: str, year: int | None = None, source: str = "world") -> World:
    """Parse world-file YAML text."""
    data = require_mapping(load_yaml(text, source), source, "world file", WorldFile.model_fields)
    try:
        spec = WorldFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(_format(exc, source)) from None
    return world_from_spec(spec, year, source)


def load_world(path: str | Path, year: int | None = None) -> World:
    """Load a world file from ``path``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"world file '{path}' does not exist")
    return parse_world(read_text_file(path), year, source=path.name)
