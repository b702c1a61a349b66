"""A counterfactual run kept in the cache: the same baseline, simulated once per code and data.

An analyst runs many scenarios against one counterfactual (``baseline`` by default); each
``reesim run`` simulated it again, a third of the command's time. Its result depends only on
the resolved counterfactual scenario (horizon, world and assumptions, dynamics, seed: its
:func:`reesim.scenario.load.scenario_hash`), the dataset, the code, the interpreter, the machine
type and the numeric libraries, so it is kept in the cache under a key that hashes all of them
and read back when the same counterfactual is asked for again.

The file is JSON (:mod:`reesim.jsondata`; nothing is un-pickled) with the SHA-256 of its content
in a header and its key inside (:func:`reesim.cache.kept`): a file that does not verify, or that
verifies but holds no complete run of that key, is not used (a warning says so) and the run is
simulated again. A result is written only if it decodes back identical, table by table. At most
:data:`KEEP` runs and :data:`MAX_BYTES` are kept (a 16-year run is 1.2 MB yearly, 16 MB
monthly); the least recently used go first.
"""

from __future__ import annotations

from collections.abc import Callable

from reesim.jsondata import NotStorable, dumps, loads, same, unvalue, value
from reesim.scenario.spec import Scenario
from reesim.simulate.result import TABLES, Result
from reesim.simulate.steps import Step, make_steps

#: version of this encoding; part of the key
FORMAT = 1
#: runs kept in the cache folder, and their largest total size (bytes)
KEEP, MAX_BYTES = 16, 100_000_000


def key(scenario: Scenario) -> str:
    """The cache key of ``scenario``'s run (scenario, dataset, code, interpreter and libraries)."""
    from reesim.cache import computed_key
    from reesim.scenario.load import scenario_hash

    return computed_key("run", FORMAT, scenario_hash(scenario))


def encode(res: Result, key: str | None = None) -> bytes:
    """The JSON of ``res`` (under ``key``), checked to decode to an identical result
    (:class:`NotStorable` if not, or if a value is not JSON data)."""
    doc = {
        "format": FORMAT,
        "key": key,
        "scenario_name": res.scenario_name,
        "meta": value(res.meta),
        "tables": value(dict(res._tables)),
    }
    payload = dumps(doc, "run")
    back = decode(payload, key)
    if not (
        back.scenario_name == res.scenario_name
        and same(back.meta, res.meta)
        and same(back._tables, dict(res._tables))
    ):
        raise NotStorable("the run does not come back identical from its JSON")
    return payload


def decode(payload: bytes, key: str | None = None) -> Result:
    """The result encoded in ``payload``: a complete run (every table of :data:`TABLES`, its
    meta and name); with ``key``, only if it was written under that key."""
    doc = loads(payload, FORMAT, key, "run")
    tables, meta, name = unvalue(doc["tables"]), unvalue(doc["meta"]), doc["scenario_name"]
    if not (isinstance(tables, dict) and isinstance(meta, dict) and isinstance(name, str)):
        raise NotStorable("not a run of this format")
    if set(tables) != set(TABLES) or not all(hasattr(t, "columns") for t in tables.values()):
        raise NotStorable(f"a run without the tables {', '.join(TABLES)}")
    if "scenario_hash" not in meta:
        raise NotStorable("a run without its scenario's hash")
    return Result(scenario_name=name, meta=meta, _tables=tables)


def simulate_kept(scenario: Scenario, progress: Callable[[Step], None] | None = None) -> Result:
    """``simulate(scenario)`` (no counterfactual, the default world), from the cache when kept there.

    ``progress`` is called for every step either way (all at once when the run is read back).
    """
    from reesim import cache
    from reesim.simulate import simulate

    res, read = cache.kept(
        "runs",
        "run",
        key(scenario),
        lambda: simulate(scenario, progress=progress),
        encode,
        decode,
        keep=KEEP,
        max_bytes=MAX_BYTES,
    )
    if read and progress is not None:
        for step in make_steps(scenario.horizon):
            progress(step)
    return res
