"""Hand-computed cases and property tests of period parsing and concentration metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from reesim.data.periods import year_span
from reesim.metrics import hhi_bounds, shares_pct

years = st.integers(min_value=1000, max_value=2999)
months = st.integers(min_value=1, max_value=12)


# --------------------------------------------------------------------------- year_span
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", (2024, 2024)),
        ("2024-05", (2024, 2024)),
        ("2024-05-06", (2024, 2024)),
        ("2010-Q1", (2010, 2010)),
        ("2010-Q4", (2010, 2010)),
        ("2020-2023", (2020, 2023)),
        ("2020-2020", (2020, 2020)),
        ("2018-07/2020-12", (2018, 2020)),
        ("1999-12-31", (1999, 1999)),
    ],
)
def test_year_span_valid(text: str, expected: tuple[int, int]) -> None:
    assert year_span(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-13",
        "2024-00",
        "2024-00-01",
        "2024-05-32",
        "2024-5",
        "24",
        "20245",
        "2023-2020",
        "2020-12/2018-07",
        "2010-Q5",
        "2010-Q0",
        "Q1 2010",
        "2024/2025",
        "May 2024",
        "",
        " ",
    ],
)
def test_year_span_invalid(text: str) -> None:
    assert year_span(text) is None


@given(years, months)
def test_year_span_month(a: int, m: int) -> None:
    assert year_span(f"{a}-{m:02d}") == (a, a)
    assert year_span(f"{a}-{m:02d}-01") == (a, a)
    assert year_span(f"{a}") == (a, a)


@given(years, years, months, months)
def test_year_span_spans(a: int, b: int, m1: int, m2: int) -> None:
    lo, hi = min(a, b), max(a, b)
    assert year_span(f"{lo}-{hi}") == (lo, hi)
    assert year_span(f"{lo}-{m1:02d}/{hi}-{m2:02d}") == (lo, hi)
    if a != b:
        assert year_span(f"{hi}-{lo}") is None
        assert year_span(f"{hi}-{m1:02d}/{lo}-{m2:02d}") is None


@given(st.text(max_size=20))
def test_year_span_result_is_ordered_or_none(text: str) -> None:
    result = year_span(text)
    assert result is None or (isinstance(result, tuple) and result[0] <= result[1])
    if result is not None:
        assert result[0] == int(text.strip()[:4])


def test_year_span_rejects_non_ascii_digits() -> None:
    """Regression: ``\\d`` used to match any Unicode digit."""
    assert year_span("\uff12\uff10\uff12\uff14") is None  # fullwidth "2024"


# --------------------------------------------------------------------------- shares_pct / hhi_bounds
def test_shares_pct_hand_case() -> None:
    assert shares_pct({"a": 1, "b": 3}, 8) == {"a": 12.5, "b": 37.5}


def test_shares_pct_of_a_larger_printed_total() -> None:
    shares = shares_pct({"CHN": 270_000, "USA": 45_000}, 390_000)
    assert shares["CHN"] == pytest.approx(69.230769, abs=1e-6)
    assert shares["USA"] == pytest.approx(11.538462, abs=1e-6)


@pytest.mark.parametrize("total", [0, -1, -0.5])
def test_shares_pct_rejects_non_positive_total(total: float) -> None:
    with pytest.raises(ValueError, match="total must be positive"):
        shares_pct({"a": 1}, total)


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ({"A": 100}, (10000, 10000)),
        ({"A": 50, "B": 50}, (5000, 5000)),
        ({"A": 60, "B": 30}, (4500, 4600)),
        ({"CHN": 91}, (8281, 8362)),
        ({"A": 25, "B": 25, "C": 25, "D": 25}, (2500, 2500)),
        ({}, (0, 10000)),
        ({"A": 0, "B": 0}, (0, 10000)),
    ],
)
def test_hhi_bounds_hand_cases(shares: dict[str, float], expected: tuple[float, float]) -> None:
    assert hhi_bounds(shares) == expected


def test_hhi_bounds_rounding_tolerance() -> None:
    # printed shares may sum to a little over 100 %; the residual is then zero
    assert hhi_bounds({"A": 60, "B": 40.5}) == (3600 + 1640.25, 3600 + 1640.25)


@pytest.mark.parametrize(
    ("shares", "match"),
    [
        ({"A": -1, "B": 50}, "shares must be >= 0"),
        ({"A": 60, "B": 41}, "shares sum to 101.00 % > 100 %"),
        ({"A": 100.6}, "> 100 %"),
    ],
)
def test_hhi_bounds_rejects_bad_shares(shares: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hhi_bounds(shares)


def test_hhi_bounds_rejects_nan() -> None:
    """Regression: a NaN share used to pass both checks and give a NaN index."""
    with pytest.raises(ValueError, match="NaN"):
        hhi_bounds({"A": float("nan"), "B": 50})


# --------------------------------------------------------------------------- properties
quantities = st.lists(
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    min_size=1,
    max_size=30,
)
int_shares = st.lists(st.integers(min_value=0, max_value=100), min_size=0, max_size=20).filter(
    lambda xs: sum(xs) <= 100
)


def as_mapping(values: list[float]) -> dict[str, float]:
    return {f"h{i}": v for i, v in enumerate(values)}


@given(quantities)
def test_full_coverage_bounds_are_equal_and_in_range(values: list[float]) -> None:
    total = math.fsum(values)
    assume(total > 0)
    shares = shares_pct(as_mapping(values), total)
    low, high = hhi_bounds(shares)
    assert low == high
    n = sum(1 for v in values if v > 0)
    assert 10000 / n * (1 - 1e-9) <= low <= 10000 * (1 + 1e-9)


@given(quantities)
def test_hhi_equals_sum_of_squared_shares_numpy(values: list[float]) -> None:
    total = math.fsum(values)
    assume(total > 0)
    low, high = hhi_bounds(shares_pct(as_mapping(values), total))
    arr = np.asarray(values, dtype=float)
    expected = float(np.sum((100.0 * arr / total) ** 2))
    assert low == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert high == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(quantities, st.floats(min_value=1.0, max_value=10.0))
def test_partial_coverage_bounds_numpy(values: list[float], factor: float) -> None:
    """Shares of a total larger than the listed sum: the upper bound adds the residual squared."""
    listed = math.fsum(values)
    assume(listed > 0)
    total = listed * factor
    low, high = hhi_bounds(shares_pct(as_mapping(values), total))
    s = 100.0 * np.asarray(values, dtype=float) / total
    residual = max(0.0, 100.0 - float(np.sum(s)))
    assert low == pytest.approx(float(np.sum(s**2)), rel=1e-9, abs=1e-9)
    assert high == pytest.approx(float(np.sum(s**2)) + residual**2, rel=1e-9, abs=1e-6)
    assert low <= high


@given(int_shares)
def test_bounds_exact_on_integer_shares(values: list[int]) -> None:
    low, high = hhi_bounds(as_mapping(values))
    assert low == sum(v * v for v in values)
    assert high == low + (100 - sum(values)) ** 2
    assert 0 <= low <= high <= 10000


@given(
    st.lists(
        st.floats(min_value=0, max_value=100, allow_nan=False, allow_subnormal=False), min_size=0, max_size=20
    ).filter(lambda xs: sum(xs) <= 100.5)
)
def test_lower_bound_never_exceeds_upper(values: list[float]) -> None:
    low, high = hhi_bounds(as_mapping(values))
    assert low <= high
    assert low >= 0


@given(int_shares.filter(lambda xs: len(xs) >= 2), st.data())
def test_merging_two_holders_never_lowers_the_bounds_exact(values: list[int], data: st.DataObject) -> None:
    i, j = data.draw(st.lists(st.integers(0, len(values) - 1), min_size=2, max_size=2, unique=True))
    before = hhi_bounds(as_mapping(values))
    merged = [v for k, v in enumerate(values) if k not in (i, j)] + [values[i] + values[j]]
    after = hhi_bounds(as_mapping(merged))
    assert after[0] - before[0] == 2 * values[i] * values[j]  # (a+b)^2 - a^2 - b^2
    assert after[1] - before[1] == 2 * values[i] * values[j]  # residual unchanged


@given(quantities.filter(lambda xs: len(xs) >= 2), st.data())
def test_merging_two_holders_never_lowers_the_lower_bound(values: list[float], data: st.DataObject) -> None:
    total = math.fsum(values)
    assume(total > 0)
    i, j = data.draw(st.lists(st.integers(0, len(values) - 1), min_size=2, max_size=2, unique=True))
    before = shares_pct(as_mapping(values), total)
    after = dict(before)
    after[f"h{i}"] = before[f"h{i}"] + before[f"h{j}"]  # keeps h{i}'s position
    del after[f"h{j}"]
    low_before, _ = hhi_bounds(before)
    low_after, _ = hhi_bounds(after)
    assert low_after >= low_before * (1 - 1e-12) - 1e-12


@pytest.mark.parametrize(("quantities", "total"), [({"a": -3, "b": 5}, 2), ({"a": 1}, float("nan"))])
def test_shares_pct_rejects_negative_quantities_and_nan_totals(quantities, total):
    with pytest.raises(ValueError):
        shares_pct(quantities, total)
