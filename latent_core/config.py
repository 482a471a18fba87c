"""One source of truth for settings and defaults, read by the library, the app and the CLI.

Environment variables:
    LATENT_CACHE_DIR: root of every cache (embeddings, unzipped models, numba). Default: the user's
        cache directory (``$XDG_CACHE_HOME/latent-space-explorer`` or ``~/.cache/latent-space-explorer``).
        If it cannot be written, a per-process temporary folder is used with one warning (see
        :func:`cache_root`).
    LATENT_DEVICE: force a torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
    LATENT_BUNDLED_DIR: folder of read-only precomputed embeddings (default ``assets/embeddings``); set it
        empty to always encode.
    LATENT_OFFLINE: ``1`` to never try the network (hub models and datasets fail at once). Also implied
        by ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "latent-space-explorer"


def configured_cache_root() -> Path:
    """The cache root the settings ask for (``LATENT_CACHE_DIR`` or the user's cache folder); not created."""
    configured = os.environ.get("LATENT_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no passwd entry (some containers)
            base = tempfile.gettempdir()
    return Path(base) / APP_NAME


_FALLBACK_LOCK = threading.Lock()
_FALLBACK_ROOT: Path | None = None  # one temporary cache root per process, made on first need
_FALLBACK_WARNED: set[str] = set()  # configured folders already warned about


def _usable_folder(path: Path) -> OSError | None:
    """``None`` when ``path`` exists (created if needed) and this process can write in it, else the error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc
    if not os.access(path, os.W_OK | os.X_OK):  # also False on a read-only mount, even for root
        return PermissionError(errno.EACCES, "not writable", str(path))
    return None


def _fallback_for(wanted: Path, error: OSError) -> Path | None:
    """The per-process temporary cache root that stands in for ``wanted``; warns once per folder."""
    global _FALLBACK_ROOT
    with _FALLBACK_LOCK:
        if _FALLBACK_ROOT is None:
            try:
                _FALLBACK_ROOT = Path(tempfile.mkdtemp(prefix=f"{APP_NAME}-"))
            except OSError:
                return None
            atexit.register(shutil.rmtree, _FALLBACK_ROOT, ignore_errors=True)
        first = str(wanted) not in _FALLBACK_WARNED
        _FALLBACK_WARNED.add(str(wanted))
        fallback = _FALLBACK_ROOT
    if first:
        reason = error.strerror or str(error)
        warnings.warn(
            f"Cache folder {wanted} cannot be written ({reason}); using the temporary folder {fallback} for this "
            f"process only (deleted when it exits, so work is recomputed next time). Set LATENT_CACHE_DIR to a "
            f"writable folder or free some disk space.",
            RuntimeWarning,
            stacklevel=3,
        )
    return fallback


def cache_root() -> Path:
    """The root folder of every cache; created on first use. Never raises ``OSError``.

    When the configured folder cannot be created or written (read-only file system, no permission), this
    returns a per-process temporary folder instead (``tempfile.mkdtemp``, removed at exit) and warns once
    with a ``RuntimeWarning`` that names the folder. If even that fails, it returns the configured path
    unchanged; writers then fall back to memory (:func:`latent_core.cache.try_write_bytes`). A full disk
    is not detected here: writers handle ``ENOSPC`` themselves.
    """
    root = configured_cache_root()
    error = _usable_folder(root)
    if error is None:
        return root
    return _fallback_for(root, error) or root


def cache_subdir(name: str) -> Path:
    """A named folder under :func:`cache_root` (``embeddings``, ``models``, ``numba``...). Never raises ``OSError``.

    Falls back like :func:`cache_root` when the folder cannot be created or written (for example a read-only
    sub-folder of a writable root).
    """
    root = cache_root()
    path = root / name
    error = _usable_folder(path)
    if error is None:
        return path
    fallback = _fallback_for(path, error)
    if fallback is None or fallback == root:
        return path
    target = fallback / name
    return target if _usable_folder(target) is None else path


def available_cpus() -> int:
    """Cores this process may run on (its affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def is_offline() -> bool:
    """True when the user asked never to touch the network."""
    flags = (os.environ.get("LATENT_OFFLINE"), os.environ.get("HF_HUB_OFFLINE"))
    return any(f is not None and f.strip().lower() in {"1", "true", "yes", "on"} for f in flags)


@dataclass(frozen=True)
class Scenario:
    """What the app opens on: two encoders, a dataset and how many samples."""

    encoder_a: str
    encoder_b: str
    dataset: str
    n_samples: int | None
    seed: int = 0


DEFAULT_SCENARIO = Scenario(
    encoder_a="st:sentence-transformers/all-MiniLM-L6-v2",
    encoder_b="st:sentence-transformers/all-mpnet-base-v2",
    dataset="bbc",
    n_samples=None,  # all 2225 articles
)

DEFAULT_BATCH_SIZE = 64
