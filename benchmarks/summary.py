"""Benchmark of an ensemble's summary at scale: the bands and the sensitivity over many members.

The summary reads every member's file after the members have run (``reesim.ensemble.runner``:
``_bands``, ``_sensitivity`` and, with a Saltelli design, ``sobol_table``). Its time and memory
grow with the members, so they are measured on member files of the real scenario copied to many
members: a small real ensemble of ``china-2025-licensing`` is run (``--seed-members``, in
process), and its member files are written again as members ``0 .. --members - 1``, each value
scaled by a seeded factor (1 + 1 % normal) so that the quantiles and ranks have distinct values
to sort. The copies are timing inputs only: no figure of them is a result.

Prints, per step, the wall time and the peak memory of a fresh process running it alone, and
the members per second. Reference (2026-12-07, this machine): 100,000 members, 264 million
values: bands 202-225 s, 1.2-1.3 GB; sensitivity 115-134 s, 1.9 GB (its table alone took 4.4 GB and 127 s
before it read 5,000 files a query).

Run: ``.venv/bin/python benchmarks/summary.py [--members 10000]``. Writes into a temporary
folder (about 30 KB a member) and removes it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = """
import resource, sys, time
from pathlib import Path
import pandas as pd
from reesim.ensemble import runner
folder, step = Path(sys.argv[1]), sys.argv[2]
t = time.perf_counter()
if step == "bands":
    runner._bands(folder)
else:
    d = pd.read_parquet(folder / "design.parquet")
    names = [c for c in d.columns if c not in ("member", "seed", "status", "error")]
    runner._sensitivity(folder, d[d["status"] == "ok"], names)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)
"""


def _copies(real: Path, folder: Path, members: int, seed: int) -> None:
    """Member files ``0 .. members - 1`` from the real run's files, values scaled (seeded)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    tables = [pq.read_table(f) for f in sorted((real / "members").glob("*.parquet"))]
    design = pd.read_parquet(real / "design.parquet")
    (folder / "members").mkdir(parents=True)
    value_at, member_at = (
        tables[0].schema.get_field_index("value"),
        tables[0].schema.get_field_index("member"),
    )
    for m in range(members):
        t = tables[m % len(tables)]
        v = t.column("value").to_numpy(zero_copy_only=False) * (1 + 0.01 * rng.standard_normal())
        t = t.set_column(value_at, "value", pa.array(v)).set_column(
            member_at, "member", pa.array(np.full(len(t), m, dtype=np.int64))
        )
        pq.write_table(t, folder / "members" / f"member-{m:06d}.parquet")
    # each copy's design row is the one of the member its file came from (a failed seed member
    # has no file and no copies)
    sources = [int(t.column("member")[0].as_py()) for t in tables]
    by_member = design.set_index("member")
    rows = by_member.loc[[sources[m % len(tables)] for m in range(members)]].reset_index(drop=True)
    rows.insert(0, "member", np.arange(members))
    rows.to_parquet(folder / "design.parquet", index=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=10_000, help="members of the summary")
    ap.add_argument("--seed-members", type=int, default=8, help="real members run first")
    ap.add_argument("--scenario", default="china-2025-licensing")
    args = ap.parse_args()
    import pyarrow.parquet as pq

    from reesim.ensemble.runner import run_ensemble
    from reesim.ensemble.space import default_space
    from reesim.scenario.load import load_scenario

    tmp = Path(tempfile.mkdtemp(prefix="reesim-bench-summary-"))
    try:
        sc = load_scenario(args.scenario)
        t0 = time.perf_counter()
        run_ensemble(sc, default_space(sc), args.seed_members, tmp / "real", seed=1)
        print(f"{args.scenario}: {args.seed_members} real members in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        _copies(tmp / "real", tmp / "big", args.members, seed=2)
        files = sorted((tmp / "big" / "members").glob("*.parquet"))
        values = len(files) * pq.ParquetFile(files[0]).metadata.num_rows
        print(
            f"  {args.members:,} member files ({values / 1e6:.1f} million values) written in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        for step in ("bands", "sensitivity"):
            out = subprocess.run(
                [sys.executable, "-c", STEP, str(tmp / "big"), step],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            seconds, peak_gb = float(out[-2]), float(out[-1])
            print(
                f"  {step:<12} {seconds:7.1f} s  peak {peak_gb:5.2f} GB  "
                f"({args.members / seconds:,.0f} members/s; 100,000 members at this rate: "
                f"{100_000 / args.members * seconds / 60:.1f} min)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
