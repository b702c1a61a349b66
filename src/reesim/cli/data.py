"""``reesim data``: list, show, cite and export the embedded dataset; the dependence report."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from reesim.atomic import check_out_file, write_file_atomic
from reesim.cli.text import out, styled
from reesim.data import default_dataset
from reesim.data.dependence import dependence, us_import_sources, us_salient
from reesim.errors import InputError

app = typer.Typer(
    help="The embedded dataset: list, show, cite, export; dependence report.", no_args_is_help=True
)
#: Rich wraps at 80 columns when output is not a terminal; reports need more.

HIDDEN_BY_DEFAULT = ("source", "note", "year_start", "year_end", "observed_end")


def parse_where(items: list[str] | None) -> dict[str, str]:
    """Turn ``["col=value", ...]`` into a dict; a malformed item raises InputError."""
    filters: dict[str, str] = {}
    for item in items or []:
        col, sep, value = item.partition("=")
        if not sep or not col.strip():
            raise InputError(f"filter {item!r}: expected COLUMN=VALUE, e.g. iso3=CHN")
        filters[col.strip()] = value.strip()
    return filters


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def _table(df: pd.DataFrame, title: str | None = None, max_width: int = 48) -> Table:
    t = Table(title=title, show_lines=False, header_style="bold")
    for col in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        t.add_column(str(col), justify="right" if numeric else "left", max_width=max_width, overflow="fold")
    for row in df.itertuples(index=False):
        t.add_row(*(str(_fmt(v)) for v in row))
    return t


@app.command("list")
def list_tables() -> None:
    """List the tables with their row counts and year coverage."""
    ds = default_dataset()
    con = ds.connect()
    t = Table(title=f"reesim dataset {ds.version}", header_style="bold")
    for col, just in (
        ("table", "left"),
        ("rows", "right"),
        ("years", "left"),
        ("kind", "left"),
        ("title", "left"),
    ):
        t.add_column(col, justify=just)
    for name, spec in ds.registry.items():
        (rows,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        lo, hi = ds.coverage(name)
        t.add_row(name, f"{rows:,}", f"{lo}-{hi}" if lo is not None else "", spec.kind, spec.title)
    out.print(t)


@app.command()
def show(
    table: str = typer.Argument(..., help="Table name (see `reesim data list`)."),
    where: list[str] = typer.Option(None, "--where", "-w", help="Filter COLUMN=VALUE (repeatable)."),
    year: int = typer.Option(None, "--year", "-y", help="Keep rows whose date or period covers this year."),
    columns: str = typer.Option(None, "--columns", "-c", help="Comma-separated columns to show."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Show at most this many rows."),
) -> None:
    """Show the rows of a table (source ids shown; `reesim data cite` gives the citations)."""
    ds = default_dataset()
    filters = parse_where(where)
    if year is not None:
        filters["year"] = year
    df = ds.table(table, **filters)
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        for c in wanted:
            if c not in df.columns:
                ds.table(table, **{c: ""})  # raises the standard unknown-column error
        df = df[wanted]
    else:
        df = df.drop(columns=[c for c in HIDDEN_BY_DEFAULT if c in df.columns])
    out.print(_table(df.head(limit), title=f"{table} ({ds.spec(table).title})"))
    out.print(f"{len(df):,} rows" + (f", first {limit} shown" if len(df) > limit else ""))


@app.command()
def cite(
    table: str = typer.Argument(..., help="Table name."),
    key: list[str] = typer.Argument(..., help="COLUMN=VALUE pairs identifying the row(s)."),
) -> None:
    """Print the citation behind the matching rows of a table."""
    ds = default_dataset()
    rows = ds.cite(table, **parse_where(key))
    spec = ds.spec(table)
    shown = [c for c in spec.column_names if c not in ("source", "note", "source_id")]
    for i, row in enumerate(rows.head(20).itertuples(index=False)):
        r = row._asdict()
        out.print(
            styled((table, "bold"), " " + ", ".join(f"{c}={_fmt(r[c])}" for c in shown if _fmt(r[c]))),
            soft_wrap=True,
        )
        if table != "sources":
            out.print(
                styled("  source ", (str(r["source_id"]), "cyan"), f": {r['citation']}"), soft_wrap=True
            )
            out.print(f"  read at: {r['where_read']}", soft_wrap=True, highlight=False)
            out.print(
                f"  licence: {r['licence']}; vintage: {_fmt(r['vintage']) or 'not stated'}", soft_wrap=True
            )
            if r.get("note"):
                out.print(f"  note: {r['note']}", soft_wrap=True, highlight=False)
        if i < min(len(rows), 20) - 1:
            out.print()
    if len(rows) > 20:
        out.print(f"... {len(rows) - 20} more rows match; narrow the key")


class Format(StrEnum):
    """Export formats."""

    csv = "csv"
    parquet = "parquet"


def write_table(df: pd.DataFrame, path: Path, fmt: Format) -> None:
    """Write ``df`` to ``path`` atomically (checked first: never a device, FIFO, link or folder)."""
    if fmt is Format.csv:
        write_file_atomic(path, lambda tmp: df.to_csv(tmp, index=False))
    else:
        write_file_atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


@app.command()
def export(
    table: str = typer.Argument(..., help="Table name."),
    fmt: Format = typer.Option(Format.csv, "--format", "-f", help="Output format."),
    out_path: Path = typer.Option(..., "--out", "-o", help="Output file."),
    where: list[str] = typer.Option(None, "--where", "-w", help="Filter COLUMN=VALUE (repeatable)."),
) -> None:
    """Export a table (all columns, including source and note) to CSV or Parquet."""
    check_out_file(out_path, example=f"{table}.{fmt.value}")
    df = default_dataset().table(table, **parse_where(where))
    write_table(df, out_path, fmt)
    out.print(f"wrote {len(df):,} rows of {table} to {out_path}")


def _titled(title: str, columns: tuple[tuple[str, str], ...]) -> Table:
    """An empty rich table with the given (name, justify) columns."""
    t = Table(title=title, header_style="bold")
    for col, just in columns:
        t.add_column(col, justify=just, overflow="fold")
    return t


def _hhi(low: float, high: float) -> str:
    if pd.isna(low):
        return ""
    return f"{low:,.0f}" if high - low < 0.5 else f"{low:,.0f}-{high:,.0f}"


@app.command("dependence")
def dependence_cmd(
    year: int = typer.Option(
        None, "--year", "-y", help="Year (default: latest year with mine data by country)."
    ),
) -> None:
    """Concentration of mining, separation and magnet making, and U.S. import reliance, with sources."""
    ds = default_dataset()
    dep = dependence(ds, year)
    year = int(dep["year"].iloc[0])
    imp = us_import_sources(ds, year)
    sal = us_salient(ds, year)
    ids: list[str] = []
    for col in (dep["source_ids"], imp.get("source_ids", pd.Series(dtype=str)), sal["source_ids"]):
        for v in col:
            ids += [s for s in v.split(",") if s not in ids]
    ref = {sid: f"[{i + 1}]" for i, sid in enumerate(ids)}

    def refs(value: str) -> str:
        return " ".join(ref[s] for s in value.split(","))

    t = _titled(
        f"Who holds the rare-earth chain (requested year {year})",
        (
            ("stage", "left"),
            ("data year", "right"),
            ("top", "left"),
            ("top %", "right"),
            ("China %", "right"),
            ("HHI 0-10,000", "right"),
            ("known %", "right"),
            ("source", "left"),
        ),
    )
    for r in dep.itertuples(index=False):
        t.add_row(
            r.stage,
            str(r.year),
            _fmt(r.top_country),
            _fmt(r.top_share_pct and round(r.top_share_pct, 1)),
            _fmt(r.china_share_pct and round(r.china_share_pct, 1)),
            _hhi(r.hhi_low, r.hhi_high),
            _fmt(r.coverage_pct and round(r.coverage_pct, 1)),
            refs(r.source_ids),
        )
    out.print(t)
    for r in dep.itertuples(index=False):
        out.print(
            styled(f"  {r.stage}: {r.basis}", *((f"\n    note: {r.note}", "yellow"),) if r.note else ()),
            soft_wrap=True,
        )
    out.print(
        "  HHI shown as a range where the data gives shares for only part of the world: the low end spreads "
        "the unknown rest over many holders, the high end gives it to one."
    )

    if not imp.empty:
        t2 = _titled(
            "U.S. import sources (USGS MCS import-source shares)",
            (
                ("commodity", "left"),
                ("period", "left"),
                ("China %", "right"),
                ("top partner", "left"),
                ("top %", "right"),
                ("source", "left"),
            ),
        )
        for r in imp.itertuples(index=False):
            t2.add_row(
                r.commodity,
                r.period,
                _fmt(r.china_share_pct),
                r.top_partner,
                _fmt(r.top_share_pct),
                refs(r.source_ids),
            )
        out.print(t2)
    if not sal.empty:
        t3 = _titled(
            f"U.S. salient statistics, {year}",
            (("measure", "left"), ("value", "right"), ("unit", "left"), ("source", "left")),
        )
        for r in sal.itertuples(index=False):
            t3.add_row(r.measure.replace("_", " "), f"{r.value:,.0f}", r.unit, refs(r.source_ids))
        out.print(t3)
    if not sal["measure"].str.startswith("net_import_reliance").any():
        out.print(
            f"  U.S. net import reliance for {year} is not in the dataset (USGS prints it in the Mineral "
            "Commodity Summaries); "
            + (
                "the import-source shares above are"
                if sal.empty
                else "the import-source shares and salient statistics above are"
            )
            + " what the data carries."
        )
    src = ds.table("sources", source_id=ids).set_index("source_id")
    out.print(styled(("Sources", "bold")))
    for sid in ids:
        out.print(f"  {ref[sid]} {sid}: {src.loc[sid, 'citation']}", soft_wrap=True, highlight=False)
