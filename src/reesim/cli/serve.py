"""``reesim serve``: the web service and the dashboard on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from reesim.cli.text import out
from reesim.errors import InputError


def default_home() -> Path:
    """Where the service keeps its job store and run folders (``$REESIM_SERVE_HOME``, else a folder
    ``serve`` in the cache folder)."""
    import os

    from reesim.cache import configured_dir

    env = os.environ.get("REESIM_SERVE_HOME")
    return Path(env) if env else configured_dir() / "serve"


def checked_home(home: Path) -> Path:
    """``home`` if it and (for the default home) the cache folder it is in are private folders of
    yours, as the cache folder must be (:func:`reesim.cache.private_problem`): the job store's rows
    name the run folders it serves, so a home another user can write is one they can plant results
    in. Created with mode 0700 if missing; an existing home of yours open to others is tightened
    to 0700."""
    from reesim.cache import configured_dir, private_problem

    for folder in (configured_dir(), home) if home == configured_dir() / "serve" else (home,):
        problem = private_problem(folder)
        if problem is not None:
            raise InputError(
                f"the service's home {home} cannot be used ({folder}: {problem}); "
                "give --home DIR (or REESIM_SERVE_HOME) a folder of your own"
            )
    return home


def hosts_allowed(host: str, extra: list[str]) -> list[str]:
    """Host headers the server answers: this machine's names, the address it listens on and
    ``extra`` (names, or ``*.domain`` patterns). Listening on every interface (0.0.0.0, ::) adds
    no name of its own: other machines reach it under names given with ``--allowed-host``, so
    that a web page cannot reach it by DNS rebinding whatever interface it listens on."""
    from reesim.api.app import LOCAL_HOSTS

    for name in extra:
        bare = name[2:] if name.startswith("*.") else name
        ok = bare and not any(c in bare for c in "/\\ \t*?:@[]") and "://" not in name
        if not ok:
            raise InputError(
                f"--allowed-host: {name!r}; give a host name or an IPv4 address, or *.domain "
                "(no scheme, port, path or other wildcard)"
            )
    listen = []
    if host not in ("0.0.0.0", "::"):
        listen = [f"[{host}]", host] if ":" in host else [host]  # IPv6 Host headers carry brackets
    return [*LOCAL_HOSTS, *listen, *extra]


def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", "-p", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w", help="Simulations run at the same time (processes)."),
    home: Path = typer.Option(
        None,
        "--home",
        help="Folder of the job store and run folders (default: $REESIM_SERVE_HOME or the cache).",
    ),
    max_years: int = typer.Option(40, "--max-years", help="Longest horizon a request may ask for, years."),
    max_periods: int = typer.Option(240, "--max-periods", help="Most periods (steps) a request may ask for."),
    wall_time: float = typer.Option(900, "--wall-time", help="Seconds a job may run before it is stopped."),
    max_queued: int = typer.Option(
        500, "--max-queued", help="Jobs that may wait; more are refused with 503."
    ),
    max_per_client: int = typer.Option(
        20,
        "--max-queued-per-client",
        help="Jobs one client (address) may have queued or running at once; more are refused with 429.",
    ),
    keep_results: int = typer.Option(
        200,
        "--keep-results",
        help="Finished results (run, game and ensemble folders) kept; the least recently used are removed "
        "first and their jobs become 'expired'.",
    ),
    keep_gb: float = typer.Option(
        5.0, "--keep-gb", help="Disk all kept results may take, GiB (a run's folder is about 5 MB)."
    ),
    keep_per_client: int = typer.Option(
        50,
        "--keep-results-per-client",
        help="Finished results one client's (address's) jobs may keep; beyond it, or beyond "
        "--keep-gb-per-client, that client's least recently used are removed first.",
    ),
    keep_gb_per_client: float = typer.Option(
        1.25, "--keep-gb-per-client", help="Disk one client's kept results may take, GiB."
    ),
    allowed_host: list[str] = typer.Option(
        None,
        "--allowed-host",
        help="A Host name the server answers besides this machine's (repeat; e.g. its name on the network, "
        "or behind a proxy). Others get 400: a web page cannot reach the server by DNS rebinding.",
    ),
) -> None:
    """Serve the API (OpenAPI at /docs) and the dashboard (/) on HOST:PORT; works offline."""
    import uvicorn

    from reesim.api.app import create_app
    from reesim.api.jobs import Limits

    if not 1 <= port <= 65535:
        raise InputError(f"--port: {port}; allowed: 1 to 65535")
    if workers < 1:
        raise InputError(f"--workers: {workers}; allowed: 1 or more")
    for flag, v in (
        ("--max-years", max_years),
        ("--max-periods", max_periods),
        ("--max-queued", max_queued),
        ("--max-queued-per-client", max_per_client),
        ("--keep-results", keep_results),
        ("--keep-results-per-client", keep_per_client),
    ):
        if v < 1:
            raise InputError(f"{flag}: {v}; allowed: 1 or more")
    if not wall_time > 0:
        raise InputError(f"--wall-time: {wall_time}; allowed: more than 0 seconds")
    for flag, gb in (("--keep-gb", keep_gb), ("--keep-gb-per-client", keep_gb_per_client)):
        if not 0 < gb <= 1e6:
            raise InputError(f"{flag}: {gb}; allowed: more than 0 and at most 1,000,000 GiB")
    limits = Limits(
        max_years=max_years,
        max_periods=max_periods,
        wall_time_s=wall_time,
        max_queued=max_queued,
        max_queued_per_client=max_per_client,
        keep_results=keep_results,
        keep_bytes=int(keep_gb * 2**30),
        keep_results_per_client=keep_per_client,
        keep_bytes_per_client=int(keep_gb_per_client * 2**30),
    )
    home = checked_home(home or default_home())
    app = create_app(
        home, workers=workers, limits=limits, allowed_hosts=hosts_allowed(host, allowed_host or [])
    )
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    out.print(
        f"reesim dashboard: http://{shown}:{port}/  (API schema: http://{shown}:{port}/docs; jobs in {home})"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
