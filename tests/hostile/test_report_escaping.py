"""Hostile names in every report: escaped in the HTML, and no script of theirs runs in Chromium.

Every user-supplied string that reaches a report (scenario name and description, instrument
names, game, player and strategy names and descriptions, episode title, description, series
labels and justifications) carries payloads that would run script if written raw into HTML
or into a ``<script>`` block. The test checks the HTML statically (no element from a payload,
no event-handler attribute) and opens each report in headless Chromium, where every payload
would mark the page: the page must stay unmarked.
"""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reesim.cli.main import run as cli_run
from tests.test_report import _chromium

MARK = "document.documentElement.setAttribute('data-xss','{n}')"
PAYLOADS = [
    '<img src=x onerror="{m}">',
    "</script><script>{m}</script>",
    '<svg onload="{m}">',
    '"><img src=x onerror={m}>',
    '<a href="javascript:{m}">link</a>',
    "[/bold] [link=javascript:{m}]x[/link]",
]


def hostile(n: int) -> str:
    """A payload (cycling through PAYLOADS) that marks the page with ``data-xss=n`` if it runs."""
    p = PAYLOADS[n % len(PAYLOADS)]
    return p.replace("{m}", MARK.format(n=n))


def q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.handlers: list[tuple[str, str]] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.handlers += [(tag, k) for k, _ in attrs if k.lower().startswith("on")]


def assert_escaped(html: str) -> None:
    """No payload became an element or an attribute (scripts' JSON may hold them as strings)."""
    parser = _Tags()
    parser.feed(html)
    assert parser.handlers == [], f"event-handler attributes in the report: {parser.handlers[:5]}"
    assert not [t for t, a in parser.tags if t in ("img", "svg") and a.get("src") == "x"]
    assert not [t for t, a in parser.tags if t == "a" and "javascript:" in (a.get("href") or "")]
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    assert not [s for s in scripts if s.lstrip().startswith(MARK[:30])], "a payload opened a script block"


def assert_no_script_runs(report: Path, tmp: Path) -> None:
    res = _chromium("--dump-dom", report.as_uri(), tmp=tmp)
    m = re.search(r"<html[^>]*>", res.stdout)
    assert m, f"no DOM dumped (exit {res.returncode}): {res.stderr[-2000:]}"
    assert "data-xss" not in m.group(0), f"a hostile name ran script in {report.name}: {m.group(0)}"
    assert "js-plotly-plot" in res.stdout, "the report's own scripts did not run (no plot drawn)"


def check_report(argv: list[str], out: Path, tmp_path: Path) -> None:
    """Run the command, then check its report holds the (escaped) names and runs none of them."""
    with pytest.raises(SystemExit) as e:
        cli_run(argv)
    assert e.value.code in (0, None)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data-xss" in html  # the names are in the report (escaped)
    assert_escaped(html)
    assert_no_script_runs(out / "report.html", tmp_path)


def test_run_report_with_hostile_names(tmp_path: Path):
    sc = tmp_path / "hostile.yaml"
    sc.write_text(
        textwrap.dedent(
            f"""
            name: {q(hostile(0))}
            description: {q(hostile(1) + " and " + hostile(2))}
            extends: baseline
            horizon: {{start: 2025, end: 2026}}
            instruments:
              - type: export_quota
                name: {q(hostile(3))}
                exporter: CHN
                destinations: all
                commodities: [oxide:Dy, oxide:Tb]
                approval_share: 0.6
                start: 2025-04-04
              - type: export_ban
                name: {q(hostile(4))}
                exporter: CHN
                destinations: [USA]
                commodities: [magnet:ndfeb]
                start: 2025-06-01
              - type: import_tariff
                name: {q(hostile(5))}
                importer: USA
                origins: [CHN]
                stages: [oxide]
                rate: 0.25
                start: 2025
            """
        )
    )
    out = tmp_path / "out"
    check_report(["run", str(sc), "--out", str(out), "--report"], out, tmp_path)


def test_game_report_with_hostile_names(tmp_path: Path):
    game = tmp_path / "game.yaml"
    game.write_text(
        textwrap.dedent(
            f"""
            name: {q(hostile(6))}
            description: {q(hostile(7))}
            base: baseline
            horizon: {{start: 2025, end: 2026, step: year}}
            players:
              - name: {q("US" + hostile(8))}
                regions: [USA]
                strategies:
                  - name: {q(hostile(9))}
                    description: {q(hostile(10))}
                  - name: {q(hostile(11))}
                    description: {q(hostile(12))}
                    scenarios: [us-301-tariffs]
              - name: {q("China" + hostile(13))}
                regions: [CHN]
                strategies:
                  - name: none
                    description: {q(hostile(14))}
                  - name: {q(hostile(15))}
                    description: x
                    scenarios: [china-2023-tech-ban]
            """
        )
    )
    out = tmp_path / "gout"
    check_report(["game", str(game), "--out", str(out), "--workers", "1"], out, tmp_path)


def test_backtest_report_with_hostile_names(tmp_path: Path):
    from tests.test_backtest import SHORT

    text = (
        SHORT.replace(
            "title: A short test episode", f"title: {q(hostile(16))}\ndescription: {q(hostile(17))}"
        )
        .replace("justification: test", f"justification: {q(hostile(18))}")
        .replace('label: "Tb oxide, FOB China"', f"label: {q('Tb ' + hostile(19))}")
    )
    ep = tmp_path / "episode.yaml"
    ep.write_text(text)
    out = tmp_path / "bout"
    check_report(["backtest", str(ep), "--out", str(out)], out, tmp_path)


def test_three_player_game_report_with_a_hostile_third_player(tmp_path: Path):
    """The third player's name reaches a figure caption ("X plays 'none'"): escaped there too
    (a review of 2026-12-06 found it written raw, and a payload ran in Chromium)."""
    game = tmp_path / "game3.yaml"
    game.write_text(
        textwrap.dedent(
            f"""
            name: three
            base: baseline
            horizon: {{start: 2025, end: 2026, step: year}}
            players:
              - name: US
                regions: [USA]
                strategies:
                  - name: none
                  - name: tariffs
                    scenarios: [us-301-tariffs]
              - name: China
                regions: [CHN]
                strategies:
                  - name: none
                  - name: tech-ban
                    scenarios: [china-2023-tech-ban]
              - name: {q("Allies" + hostile(16))}
                regions: [EU, JPN, KOR]
                strategies:
                  - name: none
            """
        )
    )
    out = tmp_path / "g3out"
    check_report(["game", str(game), "--out", str(out), "--workers", "1"], out, tmp_path)


def test_report_of_a_planted_run_folder(tmp_path: Path):
    """A run folder someone hands over is input: a region name planted in summary.json is escaped
    in the welfare table, and a "billion laughs" scenario.resolved.yaml is refused by the bounded
    reader instead of hanging the command."""
    import json

    sc = tmp_path / "short.yaml"
    sc.write_text("name: short\nextends: baseline\nhorizon: {start: 2025, end: 2026}\n")
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        cli_run(["run", str(sc), "--out", str(run_dir)])
    assert e.value.code in (0, None)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.setdefault("impacts", {}).setdefault("welfare_pv_usd_million_by_region", {})[hostile(18)] = 1.0
    (run_dir / "summary.json").write_text(json.dumps(summary))
    report = tmp_path / "planted.html"
    with pytest.raises(SystemExit) as e:
        cli_run(["report", str(run_dir), "--out", str(report)])
    assert e.value.code in (0, None)
    html = report.read_text(encoding="utf-8")
    assert "data-xss" in html  # the planted name is there, escaped
    assert_escaped(html)
    assert_no_script_runs(report, tmp_path)
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    (run_dir / "scenario.resolved.yaml").write_text("\n".join(laughs) + "\n")
    with pytest.raises(SystemExit) as e:
        cli_run(["report", str(run_dir), "--out", str(tmp_path / "bomb.html")])
    assert e.value.code == 2
    assert not (tmp_path / "bomb.html").exists()
