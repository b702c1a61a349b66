"""The analysis of a payoff tensor as plain data: equilibria, dominance, Pareto, bargaining, sensitivity.

Everything here is computed from the tensor by :mod:`reesim.game.analysis`; the plain-language
reading is generated from the same figures, never typed.
"""

from __future__ import annotations

import numpy as np

from reesim.game import analysis as A
from reesim.game.payoffs import PayoffTensor
from reesim.game.profiles import all_profiles


def _label(t: PayoffTensor, prof: tuple[int, ...]) -> dict[str, str]:
    return {p: t.strategies[i][s] for i, (p, s) in enumerate(zip(t.players, prof, strict=True))}


def _mixed_dict(t: PayoffTensor, sigma, P: np.ndarray) -> dict:
    value = A.expected_payoffs(P, list(sigma))
    return {
        "strategies": {
            p: {t.strategies[i][s]: float(x) for s, x in enumerate(sigma[i]) if x > 1e-9}
            for i, p in enumerate(t.players)
        },
        "payoffs_usd_million": dict(zip(t.players, map(float, value), strict=True)),
        "pure": all(float(np.max(s)) > 1 - 1e-9 for s in sigma),
        "max_regret_usd_million": float(A.regret(P, list(sigma)).max()),
    }


def equilibria(t: PayoffTensor, P: np.ndarray) -> dict:
    """Pure and (two players) mixed Nash equilibria of the payoff array ``P``, each verified."""
    pure = A.pure_nash(P)
    out = {
        "pure": [
            {
                "profile": _label(t, prof),
                "payoffs_usd_million": dict(zip(t.players, map(float, P[prof]), strict=True)),
                "verified": A.is_equilibrium(P, A.pure_to_mixed(P, prof)),
            }
            for prof in pure
        ]
    }
    if len(t.players) == 2:
        m = A.mixed_nash(P[..., 0], P[..., 1])
        out["all"] = [_mixed_dict(t, s, P) for s in m.equilibria]
        out["degenerate"] = m.degenerate
        out["rejected_candidates"] = m.rejected
        out["warnings"] = list(m.warnings)
    else:
        out["all"] = [_mixed_dict(t, A.pure_to_mixed(P, prof), P) for prof in pure]
        out["degenerate"] = None
        out["rejected_candidates"] = 0
        out["warnings"] = ["mixed equilibria are computed for two-player games only; pure equilibria listed"]
    return out


def _disagreement(eq: dict, players) -> tuple[np.ndarray, dict] | None:
    """The non-cooperative benchmark: the equilibrium with the highest joint payoff (the smallest value of cooperation)."""
    if not eq["all"]:
        return None
    best = max(eq["all"], key=lambda e: sum(e["payoffs_usd_million"].values()))
    return np.array([best["payoffs_usd_million"][p] for p in players]), best


def bargaining(t: PayoffTensor, P: np.ndarray, eq: dict) -> dict:
    """Nash bargaining without and with side payments, relative to the non-cooperative equilibrium."""
    dis = _disagreement(eq, t.players)
    if dis is None:
        return {"disagreement": None, "note": "no equilibrium found"}
    d, e = dis
    plain = A.nash_bargaining(P, d)
    tu = A.nash_bargaining_tu(P, d)

    def as_dict(b: A.Bargain | None) -> dict | None:
        if b is None:
            return None
        return {
            "payoffs_usd_million": dict(zip(t.players, map(float, b.payoffs), strict=True)),
            "value_of_cooperation_usd_million": dict(zip(t.players, map(float, b.gains), strict=True)),
            "agreement": [{"profile": _label(t, prof), "weight": float(w)} for prof, w in b.mix if w > 1e-9],
            "transfers_received_usd_million": dict(zip(t.players, map(float, b.transfers), strict=True)),
        }

    return {
        "disagreement": {
            "equilibrium": e["strategies"],
            "payoffs_usd_million": dict(zip(t.players, map(float, d), strict=True)),
        },
        "without_transfers": as_dict(plain),
        "without_transfers_note": None
        if plain is not None
        else "no agreement (lottery or alternation over profiles) makes every player better off than the equilibrium",
        "with_transfers": as_dict(tu),
        "joint_gain_usd_million": float(tu.payoffs.sum() - d.sum()),
    }


def dominance(t: PayoffTensor, P: np.ndarray) -> dict:
    """Dominated strategies and what survives iterated elimination of strictly dominated strategies."""
    return {
        "dominated": [
            {
                "player": t.players[d.player],
                "strategy": t.strategies[d.player][d.strategy],
                "dominated_by": t.strategies[d.player][d.by],
                "strict": d.strict,
            }
            for d in A.dominated(P)
        ],
        "surviving_iterated_strict": {
            p: [t.strategies[i][s] for s in keep]
            for i, (p, keep) in enumerate(zip(t.players, A.iterated_elimination(P), strict=True))
        },
    }


def breakpoints(t: PayoffTensor, term: tuple[str, str], upper: float) -> list[float]:
    """Weights in (0, upper] at which the owner of ``term`` becomes indifferent between two strategies.

    Payoffs are linear in the weight, so the pure equilibria can change only at these weights:
    ``w = -(W_s - W_s') / (D_s - D_s')`` for profiles ``s, s'`` that differ in the owner's strategy only.
    """
    i = t.players.index(term[0])
    W = np.moveaxis(t.payoffs({term: 0.0})[..., i], i, 0)
    D = np.moveaxis(t.terms[term], i, 0)
    out = set()
    for a in range(W.shape[0]):
        for b in range(a + 1, W.shape[0]):
            dd = D[a] - D[b]
            dw = W[a] - W[b]
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(np.abs(dd) > 1e-12, -dw / dd, np.nan)
            out.update(float(x) for x in np.ravel(w) if np.isfinite(x) and 0 < x <= upper)
    return sorted(out)


def sensitivity(t: PayoffTensor) -> list[dict]:
    """Equilibria at each declared sensitivity weight, and the exact weights where pure equilibria change."""
    rows = []
    for pl in t.game.players:
        for term in pl.terms:
            key = (pl.name, term.label)
            for w in term.sensitivity:
                P = t.payoffs({key: w})
                eq = equilibria(t, P)
                rows.append(
                    {
                        "player": pl.name,
                        "term": term.label,
                        "weight_usd_million_per_pp": w,
                        "pure": [e["profile"] for e in eq["pure"]],
                        "equilibria": len(eq["all"]),
                        "mixed": [e["strategies"] for e in eq["all"] if not e["pure"]],
                    }
                )
            upper = max([*term.sensitivity, term.weight_usd_million_per_pp, 0.0])
            if min([*term.sensitivity, 0.0]) < 0:
                rows.append(
                    {
                        "player": pl.name,
                        "term": term.label,
                        "note": "switch points are searched for positive weights only; negative weights are "
                        "evaluated at the listed values",
                    }
                )
            if upper > 0:
                prev = _pure_labels(t, t.payoffs({key: 0.0}))
                points = breakpoints(t, key, upper)
                for k, w in enumerate(points):
                    nxt = points[k + 1] if k + 1 < len(points) else max(upper, 2 * w)
                    after = _pure_labels(t, t.payoffs({key: 0.5 * (w + nxt)}))
                    if after != prev:
                        rows.append(
                            {
                                "player": pl.name,
                                "term": term.label,
                                "switch_at_usd_million_per_pp": w,
                                "pure_before": prev,
                                "pure_after": after,
                            }
                        )
                        prev = after
    return rows


def _pure_labels(t: PayoffTensor, P: np.ndarray) -> list[dict[str, str]]:
    return [_label(t, prof) for prof in A.pure_nash(P)]


def pareto(t: PayoffTensor, P: np.ndarray) -> list[dict]:
    """Pareto-efficient pure profiles with their payoffs."""
    return [
        {
            "profile": _label(t, prof),
            "payoffs_usd_million": dict(zip(t.players, map(float, P[prof]), strict=True)),
        }
        for prof in A.pareto_efficient(P)
    ]


def _outcome_of(t: PayoffTensor, P: np.ndarray, profs: list[tuple[int, ...]]) -> dict | None:
    """Payoffs and the rest of the world's welfare at the first of ``profs`` with the largest joint payoff."""
    if not profs:
        return None
    prof = max(profs, key=lambda p: float(P[p].sum()))
    o = t.outcomes[all_profiles(t.game).index(prof)]
    own = {r for pl in t.game.players for r in pl.regions}
    return {
        "profile": _label(t, prof),
        "payoffs_usd_million": dict(zip(t.players, map(float, P[prof]), strict=True)),
        "rest_of_world_usd_million": float(
            sum(v for r, v in o["welfare_pv_usd_million"].items() if r not in own)
        ),
        "world_usd_million": float(sum(o["welfare_pv_usd_million"].values())),
    }


def analyse(t: PayoffTensor) -> dict:
    """The full analysis at the declared weights, as JSON-ready data."""
    P = t.payoffs()
    eq = equilibria(t, P)
    coop = tuple(pl.index(pl.cooperative) for pl in t.game.players)
    coop_out = _outcome_of(t, P, [coop])
    esc = tuple(pl.index(pl.escalation) for pl in t.game.players)
    return {
        "game": t.game.name,
        "base": t.game.base,
        "players": list(t.players),
        "strategies": {p: list(s) for p, s in zip(t.players, t.strategies, strict=True)},
        "discount_rate": t.game.discount_rate,
        "horizon": t.game.horizon.model_dump() if t.game.horizon else None,
        "weights": {f"{p}:{label}": w for (p, label), w in t.weights.items()},
        "equilibria": eq,
        "dominance": dominance(t, P),
        "pareto_efficient": pareto(t, P),
        "bargaining": bargaining(t, P, eq),
        "cooperation": coop_out,
        "escalation": {
            "profile": _label(t, esc),
            "payoffs_usd_million": dict(zip(t.players, map(float, P[esc]), strict=True)),
        },
        "sensitivity": sensitivity(t),
        "payoff_scale_usd_million": float(np.abs(P).max()),
        "equilibrium_outcome": _outcome_of(t, P, A.pure_nash(P)),
        "assumptions": [
            {
                "player": pl.name,
                "term": term.label,
                "weight_usd_million_per_pp": term.weight_usd_million_per_pp,
                "basis": term.basis,
            }
            for pl in t.game.players
            for term in pl.terms
        ],
        "profiles": len(all_profiles(t.game)),
    }


def _money(v: float) -> str:
    return f"{v / 1000:+,.1f} bn USD" if abs(v) >= 1000 else f"{v:+,.0f} million USD"


def reading(a: dict) -> str:
    """One paragraph in plain language, generated from the analysis."""
    players = a["players"]
    eq = a["equilibria"]
    parts = []
    rate = 100 * a["discount_rate"]
    if eq["pure"]:
        e = max(eq["pure"], key=lambda e: sum(e["payoffs_usd_million"].values()))
        prof = ", ".join(f"{p} plays '{s}'" for p, s in e["profile"].items())
        pays = "; ".join(f"{p} {_money(v)}" for p, v in e["payoffs_usd_million"].items())
        more = f" (one of {len(eq['pure'])} pure equilibria)" if len(eq["pure"]) > 1 else ""
        parts.append(
            f"Acting alone, the stable outcome{more} is that {prof}: no government can do better by "
            f"changing its own measures. Against the base scenario ({a['base']}), welfare changes by {pays} "
            f"(present value at {rate:.0f} %/yr)."
        )
    elif eq["all"]:
        parts.append(
            "No combination of single strategies is stable: each government would randomise "
            f"({len(eq['all'])} mixed equilibrium/a found)."
        )
    dom: dict[tuple[str, str], list[str]] = {}
    for d in a["dominance"]["dominated"]:
        if d["strict"]:
            dom.setdefault((d["player"], d["strategy"]), []).append(f"'{d['dominated_by']}'")
    if dom:
        parts.append(
            "Never worth choosing, whatever the other side does: "
            + "; ".join(f"{p} '{s}' (worse than {' or '.join(by)})" for (p, s), by in dom.items())
            + "."
        )
    co = a["cooperation"]
    e0 = a.get("equilibrium_outcome")
    if e0 is not None and e0["profile"] != co["profile"]:
        gains = {p: co["payoffs_usd_million"][p] - e0["payoffs_usd_million"][p] for p in players}
        text = (
            "Moving from the equilibrium to mutual restraint ("
            + ", ".join(f"{p} '{s}'" for p, s in co["profile"].items())
            + ") would change welfare by "
            + "; ".join(f"{p} {_money(v)}" for p, v in gains.items())
        )
        row = co["rest_of_world_usd_million"] - e0["rest_of_world_usd_million"]
        text += f"; the rest of the world {_money(row)}."
        losers = [p for p, v in gains.items() if v < 0]
        winners = [p for p, v in gains.items() if v > 0]
        if losers and winners:
            need = -sum(gains[p] for p in losers)
            have = sum(gains[p] for p in winners)
            text += (
                f" {' and '.join(winners)} would have to compensate {' and '.join(losers)} with at least "
                f"{_money(need).lstrip('+-')}, {'more' if need > have else 'less'} than {'it gains' if len(winners) == 1 else 'they gain'} "
                f"({_money(have).lstrip('+')})"
                + (
                    ": restraint cannot be bought among the players alone."
                    if need > have
                    else ": a deal with side payments is possible."
                )
            )
        parts.append(text)
    b = a["bargaining"]
    if b.get("disagreement"):
        nt = b["without_transfers"]
        if nt is None:
            parts.append(
                "No agreement without side payments leaves every government better off than the equilibrium"
                + (
                    f"; with side payments they could share a joint gain of {_money(b['joint_gain_usd_million'])}"
                    if b["joint_gain_usd_million"] > 1e-3 * a["payoff_scale_usd_million"]
                    else f": the equilibrium is within {_money(b['joint_gain_usd_million']).lstrip('+')} of their largest joint "
                    "welfare, so cooperation is worth almost nothing to them jointly"
                )
                + "."
            )
        else:
            vals = "; ".join(f"{p} {_money(v)}" for p, v in nt["value_of_cooperation_usd_million"].items())
            parts.append(f"The Nash bargaining agreement is worth {vals} over the equilibrium.")
        if b["with_transfers"] and b["joint_gain_usd_million"] > 1e-3 * a["payoff_scale_usd_million"]:
            tr = b["with_transfers"]
            pay = "; ".join(
                f"{p} {'receives' if v >= 0 else 'pays'} {_money(abs(v)).lstrip('+')}"
                for p, v in tr["transfers_received_usd_million"].items()
            )
            prof = ", ".join(f"{p} '{s}'" for p, s in tr["agreement"][0]["profile"].items())
            parts.append(f"The joint optimum is {prof} with transfers ({pay}).")
    switches = [r for r in a["sensitivity"] if "switch_at_usd_million_per_pp" in r]
    for r in switches[:3]:
        after = (
            "; ".join(", ".join(f"{p} '{s}'" for p, s in e.items()) for e in r["pure_after"])
            or "no pure equilibrium"
        )
        parts.append(
            f"If {r['player']} valued '{r['term']}' at more than {r['switch_at_usd_million_per_pp']:,.1f} million USD "
            f"per percentage point, the equilibrium would become: {after}."
        )
    terms = [r for r in a["sensitivity"] if "weight_usd_million_per_pp" in r]
    if terms and not switches:
        top = max(r["weight_usd_million_per_pp"] for r in terms)
        names = sorted({f"{r['player']} '{r['term']}'" for r in terms})
        parts.append(
            f"Valuing {' or '.join(names)} at up to {top:,.0f} million USD per percentage point does not change the equilibria."
        )
    return " ".join(parts)
