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
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from latent_core.cache import try_write_bytes
from latent_core.config import cache_subdir
from latent_core.errors import InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.registry import Registry
from latent_core.validation import ArrayLike, as_matrix


def pca_2d(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Project ``x: [N, D]`` onto its first two principal components.

    Returns:
        ``[N, 2]`` float32 numpy array (centred; signs fixed so the largest loading is positive,
        which keeps the picture stable between runs).
    """
    array = _float64_points(x)
    centred = array - array.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    coords = centred @ components.T
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
_CACHE_FORMAT = 1  # bump when the stored layout or the fitting recipe changes, so old entries miss


def pca_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and top-2 principal axes ``[2, D]`` (float64) of ``x: [N, D]``.

    Same recipe as :func:`pca_2d` (SVD of the centred data; each axis signed so its largest loading is
    positive), so ``(x - mean) @ components.T == pca_2d(x)``. A 1-d space gets a zero second axis.
    """
    array = _float64_points(x)
    mean = array.mean(axis=0)
    _, _, vt = np.linalg.svd(array - mean, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    if len(components) < 2:
        components = np.vstack([components, np.zeros((2 - len(components), array.shape[1]))])
    return mean, components


def tsne_2d(x: np.ndarray, *, seed: int = 0, metric: str = "euclidean") -> np.ndarray:
    """t-SNE of ``x: [N, D]`` (N >= 3) into ``[N, 2]`` float32 with sklearn's ``TSNE``.

    Perplexity is ``min(30, (N - 1) / 3)`` so that small sets stay valid (sklearn needs perplexity < N);
    ``init="pca"`` keeps the global layout stable between seeds.
    """
    from sklearn.manifold import TSNE  # sklearn.manifold is slow to import; only t-SNE users pay
    from threadpoolctl import threadpool_limits

    n = x.shape[0]
    tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", metric=metric, random_state=seed)
    # One core is left to the app: with every core busy, OpenMP threads spin-wait on each other (measured on
    # 2 cores beside one busy process: 200 points 13 s on 2 threads vs 0.5 s on 1; 3000 points 30-44 s vs 15 s).
    with threadpool_limits(limits=max(1, _available_cpus() - 1)):
        return tsne.fit_transform(np.asarray(x, dtype=np.float32)).astype(np.float32)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _import_umap():
    """``umap`` (umap-learn), imported on first use: the import alone takes seconds (numba)."""
    # numba reads its cache location once, on import; a persistent one saves the ~10-70 s JIT per process
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_subdir("numba")))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Tensorflow not installed.*")  # ParametricUMAP, unused
        import umap
    return umap


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
def _fit_pca(fitted: Map2D, points: np.ndarray) -> None:
    fitted.mean_, fitted.components_ = pca_fit(points)


@MAP_KINDS.register("umap", label="UMAP", package="umap-learn", joint=False)
def _fit_umap(fitted: Map2D, points: np.ndarray) -> None:
    umap = _import_umap()
    n = points.shape[0]
    fitted.reducer_ = umap.UMAP(
        n_components=2,
        n_neighbors=min(int(fitted.n_neighbors), n - 1),
        min_dist=float(fitted.min_dist),
        metric=fitted.metric,
        random_state=int(fitted.seed),
        n_jobs=1,  # a random_state forces one thread anyway; saying so avoids umap's warning
        init="spectral" if n > MIN_SAMPLES else "random",  # the spectral layout needs N > 3
    )
    fitted.embedding_ = fitted.reducer_.fit_transform(points).astype(np.float32)


@MAP_KINDS.register("tsne", label="t-SNE", package="scikit-learn", joint=True)
def _fit_tsne(fitted: Map2D, points: np.ndarray) -> None:
    fitted.embedding_ = tsne_2d(points, seed=int(fitted.seed), metric=fitted.metric)


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
        ``umap``: umap-learn's UMAP; ``transform`` places new points by their neighbours in the reference
            (umap returns the fitted coordinates exactly when given the reference array itself).
        ``tsne``: sklearn's t-SNE. It has no ``transform``: use :func:`map_2d`, which fits one t-SNE on
            the reference and the other points together.

    Args:
        kind: ``"pca"``, ``"umap"`` or ``"tsne"``.
        seed: random state of UMAP / t-SNE (PCA has none).
        n_neighbors: UMAP neighbourhood size; capped at ``N - 1`` so small sets work.
        min_dist: UMAP's minimum distance between embedded points, in [0, 1].
        metric: distance of UMAP and t-SNE, one of :data:`MAP_METRICS` (PCA is linear and ignores it).

    Attributes (after ``fit``):
        n_features_in_: D of the reference.
        mean_, components_: ``[D]`` and ``[2, D]`` float64 (PCA).
        reducer_: the fitted ``umap.UMAP`` (UMAP).
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

    def fit(self, x: ArrayLike) -> Map2D:
        """Fit the map on the reference ``x: [N, D]`` (N >= 3, finite); returns self."""
        self._check_params()
        points = _points(x, "x")
        _check_enough(points, "x")
        self.n_features_in_ = points.shape[1]
        MAP_KINDS.get(self.kind)(self, points)
        return self

    def transform(self, x: ArrayLike) -> np.ndarray:
        """Place ``x: [M, D]`` in the fitted map: ``[M, 2]`` float32 (PCA and UMAP only)."""
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
        return self.reducer_.transform(points).astype(np.float32)

    def fit_transform(self, x: ArrayLike) -> np.ndarray:
        """Fit on ``x: [N, D]`` and return its ``[N, 2]`` float32 coordinates."""
        self.fit(x)
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


def map_2d(
    kind: str,
    reference: ArrayLike,
    others: Sequence[ArrayLike] = (),
    *,
    seed: int = 0,
    n_neighbors: int = N_NEIGHBORS,
    min_dist: float = MIN_DIST,
    metric: str = "euclidean",
    cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fit a 2-D map on ``reference`` and place each array of ``others`` in the same coordinates.

    PCA and UMAP fit on the reference alone and ``transform`` the others, so the reference's picture
    does not depend on what is placed in it. t-SNE cannot place new points: it embeds
    ``[reference; others...]`` jointly and splits the result, so points that are close in the shared
    space land together, but the reference's coordinates change with the others.

    UMAP and t-SNE results are cached under ``cache_subdir("maps")`` (``.npz``, written atomically),
    keyed by the kind, its parameters, the seed, the library version and the inputs' float32 bytes and
    shapes. A damaged entry warns and is recomputed. PCA is instant and never cached.

    Args:
        kind: ``"pca"``, ``"umap"`` or ``"tsne"``.
        reference: ``[N, D]`` points that define the map (N >= 3); numpy or torch.
        others: arrays ``[M_i, D]`` of the same space (same D) to place in the reference's map.
        seed, n_neighbors, min_dist, metric: see :class:`Map2D`.
        cache: read and write the disk cache (UMAP and t-SNE).
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
    rows = [ref.shape[0]] + [p.shape[0] for p in placed]

    meta = MAP_KINDS.meta(kind)
    path = None
    if cache and meta["package"] is not None:
        params = {"metric": metric}
        if kind == "umap":
            params.update(n_neighbors=int(n_neighbors), min_dist=float(min_dist))
        path = cache_subdir("maps") / f"{_map_cache_key(kind, params, int(seed), [ref, *placed])}.npz"
        cached = _load_cached(path, rows)
        if cached is not None:
            tell(f"using the cached {kind.upper()} map of {sum(rows)} points")
            return cached[0], cached[1:]

    label = meta["label"]
    if meta["joint"]:
        tell(f"fitting {label} on {sum(rows)} points ({rows[0]} reference + {sum(rows[1:])} placed jointly)")
        joint = tsne_2d(np.concatenate([ref, *placed]), seed=int(seed), metric=metric)
        coords = np.split(joint, np.cumsum(rows)[:-1])
    else:
        tell(f"fitting {label} on {rows[0]} points")
        fitted = Map2D(kind, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric)
        coords = [fitted.fit_transform(ref)]
        for points in placed:
            tell(f"placing {points.shape[0]} points")
            coords.append(fitted.transform(points))
    coords = [np.ascontiguousarray(c, dtype=np.float32) for c in coords]
    if path is not None:
        _save_cached(path, coords)
    return coords[0], coords[1:]
