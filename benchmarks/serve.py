"""The web service under load: 50 concurrent run requests on loopback.

Starts ``reesim serve --workers W`` on a free port with a fresh home, sends N distinct run
requests at once (the licensing scenario with approval shares 0.30, 0.31, ... so that none is
answered from the cache; horizon 2025-2030), and prints:

* how long the server took to accept each request (p50, p95, max) — every request gets its job
  at once, whatever the queue;
* how long until every job was done, and the jobs per second;
* the peak resident memory of the server and all its processes (sampled every 0.1 s from
  /proc), against the server at rest: with W workers at most W simulations run at a time, so
  memory stays bounded however many requests wait;
* then the same N requests again: all answered from the cache.

Usage: ``.venv/bin/python benchmarks/serve.py [-n 50] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

TEMPLATE = """
name: load-{k}
extends: china-2025-licensing
horizon: {{start: 2025, end: 2030, step: year}}
instruments:
  - name: china-licensing-2025
    type: export_quota
    exporter: CHN
    commodities: [oxide:Sm, oxide:Gd, oxide:Tb, oxide:Dy, oxide:Y, metal:Tb, metal:Dy]
    approval_share: {share}
    licence_cost_usd_per_kg: 2
    processing_working_days: 34
    start: 2025-04-04
"""


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, MB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        p = int(d.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(p)
        rss[p] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack += children.get(p, [])
    return total / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    home = tempfile.mkdtemp(prefix="reesim-serve-bench-")
    env = {**os.environ, "REESIM_SERVE_HOME": home}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reesim.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            # the N requests stand for N clients but all come from this machine's one address
            "--max-queued-per-client",
            str(max(args.n, 1)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            try:
                httpx.get(f"{url}/api/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        time.sleep(1.0)
        rest = tree_rss_mb(server.pid)
        peak = [rest]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss_mb(server.pid))
                time.sleep(0.1)

        threading.Thread(target=sample, daemon=True).start()
        bodies = [{"yaml": TEMPLATE.format(k=k, share=round(0.30 + 0.01 * k, 2))} for k in range(args.n)]

        def submit(body: dict) -> tuple[float, dict]:
            t = time.perf_counter()
            r = httpx.post(f"{url}/api/runs", json=body, timeout=60)
            r.raise_for_status()
            return time.perf_counter() - t, r.json()

        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(args.n) as pool:
            answers = list(pool.map(submit, bodies))
        accepted = time.perf_counter() - t0
        lat = sorted(a for a, _ in answers)
        ids = [j["id"] for _, j in answers]
        pending = set(ids)
        failed = []
        while pending:
            for jid in list(pending):
                job = httpx.get(f"{url}/api/runs/{jid}", timeout=10).json()
                if job["status"] in ("done", "failed"):
                    pending.discard(jid)
                    if job["status"] == "failed":
                        failed.append(job["message"])
            time.sleep(0.5)
        total = time.perf_counter() - t0
        stop.set()
        t1 = time.perf_counter()
        with cf.ThreadPoolExecutor(args.n) as pool:
            cached = list(pool.map(submit, bodies))
        again = time.perf_counter() - t1
        n_cached = sum(1 for _, j in cached if j["cached"])
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        print(f"{args.n} concurrent run requests, {args.workers} workers (horizon 2025-2030, 12 steps a job)")
        print(
            f"  accepted in {accepted:.2f} s: latency p50 {1000 * q(0.5):.0f} ms, p95 {1000 * q(0.95):.0f} ms, max {1000 * lat[-1]:.0f} ms"
        )
        print(f"  all done in {total:.1f} s ({args.n / total:.2f} jobs/s); failed: {len(failed)}")
        print(
            f"  memory of the server and its processes: {rest:.0f} MB at rest, peak {peak[0]:.0f} MB ({peak[0] / rest:.2f}x)"
        )
        print(f"  the same {args.n} requests again: {n_cached} answered from the cache in {again:.2f} s")
        for m in failed[:3]:
            print("  failed:", m[:200])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


if __name__ == "__main__":
    main()
