"""The shipped October 2025 package (China's Announcements No. 57 and No. 61) and its suspension."""

from __future__ import annotations

import copy

import pytest

from reesim.pipeline import run_pair
from reesim.scenario.load import parse, resolve

NEW = ("Ho", "Er", "Eu", "Yb")


def _run(name: str, end: int = 2026):
    data, _ = resolve(name)
    data = copy.deepcopy(data)
    data["horizon"] = {**data["horizon"], "end": end}
    return run_pair(parse(data, name))[0]  # with its counterfactual (approval shares refer to it)


@pytest.fixture(scope="module")
def package():
    return _run("china-2025-october-package")


@pytest.fixture(scope="module")
def suspended():
    return _run("china-2025-october-package-suspended")


def _price(res, commodity: str, region: str, year: int) -> float:
    p = res.prices
    return float(
        p[(p["commodity"] == commodity) & (p["region"] == region) & (p["year"] == year)]["usd_per_kg"].mean()
    )


@pytest.mark.parametrize("element", NEW)
def test_package_licences_the_new_elements_price_wedge_appears(package, element):
    """From 2025-11-08 half of China's Ho/Er/Eu/Yb oxide exports are approved: in 2026 the oxide
    is dearer in Europe than in China (the licence's wedge) and China's price is below its level
    in the months before the licence."""
    eu, cn = _price(package, f"oxide:{element}", "EU", 2026), _price(package, f"oxide:{element}", "CHN", 2026)
    assert eu > 1.5 * cn
    p = package.prices
    before = p[(p["commodity"] == f"oxide:{element}") & (p["region"] == "CHN") & (p["period"] < "2025-11")]
    assert cn < before["usd_per_kg"].mean()
    rents = package.quota_rents
    rows = rents[rents["quota"].str.startswith(f"china-licensing-oct-2025:EU:{element}")]
    assert (rows[rows["period"] < "2025-11"]["rent_usd_per_kg"] < 1e-6).all()  # not before the start
    assert (rows[rows["period"] >= "2026-01"]["rent_usd_per_kg"] > 1.0).all()  # binds once reviewed


def test_suspension_keeps_the_new_elements_free_until_november_2026(suspended):
    """Suspended to 2026-11-10: Ho in Europe and in China stay within transport of each other
    through October 2026, then the licence opens the wedge."""
    p = suspended.prices
    ho = p[(p["commodity"] == "oxide:Ho") & p["region"].isin(["EU", "CHN"])].pivot_table(
        index="period", columns="region", values="usd_per_kg"
    )
    before = ho.loc[:"2026-10"]
    assert ((before["EU"] - before["CHN"]).abs() < 2.0).all()  # transport and route costs only
    rents = suspended.quota_rents
    rows = rents[rents["quota"].str.startswith("china-licensing-oct-2025:EU:Ho")]
    assert (rows[rows["period"] <= "2026-10"]["rent_usd_per_kg"] < 1e-6).all()


def test_package_carries_the_defense_exclusion_and_records_it(package):
    rents = package.quota_rents
    rows = rents[rents["quota"] == "china-licensing-2025-magnets-no61:USA:excluded defense (magnet:ndfeb)"]
    assert len(rows) > 0
    binding = rows[rows["period"] >= "2025-12"]
    # U.S. defense (175 t/yr, DoD 2012) buys less than the U.S. makes: the exclusion does not bind
    assert (binding["used_tonnes_per_year"] < binding["limit_tonnes_per_year"]).all()
    assert (binding["rent_usd_per_kg"] < 1e-6).all()
    cons = package.consumption
    assert set(cons.loc[cons["sector"] == "defense", "region"]) == {"USA"}
