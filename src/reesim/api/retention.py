"""How long the web service keeps results: the least recently used result folders go first.

Every finished run, game or ensemble of ``reesim serve`` is a folder ``<home>/runs/<cache
key>`` (a run about 5 MB). Without a bound, a client sending many different scenarios fills
the disk at the pace the job limits allow. :func:`prune` keeps folders from the most
recently used down while they are at most ``keep_results`` and add up to at most ``keep_bytes``
(the most recent one is always kept, whatever its size; a large folder that does not fit is
removed even where an older, smaller one still fits), and removes the others: each is first
renamed to a hidden name (one atomic step, so a request sees the whole folder or none of it),
then deleted.
"Used" is the folder's modification time, which :func:`touch` sets whenever a result is
served or a request is answered from it.

The jobs of a removed folder become ``expired`` in the job store
(:meth:`reesim.api.store.JobStore.expire`): their results answer 410 with the reason, and the
same request sent again runs again. This is the least-recently-used policy of any bounded
cache (e.g. Squid's or the CPython ``functools.lru_cache``), applied to files.

Each client (address) also has a share of the bound (:func:`to_remove_by_client`): the
folders its own jobs wrote are kept from its most recently used down while they are at most
``keep_results_per_client`` and ``keep_bytes_per_client``; beyond that its own least recently
used go first. Without the share a client sending many different scenarios pushed every other
user's results out at the pace the job limits allow; with it, one client holds at most its share
(a quarter by default) and pushes out others' results only once other clients' folders fill the
rest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: prefix (after a dot) of a folder renamed out of view in ``runs/`` on its way out
EXPIRED_PREFIX = "expired-"


@dataclass(frozen=True)
class Kept:
    """A result folder: its cache key, bytes on disk and last use (seconds since the epoch)."""

    key: str
    size_bytes: int
    used: float


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links are not followed)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, name))
                total += st.st_size
    return total


def result_folders(runs: Path) -> list[Kept]:
    """The finished result folders in ``runs`` (not the hidden partial folders of writers), most
    recently used first."""
    out = []
    for entry in os.scandir(runs):
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            out.append(
                Kept(entry.name, folder_bytes(Path(entry.path)), entry.stat(follow_symlinks=False).st_mtime)
            )
    return sorted(out, key=lambda k: (-k.used, k.key))


def to_remove(folders: list[Kept], keep_results: int, keep_bytes: int) -> list[Kept]:
    """Of ``folders`` (most recently used first), those not kept: going down, a folder is kept
    while fewer than ``keep_results`` are and it fits in ``keep_bytes`` with those kept before
    it; the first (most recent) is always kept."""
    out, total, kept = [], 0, 0
    for k in folders:
        if kept == 0 or (kept < keep_results and total + k.size_bytes <= keep_bytes):
            kept, total = kept + 1, total + k.size_bytes
        else:
            out.append(k)
    return out


def to_remove_by_client(
    folders: list[Kept],
    owner: Mapping[str, str],
    keep_results: int,
    keep_bytes: int,
    keep_results_per_client: int,
    keep_bytes_per_client: int,
) -> tuple[list[Kept], list[Kept]]:
    """Of ``folders`` (most recently used first), those beyond their client's share and those
    beyond the common bound, as two lists.

    ``owner`` maps a folder's key to the client whose job wrote it; a folder without one (written
    before jobs recorded their client, or a client of ``''``) has no share and only meets the
    common bound. Each client's folders are first bounded by :func:`to_remove` with
    ``keep_results_per_client`` and ``keep_bytes_per_client`` (its most recent folder is always
    kept); the folders left are then bounded by ``keep_results`` and ``keep_bytes`` together.
    """
    mine: dict[str, list[Kept]] = {}
    for k in folders:
        if owner.get(k.key):
            mine.setdefault(owner[k.key], []).append(k)
    over = {
        k.key for ks in mine.values() for k in to_remove(ks, keep_results_per_client, keep_bytes_per_client)
    }
    share = [k for k in folders if k.key in over]
    rest = [k for k in folders if k.key not in over]
    return share, to_remove(rest, keep_results, keep_bytes)


def move_out(runs: Path, key: str) -> Path | None:
    """Rename ``runs/key`` to a hidden name in the same folder (one atomic step: a request sees
    the whole folder or none of it; hidden names are never served or counted), to be deleted
    after; None if it was already gone."""
    gone = runs / f".{EXPIRED_PREFIX}{key}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(runs / key, gone)
    except FileNotFoundError:
        return None
    return gone


def sweep_removed(runs: Path) -> None:
    """Delete folders a stopped server had moved out but not yet deleted."""
    for p in runs.glob(f".{EXPIRED_PREFIX}*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)


def touch(folder: Path) -> None:
    """Mark a result folder used now (its modification time)."""
    with contextlib.suppress(OSError):
        os.utime(folder)
