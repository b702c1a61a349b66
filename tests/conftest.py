"""Shared fixtures: an isolated cache folder and the embedded dataset."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import settings

# CI reproducibility: the same examples on every run (set HYPOTHESIS_PROFILE=explore to search anew).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Tests never write to the user's cache: one fresh folder per test session.
os.environ["REESIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="reesim-test-cache-")


@pytest.fixture(scope="session")
def ds():
    """The embedded dataset (validated once per session)."""
    from reesim.data import default_dataset

    return default_dataset()
