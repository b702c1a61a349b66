"""The web service (reesim.api): data, scenarios, validation, runs as jobs, limits, restarts."""

from __future__ import annotations

import io
import json
import os
import socket
import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient as _TestClient

from reesim.api.app import create_app
from reesim.api.jobs import Limits
from tests.test_scenarios import BASELINE_NAMES


def TestClient(app, **kw):
    """Starlette's test client speaking to the app as a browser on this machine does (Host 127.0.0.1;
    its default host, testserver, is not one the server answers)."""
    return _TestClient(app, base_url="http://127.0.0.1", **kw)


#: a short licensing run (two years) that extends the shipped flagship
SHORT = """
name: licensing-short
extends: china-2025-licensing
horizon: {start: 2025, end: 2026, step: year}
"""


def small_game() -> str:
    """tests/test_game.py's 2 x 2 game over two years (not three), so that its profiles are not in the
    session's cache when test_game checks that a first run fills it."""
    from tests.test_game import SMALL

    return SMALL.replace("end: 2027", "end: 2026").replace("name: small", "name: small-2y")


def wait(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    """Poll a job until it is done, failed or expired."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/runs/{job_id}").json()
        if job["status"] in ("done", "failed", "expired"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def client(home):
    with TestClient(create_app(home, workers=1)) as c:
        yield c


@pytest.fixture(scope="module")
def short_job(client) -> dict:
    r = client.post("/api/runs", json={"yaml": SHORT})
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["id"])
    assert job["status"] == "done", job["message"]
    return job


def test_health_and_openapi(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["workers"] == 1 and len(h["dataset_version"]) == 16
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/runs",
        "/api/validate",
        "/api/data/tables/{name}",
        "/api/runs/{job_id}/figures/{name}",
    } <= set(paths)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn." not in docs.text and "https://" not in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):  # served from the installed package
        assert f"/static-offline-docs/{asset}" in docs.text
        r = client.get(f"/static-offline-docs/{asset}")
        assert r.status_code == 200 and len(r.content) > 100_000, asset
    assert client.get("/redoc").status_code == 404  # ReDoc's page would fetch its logo from a CDN


def test_scenarios_are_resolved_with_their_chain(client):
    names = [s["name"] for s in client.get("/api/scenarios").json()]
    assert "china-2025-licensing" in names and "baseline" in names
    d = client.get("/api/scenarios/china-2025-licensing").json()
    assert d["chain"] == ["baseline (shipped)", "china-2025-licensing (shipped)"]
    by_name = dict(zip([i["name"] for i in d["resolved"]["instruments"]], d["inherited"], strict=True))
    assert by_name["magnet-demand-growth"] is True  # from baseline
    assert by_name["china-licensing-2025"] is False  # the scenario's own
    assert "approval_share" in d["resolved_yaml"]
    r = client.get("/api/scenarios/china-2025-licencing")
    assert r.status_code == 404 and "did you mean 'china-2025-licensing'" in r.json()["detail"]


def test_validate_names_the_yaml_path_the_value_and_what_is_allowed(client):
    ok = client.post("/api/validate", json={"yaml": SHORT})
    assert ok.status_code == 200 and ok.json()["name"] == "licensing-short"
    bad = """
name: bad
extends: baseline
instruments:
  - {type: export_quota, exporter: CHN, commodities: [oxide:Dy], approval_share: 1.5, start: 2025-04-04}
"""
    r = client.post("/api/validate", json={"yaml": bad})
    assert r.status_code == 422
    (p,) = r.json()["detail"]
    assert p["loc"] == ["body", "instruments", len(BASELINE_NAMES), "approval_share"]  # baseline's come first
    assert "less than or equal to 1" in p["msg"] and "(got 1.5)" in p["msg"]
    # the same message as `reesim validate`
    assert p["msg"].startswith(f"scenario: instruments[{len(BASELINE_NAMES)}].approval_share:")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: x\nextends: /etc/passwd\n", "only shipped scenario names"),
        ("name: x\nextends: baseline\ncounterfactual: ../secret.yaml\n", "only shipped scenario names"),
        ("name: x\nextends: baseline\nhorizon: {start: 2030, end: 2025}\n", "end 2025 is before start 2030"),
        ("!!python/object:os.system {}\n", "python/object"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_malformed_or_hostile_scenarios_get_422(client, text, says):
    for path in ("/api/validate", "/api/runs"):
        r = client.post(path, json={"yaml": text})
        assert r.status_code == 422, (path, r.text)
        assert says in json.dumps(r.json()), r.json()


def test_run_request_needs_exactly_one_scenario(client):
    r = client.post("/api/runs", json={})
    assert r.status_code == 422 and "exactly one of scenario" in r.text
    r = client.post("/api/runs", json={"scenario": "no-such"})
    assert r.status_code == 422 and "no-such" in r.text
    r = client.post("/api/runs", json={"scenario": "baseline", "against": "/etc/hosts"})
    assert r.status_code == 422 and "only shipped scenario names" in r.text


def test_limits_refuse_long_or_fine_horizons():
    app = create_app(
        Path("/tmp") / f"reesim-limits-{time.time_ns()}", limits=Limits(max_years=5, max_periods=20)
    )
    with TestClient(app) as c:
        long = SHORT.replace("end: 2026", "end: 2035")
        r = c.post("/api/runs", json={"yaml": long})
        assert r.status_code == 422 and "11 years; allowed: at most 5" in r.text
        monthly = SHORT.replace("step: year", "step: month")
        r = c.post("/api/runs", json={"yaml": monthly})
        assert r.status_code == 422 and "24 periods; allowed: at most 20" in r.text
        r = c.post("/api/validate", content=b"x" * 300_000, headers={"content-type": "application/json"})
        assert r.status_code == 413

        def chunks():  # no Content-Length: the bytes are counted as they arrive
            for _ in range(40):
                yield b"x" * 10_000

        r = c.post("/api/validate", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "more than 262144 bytes" in r.json()["detail"]
        small = iter([b'{"yaml": ', b'"name: x"}'])
        r = c.post("/api/validate", content=small, headers={"content-type": "application/json"})
        assert r.status_code in (200, 422) and "bytes" not in r.text  # under the limit: read as usual


def test_data_rows_carry_their_citations(client):
    tables = {t["name"]: t for t in client.get("/api/data/tables").json()}
    assert tables["mine_production"]["rows"] > 100
    r = client.get("/api/data/tables/mine_production", params={"year": 2024, "iso3": "CHN"}).json()
    assert r["total"] >= 1 and all(row["iso3"] == "CHN" and row["year"] == 2024 for row in r["rows"])
    for row in r["rows"]:
        assert row["source_id"] in r["citations"] and r["citations"][row["source_id"]]["citation"]
    r = client.get("/api/data/tables/mine_production", params={"iso4": "CHN"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "iso4"]
    assert "did you mean 'iso3'" in r.json()["detail"][0]["msg"]
    r = client.get("/api/data/tables/mine_production", params={"year": "abc"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "year"]
    # located at the column the message is about, not at another filter whose name it quotes
    r = client.get("/api/data/tables/china_export_quotas", params={"year": 2013, "measure": "year"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "measure"], r.json()
    r = client.get("/api/data/tables/mine_prodution")
    assert r.status_code == 404 and "mine_production" in r.text


def test_run_job_tables_match_the_folder(client, short_job, home):
    jid = short_job["id"]
    assert short_job["progress"] == 1.0 and short_job["done_steps"] == short_job["total_steps"] == 4
    folder = home / "runs" / client.app.state.store.get(jid).cache_key
    summary = client.get(f"/api/runs/{jid}/summary").json()
    assert summary == json.loads((folder / "summary.json").read_text())
    on_disk = pd.read_parquet(folder / "prices.parquet")
    j = client.get(f"/api/runs/{jid}/tables/prices").json()
    assert len(j["rows"]) == len(on_disk) and j["columns"] == list(on_disk.columns)
    csv = pd.read_csv(
        io.StringIO(client.get(f"/api/runs/{jid}/tables/prices", params={"format": "csv"}).text)
    )
    assert len(csv) == len(on_disk)
    pq = pd.read_parquet(
        io.BytesIO(client.get(f"/api/runs/{jid}/tables/prices", params={"format": "parquet"}).content)
    )
    pd.testing.assert_frame_equal(pq, on_disk)
    cf = client.get(f"/api/runs/{jid}/tables/prices", params={"path": "counterfactual"}).json()
    assert len(cf["rows"]) == len(pd.read_parquet(folder / "counterfactual" / "prices.parquet"))
    xlsx = client.get(f"/api/runs/{jid}/tables.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    # built once and kept in the run folder: a second request is served from the file
    built = (folder / "tables.xlsx").stat().st_mtime_ns
    again = client.get(f"/api/runs/{jid}/tables.xlsx")
    assert again.content == xlsx.content and (folder / "tables.xlsx").stat().st_mtime_ns == built
    assert not list(folder.glob(".xlsx-*"))  # no temporary folder left behind
    report = client.get(f"/api/runs/{jid}/report").text
    assert (
        report.startswith("<!DOCTYPE html>") and f"<code>{folder.name}</code>" in report
    )  # the final folder's name
    assert client.get(f"/api/runs/{jid}/tables/nope").status_code == 404
    assert client.get(f"/api/runs/{jid}/tables/prices", params={"format": "xml"}).status_code == 422


def test_figures_are_the_reports(client, short_job, home):
    from reesim.reports import run_figures as RF
    from reesim.reports.runfolder import read_run

    jid = short_job["id"]
    run = read_run(home / "runs" / client.app.state.store.get(jid).cache_key)
    for name in RF.FIGURES:
        got = client.get(f"/api/runs/{jid}/figures/{name}").json()
        fig = RF.figure(run, name)
        assert got == (
            json.loads(fig.to_json()) if fig is not None else {"data": [], "layout": {}, "absent": True}
        )
    sankey = client.get(f"/api/runs/{jid}/figures/sankey", params={"element": "Dy"}).json()
    assert sankey["data"][0]["type"] == "sankey"
    assert client.get(f"/api/runs/{jid}/figures/sankey", params={"element": "Xx"}).status_code == 422
    assert client.get(f"/api/runs/{jid}/figures/nope").status_code == 404


def test_same_request_is_answered_from_the_cache_and_compare_works(client, short_job):
    again = client.post("/api/runs", json={"yaml": SHORT}).json()
    assert again["status"] == "done" and again["cached"] is True and again["id"] != short_job["id"]
    # every later request for the same result gets that one cached job: no row each (even with a
    # comment that changes the text but not the scenario)
    n = len(client.get("/api/runs", params={"limit": 1000}).json())
    for pad in ("", "# a comment\n" * 100):
        third = client.post("/api/runs", json={"yaml": pad + SHORT}).json()
        assert third["id"] == again["id"] and third["cached"] is True
    assert len(client.get("/api/runs", params={"limit": 1000}).json()) == n
    base = client.post(
        "/api/runs",
        json={"yaml": SHORT.replace("licensing-short", "b").replace("china-2025-licensing", "baseline")},
    )
    b = wait(client, base.json()["id"])
    assert b["status"] == "done", b["message"]
    c = client.get("/api/compare", params={"a": short_job["id"], "b": b["id"]}).json()
    a_summary = client.get(f"/api/runs/{short_job['id']}/summary").json()
    # the scenario against the baseline run = the scenario's own headline against its counterfactual
    assert c["impacts"]["welfare_pv_usd_million_world"] == pytest.approx(
        a_summary["impacts"]["welfare_pv_usd_million_world"], rel=1e-9
    )
    assert c["impacts"]["periods_compared"]["count"] == 2
    assert client.get("/api/compare", params={"a": short_job["id"], "b": "nope"}).status_code == 404


def test_unknown_and_unfinished_jobs(home):
    with TestClient(create_app(home.parent / "idle", start_jobs=False)) as c:
        assert c.get("/api/runs/nope").status_code == 404
        job = c.post("/api/runs", json={"yaml": SHORT}).json()
        assert job["status"] == "queued"
        r = c.get(f"/api/runs/{job['id']}/summary")
        assert r.status_code == 409 and "queued" in r.text


def test_jobs_survive_a_restart(tmp_path):
    home = tmp_path / "serve"
    with TestClient(create_app(home, start_jobs=False)) as c:  # a server that stops before running anything
        queued = c.post("/api/runs", json={"yaml": SHORT}).json()
    with TestClient(create_app(home)) as c:  # the next start queues it again and runs it
        done = wait(c, queued["id"])
        assert done["status"] == "done", done["message"]
        folder = home / "runs" / c.app.state.store.get(done["id"]).cache_key
    with TestClient(create_app(home, start_jobs=False)) as c:  # finished jobs and folders are intact
        again = c.get(f"/api/runs/{queued['id']}").json()
        assert again["status"] == "done" and again["finished"] == done["finished"]
        assert c.get(f"/api/runs/{queued['id']}/tables/prices").status_code == 200
    assert (folder / "summary.json").is_file()


def test_wall_time_limit_stops_a_job(tmp_path):
    with TestClient(create_app(tmp_path / "s", limits=Limits(wall_time_s=0.3))) as c:
        job = c.post("/api/runs", json={"scenario": "china-2025-licensing"}).json()
        done = wait(c, job["id"])
        assert done["status"] == "failed" and "wall-time limit of 0.3 s" in done["message"]
        assert not any((tmp_path / "s" / "runs").iterdir())  # nothing half-written


def test_partial_folders_of_dead_writers_are_swept_at_start(tmp_path):
    import subprocess

    from reesim.atomic import MARKER

    dead = subprocess.Popen(["true"])
    dead.wait()
    runs = tmp_path / "s" / "runs"
    stale, live = runs / ".abc123.x1", runs / ".def456.x2"
    for folder, pid in ((stale, dead.pid), (live, os.getpid())):
        folder.mkdir(parents=True)
        (folder / MARKER).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
        (folder / "prices.parquet").write_bytes(b"partial")
    with TestClient(create_app(tmp_path / "s")):
        assert not stale.exists() and live.is_dir()  # a writer still running keeps its folder


def test_dashboard_is_served_offline(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text
    for name in ("dashboard.js", "dashboard.css", "vendor/plotly.min.js", "vendor/world_110m.json"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and len(r.content) > 500, name
    assert client.get("/static/../app.py").status_code == 404


def test_a_killed_server_restarts_with_its_finished_jobs(tmp_path):
    """SIGKILL the real server (``reesim serve``) while a job runs: on restart the finished job is
    intact and the interrupted one runs again to completion."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    def start(port: int) -> subprocess.Popen:
        env = {**os.environ, "REESIM_SERVE_HOME": str(tmp_path / "home")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "reesim.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.2)
        proc.kill()
        raise AssertionError("reesim serve did not start")

    def poll(url: str, job_id: str, want: set[str]) -> dict:
        end = time.monotonic() + 120
        while time.monotonic() < end:
            job = httpx.get(f"{url}/api/runs/{job_id}", timeout=5).json()
            if job["status"] in want:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} is {job['status']}")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = start(port)
    try:
        first = httpx.post(f"{url}/api/runs", json={"yaml": SHORT}).json()
        done = poll(url, first["id"], {"done"})
        second = httpx.post(f"{url}/api/runs", json={"scenario": "china-2025-licensing"}).json()
        poll(url, second["id"], {"running"})
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the server and its job processes, no clean-up
        server.wait(10)
    server = start(port)
    try:
        again = httpx.get(f"{url}/api/runs/{first['id']}").json()
        assert again["status"] == "done" and again["finished"] == done["finished"]
        assert httpx.get(f"{url}/api/runs/{first['id']}/tables/prices").status_code == 200
        rerun = poll(url, second["id"], {"done", "failed"})
        assert rerun["status"] == "done", rerun["message"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


def test_games_run_as_jobs_with_the_reports_heat_maps(client):
    listed = {g["name"]: g for g in client.get("/api/games").json()}
    assert listed["us-china"]["profiles"] == 16 and listed["us-china"]["players"][0]["name"] == "US"
    r = client.post("/api/games", json={"yaml": small_game()})
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["id"])
    assert job["status"] == "done", job["message"]
    assert job["kind"] == "game" and job["links"]["figures"].endswith("/figures")
    a = client.get(f"/api/games/{job['id']}/result").json()
    assert a["equilibria"]["pure"], a["equilibria"]
    assert all(e["max_regret_usd_million"] < 1e-6 for e in a["equilibria"]["all"])  # verified equilibria
    pay = pd.DataFrame(client.get(f"/api/games/{job['id']}/payoffs").json()["rows"])
    assert len(pay) == 4 * 2  # four profiles, two players
    figs = client.get(f"/api/games/{job['id']}/figures").json()
    (fig,) = figs["figures"]
    import html

    from reesim.reports.game import heatmaps

    (own, caption), *_ = heatmaps(pay, a)
    assert fig["figure"] == json.loads(own.to_json())  # the report's own figure
    assert fig["caption"] == html.unescape(caption)
    us = own.data[0]
    cell = pay[(pay["player"] == "US") & (pay["strategy_US"] == us.y[1]) & (pay["strategy_China"] == us.x[1])]
    assert us.z[1][1] == pytest.approx(cell["payoff_usd_million"].iloc[0] / 1000)  # bn USD
    assert figs["reading"] == a["reading"]
    assert client.get(f"/api/games/{job['id']}/report").text.startswith("<!DOCTYPE html>")
    assert client.get(f"/api/runs/{job['id']}/summary").status_code == 404  # a game is not a run
    _old_reports_are_rendered_again(client, f"/api/games/{job['id']}/report", job["id"])


def _old_reports_are_rendered_again(client, url: str, job_id: str) -> None:
    """A report another version of reesim rendered (say, before an escaping fix) is not served: the
    server renders it again once, and then serves that one (not to be framed by another site)."""
    folder = client.app.state.manager.folder(client.app.state.store.get(job_id))
    r = client.get(url)
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    good = r.text
    stamp = folder / ".report.html.made-by"
    assert stamp.read_text() == client.app.state.ctx.made_by
    planted = "<!DOCTYPE html><script>alert('old report')</script>"
    for made_by in (None, "another version's code"):  # no stamp (older server), or another code's
        (folder / "report.html").write_text(planted)
        if made_by is None:
            stamp.unlink()
        else:
            stamp.write_text(made_by)
        assert client.get(url).text == good
        assert (folder / "report.html").read_text() == good
    mtime = (folder / "report.html").stat().st_mtime_ns
    assert client.get(url).text == good and (folder / "report.html").stat().st_mtime_ns == mtime  # once


def test_a_run_report_from_older_code_is_rendered_again(client, short_job):
    _old_reports_are_rendered_again(client, f"/api/runs/{short_job['id']}/report", short_job["id"])


def test_what_a_report_is_made_by_covers_plotly_and_the_package_files(client, monkeypatch):
    """A report embeds plotly.js and reads the style sheet and the map's borders: another plotly
    (say, one that fixed its own escaping) makes every stored report stale."""
    import dataclasses

    import plotly

    ctx = client.app.state.ctx
    now = dataclasses.replace(ctx).made_by
    monkeypatch.setattr(plotly, "__version__", plotly.__version__ + ".post1")
    assert dataclasses.replace(ctx).made_by != now  # a fresh Ctx: the property is computed once per server


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"game": "us-chna"}, "did you mean 'us-china'"),
        ({"yaml": "name: g\nbase: ../x.yaml\nplayers: []\n"}, "players"),
        (
            {
                "yaml": "name: g\nbase: /etc/passwd\nplayers: [{name: A, regions: [USA], strategies: [{name: s}]}, "
                "{name: B, regions: [CHN], strategies: [{name: t}]}]\n"
            },
            "only shipped scenario names",
        ),
        (
            {
                "yaml": "name: g\nplayers: [{name: A, regions: [USA], strategies: [{name: s, scenarios: [../a.yaml]}]}, "
                "{name: B, regions: [CHN], strategies: [{name: t}]}]\n"
            },
            "players[0].strategies[0].scenarios",
        ),
        ({}, "exactly one of game"),
    ],
)
def test_bad_games_get_422(client, body, says):
    r = client.post("/api/games", json=body)
    assert r.status_code == 422 and says in r.text, r.text


def test_ensembles_run_as_jobs_with_the_reports_figures(client, home):
    from reesim.reports.ensemble import fan_chart

    body = {
        "yaml": SHORT,
        "n": 4,
        "only_vary": True,
        "vary": ["hre_thrift_saving=uniform(0.3, 0.6)", "demand_elasticity_oxide=uniform(0.2, 0.6)"],
    }
    r = client.post("/api/ensembles", json=body)
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["id"])
    assert job["status"] == "done", job["message"]
    assert job["kind"] == "ensemble" and job["total_steps"] == 4 and job["progress"] == 1.0
    s = client.get(f"/api/ensembles/{job['id']}/summary").json()
    assert (s["ok"], s["members_run"]) == (4, 4) and set(s["space"]) == {
        "hre_thrift_saving",
        "demand_elasticity_oxide",
    }
    folder = home / "runs" / client.app.state.store.get(job["id"]).cache_key
    bands = pd.read_parquet(folder / "bands.parquet")
    got = client.get(f"/api/ensembles/{job['id']}/tables/bands", params={"item": "oxide:Dy"}).json()
    assert len(got["rows"]) == int((bands["item"] == "oxide:Dy").sum())
    fan = client.get(
        f"/api/ensembles/{job['id']}/figures/fan",
        params={"item": "oxide:Dy", "where": ["Europe", "inside China"]},
    ).json()
    assert fan == json.loads(
        fan_chart(bands, "price_ratio", "oxide:Dy", ["Europe", "inside China"]).to_json()
    )
    r = client.get(f"/api/ensembles/{job['id']}/figures/fan", params={"item": "oxide:Dyy"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "item"]
    assert "'oxide:Dyy' is not in this ensemble; allowed: " in r.text and "oxide:Dy," in r.text
    r = client.get(f"/api/ensembles/{job['id']}/figures/drivers", params={"where": "Mars"})
    assert r.status_code == 422 and "Europe" in r.json()["detail"][0]["msg"]
    drivers = client.get(f"/api/ensembles/{job['id']}/figures/drivers", params={"where": "Europe"}).json()
    assert drivers["data"][0]["type"] == "bar" and "2026" in drivers["layout"]["title"]["text"]
    assert client.get(f"/api/ensembles/{job['id']}/report").text.startswith("<!DOCTYPE html>")
    assert client.get(f"/api/ensembles/{job['id']}/tables/members").status_code == 404
    again = client.post("/api/ensembles", json=body).json()
    assert again["cached"] is True and again["status"] == "done"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"yaml": SHORT, "n": 100_000}, "100000 members; allowed: at most 256"),
        # a Saltelli design of 16 base points over 33 stated ranges (30, the quota growth and two capex
        # ranges) is 16 x 35 = 560
        ({"yaml": SHORT, "n": 16, "sample": "saltelli"}, "n: 16 gives 560 members; allowed: at most 256"),
        ({"yaml": SHORT, "vary": ["suply_elasticity=1"]}, "did you mean 'supply_elasticity'"),
        (
            {"yaml": SHORT, "vary": ["hre_thrift_saving=uniform(0.5, 1.5)"]},
            "reaches outside the allowed values",
        ),
        ({"yaml": SHORT, "only_vary": True}, "nothing varies"),
        ({"yaml": SHORT, "sample": "halton"}, "sample"),
    ],
)
def test_bad_ensembles_get_422(client, body, says):
    r = client.post("/api/ensembles", json=body)
    assert r.status_code == 422 and says in r.text, r.text


def test_identical_requests_at_once_join_one_job(tmp_path):
    import concurrent.futures as cf

    with TestClient(create_app(tmp_path / "s", start_jobs=False)) as c:
        with cf.ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda _: c.post("/api/runs", json={"yaml": SHORT}).json()["id"], range(8)))
        assert len(set(ids)) == 1
        assert c.app.state.store.count("queued") == 1


def test_non_latin_names_and_nan_figures_are_served(client, short_job):
    from reesim.api.common import json_safe

    r = client.post(
        "/api/runs", json={"yaml": SHORT.replace("name: licensing-short", 'name: "稀土 \\"x\\""')}
    )
    job = wait(client, r.json()["id"])
    assert job["status"] == "done" and job["progress"] == 1.0
    x = client.get(f"/api/runs/{job['id']}/tables.xlsx")
    assert x.status_code == 200 and 'filename="run-tables.xlsx"' in x.headers["content-disposition"]
    assert json_safe({"a": [float("nan"), 1.0], "b": {"c": float("inf")}}) == {
        "a": [None, 1.0],
        "b": {"c": None},
    }
    c = client.get("/api/compare", params={"a": job["id"], "b": short_job["id"]})
    assert c.status_code == 200


def test_a_foreign_host_header_is_refused(tmp_path: Path):
    """DNS rebinding: a page on evil.example that rebinds its name to 127.0.0.1 sends Host:
    evil.example; the server answers this machine's names only (400 otherwise), or the names
    reesim serve --allowed-host adds."""
    from reesim.cli.serve import hosts_allowed
    from reesim.errors import InputError

    with TestClient(create_app(tmp_path / "s", start_jobs=False)) as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"Host": "localhost:8000"}).status_code == 200
        assert c.get("/api/health", headers={"Host": "rebound.evil.example"}).status_code == 400
    app = create_app(
        tmp_path / "p", start_jobs=False, allowed_hosts=hosts_allowed("127.0.0.1", ["rees.example.org"])
    )
    with TestClient(app) as c:
        assert c.get("/api/health", headers={"Host": "rees.example.org"}).status_code == 200
        assert c.get("/api/health", headers={"Host": "other.example.org"}).status_code == 400
    # every interface: still this machine's names only, unless names are given
    assert "*" not in hosts_allowed("0.0.0.0", []) and "localhost" in hosts_allowed("0.0.0.0", [])
    assert "10.1.2.3" in hosts_allowed("10.1.2.3", [])
    assert "[fd00::5]" in hosts_allowed("fd00::5", [])  # an IPv6 Host header has brackets
    assert "*.example.org" in hosts_allowed("0.0.0.0", ["*.example.org"])
    for bad in ("http://x/", "name:8000", "rees*", "*", ""):
        with pytest.raises(InputError, match="--allowed-host"):
            hosts_allowed("127.0.0.1", [bad])


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a folder to another user")
def test_the_service_home_must_be_a_private_folder(tmp_path: Path, monkeypatch):
    """The job store names the run folders it serves: a home (or, for the default home, a cache
    folder) another user owns is refused, as the cache folder is; a new home is made 0700."""
    import stat as st

    from reesim.cli.serve import checked_home, default_home
    from reesim.errors import InputError

    mine = checked_home(tmp_path / "home")
    assert st.S_IMODE(mine.stat().st_mode) == 0o700
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    with pytest.raises(InputError, match="owned by user id 65534"):
        checked_home(theirs)
    monkeypatch.delenv("REESIM_SERVE_HOME", raising=False)
    monkeypatch.setenv("REESIM_CACHE_DIR", str(theirs))
    with pytest.raises(InputError, match="--home"):
        checked_home(default_home())
    assert not (theirs / "serve").exists()


def _short(end: int) -> dict:
    """A request for SHORT over a different horizon: a different job each."""
    return {"yaml": SHORT.replace("end: 2026", f"end: {end}")}


def test_one_client_cannot_fill_the_queue_others_share(tmp_path):
    """A client with ``max_queued_per_client`` jobs queued or running gets 429 (Retry-After), while
    another client's job is accepted; joining an identical job counts against no limit; the
    listing never shows who submitted a job; a full queue answers every client 503."""
    app = create_app(tmp_path / "s", start_jobs=False, limits=Limits(max_queued_per_client=2, max_queued=3))
    with TestClient(app, client=("192.0.2.1", 5000)) as a:
        first = a.post("/api/runs", json=_short(2026))
        assert first.status_code == 202, first.text
        assert a.post("/api/runs", json=_short(2027)).status_code == 202
        refused = a.post("/api/runs", json=_short(2028))
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "30", refused.text
        assert "you have 2 jobs queued or running" in refused.text and "allowed: 2 at once" in refused.text
        again = a.post("/api/runs", json=_short(2026))  # the same request joins its job
        assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
        listing = a.get("/api/runs").text
        assert "192.0.2.1" not in listing and "client" not in listing
    with TestClient(app, client=("192.0.2.2", 5000)) as b:
        assert b.post("/api/runs", json=_short(2028)).status_code == 202
        full = b.post("/api/runs", json=_short(2029))
        assert full.status_code == 503 and "3 jobs are already queued" in full.text, full.text
    store = app.state.store
    assert store.count("queued", client="192.0.2.1") == 2 and store.count("queued", client="192.0.2.2") == 1


def test_a_job_store_from_before_clients_were_recorded_opens(tmp_path):
    """A store written before the ``client`` column keeps its jobs, each from client ''."""
    import duckdb

    from reesim.api.store import _SCHEMA, JobStore

    path = tmp_path / "jobs.duckdb"
    old = _SCHEMA.replace(",\n    client VARCHAR NOT NULL DEFAULT ''", "")
    assert "client" not in old
    with duckdb.connect(str(path)) as con:
        con.execute(old)
        con.execute(
            "INSERT INTO jobs (id, kind, cache_key, scenario, counterfactual, request, status, created) "
            "VALUES ('j1', 'run', 'k', 's', 'b', '{}', 'queued', now())"
        )
    store = JobStore(path)
    assert store.get("j1").client == "" and store.count("queued", client="") == 1
    store.close()
