"""Shared test setup.

- Caches go to the repo-local ``.cache/latent`` (git-ignored) unless LATENT_CACHE_DIR is set, so pytest
  and the app processes it starts share embeddings and numba's compiled code.
- The torchvision work-around runs before anything imports torchvision (FACTS.md section 1).
- ``require(condition, why)``: skips on a developer's machine, fails under CI=true, so a broken install
  step can never turn into a green run of skipped tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LATENT_CACHE_DIR", str(ROOT / ".cache" / "latent"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(os.environ["LATENT_CACHE_DIR"]) / "numba"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LATENT_DEVICE", "cpu")

from latent_core._compat.torchvision_ops import ensure_torchvision_importable  # noqa: E402

ensure_torchvision_importable()

ARTIFACTS = ROOT / "tests" / "artifacts"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    """Skip the test when ``condition`` is false, or fail it when running in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must have this: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A fresh, empty cache root for tests that count hits and misses."""
    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"
