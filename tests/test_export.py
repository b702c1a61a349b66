"""Run tables as CSV and Excel, and ``compare`` on runs with different horizons.

* ``reesim run --out D --format csv,xlsx`` writes every table as Parquet, CSV (equal to the
  Parquet) and one workbook whose sheets hold the same rows;
* text that a spreadsheet would run as a formula (an instrument named ``=HYPERLINK(...)``)
  is written inert, with a leading apostrophe (OWASP CSV injection);
* a bad ``--format`` is refused before any work (exit 2, the value and what is allowed);
* ``reesim compare`` aligns runs with different horizons on their common periods and refuses
  runs with different steps or no common period.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reesim.simulate.export import FORMATS, parse_formats, spreadsheet_safe
from reesim.simulate.result import TABLES
from tests.test_cli import invoke

SHORT = """\
extends: china-2025-licensing
name: short-licensing
horizon: {{start: 2025, end: {end}{step}}}
"""


def _scenario(tmp_path, name: str, end: int, step: str = "") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SHORT.format(end=end, step=f", step: {step}" if step else ""))
    return str(path)


def test_run_writes_csv_and_a_workbook_with_every_table(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, _, err = invoke(
        capsys, "run", _scenario(tmp_path, "s", 2026), "--out", str(out_dir), "-f", "csv,xlsx"
    )
    assert code == 0, err
    book = pd.read_excel(out_dir / "tables.xlsx", sheet_name=None)
    contents = book["contents"]
    for name in TABLES:
        for rel in (name, f"counterfactual/{name}"):
            pq = pd.read_parquet(out_dir / f"{rel}.parquet")
            csv = pd.read_csv(out_dir / f"{rel}.csv", keep_default_na=False, na_values=[""])
            assert len(csv) == len(pq) and list(csv.columns) == list(pq.columns), rel
            sheet = contents.loc[contents["table"] == rel, "sheet"]
            assert len(sheet) == 1, rel
            assert len(book[sheet.item()]) == len(pq), rel
    # Numbers survive the round trip: prices as written in Parquet, CSV and Excel.
    pq = pd.read_parquet(out_dir / "prices.parquet")
    csv = pd.read_csv(out_dir / "prices.csv")
    xl = book["prices"]
    assert csv["usd_per_kg"].to_numpy() == pytest.approx(pq["usd_per_kg"].to_numpy(), rel=1e-12, nan_ok=True)
    assert xl["usd_per_kg"].to_numpy() == pytest.approx(pq["usd_per_kg"].to_numpy(), rel=1e-12, nan_ok=True)
    # A price the solution does not pin (determined false) is written empty, and only such a price.
    assert pq["usd_per_kg"].isna().to_numpy().tolist() == (~pq["determined"]).to_numpy().tolist()
    assert pq["usd_per_kg"].isna().any() and pq["usd_per_kg"].notna().any()
    # The impact tables come too, and the units of the run are on the contents sheet.
    assert (out_dir / "welfare.csv").is_file() and "welfare" in set(contents["table"])
    assert contents["table"].astype(str).str.startswith("unit of").any()


def test_a_bad_format_is_refused_before_any_work(capsys, tmp_path):
    code, _, err = invoke(
        capsys, "run", "china-2025-licensing", "--out", str(tmp_path / "x"), "-f", "csv,xls"
    )
    assert code == 2
    assert "--format" in err and "'csv,xls'" in err and "xlsx" in err
    assert not (tmp_path / "x").exists()
    code, _, err = invoke(capsys, "run", "china-2025-licensing", "-f", "csv")
    assert code == 2 and "needs --out" in err


@given(st.text(min_size=1, max_size=20))
def test_no_text_cell_starts_like_a_formula(text):
    df = pd.DataFrame({"quota": [text], "value": [1.0]})
    cell = spreadsheet_safe(df)["quota"].iloc[0]
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell.removeprefix("'") == text or cell == text


def test_an_instrument_named_like_a_formula_is_inert_in_the_workbook(capsys, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(
        "extends: baseline\nname: evil\nhorizon: {start: 2025, end: 2025}\ninstruments:\n"
        "  - type: export_quota\n    name: '=HYPERLINK(\"http://x\")'\n    exporter: CHN\n"
        "    destinations: all\n    commodities: ['oxide:Dy']\n    approval_share: 0.5\n    start: 2025\n"
    )
    out_dir = tmp_path / "run"
    code, _, err = invoke(capsys, "run", str(path), "--out", str(out_dir), "-f", "xlsx,csv")
    assert code == 0, err
    from openpyxl import load_workbook

    wb = load_workbook(out_dir / "tables.xlsx")
    cells = [
        c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)
    ]
    assert any("HYPERLINK" in c for c in cells)  # the name is there ...
    assert not any(c.startswith("=") for c in cells)  # ... but never as a formula
    text = (out_dir / "quota_rents.csv").read_text()
    assert "'=HYPERLINK" in text


def test_parse_formats_always_keeps_parquet():
    assert parse_formats(None) == ("parquet",)
    assert parse_formats("xlsx") == ("parquet", "xlsx")
    assert parse_formats(" CSV , parquet ") == ("parquet", "csv")
    assert set(parse_formats(",".join(FORMATS))) == set(FORMATS)


def test_compare_aligns_runs_with_different_horizons(capsys, tmp_path):
    code, _, err = invoke(capsys, "run", _scenario(tmp_path, "long", 2028), "--out", str(tmp_path / "a"))
    assert code == 0, err
    code, _, err = invoke(capsys, "run", _scenario(tmp_path, "short", 2026), "--out", str(tmp_path / "b"))
    assert code == 0, err
    code, out, err = invoke(
        capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c"), "-f", "csv"
    )
    assert code == 0, err
    assert "both runs cover, 2025 to 2026" in " ".join(out.split())
    prices = pd.read_parquet(tmp_path / "c" / "price_changes.parquet")
    assert set(prices["year"]) == {2025, 2026}
    assert (tmp_path / "c" / "price_changes.csv").is_file()
    ih = json.loads((tmp_path / "c" / "impacts.json").read_text())
    assert ih["periods_compared"] == {"first": "2025", "last": "2026", "count": 2}
    # Same scenario on the common years: no price differs.
    assert prices["usd_per_kg"].to_numpy() == pytest.approx(
        prices["usd_per_kg_cf"].to_numpy(), rel=1e-6, nan_ok=True
    )
    assert (prices["usd_per_kg"].isna() == prices["usd_per_kg_cf"].isna()).all()


def test_compare_refuses_different_steps(capsys, tmp_path):
    code, _, err = invoke(capsys, "run", _scenario(tmp_path, "y", 2025), "--out", str(tmp_path / "a"))
    assert code == 0, err
    code, _, err = invoke(
        capsys, "run", _scenario(tmp_path, "q", 2025, "quarter"), "--out", str(tmp_path / "b")
    )
    assert code == 0, err
    code, _, err = invoke(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 2 and "steps by year" in err and "quarter" in err


def test_welfare_carries_its_annual_rate_whatever_the_step(capsys, tmp_path):
    from reesim.impacts.compare import step_years

    assert (step_years("2025"), step_years("2025-Q3"), step_years("2025-07")) == (1.0, 0.25, 1 / 12)
    code, _, err = invoke(
        capsys, "run", _scenario(tmp_path, "q", 2025, "quarter"), "--out", str(tmp_path / "q")
    )
    assert code == 0, err
    w = pd.read_parquet(tmp_path / "q" / "welfare.parquet")
    assert set(w["step_years"]) == {0.25}
    assert w["change_usd_million_per_year"].to_numpy() == pytest.approx(
        4 * w["change_usd_million"].to_numpy()
    )
    units = json.loads((tmp_path / "q" / "summary.json").read_text())["units"]
    assert "per year" in units["usd_million_per_year"] and "per step" in units["usd_million"]
