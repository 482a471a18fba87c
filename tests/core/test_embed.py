"""embed_dataset + the disk cache, with a counting fake encoder and with a real model."""

import time

import numpy as np
import pytest
import torch

from latent_core.cache import EmbeddingCache
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset, embedding_cache_key
from latent_core.encoders import get_encoder
from latent_core.encoders.base import Encoder


class CountingEncoder(Encoder):
    """Length-of-text features; counts how many items it embedded."""

    modality = "text"
    dim = 2

    def __init__(self, weights: str = "w1") -> None:
        super().__init__("cpu")
        self.spec = "test:counting"
        self.calls = 0
        self._weights = weights

    @property
    def fingerprint(self) -> str:
        return self._weights

    def _encode_batch(self, batch):
        self.calls += len(batch)
        return np.array([[len(t), t.count(" ")] for t in batch], dtype=np.float32)


@pytest.fixture
def bbc_small():
    return load_dataset("bbc", n=40, seed=0)


def test_second_call_hits_the_cache(isolated_cache, bbc_small):
    encoder = CountingEncoder()
    first = embed_dataset(encoder, bbc_small)
    assert encoder.calls == 40
    second = embed_dataset(encoder, bbc_small)
    assert encoder.calls == 40
    torch.testing.assert_close(first, second)
    expected = torch.tensor([[len(t), t.count(" ")] for t in bbc_small.items], dtype=torch.float32)
    torch.testing.assert_close(first, expected)


def test_changed_weights_or_data_miss(isolated_cache, bbc_small):
    embed_dataset(CountingEncoder("w1"), bbc_small)
    other_weights = CountingEncoder("w2")
    embed_dataset(other_weights, bbc_small)
    assert other_weights.calls == 40
    other_data = CountingEncoder("w1")
    embed_dataset(other_data, load_dataset("bbc", n=40, seed=1))
    assert other_data.calls == 40


def test_corrupted_entry_is_recomputed_with_a_warning(isolated_cache, bbc_small):
    encoder = CountingEncoder()
    reference = embed_dataset(encoder, bbc_small)
    key = embedding_cache_key(encoder, bbc_small)
    path, _ = EmbeddingCache().paths(key)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match="corrupted"):
        again = embed_dataset(encoder, bbc_small)
    assert encoder.calls == 80
    torch.testing.assert_close(again, reference)


def test_captions_are_cached_separately(isolated_cache):
    data = load_dataset("captions:digits", n=20)
    encoder = CountingEncoder()
    captions = embed_dataset(encoder, data, captions=True)
    expected = torch.tensor([[len(c), c.count(" ")] for c in data.captions], dtype=torch.float32)
    torch.testing.assert_close(captions, expected)


@pytest.mark.slow
def test_real_model_cached_call_returns_in_milliseconds(isolated_cache, monkeypatch):
    from latent_core.encoders import packaged

    data = load_dataset("bbc", n=60, seed=5)
    encoder = get_encoder("st:sentence-transformers/all-MiniLM-L6-v2")
    cold = embed_dataset(encoder, data, cache=EmbeddingCache(bundled=[]))
    start = time.perf_counter()
    warm = embed_dataset(encoder, data, cache=EmbeddingCache(bundled=[]))
    elapsed = time.perf_counter() - start
    torch.testing.assert_close(cold, warm)
    torch.testing.assert_close(warm, encoder.encode(data.items), atol=1e-5, rtol=1e-4)
    assert elapsed < 1.0, f"a cache hit took {elapsed:.3f} s"  # generous bound: typically ~1 ms
    assert packaged.minilm_dir() is not None


@pytest.mark.slow
def test_bundled_default_embeddings_match_the_models():
    """The shipped assets are what the packaged models compute today (checked on a sample of rows)."""
    from latent_core.cache import BUNDLED_DIR
    from latent_core.config import DEFAULT_SCENARIO

    data = load_dataset(DEFAULT_SCENARIO.dataset)
    for spec in (DEFAULT_SCENARIO.encoder_a, DEFAULT_SCENARIO.encoder_b):
        encoder = get_encoder(spec)
        key = embedding_cache_key(encoder, data)
        shipped = np.load(BUNDLED_DIR / f"{key}.npy", allow_pickle=False)
        rows = np.random.default_rng(0).choice(len(data), size=12, replace=False)
        fresh = encoder.encode([data.items[i] for i in rows]).numpy()
        np.testing.assert_allclose(shipped[rows], fresh, atol=2e-5, rtol=1e-4)
