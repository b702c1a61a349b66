"""Analysis of a finite normal-form game given as a payoff array (pure functions).

A game with ``k`` players, player ``i`` having ``n_i`` strategies, is an array ``P`` of shape
``(n_1, ..., n_k, k)``: ``P[s_1, ..., s_k, i]`` is player ``i``'s payoff at the profile.

Methods (textbook definitions):

* pure Nash equilibria by enumeration of profiles; mixed equilibria of two-player games by
  support enumeration (nashpy; Nisan, Roughgarden, Tardos and Vazirani, *Algorithmic Game
  Theory*, 2007, ch. 3; Knight and Campbell, "nashpy", JOSS 2018), every equilibrium verified
  by a best-response check (no pure deviation gains more than ``tol``);
* degeneracy (von Stengel 2002, "Computing equilibria for two-person games", Handbook of Game
  Theory 3, ch. 45): a two-player game is degenerate if some mixed strategy with support of size
  ``s`` has more than ``s`` pure best responses; support enumeration may then miss equilibria
  or return continua, so the result carries a warning;
* strict and weak dominance by pure strategies and iterated elimination of strictly dominated
  strategies (Fudenberg and Tirole, *Game Theory*, 1991, §2.1);
* Pareto efficiency among pure profiles;
* the Nash bargaining solution (Nash 1950, "The bargaining problem", Econometrica 18) relative to
  a disagreement point ``d``: the feasible point maximising the product of gains over ``d``. For
  two players the feasible set is the convex hull of the pure payoff profiles (agreements may
  randomise or alternate over profiles); with transferable utility (payoffs in the same money
  unit, side payments allowed) it maximises the joint payoff and splits the gain over ``d``
  equally (Myerson, *Game Theory*, 1991, §8.2).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np

TOL = 1e-9


def _check(P: np.ndarray) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim < 2 or P.shape[-1] != P.ndim - 1:
        raise ValueError(f"payoff array of shape {P.shape}: expected (n_1, ..., n_k, k)")
    if not np.isfinite(P).all():
        raise ValueError("payoff array holds NaN or infinite values")
    return P


def profiles(P: np.ndarray) -> list[tuple[int, ...]]:
    """All pure profiles, in C order."""
    return list(itertools.product(*(range(n) for n in P.shape[:-1])))


def expected_payoffs(P: np.ndarray, sigma: list[np.ndarray]) -> np.ndarray:
    """Expected payoff of every player when player ``i`` plays the mixed strategy ``sigma[i]``."""
    P = _check(P)
    out = P
    for s in sigma:
        out = np.tensordot(np.asarray(s, dtype=float), out, axes=(0, 0))
    return out


def deviation_payoffs(P: np.ndarray, sigma: list[np.ndarray], player: int) -> np.ndarray:
    """Player ``player``'s payoff from each of its pure strategies against the others' ``sigma``."""
    P = _check(P)
    out = np.moveaxis(P[..., player], player, 0)
    others = [s for i, s in enumerate(sigma) if i != player]
    for s in others:
        out = np.tensordot(out, np.asarray(s, dtype=float), axes=(1, 0))
    return out


def regret(P: np.ndarray, sigma: list[np.ndarray]) -> np.ndarray:
    """Largest gain each player could make by a pure deviation from ``sigma`` (>= 0)."""
    value = expected_payoffs(P, sigma)
    return np.array(
        [max(0.0, float(deviation_payoffs(P, sigma, i).max() - value[i])) for i in range(len(sigma))]
    )


def is_equilibrium(P: np.ndarray, sigma: list[np.ndarray], tol: float = TOL) -> bool:
    """Best-response check: no player gains more than ``tol`` (relative to the payoff scale) by deviating."""
    scale = max(1.0, float(np.abs(_check(P)).max()))
    return bool(regret(P, sigma).max() <= tol * scale)


def pure_to_mixed(P: np.ndarray, profile: tuple[int, ...]) -> list[np.ndarray]:
    """The profile as degenerate mixed strategies."""
    return [np.eye(n)[s] for n, s in zip(P.shape[:-1], profile, strict=True)]


def pure_nash(P: np.ndarray, tol: float = TOL) -> list[tuple[int, ...]]:
    """Pure-strategy Nash equilibria (each player's strategy is a best response to the others')."""
    P = _check(P)
    scale = max(1.0, float(np.abs(P).max()))
    out = []
    for prof in profiles(P):
        ok = True
        for i in range(len(prof)):
            idx = list(prof)
            idx[i] = slice(None)
            column = P[(*idx, i)]
            if column.max() - P[(*prof, i)] > tol * scale:
                ok = False
                break
        if ok:
            out.append(prof)
    return out


def is_degenerate(A: np.ndarray, B: np.ndarray, tol: float = TOL) -> bool:
    """Whether a bimatrix game is degenerate (von Stengel 2002).

    Checks every support ``S`` of each player (size ``s``) for a mixed strategy on ``S`` with
    more than ``s`` pure best responses: for each candidate set of ``s + 1`` responses, a linear
    system says whether some strategy on ``S`` makes them all payoff-equal and best.
    """
    from scipy.optimize import linprog

    A, B = np.asarray(A, float), np.asarray(B, float)
    scale = max(1.0, float(np.abs(A).max()), float(np.abs(B).max()))
    for M in (B, A.T):  # row player's mixed strategies against column payoffs B; then column's against A
        m, n = M.shape
        for s in range(1, m + 1):
            for S in itertools.combinations(range(m), s):
                for R in itertools.combinations(range(n), min(s + 1, n)):
                    if len(R) <= s:
                        continue
                    # variables x (on S) and v: x >= 0, sum x = 1, x^T M[:, r] = v for r in R,
                    # x^T M[:, c] <= v for all c. Feasible => degenerate.
                    k = len(S)
                    Aeq = [[*M[list(S), r], -1.0] for r in R] + [[1.0] * k + [0.0]]
                    beq = [0.0] * len(R) + [1.0]
                    if _inconsistent(np.array(Aeq), np.array(beq), scale):
                        continue  # the equalities alone have no solution: no LP needed
                    Aub = [[*M[list(S), c], -1.0] for c in range(n)]
                    bub = [tol * scale] * n
                    res = linprog(
                        np.zeros(k + 1),
                        A_ub=Aub,
                        b_ub=bub,
                        A_eq=Aeq,
                        b_eq=beq,
                        bounds=[(0, None)] * k + [(None, None)],
                        method="highs",
                    )
                    if res.status == 0:
                        return True
    return False


def _inconsistent(A: np.ndarray, b: np.ndarray, scale: float) -> bool:
    """Whether ``A z = b`` has no solution, even within 1e-6 of the payoff scale per row.

    ``s + 1`` payoff-equal responses on a support of ``s`` strategies give one equation more
    than unknowns, so in a nondegenerate game the system is inconsistent and the LP of
    :func:`is_degenerate` (about 1.4 ms through :func:`scipy.optimize.linprog`, mostly its
    option checks) can be skipped. If some ``z`` met every row within ``d`` its residual's
    2-norm would be at most ``d sqrt(rows)``, and so would the least-squares residual; a larger
    least-squares residual proves no such ``z`` exists. ``d = 1e-6 scale`` is ten times the LP
    solver's feasibility tolerance on rows scaled to the payoffs, so a system the LP could
    still satisfy is never skipped.
    """
    z, *_ = np.linalg.lstsq(A, b, rcond=None)
    return float(np.linalg.norm(A @ z - b)) > 1e-6 * scale * np.sqrt(len(b))


@dataclass(frozen=True)
class MixedEquilibria:
    """Equilibria of a bimatrix game from support enumeration, each verified."""

    equilibria: tuple[tuple[np.ndarray, np.ndarray], ...]
    degenerate: bool
    rejected: int  # candidates from the enumeration that failed the best-response check
    warnings: tuple[str, ...]


def _indifferent(
    M: np.ndarray, rows: tuple[int, ...], cols: tuple[int, ...], tol: float
) -> np.ndarray | None:
    """A mixed strategy on ``cols`` making every row in ``rows`` of ``M`` equally good, or None.

    Solves ``M[rows, cols] y = u 1, sum(y) = 1`` by least squares; accepts it if the residual is
    below ``tol`` (relative to the payoff scale) and every probability is >= -tol (then clipped).
    """
    sub = M[np.ix_(rows, cols)]
    k, m = len(rows), len(cols)
    lhs = np.zeros((k + 1, m + 1))
    lhs[:k, :m] = sub
    lhs[:k, m] = -1.0
    lhs[k, :m] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    sol, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    scale = max(1.0, float(np.abs(M).max()))
    if np.abs(lhs @ sol - rhs).max() > tol * scale:
        return None
    y = sol[:m]
    if (y < -tol).any():
        return None
    full = np.zeros(M.shape[1])
    full[list(cols)] = np.clip(y, 0.0, None)
    total = full.sum()
    return full / total if total > 0 else None


def _own_support_enumeration(A: np.ndarray, B: np.ndarray, equal_sizes: bool, tol: float):
    """Support enumeration with tolerant sign tests: the supports' indifference solutions that are equilibria."""
    m, n = A.shape
    P = np.stack([A, B], axis=-1)
    for k1 in range(1, m + 1):
        for k2 in range(1, n + 1):
            if equal_sizes and k1 != k2:
                continue
            for rows in itertools.combinations(range(m), k1):
                for cols in itertools.combinations(range(n), k2):
                    y = _indifferent(A, rows, cols, tol)
                    if y is None:
                        continue
                    x = _indifferent(B.T, cols, rows, tol)
                    if x is not None and is_equilibrium(P, [x, y], tol=tol):
                        yield x, y


def mixed_nash(A: np.ndarray, B: np.ndarray, tol: float = 1e-7) -> MixedEquilibria:
    """Equilibria of a bimatrix game by support enumeration, each verified by a best-response check.

    Candidates come from nashpy's support enumeration and from a second enumeration over the
    same supports with tolerant sign tests (nashpy 0.0.43 rejects solutions whose zero
    probabilities come out as -1e-17 and ignores ``tol`` for non-degenerate games, so it can
    miss equilibria); the union is verified and duplicates (within ``tol``) merged. For
    degenerate games both enumerate supports of unequal size too, and the result says the
    list may be incomplete (continua are represented by single points).
    """
    import nashpy as nash

    A, B = np.asarray(A, float), np.asarray(B, float)
    P = np.stack([A, B], axis=-1)
    degenerate = is_degenerate(A, B)
    game = nash.Game(A, B)
    found: list[tuple[np.ndarray, np.ndarray]] = []
    rejected = 0

    def take(x, y) -> None:
        nonlocal rejected
        x, y = np.clip(np.asarray(x, float), 0, None), np.clip(np.asarray(y, float), 0, None)
        if x.sum() <= 0 or y.sum() <= 0:
            rejected += 1
            return
        x, y = x / x.sum(), y / y.sum()
        if not is_equilibrium(P, [x, y], tol=tol):
            rejected += 1
            return
        if not any(np.allclose(x, a, atol=tol) and np.allclose(y, b, atol=tol) for a, b in found):
            found.append((x, y))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nash_found = list(game.support_enumeration(non_degenerate=not degenerate, tol=tol))
    for x, y in nash_found:
        take(x, y)
    n_nash = len(found)
    for x, y in _own_support_enumeration(A, B, equal_sizes=not degenerate, tol=tol):
        take(x, y)
    notes = sorted({" ".join(str(w.message).split()) for w in caught})
    if not degenerate:
        notes = [n for n in notes if "indicates that the game is degenerate" not in n]
        if len(found) > n_nash:
            notes.append(
                f"nashpy's support enumeration returned {n_nash} of the {len(found)} equilibria (rounding in its sign "
                "tests); the others come from reesim's tolerant enumeration of the same supports"
            )
    if degenerate:
        notes.append(
            "the game is degenerate (a mixed strategy has more pure best responses than its support size): "
            "support enumeration may miss equilibria or return single points of a continuum"
        )
    return MixedEquilibria(tuple(found), degenerate, rejected, tuple(notes))


@dataclass(frozen=True)
class Dominance:
    """A pure strategy dominated by another pure strategy of the same player."""

    player: int
    strategy: int
    by: int
    strict: bool


def dominated(P: np.ndarray, tol: float = TOL) -> list[Dominance]:
    """Pure strategies dominated by another pure strategy (strictly: worse against every profile of the others)."""
    P = _check(P)
    scale = max(1.0, float(np.abs(P).max()))
    out = []
    for i in range(P.ndim - 1):
        U = np.moveaxis(P[..., i], i, 0).reshape(P.shape[i], -1)
        for s, t in itertools.permutations(range(P.shape[i]), 2):
            diff = U[t] - U[s]
            if (diff > tol * scale).all():
                out.append(Dominance(i, s, t, True))
            elif (diff >= -tol * scale).all() and (diff > tol * scale).any():
                out.append(Dominance(i, s, t, False))
    return out


def iterated_elimination(P: np.ndarray, tol: float = TOL) -> tuple[tuple[int, ...], ...]:
    """Strategies that survive iterated elimination of strictly dominated pure strategies (indices per player)."""
    P = _check(P)
    alive = [list(range(n)) for n in P.shape[:-1]]
    while True:
        sub = P[np.ix_(*alive)] if len(alive) > 1 else P[alive[0]]
        gone = {(d.player, alive[d.player][d.strategy]) for d in dominated(sub, tol) if d.strict}
        if not gone:
            return tuple(tuple(a) for a in alive)
        # Remove one dominated strategy per player per round (order does not matter for strict dominance).
        for i in range(len(alive)):
            drop = sorted(s for (p, s) in gone if p == i)
            if drop and len(alive[i]) > 1:
                alive[i] = [s for s in alive[i] if s != drop[0]]


def pareto_efficient(P: np.ndarray, tol: float = TOL) -> list[tuple[int, ...]]:
    """Pure profiles not Pareto-dominated by another pure profile."""
    P = _check(P)
    scale = max(1.0, float(np.abs(P).max()))
    profs = profiles(P)
    vals = np.array([P[p] for p in profs])
    out = []
    for k, p in enumerate(profs):
        better = (vals >= vals[k] - tol * scale).all(axis=1) & (vals > vals[k] + tol * scale).any(axis=1)
        if not better.any():
            out.append(p)
    return out


@dataclass(frozen=True)
class Bargain:
    """A Nash bargaining solution: payoffs, how they are reached, and the gains over the disagreement point."""

    payoffs: np.ndarray
    disagreement: np.ndarray
    mix: tuple[tuple[tuple[int, ...], float], ...]  # profiles and their weights (a lottery or time shares)
    transfers: np.ndarray  # side payments received (transferable utility only), else zeros
    transferable: bool

    @property
    def gains(self) -> np.ndarray:
        """Value of cooperation to each player: bargaining payoff minus disagreement payoff."""
        return self.payoffs - self.disagreement


def nash_bargaining(P: np.ndarray, d: np.ndarray, tol: float = TOL) -> Bargain | None:
    """Nash bargaining solution over the convex hull of pure payoff profiles (no side payments).

    Maximises ``prod_i (u_i - d_i)`` over points ``u`` of the hull with ``u >= d``. For two
    players the maximiser lies on a segment between two pure payoff points; every segment is
    searched in closed form (the product is quadratic along a segment). For more players the
    weights of a lottery over the pure profiles maximise ``sum_i log(u_i - d_i)`` (a concave
    program, SLSQP from the point of a linear program that maximises the smallest gain).
    Returns None when no point of the hull improves on ``d`` for every player.
    """
    P = _check(P)
    d = np.asarray(d, dtype=float)
    profs = profiles(P)
    vals = np.array([P[p] for p in profs])
    scale = max(1.0, float(np.abs(vals).max()))
    best: tuple[float, np.ndarray, tuple] | None = None

    def consider(u: np.ndarray, mix: tuple) -> None:
        nonlocal best
        g = u - d
        if (g <= tol * scale).any():
            return
        val = float(np.prod(g / scale))
        if best is None or val > best[0] * (1 + 1e-12):
            best = (val, u, mix)

    for k, p in enumerate(profs):
        consider(vals[k], ((p, 1.0),))
    if P.shape[-1] == 2:
        for a, b in itertools.combinations(range(len(profs)), 2):
            x, delta = vals[a] - d, vals[b] - vals[a]
            denom = 2.0 * delta[0] * delta[1]
            if abs(denom) < 1e-300:
                continue
            lam = -(x[0] * delta[1] + x[1] * delta[0]) / denom
            if 0.0 < lam < 1.0:
                consider(vals[a] + lam * delta, ((profs[a], 1.0 - lam), (profs[b], lam)))
    if P.shape[-1] > 2:
        lottery = _bargaining_lottery(vals, d, scale, tol)
        if lottery is not None:
            w = lottery
            u = w @ vals
            consider(u, tuple((profs[k], float(w[k])) for k in np.flatnonzero(w > 1e-9)))
    if best is None:
        return None
    return Bargain(best[1], d, best[2], np.zeros(len(d)), transferable=False)


def _bargaining_lottery(vals: np.ndarray, d: np.ndarray, scale: float, tol: float) -> np.ndarray | None:
    """Lottery weights over profiles maximising sum log(u - d) (None if no lottery improves on d for all)."""
    from scipy.optimize import linprog, minimize

    m, k = vals.shape
    # max t  s.t.  w @ vals - d >= t, w >= 0, sum w = 1.
    res = linprog(
        np.r_[np.zeros(m), -1.0],
        A_ub=np.c_[-vals.T, np.ones(k)],
        b_ub=-d,
        A_eq=np.r_[np.ones(m), 0.0][None, :],
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
        method="highs",
    )
    if res.status != 0 or -res.fun <= tol * scale:
        return None
    w0 = res.x[:m]
    G = (vals - d) / scale

    def neg(w):
        g = np.maximum(w @ G, 1e-300)
        return -float(np.log(g).sum())

    def grad(w):
        g = np.maximum(w @ G, 1e-300)
        return -(G / g).sum(axis=1)

    opt = minimize(
        neg,
        w0,
        jac=grad,
        method="SLSQP",
        bounds=[(0, 1)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(m)}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    w = np.clip(opt.x if opt.success and neg(opt.x) <= neg(w0) else w0, 0.0, None)
    return w / w.sum()


def nash_bargaining_tu(P: np.ndarray, d: np.ndarray) -> Bargain:
    """Nash bargaining with transferable utility: play the profile of largest joint payoff, share its gain equally.

    The transfers are what each player receives (negative: pays) on top of its payoff at
    that profile so that every player ends at ``d_i + (S - sum(d)) / k``.
    """
    P = _check(P)
    d = np.asarray(d, dtype=float)
    profs = profiles(P)
    joint = np.array([P[p].sum() for p in profs])
    k = int(np.argmax(joint))
    if joint[k] < d.sum() - TOL * max(1.0, float(np.abs(joint).max())):
        raise ValueError(
            f"disagreement point {d.tolist()} is not feasible: its sum exceeds the largest joint payoff"
        )
    share = (joint[k] - d.sum()) / len(d)
    u = d + share
    return Bargain(u, d, ((profs[k], 1.0),), u - P[profs[k]], transferable=True)
