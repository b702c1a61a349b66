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


def test_same_tells_zeros_signs_and_types_apart(world):
    from reesim.jsondata import same

    a = pd.DataFrame({"x": [0.0, 1.0], "o": pd.Series(["a", 1.0], dtype=object)})
    assert same(a, a.copy())
    assert not same(a, a.assign(x=[-0.0, 1.0]))
    assert not same(a, a.assign(o=pd.Series(["a", 1], dtype=object)))
    assert not same(a, a.set_axis(pd.Index([0, 1])))  # row numbers that are not a range
    back = stored.decode(stored.encode(world.replace(edges=world.edges.assign(route_cost=-0.0))))
    assert np.signbit(back.edges["route_cost"]).all()


def test_a_world_with_values_json_cannot_carry_stays_in_memory(world):
    odd = world.replace(
        meta={**world.meta, "ids": pd.DataFrame({"n": pd.Series([np.int64(1)], dtype=object)})}
    )
    with pytest.raises(stored.NotStorable, match="not JSON data"):
        stored.encode(odd)


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


def _blob(folder, all_years=False):
    files = sorted((folder / "worlds").glob("world-*.json"))
    if all_years:
        return files
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
    with pytest.warns(cache.CacheWarning, match="does not hold what its name promises"):
        assert stored.same_world(default_mod._stored_world(2024), world)
    assert cache.read_blob(path) is not None and stored.same_world(
        stored.decode(cache.read_blob(path)), world
    )


def test_the_key_covers_the_year_the_data_the_code_and_the_libraries(tmp_path, monkeypatch):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))

    def count():
        return len(list((tmp_path / "worlds").glob("world-*.json")))

    default_mod._stored_world(2024)
    default_mod._stored_world(None)  # the configuration's reference year: the same world, one file
    assert count() == 1
    default_mod._stored_world(2023)
    assert count() == 2
    monkeypatch.setattr(cache, "code_fingerprint", lambda *a: "a changed builder")
    default_mod._stored_world(2024)
    assert count() == 3
    monkeypatch.setattr(cache, "runtime", lambda: ("another numpy",))
    default_mod._stored_world(2024)
    assert count() == 4

    class OtherData:
        version = "0000000000000000"

    monkeypatch.setattr("reesim.data.default_dataset", lambda: OtherData())  # read by cache.computed_key
    monkeypatch.setattr(default_mod, "build_default_world", lambda *a: load_default_world(2024))
    default_mod._stored_world(2024)
    assert count() == 5


def test_a_world_file_under_another_keys_name_is_refused(tmp_path, monkeypatch, world):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    default_mod._stored_world(2023)
    (w2023,) = _blob(tmp_path, all_years=True)
    default_mod._stored_world(2024)
    w2024 = next(p for p in _blob(tmp_path, all_years=True) if p != w2023)
    w2024.write_bytes(w2023.read_bytes())  # 2023's world renamed to 2024's key
    with pytest.warns(cache.CacheWarning, match="another key"):
        back = default_mod._stored_world(2024)
    assert stored.same_world(back, world)


def test_a_cache_subfolder_that_is_a_link_is_not_used(tmp_path, monkeypatch, world):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir(mode=0o700)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cache" / "worlds").symlink_to(tmp_path / "elsewhere")
    with pytest.warns(cache.CacheWarning, match="not a directory"):
        assert stored.same_world(default_mod._stored_world(2024), world)
    assert not list((tmp_path / "elsewhere").iterdir())


def test_a_decoded_world_simulates_the_same(world):
    from reesim.jsondata import same
    from reesim.scenario.load import load_scenario
    from reesim.simulate import simulate

    sc = load_scenario("china-2025-licensing")
    sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"start": 2025, "end": 2026})})
    a = simulate(sc, world=world)
    b = simulate(sc, world=stored.decode(stored.encode(world)))
    assert same(dict(a._tables), dict(b._tables))


def test_worlds_with_assumption_overrides_stay_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    load_default_world(2024, assumptions={"congestion": 0.0012})
    assert not (tmp_path / "worlds").exists()


def test_the_key_covers_the_builds_the_cpu_selects(monkeypatch):
    """PIQP's AVX-512 and AVX2 builds (and numpy's SIMD loops) give different bits: the runtime
    part of every key names them, so two machines sharing a cache folder keep a world each."""
    import piqp

    sets = cache.instruction_sets()
    expected = (
        "piqp_python_avx512"
        if piqp.instruction_set.avx512f
        else "piqp_python_avx2"
        if piqp.instruction_set.avx2
        else "piqp_python"
    )
    assert sets[0] == f"piqp build {expected}"
    assert sets[1].startswith("numpy simd ")
    # the kernels numpy's and SciPy's bundled OpenBLAS chose for this CPU (DYNAMIC_ARCH wheels;
    # "unknown" with a conda or system build)
    assert sets[2].startswith("numpy blas ") and sets[3].startswith("scipy blas ")
    try:
        cache.runtime.cache_clear()
        here = cache.runtime()
        assert here[-4:] == sets
        monkeypatch.setattr(cache, "instruction_sets", lambda: ("piqp build fake", "numpy simd fake"))
        cache.runtime.cache_clear()
        other = cache.runtime()
        assert other[:-2] == here[:-4] and other != here
        assert cache.key_of("world", other) != cache.key_of("world", here)
    finally:
        cache.runtime.cache_clear()


def test_the_key_names_the_blas_kernels_that_change_the_bits():
    """OpenBLAS's kernels give other bits (its Haswell kernels moved 89 % of four flagship members'
    figures, by up to 2e-6 relative): forced to other kernels (OPENBLAS_CORETYPE, as another CPU
    would choose), the runtime names them, so kept worlds and runs are not shared across them."""
    import os
    import platform
    import subprocess
    import sys

    here = list(cache.instruction_sets()[2:4])
    if platform.machine() != "x86_64" or any(" DYNAMIC_ARCH " not in h for h in here):
        pytest.skip("needs the x86-64 wheels' OpenBLAS, which choose their kernels by the CPU")
    code = "from reesim import cache; print(cache.instruction_sets()[2]); print(cache.instruction_sets()[3])"
    # kernels neither library chose here
    other = next(k for k in ("Haswell", "Sandybridge", "Nehalem") if not any(f" {k} " in h for h in here))
    env = {**os.environ, "OPENBLAS_CORETYPE": other}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    forced = out.stdout.split("\n")[:2]
    assert all(f" {other} " in f for f in forced), forced
    assert forced[0] != here[0] and forced[1] != here[1]
    # the same libraries: only the kernels' name differs
    assert [f.replace(other, "") for f in forced] == [h.replace(h.split()[-2], "") for h in here]
