"""Caches that cannot lie: planted, truncated or changed cache files are never used.

Each check runs reesim in a fresh process with its own cache folder, tampers with what the
first run left (or plants a file where an attacker could), and shows that the next run
rebuilds, warns and reports the same figures.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import duckdb
import pytest

from reesim import cache

SRC = Path(__file__).resolve().parents[2] / "src"
#: Figures read through the DuckDB store: China's 2024 mine production and the Dy FOB price.
PROBE = """
import json, warnings
warnings.simplefilter("default")
import reesim.data as rd
ds = rd.default_dataset()
chn = rd.table("mine_production", iso3="CHN", year=2024, preferred=True)["production_t_reo"].sum()
print(json.dumps({"china_t": float(chn), "version": ds.version, "path": str(ds.path)}))
"""


def probe(cache_dir: Path | str) -> tuple[dict, str]:
    env = {**os.environ, "REESIM_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(SRC)}
    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=False)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1]), res.stderr


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("cache-truth")
    figures, err = probe(folder)
    assert figures["china_t"] > 100_000 and "warning" not in err.lower()
    return figures


def _tamper_china(db: Path) -> None:
    """Divide China's mine production by 10 inside a cached DuckDB file (as an attacker would)."""
    db.chmod(0o600)
    con = duckdb.connect(str(db))
    con.execute("UPDATE mine_production SET production_t_reo = production_t_reo / 10 WHERE iso3 = 'CHN'")
    con.execute("CHECKPOINT")
    con.close()


def test_a_changed_duckdb_cache_is_rebuilt_and_the_figures_do_not_change(tmp_path, truth):
    folder = tmp_path / "cache"
    first, _ = probe(folder)
    db = Path(first["path"])
    assert db.parent == folder and (folder / (db.name + ".sha256")).is_file()
    _tamper_china(db)
    figures, err = probe(folder)
    assert "not used" in err and "does not match" in err
    assert figures == {**truth, "path": str(db)}
    assert cache.verified_file(db)  # rebuilt in place, and verified again


def test_a_truncated_duckdb_cache_is_rebuilt(tmp_path, truth):
    folder = tmp_path / "cache"
    db = Path(probe(folder)[0]["path"])
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 3)
    figures, err = probe(folder)
    assert "rebuilt" in err
    assert figures["china_t"] == truth["china_t"]
    figures, err = probe(folder)  # and the rebuilt file is used without a warning
    assert "warning" not in err.lower() and figures["china_t"] == truth["china_t"]


def test_a_planted_duckdb_with_a_forged_record_of_the_old_format_is_rebuilt(tmp_path, truth):
    """A file planted under the right name with a sidecar that does not match is not used."""
    folder = tmp_path / "cache"
    db = Path(probe(folder)[0]["path"])
    side = db.with_name(db.name + ".sha256")
    _tamper_china(db)
    side.write_text(json.dumps({"format": cache.CACHE_FORMAT, "sha256": "0" * 64, "size": db.stat().st_size}))
    figures, err = probe(folder)
    assert "does not match" in err and figures["china_t"] == truth["china_t"]


def test_a_file_planted_in_the_shared_temporary_folder_is_never_read(tmp_path, truth):
    """With no usable private cache, nothing is read from a predictable shared place."""
    planted_dir = Path(tempfile.gettempdir()) / "reesim-cache"
    planted_dir.mkdir(exist_ok=True)
    good = Path(probe(tmp_path / "good")[0]["path"])
    planted = planted_dir / good.name
    planted.write_bytes(good.read_bytes())
    _tamper_china(planted)
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("not a folder")
    try:
        figures, err = probe(not_a_folder)
    finally:
        planted.unlink()
    assert "running without a cache" in err and "not a directory" in err
    assert figures["china_t"] == truth["china_t"]
    assert not figures["path"].startswith(str(planted_dir))


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the folder to another user")
def test_a_cache_folder_owned_by_another_user_is_refused(tmp_path, truth):
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    figures, err = probe(folder)
    assert "owned by user id 65534" in err and figures["china_t"] == truth["china_t"]
    assert list(folder.iterdir()) == []  # nothing written there


def test_a_cache_folder_open_to_others_is_made_private(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    assert cache.private_problem(folder) is None
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    new = tmp_path / "new" / "reesim"
    assert cache.private_problem(new) is None and stat.S_IMODE(new.stat().st_mode) == 0o700


def test_blobs_verify_their_content(tmp_path):
    path = tmp_path / "x.json"
    assert cache.write_blob(path, b'{"US": 1.0}')
    assert cache.read_blob(path) == b'{"US": 1.0}'
    data = path.read_bytes().replace(b"1.0", b"1e6")
    path.write_bytes(data)
    with pytest.warns(cache.CacheWarning, match="does not match"):
        assert cache.read_blob(path) is None
    path.write_text('{"US": 1e6}')  # an old-format or hand-written file
    with pytest.warns(cache.CacheWarning):
        assert cache.read_blob(path) is None
    link = tmp_path / "link.json"
    link.symlink_to(path)
    with pytest.warns(cache.CacheWarning, match="not a regular file"):
        assert cache.read_blob(link) is None


def test_a_tampered_game_outcome_is_not_used(tmp_path, monkeypatch):
    from reesim.game import payoffs

    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))
    key = "k" * 64
    payoffs._cache_write(key, {"welfare": {"US": 1.0}})
    assert payoffs._cache_read(key) == {"welfare": {"US": 1.0}}
    path = tmp_path / "games" / f"{key}.json"
    path.write_bytes(path.read_bytes().replace(b"1.0", b"1000000.0"))
    with pytest.warns(cache.CacheWarning):
        assert payoffs._cache_read(key) is None


def test_keys_cover_the_building_code(monkeypatch, tmp_path):
    """The dataset file's name changes with the code that builds it."""
    from reesim.data import default_dataset, store

    ds = default_dataset()
    built: list[Path] = []
    monkeypatch.setattr(store, "cached_file", lambda name, build: built.append(Path(name)) or Path(name))
    store.open_database(ds.tables_dir, ds.schema_dir, ds.registry)
    monkeypatch.setattr(store, "code_fingerprint", lambda *a: "changed builder")
    store.open_database(ds.tables_dir, ds.schema_dir, ds.registry)
    assert built[0] != built[1]
    assert cache.code_fingerprint("data") != cache.code_fingerprint("world")


def test_no_pickle_is_read_anywhere_in_the_package():
    src = SRC / "reesim"
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if any(s in p.read_text(encoding="utf-8") for s in ("pickle.load", "import pickle", "joblib.load"))
    ]
    assert offenders == []


def test_cache_info_and_clear(tmp_path, monkeypatch, capsys):
    from reesim.cli.main import run as cli_run

    folder = tmp_path / "cache"
    probe(folder)
    (folder / "world-0123.pkl").write_bytes(b"old pickle")
    (folder / "notes.txt").write_text("the user's own file")
    monkeypatch.setenv("REESIM_CACHE_DIR", str(folder))
    with pytest.raises(SystemExit) as e:
        cli_run(["cache", "info"])
    assert e.value.code in (0, None)
    text = capsys.readouterr().out
    assert "private" in text and "dataset (DuckDB)" in text and "yes" in text and "obsolete" in text
    with pytest.raises(SystemExit):
        cli_run(["cache", "clear"])
    assert "removed" in capsys.readouterr().out
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_cache_clear_deletes_only_reesims_names_and_follows_no_link(tmp_path):
    """Another program's dot files in the same folder stay, and a link planted in place of a
    subfolder is not followed (a review of 2026-12-06 saw `.*.lock` delete a foreign lock)."""
    folder = tmp_path / "cache"
    assert cache.private_problem(folder) is None
    ours = [
        folder / ".dataset-0123.duckdb.lock",
        folder / ".dataset-0123.duckdb.abcd1234.tmp",
        folder / ".dataset-0123.duckdb.sha256.abcd1234.tmp",
        folder / "worlds" / ".world-ab.json.x1y2z3.tmp",
    ]
    (folder / "worlds").mkdir()
    for p in ours:
        p.write_text("")
    theirs = [folder / ".other.lock", folder / ".editor.swp.tmp"]
    for p in theirs:
        p.write_text("keep")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "run-precious.json").write_text("keep")
    (folder / "runs").symlink_to(elsewhere)
    names = {e.path for e in cache.entries(folder)}
    assert names == set(ours)
    cache.clear(folder)
    assert all(p.exists() for p in theirs) and not any(p.exists() for p in ours)
    assert (elsewhere / "run-precious.json").read_text() == "keep"


def test_a_cache_folder_that_is_a_link_is_refused(tmp_path):
    """A link's target would be tightened to 0700 and used (or cleared) in its place."""
    target = tmp_path / "victim"
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    link = tmp_path / "planted"
    link.symlink_to(target)
    assert "symbolic link" in (cache.private_problem(link) or "")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # untouched


def test_an_unwritable_cache_degrades_to_no_cache(tmp_path, monkeypatch):
    """A cache folder that fails on write (full or read-only disk) costs time, not the run."""
    monkeypatch.setenv("REESIM_CACHE_DIR", str(tmp_path))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "publish_file", full_disk)
    built = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = cache.cached_file("thing.bin", lambda p: built.append(p) or p.write_bytes(b"x"))
    assert path.read_bytes() == b"x" and not str(path).startswith(str(tmp_path))
    assert any("running without a cache" in str(w.message) for w in caught)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
