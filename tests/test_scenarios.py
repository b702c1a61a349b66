"""The scenario language and the simulation layer around it.

* a corpus of bad scenario files (tests/scenarios_bad/): every one is an InputError naming
  the YAML path, the bad value and what is allowed;
* shipped scenarios load, validate and run; the JSON Schema lists every instrument type;
* ``extends``: instruments with the same name are replaced, others appended, mappings merged;
* the CLI: ``reesim validate``, ``reesim schema``, ``reesim run --out``;
* reproducibility (same scenario -> same tables and hash) and time steps (year, quarter, month).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pandas.testing import assert_frame_equal

from reesim.cache import runtime
from reesim.errors import InputError
from reesim.scenario.load import json_schema, load_scenario, parse, resolve, scenario_hash, shipped
from reesim.scenario.spec import INSTRUMENT_TYPES
from reesim.simulate.result import TABLES
from reesim.simulate.stepper import scenario_world, simulate
from tests.test_cli import invoke

#: the shipped baseline's instruments, in order: demand growth of both sectors, China's mining
#: quota, and the plants built in 2025 (Lynas Malaysia's Dy/Tb circuit; the magnet plants of MP
#: Materials, e-VAC and Neo Narva)
BASELINE_PLANTS = ["lynas-malaysia-dy-tb-circuit", "mp-independence", "evac-sumter", "neo-narva-phase-1"]
BASELINE_NAMES = ["magnet-demand-growth", "other-uses-growth", "china-mining-quota", *BASELINE_PLANTS]
BASELINE_TYPES = ["demand_shift", "demand_shift", "mining_quota"] + ["capacity_project"] * len(
    BASELINE_PLANTS
)

BAD = Path(__file__).parent / "scenarios_bad"

# file -> (YAML path, bad value, message naming what is wrong / allowed); all three must be
# on the same line of the error message.
BAD_CASES: dict[str, tuple[str, str, str]] = {
    "unknown_top_level_key.yaml": (
        "colour",
        "'red'",
        "unknown key. Allowed: counterfactual, description, dynamics, extends, horizon, instruments",
    ),
    "unknown_instrument_key.yaml": (
        "instruments[0].destination",
        "['USA']",
        "unknown key; did you mean 'destinations'?",
    ),
    "unknown_instrument_type.yaml": (
        "instruments[0]",
        "'export_embargo'",
        "unknown instrument type; allowed: " + ", ".join(INSTRUMENT_TYPES),
    ),
    "impossible_date.yaml": ("instruments[0].start", "2025-02-30", "is not a date (YYYY-MM-DD) or a year"),
    "impossible_date_quoted.yaml": (
        "instruments[0].start",
        "'2025-02-30'",
        "is not a date (YYYY-MM-DD) or a year",
    ),
    "instrument_end_before_start.yaml": ("instruments[0]", "end 2026-01-31", "is before start 2026-06-01"),
    "negative_tonnage.yaml": ("instruments[0].tonnes_per_year", "(got -5000)", "greater than or equal to 0"),
    "rate_out_of_range.yaml": ("instruments[0].rate", "(got 120)", "less than or equal to 100"),
    "approval_share_above_one.yaml": (
        "instruments[0].approval_share",
        "(got 1.5)",
        "less than or equal to 1",
    ),
    "unknown_region.yaml": ("instruments[0].destinations[0]", "'USB'", "did you mean 'USA'?"),
    "unknown_commodity.yaml": (
        "instruments[0].commodities[0]",
        "'magnet:ndfbe'",
        "did you mean 'magnet:ndfeb'?",
    ),
    "unknown_sector.yaml": (
        "instruments[0].sector",
        "'magnet user'",
        "Allowed: defense, magnet users, other uses",
    ),
    "exclusion_of_missing_tariff.yaml": (
        "instruments[1].tariff",
        "'us-301-magnet'",
        "did you mean 'us-301-magnets'?",
    ),
    "overlapping_export_taxes.yaml": (
        "instruments[1] contradicts instruments[0]",
        "export_tax on oxide:Dy CHN->JPN",
        "end one before the other starts or merge them",
    ),
    "ban_overlaps_quota.yaml": (
        "instruments[1] contradicts instruments[0]",
        "a ban and a quota on magnet:ndfeb CHN->USA",
        "end one before the other starts or merge them",
    ),
    "open_ended_ban_and_quota.yaml": (
        "instruments[1] contradicts instruments[0]",
        "a ban and a quota on magnet:ndfeb CHN->USA",
        "end one before the other starts or merge them",
    ),
    "horizon_end_before_start.yaml": ("horizon", "end 2025", "is before start 2027"),
    "horizon_before_reference_year.yaml": ("horizon.start", "2020", "before the world's reference year 2024"),
    "extends_missing_file.yaml": (
        "extends",
        "'no_such_parent.yaml'",
        "neither a file nor a shipped scenario",
    ),
    "extends_loop_a.yaml": (
        "'extends'",
        "extends_loop_a.yaml -> extends_loop_b.yaml -> extends_loop_a.yaml",
        "loops back",
    ),
    "extends_loop_b.yaml": (
        "'extends'",
        "extends_loop_b.yaml -> extends_loop_a.yaml -> extends_loop_b.yaml",
        "loops back",
    ),
    "duplicate_instrument_name.yaml": ("instruments[1].name", "'dup'", "is used twice"),
}

# Corpus files whose error is wrong because of a bug in src/ (reported; strict xfail).
KNOWN_BUGS: dict[str, tuple[str, type[BaseException]]] = {}


def _bad_params():
    for name in sorted(BAD_CASES):
        marks = []
        if name in KNOWN_BUGS:
            reason, raises = KNOWN_BUGS[name]
            marks = [pytest.mark.xfail(strict=True, reason=reason, raises=raises)]
        yield pytest.param(name, marks=marks, id=name.removesuffix(".yaml"))


def _check(path: Path) -> None:
    """Load and validate like ``reesim validate`` does (format, then names and contradictions)."""
    scenario_world(load_scenario(path))


def test_bad_corpus_is_complete():
    files = {p.name for p in BAD.glob("*.yaml")}
    assert files == set(BAD_CASES)
    assert len(files) >= 12


@pytest.mark.parametrize("name", list(_bad_params()))
def test_bad_scenario_names_path_value_and_what_is_allowed(name):
    where, value, message = BAD_CASES[name]
    with pytest.raises(InputError) as err:
        _check(BAD / name)
    lines = str(err.value).splitlines()
    hits = [ln for ln in lines if where in ln and value in ln and message in ln]
    assert hits, f"no line names {where!r}, {value!r} and {message!r}:\n{err.value}"
    # one problem per line, each prefixed by the label (file name or 'scenario')
    assert all(": " in ln for ln in lines)


def test_all_problems_are_reported_one_per_line(tmp_path):
    f = tmp_path / "many.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "name": "many",
                "horizon": {"start": 2025, "end": 2026},
                "instruments": [
                    {
                        "type": "export_ban",
                        "exporter": "CHX",
                        "destinations": ["USB", "JPN"],
                        "commodities": ["magnet:ndfeb"],
                        "start": 2026,
                    },
                    {"type": "demand_shift", "sector": "cars", "start": 2025},
                ],
            }
        )
    )
    with pytest.raises(InputError) as err:
        _check(f)
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert "instruments[0].exporter: unknown region 'CHX'; did you mean 'CHN'?" in lines[0]
    assert "instruments[0].destinations[0]: unknown region 'USB'" in lines[1]
    assert "instruments[1].sector: unknown sector 'cars'" in lines[2]


def test_unknown_key_suggests_the_allowed_key():
    with pytest.raises(InputError) as err:
        _check(BAD / "unknown_instrument_key.yaml")
    msg = str(err.value)
    assert "instruments[0].destination: unknown key; did you mean 'destinations'?" in msg
    assert (
        "Allowed: commodities, destinations, elements, end, exporter, name, no_reexport, stages, start, type"
        in msg
    )


# ---------------------------------------------------------------- shipped scenarios, schema


SHIPPED = sorted(shipped())


def test_every_documented_scenario_is_shipped():
    assert set(SHIPPED) >= {
        "baseline",
        "china-2023-tech-ban",
        "china-2025-licensing",
        "china-hree-magnet-ban-us",
        "us-301-tariffs",
        "us-301-tariffs-exclusions",
        "us-onshoring-price-floor",
        "cooperation",
    }


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_and_validates(name):
    sc = load_scenario(name)
    world = scenario_world(sc)
    assert sc.horizon.start >= world.meta["reference"]["year"]
    if name != "baseline":
        # every shipped scenario builds on the baseline's demand paths
        assert sc.extends is not None
        names = {i.name for i in sc.instruments}
        assert {"magnet-demand-growth", "other-uses-growth"} <= names
        assert len(sc.instruments) > 2


def _short(name: str, end: int = 2026) -> object:
    data, _ = resolve(name)
    data = copy.deepcopy(data)
    data["horizon"] = {**data["horizon"], "start": 2025, "end": end}
    return parse(data, name)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_runs_two_years(name):
    res = simulate(_short(name))
    prices = res.prices
    assert sorted(prices["year"].unique()) == [2025, 2026]  # in the scenario's own steps
    assert prices["usd_per_kg"].notna().all()
    assert (prices["usd_per_kg"] >= -1e-9).all()
    assert (res.consumption["tonnes"] >= -1e-6).all()


def test_json_schema_lists_every_instrument_type():
    schema = json_schema()
    assert isinstance(schema, dict)
    assert schema["$schema"].startswith("https://json-schema.org/")
    text = json.dumps(schema)
    for t in INSTRUMENT_TYPES:
        assert f'"{t}"' in text, t
    mapping = schema["properties"]["instruments"]["items"]["discriminator"]["mapping"]
    assert set(mapping) == set(INSTRUMENT_TYPES)
    assert schema["additionalProperties"] is False  # unknown top-level keys are errors for editors too


def test_json_schema_accepts_a_date_or_a_year_as_start_and_end():
    # the loader (and every shipped scenario) accepts 'start: 2025'; editors must too
    for model in ("ExportBan", "Stockpile", "DemandShift"):
        props = json_schema()["$defs"][model]["properties"]
        start = {s.get("type") for s in props["start"]["anyOf"]}
        end = {s.get("type") for s in props["end"]["anyOf"]}
        assert start == {"string", "integer"}, model
        assert end == {"string", "integer", "null"}, model


# ---------------------------------------------------------------- extends


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_extends_replaces_named_instruments_appends_others_and_merges_horizon(tmp_path):
    tariff = {
        "type": "import_tariff",
        "importer": "USA",
        "origins": ["CHN"],
        "commodities": ["magnet:ndfeb"],
        "start": 2026,
    }
    _write(
        tmp_path / "reesim_test_parent.yaml",
        {
            "name": "parent",
            "description": "the parent",
            "extends": "baseline",
            "horizon": {"start": 2025, "end": 2030, "step": "quarter"},
            "world": {"assumptions": {"demand_elasticity_oxide": 0.3}},
            "instruments": [
                {**tariff, "name": "t1", "rate": 0.25},
                {**tariff, "name": "t2", "importer": "JPN", "rate": 0.1},
            ],
        },
    )
    child = _write(
        tmp_path / "reesim_test_child.yaml",
        {
            "name": "child",
            "extends": "reesim_test_parent.yaml",
            "horizon": {"end": 2027},
            "instruments": [
                {**tariff, "name": "t1", "rate": 0.5},
                {**tariff, "importer": "KOR", "rate": 0.05},
            ],
        },
    )
    data, chain = resolve(str(child))
    assert chain == ["baseline (shipped)", "reesim_test_parent.yaml", "reesim_test_child.yaml"]
    assert data["horizon"] == {"start": 2025, "end": 2027, "step": "quarter"}
    assert data["extends"] == "reesim_test_parent.yaml"
    sc = load_scenario(child)
    assert sc.name == "child" and sc.description == "the parent"
    assert (sc.horizon.start, sc.horizon.end, sc.horizon.step) == (2025, 2027, "quarter")
    assert sc.world.reference_year == 2024 and sc.world.assumptions == {"demand_elasticity_oxide": 0.3}
    names = [i.name for i in sc.instruments]
    assert names == [
        *BASELINE_NAMES,
        "t1",
        "t2",
        None,
    ]
    by_name = {i.name: i for i in sc.instruments}
    assert by_name["t1"].rate == 0.5  # replaced in place
    assert by_name["t2"].importer == "JPN" and by_name["t2"].rate == 0.1  # inherited
    assert sc.instruments[-1].importer == "KOR"  # appended
    scenario_world(sc)


def test_extends_a_shipped_scenario_by_name_overrides_the_baseline_growth(tmp_path):
    child = _write(
        tmp_path / "reesim_test_fast.yaml",
        {
            "name": "fast",
            "extends": "china-2023-tech-ban",
            "horizon": {"start": 2025, "end": 2026},
            "instruments": [
                {
                    "type": "demand_shift",
                    "name": "magnet-demand-growth",
                    "sector": "magnet users",
                    "start": 2025,
                    "growth": {2025: 0.15},
                }
            ],
        },
    )
    sc = load_scenario(child)
    assert [i.name for i in sc.instruments] == [
        *BASELINE_NAMES,
        "china-tech-ban-2023",
    ]
    assert sc.instruments[0].growth == {2025: 0.15}
    assert sc.instruments[0].substitution_elasticity == 0.0  # replaced whole, not merged


def test_extends_a_parent_with_the_same_file_name_in_another_folder(tmp_path):
    _write(tmp_path / "scenario.yaml", {"name": "parent", "extends": "baseline", "horizon": {"end": 2026}})
    (tmp_path / "variant").mkdir()
    child = _write(tmp_path / "variant" / "scenario.yaml", {"name": "child", "extends": "../scenario.yaml"})
    # loops are detected by file identity, not by file name
    sc = load_scenario(child)
    assert sc.name == "child" and sc.horizon.end == 2026


def test_extends_itself_is_a_loop(tmp_path):
    me = _write(
        tmp_path / "me.yaml", {"name": "me", "extends": "me.yaml", "horizon": {"start": 2025, "end": 2026}}
    )
    with pytest.raises(
        InputError, match=r"me\.yaml: 'extends' loops back to itself \(me\.yaml -> me\.yaml\)"
    ):
        load_scenario(me)


def test_extends_is_relative_to_the_child_file(tmp_path, monkeypatch):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "elsewhere").mkdir()
    _write(
        tmp_path / "scenarios" / "parent.yaml", {"name": "p", "extends": "baseline", "horizon": {"end": 2026}}
    )
    _write(
        tmp_path / "elsewhere" / "parent.yaml", {"name": "q", "extends": "baseline", "horizon": {"end": 2031}}
    )
    child = _write(tmp_path / "scenarios" / "child.yaml", {"name": "c", "extends": "parent.yaml"})
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_scenario(child).horizon.end == 2026


# ---------------------------------------------------------------- CLI


SHORT = {"name": "short", "extends": "baseline", "horizon": {"start": 2025, "end": 2026}}


def test_cli_validate_good_file_exits_0(capsys, tmp_path):
    f = _write(tmp_path / "good.yaml", SHORT)
    code, out, err = invoke(capsys, "validate", str(f))
    assert code == 0, err
    assert f"valid ({len(BASELINE_NAMES)} instruments, 2025-2026 by year)" in out


def test_cli_validate_shipped_name_exits_0(capsys):
    code, out, _ = invoke(capsys, "validate", "china-2025-licensing")
    assert code == 0 and f"valid ({len(BASELINE_NAMES) + 2} instruments" in out  # two licences


def test_cli_validate_bad_file_exits_2_with_one_line_per_problem(capsys, tmp_path):
    f = _write(
        tmp_path / "bad.yaml",
        {
            **SHORT,
            "instruments": [
                {
                    "type": "export_ban",
                    "exporter": "CHN",
                    "destinations": ["USB"],
                    "commodities": ["magnet:ndfbe"],
                    "start": 2026,
                }
            ],
        },
    )
    code, out, err = invoke(capsys, "validate", str(f))
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("error: ")
    k = len(BASELINE_NAMES)  # the baseline's instruments come first
    assert f"instruments[{k}].commodities[0]: unknown commodity 'magnet:ndfbe'" in err
    assert f"instruments[{k}].destinations[0]: unknown region 'USB'; did you mean 'USA'?" in err


def test_cli_validate_format_error_exits_2(capsys):
    code, _, err = invoke(capsys, "validate", str(BAD / "rate_out_of_range.yaml"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "instruments[0].rate" in err and "(got 120)" in err


def test_cli_schema_writes_json(capsys, tmp_path):
    target = tmp_path / "scenario.schema.json"
    code, _, err = invoke(capsys, "schema", "--out", str(target))
    assert code == 0, err
    schema = json.loads(target.read_text())
    assert schema == json.loads(json.dumps(json_schema()))
    assert "$schema" in schema


def test_cli_schema_out_folder_exits_2(capsys, tmp_path):
    code, _, err = invoke(capsys, "schema", "--out", str(tmp_path))
    assert code == 2 and "is a folder" in err


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_run_writes_tables_summary_and_resolved_scenario(capsys, tmp_path):
    f = _write(
        tmp_path / "ban.yaml",
        {
            **SHORT,
            "name": "short-ban",
            "instruments": [
                {
                    "type": "export_ban",
                    "exporter": "CHN",
                    "destinations": ["USA"],
                    "commodities": ["magnet:ndfeb"],
                    "start": 2026,
                }
            ],
        },
    )
    out_dir = tmp_path / "out"
    code, out, err = invoke(capsys, "run", str(f), "--out", str(out_dir))
    assert code == 0, err
    assert "wrote" in out
    for sub in (out_dir, out_dir / "counterfactual"):
        for name in TABLES:
            assert (sub / f"{name}.parquet").is_file(), (sub, name)
    prices = pd.read_parquet(out_dir / "prices.parquet")
    assert sorted(prices["period"].unique()) == ["2025", "2026"]
    assert set(pd.read_parquet(out_dir / "counterfactual" / "trade.parquet")["period"]) == {"2025", "2026"}

    summary = json.loads((out_dir / "summary.json").read_text())
    for key in (
        "scenario",
        "scenario_hash",
        "counterfactual",
        "dataset_version",
        "code_version",
        "seed",
        "headline",
    ):
        assert key in summary, key
    sc = load_scenario(f)
    assert summary["scenario"] == "short-ban" and summary["counterfactual"] == "baseline"
    assert summary["scenario_hash"] == scenario_hash(sc)
    assert summary["seed"] == 0
    assert summary["runtime"] == list(runtime())  # the builds this CPU selects, named
    us_magnet = [
        r
        for r in summary["headline"]["price_changes"]
        if r["commodity"] == "magnet:ndfeb" and r["market"] == "outside China"
    ]
    assert us_magnet and us_magnet[0]["period"] == "2026"

    resolved = yaml.safe_load((out_dir / "scenario.resolved.yaml").read_text())
    assert resolved["name"] == "short-ban"
    assert [i["type"] for i in resolved["instruments"]] == [*BASELINE_TYPES, "export_ban"]
    # the resolved file is itself a valid scenario with the same hash
    assert scenario_hash(parse(resolved)) == scenario_hash(sc)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temporary folder left

    before = _listing(out_dir)
    code, _, err = invoke(capsys, "run", str(f), "--out", str(out_dir))
    assert code == 2
    assert "exists and is not empty" in err
    assert _listing(out_dir) == before


# ---------------------------------------------------------------- reproducibility, time steps


@cache
def _baseline(start: int, end: int, step: str):
    data = copy.deepcopy(resolve("baseline")[0])
    data["horizon"] = {"start": start, "end": end, "step": step}
    return parse(data)


def test_same_scenario_twice_gives_identical_tables_and_hash():
    data = copy.deepcopy(resolve("us-onshoring-price-floor")[0])
    data["horizon"] = {"start": 2025, "end": 2027}
    a_sc, b_sc = parse(copy.deepcopy(data)), parse(copy.deepcopy(data))
    assert scenario_hash(a_sc) == scenario_hash(b_sc)
    cf = simulate(_baseline(2025, 2027, "year"))
    a, b = simulate(a_sc, counterfactual=cf), simulate(b_sc, counterfactual=cf)
    for name in TABLES:
        assert_frame_equal(a.table(name), b.table(name))
    assert len(a.fiscal) > 0 and len(a.stocks) > 0  # the comparison covered non-empty tables
    assert a.meta["scenario_hash"] == scenario_hash(a_sc)
    # the hash changes with the content
    data["instruments"][-1]["trigger_ratio"] = 1.6
    assert scenario_hash(parse(data)) != scenario_hash(a_sc)


def test_scenario_hash_does_not_depend_on_how_the_file_is_written(tmp_path):
    a = _write(tmp_path / "a.yaml", {**SHORT, "horizon": {"start": 2025, "end": 2026, "step": "year"}})
    b = tmp_path / "b.yaml"
    b.write_text(
        "# same content, other order\nhorizon: {end: 2026, start: 2025}\nextends: baseline\nname: short\n"
    )
    assert scenario_hash(load_scenario(a)) == scenario_hash(load_scenario(b))


@pytest.fixture(scope="module")
def by_step():
    return {step: simulate(_baseline(2025, 2026, step)) for step in ("year", "quarter", "month")}


def test_steps_give_the_right_number_of_periods(by_step):
    expected = {"year": 2, "quarter": 8, "month": 24}
    for step, res in by_step.items():
        for name in ("prices", "production", "trade", "consumption", "capacity"):
            assert res.table(name)["period"].nunique() == expected[step], (step, name)
    assert sorted(by_step["quarter"].prices["period"].unique())[:2] == ["2025-Q1", "2025-Q2"]
    assert sorted(by_step["month"].prices["period"].unique())[-1] == "2026-12"


@pytest.mark.parametrize("step", ["quarter", "month"])
@pytest.mark.parametrize("table", ["production", "trade", "consumption"])
def test_flows_per_step_add_up_to_the_yearly_run(by_step, step, table):
    yearly = by_step["year"].table(table).groupby("year")["tonnes"].sum()
    sub = by_step[step].table(table)
    # tonnes per step are annual rates times the step length
    dt = {"quarter": 0.25, "month": 1 / 12}[step]
    assert (sub["tonnes"] - sub["tonnes_per_year"] * dt).abs().max() < 1e-6
    summed = sub.groupby("year")["tonnes"].sum()
    rel = (summed / yearly - 1).abs()
    assert (rel < 0.05).all(), rel
    # and not trivially: a sub-annual step moves a fraction of the annual rate
    assert sub.groupby("period")["tonnes"].sum().max() < 0.3 * yearly.max()


def test_consumption_by_commodity_adds_up_across_steps(by_step):
    def per_year(res):
        return res.consumption.groupby(["year", "commodity"])["tonnes"].sum()

    yearly = per_year(by_step["year"])
    for step in ("quarter", "month"):
        rel = (per_year(by_step[step]) / yearly - 1).abs()
        assert rel.max() < 0.05, (step, rel.idxmax(), rel.max())


def test_instrument_applies_from_the_step_whose_midpoint_is_in_force():
    data = copy.deepcopy(resolve("baseline")[0])
    data["horizon"] = {"start": 2025, "end": 2026, "step": "quarter"}
    data["instruments"].append(
        {
            "type": "export_ban",
            "exporter": "CHN",
            "destinations": ["USA"],
            "commodities": ["magnet:ndfeb"],
            "start": "2026-07-01",
        }
    )
    tr = simulate(parse(data)).trade
    flow = (
        tr[(tr["commodity"] == "magnet:ndfeb") & (tr["exporter"] == "CHN") & (tr["importer"] == "USA")]
        .set_index("period")["tonnes"]
        .reindex([f"{y}-Q{q}" for y in (2025, 2026) for q in (1, 2, 3, 4)], fill_value=0.0)
    )
    assert (flow.loc[:"2026-Q2"] > 1000).all()
    assert (flow.loc["2026-Q3":] <= 1e-6).all()


@pytest.mark.parametrize(
    ("goods", "expected"),
    [
        (
            {"commodities": ["oxide:Tm"]},
            "thulium (Tm) is not its own commodity; it is not modelled in this world: no thulium price",
        ),
        ({"commodities": ["metal:Lu"]}, "lutetium (Lu) is modelled only as oxide:Lu"),
        ({"elements": ["Tm"]}, "thulium (Tm) is not its own commodity"),
        (
            {"elements": ["Sc"]},
            "scandium (Sc) is not its own commodity; it is not modelled in this world: scandium is not recovered",
        ),
        ({"commodities": ["oxide:Dz"]}, "did you mean 'oxide:Dy'?"),  # a misspelling keeps its suggestion
    ],
)
def test_a_pooled_or_missing_rare_earth_is_named_not_mistaken_for_a_misspelling(tmp_path, goods, expected):
    f = tmp_path / "el.yaml"
    inst = {"type": "export_ban", "exporter": "CHN", "destinations": ["USA"], "start": 2025, **goods}
    f.write_text(
        yaml.safe_dump({"name": "el", "horizon": {"start": 2025, "end": 2025}, "instruments": [inst]})
    )
    with pytest.raises(InputError) as err:
        _check(f)
    msg = str(err.value)
    assert expected in msg
    assert "did you mean 'oxide:Pr'" not in msg and "did you mean 'Pr'" not in msg


@pytest.mark.parametrize("element", ["Ho", "Er", "Yb", "Lu"])
def test_each_heavy_rare_earth_with_a_price_is_its_own_commodity(tmp_path, element):
    """Ho, Er, Yb and Lu (licensed one by one by China in 2025) are named commodities of the
    default world: a licence on one of them validates and covers exactly its oxide."""
    f = tmp_path / "el.yaml"
    inst = {
        "type": "export_ban",
        "exporter": "CHN",
        "destinations": ["USA"],
        "start": 2025,
        "elements": [element],
    }
    f.write_text(
        yaml.safe_dump({"name": "el", "horizon": {"start": 2025, "end": 2025}, "instruments": [inst]})
    )
    _check(f)
    from reesim.scenario.checks import goods_of
    from reesim.scenario.load import load_scenario
    from reesim.world.default import load_default_world

    (ban,) = load_scenario(f).instruments
    assert goods_of(ban, load_default_world(2024), "") == [f"oxide:{element}"]


def test_an_element_pooled_in_a_group_is_named_with_its_pool():
    """A world that pools elements (meta['elements']['groups']) says where the element is."""
    from types import SimpleNamespace

    from reesim.scenario.checks import _unknown_element

    world = SimpleNamespace(
        meta={"elements": {"groups": {"HREE_other": ["Ho", "Er", "Tm"]}, "unmodelled": {}}}
    )
    known = ["Dy", "HREE_other"]
    msg = _unknown_element("Er", known, "commodity", "oxide:Er", ["oxide:Dy", "oxide:HREE_other"], world)
    assert "erbium (Er) is not its own commodity; it is pooled in HREE_other with Ho, Er, Tm" in msg
    assert "use 'oxide:HREE_other'" in msg


def test_a_folder_named_like_a_shipped_file_does_not_hide_it(tmp_path, monkeypatch):
    """`reesim run us-301-tariffs --out us-301-tariffs` leaves a folder of that name; the next
    run, or a game that names the scenario, must still find the shipped scenario."""
    from reesim.game.spec import load_game

    monkeypatch.chdir(tmp_path)
    for name in ("baseline", "us-301-tariffs", "us-china"):
        (tmp_path / name).mkdir()
    assert load_scenario("baseline").name == "baseline"
    assert load_scenario("us-301-tariffs").name == "us-301-tariffs"
    assert load_game("us-china")[0].players
    # a folder that is not a shipped name is still refused with the reason
    (tmp_path / "mine").mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        load_scenario("mine")
