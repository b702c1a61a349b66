"""Element content of every traded good, in t of oxide equivalent (REO) per t of the good.

Export controls are written on elements ("dysprosium ... oxides, compounds, metals, alloys
and magnets containing it", MOFCOM/GAC Announcement 2025 No. 18) and quotas were counted in
t REO; a licence in the model therefore binds on the content of each element in every
listed form (:mod:`reesim.instruments.trade`). The content is read from the world's own
recipes, so it holds for any world file:

* ``oxide:E`` contains 1 t REO of E per t;
* a good made by a process from inputs (a metal from its oxide, a magnet from metals and
  its heavy-RE dose, a service made from metals)
  contains what its inputs contain per unit of output (``-coef_in / coef_out`` times the
  input's content; the first maker's recipe, all makers of a good sharing it);
* a good cracked into oxides (a concentrate, a mixed heavy-RE intermediate) contains the
  oxides its cracking yields per unit of input.

Units: REO equivalent, e.g. a metal of Dy carries 1.1477 t Dy2O3 per t (IUPAC atomic weights).
"""

from __future__ import annotations

import pandas as pd

from reesim.world.world import World

#: prefix of the commodities that are single-element oxides (the base of all content)
OXIDE = "oxide:"


def element_content(world: World) -> pd.DataFrame:
    """``commodity, element, reo_per_unit`` for every commodity with a rare-earth content.

    Parameters
    ----------
    world : World
        Any world whose oxides are named ``oxide:<element>``.

    Returns
    -------
    DataFrame
        One row per (commodity, element) with a positive content (t REO per t).
    """
    rows = [(c, el, v) for c, mix in content_map(world).items() for el, v in mix.items()]
    return pd.DataFrame(rows, columns=["commodity", "element", "reo_per_unit"])


def content_map(world: World) -> dict[str, dict[str, float]]:
    """:func:`element_content` as ``{commodity: {element: t REO per t}}`` (positive contents only,
    in the table's order), without the table: a licence's quota rows read it once a run."""
    content: dict[str, dict[str, float]] = {
        c: {c.removeprefix(OXIDE): 1.0} for c in world.commodities if c.startswith(OXIDE)
    }
    # Plain (commodity, coef) lists per process, in the io's order (pandas per group was ~0.6 s).
    procs: dict[str, list[tuple[str, float]]] = {}
    io = world.io
    for pid, c, coef in zip(
        io["process"].tolist(), io["commodity"].tolist(), io["coef"].tolist(), strict=True
    ):
        procs.setdefault(pid, []).append((c, float(coef)))
    recipes = list(procs.values())
    carriers = _carriers(recipes, set(content))
    # each recipe's carrier inputs and outputs, split once (the carriers are fixed from here)
    sides = []
    for g in recipes:
        ins = [(c, k) for c, k in g if k < 0 and c in carriers]
        outs = [(c, k) for c, k in g if k > 0 and c in carriers]
        if ins and outs:
            sides.append((ins, outs))
    # Repeat until no new good can be valued (chains are short: concentrate -> mix -> oxide -> metal -> magnet).
    for _ in range(len(world.commodities)):
        added = False
        for ins, outs in sides:
            known_in = all(c in content for c, _k in ins)
            known_out = all(c in content for c, _k in outs)
            if len(outs) == 1 and known_in and outs[0][0] not in content:
                good, per, parts = outs[0][0], outs[0][1], ins
            elif len(ins) == 1 and known_out and ins[0][0] not in content:
                good, per, parts = ins[0][0], -ins[0][1], outs
            else:
                continue
            mix: dict[str, float] = {}
            for c, coef in parts:
                for el, v in content[c].items():
                    mix[el] = mix.get(el, 0.0) + abs(coef) * v / per
            content[good] = mix
            added = True
        if not added:
            break
    out: dict[str, dict[str, float]] = {}
    for c, mix in content.items():
        for el, v in mix.items():
            if v > 0:
                out.setdefault(c, {})[el] = v
    return out


def _carriers(recipes: list[list[tuple[str, float]]], oxides: set[str]) -> set[str]:
    """The goods that can carry rare-earth content: reachable from the oxides through the recipes.

    Forward, a process with a carrier among its inputs makes carriers (a metal from an
    oxide, a magnet from metals, the heavy-RE dose from metals); backward, a process that
    yields carriers from exactly one input that is not a service cracks that input (a
    concentrate, a mixed heavy-RE intermediate). Every other good carries nothing and is left
    out of the content arithmetic: a service made from nothing (separation capacity) or from
    goods without content (a user's energy or labour), so that it never blocks the valuation
    of what is made with it.
    """
    carriers = set(oxides)
    split = []  # each recipe's inputs, outputs and only non-service input (None unless one), once
    for g in recipes:
        ins = [c for c, k in g if k < 0]
        goods = [c for c in ins if not c.startswith("service:")]
        split.append((ins, [c for c, k in g if k > 0], goods[0] if len(goods) == 1 else None))
    for _ in range(len(recipes) + 1):
        before = len(carriers)
        for ins, outs, good in split:
            if any(c in carriers for c in ins):
                carriers.update(outs)
            if good is not None and any(c in carriers for c in outs):
                carriers.add(good)
        if len(carriers) == before:
            break
    return carriers
