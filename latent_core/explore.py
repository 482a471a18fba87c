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

from latent_core import metrics as _metrics
from latent_core.bootstrap import Interval, bootstrap_ci, bootstrap_mean_ci
from latent_core.errors import InvalidParameterError, ShapeMismatchError
from latent_core.metrics import (
    cknna,
    counterpart_ranks,
    jaccard_at_k,
    jaccard_per_sample,
    linear_cka,
    mean_rank,
    mrr,
    mutual_knn,
    neighbor_agreement,
    paired_cosine,
    rbf_cka,
    shared_neighbours,
    svcca,
    topk_retrieval,
    unbiased_cka,
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
# unrelated axes), per_sample (fn(x, y, k) -> [N] scores whose mean is the metric, or None: the bootstrap then
# resamples those scores instead of recomputing the metric), kernel (builds N x N kernels: computed on a seeded
# subsample of KERNEL_MAX_SAMPLES rows when N is larger), costly (seconds at a few thousand samples: the app computes
# it on request).
METRICS = Registry("metric")
KERNEL_MAX_SAMPLES = _metrics.KERNEL_MAX_SAMPLES
KERNEL_SEED = 0  # the kernel metrics' subsample above KERNEL_MAX_SAMPLES rows


def register_metric(name: str, *, help: str, shared_coordinates: bool = False, per_sample=None, kernel: bool = False,
                    costly: bool = False):
    """Decorator adding ``fn(x [N, D1], y [N, D2], k) -> float`` to :data:`METRICS`: a column of
    :func:`space_metrics` named ``name`` (after those registered before it), explained by ``help``.
    ``per_sample``: ``fn(x, y, k) -> [N]`` scores whose mean is the metric (its bootstrap resamples them); without
    it the bootstrap recomputes the metric on subsamples (:mod:`latent_core.bootstrap`)."""
    return METRICS.register(name, help=help, shared_coordinates=shared_coordinates, per_sample=per_sample,
                            kernel=kernel, costly=costly)


def _meta(name: str, key: str, default=None):
    return METRICS.meta(name).get(key, default)


def kernel_rows(n: int) -> np.ndarray | None:
    """``[KERNEL_MAX_SAMPLES]`` sorted rows of a seeded random subsample (``KERNEL_SEED``) when ``n`` is larger than
    :data:`KERNEL_MAX_SAMPLES`; None when the kernel metrics use every sample."""
    if n <= KERNEL_MAX_SAMPLES:
        return None
    return np.sort(np.random.default_rng(KERNEL_SEED).choice(n, KERNEL_MAX_SAMPLES, replace=False))


def kernel_note(n: int) -> str | None:
    """What the app says about the kernel metrics at ``n`` samples (None when they use all of them)."""
    if kernel_rows(n) is None:
        return None
    names = ", ".join(name for name in METRICS if _meta(name, "kernel", False))
    return (f"{names} build N x N kernels: they are computed on a seeded random subsample of {KERNEL_MAX_SAMPLES:,} "
            f"of the {n:,} samples (the other metrics use all of them).")


def _kernel(function):
    """``function(x, y, k)`` on the seeded subsample of :func:`kernel_rows` when there are too many rows."""

    def on_rows(x: ArrayLike, y: ArrayLike, k: int) -> float:
        rows = kernel_rows(len(x))
        if rows is not None:
            x, y = as_matrix(x, "x")[rows], as_matrix(y, "y")[rows]
        return function(x, y, min(k, KERNEL_MAX_SAMPLES - 1))

    on_rows.__doc__ = function.__doc__
    return on_rows


def _ranks(x: ArrayLike, y: ArrayLike) -> torch.Tensor:
    return counterpart_ranks(x, y).double()


@register_metric("linear CKA", help="Centred kernel alignment of the Gram matrices (1 = same geometry up to "
                 "rotation and scale).")
def _linear_cka(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return linear_cka(x, y)


@register_metric("mutual k-NN", help="Mean fraction of each sample's k nearest neighbours found in both spaces.",
                 per_sample=lambda x, y, k: neighbor_agreement(x, y, k))
def _mutual_knn(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return mutual_knn(x, y, k)


@register_metric("Jaccard@k", help="Mean Jaccard overlap of the two k-nearest-neighbour sets of each sample.",
                 per_sample=lambda x, y, k: jaccard_per_sample(x, y, k))
def _jaccard(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return jaccard_at_k(x, y, k)


@register_metric("MRR", help="Mean reciprocal rank of a sample's own counterpart among all samples (needs shared "
                 "coordinates).", shared_coordinates=True, per_sample=lambda x, y, k: 1.0 / _ranks(x, y))
def _mrr(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return mrr(x, y)


@register_metric("mean paired cosine", help="Mean cosine between a sample's two vectors (needs shared coordinates).",
                 shared_coordinates=True, per_sample=lambda x, y, k: paired_cosine(x, y))
def _mean_paired_cosine(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return float(paired_cosine(x, y).mean())


@register_metric("top-1 retrieval", help="Fraction of samples whose own counterpart is the most similar of all "
                 "samples on the other side (vec2vec's top-1; needs shared coordinates).", shared_coordinates=True,
                 per_sample=lambda x, y, k: (_ranks(x, y) == 1).double())
def _top1(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return topk_retrieval(x, y, 1)


@register_metric("mean rank", help="Mean rank of a sample's own counterpart among all samples on the other side "
                 "(1 = always first, lower is better; vec2vec's mean rank; needs shared coordinates).",
                 shared_coordinates=True, per_sample=lambda x, y, k: _ranks(x, y))
def _mean_rank(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return mean_rank(x, y)


@register_metric("unbiased CKA", help="Linear CKA from the unbiased HSIC estimator: less inflated for few samples "
                 "in many dimensions.", kernel=True, costly=True)
def _unbiased_cka(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return _kernel(lambda x, y, k: unbiased_cka(x, y, max_samples=KERNEL_MAX_SAMPLES))(x, y, k)


@register_metric("RBF CKA", help="CKA with Gaussian kernels (bandwidth: the median distance in each space): "
                 "compares local as well as global geometry.", kernel=True, costly=True)
def _rbf_cka(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return _kernel(lambda x, y, k: rbf_cka(x, y, max_samples=KERNEL_MAX_SAMPLES))(x, y, k)


@register_metric("CKNNA", help="CKA restricted to pairs of samples that are k nearest neighbours in both spaces "
                 "(Huh et al., 2024).", kernel=True, costly=True)
def _cknna(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return _kernel(lambda x, y, k: cknna(x, y, k, max_samples=KERNEL_MAX_SAMPLES))(x, y, k)


@register_metric("SVCCA", help="Mean canonical correlation between the two spaces after keeping the singular "
                 "directions that explain 99% of each one's variance.", costly=True)
def _svcca(x: ArrayLike, y: ArrayLike, k: int) -> float:
    return svcca(x, y)


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


def _applies(metric: str, comparison: str) -> bool:
    return not _meta(metric, "shared_coordinates", False) or comparison in SHARED_COORDINATES


def _chosen(costly: bool) -> list[str]:
    return [name for name in METRICS if costly or not _meta(name, "costly", False)]


def space_metrics(a: ArrayLike, b: ArrayLike, views: Views, k: int = 10, *, costly: bool = True) -> pd.DataFrame:
    """One row per comparison: ``comparison``, ``k``, then one column per metric of :data:`METRICS` (linear CKA,
    mutual k-NN, Jaccard@k, MRR, mean paired cosine, top-1 retrieval, mean rank, unbiased CKA, RBF CKA, CKNNA,
    SVCCA, then any registered since). Metrics that need shared coordinates (MRR, mean paired cosine, top-1, mean
    rank) are NaN on the absolute comparison: there they would compare unrelated coordinates. ``costly=False``
    leaves out the metrics registered ``costly`` (seconds each at a few thousand samples). The kernel metrics use a
    seeded subsample above :data:`KERNEL_MAX_SAMPLES` rows (:func:`kernel_note`)."""
    n = as_matrix(a, "a").shape[0]
    if n < 3:
        raise InvalidParameterError(f"Comparing spaces needs at least 3 samples, got {n}.")
    k = min(k, n - 1)
    rows = []
    with shared_neighbours():  # mutual k-NN and Jaccard@k (and A in two comparisons) share their k-NN lists
        for name, (x, y) in pairs(a, b, views).items():
            row = {"comparison": COMPARISONS[name]}
            for metric in _chosen(costly):
                row[metric] = float(METRICS.get(metric)(x, y, k)) if _applies(metric, name) else math.nan
            rows.append(row)
    import pandas as pd
    frame = pd.DataFrame(rows)
    frame.insert(1, "k", k)
    return frame


def metric_interval(metric: str, x: ArrayLike, y: ArrayLike, k: int = 10, *, n_boot: int = 200,
                    level: float = 0.95, seed: int = 0, max_samples: int | None = None) -> Interval:
    """The registered ``metric`` on ``x: [N, D1]``, ``y: [N, D2]`` with its bootstrap interval over samples: the
    per-sample scores resampled with replacement when the metric has them (k-NN and retrieval metrics: neighbours
    and candidates stay the full set, so no duplicate can be its own neighbour), otherwise the metric recomputed
    on subsamples of distinct rows (``N // 2``, at most ``max_samples``), rescaled to N
    (:mod:`latent_core.bootstrap`)."""
    function, per_sample = METRICS.get(metric), _meta(metric, "per_sample")
    if per_sample is not None:
        return bootstrap_mean_ci(per_sample(x, y, k), n_boot=n_boot, level=level, seed=seed)
    return bootstrap_ci(lambda xs, ys: function(xs, ys, min(k, len(xs) - 1)), _numpy(as_matrix(x, "x")),
                        _numpy(as_matrix(y, "y")), n_boot=n_boot, level=level, seed=seed, method="subsample",
                        max_samples=max_samples, value=float(function(x, y, k)))


def metric_intervals(a: ArrayLike, b: ArrayLike, views: Views, k: int = 10, *, n_boot: int = 200,
                     level: float = 0.95, seed: int = 0, max_samples: int | None = None,
                     costly: bool = True) -> pd.DataFrame:
    """Long table, one row per (comparison, metric) where the metric applies: ``comparison``, ``metric``, ``value``,
    ``low``, ``high`` (the ``level`` bootstrap interval of :func:`metric_interval`), ``method`` (``scores`` or
    ``subsample``), ``n_resampled`` (samples per resample), ``n_boot``, ``k``."""
    n = as_matrix(a, "a").shape[0]
    if n < 4:
        raise InvalidParameterError(f"Intervals need at least 4 samples, got {n}.")
    k = min(k, n - 1)
    rows = []
    with shared_neighbours():
        for name, (x, y) in pairs(a, b, views).items():
            for metric in _chosen(costly):
                if not _applies(metric, name):
                    continue
                interval = metric_interval(metric, x, y, k, n_boot=n_boot, level=level, seed=seed,
                                           max_samples=max_samples)
                rows.append({"comparison": COMPARISONS[name], "metric": metric, "value": interval.value,
                             "low": interval.low, "high": interval.high, "method": interval.method,
                             "n_resampled": interval.n_resampled, "n_boot": n_boot, "k": k})
    import pandas as pd
    return pd.DataFrame(rows)


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
