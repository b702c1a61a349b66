"""Warnings of worker processes are carried back and raised again in the parent."""

from __future__ import annotations

import warnings

import pytest

from reesim.relay import collecting, reissue
from reesim.scenario.load import ScenarioWarning


def _noisy(n: int) -> int:
    for _ in range(n):
        warnings.warn("PIQP failed; solved with Clarabel instead", RuntimeWarning, stacklevel=1)
    warnings.warn("instrument never in force", ScenarioWarning, stacklevel=1)

    class Odd(UserWarning):
        pass

    warnings.warn("odd", Odd, stacklevel=1)
    return n * 2


def test_collected_warnings_come_back_in_order_with_their_classes():
    result, caught = collecting(_noisy, 3)
    assert result == 6
    assert [c for c, _ in caught] == ["RuntimeWarning"] * 3 + ["ScenarioWarning", "Odd"]
    with pytest.warns(Warning) as again:
        warnings.simplefilter("always")
        reissue(caught)
    assert [type(w.message) for w in again] == [RuntimeWarning] * 3 + [ScenarioWarning, UserWarning]
    assert str(again[0].message) == "PIQP failed; solved with Clarabel instead"
