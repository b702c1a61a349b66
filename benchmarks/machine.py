"""This machine's speed now, measured on a fixed workload that no reesim change touches.

The same code ran an ensemble member in 270 ms of CPU on one hour and 390 ms on another of the
same day (2026-12-07, ``benchmarks/ensemble.py`` and in-process timings): the machine (a shared
virtual one) runs at different speeds by the hour. A benchmark figure is therefore printed with
this index, so that a slower figure can be told apart from a slower hour.

The workload mixes what a member does: Python dict and list work on strings (a third), numpy
operations on arrays of a few hundred to a few thousand values (a third) and PIQP solves of a fixed
sparse QP of the size of a default-world year (a third; seeded, the same problem every time). The
index is its best time over ``repeats`` runs divided by :data:`REFERENCE_S`, the best time measured
on a fast hour of this machine class (1.0 = that hour; 1.3 = 30 % slower). The cores differ:
:func:`core_indices` measures every core at once, as an ensemble on all of them runs.

Run: ``.venv/bin/python benchmarks/machine.py``.
"""

from __future__ import annotations

import os
import time

import numpy as np

#: best time of :func:`workload` on a fast hour of this machine class (2 cores, AMD EPYC, PIQP's
#: AVX-512 build; best of 5, measured 2026-12-07 12:50 UTC, when a member took 254-295 ms in process)
REFERENCE_S = 0.39


def _python(rounds: int = 7, n: int = 60_000) -> int:
    """Dict and list work on short strings, as the runs' label lookups do."""
    total = 0
    for r in range(rounds):
        keys = [f"oxide:{i % 97}:{(i + r) % 13}" for i in range(n)]
        pos: dict[str, int] = {}
        for i, k in enumerate(keys):
            pos.setdefault(k, i)
        total += sum(pos[k] for k in keys) + len(sorted(set(keys)))
    return total


def _numpy(rounds: int = 15_000, rng: np.random.Generator | None = None) -> float:
    """Small-array numpy, as a step's columns are built (a few hundred to a thousand values)."""
    rng = rng or np.random.default_rng(0)
    a, b = rng.random(944), rng.random(944) + 0.5
    idx = rng.integers(0, 251, 944)
    acc = 0.0
    for _ in range(rounds):
        c = np.where(a > 0.3, a * b, 0.0) / b
        acc += float(np.bincount(idx, weights=c, minlength=251).max()) + float(np.maximum(c - 0.2, 0).sum())
    return acc


def _qp(seed: int = 0):
    """A fixed sparse QP of a default-world year's size (944 columns, 251 rows, 1,900 entries):
    diagonal costs, rows of balances that every column enters once or twice, capacities."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n, m = 944, 251
    rows = np.concatenate([rng.integers(0, m, n), rng.integers(0, m, n)])
    cols = np.concatenate([np.arange(n), np.arange(n)])
    vals = np.concatenate([np.ones(n), -rng.random(n)])
    keep = rng.random(2 * n) < 0.5
    keep[:n] = True
    G = sp.csc_matrix((vals[keep], (rows[keep], cols[keep])), shape=(m, n))
    P = sp.diags(rng.random(n) * 0.1 + 0.01).tocsc()
    c = rng.normal(0.0, 1.0, n)
    h = rng.random(m) * 10.0
    return P, c, G, h, np.zeros(n), rng.random(n) * 5.0 + 1.0


def _solves(k: int = 60) -> int:
    """``k`` PIQP solves of :func:`_qp` (a fresh set-up each: the factorisation's cost included)."""
    import piqp

    P, c, G, h, lo, hi = _qp()
    iters = 0
    for _ in range(k):
        s = piqp.SparseSolver()
        s.settings.verbose = False
        s.setup(P, c, None, None, G, None, h, lo, hi)
        s.solve()
        iters += int(s.result.info.iter)
    return iters


def workload() -> float:
    """Seconds of CPU for one run of the three parts."""
    t = time.process_time()
    _python()
    _numpy()
    _solves()
    return time.process_time() - t


def speed_index(repeats: int = 5) -> tuple[float, float]:
    """``(best seconds, index)`` over ``repeats`` runs of :func:`workload` after one warm-up."""
    workload()
    best = min(workload() for _ in range(repeats))
    return best, best / REFERENCE_S


def _pinned(core: int, repeats: int, out) -> None:
    os.sched_setaffinity(0, {core})
    out.put((core, speed_index(repeats)[1]))


def core_indices(repeats: int = 5) -> dict[int, float]:
    """The index of every core, measured at once, one process pinned to each: a run on all cores
    goes at their pace, and the cores of this shared machine differ (1.07 and 1.33 at the same
    moment of 2026-12-07, when a 10,000-member run took 30 min against 24 on a fast hour)."""
    import multiprocessing as mp

    cores = sorted(os.sched_getaffinity(0))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_pinned, args=(c, repeats, out)) for c in cores]
    for pr in procs:
        pr.start()
    got = dict(out.get() for _ in procs)
    for pr in procs:
        pr.join()
    return {c: got[c] for c in cores}


def main() -> None:
    t = time.process_time()
    _python()
    tp = time.process_time() - t
    t = time.process_time()
    _numpy()
    tn = time.process_time() - t
    t = time.process_time()
    _solves()
    ts = time.process_time() - t
    best, index = speed_index()
    print(f"parts: Python {tp:.3f} s, numpy {tn:.3f} s, PIQP {ts:.3f} s")
    print(
        f"machine workload: best {best:.3f} s of CPU; index {index:.2f} (1.00 = a fast hour, {REFERENCE_S} s)"
    )
    per_core = core_indices()
    print(
        "every core at once: "
        + ", ".join(f"core {c} {v:.2f}" for c, v in per_core.items())
        + f"; mean {sum(per_core.values()) / len(per_core):.2f}"
    )


if __name__ == "__main__":
    main()
