"""The CLI prints a repeated warning once, then says how many more times it was raised."""

from __future__ import annotations

import warnings

from reesim.cli import main


def test_a_repeated_warning_is_printed_once_and_counted(capsys):
    warnings.showwarning = main._show_warning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            for _ in range(3):
                warnings.warn("PIQP failed (x); solved with Clarabel instead", RuntimeWarning, stacklevel=1)
            warnings.warn("a different one", RuntimeWarning, stacklevel=1)
        main._report_repeats()
    finally:
        warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert err.count("PIQP failed (x); solved with Clarabel instead") == 2  # the line, and the count
    assert "was raised 2 more time(s)" in err and err.count("a different one") == 1
    assert not main._WARNED  # counted per command


def test_run_counts_repeats_from_the_same_line(monkeypatch, capsys):
    """Python's default filter shows a line's warning once; the CLI must still count every repeat."""

    def noisy(args=None, prog_name=None):
        for _ in range(7):
            warnings.warn("PIQP failed (y); solved with Clarabel instead", RuntimeWarning, stacklevel=1)

    monkeypatch.setattr(main, "app", noisy)
    main.run([])
    err = capsys.readouterr().err
    assert err.count("PIQP failed (y)") == 2 and "was raised 6 more time(s)" in err


def test_ctrl_c_inside_a_duckdb_query_exits_130(monkeypatch, capsys):
    """DuckDB turns a Ctrl-C during a query into its own error ("Query interrupted"); the CLI
    reports it as an interruption (exit 130), not as an internal error (exit 1)."""
    import duckdb
    import pytest

    for exc in (
        RuntimeError("Query interrupted"),
        duckdb.InterruptException("INTERRUPT Error: Interrupted!"),
    ):

        def interrupted(args=None, prog_name=None, exc=exc):
            raise exc

        monkeypatch.setattr(main, "app", interrupted)
        with pytest.raises(SystemExit) as info:
            main.run([])
        assert info.value.code == 130
        assert "interrupted:" in capsys.readouterr().err
    monkeypatch.setattr(
        main, "app", lambda args=None, prog_name=None: (_ for _ in ()).throw(RuntimeError("other"))
    )
    with pytest.raises(SystemExit) as info:
        main.run([])
    assert info.value.code == 1
