"""The ensemble's design: one row of parameter values per member, drawn from one seed.

The unit hypercube is sampled by Latin hypercube (McKay, Beckman & Conover 1979), scrambled
Sobol' sequence (Sobol' 1967; Owen 1998 scrambling) or plain random draws, all from
:mod:`scipy.stats.qmc` and seeded from one :class:`numpy.random.SeedSequence`; each point is
mapped to the parameters' distributions by their quantile functions
(:meth:`reesim.ensemble.space.Distribution.ppf`). The design depends only on the space, ``n``,
the method and the seed, so member ``k`` re-run alone gets exactly the same inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import qmc

from reesim.ensemble.space import Parameter
from reesim.errors import InputError

METHODS = ("lhs", "sobol", "random", "saltelli")
#: methods whose ``n`` counts base points rather than members (:func:`design_size`)
BASE_POINT_METHODS = ("saltelli",)

#: keep unit draws off 0 and 1, where unbounded quantile functions are infinite
_EDGE = 1e-12


def unit_sample(d: int, n: int, method: str, seed: int) -> np.ndarray:
    """``n x d`` points in (0, 1) by ``method`` (lhs, sobol, random), reproducible from ``seed``.

    ``saltelli`` draws its ``A`` and ``B`` matrices from one ``2d``-dimensional Sobol' sequence
    (:func:`make_design`); here it is the Sobol' sequence itself."""
    if method not in METHODS:
        raise InputError(f"--sample: {method!r} is not a sampling method; allowed: {', '.join(METHODS)}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    if d == 0:
        return np.zeros((n, 0))
    if method == "lhs":
        u = qmc.LatinHypercube(d, seed=rng).random(n)
    elif method in ("sobol", "saltelli"):
        u = qmc.Sobol(d, scramble=True, seed=rng).random(n)
    else:
        u = rng.random((n, d))
    return np.clip(u, _EDGE, 1 - _EDGE)


def member_seeds(seed: int, n: int) -> np.ndarray:
    """One independent seed per member (``SeedSequence(seed).spawn``), stored with its results."""
    children = np.random.SeedSequence(seed).spawn(n)
    return np.array([int(c.generate_state(1, dtype=np.uint32)[0]) for c in children], dtype=np.int64)


def design_size(n: int, method: str, d: int) -> int:
    """Members of a design of ``n`` by ``method`` over ``d`` parameters (Saltelli: ``n (d + 2)``)."""
    return n * (d + 2) if method in BASE_POINT_METHODS else n


def make_design(space: dict[str, Parameter], n: int, method: str, seed: int) -> pd.DataFrame:
    """``member, seed`` and one column per varied parameter (sorted by name).

    ``n`` rows, or for ``saltelli`` ``n (d + 2)`` rows from ``n`` base points with the labels
    ``block, base, swap`` that :mod:`reesim.ensemble.sobol` reads (the Sobol' indices).
    """
    if n < 1:
        raise InputError(f"-n: {n} members; allowed: 1 or more")
    if method == "saltelli" and n < 4:
        raise InputError(
            f"-n: {n} base points; allowed with saltelli: 4 or more (64 or more for usable indices)"
        )
    names = sorted(space)
    labels = None
    if method == "saltelli":
        from reesim.ensemble.sobol import saltelli_blocks

        u, labels = saltelli_blocks(unit_sample(2 * len(names), n, method, seed))
    else:
        u = unit_sample(len(names), n, method, seed)
    rows = len(u)
    cols = {name: space[name].dist.ppf(u[:, j]) for j, name in enumerate(names)}
    out = pd.DataFrame({"member": np.arange(rows, dtype=np.int64), "seed": member_seeds(seed, rows)})
    if labels is not None:
        out = pd.concat([out, labels], axis=1)
    return pd.concat([out, pd.DataFrame(cols)], axis=1)
