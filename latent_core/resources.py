"""Where models and data come from: installed packages (located without importing them) and the Hugging Face
hub (reached only when it answers, so an offline machine fails fast instead of retrying for a minute).

Both :mod:`latent_core.encoders` and :mod:`latent_core.data` use these; neither imports the other's internals.
Hub clients read their offline switch once, at import. :func:`hub_session` flips it for the duration of one
load when the hub is unreachable, so cached copies still load and anything else fails at once.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from latent_core.config import is_offline

HUB_HOST = "huggingface.co"


def packages_installed(*modules: str) -> bool:
    """True when every module can be imported (checked without importing it)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except (ImportError, ValueError):
        return False


def package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package (also for names that are not identifiers), or None."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    # Folders with '-' in their name cannot be found as modules: look in sys.path directly.
    for entry in sys.path:
        candidate = Path(entry) / module
        if candidate.is_dir():
            return candidate
    return None


@functools.lru_cache(maxsize=1)
def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_available() -> bool:
    """False when offline mode is on or the hub cannot be reached (checked once per process)."""
    return not is_offline() and _hub_reachable()


@contextlib.contextmanager
def hub_session() -> Iterator[bool]:
    """Yield whether the hub is available; when it is not, put the hub clients in offline mode."""
    online = hub_available()
    if online:
        yield True
        return
    switches = []
    for module_name in ("huggingface_hub.constants", "datasets.config"):
        module = sys.modules.get(module_name)
        if module is None:
            with contextlib.suppress(ImportError):
                module = __import__(module_name, fromlist=["_"])
        if module is not None and hasattr(module, "HF_HUB_OFFLINE"):
            switches.append((module, module.HF_HUB_OFFLINE))
            module.HF_HUB_OFFLINE = True
    try:
        yield False
    finally:
        for module, value in switches:
            module.HF_HUB_OFFLINE = value
