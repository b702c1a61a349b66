"""Game-analysis primitives (``reesim.game.analysis``) against hand-computed textbook results.

Every expected number is derived by hand in the comment next to it. Conventions: a two-player
game is given by the row player's matrix ``A`` and the column player's matrix ``B`` and stacked
into ``P[r, c] = (A[r, c], B[r, c])``; strategy 0 of the prisoner's dilemma is "cooperate".
Property tests (hypothesis) check the definitions on random games: every equilibrium has zero
regret, nondegenerate games have an odd number of equilibria (Wilson 1971), zero-sum games have
the minimax value (von Neumann), and the Nash bargaining point is feasible, individually rational
and not beaten by any point of the feasible set.

Defects found while writing these tests are pinned by regression tests: nashpy's support
enumeration misses equilibria of some nondegenerate games (NASHPY_BUG; mixed_nash adds a tolerant
enumeration of the same supports), and three-player bargaining must search lotteries, not only
pure profiles.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from reesim.game import analysis as G
from reesim.game.analysis import Dominance


def bimatrix(A, B) -> np.ndarray:
    return np.stack([np.asarray(A, float), np.asarray(B, float)], axis=-1)


def same_equilibria(found, expected, atol: float = 1e-9) -> bool:
    """Whether two lists of (x, y) pairs are equal as sets (each pair matched once, within atol)."""
    if len(found) != len(expected):
        return False
    left = list(found)
    for x, y in expected:
        hit = [
            k
            for k, (a, b) in enumerate(left)
            if np.allclose(a, x, rtol=0, atol=atol) and np.allclose(b, y, rtol=0, atol=atol)
        ]
        if not hit:
            return False
        left.pop(hit[0])
    return True


def _pure_nash_found(P, m) -> bool:
    """Whether every pure equilibrium of P is among mixed_nash's equilibria m."""
    for prof in G.pure_nash(P):
        x0, y0 = G.pure_to_mixed(P, prof)
        if not any(np.allclose(x, x0, atol=1e-7) and np.allclose(y, y0, atol=1e-7) for x, y in m.equilibria):
            return False
    return True


# --------------------------------------------------------------------------- textbook games
# Prisoner's dilemma: C=0, D=1. (C,C)=(3,3), (C,D)=(0,5), (D,C)=(5,0), (D,D)=(1,1).
PD_A = np.array([[3, 0], [5, 1]], float)
PD = bimatrix(PD_A, PD_A.T)

# Matching pennies (zero-sum): row wins on a match.
MP_A = np.array([[1, -1], [-1, 1]], float)
MP = bimatrix(MP_A, -MP_A)

# Battle of the sexes: row prefers (0,0) = (2,1), column prefers (1,1) = (1,2).
BOS_A = np.array([[2, 0], [0, 1]], float)
BOS_B = np.array([[1, 0], [0, 2]], float)
BOS = bimatrix(BOS_A, BOS_B)

# von Stengel (2002, ch. 45, Fig. 3): nondegenerate 3x2 game with three equilibria.
VS_A = np.array([[3, 3], [2, 5], [0, 6]], float)
VS_B = np.array([[3, 2], [2, 6], [3, 1]], float)
# Its degenerate variant: B[0] = (3, 3), so the pure row 0 has two pure best responses.
VS_B_DEG = np.array([[3, 3], [2, 6], [3, 1]], float)


# --------------------------------------------------------------------------- input validation
@pytest.mark.parametrize(
    ("shape", "fill"),
    [
        ((3,), 0.0),  # one axis: no player axis
        ((2, 2), 0.0),  # a 2x2 matrix is not a one-player game (last axis must be 1)
        ((2, 2, 3), 0.0),  # two strategy axes but payoffs for three players
        ((2, 2, 2, 2), 0.0),  # three strategy axes but payoffs for two players
    ],
)
def test_check_rejects_wrong_shape(shape, fill):
    P = np.full(shape, fill)
    with pytest.raises(ValueError, match="expected"):
        G._check(P)
    with pytest.raises(ValueError):
        G.pure_nash(P)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_rejects_non_finite(bad):
    P = PD.copy()
    P[1, 0, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        G._check(P)
    for f in (G.pure_nash, G.dominated, G.pareto_efficient, G.iterated_elimination):
        with pytest.raises(ValueError):
            f(P)


def test_check_accepts_and_converts():
    P = G._check([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    assert P.dtype == float and P.shape == (2, 2, 2)
    assert G._check(np.array([[1], [2], [3]])).shape == (3, 1)  # a one-player game


# --------------------------------------------------------------------------- expected payoffs and regret
def test_expected_payoffs_and_regret_by_hand():
    # Battle of the sexes, x = (2/3, 1/3), y = (1/3, 2/3):
    # row: 2*(2/3)(1/3) + 1*(1/3)(2/3) = 6/9 = 2/3; column: 1*(2/9) + 2*(2/9) = 2/3.
    x, y = np.array([2 / 3, 1 / 3]), np.array([1 / 3, 2 / 3])
    np.testing.assert_allclose(G.expected_payoffs(BOS, [x, y]), [2 / 3, 2 / 3])
    # Row's pure strategies against y: (2/3, 2/3); column's against x: (2/3, 2/3).
    np.testing.assert_allclose(G.deviation_payoffs(BOS, [x, y], 0), [2 / 3, 2 / 3])
    np.testing.assert_allclose(G.deviation_payoffs(BOS, [x, y], 1), [2 / 3, 2 / 3])
    np.testing.assert_allclose(G.regret(BOS, [x, y]), [0, 0], atol=1e-12)

    # Matching pennies, x = heads, y = (1/2, 1/2): row gets 0 and cannot do better; column
    # gets 0 but tails against heads gives it +1, so its regret is 1.
    x, y = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    np.testing.assert_allclose(G.expected_payoffs(MP, [x, y]), [0, 0], atol=1e-12)
    np.testing.assert_allclose(G.regret(MP, [x, y]), [0, 1])
    assert not G.is_equilibrium(MP, [x, y])

    # Prisoner's dilemma at (C, C): each gains 5 - 3 = 2 by defecting.
    np.testing.assert_allclose(G.regret(PD, G.pure_to_mixed(PD, (0, 0))), [2, 2])
    assert G.is_equilibrium(PD, G.pure_to_mixed(PD, (1, 1)))


def test_deviation_payoffs_three_players():
    # Three-player game with payoffs P[s0, s1, s2, i] = 100*s0 + 10*s1 + s2 + 1000*i.
    P = np.zeros((2, 3, 2, 3))
    for s0, s1, s2, i in itertools.product(range(2), range(3), range(2), range(3)):
        P[s0, s1, s2, i] = 100 * s0 + 10 * s1 + s2 + 1000 * i
    sigma = [np.array([0.25, 0.75]), np.array([0.5, 0.25, 0.25]), np.array([1.0, 0.0])]
    # E[s0] = 0.75, E[s1] = 0.25 + 0.5 = 0.75, E[s2] = 0.
    base = 100 * 0.75 + 10 * 0.75
    np.testing.assert_allclose(G.expected_payoffs(P, sigma), [base, base + 1000, base + 2000])
    # Player 1 (middle axis) deviating to pure s1 = 0, 1, 2: 75 + 10*s1 + 1000.
    np.testing.assert_allclose(G.deviation_payoffs(P, sigma, 1), [1075, 1085, 1095])
    # Player 2 deviating to s2 = 1 gains exactly 1; player 0 to s0 = 1 gains 100 - 75 = 25.
    np.testing.assert_allclose(G.regret(P, sigma), [25, 20 - 7.5, 1])


def test_pure_to_mixed():
    x, y, z = G.pure_to_mixed(np.zeros((2, 3, 4, 3)), (1, 0, 3))
    np.testing.assert_array_equal(x, [0, 1])
    np.testing.assert_array_equal(y, [1, 0, 0])
    np.testing.assert_array_equal(z, [0, 0, 0, 1])


# --------------------------------------------------------------------------- prisoner's dilemma
def test_prisoners_dilemma():
    assert G.pure_nash(PD) == [(1, 1)]
    # Cooperate is strictly dominated by defect for both (5 > 3 and 1 > 0).
    assert sorted(G.dominated(PD), key=lambda d: d.player) == [
        Dominance(0, 0, 1, True),
        Dominance(1, 0, 1, True),
    ]
    assert G.iterated_elimination(PD) == ((1,), (1,))
    # (D,D) = (1,1) is Pareto-dominated by (C,C) = (3,3); the other three profiles are efficient.
    assert G.pareto_efficient(PD) == [(0, 0), (0, 1), (1, 0)]

    m = G.mixed_nash(PD_A, PD_A.T)
    assert not m.degenerate and m.rejected == 0 and m.warnings == ()
    assert same_equilibria(m.equilibria, [([0, 1], [0, 1])])


def test_prisoners_dilemma_bargaining():
    # Hull frontier: (0,5)-(3,3)-(5,0). From d = (1,1): at (3,3) the product is 4; along (3,3)->(5,0)
    # gains are (2 + 2t, 2 - 3t), derivative -2 - 12t < 0, and symmetrically on the other edge.
    b = G.nash_bargaining(PD, [1, 1])
    assert b is not None and not b.transferable
    np.testing.assert_allclose(b.payoffs, [3, 3])
    np.testing.assert_allclose(b.gains, [2, 2])
    np.testing.assert_array_equal(b.transfers, [0, 0])
    assert [(p, pytest.approx(w)) for p, w in b.mix if w > 1e-12] == [((0, 0), 1.0)]

    # With transfers: the largest joint payoff is 6 at (C,C); gain 6 - 2 = 4 shared 2/2, no side payment.
    tu = G.nash_bargaining_tu(PD, [1, 1])
    assert tu.transferable and tu.mix == (((0, 0), 1.0),)
    np.testing.assert_allclose(tu.payoffs, [3, 3])
    np.testing.assert_allclose(tu.transfers, [0, 0], atol=1e-12)
    np.testing.assert_allclose(tu.gains, [2, 2])

    # d = (3,3) is on the frontier: no feasible point improves on it for both players
    # (the chord (0,5)-(5,0) passes through (2.5, 2.5)).
    assert G.nash_bargaining(PD, [3, 3]) is None


def test_bargaining_tu_asymmetric_transfers():
    # Coordination game: (0,0) = (6,2), (1,1) = (2,3), off-diagonal (0,0). Both diagonals are
    # pure equilibria. Joint payoffs 8 and 5; from d = (2,3) the gain 8 - 5 = 3 is split 1.5/1.5,
    # so the players end at (3.5, 4.5): the row player plays (0,0) for 6 and pays 2.5.
    P = bimatrix([[6, 0], [0, 2]], [[2, 0], [0, 3]])
    assert G.pure_nash(P) == [(0, 0), (1, 1)]
    tu = G.nash_bargaining_tu(P, [2, 3])
    assert tu.mix == (((0, 0), 1.0),)
    np.testing.assert_allclose(tu.payoffs, [3.5, 4.5])
    np.testing.assert_allclose(tu.transfers, [-2.5, 2.5])
    np.testing.assert_allclose(tu.gains, [1.5, 1.5])
    np.testing.assert_allclose(tu.payoffs, P[0, 0] + tu.transfers)

    # Without transfers the frontier is the segment (2,3)-(6,2); from d = (2,3) moving along it
    # gives gains (4t, -t): the row gains only if the column loses, so there is no agreement.
    assert G.nash_bargaining(P, [2, 3]) is None
    # From d = (0,0) along (2,3) + t(4,-1): product (2+4t)(3-t), derivative 10 - 8t > 0 on [0,1]:
    # the solution is the vertex (6,2) (product 12 against 6 at (2,3)).
    b = G.nash_bargaining(P, [0, 0])
    np.testing.assert_allclose(b.payoffs, [6, 2])


# --------------------------------------------------------------------------- matching pennies
def test_matching_pennies():
    assert G.pure_nash(MP) == []
    assert G.dominated(MP) == []
    assert G.iterated_elimination(MP) == ((0, 1), (0, 1))
    # Zero-sum: every profile is Pareto efficient.
    assert G.pareto_efficient(MP) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    m = G.mixed_nash(MP_A, -MP_A)
    assert not m.degenerate and m.rejected == 0 and m.warnings == ()
    assert same_equilibria(m.equilibria, [([0.5, 0.5], [0.5, 0.5])])
    x, y = m.equilibria[0]
    np.testing.assert_allclose(G.expected_payoffs(MP, [x, y]), [0, 0], atol=1e-12)
    # Zero-sum: with transfers the joint payoff is 0 everywhere; the first profile is played.
    tu = G.nash_bargaining_tu(MP, [0, 0])
    np.testing.assert_allclose(tu.payoffs, [0, 0])
    np.testing.assert_allclose(tu.transfers, [-1, 1])  # (0,0) = (1,-1): the row pays 1 back
    assert G.nash_bargaining(MP, [0, 0]) is None  # the hull lies on u1 + u2 = 0


# --------------------------------------------------------------------------- battle of the sexes
def test_battle_of_the_sexes():
    assert G.pure_nash(BOS) == [(0, 0), (1, 1)]
    assert G.dominated(BOS) == []
    assert G.pareto_efficient(BOS) == [(0, 0), (1, 1)]
    m = G.mixed_nash(BOS_A, BOS_B)
    # Mixed: the column is indifferent when x0 * 1 = x1 * 2, x = (2/3, 1/3); the row when
    # 2 y0 = 1 y1, y = (1/3, 2/3). Each gets 2/3.
    assert not m.degenerate and m.rejected == 0 and m.warnings == ()
    expected = [([1, 0], [1, 0]), ([0, 1], [0, 1]), ([2 / 3, 1 / 3], [1 / 3, 2 / 3])]
    assert same_equilibria(m.equilibria, expected)
    values = sorted(tuple(np.round(G.expected_payoffs(BOS, [x, y]), 12)) for x, y in m.equilibria)
    np.testing.assert_allclose(values, [(2 / 3, 2 / 3), (1, 2), (2, 1)])


def test_battle_of_the_sexes_bargaining():
    # From the mixed equilibrium value d = (2/3, 2/3): on the frontier (2,1)-(1,2) the gains are
    # (4/3 - t, 1/3 + t), maximal at t = 1/2: the point (1.5, 1.5), a 50/50 alternation.
    b = G.nash_bargaining(BOS, [2 / 3, 2 / 3])
    np.testing.assert_allclose(b.payoffs, [1.5, 1.5])
    np.testing.assert_allclose(b.gains, [5 / 6, 5 / 6])
    assert sorted((p, round(w, 12)) for p, w in b.mix) == [((0, 0), 0.5), ((1, 1), 0.5)]
    # With transfers: joint 3 at either diagonal, the first, (0,0) = (2,1), is played and the row
    # pays 0.5: both end at 2/3 + (3 - 4/3)/2 = 1.5.
    tu = G.nash_bargaining_tu(BOS, [2 / 3, 2 / 3])
    assert tu.mix == (((0, 0), 1.0),)
    np.testing.assert_allclose(tu.payoffs, [1.5, 1.5])
    np.testing.assert_allclose(tu.transfers, [-0.5, 0.5])


# --------------------------------------------------------------------------- von Stengel's examples
def test_von_stengel_nondegenerate_three_equilibria():
    assert not G.is_degenerate(VS_A, VS_B)
    m = G.mixed_nash(VS_A, VS_B)
    assert not m.degenerate and m.rejected == 0 and m.warnings == ()
    # Hand check of the two mixed ones:
    # y = (2/3, 1/3): rows give 3, 4/3 + 5/3 = 3, 2 -> support {0, 1}; x = (4/5, 1/5, 0): columns
    # give 12/5 + 2/5 = 14/5 and 8/5 + 6/5 = 14/5.
    # y = (1/3, 2/3): rows give 3, 2/3 + 10/3 = 4, 4 -> support {1, 2}; x = (0, 1/3, 2/3): columns
    # give 2/3 + 2 = 8/3 and 2 + 2/3 = 8/3.
    expected = [
        ([1, 0, 0], [1, 0]),
        ([4 / 5, 1 / 5, 0], [2 / 3, 1 / 3]),
        ([0, 1 / 3, 2 / 3], [1 / 3, 2 / 3]),
    ]
    assert same_equilibria(m.equilibria, expected)
    P = bimatrix(VS_A, VS_B)
    values = sorted(tuple(np.round(G.expected_payoffs(P, [x, y]), 12)) for x, y in m.equilibria)
    np.testing.assert_allclose(values, [(3, 14 / 5), (3, 3), (4, 8 / 3)])
    assert G.pure_nash(P) == [(0, 0)]


def test_von_stengel_degenerate():
    assert G.is_degenerate(VS_A, VS_B_DEG)
    m = G.mixed_nash(VS_A, VS_B_DEG)
    assert m.degenerate
    assert any("degenerate" in w for w in m.warnings)
    P = bimatrix(VS_A, VS_B_DEG)
    assert m.equilibria
    for x, y in m.equilibria:
        assert G.is_equilibrium(P, [x, y], tol=1e-7)
    # The equilibrium on rows {1, 2} survives (B rows 1, 2 unchanged); (4/5, 1/5, 0) does not:
    # against x = (p, 1-p, 0) the columns give 2 + p < 6 - 3p for p < 1.
    assert any(np.allclose(x, [0, 1 / 3, 2 / 3]) and np.allclose(y, [1 / 3, 2 / 3]) for x, y in m.equilibria)
    assert not any(np.allclose(x, [4 / 5, 1 / 5, 0]) for x, _ in m.equilibria)
    # The continuum: row 0 with y = (q, 1-q) is an equilibrium iff 3 >= 5 - 3q and 3 >= 6(1-q),
    # i.e. q >= 2/3; the column is indifferent (B[0] = (3, 3)).
    for q in (2 / 3, 0.8, 1.0):
        assert G.is_equilibrium(P, [np.array([1.0, 0, 0]), np.array([q, 1 - q])])
    assert not G.is_equilibrium(P, [np.array([1.0, 0, 0]), np.array([0.5, 0.5])])
    np.testing.assert_allclose(G.regret(P, [np.array([1.0, 0, 0]), np.array([0.5, 0.5])]), [0.5, 0])


# Nondegenerate games on which mixed_nash misses equilibria because of two exact floating-point
# comparisons inside nashpy 0.0.43's support enumeration (see NASHPY_BUG).
NASHPY_BUG = (
    "nashpy's support enumeration compares rounded probabilities exactly: solve_indifference rejects "
    "a solution with an off-support entry of -5.6e-17 (all(prob >= 0)), and indifference_strategies "
    "resets the tol=1e-7 passed by mixed_nash to 0 when non_degenerate=True, so obey_support rejects "
    "an off-support entry of +9.3e-18; the equilibrium is silently dropped"
)
# (1) Unique equilibrium x = (1/3, 2/3), y = (0, 5/11, 6/11); nothing is returned.
NOEQ_A = np.array([[5, -3, 3], [-1, 3, -2]], float)
NOEQ_B = np.array([[-3, 1, -5], [-2, 2, 5]], float)
# (2) Equilibria (0,0), (1,2) and x = (3/4, 1/4), y = (4/5, 0, 1/5); the mixed one is missed.
MISS_A = np.array([[3, 5, -4], [2, -2, 0]], float)
MISS_B = np.array([[5, -2, 2], [-4, -2, 5]], float)


def test_nashpy_bug_games_by_hand():
    # (1) Column payoffs against x = (p, 1-p): -2 - p, 2 - p, 5 - 10p; column 0 is strictly dominated
    # by column 1, no profile is a pure equilibrium, columns 1 and 2 tie at p = 1/3 (5/3 each).
    # Row payoffs against y = (0, q, 1-q): 3 - 6q and 5q - 2, equal at q = 5/11 (3/11 each).
    P = bimatrix(NOEQ_A, NOEQ_B)
    assert not G.is_degenerate(NOEQ_A, NOEQ_B)
    assert G.pure_nash(P) == []
    assert G.dominated(P) == [Dominance(1, 0, 1, True)]
    x, y = np.array([1 / 3, 2 / 3]), np.array([0, 5 / 11, 6 / 11])
    assert G.is_equilibrium(P, [x, y])
    np.testing.assert_allclose(G.expected_payoffs(P, [x, y]), [3 / 11, 5 / 3])
    np.testing.assert_allclose(G.deviation_payoffs(P, [x, y], 1), [-7 / 3, 5 / 3, 5 / 3])

    # (2) Pure equilibria: (0,0) (A column 0 = (3,2), B row 0 = (5,-2,2)) and (1,2) (A column 2 =
    # (-4,0), B row 1 = (-4,-2,5)). Mixed on rows {0,1} x columns {0,2}: the column is indifferent
    # when 5p - 4(1-p) = 2p + 5(1-p), p = 3/4, getting 11/4 from both (column 1 gives -2); the row
    # when 3q - 4(1-q) = 2q, q = 4/5, getting 8/5.
    P = bimatrix(MISS_A, MISS_B)
    assert not G.is_degenerate(MISS_A, MISS_B)
    assert G.pure_nash(P) == [(0, 0), (1, 2)]
    x, y = np.array([3 / 4, 1 / 4]), np.array([4 / 5, 0, 1 / 5])
    assert G.is_equilibrium(P, [x, y])
    np.testing.assert_allclose(G.expected_payoffs(P, [x, y]), [8 / 5, 11 / 4])
    np.testing.assert_allclose(G.deviation_payoffs(P, [x, y], 1), [11 / 4, -2, 11 / 4])
    # What is returned is still right: both pure equilibria, nothing rejected.
    m = G.mixed_nash(MISS_A, MISS_B)
    assert not m.degenerate and m.rejected == 0
    assert _pure_nash_found(P, m)


def test_nashpy_bug_no_equilibrium_returned():
    m = G.mixed_nash(NOEQ_A, NOEQ_B)
    assert same_equilibria(m.equilibria, [([1 / 3, 2 / 3], [0, 5 / 11, 6 / 11])])
    assert not any("degenerate" in w for w in m.warnings)
    assert any("nashpy's support enumeration returned 0 of the 1" in w for w in m.warnings)


def test_nashpy_bug_mixed_equilibrium_missed():
    m = G.mixed_nash(MISS_A, MISS_B)
    expected = [([1, 0], [1, 0, 0]), ([0, 1], [0, 0, 1]), ([3 / 4, 1 / 4], [4 / 5, 0, 1 / 5])]
    assert same_equilibria(m.equilibria, expected)
    assert not any("degenerate" in w for w in m.warnings)


@pytest.mark.parametrize(
    ("A", "B", "degenerate"),
    [
        (BOS_A, BOS_B, False),
        (PD_A, PD_A.T, False),
        (MP_A, -MP_A, False),
        # A tie in a column of A: the pure column 0 has two pure best responses for the row.
        ([[1, 0], [1, 2]], [[1, 0], [0, 1]], True),
        # A tie in a row of B: the pure row 1 has two pure best responses for the column.
        ([[1, 0], [0, 1]], [[1, 0], [2, 2]], True),
        # No pure ties, but x = (1/2, 1/2) makes all three columns best: (1.5, 1.5, 1.5).
        ([[1, 0, 0], [0, 1, 1]], [[3, 0, 2], [0, 3, 1]], True),
        # The same with the third column worse for the column player: (1.5, 1.5, 1).
        ([[1, 0, 0], [0, 1, 1]], [[3, 0, 1], [0, 3, 1]], False),
        # Everything equal: maximally degenerate.
        ([[0, 0], [0, 0]], [[0, 0], [0, 0]], True),
    ],
)
def test_is_degenerate_cases(A, B, degenerate):
    assert G.is_degenerate(np.array(A, float), np.array(B, float)) is degenerate


def test_mixed_nash_on_mixed_support_tie():
    # The degenerate 2x3 game above: x = (1/2, 1/2) makes the column indifferent among all three
    # columns. The game still has the pure equilibria (0,0) and (1,1) (checked by hand), and every
    # returned pair is verified.
    A = np.array([[1, 0, 0], [0, 1, 1]], float)
    B = np.array([[3, 0, 2], [0, 3, 1]], float)
    m = G.mixed_nash(A, B)
    assert m.degenerate
    P = bimatrix(A, B)
    assert G.pure_nash(P) == [(0, 0), (1, 1)]
    for prof in [(0, 0), (1, 1)]:
        x0, y0 = G.pure_to_mixed(P, prof)
        assert any(np.allclose(x, x0) and np.allclose(y, y0) for x, y in m.equilibria)
    assert all(G.is_equilibrium(P, [x, y], tol=1e-7) for x, y in m.equilibria)


# --------------------------------------------------------------------------- dominance
def test_iterated_elimination_gibbons():
    # Gibbons (1992, §1.1.B): Up/Down vs Left/Middle/Right.
    # Up pays (1,0), (1,2), (0,1) against Left, Middle, Right; Down pays (0,3), (0,1), (2,0).
    # Right is strictly dominated by Middle (2 > 1, 1 > 0); then Down by Up (1 > 0, 1 > 0); then
    # Left by Middle (2 > 0). Only (Up, Middle) survives, after three rounds.
    A = [[1, 1, 0], [0, 0, 2]]
    B = [[0, 2, 1], [3, 1, 0]]
    P = bimatrix(A, B)
    assert G.dominated(P) == [Dominance(1, 2, 1, True)]  # only Right, in the full game
    assert G.iterated_elimination(P) == ((0,), (1,))
    assert G.pure_nash(P) == [(0, 1)]


def test_weak_dominance_and_mixed_only_dominance():
    # Row 1 = (1, 0) is weakly dominated by row 0 = (1, 1) (equal against column 0, worse against 1).
    P = bimatrix([[1, 1], [1, 0]], [[0, 0], [0, 0]])
    assert G.dominated(P) == [Dominance(0, 1, 0, False)]
    assert G.iterated_elimination(P) == ((0, 1), (0, 1))  # weak dominance is not iterated away
    # The column is indifferent everywhere: (0,0) and (1,0) (row tie against column 0) and (0,1).
    assert G.pure_nash(P) == [(0, 0), (0, 1), (1, 0)]

    # Row 2 = (1, 1) is strictly dominated by the mix (1/2, 1/2) of rows 0 and 1, which gives
    # (1.5, 1.5), but by no pure row: dominance is checked against pure strategies only.
    P = bimatrix([[3, 0], [0, 3], [1, 1]], [[0, 0], [0, 0], [0, 0]])
    assert G.dominated(P) == []
    assert G.iterated_elimination(P) == ((0, 1, 2), (0, 1))


def test_one_player_game():
    P = np.array([[1.0], [3.0], [3.0]])
    assert G.pure_nash(P) == [(1,), (2,)]
    assert G.dominated(P) == [Dominance(0, 0, 1, True), Dominance(0, 0, 2, True)]
    assert G.iterated_elimination(P) == ((1, 2),)
    assert G.pareto_efficient(P) == [(1,), (2,)]


# --------------------------------------------------------------------------- three players
def coordination3() -> np.ndarray:
    # 2x2x2 coordination: all on 0 pays 2 each, all on 1 pays 1 each, any mismatch pays 0.
    P = np.zeros((2, 2, 2, 3))
    P[0, 0, 0] = 2
    P[1, 1, 1] = 1
    return P


def public_goods3() -> np.ndarray:
    # Three players each contribute (1) or not (0). Payoff (times 3): 2 * contributions - 3 * own.
    # A contribution costs 3 and returns 2 to each player, so contributing is strictly dominated.
    P = np.zeros((2, 2, 2, 3))
    for prof in itertools.product(range(2), repeat=3):
        P[prof] = [2 * sum(prof) - 3 * c for c in prof]
    return P


def test_three_player_coordination():
    P = coordination3()
    # Any mismatch: the odd one out gains by switching, so only the two diagonals are equilibria.
    assert G.pure_nash(P) == [(0, 0, 0), (1, 1, 1)]
    # Each strategy is the unique best reply to the others coordinating on it: nothing dominated.
    assert G.dominated(P) == []
    assert G.iterated_elimination(P) == ((0, 1), (0, 1), (0, 1))
    assert G.pareto_efficient(P) == [(0, 0, 0)]
    # Mixed regret: everybody at (1/2, 1/2) gets 2/8 + 1/8 = 3/8; switching to pure 0 gives 2/4.
    half = np.array([0.5, 0.5])
    np.testing.assert_allclose(G.expected_payoffs(P, [half] * 3), [3 / 8] * 3)
    np.testing.assert_allclose(G.regret(P, [half] * 3), [1 / 8] * 3)
    # The mixed equilibrium with p = Pr(0): 2 p^2 = (1-p)^2, p = 1 / (1 + sqrt 2).
    p = 1 / (1 + np.sqrt(2))
    sigma = [np.array([p, 1 - p])] * 3
    assert G.is_equilibrium(P, sigma)
    np.testing.assert_allclose(G.deviation_payoffs(P, sigma, 2), [2 * p**2] * 2)


def test_three_player_public_goods():
    P = public_goods3()
    # (1,1,0) pays (2*2 - 3, 1, 4) = (1, 1, 4); (1,0,0) pays (-1, 2, 2); all contribute: (3, 3, 3).
    np.testing.assert_allclose(P[1, 1, 0], [1, 1, 4])
    assert G.pure_nash(P) == [(0, 0, 0)]
    assert sorted(G.dominated(P), key=lambda d: d.player) == [Dominance(i, 1, 0, True) for i in range(3)]
    assert G.iterated_elimination(P) == ((0,), (0,), (0,))
    # Efficient: all contribute (3,3,3) and the three free-rider profiles (1,1,4) etc.; nobody or one
    # contributor is dominated by (3,3,3).
    assert G.pareto_efficient(P) == [(0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1)]

    # Bargaining from the equilibrium d = (0,0,0) over the pure profiles: products 27 at (3,3,3),
    # 4 at the free-rider profiles, so everybody contributes.
    b = G.nash_bargaining(P, [0, 0, 0])
    np.testing.assert_allclose(b.payoffs, [3, 3, 3])
    assert b.mix == (((1, 1, 1), 1.0),)
    # With transfers from d = (1, 0, 0): joint 9, gain 8 shared 8/3 each: (11/3, 8/3, 8/3).
    tu = G.nash_bargaining_tu(P, [1, 0, 0])
    assert tu.mix == (((1, 1, 1), 1.0),)
    np.testing.assert_allclose(tu.payoffs, [11 / 3, 8 / 3, 8 / 3])
    np.testing.assert_allclose(tu.transfers, [2 / 3, -1 / 3, -1 / 3])
    assert tu.transfers.sum() == pytest.approx(0, abs=1e-12)


def lottery_only_game() -> np.ndarray:
    # 2x2x2: (0,0,0) = (1,1,1) and (1,1,1) = (2,2,2) are pure equilibria; (1,1,0) = (4,4,0),
    # (1,0,1) = (4,0,4), (0,1,1) = (0,4,4); all other profiles pay 0.
    P = np.zeros((2, 2, 2, 3))
    P[0, 0, 0] = 1
    P[1, 1, 1] = 2
    P[1, 1, 0] = [4, 4, 0]
    P[1, 0, 1] = [4, 0, 4]
    P[0, 1, 1] = [0, 4, 4]
    return P


def test_three_player_bargaining_uses_lotteries():
    # No pure profile improves on d = (2,2,2) for all three players, but a lottery does; from
    # d = (1,1,1) the pure profile (1,1,1) pays (2,2,2), the lottery more: gains 5/3 each
    # (product 125/27) against 1.
    P = lottery_only_game()
    assert G.pure_nash(P) == [(0, 0, 0), (1, 1, 1)]
    assert all((P[p] <= 2).any() for p in G.profiles(P))
    b = G.nash_bargaining(P, [1, 1, 1])
    np.testing.assert_allclose(b.payoffs, [8 / 3] * 3, atol=1e-6)
    np.testing.assert_allclose(sum(w * P[p] for p, w in b.mix), b.payoffs, atol=1e-9)
    # Nothing improves on the best point for everyone: no bargain.
    assert G.nash_bargaining(P, [8 / 3, 8 / 3, 8 / 3]) is None


def test_three_player_bargaining_lottery_improves_on_d():
    # The uniform lottery over (1,1,0), (1,0,1), (0,1,1) pays (8/3, 8/3, 8/3) > d = (2,2,2); by
    # symmetry and log-concavity that is the Nash bargaining point of the convex hull.
    P = lottery_only_game()
    lottery = (P[1, 1, 0] + P[1, 0, 1] + P[0, 1, 1]) / 3
    np.testing.assert_allclose(lottery, [8 / 3] * 3)
    b = G.nash_bargaining(P, [2, 2, 2])
    assert b is not None
    np.testing.assert_allclose(b.payoffs, [8 / 3] * 3, atol=1e-6)


# --------------------------------------------------------------------------- bargaining without transfers
def test_bargaining_interior_of_segment():
    # Pure payoff points (4,0) at (0,0), (0,4) at (1,1), (0,0) elsewhere. From d = (0,0) along
    # (4,0) + t(-4,4) the product (4 - 4t) 4t peaks at t = 1/2: the point (2,2), a 50/50 mix.
    P = bimatrix([[4, 0], [0, 0]], [[0, 0], [0, 4]])
    b = G.nash_bargaining(P, [0, 0])
    np.testing.assert_allclose(b.payoffs, [2, 2])
    assert [(p, pytest.approx(w)) for p, w in b.mix] == [((0, 0), 0.5), ((1, 1), 0.5)]
    np.testing.assert_allclose(sum(w * P[p] for p, w in b.mix), b.payoffs)
    # From d = (1,0): gains (3 - 4t, 4t), derivative 12 - 32t: t = 3/8, the point (2.5, 1.5);
    # on a frontier of slope -1 the gains are equal (1.5, 1.5).
    b = G.nash_bargaining(P, [1, 0])
    np.testing.assert_allclose(b.payoffs, [2.5, 1.5])
    np.testing.assert_allclose(b.gains, [1.5, 1.5])
    assert [(p, pytest.approx(w)) for p, w in b.mix] == [((0, 0), 5 / 8), ((1, 1), 3 / 8)]
    # An asymmetric frontier: (6,0) and (0,3), d = (0,0): (6 - 6t) 3t peaks at t = 1/2, (3, 1.5).
    P = bimatrix([[6, 0], [0, 0]], [[0, 0], [0, 3]])
    np.testing.assert_allclose(G.nash_bargaining(P, [0, 0]).payoffs, [3, 1.5])
    # d on the frontier, or above it: no agreement.
    assert G.nash_bargaining(P, [3, 1.5]) is None
    assert G.nash_bargaining(P, [10, 10]) is None


def test_bargaining_vertex_beats_segments():
    # Points (3,3) and the chord (5,0)-(0,5): from d = (0,0) the vertex (3,3) (product 9) beats the
    # best chord point (2.5, 2.5) (product 6.25) and the edges (3,3)-(5,0): (3+2t)(3-3t) has
    # derivative -3 - 12t < 0.
    b = G.nash_bargaining(PD, [0, 0])
    np.testing.assert_allclose(b.payoffs, [3, 3])


# --------------------------------------------------------------------------- property tests
def _matrix(draw, m: int, n: int) -> np.ndarray:
    return np.array(draw(st.lists(st.integers(-20, 20), min_size=m * n, max_size=m * n)), float).reshape(m, n)


@st.composite
def integer_games(draw, max_n: int = 4):
    m, n = draw(st.integers(2, max_n)), draw(st.integers(2, max_n))
    return _matrix(draw, m, n), _matrix(draw, m, n)


@st.composite
def generic_games(draw, zero_sum: bool = False):
    """Integer payoffs plus a random perturbation in (-0.05, 0.05): nondegenerate with probability 1."""
    m, n = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = _matrix(draw, m, n) + rng.uniform(-0.05, 0.05, (m, n))
    B = -A if zero_sum else _matrix(draw, m, n) + rng.uniform(-0.05, 0.05, (m, n))
    return A, B


@settings(max_examples=50, deadline=None)
@given(game=generic_games())
def test_property_generic_games_equilibria(game):
    # Sound properties of what mixed_nash returns on a generic game (completeness: see the xfail below).
    A, B = game
    P = bimatrix(A, B)
    scale = max(1.0, np.abs(P).max())
    m = G.mixed_nash(A, B)
    assert not m.degenerate
    assert m.rejected == 0
    for x, y in m.equilibria:
        assert x.shape == (A.shape[0],) and y.shape == (A.shape[1],)
        assert np.all(x >= 0) and np.all(y >= 0)
        assert x.sum() == pytest.approx(1) and y.sum() == pytest.approx(1)
        assert G.regret(P, [x, y]).max() <= 1e-9 * scale
        # Nondegenerate: supports of equal size.
        assert np.count_nonzero(x > 1e-12) == np.count_nonzero(y > 1e-12)
    assert _pure_nash_found(P, m)
    # Equilibria are distinct.
    for (x1, y1), (x2, y2) in itertools.combinations(m.equilibria, 2):
        assert not (np.allclose(x1, x2, atol=1e-7) and np.allclose(y1, y2, atol=1e-7))


@settings(max_examples=50, deadline=None, phases=[Phase.generate])
@given(game=generic_games())
def test_property_wilson_oddness(game):
    # Wilson (1971): a nondegenerate bimatrix game has an odd number of equilibria, and support
    # enumeration finds all of them (so also at least one, and nashpy does not warn).
    A, B = game
    m = G.mixed_nash(A, B)
    assert not m.degenerate
    assert len(m.equilibria) % 2 == 1
    assert not any("degenerate" in w for w in m.warnings)


@settings(max_examples=50, deadline=None)
@given(game=integer_games())
def test_property_integer_games_equilibria(game):
    # Integer payoffs are often degenerate; whatever is returned must still be an equilibrium and
    # every pure equilibrium must be among them.
    A, B = game
    P = bimatrix(A, B)
    m = G.mixed_nash(A, B)
    assert m.degenerate == G.is_degenerate(A, B)
    for x, y in m.equilibria:
        assert G.is_equilibrium(P, [x, y], tol=1e-7)
    assert _pure_nash_found(P, m)
    if m.degenerate:
        assert any("degenerate" in w for w in m.warnings)
    else:
        assert m.rejected == 0


def _minimax_value(A: np.ndarray) -> float:
    """max_x min_j (x^T A)_j by linear programming: variables (x, v), maximise v."""
    m, n = A.shape
    res = linprog(
        np.r_[np.zeros(m), -1.0],
        A_ub=np.c_[-A.T, np.ones(n)],
        b_ub=np.zeros(n),
        A_eq=[[*np.ones(m), 0.0]],
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
        method="highs",
    )
    assert res.status == 0
    return -res.fun


@settings(max_examples=30, deadline=None)
@given(game=generic_games(zero_sum=True))
def test_property_zero_sum_value(game):
    # Nondegenerate zero-sum game: the equilibrium set is convex and finite, hence a single point,
    # and the row player's payoff there is the minimax value (von Neumann).
    A, B = game
    m = G.mixed_nash(A, B)
    assert not m.degenerate
    assert len(m.equilibria) == 1
    for x, y in m.equilibria:
        value = G.expected_payoffs(bimatrix(A, B), [x, y])
        assert value[0] == pytest.approx(_minimax_value(A), abs=1e-7)
        assert value[1] == pytest.approx(-value[0], abs=1e-12)


def _product(u, d) -> float:
    g = np.asarray(u) - np.asarray(d)
    return float(np.prod(g)) if (g > 0).all() else -np.inf


@settings(max_examples=50, deadline=None)
@given(game=integer_games(max_n=3), d=st.tuples(st.integers(-20, 20), st.integers(-20, 20)))
def test_property_bargaining(game, d):
    A, B = game
    P = bimatrix(A, B)
    d = np.array(d, float)
    pts = [P[p] for p in G.profiles(P)]
    # Brute force over the hull boundary candidates: a grid on every segment between pure points.
    grid = np.linspace(0, 1, 201)
    brute = max(_product(a + t * (b - a), d) for a, b in itertools.combinations(pts, 2) for t in grid)
    brute = max(brute, *(_product(a, d) for a in pts))
    b = G.nash_bargaining(P, d)
    if b is None:
        # No searched point improves on d for both players by more than the tolerance.
        assert brute <= 1e-6
        return
    assert np.all(b.payoffs > d)
    np.testing.assert_allclose(b.gains, b.payoffs - d)
    # Feasible: a lottery over pure profiles with these payoffs.
    weights = np.array([w for _, w in b.mix])
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1)
    np.testing.assert_allclose(sum(w * P[p] for p, w in b.mix), b.payoffs, atol=1e-9)
    # Optimal: at least as good as every grid point of every segment.
    assert _product(b.payoffs, d) >= brute - 1e-9 * max(1.0, abs(brute))
    # Pareto efficient: no pure profile (hence no grid point) weakly dominates it with one strict gain.
    for u in pts:
        assert not ((u >= b.payoffs - 1e-9).all() and (u > b.payoffs + 1e-7).any())


@settings(max_examples=50, deadline=None)
@given(game=integer_games(max_n=3), d=st.tuples(st.integers(-20, 20), st.integers(-20, 20)))
def test_property_bargaining_tu(game, d):
    A, B = game
    P = bimatrix(A, B)
    d = np.array(d, float)
    if max(P[p].sum() for p in G.profiles(P)) < d.sum():
        with pytest.raises(ValueError, match="not feasible"):
            G.nash_bargaining_tu(P, d)
        return
    tu = G.nash_bargaining_tu(P, d)
    ((prof, w),) = tu.mix
    assert w == 1.0
    joint = max(P[p].sum() for p in G.profiles(P))
    assert P[prof].sum() == joint
    assert tu.payoffs.sum() == pytest.approx(joint)
    assert tu.transfers.sum() == pytest.approx(0, abs=1e-9)
    np.testing.assert_allclose(tu.payoffs, P[prof] + tu.transfers)
    # Equal split of the gain over d.
    assert tu.gains[0] == pytest.approx(tu.gains[1])
    assert tu.gains[0] == pytest.approx((joint - d.sum()) / 2)
    # The TU feasible set {u1 + u2 <= joint} contains the hull, and the equal-gain point maximises
    # the Nash product on it: its product is at least that of the solution without transfers.
    b = G.nash_bargaining(P, d)
    if b is not None:
        assert _product(tu.payoffs, d) >= _product(b.payoffs, d) - 1e-9


# ---------------------------------------------------------------- degeneracy pre-filter


def test_inconsistent_equalities_are_told_from_consistent_ones():
    # x1 + x2 = 1, 3 x1 + x2 = v, x1 + 3 x2 = v: consistent (x = 1/2, v = 2) ...
    A = np.array([[3.0, 1.0, -1.0], [1.0, 3.0, -1.0], [1.0, 1.0, 0.0]])
    assert not G._inconsistent(A, np.array([0.0, 0.0, 1.0]), scale=3.0)
    # ... and with a third response 2 x1 + 5 x2 = v as well: 3.5 != 2, no solution
    A2 = np.vstack([A[:2], [[2.0, 5.0, -1.0]], A[2:]])
    assert G._inconsistent(A2, np.array([0.0, 0.0, 0.0, 1.0]), scale=5.0)
    # a tie within the tolerance is not skipped: the LP decides
    A3 = np.vstack([A[:2], [[2.0, 2.0 + 1e-9, -1.0]], A[2:]])
    assert not G._inconsistent(A3, np.array([0.0, 0.0, 0.0, 1.0]), scale=3.0)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 3),
    st.integers(2, 3),
    st.lists(st.integers(-3, 3), min_size=18, max_size=18),
)
def test_the_prefilter_never_changes_the_degeneracy_verdict(m, n, values):
    """Small integer payoffs tie often (degenerate games are common here): the verdict with
    the least-squares pre-filter is the verdict of the LPs alone."""
    A = np.array(values[: m * n], float).reshape(m, n)
    B = np.array(values[9 : 9 + m * n], float).reshape(m, n)
    with_filter = G.is_degenerate(A, B)
    real = G._inconsistent
    try:
        G._inconsistent = lambda *a: False
        without = G.is_degenerate(A, B)
    finally:
        G._inconsistent = real
    assert with_filter == without
