"""Content fingerprints for cache keys: model weight files, tensors, and dataset contents."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from latent_core.cache import try_write_bytes
from latent_core.config import cache_subdir

_CHUNK = 1 << 22


def _file_digest(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(paths: Iterable[str | Path]) -> str:
    """Hash of the contents of weight files (folders are walked).

    Hashing a 400 MB model takes about a second, so each file's digest is memoised on disk by
    (path, size, mtime): an edited or replaced file is hashed again.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    memo_path = cache_subdir("fingerprints") / "files.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    total = hashlib.sha1()
    changed = False
    for file in files:
        stat = file.stat()
        memo_key = f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        digest = memo.get(memo_key)
        if digest is None:
            digest = memo[memo_key] = _file_digest(file)
            changed = True
        total.update(f"{file.name}:{digest};".encode())
    if changed:
        try_write_bytes(memo_path, json.dumps(memo).encode())  # a full disk costs a re-hash, not the encoding
    return total.hexdigest()[:16]


def module_fingerprint(module) -> str:
    """Hash of a torch module's parameters and buffers (for weights that are not files)."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def item_bytes(item) -> bytes:
    """Bytes that identify one dataset item: text as UTF-8, an image as mode, size and pixels."""
    if isinstance(item, str):
        return item.encode("utf-8")
    if hasattr(item, "tobytes") and hasattr(item, "mode") and hasattr(item, "size"):  # PIL image
        return f"{item.mode}{item.size}".encode() + item.tobytes()
    if isinstance(item, np.ndarray):
        buffer = io.BytesIO()
        np.save(buffer, item, allow_pickle=False)
        return buffer.getvalue()
    raise TypeError(f"Cannot fingerprint a dataset item of type {type(item).__name__}")


def items_fingerprint(ids: Iterable[str], items: Iterable) -> str:
    """Hash of a dataset's ids and items in order."""
    digest = hashlib.sha1()
    for sample_id, item in zip(ids, items, strict=True):
        payload = item_bytes(item)
        digest.update(f"{sample_id}|{len(payload)}|".encode())
        digest.update(payload)
    return digest.hexdigest()[:16]
