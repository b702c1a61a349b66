"""Equilibrium guards: the conditions every solved year must satisfy.

These are the Karush-Kuhn-Tucker conditions of the QP in :mod:`reesim.model.qp`, read as
economics (Takayama & Judge 1971, ch. 7):

* mass balance: in every (commodity, region), supply + imports >= use + exports, with
  equality wherever the price is positive (complementary slackness, free disposal);
* prices (balance duals) and quota rents are >= 0, and a quota with a positive rent binds;
* reduced cost ``rc = P v + c + G' y`` of every variable: >= 0 where the variable is 0,
  = 0 strictly between 0 and its capacity, <= 0 at capacity. For an edge this is spatial
  arbitrage (p_dest - p_orig <= transport + wedges + quota rent, with equality where flow
  > 0); for a process, price-weighted output value = marginal cost below capacity; for a
  demand, price = inverse demand where consumption is positive.

Residuals are relative: prices to ``rtol * price_scale``, quantities to
``rtol * quantity_scale``. A violation raises :class:`GuardError` naming the worst one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reesim.errors import ReesimError
from reesim.memo import memo_of
from reesim.model.qp import QP
from reesim.solve.backends import RawSolution
from reesim.world.world import World


class GuardError(ReesimError):
    """An equilibrium condition is violated beyond tolerance."""


@dataclass(frozen=True)
class GuardReport:
    """Worst scaled residual per condition family (all must be <= rtol)."""

    balance: float
    complementarity: float
    dual_sign: float
    reduced_cost: float
    rtol: float

    @property
    def worst(self) -> float:
        """Largest residual of all families."""
        return max(self.balance, self.complementarity, self.dual_sign, self.reduced_cost)


def _transposed(G):
    """``G.T``, kept per matrix (:func:`reesim.memo.memo_of`): a run's steps share their QP's
    matrix, and SciPy made the transpose's object anew at each check (13 of its 18 us)."""
    memo = memo_of(G)
    if "transposed" not in memo:
        memo["transposed"] = G.T
    return memo["transposed"]


def _label(world: World, qp: QP, j: int) -> str:
    if j < qp.n_proc:
        p = world.processes.iloc[j]
        return f"process {p['process']} (marginal cost vs output value)"
    if j < qp.n_proc + qp.n_dem:
        d = world.demands.iloc[j - qp.n_proc]
        return f"demand {d['demand']} ({d['commodity']} in {d['region']}: price vs inverse demand)"
    e = world.edges.iloc[j - qp.n_proc - qp.n_dem]
    return f"edge {e['commodity']} {e['origin']}->{e['dest']} (spatial arbitrage)"


def _row_label(qp: QP, i: int) -> str:
    if i < qp.n_nodes:
        node = qp.nodes.iloc[i]
        return f"balance of {node['commodity']} in {node['region']}"
    if i < qp.quota_rows.stop:
        return f"export quota {qp.quota_names[i - qp.n_nodes]}"
    if i < qp.origin_rows.stop:
        return f"rule of origin {qp.origin_names[i - qp.quota_rows.stop]}"
    return f"end-use exclusion {qp.enduse_names[i - qp.origin_rows.stop]}"


def check(world: World, qp: QP, raw: RawSolution, rtol: float = 1e-6) -> GuardReport:
    """Check the equilibrium conditions of a solved year.

    Parameters
    ----------
    world, qp : the problem solved (``qp`` with the final ad valorem wedges in ``c``).
    raw : RawSolution
        The solver's primal and dual values.
    rtol : float
        Relative tolerance (default 1e-6).

    Raises
    ------
    GuardError
        Naming the condition, the place and the residual of the worst violation.
    """
    bad_v = np.flatnonzero(~np.isfinite(raw.x))
    bad_y = np.flatnonzero(np.isinf(raw.row_dual))  # NaN duals are rows removed by presolve
    if len(bad_v):
        raise GuardError(f"non-finite solution at {_label(world, qp, int(bad_v[0]))}: {raw.x[bad_v[0]]}")
    if len(bad_y):
        raise GuardError(f"non-finite price at {_row_label(qp, int(bad_y[0]))}: {raw.row_dual[bad_y[0]]}")
    v, y = raw.x, np.nan_to_num(raw.row_dual, nan=0.0)
    keep = qp.keep
    price_scale = max(1.0, float(np.max(np.abs(qp.c[keep]), initial=0.0)), float(np.max(y, initial=0.0)))
    qty_scale = max(1.0, float(np.max(np.abs(v), initial=0.0)))
    tol_q = rtol * qty_scale

    slack = qp.h - qp.G @ v  # >= 0
    removed = np.isnan(raw.row_dual)
    bal = np.where(removed, 0.0, np.maximum(0.0, -slack) / qty_scale)
    comp = np.where(
        removed, 0.0, np.minimum(np.maximum(y, 0) / price_scale, np.maximum(slack, 0) / qty_scale)
    )
    sign = np.maximum(0.0, -y) / price_scale

    rc = qp.P * v + qp.c + _transposed(qp.G) @ y
    at_zero = v <= tol_q
    at_cap = np.isfinite(qp.ub) & (v >= qp.ub - tol_q)
    viol = np.zeros(qp.n)
    viol = np.where(at_zero & ~at_cap, np.maximum(0.0, -rc), viol)
    viol = np.where(at_cap & ~at_zero, np.maximum(0.0, rc), viol)
    viol = np.where(~at_zero & ~at_cap, np.abs(rc), viol)
    viol = np.where(keep, viol, 0.0) / price_scale

    report = GuardReport(
        balance=float(bal.max(initial=0.0)),
        complementarity=float(comp.max(initial=0.0)),
        dual_sign=float(sign.max(initial=0.0)),
        reduced_cost=float(viol.max(initial=0.0)),
        rtol=rtol,
    )
    if report.worst > rtol:
        if report.reduced_cost == report.worst:
            j = int(viol.argmax())
            where = _label(world, qp, j)
            detail = f"reduced cost {rc[j]:.6g} USD/kg at quantity {v[j]:.6g}"
        else:
            fam = {"balance": bal, "complementarity": comp, "dual_sign": sign}
            name = max(fam, key=lambda k: fam[k].max(initial=0.0))
            i = int(fam[name].argmax())
            where = _row_label(qp, i)
            detail = f"{name}: slack {slack[i]:.6g}, dual {y[i]:.6g}"
        raise GuardError(
            f"equilibrium guard failed at {where}: {detail} (scaled residual {report.worst:.2e} > {rtol:g})"
        )
    return report
