"""Variance-based global sensitivity: Sobol' indices from a Saltelli design.

A Saltelli design draws two independent ``N x d`` matrices ``A`` and ``B`` (the two halves of a
``2d``-dimensional scrambled Sobol' sequence) and, for each parameter ``i``, the matrix
``A_B^i``: ``A`` with column ``i`` taken from ``B``. The model runs on all ``N (d + 2)`` rows.
With ``f_A``, ``f_B`` and ``f_{AB,i}`` a figure's values and ``V`` the variance of ``f_A`` and
``f_B`` together, the estimators of Saltelli et al. (2010, Table 2, (b) and (f)) are

    first order   S_i  = mean(f_B (f_{AB,i} - f_A)) / V
    total order   ST_i = mean((f_A - f_{AB,i})^2) / (2 V)        (Jansen 1999)

``S_i`` is the share of the figure's variance that parameter ``i`` explains alone, ``ST_i``
the share it explains with all its interactions; ``ST_i`` near 0 means the parameter can be
fixed anywhere in its range. 95 % intervals come from a bootstrap over the ``N`` base rows
(seeded per figure). Estimates and intervals are reported as computed: with few base points
sampling error can put them below 0 or above 1. Where a member failed or lacks the figure, its base row is left out of that figure.

References
----------
Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M. & Tarantola, S. (2010).
Variance based sensitivity analysis of model output. Design and estimator for the total
sensitivity index. *Computer Physics Communications* 181(2), 259-270.
Jansen, M. J. W. (1999). Analysis of variance designs for model output. *Computer Physics
Communications* 117, 35-43.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

#: bootstrap resamples for the intervals
BOOTSTRAP = 200


def saltelli_blocks(u: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """The Saltelli rows from ``N x 2d`` unit points: (points ``N (d + 2) x d``, labels).

    Labels: ``block`` (``A``, ``B`` or ``AB``), ``base`` (the row of ``A``/``B`` it comes from)
    and ``swap`` (the parameter taken from ``B`` in an ``AB`` row, -1 otherwise). Rows are
    ordered ``A``, ``B``, then ``AB`` for parameter 0, 1, ...
    """
    n, two_d = u.shape
    d = two_d // 2
    a, b = u[:, :d], u[:, d:]
    blocks, labels = [a, b], [("A", j, -1) for j in range(n)] + [("B", j, -1) for j in range(n)]
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        blocks.append(ab)
        labels += [("AB", j, i) for j in range(n)]
    return np.vstack(blocks) if blocks else np.zeros((0, d)), pd.DataFrame(
        labels, columns=["block", "base", "swap"]
    )


def indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices (``d`` each) from ``f_A``, ``f_B`` (``N``) and ``f_AB`` (``N x d``).

    Given a leading axis of resamples (``f_A``, ``f_B`` of ``R x N``, ``f_AB`` of ``R x N x d``),
    the indices of each resample (``R x d``), each computed in the order of one resample alone
    (the same bits; ``tests/test_sobol.py`` compares both ways).
    """
    v = np.var(np.concatenate([f_a, f_b], axis=-1), axis=-1)
    s1 = np.mean(f_b[..., None] * (f_ab - f_a[..., None]), axis=-2)
    st = 0.5 * np.mean((f_a[..., None] - f_ab) ** 2, axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        s1, st = s1 / v[..., None], st / v[..., None]
    flat = ~(v > 0)  # no variance (or none to measure): no index
    s1[flat], st[flat] = np.nan, np.nan
    return s1, st


def _interval(boot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2.5 and 97.5 percentiles of each column over the resamples that gave a value (NaN if none)."""
    lo, hi = np.full(boot.shape[1], np.nan), np.full(boot.shape[1], np.nan)
    finite = np.isfinite(boot)
    whole = finite.all(axis=0)
    if whole.any():  # a column's percentiles do not depend on the others (same bits as one by one)
        lo[whole], hi[whole] = np.percentile(boot[:, whole], [2.5, 97.5], axis=0)
    for i in np.flatnonzero(~whole):
        col = boot[finite[:, i], i]
        if len(col):
            lo[i], hi[i] = np.percentile(col, [2.5, 97.5])
    return lo, hi


#: values of ``f_AB`` resampled at a time by :func:`_bootstrap` (32 MB a copy)
BOOTSTRAP_VALUES = 4_000_000


def _bootstrap(
    f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The indices of each resample ``k[r]`` of the base rows (``R x d`` each), a few resamples
    at a time: at most :data:`BOOTSTRAP_VALUES` resampled values of ``f_AB``, or one resample
    where one alone is more (200 resamples of 8,192 base points and 33 parameters would be 54
    million at once)."""
    n, d = f_ab.shape
    step = max(1, BOOTSTRAP_VALUES // max(1, n * d))
    parts = [
        indices(f_a[k[i : i + step]], f_b[k[i : i + step]], f_ab[k[i : i + step]])
        for i in range(0, len(k), step)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _grid(design: pd.DataFrame, d: int) -> np.ndarray:
    """Member of each base row's ``A``, ``B`` and ``AB`` rows (``bases x (d + 2)``), only the base
    rows whose members all succeeded, in the order of the bases."""
    ok = design[design["status"] == "ok"]
    bases = sorted(set(design["base"]))
    pos = {(r.block, int(r.base), int(r.swap)): int(r.member) for r in ok.itertuples(index=False)}
    grid = [
        [pos.get(("A", j, -1)), pos.get(("B", j, -1))] + [pos.get(("AB", j, i)) for i in range(d)]
        for j in bases
    ]
    return np.array([row for row in grid if None not in row], dtype=np.int64).reshape(-1, d + 2)


def sobol_table(design: pd.DataFrame, figures: pd.DataFrame, names: list[str], seed: int) -> pd.DataFrame:
    """Sobol' indices of every figure column for every parameter.

    A figure's base rows are those whose members all succeeded and have the figure (finite);
    fewer than four give no row. The members' values are gathered for every figure at once and
    the bootstrap's resamples computed together (:func:`indices`); the generator draws each
    resample's rows in turn, as it did when they were computed one by one.

    Parameters
    ----------
    design : the ran design with ``member, status, block, base, swap``.
    figures : members (index) x figures (columns, a MultiIndex of the figure's keys).
    names : the parameters, in the design's column order (``swap`` indexes them).
    seed : seeds the bootstrap.

    Returns
    -------
    DataFrame
        The figure's keys, ``parameter, s1, s1_low, s1_high, st, st_low, st_high, n_base``.
    """
    d = len(names)
    grid = _grid(design, d)
    at = figures.index.get_indexer(grid.ravel())  # -1: the member has no figures (NaN below)
    absent, at = at < 0, np.maximum(at, 0)
    values = figures.to_numpy(dtype=float)
    rows = []
    keys = list(figures.columns.names)
    for c, col in enumerate(figures.columns):
        m = values[at, c]
        m[absent] = np.nan
        m = m.reshape(grid.shape)
        m = m[np.isfinite(m).all(axis=1)]  # N x (d + 2), base rows with every value present
        if len(m) < 4:
            continue
        f_a, f_b, f_ab = m[:, 0], m[:, 1], m[:, 2:]
        s1, st = indices(f_a, f_b, f_ab)
        # one generator per figure, seeded by its key: its interval does not depend on the others
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(repr(col).encode())]))
        k = np.array([rng.integers(0, len(m), len(m)) for _ in range(BOOTSTRAP)])
        boot_s1, boot_st = _bootstrap(f_a, f_b, f_ab, k)
        lo1, hi1 = _interval(boot_s1)
        lot, hit = _interval(boot_st)
        key = col if isinstance(col, tuple) else (col,)
        for i, name in enumerate(names):
            rows.append((*key, name, s1[i], lo1[i], hi1[i], st[i], lot[i], hit[i], len(m)))
    cols = [*keys, "parameter", "s1", "s1_low", "s1_high", "st", "st_low", "st_high", "n_base"]
    return pd.DataFrame(rows, columns=cols)
