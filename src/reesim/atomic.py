"""Safe, atomic output: a folder or file is written in full or not at all, and only where it may be.

Rules (``docs/security.md``):

* ``--out`` is checked **before any work**: a folder must be new or empty, a file new or a
  regular file; neither may be a symbolic link, device, FIFO or socket, and the nearest
  existing parent must be a writable folder (not a file).
* Output is written in a temporary sibling (``.NAME.<random suffix>``) and renamed into place, so a
  kill at any moment leaves either the previous state or the complete result. A killed
  run's temporary sibling carries a marker with its process id; the next write into the
  same place removes it (and says so).
* New folders and files get the user's umask (not the 0700/0600 of temporary files); a file
  or empty folder that is replaced keeps its mode.
* Two runs into one ``--out``: one completes, the other gets an :class:`InputError`.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import socket
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reesim.errors import InputError

#: Marker file inside a temporary output folder: who is writing it.
MARKER = ".reesim-partial"


class OutputWarning(UserWarning):
    """Something about an output place the user should know (a stale partial folder removed)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
    ):
        if test(mode):
            return name
    return "a special file"


def _check_parent(path: Path, flag: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder we may write in."""
    parent = path.parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(
            f"{flag} {path}: {parent} is not a folder ({_kind(os.stat(parent))}); choose a path under a folder"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(
            f"{flag} {path}: cannot write in {parent} (permission denied); choose a folder you can write"
        )


def _existing(path: Path, flag: str) -> os.stat_result | None:
    """``lstat`` of ``path``, or ``None`` (after checking its parent) if it does not exist yet."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        _check_parent(path, flag)
        return None
    except OSError as exc:
        raise InputError(f"{flag} {path}: cannot be used ({exc.strerror})") from None


def check_out_folder(directory: Path | str, flag: str = "--out") -> Path:
    """The absolute ``directory`` if a result folder may be written there; else an :class:`InputError`.

    Allowed: a path that does not exist yet (under a writable folder) or an empty folder.
    Refused: a non-empty folder, a symbolic link, and anything that is not a folder.
    """
    directory = Path(os.path.abspath(directory))
    st = _existing(directory, flag)
    if st is None:
        return directory
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{flag} {directory}: is {_kind(st)}, not a folder; choose a new folder")
    if any(directory.iterdir()):
        raise InputError(f"{flag} {directory}: the folder exists and is not empty; choose a new folder")
    _check_parent(directory, flag)
    return directory


def check_out_file(path: Path | str, flag: str = "--out", example: str = "out.csv") -> Path:
    """The absolute ``path`` if a file may be written there: new, or an existing regular file."""
    path = Path(os.path.abspath(path))
    st = _existing(path, flag)
    if st is None:
        return path
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"{flag} {path}: is {_kind(st)}; give a new file name (such as {example}) or an existing regular file"
        )
    if not os.access(path, os.W_OK):
        raise InputError(f"{flag} {path}: the file is not writable")
    _check_parent(path, flag)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(directory: Path) -> list[Path]:
    """Remove temporary siblings of ``directory`` left by killed writers; return what was removed.

    Only folders named ``.NAME.*`` holding reesim's marker, written on this host by a process
    that no longer exists, are removed.
    """
    return _remove_stale(directory.parent, f".{glob.escape(directory.name)}.*")  # a name, not a pattern


def remove_stale_partials_in(parent: Path) -> list[Path]:
    """Remove every partial folder in ``parent`` whose writer is dead (a server's sweep of its runs).

    The same rule as :func:`remove_stale_partials`, for all names: a folder ``.*`` with
    reesim's marker, written on this host by a process that no longer exists. Quiet (no
    warning): a server thread must not touch the process-wide warning filters.
    """
    return _remove_stale(parent, ".*", quiet=True)


def _remove_stale(parent: Path, pattern: str, quiet: bool = False) -> list[Path]:
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for cand in parent.glob(pattern):
        marker = cand / MARKER
        try:
            if cand.is_symlink() or not cand.is_dir() or not marker.is_file():
                continue
            info = json.loads(marker.read_text(encoding="utf-8"))
            if info.get("host") != socket.gethostname() or _alive(int(info["pid"])):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        shutil.rmtree(cand, ignore_errors=True)
        removed.append(cand)
        if quiet:
            continue
        warnings.warn(
            f"removed {cand.name}, a partial folder left by a killed reesim run (pid {info['pid']})",
            OutputWarning,
            stacklevel=3,
        )
    return removed


@contextmanager
def atomic_folder(directory: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``directory`` when the block succeeds.

    On any failure the temporary folder is removed and ``directory`` is left as it was: a
    failed run leaves no half-written output. The folder gets the user's umask (or keeps the
    mode of the empty folder it replaces).
    """
    directory = check_out_folder(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(directory)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (tmp / MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        yield tmp
        (tmp / MARKER).unlink()
        try:
            mode = stat.S_IMODE(os.stat(directory).st_mode)
        except FileNotFoundError:
            mode = 0o777 & ~_umask()
        os.chmod(tmp, mode)
        with contextlib.suppress(FileNotFoundError):
            directory.rmdir()  # an empty folder the user made for the result
        os.replace(tmp, directory)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and directory.exists():
            raise InputError(
                f"--out {directory}: another process wrote a result there while this one ran; "
                "this result was discarded (choose a new folder and run again)"
            ) from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_file_atomic(path: Path, write: Callable[[Path], None], flag: str = "--out") -> Path:
    """Write a file with ``write(tmp_path)`` into a temporary sibling, then rename it to ``path``.

    ``path`` is checked first (:func:`check_out_file`); an existing file keeps its mode, a
    new one gets the user's umask.
    """
    path = check_out_file(path, flag)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        check_out_file(path, flag)  # still a regular file or absent (not swapped for a device meanwhile)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
