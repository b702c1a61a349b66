"""The price floor's root finding (reesim.simulate.floors): the Illinois method and the fixed point.

The step's prices are piecewise linear in a floor's top-up (a parametric QP), so the tests use
piecewise-linear functions with kinks, whose roots are known by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.simulate.floors import _fixed_point, _illinois, _one_floor_root


def counted(f):
    calls = []

    def fun(x):
        calls.append(x)
        return f(x), x

    return fun, calls


def kinked(x: float) -> float:
    """Increasing, slope 2 below 0.3 and 0.1 above; root at 0.3 + (1 - 0.6) / 0.1 = 4.3."""
    return 2 * x - 1 if x < 0.3 else -0.4 + 0.1 * (x - 0.3)


def test_illinois_finds_the_root_across_a_kink_in_a_few_evaluations():
    fun, calls = counted(kinked)
    x = _illinois(fun, 0.0, (kinked(0.0), 0.0), 10.0, (kinked(10.0), 10.0), xtol=1e-12, ftol=1e-9)
    assert x == pytest.approx(4.3, abs=1e-8)
    # bisection to 1e-8 on [0, 10] takes about 30 evaluations
    assert len(calls) <= 12


def test_illinois_low_side_only_returns_a_point_at_or_below_the_root():
    fun, _ = counted(kinked)
    x = _illinois(
        fun, 0.0, (kinked(0.0), 0.0), 10.0, (kinked(10.0), 10.0), xtol=1e-6, ftol=1e-7, either_side=False
    )
    assert -1e-7 <= kinked(x) <= 0.0


def test_illinois_returns_an_end_that_is_already_a_root():
    fun, calls = counted(kinked)
    assert _illinois(fun, 4.3, (0.0, "a"), 10.0, (0.57, "b"), xtol=1e-9, ftol=1e-9) == "a"
    assert calls == []
    # only the low side is accepted: a root at the high end counts only if not above zero
    assert _illinois(fun, 0.0, (-1.0, "a"), 4.3, (1e-12, "b"), xtol=1e-9, ftol=1e-9, either_side=False) != "b"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.01, 50.0), min_size=1, max_size=6),
    st.lists(st.floats(0.05, 0.95), min_size=5, max_size=5),
    st.floats(-20.0, -0.01),
)
def test_illinois_converges_on_any_increasing_piecewise_linear_function(slopes, kinks, f0):
    edges = np.sort(np.asarray(kinks))[: len(slopes) - 1]

    def f(x: float) -> float:
        pts = np.concatenate([[0.0], edges, [1.0]])
        total = f0
        for k, s in enumerate(slopes):
            lo, hi = pts[k], pts[k + 1]
            total += s * max(0.0, min(x, hi) - lo)
        return total + 100.0 * max(0.0, x - 1.0)

    hi = 2.0
    fun, calls = counted(f)
    x = _illinois(fun, 0.0, (f(0.0), 0.0), hi, (f(hi), hi), xtol=1e-12, ftol=1e-9, either_side=False)
    # at or just below the root (the bracket may close before |f| <= ftol: slopes <= 50)
    assert -1e-9 - 50 * 1e-12 <= f(x) <= 0.0
    # bisection to 1e-12 on [0, 2] takes 41; Illinois takes 5 at the median on such functions
    # and stays below 50 (2,000 draws), far from its cap of 100
    assert len(calls) <= 60


def test_the_fixed_point_of_one_floor_is_the_top_up_that_equals_floor_less_price():
    """Price 90 USD/kg without a top-up, falling by 0.4 per USD/kg of top-up up to a kink at
    s = 10, then by 0.1: s = 110 - p(s) has its root at s = 24 + 0.1 (s - 10), s = 25.555..."""

    class Floor:
        floor_usd_per_kg = 110.0

    def price(s: float) -> float:
        return 90.0 - 0.4 * min(s, 10.0) - 0.1 * max(0.0, s - 10.0)

    solves = []

    def solve(topups):
        solves.append(topups)
        return topups[7], "world"

    def payments(sol):
        return {7: max(0.0, 110.0 - price(sol))}

    sol, world, topups = _fixed_point(solve, payments, [(7, Floor())], 0.0, "wt", 1e-9, 50)
    s = (110.0 - 90.0 + 4.0 - 1.0) / 0.9
    assert topups[7] == pytest.approx(s, abs=1e-8)
    assert sol == topups[7] and world == "world"
    assert payments(sol)[7] == pytest.approx(topups[7], abs=1e-9)  # the fixed point itself
    # the damped iteration s <- (s + g(s)) / 2 took about 25 solves to 1e-9
    assert len(solves) <= 8


def test_no_top_up_at_the_margin_when_the_price_is_above_the_floor():
    class Floor:
        floor_usd_per_kg = 110.0

    def solve(topups):  # never called: the price without a top-up already clears the floor
        raise AssertionError("solved")

    sol, world, topups = _fixed_point(solve, lambda sol: {0: 0.0}, [(0, Floor())], "sol0", "wt", 1e-6, 50)
    assert (sol, world, topups) == ("sol0", "wt", {0: 0.0})


def one_floor(g, floor: float = 110.0):
    """``u(s) = s - g(s)`` with a record of the top-ups solved."""
    solved = []

    def u(s: float):
        solved.append(s)
        return s - g(s), s

    return u, solved


def test_where_the_top_up_moves_no_price_the_first_point_is_the_root():
    # producers at capacity: the price, and so g, does not move with the top-up
    u, solved = one_floor(lambda s: 20.0)
    assert _one_floor_root(u, 20.0, 0.0, 110.0, 1e-9) == 20.0
    assert solved == [20.0]


def test_where_g_is_linear_the_secant_finds_the_root_in_two_solves():
    # price 90 - 0.4 s: g(s) = 20 + 0.4 s, root s = 20 / 0.6
    u, solved = one_floor(lambda s: 20.0 + 0.4 * s)
    assert _one_floor_root(u, 20.0, 0.0, 110.0, 1e-9) == pytest.approx(20.0 / 0.6, abs=1e-9)
    assert len(solved) == 2 and 110.0 not in solved  # the full-floor top-up is never solved


def test_past_a_kink_the_root_is_bracketed_without_the_floor_end():
    # g(s) = 20 + 0.4 s up to s = 25, then 30 + 0.8 (s - 25): the secant through the first
    # segment lands at 33.3, short of the root; s = 30 + 0.8 (s - 25) gives s = 50
    def g(s: float) -> float:
        return 20.0 + 0.4 * s if s <= 25.0 else 30.0 + 0.8 * (s - 25.0)

    u, solved = one_floor(g)
    assert _one_floor_root(u, 20.0, 0.0, 110.0, 1e-9) == pytest.approx(50.0, abs=1e-8)
    assert len(solved) <= 12


def test_a_step_top_up_qp_is_the_qp_of_the_top_up_world():
    """solve_with_floors sets the processes' linear costs of the step's QP directly: the same
    QP that update_qp builds from the world with the lowered marginal costs."""
    from dataclasses import replace

    from reesim.model.qp import build_qp, update_qp
    from reesim.world.default import load_default_world

    w = load_default_world().with_data(meta={"when": None})
    qp0 = build_qp(w)
    step = update_qp(qp0, w)
    red = np.linspace(0.0, 3.0, len(w.processes))
    base = w.processes["mc_intercept"].astype(float).to_numpy()
    p = w.processes.copy()
    p["mc_intercept"] = base - red
    via_world = update_qp(qp0, w.with_data(processes=p))
    c = step.c.copy()
    c[: len(base)] = base - red
    direct = replace(step, c=c)
    for name in ("P", "c", "ub", "h", "base_edge_cost"):
        np.testing.assert_array_equal(getattr(direct, name), getattr(via_world, name))
