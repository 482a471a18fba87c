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


# ---- the Cross-modal page's helpers: split, accuracy sweep, nearest anchor pairs ------------------------------

def _numpy_asif(images, image_anchors, texts, caption_anchors, k, p):
    """METHODS.md: cosine to the anchors, keep the top k, clamp at 0, power p, renormalise; then cosine."""
    def sparse(x, anchors):
        cos = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (anchors / np.linalg.norm(anchors, axis=1,
                                                                                        keepdims=True)).T
        out = np.zeros_like(cos)
        top = np.argsort(-cos, axis=1)[:, :min(k, anchors.shape[0])]
        np.put_along_axis(out, top, np.take_along_axis(cos, top, axis=1), axis=1)
        out = np.clip(out, 0, None) ** p
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    return sparse(images, image_anchors) @ sparse(texts, caption_anchors).T


def test_anchor_pair_split_is_a_seeded_nested_partition():
    from latent_core.crossmodal import anchor_pair_split

    anchors, test = anchor_pair_split(50, 12, seed=4)
    assert len(anchors) == 12 and len(test) == 38
    assert sorted(np.concatenate([anchors, test]).tolist()) == list(range(50))
    order = np.random.default_rng(4).permutation(50)
    np.testing.assert_array_equal(anchors, order[:12])
    more, _ = anchor_pair_split(50, 30, seed=4)
    np.testing.assert_array_equal(more[:12], anchors)  # nested: more pairs keep the earlier ones
    assert not np.array_equal(anchor_pair_split(50, 12, seed=5)[0], anchors)
    for bad in (0, 50, 60):
        with pytest.raises(InvalidParameterError, match="pairs"):
            anchor_pair_split(50, bad)


def test_asif_accuracy_sweep_matches_numpy_per_count():
    from latent_core.crossmodal import asif_accuracy_sweep

    anchor_images, captions, anchor_labels, test_images, test_labels, prompts = _world(3, n_anchors=120, n_test=80)
    images = np.vstack([anchor_images, test_images])
    # test images have no captions of their own in _world; any rows work since only anchor captions are read
    all_captions = np.vstack([captions, np.ones((80, captions.shape[1]))])
    labels = np.concatenate([anchor_labels, test_labels])
    order = np.random.default_rng(0).permutation(120)
    test = np.arange(120, 200)
    counts = [5, 20, 60, 120]
    frame = asif_accuracy_sweep(images, all_captions, prompts, labels, counts, anchor_order=order, test=test,
                                topk=10, power=2.0, knn_k=7)
    assert list(frame.columns) == ["n_anchors", "n_test", "chance", "method", "accuracy"]
    assert frame.n_anchors.tolist() == [c for c in counts for _ in range(2)]
    assert frame.method.tolist() == ["asif", "anchor-knn"] * len(counts) and set(frame.n_test) == {80}
    for count in counts:
        anchors = order[:count]
        rows = frame[frame.n_anchors == count].set_index("method")
        scores = _numpy_asif(images[test], images[anchors], prompts, all_captions[anchors], 10, 2.0)
        assert rows.loc["asif", "accuracy"] == pytest.approx((scores.argmax(1) == labels[test]).mean())
        # k-NN vote by hand: the k most similar anchor images vote with their (clamped) cosine
        unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
        cos = unit(images[test]) @ unit(images[anchors]).T
        k = min(7, count)
        votes = np.zeros((len(test), labels.max() + 1))
        for row, neighbours in enumerate(np.argsort(-cos, axis=1)[:, :k]):
            for j in neighbours:
                votes[row, labels[anchors][j]] += max(cos[row, j], 0) + 1e-6
        assert rows.loc["anchor-knn", "accuracy"] == pytest.approx((votes.argmax(1) == labels[test]).mean())
        _, majority = np.unique(labels[anchors], return_counts=True)
        assert rows.loc["asif", "chance"] == pytest.approx(majority.max() / count)
    accuracy = frame[frame.method == "asif"].accuracy.to_numpy()
    assert accuracy[-1] > 0.8 and accuracy[-1] >= accuracy[0]


def test_asif_accuracy_sweep_refuses_overlap_and_too_many_pairs():
    from latent_core.crossmodal import asif_accuracy_sweep

    rng = np.random.default_rng(0)
    images, captions, prompts = rng.normal(size=(30, 6)), rng.normal(size=(30, 4)), rng.normal(size=(3, 4))
    labels = rng.integers(0, 3, 30)
    with pytest.raises(InvalidParameterError, match="disjoint"):
        asif_accuracy_sweep(images, captions, prompts, labels, [20], anchor_order=np.arange(20),
                            test=np.arange(15, 30))
    with pytest.raises(InvalidParameterError, match="holds 20"):
        asif_accuracy_sweep(images, captions, prompts, labels, [25], anchor_order=np.arange(20),
                            test=np.arange(25, 30))
    with pytest.raises(ShapeMismatchError):
        asif_accuracy_sweep(images, captions, prompts, labels[:5], [5], anchor_order=np.arange(20),
                            test=np.arange(20, 30))


def test_nearest_anchor_pairs_by_cosine():
    from latent_core.crossmodal import nearest_anchor_pairs

    rng = np.random.default_rng(1)
    images, anchors = rng.normal(size=(4, 9)), rng.normal(size=(15, 9))
    index, similarity = nearest_anchor_pairs(images, anchors * 3.0, k=5)  # scale does not matter: cosine
    cos = (images / np.linalg.norm(images, axis=1, keepdims=True)) @ (
        anchors / np.linalg.norm(anchors, axis=1, keepdims=True)).T
    np.testing.assert_array_equal(index, np.argsort(-cos, axis=1)[:, :5])
    np.testing.assert_allclose(similarity, -np.sort(-cos, axis=1)[:, :5], atol=1e-6)
    with pytest.raises(InvalidParameterError):
        nearest_anchor_pairs(images, anchors, k=16)  # more than the 15 anchors
