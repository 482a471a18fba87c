"""What the explorer shows, computed once per setting: the relative and translated views of two spaces,
similarity matrices, and the metrics that compare the spaces.

Example:
    >>> views = compute_views(a, b, anchor_idx, projection="cosine", translator="procrustes")
    >>> views.rel_a.shape, views.translated_b.shape     # [N, K], [N, D_a]
    >>> space_metrics(a, b, views, k=10)                 # one row per comparison
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from latent_core.errors import InvalidParameterError
from latent_core.metrics import jaccard_at_k, linear_cka, mrr, mutual_knn, neighbor_agreement, paired_cosine
from latent_core.relative import RelativeProjection
from latent_core.stitching import CENTER_SUFFIX
from latent_core.translate import get_translator
from latent_core.validation import ArrayLike, as_indices, as_int, as_matrix, check_same_rows, unit_rows

METRIC_HELP = {
    "linear CKA": "Centred kernel alignment of the Gram matrices (1 = same geometry up to rotation and scale).",
    "mutual k-NN": "Mean fraction of each sample's k nearest neighbours found in both spaces.",
    "Jaccard@k": "Mean Jaccard overlap of the two k-nearest-neighbour sets of each sample.",
    "MRR": "Mean reciprocal rank of a sample's own counterpart among all samples (needs shared coordinates).",
    "mean paired cosine": "Mean cosine between a sample's two vectors (needs shared coordinates).",
}
COMPARISONS = {
    "absolute": "absolute A vs absolute B",
    "relative": "relative A vs relative B",
    "translated": "B translated into A vs A",
}
SHARED_COORDINATES = ("relative", "translated")  # where MRR and paired cosine mean something


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy().astype(np.float32)


@dataclass
class Views:
    """The spaces seen through the anchors.

    Attributes:
        anchor_idx: ``[K]`` anchor rows (shared by both spaces).
        rel_a, rel_b: ``[N, K]`` relative representations of A and B.
        translated_b: ``[N, D_a]`` B mapped into A's space by the translator fitted on the anchors.
    """

    anchor_idx: np.ndarray
    rel_a: np.ndarray
    rel_b: np.ndarray
    translated_b: np.ndarray
    projection: str
    translator: str


def compute_views(a: ArrayLike, b: ArrayLike, anchor_idx: ArrayLike, *, projection: str = "cosine",
                  translator: str = "procrustes") -> Views:
    """Relative A and B on the same anchors, and B translated into A.

    Args:
        a: ``[N, D_a]``, b: ``[N, D_b]`` the same N samples in two spaces.
        anchor_idx: ``[K]`` rows used as anchors.
        projection: a relative projection (``cosine``, ``angular``, ``euclidean``, ``l1``, ``linf``), optionally
            with ``+center`` (centre each space on its anchors first).
        translator: ``procrustes``, ``linear``, ``affine``, ``lortho`` or ``inverse_relative``.
    """
    a, b = as_matrix(a, "a"), as_matrix(b, "b")
    check_same_rows(a, b, "a and b")
    index = as_indices(anchor_idx, a.shape[0], "anchor_idx")
    base, center = projection.removesuffix(CENTER_SUFFIX), projection.endswith(CENTER_SUFFIX)
    rel_a = RelativeProjection(base, center=center).fit(a[index]).transform(a)
    rel_b = RelativeProjection(base, center=center).fit(b[index]).transform(b)
    translated = get_translator(translator).fit(b[index], a[index]).transform(b)
    return Views(anchor_idx=index.cpu().numpy(), rel_a=_numpy(rel_a), rel_b=_numpy(rel_b),
                 translated_b=_numpy(translated), projection=projection, translator=translator)


def pairs(a: ArrayLike, b: ArrayLike, views: Views) -> dict[str, tuple[ArrayLike, ArrayLike]]:
    """The three comparisons the explorer makes, name -> (A side, B side)."""
    return {"absolute": (a, b), "relative": (views.rel_a, views.rel_b), "translated": (a, views.translated_b)}


def agreement(a: ArrayLike, b: ArrayLike, views: Views, k: int = 10) -> dict[str, np.ndarray]:
    """Per sample and comparison, the fraction of its k nearest neighbours shared by both sides: ``[N]``."""
    k = min(k, as_matrix(a, "a").shape[0] - 1)
    return {name: neighbor_agreement(x, y, k).cpu().numpy() for name, (x, y) in pairs(a, b, views).items()}


def space_metrics(a: ArrayLike, b: ArrayLike, views: Views, k: int = 10) -> pd.DataFrame:
    """One row per comparison: linear CKA, mutual k-NN, Jaccard@k, and where both sides share coordinates
    MRR and mean paired cosine (NaN elsewhere: there they would compare unrelated coordinates)."""
    n = as_matrix(a, "a").shape[0]
    if n < 3:
        raise InvalidParameterError(f"Comparing spaces needs at least 3 samples, got {n}.")
    k = min(k, n - 1)
    rows = []
    for name, (x, y) in pairs(a, b, views).items():
        row = {"comparison": COMPARISONS[name], "linear CKA": linear_cka(x, y), "mutual k-NN": mutual_knn(x, y, k),
               "Jaccard@k": jaccard_at_k(x, y, k), "MRR": math.nan, "mean paired cosine": math.nan}
        if name in SHARED_COORDINATES:
            row["MRR"] = mrr(x, y)
            row["mean paired cosine"] = float(paired_cosine(x, y).mean())
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.insert(1, "k", k)
    return frame


def anchor_similarity(x: ArrayLike, anchor_idx: ArrayLike) -> np.ndarray:
    """``[K, K]`` cosine similarities between the anchors of one space."""
    x = as_matrix(x, "x")
    unit = unit_rows(x[as_indices(anchor_idx, x.shape[0], "anchor_idx")], "anchors")
    return _numpy(unit @ unit.T)


def class_mean_similarity(x: ArrayLike, labels: ArrayLike, n_classes: int) -> np.ndarray:
    """``[C, C]`` cosine similarities between class means (NaN rows for classes with no samples)."""
    x = as_matrix(x, "x").double()
    n_classes = as_int(n_classes, "n_classes", minimum=1)
    labels = as_indices(labels, n_classes, "labels", min_count=0, unique=False) if x.shape[0] else torch.zeros(
        0, dtype=torch.long)
    if labels.shape != (x.shape[0],):
        raise InvalidParameterError(f"labels must have one entry per row ({x.shape[0]}), got {tuple(labels.shape)}.")
    sums = torch.zeros(n_classes, x.shape[1], dtype=x.dtype).index_add_(0, labels, x)
    counts = torch.bincount(labels, minlength=n_classes).to(x.dtype)
    means = sums / counts.clamp(min=1)[:, None]
    norms = means.norm(dim=1, keepdim=True)
    unit = torch.where(norms > 0, means / norms.clamp(min=1e-30), torch.full_like(means, math.nan))
    return _numpy(unit @ unit.T)


def anchor_order(labels: np.ndarray, anchor_idx: np.ndarray) -> np.ndarray:
    """Positions that sort the anchors by class (then by index): heatmaps then show class blocks."""
    labels = np.asarray(labels)
    anchor_idx = as_indices(anchor_idx, len(labels) if labels.ndim else 0, "anchor_idx", min_count=0).numpy()
    return np.lexsort((anchor_idx, labels[anchor_idx]))
