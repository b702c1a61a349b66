"""Run tables in the formats analysts use: Parquet (always), CSV and an Excel workbook.

* ``parquet`` — one ``<table>.parquet`` per table (the format ``read_result`` reads back);
* ``csv`` — one ``<table>.csv`` per table beside it (UTF-8, comma-separated, header row);
* ``xlsx`` — one workbook ``tables.xlsx`` with a sheet per table and a first sheet
  ``contents`` listing each table, its sheet, its rows and the units of the run.

Text cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return: a scenario's instrument names reach the tables) are
written with a leading apostrophe, the OWASP rule against CSV/formula injection
(https://owasp.org/www-community/attacks/CSV_Injection). A table longer than an Excel sheet
(1,048,575 data rows) continues on sheets ``<name> (2)``, ``<name> (3)``, ...
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reesim.errors import InputError

FORMATS = ("parquet", "csv", "xlsx")
WORKBOOK = "tables.xlsx"
#: data rows per Excel sheet (1,048,576 rows less the header)
SHEET_ROWS = 1_048_575
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_formats(text: str | None, option: str = "--format") -> tuple[str, ...]:
    """The formats named in ``text`` (comma-separated), Parquet always included.

    Raises
    ------
    InputError
        If a name is not one of :data:`FORMATS`.
    """
    names = [t.strip().lower() for t in (text or "parquet").split(",") if t.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise InputError(
            f"{option}: {text!r} is not allowed; allowed: a comma-separated list of {', '.join(FORMATS)} "
            "(e.g. csv,xlsx; Parquet is always written)"
        )
    return tuple(f for f in FORMATS if f == "parquet" or f in names)


def _safe_text(v):
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot be read as formulas (leading apostrophe, OWASP)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_safe_text)
    out.columns = [_safe_text(str(c)) for c in out.columns]
    return out


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31]
    cand, k = base, 2
    while cand.lower() in used:
        suffix = f" ({k})"
        cand, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(cand.lower())
    return cand


def write_tables(
    folder: Path, tables: dict[str, pd.DataFrame], formats: tuple[str, ...], units: dict | None = None
) -> list[str]:
    """Write ``tables`` (name -> frame; a name may hold a subfolder, ``counterfactual/prices``).

    Returns the files written, relative to ``folder``.
    """
    folder = Path(folder)
    written: list[str] = []
    for name, df in tables.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if "parquet" in formats:
            _write_parquet(df, path.with_suffix(".parquet"))
            written.append(f"{name}.parquet")
        if "csv" in formats:
            spreadsheet_safe(df).to_csv(path.with_suffix(".csv"), index=False)
            written.append(f"{name}.csv")
    if "xlsx" in formats:
        _workbook(folder / WORKBOOK, tables, units or {})
        written.append(WORKBOOK)
    return written


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """``df.to_parquet(path, index=False)`` with the conversion on one thread: pandas lets pyarrow
    start a thread pool for each table, which cost more than the conversion of a run's small
    tables (0.05 s of 0.07 s for the flagship's 26 files). The file is the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(df, preserve_index=False, nthreads=1), path)


def _workbook(path: Path, tables: dict[str, pd.DataFrame], units: dict) -> None:
    used: set[str] = {"contents"}
    index = []
    sheets: list[tuple[str, pd.DataFrame]] = []
    for name, df in tables.items():
        label = name.replace("counterfactual/", "cf ")
        parts = [df.iloc[i : i + SHEET_ROWS] for i in range(0, max(len(df), 1), SHEET_ROWS)]
        for k, part in enumerate(parts):
            sheet = _sheet_name(label if k == 0 else f"{label} ({k + 1})", used)
            sheets.append((sheet, part))
            index.append({"table": name, "sheet": sheet, "rows": len(part)})
    contents = pd.DataFrame(index, columns=["table", "sheet", "rows"])
    notes = pd.DataFrame(
        [{"table": f"unit of {k}", "sheet": str(v), "rows": None} for k, v in units.items()],
        columns=["table", "sheet", "rows"],
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        spreadsheet_safe(pd.concat([contents, notes], ignore_index=True)).to_excel(
            xw, sheet_name="contents", index=False
        )
        for sheet, part in sheets:
            spreadsheet_safe(part).to_excel(xw, sheet_name=sheet, index=False)


def check_formats_available(formats: tuple[str, ...]) -> None:
    """Refuse ``xlsx`` before any work when the Excel writer (openpyxl) is not installed."""
    if "xlsx" in formats:
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise InputError("--format: xlsx needs the openpyxl package (pip install openpyxl)") from None
