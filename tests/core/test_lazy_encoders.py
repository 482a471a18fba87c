"""Nothing loads a model until something encodes: building an encoder, its fingerprint (the cache key) and a cache
hit read only small config files; the fingerprints are the ones the bundled embeddings were made with."""

import json
import threading
import time

import numpy as np
import pytest

from latent_core.cache import BUNDLED_DIR, EmbeddingCache
from latent_core.config import DEFAULT_SCENARIO
from latent_core.data import load_dataset
from latent_core.embed import embed_dataset, embedding_cache_key
from latent_core.encoders import get_encoder, list_encoders, sentence
from latent_core.encoders.base import MODEL_LOADS, Encoder, is_loaded, lazy
from tests.conftest import require

# Fingerprints (hashes of the weight files) as the eager encoders computed them before loading became lazy: the
# embedding cache keys, and so the bundled embeddings, depend on them staying byte-identical.
FINGERPRINTS = {
    "st:sentence-transformers/all-MiniLM-L6-v2": "f35e641b206ee53f",
    "st:sentence-transformers/all-mpnet-base-v2": "0c416ad60b0c5600",
    "effnet:lite0": "ebfa355b7afc7ae9",
    "onnx:paraphrase-MiniLM-L3-v2": "8c50ee15c6bba0f0",
    "e5:multilingual-e5-small": "275e1a16411eeaba",
    "glove:6B-50d": "7b6fff99bbfbdf4d",
}
SLOTS = {"st": "model", "effnet": "model", "onnx": "_runtime", "e5": "_engine", "glove": "_table"}
PACKAGED_ST = [sentence.MINILM, sentence.MPNET]


def _available(spec: str) -> bool:
    return {r.spec: r for r in list_encoders()}[spec].available


@pytest.mark.parametrize("spec", sorted(FINGERPRINTS))
def test_building_an_encoder_and_its_fingerprint_load_no_weights(spec):
    require(_available(spec), f"{spec} is not installed")
    before = MODEL_LOADS[spec]
    encoder = get_encoder(spec)
    assert encoder.fingerprint == FINGERPRINTS[spec]
    info = {r.spec: r for r in list_encoders()}[spec]
    assert (encoder.dim, encoder.modality) == (info.dim, info.modality)
    encoder.preprocessing, encoder.max_tokens, repr(encoder)  # noqa: B018 - what the app and the cache key read
    assert not is_loaded(encoder, SLOTS[spec.split(":")[0]]), spec
    assert MODEL_LOADS[spec] == before


def test_default_scenario_opens_from_the_bundled_embeddings_without_loading_a_model(tmp_path, monkeypatch):
    for model_id in PACKAGED_ST:
        require(_available(f"st:{model_id}"), f"{model_id} is not installed")
    require(any(BUNDLED_DIR.glob("*.npy")), "assets/embeddings holds no bundled embeddings")

    def refuse():
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(sentence, "_loader", refuse)
    scenario = DEFAULT_SCENARIO
    data = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.seed)
    bundled = {path.stem for path in BUNDLED_DIR.glob("*.npy")}
    for spec in (scenario.encoder_a, scenario.encoder_b):
        encoder = get_encoder(spec)
        assert embedding_cache_key(encoder, data) in bundled, spec  # the key the bundle was generated with
        # an empty cache folder: the bundled copy answers
        out = embed_dataset(encoder, data, cache=EmbeddingCache(root=tmp_path / "cache", bundled=[BUNDLED_DIR]))
        assert out.shape == (len(data), encoder.dim)
        assert not is_loaded(encoder), spec


@pytest.mark.slow
@pytest.mark.parametrize("model_id", PACKAGED_ST)
def test_dim_and_max_tokens_from_config_files_match_the_loaded_model(model_id):
    spec = f"st:{model_id}"
    require(_available(spec), f"{spec} is not installed")
    encoder = get_encoder(spec)
    dim, max_tokens = encoder.dim, encoder.max_tokens
    assert not is_loaded(encoder)
    loads = MODEL_LOADS[spec]
    model = encoder.model
    assert MODEL_LOADS[spec] == loads + 1 and is_loaded(encoder)
    assert dim == model.get_embedding_dimension()
    assert max_tokens == model.max_seq_length
    out = encoder.encode(["a cat", "the stock market"])
    assert out.shape == (2, dim)
    assert encoder.model is model and MODEL_LOADS[spec] == loads + 1  # loaded once
    assert encoder.fingerprint == FINGERPRINTS[spec]  # the files, not the loaded weights


def _folder(tmp_path, modules, configs):
    tmp_path.mkdir(parents=True)
    (tmp_path / "modules.json").write_text(json.dumps(
        [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
         for i, (kind, path) in enumerate(modules)]))
    for relative, content in configs.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(json.dumps(content))
    return tmp_path


def test_folder_layout_reads_pooling_dense_and_max_length(tmp_path):
    mean = {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True}
    folder = _folder(tmp_path / "plain", [("Transformer", ""), ("Pooling", "1_Pooling"), ("Normalize", "2_Normalize")],
                     {"sentence_bert_config.json": {"max_seq_length": 128}, "1_Pooling/config.json": mean})
    assert sentence.folder_layout(folder) == (384, 128)
    two_modes = {"word_embedding_dimension": 256, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": True}
    folder = _folder(tmp_path / "dense", [("Transformer", ""), ("Pooling", "1_Pooling"), ("Dense", "2_Dense")],
                     {"1_Pooling/config.json": two_modes, "2_Dense/config.json": {"in_features": 512,
                                                                                   "out_features": 96}})
    assert sentence.folder_layout(folder) == (96, None)  # no sentence_bert_config: the model says
    folder = _folder(tmp_path / "new", [("Transformer", ""), ("Pooling", "1_Pooling")],
                     {"1_Pooling/config.json": {"embedding_dimension": 64, "pooling_mode": ["mean", "max"]}})
    assert sentence.folder_layout(folder)[0] == 128
    folder = _folder(tmp_path / "odd", [("Transformer", ""), ("Pooling", "1_Pooling"), ("LayerNorm", "2")],
                     {"sentence_bert_config.json": {"max_seq_length": 64}, "1_Pooling/config.json": mean})
    assert sentence.folder_layout(folder) == (None, 64)  # an unknown module may change the dimension
    assert sentence.folder_layout(tmp_path / "missing") == (None, None)


def test_unknown_layout_loads_the_model_for_dim(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "odd", [("Transformer", ""), ("Pooling", "1_Pooling"), ("LayerNorm", "2")],
                     {"1_Pooling/config.json": {"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True}})

    class Stub:
        max_seq_length = 77

        def get_embedding_dimension(self):
            return 11

    monkeypatch.setitem(sentence._PACKAGED, "test/stub",
                        sentence._Packaged(lambda: True, lambda: folder, 11, "nothing to install"))
    monkeypatch.setattr(sentence, "_loader", lambda: lambda *args, **kwargs: Stub())
    encoder = sentence.SentenceTransformerEncoder("test/stub")
    assert not is_loaded(encoder)
    assert (encoder.dim, encoder.max_tokens) == (11, 77)
    assert is_loaded(encoder)


class SlowLoading(Encoder):
    modality = "text"
    dim = 1

    def __init__(self):
        super().__init__("cpu")
        self.spec = "test:slow-loading"
        self.builds = 0

    @lazy
    def model(self):
        self.builds += 1
        time.sleep(0.2)
        return object()

    def _encode_batch(self, batch):
        self.model  # noqa: B018
        return np.zeros((len(batch), 1), dtype=np.float32)


def test_concurrent_first_uses_load_once():
    encoder = SlowLoading()
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(encoder.model)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert encoder.builds == 1 and len({id(model) for model in seen}) == 1
    assert is_loaded(encoder) and not is_loaded(SlowLoading())
    encoder.model = "replaced"  # assignable, like functools.cached_property
    assert encoder.model == "replaced"
