"""AppTest of the Cross-modal page: ASIF zero-shot by editable prompts, one image, the anchor-pairs curve, CLIP.

Fast tests swap the page's models for the tiny ``fake:`` encoders on ``captions:digits`` through session state
and check every number against numpy written from METHODS.md (ASIF: similarities to the anchors, top-k,
power, renormalise, cosine, argmax). The slow ones load the real offline models.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

import tests.app.fakes  # noqa: F401 - registers the fake: encoders in this process
from latent_core.crossmodal import class_prompts
from latent_core.data import load_dataset
from latent_core.data.images import fashion_mnist_available
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder
from tests.app.helpers import app, assert_ok, figures, values
from tests.conftest import require

PAGE = "views/crossmodal.py"
N, SEED = 200, 0
TOPK, POWER = 200, 3.0
FAKES = {"xm_image_encoder": "fake:image-a", "xm_text_encoder": "fake:text-a", "xm_dataset": "captions:digits",
         "xm_n_samples": N, "xm_topk": TOPK}
# top-k >= every anchor count here: the captions come from 6 templates per class, so identical captions tie
# exactly and torch.topk keeps an arbitrary one of a tied group at the cut, which numpy cannot reproduce.
# Top-k truncation itself is checked against numpy on tie-free data in tests/core/test_crossmodal.py.
SIDEBAR = {"a": "fake:text-a", "b": "fake:text-b", "n": "60"}  # keeps the shared sidebar cheap


def _page(overrides: dict | None = None, timeout: int = 120):
    at = app(SIDEBAR, timeout=timeout)
    for key, value in (FAKES if overrides is None else overrides).items():
        at.session_state[key] = value
    return at.switch_page(PAGE).run()



def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


# ---- the independent reference ---------------------------------------------------------------------------------

def _spaces():
    data = load_dataset("captions:digits", n=N, seed=0)
    images = embed_dataset(get_encoder("fake:image-a"), data).numpy().astype(np.float64)
    captions = embed_dataset(get_encoder("fake:text-a"), data, captions=True).numpy().astype(np.float64)
    return data, images, captions


def _prompts(texts) -> np.ndarray:
    return get_encoder("fake:text-a").encode(list(texts)).numpy().astype(np.float64)


def _split(n_pairs: int, n: int = N, seed: int = SEED):
    order = np.random.default_rng(seed).permutation(n)  # the page's documented rule: first K are the pairs
    return order[:n_pairs], order[n_pairs:]


def _sparse(x, anchors, k=TOPK, p=POWER):
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    cos = unit(x) @ unit(anchors).T
    k = min(k, anchors.shape[0])
    top = np.argsort(-cos, axis=1)[:, :k]
    out = np.zeros_like(cos)
    np.put_along_axis(out, top, np.take_along_axis(cos, top, axis=1), axis=1)
    out = np.clip(out, 0, None) ** p
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def _asif(images, captions, prompts, anchors, rows):
    return _sparse(images[rows], images[anchors]) @ _sparse(prompts, captions[anchors]).T


def _bar_values(at, key: str = "xm-image-scores") -> np.ndarray:
    return values(figures(at)[key]["data"][0]["x"])


# ---- tests -----------------------------------------------------------------------------------------------------

def test_page_renders_with_fixed_models_and_accuracy_matches_numpy():
    at = _page()
    assert_ok(at)
    assert "fake:image-a" in at.caption[0].value and "fake:text-a" in at.caption[0].value
    assert "captions:digits" in at.caption[1].value and f"{N} images" in at.caption[1].value
    assert at.slider(key="xm-pairs").value == 160  # default 300, capped so a fifth stay test images
    data, images, captions = _spaces()
    label_names = list(data.label_names)
    assert [at.text_input(key=f"xm-prompt-{i}").value for i in range(10)] == class_prompts(label_names)
    anchors, test = _split(160)
    predicted = _asif(images, captions, _prompts(class_prompts(label_names)), anchors, test).argmax(1)
    accuracy = (predicted == data.labels[test]).mean()
    assert _metric(at, "ASIF accuracy") == f"{accuracy:.1%}"
    assert accuracy > 0.3  # chance is about 0.1: the fake spaces do share the class structure
    confusion = values(figures(at)["xm-confusion"]["data"][0]["z"]).reshape(10, 10)
    expected = np.zeros((10, 10))
    np.add.at(expected, (data.labels[test], predicted), 1)
    np.testing.assert_array_equal(confusion, expected)
    assert any(f"on {len(test)} test images" in s.value for s in at.subheader)


def test_slider_and_sidebar_seed_redraw_the_split():
    at = _page()
    at.slider(key="xm-pairs").set_value(40).run()
    assert_ok(at)
    data, images, captions = _spaces()
    prompts = _prompts(class_prompts(data.label_names))
    for seed in (0, 3):
        if seed:
            at.sidebar.number_input(key="w_seed").set_value(seed)
            at.sidebar.button[0].click().run()  # the scenario form's Apply
            assert_ok(at)
        anchors, test = _split(40, seed=seed)
        accuracy = (_asif(images, captions, prompts, anchors, test).argmax(1) == data.labels[test]).mean()
        assert _metric(at, "ASIF accuracy") == f"{accuracy:.1%}", seed
        assert f"sidebar seed ({seed})" in at.caption[0].value


def test_editing_one_prompt_changes_only_its_scores():
    at = _page()
    before = _bar_values(at)
    assert before.shape == (10,)
    data, images, captions = _spaces()
    sample = at.selectbox(key="xm-sample").value
    anchors, test = _split(160)
    prompts = class_prompts(data.label_names)
    np.testing.assert_allclose(before, _asif(images, captions, _prompts(prompts), anchors, [sample])[0], atol=1e-5)
    accuracy_before = _metric(at, "ASIF accuracy")

    at.text_input(key="xm-prompt-3").set_value("a sketch of a curly handwritten three.").run()
    assert_ok(at)
    after = _bar_values(at)
    edited = [*prompts[:3], "a sketch of a curly handwritten three.", *prompts[4:]]
    expected = _asif(images, captions, _prompts(edited), anchors, [sample])[0]
    np.testing.assert_allclose(after, expected, atol=1e-5)
    assert not np.isclose(after[3], before[3]) and np.allclose(np.delete(after, 3), np.delete(before, 3), atol=1e-6)
    predicted = _asif(images, captions, _prompts(edited), anchors, test).argmax(1)
    assert _metric(at, "ASIF accuracy") == f"{(predicted == data.labels[test]).mean():.1%}" != accuracy_before


def test_template_rewrites_all_prompts_and_errors_are_readable():
    at = _page()
    at.text_input(key="xm-template").set_value("a drawing of {}").run()
    assert_ok(at)
    data = load_dataset("captions:digits", n=N)
    assert at.text_input(key="xm-prompt-0").value == class_prompts(data.label_names, "a drawing of {}")[0]
    at.text_input(key="xm-template").set_value("no placeholder").run()
    assert not at.exception and len(at.error) == 1
    assert "{}" in at.error[0].value and "What to do" in at.error[0].value
    at.button(key="xm-reset").click().run()
    assert_ok(at)
    assert at.text_input(key="xm-prompt-0").value == class_prompts(data.label_names)[0]
    at.text_input(key="xm-prompt-2").set_value("   ").run()
    assert not at.exception and len(at.error) == 1
    assert "**two** is empty" in at.error[0].value and "What to do" in at.error[0].value
    assert not at.metric  # nothing is predicted with a class that has no prompt


def test_anchor_pairs_curve_has_the_sweep_counts_and_numpy_values():
    at = _page()
    curve = figures(at)["xm-curve"]
    traces = {trace["name"]: trace for trace in curve["data"]}
    asif = traces["ASIF (reads captions)"]
    counts = values(asif["x"]).astype(int).tolist()
    assert counts == [25, 50, 100]  # the sweep 25 ... 500, up to the 160 pairs N=200 allows
    assert values(traces["anchor-label k-NN (reads labels)"]["x"]).astype(int).tolist() == counts
    data, images, captions = _spaces()
    prompts = _prompts(class_prompts(data.label_names))
    order, test = _split(100)  # fixed test set: the samples never used as anchors on the curve
    expected = [(_asif(images, captions, prompts, order[:c], test).argmax(1) == data.labels[test]).mean()
                for c in counts]
    np.testing.assert_allclose(values(asif["y"]), expected, atol=1e-9)
    assert f"({len(test)} fixed test images)" in curve["layout"]["title"]["text"]


def test_non_image_upload_is_a_readable_error():
    at = _page()
    at.get("file_uploader")[0].upload("holiday.png", b"this is a text file, not a picture", "image/png")
    at.run()
    assert not at.exception and len(at.error) == 1
    message = at.error[0].value
    assert "holiday.png is not a readable image" in message and "What to do" in message
    assert "xm-image-scores" not in figures(at)
    assert _metric(at, "ASIF accuracy")  # the rest of the page still works


def test_png_upload_shows_its_scores_and_nearest_anchor_pairs():
    at = _page()
    data, images, captions = _spaces()
    drawing = data.items[7].resize((64, 64))
    buffer = io.BytesIO()
    drawing.save(buffer, format="PNG")
    at.get("file_uploader")[0].upload("mine.png", buffer.getvalue(), "image/png")
    at.run()
    assert_ok(at)
    decoded = Image.open(io.BytesIO(buffer.getvalue()))
    vector = get_encoder("fake:image-a").encode([decoded]).numpy().astype(np.float64)
    anchors, _ = _split(160)
    prompts = _prompts(class_prompts(data.label_names))
    expected = _sparse(vector, images[anchors]) @ _sparse(prompts, captions[anchors]).T
    np.testing.assert_allclose(_bar_values(at), expected[0], atol=1e-5)
    gallery = [element for element in at.get("image") if len(element.captions) == 8]
    assert gallery, "8 nearest anchor images with their captions"
    shown = gallery[-1].captions
    cos = (vector / np.linalg.norm(vector)) @ (images[anchors] / np.linalg.norm(images[anchors], axis=1,
                                                                                  keepdims=True)).T
    nearest = anchors[np.argsort(-cos[0])[:8]]
    assert shown == [f"{data.captions[r]} ({c:.2f})" for r, c in zip(nearest, np.sort(-cos[0])[:8] * -1)]


def test_clip_offline_shows_how_to_get_the_weights(monkeypatch):
    monkeypatch.setenv("LATENT_OFFLINE", "1")
    at = _page()
    assert_ok(at)
    message = " ".join(info.value for info in at.info)
    assert "Hugging Face hub once" in message and "HF_HUB_OFFLINE=0" in message and "cached" in message
    assert not at.toggle  # nothing to run
    assert _metric(at, "ASIF accuracy")


def test_without_fashion_mnist_the_page_falls_back_to_digits_or_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr("latent_core.data.images.FASHION_DIR", tmp_path / "nowhere")
    fallback = {**FAKES, "xm_n_samples": 120}
    del fallback["xm_dataset"]  # the default, 'captions': Fashion-MNIST, or digits without it
    at = _page(fallback)
    assert_ok(at)
    assert "captions:digits" in at.caption[1].value
    assert any("Fashion-MNIST is not installed" in info.value for info in at.info)
    at = _page({**fallback, "xm_dataset": "captions:fashion-mnist"})
    assert not at.exception and len(at.error) == 1
    assert "apt-get install dataset-fashion-mnist" in at.error[0].value and "What to do" in at.error[0].value


def test_prompts_and_pairs_survive_a_visit_to_another_page():
    at = _page()
    at.slider(key="xm-pairs").set_value(60)
    at.text_input(key="xm-prompt-1").set_value("a photo of a thin vertical stroke.").run()
    at.switch_page("views/spaces.py").run()
    assert_ok(at)
    at.switch_page(PAGE).run()
    assert_ok(at)
    assert at.slider(key="xm-pairs").value == 60
    assert at.text_input(key="xm-prompt-1").value == "a photo of a thin vertical stroke."


@pytest.mark.slow
def test_clip_code_path_with_random_weights():
    """CLIP's real loading code, offline with the random-weight towers (meaningless accuracy, real numbers)."""
    small = {**FAKES, "xm_n_samples": 60, "xm_clip_model": "ViT-B-32/none"}
    at = _page(small, timeout=300)
    assert_ok(at)
    at.toggle(key="xm-clip-run").set_value(True).run()
    assert_ok(at)
    data = load_dataset("captions:digits", n=60)
    image_tower, text_tower = get_encoder("clip:ViT-B-32/none:image"), get_encoder("clip:ViT-B-32/none:text")
    _, test = _split(at.slider(key="xm-pairs").value, n=60)
    clip_images = image_tower.encode([data.items[i] for i in test]).numpy()
    prompts = text_tower.encode(class_prompts(data.label_names)).numpy()
    cos = (clip_images / np.linalg.norm(clip_images, axis=1, keepdims=True)) @ (
        prompts / np.linalg.norm(prompts, axis=1, keepdims=True)).T
    assert _metric(at, "CLIP accuracy") == f"{(cos.argmax(1) == data.labels[test]).mean():.1%}"
    probabilities = _bar_values(at, "xm-clip-scores")
    assert probabilities.shape == (10,) and probabilities.sum() == pytest.approx(1, abs=1e-5)


@pytest.mark.slow
def test_real_offline_models_open_from_the_bundled_embeddings(tmp_path, monkeypatch):
    """A fresh machine: empty cache, so the 1000 Lite0 image and MiniLM caption embeddings must come from
    assets/embeddings (encoding the images would take minutes)."""
    require(fashion_mnist_available(), "the bundled embeddings are of Fashion-MNIST: apt-get install "
            "dataset-fashion-mnist")
    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path / "cache"))
    start = time.perf_counter()
    at = _page({}, timeout=120)
    elapsed = time.perf_counter() - start
    assert_ok(at)
    assert "effnet:lite0" in at.caption[0].value and "all-MiniLM-L6-v2" in at.caption[0].value
    assert "1000 images" in at.caption[1].value
    accuracy = float(_metric(at, "ASIF accuracy").rstrip("%")) / 100
    knn = float(_metric(at, "Anchor-label k-NN").rstrip("%")) / 100
    assert accuracy > 0.5 and knn > 0.5, (accuracy, knn)  # chance is about 0.1
    counts = values(figures(at)["xm-curve"]["data"][0]["x"]).astype(int).tolist()
    assert counts == [25, 50, 100, 200, 300, 500]
    encoded = list((tmp_path / "cache" / "embeddings").glob("*.npy"))
    assert not encoded, f"encoded instead of read from assets/embeddings: {encoded}"  # a bundled hit writes nothing
    print(f"\nfirst render of the Cross-modal page on the real models, empty cache: {elapsed:.1f} s")
