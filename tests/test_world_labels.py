"""Structures made from a world's labels once per process (reesim.world.labels).

A kept structure must give, with another world's numbers, exactly what a fresh build gives: the
QP's matrix, costs, bounds and limits, and a run's record (tables and welfare), while a world whose
labels differ (an io coefficient that changes sign, one process more) must not share it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reesim.impacts.welfare import WelfareAccount
from reesim.model.qp import build_qp
from reesim.scenario.load import load_scenario
from reesim.simulate import simulate
from reesim.simulate.record import Recorder
from reesim.simulate.scenario_world import scenario_world
from reesim.world import labels


@pytest.fixture(scope="module")
def october():
    """The October 2025 package's world: quotas, content rows, rules of origin, an end-use rule."""
    w = scenario_world(load_scenario("china-2025-october-package"))
    assert len(w.quota_members) and len(w.origin_rules) and len(w.enduse_rules)
    return w


def renumbered(w, factor: float = 1.1):
    """``w`` with other numbers and the same labels: io coefficients, transport, route costs,
    quota limits and content coefficients, rule slacks scaled (signs kept)."""
    return w.with_data(
        io=w.io.assign(coef=w.io["coef"].astype(float) * factor),
        edges=w.edges.assign(
            transport=w.edges["transport"].astype(float) * factor,
            route_quad=w.edges["route_quad"].astype(float) * factor,
        ),
        quotas=w.quotas.assign(limit=w.quotas["limit"].astype(float) * factor),
        quota_members=w.quota_members.assign(coef=w.quota_members["coef"].astype(float) * factor),
        origin_rules=w.origin_rules.assign(slack=w.origin_rules["slack"].astype(float) + 0.5),
        enduse_rules=w.enduse_rules.assign(slack=w.enduse_rules["slack"].astype(float) + 0.25),
    )


def same_qp(a, b) -> None:
    assert (a.G != b.G).nnz == 0 and a.G.shape == b.G.shape
    for x, y in ((a.G.data, b.G.data), (a.G.indices, b.G.indices), (a.G.indptr, b.G.indptr)):
        np.testing.assert_array_equal(x, y)
    for f in ("P", "c", "h", "ub", "base_edge_cost"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    pd.testing.assert_frame_equal(a.nodes, b.nodes)
    assert a.node_index == b.node_index and a.edge_index == b.edge_index
    assert (a.quota_names, a.origin_names, a.enduse_names) == (b.quota_names, b.origin_names, b.enduse_names)


def test_kept_qp_layout_with_other_numbers_equals_a_fresh_build(october):
    labels.clear()
    first = build_qp(october)
    other = renumbered(october)
    assert labels.labels_key(other) == labels.labels_key(october)
    kept = build_qp(other)
    assert kept.edge_index is first.edge_index  # the layout was kept, not made again
    assert not np.array_equal(kept.G.data, first.G.data)  # and the new numbers were read
    labels.clear()
    fresh = build_qp(other)
    assert fresh.edge_index is not first.edge_index
    same_qp(kept, fresh)


def test_a_world_whose_labels_differ_gets_its_own_layout(october):
    labels.clear()
    build_qp(october)
    io = october.io.copy()
    row = int(np.flatnonzero(io["coef"].astype(float).to_numpy() > 0)[0])
    io.loc[row, "coef"] = -1.0  # an output becomes an input: another sign, another structure
    flipped = october.with_data(io=io)
    assert labels.labels_key(flipped) != labels.labels_key(october)
    kept = build_qp(flipped)
    labels.clear()
    same_qp(kept, build_qp(flipped))

    kinds = october.processes["kind"].tolist()
    j = kinds.index("metal")
    other_kind = october.with_data(
        processes=october.processes.assign(kind=[*kinds[:j], "magnet", *kinds[j + 1 :]])
    )
    assert labels.labels_key(other_kind) != labels.labels_key(october)  # a kind is a label
    labels.clear()
    rec = Recorder(october, build_qp(october))
    kept_kinds = Recorder(other_kind, build_qp(other_kind)).cap_labels["kind"].tolist()
    assert kept_kinds != rec.cap_labels["kind"].tolist() and "magnet" in kept_kinds

    as_object = october.with_data(demands=october.demands.astype({"region": object}))
    assert labels.labels_key(as_object) != labels.labels_key(october)  # the dtype is a label's too

    extra = october.processes.iloc[[0]].assign(process="test:extra")
    more = october.replace(processes=pd.concat([october.processes, extra], ignore_index=True))
    assert labels.labels_key(more) != labels.labels_key(october)
    assert build_qp(more).n_proc == build_qp(october).n_proc + 1


def test_kept_recorder_and_welfare_layouts_read_this_worlds_numbers(october):
    labels.clear()
    Recorder(october, build_qp(october))
    other = renumbered(october, 0.9)
    qp = build_qp(other)
    kept_rec, kept_acc = Recorder(other, qp), WelfareAccount(other, qp)
    labels.clear()
    qp_fresh = build_qp(other)
    fresh_rec, fresh_acc = Recorder(other, qp_fresh), WelfareAccount(other, qp_fresh)
    for name in (
        "out_coef",
        "out_proc",
        "dem_node",
        "eu_dem",
        "rev_edge",
        "cap_idx",
        "lic_coef",
        "lic_group",
    ):
        np.testing.assert_array_equal(getattr(kept_rec, name), getattr(fresh_rec, name), err_msg=name)
    for name in ("out_labels", "dem_labels", "edge_labels", "cap_labels", "lic_labels", "nodes"):
        pd.testing.assert_frame_equal(getattr(kept_rec, name), getattr(fresh_rec, name))
    for name in (
        "io_coef",
        "transport",
        "quad",
        "m_coef",
        "eu_coef",
        "d_node",
        "io_node",
        "m_edge",
        "o_edge",
    ):
        np.testing.assert_array_equal(getattr(kept_acc, name), getattr(fresh_acc, name), err_msg=name)
    np.testing.assert_array_equal(kept_rec.out_coef, fresh_rec.out_coef)
    assert not np.array_equal(kept_rec.lic_coef, Recorder(october, build_qp(october)).lic_coef)


def test_kept_arrays_are_read_only_and_tables_are_copies(october):
    labels.clear()
    rec = Recorder(october, build_qp(october))
    with pytest.raises(ValueError):
        rec.out_proc[0] = 7
    rec.out_labels.loc[0, "region"] = "nowhere"  # the caller's copy only
    assert Recorder(october, build_qp(october)).out_labels.loc[0, "region"] != "nowhere"


def test_a_run_with_kept_structures_equals_a_run_made_afresh():
    """Two runs of a scenario under different assumptions (same labels): the second, on the
    structures the first made, has the tables it has when every structure is made afresh."""
    sc = load_scenario("china-2025-licensing")
    other = sc.model_copy(
        update={
            "world": sc.world.model_copy(
                update={"assumptions": {**sc.world.assumptions, "demand_elasticity_magnet": 0.7}}
            )
        }
    )
    labels.clear()
    simulate(sc)
    kept = simulate(other)
    labels.clear()
    fresh = simulate(other)
    for name in ("prices", "production", "trade", "consumption", "capacity", "surplus", "quota_rents"):
        pd.testing.assert_frame_equal(kept.table(name), fresh.table(name), check_exact=True)


def test_only_the_most_recent_structures_are_kept():
    labels.clear()
    w = scenario_world(load_scenario("baseline"))
    for k in range(labels.KEEP + 5):
        labels.shared(w, f"test-{k}", lambda k=k: k)
    assert len(labels._KEPT) == labels.KEEP
    assert labels.shared(w, f"test-{labels.KEEP + 4}", lambda: "made again") == labels.KEEP + 4
    assert labels.shared(w, "test-0", lambda: "made again") == "made again"


def test_kept_item_layout_reads_this_worlds_numbers_and_solution(october):
    from reesim.simulate.storage import Items
    from reesim.solve.equilibrium import solve_equilibrium

    labels.clear()
    Items.of(october, solve_equilibrium(october))
    other = renumbered(october, 1.02)
    ref = solve_equilibrium(other)
    kept = Items.of(other, ref)
    labels.clear()
    fresh = Items.of(other, ref)
    assert kept is not None and len(kept) > 10
    for name in (
        "region",
        "commodity",
        "consumption",
        "exports",
        "elasticity",
        "proc_pos",
        "dem_pos",
        "outlet",
    ):
        np.testing.assert_array_equal(getattr(kept, name), getattr(fresh, name), err_msg=name)
    assert kept.shipments == fresh.shipments
    first = Items.of(october, solve_equilibrium(october))
    assert not np.array_equal(kept.consumption, first.consumption)  # the numbers are this world's


def test_labels_checked_once_still_refuse_a_bad_world(october):
    """A world's label checks run once per process for its labels (World._validate); its numbers
    are checked every time, and a world whose labels fail is never kept as checked."""
    from reesim.errors import InputError

    labels.clear()
    october.replace()  # its labels checked and kept
    p = october.processes
    with pytest.raises(InputError, match=r"processes\.capacity \(row 3\)"):
        october.replace(processes=p.assign(capacity=p["capacity"].where(p.index != 3, -1.0)))
    with pytest.raises(InputError, match=r"ad_valorem\.base"):  # a label outside the key: every time
        bad = pd.DataFrame([("oxide:Dy", "CHN", "USA", 0.1, "fob")], columns=october.ad_valorem.columns)
        october.replace(ad_valorem=bad)
    wrong = p.assign(region=p["region"].where(p.index != 0, "Atlantis"))
    for _ in range(2):  # not kept as checked after it failed
        with pytest.raises(InputError, match=r"processes\.region"):
            october.replace(processes=wrong)
    # a renamed process changes the key: its io rows name a process that no longer exists
    renamed = p.assign(process=p["process"].where(p.index != 0, "renamed"))
    with pytest.raises(InputError, match=r"io\.process"):
        october.replace(processes=renamed)
    # io coefficients are checked before the key is made of their signs: text, NaN, infinity
    io = october.io
    for bad, shown in (("x", "'x'"), (np.nan, "nan"), (np.inf, "inf")):
        coef = io["coef"].astype(object).where(io.index != 2, bad)
        with pytest.raises(
            InputError, match=rf"io\.coef \(row 2\): values must be finite numbers; got {shown}"
        ):
            october.replace(io=io.assign(coef=coef))
