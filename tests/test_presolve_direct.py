"""The presolved matrix and the Hessian built from their arrays are SciPy's, bit for bit.

``reesim.solve.backends.Presolved.of`` keeps the columns with an upper bound above zero and the
rows left with an entry, and ``_diagonal`` makes the diagonal Hessian, without SciPy's slicing and
conversions; the solver must receive the same arrays (data, indices, pointers, shape) as before,
or its iterates, and every price, would move in the last bits.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.solve.backends import Presolved, _diagonal


def _same(a: sp.csc_matrix, b: sp.csc_matrix) -> None:
    """The same matrix bit for bit: shape, and the bytes of its data, indices and pointers
    (-0.0 is not 0.0, NaN is its bits)."""
    assert a.shape == b.shape
    for name in ("data", "indices", "indptr"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.tobytes() == y.tobytes(), name


class _QP:  # what Presolved reads of a QP: its matrix and its columns' upper bounds
    def __init__(self, G, ub):
        self.G, self.ub = G, ub

    @property
    def keep(self):
        return self.ub > 0


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 15),
    st.floats(0.05, 0.6),
    st.integers(0, 2**32 - 1),
)
def test_presolve_from_arrays_is_scipys_slicing(rows, cols, density, seed):
    rng = np.random.default_rng(seed)
    G = sp.random(rows, cols, density=density, format="csc", random_state=rng)
    G.data = rng.choice([-1.0, 0.5, 2.0, -0.0], size=G.nnz)  # a stored zero stays stored
    ub = rng.choice([0.0, 1.0, np.inf], size=cols)
    pre = Presolved.of(_QP(G, ub))
    kept = G[:, ub > 0].tocsr()
    want_rows = np.diff(kept.indptr) > 0
    np.testing.assert_array_equal(pre.rows, want_rows)
    np.testing.assert_array_equal(pre.cols, ub > 0)
    _same(pre.G, kept[want_rows].tocsc())


def test_a_matrix_with_unsorted_indices_takes_scipys_way():
    G = sp.csc_matrix((np.array([1.0, 2.0]), np.array([2, 0]), np.array([0, 2, 2])), shape=(3, 2))
    assert not G.has_sorted_indices
    pre = Presolved.of(_QP(G, np.array([1.0, 1.0])))
    np.testing.assert_array_equal(pre.rows, [True, False, True])
    np.testing.assert_array_equal(pre.G.toarray(), [[2.0, 0.0], [1.0, 0.0]])
    assert pre.G.has_sorted_indices  # SciPy's conversions sort them; the arrays' way would not
    _same(pre.G, G[:, [True, True]].tocsr()[[True, False, True]].tocsc())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, 1e-300, 3.0, np.nan]), min_size=1, max_size=30))
def test_the_diagonal_from_arrays_is_scipys(p):
    p = np.array(p)
    _same(_diagonal(p), sp.diags(p).tocsc())
