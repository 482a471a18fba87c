"""What the explorer shows, computed once per setting: the relative and translated views of two spaces,
similarity matrices, the metrics that compare the spaces (:data:`METRICS`, extended with
:func:`register_metric`), and the small statistics its heatmaps display.

Example:
    >>> views = compute_views(a, b, anchor_idx, projection="cosine", translator="procrustes")
    >>> views.rel_a.shape, views.translated_b.shape     # [N, K], [N, D_a]
    >>> space_metrics(a, b, views, k=10)                 # one row per comparison
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from latent_core.errors import InvalidParameterError, ShapeMismatchError
from latent_core.metrics import (
    jaccard_at_k,
    linear_cka,
    mrr,
    mutual_knn,
    neighbor_agreement,
    paired_cosine,
    shared_neighbours,
)
from latent_core.registry import Registry
from latent_core.relative import RelativeProjection
from latent_core.stitching import CENTER_SUFFIX
from latent_core.translate import get_translator
from latent_core.validation import ArrayLike, as_indices, as_int, as_matrix, check_same_rows, unit_rows

if TYPE_CHECKING:  # pandas is imported where it is used: 0.4 s the first chart need not wait for
    import pandas as pd

COMPARISONS = {
    "absolute": "absolute A vs absolute B",
    "relative": "relative A vs relative B",
    "translated": "B translated into A vs A",
}
SHARED_COORDINATES = ("relative", "translated")  # where MRR and paired cosine mean something
HEATMAP_MAX = 150  # beyond this a heatmap's cells are smaller than a pixel on a projector

# column of space_metrics -> fn(x [N, D1], y [N, D2], k) -> float. Metadata: help (one sentence for people),
# shared_coordinates (compares coordinate by coordinate: NaN on the absolute comparison, where D1 and D2 are
# unrelated axes).
METRICS = Registry("metric")


def register_metric(name: str, *, help: str, shared_coordinates: bool = False):
    """Decorator adding ``fn(x [N, D1], y [N, D2], k) -> float`` to :data:`METRICS`: a column of
    :func:`space_metrics` named ``name`` (after those registered before it), explained by ``help``."""
    return METRICS.register(name, help=help, shared_coordinates=shared_coordinates)


@register_metric("linear CKA", help="Centred kernel alignment of the Gram matrices (1 = same geometry up to "
                 "rotation and scale).")
def _linear_cka(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return linear_cka(x, y)


@register_metric("mutual k-NN", help="Mean fraction of each sample's k nearest neighbours found in both spaces.")
def _mutual_knn(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return mutual_knn(x, y, k)


@register_metric("Jaccard@k", help="Mean Jaccard overlap of the two k-nearest-neighbour sets of each sample.")
def _jaccard(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return jaccard_at_k(x, y, k)


@register_metric("MRR", help="Mean reciprocal rank of a sample's own counterpart among all samples (needs shared "
                 "coordinates).", shared_coordinates=True)
def _mrr(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return mrr(x, y)


@register_metric("mean paired cosine", help="Mean cosine between a sample's two vectors (needs shared coordinates).",
                 shared_coordinates=True)
def _mean_paired_cosine(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return float(paired_cosine(x, y).mean())


def metric_help() -> dict[str, str]:
    """Column of :func:`space_metrics` -> its one-sentence explanation, in column order."""
    return {name: METRICS.meta(name)["help"] for name in METRICS}


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
    with shared_neighbours():  # A's neighbours serve the absolute and the translated comparison
        return {name: neighbor_agreement(x, y, k).cpu().numpy() for name, (x, y) in pairs(a, b, views).items()}


def space_metrics(a: ArrayLike, b: ArrayLike, views: Views, k: int = 10) -> pd.DataFrame:
    """One row per comparison: ``comparison``, ``k``, then one column per metric of :data:`METRICS` (linear CKA,
    mutual k-NN, Jaccard@k, MRR, mean paired cosine, then any registered since). Metrics that need shared
    coordinates (MRR, mean paired cosine) are NaN on the absolute comparison: there they would compare unrelated
    coordinates."""
    n = as_matrix(a, "a").shape[0]
    if n < 3:
        raise InvalidParameterError(f"Comparing spaces needs at least 3 samples, got {n}.")
    k = min(k, n - 1)
    rows = []
    with shared_neighbours():  # mutual k-NN and Jaccard@k (and A in two comparisons) share their k-NN lists
        for name, (x, y) in pairs(a, b, views).items():
            row = {"comparison": COMPARISONS[name]}
            for metric, function in METRICS.items():
                skip = METRICS.meta(metric)["shared_coordinates"] and name not in SHARED_COORDINATES
                row[metric] = math.nan if skip else float(function(x, y, k))
            rows.append(row)
    import pandas as pd
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


def spread_anchor_order(labels: np.ndarray, anchor_idx: np.ndarray, count: int = HEATMAP_MAX) -> np.ndarray:
    """Positions into ``anchor_idx`` of at most ``count`` anchors (at least 2 where there are 2), spread evenly over
    the class-sorted order of :func:`anchor_order`: ``[min(count, K)]``, still sorted by class."""
    order = anchor_order(labels, anchor_idx)
    count = max(2, as_int(count, "count", minimum=1))
    if len(order) <= count:
        return order
    return order[np.linspace(0, len(order) - 1, count).round().astype(int)]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays (float64); NaN when either is constant or has fewer than 2 entries."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def offdiagonal_correlation(sim_a: np.ndarray, sim_b: np.ndarray) -> float:
    """Pearson correlation of the entries above the diagonal of two ``[M, M]`` matrices (how far two similarity
    matrices agree, the diagonal of ones left out); NaN when M < 3 or either side is constant."""
    sim_a, sim_b = np.asarray(sim_a), np.asarray(sim_b)
    if sim_a.ndim != 2 or sim_a.shape[0] != sim_a.shape[1] or sim_a.shape != sim_b.shape:
        raise ShapeMismatchError(f"Need two square matrices of one shape, got {sim_a.shape} and {sim_b.shape}.")
    if len(sim_a) < 3:
        return math.nan
    upper = np.triu_indices(len(sim_a), k=1)
    return _pearson(sim_a[upper], sim_b[upper])


def row_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[R]`` Pearson correlation of each row of ``x: [R, C]`` with the same row of ``y: [R, C]`` (float64);
    NaN for a row constant on either side."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or x.shape != y.shape:
        raise ShapeMismatchError(f"Need two matrices of one shape, got {x.shape} and {y.shape}.")
    return np.array([_pearson(a, b) for a, b in zip(x, y)], dtype=np.float64)
