"""Choice of the torch device: an explicit argument, then LATENT_DEVICE, then CUDA, MPS, CPU."""

from __future__ import annotations

import os

import torch

from latent_core.errors import ConfigError


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Args:
        device: an explicit choice (``"cpu"``, ``"cuda:0"``, ``"mps"``...). ``None`` reads the
            ``LATENT_DEVICE`` environment variable, and failing that picks CUDA, then Apple MPS, then CPU.

    Returns:
        A ``torch.device`` that is available on this machine.

    Raises:
        ConfigError: the requested device is malformed or not available here.
    """
    requested = device if device is not None else (os.environ.get("LATENT_DEVICE") or None)
    if requested is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(requested)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"Unknown device {requested!r}: use 'cpu', 'cuda', 'cuda:N' or 'mps' "
            "(argument or LATENT_DEVICE)."
        ) from exc
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"Device {requested!r} was requested but CUDA is not available; use 'cpu'.")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise ConfigError(
            f"Device {requested!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)."
        )
    if chosen.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"Device {requested!r} was requested but Apple MPS is not available; use 'cpu'.")
    if chosen.type not in {"cpu", "cuda", "mps"}:
        raise ConfigError(f"Unsupported device type {chosen.type!r}: use 'cpu', 'cuda' or 'mps'.")
    return chosen
