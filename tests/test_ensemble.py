"""Ensembles: distributions, the design, members on Dask equal to serial, failures kept, bands.

* Distributions map the unit interval into their support and hit their quantiles (hand values).
* A Latin hypercube puts exactly one member in each of the ``n`` strata of every parameter.
* The design depends only on the space, ``n``, the method and the seed.
* Two Dask workers (a real :class:`distributed.LocalCluster`) give the same member tables as
  the serial run, bit for bit; member ``k`` re-run alone equals member ``k`` of the full run.
* A member whose draw is outside where the world is defined is recorded with its inputs and
  error, not redrawn; the bands count only the members that succeeded.
* The bands are the quantiles of the member tables (checked against pandas).
"""

from __future__ import annotations

import gc
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reesim
from reesim.cache import runtime
from reesim.data import default_dataset
from reesim.ensemble import runner
from reesim.ensemble.design import make_design, unit_sample
from reesim.ensemble.runner import run_ensemble
from reesim.ensemble.space import Distribution, Parameter, default_space, parse_distribution, with_overrides
from reesim.errors import InputError
from reesim.scenario.load import load_scenario
from tests.test_cli import invoke


@pytest.fixture(scope="module")
def one_year():
    sc = load_scenario("china-2025-licensing")
    return sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2025})})


def test_distributions_hit_their_quantiles():
    u = np.array([0.25, 0.5, 0.75])
    assert parse_distribution("x", "uniform(2, 6)").ppf(u) == pytest.approx([3, 4, 5])
    # triangular(0, 0, 1): F(x) = 1 - (1 - x)^2, so the median is 1 - sqrt(0.5)
    assert parse_distribution("x", "triangular(0, 0, 1)").ppf(np.array([0.5]))[0] == pytest.approx(
        1 - math.sqrt(0.5)
    )
    assert parse_distribution("x", "normal(1, 2)").ppf(np.array([0.5, 0.975])) == pytest.approx(
        [1.0, 1 + 2 * 1.959964], rel=1e-5
    )
    assert parse_distribution("x", "lognormal(3, 0.5)").ppf(np.array([0.5]))[0] == pytest.approx(3.0)
    assert list(parse_distribution("x", "discrete(1, 5, 9)").ppf(np.array([0.1, 0.5, 0.9]))) == [1, 5, 9]
    assert parse_distribution("x", "0.7").ppf(u) == pytest.approx([0.7] * 3)


@pytest.mark.parametrize(
    "text, says",
    [
        ("uniform(3, 1)", "low < high"),
        ("triangular(0, 2, 1)", "low <= mode <= high"),
        ("normal(1, 0)", "must be > 0"),
        ("gamma(1, 2)", "is not a distribution"),
        ("uniform(1, x)", "not a number"),
        ("uniform(1)", "takes 2 numbers"),
    ],
)
def test_bad_distributions_are_named(text, says):
    with pytest.raises(InputError, match=r"--vary x: .*") as exc:
        parse_distribution("x", text)
    assert says in str(exc.value)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(
        ["uniform(0.1, 0.9)", "triangular(1, 2, 5)", "discrete(2, 3, 7)", "lognormal(2, 1)"]
    ),
    u=st.floats(1e-9, 1 - 1e-9),
)
def test_every_draw_is_inside_the_support(kind, u):
    d = parse_distribution("x", kind)
    lo, hi = d.support()
    assert lo <= d.ppf(np.array([u]))[0] <= hi


@pytest.mark.parametrize("n", [1, 7, 40])
def test_latin_hypercube_has_one_member_per_stratum(n):
    u = unit_sample(5, n, "lhs", seed=3)
    for j in range(5):
        assert sorted(np.floor(u[:, j] * n).astype(int)) == list(range(n))


def test_design_is_fixed_by_its_seed(one_year):
    space = default_space(one_year)
    a, b, c = (make_design(space, 8, "sobol", s) for s in (1, 1, 2))
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.drop(columns=["member", "seed"]), c.drop(columns=["member", "seed"]))
    assert a["seed"].nunique() == 8
    # every stated range of the world and DESIGN's lead times vary, and each stays in its range
    assert {"demand_elasticity_oxide", "hre_thrift_saving", "dynamics.lead_time_years.mining"} <= set(space)
    for name, p in space.items():
        lo, hi = p.dist.support()
        assert a[name].between(lo, hi).all(), name


def test_overrides_are_checked(one_year):
    space = with_overrides({}, one_year, ["dynamics.lead_time_years.magnet=discrete(1, 2)"])
    assert space["dynamics.lead_time_years.magnet"].dist == Distribution("discrete", (1.0, 2.0))
    with pytest.raises(InputError, match="name a stage"):
        with_overrides({}, one_year, ["dynamics.lead_time_years.smelting=1"])
    with pytest.raises(InputError, match="reaches outside the allowed values"):
        with_overrides({}, one_year, ["hre_thrift_saving=uniform(0.5, 1.5)"])
    with pytest.raises(InputError, match="did you mean 'supply_elasticity'"):
        with_overrides({}, one_year, ["suply_elasticity=1"])
    # dynamics draws are checked against the field's own bounds before any member runs
    with pytest.raises(InputError, match="reaches 20, which is not allowed"):
        with_overrides({}, one_year, ["dynamics.lead_time_years.magnet=uniform(1, 20)"])
    with pytest.raises(InputError, match=r"reaches 1\.2"):
        with_overrides({}, one_year, ["dynamics.max_build_rate=triangular(0.1, 0.2, 1.2)"])


def test_dask_members_equal_serial_and_member_alone_is_bit_identical(one_year, tmp_path, monkeypatch):
    space = {
        k: v
        for k, v in default_space(one_year).items()
        if k in ("hre_thrift_saving", "demand_elasticity_magnet")
    }
    serial = run_ensemble(one_year, space, 4, tmp_path / "serial", method="lhs", seed=11)
    # pool tasks of three members and of one (an ensemble of a thousand runs eight to a task),
    # sized on the pool's threads
    asked = []
    monkeypatch.setattr(runner, "chunk_size", lambda members, workers: asked.append((members, workers)) or 3)
    dask = run_ensemble(one_year, space, 4, tmp_path / "dask", method="lhs", seed=11, workers=2)
    assert asked == [(4, 2)]
    alone = run_ensemble(one_year, space, 4, tmp_path / "alone", method="lhs", seed=11, only=[2])
    assert (serial.ok, dask.ok, alone.ok) == (4, 4, 1)
    # every member names the build that ran it: the workers' is this process's here
    for run in ("serial", "dask"):
        ran = pd.read_parquet(tmp_path / run / "design.parquet")["runtime"]
        assert set(ran) == {runner.runtime_id(runtime())}
        kept = json.loads((tmp_path / run / "summary.json").read_text())["member_runtimes"]
        assert kept == {runner.runtime_id(runtime()): list(runtime())}
    for k in range(4):
        a = pd.read_parquet(tmp_path / "serial" / "members" / f"member-{k:06d}.parquet")
        b = pd.read_parquet(tmp_path / "dask" / "members" / f"member-{k:06d}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "alone" / "members" / "member-000002.parquet"),
        pd.read_parquet(tmp_path / "serial" / "members" / "member-000002.parquet"),
        check_exact=True,
    )
    design = pd.read_parquet(tmp_path / "serial" / "design.parquet")
    alone_design = pd.read_parquet(tmp_path / "alone" / "design.parquet")
    pd.testing.assert_frame_equal(
        alone_design.reset_index(drop=True), design[design["member"] == 2].reset_index(drop=True)
    )
    # The bands are the quantiles of the member tables.
    members = pd.concat(
        pd.read_parquet(p) for p in sorted((tmp_path / "serial" / "members").glob("*.parquet"))
    )
    dy = members[
        (members["metric"] == "price_ratio")
        & (members["item"] == "oxide:Dy")
        & (members["where"] == "Europe")
    ]
    bands = pd.read_parquet(tmp_path / "serial" / "bands.parquet")
    b = bands[
        (bands["metric"] == "price_ratio") & (bands["item"] == "oxide:Dy") & (bands["where"] == "Europe")
    ]
    assert b["n"].item() == 4
    assert b["p50"].item() == pytest.approx(float(dy["value"].median()), rel=1e-12)
    assert b["p5"].item() == pytest.approx(float(dy["value"].quantile(0.05)), rel=1e-12)
    assert (b["p5"] <= b["p25"]).all() and (b["p25"] <= b["p50"]).all() and (b["p75"] <= b["p95"]).all()
    ex = pd.read_parquet(tmp_path / "serial" / "exceedance.parquet")
    e = ex[(ex["item"] == "oxide:Dy") & (ex["where"] == "Europe")]
    assert e["p_above_1_5"].item() == pytest.approx(float((dy["value"] > 1.5).mean()))
    # The screening is Spearman's rank correlation of the figure with each parameter.
    from scipy.stats import spearmanr

    sens = pd.read_parquet(tmp_path / "serial" / "sensitivity.parquet")
    row = sens[
        (sens["metric"] == "price_ratio")
        & (sens["item"] == "oxide:Dy")
        & (sens["where"] == "Europe")
        & (sens["parameter"] == "hre_thrift_saving")
    ]
    x = design.set_index("member").loc[dy["member"], "hre_thrift_saving"].to_numpy()
    assert row["spearman"].item() == pytest.approx(spearmanr(x, dy["value"].to_numpy()).statistic)
    # The licence raises Dy outside China in every member (the sign does not depend on the draw).
    assert (dy["value"] > 1.0).all()


def _member_file(path, member: int, rows: list[tuple]) -> None:
    """A member's file as the runner writes it: ``(metric, item, where, year, value)`` rows."""
    df = pd.DataFrame(rows, columns=["metric", "item", "where", "year", "value"]).astype({"year": "Int64"})
    df.assign(member=member).to_parquet(path, index=False)


def test_an_out_folder_named_with_glob_characters_gets_its_summary(one_year, tmp_path):
    """DuckDB read the member files through a pattern built from the folder: a ``[`` in the user's
    ``--out`` made it a character class, no file matched, and the ensemble failed at its summary
    after every member had run. The files are now listed."""
    space = {k: v for k, v in default_space(one_year).items() if k == "stock_cover_months"}
    out = tmp_path / "runs [2025] *?" / "e[1]"
    out.parent.mkdir()
    s = run_ensemble(one_year, space, 3, out, method="lhs", seed=4)
    assert (s.members, s.ok) == (3, 3)
    bands = pd.read_parquet(out / "bands.parquet")
    assert bands["n"].max() == 3 and len(pd.read_parquet(out / "sensitivity.parquet"))
    # what made the figures: the code, the data and this machine's builds (other CPUs' differ)
    doc = json.loads((out / "summary.json").read_text())
    assert doc["code_version"] == reesim.__version__ and doc["dataset_version"] == default_dataset().version
    assert doc["runtime"] == list(runtime()) and doc["members_ran_on"] == "this machine"
    assert any(r.startswith("piqp build piqp_python") for r in doc["runtime"])


def test_a_folder_named_like_a_pattern_reads_its_own_members_only(tmp_path):
    """DuckDB reads each given path as a pattern and the path itself only where the pattern
    matches nothing: ``e[1]/members/...`` matched ``e1``'s files, and the summary would have
    read another ensemble's members. The paths are escaped."""
    from reesim.ensemble.runner import _bands, _screened

    for name, first in (("e[1]", 1.0), ("e1", 99.0)):
        (tmp_path / name / "members").mkdir(parents=True)
        for m in range(3):
            _member_file(
                tmp_path / name / "members" / f"member-{m:06d}.parquet",
                m,
                [("price_ratio", "oxide:Dy", "Europe", 2025, first + m)],
            )
    assert _screened(tmp_path / "e[1]").to_numpy().ravel().tolist() == [1.0, 2.0, 3.0]
    _bands(tmp_path / "e[1]")
    bands = pd.read_parquet(tmp_path / "e[1]" / "bands.parquet")
    assert bands["n"].tolist() == [3] and bands["mean"].tolist() == [2.0]


def test_failed_members_are_recorded_with_their_inputs(one_year, tmp_path):
    space = {
        "demand_elasticity_oxide": Parameter(
            "demand_elasticity_oxide", Distribution("discrete", (-1.0, 0.5)), 0.5, "test"
        )
    }
    s = run_ensemble(one_year, space, 4, tmp_path / "e", method="lhs", seed=0)
    design = pd.read_parquet(tmp_path / "e" / "design.parquet")
    bad = design[design["demand_elasticity_oxide"] < 0]
    assert len(bad) == 2 and (bad["status"] == "failed").all()
    assert bad["error"].str.contains("demand_elasticity_oxide: -1.0 is not allowed").all()
    assert (s.ok, s.failed, s.members) == (2, 2, 4)
    bands = pd.read_parquet(tmp_path / "e" / "bands.parquet")
    assert (bands["n"] <= 2).all()
    assert len(list((tmp_path / "e" / "members").glob("*.parquet"))) == 2


def test_a_failed_member_leaves_the_others_of_its_pool_task_written(one_year, tmp_path, monkeypatch):
    space = {
        "demand_elasticity_oxide": Parameter(
            "demand_elasticity_oxide", Distribution("discrete", (-1.0, 0.5)), 0.5, "test"
        )
    }
    monkeypatch.setattr(runner, "chunk_size", lambda members, workers: 4)  # one task for all four
    s = run_ensemble(one_year, space, 4, tmp_path / "e", method="lhs", seed=0, workers=2)
    design = pd.read_parquet(tmp_path / "e" / "design.parquet")
    failed = design["demand_elasticity_oxide"] < 0
    assert failed.sum() == 2 and (design.loc[failed, "status"] == "failed").all()
    assert design.loc[failed, "error"].str.contains("demand_elasticity_oxide: -1.0 is not allowed").all()
    assert (design.loc[~failed, "status"] == "ok").all() and (s.ok, s.failed) == (2, 2)
    written = sorted(p.name for p in (tmp_path / "e" / "members").glob("*.parquet"))
    assert written == [f"member-{m:06d}.parquet" for m in sorted(design.loc[~failed, "member"])]


def test_a_worker_with_another_reesim_gets_no_member(one_year, tmp_path, monkeypatch):
    """A worker that joined after the pool's check with another reesim advertises that reesim, not
    the client's (reesim.pool_plugins.AdvertiseReesim): the scheduler gives it no member, and every
    member is computed by the worker that runs this reesim (before, such a worker failed fast and
    took 28 of 60 members in a real run, each recorded as failed). Here one of the two workers is
    made another reesim's once the pool is open: it would refuse any member it got."""
    from reesim import pool

    real = pool.check_workers

    def then_one_differs(client, scheduler=None):
        real(client, scheduler)
        name = pool.resource_name(pool.same_code())

        async def other(dask_worker, name=name):  # a worker with another reesim source, as it would start
            import reesim.pool as p

            real_code = p.same_code
            p.same_code = lambda: {**real_code(), "source": "0" * 64}
            await dask_worker.set_resources(**{name: 0, p.resource_name(p.same_code()): 1})

        client.run(other, workers=[sorted(client.nthreads())[1]])

    monkeypatch.setattr(pool, "check_workers", then_one_differs)
    space = {k: v for k, v in default_space(one_year).items() if k == "hre_thrift_saving"}
    s = run_ensemble(one_year, space, 4, tmp_path / "e", method="lhs", seed=3, workers=2)
    design = pd.read_parquet(tmp_path / "e" / "design.parquet")
    assert (s.ok, s.failed) == (4, 0) and (design["runtime"] == runner.runtime_id(runtime())).all()


def test_members_run_by_another_build_are_named_and_the_cli_says_so(capsys, tmp_path, monkeypatch):
    """A member another CPU's build ran (a scheduler's worker) gets figures equal to about 1e-8, not
    the same bits: design.parquet names each member's build, summary.json spells it out and the CLI
    says that some members' builds are not this machine's."""
    real = runner._results
    other = (*runtime()[:-4], "piqp build piqp_python_avx2", "numpy simd X86_V3", *runtime()[-2:])

    def mixed(*args, **kwargs):
        for member, seed, table, error, rt in real(*args, **kwargs):
            yield member, seed, table, error, other if member == 1 else rt

    monkeypatch.setattr(runner, "_results", mixed)
    code, out, _ = invoke(capsys, "ensemble", "china-2025-licensing", "-n", "2", "--out", str(tmp_path / "e"))
    assert code == 0
    design = pd.read_parquet(tmp_path / "e" / "design.parquet").set_index("member")
    mine, theirs = runner.runtime_id(runtime()), runner.runtime_id(other)
    assert design["runtime"].to_dict() == {0: mine, 1: theirs} and mine != theirs
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert summary["member_runtimes"] == {mine: list(runtime()), theirs: list(other)}
    assert summary["runtime"] == list(runtime())
    assert "1 of the 2 builds that ran members are not this machine's" in " ".join(out.split())


def test_a_pool_task_that_did_not_come_back_fails_each_of_its_members():
    chunk = [(4, 44, {"a": 1.0}), (5, 55, {"a": 2.0}), (6, 66, {"a": 3.0})]
    assert runner.lost(chunk, RuntimeError("worker gone")) == [
        (4, 44, None, "RuntimeError: worker gone"),
        (5, 55, None, "RuntimeError: worker gone"),
        (6, 66, None, "RuntimeError: worker gone"),
    ]


@pytest.mark.parametrize(
    ("members", "workers", "size"),
    [(1000, 2, 8), (10_000, 2, 8), (24, 2, 3), (16, 2, 2), (4, 2, 1), (1, 2, 1), (0, 1, 1), (100, 1, 8)],
)
def test_pool_tasks_hold_up_to_eight_members_and_each_worker_gets_four(members, workers, size):
    assert runner.chunk_size(members, workers) == size


def test_cli_ensemble_errors_exit_2(capsys, tmp_path):
    code, _, err = invoke(
        capsys, "ensemble", "baseline", "-n", "2", "--sample", "halton", "--out", str(tmp_path / "a")
    )
    assert code == 2 and "allowed: lhs, sobol, random" in err
    code, _, err = invoke(
        capsys,
        "ensemble",
        "baseline",
        "-n",
        "2",
        "--vary",
        "supply_elasticity=beta(1,2)",
        "--out",
        str(tmp_path / "a"),
    )
    assert code == 2 and "is not a distribution" in err
    code, _, err = invoke(
        capsys, "ensemble", "baseline", "-n", "2", "--member", "5", "--out", str(tmp_path / "a")
    )
    assert code == 2 and "allowed: 0 to 1" in err
    code, _, err = invoke(
        capsys, "ensemble", "baseline", "-n", "2", "--seed", "-1", "--out", str(tmp_path / "a")
    )
    assert code == 2 and "--seed: -1" in err
    code, _, err = invoke(
        capsys, "ensemble", "baseline", "-n", "2", "--against", "basline", "--out", str(tmp_path / "a")
    )
    assert code == 2 and "basline" in err
    code, _, err = invoke(
        capsys,
        "ensemble",
        "baseline",
        "-n",
        "2",
        "--scheduler",
        "tcp://127.0.0.1:9",  # the discard port: nothing listens
        "--out",
        str(tmp_path / "a"),
    )
    # a plain-TCP scheduler runs any code a client sends: refused unless the network is trusted
    assert code == 2 and "plain-TCP Dask scheduler" in err and "REESIM_INSECURE_SCHEDULER=1" in err
    assert not (tmp_path / "a").exists()


def test_the_counterfactual_shares_the_members_dynamics(tmp_path):
    """Baseline against itself: whatever the drawn dynamics, every price ratio is 1 and welfare 0."""
    sc = load_scenario("baseline")
    sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2028})})
    space = with_overrides(
        {},
        sc,
        ["dynamics.lead_time_years.magnet=discrete(1, 3)", "dynamics.expectation_weight=discrete(0.1, 0.9)"],
    )
    s = run_ensemble(sc, space, 2, tmp_path / "e", method="lhs", seed=5)
    assert s.ok == 2
    members = pd.concat(pd.read_parquet(p) for p in (tmp_path / "e" / "members").glob("*.parquet"))
    ratios = members[members["metric"] == "price_ratio"]["value"].dropna()
    assert len(ratios) and ratios.to_numpy() == pytest.approx(1.0, abs=1e-9)
    pv = members[members["metric"] == "welfare_pv_usd_million"]["value"]
    assert pv.to_numpy() == pytest.approx(0.0, abs=1e-6)


def test_ensemble_report_draws_the_bands_and_the_drivers(capsys, tmp_path):
    """`reesim ensemble --report`: fan charts whose median is the bands' p50, drivers ranked by |rho|."""
    from reesim.reports.ensemble import fan_chart, render_ensemble, sensitivity_bars

    sc = tmp_path / "two.yaml"
    sc.write_text("name: two\nextends: china-2025-licensing\nhorizon: {start: 2025, end: 2026, step: year}\n")
    code, out_, err = invoke(
        capsys,
        "ensemble",
        str(sc),
        "-n",
        "5",
        "--only-vary",
        "--vary",
        "hre_thrift_saving=uniform(0.3, 0.6)",
        "--vary",
        "demand_elasticity_oxide=uniform(0.2, 0.6)",
        "--vary",
        "stock_precaution=uniform(1, 3)",
        "--report",
        "--out",
        str(tmp_path / "e"),
    )
    assert code == 0, err
    assert "5 members (lhs" in out_ and "in process)" in out_  # 5 members: no cluster by default
    assert "with 5 members no correlation can be told from chance" in out_.replace("\n", " ")
    # the command froze this process's collector after its first member and gave it back as it was
    assert gc.get_freeze_count() == 0
    text = (tmp_path / "e" / "report.html").read_text()
    assert text.count("Plotly.newPlot") >= 2 and "What drives oxide:Dy (Europe, 2026)" in text
    assert "https://" not in text.split("</script>", 1)[1]  # nothing fetched (plotly.js is inline)
    bands = pd.read_parquet(tmp_path / "e" / "bands.parquet")
    fig = fan_chart(bands, "price_ratio", "oxide:Dy", ("Europe",))
    median = next(t for t in fig.data if t.mode == "lines+markers")
    b = bands[
        (bands["metric"] == "price_ratio") & (bands["item"] == "oxide:Dy") & (bands["where"] == "Europe")
    ]
    assert list(median.y) == pytest.approx(b.sort_values("year")["p50"].tolist())
    sens = pd.read_parquet(tmp_path / "e" / "sensitivity.parquet")
    fig = sensitivity_bars(sens, "price_ratio", "oxide:Dy", "Europe", 2026)
    bars = fig.data[0]
    # the chance band: 1.96 / sqrt(5 - 1) = 0.98 either side of 0, as the drivers line computes it
    assert fig.layout.shapes[0].x1 == pytest.approx(0.98) and fig.layout.shapes[0].x0 == pytest.approx(-0.98)
    assert len(bars.y) == 3 and list(np.abs(bars.x)) == sorted(
        np.abs(bars.x)
    )  # strongest drawn last (on top)
    assert fan_chart(bands, "price_ratio", "oxide:Xx", ("Europe",)) is None
    assert render_ensemble(tmp_path / "e") == text
    # what made the figures: reesim's and the dataset's versions, and the build of every member
    assert f"reesim {reesim.__version__}" in text and default_dataset().version in text
    assert f"{runner.runtime_id(runtime())}: 5 members (" in text
    with pytest.raises(InputError, match="not a reesim ensemble folder"):
        render_ensemble(tmp_path)


def test_the_ensemble_report_says_what_an_older_folder_did_not_record():
    from reesim.reports.ensemble import identity_table

    old = {"scenario": "x", "seed": 1}
    text = identity_table(old, pd.DataFrame({"member": [0, 1]}))
    assert text.count("not recorded") == 5
    lost = pd.DataFrame({"member": [0, 1, 2], "runtime": ["abc", "", "abc"]})
    text = identity_table({**old, "member_runtimes": {"abc": ["CPython", "3.11.2"]}}, lost)
    assert (
        "abc: 2 members (CPython, 3.11.2)" in text
        and "none (its task failed on its worker or was lost): 1 member" in text
    )


def test_china_quota_growth_is_an_uncertain_input_shared_with_the_counterfactual():
    """The baseline's quota path is an assumption: its growth rates are scaled by a drawn factor
    (0: held at 270 kt, 1.2: about 2024's +5.9 %), in the scenario and its counterfactual alike."""
    from reesim.ensemble.space import QUOTA_GROWTH, apply, outlook
    from reesim.scenario.load import load_scenario

    sc = load_scenario("china-2025-licensing")
    space = default_space(sc)
    assert (
        space[QUOTA_GROWTH].dist == Distribution("uniform", (0.0, 1.2)) and space[QUOTA_GROWTH].value == 1.0
    )
    values = {QUOTA_GROWTH: 0.5, "demand_elasticity_oxide": 0.4, "dynamics.lead_time_years.mining": 6.0}
    q = next(i for i in apply(sc, values).instruments if i.type == "mining_quota")
    assert q.growth == {2026: pytest.approx(0.025), 2031: pytest.approx(0.008)}
    assert set(outlook(values)) == {QUOTA_GROWTH, "dynamics.lead_time_years.mining"}
    held = next(i for i in apply(sc, {QUOTA_GROWTH: 0.0}).instruments if i.type == "mining_quota")
    assert set(held.growth.values()) == {0.0}
    with pytest.raises(InputError, match="reaches below 0"):
        with_overrides({}, sc, [f"{QUOTA_GROWTH}=uniform(-0.5, 1)"])
    no_quota = sc.model_copy(update={"instruments": [i for i in sc.instruments if i.type != "mining_quota"]})
    assert QUOTA_GROWTH not in default_space(no_quota)
    with pytest.raises(InputError, match="no mining_quota with a growth path"):
        with_overrides({}, no_quota, [f"{QUOTA_GROWTH}=1"])


def test_the_default_workers_use_every_core_from_16_members(capsys, tmp_path, monkeypatch):
    """The issue asks for a local cluster by default; a cluster's start-up (about 3 s) costs more than
    it saves on a few members, which run in process."""
    import os

    import reesim.ensemble.runner as runner
    from reesim.errors import InputError
    from reesim.pool import PARALLEL_FROM, default_workers

    assert default_workers(PARALLEL_FROM - 1) == 1
    assert default_workers(PARALLEL_FROM) == (os.cpu_count() or 1)
    asked = []

    def fake(*args, workers, scheduler, **kwargs):
        asked.append((workers, scheduler))
        raise InputError("stopped by the test")

    monkeypatch.setattr(runner, "run_ensemble", fake)
    for n, flags in ((16, ()), (15, ()), (16, ("--workers", "1"))):
        code, _, err = invoke(
            capsys, "ensemble", "baseline", "-n", str(n), *flags, "--out", str(tmp_path / "a")
        )
        assert code == 2 and "stopped by the test" in err
    assert asked == [(os.cpu_count() or 1, None), (1, None), (1, None)]


def test_the_bands_of_the_same_members_are_the_same_bits(tmp_path):
    """DuckDB's threads added a figure's values in the order they finished: the means of the same
    member files differed in the last bits from one computation to the next (up to 2e-14 relative,
    so two runs of one ensemble did not reproduce). Read by one thread, they are the same."""
    from reesim.ensemble.runner import _bands

    rng = np.random.default_rng(3)
    (tmp_path / "members").mkdir()
    where = np.array(["Europe", "outside China", "inside China"])
    for m in range(64):
        k = np.arange(3000)
        pd.DataFrame(
            {
                "metric": "price_ratio",
                "item": "oxide:Dy",
                "where": where[k % 3],
                "year": pd.array(2025 + (k // 3) % 16, dtype="Int64"),
                "value": rng.lognormal(0.0, 1.0, len(k)),
                "member": m,
            }
        ).to_parquet(tmp_path / "members" / f"member-{m:06d}.parquet", index=False)
    tables = []
    for _ in range(3):
        _bands(tmp_path)
        tables.append(pd.read_parquet(tmp_path / "bands.parquet"))
    assert len(tables[0]) == 3 * 16 and tables[0]["n"].sum() == 64 * 3000  # every value counted once
    for t in tables[1:]:
        pd.testing.assert_frame_equal(tables[0], t, check_exact=True)


def test_bands_read_a_metric_at_a_time_are_the_same_bits(tmp_path, monkeypatch):
    """Above BATCH_VALUES the bands are computed a metric at a time (DuckDB's exact quantiles keep
    every value in memory): the same rows, order, dtypes and bits as one query."""
    rng = np.random.default_rng(5)
    (tmp_path / "members").mkdir()
    metrics = np.array(["welfare_change_usd_million_per_year", "price_ratio", "dy_kg_per_t_magnet"])
    for m in range(12):
        k = np.arange(120)
        value = rng.lognormal(0.0, 1.0, len(k))
        value[k % 17 == m % 17] = np.nan  # missing values are left out of every band
        pd.DataFrame(
            {
                "metric": metrics[k % 3],
                "item": np.array(["oxide:Dy", "oxide:Tb"])[(k // 3) % 2],
                "where": "Europe",
                "year": pd.array(np.where(k % 10 == 0, None, 2025 + k % 4), dtype="Int64"),
                "value": value,
                "member": m,
            }
        ).to_parquet(tmp_path / "members" / f"member-{m:06d}.parquet", index=False)
    runner._bands(tmp_path)
    whole = pd.read_parquet(tmp_path / "bands.parquet")
    monkeypatch.setattr(runner, "BATCH_VALUES", 12 * 120 - 1)
    runner._bands(tmp_path)
    batched = pd.read_parquet(tmp_path / "bands.parquet")
    assert whole["metric"].nunique() == 3 and whole["year"].isna().any()
    pd.testing.assert_frame_equal(whole, batched, check_exact=True)


@settings(max_examples=40, deadline=None)
@given(
    members=st.integers(3, 60),
    figures=st.integers(1, 70),
    chunk=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_ranks_a_chunk_at_a_time_are_pandas_ranks_of_the_whole_selection(members, figures, chunk, seed):
    """The sensitivity ranks a few figures at a time: each column's ranks (ties averaged) and the
    column-major layout must be those of ranking the whole selection at once, which the Pearson
    sums' order depends on."""
    from reesim.ensemble import runner

    rng = np.random.default_rng(seed)
    values = rng.integers(0, 5, (members, figures)).astype(float)  # ties
    values[rng.random(values.shape) < 0.1] = np.nan
    rows = rng.random(members) < 0.8
    cols = sorted(rng.choice(figures, rng.integers(1, figures + 1), replace=False).tolist())
    whole = pd.DataFrame(values[rows][:, cols]).rank().to_numpy(dtype=float)
    old = runner.RANK_COLUMNS
    try:
        runner.RANK_COLUMNS = chunk
        y = runner._ranks(values, rows, cols)
    finally:
        runner.RANK_COLUMNS = old
    assert (
        y.tobytes(order="A") == whole.tobytes(order="A") and y.flags.f_contiguous == whole.flags.f_contiguous
    )
    x = rng.random((int(rows.sum()), 3))
    assert runner._pearson(x, y).tobytes() == runner._pearson(x, whole).tobytes()


@pytest.mark.parametrize("batch", [5000, 1])
def test_screened_figures_are_each_members_values_and_refuse_a_doubled_figure(tmp_path, monkeypatch, batch):
    """The sensitivity's table of members x figures: a member's value of each screened figure, NaN
    where its value is missing (NULL) or its row absent; only figures some member has (no product
    of the keys' levels); a member with two values of one figure is refused, whether its files are
    read in one batch or in two."""
    from reesim.ensemble import runner
    from reesim.ensemble.runner import _screened
    from reesim.errors import ReesimError

    monkeypatch.setattr(runner, "SCREEN_FILES", batch)

    (tmp_path / "members").mkdir()
    rows = {
        0: [
            ("price_ratio", "oxide:Dy", "Europe", 2025, 2.5),
            ("price_ratio", "oxide:Dy", "Europe", 2026, None),
            ("price_ratio", "oxide:Tb", "Japan", 2025, 1.5),
            ("welfare_pv_usd_million", "total", "world", None, -3000.0),
            ("welfare_pv_usd_million", "total", "CHN", None, 9.0),  # not screened
            ("price_usd_per_kg", "oxide:Dy", "Europe", 2025, 700.0),  # not screened
        ],
        1: [
            ("price_ratio", "oxide:Dy", "Europe", 2025, 3.0),
            ("price_ratio", "oxide:Dy", "Europe", 2026, 3.5),
            ("dy_kg_per_t_magnet", "magnet:ndfeb", "outside China", 2026, 7.3),
        ],
    }
    for m, rs in rows.items():
        _member_file(tmp_path / "members" / f"member-{m:06d}.parquet", m, rs)
    wide = _screened(tmp_path)
    assert list(wide.columns) == [
        ("dy_kg_per_t_magnet", "magnet:ndfeb", "outside China", 2026),
        ("price_ratio", "oxide:Dy", "Europe", 2025),
        ("price_ratio", "oxide:Dy", "Europe", 2026),
        ("price_ratio", "oxide:Tb", "Japan", 2025),
        ("welfare_pv_usd_million", "total", "world", pd.NA),
    ]
    assert list(wide.columns.names) == ["metric", "item", "where", "year"]
    expected = np.array([[np.nan, 2.5, np.nan, 1.5, -3000.0], [7.3, 3.0, 3.5, np.nan, np.nan]])
    np.testing.assert_array_equal(wide.to_numpy(), expected)
    assert wide.index.tolist() == [0, 1] and wide.index.name == "member"
    _member_file(
        tmp_path / "members" / "member-000001-copy.parquet",
        1,
        [("price_ratio", "oxide:Dy", "Europe", 2025, 9.0)],
    )
    with pytest.raises(ReesimError, match="a member has two values of one figure"):
        _screened(tmp_path)


@pytest.mark.parametrize("batch", [5000, 2, 1])
def test_a_member_split_over_files_is_one_row_in_any_batching(tmp_path, monkeypatch, batch):
    """Member 0's figures in two files (read before and after member 1's in name order): one row,
    its cells from both files, the members in order, however many files a query reads."""
    from reesim.ensemble import runner

    monkeypatch.setattr(runner, "SCREEN_FILES", batch)
    (tmp_path / "members").mkdir()
    files = {
        "member-000000.parquet": (0, [("price_ratio", "oxide:Dy", "Europe", 2025, 2.5)]),
        "member-000001.parquet": (1, [("price_ratio", "oxide:Dy", "Europe", 2025, 3.0)]),
        "member-000002-rest.parquet": (0, [("price_ratio", "oxide:Tb", "Japan", 2025, 1.5)]),
    }
    for name, (m, rs) in files.items():
        _member_file(tmp_path / "members" / name, m, rs)
    wide = runner._screened(tmp_path)
    assert wide.index.tolist() == [0, 1]
    np.testing.assert_array_equal(wide.to_numpy(), [[2.5, 1.5], [3.0, np.nan]])


@pytest.mark.parametrize("batch", [5000, 1])
def test_members_out_of_name_order_are_sorted(tmp_path, monkeypatch, batch):
    """From member 1,000,000 the names (``member-<k:06d>``) no longer sort as the members do:
    the table is still in member order, each member's own values."""
    from reesim.ensemble import runner

    monkeypatch.setattr(runner, "SCREEN_FILES", batch)
    (tmp_path / "members").mkdir()
    for m in (999_999, 1_000_000, 1_000_001):
        _member_file(
            tmp_path / "members" / f"member-{m:06d}.parquet",
            m,
            [("price_ratio", "oxide:Dy", "Europe", 2025, float(m))],
        )
    wide = runner._screened(tmp_path)
    assert wide.index.tolist() == [999_999, 1_000_000, 1_000_001]
    assert wide.to_numpy().ravel().tolist() == [999_999.0, 1_000_000.0, 1_000_001.0]


def test_the_drivers_line_says_which_correlations_stand_out_from_chance():
    from reesim.cli.ensemble import _chance

    # 1.96 / sqrt(31) = 0.352; 1.96 / sqrt(63) = 0.247
    assert "|rho| above 0.35 is unlikely by chance with 32 members" in _chance(32)
    assert "|rho| above 0.25" in _chance(64)
    assert "can be told from chance" in _chance(9) and "|rho|" in _chance(10)


def test_an_in_process_ensemble_leaves_what_the_caller_froze_frozen(capsys, tmp_path):
    """The console script freezes its imports (cli.main._collect_less); an in-process ensemble that
    freezes and unfreezes around its members must leave the caller's objects frozen."""
    sc = tmp_path / "two.yaml"
    sc.write_text("name: two\nextends: china-2025-licensing\nhorizon: {start: 2025, end: 2026, step: year}\n")
    caller = [object()]  # one of the caller's objects: frozen ones are not in gc.get_objects()
    gc.freeze()
    try:
        assert not any(o is caller for o in gc.get_objects())
        code, _, err = invoke(
            capsys,
            "ensemble",
            str(sc),
            "-n",
            "2",
            "--only-vary",
            "--vary",
            "stock_precaution=uniform(1, 3)",
            "--out",
            str(tmp_path / "e"),
        )
        assert code == 0, err
        # the caller's objects are still frozen (the frozen count itself can fall: frozen objects
        # that die, such as entries a cache drops, leave it)
        assert not any(o is caller for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_members_waiting_on_workers_that_all_run_another_reesim_are_recorded_failed(
    one_year, tmp_path, monkeypatch
):
    """Workers that all run another reesim would leave the members waiting for ever: after the
    patience (reesim.pool.watch) each is recorded as failed with the reason, and the run ends."""
    from tests.test_pool import all_workers_replaced_by_another_reesim

    all_workers_replaced_by_another_reesim(monkeypatch)
    space = {k: v for k, v in default_space(one_year).items() if k == "hre_thrift_saving"}
    s = run_ensemble(one_year, space, 4, tmp_path / "e", method="lhs", seed=3, workers=2)
    design = pd.read_parquet(tmp_path / "e" / "design.parquet")
    assert (s.ok, s.failed) == (0, 4) and len(design) == 4
    assert design["error"].str.startswith("WorkerMismatch: for 1 s no worker ran the client's reesim: ").all()
    assert (design["runtime"] == "").all()  # no worker ran them
