"""Embedding a dataset through the disk cache: the one path the app, the CLI and the tests use."""

from __future__ import annotations

import torch

from latent_core.cache import EmbeddingCache, cache_key
from latent_core.config import DEFAULT_BATCH_SIZE
from latent_core.data.base import Dataset
from latent_core.encoders.base import Encoder, Progress
from latent_core.errors import EmbeddingAlignmentError
from latent_core.fingerprint import items_fingerprint

CACHE_FORMAT = "1"


def embedding_cache_key(encoder: Encoder, dataset: Dataset, captions: bool = False) -> str:
    """Key = encoder spec + weights fingerprint + preprocessing + dataset fingerprint (+ format version)."""
    data_print = items_fingerprint(dataset.ids, dataset.captions) if captions else dataset.fingerprint
    return cache_key(encoder=encoder.spec, weights=encoder.fingerprint, preprocessing=encoder.preprocessing,
                     dataset=data_print, field="captions" if captions else "items", format=CACHE_FORMAT)


def embed_dataset(
    encoder: Encoder,
    dataset: Dataset,
    *,
    captions: bool = False,
    cache: EmbeddingCache | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Embed ``dataset`` (its captions with ``captions=True``), reading and filling the disk cache.

    A cache entry that is damaged or has the wrong shape (rows or ``encoder.dim``) is recomputed with a
    ``RuntimeWarning``. When the cache folder cannot be written, the result is still returned (kept in memory
    for this process, one warning). See :mod:`latent_core.cache` for the guarantees.

    Returns:
        ``[len(dataset), encoder.dim]`` float32 tensor on ``encoder.device``.

    Raises:
        EmbeddingAlignmentError: no captions to embed, or the encoder itself returned the wrong dimension.
    """
    if captions and dataset.captions is None:
        raise EmbeddingAlignmentError(f"Dataset {dataset.name!r} has no captions to embed.")
    cache = cache or EmbeddingCache()
    key = embedding_cache_key(encoder, dataset, captions)

    def compute():
        if captions:
            return encoder.encode(dataset.captions, batch_size=batch_size, progress=progress).cpu().numpy()
        return encoder.encode_dataset(dataset, batch_size=batch_size, progress=progress).cpu().numpy()

    meta = {"encoder": encoder.spec, "dataset": dataset.name, "n": len(dataset), "captions": captions}
    array, hit = cache.get_or_compute(key, compute, meta, expected_rows=len(dataset), expected_dim=encoder.dim)
    if hit and progress is not None:
        progress(len(dataset), len(dataset))
    if array.shape[1] != encoder.dim:
        raise EmbeddingAlignmentError(  # only a freshly computed result can get here: cached ones are checked
            f"Encoder {encoder.spec} returned embeddings of dim {array.shape[1]}, expected {encoder.dim}.")
    return torch.from_numpy(array).to(encoder.device)
