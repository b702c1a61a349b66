"""Atomic output: a folder is written in full or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reesim.errors import InputError


def ensure_new_folder(directory: Path) -> Path:
    """The resolved ``directory``; an :class:`InputError` if it exists and is not empty."""
    directory = Path(directory).resolve()
    if directory.exists() and any(directory.iterdir()):
        raise InputError(f"--out {directory}: the folder exists and is not empty; choose a new folder")
    return directory


@contextmanager
def atomic_folder(directory: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``directory`` when the block succeeds.

    On any failure the temporary folder is removed and ``directory`` is left as it was: a
    failed run leaves no half-written output.
    """
    directory = ensure_new_folder(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        yield tmp
        if directory.exists():
            directory.rmdir()
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
