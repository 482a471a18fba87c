"""Disk cache of embeddings: safe formats, atomic writes, self-healing on corruption, no lost work.

An entry is ``<key>.npy`` (float32, ``allow_pickle=False``) beside ``<key>.json`` (what produced it, plus
what the data must look like). The key hashes the encoder spec, a fingerprint of the encoder's weights, the
dataset fingerprint and the preprocessing, so any change to one of them is a miss, never a stale hit.

Guarantees of :class:`EmbeddingCache`:

- **An entry is visible only when complete.** Both files are first written to temporary files in the same
  folder (flushed and fsynced), then renamed into place: the data first, the metadata LAST. Both renames
  happen under an advisory lock on the folder (``flock``), so concurrent writers of one key leave one
  consistent pair (the last writer wins) and a reader never sees a half-committed pair. A process killed
  at any point leaves either the previous entry, no entry, or a data file without metadata (a miss).
- **A load is a hit only when the metadata exists, parses and matches the data**: entry format, key,
  shape (rows, and the dimension when the caller knows it), dtype float32, the sha256 of the ``.npy``
  bytes, finite values. Anything else is a miss with a ``RuntimeWarning`` that names the reason
  ("Embedding cache entry ... is corrupted (...); recomputing it."); the bad files are removed and the
  entry is recomputed by :meth:`EmbeddingCache.get_or_compute`.
- **No orphan temporary files.** Temporary names carry the writer's pid (``.<name>.<pid>.<random>.tmp``).
  Opening an :class:`EmbeddingCache` removes those whose process is gone, or which are older than an hour.
- **Work is never lost to the disk.** When the folder cannot be written (read-only, full, no permission)
  results are kept in a process-wide in-memory dictionary, with ONE ``RuntimeWarning`` per folder
  (see :func:`try_write_bytes` for its text), and returned as usual.
- **Bundled entries** (``assets/embeddings``, read-only) are searched after the cache folder. Entries
  written before the sha256 was recorded (metadata without ``entry_format``) are accepted with the checks
  they can pass (shape against the metadata, rows, dimension, dtype, finite values); in the writable
  cache folder their metadata is then upgraded in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from latent_core.config import cache_subdir

try:  # advisory folder lock; absent on Windows, where commits are then unlocked (the hash still guards reads)
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS
    fcntl = None  # type: ignore[assignment]

_UMASK = os.umask(0)
os.umask(_UMASK)

ENTRY_FORMAT = 2
"""Version of the ``.json`` metadata layout; an entry of another version is a miss."""

TEMP_MAX_AGE_S = 3600.0
"""Temporary files older than this are removed even when their writer's pid looks alive (pid reuse)."""

_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<rand>[^.]+)\.tmp$")

_MEMORY: dict[tuple[str, str], np.ndarray] = {}  # (folder, key) -> matrix kept when the folder is unwritable
_LOCK = threading.Lock()
_UNWRITABLE_WARNED: set[str] = set()


def cache_key(**parts: str) -> str:
    """A stable hex key from named string parts (order-independent)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(blob).hexdigest()[:40]


def _write_temp(path: Path, data: bytes) -> Path:
    """``data`` in a new, fsynced temporary file beside ``path`` (``.<name>.<pid>.<random>.tmp``); raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; cache files are ordinary files
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _unlink_quietly(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    Readers see the old file or the whole new one, never a part. On any error (``OSError`` included, which is
    raised) the temporary file is removed. Use :func:`try_write_bytes` where a failed write must not stop the
    caller.
    """
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def unwritable_message(folder: Path, error: OSError) -> str:
    """The text of the one warning given per folder that cannot be written."""
    reason = error.strerror or str(error) or type(error).__name__
    return (f"Cannot write to the cache folder {folder} ({reason}); results are kept in memory for this process "
            f"only and will be recomputed next time. Set LATENT_CACHE_DIR to a writable folder or free some disk "
            f"space.")


def _warn_unwritable(folder: Path, error: OSError, stacklevel: int = 3) -> None:
    """One ``RuntimeWarning`` per folder and process."""
    name = os.path.abspath(folder)
    with _LOCK:
        if name in _UNWRITABLE_WARNED:
            return
        _UNWRITABLE_WARNED.add(name)
    warnings.warn(unwritable_message(Path(name), error), RuntimeWarning, stacklevel=stacklevel + 1)


def cache_degraded() -> bool:
    """True once a cache folder of this process could not be written (results are then kept in memory, or in a
    temporary folder standing in for the cache root): the app tells its users once."""
    from latent_core.config import _FALLBACK_WARNED

    return bool(_UNWRITABLE_WARNED or _FALLBACK_WARNED)


def try_write_bytes(path: str | Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically (like :func:`atomic_write_bytes`); ``False`` instead of ``OSError``.

    For caches whose content can always be recomputed (maps, uploads, stored results): a read-only folder, a
    full disk or a missing permission returns ``False``, leaves no partial or temporary file, and warns once
    per folder and process with a ``RuntimeWarning``: "Cannot write to the cache folder <folder> (<reason>);
    results are kept in memory for this process only and will be recomputed next time. Set LATENT_CACHE_DIR
    to a writable folder or free some disk space." Keeping the data in memory is the caller's job.
    """
    path = Path(path)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        _warn_unwritable(path.parent, exc)
        return False
    return True


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def clean_orphan_temp_files(folder: str | Path, max_age_s: float = TEMP_MAX_AGE_S) -> int:
    """Remove temporary files (``.<name>.<pid>.<random>.tmp``) left in ``folder`` by killed writers.

    A temporary file is removed when the process that wrote it is no longer alive on this machine, or when it is
    older than ``max_age_s`` (older names without a pid: by age only). Never raises; returns how many were removed.
    """
    folder = Path(folder)
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    now, removed = time.time(), 0
    for name in names:
        if not (name.startswith(".") and name.endswith(".tmp")):
            continue
        path = folder / name
        try:
            stale = now - path.lstat().st_mtime > max_age_s
        except OSError:
            continue
        match = _TEMP_NAME.match(name)
        if not stale and match is not None:
            pid = int(match["pid"])
            stale = pid != os.getpid() and not _pid_alive(pid)
        if stale:
            try:
                path.unlink(missing_ok=True)
                removed += 1
            except OSError:
                pass
    return removed


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (released by the kernel if the process dies); best effort."""
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(folder, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            if fd is not None:
                os.close(fd)
            fd = None
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _checked(array: np.ndarray, expected_rows: int | None, expected_dim: int | None = None) -> np.ndarray:
    """``array`` if it is a finite float32 matrix of the expected shape; else ValueError naming what is wrong."""
    if array.dtype != np.float32 or array.ndim != 2:
        raise ValueError(f"dtype {array.dtype}, shape {array.shape}")
    if expected_rows is not None and array.shape[0] != expected_rows:
        raise ValueError(f"{array.shape[0]} rows, expected {expected_rows}")
    if expected_dim is not None and array.shape[1] != expected_dim:
        raise ValueError(f"dimension {array.shape[1]}, expected {expected_dim}")
    if not np.isfinite(array).all():
        raise ValueError("non-finite values")
    return array


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _metadata(key: str, array: np.ndarray, data: bytes, meta: dict) -> bytes:
    record = {**meta, "entry_format": ENTRY_FORMAT, "key": key, "shape": list(array.shape), "dtype": "float32",
              "sha256": hashlib.sha256(data).hexdigest()}
    return json.dumps(record, indent=1, sort_keys=True).encode()


class _Verified:
    """What :func:`_verify` found: ``array`` on success, else ``reason`` (both ``None``: no entry at all)."""

    def __init__(self, array: np.ndarray | None = None, reason: str | None = None, legacy_meta: dict | None = None,
                 raw: bytes = b"") -> None:
        self.array, self.reason, self.legacy_meta, self.raw = array, reason, legacy_meta, raw


def _verify(data_path: Path, meta_path: Path, key: str, expected_rows: int | None,
            expected_dim: int | None) -> _Verified:
    has_data, has_meta = data_path.exists(), meta_path.exists()
    if not has_data and not has_meta:
        return _Verified()
    if not has_meta:
        return _Verified(reason=f"its metadata {meta_path.name} is missing: the write was interrupted")
    if not has_data:
        return _Verified(reason=f"its data {data_path.name} is missing")
    try:
        meta = json.loads(meta_path.read_bytes())
    except (OSError, ValueError) as exc:
        return _Verified(reason=f"the metadata {meta_path.name} is not valid JSON: {type(exc).__name__}")
    if not isinstance(meta, dict):
        return _Verified(reason=f"the metadata {meta_path.name} is not a JSON object")
    legacy = "entry_format" not in meta  # written before sha256 was recorded (the bundled assets)
    if not legacy:
        if meta.get("entry_format") != ENTRY_FORMAT:
            return _Verified(reason=f"entry format {meta.get('entry_format')!r}, this version reads {ENTRY_FORMAT}")
        if meta.get("key") != key:
            return _Verified(reason=f"the metadata belongs to key {str(meta.get('key'))[:40]!r}")
        if meta.get("dtype") != "float32":
            return _Verified(reason=f"the metadata says dtype {meta.get('dtype')!r}, expected 'float32'")
    try:
        raw = data_path.read_bytes()
    except OSError as exc:
        return _Verified(reason=f"the data cannot be read: {exc.strerror or exc}")
    if not legacy and hashlib.sha256(raw).hexdigest() != meta.get("sha256"):
        return _Verified(reason="the sha256 of the data does not match its metadata")
    try:
        array = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a miss, never trusted
        return _Verified(reason=f"unreadable data: {exc}")
    if meta.get("shape") != list(array.shape):
        return _Verified(reason=f"the metadata says shape {meta.get('shape')}, the data has {list(array.shape)}")
    try:
        _checked(array, expected_rows, expected_dim)
    except ValueError as exc:
        return _Verified(reason=str(exc))
    return _Verified(array=array, legacy_meta=meta if legacy else None, raw=raw)


BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "embeddings"


def bundled_dirs() -> list[Path]:
    """Read-only embedding folders: ``LATENT_BUNDLED_DIR`` if set (empty: none), else ``assets/embeddings``."""
    configured = os.environ.get("LATENT_BUNDLED_DIR")
    if configured is None:
        return [BUNDLED_DIR]
    return [Path(configured)] if configured.strip() else []


class EmbeddingCache:
    """Float32 matrices on disk, keyed by :func:`cache_key`; see the module docstring for the guarantees.

    Entries are looked up in memory (results this process could not write), then in ``root``, then in the
    read-only ``bundled`` folders: entries that ``python -m latent_core.bundle`` generated into
    ``assets/embeddings`` with the same keys, so the default scenario opens without encoding. A bundled entry is
    used only when its key matches exactly (same weights, same data, same preprocessing).

    Args:
        root: folder of the entries; default ``<cache_root>/embeddings``. It may be unwritable: results are then
            kept in memory for this process, with one warning.
        bundled: read-only folders searched after ``root``; default :func:`bundled_dirs`.
    """

    def __init__(self, root: str | Path | None = None, bundled: list[Path] | None = None) -> None:
        self.root = Path(root) if root is not None else cache_subdir("embeddings")
        with contextlib.suppress(OSError):  # unwritable: the first save warns and keeps results in memory
            self.root.mkdir(parents=True, exist_ok=True)
        self.bundled = bundled_dirs() if bundled is None else list(bundled)
        clean_orphan_temp_files(self.root)

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npy", self.root / f"{key}.json"

    def _memory_key(self, key: str) -> tuple[str, str]:
        return os.path.abspath(self.root), key

    def load(self, key: str, expected_rows: int | None = None, expected_dim: int | None = None) -> np.ndarray | None:
        """The cached ``[rows, dim]`` float32 matrix, or ``None`` on a miss.

        A hit needs complete, matching metadata (see the module docstring). An entry that fails a check warns
        with a ``RuntimeWarning`` naming the reason, is removed, and misses; a bundled one warns and misses.
        """
        with _LOCK:
            held = _MEMORY.get(self._memory_key(key))
        if held is not None:
            with contextlib.suppress(ValueError):
                return _checked(held, expected_rows, expected_dim).copy()
        data_path, meta_path = self.paths(key)
        if data_path.exists() or meta_path.exists():
            with _folder_lock(self.root):
                found = _verify(data_path, meta_path, key, expected_rows, expected_dim)
                if found.array is not None:
                    if found.legacy_meta is not None:
                        self._upgrade(key, found)
                    return found.array
                if found.reason is not None:
                    warnings.warn(f"Embedding cache entry {data_path.name} is corrupted ({found.reason}); "
                                  f"recomputing it.", RuntimeWarning, stacklevel=2)
                    _unlink_quietly(data_path, meta_path)
        for folder in self.bundled:
            bundled_data = folder / data_path.name
            if not bundled_data.exists():
                continue
            found = _verify(bundled_data, folder / meta_path.name, key, expected_rows, expected_dim)
            if found.array is not None:
                return found.array
            warnings.warn(f"Bundled embeddings {bundled_data.name} are unusable ({found.reason}); recomputing.",
                          RuntimeWarning, stacklevel=2)
        return None

    def _upgrade(self, key: str, found: _Verified) -> None:
        """Rewrite legacy metadata with the sha256 (caller holds the folder lock); best effort."""
        meta = {k: v for k, v in (found.legacy_meta or {}).items() if k != "shape"}
        tmp = None
        try:
            tmp = _write_temp(self.paths(key)[1], _metadata(key, found.array, found.raw, meta))
            os.replace(tmp, self.paths(key)[1])
            tmp = None
        except OSError:
            pass
        finally:
            _unlink_quietly(tmp)

    def save(self, key: str, array: np.ndarray, meta: dict) -> bool:
        """Store ``array`` (made float32) with ``meta``: data first, metadata last, both renamed under the lock.

        Returns ``True`` when the entry is on disk. When the folder cannot be written (``OSError``: read-only, full
        disk...) no partial entry or temporary file is left, the matrix is kept in memory for this process and
        ONE ``RuntimeWarning`` per folder says so (text: :func:`unwritable_message`); returns ``False``.
        """
        array = np.ascontiguousarray(array, dtype=np.float32)
        data = _npy_bytes(array)
        meta_bytes = _metadata(key, array, data, meta)
        data_path, meta_path = self.paths(key)
        data_tmp = meta_tmp = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            data_tmp = _write_temp(data_path, data)
            meta_tmp = _write_temp(meta_path, meta_bytes)
            with _folder_lock(self.root):
                try:
                    os.replace(data_tmp, data_path)
                    data_tmp = None
                    os.replace(meta_tmp, meta_path)
                    meta_tmp = None
                except BaseException:
                    if data_tmp is None:  # data committed without its metadata: take the pair back
                        _unlink_quietly(data_path, meta_path)
                    raise
        except OSError as exc:
            _warn_unwritable(self.root, exc)
            with _LOCK:
                _MEMORY[self._memory_key(key)] = array
            return False
        finally:
            _unlink_quietly(data_tmp, meta_tmp)
        with _LOCK:
            _MEMORY.pop(self._memory_key(key), None)
        return True

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], np.ndarray],
        meta: dict,
        expected_rows: int | None = None,
        expected_dim: int | None = None,
    ) -> tuple[np.ndarray, bool]:
        """Return ``(matrix, hit)``; on a miss (or a damaged entry, with a warning) call ``compute`` and store it.

        The computed matrix is always returned, even when it cannot be stored (then it is kept in memory). A result
        that does not have the expected shape or is not finite is returned but not stored; the caller reports it.
        """
        cached = self.load(key, expected_rows=expected_rows, expected_dim=expected_dim)
        if cached is not None:
            return cached, True
        array = np.ascontiguousarray(compute(), dtype=np.float32)
        try:
            _checked(array, expected_rows, expected_dim)
        except ValueError:
            return array, False
        self.save(key, array, meta)
        return array, False
