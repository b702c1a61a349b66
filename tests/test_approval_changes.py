"""Licence approvals that change over time (``approval_changes``): hand-computed step factors,
validation, and a run where general licences lift the U.S. approval."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from reesim.errors import InputError
from reesim.instruments.trade import approval_factor, share_on
from reesim.scenario.load import load_scenario, parse

LICENCE = {
    "type": "export_quota",
    "name": "lic",
    "exporter": "CHN",
    "destinations": ["USA", "EU"],
    "commodities": ["magnet:ndfeb"],
    "approval_share": 0.5,
    "start": "2025-04-04",
}


def _licence(**kw):
    return parse(
        {"name": "x", "horizon": {"start": 2025, "end": 2026}, "instruments": [LICENCE | kw]}
    ).instruments[0]


def test_a_year_with_a_review_and_a_change_by_hand():
    """2025 (365 days): 93 days before the start count 1; 48 days of review (34 working days)
    count 0; 0.5 from 2025-05-22 to 2025-09-30 (132 days); 1.0 from 2025-10-01 to the end (92
    days) for the U.S. only: (93 + 0.5 x 132 + 92) / 365. The EU keeps 0.5 (93 + 0.5 x 224)."""
    lic = _licence(
        processing_working_days=34,
        approval_changes=[{"start": "2025-10-01", "share": 1.0, "destinations": ["USA"]}],
    )
    start = dt.date(2025, 1, 1)
    assert approval_factor(lic, 0.5, start, 365, "USA") == pytest.approx((93 + 0.5 * 132 + 92) / 365)
    assert approval_factor(lic, 0.5, start, 365, "EU") == pytest.approx((93 + 0.5 * 224) / 365)
    assert share_on(lic, 0.5, dt.date(2025, 12, 1), "USA") == 1.0
    assert share_on(lic, 0.5, dt.date(2025, 9, 30), "USA") == 0.5
    # without changes the factor is the old one
    plain = _licence(processing_working_days=34)
    assert approval_factor(plain, 0.5, start, 365, "USA") == pytest.approx((93 + 0.5 * 224) / 365)


def test_the_latest_change_applies_and_all_means_every_destination():
    lic = _licence(
        approval_changes=[
            {"start": "2026-01-01", "share": 0.9},
            {"start": "2025-07-01", "share": 0.2, "destinations": ["EU"]},
        ]
    )
    assert share_on(lic, 0.5, dt.date(2025, 8, 1), "EU") == 0.2
    assert share_on(lic, 0.5, dt.date(2025, 8, 1), "USA") == 0.5
    assert share_on(lic, 0.5, dt.date(2026, 2, 1), "EU") == 0.9  # the later change, for all


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"start": "2025-10-01", "share": 1.0, "destinations": ["JPN"]},
            "'JPN' is not a destination of this licence",
        ),
        ({"start": "2025-10-01", "share": 1.0, "destinations": ["USAA"]}, "did you mean 'USA'"),
        ({"start": "2025-01-01", "share": 1.0}, "is not after the licence's start"),
        ({"start": "2025-10-01", "share": 1.5}, "less than or equal to 1"),
    ],
)
def test_bad_changes_are_named(tmp_path, change, says):
    from reesim.simulate.stepper import scenario_world

    inst = LICENCE | {"approval_changes": [change]}
    f = tmp_path / "x.yaml"
    f.write_text(
        yaml.safe_dump({"name": "x", "horizon": {"start": 2025, "end": 2026}, "instruments": [inst]})
    )
    with pytest.raises(InputError, match="approval_changes"):
        scenario_world(load_scenario(f))
    with pytest.raises(InputError) as err:
        scenario_world(load_scenario(f))
    assert says in str(err.value)


def test_general_licences_lift_us_magnet_imports(tmp_path):
    """The flagship's magnet licence with the U.S. approval raised to 1.0 from 2026: U.S. magnet
    imports from China in 2026 are above the run that keeps 0.87, and equal in 2025."""
    from reesim.pipeline import run_pair

    def imports(changes):
        f = tmp_path / f"s{len(changes)}.yaml"
        inst = {
            "type": "export_quota",
            "name": "china-licensing-2025-magnets",
            "exporter": "CHN",
            "destinations": "all",
            "commodities": ["magnet:ndfeb"],
            "content_of": ["Dy", "Tb"],
            "approval_share": 1.0,
            "approval_by_destination": {"USA": 0.87},
            "approval_changes": changes,
            "start": "2025-04-04",
        }
        f.write_text(
            yaml.safe_dump(
                {
                    "name": "s",
                    "extends": "baseline",
                    "horizon": {"start": 2025, "end": 2026},
                    "instruments": [inst],
                }
            )
        )
        res, _, _ = run_pair(load_scenario(f))
        t = res.trade
        t = t[(t["commodity"] == "magnet:ndfeb") & (t["exporter"] == "CHN") & (t["importer"] == "USA")]
        return t.groupby("year")["tonnes_per_year"].sum()

    keep = imports([])
    lift = imports([{"start": "2026-01-01", "share": 1.0, "destinations": ["USA"]}])
    assert lift[2025] == pytest.approx(keep[2025], rel=1e-6)
    assert lift[2026] > keep[2026] * 1.05
