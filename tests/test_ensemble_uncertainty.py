"""A scenario states its own uncertainty (``uncertainty:``), which ``reesim ensemble`` draws."""

from __future__ import annotations

import pytest

from reesim.ensemble.space import check_uncertainty, default_space, scenario_space
from reesim.errors import InputError
from reesim.scenario.load import load_scenario_text

TEXT = """
name: with-uncertainty
extends: china-2025-licensing
uncertainty:
  demand_elasticity_oxide: triangular(0.2, 0.3, 0.7)
  dynamics.lead_time_years.magnet: discrete(1, 2, 4)
"""


def test_the_scenarios_distributions_replace_the_default_ranges():
    sc = load_scenario_text(TEXT, "scenario")
    default = default_space(sc)
    space = scenario_space(sc, [])
    assert set(space) == set(default)  # the same names: two replaced, none lost
    got = space["demand_elasticity_oxide"]
    assert (got.dist.kind, got.dist.args) == ("triangular", (0.2, 0.3, 0.7))
    assert (
        got.basis == "the scenario's uncertainty"
        and default["demand_elasticity_oxide"].dist.kind == "uniform"
    )
    assert space["dynamics.lead_time_years.magnet"].dist.args == (1.0, 2.0, 4.0)
    # --vary wins over the scenario
    over = scenario_space(sc, ["demand_elasticity_oxide=uniform(0.25, 0.35)"])
    assert over["demand_elasticity_oxide"].dist.args == (0.25, 0.35)
    # only_vary keeps what the scenario states (and --vary), nothing else
    assert set(scenario_space(sc, [], only_vary=True)) == {
        "demand_elasticity_oxide",
        "dynamics.lead_time_years.magnet",
    }


def test_a_child_scenario_adds_to_its_parents_uncertainty(tmp_path):
    from reesim.scenario.load import load_scenario

    (tmp_path / "parent.yaml").write_text(TEXT)
    (tmp_path / "child.yaml").write_text(
        "name: child\nextends: parent.yaml\nuncertainty:\n"
        "  demand_elasticity_oxide: uniform(0.3, 0.4)\n  supply_elasticity: 1.5\n"
    )
    child = load_scenario(str(tmp_path / "child.yaml"))
    assert child.uncertainty == {
        "demand_elasticity_oxide": "uniform(0.3, 0.4)",  # the child's entry replaces the parent's
        "dynamics.lead_time_years.magnet": "discrete(1, 2, 4)",  # the parent's is kept
        "supply_elasticity": 1.5,  # a number fixes the parameter
    }
    space = scenario_space(child, [], only_vary=True)
    assert space["supply_elasticity"].dist.kind == "fixed" and space["supply_elasticity"].dist.args == (1.5,)
    plain = load_scenario_text("name: plain\nextends: china-2025-licensing\n", "scenario")
    assert plain.uncertainty == {} and scenario_space(plain, [], only_vary=True) == {}


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (
            "suply_elasticity: uniform(0.5, 2)",
            "uncertainty.suply_elasticity: unknown parameter 'suply_elasticity'; did you mean 'supply_elasticity'",
        ),
        (
            "supply_elasticity: unifrom(0.5, 2)",
            "uncertainty.supply_elasticity: 'unifrom(0.5, 2)' is not a distribution",
        ),
        (
            "hre_thrift_saving: uniform(0.5, 1.5)",
            "uncertainty.hre_thrift_saving: uniform(0.5, 1.5) reaches outside",
        ),
        (
            "dynamics.lead_time_years.mine: uniform(2, 3)",
            "uncertainty.dynamics.lead_time_years.mine: name a stage",
        ),
    ],
)
def test_bad_uncertainty_is_named_at_validate(entry, says):
    sc = load_scenario_text(f"name: bad\nextends: baseline\nuncertainty:\n  {entry}\n", "scenario")
    with pytest.raises(InputError) as e:
        check_uncertainty(sc, "scenario")
    assert str(e.value).startswith("scenario: ") and says in str(e.value)


def test_validate_cli_checks_uncertainty(tmp_path):
    from reesim.cli.main import run

    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nextends: baseline\nuncertainty:\n  suply_elasticity: uniform(0.5, 2)\n")
    with pytest.raises(SystemExit) as e:
        run(["validate", str(f)])
    assert e.value.code == 2
