"""Run an ensemble: members in parallel on Dask, each streamed to disk, then bands from DuckDB.

Layout of the output folder (written atomically: complete or absent, :mod:`reesim.atomic`):

* ``design.parquet`` — one row per member: ``member, seed, status`` (ok/failed), ``error``,
  ``runtime`` (the short id, in ``summary.json``'s ``member_runtimes``, of the interpreter,
  libraries and CPU builds that ran it: another build gives figures that differ in the last digits, not the
  same bits; empty when its pool task was lost) and the member's parameter values;
* ``members/member-<k>.parquet`` — member ``k``'s figures (:mod:`reesim.ensemble.member`),
  written as soon as its pool task finishes, so the client never holds more than one task's
  members (:data:`CHUNK`);
* ``bands.parquet`` — per ``metric, item, where, year``: ``n``, ``mean`` and the quantiles
  ``p5, p25, p50, p75, p95`` over the members that succeeded (DuckDB ``quantile_cont``,
  linear interpolation);
* ``exceedance.parquet`` — for every price ratio: the share of members above 1.5, 2 and 3;
* ``sensitivity.parquet`` — per price ratio, Dy per magnet and world welfare figure and per
  varied parameter: Spearman's rank correlation over the members (a sampling-based
  screening of which assumption drives the figure; Saltelli et al. 2004, *Sensitivity
  Analysis in Practice*, §5.2; reliable with a Latin hypercube of a few dozen members or
  more, and blind to effects that are not monotonic);
* ``sobol.parquet`` — with ``--sample saltelli`` only: per screened figure and parameter, the
  Sobol' first-order and total indices with bootstrap 95 % intervals
  (:mod:`reesim.ensemble.sobol`; Saltelli et al. 2010);
* ``space.json`` and ``summary.json`` — the distributions, the seed, the method, counts.

Parallelism uses the shared Dask pool (:func:`reesim.pool.dask_pool`): a
:class:`distributed.LocalCluster` of ``workers`` single-threaded processes by default, or the
scheduler at ``scheduler`` (``tls://host:8786``) of a cluster started with ``dask scheduler``
and ``dask worker``. Workers persist for the whole ensemble, so imports, the dataset and the
solver's set-up are paid once per worker.
"""

from __future__ import annotations

import glob
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reesim.cache import runtime_id
from reesim.ensemble.design import make_design
from reesim.ensemble.member import counterfactual_of, run_member, run_members
from reesim.ensemble.space import Parameter
from reesim.errors import ReesimError
from reesim.scenario.spec import Scenario

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
THRESHOLDS = (1.5, 2.0, 3.0)


@dataclass(frozen=True)
class EnsembleSummary:
    """What an ensemble run did: counts and where its tables are."""

    members: int
    ok: int
    failed: int
    folder: Path
    method: str
    seed: int
    #: the short ids of the runtimes that ran members (design.parquet's ``runtime`` column)
    runtimes: tuple[str, ...] = ()


def _tasks(design: pd.DataFrame, names: list[str], only: Iterable[int] | None):
    rows = design if only is None else design[design["member"].isin(list(only))]
    for d in rows.to_dict("records"):  # names with dots are not valid tuple fields
        yield int(d["member"]), int(d["seed"]), {k: float(d[k]) for k in names}


def _results(scenario, against, tasks, workers: int, scheduler: str | None):
    """Yield member results as they finish: in process, on a LocalCluster or on a scheduler.

    The counterfactual is read once, here: every member compares with the same scenario (a file
    changed during a run is not read again half-way), and no member parses it (about 2 ms each).
    On a pool, a task runs a few members (:func:`chunk_size`): the client, scheduler and worker
    event loops' cost of a task (about 8 ms of the client's CPU a member on one-member tasks,
    on two cores whose workers need all of it) is paid once per chunk. A member that fails is
    recorded by :func:`~reesim.ensemble.member.run_member` and leaves the others of its task
    be; a task whose worker is lost records each of its members as failed, and so does a task
    on a worker that runs another reesim (:func:`reesim.pool.on_worker`) or one that waited while
    every worker of the cluster ran another (:func:`reesim.pool.watch`).

    Each result is ``(member, seed, table, error, runtime)``: ``runtime`` is the
    :func:`reesim.cache.runtime` of the process that ran the member (None if its task was lost).
    """
    from reesim.cache import runtime

    tasks = list(tasks)
    base = counterfactual_of(scenario, against)
    if scheduler is None and workers <= 1:
        here = runtime()
        for member, seed, values in tasks:
            yield (*run_member(scenario, base, member, seed, values), here)
        return
    from distributed import as_completed

    from reesim.pool import dask_pool, no_match, submit, watch
    from reesim.relay import reissue

    with dask_pool(workers, scheduler) as client:
        # the pool's threads as counted now (a scheduler's workers may join later)
        size = chunk_size(len(tasks), sum(client.nthreads().values()) or workers)
        chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
        # Each task carries the scenario and counterfactual (7 kB pickled, 0.07 ms), so that it
        # depends on nothing a worker holds: scattered to the workers, they were lost when every
        # worker that held them left, and with them the members still to run; shared as one
        # task's result (reesim.pool.share), every task would first be placed on its holder.
        futures = {  # unique keys; only on workers that run this reesim (reesim.pool.submit)
            submit(client, run_members, scenario, base, chunk, pure=False): chunk for chunk in chunks
        }
        with watch(client, lambda: list(futures)):  # none waits for ever on workers of another reesim
            for fut in as_completed(futures):
                try:
                    results, caught, ran_with = fut.result()
                    reissue(caught)  # the workers' warnings, printed and counted by this process
                    for r in results:
                        yield (*r, ran_with)
                except Exception as exc:  # a lost worker (KilledWorker): its chunk's members failed
                    yield from ((*r, None) for r in lost(futures[fut], no_match(exc) or exc))
                fut.release()


def lost(chunk: list[tuple[int, int, dict[str, float]]], exc: BaseException) -> list:
    """Each member of a pool task that did not come back, as failed with the task's error."""
    return [(member, seed, None, f"{type(exc).__name__}: {exc}") for member, seed, _values in chunk]


#: members per pool task at most (see :func:`chunk_size`)
CHUNK = 8


def chunk_size(members: int, workers: int) -> int:
    """Members per pool task: up to :data:`CHUNK`, and fewer where that leaves a worker fewer
    than four tasks, so that the workers finish together (a task of eight is about 2 s of one
    worker); one member a task below four per worker. ``workers`` counts the pool's threads."""
    return max(1, min(CHUNK, members // (4 * max(1, workers))))


def run_ensemble(
    scenario: Scenario,
    space: dict[str, Parameter],
    n: int,
    out_dir: Path,
    *,
    method: str = "lhs",
    seed: int | None = None,
    against: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    only: Iterable[int] | None = None,
    progress: Callable[[int, str | None], None] | None = None,
) -> EnsembleSummary:
    """Run ``n`` members of ``scenario`` over ``space`` into ``out_dir`` (module docstring).

    ``only`` runs a subset of the members of the same design (member ``k`` alone gets the same
    inputs and figures as in the full run). ``progress(member, error)`` is called per member.
    """
    from reesim.atomic import atomic_folder

    seed = scenario.seed if seed is None else seed
    names = sorted(space)
    design = make_design(space, n, method, seed)
    status: dict[int, str | None] = {}
    ran_with: dict[int, str] = {}  # member -> the short id of the runtime that ran it
    runtimes: dict[str, list[str]] = {}  # short id -> runtime
    with atomic_folder(out_dir) as tmp:
        (tmp / "members").mkdir()
        for member, _seed, table, error, rt in _results(
            scenario, against, _tasks(design, names, only), workers, scheduler
        ):
            status[member] = error
            if rt is not None:
                ran_with[member] = runtime_id(rt)
                runtimes.setdefault(ran_with[member], list(rt))
            if table is not None:
                table.to_parquet(tmp / "members" / f"member-{member:06d}.parquet", index=False)
            if progress:
                progress(member, error)
        ran = design[design["member"].isin(list(status))].copy()
        ran["status"] = ran["member"].map(lambda m: "failed" if status[m] else "ok")
        ran["error"] = ran["member"].map(lambda m: status[m] or "")
        ran["runtime"] = ran["member"].map(lambda m: ran_with.get(m, ""))
        labels = [c for c in ("block", "base", "swap") if c in design.columns]
        ran = ran[["member", "seed", "status", "error", "runtime", *labels, *names]].sort_values("member")
        ran.to_parquet(tmp / "design.parquet", index=False)
        ok = int((ran["status"] == "ok").sum())
        if ok:
            _bands(tmp)
            sample = ran[ran["status"] == "ok"]
            if labels:  # Spearman on the independent rows (A and B) of a Saltelli design
                sample = sample[sample["block"].isin(["A", "B"])]
            _sensitivity(tmp, sample, names)
            if labels:
                _sobol(tmp, ran, names, seed)
        (tmp / "space.json").write_text(json.dumps(_space_document(space), indent=2))
        run = {"method": method, "seed": seed, "members_in_design": len(design)}
        run |= {
            "base_points": n if labels else None,
            "members_run": len(ran),
            "ok": ok,
            "failed": len(ran) - ok,
        }
        summary = _summary_document(scenario, against, run, scheduler, runtimes)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    return EnsembleSummary(len(ran), ok, len(ran) - ok, Path(out_dir), method, seed, tuple(runtimes))


def _space_document(space: dict[str, Parameter]) -> dict:
    """``space.json``: each parameter's distribution, its value without the ensemble and its basis."""
    return {
        p.name: {"distribution": p.dist.text(), "value_without_ensemble": p.value, "basis": p.basis}
        for p in space.values()
    }


#: the units of the figures of ``bands.parquet`` and the member files, by metric
UNITS = {
    "price_usd_per_kg": "USD/kg",
    "price_ratio": "scenario / counterfactual",
    "welfare_change_usd_million_per_year": "million USD per year",
    "welfare_pv_usd_million": "million USD, present value at 3 %/yr",
    "dy_kg_per_t_magnet": "kg Dy metal per t of magnet",
    "product_cost_change_usd_low": "USD per product unit",
}


def _summary_document(
    scenario: Scenario, against: str | None, run: dict, scheduler: str | None, runtimes: dict[str, list[str]]
) -> dict:
    """``summary.json``: the scenario and counterfactual, ``run`` (method, seed, counts), what made the
    figures (this process's :func:`reesim.cache.identity`; a scheduler's workers ran the members
    with their own runtimes, ``member_runtimes``, by ``design.parquet``'s ``runtime`` ids) and the units."""
    from reesim.cache import identity
    from reesim.scenario.load import scenario_hash

    return {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "counterfactual": against or scenario.counterfactual or "baseline",
        **run,
        "quantiles": list(QUANTILES),
        **identity(),
        "members_ran_on": "this machine" if scheduler is None else f"the workers of {scheduler}",
        "member_runtimes": runtimes,
        "units": UNITS,
    }


def exceed_column(threshold: float) -> str:
    """Column of the share of members whose price ratio exceeds ``threshold`` (``p_above_1_5``)."""
    return "p_above_" + f"{threshold:g}".replace(".", "_")


def member_files(folder: Path) -> list[str]:
    """The member files of an ensemble folder, in name order (the order DuckDB's own glob gave,
    so the bands' sums run in the same order)."""
    return sorted(f.as_posix() for f in (folder / "members").glob("*.parquet"))


def for_duckdb(files: list[str]) -> list[str]:
    """``files`` as DuckDB must be given them: each escaped (:func:`glob.escape`).

    DuckDB reads every path it is given as a pattern, and the path itself only where the pattern
    matches nothing. A ``[``, ``*`` or ``?`` in the user's ``--out`` made the pattern
    ``members/*.parquet`` built from it match no file (the ensemble failed at its summary after
    every member had run) or another folder's files (``e[1]`` read ``e1``'s), and ``**`` walked
    the disk. Escaped, each path matches only itself.
    """
    return [glob.escape(f) for f in files]


def _bands(folder: Path) -> None:
    """Quantile bands and exceedance shares over the member files (DuckDB, out of core).

    The five quantiles are one aggregate (``quantile_cont`` of a list), which keeps one copy of
    each figure's values: five aggregates kept five (10,000 members: 1.5 GB, now 0.5 GB, and
    11 -> 5.5 s), the same bits.
    """
    import duckdb

    src = for_duckdb(member_files(folder))
    levels = ", ".join(f"{x}" for x in QUANTILES)
    # One thread: DuckDB's threads add a figure's values in whatever order they finish, so the
    # means of the same member files differed in the last bits from one run to the next (up to
    # 2e-14 relative); read in file order by one thread, a re-run gives the same bands bit for bit.
    con = duckdb.connect(config={"threads": 1})

    def bands_of(only: str = "", *params: object) -> pd.DataFrame:
        return con.execute(
            f"""SELECT metric, item, "where", year, count(value) AS n, avg(value) AS mean,
            quantile_cont(value, [{levels}]) AS q
            FROM read_parquet(?) WHERE value IS NOT NULL AND isfinite(value) {only}
            GROUP BY ALL ORDER BY ALL""",
            [src, *params],
        ).df()

    try:
        if _values(folder) <= BATCH_VALUES:
            bands = bands_of()
        else:  # a metric at a time, in the order of the single query (metric is its first key)
            metrics = con.execute(
                "SELECT DISTINCT metric FROM read_parquet(?) ORDER BY ALL", [src]
            ).fetchall()
            bands = pd.concat(
                [bands_of("AND metric IS NOT DISTINCT FROM ?", m) for (m,) in metrics], ignore_index=True
            )
        ex = ", ".join(
            f"avg(CASE WHEN value > {t} THEN 1.0 ELSE 0.0 END) AS {exceed_column(t)}" for t in THRESHOLDS
        )
        exceed = con.execute(
            f"""SELECT item, "where", year, count(value) AS n, {ex}
            FROM read_parquet(?) WHERE metric = 'price_ratio' AND value IS NOT NULL
            GROUP BY ALL ORDER BY ALL""",
            [src],
        ).df()
    finally:
        con.close()
    q = np.array(bands.pop("q").tolist(), dtype=float).reshape(len(bands), len(QUANTILES))
    for k, x in enumerate(QUANTILES):
        bands[f"p{round(100 * x)}"] = q[:, k]
    bands.to_parquet(folder / "bands.parquet", index=False)
    exceed.to_parquet(folder / "exceedance.parquet", index=False)


#: values (members x rows of a member's file) above which :func:`_bands` reads a metric at a
#: time: DuckDB's exact quantiles keep every value of the figures they compute (about 20 bytes a
#: value: 0.5 GB for the 26 million of 10,000 members of the flagship) and do not spill to disk.
#: A metric at a time holds at most a fifth of them (product costs) for one more read of the
#: files per metric (about 1 s per 10,000 members each); the bands are the same bits.
BATCH_VALUES = 50_000_000


def _values(folder: Path) -> int:
    """The values of the member files, as members x the rows of the first one (its metadata)."""
    import pyarrow.parquet as pq

    files = member_files(folder)
    return len(files) * pq.ParquetFile(files[0]).metadata.num_rows if files else 0


#: figures screened for sensitivity (metric -> where, or None for every market/region)
SCREENED = {"price_ratio": None, "dy_kg_per_t_magnet": None, "welfare_pv_usd_million": ("world",)}


#: member files read per query by :func:`_screened`: its memory is the members x figures table
#: plus one batch's rows (about 2 million values, 50 MB, for the flagship)
SCREEN_FILES = 5_000


def _screened(folder: Path) -> pd.DataFrame:
    """Members (index) x screened figures (columns: metric, item, where, year), read with DuckDB.

    DuckDB reads the figures' keys once, then :data:`SCREEN_FILES` member files at a time, each
    value as ``(member, figure number, value)``; each batch fills its members' rows. One query
    over all the files held every value three times over and sorted them (100,000 members of the
    flagship: 4.4 GB and 127 s); a batch at a time holds the batches' tables (8 bytes a member
    and figure: 0.35 GB at 100,000 members, and 1 byte for which cells each set), the table
    stacked from them and one query's rows: 1.2 GB and 90 s in all (``benchmarks/summary.py``),
    with the same values. A member with two values of one figure is refused (its files are not one run's),
    within a batch or across batches.
    """
    import duckdb

    files = for_duckdb(member_files(folder))
    con = duckdb.connect()
    try:
        figs = con.execute(
            """SELECT DISTINCT metric, item, "where", year FROM read_parquet(?)
            WHERE metric IN ('price_ratio', 'dy_kg_per_t_magnet')
               OR (metric = 'welfare_pv_usd_million' AND "where" = 'world')
            ORDER BY ALL""",
            [files],
        ).df()
        con.register("figs", figs.assign(fig=np.arange(len(figs))))
        blocks = [
            _screened_block(
                con.execute(
                    """SELECT m.member, f.fig, m.value FROM read_parquet(?) AS m JOIN figs AS f
                    ON m.metric IS NOT DISTINCT FROM f.metric AND m.item IS NOT DISTINCT FROM f.item
                       AND m."where" IS NOT DISTINCT FROM f."where"
                       AND m.year IS NOT DISTINCT FROM f.year""",
                    [files[i : i + SCREEN_FILES]],
                ).fetchnumpy(),
                len(figs),
                folder,
            )
            for i in range(0, len(files), SCREEN_FILES)
        ]
    finally:
        con.close()
    members, wide = _merged(blocks, len(figs), folder)
    return pd.DataFrame(
        wide,
        index=pd.Index(members, name="member"),
        columns=pd.MultiIndex.from_frame(figs[SCREEN_KEYS]),
        copy=False,
    )


def _screened_block(got: dict, figures: int, folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batch's ``(members, values, seen)``: its members sorted, their rows of the table (NaN
    where absent or NULL) and which cells it set."""
    fig = np.asarray(got["fig"], dtype=np.int64)
    value = np.ma.filled(np.ma.asarray(got["value"], dtype=float), np.nan)  # NULL -> NaN
    members, row = np.unique(np.asarray(got["member"], dtype=np.int64), return_inverse=True)
    cell = row * figures + fig
    if len(np.unique(cell)) != len(cell):
        raise ReesimError(f"{folder / 'members'}: a member has two values of one figure")
    values = np.full((len(members), figures), np.nan)
    values[row, fig] = value
    seen = np.zeros((len(members), figures), dtype=bool)
    seen[row, fig] = True
    return members, values, seen


def _merged(
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], figures: int, folder: Path
) -> tuple[np.ndarray, np.ndarray]:
    """The batches' rows as one table, members in order. Batches of files in name order hold
    increasing members (``member-<k>.parquet``, up to member 999,999) and are stacked as they
    are (a copy of the table: the batches' and the whole one are held together at the end);
    members in another order are sorted; a member in two batches has its rows merged, and is
    refused if both set one figure."""
    members = np.concatenate([b[0] for b in blocks])
    if np.all(members[1:] > members[:-1]):
        return members, np.concatenate([b[1] for b in blocks]) if len(blocks) > 1 else blocks[0][1]
    order = np.argsort(members, kind="stable")
    ordered = members[order]
    if np.all(ordered[1:] > ordered[:-1]):  # each member in one batch, out of order
        return ordered, np.concatenate([b[1] for b in blocks])[order]
    uniq, row = np.unique(members, return_inverse=True)
    r, c = np.nonzero(np.concatenate([b[2] for b in blocks]))
    cell = row[r] * figures + c
    if len(np.unique(cell)) != len(cell):
        raise ReesimError(f"{folder / 'members'}: a member has two values of one figure")
    wide = np.full((len(uniq), figures), np.nan)
    wide[row[r], c] = np.concatenate([b[1] for b in blocks])[r, c]
    return uniq, wide


SCREEN_KEYS = ["metric", "item", "where", "year"]


def _sobol(folder: Path, design: pd.DataFrame, names: list[str], seed: int) -> None:
    """Sobol' first-order and total indices of each screened figure (:mod:`reesim.ensemble.sobol`)."""
    from reesim.ensemble.sobol import sobol_table

    out = sobol_table(design, _screened(folder), names, seed)
    out["year"] = out["year"].astype("Int64")
    out.to_parquet(folder / "sobol.parquet", index=False)


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of ``x`` with every column of ``y`` (rows are
    observations): ``cov / (sd_x sd_y)`` from centred columns, NaN where a column is constant."""
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    sx, sy = np.sqrt((xc**2).sum(axis=0)), np.sqrt((yc**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc.T @ yc) / np.outer(sx, sy)
    r[~np.isfinite(r)] = np.nan
    return np.clip(r, -1.0, 1.0)


def chance_band(members: int) -> float:
    """The |rho| that a Spearman rank correlation over ``members`` members exceeds by chance with
    probability 5 % when the parameter has no effect (two-sided, one parameter at a time).

    Under independence rho is about normal with standard error ``1 / sqrt(n - 1)`` (Zar, J. H.,
    1972, "Significance testing of the Spearman rank correlation coefficient", *JASA* 67(339),
    578-580), so the band is ``1.96 / sqrt(n - 1)``; the approximation is poor below about 10
    members. Infinite for fewer than 2.
    """
    return 1.96 / math.sqrt(members - 1) if members > 1 else math.inf


#: figures ranked at a time by :func:`_ranks`
RANK_COLUMNS = 32


def _ranks(values: np.ndarray, rows: np.ndarray, cols: list[int]) -> np.ndarray:
    """Ranks of ``values[rows][:, cols]`` within each column (ties averaged, pandas' ``rank``).

    Ranked :data:`RANK_COLUMNS` figures at a time into one array: ranking the whole selection at
    once held four copies of it (100,000 members, 433 figures: 1.4 GB). Ranks are exact (whole
    and half numbers) and the array is column-major, the layout pandas gave, so the Pearson sums
    over it (:func:`_pearson`) run in the same order, the same bits.
    """
    at = np.flatnonzero(rows)
    y = np.empty((len(at), len(cols)), order="F")
    for i in range(0, len(cols), RANK_COLUMNS):
        part = cols[i : i + RANK_COLUMNS]
        y[:, i : i + len(part)] = pd.DataFrame(values[np.ix_(at, part)]).rank().to_numpy(dtype=float)
    return y


def _sensitivity(folder: Path, design: pd.DataFrame, names: list[str]) -> None:
    """Spearman rank correlation of each screened figure with each varied parameter."""
    keys = SCREEN_KEYS
    wide = _screened(folder)
    keep = wide.index.isin(design["member"])
    if not keep.all():  # a copy of the table only where members are left out (Saltelli's A, B)
        wide = wide[keep]
    params = design.set_index("member")[names].reindex(wide.index)
    varied = [n for n in names if params[n].nunique() > 1]
    rows = []
    if len(wide) >= 3 and varied:
        # Spearman on the members that have the figure, ranked within that subset. Figures
        # with the same members are screened together: one rank of the parameters and one
        # matrix product per set of members (pandas' corrwith per figure took 4 s for 433
        # figures of 30 parameters, more than the members it screened).
        values = wide.to_numpy(dtype=float)
        present = ~np.isnan(values)
        n_ok = present.sum(axis=0)
        usable = [
            j
            for j in range(values.shape[1])
            if n_ok[j] >= 3 and len(np.unique(values[present[:, j], j])) >= 2
        ]
        groups: dict[bytes, list[int]] = {}
        for j in usable:
            groups.setdefault(present[:, j].tobytes(), []).append(j)
        found: dict[int, np.ndarray] = {}
        for cols in groups.values():
            ok = present[:, cols[0]]
            x = params.loc[ok, varied].rank().to_numpy(dtype=float)
            found.update(zip(cols, _pearson(x, _ranks(values, ok, cols)).T, strict=True))
        for j in usable:
            col = wide.columns[j]
            for name, rho in zip(varied, found[j], strict=True):
                rows.append((*col, name, float(rho), int(n_ok[j])))
    out = pd.DataFrame(rows, columns=[*keys, "parameter", "spearman", "n"])
    out["year"] = out["year"].astype("Int64")
    out.to_parquet(folder / "sensitivity.parquet", index=False)
