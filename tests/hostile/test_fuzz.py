"""A bounded fuzzing run of the loaders in CI (2,000 mutated files; the benchmark runs more)."""

from __future__ import annotations

from tests.hostile.fuzz import fuzz


def test_mutated_files_load_or_fail_cleanly(tmp_path):
    rep = fuzz(2000, tmp_path, seed=20251203, max_seconds=240)
    assert rep.tried >= 100
    assert rep.failures == [], [(n, why) for n, _, why in rep.failures[:5]]
    assert rep.outcomes["clean error"] > rep.tried // 4  # the mutations do break files


# ------------------------------------------------------------------------------ schema-driven garbage
import json  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from reesim.errors import InputError  # noqa: E402
from reesim.scenario.load import parse  # noqa: E402
from tests.hostile.corpus import VALID, scenario_with  # noqa: E402

JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(VALID)),
    key=st.text(min_size=1, max_size=24),
    value=JUNK,
    pick=st.integers(0, 50),
)
def test_any_value_in_any_field_is_parsed_or_refused_cleanly(kind, key, value, pick):
    """Every field of every instrument (and unknown ones) given arbitrary JSON-like values."""
    inst, extra = VALID[kind]
    fields = sorted(inst)
    field = fields[pick % len(fields)] if pick < 40 else key
    bad = dict(inst, **{field: value})
    try:
        sc = parse(scenario_with(bad, extra) | {"extends": None}, "fuzz")
    except InputError as exc:
        assert len(str(exc)) < 20_000
        return
    json.dumps(sc.model_dump(mode="json"), allow_nan=False)  # what parses is finite and serialisable
