"""A counterfactual run kept in the cache: identical when read back, verified, keyed, bounded."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reesim import cache
from reesim.jsondata import NotStorable, same
from reesim.pipeline import run_pair
from reesim.scenario.load import load_scenario
from reesim.simulate import simulate, stored
from reesim.simulate.steps import make_steps


def _short(name: str, end: int = 2026):
    sc = load_scenario(name)
    return sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"start": 2025, "end": end})})


@pytest.fixture(scope="module")
def base():
    return _short("baseline")


@pytest.fixture(scope="module")
def base_result(base):
    return simulate(base)


def test_a_run_comes_back_identical_from_its_json(base_result):
    back = stored.decode(stored.encode(base_result))
    assert back.scenario_name == base_result.scenario_name and back.meta == base_result.meta
    for name, table in base_result._tables.items():
        pd.testing.assert_frame_equal(back._tables[name], table, check_exact=True)
    assert len(back.prices) > 0 and back.prices["determined"].dtype == bool


def test_a_run_json_cannot_carry_is_refused(base_result):
    odd = type(base_result)(
        scenario_name="x",
        meta={**base_result.meta, "when": pd.Timestamp("2025-01-01")},
        _tables=dict(base_result._tables),
    )
    with pytest.raises(NotStorable):
        stored.encode(odd)


def _files(folder):
    return sorted((folder / "runs").glob("run-*.json"))


def test_the_counterfactual_is_simulated_once_and_read_back(tmp_path, monkeypatch, base, base_result):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    steps: list = []
    first = stored.simulate_kept(base, progress=steps.append)
    assert len(_files(tmp_path)) == 1 and len(steps) == len(make_steps(base.horizon))
    assert same(dict(first._tables), dict(base_result._tables))

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated again")

    monkeypatch.setattr("reesim.simulate.simulate", no_simulation)
    steps.clear()
    back = stored.simulate_kept(base, progress=steps.append)
    assert [s.period for s in steps] == [s.period for s in make_steps(base.horizon)]  # the bar still fills
    assert same(dict(back._tables), dict(base_result._tables)) and back.meta == base_result.meta
    assert [e.kind for e in cache.entries(tmp_path) if e.path == _files(tmp_path)[0]] == [
        "counterfactual run (JSON)"
    ]


def test_run_pair_gives_the_same_answers_from_a_kept_counterfactual(tmp_path, monkeypatch):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    sc = _short("china-2025-licensing")
    res1, cf1, _ = run_pair(sc)
    assert len(_files(tmp_path)) == 1
    res2, cf2, _ = run_pair(sc)
    assert same(dict(cf1._tables), dict(cf2._tables)) and same(dict(res1._tables), dict(res2._tables))


def test_a_changed_or_foreign_run_file_is_simulated_again(tmp_path, monkeypatch, base, base_result):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    stored.simulate_kept(base)
    (path,) = _files(tmp_path)
    data = path.read_bytes()
    i = data.index(b'"usd_per_kg"')
    path.write_bytes(data[:i] + b'"usd_per_lb"' + data[i + 12 :])  # edited after it was written
    with pytest.warns(cache.CacheWarning, match="does not match"):
        assert same(dict(stored.simulate_kept(base)._tables), dict(base_result._tables))
    doc = json.loads(stored.encode(base_result, stored.key(base)))
    doc["tables"] = {}  # verifies, under the right key, but holds no tables
    cache.write_blob(path, json.dumps(doc).encode())
    with pytest.warns(cache.CacheWarning, match="without the tables"):
        assert same(dict(stored.simulate_kept(base)._tables), dict(base_result._tables))
    assert same(stored.decode(cache.read_blob(path))._tables, dict(base_result._tables))  # written again


def test_the_key_covers_the_scenario_and_the_code(base, monkeypatch):
    k = stored.key(base)
    assert stored.key(base.model_copy(update={"seed": base.seed + 1})) != k
    assert stored.key(_short("baseline", end=2027)) != k
    monkeypatch.setattr(cache, "code_fingerprint", lambda *a: "a changed simulator")
    assert stored.key(base) != k


def test_the_cache_keeps_the_most_recently_used_runs(tmp_path, monkeypatch, base):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    one, two, three = base, _short("baseline", end=2025), _short("baseline", end=2027)
    stored.simulate_kept(one)
    stored.simulate_kept(two)
    old = time.time() - 100
    for p in _files(tmp_path):
        os.utime(p, (old, old))
    stored.simulate_kept(one)  # read: now the most recently used
    monkeypatch.setattr(stored, "KEEP", 2)
    stored.simulate_kept(three)
    names = {p.name for p in _files(tmp_path)}
    assert names == {f"run-{stored.key(s)[:32]}.json" for s in (one, three)}


def test_eviction_skips_files_that_another_process_removed(tmp_path, monkeypatch):
    for i in range(3):
        (tmp_path / f"run-{i}.json").write_bytes(b"x" * 10)
    real_glob = Path.glob
    monkeypatch.setattr(
        Path, "glob", lambda self, pattern: [*real_glob(self, pattern), self / "run-gone.json"]
    )
    cache.evict(tmp_path, "run-*.json", keep=1, max_bytes=10**6)
    assert len(list(real_glob(tmp_path, "run-*.json"))) == 1


def test_a_run_json_cannot_carry_stays_in_memory(base_result):
    odd = type(base_result)(
        scenario_name="x",
        meta=base_result.meta,
        _tables={
            **base_result._tables,
            "fiscal": pd.DataFrame({"n": pd.Series([np.int64(1)], dtype=object)}),
        },
    )
    with pytest.raises(NotStorable, match="not JSON data"):
        stored.encode(odd)
