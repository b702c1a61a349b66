"""A bounded fuzzing run of the loaders in CI (2,000 mutated files; the benchmark runs more)."""

from __future__ import annotations

from tests.hostile.fuzz import fuzz


def test_mutated_files_load_or_fail_cleanly(tmp_path):
    rep = fuzz(2000, tmp_path, seed=20251203, max_seconds=240)
    assert rep.tried >= 100
    assert rep.failures == [], [(n, why) for n, _, why in rep.failures[:5]]
    assert rep.outcomes["clean error"] > rep.tried // 4  # the mutations do break files
