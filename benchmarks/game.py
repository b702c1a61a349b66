"""Benchmark of the game layer on the shipped U.S.-China game (issue 7: "runs in minutes or less").

Prints, for ``scenarios/games/us-china.yaml`` (16 profiles + the base, 2025-2040 yearly):

* the payoff tensor from scratch with 1 worker and with all cores (Dask processes), and the
  speed-up ratio;
* the tensor again from the on-disk cache;
* the analysis (equilibria, dominance, bargaining, sensitivity);
* one repeated game (tit-for-tat against always-escalate) and how many path simulations it took;
* ``reesim game us-china`` from the shell with a warm cache (start-up included).

Run: ``.venv/bin/python benchmarks/game.py [--game us-china]``. Uses a temporary cache folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--game", default="us-china")
    args = ap.parse_args()
    os.environ["REESIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="reesim-bench-game-")
    from reesim.game import Rule, analyse, load_game, payoff_tensor, play

    game, folder = load_game(args.game)
    cores = os.cpu_count() or 1
    t0 = time.perf_counter()
    one, _, _ = payoff_tensor(game, folder, workers=1, cache=False)
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    many, b, base = payoff_tensor(game, folder, workers=cores, cache=True)
    t_many = time.perf_counter() - t0
    t0 = time.perf_counter()
    cached, _, _ = payoff_tensor(game, folder, workers=cores, cache=True)
    t_cached = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyse(cached)
    t_an = time.perf_counter() - t0
    rules = {
        pl.name: Rule("tit-for-tat" if k == 0 else "always-escalate") for k, pl in enumerate(game.players)
    }
    t0 = time.perf_counter()
    path = play(game, b, base, rules)
    t_rep = time.perf_counter() - t0
    exe = str(Path(sys.executable).with_name("reesim"))
    t0 = time.perf_counter()
    subprocess.run([exe, "game", args.game], check=True, capture_output=True)
    t_cli = time.perf_counter() - t0
    n = one.welfare.size // len(game.players)
    diff = float(abs(one.welfare - many.welfare).max())
    print(
        f"machine: {cores} cores; game {args.game}: {n} profiles + base, horizon {b.base.horizon.start}-{b.base.horizon.end}"
    )
    print(f"payoff tensor, 1 worker:        {t_one:6.1f} s")
    print(f"payoff tensor, {cores} workers (Dask): {t_many:6.1f} s   speed-up {t_one / t_many:.2f}x")
    print(f"payoff tensor from the cache:   {t_cached:6.2f} s   ({cached.cached} of {n} profiles cached)")
    print(f"max |1 worker - {cores} workers| payoff: {diff:.2e} million USD")
    print(f"analysis (equilibria, bargaining, sensitivity): {t_an:.2f} s")
    print(f"repeated game {path.rules}: {t_rep:.1f} s, {path.simulations} path simulations")
    print(f"`reesim game {args.game}` from the shell, warm cache: {t_cli:.1f} s")


if __name__ == "__main__":
    main()
