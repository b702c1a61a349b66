"""Hostile inputs: the corpus by outcome class, the extreme scenarios, and a bounded fuzzing run.

Prints how many cases the hostile corpus holds (``tests/hostile/corpus.py``) and how each ended
(clean exit-2 error, diagnosed exit-3 failure, correct success, or a defect: traceback,
internal error, wrong exit code, message without the field/value, overlong message), then the
extreme-but-legal scenarios (solved with guards passed, or diagnosed), then a seeded
mutational fuzzing run of the loaders (cases tried, outcomes, failures found; failing inputs are
saved under ``--save``).

Run: ``.venv/bin/python benchmarks/hostile.py [--fuzz 20000] [--seconds 300] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile.corpus import all_cases
from tests.hostile.fuzz import fuzz


def run_corpus() -> Counter:
    from reesim.cli.main import run as cli_run

    outcome: Counter = Counter()
    defects = []
    for case in all_cases():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for name, data in case.files.items():
                (folder / name).write_bytes(data)
            argv = [a.replace("{dir}", tmp) for a in case.argv]
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    cli_run(argv)
                    code = 0
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else 0
            text = err.getvalue() + out.getvalue()
            low = text.lower()
            if "Traceback" in text:
                kind = "DEFECT: traceback"
            elif "internal error" in text:
                kind = "DEFECT: internal error"
            elif code != case.code:
                kind = f"DEFECT: exit {code} (expected {case.code})"
            elif any(e.lower() not in low for e in case.expect):
                kind = "DEFECT: message lacks the field or value"
            elif len(text) > 20_000:
                kind = "DEFECT: overlong message"
            elif case.absent and (folder / case.absent).exists():
                kind = "DEFECT: something written"
            else:
                kind = {
                    2: "clean error (exit 2)",
                    3: "diagnosed failure (exit 3)",
                    0: "correct result (exit 0)",
                }[code]
            outcome[kind] += 1
            if kind.startswith("DEFECT"):
                defects.append((case.id, kind))
    for cid, kind in defects[:20]:
        print(f"  {kind}: {cid}")
    return outcome


def run_extreme() -> Counter:
    from tests.hostile.test_extreme import EXTREME, _scenario, baseline, check_result, parse, simulate

    from reesim.errors import ModelFailure

    outcome: Counter = Counter()
    for name, insts in EXTREME.items():
        data = _scenario(name.replace(" ", "-"), 2025, 2026, insts)
        try:
            res = simulate(parse(data, data["name"]), counterfactual=baseline(2025, 2026))
            check_result(res, baseline(2025, 2026))
            outcome["solved, guards passed, headline determined"] += 1
        except ModelFailure:
            outcome["diagnosed failure"] += 1
        except AssertionError as exc:
            outcome[f"DEFECT: {exc}"] += 1
    return outcome


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fuzz", type=int, default=20_000, help="mutated files to try")
    ap.add_argument("--seconds", type=float, default=300.0, help="time bound of the fuzzing run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=Path("fuzz-failures"), help="where failing inputs are saved")
    args = ap.parse_args()

    t0 = time.perf_counter()
    corpus = run_corpus()
    n = sum(corpus.values())
    print(f"hostile corpus: {n} cases in {time.perf_counter() - t0:.1f} s")
    for kind, k in corpus.most_common():
        print(f"  {k:5d}  {kind}")
    t0 = time.perf_counter()
    ext = run_extreme()
    print(f"extreme scenarios: {sum(ext.values())} in {time.perf_counter() - t0:.1f} s")
    for kind, k in ext.most_common():
        print(f"  {k:5d}  {kind}")
    with tempfile.TemporaryDirectory() as tmp:
        rep = fuzz(args.fuzz, Path(tmp), seed=args.seed, max_seconds=args.seconds)
    print(
        f"fuzzing (seed {args.seed}): {rep.tried} mutated files in {rep.seconds:.1f} s "
        f"({rep.tried / max(rep.seconds, 1e-9):.0f}/s); "
        + ", ".join(f"{k} {v}" for k, v in rep.outcomes.items())
    )
    print(f"  failures found: {len(rep.failures)}")
    if rep.failures:
        args.save.mkdir(exist_ok=True)
        for i, (name, data, why) in enumerate(rep.failures[:50]):
            (args.save / f"{name}-{i}.yaml").write_bytes(data)
            print(f"  {name}: {why}")
    defects = sum(v for k, v in (corpus + ext).items() if k.startswith("DEFECT")) + len(rep.failures)
    print(f"defects: {defects}")


if __name__ == "__main__":
    main()
