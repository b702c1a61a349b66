"""Solve one market year: build (or reuse) the QP, iterate ad valorem wedges, check guards.

Ad valorem tariffs and export taxes make the wedge depend on the price, so they enter as
specific wedges ``w_e = rate_e * base_e(p)`` updated to a fixed point (the usual
treatment of price-dependent wedges in spatial equilibrium models): solve with the current wedges, recompute
them from the solution's prices (origin price for export taxes, origin price + transport
for import tariffs on a CIF basis), and repeat until the largest change is below
``wedge_tol`` USD/kg.
"""

from __future__ import annotations

import numpy as np

from reesim.errors import ReesimError
from reesim.memo import memo_of
from reesim.model.qp import QP, build_qp, edge_tuples, key_positions
from reesim.solve.backends import BACKENDS, ClarabelBackend, PiqpBackend, RawSolution, SolverError
from reesim.solve.guards import GuardError, check
from reesim.solve.solution import Solution
from reesim.world.world import World


class ConvergenceError(ReesimError):
    """The ad valorem wedges did not reach a fixed point."""


#: "This year has no trustworthy equilibrium": solver failure (after the Clarabel fallback), wedge
#: non-convergence or a failed guard; callers turn them into a ModelFailure naming where.
SOLVE_FAILURES = (SolverError, ConvergenceError, GuardError)


def ad_valorem_terms(world: World, qp: QP) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edge position, origin-node position, rate and CIF flag of every ad valorem row.

    Kept per table and structure (:func:`reesim.memo.memo_of`): a step's price-floor iterations
    and the steps under the same tariffs share both objects, and the welfare account of each of
    those steps reads the same terms (:meth:`reesim.impacts.welfare.WelfareAccount.rows`).
    """
    av = world.ad_valorem
    memo = memo_of(av).setdefault("ad_valorem_terms", {})
    hit = memo.get(id(qp.edge_index))
    if hit is None or hit[0] is not qp.edge_index:
        hit = (qp.edge_index, _ad_valorem_rows(av, qp))
        memo[id(qp.edge_index)] = hit
    return hit[1]


def _ad_valorem_rows(av, qp: QP) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if av.empty:
        z = np.zeros(0, int)
        return z, z, np.zeros(0), np.zeros(0, bool)
    keys = edge_tuples(av)
    pos = key_positions(qp.edge_index, keys)
    ok = pos >= 0
    origin_node = key_positions(qp.node_index, [(c, o) for c, o, _ in keys])
    terms = (
        pos[ok],
        origin_node[ok],
        av.loc[ok, "rate"].astype(float).to_numpy(),
        (av.loc[ok, "base"] == "cif").to_numpy(),
    )
    for arr in terms:
        arr.flags.writeable = False  # shared between calls
    return terms


def _solve(solver, qp: QP) -> RawSolution:
    """Solve with ``solver``; if PIQP fails, fall back to Clarabel (solver study guard rail)."""
    try:
        return solver.solve(qp)
    except SolverError as first:
        if not isinstance(solver, PiqpBackend):
            raise
        try:
            raw = ClarabelBackend().solve(qp)
        except SolverError as second:
            raise SolverError(f"{first}; Clarabel fallback: {second}") from None
        import warnings
        from dataclasses import replace

        warnings.warn(f"PIQP failed ({first}); solved with Clarabel instead", RuntimeWarning, stacklevel=2)
        return replace(raw, solver=f"clarabel (fallback after {first})")


def solve_equilibrium(
    world: World,
    backend: str | object = "piqp",
    qp: QP | None = None,
    *,
    rtol: float = 1e-6,
    wedge_tol: float = 1e-8,
    max_wedge_iterations: int = 100,
    guards: bool = True,
) -> Solution:
    """Solve one year of ``world``.

    Parameters
    ----------
    world : World
        The market year.
    backend : {"piqp", "clarabel"} or backend object
        Solver; pass a :class:`~reesim.solve.backends.PiqpBackend` instance to reuse its
        factorisation structure across calls.
    qp : QP, optional
        A QP already built for this world (skips the build).
    rtol : float
        Relative tolerance of the guards.
    wedge_tol : float
        Fixed-point tolerance of ad valorem wedges: USD/kg, relative to the largest wedge when
        that exceeds 1 USD/kg.
    guards : bool
        Check the equilibrium conditions (always on in tests).
    """
    solver = BACKENDS[backend]() if isinstance(backend, str) else backend
    qp = qp if qp is not None else build_qp(world)
    pos, onode, rate, cif = ad_valorem_terms(world, qp)
    wedges = np.zeros(qp.n_edge)
    if len(pos):  # set up once per call, and only when some edge carries an ad valorem wedge
        transport = world.numbers("edges", "transport")
        taxed = np.zeros(qp.n_edge, bool)
        taxed[pos] = True
        e_orig, e_dest = qp.edge_ends
        s0 = qp.n_proc + qp.n_dem
    prev_w: np.ndarray | None = None
    prev_g: np.ndarray | None = None
    it = 0
    current = qp
    while True:
        raw = _solve(solver, current)
        if len(pos) == 0:
            break
        it += 1
        prices = np.nan_to_num(raw.row_dual[onode], nan=0.0)
        base = prices + np.where(cif, transport[pos], 0.0)
        target = np.zeros(qp.n_edge)
        np.add.at(target, pos, rate * base)
        g = wedges - target
        # An edge that carries nothing is settled once the target wedge leaves it unprofitable:
        # its origin price may be undetermined (nothing else trades it), and any wedge at least
        # as high as the one that closes the arbitrage gives the same equilibrium.
        f = raw.x[s0:]
        all_p = np.nan_to_num(raw.row_dual[: qp.n_nodes], nan=0.0)
        idle = taxed & (f <= 1e-9 * max(1.0, float(np.max(np.abs(f), initial=0.0))))
        gap = all_p[e_dest] - all_p[e_orig] - qp.base_edge_cost - target
        scale = max(1.0, float(np.max(np.abs(target), initial=0.0)))
        settled = idle & (gap <= 1e-7 * max(1.0, float(np.max(all_p, initial=0.0))))
        change = float(np.max(np.abs(np.where(settled, 0.0, g)), initial=0.0))
        # Absolute for ordinary wedges, relative for huge ones (a 10,000 % tariff on a 60 USD/kg
        # oxide is a 6,000 USD/kg wedge: the solver's own precision is ~1e-9 of that).
        if change <= wedge_tol * scale:
            break  # the solve used ``wedges``, which equal rate x its own prices where it matters
        if it >= max_wedge_iterations:
            raise ConvergenceError(
                f"ad valorem wedges did not converge in {it} iterations (last change {change:.3g} USD/kg)"
            )
        new = target.copy()
        if prev_g is not None:
            dg, dw = g - prev_g, wedges - prev_w
            ok = np.abs(dg) > 1e-12 * np.maximum(1.0, np.abs(g))
            new[ok] = np.maximum(0.0, wedges[ok] - g[ok] * dw[ok] / dg[ok])
        prev_w, prev_g = wedges, g
        wedges = new
        current = qp.with_edge_wedges(wedges)
    report = check(world, current, raw, rtol) if guards else None
    return Solution(world=world, qp=current, raw=raw, wedges=wedges, wedge_iterations=it, guards=report)


__all__ = ["SOLVE_FAILURES", "ConvergenceError", "PiqpBackend", "ad_valorem_terms", "solve_equilibrium"]
