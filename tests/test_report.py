"""The HTML report of a run folder: structure, offline use, rendering in headless Chromium, figures' sums."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from reesim.cli.main import run as cli_run
from reesim.reports import figures as F
from reesim.reports import write_report
from reesim.reports.html import SECTIONS, read_run, sankey_for

CHROMIUM = Path("/usr/bin/chromium")
SHORT = """
extends: china-2025-licensing
name: report-short
horizon: {start: 2025, end: 2027}
"""
#: Elements that must be closed in a well-formed report (void elements are not checked).
STRUCTURAL = {
    "html",
    "head",
    "body",
    "title",
    "section",
    "header",
    "main",
    "footer",
    "nav",
    "figure",
    "figcaption",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "div",
    "details",
    "summary",
    "dl",
    "dt",
    "dd",
    "script",
    "style",
    "pre",
    "h1",
    "h2",
    "h3",
    "p",
}
VOID = {"meta", "br", "link", "img", "input", "hr", "col", "source", "wbr"}


class Structure(HTMLParser):
    """Checks that structural tags are balanced; records doctype, section ids and loaded URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.doctype = ""
        self.seen: set[str] = set()
        self.section_ids: list[str] = []
        self.loaded: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.seen.add(tag)
        if tag == "section":
            self.section_ids.append(a.get("id") or "")
        for key in ("src", "data", "poster"):
            if a.get(key):
                self.loaded.append(f"{tag} {key}={a[key]}")
        if tag == "link" and a.get("href"):
            self.loaded.append(f"link href={a['href']}")
        if tag in VOID:
            return
        if tag in STRUCTURAL:
            self.stack.append(tag)
        self._in_title = tag == "title"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in STRUCTURAL and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag not in STRUCTURAL:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(
                f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}> at {self.getpos()}"
            )
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A three-year run of china-2025-licensing written by the CLI."""
    base = tmp_path_factory.mktemp("report")
    scenario = base / "short.yaml"
    scenario.write_text(SHORT)
    out = base / "run"
    try:
        cli_run(["run", str(scenario), "--out", str(out)])
    except SystemExit as exc:
        assert not exc.code, f"reesim run exited {exc.code}"
    assert (out / "summary.json").is_file()
    return out


@pytest.fixture(scope="module")
def report(run_dir: Path) -> Path:
    """The report of the run (default place: run_dir/report.html)."""
    return write_report(run_dir)


def test_report_is_valid_html_with_every_section(report: Path):
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    p = Structure()
    p.feed(text)
    p.close()
    assert p.doctype.lower() == "doctype html"
    assert not p.errors, p.errors[:5]
    assert not p.stack, f"unclosed: {p.stack}"
    assert {"html", "head", "body", "title"} <= p.seen
    assert p.title.startswith("reesim report: report-short")
    # the run's identity names the builds this CPU selected (another CPU's give other last bits)
    assert "<dt>Runtime</dt><dd>CPython" in text and "piqp build piqp_python" in text
    assert p.section_ids == [sid for sid, _ in SECTIONS]
    for sid, _ in SECTIONS:
        body = text.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]
        assert "<h2>" in body, sid
    # Every figure and table has a caption.
    assert text.count('<figure class="plot">') + text.count('<figure class="table') == text.count(
        "<figcaption>"
    )


def test_report_is_self_contained_and_loads_nothing(report: Path):
    text = report.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    assert text.count(js[:200]) == 1, "plotly.js must be embedded exactly once"
    assert text.count("plotly.js v") == 1
    p = Structure()
    p.feed(text)
    assert p.loaded == [], p.loaded  # no <script src>, <link href>, <img src>: everything is inline
    # Outside the scripts (plotly.js mentions URLs in its code), no markup or style refers to the network.
    markup = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", markup, re.I)
    assert "@import" not in markup and "url(" not in markup
    # The figures' scripts only call Plotly.newPlot on inline data.
    for script in re.findall(r"<script[^>]*>(.*?)</script>", text, flags=re.S)[1:]:
        assert "cdn.plot.ly" not in script and "http" not in script.split("Plotly.newPlot")[0]
    # The map's TopoJSON is embedded, so plotly.js never fetches it from its CDN.
    assert 'PlotlyGeoAssets.topojson["world_110m"]' in text
    n = int(re.search(r'<meta name="reesim-figures" content="(\d+)">', text).group(1))
    figures_only = text.replace(js, "")  # plotly.js itself may mention Plotly.newPlot
    assert n == figures_only.count("Plotly.newPlot(") == figures_only.count('class="plotly-graph-div"')
    assert n >= 8


HARNESS = """<script>
(function () {
  var de = document.documentElement, errs = [], reqs = [];
  function save() { de.dataset.errors = JSON.stringify(errs); de.dataset.requests = JSON.stringify(reqs); }
  window.addEventListener("error", function (e) {
    errs.push("error: " + (e.message || (e.target && (e.target.src || e.target.href)) || e.type));
    save();
  }, true);
  window.addEventListener("unhandledrejection", function (e) { errs.push("unhandledrejection: " + e.reason); save(); });
  var ce = console.error;
  console.error = function () { errs.push("console.error: " + Array.prototype.join.call(arguments, " ")); save(); return ce.apply(console, arguments); };
  document.addEventListener("securitypolicyviolation", function (e) {
    errs.push("CSP: " + e.violatedDirective + " " + (e.blockedURI || "") + " " + (e.sample || "")); save();
  });
  var of = window.fetch;
  window.fetch = function (u) { reqs.push(String(u)); save(); return of.apply(this, arguments); };
  var oo = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (m, u) { reqs.push(String(u)); save(); return oo.apply(this, arguments); };
  save();
  window.addEventListener("load", function () {
    setTimeout(function () {
      de.dataset.plots = String(document.querySelectorAll(".js-plotly-plot").length);
      de.dataset.svgs = String(document.querySelectorAll(".js-plotly-plot .main-svg").length);
      de.dataset.resources = JSON.stringify(performance.getEntriesByType("resource").map(function (r) { return r.name; }));
      de.dataset.done = "1";
    }, 1500);
  });
})();
</script>"""


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    if not CHROMIUM.is_file():
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium (apt-get install chromium)")
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--virtual-time-budget=10000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_in_headless_chromium_without_errors(report: Path, tmp_path: Path):
    text = report.read_text(encoding="utf-8")
    n_figures = int(re.search(r'<meta name="reesim-figures" content="(\d+)">', text).group(1))
    page = tmp_path / "report.html"
    page.write_text(text.replace("<head>", "<head>\n" + HARNESS, 1), encoding="utf-8")
    res = _chromium("--dump-dom", page.as_uri(), tmp=tmp_path)
    m = re.search(r"<html[^>]*>", res.stdout)
    assert m, f"no DOM dumped (exit {res.returncode}): {res.stderr[-2000:]}"
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(0)))

    def data(key: str):
        return json.loads(attrs[key].replace("&quot;", '"').replace("&amp;", "&"))

    assert attrs.get("done") == "1", f"page did not finish loading: {attrs}"
    assert data("errors") == []
    assert data("requests") == []
    assert [u for u in data("resources") if not u.startswith(("data:", "blob:"))] == []
    assert int(attrs["plots"]) == n_figures
    assert int(attrs["svgs"]) >= n_figures  # every figure drew its SVG

    shot = tmp_path / "report.png"
    res = _chromium(f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri(), tmp=tmp_path)
    assert shot.is_file(), res.stderr[-2000:]
    assert shot.stat().st_size > 20_000


def test_a_script_that_reaches_the_report_by_mistake_does_not_run(report: Path, tmp_path: Path):
    """The report's Content-Security-Policy allows only the scripts reesim wrote (by hash): markup
    that an escaping mistake let through (an inline script, an event handler) is blocked, while
    every figure still draws."""
    text = report.read_text(encoding="utf-8")
    import html

    csp = html.unescape(
        re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text).group(1)
    )
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    from plotly.offline import get_plotlyjs

    from reesim.reports.markup import script_hash

    assert script_hash(get_plotlyjs()) in csp
    n_figures = int(re.search(r'<meta name="reesim-figures" content="(\d+)">', text).group(1))
    injected = (
        '<img src="data:," onerror="document.documentElement.dataset.xss=\'handler\'">'
        "<script>document.documentElement.dataset.xss='script'</script>"
    )
    page = tmp_path / "report.html"
    page.write_text(
        text.replace("<head>", "<head>\n" + HARNESS, 1).replace("<main", injected + "<main", 1),
        encoding="utf-8",
    )
    res = _chromium("--dump-dom", page.as_uri(), tmp=tmp_path)
    m = re.search(r"<html[^>]*>", res.stdout)
    assert m, f"no DOM dumped (exit {res.returncode}): {res.stderr[-2000:]}"
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(0)))
    assert attrs.get("done") == "1" and "xss" not in attrs, attrs
    errors = json.loads(attrs["errors"].replace("&quot;", '"').replace("&amp;", "&"))
    # both blocked, and said so (the image's own load error aside: its data: URL is empty)
    assert {e.split()[1] for e in errors if e.startswith("CSP:")} == {"script-src-attr", "script-src-elem"}, (
        errors
    )
    assert [e for e in errors if not e.startswith("CSP:")] == ["error: data:,"], errors
    assert int(attrs["plots"]) == n_figures and int(attrs["svgs"]) >= n_figures


def test_sankey_links_are_nonnegative_conserved_and_start_at_the_mines(run_dir: Path):
    run = read_run(run_dir)
    flows, why = sankey_for(run, "Nd")
    links = flows.links
    assert flows.year == 2025 and "china-licensing-2025" in why
    assert flows.unit == "t of Nd (element content)"
    assert (links["tonnes"] >= 0).all() and links["tonnes"].notna().all()
    assert F.sum_links(links, "mining:") > 0
    assert {"mining → separation", "magnet → sectors"} <= set(links["stage"])
    # Every intermediate node passes on what it receives (no stock change in this run).
    bal = F.node_balance(links)
    assert len(bal) > 0
    assert ((bal["outflow"] - bal["inflow"]).abs() <= 1e-6 * bal["inflow"].clip(lower=1.0)).all(), bal
    # The separation nodes pass on the Nd oxide the production table says they made.
    prod = run.t("production")
    made = prod[(prod["year"] == 2025) & (prod["commodity"] == "oxide:Nd")].groupby("region")["tonnes"].sum()
    out = links[links["source"].str.startswith("separation:")].groupby("source")["tonnes"].sum()
    for region, tonnes in made[made > 1e-3].items():  # solver dust below a kilogram is not drawn
        assert out[f"separation: {region}"] == pytest.approx(tonnes / flows.oxide_per_metal, rel=1e-6)


def test_welfare_waterfall_total_is_the_sum_of_its_components(run_dir: Path):
    run = read_run(run_dir)
    wd = run.t("welfare_discounted")
    for region in ["CHN", "USA", "EU", "JPN", "world"]:
        d = F.waterfall_data(wd, region)
        parts = d[d["measure"] == "relative"]["pv_usd_million"].sum()
        total = d[d["measure"] == "total"]["pv_usd_million"].iloc[0]
        rows = wd if region == "world" else wd[wd["region"] == region]
        assert total == pytest.approx(rows[rows["component"] == "total"]["pv_usd_million"].sum(), abs=1e-6)
        assert total == pytest.approx(rows[rows["component"] != "total"]["pv_usd_million"].sum(), abs=1e-6)
        assert parts == pytest.approx(total, abs=1e-6)
    # The figure draws exactly those numbers.
    fig = F.welfare_figure(wd, ["CHN", "world"], 0.03)
    for trace, region in zip(fig.data, ["CHN", "world"], strict=True):
        assert list(trace.measure)[-1] == "total"
        assert sum(trace.y[:-1]) == pytest.approx(trace.y[-1], abs=0.01)
        assert trace.y[-1] == pytest.approx(F.waterfall_data(wd, region)["pv_usd_million"].iloc[-1], abs=1e-3)


def test_report_options_and_errors(run_dir: Path, tmp_path: Path):
    from reesim.errors import InputError

    out = write_report(run_dir, tmp_path / "sub" / "dy.html", element="Dy")
    text = out.read_text(encoding="utf-8")
    assert "Dy in 2025" in text and not list((tmp_path / "sub").glob(".*tmp"))
    with pytest.raises(InputError, match="element"):
        write_report(run_dir, tmp_path / "x.html", element="Xx")
    with pytest.raises(InputError, match="not a reesim run folder"):
        write_report(tmp_path)
    # Without the indicators table the risk section says so.
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare, ignore=shutil.ignore_patterns("indicators.parquet", "report.html"))
    text = write_report(bare).read_text(encoding="utf-8")
    risk = text.split('<section id="risk">', 1)[1].split("</section>", 1)[0]
    assert "is absent" in risk
    assert isinstance(pd.read_parquet(run_dir / "welfare_discounted.parquet"), pd.DataFrame)


def test_licence_section_names_the_mechanism_and_shows_the_dy_wedge(run_dir: Path):
    """The licence's shadow value and the Dy wedge it leaves are in summary.json and the report."""
    import json

    from reesim.reports.licences import licences_section

    summary = json.loads((run_dir / "summary.json").read_text())
    lic = [r for r in summary["headline"]["licences"] if r["element"] == "Dy" and r["period"] == "2025"]
    assert lic and lic[0]["rent_usd_per_kg_max"] > 0 and lic[0]["outside_over_inside"] > 1.5
    # Europe, the market analysts quote, carries the premium (observed 2025: about 3.5 x FOB China)
    assert lic[0]["eu_over_inside"] > 2.0 and lic[0]["usa_over_inside"] > 2.0
    # the wedge is the outside price less the inside price
    assert lic[0]["wedge_usd_per_kg"] == pytest.approx(
        lic[0]["oxide_outside_usd_per_kg"] - lic[0]["oxide_inside_usd_per_kg"], rel=1e-9
    )
    # by hand: the oxide's rent is the largest over destinations of the separated-forms licence's
    # shadow value (Tb oxide holds 1 kg of Tb per kg); the magnet licence's Tb row, a value per kg of
    # Tb in a magnet (0.1 % of it), is not a wedge on the oxide and is larger than the oxide's price
    q = pd.read_parquet(run_dir / "quota_rents.parquet")
    q = q[q["period"] == "2025"]
    tb = next(r for r in summary["headline"]["licences"] if r["element"] == "Tb" and r["period"] == "2025")
    oxide_licence = q[q["quota"].str.match(r"china-licensing-2025:[A-Z]+:Tb$")]["rent_usd_per_kg"]
    magnet_licence = q[q["quota"].str.match(r"china-licensing-2025-magnets:[A-Z]+:Tb$")]["rent_usd_per_kg"]
    assert tb["rent_usd_per_kg_max"] == pytest.approx(oxide_licence.max(), rel=1e-9)
    assert magnet_licence.max() > tb["oxide_outside_usd_per_kg"] > tb["rent_usd_per_kg_max"] > 0
    # a magnet's rent: the sum over its licensed elements of shadow value x content, per destination
    from reesim.scenario.load import load_scenario
    from reesim.simulate.stepper import scenario_world

    members = scenario_world(load_scenario(run_dir / "scenario.resolved.yaml")).quota_members
    members = members[members["quota"].str.startswith("china-licensing-2025-magnets:EU:")]
    mu = q.set_index("quota")["rent_usd_per_kg"]
    by_hand = sum(c * mu[k] for k, c in zip(members["quota"], members["coef"], strict=True))
    rents = pd.read_parquet(run_dir / "licence_rents.parquet")
    eu = rents[
        (rents["period"] == "2025") & (rents["importer"] == "EU") & (rents["commodity"] == "magnet:ndfeb")
    ]
    assert by_hand > 0 and eu["rent_usd_per_kg"].sum() == pytest.approx(by_hand, rel=1e-9)
    mag = next(
        r
        for r in summary["headline"]["licensed_goods"]
        if r["good"] == "magnet:ndfeb" and r["period"] == "2025"
    )
    assert mag["rent_usd_per_kg_max"] >= eu["rent_usd_per_kg"].sum() - 1e-9
    # the licence's rent is of the size of the magnet's price wedge (a few USD/kg, not thousands)
    assert 0.2 * mag["wedge_usd_per_kg"] < mag["rent_usd_per_kg_max"] < 5 * mag["wedge_usd_per_kg"]
    html = licences_section(read_run(run_dir))
    assert "china-licensing-2025-magnets" in html and "nothing approved for the first 34 working days" in html
    assert "Europe ÷ China" in html and "The other licensed goods (metals, magnets)" in html
    assert "shadow value" in html and ">Dy<" in html and "magnet" in html
    exports = [
        r for r in summary["headline"]["china_exports"] if r["period"] == "2025" and r["form"] == "magnet"
    ]
    assert sum(r["scenario"] for r in exports) < sum(r["counterfactual"] for r in exports)


def test_a_flow_from_a_few_tonnes_changes_in_tonnes_not_per_cent():
    """China's metal exports start from a few tonnes in the counterfactual (no metal-trade data):
    +169 t on 4.4 t showed as +3,826 %; flows from 100 t/yr up keep their percentage."""
    from reesim.reports.licences import MIN_BASE_T_PER_YEAR, _change

    assert _change(173.7, 4.4) == "+169 t"
    assert _change(56814.9, 58152.0) == "-2.3 %"
    assert _change(90.0, MIN_BASE_T_PER_YEAR) == "-10.0 %"
    assert _change(0.0, 0.0) == "0 t"


def test_a_scenario_of_duties_alone_calls_its_fall_in_magnet_purchases_no_shortage():
    """The jobs figure's cause: a quantity instrument of the scenario's own (licence, ban, quota,
    disruption, technology ban) makes a shortfall; duties alone make buyers buy less."""
    from reesim.pipeline import restricts_supply
    from reesim.scenario.load import load_scenario

    base = load_scenario("baseline")
    assert not restricts_supply(load_scenario("us-301-tariffs"), base)
    assert restricts_supply(load_scenario("china-2025-licensing"), base)
    assert restricts_supply(load_scenario("myanmar-kachin"), base)
    assert not restricts_supply(base, base)  # the baseline's own mining quota is no added restriction


def test_the_report_shows_the_uses_at_their_demand_lines_cap(run_dir: Path, report: Path):
    """Every use the headline finds near its choke price is in the report with its price and cap
    (Dy for other uses outside China in 2026 in the licensing run)."""
    from reesim.reports.markup import num

    rows = json.loads((run_dir / "summary.json").read_text())["headline"]["near_choke"]
    assert {(r["commodity"], r["period"]) for r in rows} == {("oxide:Dy", "2026")}
    text = report.read_text(encoding="utf-8")
    assert "Prices at their demand line's cap" in text
    for r in rows:
        assert f"{num(r['usd_per_kg'], 2)} / {num(r['choke_usd_per_kg'], 2)}" in text
