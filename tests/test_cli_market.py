"""``reesim solve`` and ``reesim world describe``: output, files and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.test_cli import invoke

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "two-regions.yaml"


def test_solve_world_file_prints_prices_and_trade(capsys):
    code, out, _ = invoke(capsys, "solve", str(EXAMPLE), "--year", "2024")
    assert code == 0
    assert "│ widget    │ 67 │ 73 │" in out
    assert "guards passed" in out


def test_solve_applies_policies_in_force(capsys):
    code, out, _ = invoke(capsys, "solve", str(EXAMPLE), "--year", "2025", "--solver", "clarabel")
    assert code == 0
    assert "│ widget    │ 60 │ 80 │" in out
    assert "A-export-quota" in out and "14.0" in out


def test_solve_writes_tables_atomically(capsys, tmp_path):
    target = tmp_path / "run"
    code, _, _ = invoke(capsys, "solve", str(EXAMPLE), "--year", "2025", "--out", str(target))
    assert code == 0
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted(
        [
            "prices.parquet",
            "production.parquet",
            "outputs.parquet",
            "trade.parquet",
            "consumption.parquet",
            "quota_rents.parquet",
            "summary.json",
        ]
    )
    prices = pd.read_parquet(target / "prices.parquet").set_index("region")["usd_per_kg"]
    assert prices["A"] == pytest.approx(60) and prices["B"] == pytest.approx(80)
    summary = json.loads((target / "summary.json").read_text())
    assert summary["quantity_unit"] == "t" and summary["price_unit"] == "USD/kg"
    assert any(r.startswith("piqp build piqp_python") for r in summary["runtime"])  # what solved it
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left
    code, _, err = invoke(capsys, "solve", str(EXAMPLE), "--out", str(target))
    assert code == 2 and "not empty" in err


def test_solve_default_world(capsys):
    code, out, _ = invoke(capsys, "solve", "default", "--top", "3")
    assert code == 0
    assert "default world, reference year 2024" in out
    assert "oxide:Tb" in out


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: x\nregions: [A]\ncommodities: [w]\nsuply: []\n", "suply: unknown key"),
        (
            "name: x\nregions: [A, B]\ncommodities: [w]\nsupply: [{region: C, commodity: w, intercept: 1, slope: 1}]\n",
            "supply[0].region: unknown region 'C'",
        ),
        (
            "name: x\nregions: [A]\ncommodities: [w]\ndemand: [{region: A, commodity: w, intercept: 1, slope: -1}]\n",
            "demand.0.slope",
        ),
        ("- just a list\n", "a world file is a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_world_files_exit_2_naming_the_path(capsys, tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = invoke(capsys, "solve", str(path))
    assert code == 2
    assert fragment.replace(".0.", "[0].") in err or fragment in err
    assert "Traceback" not in err


def test_missing_world_file_exits_2(capsys):
    code, _, err = invoke(capsys, "solve", "nope.yaml")
    assert code == 2 and "does not exist" in err


def test_world_describe(capsys):
    code, out, _ = invoke(capsys, "world", "describe", "--grep", "price_ref")
    assert code == 0
    assert "price_ref[oxide:Dy]" in out and "257" in out and "usgs-mineral-commodity" in out
    code, _, err = invoke(capsys, "world", "describe", "--year", "2019")
    assert code == 2 and "allowed: 2021" in err
    code, _, err = invoke(capsys, "world", "describe", "--grep", "zzz")
    assert code == 2 and "no parameter matches" in err
