"""A seeded mutational fuzzer of reesim's file loaders (scenario, world, game, episode).

Each case takes a valid shipped file and applies a few random mutations (flip, delete, insert or
duplicate bytes and lines; splice in YAML syntax, tags, anchors, huge numbers, control and
non-UTF-8 bytes), then loads it. The only allowed outcomes are a loaded model or an
:class:`~reesim.errors.InputError` with a message of reasonable length; anything else (another
exception, a hang, a 100 kB message) is a failure. Deterministic for a seed.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reesim.errors import InputError

SNIPPETS = [
    b"&a ",
    b"*a",
    b"!!python/object/apply:os.system ['x']",
    b"!!binary aGk=",
    b"<<: *a\n",
    b"{",
    b"}",
    b"[",
    b"]",
    b": ",
    b"- ",
    b"\t",
    b"\x00",
    b"\xff\xfe",
    b"\xe9",
    b"\x1b[31m",
    b"1e308",
    b".nan",
    b".inf",
    b"-.inf",
    b"~",
    b"null",
    b"'",
    b'"',
    b"\n---\n",
    b"? ",
    b"%YAML 1.1\n",
    b"9" * 40,
    b"-1",
    b"2999-12-31",
    b"[/bold]",
]


@dataclass
class FuzzReport:
    """Counts of a fuzzing run and the inputs that failed."""

    tried: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: list[tuple[str, bytes, str]] = field(default_factory=list)
    seconds: float = 0.0


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random mutations of ``data``."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:  # flip a byte
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op == 1 and b:  # delete a span
            del b[i : i + rng.randint(1, 20)]
        elif op == 2:  # insert a snippet
            b[i:i] = rng.choice(SNIPPETS)
        elif op == 3:  # duplicate a line
            lines = bytes(b).split(b"\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
            b = bytearray(b"\n".join(lines))
        elif op == 4:  # swap two lines
            lines = bytes(b).split(b"\n")
            x, y = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[x], lines[y] = lines[y], lines[x]
            b = bytearray(b"\n".join(lines))
        else:  # change an indentation
            lines = bytes(b).split(b"\n")
            k = rng.randrange(len(lines))
            lines[k] = b" " * rng.randint(0, 6) + lines[k].lstrip()
            b = bytearray(b"\n".join(lines))
    return bytes(b)


def loaders() -> dict[str, tuple[bytes, Callable[[Path], object]]]:
    """Seed file and loader per format."""
    from reesim.backtest.episode import load_episode
    from reesim.game.spec import load_game
    from reesim.scenario.load import load_scenario, shipped
    from reesim.world.worldfile import load_world

    root = Path(__file__).resolve().parents[2]
    return {
        "scenario": (shipped()["china-2025-licensing"].encode(), load_scenario),
        "scenario-extends": (shipped()["us-onshoring-price-floor"].encode(), load_scenario),
        "world": ((root / "examples" / "two-regions.yaml").read_bytes(), load_world),
        "game": (shipped("games")["us-china"].encode(), load_game),
        "episode": (shipped("backtests")["2025"].encode(), load_episode),
    }


def fuzz(n: int, folder: Path, seed: int = 0, max_seconds: float = 120.0) -> FuzzReport:
    """Run ``n`` mutated inputs (or stop after ``max_seconds``) through every loader in turn."""
    rng = random.Random(seed)
    formats = loaders()
    names = sorted(formats)
    rep = FuzzReport()
    t0 = time.perf_counter()
    for k in range(n):
        if time.perf_counter() - t0 > max_seconds:
            break
        name = names[k % len(names)]
        seed_bytes, load = formats[name]
        data = mutate(seed_bytes, rng)
        path = folder / f"case-{k}.yaml"
        path.write_bytes(data)
        rep.tried += 1
        try:
            load(path)
            rep.outcomes["loaded"] += 1
        except InputError as exc:
            if len(str(exc)) > 20_000:
                rep.failures.append((name, data, f"message of {len(str(exc)):,} characters"))
            else:
                rep.outcomes["clean error"] += 1
        except Exception as exc:  # any other exception is a defect
            rep.failures.append((name, data, f"{type(exc).__name__}: {exc}"[:300]))
        finally:
            path.unlink(missing_ok=True)
    rep.seconds = time.perf_counter() - t0
    return rep
