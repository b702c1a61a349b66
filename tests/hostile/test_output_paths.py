"""Output paths: checked before any work, never a device, FIFO or link, modes kept, atomic under kills.

The SIGKILL test kills ``reesim run --report`` at 24 seeded random moments (spread over a whole
run: start-up, simulation, writing) and checks after each that ``--out`` is either absent or
a complete result, that the next run into the same place succeeds, and that no partial folder
survives.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reesim.atomic import MARKER, atomic_folder, check_out_file, check_out_folder, write_file_atomic
from reesim.errors import InputError

SRC = Path(__file__).resolve().parents[2] / "src"
SHORT = "extends: china-2025-licensing\nname: kill-test\nhorizon: {start: 2025, end: 2026}\n"
COMPLETE = {"summary.json", "report.html", "prices.parquet", "trade.parquet", "scenario.resolved.yaml"}


def reesim(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", "from reesim.cli.main import run; run()", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def complete(folder: Path) -> bool:
    names = {p.name for p in folder.iterdir()}
    return (
        names >= COMPLETE and MARKER not in names and (folder / "counterfactual" / "prices.parquet").is_file()
    )


# ---------------------------------------------------------------------------- checks before work
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: os.mkfifo(p), "FIFO"),
        (lambda p: p.symlink_to("/etc/passwd"), "symbolic link"),
        (lambda p: p.mkdir(), "folder"),
        (lambda p: p.symlink_to(p.parent / "nowhere"), "symbolic link"),
    ],
)
def test_a_file_output_is_never_a_device_fifo_link_or_folder(tmp_path, make, match):
    target = tmp_path / "out.csv"
    make(target)
    with pytest.raises(InputError, match=match):
        check_out_file(target)
    with pytest.raises(InputError, match=match):
        write_file_atomic(target, lambda tmp: tmp.write_text("x"))


def test_dev_null_is_refused_and_left_alone():
    before = os.stat("/dev/null")
    with pytest.raises(InputError, match="character device"):
        write_file_atomic(Path("/dev/null"), lambda tmp: tmp.write_text("x"))
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_text("x"), "is a file, not a folder"),
        (lambda p: os.mkfifo(p), "FIFO"),
        (lambda p: p.symlink_to(p.parent), "symbolic link"),
        (lambda p: (p.mkdir(), (p / "a").write_text("x")), "not empty"),
    ],
)
def test_a_result_folder_is_new_or_empty(tmp_path, make, match):
    target = tmp_path / "out"
    make(target)
    with pytest.raises(InputError, match=match):
        check_out_folder(target)


def test_an_output_under_a_file_or_unwritable_folder_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_out_folder(tmp_path / "f" / "sub" / "out")
    with pytest.raises(InputError, match="not a folder"):
        check_out_file(tmp_path / "f" / "x.csv")
    if os.getuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        with pytest.raises(InputError, match="cannot write"):
            check_out_folder(ro / "out")


def test_modes_are_kept_or_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        existing = tmp_path / "existing.csv"
        existing.write_text("old")
        existing.chmod(0o640)
        write_file_atomic(existing, lambda tmp: tmp.write_text("new"))
        assert existing.read_text() == "new" and stat.S_IMODE(existing.stat().st_mode) == 0o640
        new = write_file_atomic(tmp_path / "new.csv", lambda tmp: tmp.write_text("x"))
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        empty = tmp_path / "empty"
        empty.mkdir()
        empty.chmod(0o750)
        with atomic_folder(empty) as tmp:
            (tmp / "a").write_text("x")
        assert stat.S_IMODE(empty.stat().st_mode) == 0o750 and (empty / "a").is_file()
        with atomic_folder(tmp_path / "fresh") as tmp:
            (tmp / "a").write_text("x")
        assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o755
        assert not (tmp_path / "fresh" / MARKER).exists()
    finally:
        os.umask(old)


def test_the_cli_refuses_a_bad_out_before_simulating(tmp_path, capsys):
    from reesim.cli.main import run as cli_run

    (tmp_path / "f").write_text("x")
    t0 = time.perf_counter()
    for args in (
        ["run", "baseline", "--out", str(tmp_path / "f")],
        ["run", "baseline", "--out", str(tmp_path / "f" / "sub")],
        ["data", "export", "prices", "--out", "/dev/null"],
        ["report", str(tmp_path), "--out", "/dev/null"],
        ["schema", "--out", "/dev/null"],
        ["game", "us-china", "--out", str(tmp_path / "f")],
        ["backtest", "2025", "--out", str(tmp_path / "f")],
        ["solve", "default", "--out", str(tmp_path / "f")],
    ):
        with pytest.raises(SystemExit) as e:
            cli_run(args)
        assert e.value.code == 2, args
        err = capsys.readouterr().err
        assert "--out" in err and "Traceback" not in err, err
    assert time.perf_counter() - t0 < 60  # nothing was simulated (a sanity bound, not a benchmark)


# ---------------------------------------------------------------------------- kills and races
def test_stale_partial_folders_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "res"
    stale = tmp_path / ".res.abc123"
    stale.mkdir()
    (stale / MARKER).write_text(json.dumps({"pid": 999999999, "host": os.uname().nodename}))
    foreign = tmp_path / ".res.user-data"  # no marker: not ours, never touched
    foreign.mkdir()
    with pytest.warns(UserWarning, match="killed reesim run"), atomic_folder(out) as tmp:
        (tmp / "a").write_text("x")
    assert not stale.exists() and foreign.exists() and (out / "a").is_file()


def test_stale_partials_of_a_name_with_glob_characters_are_its_own(tmp_path):
    """A folder named ``res[1]*`` is a name, not a pattern: its own killed partials are removed,
    and a killed run's partial of ``res1x`` (which the pattern ``.res[1]*.*`` matched) is left to
    that folder's next run."""
    out = tmp_path / "res[1]*"
    own, other = tmp_path / ".res[1]*.abc123", tmp_path / ".res1x.abc123"
    for stale in (own, other):
        stale.mkdir()
        (stale / MARKER).write_text(json.dumps({"pid": 999999999, "host": os.uname().nodename}))
    with pytest.warns(UserWarning, match="killed reesim run"), atomic_folder(out) as tmp:
        (tmp / "a").write_text("x")
    assert not own.exists() and other.exists() and (out / "a").is_file()


def test_sigkill_at_random_moments_leaves_nothing_half_written(tmp_path):
    sc = tmp_path / "short.yaml"
    sc.write_text(SHORT)
    # One full run measures the duration to spread the kills over.
    t0 = time.perf_counter()
    p = reesim("run", str(sc), "--out", str(tmp_path / "warm"), "--report", cwd=tmp_path)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    duration = time.perf_counter() - t0
    assert complete(tmp_path / "warm")

    # New moments on every run (the seed is printed on failure; REESIM_KILL_SEED replays a run).
    seed = int(os.environ.get("REESIM_KILL_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    n_kills, n_done, name = 24, 0, 0
    for _ in range(n_kills):
        out = tmp_path / f"res{name}"
        p = reesim("run", str(sc), "--out", str(out), "--report", cwd=tmp_path)
        time.sleep(rng.uniform(0.05, duration * 1.1))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=60)
        if out.exists():
            assert complete(out), (
                f"half-written result after a kill (REESIM_KILL_SEED={seed}): {sorted(x.name for x in out.iterdir())}"
            )
            n_done += 1
            name += 1  # the next kill goes to a new folder; else it retries the same one
    out = tmp_path / f"res{name}"
    p = reesim("run", str(sc), "--out", str(out), "--report", cwd=tmp_path)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0 and complete(out), f"REESIM_KILL_SEED={seed}: {err}"
    partial = [x.name for x in tmp_path.iterdir() if x.name.startswith(".res")]
    # Partials of folders that were retried are cleaned by the retry; others only by a run into the same name.
    assert all(not (tmp_path / x.split(".")[1]).exists() or x.startswith(".res") for x in partial)
    assert not [x for x in partial if x.split(".")[1] == out.name], partial
    print(f"{n_kills} kills, {n_done} after completion, {n_kills - n_done} during the run")


def test_two_runs_into_one_out_give_one_result_and_a_clear_message(tmp_path):
    sc = tmp_path / "short.yaml"
    sc.write_text(SHORT)
    out = tmp_path / "shared"
    procs = [reesim("run", str(sc), "--out", str(out), cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    loser = next(err for rc, err in results if rc == 2)
    assert "--out" in loser and "Traceback" not in loser
    assert complete(out) or {p.name for p in out.iterdir()} >= COMPLETE - {"report.html"}
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".shared.")]


def test_ctrl_c_exits_130_and_writes_nothing(tmp_path):
    sc = tmp_path / "short.yaml"
    sc.write_text(SHORT)
    out = tmp_path / "interrupted"
    p = reesim("run", str(sc), "--out", str(out), "--report", cwd=tmp_path)
    time.sleep(1.5)  # in the simulation
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    if p.returncode == 0:  # the run finished first: then the result must be complete
        assert complete(out)
        return
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert not out.exists() and not [x for x in tmp_path.iterdir() if x.name.startswith(".interrupted.")]
