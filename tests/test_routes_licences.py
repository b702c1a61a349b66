"""Route calibration (PMP) and licences on element content, by hand.

* PMP on a 2-region toy: the calibrated model reproduces the observed flow exactly, and a
  wedge moves the flow by the amount solved by hand from the calibrated route cost.
* A licence on Dy content binds on oxide, metal and magnet exports at once; its shadow
  value (the row's dual, USD per kg of Dy content) equals the price wedge of every form
  it binds on, and is zero when it does not bind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reesim.solve.equilibrium import solve_equilibrium
from reesim.solve.routes import calibrate_routes
from reesim.world.content import element_content
from reesim.world.world import World


def _toy(transport: float = 0.5, specific: float = 0.0) -> World:
    """A supplies (mc 1 + x), B supplies (mc 2 + x) and consumes (p = 12 - q)."""
    return World(
        name="pmp toy",
        regions=("A", "B"),
        commodities=("good",),
        processes=pd.DataFrame(
            [("sA", "A", "supply", np.inf, 1.0, 1.0), ("sB", "B", "supply", np.inf, 2.0, 1.0)],
            columns=["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"],
        ),
        io=pd.DataFrame([("sA", "good", 1.0), ("sB", "good", 1.0)], columns=["process", "commodity", "coef"]),
        demands=pd.DataFrame(
            [("dB", "use", "B", "good", 12.0, 1.0)],
            columns=["demand", "sector", "region", "commodity", "intercept", "slope"],
        ),
        edges=pd.DataFrame(
            [("good", "A", "B", transport)], columns=["commodity", "origin", "dest", "transport"]
        ),
        specific=pd.DataFrame(
            [("good", "A", "B", specific)] if specific else [],
            columns=["commodity", "origin", "dest", "per_unit"],
        ),
    )


def _flow(sol) -> float:
    t = sol.trade
    return float(t["flow"].sum())


def test_pmp_toy_reproduces_the_observed_flow_and_the_analytic_response():
    # Flat-cost model: p_B = p_A + 0.5; x_A = p_A - 1, x_B = p_B - 2, q = 12 - p_B = x_A + x_B
    # -> p_B = 15.5 / 3 and the flow x_A = 3.6667. Observed: 3.
    flat = solve_equilibrium(_toy())
    assert _flow(flat) == pytest.approx(15.5 / 3 - 1.5, abs=1e-6)
    targets = pd.DataFrame([("good", "A", "B", 3.0)], columns=["commodity", "origin", "dest", "flow"])
    world, table = calibrate_routes(_toy(), targets, sigma=2.0)
    # Calibration solve: x_A = 3 -> p_A = 4; p_B = (14 - 3) / 2 = 5.5; gap = 5.5 - 4 - 0.5 = 1.
    row = table.iloc[0]
    assert row["gap_usd_per_kg"] == pytest.approx(1.0, abs=1e-6)
    assert row["route_quad"] == pytest.approx(5.5 / (2.0 * 3.0), rel=1e-6)
    assert row["route_cost"] == pytest.approx(1.0 - 5.5 / 2.0, abs=1e-6)
    sol = solve_equilibrium(world)
    assert _flow(sol) == pytest.approx(3.0, abs=1e-6)
    prices = sol.price_map
    assert prices[("good", "A")] == pytest.approx(4.0, abs=1e-6)
    assert prices[("good", "B")] == pytest.approx(5.5, abs=1e-6)
    # A wedge of 1 USD/kg: (14 - f)/2 - (1 + f) = 0.5 - 1.75 + (11/12) f + 1 -> f = 6.25 / (29/12).
    taxed = world.replace(
        specific=pd.DataFrame([("good", "A", "B", 1.0)], columns=["commodity", "origin", "dest", "per_unit"])
    )
    assert _flow(solve_equilibrium(taxed)) == pytest.approx(6.25 * 12 / 29, abs=1e-6)


def test_pmp_untargeted_world_is_unchanged_and_bad_targets_are_named():
    world, _table = calibrate_routes(
        _toy(), pd.DataFrame(columns=["commodity", "origin", "dest", "flow"]), sigma=4.0
    )
    assert _flow(solve_equilibrium(world)) == pytest.approx(_flow(solve_equilibrium(_toy())), abs=1e-6)
    from reesim.errors import InputError

    with pytest.raises(InputError, match="good B->A is not a trade edge"):
        calibrate_routes(
            _toy(),
            pd.DataFrame([("good", "B", "A", 1.0)], columns=["commodity", "origin", "dest", "flow"]),
            2.0,
        )
    with pytest.raises(InputError, match="flow must be >= 0"):
        calibrate_routes(
            _toy(),
            pd.DataFrame([("good", "A", "B", -1.0)], columns=["commodity", "origin", "dest", "flow"]),
            2.0,
        )


def _dy_world(limit: float | None) -> World:
    """China makes Dy oxide, metal and magnets; the U.S. makes metal and magnets and uses all three."""
    k = 1.1477  # t Dy2O3 per t Dy metal
    procs = [
        ("mine", "CHN", "supply", np.inf, 100.0, 10.0),
        ("metal:CHN", "CHN", "metal", np.inf, 5.0, 0.0),
        ("magnet:CHN", "CHN", "magnet", np.inf, 20.0, 0.0),
        ("metal:USA", "USA", "metal", np.inf, 40.0, 0.0),
        ("magnet:USA", "USA", "magnet", np.inf, 22.0, 0.0),
    ]
    io = [
        ("mine", "oxide:Dy", 1.0),
        ("metal:CHN", "oxide:Dy", -k),
        ("metal:CHN", "metal:Dy", 1.0),
        ("magnet:CHN", "metal:Dy", -0.05),
        ("magnet:CHN", "magnet:x", 1.0),
        ("metal:USA", "oxide:Dy", -k),
        ("metal:USA", "metal:Dy", 1.0),
        ("magnet:USA", "metal:Dy", -0.05),
        ("magnet:USA", "magnet:x", 1.0),
    ]
    dems = [
        ("oxCHN", "other", "CHN", "oxide:Dy", 400.0, 20.0),
        ("oxUSA", "other", "USA", "oxide:Dy", 400.0, 20.0),
        ("mgUSA", "magnets", "USA", "magnet:x", 200.0, 10.0),
        ("mgCHN", "magnets", "CHN", "magnet:x", 200.0, 10.0),
    ]
    edges = [(c, "CHN", "USA", 1.0) for c in ("oxide:Dy", "metal:Dy", "magnet:x")]
    w = World(
        name="dy",
        regions=("CHN", "USA"),
        commodities=("oxide:Dy", "metal:Dy", "magnet:x"),
        processes=pd.DataFrame(
            procs, columns=["process", "region", "kind", "capacity", "mc_intercept", "mc_slope"]
        ),
        io=pd.DataFrame(io, columns=["process", "commodity", "coef"]),
        demands=pd.DataFrame(dems, columns=["demand", "sector", "region", "commodity", "intercept", "slope"]),
        edges=pd.DataFrame(edges, columns=["commodity", "origin", "dest", "transport"]),
        congestion=0.5,
    )
    if limit is None:
        return w
    content = element_content(w).set_index(["commodity", "element"])["reo_per_unit"]
    members = pd.DataFrame(
        [
            ("dy-licence", c, "CHN", "USA", float(content[(c, "Dy")]))
            for c in ("oxide:Dy", "metal:Dy", "magnet:x")
        ],
        columns=["quota", "commodity", "origin", "dest", "coef"],
    )
    return w.replace(
        quotas=pd.DataFrame([("dy-licence", limit)], columns=["quota", "limit"]), quota_members=members
    )


def test_element_content_follows_the_recipes():
    c = element_content(_dy_world(None)).set_index(["commodity", "element"])["reo_per_unit"]
    assert c[("oxide:Dy", "Dy")] == 1.0
    assert c[("metal:Dy", "Dy")] == pytest.approx(1.1477)
    assert c[("magnet:x", "Dy")] == pytest.approx(0.05 * 1.1477)


def test_licence_binds_on_dy_content_in_three_forms_and_its_shadow_value_is_the_price_wedge():
    free = solve_equilibrium(_dy_world(None))
    flows = free.trade.set_index("commodity")["flow"]
    assert {"oxide:Dy", "metal:Dy", "magnet:x"} <= set(flows.index)  # all three forms are exported
    content = {"oxide:Dy": 1.0, "metal:Dy": 1.1477, "magnet:x": 0.05 * 1.1477}
    dy_free = sum(content[c] * flows[c] for c in content)

    tight = solve_equilibrium(_dy_world(0.5 * dy_free))
    t = tight.trade.set_index("commodity")
    used = sum(content[c] * t["flow"].get(c, 0.0) for c in content)
    assert used == pytest.approx(0.5 * dy_free, rel=1e-6)
    rent = float(tight.quota_rents["rent_usd_per_kg"].iloc[0])
    assert rent > 0
    p = tight.price_map
    for c in content:
        if t["flow"].get(c, 0.0) > 1e-6:  # every exported form carries coef x rent on top of its route cost
            wedge = p[(c, "USA")] - p[(c, "CHN")] - 1.0 - 0.5 * t.loc[c, "flow"]
            assert wedge == pytest.approx(content[c] * rent, abs=1e-5)
    # The licence raises every form's price in the U.S. and lowers it in China.
    for c in content:
        assert p[(c, "USA")] > free.price_map[(c, "USA")]
        assert p[(c, "CHN")] < free.price_map[(c, "CHN")]

    loose = solve_equilibrium(_dy_world(2.0 * dy_free))
    assert float(loose.quota_rents["rent_usd_per_kg"].iloc[0]) == pytest.approx(0.0, abs=1e-7)
    lf = loose.trade.set_index("commodity")["flow"]
    for c in content:
        assert lf[c] == pytest.approx(flows[c], abs=1e-6)


def test_pmp_route_observed_closed_stays_closed_at_the_reference():
    # A target of 0: the calibration solve is autarky in B (12 - p = p - 2 -> p_B = 7), and the
    # route keeps that margin (7 - p_A - 0.5) as a barrier, so the calibrated market is autarky too.
    targets = pd.DataFrame([("good", "A", "B", 0.0)], columns=["commodity", "origin", "dest", "flow"])
    world, table = calibrate_routes(_toy(), targets, sigma=2.0)
    sol = solve_equilibrium(world)
    assert _flow(sol) == pytest.approx(0.0, abs=1e-6)
    assert sol.price_map[("good", "B")] == pytest.approx(7.0, abs=1e-6)
    assert table["route_cost"].iloc[0] > 0


def test_licence_rent_is_the_shadow_value_times_the_content_exported_and_welfare_adds_up():
    from reesim.impacts.welfare import step_welfare, world_welfare_identity

    free = solve_equilibrium(_dy_world(None))
    flows = free.trade.set_index("commodity")["flow"]
    content = {"oxide:Dy": 1.0, "metal:Dy": 1.1477, "magnet:x": 0.05 * 1.1477}
    limit = 0.5 * sum(content[c] * flows[c] for c in content)
    sol = solve_equilibrium(_dy_world(limit))
    rent = float(sol.quota_rents["rent_usd_per_kg"].iloc[0])
    w = step_welfare(sol).set_index(["region", "component"])["usd_million_per_year"]
    assert w[("CHN", "quota_rents")] == pytest.approx(rent * limit, rel=1e-6)  # USD/kg x kt = million USD
    total, identity = world_welfare_identity(sol)
    assert total == pytest.approx(identity, rel=1e-7)


def test_world_file_edges_carry_route_costs():
    from reesim.world.worldfile import parse_world

    text = """
name: routes
quantity_unit: t
regions: [A, B]
commodities: [good]
supply: [{region: A, commodity: good, intercept: 1, slope: 1}, {region: B, commodity: good, intercept: 2, slope: 1}]
demand: [{region: B, commodity: good, intercept: 12, slope: 1}]
trade:
  edges: [{commodity: good, from: A, to: B, cost: 0.5, route_cost: -1.75, route_quad: 0.9166666666666666}]
"""
    world = parse_world(text)
    # the calibrated toy of the first test, written as a file: the flow is the observed 3
    assert _flow(solve_equilibrium(world)) == pytest.approx(3.0, abs=1e-6)
    from reesim.errors import InputError

    with pytest.raises(InputError, match="route_quad"):
        parse_world(text.replace("route_quad: 0.9166666666666666", "route_quad: -1"))


def test_a_service_made_from_a_good_without_content_does_not_block_valuation():
    """A user's world: magnets need Dy metal and an energy service made from electricity."""
    w = _dy_world(None)
    procs = pd.concat(
        [
            w.processes,
            pd.DataFrame(
                [("grid", "USA", "supply", np.inf, 0.1, 0.0), ("power", "USA", "other", np.inf, 0.0, 0.0)],
                columns=w.processes.columns,
            ),
        ],
        ignore_index=True,
    )
    io = pd.concat(
        [
            w.io,
            pd.DataFrame(
                [
                    ("grid", "electricity", 1.0),
                    ("power", "electricity", -1.0),
                    ("power", "service:energy", 1.0),
                    ("magnet:USA", "service:energy", -2.0),
                    ("magnet:CHN", "service:energy", -2.0),
                ],
                columns=w.io.columns,
            ),
        ],
        ignore_index=True,
    )
    user = w.replace(commodities=(*w.commodities, "electricity", "service:energy"), processes=procs, io=io)
    c = element_content(user).set_index(["commodity", "element"])["reo_per_unit"]
    assert c[("magnet:x", "Dy")] == pytest.approx(0.05 * 1.1477)
    assert not {"electricity", "service:energy"} & set(c.index.get_level_values("commodity"))


def test_a_capacity_below_a_gram_is_zero_and_presolved_away():
    """A private stock drawn to zero closes at the interior-point solver's zero (1e-15 to 1e-9
    kt) and opens the next step as a release capacity that small; PIQP stalled on such boxes in
    68 of the 2025 backtest's 271 solves. Below ``ZERO_BOUND`` (1e-9 kt, a gram) a bound is 0:
    the column is presolved away and the equilibrium is that of a zero capacity, bit for bit;
    a capacity just above it is kept."""
    from reesim.model.qp import ZERO_BOUND, build_qp, update_qp

    def with_usa_mine(cap: float) -> World:
        w = _dy_world(None)
        procs = pd.concat(
            [
                w.processes,
                pd.DataFrame([("mine:USA", "USA", "supply", cap, 50.0, 1.0)], columns=w.processes.columns),
            ],
            ignore_index=True,
        )
        io = pd.concat(
            [w.io, pd.DataFrame([("mine:USA", "oxide:Dy", 1.0)], columns=w.io.columns)], ignore_index=True
        )
        return w.replace(processes=procs, io=io)

    residue, zero, kept = with_usa_mine(3e-13), with_usa_mine(0.0), with_usa_mine(10 * ZERO_BOUND)
    j = residue.processes.index[residue.processes["process"] == "mine:USA"][0]
    qp = build_qp(residue)
    assert qp.ub[j] == 0.0 and not qp.keep[j]
    assert update_qp(qp, residue).ub[j] == 0.0  # the same in a run's updates
    assert build_qp(kept).keep[j]
    a, b = solve_equilibrium(residue), solve_equilibrium(zero)
    assert a.raw.solver == "piqp"
    assert np.array_equal(a.raw.x, b.raw.x)
    assert a.price_map == b.price_map


def test_a_licence_that_allows_nothing_closes_its_routes_by_bound():
    """A row ``sum content x flow <= 0`` makes the dual undetermined (any value above the price
    wedge satisfies the KKT conditions), and interior-point solvers drift to duals of 1e12 and
    stall (PIQP in 18 of 24 months of the October 2025 package run without a counterfactual). The
    QP closes those flows by an upper bound of 0 instead: the same equilibrium as an embargo by
    bound, the row presolved away (dual NaN, rent 0)."""
    from reesim.model.qp import build_qp, update_qp

    world = _dy_world(0.0)
    qp = build_qp(world)
    members = world.quota_members
    e = world.edges
    closed = {
        (c, o, d)
        for c, o, d, coef in members[["commodity", "origin", "dest", "coef"]].itertuples(index=False)
        if coef > 0
    }
    pos = [i for i, k in enumerate(zip(e["commodity"], e["origin"], e["dest"], strict=True)) if k in closed]
    assert pos and (qp.ub[qp.n_proc + qp.n_dem + np.array(pos)] == 0).all()
    assert (update_qp(qp, world).ub == qp.ub).all()  # the same in a run's updates
    sol = solve_equilibrium(world)
    assert (
        sol.trade.set_index("commodity")["flow"]
        .reindex(list({c for c, _, _ in closed}))
        .fillna(0.0)
        .abs()
        .max()
        < 1e-9
    )
    assert float(sol.quota_rents["rent_usd_per_kg"].iloc[0]) == 0.0  # undetermined, reported as 0
    # China's prices are those of a licence that allows a trace; the U.S., with nothing to buy,
    # prices every good at or above its demand's choke price (undetermined above it, as before)
    trace = solve_equilibrium(_dy_world(1e-9))
    for (c, r), v in trace.price_map.items():
        if r == "CHN":
            assert sol.price_map[(c, r)] == pytest.approx(v, rel=1e-6)
    assert sol.price_map[("oxide:Dy", "USA")] >= 400.0 - 1e-6
    assert sol.price_map[("magnet:x", "USA")] >= 200.0 - 1e-6
    # a positive limit leaves every bound alone
    assert (build_qp(_dy_world(1.0)).ub[qp.n_proc + qp.n_dem :] == np.inf).all()


def test_regions_labelled_by_numbers_solve_like_named_ones():
    # A hand-made world may label its regions 1, 2: the QP's balance rows key every label as
    # text, so the same world under numbers clears at the same prices and flow.
    named = _toy()
    numbered = named.replace(
        regions=(1, 2),
        processes=named.processes.assign(region=[1, 2]),
        demands=named.demands.assign(region=[2]),
        edges=named.edges.assign(origin=[1], dest=[2]),
    )
    a, b = solve_equilibrium(named), solve_equilibrium(numbered)
    assert _flow(b) == pytest.approx(_flow(a), abs=1e-9)
    assert b.price_map[("good", "2")] == pytest.approx(a.price_map[("good", "B")], abs=1e-9)
