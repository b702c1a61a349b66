"""The on-disk cache: a private folder, verified artefacts, keys that cover their inputs.

What reesim caches is an optimisation only (the DuckDB copy of the embedded dataset, the
default world and counterfactual runs as JSON, the outcomes of game profiles); nothing in the
cache is trusted without a check:

* **Private folder.** ``$REESIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/reesim``, else
  ``~/.cache/reesim``, used only if it is a directory owned by the user with no access for
  group or others (a folder the user owns is tightened to mode 0700; one owned by anybody
  else is refused). There is no shared fallback: if no private folder can be had, reesim
  runs without a cache (the dataset is built in a fresh private temporary folder, removed at
  exit) and says so once.
* **Verified content.** Every artefact is checked against a SHA-256 recorded when it was
  written (in a header of the file, or for DuckDB files in a ``.sha256`` file beside it);
  a file that is missing its record, truncated or changed is not used: it is rebuilt with a
  warning.
* **Complete keys.** Keys hash the code that builds the artefact (:func:`code_fingerprint`),
  the package version and every input (data, configuration, assumptions).
* **No code in data.** Artefacts are JSON or DuckDB files; nothing is un-pickled.

See ``docs/security.md`` for the whole trust model.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

#: Version of the cache's own formats (headers, sidecars); bump to orphan every old artefact.
CACHE_FORMAT = 1
_HEADER = b"reesim-cache"
_CHUNK = 1 << 20


class CacheWarning(UserWarning):
    """A cache folder or artefact was not used (and why)."""


# ------------------------------------------------------------------------------ the folder
def configured_dir() -> Path:
    """The cache folder the environment asks for (whether or not it is usable)."""
    env = os.environ.get("REESIM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reesim"


def private_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a private cache folder (``None`` if it is one).

    Creates the folder (mode 0700) if it is missing and tightens a folder the user owns to
    0700; refuses a folder owned by another user or that is not a directory.
    """
    if folder.is_symlink():
        # a link's target would be tightened to 0700 and filled (or cleared) in its place
        return f"it is a symbolic link (to {os.path.realpath(folder)}); give the folder itself"
    if folder.exists() and not folder.is_dir():
        return "it is not a directory"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError as exc:
        return f"cannot create it ({exc.strerror or exc})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != os.getuid():
        return f"it is owned by user id {st.st_uid}, not by you ({os.getuid()})"
    if st.st_mode & 0o077:
        try:
            os.chmod(folder, 0o700)
        except OSError as exc:
            return f"it is open to other users (mode {stat.S_IMODE(st.st_mode):o}) and cannot be made private ({exc})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "it is not writable"
    return None


@functools.cache
def _resolved_dir(configured: str) -> Path | None:
    folder = Path(configured)
    problem = private_problem(folder)
    if problem is None:
        return folder
    warnings.warn(
        f"cache folder {folder} is not used: {problem}; running without a cache "
        "(set REESIM_CACHE_DIR to a folder of your own)",
        CacheWarning,
        stacklevel=3,
    )
    return None


def cache_dir() -> Path | None:
    """The private cache folder, or ``None`` (with one warning) if none can be had."""
    return _resolved_dir(str(configured_dir()))


def scratch_dir() -> Path:
    """A fresh private temporary folder for this process (removed at exit): the no-cache fallback."""
    path = Path(tempfile.mkdtemp(prefix="reesim-nocache-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# ------------------------------------------------------------------------------ the keys
@functools.cache
def code_fingerprint(*subpackages: str) -> str:
    """SHA-256 of the package version and the source of ``subpackages`` of reesim (all if none).

    Hashes every ``.py`` and ``.yaml`` file under the named subfolders of the installed
    package (sorted by path), so that a changed builder never meets an artefact built by
    the old one.
    """
    from reesim import __version__

    root = Path(__file__).resolve().parent
    folders = [root / s for s in subpackages] if subpackages else [root]
    h = hashlib.sha256(f"reesim {__version__} cache {CACHE_FORMAT}".encode())
    for folder in folders:
        files = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in files:
            if path.suffix in (".py", ".yaml") and path.is_file():
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def key_of(*parts: object) -> str:
    """A cache key: SHA-256 of the JSON of ``parts`` (first 32 hex digits)."""
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.cache
def runtime() -> tuple[str, ...]:
    """The interpreter, machine type and versions of the libraries a computed artefact depends on
    (the numeric stack, the solvers, the data engine) and the instruction sets they run with
    (:func:`instruction_sets`): part of the keys of kept worlds and runs."""
    import platform
    from importlib import metadata

    out = [platform.python_implementation(), platform.python_version(), platform.machine()]
    for dist in ("numpy", "pandas", "pyarrow", "scipy", "piqp", "clarabel", "duckdb"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} absent")
    return (*out, *instruction_sets())


#: how far another CPU's builds move the figures (:func:`instruction_sets`), for the words that say
#: some runs were computed by other builds
OTHER_BUILDS_DIFFER = (
    "in the last digits (between CPU builds, measured: 1.6e-8 relative at the median, up to 1e-3 on "
    "figures near zero)"
)


def runtime_id(rt: tuple[str, ...] | list[str]) -> str:
    """A short name of a runtime (:func:`runtime`) for the tables that record which build computed
    a row (an ensemble's ``design.parquet``, a game's ``equilibria.json``): the first 12 hex digits
    of the SHA-256 of its JSON."""
    return hashlib.sha256(json.dumps(list(rt)).encode()).hexdigest()[:12]


def instruction_sets() -> tuple[str, ...]:
    """The builds the numeric libraries chose for this CPU: PIQP's module, numpy's dispatched
    SIMD targets and the kernels of numpy's and SciPy's OpenBLAS (:func:`_openblas`).

    Two x86-64 machines get different bits from the same code and libraries: PIQP loads its
    AVX-512, AVX2 or generic build by the CPU (``piqp/__init__.py``), and numpy dispatches its
    loops (with SVML's ``exp``, ``log`` and ``power`` on AVX-512) by the CPU as well. Measured
    2026-12-07 on 18 members of the flagship's ensemble, PIQP 0.7.0's AVX-512, AVX2 and generic
    builds gave figures that differ by 1.6e-8 relative at the median and up to 1e-3 on figures
    near zero (0.26 million USD of Russia's welfare change). A cache folder shared by two such
    machines (a network home, a moved volume) therefore keeps one world or run per build.
    """
    try:
        import piqp

        solver = f"piqp build {piqp.SparseSolver.__module__.rsplit('.', 1)[-1]}"
    except ImportError:
        solver = "piqp build absent"
    return (solver, _numpy_simd(), *(_openblas(p) for p in ("numpy", "scipy")))


def _numpy_simd() -> str:
    """numpy's own record of the SIMD targets it dispatches to on this CPU (no public API: the
    module is ``numpy._core`` from numpy 2, ``numpy.core`` before)."""
    import importlib

    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            mod = importlib.import_module(name)
            dispatch, features = mod.__cpu_dispatch__, mod.__cpu_features__
        except (ImportError, AttributeError):
            continue
        targets = [t for t in dispatch if features.get(t)]
        return f"numpy simd {' '.join(targets) or 'baseline'}"
    return "numpy simd unknown"


def _openblas(package: str) -> str:
    """The configuration of the OpenBLAS bundled with ``package``'s wheel, with the kernel set it
    chose for this CPU (``... DYNAMIC_ARCH ... SkylakeX ...``; the ``OPENBLAS_CORETYPE`` environment
    variable overrides the choice).

    The kernels give other bits: four members of the flagship's ensemble run with OpenBLAS's
    Haswell kernels instead of SkylakeX's on this machine (``OPENBLAS_CORETYPE=Haswell``) gave 89 %
    of their figures different, by 5e-13 relative at the median and up to 2e-6; its generic kernels
    (Prescott) by 1.8e-8 at the median and up to 9e-4 (measured 2026-12-07). The library is asked
    through its own ``openblas_get_config`` (with the wheels' ``scipy_`` prefix and ``64_`` suffix
    where they have them), as threadpoolctl does. ``ctypes`` opens the file the package loads, where
    the wheels keep it: ``numpy.libs/*.so`` (Linux) or ``*.dll`` (Windows) beside the package,
    ``numpy/.dylibs/*.dylib`` (macOS). The library is loaded once: a package that had not loaded it
    yet (SciPy's, in a process that computes a key before it imports ``scipy.linalg``) uses the same
    copy later, and OpenBLAS starts its thread pool on loading. A package without a bundled
    OpenBLAS (a conda or a system build, Apple's Accelerate) gives ``unknown``.
    """
    import ctypes
    import importlib.util

    try:
        folder = Path(importlib.util.find_spec(package).origin).parent
        libs = sorted(
            p
            for where in (folder.with_name(f"{package}.libs"), folder / ".dylibs")
            for p in where.glob("*openblas*")
            if p.suffix in (".so", ".dll", ".dylib") or ".so." in p.name
        )
    except (ImportError, AttributeError, TypeError, ValueError):
        libs = []
    for lib in libs:
        try:
            handle = ctypes.CDLL(str(lib))
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                fn = getattr(handle, f"{prefix}openblas_get_config{suffix}", None)
                if fn is not None:
                    fn.restype = ctypes.c_char_p
                    return f"{package} blas {' '.join(fn().decode(errors='replace').split())}"
    return f"{package} blas unknown"


def identity() -> dict[str, object]:
    """What made a result, for the documents written beside it (``summary.json``, the game's and
    the backtest's): reesim's version, the dataset's and the runtime (another CPU's builds give
    figures equal to about 1e-8 relative, not the same bits: :func:`instruction_sets`)."""
    from reesim import __version__
    from reesim.data import default_dataset

    return {
        "code_version": __version__,
        "dataset_version": default_dataset().version,
        "runtime": list(runtime()),
    }


def computed_key(kind: str, *parts: object) -> str:
    """The key of an artefact reesim computes (a world, a run): ``kind`` and ``parts`` with the
    dataset, the source of every module (:func:`code_fingerprint`) and the interpreter, machine
    type and libraries (:func:`runtime`), so that a changed input, builder or solver never meets
    an old artefact."""
    from reesim.data import default_dataset

    return key_of(kind, *parts, default_dataset().version, code_fingerprint(), runtime())


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------ locking
@contextlib.contextmanager
def locked(folder: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock ``folder/.name.lock`` (so that two processes build once)."""
    fd = os.open(folder / f".{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _regular_own_file(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()


def warn_rebuild(path: Path, why: str) -> None:
    """Warn that the cache file ``path`` is not used (``why``) and is rebuilt."""
    warnings.warn(f"cache file {path.name} not used ({why}); rebuilt", CacheWarning, stacklevel=3)


# ------------------------------------------------------------------------------ blobs (one file)
def write_blob(path: Path, payload: bytes) -> bool:
    """Write ``payload`` to ``path`` with a header recording its SHA-256 (atomically).

    Returns whether it was written (a cache that cannot be written only costs time).
    """
    digest = hashlib.sha256(payload).hexdigest()
    header = _HEADER + f" {CACHE_FORMAT} sha256={digest} size={len(payload)}\n".encode()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(header + payload)
        os.replace(tmp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)
        return False


def read_blob(path: Path) -> bytes | None:
    """The payload of a blob written by :func:`write_blob`, or ``None`` if absent or not verified."""
    if not path.exists() and not path.is_symlink():
        return None
    if not _regular_own_file(path):
        warn_rebuild(path, "not a regular file of yours")
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        warn_rebuild(path, f"unreadable: {exc.strerror}")
        return None
    head, sep, payload = data.partition(b"\n")
    fields = head.split(b" ")
    ok = (
        sep
        and len(fields) == 4
        and fields[0] == _HEADER
        and fields[1] == str(CACHE_FORMAT).encode()
        and fields[2] == b"sha256=" + hashlib.sha256(payload).hexdigest().encode()
        and fields[3] == f"size={len(payload)}".encode()
    )
    if not ok:
        warn_rebuild(path, "its content does not match the hash recorded when it was written")
        return None
    return payload


# ------------------------------------------------------------------------------ kept artefacts
def subfolder(name: str) -> Path | None:
    """The private subfolder ``name`` of the cache folder (created with mode 0700), or ``None``
    without a cache folder or if it is not private: a symbolic link, not a directory, another
    user's, or open to others and not tightenable (with a warning)."""
    folder = cache_dir()
    if folder is None:
        return None
    sub = folder / name
    try:
        sub.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(sub)
        problem = None
        if not stat.S_ISDIR(st.st_mode):
            problem = "it is not a directory"
        elif st.st_uid != os.getuid():
            problem = f"it is owned by user id {st.st_uid}, not by you"
        elif st.st_mode & 0o077:
            os.chmod(sub, 0o700)
    except OSError as exc:
        problem = f"it cannot be made a private folder ({exc.strerror or exc})"
    if problem:
        warnings.warn(f"cache subfolder {sub} is not used: {problem}", CacheWarning, stacklevel=3)
        return None
    return sub


def evict(folder: Path, pattern: str, keep: int, max_bytes: int) -> None:
    """Remove the least recently used files ``pattern`` of ``folder`` beyond ``keep`` files or
    ``max_bytes`` in all (the newest is always kept). Files that another process removes
    meanwhile are skipped."""
    found = []
    try:
        paths = list(folder.glob(pattern))
    except OSError:
        return
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((st.st_mtime, st.st_size, path))
    found.sort(key=lambda t: t[0], reverse=True)
    total = 0
    for i, (_, size, path) in enumerate(found):
        total += size
        if i > 0 and (i >= keep or total > max_bytes):
            with contextlib.suppress(OSError):
                path.unlink()


T = TypeVar("T")

#: what decoding a verified file that holds no artefact of this version can raise
DECODE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)


def kept(
    name: str,
    prefix: str,
    key: str,
    build: Callable[[], T],
    encode: Callable[[T, str], bytes],
    decode: Callable[[bytes, str], T],
    *,
    keep: int,
    max_bytes: int,
) -> tuple[T, bool]:
    """``build()``, kept as a verified blob ``<prefix>-<key>.json`` in the cache subfolder ``name``.

    Returns the value and whether it was read back. ``encode(value, key)`` raises
    :class:`ValueError` for a value it cannot give back exactly (the value is then only returned);
    ``decode(payload, key)`` raises one of :data:`DECODE_ERRORS` for a payload that is not the
    artefact of ``key`` (it is then built again, with a warning). Reading a file marks it
    recently used; writing one evicts beyond ``keep`` files or ``max_bytes`` (:func:`evict`).
    """
    folder = subfolder(name)
    if folder is None:
        return build(), False
    path = folder / f"{prefix}-{key[:32]}.json"
    payload = read_blob(path)
    if payload is not None:
        try:
            value = decode(payload, key)
        except DECODE_ERRORS as exc:  # verified, yet not what the key asks for
            warn_rebuild(path, f"it does not hold what its name promises ({type(exc).__name__}: {exc})")
        else:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used
            return value, True
    value = build()
    try:
        payload = encode(value, key)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return value, False  # kept in memory only
    if write_blob(path, payload):
        evict(folder, f"{prefix}-*.json", keep, max_bytes)
    return value, False


# ------------------------------------------------------------------------------ files with a sidecar
def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verified_file(path: Path) -> bool:
    """Whether ``path`` exists and matches the SHA-256 recorded beside it (warns when it does not)."""
    if not path.exists() and not path.is_symlink():
        return False
    side = _sidecar(path)
    why = None
    if not _regular_own_file(path) or not _regular_own_file(side):
        why = "it or its .sha256 record is missing or not a regular file of yours"
    else:
        try:
            rec = json.loads(side.read_text(encoding="utf-8"))
            if not (
                isinstance(rec, dict)
                and rec.get("format") == CACHE_FORMAT
                and rec.get("size") == path.stat().st_size
                and rec.get("sha256") == file_sha256(path)
            ):
                why = "its content does not match the hash recorded when it was written"
        except (OSError, ValueError) as exc:
            why = f"its .sha256 record is unreadable ({exc})"
    if why:
        warn_rebuild(path, why)
        return False
    return True


def publish_file(tmp: Path, path: Path) -> None:
    """Move the finished file ``tmp`` to ``path`` and record its SHA-256 beside it.

    The record is written first, then the file moved into place, so that a reader never
    sees a new file with an old record (a kill in between leaves a record without its file,
    which is rebuilt).
    """
    rec = {"format": CACHE_FORMAT, "sha256": file_sha256(tmp), "size": tmp.stat().st_size}
    side = _sidecar(path)
    fd, side_tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{side.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(rec, fh)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.replace(side_tmp, side)
    os.replace(tmp, path)


def cached_file(name: str, build: Callable[[Path], None]) -> Path:
    """A verified cache file ``name``, built with ``build(tmp_path)`` if missing or not verified.

    Without a private cache folder the file is built in a private scratch folder.
    """
    folder = cache_dir()
    if folder is None:
        path = scratch_dir() / name
        build(path)
        return path
    path = folder / name
    if verified_file(path):
        return path
    try:
        with locked(folder, name):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheWarning)
                if verified_file(path):  # another process built it meanwhile
                    return path
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)  # the builder creates it (DuckDB refuses an existing empty file)
            try:
                build(Path(tmp))
                publish_file(Path(tmp), path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return path
    except OSError as exc:
        warnings.warn(
            f"cache folder {folder} cannot be written ({exc}); running without a cache",
            CacheWarning,
            stacklevel=2,
        )
        path = scratch_dir() / name
        build(path)
        return path


# ------------------------------------------------------------------------------ info and clear
#: The files reesim writes in its cache folder (for ``reesim cache info|clear``): its own names
#: only, temporary files ``.NAME.<random>.tmp`` beside NAME and locks ``.NAME.lock``, and only in
#: its own subfolders, so that ``cache clear`` in a folder shared with other programs leaves their
#: dot files alone (a review of 2026-12-06 saw ``.*.lock`` delete them).
PATTERNS = (
    "dataset-*.duckdb",
    "dataset-*.duckdb.sha256",
    "games/*.json",
    "worlds/world-*.json",
    "runs/run-*.json",
    "tables/table-*.json",
    "world-*.pkl",
    ".dataset-*.duckdb.*.tmp",
    ".dataset-*.duckdb.lock",
    "games/.*.json.*.tmp",
    "worlds/.world-*.json.*.tmp",
    "runs/.run-*.json.*.tmp",
    "tables/.table-*.json.*.tmp",
)
#: reesim's subfolders of its cache (never followed when they are links)
SUBFOLDERS = ("games", "worlds", "runs", "tables")


@dataclass(frozen=True)
class Entry:
    """One file of the cache: its path, size in bytes, kind and whether its content verifies."""

    path: Path
    size: int
    kind: str
    verified: bool | None


def entries(folder: Path) -> list[Entry]:
    """The files of reesim's cache in ``folder`` (verification without warnings)."""
    out = []
    for pattern in PATTERNS:
        sub = pattern.split("/")[0] if "/" in pattern else None
        if sub is not None and (folder / sub).is_symlink():
            continue  # a link planted in place of a subfolder: not reesim's, not followed
        for path in sorted(folder.glob(pattern)):
            if not path.is_file() or path.is_symlink():
                continue
            kind, ok = "other", None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheWarning)
                if path.name.endswith(".duckdb"):
                    kind, ok = "dataset (DuckDB)", verified_file(path)
                elif path.name.endswith(".duckdb.sha256"):
                    kind = "record (SHA-256)"
                elif path.parent.name == "games" and path.suffix == ".json":
                    kind, ok = "game profile outcome", read_blob(path) is not None
                elif path.parent.name == "worlds" and path.suffix == ".json":
                    kind, ok = "default world (JSON)", read_blob(path) is not None
                elif path.parent.name == "runs" and path.suffix == ".json":
                    kind, ok = "counterfactual run (JSON)", read_blob(path) is not None
                elif path.parent.name == "tables" and path.suffix == ".json":
                    kind, ok = "table derived from the dataset (JSON)", read_blob(path) is not None
                elif path.suffix == ".pkl":
                    kind, ok = "obsolete world pickle (never read)", False
                elif path.name.endswith((".tmp", ".lock")):
                    kind = "temporary or lock file"
            out.append(Entry(path, path.stat().st_size, kind, ok))
    return out


def clear(folder: Path) -> tuple[int, int]:
    """Delete reesim's files from ``folder`` (nothing else); returns (files, bytes) removed."""
    n = size = 0
    for e in entries(folder):
        with contextlib.suppress(FileNotFoundError):
            e.path.unlink()
            n, size = n + 1, size + e.size
    for sub in SUBFOLDERS:
        with contextlib.suppress(OSError):
            (folder / sub).rmdir()  # only if empty
    return n, size
