"""Uploaded files: stored under the cache by an opaque content id, owned by the browser session that uploaded
them, and deleted a day later. A spec names an upload as ``upload:<id>`` (``#text=..&label=..`` for a table,
``#id=<column>`` for embeddings); its server path is never shown, put in a link, or taken from one.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import streamlit as st

from app import safety
from app.safety import UPLOAD_PREFIX, RefusedSpec, upload_id
from latent_core.cache import atomic_write_bytes
from latent_core.config import cache_subdir
from latent_core.encoders import short_name as model_name
from latent_core.errors import DatasetFormatError

OWNED_KEY = "_uploads"  # session state: upload id -> the file's name as the user gave it
TTL_SECONDS = 24 * 3600
SUFFIXES = (".csv", ".parquet", ".zip", ".npy")


class UploadStoreError(DatasetFormatError):
    """The server cannot keep the uploaded file (too large, wrong type, or no room in its cache)."""


def owned() -> dict[str, str]:
    """This session's uploads: id -> name as uploaded."""
    return st.session_state.setdefault(OWNED_KEY, {})


def _folder() -> Path:
    return cache_subdir("uploads")


def _sweep(folder: Path, now: float) -> None:
    """Delete uploads older than :data:`TTL_SECONDS` (every session's; each upload is re-made on demand)."""
    for path in folder.iterdir():
        try:
            if path.is_file() and now - path.stat().st_mtime > TTL_SECONDS:
                path.unlink()
        except OSError:
            continue


def store(name: str, content: bytes, allowed: tuple[str, ...] = SUFFIXES) -> str:
    """Keep an uploaded file and give this session its id.

    Raises:
        UploadStoreError: over the size cap, an unknown file type, or the cache cannot be written.
    """
    cap = safety.limits().max_upload_mb
    if len(content) > cap << 20:
        raise UploadStoreError(f"The file is {len(content) / (1 << 20):.0f} MB; this server accepts at most {cap} MB "
                               "per file. Upload a smaller sample.")
    suffix = Path(name).suffix.lower()
    if suffix not in allowed:
        raise UploadStoreError(f"Files of this type are not accepted here: use {', '.join(allowed)}.")
    uid = hashlib.sha256(content).hexdigest()[:20]
    try:
        folder = _folder()
        _sweep(folder, time.time())
        path = folder / f"{uid}{suffix}"
        if path.exists():
            path.touch()  # keep it another day
        else:
            atomic_write_bytes(path, content)
    except OSError as exc:
        raise UploadStoreError("The server cannot store uploads right now (its cache folder is read-only or "
                               "full). Try again later, or run the app on your own machine.") from exc
    owned()[uid] = safety.cut(Path(name).name, 80)
    return uid


def path_of(spec: str) -> Path:
    """The stored file behind ``upload:<id>``.

    Raises:
        RefusedSpec: no such upload (never made, or expired).
    """
    uid = upload_id(spec)
    if safety.UPLOAD_ID.fullmatch(uid):
        for suffix in SUFFIXES:
            path = _folder() / f"{uid}{suffix}"
            if path.exists():
                return path
    raise RefusedSpec(f"The uploaded file {safety.FOREIGN_UPLOAD}.")


def spec(uid: str, **options: str) -> str:
    """``upload:<id>`` with ``#option=value&...`` (values URL-encoded)."""
    options = {k: v for k, v in options.items() if v}
    return f"{UPLOAD_PREFIX}{uid}" + (f"#{urlencode(options)}" if options else "")


def options(spec_text: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(spec_text.partition("#")[2]).items()}


def display(spec_text: str) -> str:
    """A short human name for an upload spec: the file's name in this session, else 'an uploaded file'."""
    return owned().get(upload_id(spec_text), "an uploaded file") if spec_text.startswith(UPLOAD_PREFIX) else spec_text


def spec_label(spec_text: str) -> str:
    """A spec as shown to the user (plain text: escape it for Markdown or Plotly): uploads by their file name."""
    if spec_text.startswith(UPLOAD_PREFIX):
        return f"{display(spec_text)} (uploaded)"
    return safety.cut(spec_text, 80)


def short_name(spec_text: str) -> str:
    """The model part of a spec (``all-MiniLM-L6-v2``, ``lite0``), or the uploaded file's name."""
    if spec_text.startswith(UPLOAD_PREFIX):
        return spec_label(spec_text)
    return model_name(spec_text)


def plot_name(spec_text: str) -> str:
    """:func:`short_name` escaped for a Plotly title (Plotly renders tags)."""
    return safety.html(short_name(spec_text))
