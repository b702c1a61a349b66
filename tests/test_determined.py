"""Which prices a solution determines (solve.solution._determined), against its definition.

The implementation counts links with numpy.bincount over the balance rows' stored entries; the
definition is stated with sparse matrix products (a node is pinned by a positive purchase; an
interior variable with exactly one unpinned node pins it; a variable in a binding quota row pins
nothing). Both are run on random structures: they must mark the same nodes.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.solve.solution import _determined


def _by_definition(qp, v: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    G = qp.G.tocsc()
    balance, others = G[: qp.n_nodes].tocsc(), G[qp.n_nodes :].tocsr()
    pattern = sp.csc_matrix((np.ones(balance.nnz), balance.indices, balance.indptr), shape=balance.shape)
    demand = np.zeros(qp.n, bool)
    demand[qp.n_proc : qp.n_proc + qp.n_dem] = True
    binding = np.flatnonzero(y[qp.n_nodes :] > tol)
    in_binding = np.zeros(qp.n, bool)
    if len(binding):
        in_binding[np.unique(others[binding].indices)] = True
    interior = (v > tol) & (v < qp.ub - tol) & ~in_binding
    det = (pattern @ (interior & demand).astype(float)) > 0
    while True:
        fire = ((pattern.T @ (~det).astype(float)) == 1) & interior
        new = ((pattern @ fire.astype(float)) > 0) & ~det
        if not new.any():
            return det
        det |= new


@st.composite
def _cases(draw):
    n_nodes, n_quota = draw(st.integers(1, 8)), draw(st.integers(0, 3))
    n_proc, n_dem, n_edge = draw(st.integers(0, 6)), draw(st.integers(0, 6)), draw(st.integers(0, 6))
    n = n_proc + n_dem + n_edge
    if n == 0:
        n_dem, n = 1, 1
    rows = n_nodes + n_quota
    mask = np.array(draw(st.lists(st.booleans(), min_size=rows * n, max_size=rows * n))).reshape(rows, n)
    coef = np.where(mask, draw(st.sampled_from([-1.0, 0.5, 2.0])), 0.0)
    G = sp.csc_matrix(coef)
    status = np.array(
        draw(st.lists(st.sampled_from([0, 1, 2]), min_size=n, max_size=n))
    )  # 0, interior, at ub
    ub = np.where(draw(st.booleans()), 5.0, np.inf) * np.ones(n)
    v = np.where(status == 0, 0.0, np.where(status == 1, 1.0, ub))
    v[~np.isfinite(v)] = 3.0
    y = np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=rows, max_size=rows)))
    qp = SimpleNamespace(G=G, n_nodes=n_nodes, n=n, n_proc=n_proc, n_dem=n_dem, ub=ub)
    return qp, v, y


@settings(max_examples=300, deadline=None)
@given(_cases())
def test_determined_prices_match_their_definition(case):
    qp, v, y = case
    got = _determined(qp, v, y, 1e-9)
    assert got.dtype == bool and got.shape == (qp.n_nodes,)
    assert np.array_equal(got, _by_definition(qp, v, y, 1e-9))


def test_a_chain_of_interior_links_pins_each_node_in_turn():
    """A purchase at node 0 pins it; a process linking nodes 0 and 1 then pins 1; a flow from 1 to
    2 pins 2; a process at capacity linking 2 and 3 leaves 3 undetermined. A binding quota on the
    flow stops the chain at node 1."""
    # columns: process 0-1 (interior), process 2-3 (at capacity), demand at 0, flow 1->2
    G = sp.csc_matrix(
        np.array(
            [
                [1.0, 0.0, -1.0, 0.0],
                [-1.0, 0.0, 0.0, 1.0],
                [0.0, 1.0, 0.0, -1.0],
                [0.0, -1.0, 0.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],  # a quota row on the flow
            ]
        )
    )
    qp = SimpleNamespace(G=G, n_nodes=4, n=4, n_proc=2, n_dem=1, ub=np.array([5.0, 2.0, np.inf, np.inf]))
    v = np.array([1.0, 2.0, 1.0, 1.0])
    assert _determined(qp, v, np.zeros(5), 1e-9).tolist() == [True, True, True, False]
    assert _determined(qp, v, np.array([0, 0, 0, 0, 1.0]), 1e-9).tolist() == [True, True, False, False]
