"""Semantic checks of a scenario against the world it runs on (tier 2 of STYLE habit 6).

Names must exist (regions, commodities, sectors, the tariff an exclusion refers to), the
horizon must start at or after the world's reference year, and instruments must not
contradict each other (two instruments of the same kind on the same goods and edges at the
same time, or a ban and a quota on the same exports at the same time). Every problem is
reported, one line each, naming the YAML path.
"""

from __future__ import annotations

from reesim.errors import InputError, suggest
from reesim.scenario.spec import (
    ExportBan,
    ExportLicensing,
    ExportTax,
    Goods,
    ImportTariff,
    PriceFloor,
    Scenario,
)
from reesim.world.world import MAGNET_SECTOR, PRIVATE_STOCK_SECTOR, World
from reesim.yamlsafe import MAX_PROBLEMS, join_problems

STAGE_PREFIX = {"concentrate": "concentrate:", "oxide": "oxide:", "metal": "metal:", "magnet": "magnet:"}
#: rare earths a world may pool or leave out, with their names (for a message that says so
#: instead of suggesting a neighbour by spelling: 'Er' is not a misspelt 'Pr')
RARE_EARTHS = {
    "La": "lanthanum",
    "Ce": "cerium",
    "Pr": "praseodymium",
    "Nd": "neodymium",
    "Pm": "promethium",
    "Sm": "samarium",
    "Eu": "europium",
    "Gd": "gadolinium",
    "Tb": "terbium",
    "Dy": "dysprosium",
    "Ho": "holmium",
    "Er": "erbium",
    "Tm": "thulium",
    "Yb": "ytterbium",
    "Lu": "lutetium",
    "Y": "yttrium",
    "Sc": "scandium",
}

#: groups earlier versions pooled, with their members (a scenario written for them is told how
#: to write it now)
FORMER_GROUPS = {"HREE_other": ["Ho", "Er", "Tm", "Yb", "Lu"]}


def _unknown_element(
    element: str, known: list[str], what: str, value: str, allowed: list[str], world: World | None = None
) -> str:
    """The message for an element (or an element's good) the world does not have.

    A rare earth is never "corrected" to a neighbour by spelling; the message says where the
    world has it (in a pooled group, e.g. ``HREE_other``) or why it leaves it out (the world's
    ``meta['elements']``: the default world's ``unmodelled_elements`` with their reasons).
    """
    if element in FORMER_GROUPS and element not in known:
        members = [m for m in FORMER_GROUPS[element] if m in known]
        use = ", ".join(f"oxide:{m}" if ":" in value else m for m in members)
        gone = [m for m in FORMER_GROUPS[element] if m not in known]
        return f"unknown {what} '{value}': the group {element} is split in this world; use {use}" + (
            f" ({', '.join(gone)} not modelled)" if gone else ""
        )
    name = RARE_EARTHS.get(element)
    if name is None:
        return suggest(value, allowed, what=what, limit=30)
    if element in known:  # the element is modelled, not in this form (e.g. metal:Lu)
        forms = [c for c in allowed if c.split(":", 1)[-1] == element]
        return f"unknown {what} '{value}': {name} ({element}) is modelled only as {', '.join(forms)}"
    info = (world.meta.get("elements") if world is not None else None) or {}
    pool = next((g for g, ms in (info.get("groups") or {}).items() if element in ms and g in known), None)
    reason = (info.get("unmodelled") or {}).get(element)
    if pool is not None:
        use = f"oxide:{pool}" if ":" in value else pool
        members = ", ".join(info["groups"][pool])
        where = f"it is pooled in {pool} with {members} (use '{use}')"
    elif reason:
        where = f"it is not modelled in this world: {reason}"
    else:
        where = "it is not modelled in this world"
    return f"unknown {what} '{value}': {name} ({element}) is not its own commodity; {where}"


def _excluded_sector(inst: ExportLicensing, sector: str, world: World) -> str:
    """Why ``sector`` cannot be excluded by licence ``inst`` on ``world`` ('' if it can).

    An end-user sector can be excluded where the world knows its use of a covered good in a
    destination (``meta['end_use_sectors']``, from data): a pooled market cannot otherwise keep
    the exporter's goods from one sector.
    """
    uses = world.meta.get("end_use_sectors") or {}
    if sector not in uses:
        known = sorted(uses) or ["(none: this world has no end-use data)"]
        return suggest(sector, known, what="end-user sector") + (
            " (sectors whose use the data give, so that a licence can exclude them)"
        )
    goods = set(goods_of(inst, world, ""))
    dests = set(regions_of(inst.destinations, world, ""))
    have = [e for e in uses[sector] if e["commodity"] in goods and e["region"] in dests]
    if not have:
        listed = ", ".join(f"{e['commodity']} in {e['region']}" for e in uses[sector])
        return (
            f"the data give {sector} use only of {listed}; this licence covers none of them "
            "(list the good and the destination, or remove the field)"
        )
    return ""


def goods_of(goods: Goods, world: World, path: str, problems: list[str] | None = None) -> list[str]:
    """Commodities of the world covered by ``goods`` (explicit names, elements, stages)."""
    traded = [c for c in world.commodities if not c.startswith("service:")]
    out: list[str] = []
    for i, c in enumerate(goods.commodities):
        if c in traded:
            out.append(c)
        elif problems is not None:
            element = c.split(":", 1)[1] if c.startswith(("oxide:", "metal:")) else ""
            known = sorted({t.split(":", 1)[1] for t in traded if t.startswith("oxide:")})
            problems.append(
                f"{path}.commodities[{i}]: " + _unknown_element(element, known, "commodity", c, traded, world)
            )
    elements = sorted({c.split(":", 1)[1] for c in traded if c.startswith(("oxide:", "metal:"))})
    for i, e in enumerate(goods.elements):
        if e not in elements:
            if problems is not None:
                problems.append(
                    f"{path}.elements[{i}]: " + _unknown_element(e, elements, "element", e, elements, world)
                )
            continue
        out += [c for c in (f"oxide:{e}", f"metal:{e}") if c in traded]
    for s in goods.stages:
        out += [c for c in traded if c.startswith(STAGE_PREFIX[s])]
    return sorted(set(out))


def regions_of(
    names: str | list[str], world: World, path: str, problems: list[str] | None = None
) -> list[str]:
    """Regions named (``all`` for every region)."""
    if names == "all":
        return list(world.regions)
    values = [names] if isinstance(names, str) else names
    out = []
    for i, r in enumerate(values):
        if r in world.regions:
            out.append(r)
        elif problems is not None:
            where = f"{path}[{i}]" if not isinstance(names, str) else path
            problems.append(f"{where}: " + suggest(r, world.regions, what="region"))
    return out


def _region(value: str, world: World, path: str, problems: list[str]) -> None:
    if value not in world.regions:
        problems.append(f"{path}: " + suggest(value, world.regions, what="region"))


def _edges(inst, world: World, path: str, problems: list[str]) -> set[tuple[str, str, str]]:
    goods = goods_of(inst, world, path, problems)
    if isinstance(inst, ImportTariff):
        _region(inst.importer, world, f"{path}.importer", problems)
        origins = regions_of(inst.origins, world, f"{path}.origins", problems)
        return {(c, o, inst.importer) for c in goods for o in origins if o != inst.importer}
    _region(inst.exporter, world, f"{path}.exporter", problems)
    dests = regions_of(inst.destinations, world, f"{path}.destinations", problems)
    return {(c, inst.exporter, d) for c in goods for d in dests if d != inst.exporter}


def _overlap(a, b) -> bool:
    a_end = a.end or a.start.replace(year=2100)
    b_end = b.end or b.start.replace(year=2100)
    return a.start <= b_end and b.start <= a_end


def check_scenario(scenario: Scenario, world: World, label: str = "scenario") -> None:
    """Raise :class:`InputError` listing every semantic problem of ``scenario`` on ``world``."""
    problems: list[str] = []
    ref = (world.meta.get("reference") or {}).get("year")
    if ref is not None and scenario.horizon.start < ref:
        problems.append(f"horizon.start: {scenario.horizon.start} is before the world's reference year {ref}")
    sectors = sorted(
        set(world.demands["sector"].tolist()) - {PRIVATE_STOCK_SECTOR}
    )  # stockholders are not a market
    tariffs = {i.name for i in scenario.instruments if isinstance(i, ImportTariff) and i.name}
    edge_sets: list[tuple[int, object, set]] = []
    quota_regions: dict[str, int] = {}
    for k, inst in enumerate(scenario.instruments):
        path = f"instruments[{k}]"
        if isinstance(inst, ExportBan | ExportLicensing | ExportTax | ImportTariff):
            edge_sets.append((k, inst, _edges(inst, world, path, problems)))
            if isinstance(inst, ExportLicensing):
                for dest in inst.approval_by_destination:
                    _region(dest, world, f"{path}.approval_by_destination.{dest}", problems)
                covered = set(regions_of(inst.destinations, world, ""))
                for i, ch in enumerate(inst.approval_changes):
                    names = [] if ch.destinations == "all" else ch.destinations
                    names = [names] if isinstance(names, str) else names
                    for j, dest in enumerate(names):
                        where = f"{path}.approval_changes[{i}].destinations[{j}]"
                        if dest not in world.regions:
                            _region(dest, world, where, problems)
                        elif dest not in covered:
                            problems.append(
                                f"{where}: {dest!r} is not a destination of this licence; allowed: "
                                f"{', '.join(sorted(covered))}"
                            )
                    if inst.start and ch.start <= inst.start:
                        problems.append(
                            f"{path}.approval_changes[{i}].start: {ch.start} is not after the licence's start "
                            f"{inst.start}; give the share from the start as approval_share or approval_by_destination"
                        )
                known = sorted({c.split(":", 1)[1] for c in world.commodities if c.startswith("oxide:")})
                for i, el in enumerate(inst.content_of):
                    if el not in known:
                        problems.append(
                            f"{path}.content_of[{i}]: "
                            + _unknown_element(el, known, "element", el, known, world)
                        )
                for i, s in enumerate(inst.excluded_sectors):
                    problem = _excluded_sector(inst, s, world)
                    if problem:
                        problems.append(f"{path}.excluded_sectors[{i}]: {problem}")
        elif inst.type == "tariff_exclusion":
            if inst.tariff not in tariffs:
                problems.append(
                    f"{path}.tariff: "
                    + suggest(inst.tariff, tariffs or {"(no named import_tariff)"}, what="tariff")
                )
        elif inst.type == "technology_ban":
            _region(inst.owner, world, f"{path}.owner", problems)
        elif inst.type == "stockpile":
            _region(inst.holder, world, f"{path}.holder", problems)
            goods_of(inst, world, path, problems)
        elif isinstance(inst, PriceFloor):
            _region(inst.region, world, f"{path}.region", problems)
            _region(inst.buyer, world, f"{path}.buyer", problems)
            goods_of(inst, world, path, problems)
        elif inst.type in ("subsidy", "capacity_project"):
            _region(inst.region, world, f"{path}.region", problems)
        elif inst.type == "supply_disruption":
            if inst.region in world.regions:
                from reesim.instruments.disruption import problems as disruption_problems

                problems.extend(disruption_problems(inst, world, path))
            else:
                _region(inst.region, world, f"{path}.region", problems)
        elif inst.type == "mining_quota":
            first = quota_regions.setdefault(inst.region, k)
            if first != k:
                problems.append(
                    f"{path}.region: {inst.region!r} already has a mining quota (instruments[{first}]); "
                    "one quota per region: give it the ores and growth of both, or override it by name"
                )
            if inst.region in world.regions:
                from reesim.instruments.quota import problems as quota_problems

                problems.extend(quota_problems(inst, world, path))
            else:
                _region(inst.region, world, f"{path}.region", problems)
        elif inst.type == "demand_shift":
            if inst.sector not in sectors:
                problems.append(f"{path}.sector: " + suggest(inst.sector, sectors, what="sector"))
            regions_of(inst.regions, world, f"{path}.regions", problems)

    for a in range(len(edge_sets)):
        if len(problems) > MAX_PROBLEMS:
            break  # enough to act on; join_problems counts none of the unchecked pairs
        for b in range(a + 1, len(edge_sets)):
            ka, ia, ea = edge_sets[a]
            kb, ib, eb = edge_sets[b]
            same_kind = type(ia) is type(ib)
            ban_quota = {type(ia), type(ib)} == {ExportBan, ExportLicensing}
            if (same_kind or ban_quota) and _overlap(ia, ib) and (ea & eb):
                c, o, d = sorted(ea & eb)[0]
                ends = [e for e in (ia.end, ib.end) if e is not None]
                until = min(ends) if ends else "open end"
                problems.append(
                    f"instruments[{kb}] contradicts instruments[{ka}]: both set {ia.type if same_kind else 'a ban and a quota'} "
                    f"on {c} {o}->{d} between {max(ia.start, ib.start)} and {until}; "
                    "end one before the other starts or merge them"
                )
    if "planned_capacity" in scenario.dynamics.model_fields_set:  # the default applies where it can
        for region in scenario.dynamics.planned_capacity:
            _region(region, world, f"dynamics.planned_capacity.{region}", problems)
        if scenario.dynamics.planned_capacity and not (world.demands["sector"] == MAGNET_SECTOR).any():
            problems.append(
                f"dynamics.planned_capacity: the world has no {MAGNET_SECTOR!r} demand whose growth magnet "
                "makers could plan for; give {} or a world with that sector"
            )
    if problems:
        raise InputError(join_problems([f"{label}: {p}" for p in problems]))


def check_counterfactual(cf_scenario, field: str = "counterfactual") -> None:
    """Refuse a counterfactual with licences given as approval shares.

    A counterfactual runs without one of its own, and an approval share is a share of the
    counterfactual's exports, so its licences would approve nothing (an embargo on every licensed
    good, Dy outside China at thousands of USD/kg). Compare two runs with ``reesim compare``.
    """
    shares = [
        i.name or f"instruments[{k}]"
        for k, i in enumerate(cf_scenario.instruments)
        if isinstance(i, ExportLicensing) and i.tonnes_per_year is None
    ]
    if shares:
        raise InputError(
            f"{field}: {cf_scenario.name!r} has licences given as approval shares ({', '.join(shares[:3])}), which "
            "refer to a counterfactual of their own and would approve nothing as a counterfactual; run both "
            "against the baseline and compare the two result folders with `reesim compare RUN_A RUN_B`"
        )
