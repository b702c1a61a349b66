"""The game layer against the simulator: payoff tensor = impacts of the profile runs, caching,
parallel runs, the game format's errors, repeated-game rules and paths, and ``reesim game``."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from reesim.cache import runtime, runtime_id
from reesim.errors import InputError
from reesim.game.payoffs import payoff_tensor, term_value
from reesim.game.profiles import all_profiles, bundles, path_scenario, profile_label, profile_scenario
from reesim.game.repeated import Rule, play
from reesim.game.spec import load_game
from tests.test_scenarios import BASELINE_PLANTS

SMALL = textwrap.dedent(
    """
    name: small
    base: baseline
    horizon: {start: 2025, end: 2027, step: year}
    discount_rate: 0.05
    players:
      - name: US
        regions: [USA]
        strategies:
          - name: none
          - name: tariff
            instruments:
              - type: import_tariff
                name: us-duty
                importer: USA
                origins: [CHN]
                stages: [oxide, metal]
                commodities: [magnet:ndfeb]
                rate: 0.25
                start: 2025-01-01
              - type: tariff_exclusion
                name: us-duty-exclusion
                tariff: us-duty
                share_excluded: 0.1
                start: 2025-01-01
        terms:
          - kind: supply_not_from
            label: trusted-magnets
            weight_usd_million_per_pp: 5
            basis: test weight
            sensitivity: [0, 1000]
      - name: China
        regions: [CHN]
        strategies:
          - name: none
          - name: licensing
            scenarios: [china-2025-licensing]
    """
)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("game") / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def solved(small):
    game, folder = load_game(small)
    tensor, b, base = payoff_tensor(game, folder, workers=1, cache=False)
    return game, tensor, b, base


def test_tensor_entries_equal_the_impacts_of_the_profile_runs(solved):
    from reesim.impacts.compare import compare
    from reesim.simulate import simulate

    game, tensor, b, base = solved
    assert tensor.welfare.shape == (2, 2, 2)
    for prof in all_profiles(game):
        res = simulate(profile_scenario(game, b, prof), counterfactual=base)
        pv = compare(res, base, discount_rate=0.05).welfare_discounted
        tot = pv[pv["component"] == "total"].set_index("region")["pv_usd_million"]
        assert tensor.welfare[(*prof, 0)] == pytest.approx(tot.get("USA", 0.0), rel=1e-9, abs=1e-9)
        assert tensor.welfare[(*prof, 1)] == pytest.approx(tot.get("CHN", 0.0), rel=1e-9, abs=1e-9)
    # The profile where nobody acts is the base itself.
    assert np.abs(tensor.welfare[0, 0]).max() < 1e-6
    assert abs(tensor.terms[("US", "trusted-magnets")][0, 0]) < 1e-9
    # Licensing moves China's welfare (the shock is real, not a no-op).
    assert abs(tensor.welfare[0, 1, 1]) > 100


def test_payoffs_add_the_declared_weighted_terms(solved):
    _, tensor, _, base = solved
    delta = tensor.terms[("US", "trusted-magnets")]
    P = tensor.payoffs()
    assert np.allclose(P[..., 0], tensor.welfare[..., 0] + 5.0 * delta)
    assert np.allclose(P[..., 1], tensor.welfare[..., 1])
    assert np.allclose(tensor.payoffs({("US", "trusted-magnets"): 0.0}), tensor.welfare)
    with pytest.raises(InputError, match="term"):
        tensor.payoffs({("US", "nope"): 1.0})
    # The term by hand on the base run: U.S. magnet consumption not imported from China, % per year.
    cons = base.consumption
    cons = (
        cons[(cons["region"] == "USA") & (cons["commodity"] == "magnet:ndfeb")]
        .groupby("period")["tonnes"]
        .sum()
    )
    tr = base.trade
    tr = tr[(tr["importer"] == "USA") & (tr["exporter"] == "CHN") & (tr["commodity"] == "magnet:ndfeb")]
    imp = tr.groupby("period")["tonnes"].sum().reindex(cons.index, fill_value=0.0)
    hand = float((100 * (1 - imp / cons)).mean())
    term = tensor.game.players[0].terms[0]
    assert term_value(base, ["USA"], term) == pytest.approx(hand)
    assert tensor.base_terms[("US", "trusted-magnets")] == pytest.approx(hand)


def test_cache_and_parallel_runs_give_the_same_tensor(small, solved):
    game, tensor, _, _ = solved
    folder = small.parent
    fresh, _, _ = payoff_tensor(game, folder, workers=2, cache=True)  # Dask processes, fills the cache
    assert fresh.cached == 0
    np.testing.assert_allclose(fresh.welfare, tensor.welfare, rtol=1e-9, atol=1e-9)
    again, _, _ = payoff_tensor(game, folder, workers=2, cache=True)
    assert again.cached == 4
    # the cache returns what the workers stored (which agree with the serial run to 1e-9: one
    # run of the suite saw them differ by 7e-12 relative, a last-digit difference between processes)
    np.testing.assert_allclose(again.welfare, fresh.welfare, rtol=1e-12, atol=1e-12)


def test_analysis_of_the_small_game_is_consistent(solved):
    from reesim.game import analysis as A
    from reesim.game.equilibria import analyse, reading

    _, tensor, _, _ = solved
    a = analyse(tensor)
    P = tensor.payoffs()
    assert a["equilibria"]["all"], "a finite game has an equilibrium"
    for e in a["equilibria"]["all"]:
        sigma = [
            np.array([e["strategies"][p].get(s, 0.0) for s in strat])
            for p, strat in zip(tensor.players, tensor.strategies, strict=True)
        ]
        assert A.is_equilibrium(P, sigma, tol=1e-7)
    for e in a["equilibria"]["pure"]:
        assert e["verified"]
    text = reading(a)
    assert "stable outcome" in text or "No combination of single strategies is stable" in text
    assert "USD" in text
    sens = [
        r for r in a["sensitivity"] if r.get("term") == "trusted-magnets" and "weight_usd_million_per_pp" in r
    ]
    assert [r["weight_usd_million_per_pp"] for r in sens] == [0, 1000]


def test_path_scenario_clips_spells_and_keeps_exclusions_with_their_tariff(solved):
    game, _, b, _ = solved
    sc = path_scenario(
        game, b, {"US": ["none", "tariff", "tariff"], "China": ["licensing", "none", "none"]}, 2027
    )
    by_name = {i.name: i for i in sc.instruments if i.name}
    duty = by_name["us-duty@2026"]
    assert (str(duty.start), str(duty.end)) == ("2026-01-01", "2027-12-31")
    assert by_name["us-duty-exclusion@2026"].tariff == "us-duty@2026"
    lic = by_name["china-licensing-2025@2025"]
    assert (str(lic.start), str(lic.end)) == ("2025-04-04", "2025-12-31")
    assert sc.horizon.end == 2027


def test_rules_behave_as_defined():
    rng = np.random.default_rng(0)
    tft, grim = Rule("tit-for-tat"), Rule("grim")
    others = [False, True, False]
    assert [tft.escalate(t, [], others, [], rng) for t in range(4)] == [False, False, True, False]
    assert [grim.escalate(t, [], others, [], rng) for t in range(4)] == [False, False, True, True]
    assert Rule("always-escalate").escalate(0, [], [], [], rng)
    assert not Rule("always-cooperate").escalate(3, [], [True] * 3, [], rng)
    forgiving, harsh = (
        Rule("generous-tit-for-tat", generosity=1.0),
        Rule("generous-tit-for-tat", generosity=0.0),
    )
    assert not forgiving.escalate(2, [], [True, True], [], rng)
    assert harsh.escalate(2, [], [True, True], [], rng)
    draws = [
        Rule("generous-tit-for-tat", generosity=0.3).escalate(1, [], [True], [], rng) for _ in range(2000)
    ]
    assert 0.65 < np.mean(draws) < 0.75  # escalates with probability 1 - generosity
    con = Rule("concession", threshold_usd_million=100.0)
    assert con.escalate(0, [], [], [], rng)
    assert con.escalate(2, [], [], [-50.0, -99.0], rng)
    assert not con.escalate(2, [], [], [-50.0, -101.0], rng)
    assert not con.escalate(3, [], [], [-101.0, 0.0, 0.0], rng)  # a concession is for good
    with pytest.raises(InputError, match="tit-for-tat"):
        Rule("tit-for-tatt")
    with pytest.raises(InputError, match="generosity"):
        Rule("generous-tit-for-tat", generosity=1.5)


def test_repeated_path_follows_the_rules_and_reads_the_final_path(solved):
    game, _, b, base = solved
    path = play(game, b, base, {"US": Rule("tit-for-tat"), "China": Rule("always-escalate")})
    t = path.table
    us = t[t["player"] == "US"].sort_values("year")
    cn = t[t["player"] == "China"].sort_values("year")
    assert list(us["strategy"]) == ["none", "tariff", "tariff"]
    assert list(cn["strategy"]) == ["licensing"] * 3
    assert path.simulations == 2  # one run, and one more when the U.S. first retaliates
    # The outcomes the rules read are those of the final path: recompute them from its result.
    from reesim.impacts.compare import discounted, welfare_table

    w = welfare_table(path.result, base)
    w = w[(w["component"] == "total") & (w["region"] == "USA")].set_index("year")["change_usd_million"]
    assert np.allclose(us.set_index("year")["welfare_change_usd_million"], w.reindex(us["year"]))
    pv = discounted(welfare_table(path.result, base), 0.05, 2025)
    assert path.pv_usd_million["US"] == pytest.approx(
        float(pv[(pv["component"] == "total") & (pv["region"] == "USA")]["pv_usd_million"].sum())
    )
    # Both always cooperating is the base: no welfare change in any year.
    calm = play(game, b, base, {"US": Rule("always-cooperate"), "China": Rule("grim")})
    assert calm.simulations == 1
    assert np.abs(calm.table["welfare_change_usd_million"]).max() < 1e-6
    with pytest.raises(InputError, match="no rule"):
        play(game, b, base, {"US": Rule("grim")})


def test_game_format_errors_name_the_field(tmp_path):
    def bad(text: str, match: str):
        p = tmp_path / "g.yaml"
        p.write_text(text)
        with pytest.raises(InputError, match=match):
            g, f = load_game(p)
            bundles(g, f)

    bad(SMALL.replace("discount_rate: 0.05", "discount_rat: 0.05"), r"discount_rat: unknown key")
    bad(SMALL.replace("- name: tariff", "- name: none"), r"players\[0\]: .*strategy names must be unique")
    bad(
        SMALL.replace("name: China\n", "name: China\n    cooperate: licencing\n"),
        r"cooperate: unknown strategy 'licencing'.*licensing",
    )
    bad(
        SMALL.replace("scenarios: [china-2025-licensing]", "scenarios: [china-2025-licencing]"),
        r"players\[1\]\.strategies\[1\]\.scenarios",
    )
    bad(SMALL.replace("rate: 0.25", "rate: -1"), r"players\[0\]\.strategies\[1\]\.instruments\[0\]\.rate")
    bad("name: x\nplayers: []\n", r"players")
    with pytest.raises(InputError, match="neither a file nor a shipped game"):
        load_game("us-chine")


def test_unknown_player_region_is_refused(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text(SMALL.replace("regions: [USA]", "regions: [USX]"))
    game, folder = load_game(p)
    with pytest.raises(InputError, match=r"players\[0\]\.regions: unknown region 'USX'.*USA"):
        payoff_tensor(game, folder, workers=1, cache=False)


def test_shipped_game_resolves_its_strategies():
    game, folder = load_game("us-china")
    b = bundles(game, folder)
    assert [len(p.strategies) for p in game.players] == [4, 4]
    for pl in game.players:
        for s in pl.strategies:
            n = len(b.instruments[(pl.name, s.name)])
            assert (n == 0) == (s.name == "none"), (pl.name, s.name, n)
    # Onshoring adds the price floor, the 10X plant, the capex subsidy and the stockpile to the
    # Section 301 magnet duty (rare-earth oxides and metals are not under Section 301).
    types = sorted(i["type"] for i in b.instruments[("US", "tariffs+onshoring")])
    assert types == [
        "capacity_project",
        "import_tariff",
        "price_floor",
        "stockpile",
        "subsidy",
    ]


def test_cli_game_writes_results_and_refuses_bad_input(capsys, small, tmp_path):
    from tests.test_cli import invoke

    out = tmp_path / "out"
    code, stdout, err = invoke(
        capsys,
        "game",
        str(small),
        "--out",
        str(out),
        "--workers",
        "1",
        "--repeated",
        "--rule-us",
        "grim",
        "--rule-cn",
        "always-escalate",
    )
    assert code == 0, err
    assert "pure Nash equilibrium" in stdout and "Repeated game" in stdout
    for name in (
        "payoffs.parquet",
        "equilibria.json",
        "repeated.parquet",
        "report.html",
        "game.resolved.yaml",
    ):
        assert (out / name).is_file(), name
    pay = pd.read_parquet(out / "payoffs.parquet")
    assert len(pay) == 4 * 2 and set(pay["player"]) == {"US", "China"}
    doc = json.loads((out / "equilibria.json").read_text())
    assert doc["reading"] and doc["equilibria"]["all"] and len(doc["repeated"]) == 3
    assert doc["runtime"] == list(runtime())  # the builds that made the payoffs
    here = runtime_id(runtime())  # which made the base and each of the four profiles: this process
    assert doc["builds"]["base"] == here and doc["builds"]["runtimes"] == {here: list(runtime())}
    game, _ = load_game(small)  # by the profiles' labels
    assert list(doc["builds"]["profiles"]) == [profile_label(game, p) for p in all_profiles(game)]
    assert set(doc["builds"]["profiles"].values()) == {here} and "not this machine's" not in stdout
    html = (out / "report.html").read_text()
    assert 'id="repeated"' in html and '"type":"heatmap"' in html

    code, _, err = invoke(
        capsys, "game", str(small), "--repeated", "--rule-us", "tit-for-tatt", "--rule-cn", "grim"
    )
    assert code == 2 and "unknown rule 'tit-for-tatt'" in err
    code, _, err = invoke(capsys, "game", str(small), "--rule-us", "grim")
    assert code == 2 and "need --repeated" in err
    code, _, err = invoke(capsys, "game", str(small), "--repeated", "--rule-us", "grim")
    assert code == 2 and "no rule for China" in err
    code, _, err = invoke(capsys, "game", str(small), "--out", str(out))
    assert code == 2 and "not empty" in err


def test_three_player_game_runs_end_to_end(capsys, tmp_path):
    """A third player (the allies, one strategy) enters the tensor, the analysis and the printed matrix."""
    from tests.test_cli import invoke

    text = SMALL.replace("end: 2027", "end: 2026") + (
        "  - name: Allies\n    regions: [EU, JPN, KOR]\n    strategies:\n      - name: none\n"
    )
    path = tmp_path / "three.yaml"
    path.write_text(text)
    game, folder = load_game(path)
    assert [p.name for p in game.players] == ["US", "China", "Allies"]
    tensor, _, _ = payoff_tensor(game, folder, workers=1, cache=False)
    assert tensor.welfare.shape == (2, 2, 1, 3)
    from reesim.game.equilibria import analyse

    a = analyse(tensor)
    assert a["equilibria"]["pure"], (
        "with one strategy for the allies, the 2x2 part has a pure equilibrium here"
    )
    assert "two-player games only" in " ".join(a["equilibria"]["warnings"])
    code, stdout, err = invoke(capsys, "game", str(path), "--workers", "1")
    assert code == 0, err
    assert "when Allies plays 'none'" in stdout


def test_path_keeps_one_stockpile_when_a_strategy_returns():
    """Onshoring on, off, on: the duties come and go by spell; the stockpile is one instrument (not rebuilt)."""
    game, folder = load_game("us-china")
    b = bundles(game, folder)
    on, off = "tariffs+onshoring", "none"
    sc = path_scenario(game, b, {"US": [on, off, on, off], "China": ["none"] * 4}, 2028)
    stock = [i for i in sc.instruments if i.type == "stockpile"]
    assert len(stock) == 1
    assert (str(stock[0].start), str(stock[0].end)) == ("2025-07-10", "2027-12-31")
    duties = sorted(i.name for i in sc.instruments if i.type == "import_tariff")
    # the magnet duty starts in 2026, so only the 2027 spell carries it
    assert duties == ["us-301-magnets@2027"]


def test_term_that_names_an_unknown_commodity_is_refused(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text(
        SMALL.replace(
            "      - kind: supply_not_from\n",
            "      - kind: supply_not_from\n        commodities: [magnet:ndfe]\n",
        )
    )
    game, folder = load_game(p)
    with pytest.raises(
        InputError, match=r"players\[0\]\.terms\[0\]\.commodities: unknown commodity 'magnet:ndfe'"
    ):
        payoff_tensor(game, folder, workers=1, cache=False)


def test_strategy_instrument_with_a_base_name_replaces_it(solved):
    from reesim.game.profiles import Bundles

    game, _, b, _ = solved
    growth = next(i for i in b.base.instruments if i.name == "magnet-demand-growth")
    changed = {**growth.model_dump(mode="json", exclude_none=True), "growth": {"2025": 0.10}}
    b2 = Bundles(b.base, {**b.instruments, ("US", "tariff"): (*b.instruments[("US", "tariff")], changed)})
    sc = profile_scenario(game, b2, (1, 0))
    mine = [i for i in sc.instruments if i.name == "magnet-demand-growth"]
    assert len(mine) == 1 and mine[0].growth == {2025: 0.10}
    with pytest.raises(InputError, match="replaces base instrument"):
        path_scenario(game, b2, {"US": ["tariff"] * 3, "China": ["none"] * 3}, 2027)


def test_a_named_plant_in_a_repeated_path_is_committed_once_played():
    """The shipped onshoring strategy builds MP's 10X plant (capacity_project, no end allowed).
    Played in 2026-2027 only, the plant stays committed on its own dates (2028-01-01) without an
    end; a path that never plays the strategy has no plant. (It used to fail: the path gave the
    project an end date.)"""
    game, folder = load_game("us-china")
    b = bundles(game, folder)
    us = ["none", "tariffs+onshoring", "tariffs+onshoring", "none", "none", "none"]
    china = ["licensing"] * 6
    sc = path_scenario(game, b, {"US": us, "China": china}, 2030)
    base = set(BASELINE_PLANTS)  # the baseline's plants are in every path
    plants = [i for i in sc.instruments if i.type == "capacity_project" and i.name not in base]
    assert [p.name for p in plants] == ["mp-10x@2026"]
    assert plants[0].start.isoformat() == "2028-01-01" and plants[0].end is None
    never = path_scenario(game, b, {"US": ["none"] * 6, "China": china}, 2030)
    assert {i.name for i in never.instruments if i.type == "capacity_project"} == base


def test_game_over_an_ensemble_solves_each_member_and_counts_equilibria(small):
    """Each member's payoffs are the game solved with the member's draw (the same tensor as
    payoff_tensor with those values); the expected payoffs are their mean and each profile's
    equilibrium share is the share of members where it is a pure Nash equilibrium."""
    from reesim.ensemble.space import default_space
    from reesim.game.analysis import pure_nash
    from reesim.game.ensemble import ensemble_game

    game, folder = load_game(small)
    b = bundles(game, folder)
    space = {k: v for k, v in default_space(b.base).items() if k == "demand_elasticity_magnet"}
    e = ensemble_game(game, folder, space, 2, seed=4, workers=1, cache=False)
    assert e.members == (0, 1) and list(e.design["status"]) == ["ok", "ok"]
    values = {"demand_elasticity_magnet": float(e.design.loc[1, "demand_elasticity_magnet"])}
    t1, _, _ = payoff_tensor(game, folder, workers=1, cache=False, values=values)
    np.testing.assert_allclose(e.payoffs[1], t1.payoffs(), rtol=1e-9)
    assert e.design.loc[0, "demand_elasticity_magnet"] != e.design.loc[1, "demand_elasticity_magnet"]
    np.testing.assert_allclose(e.expected(), e.payoffs.mean(axis=0))
    share = e.equilibrium_share()
    for prof in all_profiles(game):
        expect = np.mean([prof in pure_nash(P) for P in e.payoffs])
        assert share[prof] == pytest.approx(expect)
    table = e.table()
    assert len(table) == 4 * 2 and table["equilibrium_share"].between(0, 1).all()
    assert (table["p5_usd_million"] <= table["mean_usd_million"] + 1e-9).all()


def test_a_game_ensemble_keeps_one_pool_and_agrees_with_the_serial_run(small, monkeypatch):
    """On two workers every member's profiles run on the same local cluster (opened once, not
    once per member), and the payoffs are those of the serial run."""
    import reesim.pool
    from reesim.ensemble.space import default_space
    from reesim.game.ensemble import ensemble_game

    game, folder = load_game(small)
    b = bundles(game, folder)
    space = {k: v for k, v in default_space(b.base).items() if k == "demand_elasticity_magnet"}
    opened = []
    real = reesim.pool.dask_pool

    def counting(workers, scheduler=None):
        opened.append(workers)
        return real(workers, scheduler)

    monkeypatch.setattr(reesim.pool, "dask_pool", counting)
    pooled = ensemble_game(game, folder, space, 2, seed=4, workers=2, cache=False)
    assert opened == [2]  # one pool for both members' 8 profile runs
    serial = ensemble_game(game, folder, space, 2, seed=4, workers=1, cache=False)
    assert pooled.members == serial.members == (0, 1)
    np.testing.assert_allclose(pooled.payoffs, serial.payoffs, rtol=1e-9, atol=1e-9)


def test_game_ensemble_options_need_ensemble(capsys):
    from tests.test_cli import invoke

    code, _, err = invoke(capsys, "game", "us-china", "--vary", "demand_elasticity_oxide=0.3")
    assert code == 2
    assert "need --ensemble" in err


def test_game_on_a_scheduler_that_does_not_answer_is_an_input_error(small, capsys, monkeypatch):
    from tests.test_cli import invoke

    monkeypatch.setenv("REESIM_INSECURE_SCHEDULER", "1")  # a plain-TCP address, allowed
    code, _, err = invoke(
        capsys, "game", str(small), "--no-cache", "--scheduler", "tcp://127.0.0.1:9"
    )  # the discard port: nothing listens
    assert code == 2 and "--scheduler tcp://127.0.0.1:9: no Dask scheduler answers" in err


def test_a_pooled_game_ensemble_records_a_failed_member_and_goes_on(small):
    """On the pool, a member whose draw the world refuses is recorded with the error that names
    the assumption, once in the progress calls; the other member's payoffs are the serial run's."""
    from reesim.ensemble.space import Distribution, Parameter
    from reesim.game.ensemble import ensemble_game

    game, folder = load_game(small)
    # a discrete draw over a valid and an invalid elasticity: a Latin hypercube of two members
    # takes one of each
    space = {
        "demand_elasticity_magnet": Parameter(
            "demand_elasticity_magnet", Distribution("discrete", (0.3, -1.0)), 0.3, "test"
        )
    }
    seen: list[tuple[int, str | None]] = []
    pooled = ensemble_game(
        game, folder, space, 2, seed=4, workers=2, cache=False, progress=lambda m, e: seen.append((m, e))
    )
    d = pooled.design.set_index("member")
    bad = int(d.index[d["demand_elasticity_magnet"] < 0][0])
    good = 1 - bad
    assert d.loc[bad, "status"] == "failed" and "demand_elasticity_magnet" in d.loc[bad, "error"]
    assert d.loc[good, "status"] == "ok" and pooled.members == (good,)
    assert sorted(m for m, _ in seen) == [0, 1] and dict(seen)[good] is None
    serial = ensemble_game(game, folder, space, 2, seed=4, workers=1, cache=False)
    assert serial.members == (good,) and serial.design.loc[bad, "error"] == d.loc[bad, "error"]
    np.testing.assert_allclose(pooled.payoffs, serial.payoffs, rtol=1e-9, atol=1e-9)


class _Done:
    """A finished task as :func:`reesim.game.pooled._finish` reads it (status, exception, result)."""

    def __init__(self, value=None, error: BaseException | None = None) -> None:
        self.status = "error" if error else "finished"
        self._value, self._error = value, error

    def exception(self):
        return self._error

    def result(self):
        if self._error:
            raise self._error
        return self._value


def test_a_pooled_member_takes_its_bases_error_first_and_a_defect_stops_the_ensemble(small):
    """A base that failed fails its profiles too (Dask passes its error on): the member records
    the base's error, not a profile's; an error that is neither an input error nor a model
    failure is a defect and is raised."""
    from reesim.errors import ModelFailure
    from reesim.game.payoffs import prepare_profiles
    from reesim.game.pooled import _finish, _Member

    game, folder = load_game(small)
    prep = prepare_profiles(game, folder, cache=False)
    base_err = ModelFailure("step 2031: no equilibrium")
    futures = [_Done(error=base_err), _Done(error=base_err)] + [
        _Done(error=ModelFailure("a profile")) for _ in prep.todo
    ]
    out, failed = {}, []

    def fail(m, exc):
        out[m] = f"{type(exc).__name__}: {exc}"
        failed.append(m)

    _finish(_Member(7, prep, futures, 0), game, False, out, fail, None)
    assert out == {7: "ModelFailure: step 2031: no equilibrium"} and failed == [7]
    defect = [_Done(error=KeyError("oxide:Dy")), *futures[1:]]
    with pytest.raises(KeyError):
        _finish(_Member(8, prep, defect, 0), game, False, out, fail, None)
    assert 8 not in out


def test_a_base_that_fails_on_a_worker_fails_its_member_only(small, monkeypatch):
    """On a real (threaded) Dask pool, a member whose base run fails on a worker is recorded with
    the base's error (its profiles, which depend on the base, fail with it); the other member's
    payoffs are those of the serial run, and each member is reported once."""
    from distributed import Client, LocalCluster

    import reesim.game.pooled as pooled
    from reesim.errors import ModelFailure

    game, folder = load_game(small)
    real = pooled._run_base

    def refusing(base):
        if base.world.assumptions.get("demand_elasticity_magnet", 0.0) > 0.5:
            raise ModelFailure("base refused")
        return real(base)

    monkeypatch.setattr(pooled, "_run_base", refusing)
    rows = [(0, {"demand_elasticity_magnet": 0.3}), (1, {"demand_elasticity_magnet": 0.6})]
    seen: list[tuple[int, str | None]] = []
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        out = pooled.members_on_pool(
            client, game, folder, rows, cache=False, progress=lambda m, e: seen.append((m, e))
        )
    assert out[1] == "ModelFailure: base refused"
    assert sorted(seen) == [(0, None), (1, "ModelFailure: base refused")]
    t0, _, _ = payoff_tensor(game, folder, workers=1, cache=False, values=rows[0][1])
    np.testing.assert_allclose(out[0].payoffs(), t0.payoffs(), rtol=1e-9, atol=1e-9)


def test_the_profile_cache_keeps_the_most_recently_used_within_its_bound(monkeypatch, tmp_path):
    """The profile cache is bounded (reesim serve takes games from anyone it serves): beyond
    CACHE_KEEP outcomes the least recently used are removed, and reading one marks it used."""
    import os

    from reesim.game import payoffs as P

    monkeypatch.setattr(P, "CACHE_KEEP", 3)
    monkeypatch.setattr(P, "_cache_folder", lambda: tmp_path)
    for k, key in enumerate("abc"):
        P._cache_write(key, {"k": k})
        os.utime(tmp_path / f"{key}.json", (1_000 + k, 1_000 + k))  # a before b before c
    assert P._cache_read("a") == {"k": 0}  # read: now the most recently used
    P._cache_write("d", {"k": 3})
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["a.json", "c.json", "d.json"]
    assert P._cache_read("b") is None  # evicted: the game runs that profile again
    monkeypatch.setattr(P, "CACHE_MAX_BYTES", 1)  # the newest is always kept
    P._cache_write("e", {"k": 4})
    assert [p.name for p in tmp_path.glob("*.json")] == ["e.json"]


def test_a_profiles_cached_outcome_is_kept_per_runtime(small, monkeypatch):
    """Another CPU's builds (or another PIQP or numpy) give other last bits: a game's profile
    outcomes are kept per runtime, so a shared cache folder does not hand one machine's payoffs
    to another while equilibria.json names the other's builds."""
    from reesim import cache
    from reesim.game import payoffs as P

    game, folder = load_game(small)
    b = bundles(game, folder)
    sc = profile_scenario(game, b, all_profiles(game)[-1])
    here = P._cache_key(sc, b.base, game)
    assert P._cache_key(sc, b.base, game) == here  # the same inputs, the same key
    monkeypatch.setattr(cache, "runtime", lambda: ("CPython", "piqp build fake"))
    assert P._cache_key(sc, b.base, game) != here


def test_profiles_another_build_ran_are_used_but_not_kept_under_this_runtime(
    small, solved, monkeypatch, capsys
):
    """A profile's key names this process's runtime; a profile a scheduler's worker ran with other
    builds (about 1e-8 apart, not the same bits) is used but not kept under that key, in a game and
    in a game's ensemble on the pool. Here this process's runtime is made to differ from the
    workers' (the workers report their own)."""
    from reesim import cache
    from reesim.ensemble.space import default_space

    game, tensor, _, _ = solved
    folder = small.parent
    monkeypatch.setattr(cache, "runtime", lambda: ("CPython", "piqp build of another machine"))
    first, _, _ = payoff_tensor(game, folder, workers=2, cache=True)
    again, _, _ = payoff_tensor(game, folder, workers=2, cache=True)
    assert (first.cached, again.cached) == (0, 0)  # nothing was kept under this runtime
    np.testing.assert_allclose(again.welfare, tensor.welfare, rtol=1e-9, atol=1e-9)
    # recorded: the base ran here, every profile on a worker with the (real) other runtime
    builds, mine = first.builds(), cache.runtime_id(cache.runtime())
    (theirs,) = set(builds["runtimes"]) - {mine}
    assert builds["base"] == mine and set(builds["profiles"].values()) == {theirs}
    assert len(builds["profiles"]) == 4 and builds["runtimes"][mine] == list(cache.runtime())
    from reesim.cli.game import other_builds_note

    assert "4 of the 4 profiles ran on builds that are not this machine's" in other_builds_note(builds)
    assert other_builds_note({**builds, "profiles": dict.fromkeys(builds["profiles"], mine)}) is None
    b = bundles(game, folder)
    space = {k: v for k, v in default_space(b.base).items() if k == "demand_elasticity_magnet"}
    games = cache.subfolder("games")
    assert games is not None
    kept = sorted(games.glob("*.json"))
    from reesim.cli.game import _ensemble

    capsys.readouterr()
    ens = _ensemble(game, folder, b, space, 1, "lhs", 4, 2, True)  # as `reesim game --ensemble 1` runs it
    assert ens.members == (0,) and sorted(games.glob("*.json")) == kept
    # the member's base and profiles ran on the workers: their build, not this process's
    assert ens.design["runtimes"].tolist() == [theirs] and set(ens.member_runtimes) == {theirs}
    assert "1 of the members ran (their base or a profile) on builds that are not this machine's" in " ".join(
        capsys.readouterr().out.split()
    )


@pytest.mark.parametrize(
    ("base_build", "profile_builds", "kept"),
    [
        ("here", ("here", "here"), ["k0", "k1"]),
        ("here", ("other", "here"), ["k1"]),
        # every profile is measured against the base: a base another build ran taints them all
        ("other", ("here", "here"), []),
    ],
)
def test_a_pooled_member_keeps_only_what_this_runtime_computed(monkeypatch, base_build, profile_builds, kept):
    from types import SimpleNamespace

    from reesim import cache
    from reesim.game import pooled

    builds = {"here": ("CPython", "piqp build here"), "other": ("CPython", "piqp build other")}
    monkeypatch.setattr(cache, "runtime", lambda: builds["here"])
    written = []
    monkeypatch.setattr(pooled, "_cache_write", lambda key, value: written.append(key))
    monkeypatch.setattr(
        pooled,
        "assemble",
        lambda game, outcomes, terms, hits, runtimes, base_runtime: SimpleNamespace(
            outcomes=outcomes, runtimes=runtimes, base_runtime=base_runtime
        ),
    )
    prep = SimpleNamespace(outcomes=(None, None), todo=[0, 1], keys=["k0", "k1"], hits=0)
    futures = [
        _Done(("base run", [], builds[base_build])),
        _Done((({}, [], builds[base_build]), [], builds["here"])),
        *(_Done(({"profile": k}, [], builds[b])) for k, b in enumerate(profile_builds)),
    ]
    m = pooled._Member(0, prep, futures, 0)
    out: dict = {}
    pooled._finish(m, game=None, cache=True, out=out, fail=None, progress=None)
    assert written == kept
    assert out[0].outcomes == [{"profile": 0}, {"profile": 1}]  # used either way
    # and each is recorded with the build that computed it, and the base's
    assert out[0].runtimes == [builds[b] for b in profile_builds]
    assert out[0].base_runtime == builds[base_build]


def test_the_report_says_when_other_builds_computed_the_game():
    """The game report's footer names the profiles (and the base) other builds computed, read from
    equilibria.json's builds against the runtime of the machine that wrote it; nothing otherwise,
    nor for folders written before builds were recorded."""
    from reesim.cache import runtime_id
    from reesim.reports.game import _builds_line

    here, there = ["CPython", "piqp here"], ["CPython", "piqp there"]
    a, b = runtime_id(here), runtime_id(there)
    doc = {"runtime": here, "builds": {"base": a, "profiles": {"p1": a, "p2": b, "p3": b}}}
    assert "2 of 3 profiles were computed on other CPU builds" in _builds_line(doc)
    doc["builds"]["base"] = b
    assert "2 of 3 profiles and the base run were computed" in _builds_line(doc)
    assert _builds_line({"runtime": here, "builds": {"base": a, "profiles": {"p1": a}}}) == ""
    assert _builds_line({"runtime": here}) == ""  # written before builds were recorded


def test_a_game_whose_workers_all_run_another_reesim_stops_with_the_reason(small, monkeypatch):
    """Workers that all run another reesim would leave the profiles waiting for ever: after the
    patience (reesim.pool.watch) the game stops with a WorkerMismatch (exit 2 from the command),
    and a game's ensemble records every member as failed with it without waiting once per member."""
    from reesim.ensemble.space import default_space
    from reesim.errors import ModelFailure
    from reesim.game.ensemble import ensemble_game
    from reesim.pool import WorkerMismatch
    from tests.test_pool import all_workers_replaced_by_another_reesim

    game, folder = load_game(small)
    all_workers_replaced_by_another_reesim(monkeypatch)
    with pytest.raises(WorkerMismatch, match="for 1 s no worker ran the client's reesim"):
        payoff_tensor(game, folder, workers=2, cache=False)
    space = {
        k: v for k, v in default_space(bundles(game, folder).base).items() if k == "demand_elasticity_magnet"
    }
    seen: list = []
    with pytest.raises(ModelFailure, match="succeeded; member 0: WorkerMismatch: for 1 s no worker ran"):
        ensemble_game(
            game, folder, space, 5, seed=4, workers=2, cache=False, progress=lambda m, e: seen.append(e)
        )
    assert len(seen) == 5 and all(e.startswith("WorkerMismatch: for 1 s no worker ran") for e in seen)


def test_a_game_stops_when_workers_of_another_reesim_replace_those_that_held_its_results(
    small, monkeypatch, tmp_path
):
    """Workers that leave take the results they held: the scheduler computes them again, which no
    worker of another reesim can do, so the watch must cancel those too, not only the profiles not
    yet run (with only the latter, reading the results waited for ever). Here, once every
    profile is done, both workers are killed before the game reads a result, and their nannies
    start new ones that run another reesim from the start (a preload, as another version
    installed there would)."""
    import os
    import threading
    import time

    from distributed import default_client

    from reesim import pool

    script = tmp_path / "another_reesim.py"
    script.write_text(  # loaded twice by the worker (preloading imports, then runs it): once only
        "import reesim.pool as p\n\n"
        'if not hasattr(p, "_real_same_code"):\n'
        "    p._real_same_code = p.same_code\n"
        '    p.same_code = lambda: {**p._real_same_code(), "source": "0" * 64}\n'
    )

    def preload(dask_worker, path=str(script)) -> None:  # on each nanny: the worker it starts next loads it
        kwargs = dask_worker.process.worker_kwargs  # what the nanny starts its worker process with
        kwargs["preload"] = [*(kwargs.get("preload") or []), path]

    async def die() -> None:
        import asyncio

        asyncio.get_running_loop().call_later(0.2, os._exit, 1)

    def replace_workers(done: int, total: int) -> None:
        if done == total:  # every profile done, its result still on its worker: none read yet
            client = default_client()
            client.run(preload, nanny=True)
            client.run(die)
            time.sleep(2)  # the workers are gone, with the results, before the game reads them

    monkeypatch.setattr(pool, "NO_MATCH_S", 1.0)
    monkeypatch.setattr(pool, "WATCH_EVERY_S", 0.2)
    game, folder = load_game(small)
    got: list = []

    def play() -> None:
        try:
            payoff_tensor(game, folder, workers=2, cache=False, progress=replace_workers)
        except Exception as exc:
            got.append(exc)

    thread = threading.Thread(target=play, daemon=True)  # a regression would wait for ever
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the game waited for results no worker could compute"
    assert len(got) == 1 and isinstance(got[0], pool.WorkerMismatch), got
    assert "no worker ran the client's reesim" in str(got[0])
