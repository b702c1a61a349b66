"""The web service's disk stays bounded: least recently used results go first, their jobs expire.

A client that sends many different scenarios used to fill the disk (every job record with its
request and every run folder were kept for ever; docs/security.md, known limits).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.api import retention
from reesim.api.app import create_app
from reesim.api.jobs import Limits
from reesim.api.retention import Kept, to_remove, to_remove_by_client
from reesim.api.store import JobStore
from tests.test_api import SHORT, TestClient
from tests.test_api import wait as _wait


def _short(name: str, start: int = 2025) -> str:
    """A two-year licensing run named ``name`` (each start year is a different result)."""
    return SHORT.replace("licensing-short", name).replace(
        "start: 2025, end: 2026", f"start: {start}, end: {start + 1}"
    )


def _kept(*sizes: int) -> list[Kept]:
    """Folders, most recently used first, of the given sizes."""
    return [Kept(f"k{i}", s, 100.0 - i) for i, s in enumerate(sizes)]


def test_least_recently_used_folders_beyond_the_count_or_the_bytes_go():
    keys = lambda ks: [k.key for k in ks]  # noqa: E731
    assert keys(to_remove(_kept(5, 5, 5, 5), keep_results=2, keep_bytes=100)) == ["k2", "k3"]
    # bytes: 5 + 5 fit in 12, the third would not; a later small one still fits
    assert keys(to_remove(_kept(5, 5, 5, 1), keep_results=10, keep_bytes=12)) == ["k2"]
    # the most recent is kept whatever its size; nothing else fits beside it
    assert keys(to_remove(_kept(50, 1, 1), keep_results=10, keep_bytes=12)) == ["k1", "k2"]
    # the count is of folders kept: one removed for its size leaves room for a later one
    assert keys(to_remove(_kept(5, 50, 5, 5), keep_results=3, keep_bytes=20)) == ["k1"]
    assert to_remove([], keep_results=1, keep_bytes=1) == []
    assert to_remove(_kept(5), keep_results=1, keep_bytes=1) == []


def test_a_client_beyond_its_share_loses_its_own_oldest_results_first():
    """Review of 2026-12-06 (docs/security.md, known limits): with one common least-recently-used
    bound, a client sending many different scenarios pushed every other user's results out."""
    keys = lambda ks: [k.key for k in ks]  # noqa: E731
    folders = _kept(5, 5, 5, 5, 5, 5)  # k0 the most recent
    owner = {"k0": "a", "k1": "a", "k2": "b", "k3": "a", "k4": "b"}  # k5: no client recorded
    # a keeps its two most recent (k0, k1): k3 goes although b's older k4 stays
    share, common = to_remove_by_client(folders, owner, 10, 100, 2, 100)
    assert keys(share) == ["k3"] and common == []
    # bytes per client: 5 + 5 fit in 12, a's third does not; b's two fit
    assert keys(to_remove_by_client(folders, owner, 10, 100, 10, 12)[0]) == ["k3"]
    # then the common bound on what is left (k0, k1, k2, k4, k5): the two least recently used go
    share, common = to_remove_by_client(folders, owner, 3, 100, 2, 100)
    assert keys(share) == ["k3"] and keys(common) == ["k4", "k5"]
    # a client's most recent folder is kept whatever its share; unknown clients have none
    assert to_remove_by_client(_kept(50, 50), {"k0": "a"}, 10, 1_000, 1, 1) == ([], [])
    assert to_remove_by_client(folders, {}, 10, 100, 1, 1) == ([], [])


@given(
    sizes=st.lists(st.integers(0, 20), max_size=25),
    clients=st.lists(st.sampled_from(["", "a", "b", "c"]), min_size=25, max_size=25),
    keep=st.integers(1, 12),
    keep_bytes=st.integers(0, 150),
    per=st.integers(1, 6),
    per_bytes=st.integers(0, 60),
)
@settings(max_examples=300, deadline=None)
def test_the_shares_and_the_common_bound_hold_together(sizes, clients, keep, keep_bytes, per, per_bytes):
    folders = _kept(*sizes)
    owner = {k.key: c for k, c in zip(folders, clients, strict=False)}
    share, common = to_remove_by_client(folders, owner, keep, keep_bytes, per, per_bytes)
    gone = {k.key for k in share + common}
    assert len(gone) == len(share) + len(common)  # a folder is removed once
    kept = [k for k in folders if k.key not in gone]
    if folders:
        assert kept and kept[0] == next(k for k in folders if k.key not in {x.key for x in share})
    assert len(kept) <= max(1, keep)
    assert len(kept) <= 1 or sum(k.size_bytes for k in kept) <= keep_bytes
    assert all(owner[k.key] for k in share)  # a folder with no client has no share to exceed
    for c in "abc":
        theirs = [k for k in folders if owner[k.key] == c]
        mine = [k for k in kept if owner[k.key] == c]
        assert len(mine) <= per
        assert len(mine) <= 1 or sum(k.size_bytes for k in mine) <= per_bytes
        lost = [k for k in share if owner[k.key] == c]
        if theirs:
            assert theirs[0] not in lost  # a client's most recent folder is never lost to its share
        if len(theirs) <= per and sum(k.size_bytes for k in theirs) <= per_bytes:
            assert not lost  # a client within its share loses nothing to it


def test_result_folders_are_sized_and_ordered_by_last_use(tmp_path: Path):
    runs = tmp_path / "runs"
    for name, size in (("a", 10), ("b", 300), ("c", 20)):
        (runs / name / "sub").mkdir(parents=True)
        (runs / name / "x.parquet").write_bytes(b"x" * size)
        (runs / name / "sub" / "y.parquet").write_bytes(b"y" * 7)
    (runs / ".d.partial").mkdir()  # a writer's partial folder is not a result
    (runs / "link").symlink_to(runs / "a")  # nor is a link
    (runs / "a" / "ln").symlink_to("/etc/passwd")  # a link inside is counted as itself, not its target
    for name, used in (("a", 1_000), ("b", 3_000), ("c", 2_000)):
        os.utime(runs / name, (used, used))
    got = retention.result_folders(runs)
    assert [(k.key, k.size_bytes) for k in got] == [
        ("b", 307),
        ("c", 27),
        ("a", 17 + len("/etc/passwd")),
    ]


def test_a_finished_job_keeps_no_request_and_old_records_are_deleted(tmp_path: Path):
    store = JobStore(tmp_path / "jobs.duckdb")
    big = {"yaml": "# pad\n" * 10_000}
    for i in range(5):
        store.add(f"j{i}", "run", f"key{i}", "s", "baseline", big, 2)
        time.sleep(0.002)
    assert store.get("j0").request == big  # a job still to run keeps it (a restart queues it again)
    store.finish("j0", True)
    store.finish("j1", False, "boom")
    store.finish("j2", False, "boom")
    store.finish("j3", True)
    assert store.get("j0").request == {} and store.get("j1").request == {}
    assert store.expire("key0", "removed") == 1 and store.get("j0").status == "expired"
    assert store.expire("key4", "removed") == 0  # a queued job is never expired
    # keep the two most recent failed/expired records: j2 and j1 stay, j0 goes; done and queued stay
    assert store.prune_records(2) == 1
    assert store.get("j0") is None and store.get("j1").status == "failed" and store.get("j2") is not None
    assert store.get("j3").status == "done" and store.get("j4").status == "queued"
    store.close()


def test_the_least_recently_used_results_expire_and_run_again_when_asked(tmp_path: Path):
    home = tmp_path / "s"
    with TestClient(create_app(home, limits=Limits(keep_results=2))) as c:
        a = _wait(c, c.post("/api/runs", json={"yaml": _short("a", 2025)}).json()["id"])
        b = _wait(c, c.post("/api/runs", json={"yaml": _short("b", 2026)}).json()["id"])
        assert a["status"] == b["status"] == "done"
        time.sleep(0.05)
        assert c.get(f"/api/runs/{a['id']}/summary").status_code == 200  # a is used after b
        third = _wait(c, c.post("/api/runs", json={"yaml": _short("c", 2027)}).json()["id"])
        assert third["status"] == "done"
        # b was the least recently used: its folder is gone and its job says why
        gone = c.get(f"/api/runs/{b['id']}").json()
        assert gone["status"] == "expired" and "disk bounded" in gone["message"]
        r = c.get(f"/api/runs/{b['id']}/summary")
        assert r.status_code == 410 and "send the request again" in r.text
        assert c.get(f"/api/runs/{a['id']}/tables/prices").status_code == 200
        store = c.app.state.store
        runs = sorted(p.name for p in (home / "runs").iterdir())
        assert runs == sorted(store.get(j).cache_key for j in (a["id"], third["id"]))
        # the same request again runs again (no answer from a folder that is gone) ...
        again = c.post("/api/runs", json={"yaml": _short("b", 2026)}).json()
        assert again["id"] != b["id"] and again["cached"] is False
        assert _wait(c, again["id"])["status"] == "done"
        # ... and pushes out the then least recently used: c (a's tables were read after c finished)
        assert c.get(f"/api/runs/{third['id']}").json()["status"] == "expired"
        assert c.get(f"/api/runs/{a['id']}").json()["status"] == "done"
        assert not any((home / "runs").glob(".expired-*"))
    # a restart with a lower limit keeps only the most recent result; a folder a stopped server
    # had moved out but not deleted is deleted
    left = home / "runs" / ".expired-abc-12345678"
    (left / "sub").mkdir(parents=True)
    with TestClient(create_app(home, limits=Limits(keep_results=1), start_jobs=True)) as c:
        assert [p.name for p in (home / "runs").iterdir()] == [c.app.state.store.get(again["id"]).cache_key]
        assert c.get(f"/api/runs/{a['id']}").json()["status"] == "expired"
        assert not left.exists()
        listed = {j["id"]: j["status"] for j in c.get("/api/runs").json()}
        assert listed[again["id"]] == "done" and listed[a["id"]] == "expired"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("serve", "--keep-results", "0"), "--keep-results: 0; allowed: 1 or more"),
        (("serve", "--keep-gb", "0"), "--keep-gb: 0.0; allowed: more than 0"),
        (("serve", "--keep-gb", "nan"), "--keep-gb: nan"),
        (("serve", "--max-queued-per-client", "0"), "--max-queued-per-client: 0; allowed: 1 or more"),
        (("serve", "--keep-results-per-client", "0"), "--keep-results-per-client: 0; allowed: 1 or more"),
        (("serve", "--keep-gb-per-client", "-1"), "--keep-gb-per-client: -1.0; allowed: more than 0"),
    ],
)
def test_bad_retention_limits_exit_2(capsys, argv, says):
    from tests.test_cli import invoke

    code, _out, err = invoke(capsys, *argv)
    assert code == 2 and says in err, err


def test_the_status_schema_names_expired():
    from reesim.api.schemas import JobOut

    assert "expired" in json.dumps(JobOut.model_json_schema())


def _manager(home: Path, **limits):
    from reesim.api.jobs import JobManager

    store = JobStore(home / "jobs.duckdb")
    return JobManager(home, store, 1, Limits(**limits), "fingerprint"), store


def _folder(runs: Path, key: str, used: float, size: int = 10) -> None:
    (runs / key).mkdir(parents=True)
    (runs / key / "summary.json").write_bytes(b"x" * size)
    os.utime(runs / key, (used, used))


def test_a_job_still_running_keeps_its_folder_and_a_done_job_without_one_expires(tmp_path: Path):
    """Review of 2026-12-06: a worker's child could finish writing while another worker pruned, so
    the job was recorded done with its folder gone (500 on its results, not 410)."""
    m, store = _manager(tmp_path / "s", keep_results=1)
    store.add("run1", "run", "k-running", "s", "baseline", {"yaml": "x"}, 2)
    store.claim("run1")  # its child has written the folder; the worker has not recorded it yet
    store.add("old", "run", "k-old", "s", "baseline", {}, 2)
    store.finish("old", True)
    store.add("lost", "run", "k-lost", "s", "baseline", {}, 2)
    store.finish("lost", True)  # done, but its folder was removed by hand
    _folder(m.runs, "k-running", 1_000)
    _folder(m.runs, "k-old", 2_000)
    _folder(m.runs, "k-new", 3_000)
    assert sorted(m.prune()) == ["k-old"]  # k-new is the one kept; k-running is not the pruner's
    assert (m.runs / "k-running").is_dir() and store.get("run1").status == "running"
    assert store.get("old").status == "expired" and store.get("lost").status == "expired"
    store.close()


def test_prune_bounds_each_client_to_its_share_and_says_why(tmp_path: Path):
    m, store = _manager(tmp_path / "s", keep_results=10, keep_results_per_client=2)
    for i, (key, client) in enumerate(
        (("k-b-old", "10.0.0.2"), ("k-a1", "10.0.0.1"), ("k-a2", "10.0.0.1"), ("k-a3", "10.0.0.1"))
    ):
        store.add(key, "run", key, "s", "baseline", {}, 2, client=client)
        store.finish(key, True)
        _folder(m.runs, key, 1_000 + i)
    # a later request of another client answered from a's folder does not make it the other's
    store.add("k-a3-again", "run", "k-a3", "s", "baseline", {}, 2, done=True, client="10.0.0.2")
    assert store.owners() == {
        "k-b-old": "10.0.0.2",
        "k-a1": "10.0.0.1",
        "k-a2": "10.0.0.1",
        "k-a3": "10.0.0.1",
    }
    assert m.prune() == ["k-a1"]  # a's oldest, although b's is older still
    assert store.get("k-a1").status == "expired" and "its share" in store.get("k-a1").message
    assert store.get("k-b-old").status == "done" and (m.runs / "k-b-old").is_dir()
    store.close()


def test_a_folder_that_cannot_be_moved_fails_neither_the_job_nor_the_start(
    tmp_path: Path, monkeypatch, caplog
):
    m, store = _manager(tmp_path / "s", keep_results=1)
    for i, key in enumerate(("k1", "k2")):
        store.add(key, "run", key, "s", "baseline", {}, 2)
        store.finish(key, True)
        _folder(m.runs, key, 1_000 + i)

    def refuse(runs, key):
        raise PermissionError(13, "Permission denied", str(runs / key))

    monkeypatch.setattr(retention, "move_out", refuse)
    assert m.prune() == []  # logged, not raised
    assert "pruning the result folders failed" in caplog.text
    assert store.get("k1").status == "done" and (m.runs / "k1").is_dir()  # left as it was
    store.close()


def test_results_removed_while_a_request_reads_them_answer_410_not_500(tmp_path: Path):
    """A folder pruned after the route let the request in (possible with --keep-results 1) used to
    answer 500; a file missing from a folder that is still there is still the server's fault."""
    home = tmp_path / "s"
    with TestClient(create_app(home, limits=Limits(keep_results=5)), raise_server_exceptions=False) as c:
        a = _wait(c, c.post("/api/runs", json={"yaml": _short("a", 2025)}).json()["id"])
        b = _wait(c, c.post("/api/runs", json={"yaml": _short("b", 2026)}).json()["id"])
        runs = home / "runs"
        key_a, key_b = (c.app.state.store.get(j["id"]).cache_key for j in (a, b))
        (runs / key_a).rename(runs / f".expired-{key_a}-test")  # as the pruner moves it, mid-read
        r = c.get(f"/api/runs/{a['id']}/summary")
        assert r.status_code == 410 and "while this request read them" in r.text
        assert c.get(f"/api/runs/{a['id']}").json()["status"] == "expired"
        assert c.get(f"/api/compare?a={b['id']}&b={a['id']}").status_code == 410
        (runs / key_b / "summary.json").unlink()  # the folder is there: a fault, not an expiry
        assert c.get(f"/api/runs/{b['id']}/summary").status_code == 500
        assert c.get(f"/api/runs/{b['id']}").json()["status"] == "done"


def test_a_report_is_sent_from_a_handle_opened_in_the_route(tmp_path: Path):
    """Starlette's FileResponse opened the report only after the route returned: a folder moved
    in between answered 500. Sent from a handle opened in the route, a folder moved while the
    report is sent still gives the whole report, and one moved before answers 410."""
    from reesim.api.common import report_response

    page = tmp_path / "runs" / "k" / "report.html"
    page.parent.mkdir(parents=True)
    page.write_text("<!DOCTYPE html>" + "x" * 200_000)
    resp = report_response(page, "report.html")
    page.parent.rename(tmp_path / "runs" / ".expired-k-test")  # the pruner moves it now

    _status, headers, body = _send(resp)
    assert body.decode().startswith("<!DOCTYPE html>") and len(body) == 200_015
    assert headers[b"content-length"] == b"200015"
    assert b'filename="report.html"' in headers[b"content-disposition"]
    assert headers[b"content-security-policy"] == b"frame-ancestors 'none'"
    with pytest.raises(FileNotFoundError):
        report_response(page, "report.html")  # gone before the route opened it: the app's 410

    home = tmp_path / "s"
    with TestClient(create_app(home, limits=Limits(keep_results=5)), raise_server_exceptions=False) as c:
        a = _wait(c, c.post("/api/runs", json={"yaml": _short("a", 2025)}).json()["id"])
        ok = c.get(f"/api/runs/{a['id']}/report")
        assert ok.status_code == 200 and ok.text.startswith("<!DOCTYPE html>")
        assert ok.headers["content-type"].startswith("text/html")
        key = c.app.state.store.get(a["id"]).cache_key
        (home / "runs" / key).rename(home / "runs" / f".expired-{key}-test")
        assert c.get(f"/api/runs/{a['id']}/report").status_code == 410


def _send(resp, headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send an ASGI response to a GET; its status, headers and body."""
    msgs: list[dict] = []

    async def receive():
        return {"type": "http.request"}

    async def send(m):
        msgs.append(m)

    scope = {"type": "http", "method": "GET", "headers": list(headers), "asgi": {"spec_version": "2.4"}}
    asyncio.run(resp(scope, receive, send))
    start = msgs[0]
    body = b"".join(m.get("body", b"") for m in msgs[1:])
    return start["status"], dict(start["headers"]), body


def test_tables_and_workbooks_are_sent_from_a_handle_opened_in_the_route(tmp_path: Path):
    """FileResponse opened a table only after the route returned: a folder moved in between
    answered 500. Held, a folder moved after the route still gives the whole file (and a range
    of it), the handle is closed once sent, and a folder gone before raises in the route (410)."""
    from reesim.api.common import HeldFileResponse

    table = tmp_path / "runs" / "k" / "prices.parquet"
    table.parent.mkdir(parents=True)
    data = bytes(range(256)) * 1000
    table.write_bytes(data)
    whole = HeldFileResponse(table, "application/vnd.apache.parquet", "prices.parquet")
    part = HeldFileResponse(table, "application/vnd.apache.parquet", "prices.parquet")
    table.parent.rename(tmp_path / "runs" / ".expired-k-test")  # the pruner moves it now
    status, headers, body = _send(whole)
    assert status == 200 and body == data and headers[b"content-length"] == b"256000"
    assert b'filename="prices.parquet"' in headers[b"content-disposition"]
    assert whole._held.closed
    status, headers, body = _send(part, [(b"range", b"bytes=1000-1999")])
    assert status == 206 and body == data[1000:2000], status
    assert headers[b"content-range"] == b"bytes 1000-1999/256000"
    with pytest.raises(FileNotFoundError):
        HeldFileResponse(table, "application/vnd.apache.parquet", "prices.parquet")
