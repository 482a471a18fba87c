"""Reaching the Hugging Face hub: fail fast and clearly when offline, instead of retrying for a minute.

Hub clients read their offline switch once, at import. :func:`hub_session` flips it for the duration
of one load when the hub is unreachable, so cached copies still load and anything else fails at once.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import sys
from collections.abc import Iterator

from latent_core.config import is_offline

HUB_HOST = "huggingface.co"


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
