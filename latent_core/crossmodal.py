"""Zero-shot classification across modalities.

ASIF (Norelli et al., 2022): an image encoder and a text encoder that never met, plus K image/caption
pairs. An image is described by its similarities to the K anchor images, a text by its similarities to
the K anchor captions: both live in the same K-dim "pair" space. After ASIF sparsification (top-k,
power, renormalise), a class prompt's vector and an image's vector are compared by cosine.

CLIP: the text tower embeds class prompts, the image tower embeds images, cosine decides. The stitched
variant (text-to-concept, Moayeri et al., 2023) translates another image encoder into CLIP's image space
through anchors first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from latent_core.errors import InvalidParameterError, ShapeMismatchError
from latent_core.relative import relative_projection
from latent_core.stitching import chance_rate
from latent_core.translate import get_translator
from latent_core.validation import (
    ArrayLike,
    as_indices,
    as_int,
    as_matrix,
    check_k,
    check_same_rows,
    label_codes,
    unit_rows,
    unit_rows_or_zero,
)

DEFAULT_PROMPT = "a photo of {}."


def class_prompts(label_names: Sequence[str], template: str = DEFAULT_PROMPT) -> list[str]:
    """One prompt per class, ``template`` filled with the class phrase (``"a photo of an ankle boot."``)."""
    from latent_core.data.images import class_phrase

    if "{}" not in template:
        raise InvalidParameterError(f"The prompt template must contain '{{}}' for the class, got {template!r}.")
    return [template.format(class_phrase(name)) for name in label_names]


def asif_scores(images: ArrayLike, image_anchors: ArrayLike, texts: ArrayLike, caption_anchors: ArrayLike, *,
                topk: int | None = 50, power: float | None = 3.0) -> torch.Tensor:
    """``[N, C]`` cosine between each image's and each text's sparse relative representation.

    Args:
        images: ``[N, Di]`` image embeddings; image_anchors: ``[K, Di]`` the anchor images.
        texts: ``[C, Dt]`` text embeddings (class prompts); caption_anchors: ``[K, Dt]`` the anchors' captions,
            row k describing image k.
        topk, power: ASIF sparsification (``topk`` is capped at K).
    """
    image_anchors = as_matrix(image_anchors, "image_anchors")
    caption_anchors = as_matrix(caption_anchors, "caption_anchors")
    check_same_rows(image_anchors, caption_anchors, "image anchors and caption anchors")
    k = image_anchors.shape[0]
    topk = None if topk is None else min(as_int(topk, "topk", minimum=1), k)
    rel_images = relative_projection(images, image_anchors, topk=topk, power=power)
    rel_texts = relative_projection(texts, caption_anchors, topk=topk, power=power).to(rel_images.device)
    return rel_images @ unit_rows_or_zero(rel_texts).T


def asif_predict(images: ArrayLike, image_anchors: ArrayLike, texts: ArrayLike, caption_anchors: ArrayLike, *,
                 topk: int | None = 50, power: float | None = 3.0) -> np.ndarray:
    """Index of the best-matching text for every image."""
    return asif_scores(images, image_anchors, texts, caption_anchors, topk=topk, power=power).argmax(1).cpu().numpy()


def _check_same_dim(images: torch.Tensor, anchors: torch.Tensor) -> None:
    if images.shape[1] != anchors.shape[1]:
        raise ShapeMismatchError(
            f"images ({images.shape[1]}-d) and image_anchors ({anchors.shape[1]}-d) must come from the same image "
            "encoder."
        )


def anchor_knn_predict(images: ArrayLike, image_anchors: ArrayLike, anchor_labels: ArrayLike,
                       k: int = 10) -> np.ndarray:
    """Baseline that reads the anchor images' labels directly: a cosine k-NN vote (weights = similarity,
    clamped at 0) among the anchor images. ASIF's claim is to get close to this from captions alone."""
    images = as_matrix(images, "images")
    anchors = as_matrix(image_anchors, "image_anchors", device=images.device)
    codes, names = label_codes(anchor_labels, anchors.shape[0], "anchor_labels")
    labels = codes.to(images.device)
    k = check_k(k, anchors.shape[0] + 1)
    _check_same_dim(images, anchors)
    sims = unit_rows(images, "images") @ unit_rows(anchors, "image_anchors").T
    values, index = sims.topk(k, dim=1)
    votes = torch.zeros(images.shape[0], int(labels.max()) + 1, device=images.device)
    votes.scatter_add_(1, labels[index], values.clamp_min(0) + 1e-6)
    return np.asarray(names)[votes.argmax(1).cpu().numpy()]


def clip_scores(image_embeddings: ArrayLike, prompt_embeddings: ArrayLike) -> torch.Tensor:
    """``[N, C]`` cosine between CLIP image embeddings and CLIP text embeddings of class prompts."""
    images = as_matrix(image_embeddings, "image_embeddings")
    prompts = as_matrix(prompt_embeddings, "prompt_embeddings", device=images.device)
    if images.shape[1] != prompts.shape[1]:
        raise ShapeMismatchError(
            f"Image ({images.shape[1]}-d) and prompt ({prompts.shape[1]}-d) embeddings must come from the two "
            "towers of one CLIP model."
        )
    return unit_rows(images, "image_embeddings") @ unit_rows(prompts, "prompt_embeddings").T


def stitched_clip_scores(images: ArrayLike, image_anchors: ArrayLike, clip_image_anchors: ArrayLike,
                         prompt_embeddings: ArrayLike, translator: str = "linear") -> torch.Tensor:
    """Another image encoder's embeddings, translated into CLIP's image space with a translator fitted on
    anchor images embedded by both, then classified by CLIP's text prompts."""
    mapped = get_translator(translator).fit(image_anchors, clip_image_anchors).transform(images)
    return clip_scores(mapped, prompt_embeddings)


def anchor_pair_split(n_samples: int, n_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Image/caption anchor pairs and test images: the first ``n_pairs`` of a seeded permutation of the
    samples, and the rest.

    The same seed gives nested anchor sets (the pairs for 100 contain the pairs for 50), so accuracy
    against the number of pairs measures the pairs, not a reshuffle.

    Returns:
        ``(anchors [n_pairs], test [n_samples - n_pairs])`` sample indices, disjoint.
    """
    n_samples, n_pairs = as_int(n_samples, "n_samples"), as_int(n_pairs, "n_pairs")
    seed = as_int(seed, "seed", minimum=0)
    if not 1 <= n_pairs < n_samples:
        raise InvalidParameterError(
            f"{n_samples} samples cannot hold {n_pairs} anchor pairs and at least one test image: "
            f"choose between 1 and {n_samples - 1} pairs."
        )
    order = np.random.default_rng(seed).permutation(n_samples)
    return order[:n_pairs], order[n_pairs:]


def asif_accuracy_sweep(images: ArrayLike, captions: ArrayLike, prompts: ArrayLike, labels: ArrayLike,
                        counts: Sequence[int], *, anchor_order: ArrayLike, test: ArrayLike,
                        topk: int | None = 50, power: float | None = 3.0, knn_k: int = 10) -> pd.DataFrame:
    """Zero-shot accuracy against the number of image/caption pairs, ASIF beside the anchor-label k-NN.

    For each count ``c``, the pairs are the first ``c`` samples of ``anchor_order`` (nested sets) and the
    ``test`` images are classified by :func:`asif_predict` (class prompts through the pairs' captions) and by
    :func:`anchor_knn_predict` (the pairs' labels, which ASIF never reads).

    Args:
        images: ``[N, Di]`` image embeddings; captions: ``[N, Dt]`` their captions' embeddings (row i
            describes image i); prompts: ``[C, Dt]`` one text per class; labels: ``[N]`` classes in ``[0, C)``.
        counts: numbers of pairs, each at most ``len(anchor_order)``.
        anchor_order: sample indices, in the order pairs are added; test: sample indices, disjoint from the pairs.
        topk, power: ASIF sparsification; knn_k: neighbours of the baseline (capped at the count).

    Returns:
        One row per count and method: ``n_anchors, n_test, chance`` (majority-class rate of the pairs),
        ``method`` (``"asif"`` or ``"anchor-knn"``) and ``accuracy`` on the test images.
    """
    images = as_matrix(images, "images")
    captions = as_matrix(captions, "captions")
    check_same_rows(images, captions, "images and captions")
    n = images.shape[0]
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ShapeMismatchError(f"labels must hold one class per image ({n}), got shape {labels.shape}.")
    order = as_indices(anchor_order, n, "anchor_order", min_count=1).cpu().numpy()
    test = as_indices(test, n, "test indices", min_count=1).cpu().numpy()
    if np.intersect1d(order[: max(counts, default=0)], test).size:
        raise InvalidParameterError("The anchor pairs and the test images must be disjoint.")
    y_test = labels[test]
    rows = []
    for count in counts:
        if not 1 <= count <= len(order):
            raise InvalidParameterError(f"{count} pairs asked for, but anchor_order holds {len(order)} samples.")
        anchors = order[:count]
        common = {"n_anchors": int(count), "n_test": len(test), "chance": chance_rate(labels[anchors])}
        predicted = asif_predict(images[test], images[anchors], prompts, captions[anchors], topk=topk, power=power)
        rows.append({**common, "method": "asif", "accuracy": float((predicted == y_test).mean())})
        knn = anchor_knn_predict(images[test], images[anchors], labels[anchors], k=min(knn_k, count))
        rows.append({**common, "method": "anchor-knn", "accuracy": float((knn == y_test).mean())})
    return pd.DataFrame(rows, columns=["n_anchors", "n_test", "chance", "method", "accuracy"])


def nearest_anchor_pairs(images: ArrayLike, image_anchors: ArrayLike, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` anchor images most similar (cosine) to each image: the pairs whose captions carry most of
    its ASIF representation.

    Returns:
        ``(index [N, k], similarity [N, k])``, most similar first.
    """
    images = as_matrix(images, "images")
    anchors = as_matrix(image_anchors, "image_anchors", device=images.device)
    k = check_k(k, anchors.shape[0] + 1)
    _check_same_dim(images, anchors)
    sims = unit_rows(images, "images") @ unit_rows(anchors, "image_anchors").T
    values, index = sims.topk(k, dim=1)
    return index.cpu().numpy(), values.cpu().numpy()
