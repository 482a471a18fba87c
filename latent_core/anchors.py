"""Anchor selection: which samples both spaces describe themselves against.

Anchors are parallel: the same indices are used in both spaces, so any strategy is run on one space
(usually A) and the indices are shared. Every strategy returns indices of real samples, deterministic
for a given seed.

Strategies are registered in :data:`STRATEGIES`: ``fn(x [N, D], n, seed, labels, metric) -> LongTensor[n]``,
called by :func:`select_anchors` once ``x``, ``n`` (2 <= n <= N) and ``seed`` are checked; each checks the
arguments only it uses (``labels``, ``metric``).
"""

from __future__ import annotations

import torch

from latent_core.errors import AnchorIndexError, InvalidParameterError
from latent_core.registry import Registry
from latent_core.validation import ArrayLike, as_int, as_matrix, describe, label_codes, unit_rows

STRATEGIES = Registry("anchor strategy")


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed))


@STRATEGIES.register("random")
def _random(x: torch.Tensor, n: int, seed: int, labels: ArrayLike | None, metric: str) -> torch.Tensor:
    """Uniformly at random, without replacement."""
    return torch.randperm(x.shape[0], generator=_generator(seed))[:n]


@STRATEGIES.register("stratified")
def _stratified(x: torch.Tensor, n: int, seed: int, labels: ArrayLike | None, metric: str) -> torch.Tensor:
    """As equal numbers per class as the classes allow (needs labels): an equal share each (the first ``n % C``
    classes, in label order, one more); a class with fewer samples than its share gives all of them, and the rest
    is shared the same way among the classes that have samples left."""
    if labels is None:
        raise InvalidParameterError("The 'stratified' strategy needs labels.")
    labels, _ = label_codes(labels, x.shape[0])
    classes = labels.unique()
    members = [torch.nonzero(labels == cls).squeeze(1) for cls in classes.tolist()]
    per_class = _balanced_counts(n, [len(m) for m in members])
    generator = _generator(seed)
    return torch.cat([m[torch.randperm(len(m), generator=generator)[:count]] for m, count in zip(members, per_class)])


def _balanced_counts(n: int, sizes: list[int]) -> list[int]:
    """``n`` split over classes of ``sizes`` samples as equally as they allow (``n <= sum(sizes)``; water-filling):
    a class that cannot take an equal share of what is left gives all it has, the others share the rest equally,
    the earlier classes taking the remainder."""
    counts, remaining, open_ = [0] * len(sizes), n, list(range(len(sizes)))
    while open_:
        share = remaining // len(open_)
        short = [c for c in open_ if sizes[c] <= share]
        if not short:
            break
        for c in short:
            counts[c], remaining = sizes[c], remaining - sizes[c]
        open_ = [c for c in open_ if c not in short]
    if open_:
        share, extra = divmod(remaining, len(open_))
        for rank, c in enumerate(open_):
            counts[c] = share + (rank < extra)
    return counts


def _pairwise(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Squared euclidean distances ``[N, C]``."""
    return ((x * x).sum(1, keepdim=True) + (centres * centres).sum(1)[None] - 2 * x @ centres.T).clamp_min(0)


def _row_chunks(n_rows: int, n_cols: int, budget: int = 1 << 23):
    step = max(1, budget // max(1, n_cols))
    return range(0, n_rows, step), step


def _assign(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centre for every sample, computed in row chunks (never N x C at once)."""
    starts, step = _row_chunks(len(x), len(centres))
    return torch.cat([_pairwise(x[s : s + step], centres).argmin(1) for s in starts])


def _nearest_samples(x: torch.Tensor, centres: torch.Tensor, k: int) -> torch.Tensor:
    """``[C, k]`` indices of the k samples nearest each centre, nearest first (chunked over samples)."""
    best_d = torch.full((len(centres), 0), float("inf"), dtype=x.dtype, device=x.device)
    best_i = torch.empty((len(centres), 0), dtype=torch.long, device=x.device)
    starts, step = _row_chunks(len(x), len(centres))
    for start in starts:
        d = _pairwise(centres, x[start : start + step])
        idx = torch.arange(start, start + d.shape[1], device=x.device).expand(len(centres), -1)
        best_d, order = torch.cat([best_d, d], 1).sort(dim=1, stable=True)
        best_i = torch.cat([best_i, idx], 1).gather(1, order)
        best_d, best_i = best_d[:, :k], best_i[:, :k]
    return best_i


@STRATEGIES.register("kmeans")
def _kmeans(x: torch.Tensor, n: int, seed: int, labels: ArrayLike | None, metric: str,
            iterations: int = 50) -> torch.Tensor:
    """k-means++ initialisation and Lloyd iterations (float64); then the real sample nearest each centroid
    (each sample used once: a centroid whose nearest sample is taken gets its next nearest)."""
    x = x.double()
    generator = _generator(seed)
    first = torch.randint(len(x), (1,), generator=generator)
    centres = x[first]
    closest = _pairwise(x, centres).squeeze(1)
    for _ in range(1, n):
        weights = closest / closest.sum() if closest.sum() > 0 else torch.full_like(closest, 1 / len(x))
        pick = torch.multinomial(weights.cpu(), 1, generator=generator).to(x.device)
        centres = torch.cat([centres, x[pick]])
        closest = torch.minimum(closest, _pairwise(x, x[pick]).squeeze(1))
    for _ in range(iterations):
        assign = _assign(x, centres)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=n).to(x.dtype)
        updated = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
        if torch.allclose(updated, centres):
            break
        centres = updated
    candidates = _nearest_samples(x, centres, min(n, len(x)))  # n candidates always leave one free
    taken: set[int] = set()
    result = []
    for row in candidates.tolist():
        pick = next(i for i in row if i not in taken)
        taken.add(pick)
        result.append(pick)
    return torch.tensor(result, dtype=torch.long)


@STRATEGIES.register("fps")
def _fps(x: torch.Tensor, n: int, seed: int, labels: ArrayLike | None, metric: str) -> torch.Tensor:
    """Farthest point sampling (float64, ``metric`` cosine or euclidean): a random first point, then repeatedly
    the sample farthest from all chosen ones. O(N * D) memory: only the running minimum distance is kept."""
    if metric not in ("cosine", "euclidean"):
        raise InvalidParameterError(f"fps metric must be 'cosine' or 'euclidean', got {describe(metric)}.")
    x = x.double()
    if metric == "cosine":
        x = unit_rows(x, "x")

    def distance(index: int) -> torch.Tensor:
        if metric == "cosine":
            return 1.0 - x @ x[index]
        return (x - x[index]).pow(2).sum(1)

    first = int(torch.randint(len(x), (1,), generator=_generator(seed)))
    chosen = [first]
    closest = distance(first)
    closest[first] = -1.0
    for _ in range(1, n):
        pick = int(closest.argmax())
        chosen.append(pick)
        closest = torch.minimum(closest, distance(pick))
        closest[chosen] = -1.0  # never pick a chosen sample (or an exact duplicate of one) again
    return torch.tensor(chosen, dtype=torch.long)


def select_anchors(x: ArrayLike, n: int, strategy: str = "random", labels: ArrayLike | None = None,
                   seed: int = 0, metric: str = "cosine") -> torch.Tensor:
    """Choose ``n`` anchor samples of ``x: [N, D]``.

    Args:
        x: embeddings of one space (the indices are then used in every space).
        n: number of anchors, 2 <= n <= N.
        strategy: a name in :data:`STRATEGIES`: ``random``, ``stratified`` (as equal per class as the classes
            allow; needs ``labels``),
            ``kmeans`` (the sample nearest each k-means centroid) or ``fps`` (farthest point sampling).
        labels: ``[N]`` class labels (stratified only).
        seed: the same seed gives the same anchors.
        metric: ``cosine`` or ``euclidean``, for ``fps``.

    Returns:
        ``LongTensor[n]`` of distinct sample indices (on CPU).
    """
    choose = STRATEGIES.get(strategy)  # "Unknown anchor strategy ...; choose from ..."
    x = as_matrix(x, "x")
    n_samples = x.shape[0]
    n = as_int(n, "The number of anchors", error=AnchorIndexError)
    if n < 2:
        raise AnchorIndexError(f"Need at least 2 anchors, got {n!r}.")
    if n > n_samples:
        raise AnchorIndexError(f"Asked for {n} anchors but there are only {n_samples} samples.")
    seed = as_int(seed, "seed")
    if not -(1 << 63) <= seed < 1 << 64:
        raise InvalidParameterError(f"seed must fit in 64 bits, got {seed}.")
    return choose(x, n, seed, labels, metric).cpu()
