"""Shared fixtures: an isolated cache folder and the embedded dataset."""

from __future__ import annotations

import os
import tempfile

import pytest

# Tests never write to the user's cache: one fresh folder per test session.
os.environ["REESIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="reesim-test-cache-")


@pytest.fixture(scope="session")
def ds():
    """The embedded dataset (validated once per session)."""
    from reesim.data import default_dataset

    return default_dataset()
