"""QP solver back ends behind one small interface.

PIQP (Schwan et al. 2023, proximal interior point, sparse LDL^T) is the default: the
solver study (shared research, second round) measured it fastest and most accurate on this
problem class once columns fixed at zero are removed. Clarabel (Goulart & Chen 2024,
interior point, conic) is the reference used for cross-checks. Both receive the same
presolved problem: columns with upper bound 0 (bans, zero capacities) and rows left empty
by that removal are dropped before the solve.

References
----------
Schwan, R., Jiang, Y., Kuhn, D., Jones, C. N. (2023). PIQP: A proximal interior-point
quadratic programming solver. IEEE CDC. doi:10.1109/CDC49753.2023.10383915.
Goulart, P. J., Chen, Y. (2024). Clarabel: An interior-point solver for conic programs with
quadratic objectives. arXiv:2405.12762.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from reesim.errors import ReesimError
from reesim.model.qp import QP


class SolverError(ReesimError):
    """The solver did not reach an optimal solution."""


@dataclass(frozen=True)
class RawSolution:
    """Primal and dual values on the full (not presolved) variable and row sets.

    ``row_dual`` is NaN for rows removed by presolve (their dual is undetermined);
    ``ub_dual`` is the multiplier of the upper bound (capacity rent), 0 where none.
    """

    x: np.ndarray
    row_dual: np.ndarray
    ub_dual: np.ndarray
    status: str
    iterations: int
    solver: str


@dataclass(frozen=True)
class Presolved:
    """Column and row masks of a presolved QP and the reduced matrices."""

    cols: np.ndarray
    rows: np.ndarray
    G: sp.csc_matrix

    @classmethod
    def of(cls, qp: QP) -> Presolved:
        """The kept columns of ``qp.G`` and its rows with an entry in them.

        Built from the matrix's arrays: the kept columns' entries in order, their rows renumbered
        (the same matrix as ``G[:, cols]`` without its empty rows, which SciPy's slicing and two
        conversions made in about 140 us instead of 60; a matrix that is not CSC with sorted
        indices, or columns not given as a mask, take that way).
        """
        cols, G = qp.keep, qp.G
        if G.format != "csc" or cols.dtype != bool or not G.has_sorted_indices:
            Gc = G[:, cols].tocsr()
            rows = np.diff(Gc.indptr) > 0
            return cls(cols=cols, rows=rows, G=Gc[rows].tocsc())
        per_col = np.diff(G.indptr)
        take = np.repeat(cols, per_col)  # each stored entry: in a kept column
        rows = np.zeros(G.shape[0], bool)
        rows[G.indices[take]] = True
        renumber = np.cumsum(rows) - 1
        indptr = np.concatenate([[0], np.cumsum(per_col[cols])])
        shape = (int(rows.sum()), int(cols.sum()))
        return cls(
            cols=cols,
            rows=rows,
            G=sp.csc_matrix((G.data[take], renumber[G.indices[take]], indptr), shape=shape),
        )

    def expand(
        self, qp: QP, x: np.ndarray, y: np.ndarray, zu: np.ndarray, status: str, it: int, name: str
    ) -> RawSolution:
        xf = np.zeros(qp.n)
        xf[self.cols] = x
        yf = np.full(qp.G.shape[0], np.nan)
        yf[self.rows] = y
        zf = np.zeros(qp.n)
        zf[self.cols] = zu
        return RawSolution(x=xf, row_dual=yf, ub_dual=zf, status=status, iterations=it, solver=name)


def _diagonal(p: np.ndarray) -> sp.csc_matrix:
    """The diagonal matrix of ``p`` as ``sp.diags(p).tocsc()`` makes it (zeros not stored), built
    from its arrays directly: about 30 us instead of 95, at every solve (setup or update)."""
    nz = p != 0
    n = len(p)
    return sp.csc_matrix((p[nz], np.flatnonzero(nz), np.concatenate([[0], np.cumsum(nz)])), shape=(n, n))


class PiqpBackend:
    """PIQP sparse solver, set up once per presolved structure and updated in place.

    Parameters
    ----------
    eps_abs, eps_rel : float
        PIQP tolerances; the study found 1e-9 / 1e-10 needed for cheap co-product prices.
    eps_gap_abs, eps_gap_rel : float
        Duality-gap tolerances. PIQP's defaults (1e-8 / 1e-9) stop too early on markets at
        a tie (a price gap equal to the transport cost, a choke price equal to marginal
        cost), leaving complementarity products near 1e-6 that fail the guards; 1e-12 /
        1e-14 costs one or two iterations. A solve that reaches the iteration limit on them
        (badly scaled years: calibrated routes and demands of a few tonnes beside kt markets)
        is retried once at 1e-9 / 1e-10; the guards then decide whether the point is an
        equilibrium.
    first_max_iter, retry_max_iter : int
        Iteration limits of the first attempt and of the retry. First attempts that succeed
        need at most 43 iterations (p99 35) over the 3,073 solves of `reesim game us-china`
        and the flagship's run (measured 2026-12-04); a stalled one used to run to PIQP's
        default 250 before the retry (119 times in one onshoring profile: 5.5 s of its run).
        At 100 it fails sooner, with the same results (bit-identical prices in that profile).
    """

    name = "piqp"

    def __init__(
        self,
        eps_abs: float = 1e-9,
        eps_rel: float = 1e-10,
        eps_gap_abs: float = 1e-12,
        eps_gap_rel: float = 1e-14,
        first_max_iter: int = 100,
        retry_max_iter: int = 1000,
    ) -> None:
        self.first_max_iter, self.retry_max_iter = first_max_iter, retry_max_iter
        self.eps_abs, self.eps_rel = eps_abs, eps_rel
        self.eps_gap_abs, self.eps_gap_rel = eps_gap_abs, eps_gap_rel
        self.retry_gap_abs, self.retry_gap_rel = 1e-9, 1e-10
        self._solver = None
        self._key: tuple | None = None
        self._pre: Presolved | None = None

    def solve(self, qp: QP) -> RawSolution:
        """Solve ``qp``; re-uses the factorisation structure when only data changed."""
        import piqp

        key = (id(qp.G), qp.keep.tobytes())
        updated = key == self._key
        if not updated:
            self._pre = Presolved.of(qp)
            pre = self._pre
            self._solver = piqp.SparseSolver()
            s = self._solver.settings
            s.eps_abs, s.eps_rel, s.verbose = self.eps_abs, self.eps_rel, False
            s.eps_duality_gap_abs, s.eps_duality_gap_rel = self.eps_gap_abs, self.eps_gap_rel
            s.max_iter = self.first_max_iter
            self._solver.setup(
                _diagonal(qp.P[pre.cols]),
                qp.c[pre.cols],
                None,
                None,
                pre.G,
                None,
                qp.h[pre.rows],
                np.zeros(int(pre.cols.sum())),
                qp.ub[pre.cols],
            )
            self._key = key
        else:
            pre = self._pre
            self._solver.update(
                P=_diagonal(qp.P[pre.cols]), c=qp.c[pre.cols], h_u=qp.h[pre.rows], x_u=qp.ub[pre.cols]
            )
        status = self._solver.solve()
        if status == piqp.PIQP_MAX_ITER_REACHED:
            # Badly scaled years (route slopes and demands of a few tonnes next to kt markets)
            # can stall on the duality-gap tolerance alone: retry with PIQP's own looser gap
            # tolerances (the equilibrium guards still check every condition to 1e-6).
            st = self._solver.settings
            st.eps_duality_gap_abs, st.eps_duality_gap_rel = self.retry_gap_abs, self.retry_gap_rel
            st.max_iter = self.retry_max_iter
            status = self._solver.solve()
            st.eps_duality_gap_abs, st.eps_duality_gap_rel = self.eps_gap_abs, self.eps_gap_rel
            st.max_iter = self.first_max_iter
        if status != piqp.PIQP_SOLVED:
            self._key = None
            if updated:
                # PIQP's update path can need far more iterations than a fresh setup of the same
                # problem: a step of the 2025 backtest (with the 2023 ionic quota at 19,150 t) took
                # 89 from a fresh setup, 153 after an update with its own data, and ran past both
                # limits after the previous step's (the flagship's 27 updates take the same
                # iterations either way). One fresh setup before giving up; a second failure is
                # the solver's answer (Clarabel then takes over, reesim.solve.equilibrium._solve).
                return self.solve(qp)
            raise SolverError(f"PIQP: {status.name}")
        r = self._solver.result
        return pre.expand(qp, r.x, r.z_u, r.z_bu, "solved", int(r.info.iter), self.name)


class ClarabelBackend:
    """Clarabel on the same presolved QP: the reference for cross-checks (tolerance 1e-12)."""

    name = "clarabel"

    def __init__(self, tol: float = 1e-12) -> None:
        self.tol = tol

    def solve(self, qp: QP) -> RawSolution:
        """Solve ``qp`` from scratch."""
        import clarabel

        pre = Presolved.of(qp)
        nk = int(pre.cols.sum())
        ub = qp.ub[pre.cols]
        fin = np.flatnonzero(np.isfinite(ub))
        eye = sp.eye(nk, format="csc")
        A = sp.vstack([pre.G, -eye, eye[fin]]).tocsc()
        b = np.concatenate([qp.h[pre.rows], np.zeros(nk), ub[fin]])
        s = clarabel.DefaultSettings()
        s.verbose = False
        s.tol_feas = s.tol_gap_abs = s.tol_gap_rel = self.tol
        solver = clarabel.DefaultSolver(
            _diagonal(qp.P[pre.cols]), qp.c[pre.cols], A, b, [clarabel.NonnegativeConeT(A.shape[0])], s
        )
        sol = solver.solve()
        if str(sol.status) not in ("Solved", "AlmostSolved"):
            raise SolverError(f"Clarabel: {sol.status}")
        z = np.asarray(sol.z)
        m = int(pre.rows.sum())
        zu = np.zeros(nk)
        zu[fin] = z[m + nk :]
        return pre.expand(
            qp, np.asarray(sol.x), z[:m], zu, str(sol.status).lower(), int(sol.iterations), self.name
        )


BACKENDS = {"piqp": PiqpBackend, "clarabel": ClarabelBackend}
