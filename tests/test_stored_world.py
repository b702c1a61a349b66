"""The default world kept in the cache as JSON: exact round trip, refusal, verification, keys."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from reesim import cache
from reesim.world import default as default_mod
from reesim.world import stored
from reesim.world.default import load_default_world


@pytest.fixture(scope="module")
def world():
    return load_default_world(2024)


def test_a_world_comes_back_identical_from_its_json(world):
    back = stored.decode(stored.encode(world))
    assert stored.same_world(back, world)
    for table in ("processes", "io", "demands", "edges", "provenance", "bans", "quota_members"):
        pd.testing.assert_frame_equal(getattr(back, table), getattr(world, table), check_exact=True)
    # tuples stay tuples, frames stay frames with their row numbers (the route targets are a selection)
    assert (
        isinstance(back.meta["base_tranches"], tuple)
        and back.meta["base_tranches"] == world.meta["base_tranches"]
    )
    pd.testing.assert_frame_equal(back.meta["route_targets"], world.meta["route_targets"], check_exact=True)
    assert not isinstance(world.meta["route_targets"].index, pd.RangeIndex)  # the case is exercised
    assert back.regions == world.regions and back.congestion == world.congestion


def test_floats_are_kept_bit_for_bit(world):
    """Unbounded capacities (inf), missing targets (NaN) and every last bit of a calibrated cost."""
    e = world.edges.copy()
    e.loc[0, "route_cost"] = math.nextafter(float(e.loc[0, "route_cost"]), math.inf)
    p = world.processes.copy()
    p.loc[0, "capacity"] = np.inf
    w = world.replace(edges=e, processes=p)
    back = stored.decode(stored.encode(w))
    assert back.edges.loc[0, "route_cost"] == e.loc[0, "route_cost"]
    assert back.processes.loc[0, "capacity"] == np.inf
    assert np.isnan(back.meta["routes"]["target"]).sum() == np.isnan(world.meta["routes"]["target"]).sum() > 0


def test_same_tells_a_world_one_ulp_away(world):
    e = world.edges.copy()
    e.loc[3, "transport"] = math.nextafter(float(e.loc[3, "transport"]), math.inf)
    assert not stored.same_world(world.replace(edges=e), world)
    assert not stored.same_world(
        world.replace(meta={**world.meta, "base_tranches": list(world.meta["base_tranches"])}), world
    )


def test_a_world_that_json_cannot_carry_is_refused(world):
    with pytest.raises(stored.NotStorable, match="set"):
        stored.encode(world.replace(meta={**world.meta, "odd": {1, 2}}))
    with pytest.raises(stored.NotStorable, match="keys"):
        stored.encode(world.replace(meta={**world.meta, "odd": {1: "a"}}))
    with pytest.raises(stored.NotStorable):
        stored.encode(
            world.replace(meta={**world.meta, "odd": pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])})})
        )


def _blob(folder):
    files = sorted((folder / "worlds").glob("world-*.json"))
    assert len(files) == 1
    return files[0]


def test_the_default_world_is_kept_and_read_back(tmp_path, monkeypatch, world):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    first = default_mod._stored_world(2024)
    path = _blob(tmp_path)
    assert stored.same_world(first, world)

    def no_build(*args, **kwargs):
        raise AssertionError("built again")

    monkeypatch.setattr(default_mod, "build_default_world", no_build)
    assert stored.same_world(default_mod._stored_world(2024), world)  # read from the file
    assert [e.kind for e in cache.entries(tmp_path) if e.path == path] == ["default world (JSON)"]


def test_a_changed_or_foreign_world_file_is_rebuilt(tmp_path, monkeypatch, world):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    default_mod._stored_world(2024)
    path = _blob(tmp_path)
    data = path.read_bytes()
    i = data.index(b'"capacity"')
    path.write_bytes(data[:i] + b'"kapacity"' + data[i + 10 :])  # edited after it was written
    with pytest.warns(cache.CacheWarning, match="does not match"):
        assert stored.same_world(default_mod._stored_world(2024), world)
    # a file that verifies but holds no world of this format (written by other code) is rebuilt too
    cache.write_blob(path, json.dumps({"format": stored.FORMAT, "world": {"name": "x"}}).encode())
    with pytest.warns(cache.CacheWarning, match="not a world"):
        assert stored.same_world(default_mod._stored_world(2024), world)
    assert cache.read_blob(path) is not None and stored.same_world(
        stored.decode(cache.read_blob(path)), world
    )


def test_the_key_covers_the_year_the_data_and_the_code(tmp_path, monkeypatch):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    default_mod._stored_world(2024)
    default_mod._stored_world(2023)
    monkeypatch.setattr(cache, "code_fingerprint", lambda *a: "a changed builder")
    default_mod._stored_world(2024)
    assert len(list((tmp_path / "worlds").glob("world-*.json"))) == 3


def test_worlds_with_assumption_overrides_stay_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    load_default_world(2024, assumptions={"congestion": 0.0012})
    assert not (tmp_path / "worlds").exists()
