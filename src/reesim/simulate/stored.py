"""A counterfactual run kept in the cache: the same baseline, simulated once per code and data.

An analyst runs many scenarios against one counterfactual (``baseline`` by default); each
``reesim run`` simulated it again, a third of the command's time. Its result depends only on
the resolved counterfactual scenario (horizon, world and assumptions, dynamics, seed: its
:func:`reesim.scenario.load.scenario_hash`), the dataset, the code and the numeric libraries,
so it is kept in the cache under a key that hashes all of them and read back when the same
counterfactual is asked for again.

The file is JSON (:mod:`reesim.jsondata`; nothing is un-pickled) with the SHA-256 of its content
in a header (:func:`reesim.cache.read_blob`): a file that does not verify, or that verifies but
holds no run of this format, is not used (a warning says so) and the run is simulated again. A
result is written only if it decodes back identical, table by table. At most
:data:`KEEP` runs are kept; writing one more removes the least recently used.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

from reesim.jsondata import NotStorable, same, unvalue, value
from reesim.scenario.spec import Scenario
from reesim.simulate.result import Result
from reesim.simulate.steps import Step, make_steps

#: version of this encoding; part of the key
FORMAT = 1
#: runs kept in the cache folder (about 1.2 MB each for a 16-year annual run)
KEEP = 16


def key(scenario: Scenario) -> str:
    """The cache key of ``scenario``'s run (scenario, dataset, code, libraries)."""
    import numpy
    import pandas
    import piqp

    from reesim import cache
    from reesim.data import default_dataset
    from reesim.scenario.load import scenario_hash

    return cache.key_of(
        "run",
        FORMAT,
        scenario_hash(scenario),
        default_dataset().version,
        cache.code_fingerprint(),
        platform.python_version(),
        numpy.__version__,
        pandas.__version__,
        piqp.__version__,
    )


def encode(res: Result) -> bytes:
    """The JSON of ``res``, checked to decode to an identical result (:class:`NotStorable` if not)."""
    doc = {
        "format": FORMAT,
        "scenario_name": res.scenario_name,
        "meta": value(res.meta),
        "tables": value(dict(res._tables)),
    }
    payload = json.dumps(doc, separators=(",", ":"), allow_nan=True).encode("utf-8")
    back = decode(payload)
    if not (
        back.scenario_name == res.scenario_name
        and same(back.meta, res.meta)
        and same(back._tables, dict(res._tables))
    ):
        raise NotStorable("the run does not come back identical from its JSON")
    return payload


def decode(payload: bytes) -> Result:
    """The result encoded in ``payload``."""
    doc = json.loads(payload)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NotStorable("not a run of this format")
    tables = unvalue(doc["tables"])
    meta = unvalue(doc["meta"])
    if (
        not isinstance(tables, dict)
        or not isinstance(meta, dict)
        or not isinstance(doc["scenario_name"], str)
    ):
        raise NotStorable("not a run of this format")
    return Result(scenario_name=doc["scenario_name"], meta=meta, _tables=tables)


def _evict(folder: Path) -> None:
    """Keep the :data:`KEEP` most recently used runs."""
    files = sorted(folder.glob("run-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()


def simulate_kept(scenario: Scenario, progress: Callable[[Step], None] | None = None) -> Result:
    """``simulate(scenario)`` (no counterfactual, the default world), from the cache when kept there.

    ``progress`` is called for every step either way (all at once when the run is read back).
    """
    from reesim import cache
    from reesim.simulate import simulate

    folder = cache.cache_dir()
    if folder is None:
        return simulate(scenario, progress=progress)
    path = folder / "runs" / f"run-{key(scenario)[:24]}.json"
    payload = cache.read_blob(path)
    if payload is not None:
        try:
            res = decode(payload)
        except (ValueError, KeyError, TypeError) as exc:  # verified, yet not a run of this format
            cache.warn_rebuild(path, f"it is not a run of this version ({type(exc).__name__})")
        else:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used
            if progress is not None:
                for step in make_steps(scenario.horizon):
                    progress(step)
            return res
    res = simulate(scenario, progress=progress)
    try:
        payload = encode(res)
        path.parent.mkdir(mode=0o700, exist_ok=True)
    except (NotStorable, OSError):
        return res  # kept in memory only: a cache that cannot be written only costs time
    if cache.write_blob(path, payload):
        _evict(path.parent)
    return res
