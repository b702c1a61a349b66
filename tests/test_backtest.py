"""Backtests: what the calibration can know, an end-to-end run on a short episode, the shipped
episodes, the outputs and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pandas as pd
import pytest

from reesim.backtest.episode import load_episode
from reesim.backtest.run import period_bounds, run_backtest
from reesim.errors import InputError

SHORT = textwrap.dedent(
    """
    name: short
    title: A short test episode
    knowledge:
      as_of: 2025-03-31
      reference_year: 2022
      exceptions:
        - table: prices
          filters: {element: [Ho, Er, Yb, Lu], date: "2022", market_code: fob_china, form_code: oxide}
          justification: test
        - table: processing_capacity
          filters: {entity: "United States (all producers)", metric: "production of rare-earth compounds and metals", year: 2022}
          justification: test
        - table: processing_capacity
          filters: {entity: China, metric: "share of global permanent-magnet manufacturing"}
          justification: test
    pre_episode: 2024-12-31
    scenario:
      name: short
      horizon: {start: 2023, end: 2025, step: year}
      instruments:
        - type: export_quota
          name: shock
          exporter: CHN
          destinations: all
          commodities: [oxide:Dy, oxide:Tb, magnet:ndfeb]
          approval_share: 0.5
          start: 2025-04-04
    shocks: [shock]
    series:
      - {label: "Tb oxide, FOB China", unit: USD/kg, observed: {table: prices, filters: {element: Tb, form_code: oxide, market_code: fob_china}}, simulated: {kind: price, commodity: "oxide:Tb", market: fob_china}}
      - {label: "Nd oxide, Europe", unit: USD/kg, observed: {table: prices, filters: {element: Nd, form_code: oxide, market_code: europe}}, simulated: {kind: price, commodity: "oxide:Nd", region: EU}}
      - {label: "China mine production", unit: t REO/yr, observed: {table: mine_production, filters: {iso3: CHN}}, simulated: {kind: production, stage: mining, region: CHN}}
    judgement:
      - {parameter: approval share, value: 0.5, justification: test}
    """
)


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    path = tmp_path_factory.mktemp("bt") / "short.yaml"
    path.write_text(SHORT)
    return path


@pytest.fixture(scope="module")
def short_run(short):
    return run_backtest(load_episode(short))


def test_period_bounds():
    assert period_bounds("2025") == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert period_bounds("2011-Q2") == (dt.date(2011, 4, 1), dt.date(2011, 6, 30))
    assert period_bounds("2010-Q4") == (dt.date(2010, 10, 1), dt.date(2010, 12, 31))
    assert period_bounds("2026-01") == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert period_bounds("2024-12") == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert period_bounds("2025-05-06") == (dt.date(2025, 5, 6), dt.date(2025, 5, 6))
    assert period_bounds("first batch") is None


def test_2010_calibration_cannot_read_anything_observed_or_published_after_the_cut_off(ds):
    """The issue's proof: every price and production row the 2010 backtest's vintage view can
    return was observed and published by 2010-06-30."""
    ep = load_episode("2010")
    view = ds.as_of(
        ep.knowledge.as_of, exceptions=tuple((e.table, e.filters) for e in ep.knowledge.exceptions)
    )
    cut = pd.Timestamp("2010-06-30")
    vint = pd.to_datetime(ds.table("sources").set_index("source_id")["vintage_date"])
    for table in ("prices", "mine_production", "china_export_quotas", "trade_flows", "processing_capacity"):
        rows = view.table(table)
        assert (pd.to_datetime(rows["observed_end"]) <= cut).all(), table
        assert (rows["source_id"].map(vint) <= cut).all(), table
    # ... while the full dataset holds the episode's later observations.
    assert (pd.to_datetime(ds.table("prices")["observed_end"]) > cut).sum() > 100


def test_blocked_episode_says_why_and_still_shows_the_observations():
    r = run_backtest(load_episode("2010"))
    assert r.status == "blocked"
    assert "mine production by country for 2009: 0 row(s)" in r.reason
    assert set(r.scores["verdict"]) == {"not run"}
    nd = r.scores.set_index("series").loc["Nd oxide, FOB China"]
    # FOB China Nd oxide: 19.12 USD/kg in 2009 (pre-episode) and a peak of 260 in October 2011.
    assert nd["peak_multiple_observed"] == pytest.approx(260 / 19.12)
    assert set(r.paths["path"]) == {"observed"}


def test_short_episode_runs_end_to_end(short_run):
    r = short_run
    assert r.status == "run"
    assert list(r.scores["series"]) == ["Tb oxide, FOB China", "Nd oxide, Europe", "China mine production"]
    assert set(r.paths["path"]) == {"observed", "simulated", "counterfactual"}
    assert set(r.scores["verdict"]) <= {"hit", "partial", "miss", "no score"}
    # The pre-episode levels are the 2024 observation and the 2024 simulated step (annual steps).
    tb = r.scores.set_index("series").loc["Tb oxide, FOB China"]
    assert tb["pre_observed"] == 812.0  # USGS MCS 2026, FOB China 2024
    sim = r.paths[(r.paths["label"] == "Tb oxide, FOB China") & (r.paths["path"] == "simulated")]
    assert tb["pre_simulated"] == pytest.approx(float(sim.loc[sim["period"] == "2024", "value"].iloc[0]))
    # Before the shock the episode and its counterfactual are the same run.
    cf = r.paths[(r.paths["label"] == "Tb oxide, FOB China") & (r.paths["path"] == "counterfactual")]
    assert float(cf.loc[cf["period"] == "2024", "value"].iloc[0]) == pytest.approx(
        tb["pre_simulated"], rel=1e-6
    )
    # Observed points come from the dataset with their sources, inside the simulated horizon.
    obs = r.paths[r.paths["path"] == "observed"]
    assert obs["source_id"].str.len().gt(0).all()
    assert (pd.to_datetime(obs["end"]) >= pd.Timestamp("2023-01-01")).all()


def test_calibration_read_nothing_after_the_cut_off_except_the_named_exceptions(short_run, ds):
    ep = short_run.episode
    allowed = set()
    for e in ep.knowledge.exceptions:
        allowed |= set(ds.table(e.table, **e.filters)["source_id"])
    beyond = short_run.audit["rows_beyond_cutoff"]
    assert beyond, "the test episode needs its exceptions"
    assert {b["source_id"] for b in beyond} <= allowed
    # Row by row: every row read beyond the cut-off is one an exception's filters admit.
    assert short_run.audit["unexplained"] == []
    assert short_run.audit["tables"]["mine_production"]["latest_observed"] <= "2025-03-31"


def test_episode_format_errors(tmp_path):
    p = tmp_path / "e.yaml"
    p.write_text(SHORT.replace("shocks: [shock]", "shocks: [shok]"))
    with pytest.raises(InputError, match=r"shocks: \['shok'\] name no instrument"):
        load_episode(p)
    p.write_text(
        SHORT.replace("kind: production, stage: mining, region: CHN", "kind: production, region: CHN")
    )
    with pytest.raises(InputError, match="needs stage"):
        load_episode(p)
    with pytest.raises(InputError, match=r"neither a file nor a shipped episode.*2010"):
        load_episode("2011")


def test_shipped_2025_episode_and_cli(capsys, tmp_path):
    from tests.test_cli import invoke

    out = tmp_path / "bt"
    code, stdout, err = invoke(capsys, "backtest", "2025", "--out", str(out))
    assert code == 0, err
    # Every step solves with PIQP: stocks drawn to zero no longer leave release bounds of 1e-12
    # kt that stalled it (68 fallbacks to Clarabel, 17.5 s of a 26.7 s run; reesim.model.qp.ZERO_BOUND).
    assert "PIQP failed" not in err
    assert "Backtest 2025" in stdout and "(run)" in stdout
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["status"] == "run" and len(doc["scores"]) == 20
    assert any(r.startswith("piqp build piqp_python") for r in doc["runtime"])  # what made the scores
    assert sum(doc["summary"]["verdicts"].values()) == 20
    assert doc["knowledge"]["audit"]["unexplained"] == []
    # Every row read beyond the cut-off is one of the named exceptions' sources.
    exc_sources = {"usgs-mineral-commodity-08b62d", "usgs-mcs-2026-106cb1", "iea-commentary-2025-c13645"}
    exc_sources |= {"usgs-mcs-2025-ecebee", "mexico-business-news-be944d"}
    assert {b["source_id"] for b in doc["knowledge"]["audit"]["rows_beyond_cutoff"]} <= exc_sources
    assert doc["judgement"] and all(j["justification"] for j in doc["judgement"])
    assert (out / "paths.parquet").is_file()
    # Myanmar's output sizes the Kachin disruption: shown, verdict 'input', out of the counts.
    scores = {r["series"]: r for r in doc["scores"]}
    assert scores["Myanmar mine production"]["verdict"] == "input"
    # China's domestic quotes (yuan) are scored on their changes, with no level error, and drawn
    # as an index: SMM's Dy oxide 1.70-1.72 million CNY/t on 2025-03-03, the pre-episode level.
    dy = scores["Dy oxide, China domestic"]
    assert dy["unit"] == "CNY/t" and dy["pre_observed"] == pytest.approx(1_710_000)
    assert dy["log_rmse"] is None and dy["verdict"] in {"hit", "partial", "miss"}
    assert dy["peak_multiple_observed"] == pytest.approx(1_660_000 / 1_710_000)
    assert "1 is an input (Myanmar mine production)" in doc["summary"]["reading"]
    # Mines outside China on a cash-cost curve anchored at the trough (reesim.world.cash_costs) do
    # not shut in when prices fall through 2023-24 in the 2022 world: Myanmar's stays at capacity
    # without the shocks (it fell 13 % when the cost was a share of the 2022 peak value), Australia's
    # within 10 % (it fell 21 %; what is left comes from the calibrated Australia-Malaysia route
    # cost, which levers the mine-gate value).
    paths = pd.read_parquet(out / "paths.parquet")
    cf = paths[paths["path"] == "counterfactual"]
    mmr = cf[cf["label"] == "Myanmar mine production"]["value"]
    aus = cf[cf["label"] == "Australia mine production"]["value"]
    assert mmr.min() >= 0.999 * mmr.max()
    assert aus.min() >= 0.9 * aus.max()
    # The README's score table is the generated one, never typed (regenerate: reesim backtest 2025 --markdown).
    from pathlib import Path

    from reesim.backtest.output import markdown_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = markdown_table(doc)
    assert table in readme, "README's 2025 score table is stale: paste `reesim backtest 2025 --markdown`"
    html = (out / "report.html").read_text()
    assert "What the calibration knew" in html and "Knowledge audit" in html
    assert "Dy oxide, China domestic (pre-episode = 1)" in html
    # the yuan series' simulated pre-episode level is the model's price, and says so
    pre_sim = f"{dy['pre_simulated']:,.2f} USD/kg"
    assert pre_sim in html
    dom = paths[paths["label"] == "Dy oxide, China domestic"].groupby("path")["unit"].unique()
    assert {k: list(v) for k, v in dom.items()} == {
        "counterfactual": ["USD/kg"],
        "observed": ["CNY/t"],
        "simulated": ["USD/kg"],
    }
    code, _, err = invoke(capsys, "backtest", "2011")
    assert code == 2 and "shipped episode" in err


def test_audit_flags_a_row_no_exception_admits(ds):
    """A leak from a source that also supplies an exception is still caught: rows are matched one by one."""
    from reesim.backtest.episode import Exception_
    from reesim.backtest.run import _Audit

    exc = [
        Exception_(
            table="prices",
            filters={"element": "Ho", "date": "2022", "market_code": "fob_china"},
            justification="t",
        )
    ]
    view = ds.as_of("2025-03-31", exceptions=tuple((e.table, e.filters) for e in exc))
    audit = _Audit(view, ds, exc)
    audit.table("prices", element="Ho", market_code="fob_china")  # admitted
    leak = ds.table("prices", element="Er", date="2022", market_code="fob_china")  # same source, not admitted
    assert leak["source_id"].iloc[0] == "usgs-mineral-commodity-08b62d"
    audit.read.append(("prices", leak))
    rep = audit.report(ds)
    assert [u["source_id"] for u in rep["unexplained"]] == ["usgs-mineral-commodity-08b62d"]
    assert len(rep["rows_beyond_cutoff"]) == 1  # the same source: one entry, and it is unexplained


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("reference_year: 2022", "reference_year: 2202", "is after the cut-off"),
        (
            'commodity: "oxide:Tb", market',
            'commodity: "oxide:Tbb", market',
            r"series\[0\].*unknown commodity 'oxide:Tbb'",
        ),
        ("region: EU}", "region: EUR}", r"series\[1\].*region: unknown region 'EUR'"),
        (
            'date: "2022", market_code: fob_china',
            'date: "2022-01", market_code: fob_china',
            r"exceptions\[0\]: no row",
        ),
        ("  name: short\n  horizon", "  name: short\n  extends: baseline\n  horizon", "extends: not allowed"),
    ],
)
def test_episode_mistakes_are_input_errors_not_blocked_runs(tmp_path, old, new, match):
    assert old in SHORT
    p = tmp_path / "e.yaml"
    p.write_text(SHORT.replace(old, new))
    with pytest.raises(InputError, match=match):
        run_backtest(load_episode(p))


# Each 2025 event the episode carries is a sourced policy_events row, and the instrument that
# stands for it does what the row says on the row's date.
EVENT_ROWS = {
    "cn-licensing-review": ("2025-04", "export licensing"),
    "cn-tariff-us-125": ("2025-04-12", "additional import tariff"),
    "cn-tariff-us-10": ("2025-05-14", "tariff reduction"),
    "mp-halts-china": ("2025-04-17", "halt of concentrate exports"),
    "dod-ndpr-floor": ("2025-10-01", "price protection commenced"),
    "kachin-war-2025": ("2024-10", "seizure of mining area"),
}


def test_each_2025_event_row_drives_the_instrument_it_names():
    import datetime as dt

    from reesim.backtest.episode import load_episode
    from reesim.backtest.run import _scenarios
    from reesim.data import default_dataset
    from reesim.instruments import trade as trade_mod
    from reesim.scenario.spec import PriceFloor
    from reesim.simulate.stepper import scenario_world

    ep = load_episode("2025")
    scenario = _scenarios(ep)[0]
    events = default_dataset().table("policy_events")
    sources = set(default_dataset().table("sources")["source_id"])
    by_name = {i.name: i for i in scenario.instruments}
    for name, (date, instrument) in EVENT_ROWS.items():
        rows = events[(events["date"] == date) & (events["instrument"] == instrument)]
        assert len(rows) >= 1, (name, date)
        assert rows["source_id"].isin(sources).all(), name
        assert name in by_name and name in ep.shocks, name
    world = scenario_world(scenario)

    def pol(day: dt.date):
        return trade_mod.step_policies(scenario, world, day, None, tuple(world.quotas["quota"]))

    def us_tariff(day: dt.date) -> float:
        av = pol(day)["ad_valorem"]
        av = av[
            (av["origin"] == "USA") & (av["dest"] == "CHN") & (av["commodity"] == "concentrate:mountain_pass")
        ]
        return float(av["rate"].sum())

    assert us_tariff(dt.date(2025, 4, 1)) == 0.0
    assert us_tariff(dt.date(2025, 4, 20)) == pytest.approx(1.25)
    assert us_tariff(dt.date(2025, 6, 1)) == pytest.approx(0.10)
    bans = pol(dt.date(2025, 4, 20))["bans"]
    assert (
        (bans["origin"] == "USA")
        & (bans["dest"] == "CHN")
        & (bans["commodity"] == "concentrate:mountain_pass")
    ).any()
    assert pol(dt.date(2025, 4, 10))["bans"].query("origin == 'USA'").empty
    assert ("oxide:Dy", "JPN") in pol(dt.date(2025, 4, 20))["restricted"]
    floor = by_name["dod-ndpr-floor"]
    assert isinstance(floor, PriceFloor) and floor.floor_usd_per_kg == 110
    assert floor.in_force(dt.date(2025, 10, 1)) and not floor.in_force(dt.date(2025, 9, 30))
    kachin = by_name["kachin-war-2025"]
    assert kachin.region == "MMR" and kachin.share_out == pytest.approx(1 - 22 / 27, abs=5e-4)
    # USGS MCS 2026 sizes it: Myanmar's 2025 and 2024 output (the series it sizes is an input).
    mp = default_dataset().table("mine_production", iso3="MMR", source_id="usgs-mineral-commodity-ee47b4")
    got = dict(zip(mp["year"], mp["production_t_reo"], strict=True))
    assert 1 - got[2025] / got[2024] == pytest.approx(kachin.share_out, abs=5e-4)
    assert [s.role for s in ep.series if s.label == "Myanmar mine production"] == ["input"]


# U.S. duties of the episode, each a sourced policy_events row; in both runs (not shocks).
US_DUTY_ROWS = {
    "us-ieepa-china-10": ("2025-02-04", "additional import tariff (fentanyl)"),
    "us-ieepa-china-20": ("2025-03-04", "additional import tariff (fentanyl)"),
    "us-ieepa-china-10-after-deal": ("2025-11-10", "additional import tariff (fentanyl) cut"),
    "us-duties-magnets-145": ("2025-04-10", "reciprocal tariff on China"),
    "us-duties-magnets-20-annex": ("2025-09-08", "reciprocal tariff exemption (Annex II)"),
    "us-301-magnets": ("2026-02-24", "end of IEEPA duties"),
}


def test_us_duties_on_chinese_rare_earths_follow_their_event_rows():
    """No Section 301 duty on oxides or metals (rare earths left off Lists 3-4 and the 2024
    critical minerals: sourced rows); the IEEPA duty 10 %, 20 %, 10 %; the reciprocal tariff on
    magnets only, until their Annex II exemption; Section 301 on magnets from 2026; IEEPA ended."""
    import datetime as dt

    from reesim.backtest.episode import load_episode
    from reesim.backtest.run import _scenarios
    from reesim.data import default_dataset
    from reesim.instruments import trade as trade_mod
    from reesim.simulate.stepper import scenario_world

    ep = load_episode("2025")
    scenario, counterfactual = _scenarios(ep)[:2]
    events = default_dataset().table("policy_events")
    for name, (date, instrument) in US_DUTY_ROWS.items():
        assert len(events[(events["date"] == date) & (events["instrument"] == instrument)]) == 1, name
        assert name not in ep.shocks and name in {i.name for i in counterfactual.instruments}, name
    for date in ("2018-09-17", "2019-05-13", "2024-09-13"):  # why there is no Section 301 duty on oxides
        rows = events[(events["date"] == date) & events["instrument"].str.contains("Section 301")]
        assert len(rows) >= 1, date
    world = scenario_world(scenario)

    def duty(day: dt.date, commodity: str) -> float:
        av = trade_mod.step_policies(scenario, world, day, None, tuple(world.quotas["quota"]))["ad_valorem"]
        av = av[(av["origin"] == "CHN") & (av["dest"] == "USA") & (av["commodity"] == commodity)]
        return float(av["rate"].sum())

    assert duty(dt.date(2024, 10, 15), "oxide:Nd") == 0.0  # the 2024 review did not touch rare earths
    assert duty(dt.date(2025, 2, 10), "oxide:Dy") == pytest.approx(0.10)
    assert duty(dt.date(2025, 4, 20), "metal:Nd") == pytest.approx(0.20)  # Annex II: no reciprocal tariff
    assert duty(dt.date(2025, 4, 20), "magnet:ndfeb") == pytest.approx(1.45)  # fentanyl 20 + reciprocal 125
    assert duty(dt.date(2025, 6, 1), "magnet:ndfeb") == pytest.approx(0.30)
    assert duty(dt.date(2025, 10, 1), "magnet:ndfeb") == pytest.approx(0.20)  # magnets in Annex II
    assert duty(dt.date(2025, 12, 1), "oxide:Nd") == pytest.approx(0.10)
    assert duty(dt.date(2025, 12, 1), "magnet:ndfeb") == pytest.approx(0.10)
    assert duty(dt.date(2026, 2, 1), "magnet:ndfeb") == pytest.approx(0.35)  # Section 301 + IEEPA
    assert duty(dt.date(2026, 3, 1), "magnet:ndfeb") == pytest.approx(0.25)  # IEEPA struck down
    assert duty(dt.date(2026, 3, 1), "oxide:Nd") == 0.0


def test_fob_china_is_chinas_price_plus_the_export_weighted_licence_rent_by_hand(short_run):
    """The FOB China price is China's own price (what the world is calibrated to) plus, when the
    rent is included, the licence rent on China's exports weighted by their tonnes; with the rent
    excluded it is China's price. It is never below China's price: no seller exports for less
    than it gets at home (the old definition, destination price less transport, carried the
    calibrated routes' negative intercepts and gave a Dy FOB of -100 USD/kg in May 2025)."""
    from reesim.backtest.episode import Series
    from reesim.backtest.run import licence_rents, simulated_points

    res = short_run.results["scenario"]
    base = {
        "label": "Tb",
        "unit": "USD/kg",
        "observed": {"table": "prices", "filters": {"element": "Tb"}},
        "simulated": {"kind": "price", "commodity": "oxide:Tb", "market": "fob_china"},
    }
    gross = Series(**base)
    net = Series(**{**base, "simulated": {**base["simulated"], "licence_rent": "excluded"}})
    rents = licence_rents(res)
    tb = rents[rents["commodity"] == "oxide:Tb"]
    assert set(tb.loc[tb["rent"] > 1e-9, "period"]) == {"2025"}  # binding only once licensed
    # by hand: the rent of each licence on Tb times Tb oxide's content (1 in oxide equivalent)
    q = res.table("quota_rents")
    eu = q[(q["period"] == "2025") & q["quota"].str.endswith(":EU:Tb")]["rent_usd_per_kg"].sum()
    assert float(
        tb.loc[(tb["importer"] == "EU") & (tb["period"] == "2025"), "rent"].iloc[0]
    ) == pytest.approx(eu)
    g = simulated_points(res, gross, rents).set_index("period")["value"]
    n = simulated_points(res, net, rents).set_index("period")["value"]
    p = res.prices
    china = p[(p["commodity"] == "oxide:Tb") & (p["region"] == "CHN")].set_index("period")["usd_per_kg"]
    assert n.to_dict() == pytest.approx(china.to_dict())
    assert g["2024"] == pytest.approx(china["2024"])  # no licence yet: the two agree
    trade = res.trade
    t = trade[(trade["commodity"] == "oxide:Tb") & (trade["exporter"] == "CHN") & (trade["period"] == "2025")]
    w = t.merge(tb[tb["period"] == "2025"], on="importer")
    rent = (w["rent"] * w["tonnes"]).sum() / t["tonnes"].sum()
    assert rent > 1.0
    assert g["2025"] - n["2025"] == pytest.approx(rent, rel=1e-6)
    assert (g >= n - 1e-9).all()
    with pytest.raises(ValueError, match="fob_china only"):
        Series(
            **{
                **base,
                "simulated": {
                    "kind": "price",
                    "commodity": "oxide:Tb",
                    "region": "EU",
                    "licence_rent": "excluded",
                },
            }
        )


def test_known_mine_output_follows_what_was_published_by_the_cut_off(ds):
    """Myanmar's mining capacity in the 2025 episode's view: 43 kt in 2023 and 31 kt in 2024 (USGS
    MCS 2025, released 2025-02-03 at the latest), 31 kt held after; its ore above the start world's
    12 kt (Minerals Yearbook 2022) widens China's separation like quota tonnage does."""
    from reesim.backtest.run import _Audit, capacity_paths, china_quota_paths
    from reesim.world.default import build_default_world

    ep = load_episode("2025")
    ep = ep.model_copy(update={"known_mine_output": ["MMR"]})
    view = ds.as_of(
        ep.knowledge.as_of, exceptions=tuple((e.table, e.filters) for e in ep.knowledge.exceptions)
    )
    audit = _Audit(view, ds, ep.knowledge.exceptions)
    world = build_default_world(2022, audit)
    paths = capacity_paths(ep, audit, world, 2023, 2026)
    mmr = {y: sum(v[y] for k, v in paths.items() if k.startswith("mining:MMR:")) for y in range(2023, 2027)}
    assert mmr == pytest.approx({2023: 43.0, 2024: 31.0, 2025: 31.0, 2026: 31.0})
    assert all(v == {y: 0.0 for y in range(2023, 2027)} for k, v in paths.items() if k.endswith(":expansion"))
    # MCS 2026's revision of 2024 (27 kt) was published after the cut-off: the full dataset sees it
    full = capacity_paths(ep, ds, world, 2023, 2026)
    assert sum(v[2024] for k, v in full.items() if k.startswith("mining:MMR:")) == pytest.approx(27.0)
    # China's separation: the quota's path plus Myanmar's ore above the reference year's 12 kt
    ref = china_quota_paths(audit, world, 2023, 2026)["separation-capacity:CHN"]
    cap0 = float(world.processes.set_index("process").loc["separation-capacity:CHN", "capacity"])
    s0 = world.meta["reference"]["separation_kt"]["CHN"]
    for y in range(2023, 2027):
        assert paths["separation-capacity:CHN"][y] - ref[y] == pytest.approx((mmr[y] - 12.0) * cap0 / s0)
    # without China's quota path the extra ore still widens China's separation
    alone = capacity_paths(ep.model_copy(update={"china_mining_quota": False}), audit, world, 2023, 2026)
    assert alone["separation-capacity:CHN"][2023] == pytest.approx(cap0 * (s0 + 31.0) / s0)
    assert not any(k.startswith("mining:CHN:") for k in alone)
    with pytest.raises(InputError, match=r"known_mine_output.*unknown region 'MMRR'"):
        capacity_paths(ep.model_copy(update={"known_mine_output": ["MMRR"]}), audit, world, 2023, 2026)


def test_observed_points_keep_a_series_own_currency_and_nothing_else(ds):
    """A CNY/t series reads China's domestic quotes as printed; a USD/kg series with the same
    filters reads none of them (no exchange rates in the dataset)."""
    from reesim.backtest.episode import Series
    from reesim.backtest.run import observed_points

    base = {
        "label": "Dy",
        "observed": {
            "table": "prices",
            "filters": {"element": "Dy", "form_code": "oxide", "market_code": "china_domestic"},
        },
        "simulated": {"kind": "price", "commodity": "oxide:Dy", "region": "CHN"},
    }
    cny = observed_points(ds, Series(unit="CNY/t", **base))
    got = cny[cny["period"].str.startswith("2025")].set_index("period")["value"]
    assert got.to_dict() == {
        "2025-02-20": 1_745_000,
        "2025-03-03": 1_710_000,
        "2025-06-09": 1_630_000,
        "2025-06-20": 1_620_000,
        "2025-07-07": 1_645_000,
        "2025-07-09": 1_660_000,
    }
    usd = observed_points(ds, Series(unit="USD/kg", **base))
    assert not usd["period"].str.startswith("2025").any()
    with pytest.raises(ValueError, match=r"unit 'USD/KG' is not allowed; allowed: .*CNY/t"):
        Series(unit="USD/KG", **base)
    flow = {
        **base,
        "simulated": {"kind": "flow", "commodities": ["oxide:Dy"], "exporter": "CHN", "importer": "USA"},
    }
    with pytest.raises(ValueError, match="unit 'CNY/t' is not allowed"):
        Series(unit="CNY/t", **flow)
