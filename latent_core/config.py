"""One source of truth for settings and defaults, read by the library, the app and the CLI.

Environment variables:
    LATENT_CACHE_DIR: root of every cache (embeddings, unzipped models, numba). Default: the user's
        cache directory (``$XDG_CACHE_HOME/latent-space-explorer`` or ``~/.cache/latent-space-explorer``).
    LATENT_DEVICE: force a torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
    LATENT_BUNDLED_DIR: folder of read-only precomputed embeddings (default ``assets/embeddings``); set it
        empty to always encode.
    LATENT_OFFLINE: ``1`` to never try the network (hub models and datasets fail at once). Also implied
        by ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "latent-space-explorer"


def cache_root() -> Path:
    """The root folder of every cache; created on first use."""
    configured = os.environ.get("LATENT_CACHE_DIR")
    if configured:
        root = Path(configured).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / APP_NAME
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_subdir(name: str) -> Path:
    """A named folder under :func:`cache_root` (``embeddings``, ``models``, ``numba``...)."""
    path = cache_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


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
