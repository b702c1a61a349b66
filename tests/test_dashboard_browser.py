"""The dashboard end to end in Debian's headless Chromium, driven by Playwright.

A real ``uvicorn`` server on loopback serves the application; the browser opens the dashboard,
picks the licensing scenario, changes the approval share, runs it, sees the price chart drawn
for the new job, downloads the HTML report and browses a data table. No console error is
allowed and no request may leave the machine. Screenshots are kept in
``out/test-artifacts/`` (or ``$REESIM_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("REESIM_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "out" / "test-artifacts")
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from reesim.api.app import create_app

    port = _free_port()
    app = create_app(tmp_path_factory.mktemp("serve"), workers=1)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > end or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def test_dashboard_runs_an_edited_scenario_and_downloads_its_report(server, browser, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    problems, hosts = [], set()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))

    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.select_option("#scenario", "china-2025-licensing")
    page.wait_for_selector("body:not([data-loading]) .instrument[data-name='china-licensing-2025']")
    # first the shipped scenario as it is
    page.click("#run")
    page.wait_for_selector("#fig-prices[data-job] .main-svg", timeout=120_000)
    first_job = page.get_attribute("#fig-prices", "data-job")
    first_title = page.inner_text("#results-title")
    assert first_title == "china-2025-licensing vs baseline"
    # then with half the approval share of the heavy-RE licence
    slider = page.locator(".instrument[data-name='china-licensing-2025'] input[data-key='approval_share']")
    assert slider.input_value() == "0.5"
    slider.fill("0.25")
    page.click("#run")
    page.wait_for_selector(f"#fig-prices:not([data-job='{first_job}']) .main-svg", timeout=120_000)
    assert page.inner_text("#results-title") == "china-2025-licensing-edited vs baseline"
    assert "done" in page.inner_text("#status")
    traces = page.eval_on_selector("#fig-prices", "d => d.data.length")
    assert traces >= 8  # scenario and counterfactual, inside and outside China, four commodities
    headline = page.inner_text("#headline")
    assert "oxide:Dy" in headline and "outside China" in headline
    for name in ("sankey", "welfare", "shortages", "china_share", "stage_heatmap"):
        assert page.locator(f"#fig-{name} .main-svg").count() >= 1, name
    page.screenshot(path=str(ARTIFACTS / "dashboard-run.png"), full_page=True)
    for name in ("prices", "sankey", "china_share"):
        page.locator(f"#fig-{name}").screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"))
        assert page.locator(f"#fig-{name}").bounding_box()["height"] >= 300, name  # drawn at its own height

    # the same edited scenario over its assumption ranges: a fan chart and its drivers
    page.fill("#ens-n", "4")
    page.click("#ens-run")
    page.wait_for_selector("#fig-ens-fan[data-job] .main-svg", timeout=120_000)
    page.wait_for_selector("#fig-ens-drivers[data-job] .main-svg", timeout=30_000)
    assert "4 of 4 members" in page.inner_text("#ens-status")
    page.locator("#fig-ens-fan").screenshot(path=str(ARTIFACTS / "dashboard-ensemble.png"))

    with page.expect_download() as dl:
        page.click("#dl-report")
    report = tmp_path / "report.html"
    dl.value.save_as(report)
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>") and "china-2025-licensing-edited" in text

    page.click("nav button[data-tab='data']")
    page.select_option("#data-table", "mine_production")
    page.fill("#data-filter", "year=2024 iso3=CHN")
    page.click("#data-load")
    page.wait_for_selector("#data-rows tr:nth-child(2)")
    title = page.get_attribute("#data-rows tr:nth-child(2)", "title")
    assert title and "USGS" in title  # the citation of the row, on hover
    page.fill("#data-filter", "iso4=CHN")
    page.click("#data-load")
    page.wait_for_selector("#data-errors li")
    assert "iso4" in page.inner_text("#data-errors")
    page.screenshot(path=str(ARTIFACTS / "dashboard-data.png"), full_page=False)

    own = server.split("/")[2]
    assert hosts == {own}, f"requests left the machine: {hosts - {own}}"
    # the failed filter answers 422 by design; nothing else may log an error
    assert [p for p in problems if "422" not in p] == [], problems
    context.close()


def test_dashboard_solves_an_edited_game(server, browser):
    from tests.test_api import small_game

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.click("nav button[data-tab='game']")
    assert "us-china" in page.inner_text("#game")
    assert "section-301" in page.input_value("#game-text")
    page.fill("#game-text", small_game())  # a 2 x 2 game over two years
    page.click("#game-run")
    page.wait_for_selector("#game-figures[data-job] .main-svg", timeout=120_000)
    assert "stable outcome" in page.inner_text("#game-reading")
    assert "★" in page.inner_text("#game-figures")  # the equilibrium is marked on the heat map
    page.screenshot(path=str(ARTIFACTS / "dashboard-game.png"), full_page=True)
    assert problems == []
    page.close()


def test_api_docs_render_offline(server, browser):
    page = browser.new_page()
    problems, hosts = [], set()
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30_000)
    assert "reesim" in page.inner_text("body") and page.locator(".opblock").count() >= 20
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    assert hosts == {server.split("/")[2]}  # Swagger UI and ReDoc from the package, nothing from a CDN
    assert problems == []
    page.close()


def test_sliders_keep_the_scenarios_values(server, browser):
    """A share off the slider's grid (Myanmar's 0.185) is shown and sent as it is, not rounded."""
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.select_option("#scenario", "myanmar-kachin")
    page.wait_for_selector("body:not([data-loading]) .instrument[data-name='kachin-war-2025']")
    share = page.locator(".instrument[data-name='kachin-war-2025'] input[data-key='share_out']")
    assert share.input_value() == "0.185"
    assert page.evaluate("() => editedScenario().changed") is False  # nothing edited yet
    page.close()


def test_dashboard_shows_validation_errors(server, browser):
    page = browser.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.select_option("#scenario", "china-2025-licensing")
    page.wait_for_selector("body:not([data-loading]) .instrument[data-name='china-licensing-2025']")
    page.fill("#h-end", "2020")  # before the start
    page.click("#run")
    page.wait_for_selector("#errors li")
    assert "end 2020 is before start 2025" in page.inner_text("#errors")
    assert page.inner_text("#status") == "Not run: fix the scenario."
    assert problems == []
    page.close()


def test_dashboard_says_a_busy_server_is_not_a_bad_scenario(server, browser):
    """A run refused for the client's own jobs (429) or a full queue (503) shows the server's
    message and asks to try again, not to fix the scenario."""
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.select_option("#scenario", "china-2025-licensing")
    page.wait_for_selector("body:not([data-loading]) .instrument[data-name='china-licensing-2025']")
    detail = "you have 20 jobs queued or running on this server (allowed: 20 at once)"
    page.route(
        "**/api/runs",
        lambda route: route.fulfill(status=429, json={"detail": detail}, headers={"Retry-After": "30"}),
    )
    page.click("#run")
    page.wait_for_selector("#errors li")
    assert page.inner_text("#errors") == detail
    assert page.inner_text("#status") == "Not run: try again when a job has finished."
    assert page.is_enabled("#run")
    page.close()
