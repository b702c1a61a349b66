"""Sobol' indices from a Saltelli design: hand-computed functions, the design, an ensemble run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reesim.ensemble.design import design_size, make_design, unit_sample
from reesim.ensemble.runner import run_ensemble
from reesim.ensemble.sobol import _interval, indices, saltelli_blocks, sobol_table
from reesim.ensemble.space import default_space
from reesim.scenario.load import load_scenario


def _evaluate(f, n: int, d: int, seed: int = 3):
    u, _ = saltelli_blocks(unit_sample(2 * d, n, "saltelli", seed))
    y = f(u)
    f_a, f_b = y[:n], y[n : 2 * n]
    f_ab = y[2 * n :].reshape(d, n).T
    return indices(f_a, f_b, f_ab)


def test_additive_function_indices_are_the_squared_weights():
    """y = x1 + 2 x2 + 0 x3 on U(0,1)^3: V_i = a_i^2 / 12, so S = ST = (1, 4, 0) / 5."""
    s1, st = _evaluate(lambda u: u[:, 0] + 2 * u[:, 1] + 0 * u[:, 2], 4096, 3)
    assert s1 == pytest.approx([0.2, 0.8, 0.0], abs=0.02)
    assert st == pytest.approx([0.2, 0.8, 0.0], abs=0.02)


def test_pure_interaction_shows_in_the_total_index_only():
    """y = x1 x2 on U(0,1)^2: V = 7/144, V_1 = V_2 = 1/48, so S_i = 3/7 and ST_i = 1 - S_j = 4/7."""
    s1, st = _evaluate(lambda u: u[:, 0] * u[:, 1], 4096, 2)
    assert s1 == pytest.approx([3 / 7, 3 / 7], abs=0.02)
    assert st == pytest.approx([4 / 7, 4 / 7], abs=0.02)


def test_saltelli_rows_swap_one_column_from_b():
    u = unit_sample(6, 4, "saltelli", 0)
    pts, labels = saltelli_blocks(u)
    assert pts.shape == (4 * (3 + 2), 3) and len(labels) == len(pts)
    a, b = u[:, :3], u[:, 3:]
    for i in range(3):
        ab = pts[(2 + i) * 4 : (3 + i) * 4]
        assert np.array_equal(np.delete(ab, i, axis=1), np.delete(a, i, axis=1))
        assert np.array_equal(ab[:, i], b[:, i])
    assert list(labels["block"].unique()) == ["A", "B", "AB"]


def test_a_failed_member_drops_its_base_row_only():
    names = ["p", "q"]
    n = 6
    _, labels = saltelli_blocks(unit_sample(4, n, "saltelli", 1))
    design = labels.assign(member=np.arange(len(labels)), status="ok")
    rng = np.random.default_rng(0)
    fig = pd.DataFrame({("m", "x", "w", 2025): rng.random(len(labels))})
    fig.columns = pd.MultiIndex.from_tuples(fig.columns, names=["metric", "item", "where", "year"])
    design.loc[design.index[(design["block"] == "AB") & (design["base"] == 2)][0], "status"] = "failed"
    out = sobol_table(design, fig, names, seed=0)
    assert set(out["n_base"]) == {n - 1}
    assert list(out["parameter"]) == names


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 12),
    resamples=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(-3, 6),
)
def test_resamples_computed_together_are_each_ones_own_bits(n, d, resamples, seed, scale):
    """The bootstrap computes its resamples at once: each must be the bits of it computed alone
    (the sums' order is per resample), including a resample with no variance (NaN)."""
    rng = np.random.default_rng(seed)
    f_a, f_b = rng.random((resamples, n)) * 10**scale, rng.random((resamples, n)) * 10**scale
    f_ab = rng.random((resamples, n, d)) * 10**scale
    f_a[0], f_b[0] = 2.0, 2.0  # flat
    s1, st_ = indices(f_a, f_b, f_ab)
    assert s1.shape == st_.shape == (resamples, d)
    for r in range(resamples):
        one_s1, one_st = indices(f_a[r], f_b[r], f_ab[r])
        assert s1[r].tobytes() == one_s1.tobytes() and st_[r].tobytes() == one_st.tobytes()
    assert np.isnan(s1[0]).all() and np.isnan(st_[0]).all()


def test_bootstrap_in_parts_is_the_bootstrap_at_once(monkeypatch):
    """Resamples computed a few at a time (bounded memory) give the bits of all at once."""
    from reesim.ensemble import sobol

    rng = np.random.default_rng(9)
    f_a, f_b, f_ab = rng.random(50), rng.random(50), rng.random((50, 3))
    k = rng.integers(0, 50, (17, 50))
    whole = sobol._bootstrap(f_a, f_b, f_ab, k)
    monkeypatch.setattr(sobol, "BOOTSTRAP_VALUES", 2 * 50 * 3)  # two resamples a part
    parts = sobol._bootstrap(f_a, f_b, f_ab, k)
    assert whole[0].shape == (17, 3)
    assert whole[0].tobytes() == parts[0].tobytes() and whole[1].tobytes() == parts[1].tobytes()


def _sobol_one_by_one(design, figures, names, seed):
    """The table as the code before 2026-12-07 made it: a reindex per base point and figure, and
    the bootstrap's resamples one at a time (kept here as the reference for the same bits)."""
    import zlib

    d = len(names)
    ok = design[design["status"] == "ok"]
    pos = {(r.block, int(r.base), int(r.swap)): int(r.member) for r in ok.itertuples(index=False)}
    rows = []
    for col in figures.columns:
        full = []
        for j in sorted(set(design["base"])):
            members = [pos.get(("A", j, -1)), pos.get(("B", j, -1))] + [
                pos.get(("AB", j, i)) for i in range(d)
            ]
            if any(m is None for m in members):
                continue
            vals = figures[col].reindex(members).to_numpy(dtype=float)
            if np.isfinite(vals).all():
                full.append(vals)
        if len(full) < 4:
            continue
        m = np.array(full)
        f_a, f_b, f_ab = m[:, 0], m[:, 1], m[:, 2:]
        s1, st_ = indices(f_a, f_b, f_ab)
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(repr(col).encode())]))
        boot = []
        for _ in range(200):
            k = rng.integers(0, len(m), len(m))
            boot.append(indices(f_a[k], f_b[k], f_ab[k]))
        b1, bt = np.array([b[0] for b in boot]), np.array([b[1] for b in boot])
        lo1 = [np.percentile(x[np.isfinite(x)], 2.5) if np.isfinite(x).any() else np.nan for x in b1.T]
        hi1 = [np.percentile(x[np.isfinite(x)], 97.5) if np.isfinite(x).any() else np.nan for x in b1.T]
        lot = [np.percentile(x[np.isfinite(x)], 2.5) if np.isfinite(x).any() else np.nan for x in bt.T]
        hit = [np.percentile(x[np.isfinite(x)], 97.5) if np.isfinite(x).any() else np.nan for x in bt.T]
        for i, name in enumerate(names):
            rows.append((*col, name, s1[i], lo1[i], hi1[i], st_[i], lot[i], hit[i], len(m)))
    cols = [
        *figures.columns.names,
        "parameter",
        "s1",
        "s1_low",
        "s1_high",
        "st",
        "st_low",
        "st_high",
        "n_base",
    ]
    return pd.DataFrame(rows, columns=cols)


@pytest.mark.parametrize("bootstrap_values", [4_000_000, 1])
def test_the_table_is_the_bits_of_one_figure_and_one_resample_at_a_time(monkeypatch, bootstrap_values):
    """Gathered at once and resampled together (in parts, or one resample a part), the table is
    the one-by-one code's, bit for bit: failed members, a member without figures, missing values,
    a flat figure (no index) and a figure with two values (some resamples flat)."""
    from reesim.ensemble import sobol

    monkeypatch.setattr(sobol, "BOOTSTRAP_VALUES", bootstrap_values)
    names, n = ["p", "q", "r"], 16
    _, labels = saltelli_blocks(unit_sample(6, n, "saltelli", 2))
    design = labels.assign(member=np.arange(len(labels)), status="ok")
    design.loc[[3, 40], "status"] = "failed"
    rng = np.random.default_rng(1)
    vals = rng.lognormal(0, 1, (len(labels), 4))
    vals[rng.random(len(labels)) < 0.03, 0] = np.nan
    vals[:, 2] = 7.0
    vals[:, 3] = np.where(rng.random(len(labels)) < 0.9, 1.0, 2.0)
    cols = pd.MultiIndex.from_tuples(
        [("m", f"x{j}", "w", 2025) for j in range(4)], names=["metric", "item", "where", "year"]
    )
    figures = pd.DataFrame(vals, columns=cols).drop(index=[7])
    new = sobol_table(design, figures, names, seed=5)
    old = _sobol_one_by_one(design, figures, names, seed=5)
    assert len(new) == 4 * 3 and new["s1"].isna().any()
    for c in new.columns:
        if new[c].dtype == float:
            assert new[c].to_numpy().tobytes() == old[c].to_numpy().tobytes(), c
        else:
            assert new[c].tolist() == old[c].tolist(), c


def test_interval_of_whole_columns_is_each_columns_own():
    """Columns without a missing resample are read together; each must equal it alone."""
    rng = np.random.default_rng(4)
    boot = rng.normal(size=(200, 7)) * 10 ** rng.uniform(-3, 3, 7)
    boot[[3, 50], 2] = np.nan
    boot[:, 5] = np.nan
    lo, hi = _interval(boot)
    for i in range(7):
        col = boot[np.isfinite(boot[:, i]), i]
        want = np.percentile(col, [2.5, 97.5]) if len(col) else np.array([np.nan, np.nan])
        assert np.array([lo[i], hi[i]]).tobytes() == want.tobytes()
    assert np.isnan(lo[5]) and np.isnan(hi[5])


@pytest.fixture(scope="module")
def one_year():
    sc = load_scenario("china-2025-licensing")
    return sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": 2025})})


def test_ensemble_with_saltelli_design_writes_sobol_indices(one_year, tmp_path):
    space = {
        k: v
        for k, v in default_space(one_year).items()
        if k in ("demand_elasticity_oxide", "stock_cover_months")
    }
    n = 4
    assert design_size(n, "saltelli", 2) == 16
    s = run_ensemble(one_year, space, n, tmp_path / "e", method="saltelli", seed=2)
    assert (s.members, s.ok) == (16, 16)
    design = pd.read_parquet(tmp_path / "e" / "design.parquet")
    assert {"block", "base", "swap"} <= set(design.columns)
    assert design.equals(design.sort_values("member"))
    sob = pd.read_parquet(tmp_path / "e" / "sobol.parquet")
    dy = sob[(sob["metric"] == "price_ratio") & (sob["item"] == "oxide:Dy") & (sob["where"] == "Europe")]
    assert set(dy["parameter"]) == set(space) and (dy["n_base"] == n).all()
    assert ((dy["st"] >= 0) & (dy["st_low"] <= dy["st"]) & (dy["st"] <= dy["st_high"])).all()
    # the design is the one make_design gives: member k alone re-runs with the same inputs
    again = make_design(space, n, "saltelli", 2)
    assert np.allclose(again[sorted(space)].to_numpy(), design[sorted(space)].to_numpy())


def test_a_saltelli_design_needs_four_base_points():
    from reesim.errors import InputError

    one_year = load_scenario("china-2025-licensing")
    space = {k: v for k, v in default_space(one_year).items() if k == "stock_cover_months"}
    with pytest.raises(InputError, match="4 or more"):
        make_design(space, 3, "saltelli", 0)
