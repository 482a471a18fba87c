"""How similar are two spaces of the same samples? Agreement, retrieval and representational similarity.

Neighbour metrics (``jaccard_at_k``, ``mutual_knn``, ``neighbor_agreement``) find k-NN by cosine with the
sample itself excluded, blockwise: memory is O(block * N), never N x N. They accept spaces of different
dimensions. ``knn_overlap_scores`` gives mutual k-NN and Jaccard@k from one k-NN pass per space, and inside
``shared_neighbours()`` the separate functions reuse each other's neighbour lists. Retrieval metrics (``mrr``,
``topk_retrieval``) and ``paired_cosine``/``mse`` need shared coordinates (relative vs relative, or translated vs
target). CKA variants accept different dimensions;
``linear_cka`` works in feature space (any N), the kernel variants build N x N matrices and refuse more
than ``max_samples`` rows. ``confusion_matrix`` counts a classifier's predictions per true class.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator

import numpy as np
import torch

from latent_core.errors import InvalidDtypeError, InvalidParameterError, ShapeMismatchError
from latent_core.validation import (
    ArrayLike,
    as_float,
    as_int,
    as_matrix,
    check_k,
    check_same_rows,
    check_same_shape,
    describe,
    positive_int,
    unit_rows,
)

_BLOCK_ELEMENTS = 1 << 24  # rows per block = this / N  (~64 MB of float32 similarities)
KERNEL_MAX_SAMPLES = 10_000


def _pair(x: ArrayLike, y: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    x = as_matrix(x, "x")
    y = as_matrix(y, "y", device=x.device)
    check_same_rows(x, y)
    return x, y


def _check_samples(x: torch.Tensor, minimum: int, what: str) -> None:
    if x.shape[0] < minimum:
        raise InvalidParameterError(f"{what} needs at least {minimum} sample(s), got {x.shape[0]}.")


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ELEMENTS // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def paired_cosine(x: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """Cosine between each row of ``x`` and the same row of ``y``: ``[N]``."""
    x, y = _pair(x, y)
    check_same_shape(x, y)
    return (unit_rows(x, "x") * unit_rows(y, "y")).sum(1)


def mse(x: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """Mean squared error over all entries (a scalar tensor)."""
    x, y = _pair(x, y)
    check_same_shape(x, y)
    _check_samples(x, 1, "The mean squared error")
    return (x - y).pow(2).mean()


def knn_indices(x: ArrayLike, k: int) -> torch.Tensor:
    """``[N, k]`` indices of each row's k nearest rows by cosine, self excluded, nearest first."""
    x = as_matrix(x, "x")
    n = x.shape[0]
    k = check_k(k, n)
    unit = unit_rows(x, "x")
    out = torch.empty(n, k, dtype=torch.long, device=x.device)
    for start, stop in _blocks(n, n):
        sims = unit[start:stop] @ unit.T
        rows = torch.arange(stop - start, device=x.device)
        sims[rows, rows + start] = float("-inf")
        out[start:stop] = sims.topk(k, dim=1).indices
    return out


def neighbour_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row, how many indices two ``[N, k]`` neighbour lists share."""
    counts = torch.empty(a.shape[0], dtype=torch.long, device=a.device)
    step = max(1, _BLOCK_ELEMENTS // max(1, a.shape[1] * b.shape[1]))
    for start in range(0, a.shape[0], step):
        block_a, block_b = a[start : start + step], b[start : start + step]
        counts[start : start + step] = (block_a[:, :, None] == block_b[:, None, :]).any(2).sum(1)
    return counts


# (id(input), k) -> (input, [N, k] indices) while shared_neighbours() is active; None otherwise. The input is kept
# so that its id cannot be reused by another object during the block.
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("latent_core_shared_neighbours", default=None)


@contextlib.contextmanager
def shared_neighbours():
    """Within the block, :func:`neighbor_agreement`, :func:`mutual_knn` and :func:`jaccard_at_k` compute the k-NN
    lists of each input object once and reuse them (keyed by the object's identity and k), e.g. asking both mutual
    k-NN and Jaccard@k of the same spaces costs one k-NN pass per space instead of two. The inputs must not be
    modified inside the block. Nested blocks share the outer memo; it is dropped when the outermost block ends."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _neighbours(raw: ArrayLike, x: torch.Tensor, k: int) -> torch.Tensor:
    """``knn_indices(x, k)``, memoised on ``raw`` (what the caller passed) inside :func:`shared_neighbours`."""
    memo = _SHARED.get()
    if memo is None:
        return knn_indices(x, k)
    key = (id(raw), check_k(k, x.shape[0]))  # typed errors for a bad k before it is used as a key
    if key not in memo:
        memo[key] = (raw, knn_indices(x, k))
    return memo[key][1]


def _intersections(x: ArrayLike, y: ArrayLike, k: int) -> torch.Tensor:
    """``[N]`` sizes of the intersections of each sample's k-NN sets in ``x`` and in ``y``."""
    tx, ty = _pair(x, y)
    return neighbour_overlap(_neighbours(x, tx, k), _neighbours(y, ty, k))


def neighbor_agreement(x: ArrayLike, y: ArrayLike, k: int = 10) -> torch.Tensor:
    """Per sample, the fraction of its k nearest neighbours in ``x`` that are also among its k nearest in
    ``y``: ``[N]`` in [0, 1] (colour points by it)."""
    return _intersections(x, y, k).float() / k


def _mutual_from(inter: torch.Tensor, k: int) -> float:
    return float((inter.float() / k).mean())


def _jaccard_from(inter: torch.Tensor, k: int) -> float:
    inter = inter.double()
    return float((inter / (2 * k - inter)).mean())


def mutual_knn(x: ArrayLike, y: ArrayLike, k: int = 10) -> float:
    """Mutual k-NN alignment (Huh et al., 2024): mean over samples of |NN_k^x ∩ NN_k^y| / k."""
    return _mutual_from(_intersections(x, y, k), k)


def jaccard_at_k(x: ArrayLike, y: ArrayLike, k: int = 10) -> float:
    """Mean over samples of |NN_k^x ∩ NN_k^y| / |NN_k^x ∪ NN_k^y| (Moschella et al., 2023)."""
    return _jaccard_from(_intersections(x, y, k), k)


def knn_overlap_scores(x: ArrayLike, y: ArrayLike, k: int = 10) -> dict[str, float]:
    """``{"mutual_knn": ..., "jaccard": ...}``, equal to :func:`mutual_knn` and :func:`jaccard_at_k` of the same
    arguments, from one k-NN pass per space (the two functions called separately make two)."""
    inter = _intersections(x, y, k)
    return {"mutual_knn": _mutual_from(inter, k), "jaccard": _jaccard_from(inter, k)}


def _counterpart_ranks(x: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """Rank (1 = best) of ``y[i]`` among all rows of ``y`` when ``x[i]`` retrieves by cosine. Ties count in
    the sample's favour: rank = 1 + number of rows strictly more similar than the true counterpart."""
    x, y = _pair(x, y)
    check_same_shape(x, y)
    _check_samples(x, 1, "Retrieval")
    ux, uy = unit_rows(x, "x"), unit_rows(y, "y")
    ranks = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    for start, stop in _blocks(x.shape[0], y.shape[0]):
        sims = ux[start:stop] @ uy.T
        rows = torch.arange(stop - start, device=x.device)
        true = sims[rows, rows + start][:, None]  # from the same product, so rounding cannot outrank itself
        ranks[start:stop] = 1 + (sims > true).sum(1)
    return ranks


def mrr(x: ArrayLike, y: ArrayLike) -> float:
    """Mean reciprocal rank of the true counterpart ``y[i]`` when ``x[i]`` retrieves among all ``y``."""
    return float((1.0 / _counterpart_ranks(x, y).double()).mean())


def topk_retrieval(x: ArrayLike, y: ArrayLike, k: int = 1) -> float:
    """Fraction of samples whose true counterpart is among the top ``k`` retrieved by cosine."""
    ranks = _counterpart_ranks(x, y)
    check_k(k, ranks.shape[0] + 1)
    return float((ranks <= k).double().mean())


def counterpart_ranks(x: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """``[N]`` rank (1 = best) of the true counterpart ``y[i]`` among all rows of ``y`` when ``x[i]`` retrieves by
    cosine; ties count in the sample's favour (1 + the number of rows strictly more similar)."""
    return _counterpart_ranks(x, y)


def mean_rank(x: ArrayLike, y: ArrayLike) -> float:
    """Mean rank (1 = best, N = worst) of the true counterpart ``y[i]`` when ``x[i]`` retrieves among all ``y``."""
    return float(_counterpart_ranks(x, y).double().mean())


def jaccard_per_sample(x: ArrayLike, y: ArrayLike, k: int = 10) -> torch.Tensor:
    """``[N]`` per sample, |NN_k^x ∩ NN_k^y| / |NN_k^x ∪ NN_k^y| (float64); its mean is :func:`jaccard_at_k`."""
    inter = _intersections(x, y, k).double()
    return inter / (2 * k - inter)


def retrieval_scores(translated: ArrayLike, target: ArrayLike) -> dict[str, float]:
    """vec2vec's metrics for translated vectors against their true targets (row ``i`` of ``target`` is the
    counterpart of row ``i`` of ``translated``; the other rows are the candidates): ``top1`` (the fraction
    retrieving their counterpart first by cosine), ``mean_rank`` (1 = best) and ``mean_cosine``."""
    ranks = _counterpart_ranks(translated, target).double()
    return {"top1": float((ranks == 1).double().mean()), "mean_rank": float(ranks.mean()),
            "mean_cosine": float(paired_cosine(translated, target).double().mean())}


def matching_quality(pairs: ArrayLike, source_truth: ArrayLike, target_truth: ArrayLike,
                     source_labels: ArrayLike | None = None, target_labels: ArrayLike | None = None) -> dict:
    """How good the pairs ``[M, 2]`` (source row, target row) of a correspondence are, against a hidden truth.

    ``exact``: the fraction of pairs whose two rows are the same sample (``source_truth[s] == target_truth[t]``,
    e.g. dataset row ids); ``purity``: the fraction whose labels agree (nan without labels); ``n_pairs``: M.
    """
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ShapeMismatchError(f"pairs must be an integer array [M, 2], got {pairs.dtype} {list(pairs.shape)}.")
    source_truth, target_truth = np.asarray(source_truth), np.asarray(target_truth)
    if len(pairs) and (pairs.min() < 0 or pairs[:, 0].max() >= len(source_truth)
                       or pairs[:, 1].max() >= len(target_truth)):
        raise InvalidParameterError("pairs index rows outside the source or target.")
    if len(pairs) == 0:
        return {"exact": float("nan"), "purity": float("nan"), "n_pairs": 0}
    exact = float(np.mean(source_truth[pairs[:, 0]] == target_truth[pairs[:, 1]]))
    purity = float("nan")
    if source_labels is not None and target_labels is not None:
        purity = float(np.mean(np.asarray(source_labels)[pairs[:, 0]] == np.asarray(target_labels)[pairs[:, 1]]))
    return {"exact": exact, "purity": purity, "n_pairs": int(len(pairs))}


# ---- representational similarity ---------------------------------------------------------------------


def linear_cka(x: ArrayLike, y: ArrayLike) -> float:
    """Linear CKA (Kornblith et al., 2019) through feature covariances, never an N x N matrix:
    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred Xc, Yc."""
    x, y = _pair(x, y)
    xc, yc = (m.double() - m.double().mean(0) for m in (x, y))
    cross = torch.linalg.matrix_norm(yc.T @ xc) ** 2
    denominator = torch.linalg.matrix_norm(xc.T @ xc) * torch.linalg.matrix_norm(yc.T @ yc)
    if denominator == 0:
        raise InvalidParameterError("CKA is undefined when a space is constant (all samples identical).")
    return float(cross / denominator)


def _kernel_input(x: ArrayLike, y: ArrayLike, max_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _pair(x, y)
    max_samples = as_int(max_samples, "max_samples", minimum=1)
    if x.shape[0] < 2:
        raise InvalidParameterError(f"Kernel CKA needs at least 2 samples, got {x.shape[0]}.")
    if x.shape[0] > max_samples:
        raise InvalidParameterError(
            f"This metric builds {x.shape[0]} x {x.shape[0]} kernels; subsample to at most {max_samples} rows "
            "(or raise max_samples)."
        )
    return x.double(), y.double()


def _center_kernel(k: torch.Tensor) -> torch.Tensor:
    return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()


def _hsic_biased(k: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return (_center_kernel(k) * _center_kernel(m)).sum()


def hsic_unbiased(k: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Unbiased HSIC estimator (Song et al., 2012) of two ``[N, N]`` kernels, N >= 4."""
    n = k.shape[0]
    if n < 4:
        raise InvalidParameterError(f"The unbiased HSIC needs at least 4 samples, got {n}.")
    kt, lt = k.clone(), m.clone()
    kt.fill_diagonal_(0)
    lt.fill_diagonal_(0)
    trace = (kt * lt.T).sum()  # tr(K L); the masked CKNNA kernels are not symmetric
    cross = kt.sum(0) @ lt.sum(1)  # sum of (K L)'s entries, in O(N^2) instead of forming K L (O(N^3))
    value = trace + kt.sum() * lt.sum() / ((n - 1) * (n - 2)) - 2 * cross / (n - 2)
    return value / (n * (n - 3))


def _cka_from_kernels(k: torch.Tensor, m: torch.Tensor, hsic) -> float:
    denominator = torch.sqrt(hsic(k, k) * hsic(m, m))
    if not torch.isfinite(denominator) or denominator <= 0:
        raise InvalidParameterError("CKA is undefined here (a kernel has no variation).")
    return float(hsic(k, m) / denominator)


def rbf_cka(x: ArrayLike, y: ArrayLike, sigma: float | None = None, max_samples: int = KERNEL_MAX_SAMPLES) -> float:
    """CKA with Gaussian kernels ``exp(-d^2 / (2 sigma^2))``. ``sigma=None``: per space, the median
    pairwise distance (Kornblith et al.'s default bandwidth)."""
    x, y = _kernel_input(x, y, max_samples)

    def kernel(m: torch.Tensor) -> torch.Tensor:
        sq = torch.cdist(m, m).pow(2)
        width = None if sigma is None else as_float(sigma, "sigma")
        if width is None:  # median over distinct pairs, averaging the two middle values as numpy does
            rows, cols = torch.triu_indices(len(m), len(m), offset=1, device=m.device)
            distances = sq[rows, cols].sqrt()
            count = distances.numel()
            low = distances.kthvalue((count + 1) // 2).values
            high = distances.kthvalue(count // 2 + 1).values
            width = float((low + high) / 2)
        if width <= 0:
            raise InvalidParameterError("sigma must be positive (all samples coincide?).")
        return torch.exp(-sq / (2 * width * width))

    return _cka_from_kernels(kernel(x), kernel(y), _hsic_biased)


def unbiased_cka(x: ArrayLike, y: ArrayLike, max_samples: int = KERNEL_MAX_SAMPLES) -> float:
    """Linear CKA from the unbiased HSIC estimator (less biased upwards for small N and large D)."""
    x, y = _kernel_input(x, y, max_samples)
    return _cka_from_kernels(x @ x.T, y @ y.T, hsic_unbiased)


def cknna(x: ArrayLike, y: ArrayLike, k: int = 10, max_samples: int = KERNEL_MAX_SAMPLES) -> float:
    """CKNNA (Huh et al., 2024): CKA restricted to mutual k-NN pairs. Features are L2-normalised, kernels
    are inner products, pairs (i, j) count only where j is among i's k nearest in both spaces, and the
    unbiased HSIC is used, as in the authors' code."""
    x, y = _kernel_input(x, y, max_samples)
    n = x.shape[0]
    k = check_k(k, n)
    kx, ky = (unit_rows(m.float(), name).double() for m, name in ((x, "x"), (y, "y")))
    kernel_x, kernel_y = kx @ kx.T, ky @ ky.T

    def knn_mask(kernel: torch.Tensor) -> torch.Tensor:
        masked = kernel.clone()
        masked.fill_diagonal_(float("-inf"))
        return torch.zeros_like(kernel).scatter_(1, masked.topk(k, dim=1).indices, 1.0)

    mask_x, mask_y = knn_mask(kernel_x), knn_mask(kernel_y)

    def similarity(k1, m1, k2, m2):
        mask = m1 * m2
        return hsic_unbiased(mask * k1, mask * k2)

    value = similarity(kernel_x, mask_x, kernel_y, mask_y)
    denominator = torch.sqrt(similarity(kernel_x, mask_x, kernel_x, mask_x) *
                             similarity(kernel_y, mask_y, kernel_y, mask_y))
    if not torch.isfinite(denominator) or denominator <= 0:
        raise InvalidParameterError("CKNNA is undefined here (no mutual neighbours).")
    return float(value / denominator)


def _svd_reduce(m: torch.Tensor, keep: float) -> torch.Tensor:
    centred = m - m.mean(0)
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    energy = (s * s).cumsum(0) / (s * s).sum()
    count = int((energy < keep).sum()) + 1
    return u[:, :count] * s[:count]


def svcca(x: ArrayLike, y: ArrayLike, keep: float = 0.99) -> float:
    """SVCCA (Raghu et al., 2017): keep the top singular directions of each centred space that explain a
    ``keep`` fraction of the variance, then the mean canonical correlation between the two reductions."""
    if not 0 < as_float(keep, "keep") <= 1:
        raise InvalidParameterError(f"keep must be in (0, 1], got {keep}.")
    x, y = _pair(x, y)
    rx, ry = _svd_reduce(x.double(), keep), _svd_reduce(y.double(), keep)
    if min(rx.shape[1], ry.shape[1]) == 0 or x.shape[0] < 2:
        raise InvalidParameterError("SVCCA needs at least 2 samples with some variance in each space.")
    qx, _ = torch.linalg.qr(rx - rx.mean(0))
    qy, _ = torch.linalg.qr(ry - ry.mean(0))
    correlations = torch.linalg.svdvals(qx.T @ qy).clamp(0, 1)
    return float(correlations.mean())


def _class_labels(labels: ArrayLike, n_classes: int, name: str) -> np.ndarray:
    """``labels`` as a 1-D int64 array of class numbers in ``[0, n_classes)``; typed errors for anything else."""
    if torch.is_tensor(labels):
        labels = labels.detach().cpu().numpy()
    try:
        array = np.asarray(labels)
    except (ValueError, TypeError):  # ragged nested lists
        raise ShapeMismatchError(f"{name} must be a 1-D list of class numbers, got {describe(labels)}.") from None
    if array.ndim != 1:
        raise ShapeMismatchError(f"{name} must be a 1-D list of class numbers, got shape {array.shape}.")
    if array.size and array.dtype.kind == "O":  # Python ints of mixed types are fine; anything else is not
        try:
            array = np.array([operator.index(v) for v in array], dtype=np.int64)
        except (TypeError, OverflowError):
            raise InvalidDtypeError(f"{name} must be integer class numbers, got {describe(labels)}.") from None
    if array.size and array.dtype.kind not in "iu":
        raise InvalidDtypeError(f"{name} must be integer class numbers 0..{n_classes - 1}, got dtype {array.dtype}.")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        bad = array[(array < 0) | (array >= n_classes)][:5].tolist()
        raise InvalidParameterError(f"{name} must be class numbers in [0, {n_classes}), got {bad}.")
    return array.astype(np.int64)


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """Counts of predictions per true class: ``[C, C]`` int64, row = true class, column = predicted class.

    Classes are the numbers ``0 .. C-1``: a class that occurs in neither input has a zero row and column
    (as ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(C))``). Inputs are numpy, torch or lists.

    Raises:
        InvalidParameterError: ``n_classes`` is not a positive integer, or a label is outside ``[0, C)``.
        InvalidDtypeError: labels that are not integers (floats, strings).
        ShapeMismatchError: labels that are not 1-D, or ``y_true`` and ``y_pred`` of different lengths.
    """
    n_classes = positive_int(n_classes, "n_classes")
    true = _class_labels(y_true, n_classes, "y_true")
    pred = _class_labels(y_pred, n_classes, "y_pred")
    if true.shape != pred.shape:
        raise ShapeMismatchError(
            f"y_true and y_pred must describe the same samples: {true.shape[0]} labels vs {pred.shape[0]}."
        )
    counts = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)
    return counts.astype(np.int64, copy=False).reshape(n_classes, n_classes)
