"""The report's sources section: the dataset rows, derived parameters and assumptions behind a run."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
import yaml

from reesim.reports.markup import code, esc, note, table_html
from reesim.reports.runfolder import Run

_KIND_TEXT = {"data": "data rows", "derived": "derived parameters", "assumption": "basis of assumptions"}


_SOURCE_RE = re.compile(r"source[s]?\s+([A-Za-z0-9][\w.\-]*(?:,[A-Za-z0-9][\w.\-]*)*)")


def world_sources(run: Run) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, int], str]:
    """The default world's calibration: source ids and uses by dataset table, parameter counts by kind, its name."""
    try:
        import reesim.data as rd
        from reesim.world.default import load_default_world

        world = run.scenario.get("world") or {}
        w = load_default_world(world.get("reference_year"), assumptions=world.get("assumptions") or None)
        names = rd.tables()
    except Exception as exc:
        return {}, {}, {}, f"default world (not rebuilt here: {exc})"
    by_table: dict[str, set[str]] = {}
    kinds: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for text in w.provenance["source"].astype(str):
        kind = "data" if text.startswith("data") else "assumption" if "assumption" in text[:12] else "derived"
        counts[kind] = counts.get(kind, 0) + 1
        # A table is named with its row key ("prices [...]") or, for names with "_", anywhere.
        tables = [
            t for t in names if re.search(rf"\b{re.escape(t)}\b" + ("" if "_" in t else r"\s*\["), text)
        ]
        ids = {i for m in _SOURCE_RE.finditer(text) for i in m.group(1).split(",")}
        for t in tables:
            by_table.setdefault(t, set()).update(ids)
            kinds.setdefault(t, set()).add(_KIND_TEXT[kind])
    return by_table, kinds, counts, w.name


def _split_ids(values: Iterable[Any]) -> set[str]:
    return {x.strip() for v in values if isinstance(v, str) for x in v.split(",") if x.strip()}


def sources_section(run: Run) -> str:
    """The sources section's HTML: dataset rows, derived parameters and assumptions behind the run."""
    s = run.summary
    out = []
    files = sorted(f"{t}.parquet" for t in run.tables)
    cf_files = sorted(f"counterfactual/{t}.parquet" for t in run.counterfactual)
    out.append(
        note(
            "Run folder files read: "
            + ", ".join(code(f) for f in [*files, *cf_files, "summary.json", "scenario.resolved.yaml"])
            + "."
        )
    )
    by_table, kinds, counts, world_name = world_sources(run)
    used: dict[str, tuple[set[str], str]] = {
        t: (ids, f"{world_name}: {', '.join(sorted(kinds.get(t, ())))}")
        for t, ids in sorted(by_table.items())
    }
    if run.has("product_costs"):
        ids = _split_ids(run.t("product_costs")["source_ids"])
        prev = used.get("end_use_intensity", (set(), ""))
        used["end_use_intensity"] = (
            prev[0] | ids,
            "; ".join(x for x in (prev[1], f"product costs ({code('product_costs.source_ids')})") if x),
        )
    if run.has("jobs"):
        used["employment"] = (
            _split_ids(run.t("jobs")["source_id"]),
            f"U.S. jobs exposed ({code('jobs.source_id')})",
        )
    prev = used.get("countries", (set(), ""))
    used["countries"] = (prev[0], "; ".join(x for x in (prev[1], "region of each country in the map") if x))
    rows = [
        [
            code(t),
            (purpose if "<code>" in purpose else esc(purpose)),
            ", ".join(code(i) for i in sorted(ids)) or "–",
        ]
        for t, (ids, purpose) in sorted(used.items())
    ]
    count_text = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    out.append("<h3>Dataset tables and source ids</h3>")
    out.append(
        table_html(
            ["dataset table", "used for", "source ids"],
            rows,
            f"Dataset tables behind the figures: the world's calibration (parsed from its provenance"
            f"{': ' + esc(count_text) + ' parameters' if count_text else ''}; every parameter with its row or "
            f"assumption: {code('reesim world describe')}) and the impact tables' source columns. Look up a row "
            f"with {code('reesim data show TABLE')} and its citation with {code('reesim data cite')}.",
            raw=True,
            cls="wide small",
        )
    )
    all_ids = sorted({i for ids, _ in used.values() for i in ids})
    try:
        import reesim.data as rd

        src = rd.table("sources").set_index("source_id")
    except Exception:
        src = pd.DataFrame(columns=["citation", "vintage"])
    rows = [
        [
            code(i),
            esc(src.loc[i, "citation"]) if i in src.index else "(not in the sources table)",
            esc(src.loc[i, "vintage"]) if i in src.index else "",
        ]
        for i in all_ids
    ]
    out.append("<h3>Citations</h3>")
    out.append(
        table_html(
            ["source id", "citation", "vintage"],
            rows,
            f"Every source id above, with its citation from the dataset table {code('sources')}.",
            raw=True,
            cls="wide small",
        )
    )
    out.append("<h3>Scenario parameters</h3>")
    text = yaml.safe_dump(run.scenario, sort_keys=False, allow_unicode=True) if run.scenario else "(absent)"
    out.append(
        "<details><summary>The resolved scenario (scenario.resolved.yaml)</summary>"
        f"<pre>{esc(text)}</pre></details>"
    )
    out.append(
        note(
            f"Dataset version {code(str(s.get('dataset_version', '')))}; code version "
            f"{code('reesim ' + str(s.get('code_version', '')))}; scenario hash {code(str(s.get('scenario_hash', '')))}."
        )
    )
    return "\n".join(out)
