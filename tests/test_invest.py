"""The investment phase's rent rule on arrays gives the scalar rule's numbers, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.simulate.state import orders, orders_array

# values around the rule's edges: zero and negative capacity and capex, rents at capex, NaN
value = st.one_of(
    st.sampled_from([0.0, -1.0, 1.0, 2.0, float("nan")]),
    st.floats(-10.0, 1e4, allow_nan=False, width=64),
)


@given(
    rows=st.lists(st.tuples(value, value, value, value), min_size=1, max_size=30),
    rate=st.floats(0.0, 2.0),
    dt=st.sampled_from([1.0, 0.25, 1 / 12]),
    limit=st.floats(0.0, 1.0),
)
@settings(max_examples=300, deadline=None)
def test_the_array_rule_is_the_scalar_rule(rows, rate, dt, limit):
    rent, size, capex, building = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    got = orders_array(rent, size, capex, rate, dt, building, limit)
    want = np.array(
        [orders(r, s, c, rate, dt, b, limit) for r, s, c, b in rows],
        dtype=float,
    )
    assert got.tobytes() == want.tobytes()  # the same bits, NaN where the scalar rule gives NaN


def test_hand_computed_orders():
    # rent 15 on capex 10: half the build rate of 0.2 on 100 kt/yr a year, 10 kt/yr; room 35 - 5
    got = orders_array(
        np.array([15.0, 40.0, 9.0, 15.0]),
        np.array([100.0, 100.0, 100.0, 0.0]),
        np.array([10.0, 10.0, 10.0, 10.0]),
        0.2,
        1.0,
        np.array([5.0, 30.0, 0.0, 0.0]),
        0.35,
    )
    # full rate (rent 4x capex) 20 is cut to the room left, 35 - 30; a rent below capex and no
    # capacity order nothing
    assert got.tolist() == [10.0, 5.0, 0.0, 0.0]


def test_evolve_makes_what_dataclasses_replace_makes_and_refuses_unknown_fields():
    import dataclasses

    import pytest

    from reesim.scenario.load import load_scenario
    from reesim.simulate.stepper import start_run

    _run, state = start_run(load_scenario("baseline"))
    changes = {
        "toll_index": 1.25,
        "capacity": state.capacity * 2.0,
        "pipeline": ((2026.5, 0, 1.0, False, 3.0),),
    }
    fast, slow = state.evolve(**changes), dataclasses.replace(state, **changes)
    assert type(fast) is type(slow) and fast.__dict__.keys() == slow.__dict__.keys()
    for name in slow.__dict__:
        a, b = getattr(fast, name), getattr(slow, name)
        assert a is b or (isinstance(a, np.ndarray) and np.array_equal(a, b)) or a == b, name
    assert state.toll_index == 1.0 and fast.capacity is changes["capacity"]  # the old state is unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.toll_index = 2.0
    with pytest.raises(TypeError, match="capacty"):
        state.evolve(capacty=state.capacity)
