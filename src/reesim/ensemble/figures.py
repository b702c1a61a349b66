"""An ensemble member's figures read from its two runs' recorded arrays.

The figures are those of :func:`reesim.ensemble.member.outcomes`, which defines them through
the impact tables of :mod:`reesim.impacts.compare` (prices inside and outside China and in the
quoted markets, welfare, product costs) and :func:`reesim.simulate.headline.heavy_re_per_magnet`.
Here the same quantities are computed from the arrays the recorder keeps
(:class:`reesim.simulate.run_arrays.RunArrays`): the price of each good is a column of the
step-by-node price array, the outside-China mean one weighted sum per step, and so on, instead of
about a hundred pandas merges and group-bys over the long tables (about a sixth of a member's
time). Sums are taken in another order than pandas' (compensated, row by row), so a figure may
differ from the tables' in its last bits; a test holds the two to 1e-11 relative (1e-9 absolute)
on shipped scenarios, a scenario against another's run, forced undetermined prices and members.

Each rule below cites the function whose definition it follows; a change of a definition there
must be made here too (the test fails until it is).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from reesim.simulate.result import Result
from reesim.simulate.run_arrays import RunArrays

#: the commodities whose prices every member reports
COMMODITIES = ("oxide:Dy", "oxide:Tb", "oxide:Nd", "oxide:Pr", "magnet:ndfeb")
COLUMNS = ["metric", "item", "where", "year", "value"]
#: the outside-China mean gives a market that buys nothing this weight (as market_prices)
TINY_WEIGHT = 1e-9


class _Rows:
    """The member's long table, block by block (columns of :data:`COLUMNS`)."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {c: [] for c in COLUMNS}

    def add(self, metric: str, items: list, where: list, years: list, values: list) -> None:
        """Rows of one metric: items, places, years (None for none) and values, aligned."""
        self.cols["metric"].extend([metric] * len(values))
        for c, v in zip(COLUMNS[1:], (items, where, years, values), strict=True):
            self.cols[c].extend(v)

    def frame(self) -> pd.DataFrame:
        c = self.cols
        return pd.DataFrame(
            {
                "metric": pd.Series(c["metric"], dtype="str"),
                "item": pd.Series(c["item"], dtype="str"),
                "where": pd.Series(c["where"], dtype="str"),
                "year": pd.array(c["year"], dtype="Int64"),
                "value": np.asarray(c["value"], dtype=float),
            }
        )


def _node_index(r: RunArrays, goods: set[str]) -> dict[tuple[str, str], int]:
    return {
        (c, reg): j
        for j, (c, reg) in enumerate(zip(r.node_commodity, r.node_region, strict=True))
        if c in goods
    }


def _basket(cf: RunArrays, keys: dict[tuple[str, str], int]) -> np.ndarray:
    """The counterfactual's apparent use (production + imports - exports, >= 0, t/yr) of each key
    ``(commodity, region)`` by step (:func:`reesim.impacts.compare.apparent_use`): the three sums
    apart, then ``(production + imports) - exports``, so that a region that only passes a good on
    gets exactly 0 (then the smallest weight) as in the table, not a rounding residue."""

    def total(values: np.ndarray, commodity, region) -> np.ndarray:
        out = np.zeros((len(cf.periods), len(keys)))
        cols, dest = [], []
        for j, key in enumerate(zip(commodity, region, strict=True)):
            k = keys.get(key)
            if k is not None:
                cols.append(j)
                dest.append(k)
        if cols:  # added in column order (not a matrix product: the same bits on every machine)
            np.add.at(out.T, np.array(dest), values[:, cols].T)
        return out

    made = total(cf.output, cf.out_commodity, cf.out_region)
    imports = total(cf.flow, cf.edge_commodity, cf.edge_importer)
    exports = total(cf.flow, cf.edge_commodity, cf.edge_exporter)
    return np.maximum(made + imports - exports, 0.0)


def _markets(r: RunArrays, goods: set[str], use: np.ndarray, keys: dict, owner: str, named: dict) -> dict:
    """Per ``(good, market)``: (row exists, USD/kg, determined), each by step
    (:func:`reesim.impacts.compare.market_prices` with the counterfactual's basket)."""
    nodes = _node_index(r, goods)
    det = r.determined & np.isfinite(r.prices)
    steps = len(r.periods)
    out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    regions_of: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (c, reg), j in nodes.items():
        regions_of[c].append((reg, j))
    for c, regs in regions_of.items():
        here = dict(regs)
        if owner in here:
            j = here[owner]
            out[(c, "inside China")] = (np.ones(steps, bool), r.prices[:, j], det[:, j])
        others = [(reg, j) for reg, j in regs if reg != owner]
        if others:
            cols = [j for _, j in others]
            w = use[:, [keys[(c, reg)] for reg, _ in others]]
            w = np.where(w > 0, w, TINY_WEIGHT)
            ok = det[:, cols]
            with np.errstate(invalid="ignore", over="ignore"):
                pw = np.where(ok, r.prices[:, cols] * w, 0.0).sum(axis=1)
                ws = np.where(ok, w, 0.0).sum(axis=1)
                mean = pw / np.where(ws > 0, ws, np.nan)
            out[(c, "outside China")] = (ok.any(axis=1), mean, np.ones(steps, bool))
        for reg, market in named.items():
            if reg in here:
                j = here[reg]
                out[(c, market)] = (np.ones(steps, bool), r.prices[:, j], det[:, j])
    return out


def _price_rows(a: RunArrays, b: RunArrays, goods: set[str]) -> dict:
    """Per ``(good, market)`` present in both runs: (row exists, scenario USD/kg, counterfactual
    USD/kg, both determined) by step, a run's own undetermined price NaN
    (:func:`reesim.impacts.compare.price_table`)."""
    from reesim.impacts.compare import NAMED_MARKETS, OWNER

    keys = _node_index(a, goods) | _node_index(b, goods)
    keys = {k: i for i, k in enumerate(keys)}
    use = _basket(b, keys)
    ma = _markets(a, goods, use, keys, OWNER, NAMED_MARKETS)
    mb = _markets(b, goods, use, keys, OWNER, NAMED_MARKETS)
    rows = {}
    for key in sorted(ma.keys() & mb.keys()):  # sets iterate in an order that varies by process
        (ea, pa, da), (eb, pb, db) = ma[key], mb[key]
        rows[key] = (ea & eb, np.where(da, pa, np.nan), np.where(db, pb, np.nan), da & db)
    return rows


class _Years:
    """The steps' years, for sums and means of a year's steps (one step a year, or several)."""

    def __init__(self, years: np.ndarray) -> None:
        self.unique, self.of_step = np.unique(years, return_inverse=True)

    def sums(self, exists: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per year: whether a step's row exists, the sum and the count of its non-NaN values."""
        n = len(self.unique)
        ok = exists & ~np.isnan(values)
        present = np.bincount(self.of_step, weights=exists, minlength=n) > 0
        total = np.bincount(self.of_step, weights=np.where(ok, values, 0.0), minlength=n)
        count = np.bincount(self.of_step, weights=ok, minlength=n)
        return present, total, count

    def means(self, exists: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The years with a row and the mean of their steps' values, NaN left out (NaN if all are)."""
        present, total, count = self.sums(exists, values)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / count, np.nan)
        return self.unique[present], mean[present]


def _prices(rows: _Rows, years: _Years, prices: dict) -> None:
    """Price, counterfactual price and their ratio of :data:`COMMODITIES` by market and year."""
    blocks = []
    for (c, market), (exists, pa, pb, det) in sorted(prices.items()):
        if c not in COMMODITIES:
            continue
        ys, va = years.means(exists, np.where(det, pa, np.nan))
        _, vb = years.means(exists, np.where(det, pb, np.nan))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = va / np.where(vb > 0, vb, np.nan)
        blocks.append((c, market, ys.tolist(), va.tolist(), vb.tolist(), ratio.tolist()))
    for metric, k in (("price_usd_per_kg", 3), ("price_cf_usd_per_kg", 4), ("price_ratio", 5)):
        for b in blocks:
            n = len(b[2])
            rows.add(metric, [b[0]] * n, [b[1]] * n, b[2], b[k])


def _levels(r: RunArrays) -> dict[tuple, float]:
    """Welfare by (period, year, region, component), million USD in the step: the surplus rows and
    the fiscal and capital costs by payer, negative (:func:`reesim.impacts.compare.welfare_table`)."""
    from reesim.instruments.projects import CAPITAL_INSTRUMENTS

    out: dict[tuple, float] = defaultdict(float)
    for period, year, region, component, usd, _ in r.welfare:
        out[(period, year, region, component)] += usd
    fiscal: dict[tuple, float] = defaultdict(float)
    for row in r.fiscal:
        inst = row["instrument"]
        if inst == "subsidy (capex)":
            continue
        comp = "capital_cost" if inst.endswith(CAPITAL_INSTRUMENTS) else "fiscal_cost"
        fiscal[(row["period"], row["year"], row["payer"], comp)] += row["usd_million"]
    for key, v in fiscal.items():
        out[key] += -v
    return out


def _welfare(rows: _Rows, a: RunArrays, b: RunArrays) -> None:
    """Total welfare change by region and year (a year's steps averaged at annual rates), the
    world's, and their present values (:func:`reesim.impacts.compare.welfare_table`,
    :func:`reesim.impacts.compare.discounted`)."""
    from reesim.impacts.compare import DISCOUNT_RATE, step_years

    la, lb = _levels(a), _levels(b)
    total: dict[tuple, float] = defaultdict(float)  # (period, year, region) -> change in the step
    for key in sorted(la.keys() | lb.keys()):  # the same order of sums in every process
        total[key[:3]] += la.get(key, 0.0) - lb.get(key, 0.0)
    if not total:
        return
    by_year: dict[tuple, list[float]] = defaultdict(list)
    for (period, year, region), v in total.items():
        by_year[(region, int(year))].append(v / step_years(period))
    means = {k: sum(v) / len(v) for k, v in sorted(by_year.items())}
    world: dict[int, float] = defaultdict(float)
    for (_, year), v in means.items():
        world[year] += v
    regions = [k[0] for k in means]
    rows.add(
        "welfare_change_usd_million_per_year",
        ["total"] * len(means),
        regions,
        [k[1] for k in means],
        list(means.values()),
    )
    ys = sorted(world)
    rows.add(
        "welfare_change_usd_million_per_year",
        ["total"] * len(ys),
        ["world"] * len(ys),
        ys,
        [world[y] for y in ys],
    )
    base = min(int(k[1]) for k in total)
    pv: dict[str, float] = defaultdict(float)
    for (_, year, region), v in total.items():
        pv[region] += v * (1.0 + DISCOUNT_RATE) ** -(int(year) - base)
    names = sorted(pv)
    values = [pv[r] for r in names]
    rows.add(
        "welfare_pv_usd_million",
        ["total"] * (len(names) + 1),
        [*names, "world"],
        [None] * (len(names) + 1),
        [*values, sum(values)],
    )


def _heavy(rows: _Rows, res: Result, cf: Result) -> None:
    """Dy per t of magnet made inside and outside China by year, the scenario's
    (:func:`reesim.simulate.headline.heavy_re_per_magnet`)."""
    from reesim.impacts.compare import OWNER

    spec = res.meta.get("heavy_dose") or cf.meta.get("heavy_dose")
    if not spec:
        return
    a = res.arrays
    recipe, save = spec["recipe_t_per_t_magnet"], float(spec["lean_saving"])
    made: dict[tuple, dict[str, float]] = defaultdict(lambda: {"dose": 0.0, "thrift": 0.0})
    cols = [j for j, k in enumerate(a.out_kind) if k in ("dose", "thrift")]
    tonnes = a.output[:, cols] * a.step_years[:, None]
    for i, j in enumerate(cols):
        scope = "China" if a.out_region[j] == OWNER else "outside China"
        for s in np.flatnonzero(a.output[:, j] > 0):
            made[(int(a.years[s]), scope)][a.out_kind[j]] += tonnes[s, i]
    found = []
    for (year, scope), t in sorted(made.items()):
        total = t["dose"] + t["thrift"]
        if total > 0:
            lean = t["thrift"] / total
            found.append((scope, year, 1000 * recipe.get("Dy", 0.0) * (1.0 - save * lean)))
    rows.add(
        "dy_kg_per_t_magnet",
        ["magnet:ndfeb"] * len(found),
        *(list(c) for c in zip(*found, strict=True)) if found else ([], [], []),
    )


def _product_costs(rows: _Rows, years: _Years, prices: dict) -> None:
    """Change of the rare-earth cost of each product by market and year, low and high
    (:func:`reesim.impacts.compare.product_cost_table`, a year's steps averaged)."""
    from reesim.impacts.compare import _product_content

    content = _product_content()
    if content.empty:
        return
    by_product: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for prod, per, c, lo, hi in zip(
        *(content[k].tolist() for k in ("product", "per", "commodity", "kg_low", "kg_high")), strict=True
    ):
        by_product[(prod, per)][c].append((lo, hi))
    markets = sorted({m for _, m in prices})
    # per (product, market): per year, whether a row exists, the sums and counts of low and high
    found: dict[tuple, list] = {}
    for (prod, _per), goods in by_product.items():
        for market in markets:
            exists = np.zeros(len(years.of_step), bool)
            det = np.ones(len(years.of_step), bool)
            low, high = np.zeros(len(years.of_step)), np.zeros(len(years.of_step))
            for c, kgs in goods.items():
                if (c, market) not in prices:
                    continue
                e, pa, pb, d = prices[(c, market)]
                # a step whose change is not determined ends NaN (d false): 0 meanwhile
                delta = np.where(d, pa - pb, 0.0)
                costs = np.array([[lo * delta, hi * delta] for lo, hi in kgs])  # rows x (a, b) x steps
                low += np.where(e, costs.min(axis=(0, 1)), 0.0)
                high += np.where(e, costs.max(axis=(0, 1)), 0.0)
                det &= ~e | d
                exists |= e
            if not exists.any():
                continue
            lo_ = np.where(det, np.minimum(low, high), np.nan)
            hi_ = np.where(det, np.maximum(low, high), np.nan)
            (present, lo_sum, lo_n), (_, hi_sum, hi_n) = years.sums(exists, lo_), years.sums(exists, hi_)
            acc = found.setdefault((prod, market), [present, lo_sum, lo_n, hi_sum, hi_n])
            if acc[0] is not present:  # a product given per two units: the year's rows together
                acc[0] = acc[0] | present
                for k, v in enumerate((lo_sum, lo_n, hi_sum, hi_n), 1):
                    acc[k] = acc[k] + v
    blocks = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for (prod, market), (present, lo_sum, lo_n, hi_sum, hi_n) in sorted(found.items()):
            ys = years.unique[present].tolist()
            lo = np.where(lo_n > 0, lo_sum / lo_n, np.nan)[present].tolist()
            hi = np.where(hi_n > 0, hi_sum / hi_n, np.nan)[present].tolist()
            blocks.append((prod, market, ys, lo, hi))
    for metric, k in (("product_cost_change_usd_low", 3), ("product_cost_change_usd_high", 4)):
        for b in blocks:
            n = len(b[2])
            rows.add(metric, [b[0]] * n, [b[1]] * n, b[2], b[k])


def from_arrays(res: Result, cf: Result) -> pd.DataFrame | None:
    """The member's figures (:func:`reesim.ensemble.member.outcomes`) from the runs' arrays, or
    None when a run has none (read back or pickled) or the two runs' steps differ."""
    from reesim.impacts.compare import product_commodities

    a, b = res.arrays, cf.arrays
    if a is None or b is None or a.periods != b.periods:
        return None
    goods = set(COMMODITIES) | product_commodities()
    prices = _price_rows(a, b, goods)
    years = _Years(a.years)
    rows = _Rows()
    _prices(rows, years, prices)
    _welfare(rows, a, b)
    _heavy(rows, res, cf)
    _product_costs(rows, years, prices)
    return rows.frame()
