"""Benchmark of ``reesim ensemble`` (issue 16 targets).

Prints, for ``china-2025-licensing`` (2025-2040 yearly, every member with its counterfactual,
the default space: every stated assumption range and DESIGN's lead times):

* members per second in process (1 worker) and on a 2-worker ``LocalCluster`` after a warm-up of
  two members on each (printed apart: imports and per-process caches), the ratio, and
  the time 1,000 and 10,000 members would take at that rate against the targets (3 min and
  25 min on 2 cores, >= 1.8x from 1 to 2 workers);
* members lost without a record (target 0);
* the machine's speed index before and after (``benchmarks/machine.py``: the same code's members
  took 270 ms on one hour and 390 ms on another of the same day), and the targets' figures scaled
  to a fast hour by it.

Run: ``.venv/bin/python benchmarks/ensemble.py [-n 16]``. Writes into a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from machine import core_indices


def _mean(per_core: dict[int, float]) -> float:
    return sum(per_core.values()) / len(per_core)


def _cores(per_core: dict[int, float]) -> str:
    return ", ".join(f"core {c} {v:.2f}" for c, v in per_core.items()) + f" (mean {_mean(per_core):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=16, help="members per measurement")
    ap.add_argument("--scenario", default="china-2025-licensing")
    args = ap.parse_args()
    import pandas as pd

    from reesim.ensemble.runner import run_ensemble
    from reesim.ensemble.space import default_space
    from reesim.scenario.load import load_scenario

    sc = load_scenario(args.scenario)
    space = default_space(sc)
    tmp = Path(tempfile.mkdtemp(prefix="reesim-bench-ensemble-"))
    print(f"{args.scenario}: {len(space)} parameters, {args.n} members per run, {os.cpu_count()} cores")
    before = core_indices()
    print(
        f"  machine speed index before, every core at once: {_cores(before)} (benchmarks/machine.py: 1.00 = a "
        "fast hour of this machine class; the same code's members take about that many times a fast hour's)"
    )
    import dask

    from reesim.pool import local_cluster

    t0 = time.perf_counter()
    # as reesim.pool starts it (TLS, temporary credentials); the client reesim opens on its tls://
    # address reads the credentials from Dask's configuration
    cluster = local_cluster(2)
    sec = cluster.security
    dask.config.set(
        {
            "distributed.comm.tls.ca-file": sec.tls_ca_file,
            "distributed.comm.tls.client.cert": sec.tls_client_cert,
            "distributed.comm.tls.client.key": sec.tls_client_key,
            "distributed.comm.require-encryption": True,
        }
    )
    startup = time.perf_counter() - t0
    print(
        f"  2-worker LocalCluster start-up: {startup:.1f} s (paid once per ensemble; not in the rates below)"
    )
    # Warm-up: two members on each configuration first (imports, the dataset, per-process caches;
    # once per worker process), timed apart so that the rates below are steady-state rates.
    warm = {}
    for workers in (1, 2):
        where = {"workers": 1} if workers == 1 else {"scheduler": cluster.scheduler_address}
        t0 = time.perf_counter()
        run_ensemble(sc, space, 2, tmp / f"warm{workers}", **where)
        warm[workers] = time.perf_counter() - t0
    print(
        f"  warm-up, 2 members: {warm[1]:.1f} s in process, {warm[2]:.1f} s on the 2 fresh workers "
        "(imports and caches, once per worker; not in the rates below)"
    )
    rates = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        where = {"workers": 1} if workers == 1 else {"scheduler": cluster.scheduler_address}
        s = run_ensemble(sc, space, args.n, tmp / f"w{workers}", **where)
        dt = time.perf_counter() - t0
        design = pd.read_parquet(tmp / f"w{workers}" / "design.parquet")
        lost = args.n - len(design)
        rates[workers] = args.n / dt
        print(
            f"  {workers} worker(s): {dt:6.1f} s, {rates[workers]:.2f} members/s, {s.ok} ok, {s.failed} failed, "
            f"{lost} lost without a record (target 0)"
        )
    cluster.close()
    r = rates[2]
    print(
        f"  speed-up 1 -> 2 workers: {rates[2] / rates[1]:.2f}x (target >= 1.8x; cluster start-up and warm-up excluded)"
    )
    print(f"  1,000 members at the 2-worker rate: {1000 / r / 60:.1f} min (target <= 3 min)")
    print(f"  10,000 members at the 2-worker rate: {10000 / r / 60:.1f} min (target <= 25 min)")
    after = core_indices()
    index = (_mean(before) + _mean(after)) / 2
    print(
        f"  machine speed index after: {_cores(after)}; at a fast hour's speed (index 1.00) the 2-worker rate "
        f"would give 1,000 members in {1000 / r / 60 / index:.1f} min and 10,000 in {10000 / r / 60 / index:.1f} min "
        "(scaled by the mean index: an estimate, not a measurement)"
    )


if __name__ == "__main__":
    main()
