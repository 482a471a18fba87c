"""Disk cache of embeddings: safe formats, atomic writes, self-healing on corruption.

An entry is ``<key>.npy`` (float32, ``allow_pickle=False``) beside ``<key>.json`` (what produced it).
The key hashes the encoder spec, a fingerprint of the encoder's weights, the dataset fingerprint and
the preprocessing, so any change to one of them is a miss, never a stale hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from latent_core.config import cache_subdir

_UMASK = os.umask(0)
os.umask(_UMASK)


def cache_key(**parts: str) -> str:
    """A stable hex key from named string parts (order-independent)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(blob).hexdigest()[:40]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; cache files are ordinary files
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _checked(array: np.ndarray, expected_rows: int | None) -> np.ndarray:
    """``array`` if it is a finite float32 matrix with the expected row count; else ValueError."""
    if array.dtype != np.float32 or array.ndim != 2:
        raise ValueError(f"dtype {array.dtype}, shape {array.shape}")
    if expected_rows is not None and array.shape[0] != expected_rows:
        raise ValueError(f"{array.shape[0]} rows, expected {expected_rows}")
    if not np.isfinite(array).all():
        raise ValueError("non-finite values")
    return array


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "embeddings"


def bundled_dirs() -> list[Path]:
    """Read-only embedding folders: ``LATENT_BUNDLED_DIR`` if set (empty: none), else ``assets/embeddings``."""
    configured = os.environ.get("LATENT_BUNDLED_DIR")
    if configured is None:
        return [BUNDLED_DIR]
    return [Path(configured)] if configured.strip() else []


class EmbeddingCache:
    """Float32 matrices on disk, keyed by :func:`cache_key`.

    Entries are looked up in ``root`` first, then in the read-only ``bundled`` folders: entries that
    ``python -m latent_core.bundle`` generated into ``assets/embeddings`` with the same keys, so the
    default scenario opens without encoding. A bundled entry is used only when its key matches exactly
    (same weights, same data, same preprocessing).

    Args:
        root: folder of the entries; default ``<cache_root>/embeddings``.
        bundled: read-only folders searched after ``root``; default :func:`bundled_dirs`.
    """

    def __init__(self, root: str | Path | None = None, bundled: list[Path] | None = None) -> None:
        self.root = Path(root) if root is not None else cache_subdir("embeddings")
        self.root.mkdir(parents=True, exist_ok=True)
        self.bundled = bundled_dirs() if bundled is None else list(bundled)

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npy", self.root / f"{key}.json"

    def load(self, key: str, expected_rows: int | None = None) -> np.ndarray | None:
        """The cached matrix, or ``None`` on a miss. A corrupted entry warns, is removed, and misses."""
        data_path, meta_path = self.paths(key)
        if not data_path.exists():
            for folder in self.bundled:
                bundled = folder / data_path.name
                if bundled.exists():
                    try:
                        return _checked(np.load(bundled, allow_pickle=False), expected_rows)
                    except Exception as exc:  # noqa: BLE001 - never trust a damaged bundled file
                        warnings.warn(f"Bundled embeddings {bundled.name} are unusable ({exc}); recomputing.",
                                      RuntimeWarning, stacklevel=2)
            return None
        try:
            return _checked(np.load(data_path, allow_pickle=False), expected_rows)
        except Exception as exc:  # any unreadable entry is recomputed, never trusted
            warnings.warn(
                f"Embedding cache entry {data_path.name} is corrupted ({exc}); recomputing it.",
                RuntimeWarning,
                stacklevel=2,
            )
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None

    def save(self, key: str, array: np.ndarray, meta: dict) -> None:
        """Store ``array`` (made float32) and its metadata atomically."""
        data_path, meta_path = self.paths(key)
        array = np.ascontiguousarray(array, dtype=np.float32)
        atomic_write_bytes(data_path, _npy_bytes(array))
        meta = {**meta, "shape": list(array.shape)}
        atomic_write_bytes(meta_path, json.dumps(meta, indent=1, sort_keys=True).encode())

    def get_or_compute(
        self, key: str, compute: Callable[[], np.ndarray], meta: dict, expected_rows: int | None = None
    ) -> tuple[np.ndarray, bool]:
        """Return ``(matrix, hit)``; on a miss call ``compute`` and store its result."""
        cached = self.load(key, expected_rows=expected_rows)
        if cached is not None:
            return cached, True
        array = np.ascontiguousarray(compute(), dtype=np.float32)
        self.save(key, array, meta)
        return array, False
