"""Rules of origin: a duty or a re-export control on one origin cannot be passed through third regions.

Customs keep a good's origin unless it is substantially transformed (U.S. 19 CFR Part 102), so a
third region may ship the taxed or controlled good to the importer only up to its own output.
Releases from its stocks do not count as its own output (their origin is not known).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.test_instruments import ban, run

MAGNET = "magnet:ndfeb"


def duty(**kw) -> dict:
    return {
        "type": "import_tariff",
        "name": "duty",
        "importer": "USA",
        "origins": ["CHN"],
        "commodities": [MAGNET],
        "rate": 0.25,
        "start": 2026,
        **kw,
    }


def exports_and_output(res, via: str, dest: str = "USA") -> pd.DataFrame:
    t = res.trade
    t = t[(t["commodity"] == MAGNET) & (t["exporter"] == via) & (t["importer"] == dest)]
    p = res.production
    p = p[(p["commodity"] == MAGNET) & (p["region"] == via)]
    return pd.concat(
        {
            "exports": t.groupby("period")["tonnes_per_year"].sum(),
            "output": p.groupby("period")["tonnes_per_year"].sum(),
        },
        axis=1,
    ).fillna(0.0)


@pytest.fixture(scope="module")
def ruled():
    return run(duty(), end=2027)


@pytest.fixture(scope="module")
def unruled():
    return run(duty(rules_of_origin=False), end=2027)


def test_third_regions_ship_the_taxed_good_only_up_to_their_own_output(ruled):
    for via in ("EU", "JPN", "ROW", "KOR"):
        m = exports_and_output(ruled, via)
        for per in ("2026", "2027"):
            if per in m.index:
                assert m.loc[per, "exports"] <= m.loc[per, "output"] * (1 + 1e-6) + 1e-6, (via, per)


def test_without_rules_of_origin_the_duty_is_passed_through_third_regions(ruled, unruled):
    # the pooled market re-exports Chinese magnets via the rest of the world above its own output
    m = exports_and_output(unruled, "ROW")
    assert (m.loc[["2026", "2027"], "exports"] > m.loc[["2026", "2027"], "output"] * 1.1).all()

    # with the rules the U.S. imports more from China itself (paying the duty) than without
    def from_china(res):
        t = res.trade
        t = t[(t["commodity"] == MAGNET) & (t["exporter"] == "CHN") & (t["importer"] == "USA")]
        return t.groupby("period")["tonnes_per_year"].sum()

    assert from_china(ruled)["2027"] > from_china(unruled)["2027"]


def test_a_re_export_control_does_not_leak_through_stock_releases():
    res = run(ban(destinations=("USA",), commodities=(MAGNET,), start=2026, no_reexport=True), end=2027)
    for via in ("EU", "JPN", "ROW", "KOR"):
        m = exports_and_output(res, via)
        for per in ("2026", "2027"):
            if per in m.index:
                assert m.loc[per, "exports"] <= m.loc[per, "output"] * (1 + 1e-6) + 1e-6, (via, per)


def test_rules_of_origin_follow_their_instrument_even_with_a_colon_in_its_name():
    """Each rule carries its instrument's name (owner); a ':' in the name, which also separates
    the parts of a rule's label, does not leave the rules slack while the instrument is in force."""
    import datetime as dt

    from reesim.instruments import trade
    from reesim.scenario.load import parse
    from reesim.simulate.stepper import scenario_world

    ban = {
        "type": "export_ban",
        "name": "ban:v2",
        "exporter": "CHN",
        "destinations": ["USA"],
        "commodities": ["magnet:ndfeb"],
        "no_reexport": True,
        "start": "2026-01-01",
    }
    sc = parse(
        {"name": "x", "extends": "baseline", "horizon": {"start": 2025, "end": 2026}, "instruments": [ban]}
    )
    rules = scenario_world(sc).origin_rules
    assert len(rules) > 0 and set(rules["owner"]) == {"ban:v2"}
    assert (trade.origin_slack(sc, rules, dt.date(2026, 6, 1)) == 0.0).all()
    assert (trade.origin_slack(sc, rules, dt.date(2025, 6, 1)) == trade.NOT_BINDING).all()
