"""CLI behaviour and exit codes: 0 ok, 2 bad input (one line, no traceback), 1 internal error."""

from __future__ import annotations

import pandas as pd
import pytest

from reesim.cli import main as cli
from reesim.cli.main import run


def invoke(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the reesim command in-process; return (exit code, stdout, stderr)."""
    try:
        run(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_data_list_shows_every_table_with_rows_and_years(capsys, ds):
    code, out, _ = invoke(capsys, "data", "list")
    assert code == 0
    for name in ds.registry:
        assert name in out
    assert "1900-2025" in out  # mine_production coverage
    assert "3,418" in out  # trade_flows rows


def test_data_show_filters_and_limits(capsys):
    code, out, _ = invoke(capsys, "data", "show", "mine_production", "--where", "iso3=CHN", "--year", "2025")
    assert code == 0
    assert "270,000" in out and "1 rows" in out


def test_data_show_columns(capsys):
    code, out, _ = invoke(
        capsys, "data", "show", "prices", "-w", "element=Tb", "-y", "2021", "-c", "date,price,preferred"
    )
    assert code == 0
    assert "1,340" in out and "1,350" in out and "market_code" not in out


def test_data_cite_prints_citation_and_licence(capsys):
    code, out, _ = invoke(capsys, "data", "cite", "mine_production", "year=2024", "iso3=CHN")
    assert code == 0
    assert "usgs-mineral-commodity-ee47b4" in out
    assert "public domain" in out and "vintage: 2026-05-27" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("data", "show", "pricez"), "did you mean 'prices'"),
        (("data", "show", "prices", "--where", "elemnt=Dy"), "did you mean 'element'"),
        (("data", "show", "prices", "--where", "element"), "expected COLUMN=VALUE"),
        (("data", "show", "mine_production", "--where", "iso3=CHX"), "unknown country code 'CHX'"),
        (("data", "show", "mine_production", "--year", "1850"), "years covered: 1900-2025"),
        (("data", "cite", "prices", "element=Zz"), "unknown value 'Zz'"),
        (("data", "dependence", "--year", "1990"), "years with country data"),
        (("data", "show", "prices", "--columns", "date,pricee"), "did you mean 'price'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, fragment):
    code, out, err = invoke(capsys, *argv)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2(capsys):
    code, _, err = invoke(capsys, "data", "export", "prices", "--format", "xls", "--out", "x.xls")
    assert code == 2
    assert "'xls' is not one of 'csv'" in err and "'parquet'" in err
    code, _, _ = invoke(capsys, "data", "nope")
    assert code == 2


def test_internal_error_exits_1_without_traceback(capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("reesim.cli.data.dependence", boom)
    code, out, err = invoke(capsys, "data", "dependence")
    assert code == 1
    assert "internal error: RuntimeError: disk on fire" in err
    assert "Traceback" not in out + err
    assert cli.err is not None


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trip(capsys, tmp_path, ds, fmt):
    path = tmp_path / "sub" / f"prices.{fmt}"
    code, out, _ = invoke(capsys, "data", "export", "prices", "--format", fmt, "--out", str(path))
    assert code == 0 and f"wrote {len(ds.table('prices'))} rows" in out
    back = pd.read_csv(path, keep_default_na=False, dtype=str) if fmt == "csv" else pd.read_parquet(path)
    original = ds.table("prices")
    assert list(back.columns) == list(original.columns)
    assert len(back) == len(original)
    if fmt == "parquet":
        pd.testing.assert_frame_equal(back, original, check_dtype=False)
    else:
        assert back["source"].tolist() == original["source"].tolist()
        assert pd.to_numeric(back["price"]).tolist() == original["price"].tolist()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_failed_export_leaves_nothing(capsys, tmp_path, monkeypatch):
    def fail(self, *args, **kwargs):
        raise OSError("no space left")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail)
    path = tmp_path / "prices.parquet"
    code, _, err = invoke(capsys, "data", "export", "prices", "--format", "parquet", "--out", str(path))
    assert code == 1 and "no space left" in err
    assert list(tmp_path.iterdir()) == []


def test_dependence_report_prints_figures_and_sources(capsys):
    code, out, _ = invoke(capsys, "data", "dependence", "--year", "2024")
    assert code == 0
    assert "71.1" in out  # China's 2024 mine share (270,000 / 380,000 t)
    assert "5,302" in out  # HHI of mining, 2024
    assert "8,489-8,498" in out  # separation 2023: China 92 %, Malaysia 5 %, 3 % unknown
    assert "usgs-mineral-commodity-ee47b4" in out
    assert "net import reliance" in out


def test_a_licensing_scenario_is_refused_as_counterfactual(capsys):
    """Approval shares refer to the counterfactual's exports, so a licensing scenario used as the
    counterfactual would approve nothing (an embargo): refused, naming the option and what to do."""
    code, _, err = invoke(capsys, "run", "us-301-tariffs", "--against", "china-2025-licensing")
    assert code == 2
    assert "--against: 'china-2025-licensing' has licences given as approval shares" in err
    assert "reesim compare" in err


def test_counts_from_proportional_estimates_are_printed_to_three_significant_figures():
    from reesim.cli.run import _sig3

    assert _sig3(1_353_345) == "1,350,000" and _sig3(9_277) == "9,280"
    assert _sig3(16) == "16" and _sig3(2_035.4) == "2,040" and _sig3(0) == "0"


def _console(args: list[str], tmp_path, **env: str):
    """The console script's entry (``reesim.cli.main:main``) in a fresh process."""
    import os
    import subprocess
    import sys

    code = f"from reesim.cli.main import main; main({args!r})"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path), **env},
        timeout=120,
    )


def test_the_console_script_keeps_exit_codes_output_and_exit_handlers(tmp_path):
    """The quick exit after a command: the exit code, every line of output (through a pipe), and the
    exit handlers (without a private cache folder the dataset is built in a scratch folder that an
    exit handler removes)."""
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("a file, not a folder")
    done = _console(["data", "list"], tmp_path, REESIM_CACHE_DIR=str(not_a_folder))
    assert done.returncode == 0, done.stderr
    assert "mine_production" in done.stdout and "trade_flows" in done.stdout
    assert "running without a cache" in done.stderr
    assert not list(tmp_path.glob("reesim-nocache-*"))  # removed by its exit handler
    bad = _console(["run", "no-such-scenario"], tmp_path)
    assert bad.returncode == 2 and "no-such-scenario" in bad.stderr and "Traceback" not in bad.stderr


def test_quick_exit_reads_exit_codes_as_python_does(monkeypatch, capsys):
    """None is 0, an int is itself, a message is printed and exits 1 (``sys.exit('...')``)."""
    ended = []
    monkeypatch.setattr(cli.threading, "active_count", lambda: 1)
    monkeypatch.setattr(cli.os, "_exit", ended.append)
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: ended.append("handlers"))
    for code in (None, 3, "stopped: a reason"):
        cli._quick_exit(code)
    assert ended == ["handlers", 0, "handlers", 3, "handlers", 1]
    assert "stopped: a reason" in capsys.readouterr().err


def test_quick_exit_waits_for_threads_that_still_work(monkeypatch):
    """A thread still alive (a Dask or server thread) gets Python's normal exit, which waits for it."""
    monkeypatch.setattr(cli.threading, "active_count", lambda: 2)
    monkeypatch.setattr(cli.os, "_exit", lambda code: pytest.fail("quick exit with a thread alive"))
    with pytest.raises(SystemExit) as e:
        cli._quick_exit(4)
    assert e.value.code == 4


def test_a_run_whose_reader_has_gone_still_writes_its_results(tmp_path):
    """``reesim run ... --out DIR | head``: the reader closes the pipe early. The rest of the text
    is dropped and the run still writes its folder (rich's default ended it with exit 1, unwritten)."""
    import os
    import subprocess
    import sys

    scenario = tmp_path / "short.yaml"
    scenario.write_text(
        "name: licensing-short\nextends: china-2025-licensing\nhorizon: {start: 2025, end: 2026, step: year}\n"
    )
    out_dir = tmp_path / "out"
    code = f"from reesim.cli.main import main; main(['run', {str(scenario)!r}, '--out', {str(out_dir)!r}])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ}
    )
    proc.stdout.close()  # the reader has gone before the first line
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert (out_dir / "summary.json").is_file() and (out_dir / "prices.parquet").is_file()
    assert b"Traceback" not in err


def test_the_console_script_freezes_what_its_imports_made_and_collects_young_objects_rarely(monkeypatch):
    """cli.main, the console script, runs its command with the imported objects in the permanent
    generation and the young generation's threshold at reesim.pool.YOUNG_THRESHOLD
    (cli._collect_less); the test's collector is put back afterwards."""
    import gc

    from reesim.pool import YOUNG_THRESHOLD

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    seen = []
    monkeypatch.setattr(cli, "run", lambda argv: seen.append((gc.get_threshold(), gc.get_freeze_count())))
    monkeypatch.setattr(cli, "_quick_exit", lambda code: seen.append(code))
    try:
        cli.main(["version"])
    finally:
        gc.unfreeze()
        if frozen:
            gc.freeze()
        gc.set_threshold(*before)
    (threshold, count), code = seen
    assert threshold == (YOUNG_THRESHOLD, *before[1:]) and code == 0
    assert count > frozen + 10_000  # the modules, classes and the Typer app
