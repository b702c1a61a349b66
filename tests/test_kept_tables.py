"""Small tables derived from the dataset, kept in the cache folder (reesim.data.kept).

A run served from the cache reads its product contents and employment rows from kept JSON, so
it never imports the DuckDB engine; a kept table comes back identical, a planted or foreign
file is rebuilt, and the key changes with the files the table is made of.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reesim import cache
from reesim.data import kept
from reesim.jsondata import NotStorable

SRC = Path(__file__).resolve().parents[1] / "src"


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product": pd.Series(["car", "turbine"], dtype="str"),
            "kg_low": [0.1 + 0.2, -0.0],  # a float that prints long, and a negative zero
            "kg_high": [np.nan, 1e-300],
        }
    )


def test_a_table_comes_back_identical_and_only_under_its_key():
    t = _table()
    back = kept.decode(kept.encode(t, "k1"), "k1")
    pd.testing.assert_frame_equal(back, t, check_exact=True)
    assert np.signbit(back["kg_low"].iloc[1])  # -0.0 stays negative: floats bit for bit
    with pytest.raises(NotStorable):
        kept.decode(kept.encode(t, "k1"), "k2")  # a file renamed to another key's name


def test_a_table_the_json_cannot_carry_is_only_returned(tmp_path, monkeypatch):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    t = pd.DataFrame({"when": pd.to_datetime(["2025-04-04"])})  # a dtype jsondata does not carry
    with pytest.raises(NotStorable):
        kept.encode(t, "k")
    got = kept.kept_table("dates", lambda: t)
    pd.testing.assert_frame_equal(got, t)
    assert not list((tmp_path / "tables").glob("*.json"))


def test_the_table_is_built_once_then_read_back_and_rebuilt_when_planted(tmp_path, monkeypatch):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    built = []

    def build() -> pd.DataFrame:
        built.append(1)
        return _table()

    first = kept.kept_table("probe", build, ("a",))
    second = kept.kept_table("probe", build, ("a",))
    assert len(built) == 1
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    kept.kept_table("probe", build, ("b",))  # another input (e.g. an edited products.csv): a new key
    assert len(built) == 2
    # a file edited in place no longer verifies: rebuilt with a warning, never read
    (path,) = [p for p in (tmp_path / "tables").glob("table-*.json") if p.stat().st_size][:1]
    path.write_bytes(path.read_bytes().replace(b"turbine", b"TURBINE"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = [kept.kept_table("probe", build, (k,)) for k in ("a", "b")]
    assert len(built) == 3 and any(
        "not used" in str(w.message) or "rebuilt" in str(w.message) for w in caught
    )
    for t in again:
        assert list(t["product"]) == ["car", "turbine"]


def test_product_contents_and_employment_from_the_cache_equal_the_datasets(tmp_path, monkeypatch):
    """What the product cost and jobs tables read from the kept JSON is what the dataset gives."""
    import reesim.data as rd
    from reesim.impacts import compare

    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    text = (SRC / "reesim" / "impacts" / "products.csv").read_bytes()
    direct = compare._read_product_content(text)
    assert len(direct) > 10 and set(direct["commodity"]) >= {"magnet:ndfeb", "metal:Dy", "oxide:La"}
    for _ in range(2):  # built, then read back
        compare._product_content.cache_clear()
        pd.testing.assert_frame_equal(compare._product_content(), direct, check_exact=True)
        compare._employment.cache_clear()
        emp = compare._employment()
        want = rd.table("employment")[list(emp.columns)].reset_index(drop=True)
        pd.testing.assert_frame_equal(emp, want, check_exact=True)
    assert len(list((tmp_path / "tables").glob("table-*.json"))) == 2
    compare._product_content.cache_clear()
    compare._employment.cache_clear()


def test_a_run_served_from_the_cache_does_not_import_duckdb(tmp_path):
    """The second ``reesim run`` of a scenario finds its world, counterfactual and tables kept and
    never imports the DuckDB engine (about 50 ms of import and 30 ms of first query)."""
    probe = (
        "import json, sys\n"
        "from reesim.cli.main import run\n"
        "try:\n"
        "    run(['run', 'china-2025-licensing'])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "print(json.dumps({'duckdb': 'duckdb' in sys.modules}))\n"
    )
    env = {**os.environ, "REESIM_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    seen = []
    for _ in range(2):
        res = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
        )
        assert res.returncode == 0, res.stderr[-2000:]
        seen.append(json.loads(res.stdout.strip().splitlines()[-1])["duckdb"])
    assert seen == [True, False]  # the first run builds from the dataset; the second does not open it
    kinds = {e.kind for e in cache.entries(tmp_path)}
    assert "table derived from the dataset (JSON)" in kinds
