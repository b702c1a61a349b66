"""Textbook spatial equilibria with hand-computed closed forms (both QP back ends).

Every expected number below is derived by hand from the linear curves in the world files of
``tests/worlds/`` (the derivations sit next to the numbers). Prices and NET exports are
compared to 1e-6 relative; individual flows are only checked where they are unique.

Notation: for a region with supply ``p = c + d x`` and inverse demand ``p = a - b q``,
excess supply is ``ES(p) = (p - c)/d - (a - p)/b`` and excess demand ``ED(p) = -ES(p)``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from reesim.errors import InputError
from reesim.solve.equilibrium import solve_equilibrium
from reesim.world.worldfile import load_world, parse_world

WORLDS = Path(__file__).parent / "worlds"
BACKENDS = ["piqp", "clarabel"]
RTOL = 1e-6


# --------------------------------------------------------------------------- helpers
def spec(name: str) -> dict:
    """The world file ``tests/worlds/<name>.yaml`` as a plain dict (to edit in a test)."""
    return yaml.safe_load((WORLDS / f"{name}.yaml").read_text(encoding="utf-8"))


def build(data: dict, policies: dict | None = None, year: int | None = None):
    """Parse ``data`` (plus optional ``policies``) through the world-file reader."""
    data = copy.deepcopy(data)
    if policies:
        data["policies"] = policies
    return parse_world(yaml.safe_dump(data, sort_keys=False), year=year, source=data["name"])


def world(name: str, policies: dict | None = None, year: int | None = None):
    """Load a toy world file and optionally append policies."""
    return build(spec(name), policies, year)


def close(actual: float, expected: float, scale: float = 100.0) -> None:
    """``actual`` equals ``expected`` to 1e-6 relative; an expected 0 to 1e-6 * ``scale``."""
    tol = RTOL * (abs(expected) if expected != 0 else scale)
    assert abs(actual - expected) <= tol, (actual, expected, tol)


def net_exports(sol, regions, commodity: str = "w") -> dict[str, float]:
    """Net exports of every region (0 for regions that do not trade)."""
    return sol.net_exports(commodity).reindex(list(regions), fill_value=0.0).to_dict()


def check_market(sol, prices: dict[str, float], exports: dict[str, float], commodity: str = "w") -> None:
    for region, p in prices.items():
        close(sol.price(commodity, region), p)
    nx = net_exports(sol, exports, commodity)
    for region, x in exports.items():
        close(nx[region], x)


# --------------------------------------------------------------------------- two regions
# ES_A(p) = 2p - 110, ED_B(p) = 170 - 2p. With trade T on A->B and an edge cost k (transport
# 6 plus a specific wedge t): T = 2 p_A - 110 = 170 - 2 p_B and p_B = p_A + k, so
# 4 p_A = 280 - 2k -> p_A = 70 - k/2 = 67 - t/2, p_B = p_A + k, T = 2 p_A - 110.
EXPORT_TAX_PA = 268 / 4.2  # see test_two_region_export_tax_on_origin_price
IMPORT_TARIFF_PA = 266.8 / 4.2  # see test_two_region_import_tariff_on_cif_value

TWO_REGION_CASES = {
    # free trade: p_A = 67, p_B = 73, T = 2*67 - 110 = 24
    "free trade": ({}, 67.0, 73.0, 24.0),
    # ban A->B: each region in autarky, 10 + x = 100 - x -> 55 and 40 + x = 130 - x -> 85.
    # (B->A stays open but p_A - p_B = -30 < 6, so nothing moves.)
    "ban": ({"bans": [{"from": "A", "to": "B"}]}, 55.0, 85.0, 0.0),
    # quota 10 binds: 2 p_A - 110 = 10 -> 60; 170 - 2 p_B = 10 -> 80
    "quota": (
        {"quotas": [{"name": "q", "limit": 10, "edges": [{"from": "A", "to": "B"}]}]},
        60.0,
        80.0,
        10.0,
    ),
    # specific tariff 4: p_A = 67 - 2 = 65, p_B = 65 + 10 = 75, T = 20
    "specific tariff": ({"specific": [{"from": "A", "to": "B", "per_unit": 4}]}, 65.0, 75.0, 20.0),
    # export tax 10 % of the origin price: p_B = 1.1 p_A + 6 (derivation in the test below)
    "export tax (origin)": (
        {"ad_valorem": [{"from": "A", "to": "B", "rate": 0.1, "base": "origin"}]},
        EXPORT_TAX_PA,
        1.1 * EXPORT_TAX_PA + 6,
        2 * EXPORT_TAX_PA - 110,
    ),
    # import tariff 10 % of CIF value: p_B = 1.1 (p_A + 6) (derivation in the test below)
    "import tariff (cif)": (
        {"ad_valorem": [{"from": "A", "to": "B", "rate": 0.1, "base": "cif"}]},
        IMPORT_TARIFF_PA,
        1.1 * (IMPORT_TARIFF_PA + 6),
        2 * IMPORT_TARIFF_PA - 110,
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(TWO_REGION_CASES))
def test_two_region_closed_forms(case, backend):
    policies, pa, pb, exports = TWO_REGION_CASES[case]
    sol = solve_equilibrium(world("two_region", policies), backend=backend)
    check_market(sol, {"A": pa, "B": pb}, {"A": exports, "B": -exports})
    # Consumption sits on the inverse demand curves.
    cons = sol.consumption.set_index("region")["quantity"]
    close(cons["A"], 100 - pa)
    close(cons["B"], 130 - pb)


def test_two_region_hand_numbers():
    """The decimal values of the ad valorem closed forms (pins the arithmetic)."""
    assert pytest.approx(63.8095238095, rel=1e-10) == EXPORT_TAX_PA
    assert pytest.approx(76.1904761905, rel=1e-10) == 1.1 * EXPORT_TAX_PA + 6
    assert pytest.approx(63.5238095238, rel=1e-10) == IMPORT_TARIFF_PA
    assert pytest.approx(76.4761904762, rel=1e-10) == 1.1 * (IMPORT_TARIFF_PA + 6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_region_ban_moves_nothing(backend):
    sol = solve_equilibrium(world("two_region", {"bans": [{"from": "A", "to": "B"}]}), backend=backend)
    assert sol.trade.empty
    assert sol.prices["determined"].all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_region_quota_rent(backend):
    """Quota 10 binds: rent = p_B - p_A - transport = 80 - 60 - 6 = 14, used = 10."""
    policies = {"quotas": [{"name": "q", "limit": 10, "edges": [{"from": "A", "to": "B"}]}]}
    sol = solve_equilibrium(world("two_region", policies), backend=backend)
    rents = sol.quota_rents.set_index("quota")
    close(rents.loc["q", "rent_usd_per_kg"], 14.0)
    close(rents.loc["q", "used"], 10.0)
    assert rents.loc["q", "limit"] == 10.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_region_slack_quota_has_no_rent(backend):
    """A quota of 30 above the free-trade flow 24 changes nothing and earns no rent."""
    policies = {"quotas": [{"name": "q", "limit": 30, "edges": [{"from": "A", "to": "B"}]}]}
    sol = solve_equilibrium(world("two_region", policies), backend=backend)
    check_market(sol, {"A": 67.0, "B": 73.0}, {"A": 24.0, "B": -24.0})
    rents = sol.quota_rents.set_index("quota")
    close(rents.loc["q", "rent_usd_per_kg"], 0.0)
    close(rents.loc["q", "used"], 24.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_region_export_tax_on_origin_price(backend):
    """Export tax of 10 % on the origin price (base: origin).

    The wedge is 0.1 p_A, so arbitrage on A->B reads p_B = p_A + 6 + 0.1 p_A = 1.1 p_A + 6.
    Market clearing 2 p_A - 110 = 170 - 2 p_B = 170 - 2.2 p_A - 12 gives
    4.2 p_A = 268:  p_A = 268/4.2 = 63.8095..., p_B = 76.1905..., T = 2 p_A - 110 = 17.619...
    """
    policies = {"ad_valorem": [{"from": "A", "to": "B", "rate": 0.1, "base": "origin"}]}
    sol = solve_equilibrium(world("two_region", policies), backend=backend)
    pa = 268 / 4.2
    check_market(sol, {"A": pa, "B": 1.1 * pa + 6}, {"A": 2 * pa - 110, "B": 110 - 2 * pa})
    edge = sol.trade.set_index(["origin", "dest"]).loc[("A", "B")]
    close(edge["wedge_usd_per_kg"], 0.1 * pa)
    assert sol.wedge_iterations >= 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_region_import_tariff_on_cif_value(backend):
    """Import tariff of 10 % on the CIF value (base: cif).

    CIF value at B = origin price + transport = p_A + 6; the wedge is 0.1 (p_A + 6), so
        p_B = p_A + 6 + 0.1 (p_A + 6) = 1.1 p_A + 6.6.
    Market clearing: 2 p_A - 110 = 170 - 2 p_B = 170 - 2.2 p_A - 13.2
        -> 4.2 p_A = 266.8 -> p_A = 63.5238..., p_B = 1.1 * 69.5238... = 76.4762...,
        T = 2 p_A - 110 = 17.0476...
    """
    policies = {"ad_valorem": [{"from": "A", "to": "B", "rate": 0.1, "base": "cif"}]}
    sol = solve_equilibrium(world("two_region", policies), backend=backend)
    pa = 266.8 / 4.2
    check_market(sol, {"A": pa, "B": 1.1 * pa + 6.6}, {"A": 2 * pa - 110, "B": 110 - 2 * pa})
    edge = sol.trade.set_index(["origin", "dest"]).loc[("A", "B")]
    close(edge["wedge_usd_per_kg"], 0.1 * (pa + 6))


# --------------------------------------------------------------------------- three regions
# ES_A = 2 p_A - 110, ED_B = 170 - 2 p_B, ED_C = 220 - 2 p_C; edges A->B 6, A->C 10, B->C 7,
# every other pair 50. Each case lists the linear system M p = b that the active
# arbitrage conditions and market clearing give, the hand solution, and the net exports.
THREE_REGION_CASES = {
    # Free trade: A ships to B and to C directly.
    #   clearing  ES_A = ED_B + ED_C:  2pA - 110 = 170 - 2pB + 220 - 2pC -> 2pA + 2pB + 2pC = 500
    #   A->B:  pB - pA = 6;   A->C:  pC - pA = 10
    #   -> 6 pA = 500 - 12 - 20 = 468: pA = 78, pB = 84, pC = 88
    #   check: pC - pB = 4 < 7 (B->C idle); NX: A 2*78-110 = 46, B -(170-168) = -2, C -(220-176) = -44
    "free trade": (
        {},
        [[2, 2, 2], [-1, 1, 0], [-1, 0, 1]],
        [500, 6, 10],
        {"A": 78.0, "B": 84.0, "C": 88.0},
        {"A": 46.0, "B": -2.0, "C": -44.0},
    ),
    # Ban A->C: trade diverts through B (A->B->C costs 6 + 7 = 13).
    #   clearing 2pA + 2pB + 2pC = 500;  pB - pA = 6;  pC - pB = 7
    #   -> 6 pA = 500 - 12 - 26 = 462: pA = 77, pB = 83, pC = 90
    #   NX: A 2*77-110 = 44, C -(220-180) = -40, B = -(170-166) = -4 (imports 44, re-exports 40)
    "ban A->C": (
        {"bans": [{"from": "A", "to": "C"}]},
        [[2, 2, 2], [-1, 1, 0], [0, -1, 1]],
        [500, 6, 7],
        {"A": 77.0, "B": 83.0, "C": 90.0},
        {"A": 44.0, "B": -4.0, "C": -40.0},
    ),
    # Quota 42 on A->C (free flow 44), binding; the detour via B stays idle.
    #   C: ED_C = 42 -> 220 - 2pC = 42 -> 2pC = 178
    #   A, B: ES_A = ED_B + 42 -> 2pA + 2pB = 322;  pB - pA = 6
    #   -> pA = 77.5, pB = 83.5, pC = 89; rent = pC - pA - 10 = 1.5
    #   check: detour pC - pA = 11.5 < 13; NX: A 45, B -3, C -42
    "quota A->C": (
        {"quotas": [{"name": "q", "limit": 42, "edges": [{"from": "A", "to": "C"}]}]},
        [[2, 2, 0], [-1, 1, 0], [0, 0, 2]],
        [322, 6, 178],
        {"A": 77.5, "B": 83.5, "C": 89.0},
        {"A": 45.0, "B": -3.0, "C": -42.0},
    ),
    # Specific tariff 2 on A->C: direct route costs 12 < 13 (detour).
    #   2pA + 2pB + 2pC = 500; pB - pA = 6; pC - pA = 12 -> 6 pA = 464
    #   pA = 232/3, pB = 250/3, pC = 268/3 (pC - pB = 6 < 7)
    #   NX: A 464/3 - 110 = 134/3, B -(170 - 500/3) = -10/3, C -(220 - 536/3) = -124/3
    "tariff A->C": (
        {"specific": [{"from": "A", "to": "C", "per_unit": 2}]},
        [[2, 2, 2], [-1, 1, 0], [-1, 0, 1]],
        [500, 6, 12],
        {"A": 232 / 3, "B": 250 / 3, "C": 268 / 3},
        {"A": 134 / 3, "B": -10 / 3, "C": -124 / 3},
    ),
    # Specific tariff 3 on A->B: B drops out of trade and returns to autarky (85).
    #   A, C: 2pA - 110 = 220 - 2pC, pC - pA = 10 -> pA = 77.5, pC = 87.5;  B: 2pB = 170
    #   check: pB - pA = 7.5 < 6 + 3 = 9 (no import), pC - pB = 2.5 < 7 (no export)
    #   NX: A 45, B 0, C -45
    "tariff A->B (B autarky)": (
        {"specific": [{"from": "A", "to": "B", "per_unit": 3}]},
        [[2, 0, 2], [-1, 0, 1], [0, 2, 0]],
        [330, 10, 170],
        {"A": 77.5, "B": 85.0, "C": 87.5},
        {"A": 45.0, "B": 0.0, "C": -45.0},
    ),
}


@pytest.mark.parametrize("case", list(THREE_REGION_CASES))
def test_three_region_hand_solutions_solve_their_systems(case):
    _, M, b, prices, _ = THREE_REGION_CASES[case]
    p = np.linalg.solve(np.array(M, float), np.array(b, float))
    np.testing.assert_allclose(p, [prices[r] for r in "ABC"], rtol=1e-12)
    # Net exports follow from the prices through the excess supply curves.
    _, _, _, _, nx = THREE_REGION_CASES[case]
    es = {"A": 2 * p[0] - 110, "B": 2 * p[1] - 170, "C": 2 * p[2] - 220}
    for r in "ABC":
        assert es[r] == pytest.approx(nx[r], abs=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(THREE_REGION_CASES))
def test_three_region_closed_forms(case, backend):
    policies, _, _, prices, exports = THREE_REGION_CASES[case]
    sol = solve_equilibrium(world("three_region", policies), backend=backend)
    check_market(sol, prices, exports)


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_region_ban_diverts_trade_through_B(backend):
    """With A->C banned, C's 40 units can only arrive on B->C (the flow is unique here)."""
    sol = solve_equilibrium(world("three_region", {"bans": [{"from": "A", "to": "C"}]}), backend=backend)
    flows = sol.trade.set_index(["origin", "dest"])["flow"]
    close(flows.get(("B", "C"), 0.0), 40.0)
    assert ("A", "C") not in flows.index


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_region_quota_rent(backend):
    policies = THREE_REGION_CASES["quota A->C"][0]
    sol = solve_equilibrium(world("three_region", policies), backend=backend)
    rents = sol.quota_rents.set_index("quota")
    close(rents.loc["q", "rent_usd_per_kg"], 1.5)  # 89 - 77.5 - 10
    close(rents.loc["q", "used"], 42.0)


# --------------------------------------------------------------------------- capacity
@pytest.mark.parametrize("backend", BACKENDS)
def test_capacity_binds_in_autarky(backend):
    """Capacity 20 in A (free-trade output would be 67 - 10 = 57).

    A produces 20 and consumes 20: p_A = 100 - 20 = 80 (demand at capacity). B stays in
    autarky at 85, and |85 - 80| = 5 < 6, so nothing is traded.
    Capacity rent = p_A - marginal cost at capacity = 80 - (10 + 20) = 50.
    """
    data = spec("two_region")
    data["supply"][0]["capacity"] = 20
    sol = solve_equilibrium(build(data), backend=backend)
    check_market(sol, {"A": 80.0, "B": 85.0}, {"A": 0.0, "B": 0.0})
    prod = sol.production.set_index("region")
    close(prod.loc["A", "activity"], 20.0)
    close(prod.loc["A", "capacity_rent_usd_per_kg"], 50.0)
    close(prod.loc["B", "capacity_rent_usd_per_kg"], 0.0)
    close(sol.consumption.set_index("region").loc["A", "quantity"], 20.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_capacity_binds_with_trade(backend):
    """Capacity 40 in A: ES_A = 40 - (100 - p_A) = p_A - 60 = 170 - 2 p_B, p_B = p_A + 6.

    -> 3 p_A = 218: p_A = 218/3 = 72.667, p_B = 236/3, exports 218/3 - 60 = 38/3;
    capacity rent = p_A - (10 + 40) = 68/3 = 22.667.
    """
    data = spec("two_region")
    data["supply"][0]["capacity"] = 40
    sol = solve_equilibrium(build(data), backend=backend)
    check_market(sol, {"A": 218 / 3, "B": 236 / 3}, {"A": 38 / 3, "B": -38 / 3})
    prod = sol.production.set_index("region")
    close(prod.loc["A", "activity"], 40.0)
    close(prod.loc["A", "capacity_rent_usd_per_kg"], 68 / 3)


# --------------------------------------------------------------------------- joint production
# Mine activity x (concentrate), separation activity s = x (concentrate balance, p_conc =
# 5 + 0.1 x). Separation breaks even: 0.2 p_Nd + 0.8 p_Ce = p_conc + 1 = 6 + 0.1 x.
# Nd: q_Nd = 0.2 x, p_Nd = a - 0.2 b x.
# (i)  Ce market clears (p_Ce > 0): q_Ce = 0.8 x, p_Ce = 2 - 0.4 x; needs 0.8 x < 4, x < 5.
#      0.2 a - 0.04 b x + 1.6 - 0.32 x = 6 + 0.1 x  ->  x = (0.2 a - 4.4) / (0.04 b + 0.42)
# (ii) Ce in excess (p_Ce = 0, free disposal): q_Ce = 2/0.5 = 4 <= 0.8 x (x >= 5) and
#      0.2 p_Nd = marginal cost of mining + separation = 6 + 0.1 x
#      -> 0.2 a - 0.04 b x = 6 + 0.1 x  ->  x = (0.2 a - 6) / (0.04 b + 0.1)
JOINT_CASES = {
    # (i) a = 32, b = 2: x = (6.4 - 4.4)/0.5 = 4; p_Nd = 32 - 1.6 = 30.4; p_Ce = 2 - 1.6 = 0.4
    #     check 0.2*30.4 + 0.8*0.4 = 6.4 = 6 + 0.4
    "low Nd demand": (32, 2, 4.0, 30.4, 0.4),
    # (i) a = 40, b = 12: x = (8 - 4.4)/(0.48 + 0.42) = 4; p_Nd = 40 - 9.6 = 30.4; p_Ce = 0.4
    "low Nd demand (steep)": (40, 12, 4.0, 30.4, 0.4),
    # (ii) a = 75, b = 2: (i) would give x = 10.6/0.5 = 21.2 > 5, so Ce is in excess:
    #      x = (15 - 6)/0.18 = 50; p_Nd = 75 - 20 = 55 (0.2*55 = 11 = 6 + 5); Ce out 40 >> 4
    "high Nd intercept": (75, 2, 50.0, 55.0, 0.0),
    # (ii) a = 40, b = 2.5: (i) would give x = 3.6/0.52 = 6.9 > 5; x = (8 - 6)/0.2 = 10;
    #      p_Nd = 40 - 5 = 35 (0.2*35 = 7 = 6 + 1); Ce out 8 > 4
    "flatter Nd demand": (40, 2.5, 10.0, 35.0, 0.0),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(JOINT_CASES))
def test_joint_production_balance_problem(case, backend):
    a, b, x, p_nd, p_ce = JOINT_CASES[case]
    data = spec("joint_production")
    data["demand"][0].update(intercept=a, slope=b)
    sol = solve_equilibrium(build(data), backend=backend)

    prod = sol.production.set_index("process")["activity"]
    close(prod["mine"], x)
    close(prod["sep"], x)
    close(sol.price("conc", "A"), 5 + 0.1 * x)
    close(sol.price("Nd", "A"), p_nd)
    close(sol.price("Ce", "A"), p_ce)

    cons = sol.consumption.set_index("commodity")["quantity"]
    out = sol.outputs.groupby("commodity")["quantity"].sum()
    close(cons["Nd"], 0.2 * x)
    close(out["Nd"], 0.2 * x)
    close(out["Ce"], 0.8 * x)
    if p_ce > 0:
        # Ce market clears: consumption = output, on the demand curve.
        close(cons["Ce"], 0.8 * x)
        close(p_ce, 2 - 0.5 * cons["Ce"])
    else:
        # Free disposal: consumption at the choke quantity 2/0.5 = 4, the rest is discarded.
        close(cons["Ce"], 4.0)
        assert out["Ce"] - cons["Ce"] > 3.0
        # The Nd price alone pays for mining and separation of one unit of concentrate.
        close(0.2 * sol.price("Nd", "A"), (5 + 0.1 * x) + 1)
    # Zero profit in separation at any regime.
    close(0.2 * sol.price("Nd", "A") + 0.8 * sol.price("Ce", "A"), sol.price("conc", "A") + 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rising_nd_demand_drives_ce_price_to_zero(backend):
    """Raising the Nd choke price from 32 to 75 raises mining from 4 to 50 and Ce's price to 0."""
    results = {}
    for a in (32, 75):
        data = spec("joint_production")
        data["demand"][0]["intercept"] = a
        results[a] = solve_equilibrium(build(data), backend=backend)
    mine = {a: s.production.set_index("process").loc["mine", "activity"] for a, s in results.items()}
    assert mine[75] > mine[32] + 40
    assert results[32].price("Ce", "A") > 0.3
    close(results[75].price("Ce", "A"), 0.0)


# --------------------------------------------------------------------------- year filtering
YEAR_POLICIES = {
    "specific": [{"from": "A", "to": "B", "per_unit": 4, "start": 2005, "end": 2012}],
    "quotas": [{"name": "q", "limit": 10, "edges": [{"from": "A", "to": "B"}], "start": 2015, "end": 2025}],
}


@pytest.fixture
def dated_world_file(tmp_path):
    data = spec("two_region")
    data["policies"] = YEAR_POLICIES
    path = tmp_path / "dated.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("year", "n_specific", "n_quotas", "pa", "pb", "rent"),
    [
        (2010, 1, 0, 65.0, 75.0, None),  # tariff 4 only: 67 - 2, 65 + 10
        (2020, 0, 1, 60.0, 80.0, 14.0),  # quota 10 only
        (2030, 0, 0, 67.0, 73.0, None),  # nothing in force: free trade
        # no year: every policy; the quota binds and absorbs the tariff: rent 80 - 60 - 6 - 4
        (None, 1, 1, 60.0, 80.0, 10.0),
    ],
)
def test_policies_apply_only_in_force(dated_world_file, year, n_specific, n_quotas, pa, pb, rent, backend):
    w = load_world(dated_world_file, year=year)
    assert len(w.specific) == n_specific
    assert len(w.quotas) == n_quotas
    assert w.meta["year"] == year
    sol = solve_equilibrium(w, backend=backend)
    check_market(sol, {"A": pa, "B": pb}, {"A": 2 * pa - 110, "B": 110 - 2 * pa})
    if rent is not None:
        close(sol.quota_rents.set_index("quota").loc["q", "rent_usd_per_kg"], rent)


def test_policy_in_force_on_its_boundary_years(dated_world_file):
    assert len(load_world(dated_world_file, year=2015).quotas) == 1
    assert len(load_world(dated_world_file, year=2025).quotas) == 1
    assert len(load_world(dated_world_file, year=2014).quotas) == 0
    assert len(load_world(dated_world_file, year=2026).quotas) == 0


# --------------------------------------------------------------------------- bad world files
HEADER = """\
name: bad
regions: [China, Japan]
commodities: [w]
"""
BAD_FILES = {
    "unknown key": (HEADER + "suply: []\n", ["suply", "unknown key"]),
    "unknown region": (
        HEADER + "supply: [{region: Chian, commodity: w, intercept: 1, slope: 1}]\n",
        ["supply[0].region", "Chian", "did you mean 'China'"],
    ),
    "negative supply slope": (
        HEADER + "supply: [{region: China, commodity: w, intercept: 1, slope: -1}]\n",
        ["supply[0].slope", "-1"],
    ),
    "negative demand slope": (
        HEADER + "demand: [{region: Japan, commodity: w, intercept: 9, slope: -2}]\n",
        ["demand[0].slope", "-2"],
    ),
    "edge to itself": (
        HEADER + "trade: {edges: [{commodity: w, from: China, to: China, cost: 1}]}\n",
        ["trade.edges[0]", "China"],
    ),
    "quota on a missing edge": (
        HEADER
        + "trade: {edges: [{commodity: w, from: China, to: Japan, cost: 1}]}\n"
        + "policies: {quotas: [{name: q, limit: 1, edges: [{from: Japan, to: China}]}]}\n",
        ["policies.quotas[0].edges[0]", "Japan->China", "not a trade edge"],
    ),
    "policy ends before it starts": (
        HEADER
        + "trade: {all_pairs: true}\n"
        + "policies: {bans: [{from: China, to: Japan, start: 2020, end: 2010}]}\n",
        ["policies.bans[0]", "2010", "2020", "before start"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_world_file_names_the_yaml_path(case, tmp_path):
    text, needles = BAD_FILES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_world(path)
    msg = str(info.value)
    assert msg.startswith("bad.yaml: ")
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_good_header_parses():
    """The header of the bad files is itself valid (each failure comes from its own line)."""
    w = parse_world(HEADER + "trade: {all_pairs: true}\n")
    assert w.regions == ("China", "Japan")
    assert len(w.edges) == 2


# --------------------------------------------------------------------------- ties and large rates
# Regression tests for problems found by these tests: PIQP stopping early at ties (its
# duality-gap tolerance is now tightened) and the ad valorem fixed point diverging for large
# rates (now a secant step per edge).


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("b_demand", [100.0, 99.998])
def test_degenerate_autarky_gap_equal_to_transport(b_demand, backend):
    """B: supply 22 + x, demand b_demand - q -> autarky p_B = (22 + b_demand)/2 = 61 (or 60.999).

    A stays at its autarky price 55; the price gap 6 (or 5.999) equals (or is 0.001 below)
    the transport cost 6, so nothing is traded: p_A = 55, p_B = (22 + b_demand)/2.
    """
    data = spec("two_region")
    data["supply"][1]["intercept"] = 22
    data["demand"][1]["intercept"] = b_demand
    sol = solve_equilibrium(build(data), backend=backend)
    check_market(sol, {"A": 55.0, "B": (22 + b_demand) / 2}, {"A": 0.0, "B": 0.0})


@pytest.mark.parametrize("backend", BACKENDS)
def test_degenerate_choke_price_equal_to_supply_intercept(backend):
    """One region, supply 10 + x, demand 10 - q: the market sits at its margin, p = 10, q = 0."""
    w = parse_world(
        """
name: at the margin
regions: [A]
commodities: [w]
supply: [{region: A, commodity: w, intercept: 10, slope: 1}]
demand: [{region: A, commodity: w, intercept: 10, slope: 1}]
"""
    )
    sol = solve_equilibrium(w, backend=backend)
    close(sol.price("w", "A"), 10.0)
    close(sol.consumption["quantity"].iloc[0], 0.0)


STEEP = """
name: steep importer
regions: [A, B]
commodities: [w]
supply:
  - {region: A, commodity: w, intercept: 1, slope: 1}
  - {region: B, commodity: w, intercept: 150, slope: 0.1}
demand:
  - {region: A, commodity: w, intercept: 10, slope: 1}
  - {region: B, commodity: w, intercept: 200, slope: 0.1}
trade: {all_pairs: true, cost: 6}
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "rate",
    [
        0.5,
        1.0,
        1.45,
        3.0,
    ],
)
def test_large_export_tax_with_steep_import_demand(rate, backend):
    """Export tax ``rate`` x p_A on A->B into a market with flat excess demand.

    At these prices A consumes nothing (p_A > 10), so ES_A = p_A - 1; B's excess demand is
    (200 - p)/0.1 - (p - 150)/0.1 = 3500 - 20 p; arbitrage p_B = (1 + rate) p_A + 6.
    p_A - 1 = 3500 - 20 ((1 + rate) p_A + 6)  ->  p_A = 3381 / (1 + 20 (1 + rate)):
    rate 0.5: p_A = 3381/31 = 109.065;  rate 1.0 (100 %): p_A = 3381/41 = 82.463;
    1.45 (145 %): 3381/50 = 67.62;  3.0: 3381/81 = 41.74 (A still consumes nothing: p_A > 10).
    """
    policy = f"policies: {{ad_valorem: [{{from: A, to: B, rate: {rate}, base: origin}}]}}\n"
    sol = solve_equilibrium(parse_world(STEEP + policy), backend=backend)
    pa = 3381 / (1 + 20 * (1 + rate))
    check_market(sol, {"A": pa, "B": (1 + rate) * pa + 6}, {"A": pa - 1, "B": 1 - pa})
