"""2-D maps of embedding spaces for display: PCA, UMAP and t-SNE.

``pca_2d(x)`` is the quick picture of one space. ``Map2D`` / ``map_2d`` fit a map on one space (the
reference) and place other points of that space in the same coordinates, e.g. "relative B" drawn with
the map fitted on "relative A". UMAP and t-SNE need optional heavy libraries, imported on first use.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from latent_core.cache import try_write_bytes
from latent_core.config import available_cpus, cache_subdir
from latent_core.errors import InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.registry import Registry
from latent_core.validation import ArrayLike, as_matrix


def _principal_axes(centred: np.ndarray) -> np.ndarray:
    """The top two principal axes ``[min(2, N, D), D]`` of centred ``[N, D]`` float64 data, each signed so that its
    largest loading is positive. With at least as many rows as columns, the top eigenvectors of the ``[D, D]``
    scatter matrix (5x faster than an SVD of the data at 2,225 x 768, the same axes to 1e-14); else the SVD."""
    n, d = centred.shape
    if n >= d:
        _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
        components = vectors[:, ::-1][:, : min(2, d)].T
    else:
        components = np.linalg.svd(centred, full_matrices=False)[2][:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    return components * signs[:, None]


def pca_2d(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Project ``x: [N, D]`` onto its first two principal components.

    Returns:
        ``[N, 2]`` float32 numpy array (centred; signs fixed so the largest loading is positive,
        which keeps the picture stable between runs).
    """
    array = _float64_points(x)
    centred = array - array.mean(axis=0, keepdims=True)
    coords = centred @ _principal_axes(centred).T
    if coords.shape[1] < 2:  # a 1-d space still gets a (flat) second axis
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords.astype(np.float32)


# ---- maps fitted on one space that place other points in the same picture ------------------------------

# kind -> fit(fitted: Map2D, points [N, D] float32) -> None, which sets the fitted attributes. Metadata: label (for
# people), package (whose version keys the disk cache; None: instant, never cached), joint (cannot place new points:
# map_2d embeds the reference and the others together).
MAP_KINDS = Registry("map kind")
MAP_METRICS = ("euclidean", "cosine", "manhattan", "correlation")  # understood by both umap-learn and sklearn
N_NEIGHBORS = 15
MIN_DIST = 0.1
MIN_SAMPLES = 3
UMAP_WARM_EPOCHS = 150  # from an earlier layout: trustworthiness as a cold fit's 500 (measured, BBC 2225)
UMAP_WARM_LEARNING_RATE = 0.25
TSNE_WARM_ITERATIONS = 50  # from an earlier layout, instead of 250 exaggerated + 500 (50-100 score alike)
TSNE_TRANSFORM_ITERATIONS = 30  # placing new points from their neighbours' median position (openTSNE's 250)
TSNE_TRANSFORM_PERPLEXITY = 5.0  # openTSNE's default for placing points
_CACHE_FORMAT = 2  # bump when the stored layout or the fitting recipe changes, so old entries miss


def pca_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and top-2 principal axes ``[2, D]`` (float64) of ``x: [N, D]``.

    Same recipe as :func:`pca_2d` (:func:`_principal_axes` of the centred data; each axis signed so its largest
    loading is positive), so ``(x - mean) @ components.T == pca_2d(x)``. A 1-d space gets a zero second axis.
    """
    array = _float64_points(x)
    mean = array.mean(axis=0)
    components = _principal_axes(array - mean)
    if len(components) < 2:
        components = np.vstack([components, np.zeros((2 - len(components), array.shape[1]))])
    return mean, components


def tsne_2d(x: np.ndarray, *, seed: int = 0, metric: str = "euclidean") -> np.ndarray:
    """t-SNE of ``x: [N, D]`` (N >= 3) into ``[N, 2]`` float32 with openTSNE, on exact neighbours.

    Same as ``Map2D("tsne", seed=seed, metric=metric).fit_transform(x)``: perplexity ``min(30, (N - 1) / 3)``,
    PCA initialisation (stable global layout between seeds).
    """
    return Map2D("tsne", seed=seed, metric=metric).fit_transform(x)


# ---- exact nearest neighbours with torch (what UMAP and t-SNE are built on) -------------------------------

_KNN_BLOCK = 2048  # query rows per distance block: [block, N] float32 stays ~400 MB at N = 50k
_KNN_MARGIN = 8  # float32 candidates beyond k, re-ranked in float64 so near-ties are ordered exactly


def _knn_space(x: torch.Tensor, metric: str) -> torch.Tensor:
    """``x`` prepared so that the metric is a plain euclidean / dot / l1 computation."""
    if metric == "correlation":
        x = x - x.mean(dim=1, keepdim=True)
    if metric in ("cosine", "correlation"):
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-30)
    return x


def _block_distances(query: torch.Tensor, ref: torch.Tensor, ref_sq: torch.Tensor, metric: str) -> torch.Tensor:
    """``[q, N]`` distances (any monotone version of the metric: squared euclidean, 1 - cosine)."""
    if metric == "manhattan":
        return torch.cdist(query, ref, p=1.0)
    if metric in ("cosine", "correlation"):
        return 1.0 - query @ ref.T
    return ((query * query).sum(dim=1, keepdim=True) + ref_sq[None, :] - 2.0 * (query @ ref.T)).clamp_min(0.0)


def _exact_distances(query: torch.Tensor, ref: torch.Tensor, metric: str) -> torch.Tensor:
    """``[q, c]`` float64 distances of each query row to its own candidate rows ``ref: [q, c, D]``."""
    if metric == "manhattan":
        return (query[:, None, :] - ref).abs().sum(dim=2)
    if metric in ("cosine", "correlation"):
        return (1.0 - (query[:, None, :] * ref).sum(dim=2)).clamp_min(0.0)
    return (query[:, None, :] - ref).pow(2).sum(dim=2).sqrt()


def exact_knn(x: ArrayLike, k: int, *, metric: str = "euclidean", query: ArrayLike | None = None,
              include_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of ``query`` (default: ``x`` itself) among the rows of ``x``.

    Blocked torch matrix products find ``k + 8`` float32 candidates per row; these are re-ranked with float64
    distances, so the result is the exact k-NN (as sklearn's ``NearestNeighbors`` finds it) for N up to tens of
    thousands in seconds. Equal distances are ordered by row index. Distances are the metric's own (euclidean,
    ``1 - cosine``, manhattan, ``1 - correlation``), as umap-learn and openTSNE use them.

    Args:
        x: ``[N, D]`` reference points.
        k: neighbours per row (``k <= N``; with ``include_self=False`` on ``x`` itself, ``k <= N - 1``).
        metric: one of :data:`MAP_METRICS`.
        query: ``[M, D]`` rows to find neighbours for; ``None``: ``x`` itself.
        include_self: with ``query=None``, whether each row lists itself first (distance 0), as umap-learn's
            ``precomputed_knn`` expects; openTSNE's neighbour lists leave it out.

    Returns:
        ``(indices [M, k] int64, distances [M, k] float32)``, nearest first.
    """
    if metric not in MAP_METRICS:
        raise InvalidParameterError(f"Unknown metric {metric!r}; choose from {', '.join(MAP_METRICS)}.")
    ref64 = torch.from_numpy(_points(x, "x")).double()
    own = query is None
    query64 = ref64 if own else torch.from_numpy(_points(query, "query")).double()
    n = ref64.shape[0]
    drop = 1 if own and not include_self else 0
    if not 1 <= k <= n - drop:
        raise InvalidParameterError(f"k must lie in [1, {n - drop}] for {n} reference points, got {k}.")
    ref64, query64 = _knn_space(ref64, metric), _knn_space(query64, metric)
    ref32 = ref64.float()
    ref_sq = (ref32 * ref32).sum(dim=1)
    candidates = min(n, k + drop + _KNN_MARGIN)
    all_indices, all_distances = [], []
    for start in range(0, query64.shape[0], _KNN_BLOCK):
        block64 = query64[start:start + _KNN_BLOCK]
        rough = _block_distances(block64.float(), ref32, ref_sq, metric)
        if own:  # a row is always its own nearest neighbour, even among duplicates
            rows = torch.arange(block64.shape[0])
            rough[rows, rows + start] = -1.0
        rough_index = torch.topk(rough, candidates, dim=1, largest=False, sorted=False).indices.sort(dim=1).values
        exact = _exact_distances(block64, ref64[rough_index], metric)
        if own:
            exact = torch.where(rough_index == (rows + start)[:, None], torch.full_like(exact, -1.0), exact)
        order = torch.argsort(exact, dim=1, stable=True)[:, drop:k + drop]
        all_indices.append(torch.gather(rough_index, 1, order))
        all_distances.append(torch.gather(exact, 1, order).clamp_min(0.0))
    indices = torch.cat(all_indices).numpy().astype(np.int64)
    distances = torch.cat(all_distances).numpy().astype(np.float32)
    return indices, distances


class _TorchIndex:
    """What umap-learn's ``transform`` asks of its search index (``query`` and ``_angular_trees``), answered with
    :func:`exact_knn` against the reference points."""

    _angular_trees = False

    def __init__(self, points: np.ndarray, metric: str) -> None:
        self.points, self.metric = points, metric

    def query(self, query, k, epsilon=None):  # noqa: ARG002 - exact search: no epsilon
        indices, distances = exact_knn(self.points, int(k), metric=self.metric, query=np.asarray(query))
        return indices.astype(np.int32), distances


def _threads() -> int:
    """Threads for the layouts: every core but one (on 2 cores, 1). With every core busy, OpenMP threads spin-wait
    on each other (measured on 2 loaded cores: openTSNE 200 iterations 1.5 s on 1 thread vs 7.1 s on 2)."""
    return max(1, available_cpus() - 1)


def _import_umap():
    """``umap`` (umap-learn), imported on first use: the import alone takes seconds (numba)."""
    # numba reads its cache location once, on import; a persistent one saves the ~10-70 s JIT per process
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_subdir("numba")))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Tensorflow not installed.*")  # ParametricUMAP, unused
        import umap
    _cache_compiled(umap)
    return umap


_CACHED_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral", "umap.distances", "umap.sparse")


def _cache_compiled(umap) -> None:
    """Let numba keep umap-learn's compiled functions on disk (``NUMBA_CACHE_DIR``), as pynndescent does.

    umap-learn jit-compiles most of its functions without ``cache=True``, so every new process spent ~10 s (2
    cores) compiling them again before its first map. ``enable_caching`` is what ``cache=True`` calls; a function
    numba cannot cache is compiled as before.
    """
    if getattr(umap, "_latent_cached", False):
        return
    import sys

    from numba.core.dispatcher import Dispatcher

    for name in _CACHED_MODULES:
        module = sys.modules.get(name)
        for value in vars(module).values() if module is not None else ():
            if isinstance(value, Dispatcher) and not value._cache.__class__.__name__ == "FunctionCache":
                try:
                    value.enable_caching()
                except Exception:  # noqa: BLE001 - caching is an optimisation; compiling still works
                    continue
    umap._latent_cached = True


def _float64_points(x: ArrayLike) -> np.ndarray:
    """``x`` checked by :func:`as_matrix` (typed errors), then taken at its own precision as float64 (a float32
    round trip would move a PCA, and with it every map initialised from it)."""
    _points(x, "x")
    array = (x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)).astype(np.float64)
    if array.shape[0] == 0:
        raise InvalidParameterError("A PCA map needs at least one point, got 0.")
    return array


def _points(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a finite float32 ``[N, D]`` numpy array; typed errors from :func:`as_matrix`."""
    return np.ascontiguousarray(as_matrix(x, name).detach().cpu().numpy())


@MAP_KINDS.register("pca", label="PCA", package=None, joint=False)
def _fit_pca(fitted: Map2D, points: np.ndarray, init: np.ndarray | None = None) -> None:  # linear: no warm start
    fitted.mean_, fitted.components_ = pca_fit(points)


@MAP_KINDS.register("umap", label="UMAP", package="umap-learn", joint=False)
def _fit_umap(fitted: Map2D, points: np.ndarray, init: np.ndarray | None = None) -> None:
    umap = _import_umap()
    n = points.shape[0]
    k = min(int(fitted.n_neighbors), n - 1)
    indices, distances = exact_knn(points, k, metric=fitted.metric)  # each row first, as umap's own k-NN lists it
    warm = init is not None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")  # _TorchIndex stands in for NNDescent
        fitted.reducer_ = umap.UMAP(
            n_components=2,
            n_neighbors=k,
            min_dist=float(fitted.min_dist),
            metric=fitted.metric,
            random_state=int(fitted.seed),
            n_jobs=1,  # a random_state forces one thread anyway; saying so avoids umap's warning
            # a warm start moves an earlier layout of the same points: fewer epochs, a gentler step
            init=init if warm else ("spectral" if n > MIN_SAMPLES else "random"),  # spectral needs N > 3
            n_epochs=UMAP_WARM_EPOCHS if warm else None,
            learning_rate=UMAP_WARM_LEARNING_RATE if warm else 1.0,
            precomputed_knn=(indices.astype(np.int32), distances, _TorchIndex(points, fitted.metric)),
        )
        fitted.embedding_ = fitted.reducer_.fit_transform(points).astype(np.float32)


def _opentsne_index(points: np.ndarray, k: int, metric: str):
    """An openTSNE ``KNNIndex`` answered by :func:`exact_knn` (neighbour lists without the row itself, as
    openTSNE's own indexes build them; ``query`` places new points)."""
    from openTSNE.nearest_neighbors import KNNIndex

    class TorchKNNIndex(KNNIndex):
        VALID_METRICS = list(MAP_METRICS)

        def build(self):
            return exact_knn(self.data, self.k, metric=self.metric, include_self=False)

        def query(self, query, k):
            return exact_knn(self.data, int(k), metric=self.metric, query=np.asarray(query))

    return TorchKNNIndex(points, k, metric=metric)


def _tsne_perplexity(n: int) -> float:
    return min(30.0, (n - 1) / 3)


@MAP_KINDS.register("tsne", label="t-SNE", package="openTSNE", joint=False)
def _fit_tsne(fitted: Map2D, points: np.ndarray, init: np.ndarray | None = None) -> None:
    from openTSNE import TSNE, TSNEEmbedding, affinity, initialization

    n, seed, threads = points.shape[0], int(fitted.seed), _threads()
    perplexity = _tsne_perplexity(n)
    index = _opentsne_index(points, min(n - 1, max(1, int(3 * perplexity))), fitted.metric)
    affinities = affinity.PerplexityBasedNN(perplexity=perplexity, knn_index=index, n_jobs=threads)
    if init is None:
        start = initialization.pca(points, random_state=seed)
        embedding = TSNE(n_jobs=threads, random_state=seed).fit(affinities=affinities, initialization=start)
    else:  # a warm start: the layout is already spread out, so no early exaggeration
        embedding = TSNEEmbedding(np.array(init, dtype=np.float64), affinities, n_jobs=threads, random_state=seed,
                                  learning_rate=max(n / 12, 50.0))
        embedding = embedding.optimize(n_iter=TSNE_WARM_ITERATIONS, exaggeration=1, momentum=0.8)
    # openTSNE's transform centres the embedding in place first: centre it once here, so the coordinates
    # returned now and the points placed later share one frame
    embedding -= (np.max(embedding, axis=0) + np.min(embedding, axis=0)) / 2
    fitted.tsne_ = embedding
    fitted.embedding_ = np.array(embedding, dtype=np.float32)


def _check_init(init: ArrayLike | None, n: int) -> np.ndarray | None:
    """An earlier ``[N, 2]`` layout as float32 numpy (typed errors), or ``None``."""
    if init is None:
        return None
    start = _points(init, "init")
    if start.shape != (n, 2):
        raise ShapeMismatchError(f"init must be an earlier [{n}, 2] layout of the same points, got {start.shape}.")
    return start


def _check_kind(kind: str) -> None:
    MAP_KINDS.get(kind)  # "Unknown map kind ...; choose from ..."


def _check_enough(points: np.ndarray, name: str) -> None:
    if points.shape[0] < MIN_SAMPLES:
        raise InvalidParameterError(
            f"A 2-D map needs at least {MIN_SAMPLES} points in {name}, got {points.shape[0]}."
        )


def _check_dimension(points: np.ndarray, dim: int, name: str) -> None:
    if points.shape[1] != dim:
        raise ShapeMismatchError(
            f"{name} has dimension {points.shape[1]}, but the map was fitted on dimension {dim}. Place points "
            "from the same space (for two encoders, map their relative representations on shared anchors)."
        )


class Map2D:
    """A 2-D map fitted on one space that places other points of that space in the same coordinates.

    Kinds:
        ``pca``: centred projection on the reference's top-2 principal axes (same signs as :func:`pca_2d`);
            ``transform(x) = (x - mean_) @ components_.T``. Linear, instant, deterministic.
        ``umap``: umap-learn's UMAP on exact neighbours (:func:`exact_knn`); ``transform`` places new points by
            their exact neighbours in the reference (umap returns the fitted coordinates exactly when given the
            reference array itself).
        ``tsne``: openTSNE's t-SNE on exact neighbours, PCA-initialised; ``transform`` places new points by
            their neighbours in the reference (openTSNE's transform, :data:`TSNE_TRANSFORM_ITERATIONS`
            iterations) without moving the reference.

    ``fit(x, init=previous)`` warm-starts UMAP and t-SNE from an earlier layout of the same points (e.g. the map
    before the anchors changed): far fewer epochs / iterations, and the picture keeps its place on screen.

    Args:
        kind: ``"pca"``, ``"umap"`` or ``"tsne"``.
        seed: random state of UMAP / t-SNE (PCA has none).
        n_neighbors: UMAP neighbourhood size; capped at ``N - 1`` so small sets work.
        min_dist: UMAP's minimum distance between embedded points, in [0, 1].
        metric: distance of UMAP and t-SNE, one of :data:`MAP_METRICS` (PCA is linear and ignores it).

    Attributes (after ``fit``):
        n_features_in_: D of the reference.
        mean_, components_: ``[D]`` and ``[2, D]`` float64 (PCA).
        reducer_: the fitted ``umap.UMAP`` (UMAP); tsne_: the fitted ``openTSNE.TSNEEmbedding`` (t-SNE).
        embedding_: ``[N, 2]`` float32 coordinates of the reference (UMAP and t-SNE).

    Example::

        fitted = Map2D("umap", seed=0).fit(rel_a)  # rel_a: [N, K]
        coords_a, coords_b = fitted.embedding_, fitted.transform(rel_b)  # rel_b: [M, K], same picture
    """

    def __init__(self, kind: str = "pca", *, seed: int = 0, n_neighbors: int = N_NEIGHBORS,
                 min_dist: float = MIN_DIST, metric: str = "euclidean") -> None:
        self.kind = kind
        self.seed = seed
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric

    def _check_params(self) -> None:
        _check_kind(self.kind)
        if not isinstance(self.seed, int | np.integer) or isinstance(self.seed, bool):
            raise InvalidParameterError(f"seed must be an integer, got {self.seed!r}.")
        if not isinstance(self.n_neighbors, int | np.integer) or isinstance(self.n_neighbors, bool) \
                or self.n_neighbors < 2:
            raise InvalidParameterError(f"n_neighbors must be an integer >= 2, got {self.n_neighbors!r}.")
        if not 0.0 <= float(self.min_dist) <= 1.0:
            raise InvalidParameterError(f"min_dist must lie in [0, 1], got {self.min_dist!r}.")
        if self.metric not in MAP_METRICS:
            raise InvalidParameterError(f"Unknown metric {self.metric!r}; choose from {', '.join(MAP_METRICS)}.")

    def fit(self, x: ArrayLike, init: ArrayLike | None = None) -> Map2D:
        """Fit the map on the reference ``x: [N, D]`` (N >= 3, finite); returns self.

        ``init``: ``[N, 2]`` an earlier layout of the same points to start from (UMAP and t-SNE; PCA ignores it).
        """
        self._check_params()
        points = _points(x, "x")
        _check_enough(points, "x")
        start = _check_init(init, points.shape[0])
        self.n_features_in_ = points.shape[1]
        MAP_KINDS.get(self.kind)(self, points, start)
        return self

    def transform(self, x: ArrayLike) -> np.ndarray:
        """Place ``x: [M, D]`` in the fitted map: ``[M, 2]`` float32."""
        meta = MAP_KINDS.meta(self.kind)
        if meta["joint"]:
            raise InvalidParameterError(
                f"{meta['label']} cannot place new points in a fitted map. Use map_2d({self.kind!r}, reference, "
                "others), which embeds the reference and the other points together."
            )
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"Map2D({self.kind!r}) is not fitted: call fit(reference) first.")
        points = _points(x, "x")
        _check_dimension(points, self.n_features_in_, "x")
        if points.shape[0] == 0:
            return np.zeros((0, 2), dtype=np.float32)
        if self.kind == "pca":
            return ((points.astype(np.float64) - self.mean_) @ self.components_.T).astype(np.float32)
        if self.kind == "tsne":
            perplexity = min(TSNE_TRANSFORM_PERPLEXITY, _tsne_perplexity(self.embedding_.shape[0]))
            placed = self.tsne_.transform(points, perplexity=perplexity, n_iter=TSNE_TRANSFORM_ITERATIONS)
            return np.array(placed, dtype=np.float32)
        return self.reducer_.transform(points).astype(np.float32)

    def fit_transform(self, x: ArrayLike, init: ArrayLike | None = None) -> np.ndarray:
        """Fit on ``x: [N, D]`` (warm-started from ``init: [N, 2]`` if given) and return its ``[N, 2]`` float32
        coordinates."""
        self.fit(x, init)
        if self.kind == "pca":
            return self.transform(x)
        return self.embedding_.copy()

    def __repr__(self) -> str:
        if self.kind == "pca":
            return "Map2D('pca')"
        return (f"Map2D({self.kind!r}, seed={self.seed}, n_neighbors={self.n_neighbors}, "
                f"min_dist={self.min_dist}, metric={self.metric!r})")


# ---- the explorer's entry point, with a disk cache -----------------------------------------------------


def _backend_version(kind: str) -> str:
    package = MAP_KINDS.meta(kind)["package"]
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _map_cache_key(kind: str, params: dict, seed: int, arrays: list[np.ndarray]) -> str:
    """sha256 of what determines the picture: kind, params, seed, library version, and every input's
    float32 bytes, shape and dtype (so a changed point, order or split between arrays is a miss)."""
    header = {
        "format": _CACHE_FORMAT,
        "kind": kind,
        "params": params,
        "seed": seed,
        "version": _backend_version(kind),
        "arrays": [[list(a.shape), a.dtype.str] for a in arrays],
    }
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float32).data)
    return digest.hexdigest()


def _load_cached(path: Path, rows: list[int]) -> list[np.ndarray] | None:
    """The cached coordinate arrays, or ``None`` on a miss; a damaged entry warns, is removed, and misses."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            names = [f"coords_{i}" for i in range(len(rows))]
            if sorted(stored.files) != sorted(names):
                raise ValueError(f"holds {sorted(stored.files)}, expected {names}")
            arrays = [stored[name] for name in names]
        for array, n in zip(arrays, rows, strict=True):
            if array.dtype != np.float32 or array.shape != (n, 2) or not np.isfinite(array).all():
                raise ValueError(f"array of dtype {array.dtype} and shape {array.shape}, expected ({n}, 2) float32")
        return arrays
    except Exception as exc:  # any unreadable entry is recomputed, never trusted
        warnings.warn(f"Map cache entry {path.name} is corrupted ({exc}); recomputing it.", RuntimeWarning,
                      stacklevel=3)
        path.unlink(missing_ok=True)
        return None


def _save_cached(path: Path, arrays: list[np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **{f"coords_{i}": a for i, a in enumerate(arrays)})
    try_write_bytes(path, buffer.getvalue())  # a full or read-only disk costs a recomputation, not the picture


_FITTED: OrderedDict[str, Map2D] = OrderedDict()  # key -> fitted map of one reference, most recent last
FITTED_MEMO_SIZE = 6  # fitted maps kept in memory (a UMAP / t-SNE holds its reference and k-NN graph)
_FITTED_LOCK = threading.Lock()


def _fitted_map(key: str | None, make: Callable[[], Map2D]) -> Map2D:
    """The fitted map remembered under ``key`` (``None``: never remembered), else ``make()``'s."""
    if key is not None:
        with _FITTED_LOCK:
            if key in _FITTED:
                _FITTED.move_to_end(key)
                return _FITTED[key]
    fitted = make()
    if key is not None:
        with _FITTED_LOCK:
            _FITTED[key] = fitted
            while len(_FITTED) > FITTED_MEMO_SIZE:
                _FITTED.popitem(last=False)
    return fitted


def map_2d(
    kind: str,
    reference: ArrayLike,
    others: Sequence[ArrayLike] = (),
    *,
    seed: int = 0,
    n_neighbors: int = N_NEIGHBORS,
    min_dist: float = MIN_DIST,
    metric: str = "euclidean",
    init: ArrayLike | None = None,
    cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fit a 2-D map on ``reference`` and place each array of ``others`` in the same coordinates.

    Every kind fits on the reference alone and ``transform``s the others, so the reference's picture does not
    depend on what is placed in it. (A kind registered with ``joint=True``, which cannot place new points, embeds
    ``[reference; others...]`` together and splits the result.)

    UMAP and t-SNE results are cached under ``cache_subdir("maps")`` (``.npz``, written atomically),
    keyed by the kind, its parameters, the seed, the library version, the warm start and the inputs' float32
    bytes and shapes. A damaged entry warns and is recomputed. PCA is instant and never cached. The last
    :data:`FITTED_MEMO_SIZE` fitted UMAP / t-SNE maps stay in memory, so placing new points in the map of a
    reference seen before (B translated with another anchor set into A's map) costs a ``transform`` only.

    Args:
        kind: ``"pca"``, ``"umap"`` or ``"tsne"``.
        reference: ``[N, D]`` points that define the map (N >= 3); numpy or torch.
        others: arrays ``[M_i, D]`` of the same space (same D) to place in the reference's map.
        seed, n_neighbors, min_dist, metric: see :class:`Map2D`.
        init: ``[N, 2]`` an earlier layout of the same N points (the map before the anchors changed) to
            warm-start UMAP / t-SNE from; ``None``: a cold fit.
        cache: read and write the disk cache and the in-memory fitted maps (UMAP and t-SNE).
        progress: called with short status lines ("fitting UMAP on 2000 points") for a UI.

    Returns:
        ``(reference_coords [N, 2], [others_coords [M_i, 2], ...])``, float32.
    """
    _check_kind(kind)
    Map2D(kind, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric)._check_params()
    tell = progress or (lambda message: None)
    if isinstance(others, np.ndarray | torch.Tensor):  # iterating one matrix would give its rows
        raise InvalidParameterError("others must be a list of [M, D] arrays; wrap a single array as [other].")
    ref = _points(reference, "reference")
    _check_enough(ref, "reference")
    placed = [_points(other, f"others[{i}]") for i, other in enumerate(others)]
    for i, points in enumerate(placed):
        _check_dimension(points, ref.shape[1], f"others[{i}]")
    meta = MAP_KINDS.meta(kind)
    start = _check_init(init, ref.shape[0]) if meta["package"] is not None else None
    rows = [ref.shape[0]] + [p.shape[0] for p in placed]

    path = fitted_key = None
    if cache and meta["package"] is not None:
        params = {"metric": metric, "warm": start is not None}
        if kind == "umap":
            params.update(n_neighbors=int(n_neighbors), min_dist=float(min_dist))
        warm = [] if start is None else [start]
        path = cache_subdir("maps") / f"{_map_cache_key(kind, params, int(seed), [ref, *placed, *warm])}.npz"
        cached = _load_cached(path, rows)
        if cached is not None:
            tell(f"using the cached {kind.upper()} map of {sum(rows)} points")
            return cached[0], cached[1:]
        fitted_key = _map_cache_key(kind, {**params, "fitted": True}, int(seed), [ref, *warm])

    label = meta["label"]
    if meta["joint"]:
        tell(f"fitting {label} on {sum(rows)} points ({rows[0]} reference + {sum(rows[1:])} placed jointly)")
        joint = Map2D(kind, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist,
                      metric=metric).fit_transform(np.concatenate([ref, *placed]))
        coords = np.split(joint, np.cumsum(rows)[:-1])
    else:
        def fit() -> Map2D:
            tell(f"fitting {label} on {rows[0]} points" + (" (warm start)" if start is not None else ""))
            return Map2D(kind, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric).fit(ref, start)

        fitted = _fitted_map(fitted_key, fit)
        coords = [fitted.transform(ref) if kind == "pca" else fitted.embedding_.copy()]
        for points in placed:
            tell(f"placing {points.shape[0]} points")
            coords.append(fitted.transform(points))
    coords = [np.ascontiguousarray(c, dtype=np.float32) for c in coords]
    if path is not None:
        _save_cached(path, coords)
    return coords[0], coords[1:]
