"""Correspondences between two spaces with few or no parallel anchors.

Parallel anchors are the one input relative representations and translation need. This module finds them:

- :func:`bootstrap_anchors` grows a handful of known pairs into many (Cannistraci et al., 2023): relative
  representations of every sample against the current pairs, standardised per column, mutual nearest neighbours
  between the two sides, the most confident ones added, repeat; then Procrustes and refinement.
- :func:`align_unpaired` needs no pairs at all: entropic Gromov-Wasserstein between the two sides' cosine-distance
  matrices (POT; Alvarez-Melis & Jaakkola, 2018), or k-means centroids matched by quadratic assignment (scipy;
  mini-vec2vec, Dar et al., 2025); the matched points seed Procrustes, then refinement.
- :func:`refine` iterates Procrustes and mutual nearest neighbours in the translated space.

Two situations differ, and :attr:`Correspondence.matching` says which one was found:

- ``exact``: both sides hold the same samples in an unknown order. Most samples then are mutual nearest
  neighbours once the spaces are aligned, and hard pairs are right (98% on BBC).
- ``soft``: the sides hold different samples of one distribution. No exact counterpart exists, so mutual
  neighbours are only similar samples; the map is fitted on an entropic optimal-transport plan between all
  rows instead (:meth:`latent_core.translate.Procrustes.fit_coupling`), sharpened over a few rounds.

``matching="auto"`` decides from the data: the sides are taken to hold the same samples when at least
:data:`EXACT_RATE` of the rows of the smaller side are mutual nearest neighbours after hard refinement.

Every function returns a :class:`Correspondence` whose ``translator`` is a fitted
:class:`latent_core.translate.Procrustes` from source into target, usable wherever a translator is.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from latent_core._scalars import as_float, as_int, describe
from latent_core.errors import InvalidParameterError, ShapeMismatchError, UnknownNameError
from latent_core.translate import Procrustes
from latent_core.validation import ArrayLike, as_matrix

UNPAIRED_METHODS = ("auto", "gw", "centroids")
MATCHINGS = ("auto", "exact", "soft")
EXACT_RATE = 0.5  # mutual-NN share above which both sides are taken to hold the same samples
MIN_ROWS = 8
GW_EPSILON = 0.002  # on cosine-distance matrices normalised to mean 1 (0.005 and up fail on some pairs)
GW_SAMPLE = 500  # rows per side in the Gromov-Wasserstein problem
GW_RESTARTS = 3  # subsamples tried (Gromov-Wasserstein's local optima depend on them)
GW_EPSILON_STEPS = 4  # epsilon doubles up to 3 times when the plan underflows (NaN) at the smaller one
SOFT_SAMPLE = 1500  # rows per side in the optimal-transport plan of soft refinement
SOFT_REG = 0.02  # entropic regularisation of that plan (costs are 1 - cosine, in [0, 2])
SOFT_ROUNDS = 6
ANCHORED_REG = 0.3  # entropic regularisation of the anchored plan, on costs normalised to mean 1 (BBC: 0.1-0.5 alike)
ANCHORED_WEIGHT = 0.5  # weight of the cost between relative representations beside the translated cost
ANCHORED_ROUNDS = 12  # translated-cost rounds after the first, relative-only plan
CENTROIDS = 24  # k-means clusters per side for the centroid matching
QAP_RESTARTS = 40

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Correspondence:
    """Pairs found between a source and a target space, and the map they define."""

    pairs: np.ndarray  # int64 [M, 2]: (source row, target row), most confident first
    confidence: np.ndarray  # float64 [M] in [0, 1]: the pair's cosine once translated (0 if negative)
    translator: Procrustes  # fitted: source -> target
    method: str  # "bootstrap" | "gw" | "centroids"
    matching: str  # "exact" (same samples) | "soft" (different samples of one distribution)
    info: dict = field(default_factory=dict)  # rounds, epsilon, gw_loss, mutual_rate, seconds, ...

    def __len__(self) -> int:
        return len(self.pairs)


# ---- small pieces ------------------------------------------------------------------------------------------------

def _space(x: ArrayLike, name: str) -> np.ndarray:
    matrix = as_matrix(x, name, device=torch.device("cpu")).numpy().astype(np.float32, copy=False)
    if matrix.shape[0] < MIN_ROWS:
        raise InvalidParameterError(f"{name} has {matrix.shape[0]} rows; aligning needs at least {MIN_ROWS}.")
    return matrix


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _relative(x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Cosine to the anchors, each column standardised (cosine scales differ between encoders), unit rows."""
    rel = _unit(x) @ _unit(anchors).T
    rel = (rel - rel.mean(0)) / np.maximum(rel.std(0), 1e-8)
    return _unit(rel)


def mutual_nearest(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mutual nearest neighbours of a ``[N, M]`` similarity: ``(rows, cols, margin)``, where ``margin`` is the
    gap between a row's best and second-best similarity (how unambiguous the match is)."""
    best_col = similarity.argmax(1)
    best_row = similarity.argmax(0)
    rows = np.flatnonzero(best_row[best_col] == np.arange(similarity.shape[0]))
    cols = best_col[rows]
    if similarity.shape[1] > 1:
        top2 = np.partition(similarity[rows], -2, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
    else:
        margin = np.ones(len(rows))
    return rows, cols, margin


def _fit_pairs(source: np.ndarray, target: np.ndarray, pairs: np.ndarray, scaling: str | None) -> Procrustes:
    with warnings.catch_warnings():  # few pairs in many dimensions: a partial isometry, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        return Procrustes(scaling).fit(source[pairs[:, 0]], target[pairs[:, 1]])


def _translated_similarity(source: np.ndarray, target: np.ndarray, translator: Procrustes) -> np.ndarray:
    return _unit(translator.transform(source).numpy()) @ _unit(target).T


def _hard_refine(source, target, translator, iterations: int, fixed: np.ndarray | None = None):
    """Procrustes on the mutual nearest neighbours of the translated source, ``iterations`` times (``fixed``
    pairs, e.g. known seeds, always kept). Returns (translator, mutual share of the smaller side)."""
    rate = 0.0
    for _ in range(iterations):
        rows, cols, _ = mutual_nearest(_translated_similarity(source, target, translator))
        rate = len(rows) / min(len(source), len(target))
        pairs = np.stack([rows, cols], 1)
        if fixed is not None and len(fixed):
            pairs = _with_fixed(pairs, fixed)
        if len(pairs) < 2:
            break
        translator = _fit_pairs(source, target, pairs, translator.scaling)
    return translator, rate


def _with_fixed(pairs: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """``fixed`` pairs first, then the others that use neither a fixed source row nor a fixed target row."""
    free = ~np.isin(pairs[:, 0], fixed[:, 0]) & ~np.isin(pairs[:, 1], fixed[:, 1])
    return np.concatenate([fixed, pairs[free]]).astype(np.int64)


def _soft_refine(source, target, translator, rounds: int, seed: int, fixed: np.ndarray | None = None):
    """Procrustes-Wasserstein: an entropic optimal-transport plan between the translated source and the target
    (costs 1 - cosine, on up to :data:`SOFT_SAMPLE` rows per side), the rotation refitted on the plan, repeated.
    ``fixed`` pairs get the weight of a whole row each. Returns (translator, the last plan's transport cost: the
    mean 1 - cosine it moves mass over, lower when the translated source lies on the target)."""
    known = fixed is not None and len(fixed) > 0
    rows_s, rows_t, (known_s, known_t) = _soft_sample(len(source), len(target), fixed if known else None, seed)
    xs, xt = source[rows_s], target[rows_t]
    transport = float("nan")
    for _ in range(rounds):
        cost = (1.0 - _unit(translator.transform(xs).numpy()) @ _unit(xt).T).astype(np.float64)
        plan = _sinkhorn(cost, SOFT_REG)
        transport = float((plan * cost).sum() / plan.sum())
        if known:
            plan[known_s, known_t] += 1.0 / len(xs)
        translator = Procrustes(translator.scaling).fit_coupling(xs, xt, plan)
    return translator, transport


def _soft_sample(n_source: int, n_target: int, fixed: np.ndarray | None, seed: int):
    """Up to :data:`SOFT_SAMPLE` sorted rows per side (seeded), always holding the ``fixed`` pairs, and the fixed
    pairs' places in them: ``(rows_s, rows_t, (known_s, known_t))`` (empty places without fixed pairs)."""
    rng = np.random.default_rng(seed)
    rows_s = _subsample(n_source, SOFT_SAMPLE, rng, keep=None if fixed is None else fixed[:, 0])
    rows_t = _subsample(n_target, SOFT_SAMPLE, rng, keep=None if fixed is None else fixed[:, 1])
    if fixed is None:
        return rows_s, rows_t, (np.empty(0, np.int64), np.empty(0, np.int64))
    return rows_s, rows_t, (np.searchsorted(rows_s, fixed[:, 0]), np.searchsorted(rows_t, fixed[:, 1]))


def _sinkhorn(cost: np.ndarray, reg: float) -> np.ndarray:
    """An entropic optimal-transport plan between uniform marginals (POT)."""
    import ot  # POT: imported here, since most users never align without anchors

    with warnings.catch_warnings():  # "did not converge": a near-converged plan is good enough to fit a rotation
        warnings.simplefilter("ignore", UserWarning)
        return ot.sinkhorn(ot.unif(cost.shape[0]), ot.unif(cost.shape[1]), cost.astype(np.float64), reg,
                           numItermax=1000, stopThr=1e-6)


def _mean_one(cost: np.ndarray) -> np.ndarray:
    return cost / max(float(cost.mean()), 1e-12)


def _anchored_transport(source, target, seeds: np.ndarray, rounds: int, seed: int, scaling: str | None):
    """Soft bootstrap, for sides that hold different samples: no sample has a counterpart, but the known pairs
    describe every sample on both sides in one shared frame (its relative representation against them).

    The first plan is entropic optimal transport under the cost between relative representations (1 - cosine,
    :func:`_relative` against the known pairs); the rotation is fitted on it (:meth:`Procrustes.fit_coupling`,
    each known pair weighted as a whole row). Each later round transports under the translated cost (1 - cosine
    of the translated source against the target) plus :data:`ANCHORED_WEIGHT` times the relative cost, so that
    the known pairs keep pulling every class to its place while the translation sharpens the plan. Both costs
    are normalised to mean 1; the regularisation :data:`ANCHORED_REG` is large on purpose: each source row is
    fitted to a local average of similar targets, which is what a class-level correspondence can promise.

    Returns (translator, the last plan's mean translated cost in 1 - cosine)."""
    rows_s, rows_t, (known_s, known_t) = _soft_sample(len(source), len(target), seeds, seed)
    xs, xt = source[rows_s], target[rows_t]
    relative = _mean_one(1.0 - _relative(xs, source[seeds[:, 0]]) @ _relative(xt, target[seeds[:, 1]]).T)
    cost, translator, transport = relative, None, float("nan")
    for _ in range(rounds + 1):
        plan = _sinkhorn(cost, ANCHORED_REG)
        plan[known_s, known_t] += 1.0 / len(xs)
        translator = Procrustes(scaling).fit_coupling(xs, xt, plan)
        translated = 1.0 - _unit(translator.transform(xs).numpy()) @ _unit(xt).T
        transport = float((plan * translated).sum() / plan.sum())
        cost = _mean_one(translated) + ANCHORED_WEIGHT * relative
    return translator, transport


def _subsample(n: int, size: int, rng: np.random.Generator, keep: np.ndarray | None = None) -> np.ndarray:
    """Up to ``size`` sorted rows of ``n``, always including ``keep``."""
    if n <= size:
        return np.arange(n)
    keep = np.unique(keep) if keep is not None else np.array([], dtype=np.int64)
    rest = rng.choice(np.setdiff1d(np.arange(n), keep), size - len(keep), replace=False)
    return np.sort(np.concatenate([keep, rest])).astype(np.int64)


def _finish(source, target, translator, method: str, matching: str, info: dict, started: float,
            n_anchors: int | None = None, fixed: np.ndarray | None = None) -> Correspondence:
    """The final pairs under ``translator``: mutual nearest neighbours (known pairs kept), most confident first."""
    similarity = _translated_similarity(source, target, translator)
    rows, cols, _ = mutual_nearest(similarity)
    pairs = np.stack([rows, cols], 1).astype(np.int64)
    if fixed is not None and len(fixed):
        pairs = _with_fixed(pairs, fixed)
    confidence = np.clip(similarity[pairs[:, 0], pairs[:, 1]].astype(np.float64), 0.0, 1.0)
    if fixed is not None and len(fixed):
        confidence[: len(fixed)] = 1.0  # known
    order = np.argsort(-confidence, kind="stable")
    if n_anchors is not None:
        order = order[:n_anchors]
    info = {key: (None if isinstance(value, float) and not np.isfinite(value) else value)  # JSON-safe
            for key, value in info.items()}
    info |= {"mutual_rate": len(rows) / min(len(source), len(target)), "seconds": time.perf_counter() - started}
    return Correspondence(pairs[order], confidence[order], translator, method, matching, info)


def _check_choice(value, choices: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise UnknownNameError(f"Unknown {what} {describe(value)}; choose from {', '.join(choices)}.")
    return value


def _ticker(total: int, progress: Progress | None):
    state = {"done": 0}

    def tick() -> None:
        state["done"] = min(total, state["done"] + 1)
        if progress is not None:
            progress(state["done"], total)

    return tick


# ---- refinement ----------------------------------------------------------------------------------------------------

def refine(source: ArrayLike, target: ArrayLike, correspondence: Correspondence, *,
           iterations: int = 5) -> Correspondence:
    """Procrustes and mutual-nearest-neighbour refinement of a correspondence, ``iterations`` rounds: translate
    the source, pair mutual nearest neighbours, refit Procrustes on them; soft correspondences are refitted on an
    optimal-transport plan instead (see the module docstring)."""
    started = time.perf_counter()
    xs, xt = _space(source, "source"), _space(target, "target")
    iterations = as_int(iterations, "iterations", minimum=1)
    translator, _ = _hard_refine(xs, xt, correspondence.translator, iterations)
    if correspondence.matching == "soft":
        translator, _ = _soft_refine(xs, xt, translator, iterations, seed=0)
    return _finish(xs, xt, translator, correspondence.method, correspondence.matching,
                   {**correspondence.info, "refined": iterations}, started)


def _settle(xs, xt, translator, matching: str, seed: int, fixed=None):
    """Hard refinement; then, for different samples (``soft``, or ``auto`` when few rows pair up), soft rounds.
    Returns (translator, matching found, mutual share after hard refinement, transport cost or nan)."""
    translator, rate = _hard_refine(xs, xt, translator, 5, fixed)
    found = matching if matching != "auto" else ("exact" if rate >= EXACT_RATE else "soft")
    transport = float("nan")
    if found == "soft":
        translator, transport = _soft_refine(xs, xt, translator, SOFT_ROUNDS, seed, fixed)
    return translator, found, rate, transport


# ---- a few known pairs -------------------------------------------------------------------------------------------

def _seed_pairs(seed_pairs: ArrayLike, n_source: int, n_target: int) -> np.ndarray:
    pairs = np.asarray(seed_pairs.cpu() if torch.is_tensor(seed_pairs) else seed_pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ShapeMismatchError(f"seed_pairs must be [S, 2] rows of (source row, target row), got shape "
                                 f"{list(pairs.shape)}.")
    if not np.issubdtype(pairs.dtype, np.integer):
        raise InvalidParameterError(f"seed_pairs must be integer row indices, got {pairs.dtype}.")
    if len(pairs) < 3:
        raise InvalidParameterError(f"Need at least 3 known pairs to bootstrap from, got {len(pairs)}.")
    if pairs.min() < 0 or pairs[:, 0].max() >= n_source or pairs[:, 1].max() >= n_target:
        raise InvalidParameterError(f"seed_pairs index outside the spaces (source has {n_source} rows, target "
                                    f"{n_target}).")
    for side, name in ((0, "source"), (1, "target")):
        if len(np.unique(pairs[:, side])) < len(pairs):
            raise InvalidParameterError(f"seed_pairs use a {name} row twice: each known pair needs its own rows.")
    return pairs.astype(np.int64)


def bootstrap_anchors(source: ArrayLike, target: ArrayLike, seed_pairs: ArrayLike, *, n_anchors: int | None = None,
                      matching: str = "auto", seed: int = 0, rounds: int = 6, scaling: str | None = "standard",
                      progress: Progress | None = None) -> Correspondence:
    """Grow a few known pairs into many parallel anchors.

    Each round describes every sample by its standardised cosine to the current pairs (in its own space),
    pairs the two sides' mutual nearest neighbours in that relative space, and keeps the most unambiguous ones
    (largest margin to the second best), about four times as many as before; the known pairs always stay. The
    pairs then fit Procrustes, refined on mutual neighbours in the translated space. When the sides turn out to
    hold different samples (``matching="soft"``, or ``"auto"`` deciding so), there are no counterparts to find:
    the map is fitted on optimal-transport plans instead, whose cost joins the relative representations against
    the known pairs with the translated cosine (:func:`_anchored_transport`).

    Args:
        source: ``[N, Ds]``; target: ``[M, Dt]`` (numpy or torch).
        seed_pairs: int ``[S, 2]`` rows of (source row, target row), S >= 3, each row used once.
        n_anchors: how many pairs to return (the most confident); default every mutual pair found.
        matching: ``"auto"``, ``"exact"`` (same samples, order unknown) or ``"soft"`` (different samples).
        scaling: the translator's scaling (:class:`latent_core.translate.AnchorScaler`).
        progress: ``progress(done, total)`` after each step.

    Returns:
        A :class:`Correspondence` (method ``"bootstrap"``) whose pairs start with the known ones.
    """
    started = time.perf_counter()
    xs, xt = _space(source, "source"), _space(target, "target")
    seeds = _seed_pairs(seed_pairs, len(xs), len(xt))
    matching = _check_choice(matching, MATCHINGS, "matching")
    rounds = as_int(rounds, "rounds", minimum=1)
    if n_anchors is not None:
        n_anchors = as_int(n_anchors, "n_anchors", minimum=2)
    tick = _ticker(rounds + 3, progress)
    goal = min(len(xs), len(xt))
    pairs = seeds
    for _ in range(rounds if matching != "soft" else 0):
        similarity = _relative(xs, xs[pairs[:, 0]]) @ _relative(xt, xt[pairs[:, 1]]).T
        rows, cols, margin = mutual_nearest(similarity)
        found = _with_fixed(np.stack([rows, cols], 1), seeds)[len(seeds):]
        found_margin = margin[~np.isin(rows, seeds[:, 0]) & ~np.isin(cols, seeds[:, 1])]
        keep = min(goal, max(4 * len(pairs), 40))
        pairs = np.concatenate([seeds, found[np.argsort(-found_margin, kind="stable")[:keep]]])
        tick()
    info = {"rounds": rounds, "seed_pairs": len(seeds)}
    found = "soft"
    if matching != "soft":
        translator, rate = _hard_refine(xs, xt, _fit_pairs(xs, xt, pairs, scaling), 5, seeds)
        found = matching if matching != "auto" else ("exact" if rate >= EXACT_RATE else "soft")
        info["bootstrap_rate"] = rate
    tick()
    if found == "soft":  # different samples: relative neighbours are only similar samples; transport instead
        translator, info["transport"] = _anchored_transport(xs, xt, seeds, ANCHORED_ROUNDS, seed, scaling)
    tick()
    result = _finish(xs, xt, translator, "bootstrap", found, info, started, n_anchors, seeds)
    if progress is not None:
        progress(rounds + 3, rounds + 3)
    return result


# ---- no pairs at all -----------------------------------------------------------------------------------------------

def _cosine_costs(x: np.ndarray) -> np.ndarray:
    unit = _unit(x).astype(np.float64)
    return _mean_one(np.clip(1.0 - unit @ unit.T, 0.0, 2.0))


def _gw_candidates(xs, xt, seed: int, restarts: int, tick, epsilon: float = GW_EPSILON,
                   scaling: str | None = "standard"):
    """Yield ``(gw_loss, translator)`` per restart: entropic GW on a subsample of each side, Procrustes on the
    plan's mutual best matches."""
    import ot

    for restart in range(restarts):
        rng = np.random.default_rng([seed, restart])
        rows_s, rows_t = _subsample(len(xs), GW_SAMPLE, rng), _subsample(len(xt), GW_SAMPLE, rng)
        cost_s, cost_t = _cosine_costs(xs[rows_s]), _cosine_costs(xt[rows_t])
        for attempt in range(GW_EPSILON_STEPS):  # a plan that underflows (NaN) is retried with a doubled epsilon
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                plan, log = ot.gromov.entropic_gromov_wasserstein(
                    cost_s, cost_t, ot.unif(len(rows_s)), ot.unif(len(rows_t)), "square_loss",
                    epsilon=epsilon * 2**attempt, max_iter=200, tol=1e-7, log=True)
            plan = np.asarray(plan)
            if np.isfinite(plan).all() and plan.sum() > 0.5 and np.isfinite(log["gw_dist"]):
                break
        tick()
        rows, cols, _ = mutual_nearest(np.nan_to_num(plan, nan=0.0))
        if len(rows) < 2:
            continue
        yield float(log["gw_dist"]), _fit_pairs(xs, xt, np.stack([rows_s[rows], rows_t[cols]], 1), scaling)


def _centroid_start(xs, xt, seed: int, scaling: str | None) -> Procrustes:
    """mini-vec2vec's start: k-means centroids per side matched by quadratic assignment of their cosine matrices
    (restarts, the best objective kept); the matched centroids are anchors; the samples whose relative vectors
    are mutual nearest neighbours become pseudo-pairs for Procrustes."""
    from scipy.optimize import quadratic_assignment
    from sklearn.cluster import KMeans

    k = min(CENTROIDS, len(xs) // 2, len(xt) // 2)
    centres = [_unit(KMeans(k, n_init=4, random_state=seed).fit(_unit(x)).cluster_centers_) for x in (xs, xt)]
    sim_s, sim_t = (c @ c.T for c in centres)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(QAP_RESTARTS):
        result = quadratic_assignment(sim_s, sim_t, method="faq",
                                      options={"maximize": True, "P0": "randomized", "rng": int(rng.integers(2**31))})
        if best is None or result.fun > best.fun:
            best = result
    matched = centres[1][best.col_ind]
    rows, cols, _ = mutual_nearest(_relative(xs, centres[0]) @ _relative(xt, matched).T)
    return _fit_pairs(xs, xt, np.stack([rows, cols], 1), scaling)


def align_unpaired(source: ArrayLike, target: ArrayLike, *, method: str = "auto", seed: int = 0,
                   epsilon: float = GW_EPSILON, restarts: int = GW_RESTARTS, scaling: str | None = "standard",
                   progress: Progress | None = None) -> Correspondence:
    """Align two spaces with no known pairs.

    ``gw``: entropic Gromov-Wasserstein (POT) between the cosine-distance matrices of :data:`GW_SAMPLE` rows per
    side, normalised to mean 1, at ``epsilon``; ``restarts`` subsamples, each giving Procrustes
    on the plan's mutual best matches, refined on mutual neighbours. The restarts stop at the first that pairs
    most rows as mutual neighbours (the sides hold the same samples: the check of the result). Otherwise
    (different samples) each is refined on transport plans, and the lowest transport cost wins.
    ``centroids``: mini-vec2vec's k-means + quadratic assignment start (scipy), then the same refinement.
    ``auto``: ``gw``.

    Returns:
        A :class:`Correspondence` (method ``"gw"`` or ``"centroids"``); ``info`` holds the GW loss, epsilon and
        the mutual-neighbour share of the result.
    """
    started = time.perf_counter()
    xs, xt = _space(source, "source"), _space(target, "target")
    method = _check_choice(method, UNPAIRED_METHODS, "alignment method")
    epsilon = as_float(epsilon, "epsilon", positive=True)
    restarts = as_int(restarts, "restarts", minimum=1)
    if method == "centroids":
        tick = _ticker(3, progress)
        translator = _centroid_start(xs, xt, seed, scaling)
        tick()
        translator, found, _, _ = _settle(xs, xt, translator, "auto", seed)
        tick()
        result = _finish(xs, xt, translator, "centroids", found, {"centroids": CENTROIDS}, started)
        tick()
        return result
    tick = _ticker(2 * restarts + 1, progress)
    candidates = []
    for loss, start in _gw_candidates(xs, xt, seed, restarts, tick, epsilon, scaling):
        refined, rate = _hard_refine(xs, xt, start, 5)
        tick()
        candidates.append((loss, refined, rate))
        if rate >= EXACT_RATE:  # most rows pair up: the same samples, found
            break
    if not candidates:
        raise InvalidParameterError("Gromov-Wasserstein found no matches (a degenerate plan); try another seed or "
                                    "a larger epsilon.")
    if candidates[-1][2] >= EXACT_RATE:
        loss, translator, _ = candidates[-1]
        found, transport = "exact", float("nan")
    else:  # different samples: refine each start on transport plans; the lowest transport cost wins
        found = "soft"
        settled = [(*_soft_refine(xs, xt, start, SOFT_ROUNDS, seed), loss) for loss, start, _ in candidates]
        translator, transport, loss = min(settled, key=lambda c: c[1])
    result = _finish(xs, xt, translator, "gw", found, {"gw_loss": loss, "epsilon": epsilon, "transport": transport},
                     started)
    if progress is not None:
        progress(2 * restarts + 1, 2 * restarts + 1)
    return result
