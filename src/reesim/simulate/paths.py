"""Exogenous capacity paths: a region's mining capacity by year from its output in the data."""

from __future__ import annotations

from reesim.world.world import World


def mining_paths(world: World, region: str, totals: dict[int, float]) -> dict[str, dict[int, float]]:
    """``region``'s mining capacity by year (kt/yr) from its yearly ``totals``.

    Each total is split over the region's mines in the proportions of the start world's
    capacities; a cash-cost curve's expansion tranche (``...:expansion``) gets none, the totals
    being the output (used by ``reesim calibrate`` and the backtests' China quota).
    """
    p = world.processes
    mines = p[(p["region"] == region) & (p["kind"] == "mining")]
    expansion = mines["process"].str.endswith(":expansion")
    paths = {pid: dict.fromkeys(totals, 0.0) for pid in mines.loc[expansion, "process"]}
    mines = mines[~expansion]
    shares = mines["capacity"].astype(float) / mines["capacity"].astype(float).sum()
    paths |= {
        pid: {y: t * float(s) for y, t in totals.items()}
        for pid, s in zip(mines["process"], shares, strict=True)
    }
    return paths
