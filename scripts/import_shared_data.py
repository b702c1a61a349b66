"""Offline import of the raw dataset (``../shared/data``) into ``src/reesim/data/tables``.

Run by a maintainer when the raw material changes; never imported at run time::

    .venv/bin/python scripts/import_shared_data.py [RAW_DIR]

What it does, and nothing more (no number is changed, interpolated or invented):

* copies every raw CSV row verbatim (all columns, including ``source`` and ``note``),
  renaming the file to its table name;
* strips surrounding whitespace from code columns (UN Comtrade pads ``_X`` and ``X2``);
* adds *classification* columns derived from text already in the row (ISO3 codes for
  country names via country_converter; ``form_code``/``market_code`` for prices;
  ``stage_code``/``metric_code`` for processing capacity), so that code can select rows
  without parsing prose;
* adds ``source_id`` (a stable id of the row's citation) and builds the ``sources`` table;
* adds ``preferred``: where several rows report the same quantity (same series key) from
  different sources or vintages, the row from the latest vintage is preferred, except
  where a row's own note says it is superseded (rules listed in ``PREFERENCE_RULES``);
* writes the region tables (``countries``: every ISO 3166 country to a model region;
  ``aggregates``: codes the data uses for groups such as ``WLD``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from pathlib import Path

import country_converter as coco
import pandas as pd
import pycountry

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "reesim" / "data" / "tables"

#: raw file -> table name
TABLES = {
    "usgs_mine_production.csv": "mine_production",
    "usgs_reserves.csv": "reserves",
    "prices.csv": "prices",
    "china_export_quotas.csv": "china_export_quotas",
    "deposit_composition.csv": "deposit_composition",
    "processing_capacity.csv": "processing_capacity",
    "demand_by_application.csv": "demand_by_application",
    "end_use_intensity.csv": "end_use_intensity",
    "trade_flows.csv": "trade_flows",
    "policy_events.csv": "policy_events",
    "employment.csv": "employment",
    "us_tariffs.csv": "us_tariffs",
}

#: The default model regions of DESIGN.md §1. Every other ISO country maps to EU (if an
#: EU-27 member, per country_converter's EU27 classification) or ROW.
MODEL_REGIONS = [
    ("CHN", "China", "largest miner, refiner and magnet maker (mine_production, processing_capacity)"),
    ("USA", "United States", "second-largest miner 2018-2025; main policy actor (mine_production)"),
    ("AUS", "Australia", "third-largest miner 2024-2025 (mine_production)"),
    ("MMR", "Myanmar", "major ion-adsorption clay miner 2018-2025 (mine_production)"),
    ("MYS", "Malaysia", "Lynas separation plant; 5% of refining 2023 (processing_capacity)"),
    ("VNM", "Viet Nam", "miner and holder of large reserves (mine_production, reserves)"),
    ("THA", "Thailand", "miner 2018-2025 (mine_production)"),
    ("IND", "India", "miner 2018-2025 (mine_production)"),
    ("RUS", "Russian Federation", "loparite miner (mine_production, deposit_composition)"),
    ("BRA", "Brazil", "miner and large reserves (mine_production, reserves)"),
    ("NGA", "Nigeria", "miner 2023-2025 (mine_production)"),
    ("MDG", "Madagascar", "miner 2018-2025 (mine_production)"),
    ("JPN", "Japan", "second magnet maker (19.3% of sintered NdFeB 2010, processing_capacity); big consumer"),
    ("KOR", "Korea, Republic of", "big consumer of magnets and REE compounds (trade_flows)"),
    ("EU", "European Union (EU-27)", "aggregate: magnet makers and consumers (processing_capacity)"),
    ("ROW", "Rest of world", "aggregate: every country not listed above"),
]

#: Codes in the data that denote groups, not countries.
AGGREGATES = [
    (
        "WLD",
        "World",
        "world total",
        "World Bank code for the world aggregate, used by the compilers for world totals",
    ),
    ("EUR", "Europe", "regional aggregate", "used by processing_capacity for 'Europe' (not the EU)"),
    ("_X", "Areas, nes", "UN Comtrade residual", "UN Comtrade partner code: areas not elsewhere specified"),
    (
        "S19",
        "Other Asia, nes",
        "UN Comtrade residual",
        "UN Comtrade partner code (Taiwan in Comtrade practice)",
    ),
    ("X2", "Free Zones", "UN Comtrade residual", "UN Comtrade partner code"),
    ("ZA1", "Southern African Customs Union (...1999)", "UN Comtrade group", "UN Comtrade partner code"),
    ("", "Other countries", "residual", "USGS 'Other countries' rows carry no code"),
]


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------- sources
def source_id(citation: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", citation)[:3]
    slug = "-".join(w.lower() for w in words)[:28]
    return f"{slug}-{hashlib.sha1(citation.encode()).hexdigest()[:6]}"


_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:-(\d{2}))?(?:-(\d{2}))?(?!\d)")


def vintage(citation: str) -> str:
    """Latest date named in a citation (publication, release or retrieval date)."""
    best = ""
    for m in _DATE.finditer(citation):
        year, month, day = m.group(1), m.group(2), m.group(3)
        if month and not 1 <= int(month) <= 12:
            month, day = None, None
        d = year + (f"-{month}" if month else "") + (f"-{day}" if month and day else "")
        if int(year) <= 2026 and d > best:
            best = d
    return best


def licence(citation: str) -> str:
    c = citation
    if re.search(r"UN Comtrade", c):
        return "UN Comtrade terms of use (attribution kept; check before bulk redistribution)"
    if re.search(
        r"USGS|U\.S\. Geological|USITC|DataWeb|USTR|GAO|Bureau of Labor|BLS|Department of Energy|DOE|CRS|"
        r"Congressional Research|Federal Register|Census",
        c,
    ):
        return "U.S. Government work, public domain in the United States"
    if re.search(
        r"Argus|Fastmarkets|Benchmark|SMM|Shanghai Metals|Adamas|Visual Capitalist|Asian Metal|Roskill", c
    ):
        return "proprietary publication: individual figures quoted with attribution; check terms before bulk reuse"
    return "facts and figures only, from a published text (no text copied beyond identifying phrases)"


_REPO = re.compile(r"([\w.-]+/[\w.-]+:[^\s,;)]+(?:\s+and\s+[^\s,;)]+)?\s*@[0-9a-f]{7})")


def where_read(citation: str) -> str:
    m = _REPO.search(citation)
    if m:
        return f"repository copy {m.group(1)}"
    m = re.search(r"\(([^()]*\b(?:copy|via|repost|reported by|as quoted|summar)[^()]*)\)", citation)
    if m:
        return f"stored page corpus: {m.group(1)}"
    return "stored page corpus (see SOURCES.md: pages read from a stored corpus, first part only)"


# --------------------------------------------------------------------------- codes
def converter() -> coco.CountryConverter:
    """country_converter with its table read so that Namibia's ISO2 "NA" stays a string.

    country_converter 1.3.2 reads its table with pandas' default NA handling; under
    pandas 3 the ISO2 code "NA" becomes a missing value and the constructor fails.
    """
    path = Path(coco.__file__).with_name("country_data.tsv")
    data = pd.read_csv(path, sep="\t", encoding="utf-8", keep_default_na=False, na_values=[""])
    return coco.CountryConverter(country_data=data)


def iso3_of(names: pd.Series, cc: coco.CountryConverter) -> pd.Series:
    """ISO3 for country names via country_converter; groups (World ...) -> WLD."""
    codes = {}
    for n in sorted(set(names)):
        if n.startswith("World"):
            codes[n] = "WLD"
            continue
        c = cc.convert(n, to="ISO3", not_found=None)
        codes[n] = c if isinstance(c, str) and c != n else ""
    return names.map(codes)


def classify(text: str, rules: list[tuple[str, str]]) -> str:
    """Code of the first rule whose regex matches the lower-cased text, else ``other``."""
    low = text.lower()
    return next((code for pat, code in rules if re.search(pat, low)), "other")


def form_code(form: str) -> str:
    rules = [
        (r"unit value", "unit_value"),
        (r"mischmetal", "mischmetal"),
        (r"composite|basket|aggregate selling", "basket"),
        (r"carbonate", "carbonate"),
        (r"ferro|alloy", "alloy"),
        (r"permanent magnet", "magnet"),
        (r"premium", "premium"),
        (r"^metal", "metal"),
        (r"oxide", "oxide"),
    ]
    return classify(form, rules)


def market_code(market: str) -> str:
    rules = [
        (r"^us$", "us_unit_value"),
        (r"europe vs|relative|ratio", "ratio"),
        (r"price floor", "policy_floor"),
        (r"licence premium", "export_premium"),
        (r"europe", "europe"),
        (r"china domestic|ex-works china", "china_domestic"),
        (r"fob|china export", "fob_china"),
        (r"international market", "international"),
        (r"volume-weighted.*minority", "global_volume_weighted_minority"),
        (r"volume-weighted", "global_volume_weighted"),
        (r"not stated", "unstated"),
    ]
    return classify(market, rules)


def stage_code(stage: str) -> str:
    """Chain stage from the stage text's leading words (``metal & magnet making`` -> magnet)."""
    rules = [
        (r"^mining", "mining"),
        (r"^(separation|refin|processing|cracking)", "separation"),
        (r"^(metal & )?magnet", "magnet"),
        (r"^metal", "metal"),
        (r"^imports", "trade"),
    ]
    return classify(stage, rules)


def metric_code(metric: str, unit: str) -> str:
    m = metric.lower()
    if unit == "percent":
        if "projected" in m:
            return "world_share_projected"
        if "combined" in m or "top three" in m:
            return "group_share"
        if re.search(r"share of (global|world|refined|high-strength)", m):
            return "world_share"
        return "other_share"
    if re.search(r"plan|target|projected|forecast|potential|under consideration", m):
        return "plan"
    if "capacity" in m or "nameplate" in m:
        return "capacity"
    if re.search(r"production|output|produced|supply", m):
        return "production"
    return "other"


# --------------------------------------------------------------------------- preference
#: table -> (series-key columns, rule). Rows sharing a series key report the same
#: quantity; the preferred one is chosen by ``rule``.
PREFERENCE_RULES = {
    "prices": (["date", "element", "form_code", "market_code", "unit"], "latest source vintage"),
    "reserves": (["year", "country"], "latest source vintage"),
    "mine_production": (["year", "country"], "latest source vintage"),
    "china_export_quotas": (["year", "period", "measure", "category"], "row note says 'superseded'"),
}


def mark_preferred(df: pd.DataFrame, table: str, vintages: dict[str, str]) -> pd.Series:
    preferred = pd.Series(True, index=df.index)
    if table not in PREFERENCE_RULES:
        return preferred
    key, rule = PREFERENCE_RULES[table]
    for _, grp in df.groupby(key, sort=False):
        if len(grp) < 2:
            continue
        if rule.startswith("row note"):
            superseded = grp["note"].str.contains("superseded", case=False)
            preferred[grp.index[superseded]] = False
        else:
            order = grp["source_id"].map(vintages).sort_values(ascending=False, kind="stable")
            preferred[order.index[1:]] = False
    return preferred


def main(raw: Path) -> None:
    logging.getLogger("country_converter").setLevel(logging.ERROR)
    OUT.mkdir(parents=True, exist_ok=True)
    cc = converter()
    citations: dict[str, str] = {}
    frames: dict[str, pd.DataFrame] = {}
    for raw_file, table in TABLES.items():
        df = read(raw / raw_file)
        for col in ("iso3", "partner_iso3"):
            if col in df:
                df[col] = df[col].str.strip()
        if table == "prices":
            df.insert(df.columns.get_loc("market") + 1, "market_code", df["market"].map(market_code))
            df.insert(df.columns.get_loc("form") + 1, "form_code", df["form"].map(form_code))
        if table == "processing_capacity":
            df.insert(df.columns.get_loc("stage") + 1, "stage_code", df["stage"].map(stage_code))
            codes = [metric_code(m, u) for m, u in zip(df["metric"], df["unit"], strict=True)]
            df.insert(df.columns.get_loc("metric") + 1, "metric_code", codes)
        if table == "trade_flows":
            df.insert(df.columns.get_loc("reporter") + 1, "reporter_iso3", iso3_of(df["reporter"], cc))
        if table == "employment":
            df.insert(df.columns.get_loc("region") + 1, "iso3", iso3_of(df["region"], cc))
        if table == "demand_by_application":
            df.insert(df.columns.get_loc("scope") + 1, "scope_iso3", iso3_of(df["scope"], cc))
        ids = df["source"].map(source_id)
        citations.update(dict(zip(ids, df["source"], strict=True)))
        df.insert(df.columns.get_loc("source"), "source_id", ids)
        frames[table] = df

    sources = pd.DataFrame(
        [
            {
                "source_id": sid,
                "citation": cit,
                "where_read": where_read(cit),
                "licence": licence(cit),
                "vintage": vintage(cit),
            }
            for sid, cit in sorted(citations.items())
        ]
    )
    vintages = dict(zip(sources["source_id"], sources["vintage"], strict=True))
    for table, df in frames.items():
        df["preferred"] = mark_preferred(df, table, vintages).map({True: "true", False: "false"})
        df.to_csv(OUT / f"{table}.csv", index=False)
        print(f"{table:24s} {len(df):5d} rows, {int((df['preferred'] == 'false').sum())} not preferred")
    sources.to_csv(OUT / "sources.csv", index=False)
    print(f"{'sources':24s} {len(sources):5d} rows")

    eu27 = set(cc.EU27as("ISO3")["ISO3"])
    own = {code for code, _, _ in MODEL_REGIONS}
    countries = pd.DataFrame(
        [
            {
                "iso3": c.alpha_3,
                "name": c.name,
                "region": c.alpha_3 if c.alpha_3 in own else ("EU" if c.alpha_3 in eu27 else "ROW"),
            }
            for c in sorted(pycountry.countries, key=lambda c: c.alpha_3)
        ]
    )
    countries.to_csv(OUT / "countries.csv", index=False)
    regions = pd.DataFrame(MODEL_REGIONS, columns=["region", "name", "why"])
    regions["kind"] = ["aggregate" if r in ("EU", "ROW") else "country" for r in regions["region"]]
    regions["members"] = regions["region"].map(countries.groupby("region").size()).astype(int)
    regions.to_csv(OUT / "regions.csv", index=False)
    pd.DataFrame(AGGREGATES, columns=["code", "name", "kind", "note"]).to_csv(
        OUT / "aggregates.csv", index=False
    )
    print(f"countries {len(countries)}, regions {len(regions)}, aggregates {len(AGGREGATES)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
