"""The hostile-input corpus: hundreds of bad inputs, each with the clean error it must get.

A case is a command line, the files it reads (written into a fresh folder; ``{dir}`` in an
argument is that folder), the exit code it must end with (2: bad input; 3: a valid scenario the
model cannot solve, diagnosed) and fragments the message must contain (case-insensitive):
the field, the value, what is allowed. Cases are hand-written or generated from the scenario
schema (every numeric field of every instrument type with NaN, +-inf, a negative number,
1e308 and wrong types; every required field left out; near-miss typos of keys and names).

Used by ``tests/hostile/test_inputs.py`` (each case a test) and ``benchmarks/hostile.py``
(counts by outcome class).
"""

from __future__ import annotations

import copy
import math
import typing
from dataclasses import dataclass, field

import yaml

from reesim.scenario.spec import INSTRUMENT_MODELS


@dataclass(frozen=True)
class Case:
    """One hostile input and what reesim must answer."""

    id: str
    argv: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    code: int = 2
    expect: tuple[str, ...] = ()
    #: a path (relative to the case folder) that must not exist afterwards: nothing written
    absent: str | None = None


def _y(data: object) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


BASE = {"name": "hostile", "extends": "baseline", "horizon": {"start": 2025, "end": 2026}}

#: A valid instance of every instrument type (with the extra instruments it needs).
VALID: dict[str, tuple[dict, list[dict]]] = {
    "export_ban": (
        {
            "type": "export_ban",
            "name": "i",
            "exporter": "CHN",
            "destinations": ["USA"],
            "commodities": ["oxide:Dy"],
            "start": 2025,
        },
        [],
    ),
    "export_quota": (
        {
            "type": "export_quota",
            "name": "i",
            "exporter": "CHN",
            "destinations": "all",
            "commodities": ["oxide:Dy"],
            "approval_share": 0.5,
            "licence_cost_usd_per_kg": 2.0,
            "start": 2025,
        },
        [],
    ),
    "export_tax": (
        {
            "type": "export_tax",
            "name": "i",
            "exporter": "CHN",
            "commodities": ["oxide:Dy"],
            "rate": 0.1,
            "start": 2025,
        },
        [],
    ),
    "import_tariff": (
        {
            "type": "import_tariff",
            "name": "i",
            "importer": "USA",
            "origins": ["CHN"],
            "commodities": ["oxide:Dy"],
            "rate": 0.25,
            "start": 2025,
        },
        [],
    ),
    "tariff_exclusion": (
        {
            "type": "tariff_exclusion",
            "name": "i",
            "tariff": "t1",
            "share_excluded": 0.5,
            "renewal_years": 1.0,
            "renewal_probability": 0.5,
            "start": 2025,
        },
        [
            {
                "type": "import_tariff",
                "name": "t1",
                "importer": "USA",
                "origins": ["CHN"],
                "stages": ["oxide"],
                "rate": 0.25,
                "start": 2025,
            }
        ],
    ),
    "technology_ban": (
        {
            "type": "technology_ban",
            "name": "i",
            "owner": "CHN",
            "stages": ["magnet"],
            "extra_lead_time_years": 2.0,
            "capex_multiplier": 1.5,
            "opex_multiplier": 1.2,
            "learning_multiplier": 0.5,
            "start": 2025,
        },
        [],
    ),
    "stockpile": (
        {
            "type": "stockpile",
            "name": "i",
            "holder": "USA",
            "commodities": ["oxide:Dy"],
            "target_tonnes": 100,
            "build_tonnes_per_year": 50,
            "release_tonnes_per_year": 50,
            "trigger_ratio": 1.5,
            "start": 2025,
        },
        [],
    ),
    "price_floor": (
        {
            "type": "price_floor",
            "name": "i",
            "buyer": "USA",
            "region": "USA",
            "commodities": ["oxide:Nd"],
            "floor_usd_per_kg": 110,
            "volume_tonnes_per_year": 1000,
            "offtake_tonnes_per_year": 0,
            "start": 2025,
        },
        [],
    ),
    "subsidy": (
        {
            "type": "subsidy",
            "name": "i",
            "region": "USA",
            "stage": "magnet",
            "capex_share": 0.5,
            "per_unit_usd_per_kg": 1.0,
            "start": 2025,
        },
        [],
    ),
    "demand_shift": (
        {
            "type": "demand_shift",
            "name": "i",
            "sector": "magnet users",
            "growth": {2025: 0.05},
            "substitution_elasticity": 0.3,
            "substitution_lag_years": 2,
            "start": 2025,
        },
        [],
    ),
}


def scenario_with(inst: dict | None = None, extra: list[dict] | None = None, **top) -> dict:
    """The base scenario with ``inst`` (and ``extra``) as instruments and ``top`` keys replaced."""
    data = copy.deepcopy(BASE) | top
    if inst is not None:
        data["instruments"] = [*(extra or []), inst]
    return data


def _validate(case_id: str, data: object, *expect: str, raw: bytes | None = None, code: int = 2) -> Case:
    return Case(
        case_id, ("validate", "{dir}/s.yaml"), {"s.yaml": raw if raw is not None else _y(data)}, code, expect
    )


def _float_fields(model) -> list[str]:
    out = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        args = typing.get_args(ann)
        if ann is float or (args and float in args):
            out.append(name)
    return out


def _required(model) -> list[str]:
    return [n for n, f in model.model_fields.items() if f.is_required() and n != "type"]


# ------------------------------------------------------------------------------ generated
def generated() -> list[Case]:
    """Cases derived from the schema: every numeric field with hostile values, every required field missing, typos."""
    cases = []
    hostile_numbers = {
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "negative": -1.0,
        "1e308": 1e308,
        "text": "a lot",
        "list": [1, 2],
    }
    for kind, (inst, extra) in VALID.items():
        model = INSTRUMENT_MODELS[kind]
        for fld in _float_fields(model):
            for label, value in hostile_numbers.items():
                if label == "negative" and fld == "growth":
                    continue
                bad = dict(inst, **{fld: value})
                cases.append(_validate(f"{kind}.{fld}={label}", scenario_with(bad, extra), fld))
        for fld in _required(model):
            bad = {k: v for k, v in inst.items() if k != fld}
            cases.append(_validate(f"{kind}.missing.{fld}", scenario_with(bad, extra), fld, "required"))
        # a near-miss typo of the first non-type key: the message suggests the right one
        key = next(k for k in inst if k not in ("type", "name"))
        typo = key[:2] + key[3:]  # one letter left out
        bad = {(typo if k == key else k): v for k, v in inst.items()}
        cases.append(
            _validate(f"{kind}.typo.{typo}", scenario_with(bad, extra), typo, f"did you mean '{key}'")
        )
        # dates: impossible, out of range, reversed
        for label, start, end in (
            ("start=2025-13-01", "2025-13-01", None),
            ("start=3000-01-01", "3000-01-01", None),
            ("start=1800", 1800, None),
            ("end<start", 2026, 2025),
            ("start=yesterday", "yesterday", None),
        ):
            bad = dict(inst, start=start) | ({"end": end} if end is not None else {})
            cases.append(
                _validate(f"{kind}.{label}", scenario_with(bad, extra), "start" if end is None else "end")
            )
        # a wrong type for the whole instrument and an unknown extra key
        cases.append(
            _validate(
                f"{kind}.extra-key", scenario_with(dict(inst, colour="red"), extra), "colour", "unknown key"
            )
        )
    return cases


# ------------------------------------------------------------------------------ hand-written
def scenarios() -> list[Case]:
    """Hand-written scenario files: structure, names, numbers, dates, world, dynamics."""
    v = _validate
    ban = VALID["export_ban"][0]
    quota = VALID["export_quota"][0]
    tariff = VALID["import_tariff"][0]
    c = [
        v("empty-file", None, "mapping", raw=b""),
        v("only-comment", None, "mapping", raw=b"# nothing\n"),
        v("a-list", [1, 2], "mapping"),
        v("a-string", "hello", "mapping"),
        v("a-number", 42, "mapping"),
        v("no-horizon", {"name": "x"}, "horizon", "required"),
        v(
            "no-name-extends",
            {"extends": "baseline", "horizon": {"start": 2025, "end": 2026}},
            "name",
            "own name",
        ),
        v(
            "name-twice",
            None,
            "duplicated key",
            "'name'",
            raw=b"name: a\nname: b\nhorizon: {start: 2025, end: 2026}\n",
        ),
        v(
            "horizon-twice",
            None,
            "duplicated key",
            raw=b"name: a\nhorizon: {start: 2025, end: 2026}\nhorizon: {start: 2025, end: 2027}\n",
        ),
        v(
            "nested-key-twice",
            None,
            "duplicated key",
            "'start'",
            raw=b"name: a\nhorizon: {start: 2025, start: 2026, end: 2027}\n",
        ),
        v("unknown-top-key", scenario_with(instrumentz=[]), "instrumentz", "did you mean 'instruments'"),
        v(
            "unknown-type",
            scenario_with({"type": "export_bam", "exporter": "CHN", "start": 2025}),
            "instrument type",
            "export_ban",
        ),
        v("type-missing", scenario_with({"exporter": "CHN", "start": 2025}), "type"),
        v("instruments-not-list", scenario_with(instruments={"a": 1}), "instruments"),
        v("instrument-not-mapping", scenario_with(instruments=["export_ban"]), "instruments[", "dictionary"),
        v("unknown-region", scenario_with(dict(ban, exporter="CNH")), "CNH", "CHN"),
        v("unknown-dest", scenario_with(dict(ban, destinations=["USA", "XYZ"])), "XYZ"),
        v("self-destination", scenario_with(dict(ban, destinations=["CHN"])), "destinations", "itself"),
        v("self-origin", scenario_with(dict(tariff, origins=["USA"])), "origins", "itself"),
        v("unknown-commodity", scenario_with(dict(ban, commodities=["oxide:Dyy"])), "oxide:Dyy", "oxide:Dy"),
        v("unknown-element", scenario_with(dict(ban, commodities=[], elements=["Tm"])), "Tm", "thulium"),
        v("unknown-stage", scenario_with(dict(ban, commodities=[], stages=["ore"])), "stages", "ore"),
        v("no-goods", scenario_with(dict(ban, commodities=[])), "commodities"),
        v("approval>1", scenario_with(dict(quota, approval_share=1.5)), "approval_share", "1.5"),
        v("approval-and-tonnes", scenario_with(dict(quota, tonnes_per_year=100)), "either tonnes_per_year"),
        v(
            "no-limit",
            scenario_with({k: x for k, x in quota.items() if k != "approval_share"}),
            "approval_share",
        ),
        v("approval-by-unknown", scenario_with(dict(quota, approval_by_destination={"XYZ": 0.5})), "XYZ"),
        v(
            "tonnes-1e12",
            scenario_with(dict(quota, approval_share=None, tonnes_per_year=1e12)),
            "tonnes_per_year",
        ),
        v(
            "licence-1e308",
            scenario_with(dict(quota, licence_cost_usd_per_kg=1e308)),
            "licence_cost_usd_per_kg",
            "50000",
        ),
        v(
            "licence-inf",
            None,
            "licence_cost_usd_per_kg",
            "finite",
            raw=_y(scenario_with(dict(quota))).replace(
                b"licence_cost_usd_per_kg: 2.0", b"licence_cost_usd_per_kg: .inf"
            ),
        ),
        v("rate-101", scenario_with(dict(tariff, rate=101)), "rate", "100"),
        v("rate-percent-string", scenario_with(dict(tariff, rate="25%")), "rate", "25%"),
        v("rate-bool", scenario_with(dict(tariff, rate=[True])), "rate"),
        v(
            "excluded-sector-unknown",
            scenario_with(dict(quota, excluded_sectors=["defence-ish"])),
            "defence-ish",
        ),
        v("duplicate-instrument-name", scenario_with(ban, [dict(ban)]), "used twice"),
        v(
            "exclusion-missing-tariff",
            scenario_with(dict(VALID["tariff_exclusion"][0], tariff="nope")),
            "nope",
        ),
        v("ban-and-quota", scenario_with(dict(quota, name="q"), [dict(ban, destinations="all")]), "ban"),
        v("stockpile-unknown-holder", scenario_with(dict(VALID["stockpile"][0], holder="ATL")), "ATL"),
        v("floor-zero", scenario_with(dict(VALID["price_floor"][0], floor_usd_per_kg=0)), "floor_usd_per_kg"),
        v(
            "subsidy-nothing",
            scenario_with(dict(VALID["subsidy"][0], capex_share=0, per_unit_usd_per_kg=0)),
            "capex_share",
        ),
        v(
            "subsidy-stage-unknown",
            scenario_with(dict(VALID["subsidy"][0], stage="recycling")),
            "stage",
            "recycling",
        ),
        v("sector-unknown", scenario_with(dict(VALID["demand_shift"][0], sector="toys")), "toys"),
        v(
            "growth-year-1800",
            scenario_with(dict(VALID["demand_shift"][0], growth={1800: 0.05})),
            "growth",
            "1800",
        ),
        v("growth-year--1", scenario_with(dict(VALID["demand_shift"][0], growth={-1: 0.05})), "growth", "-1"),
        v("growth-2", scenario_with(dict(VALID["demand_shift"][0], growth={2025: 2.0})), "growth", "2"),
        v(
            "growth-key-text",
            scenario_with(dict(VALID["demand_shift"][0], growth={"soon": 0.1})),
            "growth",
            "soon",
        ),
        v("horizon-1800", scenario_with(horizon={"start": 1800, "end": 2026}), "horizon.start", "1800"),
        v("horizon-2200", scenario_with(horizon={"start": 2025, "end": 2200}), "horizon.end", "2200"),
        v("horizon-reversed", scenario_with(horizon={"start": 2030, "end": 2025}), "before start"),
        v(
            "horizon-step-week",
            scenario_with(horizon={"start": 2025, "end": 2026, "step": "week"}),
            "step",
            "week",
        ),
        v("horizon-text", scenario_with(horizon={"start": "soon", "end": 2026}), "horizon.start", "soon"),
        v("horizon-float", scenario_with(horizon={"start": 2025.5, "end": 2026}), "horizon.start"),
        v("horizon-list", scenario_with(horizon=[2025, 2026]), "horizon"),
        v("reference-year-1999", scenario_with(world={"reference_year": 1999}), "reference year", "1999"),
        v(
            "assumption-unknown",
            scenario_with(world={"assumptions": {"demand_elastisity_oxide": 0.3}}),
            "demand_elastisity_oxide",
            "demand_elasticity_oxide",
        ),
        v(
            "assumption-elasticity-0",
            scenario_with(world={"assumptions": {"demand_elasticity_oxide": 0}}),
            "demand_elasticity_oxide",
            "(0, 10]",
        ),
        v(
            "assumption-supply-0",
            scenario_with(world={"assumptions": {"supply_elasticity": 0}}),
            "supply_elasticity",
            "(0, 10]",
        ),
        v(
            "assumption-share-1",
            scenario_with(world={"assumptions": {"separation_cost_share": 1.0}}),
            "separation_cost_share",
            "(0, 1)",
        ),
        v(
            "assumption-negative",
            scenario_with(world={"assumptions": {"mining_headroom": -0.5}}),
            "mining_headroom",
        ),
        v(
            "assumption-text",
            scenario_with(world={"assumptions": {"congestion": "high"}}),
            "congestion",
            "high",
        ),
        v(
            "assumption-nonscalar",
            scenario_with(world={"assumptions": {"transport_cost": 1.0}}),
            "transport_cost",
        ),
        v(
            "assumption-nan",
            None,
            "congestion",
            "finite",
            raw=_y(scenario_with(world={"assumptions": {"congestion": 0.001}})).replace(b"0.001", b".nan"),
        ),
        v("learning-1", scenario_with(dynamics={"learning_rate": 1.0}), "learning_rate", "less than 1"),
        v(
            "lead-time-stage-typo",
            scenario_with(dynamics={"lead_time_years": {"minning": 5}}),
            "minning",
            "mining",
        ),
        v(
            "capex-stage-typo",
            scenario_with(dynamics={"capex_usd_per_kg_year": {"magnett": 5}}),
            "magnett",
            "magnet",
        ),
        v(
            "lead-time-negative",
            scenario_with(dynamics={"lead_time_years": {"mining": -1}}),
            "lead_time_years",
        ),
        v("build-rate-2", scenario_with(dynamics={"max_build_rate": 2}), "max_build_rate"),
        v("dynamics-unknown", scenario_with(dynamics={"speed": 2}), "speed"),
        v("seed-text", scenario_with(seed="lucky"), "seed", "lucky"),
        v("name-list", scenario_with(name=["a"]), "name"),
        v("extends-missing", scenario_with(extends="no-such-scenario"), "no-such-scenario"),
        v("extends-number", scenario_with(extends=42), "extends"),
        v("extends-etc-shadow", scenario_with(extends="../../../../../../etc/shadow"), "shadow"),
        v("extends-dev-zero", scenario_with(extends="/dev/zero"), "not a regular file"),
        v("counterfactual-list", scenario_with(counterfactual=["baseline"]), "counterfactual"),
        v(
            "yaml-python-tag",
            None,
            "constructor",
            raw=b"name: !!python/object/apply:os.system ['echo pwned']\nhorizon: {start: 2025, end: 2026}\n",
        ),
        v(
            "yaml-python-name",
            None,
            "constructor",
            raw=b"name: !!python/name:os.system\nhorizon: {start: 2025, end: 2026}\n",
        ),
        v(
            "yaml-unknown-tag",
            None,
            "constructor",
            raw=b"name: !secret x\nhorizon: {start: 2025, end: 2026}\n",
        ),
        v("yaml-syntax", None, "line 3", "expected ','", raw=b"name: x\nhorizon: {start: 2025, end: 2026\n"),
        v("yaml-tab", None, "not valid yaml", raw=b"name: x\n\thorizon: 1\n"),
        v("yaml-two-docs", None, "another document", raw=b"name: x\n---\nname: y\n"),
        v("yaml-unhashable-key", None, "unhashable", raw=b"? [a, b]\n: 1\nname: x\n"),
        v("binary", None, "binary", raw=bytes(range(256))),
        v("nul-in-text", None, "binary", raw=b"name: x\x00\nhorizon: {start: 2025, end: 2026}\n"),
        v("latin-1", None, "not utf-8", "0xe9", raw="name: énergie\n".encode("latin-1")),
        v("windows-1252", None, "not utf-8", raw="name: \u201cquoted\u201d\n".encode("cp1252")),
        v("utf-16", None, "utf-16", raw="name: x\n".encode("utf-16")),
        v("utf-16-be", None, "utf-16", raw=b"\xfe\xff" + "name: x\n".encode("utf-16-be")),
        v("huge", None, "at most 1,000,000", raw=b"name: x\n" + b"# padding\n" * 120_000),
        v("deep-brackets", None, "nested more than", raw=b"name: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        v(
            "deep-mapping",
            None,
            "nested more than",
            raw=b"name: x\nhorizon: " + b"{a: " * 60 + b"1" + b"}" * 60 + b"\n",
        ),
        v("alias-bomb", None, "expands to more than", raw=_billion_laughs(9)),
        v("alias-bomb-small-file", None, "expands to more than", raw=_billion_laughs(7, width=12)),
        v("alias-ok", None, "valid", raw=b"name: x\nhorizon: &h {start: 2025, end: 2026}\n", code=0),
        v(
            "etc-passwd-like",
            None,
            "this file is not one",
            raw=b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
        ),
        v(
            "etc-shadow-like",
            None,
            "does not look like a scenario",
            "not shown",
            raw=b"root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n",
        ),
        v("csv-file", None, "mapping", raw=b"year,value\n2024,1\n"),
        v("html-file", None, "mapping", raw=b"<html><body>hi</body></html>\n"),
        v(
            "3000-instruments",
            scenario_with(instruments=[dict(tariff, name=f"t{k}", start=2025 + k % 10) for k in range(3000)]),
            "instruments",
            "at most 500",
        ),
        v(
            "450-contradictions",
            scenario_with(instruments=[dict(tariff, name=f"t{k}") for k in range(450)]),
            "contradicts",
            "more problems",
        ),
    ]
    c += [
        Case("validate-missing-file", ("validate", "{dir}/nope.yaml"), {}, 2, ("nope.yaml",)),
        Case("validate-a-folder", ("validate", "{dir}"), {}, 2, ("not a regular file",)),
        Case("validate-dev-zero", ("validate", "/dev/zero"), {}, 2, ("not a regular file",)),
        Case("validate-etc-shadow", ("validate", "/etc/shadow"), {}, 2, ("shadow",)),
        Case("validate-markup-name", ("validate", "[/x]"), {}, 2, ("[/x]",)),
        Case("validate-escape-name", ("validate", "\x1b]8;;http://evil\x07x"), {}, 2, ("\\x1b",)),
    ]
    # extends: loops, chains, traversal
    chain = {f"c{i}.yaml": _y({"name": f"c{i}", "extends": f"c{i + 1}.yaml"}) for i in range(25)}
    chain["c25.yaml"] = _y({"name": "c25", "horizon": {"start": 2025, "end": 2026}})
    c.append(Case("extends-chain-26", ("validate", "{dir}/c0.yaml"), chain, 2, ("longer than 20",)))
    loop = {
        "a.yaml": _y({"name": "a", "extends": "b.yaml"}),
        "b.yaml": _y({"name": "b", "extends": "a.yaml"}),
    }
    c.append(Case("extends-loop", ("validate", "{dir}/a.yaml"), loop, 2, ("loops back",)))
    selfloop = {"a.yaml": _y({"name": "a", "extends": "a.yaml"})}
    c.append(Case("extends-self", ("validate", "{dir}/a.yaml"), selfloop, 2, ("loops back",)))
    return c


def _billion_laughs(levels: int, width: int = 10) -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append("name: bomb")
    lines.append(f"description: *a{levels}")
    return ("\n".join(lines) + "\n").encode()


def runs() -> list[Case]:
    """``reesim run``: bad input refused before any work and nothing written."""
    good = _y(scenario_with())
    out = []
    for cid, data, expect in (
        ("run-rate-1e308", scenario_with(dict(VALID["import_tariff"][0], rate=1e308)), ("rate",)),
        ("run-unknown-region", scenario_with(dict(VALID["export_ban"][0], exporter="XX")), ("XX",)),
        ("run-stockpile-inf", None, ("target_tonnes", "finite")),
        ("run-learning-1", scenario_with(dynamics={"learning_rate": 1.0}), ("learning_rate",)),
        ("run-latin1", None, ("not utf-8",)),
    ):
        if cid == "run-stockpile-inf":
            raw = _y(scenario_with(VALID["stockpile"][0])).replace(
                b"target_tonnes: 100", b"target_tonnes: .inf"
            )
        elif cid == "run-latin1":
            raw = "name: é\n".encode("latin-1")
        else:
            raw = _y(data)
        out.append(
            Case(cid, ("run", "{dir}/s.yaml", "--out", "{dir}/out"), {"s.yaml": raw}, 2, expect, absent="out")
        )
    files = {"s.yaml": good, "f": b"a file"}
    for cid, dest, expect in (
        ("run-out-is-file", "{dir}/f", ("is a file",)),
        ("run-out-under-file", "{dir}/f/sub", ("not a folder",)),
        ("run-out-dev-null", "/dev/null", ("character device",)),
        ("run-out-nonempty", "{dir}", ("not empty",)),
    ):
        out.append(Case(cid, ("run", "{dir}/s.yaml", "--out", dest), files, 2, expect))
    out.append(
        Case("run-report-without-out", ("run", "{dir}/s.yaml", "--report"), {"s.yaml": good}, 2, ("--out",))
    )
    out.append(
        Case(
            "run-against-unknown",
            ("run", "{dir}/s.yaml", "--against", "basline"),
            {"s.yaml": good},
            2,
            ("basline", "baseline"),
        )
    )
    out.append(Case("run-markup-scenario", ("run", "[/x]"), {}, 2, ("[/x]",)))
    out.append(Case("run-markup-bold", ("run", "[bold]x[/bold]"), {}, 2, ("[bold]x[/bold]",)))
    return out


def commands() -> list[Case]:
    """Other commands and arguments: data filters, exports, reports, solve, games, backtests."""
    c = []
    for cid, args, expect in (
        ("data-show-unknown-table", ("data", "show", "pricez"), ("pricez", "prices")),
        ("data-show-markup-where", ("data", "show", "prices", "--where", "element=[/b]"), ("[/b]",)),
        (
            "data-show-sql-quote",
            ("data", "show", "prices", "--where", "element=Dy' OR '1'='1"),
            ("Dy' OR '1'='1",),
        ),
        (
            "data-show-sql-drop",
            ("data", "show", "prices", "--where", "element=Dy'; DROP TABLE prices; --"),
            ("DROP TABLE",),
        ),
        ("data-show-sql-column", ("data", "show", "prices", "--where", "1=1; --=x"), ("unknown column '1'",)),
        ("data-show-bad-column", ("data", "show", "prices", "--where", "elemnt=Dy"), ("elemnt", "element")),
        ("data-show-no-equals", ("data", "show", "prices", "--where", "element"), ("COLUMN=VALUE",)),
        ("data-show-control-char", ("data", "show", "prices", "--where", "element=Dy\x1b[2J"), ("\\x1b",)),
        (
            "data-show-union",
            ("data", "show", "prices", "--where", "element=Dy UNION SELECT * FROM sources"),
            ("UNION",),
        ),
        ("data-cite-unknown-table", ("data", "cite", "sourcez", "x=1"), ("sourcez",)),
        ("data-export-dev-null", ("data", "export", "prices", "--out", "/dev/null"), ("character device",)),
        ("data-export-folder", ("data", "export", "prices", "--out", "{dir}"), ("folder",)),
        ("data-export-unknown-table", ("data", "export", "pricez", "--out", "{dir}/x.csv"), ("pricez",)),
        ("schema-out-dev-null", ("schema", "--out", "/dev/null"), ("character device",)),
        ("report-not-a-run", ("report", "{dir}"), ("summary.json",)),
        ("report-out-dev-null", ("report", "{dir}", "--out", "/dev/null"), ("character device",)),
        ("compare-not-runs", ("compare", "{dir}", "{dir}"), ("prices",)),
        ("solve-unknown-world", ("solve", "nowhere.yaml"), ("nowhere.yaml",)),
        ("solve-default-bad-year", ("solve", "default", "--year", "1990"), ("1990",)),
        ("world-describe-bad-year", ("world", "describe", "--year", "3000"), ("3000",)),
        ("game-unknown", ("game", "us-chna"), ("us-chna", "us-china")),
        ("backtest-unknown", ("backtest", "2011"), ("2011",)),
        ("cache-clear-foreign", ("cache", "clear"), ()),
    ):
        if cid == "cache-clear-foreign":
            continue  # covered in test_cache
        c.append(Case(cid, args, {}, 2, expect, absent="x.csv" if "export" in cid else None))
    c += worlds() + games() + episodes()
    return c


def _file_cases(cases: list[Case], prefix: str, argv: tuple[str, ...]):
    """A function adding a case that runs ``argv`` on one file (``data`` as YAML, or ``raw`` bytes)."""
    name = argv[1].removeprefix("{dir}/")

    def add(cid: str, data: object, *expect: str, raw: bytes | None = None) -> None:
        cases.append(Case(f"{prefix}-{cid}", argv, {name: raw if raw is not None else _y(data)}, 2, expect))

    return add


def worlds() -> list[Case]:
    """World files for ``reesim solve``."""
    good = {
        "name": "w",
        "regions": ["A", "B"],
        "commodities": ["x"],
        "supply": [{"region": "A", "commodity": "x", "intercept": 10, "slope": 1}],
        "demand": [{"region": "B", "commodity": "x", "intercept": 130, "slope": 1}],
        "trade": {"edges": [{"commodity": "x", "from": "A", "to": "B", "cost": 1}]},
    }
    cases: list[Case] = []
    w = _file_cases(cases, "world", ("solve", "{dir}/w.yaml"))

    w("unknown-key", dict(good, regionz=["A"]), "regionz")
    w("missing-regions", {k: x for k, x in good.items() if k != "regions"}, "regions")
    w("dup-region", dict(good, regions=["A", "A"]), "twice")
    w("unknown-region", dict(good, supply=[dict(good["supply"][0], region="C")]), "C")
    w("negative-slope", dict(good, demand=[dict(good["demand"][0], slope=-1)]), "slope")
    w("nan-intercept", None, "intercept", raw=_y(good).replace(b"intercept: 130", b"intercept: .nan"))
    w(
        "text-transport",
        dict(good, trade={"edges": [dict(good["trade"]["edges"][0], cost="cheap")]}),
        "cost",
        "cheap",
    )
    w("self-edge", dict(good, trade={"edges": [dict(good["trade"]["edges"][0], to="A")]}), "both")
    w("duplicate-key", None, "duplicated key", raw=b"name: w\nname: v\n")
    w("alias-bomb", None, "expands to more than", raw=_billion_laughs(9))
    w("binary", None, "binary", raw=b"\x00\x01\x02")
    w("latin-1", None, "not utf-8", raw="name: é\n".encode("latin-1"))
    w("not-a-world", None, "does not look like a world file", raw=b"foo: 1\nbar: 2\n")
    w("impossible-date", None, "not a valid date", raw=_y(good) + b"note: 2025-13-45\n")
    return cases


def games() -> list[Case]:
    """Game files for ``reesim game``."""
    good = {
        "name": "g",
        "base": "baseline",
        "horizon": {"start": 2025, "end": 2026},
        "players": [
            {"name": "US", "regions": ["USA"], "strategies": [{"name": "none", "description": "x"}]},
            {"name": "China", "regions": ["CHN"], "strategies": [{"name": "none", "description": "x"}]},
        ],
    }
    cases: list[Case] = []
    g = _file_cases(cases, "game", ("game", "{dir}/g.yaml", "--workers", "1"))

    g("unknown-key", dict(good, playerz=[]), "playerz")
    g("one-player", dict(good, players=good["players"][:1]), "players")
    g(
        "unknown-region",
        dict(good, players=[dict(good["players"][0], regions=["USX"]), good["players"][1]]),
        "USX",
    )
    g(
        "unknown-scenario",
        dict(
            good,
            players=[
                dict(
                    good["players"][0], strategies=[{"name": "s", "description": "x", "scenarios": ["nope"]}]
                ),
                good["players"][1],
            ],
        ),
        "nope",
    )
    g("discount-nan", None, "discount_rate", raw=_y(dict(good, discount_rate=0.03)).replace(b"0.03", b".nan"))
    g("discount-2", dict(good, discount_rate=2), "discount_rate")
    g("duplicate-key", None, "duplicated key", raw=b"name: g\nname: h\n")
    g("not-a-game", None, "does not look like a game", raw=b"foo: 1\n")
    return cases


def episodes() -> list[Case]:
    """Backtest episode files for ``reesim backtest``."""
    from tests.test_backtest import SHORT

    good = yaml.safe_load(SHORT)
    cases: list[Case] = []
    e = _file_cases(cases, "episode", ("backtest", "{dir}/e.yaml"))

    e("as-of-2999", dict(good, knowledge=dict(good["knowledge"], as_of="2999-01-01")), "as_of", "2999")
    e("as-of-text", dict(good, knowledge=dict(good["knowledge"], as_of="soon")), "as_of", "soon")
    e("unknown-key", dict(good, seriez=[]), "seriez")
    e(
        "unknown-table",
        dict(good, series=[dict(good["series"][0], observed={"table": "pricez", "filters": {}})]),
        "pricez",
    )
    e("duplicate-key", None, "duplicated key", raw=b"name: e\nname: f\n")
    e("not-an-episode", None, "does not look like an episode", raw=b"foo: 1\n")
    return cases


def all_cases() -> list[Case]:
    """Every case of the corpus (ids unique)."""
    cases = generated() + scenarios() + runs() + commands()
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)}"
    return cases
