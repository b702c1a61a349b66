"""``reesim cache info|clear``: what reesim keeps in its cache folder, and emptying it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from reesim import cache
from reesim.cli.text import out

app = typer.Typer(help="Show or empty reesim's cache folder (a DuckDB copy of the dataset, game outcomes).")


def _folder() -> tuple[Path, str | None]:
    folder = cache.configured_dir()
    return folder, cache.private_problem(folder) if folder.exists() else None


@app.command("info")
def info() -> None:
    """The cache folder, whether it is private, and each file with its size and whether it verifies."""
    folder, problem = _folder()
    out.print(f"cache folder: {folder!s}")
    if not folder.exists():
        out.print("  (does not exist yet: created, mode 0700, on first use)")
        return
    out.print(
        "  private (yours, mode 0700)" if problem is None else f"  NOT USED: {problem}",
        highlight=False,
    )
    rows = cache.entries(folder)
    t = Table(title=None, show_edge=False)
    for h in ("file", "kind", "bytes", "verified"):
        t.add_column(h, justify="right" if h == "bytes" else "left")
    for e in rows:
        ok = "-" if e.verified is None else ("yes" if e.verified else "NO (rebuilt on next use)")
        t.add_row(str(e.path.relative_to(folder)), e.kind, f"{e.size:,}", ok)
    if rows:
        out.print(t)
    out.print(f"{len(rows)} files, {sum(e.size for e in rows):,} bytes")


@app.command("clear")
def clear() -> None:
    """Delete reesim's files from the cache folder (other files in it are left alone)."""
    folder, problem = _folder()
    if not folder.exists():
        out.print(f"cache folder {folder!s} does not exist: nothing to clear")
        return
    if problem is not None:
        from reesim.errors import InputError

        raise InputError(f"cache folder {folder}: {problem}; not touched")
    n, size = cache.clear(folder)
    out.print(f"removed {n} files ({size:,} bytes) from {folder!s}")
