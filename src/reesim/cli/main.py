"""The ``reesim`` command.

Exit codes: 0 success, 2 bad input (one line naming what was wrong and what is allowed),
3 a valid scenario the model could not solve (the diagnosis names the period and the cause),
130 interrupted (nothing half-written), 1 internal error (set ``REESIM_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
import warnings
from collections import Counter

import typer

from reesim import __version__
from reesim.cli.backtest import backtest_cmd
from reesim.cli.cache import app as cache_app
from reesim.cli.data import app as data_app
from reesim.cli.ensemble import ensemble_cmd
from reesim.cli.game import game_cmd
from reesim.cli.market import solve, world_app
from reesim.cli.run import calibrate, compare_runs, report_cmd, schema, validate
from reesim.cli.run import run as run_cmd
from reesim.cli.serve import serve_cmd
from reesim.cli.text import err, styled
from reesim.errors import InputError, ModelFailure

app = typer.Typer(
    name="reesim",
    help="reesim: rare-earth supply chains, export controls and tariffs, with a sourced dataset.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(world_app, name="world")
app.add_typer(cache_app, name="cache")
app.command()(solve)
app.command("run")(run_cmd)
app.command()(validate)
app.command()(schema)
app.command()(calibrate)
app.command("compare")(compare_runs)
app.command("report")(report_cmd)
app.command("game")(game_cmd)
app.command("backtest")(backtest_cmd)
app.command("ensemble")(ensemble_cmd)
app.command("serve")(serve_cmd)


@app.command()
def version() -> None:
    """Print reesim's version and the embedded dataset's version."""
    from reesim.data import default_dataset

    typer.echo(f"reesim {__version__}, dataset {default_dataset().version}")


#: how often each warning's text was raised in this command (printed once, counted after)
_WARNED: Counter[str] = Counter()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (a cache file rebuilt, no private cache folder) as one plain line on stderr.

    A text already printed is only counted: a monthly backtest whose solver falls back in a
    dozen periods prints the fallback once and, at the end, how many more times it happened.
    """
    text = str(message)
    _WARNED[text] += 1
    if _WARNED[text] == 1:
        err.print(styled(("warning:", "yellow"), f" {text}"), soft_wrap=True)


def _report_repeats() -> None:
    for text, n in _WARNED.items():
        if n > 1:
            short = text if len(text) <= 90 else text[:87] + "..."
            err.print(
                styled(("warning:", "yellow"), f" the warning {short!r} was raised {n - 1} more time(s)"),
                soft_wrap=True,
            )
    _WARNED.clear()


def _interrupted() -> None:
    err.print(styled(("interrupted:", "bold red"), " nothing was written (partial output removed)"))
    sys.exit(130)


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C that arrived inside a DuckDB query: DuckDB raises its own exception (``InterruptException``,
    or a ``RuntimeError`` "Query interrupted" from a result's conversion) instead of KeyboardInterrupt."""
    import duckdb

    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and "Query interrupted" in str(exc)
    )


def run(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map exceptions to exit codes (usage errors exit 2 via typer)."""
    warnings.showwarning = _show_warning
    try:
        try:
            with warnings.catch_warnings():
                # every repeat reaches _show_warning, which prints a text once and counts the rest
                warnings.simplefilter("always", UserWarning)
                warnings.simplefilter("always", RuntimeWarning)
                app(args=argv, prog_name="reesim")
        finally:
            _report_repeats()
    except KeyboardInterrupt:
        _interrupted()
    except InputError as exc:
        err.print(styled(("error:", "bold red"), f" {exc}"), soft_wrap=True)
        sys.exit(2)
    except ModelFailure as exc:
        err.print(styled(("model failure:", "bold red"), f" {exc}"), soft_wrap=True)
        sys.exit(3)
    except Exception as exc:
        if _is_interrupt(exc):
            _interrupted()
        if os.environ.get("REESIM_DEBUG"):
            raise
        err.print(
            styled(
                ("internal error:", "bold red"),
                f" {type(exc).__name__}: {exc} (set REESIM_DEBUG=1 for the traceback)",
            ),
            soft_wrap=True,
        )
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """The ``reesim`` console script: :func:`run`, then a quick exit (:func:`_quick_exit`)."""
    _collect_less()
    try:
        run(argv)
    except SystemExit as exc:
        _quick_exit(exc.code)
    _quick_exit(0)


def _collect_less() -> None:
    """The garbage collector of a command's process: what the imports made (modules, classes, the
    Typer app: about 90,000 tracked objects) moved to the permanent generation, which collections
    do not walk (:func:`gc.freeze`), and young objects collected every
    :data:`reesim.pool.YOUNG_THRESHOLD` allocations instead of 700
    (:func:`reesim.pool.collect_rarely`).

    After its imports a ``reesim run`` spent 50-57 ms of about 1.2 s in the collector (80-100
    collections, two of them full ones that walked every imported object); now 2-5 ms (one).
    Nothing is collected first: the imports leave almost no garbage, and they live as long as the
    process, a one-command process or a server (``reesim serve``) alike. The results are the same
    (the collector frees memory; it computes nothing). Called by the console script only: a
    command run from Python (the tests) leaves its caller's collector as it was.
    """
    from reesim.pool import collect_rarely

    gc.freeze()
    collect_rarely()


def _quick_exit(code: object) -> None:
    """End the process with ``code`` (as :class:`SystemExit` reads it) once the command is done.

    By then everything is written and closed (results are written atomically); tearing the
    interpreter down, freeing every pandas, Arrow and DuckDB object one by one, took another
    0.1 s, 8 % of a ``reesim run``. With only the main thread alive, the exit handlers run
    (:mod:`atexit`: temporary folders, weak-reference finalizers), the streams are flushed and
    the process ends without that teardown. A thread still alive (a Dask or server thread) gets
    the normal exit, which waits for it.
    """
    if threading.active_count() > 1:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # a message, as sys.exit("...") prints it
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe (reesim ... | head)
            stream.flush()
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover - ``python -m reesim.cli.main`` as the console script
    main()
