"""Benchmark of one market year on the default world (DESIGN §8, issue: market core).

Prints, as medians over interleaved repetitions on this machine:
* time to build the default world from the dataset and to build its QP;
* PIQP: cold solve (setup + solve) and update + solve (same structure, new data);
* Clarabel (same presolve, tolerance 1e-12): solve;
* the ratio Clarabel / PIQP(update + solve), and the largest relative price differences
  against PIQP at tighter tolerances and against Clarabel.

Run: ``.venv/bin/python benchmarks/market.py [--reps 30]``. Each draw perturbs demand
intercepts and cost slopes by +-5 % (seeded), so "update" solves a genuinely new problem.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import numpy as np

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--year", type=int, default=2024)
    args = ap.parse_args()

    from reesim.model.qp import build_qp
    from reesim.solve.backends import ClarabelBackend, PiqpBackend
    from reesim.solve.equilibrium import solve_equilibrium
    from reesim.world.default import load_default_world

    t0 = time.perf_counter()
    world = load_default_world(args.year)
    t_world = time.perf_counter() - t0
    builds = []
    for _ in range(max(5, args.reps // 3)):
        t0 = time.perf_counter()
        qp = build_qp(world)
        builds.append(time.perf_counter() - t0)

    rng = np.random.default_rng(20261129)
    n_p, n_d = qp.n_proc, qp.n_dem
    piqp_warm = PiqpBackend()
    piqp_warm.solve(qp)  # set up once
    clarabel = ClarabelBackend()
    tight = PiqpBackend(eps_abs=1e-11, eps_rel=1e-12)
    cold, warm, refc, errs, errs_tight = [], [], [], [], []
    for _ in range(args.reps):
        P, c = qp.P.copy(), qp.c.copy()
        c[n_p : n_p + n_d] *= rng.uniform(0.95, 1.05, n_d)
        P[:n_p] *= rng.uniform(0.95, 1.05, n_p)
        draw = replace(qp, P=P, c=c)
        t0 = time.perf_counter()
        a = solve_equilibrium(world, backend=piqp_warm, qp=draw, guards=False)
        warm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        solve_equilibrium(world, backend=PiqpBackend(), qp=draw, guards=False)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = solve_equilibrium(world, backend=clarabel, qp=draw, guards=False)
        refc.append(time.perf_counter() - t0)
        c_ = solve_equilibrium(world, backend=tight, qp=draw, guards=False)
        pa = a.prices.set_index(["commodity", "region"])
        det = pa["determined"]
        for ref, sink in ((b, errs), (c_, errs_tight)):
            pb = ref.prices.set_index(["commodity", "region"])["usd_per_kg"]
            rel = (pa["usd_per_kg"] - pb).abs() / pb.abs().clip(lower=1.0)
            sink.append(float(rel[det].max()))

    ms = lambda xs: 1000 * statistics.median(xs)  # noqa: E731
    sizes = qp.sizes()
    print(f"machine: {os.cpu_count()} cores; default world {args.year}; {args.reps} draws (interleaved)")
    print(
        f"problem: {sizes['variables']} variables ({sizes['variables_presolved']} after presolve), "
        f"{sizes['rows']} rows, {sizes['nonzeros']} non-zeros"
    )
    print(f"build default world from dataset: {1000 * t_world:8.1f} ms (once)")
    print(f"build QP (vectorised):            {ms(builds):8.2f} ms median")
    print(f"PIQP cold (setup + solve):        {ms(cold):8.2f} ms median")
    print(f"PIQP update + solve:              {ms(warm):8.2f} ms median   (target <= 20 ms)")
    print(f"Clarabel (same presolve, 1e-12):  {ms(refc):8.2f} ms median")
    print(
        f"ratio Clarabel / PIQP update:     {statistics.median(refc) / statistics.median(warm):8.2f} x   (target >= 3 x)"
    )
    print(
        f"ratio rebuild+cold / update:      {(statistics.median(builds) + statistics.median(cold)) / statistics.median(warm):8.2f} x"
    )
    print("max relative price difference, determined prices (target <= 1e-6):")
    print(f"  PIQP (1e-9/1e-10) vs PIQP tight (1e-11/1e-12): {max(errs_tight):.2e}")
    print(
        f"  PIQP vs Clarabel (1e-12):                      {max(errs):.2e}   median over draws {statistics.median(errs):.2e}"
    )


if __name__ == "__main__":
    main()
