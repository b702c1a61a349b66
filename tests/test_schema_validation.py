"""A corpus of dataset folders made bad on purpose, and integrity checks of the pristine data.

Each bad case copies the embedded tables into a temporary folder, corrupts ONE file and
checks that :func:`reesim.data.validate.load_tables` raises :class:`SchemaError` naming the
exact file, 1-based data row and column, with a message that says what is allowed.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from reesim.data.periods import ALLOWED as PERIOD_FORMATS
from reesim.data.registry import DEFAULT_DIR, load_registry
from reesim.data.validate import ISO3, load_tables, read_csv, validate_table
from reesim.errors import InputError, SchemaError

TABLES_DIR = DEFAULT_DIR / "tables"
Mutation = Callable[[pd.DataFrame], pd.DataFrame]


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def tables_copy(tmp_path: Path) -> Path:
    """A private copy of the embedded tables folder."""
    dest = tmp_path / "tables"
    shutil.copytree(TABLES_DIR, dest)
    return dest


def corrupt(folder: Path, table: str, mutate: Mutation) -> None:
    """Rewrite ``folder/<table>.csv`` after applying ``mutate`` to it (read as strings)."""
    path = folder / f"{table}.csv"
    df = mutate(read_csv(path).copy())
    df.to_csv(path, index=False)


def load_error(folder: Path) -> SchemaError:
    """The SchemaError raised by loading ``folder``."""
    with pytest.raises(SchemaError) as info:
        load_tables(folder, load_registry())
    return info.value


def set_cell(column: str, row: int, value: str) -> Mutation:
    """Set ``column`` of 1-based data row ``row`` to ``value``."""

    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row - 1, column] = value
        return df

    return mutate


def add_column(name: str, value: str) -> Mutation:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        df[name] = value
        return df

    return mutate


def drop_column(name: str) -> Mutation:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        return df.drop(columns=[name])

    return mutate


def append_copy_of_row(row: int) -> Mutation:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([df, df.iloc[[row - 1]]], ignore_index=True)

    return mutate


def drop_where(column: str, value: str) -> Mutation:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        assert (df[column] == value).sum() == 1, "the fixture row must exist exactly once"
        return df[df[column] != value].reset_index(drop=True)

    return mutate


def set_where(key_col: str, key: str, column: str, value: str) -> Mutation:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        assert (df[key_col] == key).sum() == 1, "the fixture row must exist exactly once"
        df.loc[df[key_col] == key, column] = value
        return df

    return mutate


def data_row_of(table: str, column: str, value: str) -> int:
    """1-based data row of the (unique) pristine row whose ``column`` equals ``value``."""
    df = read_csv(TABLES_DIR / f"{table}.csv")
    hits = df.index[df[column] == value].tolist()
    assert len(hits) == 1
    return hits[0] + 1


def line_count(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for _ in fh)


def expected_message(file: str, row: int | None, column: str | None) -> str:
    """The location prefix of a SchemaError message (documented format)."""
    where = file
    if row is not None:
        where += f", row {row} (line {row + 1})"
    if column is not None:
        where += f", column '{column}'"
    return where + ": "


# --------------------------------------------------------------------------- pristine data
def test_pristine_copy_loads_every_table_with_all_rows(tables_copy: Path) -> None:
    registry = load_registry()
    frames = load_tables(tables_copy, registry)
    assert list(frames) == list(registry)
    for name, spec in registry.items():
        path = tables_copy / f"{name}.csv"
        assert len(frames[name]) == line_count(path) - 1, name  # no multi-line cells; header is line 1
        assert tuple(frames[name].columns) == spec.column_names, name
    # typed columns, not strings
    assert str(frames["mine_production"]["year"].dtype) == "Int64"
    assert str(frames["mine_production"]["production_t_reo"].dtype) == "Float64"
    assert str(frames["prices"]["preferred"].dtype) == "boolean"


@pytest.mark.parametrize("table", ["mine_production", "prices", "countries", "sources"])
def test_rewriting_through_pandas_alone_is_not_an_error(tables_copy: Path, table: str) -> None:
    """Guards the corpus below: the read/write round trip itself must not corrupt a file."""
    corrupt(tables_copy, table, lambda df: df)
    frames = load_tables(tables_copy, load_registry())
    assert len(frames[table]) == line_count(TABLES_DIR / f"{table}.csv") - 1


# --------------------------------------------------------------------------- the bad corpus
MINE_ROWS = line_count(TABLES_DIR / "mine_production.csv") - 1
CHN_ROW = data_row_of("countries", "iso3", "CHN")

BAD_CELLS = [
    pytest.param(
        "mine_production",
        add_column("comment", "x"),
        None,
        "comment",
        ["unknown column 'comment'", "Allowed: ", "production_t_reo"],
        id="unknown-extra-column",
    ),
    pytest.param(
        "prices",
        drop_column("note"),
        None,
        "note",
        ["declared column is missing"],
        id="declared-column-missing",
    ),
    pytest.param(
        "mine_production",
        set_cell("production_t_reo", 5, "lots"),
        5,
        "production_t_reo",
        ["'lots' is not a number (float)"],
        id="float-not-a-number",
    ),
    pytest.param(
        "mine_production",
        set_cell("year", 7, "2024.5"),
        7,
        "year",
        ["'2024.5' is not an integer"],
        id="int-not-an-integer",
    ),
    pytest.param(
        "mine_production",
        set_cell("year", 8, "MMXXIV"),
        8,
        "year",
        ["'MMXXIV' is not a number (int)"],
        id="int-not-a-number",
    ),
    pytest.param(
        "prices",
        set_cell("preferred", 4, "yes"),
        4,
        "preferred",
        ["'yes' is not a boolean", "allowed: true, false"],
        id="bad-bool",
    ),
    pytest.param(
        "mine_production",
        set_cell("source", 9, ""),
        9,
        "source",
        ["required"],
        id="empty-required-source",
    ),
    pytest.param(
        "mine_production",
        set_cell("source_id", 11, ""),
        11,
        "source_id",
        ["required"],
        id="empty-required-source-id",
    ),
    pytest.param(
        "mine_production",
        set_cell("source_id", 6, "no-such-source-000000"),
        6,
        "source_id",
        ["unknown source id 'no-such-source-000000'", "Allowed: "],
        id="unknown-source-id",
    ),
    pytest.param(
        "mine_production",
        set_cell("iso3", 2, "XXX"),
        2,
        "iso3",
        ["unknown country code 'XXX'", "Allowed: "],
        id="unknown-country-code",
    ),
    pytest.param(
        "mine_production",
        set_cell("iso3", 2, " CHN"),
        2,
        "iso3",
        ["' CHN' has surrounding whitespace"],
        id="country-code-with-whitespace",
    ),
    pytest.param(
        "prices",
        set_cell("date", 3, "2024-13"),
        3,
        "date",
        ["'2024-13' is not a date or period", "YYYY-MM-DD", f"allowed: {PERIOD_FORMATS}"],
        id="bad-period",
    ),
    pytest.param(
        "mine_production",
        append_copy_of_row(3),
        MINE_ROWS + 1,
        None,
        ["duplicated key (year, country, source_id)", "same as row 3"],
        id="duplicated-key",
    ),
    pytest.param(
        "countries",
        drop_where("iso3", "FRA"),
        None,
        "iso3",
        ["without a region", "'FRA'"],
        id="country-without-region",
    ),
    pytest.param(
        "countries",
        set_where("iso3", "CHN", "region", "ATLANTIS"),
        CHN_ROW,
        "region",
        ["unknown region 'ATLANTIS'", "ROW"],
        id="unknown-region",
    ),
    pytest.param(
        "countries",
        append_copy_of_row(CHN_ROW),
        line_count(TABLES_DIR / "countries.csv"),
        None,
        ["duplicated key (iso3) = (CHN)", f"same as row {CHN_ROW}"],
        id="country-listed-twice",
    ),
    pytest.param(
        "regions",
        set_cell("members", 1, "one"),
        1,
        "members",
        ["'one' is not a number (int)"],
        id="reference-table-bad-int",
    ),
]


@pytest.mark.parametrize(("table", "mutate", "row", "column", "substrings"), BAD_CELLS)
def test_bad_file_names_file_row_and_column(
    tables_copy: Path,
    table: str,
    mutate: Mutation,
    row: int | None,
    column: str | None,
    substrings: list[str],
) -> None:
    corrupt(tables_copy, table, mutate)
    err = load_error(tables_copy)
    assert (err.file, err.row, err.column) == (f"{table}.csv", row, column)
    message = str(err)
    assert message == expected_message(err.file, row, column) + err.problem
    for text in substrings:
        assert text in err.problem, (text, err.problem)
    assert isinstance(err, InputError)


def test_undeclared_extra_file_suggests_the_closest_table(tables_copy: Path) -> None:
    shutil.copy(tables_copy / "prices.csv", tables_copy / "pricez.csv")
    err = load_error(tables_copy)
    assert (err.file, err.row, err.column) == ("pricez.csv", None, None)
    assert "unknown table (file not declared) 'pricez'" in err.problem
    assert "did you mean 'prices'?" in err.problem
    assert str(err).startswith("pricez.csv: ")


def test_declared_table_without_file(tables_copy: Path) -> None:
    (tables_copy / "regions.csv").unlink()
    err = load_error(tables_copy)
    assert (err.file, err.row, err.column) == ("regions.csv", None, None)
    assert err.problem == "declared table has no file"


def test_country_list_with_a_non_iso_code(tables_copy: Path) -> None:
    """An aggregate code passes the per-cell check but is not an ISO country."""

    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        extra = pd.DataFrame([{"iso3": "WLD", "name": "World", "region": "ROW"}])
        return pd.concat([df, extra], ignore_index=True)

    corrupt(tables_copy, "countries", mutate)
    err = load_error(tables_copy)
    assert (err.file, err.row, err.column) == ("countries.csv", None, "iso3")
    assert err.problem == "not ISO 3166-1 alpha-3 codes: ['WLD']"


def test_first_bad_row_is_reported_when_several_are_bad(tables_copy: Path) -> None:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[[11, 4, 20], "production_t_reo"] = ["x12", "x5", "x21"]
        return df

    corrupt(tables_copy, "mine_production", mutate)
    err = load_error(tables_copy)
    assert (err.row, err.column) == (5, "production_t_reo")
    assert "'x5'" in err.problem


def test_duplicated_key_names_a_row_with_the_same_key() -> None:
    """Regression: with two duplicate groups the message used to pair rows of different keys."""
    spec = load_registry()["regions"]
    raw = pd.DataFrame(
        {
            "region": ["AAA", "BBB", "AAA", "BBB"],
            "name": ["a", "b", "c", "d"],
            "why": ["w"] * 4,
            "kind": ["country"] * 4,
            "members": ["1"] * 4,
        }
    )
    with pytest.raises(SchemaError) as info:
        validate_table(raw, spec, "regions.csv", {})
    # row 3 repeats row 1's key; the message must pair rows with the same key
    assert info.value.row == 3
    assert "= (AAA); same as row 1" in info.value.problem


def test_huge_integer_is_a_schema_error(tables_copy: Path) -> None:
    """Regression: an integer too large for int64 used to escape as a TypeError."""
    corrupt(tables_copy, "mine_production", set_cell("year", 3, "99999999999999999999"))
    err = load_error(tables_copy)
    assert (err.file, err.row, err.column) == ("mine_production.csv", 3, "year")
    assert "'99999999999999999999' is not an integer" in err.problem


# --------------------------------------------------------------------------- pristine integrity
def test_every_fact_row_cites_a_declared_source() -> None:
    registry = load_registry()
    source_ids = set(read_csv(TABLES_DIR / "sources.csv")["source_id"])
    facts = [name for name, spec in registry.items() if spec.kind == "fact"]
    assert "mine_production" in facts and "prices" in facts
    for name in facts:
        df = read_csv(TABLES_DIR / f"{name}.csv")
        assert "source_id" in df.columns, name
        empty = df.index[df["source_id"].str.strip() == ""].tolist()
        assert empty == [], (name, [i + 1 for i in empty])
        unknown = sorted(set(df["source_id"]) - source_ids)
        assert unknown == [], (name, unknown)


def test_every_source_has_citation_and_licence() -> None:
    sources = read_csv(TABLES_DIR / "sources.csv")
    assert len(sources) > 0
    assert sources["source_id"].is_unique
    for column in ("citation", "licence"):
        blank = sources.loc[sources[column].str.strip() == "", "source_id"].tolist()
        assert blank == [], (column, blank)


def test_exactly_one_preferred_price_per_quantity() -> None:
    prices = read_csv(TABLES_DIR / "prices.csv")
    assert set(prices["preferred"]) <= {"true", "false"}
    group = ["date", "element", "form_code", "market_code", "unit"]
    n_preferred = prices.assign(p=prices["preferred"] == "true").groupby(group)["p"].sum()
    bad = n_preferred[n_preferred != 1]
    assert bad.empty, bad.to_dict()


def test_countries_table_covers_iso_exactly_once() -> None:
    with open(TABLES_DIR / "countries.csv", newline="", encoding="utf-8") as fh:
        codes = [r["iso3"] for r in csv.DictReader(fh)]
    assert len(codes) == len(set(codes))
    assert set(codes) == ISO3


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("effective_date", " 2024-02-01", "not a date or period"),
        ("effective_date", "2024-02-31", "not a date or period"),
        ("rate_pct", "inf", "not a number"),
        ("description", "   ", "required but empty"),
    ],
)
def test_blank_spaced_impossible_and_infinite_values_are_rejected(column, value, fragment):
    spec = load_registry()["us_tariffs"]
    raw = pd.DataFrame({c: ["x"] for c in spec.column_names})
    raw["effective_date"] = ["2024-02-01"]
    raw["rate_pct"] = ["5"]
    raw["covered_import_value_usd_bn"] = [""]
    raw["preferred"] = ["true"]
    raw[column] = [value]
    with pytest.raises(SchemaError) as info:
        validate_table(raw, spec, "us_tariffs.csv", {})
    assert (info.value.row, info.value.column) == (1, column)
    assert fragment in info.value.problem
