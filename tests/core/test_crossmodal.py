"""Cross-modal zero-shot on synthetic spaces with a hidden shared concept, and the CLIP code path offline."""

import numpy as np
import pytest
import torch

from latent_core.crossmodal import (
    anchor_knn_predict,
    asif_predict,
    asif_scores,
    class_prompts,
    clip_scores,
    stitched_clip_scores,
)
from latent_core.errors import InvalidParameterError, ShapeMismatchError


def _world(seed=0, classes=5, n_anchors=200, n_test=300):
    """Images and texts are two unrelated random maps of the same class concepts (plus noise)."""
    rng = np.random.default_rng(seed)
    concepts = rng.normal(size=(classes, 16))
    to_image, to_text = rng.normal(size=(16, 40)), rng.normal(size=(16, 24))
    anchor_labels = rng.integers(0, classes, n_anchors)
    test_labels = rng.integers(0, classes, n_test)

    def images(labels):
        return (concepts[labels] + rng.normal(size=(len(labels), 16)) * 0.6) @ to_image

    def texts(labels):
        return (concepts[labels] + rng.normal(size=(len(labels), 16)) * 0.3) @ to_text

    return images(anchor_labels), texts(anchor_labels), anchor_labels, images(test_labels), test_labels, \
        concepts @ to_text


def test_asif_classifies_through_captions_alone():
    anchor_images, captions, anchor_labels, test_images, test_labels, prompts = _world()
    predictions = asif_predict(test_images, anchor_images, prompts, captions, topk=30, power=3)
    accuracy = (predictions == test_labels).mean()
    assert accuracy > 0.8, accuracy  # chance is about 0.2
    knn = (anchor_knn_predict(test_images, anchor_images, anchor_labels, k=10) == test_labels).mean()
    assert knn > 0.8


def test_asif_scores_match_a_direct_computation():
    anchor_images, captions, _, test_images, _, prompts = _world(1, n_anchors=20, n_test=7)

    def sparse(x, anchors, k, p):
        cos = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (anchors / np.linalg.norm(anchors, axis=1,
                                                                                        keepdims=True)).T
        out = np.zeros_like(cos)
        top = np.argsort(-cos, axis=1)[:, :k]
        np.put_along_axis(out, top, np.take_along_axis(cos, top, axis=1), axis=1)
        out = np.clip(out, 0, None) ** p
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    expected = sparse(test_images, anchor_images, 5, 2) @ sparse(prompts, captions, 5, 2).T
    np.testing.assert_allclose(asif_scores(test_images, anchor_images, prompts, captions, topk=5, power=2).numpy(),
                               expected, atol=1e-5)


def test_class_prompts():
    assert class_prompts(["Ankle boot", "Bag"]) == ["a photo of an ankle boot.", "a photo of a bag."]
    with pytest.raises(InvalidParameterError):
        class_prompts(["Bag"], template="a photo")


def test_mismatched_pairs_and_towers():
    with pytest.raises(ShapeMismatchError):
        asif_scores(np.ones((3, 4)), np.ones((5, 4)), np.ones((2, 3)), np.ones((6, 3)))
    with pytest.raises(ShapeMismatchError, match="two towers"):
        clip_scores(np.ones((3, 4)), np.ones((2, 5)))


def test_stitched_clip_recovers_a_linearly_related_space():
    rng = np.random.default_rng(2)
    clip_images = rng.normal(size=(300, 12))
    other = clip_images @ rng.normal(size=(12, 20))  # another encoder: a linear view of the same images
    prompts = rng.normal(size=(4, 12))
    direct = clip_scores(clip_images[200:], prompts).argmax(1)
    stitched = stitched_clip_scores(other[200:], other[:200], clip_images[:200], prompts).argmax(1)
    assert (direct == stitched).float().mean() > 0.95


@pytest.mark.slow
def test_clip_zero_shot_code_path_offline_with_random_weights():
    from PIL import Image

    from latent_core.encoders import get_encoder

    image_tower = get_encoder("clip:ViT-B-32/none:image")
    text_tower = get_encoder("clip:ViT-B-32/none:text")
    images = image_tower.encode([Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")])
    prompts = text_tower.encode(class_prompts(["Bag", "Coat"]))
    scores = clip_scores(images, prompts)
    assert scores.shape == (3, 2) and torch.isfinite(scores).all() and scores.abs().max() <= 1.0 + 1e-5
