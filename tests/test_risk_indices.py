"""Concentration, net import reliance and supply-risk indicators against hand-computed cases."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reesim.errors import InputError
from reesim.impacts.risk import (
    concentration,
    eu_score,
    eu_supply_risk,
    governance_weighted_hhi,
    indicators_table,
    net_import_reliance,
    net_imports_from_trade,
    stage_tables,
    usgs_supply_risk,
)
from reesim.metrics import hhi_bounds


def frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def prod(rows: list[tuple[str, float]], commodity: str = "oxide:Nd") -> pd.DataFrame:
    """One year's production of one commodity: (region, tonnes) rows."""
    return frame(
        [(2030, "separation", commodity, r, t) for r, t in rows],
        ["year", "stage", "commodity", "region", "tonnes"],
    )


def flows(rows: list[tuple[str, str, float]], commodity: str = "oxide:Nd") -> pd.DataFrame:
    """One year's bilateral trade of one commodity: (exporter, importer, tonnes) rows."""
    return frame(
        [(2030, "separation", commodity, e, i, t) for e, i, t in rows],
        ["year", "stage", "commodity", "exporter", "importer", "tonnes"],
    )


# ----------------------------------------------------------------- concentration


def test_hhi_top_and_china_share_of_60_30_10():
    c = concentration(prod([("AUS", 30.0), ("CHN", 60.0), ("USA", 10.0)]))
    assert len(c) == 1
    row = c.iloc[0]
    assert row["hhi"] == pytest.approx(60**2 + 30**2 + 10**2)  # 3600 + 900 + 100 = 4600
    assert row["hhi"] == pytest.approx(4600.0)
    assert row["hhi_low"] == row["hhi_high"] == row["hhi"]  # complete shares: no residual
    assert row["top_region"] == "CHN"
    assert row["top_share_pct"] == pytest.approx(60.0)
    assert row["china_share_pct"] == pytest.approx(60.0)
    assert row["n_regions"] == 3
    assert row["total_tonnes"] == pytest.approx(100.0)


def test_china_share_is_zero_when_china_does_not_produce_and_top_is_not_china():
    row = concentration(prod([("AUS", 70.0), ("USA", 30.0)])).iloc[0]
    assert row["top_region"] == "AUS"
    assert row["top_share_pct"] == pytest.approx(70.0)
    assert row["china_share_pct"] == 0.0
    assert row["hhi"] == pytest.approx(70**2 + 30**2)  # 5800


# ----------------------------------------------------------------- net import reliance


def test_nir_importer_exporter_and_zero_consumption():
    p = frame(
        [(2030, "oxide:Nd", "IMP", 20.0), (2030, "oxide:Nd", "EXP", 100.0)],
        ["year", "commodity", "region", "tonnes"],
    )
    n = frame(
        [(2030, "oxide:Nd", "IMP", 80.0), (2030, "oxide:Nd", "EXP", -40.0)],
        ["year", "commodity", "region", "tonnes"],
    )
    c = frame(
        [(2030, "oxide:Nd", "IMP", 100.0), (2030, "oxide:Nd", "EXP", 60.0), (2030, "oxide:Nd", "NONE", 0.0)],
        ["year", "commodity", "region", "tonnes"],
    )
    out = net_import_reliance(p, c, n).set_index("region")
    # Importer: AC = 20 + 80 = 100; NIR = (100 - 20)/100 = 80 %.
    assert out.loc["IMP", "apparent_consumption_t"] == pytest.approx(100.0)
    assert out.loc["IMP", "nir_pct"] == pytest.approx(80.0)
    assert out.loc["IMP", "nir_unclipped_pct"] == pytest.approx(80.0)
    # Net exporter: AC = 100 - 40 = 60; (60 - 100)/60 = -66.67 %, clipped to 0 %.
    assert out.loc["EXP", "nir_pct"] == 0.0
    assert out.loc["EXP", "nir_unclipped_pct"] == pytest.approx(-40.0 / 60.0 * 100.0)
    # No production, no net imports: AC = 0 -> undefined.
    assert out.loc["NONE", "apparent_consumption_t"] == 0.0
    assert math.isnan(out.loc["NONE", "nir_pct"])
    assert math.isnan(out.loc["NONE", "nir_unclipped_pct"])
    assert out.loc["IMP", "consumption_t"] == pytest.approx(100.0)


def test_nir_undefined_when_everything_produced_is_exported():
    p = prod([("MYS", 100.0)])
    n = net_imports_from_trade(flows([("MYS", "JPN", 100.0)]))
    out = net_import_reliance(p, None, n).set_index("region")
    assert math.isnan(out.loc["MYS", "nir_pct"])  # AC = 100 - 100 = 0
    assert out.loc["JPN", "nir_pct"] == pytest.approx(100.0)
    assert math.isnan(out.loc["JPN", "consumption_t"])  # no consumption table given


def test_net_imports_from_bilateral_trade():
    n = net_imports_from_trade(flows([("A", "C", 40.0), ("B", "C", 10.0), ("C", "C", 5.0)])).set_index(
        "region"
    )
    assert n["tonnes"].to_dict() == {"A": -40.0, "B": -10.0, "C": 50.0}  # C -> C ignored


# ----------------------------------------------------------------- supply risk, 3-country toy
#
# Production (t): A 60, B 30, C 10 (shares 0.6, 0.3, 0.1). Trade: A -> C 40 t, B -> C 10 t.
# Governance scores (0-1, 1 = worst): A 0.8, B 0.2, C 0.5.

TOY_PROD = [("A", 60.0), ("B", 30.0), ("C", 10.0)]
TOY_TRADE = [("A", "C", 40.0), ("B", "C", 10.0)]
TOY_G = {"A": 0.8, "B": 0.2, "C": 0.5}


def test_usgs_supply_risk_toy():
    p = prod(TOY_PROD)
    n = net_imports_from_trade(flows(TOY_TRADE))
    out = usgs_supply_risk(p, n, governance=TOY_G, economic_vulnerability={"A": 1.0, "B": 1.0, "C": 0.5})
    out = out.set_index("region")
    # DP = 0.8 * 0.6^2 + 0.2 * 0.3^2 + 0.5 * 0.1^2 = 0.288 + 0.018 + 0.005 = 0.311
    dp = 0.8 * 0.36 + 0.2 * 0.09 + 0.5 * 0.01
    assert dp == pytest.approx(0.311)
    assert out["dp"].tolist() == pytest.approx([0.311] * 3)
    # C: AC = 10 + 50 = 60, TE = NIR = 50/60 = 0.8333; SR = 0.311 * 0.8333 * 0.5 = 0.129583
    assert out.loc["C", "te"] == pytest.approx(50.0 / 60.0)
    assert out.loc["C", "supply_risk"] == pytest.approx(0.311 * (50.0 / 60.0) * 0.5)
    assert out.loc["C", "supply_risk"] == pytest.approx(0.1295833333)
    # A and B are net exporters: TE = 0 -> SR = 0.
    assert out.loc["A", "supply_risk"] == 0.0
    assert out.loc["B", "supply_risk"] == 0.0
    assert bool(out["governance_weighted"].all())
    assert not bool(out["ev_default"].any())


def test_eu_supply_risk_toy():
    out = eu_supply_risk(
        prod(TOY_PROD), flows(TOY_TRADE), governance=TOY_G, eol_rir=0.1, substitution_index={"oxide:Nd": 0.9}
    ).set_index("region")
    c = out.loc["C"]
    # HHI_WGI,GS with WGI = 10 g: 0.36*8 + 0.09*2 + 0.01*5 = 2.88 + 0.18 + 0.05 = 3.11
    assert c["hhi_wgi_gs"] == pytest.approx(3.11)
    # C's sourcing: own 10 + A 40 + B 10 = 60 -> shares 1/6 (C), 2/3 (A), 1/6 (B):
    # (4/9)*8 + (1/36)*2 + (1/36)*5 = 128/36 + 2/36 + 5/36 = 135/36 = 3.75
    assert c["hhi_wgi_sourcing"] == pytest.approx(3.75)
    # IR = 50/60 = 5/6; IR/2 = 5/12.
    assert c["ir"] == pytest.approx(5.0 / 6.0)
    # SR = [3.11 * 5/12 + 3.75 * 7/12] * (1 - 0.1) * 0.9 = (1.2958333 + 2.1875) * 0.81 = 2.8215
    assert c["supply_risk"] == pytest.approx((3.11 * 5 / 12 + 3.75 * 7 / 12) * 0.9 * 0.9)
    assert c["supply_risk"] == pytest.approx(2.8215)
    # A: net exporter, IR = 0; sourcing = own production only -> HHI_src = 1^2 * 8 = 8;
    # SR = 8 * (1 - 0) * 0.9 * 0.9 = 6.48
    assert out.loc["A", "hhi_wgi_sourcing"] == pytest.approx(8.0)
    assert out.loc["A", "supply_risk"] == pytest.approx(6.48)
    assert not bool(out["eol_rir_default"].any())
    assert not bool(out["si_default"].any())
    assert bool(out["trade_parameter_default"].all())
    assert bool(out["governance_weighted"].all())


def test_eu_trade_parameter_multiplies_each_term():
    t = {"A": 1.1, "B": 1.0, "C": 1.0}
    out = eu_supply_risk(prod(TOY_PROD), flows(TOY_TRADE), governance=TOY_G, trade_parameter=t)
    c = out.set_index("region").loc["C"]
    # GS: 0.36*8*1.1 + 0.18 + 0.05 = 3.168 + 0.23 = 3.398
    assert c["hhi_wgi_gs"] == pytest.approx(3.398)
    assert not bool(c["trade_parameter_default"])


# ----------------------------------------------------------------- defaults are flagged


def test_usgs_defaults_flagged_and_dp_is_plain_hhi():
    out = usgs_supply_risk(prod(TOY_PROD), net_imports_from_trade(flows(TOY_TRADE))).set_index("region")
    assert not bool(out["governance_weighted"].any())
    assert bool(out["ev_default"].all())
    assert out.loc["C", "ev"] == 1.0
    assert out.loc["C", "dp"] == pytest.approx(4600.0 / 10_000)  # g = 1: DP = HHI / 10,000
    assert out.loc["C", "supply_risk"] == pytest.approx(0.46 * 50.0 / 60.0)


def test_eu_defaults_flagged():
    out = eu_supply_risk(prod(TOY_PROD), flows(TOY_TRADE)).set_index("region")
    assert not bool(out["governance_weighted"].any())
    assert bool(out["eol_rir_default"].all()) and bool(out["si_default"].all())
    assert bool(out["trade_parameter_default"].all())
    c = out.loc["C"]
    assert (c["eol_rir"], c["si_sr"]) == (0.0, 1.0)
    # WGI = 10 for all: GS = 10 * 0.46 = 4.6; sourcing = 10 * (4/9 + 1/36 + 1/36) = 10 * 0.5 = 5.0
    assert c["hhi_wgi_gs"] == pytest.approx(4.6)
    assert c["hhi_wgi_sourcing"] == pytest.approx(5.0)
    assert c["supply_risk"] == pytest.approx(4.6 * 5 / 12 + 5.0 * 7 / 12)


def test_missing_or_out_of_range_inputs_are_refused_not_invented():
    p, n = prod(TOY_PROD), net_imports_from_trade(flows(TOY_TRADE))
    with pytest.raises(InputError, match=r"governance: no value for region\(s\) \['C'\]"):
        usgs_supply_risk(p, n, governance={"A": 0.8, "B": 0.2})
    with pytest.raises(InputError, match="governance must be in"):
        usgs_supply_risk(p, n, governance={"A": 80.0, "B": 0.2, "C": 0.5})
    with pytest.raises(InputError, match="economic_vulnerability"):
        usgs_supply_risk(p, n, economic_vulnerability={"C": 0.5})
    with pytest.raises(InputError, match="eol_rir: no value for commodity 'oxide:Nd'"):
        eu_supply_risk(p, flows(TOY_TRADE), eol_rir={"oxide:Dy": 0.01})


# ----------------------------------------------------------------- stage tables on a fake result


def fake_result() -> dict[str, pd.DataFrame]:
    pcols = ["period", "year", "region", "process", "kind", "commodity", "tonnes", "tonnes_per_year"]
    production = frame(
        [
            # Two half-year steps of 2030: tonnes add up over the year.
            ("2030H1", 2030, "CHN", "mining:CHN:bayan_obo", "mining", "concentrate:bayan_obo", 30.0, 60.0),
            ("2030H2", 2030, "CHN", "mining:CHN:bayan_obo", "mining", "concentrate:bayan_obo", 30.0, 60.0),
            ("2030H1", 2030, "AUS", "mining:AUS:mount_weld", "mining", "concentrate:mount_weld", 20.0, 40.0),
            ("2030H2", 2030, "AUS", "mining:AUS:mount_weld", "mining", "concentrate:mount_weld", 20.0, 40.0),
            ("2030H1", 2030, "CHN", "crack:CHN:bayan_obo", "separation", "oxide:Nd", 9.0, 18.0),
            ("2030H1", 2030, "MYS", "crack:MYS:mount_weld", "separation", "oxide:Nd", 1.0, 2.0),
            # Left out: separation capacity (a service), and a stockpile release.
            ("2030H1", 2030, "CHN", "separation-capacity:CHN", "capacity", "service:separation", 99.0, 198.0),
            ("2030H1", 2030, "USA", "stock-release:0:oxide:Nd", "supply", "oxide:Nd", 50.0, 100.0),
        ],
        pcols,
    )
    consumption = frame(
        [
            ("2030H1", 2030, "JPN", "other uses", "oxide:Nd", 1.0, 2.0, 90.0),
            ("2030H1", 2030, "CHN", "other uses", "oxide:Nd", 9.0, 18.0, 80.0),
            ("2030H1", 2030, "USA", "stockpile", "oxide:Nd", 5.0, 10.0, 90.0),
        ],
        ["period", "year", "region", "sector", "commodity", "tonnes", "tonnes_per_year", "usd_per_kg"],
    )
    trade = frame(
        [
            ("2030H1", 2030, "concentrate:mount_weld", "AUS", "MYS", 20.0, 40.0),
            ("2030H2", 2030, "concentrate:mount_weld", "AUS", "MYS", 20.0, 40.0),
            ("2030H1", 2030, "oxide:Nd", "MYS", "JPN", 1.0, 2.0),
        ],
        ["period", "year", "commodity", "exporter", "importer", "tonnes", "tonnes_per_year"],
    )
    return {"production": production, "consumption": consumption, "trade": trade}


def test_stage_tables_and_concentration_on_a_fake_result():
    r = fake_result()
    st_ = stage_tables(r["production"], r["consumption"], r["trade"])
    assert set(st_.production["stage"]) == {"mining", "separation"}
    assert not st_.production["commodity"].str.startswith("service:").any()
    assert st_.production.set_index(["commodity", "region"])["tonnes"].to_dict() == {
        ("concentrate:bayan_obo", "CHN"): 60.0,
        ("concentrate:mount_weld", "AUS"): 40.0,
        ("oxide:Nd", "CHN"): 9.0,
        ("oxide:Nd", "MYS"): 1.0,  # the USA stock release is not production
    }
    assert "USA" not in set(st_.consumption["region"])  # stockpile purchase is not consumption
    net = st_.net_imports.set_index(["commodity", "region"])["tonnes"].to_dict()
    assert net == {
        ("concentrate:mount_weld", "AUS"): -40.0,
        ("concentrate:mount_weld", "MYS"): 40.0,
        ("oxide:Nd", "JPN"): 1.0,
        ("oxide:Nd", "MYS"): -1.0,
    }
    conc = concentration(st_.production).set_index("stage")
    # Mining, per ore: each concentrate has one producer (100 %); separation: CHN 9 of 10 t.
    sep = conc.loc["separation"]
    assert (sep["top_region"], sep["top_share_pct"], sep["china_share_pct"]) == ("CHN", 90.0, 90.0)
    assert sep["hhi"] == pytest.approx(90**2 + 10**2)  # 8200
    mining = conc.loc["mining"].set_index("commodity")
    assert mining.loc["concentrate:mount_weld", "china_share_pct"] == 0.0
    assert mining.loc["concentrate:bayan_obo", "hhi"] == pytest.approx(10_000.0)


def test_indicators_table_long_format_and_basis():
    t = indicators_table(fake_result())
    assert list(t.columns) == ["year", "stage", "commodity", "region", "indicator", "value", "unit", "basis"]
    key = t.set_index(["commodity", "region", "indicator"])
    assert key.loc[("oxide:Nd", "world", "hhi"), "value"] == pytest.approx(8200.0)
    assert key.loc[("oxide:Nd", "CHN", "top_share"), "value"] == pytest.approx(90.0)
    assert key.loc[("oxide:Nd", "JPN", "nir"), "value"] == pytest.approx(100.0)
    # MYS concentrate: produces 0, imports 40 -> 100 %; AUS exports all it mines -> undefined, left out.
    assert key.loc[("concentrate:mount_weld", "MYS", "nir"), "value"] == pytest.approx(100.0)
    assert ("concentrate:mount_weld", "AUS", "nir") not in key.index
    # JPN oxide: DP = HHI/10,000 = 0.82 (defaults), TE = 1, EV = 1.
    assert key.loc[("oxide:Nd", "JPN", "usgs_supply_risk"), "value"] == pytest.approx(0.82)
    basis = key.loc[("oxide:Nd", "JPN", "eu_supply_risk"), "basis"]
    assert "not governance-weighted" in basis and "EOL_RIR=0" in basis and "SI_SR=1" in basis
    assert "OFR 2021-1045" in key.loc[("oxide:Nd", "JPN", "usgs_supply_risk"), "basis"]
    assert not t["value"].isna().any()
    given_ = indicators_table(
        fake_result(),
        governance={"CHN": 0.6, "AUS": 0.1, "MYS": 0.3},
        economic_vulnerability={r: 1.0 for r in ("CHN", "AUS", "MYS", "JPN")},
        eol_rir=0.0,
        substitution_index=1.0,
        trade_parameter={"CHN": 1.0, "AUS": 1.0, "MYS": 1.0},
    )
    b = given_.set_index(["commodity", "region", "indicator"]).loc[
        ("oxide:Nd", "JPN", "eu_supply_risk"), "basis"
    ]
    assert b.endswith("no defaults")


# ----------------------------------------------------------------- properties


positive = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(positive, min_size=1, max_size=12).filter(lambda q: sum(q) > 0))
def test_hhi_between_10000_over_n_and_10000(quantities):
    rows = [(f"R{i}", q) for i, q in enumerate(quantities)]
    row = concentration(prod(rows)).iloc[0]
    n = len(quantities)
    assert 10_000.0 / n - 1e-6 <= row["hhi"] <= 10_000.0 + 1e-6
    # The governance-weighted index with unit weights is the same HHI as a fraction.
    shares = {r: 100.0 * q / sum(quantities) for r, q in rows}
    assert governance_weighted_hhi(dict(rows)) == pytest.approx(hhi_bounds(shares)[0] / 10_000, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    producers=st.lists(st.floats(min_value=0.1, max_value=1e4), min_size=1, max_size=5),
    scores=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=6, max_size=6),
    ev=st.floats(min_value=0.0, max_value=1.0),
    own=st.floats(min_value=0.0, max_value=1e4, allow_subnormal=False),
    n1=st.floats(min_value=0.0, max_value=1e4, allow_subnormal=False),
    extra=st.floats(min_value=0.0, max_value=1e4, allow_subnormal=False),
)
def test_usgs_supply_risk_non_decreasing_in_import_reliance(producers, scores, ev, own, n1, extra):
    # Region X produces `own` and imports n1 or n1 + extra: IR = n/(own + n) rises with n.
    rows = [(f"P{i}", q) for i, q in enumerate(producers)] + [("X", own)]
    p = prod(rows)
    g = {r: s for (r, _), s in zip(rows, scores, strict=False)}
    g["X"] = scores[-1]

    def risk(n: float) -> float:
        ni = frame(
            [(2030, "separation", "oxide:Nd", "X", n)], ["year", "stage", "commodity", "region", "tonnes"]
        )
        out = usgs_supply_risk(p, ni, governance=g, economic_vulnerability={r: ev for r in g}, regions=["X"])
        return float(out["supply_risk"].iloc[0])

    assume(own + n1 > 1e-6)  # apparent consumption positive: NIR defined at both points
    lo, hi = risk(n1), risk(n1 + extra)
    assert lo <= hi + 1e-12


@settings(max_examples=300, deadline=None)
@given(
    a=st.floats(min_value=0.0, max_value=10.0),
    b=st.floats(min_value=0.0, max_value=10.0),
    ir1=st.floats(min_value=0.0, max_value=1.0),
    ir2=st.floats(min_value=0.0, max_value=1.0),
    eol=st.floats(min_value=0.0, max_value=1.0),
    si=st.floats(min_value=0.0, max_value=1.0),
)
def test_eu_score_monotone_in_ir_exactly_when_global_hhi_at_least_sourcing_hhi(a, b, ir1, ir2, eol, si):
    lo, hi = sorted((ir1, ir2))
    s_lo, s_hi = eu_score(a, b, lo, eol, si), eu_score(a, b, hi, eol, si)
    if a >= b:
        assert s_lo <= s_hi + 1e-12
    else:  # more concentrated sourcing than world supply: relying more on imports lowers SR
        assert s_lo >= s_hi - 1e-12


def test_a_crackers_heavy_concentrate_is_separation_not_mining():
    # Lynas Malaysia makes SEGH from Mt Weld concentrate: a separation plant's output, not a mine's
    from reesim.impacts.risk.stages import stage_of

    assert stage_of("concentrate:mount_weld") == "mining"
    assert stage_of("concentrate:hree_mount_weld") == "separation"
    assert stage_of("concentrate:hree_rest_mount_weld:lynas-malaysia-dy-tb-circuit") == "separation"
    assert stage_of("oxide:Dy") == "separation" and stage_of("widget") == "other"


_REGIONS = ["AUS", "CHN", "EU", "JPN", "USA"]
_GOODS = ["oxide:Nd", "oxide:Dy"]


@settings(max_examples=30, deadline=None)
@given(
    prod_rows=st.lists(
        st.tuples(
            st.sampled_from([2030, 2031]),
            st.sampled_from(_GOODS),
            st.sampled_from(_REGIONS),
            st.floats(0, 100),
        ),
        min_size=1,
        max_size=14,
    ),
    trade_rows=st.lists(
        st.tuples(
            st.sampled_from([2030, 2031]),
            st.sampled_from(_GOODS),
            st.sampled_from(_REGIONS),
            st.sampled_from(_REGIONS),
            st.floats(0, 50),
        ),
        max_size=14,
    ),
    g=st.lists(st.floats(0, 1), min_size=len(_REGIONS), max_size=len(_REGIONS)),
    tp=st.lists(st.floats(0, 2), min_size=len(_REGIONS), max_size=len(_REGIONS)),
)
def test_eu_supply_risk_hhis_are_the_group_by_group_formula(prod_rows, trade_rows, g, tp):
    """The vectorised HHIs equal :func:`governance_weighted_hhi` applied to each group's dict
    (year and commodity): world production (GS), and each region's sourcing (its imports by
    origin plus its own production), weighted by governance and the trade parameter; a shared
    ``nir`` gives the same tables as computing it."""
    cols = ["year", "stage", "commodity", "region", "tonnes"]
    p = frame([(y, "separation", c, r, t) for y, c, r, t in prod_rows], cols)
    t = frame(
        [(y, "separation", c, e, i, q) for y, c, e, i, q in trade_rows],
        ["year", "stage", "commodity", "exporter", "importer", "tonnes"],
    )
    gov, trade_p = dict(zip(_REGIONS, g, strict=True)), dict(zip(_REGIONS, tp, strict=True))
    out = eu_supply_risk(p, t, governance=gov, trade_parameter=trade_p)
    weight = {r: 10.0 * gov[r] * trade_p[r] for r in _REGIONS}
    for row in out.itertuples(index=False):
        here = p[(p["year"] == row.year) & (p["commodity"] == row.commodity)]
        made = {r: q for r, q in here.groupby("region")["tonnes"].sum().items() if q > 0}
        expect_gs = governance_weighted_hhi(made, weight) if made else math.nan
        assert row.hhi_wgi_gs == pytest.approx(expect_gs, rel=1e-9, abs=1e-12, nan_ok=True)
        inflow = t[
            (t["year"] == row.year)
            & (t["commodity"] == row.commodity)
            & (t["importer"] == row.region)
            & (t["exporter"] != row.region)
        ]
        src = inflow.groupby("exporter")["tonnes"].sum().to_dict()
        src[row.region] = src.get(row.region, 0.0) + made.get(row.region, 0.0)
        src = {r: q for r, q in src.items() if q > 0}
        expect_src = governance_weighted_hhi(src, weight) if src else math.nan
        assert row.hhi_wgi_sourcing == pytest.approx(expect_src, rel=1e-9, abs=1e-12, nan_ok=True)
    shared = net_import_reliance(p, None, net_imports_from_trade(t))
    pd.testing.assert_frame_equal(
        eu_supply_risk(p, t, governance=gov, trade_parameter=trade_p, nir=shared), out
    )
    pd.testing.assert_frame_equal(
        usgs_supply_risk(p, net_imports_from_trade(t), governance=gov, nir=shared),
        usgs_supply_risk(p, net_imports_from_trade(t), governance=gov),
    )


def test_a_shared_nir_without_its_columns_is_a_clear_error():
    p, t = prod([("CHN", 10.0)]), flows([("CHN", "USA", 5.0)])
    with pytest.raises(InputError, match="nir"):
        eu_supply_risk(p, t, nir=pd.DataFrame({"region": ["USA"]}))
