"""Real offline encoders give real embeddings; specs and failures give clear typed errors."""

import pytest
import torch

from latent_core.encoders import get_encoder, list_encoders, short_name
from latent_core.encoders.base import SHORT_NAME_CHARS
from latent_core.errors import EncoderUnavailableError, UnknownEncoderError
from tests.conftest import require

OFFLINE_TEXT = [i.spec for i in list_encoders(modality="text") if i.offline and "/none:" not in i.spec]
EXPECTED_OFFLINE = {
    "st:sentence-transformers/all-MiniLM-L6-v2": ("text", 384),
    "st:sentence-transformers/all-mpnet-base-v2": ("text", 768),
    "e5:multilingual-e5-small": ("text", 384),
    "onnx:paraphrase-MiniLM-L3-v2": ("text", 384),
    "glove:6B-50d": ("text", 50),
    "effnet:lite0": ("image", 1280),
    "effnet:lite1": ("image", 1280),
    "effnet:lite2": ("image", 1280),
    "clip:ViT-B-32/none:image": ("image", 512),
    "clip:ViT-B-32/none:text": ("text", 512),
}


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def test_list_encoders_knows_every_offline_encoder_and_marks_it_available():
    rows = {r.spec: r for r in list_encoders()}
    for spec, (modality, dim) in EXPECTED_OFFLINE.items():
        row = rows[spec]
        require(row.available, f"{spec} is not installed ({row.note}); run the README setup")
        assert (row.modality, row.dim, row.offline) == (modality, dim, True), spec
    online = [r for r in rows.values() if not r.offline]
    assert any(r.spec == "clip:ViT-B-32/openai:image" for r in online)
    assert [r.offline for r in list_encoders()] == sorted((r.offline for r in list_encoders()), reverse=True)
    assert all(r.modality == "image" for r in list_encoders(modality="image"))


@pytest.mark.slow
@pytest.mark.parametrize("spec", sorted(EXPECTED_OFFLINE))
def test_offline_encoder_loads_and_matches_its_listing(spec):
    info = {r.spec: r for r in list_encoders()}[spec]
    require(info.available, f"{spec} is not installed")
    encoder = get_encoder(spec)
    assert (encoder.modality, encoder.dim, encoder.spec) == (info.modality, info.dim, spec)
    if encoder.modality == "text":
        out = encoder.encode(["a sentence", "another, longer sentence about nothing", "x"], batch_size=2)
    else:
        from PIL import Image

        out = encoder.encode([Image.new("L", (28, 28), 128), Image.new("RGB", (40, 30), (255, 0, 0))])
    assert out.dtype == torch.float32 and out.shape == (out.shape[0], info.dim)
    assert out.device == encoder.device and torch.isfinite(out).all()
    assert len(encoder.fingerprint) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("spec", OFFLINE_TEXT)
def test_text_encoder_puts_cat_nearer_kitten_than_stock_market(spec):
    cat, kitten, stock = get_encoder(spec).encode(["cat", "kitten", "stock market"])
    assert _cos(cat, kitten) > _cos(cat, stock) + 0.05, spec


@pytest.mark.slow
def test_batching_and_order_do_not_change_embeddings():
    encoder = get_encoder("st:sentence-transformers/all-MiniLM-L6-v2")
    texts = ["short", "a considerably longer sentence than the others in this list", "mid length text", "z"]
    whole = encoder.encode(texts, batch_size=64)
    one_by_one = torch.cat([encoder.encode([t]) for t in texts])
    torch.testing.assert_close(whole, one_by_one, atol=1e-5, rtol=1e-4)
    seen = []
    encoder.encode(texts, batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 4), (4, 4)]


@pytest.mark.slow
def test_efficientnet_recognises_the_cat_photo():
    from PIL import Image
    from skimage import data as photos

    encoder = get_encoder("effnet:lite0")
    images = [Image.fromarray(photos.chelsea()), Image.fromarray(photos.coffee())]
    with torch.inference_mode():
        logits = encoder.model(encoder.preprocess(images))
    top5 = logits.topk(5, dim=1).indices.tolist()
    cats = {281, 282, 283, 284, 285, 287}  # tabby, tiger cat, Persian, Siamese, Egyptian cat, lynx
    coffee = {504, 967, 968}  # coffee mug, espresso, cup
    assert top5[0][0] in cats, top5[0]
    assert coffee & set(top5[1]), top5[1]
    features = encoder.encode(images)
    assert features.shape == (2, 1280)


@pytest.mark.slow
def test_clip_random_towers_are_reproducible_and_share_a_space():
    image_tower = get_encoder("clip:ViT-B-32/none:image")
    text_tower = get_encoder("clip:ViT-B-32/none:text")
    from PIL import Image

    a = image_tower.encode([Image.new("RGB", (50, 50), "white")])
    b = text_tower.encode(["a white square"])
    assert a.shape == b.shape == (1, 512)
    assert image_tower.fingerprint == get_encoder("clip:ViT-B-32/none:image").fingerprint


def test_unknown_encoder_specs():
    with pytest.raises(UnknownEncoderError, match="no backend prefix"):
        get_encoder("all-MiniLM-L6-v2")
    with pytest.raises(UnknownEncoderError, match="Unknown encoder backend 'bert'"):
        get_encoder("bert:base")
    with pytest.raises(UnknownEncoderError, match="lite0, lite1 or lite2"):
        get_encoder("effnet:lite9")
    with pytest.raises(UnknownEncoderError, match="clip:<model>/<pretrained>"):
        get_encoder("clip:ViT-B-32")


@pytest.mark.slow
def test_unknown_clip_tag_is_named():
    with pytest.raises(UnknownEncoderError, match="no pretrained tag 'nonsense'"):
        get_encoder("clip:ViT-B-32/nonsense:image")


@pytest.mark.slow
def test_hub_id_while_offline_names_offline_alternatives(monkeypatch):
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    with pytest.raises(EncoderUnavailableError) as error:
        get_encoder("st:some-org/model-that-is-not-cached")
    message = str(error.value)
    assert "offline" in message and "st:sentence-transformers/all-MiniLM-L6-v2" in message


@pytest.mark.slow
def test_clip_pretrained_weights_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailableError, match="ViT-B-32/openai could not be loaded"):
        get_encoder("clip:ViT-B-32/openai:image")


def test_missing_mpnet_package_says_how_to_install(monkeypatch, tmp_path):
    from latent_core.encoders import packaged

    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(packaged, "mpnet_parts", lambda: None)
    with pytest.raises(EncoderUnavailableError, match="requirements-nodeps.txt"):
        packaged.mpnet_dir()


# spec -> short name. The old variants agreed on every row except where noted: the experiment report's table
# gave ``ViT-B-32/openai:image`` for CLIP towers (the app's titles, the reference, show ``image``), and every old
# variant gave an empty name for a folder spec with a trailing slash.
SHORT_NAMES = [
    ("st:sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
    ("st:sentence-transformers/all-mpnet-base-v2", "all-mpnet-base-v2"),
    ("st:sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", "paraphrase-multilingual-MiniLM-L12-v2"),
    ("st:BAAI/bge-small-en-v1.5", "bge-small-en-v1.5"),
    ("e5:multilingual-e5-small", "multilingual-e5-small"),
    ("onnx:paraphrase-MiniLM-L3-v2", "paraphrase-MiniLM-L3-v2"),
    ("glove:6B-50d", "6B-50d"),
    ("effnet:lite0", "lite0"),
    ("effnet:lite1", "lite1"),
    ("effnet:lite2", "lite2"),
    ("clip:ViT-B-32/openai:image", "image"),
    ("clip:ViT-B-32/openai:text", "text"),
    ("clip:ViT-B-32/none:image", "image"),
    ("clip:ViT-B-32/none:text", "text"),
    ("fake:text-a", "text-a"),
    ("st:/abs/dir/model", "model"),
    ("st:/abs/dir/model/", "model"),
    ("file:/data/emb.npy", "emb.npy"),
    ("file:/data/emb.parquet#id=doc", "emb.parquet#id=doc"),
    ("st:", "st:"),
    ("st:" + "x" * 70, "x" * (SHORT_NAME_CHARS - 1) + "…"),
]


@pytest.mark.parametrize(("spec", "expected"), SHORT_NAMES)
def test_short_name(spec, expected):
    assert short_name(spec) == expected


def test_short_name_table_covers_the_catalogue():
    assert {r.spec for r in list_encoders()} <= {spec for spec, _ in SHORT_NAMES}
    assert len(short_name("st:" + "x" * SHORT_NAME_CHARS)) == SHORT_NAME_CHARS  # exactly at the cap: not cut
