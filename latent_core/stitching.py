"""Zero-shot model stitching: a head trained on encoder A's space, applied to encoder B's.

Methods (how B's vectors reach the head's space):
    absolute            B as is (zero-padded or cropped to A's dimension): the baseline that collapses.
    relative:<proj>     the head is trained on A's relative space and applied to B's relative space, each
                        relative to the same anchor samples (``<proj>`` in
                        ``latent_core.relative.PROJECTION_FUNCTIONS``).
                        ``relative:<proj>+center`` centres each space on its anchors' mean first: the fix
                        for anisotropic encoders whose cosines all crowd near one value (E5, GloVe).
                        ``<proj>`` may also be a product of invariances (``latent_core.relative.PRODUCTS``:
                        ``product`` concatenates the cosine, euclidean, L1 and L-inf blocks, ``product-mean``
                        averages them standardised), or ``product-select``: of those four blocks, the one under
                        which A's and B's anchors agree best (:func:`latent_core.relative.block_agreement`, on the
                        anchors only: the parallel data every method is fitted on, never training or test
                        samples); the head then sees that one block.
    translate:<name>    B translated into A by a translator fitted on the anchors (``<name>`` in
                        ``latent_core.translate.TRANSLATORS``: ``procrustes``, ``linear``, ``affine``, ``lortho``,
                        ``inverse_relative``...); the head is trained on A's absolute space.
    inverse_relative    alias of ``translate:inverse_relative``.

Names are checked against the registries when a method is parsed, so projections and translators registered
at runtime are accepted (and :func:`default_methods` lists every registered translator).

"Chance" is the majority-class rate of the training labels. Anchors, train and test samples are disjoint.

A table or sweep evaluates many methods on one split through :class:`SplitRun`, which fits each head once per input
space (A's and B's absolute heads serve ``absolute`` and every translator), and runs under
:func:`latent_core.heads.limited_threads` (one thread per pool: on 2 busy cores more threads only oversubscribe),
with the methods' anchor work (projections, translator fits) computed ahead in a second thread while heads are
fitted (:meth:`SplitRun.evaluate_many`). The default scenario's results ship in ``assets/stitching`` (see "shipped
results" below and :mod:`latent_core.bundle`).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from latent_core import relative
from latent_core.anchors import select_anchors
from latent_core.errors import AnchorIndexError, InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.heads import limited_threads, make_head
from latent_core.linalg import match_dim
from latent_core.relative import (
    PRODUCT_PROJECTIONS,
    PROJECTION_FUNCTIONS,
    RelativeProjection,
    block_agreement,
    is_product,
)
from latent_core.translate import TRANSLATORS, get_translator
from latent_core.validation import ArrayLike, as_indices, as_int, as_matrix, check_same_rows, describe, unit_rows

if TYPE_CHECKING:  # pandas is imported where it is used: 0.4 s the first chart need not wait for
    import pandas as pd

CENTER_SUFFIX = "+center"
SELECT_PROJECTION = "product-select"  # a relative method that needs both spaces' anchors (SpaceMap.fit)
LOOKAHEAD_BYTES = 256 * 2**20  # method views computed ahead of the head fits (SplitRun.evaluate_many)


def default_methods() -> tuple[str, ...]:
    """The methods a benchmark runs unless told otherwise: absolute, relative cosine (plain and centred), and every
    registered translator, in registration order (read now, so runtime registrations are included)."""
    return ("absolute", "relative:cosine", f"relative:cosine{CENTER_SUFFIX}", *(f"translate:{t}" for t in TRANSLATORS))


def parse_method(method: str) -> tuple[str, str | None]:
    """``"relative:cosine"`` -> ``("relative", "cosine")``; validates the name. A relative method may end in
    ``+center`` (``"relative:cosine+center"``): each space is centred on its anchors' mean first."""
    if not isinstance(method, str):
        raise InvalidParameterError(
            f"A stitching method is a string such as 'relative:cosine', got {describe(method)}."
        )
    if method == "inverse_relative":
        return "translate", "inverse_relative"
    kind, _, arg = method.partition(":")
    if kind == "absolute" and not arg:
        return "absolute", None
    if kind == "relative" and _relative_projection_name((arg or "cosine").removesuffix(CENTER_SUFFIX)):
        return "relative", arg or "cosine"
    if kind == "translate" and arg in TRANSLATORS:
        return "translate", arg
    raise InvalidParameterError(
        f"Unknown stitching method {method!r}: use 'absolute', 'relative:<{'|'.join(relative_names())}>[+center]', "
        f"'translate:<{'|'.join(TRANSLATORS)}>' or 'inverse_relative'."
    )


def relative_names() -> tuple[str, ...]:
    """Every ``<proj>`` of ``relative:<proj>``: the registered projections, the products, then ``product-select``."""
    return (*PROJECTION_FUNCTIONS, *relative.PRODUCTS, SELECT_PROJECTION)


def _relative_projection_name(name: str) -> bool:
    return name in PROJECTION_FUNCTIONS or is_product(name) or name == SELECT_PROJECTION


def select_projection(anchors_a: torch.Tensor, anchors_b: torch.Tensor, center: bool = False) -> str:
    """The block of :data:`latent_core.relative.PRODUCT_PROJECTIONS` with the highest
    :func:`latent_core.relative.block_agreement` between A's and B's anchors (the first on a tie). Fewer than 3
    anchors: cosine."""
    if anchors_a.shape[0] < 3:
        return "cosine"
    scores = block_agreement(anchors_a, anchors_b, PRODUCT_PROJECTIONS, center=center)
    return max(scores, key=scores.get)


class SpaceMap:
    """How one method turns A's and B's vectors into the head's input space (fitted on the anchors)."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.kind, self.arg = parse_method(method)

    def fit(self, anchors_a: torch.Tensor, anchors_b: torch.Tensor) -> SpaceMap:
        self.dim_a_ = anchors_a.shape[1]
        if self.kind == "relative":
            projection, center = self.arg.removesuffix(CENTER_SUFFIX), self.arg.endswith(CENTER_SUFFIX)
            if projection == SELECT_PROJECTION:
                projection = select_projection(anchors_a, anchors_b, center)
            self.projection_ = projection  # the projection applied (product-select: the block it chose)
            self.rel_a_ = RelativeProjection(projection, center=center).fit(anchors_a)
            self.rel_b_ = RelativeProjection(projection, center=center).fit(anchors_b)
        elif self.kind == "translate":
            self.translator_ = get_translator(self.arg).fit(anchors_b, anchors_a)
        self.fitted_ = True
        return self

    def a(self, x: torch.Tensor) -> torch.Tensor:
        """A's vectors in the head's space."""
        return self.rel_a_.transform(x) if self.kind == "relative" else x

    def b(self, x: torch.Tensor) -> torch.Tensor:
        """B's vectors mapped into the head's space (the stitched path)."""
        if self.kind == "relative":
            return self.rel_b_.transform(x)
        if self.kind == "translate":
            return self.translator_.transform(x)
        return match_dim(x, self.dim_a_)

    def b_native(self, x: torch.Tensor) -> torch.Tensor:
        """B's vectors in B's own version of the method's space (for the B-only reference head)."""
        return self.rel_b_.transform(x) if self.kind == "relative" else x


@dataclass
class StitchResult:
    """Accuracies of one method on one split (macro-F1 beside each)."""

    method: str
    accuracy: float  # head fitted on A-train (method space), tested on B-test mapped by the method
    a_accuracy: float  # the same head on A's own test samples: the no-stitch reference
    b_accuracy: float  # a head fitted and tested on B in the method's space
    macro_f1: float
    a_macro_f1: float
    b_macro_f1: float
    chance: float  # majority-class rate of the training labels
    n_anchors: int
    n_train: int
    n_test: int

    def as_dict(self) -> dict:
        return asdict(self)


def _labels(labels: ArrayLike, n: int) -> np.ndarray:
    array = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise ShapeMismatchError(f"labels must have one entry per sample ({n}), got shape {array.shape}.")
    return array


def _paired(space_a: ArrayLike, space_b: ArrayLike,
            labels: ArrayLike) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Validated CPU tensors of the two spaces and the labels as a numpy array."""
    a = as_matrix(space_a, "space_a").cpu()
    b = as_matrix(space_b, "space_b").cpu()
    check_same_rows(a, b, "space_a and space_b")
    return a, b, _labels(labels, a.shape[0])


def test_count(test_size: int | float, n_samples: int) -> int:
    """``test_size`` as a count: a float below 1 is a fraction of the samples."""
    n_samples = as_int(n_samples, "n_samples", minimum=0)
    if isinstance(test_size, float) and 0 < test_size < 1:
        return int(round(test_size * n_samples))
    if isinstance(test_size, float) and float(test_size).is_integer():
        test_size = int(test_size)
    try:
        return as_int(test_size, "test_size", minimum=1)
    except InvalidParameterError:
        raise InvalidParameterError(
            f"test_size must be a number of test samples (a positive integer) or a fraction in (0, 1), got "
            f"{describe(test_size)}."
        ) from None


def _check_disjoint(anchor_idx: torch.Tensor, train_idx: torch.Tensor, test_idx: torch.Tensor) -> None:
    sets = {"anchors": set(anchor_idx.tolist()), "train": set(train_idx.tolist()), "test": set(test_idx.tolist())}
    for first, second in (("anchors", "train"), ("anchors", "test"), ("train", "test")):
        shared = sets[first] & sets[second]
        if shared:
            raise AnchorIndexError(
                f"{first} and {second} samples must be disjoint; {len(shared)} are shared (e.g. {sorted(shared)[:3]})."
            )


def _scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    return float((y_true == y_pred).mean()), float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def chance_rate(train_labels: np.ndarray) -> float:
    """Majority-class rate of the training labels."""
    _, counts = np.unique(train_labels, return_counts=True)
    return float(counts.max() / counts.sum())


class SplitRun:
    """One split's evaluations, sharing what methods have in common: each head is fitted once per input space.

    ``absolute`` and every ``translate:*`` method train A's head on A's absolute vectors, and all of them measure
    B's own head on B's absolute vectors: those two heads (and their same-space scores) are fitted once per split,
    not once per method. A relative method's heads depend on its projection and anchors, so they are keyed by both
    (an anchor sweep that revisits a count shares them too). Results are exactly those of fitting every head anew:
    the heads are deterministic given their inputs and seed.

    Args:
        a, b: ``[N, Da]`` and ``[N, Db]`` CPU tensors; y: ``[N]`` labels; train, test: index tensors.
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor, y: np.ndarray, train: torch.Tensor, test: torch.Tensor,
                 head: str = "logreg", seed: int = 0) -> None:
        self.a, self.b, self.head, self.seed = a, b, head, seed
        self.a_train, self.a_test, self.b_train, self.b_test = a[train], a[test], b[train], b[test]
        self.y_train, self.y_test = y[train.numpy()], y[test.numpy()]
        self.n_train, self.n_test = len(train), len(test)
        self.chance = chance_rate(self.y_train)
        self._heads: dict = {}  # (side, space key) -> (fitted head, same-space scores)
        self.head_fits = 0  # heads fitted so far (a benchmark compares their time with the whole run's)

    def _head(self, key: tuple, x_train: torch.Tensor, x_test: torch.Tensor):
        """The head fitted on one input space (``key``), and its scores on the same space's test vectors."""
        if key not in self._heads:
            fitted = make_head(self.head, self.seed).fit(x_train.numpy(), self.y_train)
            self.head_fits += 1
            self._heads[key] = fitted, _scores(self.y_test, fitted.predict(x_test.numpy()))
        return self._heads[key]

    def prepare(self, method: str, anchors: torch.Tensor) -> tuple[tuple, dict[str, torch.Tensor]]:
        """The anchor work of ``method``: its map fitted on these anchor rows, and every vector its heads and scores
        read (``a_train``, ``a_test``, ``b_train``, ``b_native_test``: each side in its own version of the method's
        space; ``b_test``: B's test vectors mapped by the method). Returns ``(space key, vectors)``."""
        space_map = SpaceMap(method).fit(self.a[anchors], self.b[anchors])
        if space_map.kind == "relative":
            b_test = space_map.b(self.b_test)  # B's own relative space is also the stitched one: one projection
            return (space_map.arg, anchors.numpy().tobytes()), {
                "a_train": space_map.a(self.a_train), "a_test": space_map.a(self.a_test),
                "b_train": space_map.b_native(self.b_train), "b_native_test": b_test, "b_test": b_test}
        return ("absolute",), {"a_train": self.a_train, "a_test": self.a_test, "b_train": self.b_train,
                               "b_native_test": self.b_test, "b_test": space_map.b(self.b_test)}

    def finish(self, method: str, anchors: torch.Tensor, prepared: tuple[tuple, dict[str, torch.Tensor]]
               ) -> StitchResult:
        """The heads and scores of ``method`` from its :meth:`prepare` output."""
        space, v = prepared
        head_a, same_a = self._head(("a", *space), v["a_train"], v["a_test"])
        _, same_b = self._head(("b", *space), v["b_train"], v["b_native_test"])
        stitched = _scores(self.y_test, head_a.predict(v["b_test"].numpy()))
        return StitchResult(method, stitched[0], same_a[0], same_b[0], stitched[1], same_a[1], same_b[1],
                            self.chance, len(anchors), self.n_train, self.n_test)

    def evaluate(self, method: str, anchors: torch.Tensor) -> StitchResult:
        """``method`` with these anchor rows: A's head on B mapped by the method, and both same-space references."""
        return self.finish(method, anchors, self.prepare(method, anchors))

    def evaluate_many(self, methods: Sequence[str], anchors: torch.Tensor) -> Iterator[StitchResult]:
        """:meth:`evaluate` of each method in order, while a second thread computes the next methods' anchor work
        (projections, translator fits: torch, scipy and LAPACK release the GIL) as this one fits heads. The results
        are exactly :meth:`evaluate`'s. The work runs ahead by as many methods as :data:`LOOKAHEAD_BYTES` of
        relative vectors allow (all 12 at the default scenario's size; one at 50,000 samples x 1,000 anchors)."""
        methods = tuple(methods)
        per_method = 4 * 2 * (self.n_train + self.n_test) * max(1, len(anchors))  # float32, A's and B's views
        depth = max(1, min(len(methods), LOOKAHEAD_BYTES // per_method))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stitch-prepare") as pool:
            ahead = deque(pool.submit(self.prepare, method, anchors) for method in methods[:depth])
            for position, method in enumerate(methods):
                prepared = ahead.popleft().result()
                if position + depth < len(methods):
                    ahead.append(pool.submit(self.prepare, methods[position + depth], anchors))
                yield self.finish(method, anchors, prepared)


def stitch_eval(space_a: ArrayLike, space_b: ArrayLike, labels: ArrayLike, *, anchor_idx: ArrayLike,
                method: str, head: str = "logreg", train_idx: ArrayLike, test_idx: ArrayLike,
                seed: int = 0) -> StitchResult:
    """Train a head on A (in the method's space) and evaluate it on B mapped by ``method``.

    Args:
        space_a, space_b: ``[N, Da]`` and ``[N, Db]`` embeddings of the same N samples.
        labels: ``[N]`` class labels.
        anchor_idx, train_idx, test_idx: disjoint sample indices.
        method: see the module docstring.
        head: ``"logreg"`` or ``"mlp"``.

    Raises:
        ShapeMismatchError, AnchorIndexError (overlapping or bad indices), InvalidParameterError (one class).
    """
    a, b, y = _paired(space_a, space_b, labels)
    run, anchors = _split_run(a, b, y, anchor_idx, train_idx, test_idx, head, seed)
    with limited_threads():
        return run.evaluate(method, anchors)


def _split_run(a: torch.Tensor, b: torch.Tensor, y: np.ndarray, anchor_idx, train_idx, test_idx, head: str,
               seed) -> tuple[SplitRun, torch.Tensor]:
    """Checked indices and the :class:`SplitRun` of one split."""
    seed = as_int(seed, "seed", minimum=0)
    n = a.shape[0]
    anchors = as_indices(anchor_idx, n, "anchor indices")
    train = as_indices(train_idx, n, "train indices", min_count=2)
    test = as_indices(test_idx, n, "test indices", min_count=1)
    _check_disjoint(anchors, train, test)
    if len(np.unique(y[train.numpy()])) < 2:
        raise InvalidParameterError("The training samples hold a single class; a classifier needs at least two.")
    return SplitRun(a, b, y, train, test, head, seed), anchors


def split_indices(labels: np.ndarray, *, n_anchors: int, test_size: int | float, seed: int,
                  anchor_pool: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified test set, then an anchor pool and a training set from the rest (all disjoint).

    Returns ``(pool, train, test)``: anchors are chosen from ``pool`` (``anchor_pool`` samples, default
    ``n_anchors``), so the training set keeps the same size whatever number of anchors is drawn from it.
    """
    from latent_core.data.base import stratified_indices

    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ShapeMismatchError(f"labels must be a 1-D array with one entry per sample, got shape {labels.shape}.")
    n = len(labels)
    n_test = test_count(test_size, n)
    seed = as_int(seed, "seed", minimum=0)
    pool_size = as_int(anchor_pool if anchor_pool is not None else n_anchors, "the number of anchors", minimum=1)
    if n_test < 1 or n_test + pool_size + 2 > n:
        raise InvalidParameterError(
            f"{n} samples cannot hold {n_test} test samples, {pool_size} anchors and a training set."
        )
    test = stratified_indices(labels, n_test, seed=seed)
    rest = np.setdiff1d(np.arange(n), test)
    rest = np.random.default_rng(seed).permutation(rest)
    return np.sort(rest[:pool_size]), np.sort(rest[pool_size:]), test


def draw_anchors(space_a: ArrayLike, labels: np.ndarray, pool: np.ndarray, n_anchors: int, strategy: str,
                 seed: int) -> np.ndarray:
    """``n_anchors`` sample rows chosen by ``strategy`` among the ``pool`` rows of A's space ``[N, Da]``."""
    local = select_anchors(space_a[pool], n_anchors, strategy, labels=np.asarray(labels)[pool], seed=seed)
    return pool[local.numpy()]


def _evaluate(run: SplitRun, anchors: np.ndarray, methods, seed, strategy, tick) -> list[dict]:
    rows = []
    anchors = as_indices(anchors, run.a.shape[0], "anchor indices")
    for result in run.evaluate_many(tuple(methods), anchors):
        rows.append({**result.as_dict(), "seed": seed, "strategy": strategy})
        tick()
    return rows


def _ticker(total: int, progress):
    state = {"done": 0}

    def tick(count: int = 1) -> None:
        state["done"] += count
        if progress is not None:
            progress(state["done"], total)

    return tick


def stitch_benchmark(space_a: ArrayLike, space_b: ArrayLike, labels: ArrayLike, *,
                     methods: Sequence[str] | None = None, n_anchors: int = 300, strategy: str = "random",
                     test_size: int | float = 0.4, seeds: Sequence[int] = (0, 1, 2), head: str = "logreg",
                     progress=None) -> pd.DataFrame:
    """For every seed: redraw the test split and the anchors, evaluate every method (default:
    :func:`default_methods`).

    Returns:
        One row per (seed, method) with the :class:`StitchResult` fields plus ``seed`` and ``strategy``.
        Use :func:`summarize` for mean and std per method.
    """
    a, b, y = _paired(space_a, space_b, labels)
    methods = default_methods() if methods is None else methods
    for method in methods:
        parse_method(method)
    rows = []
    tick = _ticker(len(seeds) * len(methods), progress)
    with limited_threads():
        for seed in seeds:
            pool, train, test = split_indices(y, n_anchors=n_anchors, test_size=test_size, seed=seed)
            anchors = draw_anchors(a, y, pool, n_anchors, strategy, seed)
            run, anchors = _split_run(a, b, y, anchors, train, test, head, seed)
            rows += _evaluate(run, anchors, methods, seed, strategy, tick)
    import pandas as pd
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, by: Sequence[str] = ("method",)) -> pd.DataFrame:
    """Mean and std over seeds of the accuracies, per ``by`` group (order of first appearance kept)."""
    metrics = ["accuracy", "a_accuracy", "b_accuracy", "macro_f1", "chance"]
    grouped = results.groupby(list(by), sort=False)[metrics]
    summary = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=0).add_suffix("_std"))
    return summary.reset_index()


def anchor_sweep(space_a: ArrayLike, space_b: ArrayLike, labels: ArrayLike, *, counts: Sequence[int],
                 methods: Sequence[str] = ("absolute", "relative:cosine", "translate:procrustes"),
                 strategies: Sequence[str] = ("random",), test_size: int | float = 0.4,
                 seeds: Sequence[int] = (0,), head: str = "logreg", progress=None) -> pd.DataFrame:
    """Accuracy against the number of anchors (and the anchor strategy): a tidy DataFrame with one row per
    (seed, strategy, n_anchors, method). The test and training sets are fixed per seed; only the anchors
    change, drawn from a pool of ``max(counts)`` samples. Counts a strategy cannot reach (stratified with
    too few samples of a class in the pool) are left out of that strategy's curve."""
    a, b, y = _paired(space_a, space_b, labels)
    counts = sorted({as_int(c, "an anchor count", error=AnchorIndexError) for c in counts})
    if not counts:
        raise AnchorIndexError("anchor_sweep needs at least one anchor count.")
    if counts[0] < 2:
        raise AnchorIndexError("Every anchor count must be at least 2.")
    rows = []
    tick = _ticker(len(seeds) * len(strategies) * len(counts) * len(methods), progress)
    with limited_threads():
        for seed in seeds:
            pool, train, test = split_indices(y, n_anchors=counts[-1], test_size=test_size, seed=seed)
            run, _ = _split_run(a, b, y, pool, train, test, head, seed)  # one run per seed: its heads are shared
            for strategy in strategies:
                for count in counts:
                    try:
                        anchors = draw_anchors(a, y, pool, count, strategy, seed)
                    except AnchorIndexError:  # e.g. stratified: a class has too few samples; the curve ends here
                        tick(len(methods))
                        continue
                    rows += _evaluate(run, anchors, methods, seed, strategy, tick)
    import pandas as pd
    return pd.DataFrame(rows)


# ---- shipped results ---------------------------------------------------------------------------------------------
# A table or a sweep is described by a *spec* (every argument that produces it); its *fingerprint* hashes the spec
# with the bytes of both spaces and the labels. ``python -m latent_core.bundle`` ships the default scenario's results
# as ``assets/stitching/<fingerprint[:40]>.json``; a reader uses one only when the fingerprint matches in full.

SHIPPED_FORMAT = "1"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets" / "stitching"
SHIPPED_ENV = "LATENT_SHIPPED_STITCHING_DIR"  # another folder of shipped results (empty: none)
SWEEP_METHODS = ("absolute", "relative:cosine", "translate:procrustes")  # the anchor curves' methods
SWEEP_STRATEGIES = ("random", "stratified", "kmeans", "fps")
SWEEP_LADDER = (5, 10, 25, 50, 100, 200, 300, 500, 700, 1000)


def table_methods() -> tuple[str, ...]:
    """The stitching table's rows: absolute, every relative projection (cosine and its centred variant first), the
    products of invariances (the two aggregations, then the block chosen from both spaces' anchors), every
    translator (from the registries, read now). The same list as the app's ``app.services.stitching.table_methods``
    (``app.state.relative_projections``), so the shipped table matches."""
    return ("absolute", "relative:cosine", f"relative:cosine{CENTER_SUFFIX}",
            *[f"relative:{p}" for p in PROJECTION_FUNCTIONS if p != "cosine"],
            *[f"relative:{p}" for p in relative.PRODUCTS], f"relative:{SELECT_PROJECTION}",
            *[f"translate:{t}" for t in TRANSLATORS])


def sweep_ladder(top: int) -> tuple[int, ...]:
    """The anchor counts of the curves: :data:`SWEEP_LADDER` below ``top``, then ``top``."""
    return tuple(sorted({c for c in SWEEP_LADDER if c < top} | {int(top)}))


def table_spec(*, methods: Sequence[str], n_anchors: int, strategy: str, test_size: int | float,
               seeds: Sequence[int], head: str = "logreg") -> dict:
    """Every argument of :func:`stitch_benchmark` that changes its result, as plain JSON values."""
    return {"kind": "table", "methods": list(methods), "n_anchors": int(n_anchors), "strategy": strategy,
            "test_size": test_size, "seeds": [int(s) for s in seeds], "head": head}


def sweep_spec(*, counts: Sequence[int], methods: Sequence[str], strategies: Sequence[str], test_size: int | float,
               seeds: Sequence[int], head: str = "logreg") -> dict:
    """Every argument of :func:`anchor_sweep` that changes its result, as plain JSON values."""
    return {"kind": "sweep", "counts": [int(c) for c in counts], "methods": list(methods),
            "strategies": list(strategies), "test_size": test_size, "seeds": [int(s) for s in seeds], "head": head}


def run_spec(spec: dict, space_a: ArrayLike, space_b: ArrayLike, labels: ArrayLike, progress=None) -> pd.DataFrame:
    """The table or sweep a spec describes."""
    common = {"test_size": spec["test_size"], "seeds": spec["seeds"], "head": spec["head"], "progress": progress}
    if spec["kind"] == "table":
        return stitch_benchmark(space_a, space_b, labels, methods=spec["methods"], n_anchors=spec["n_anchors"],
                                strategy=spec["strategy"], **common)
    if spec["kind"] == "sweep":
        return anchor_sweep(space_a, space_b, labels, counts=spec["counts"], methods=spec["methods"],
                            strategies=spec["strategies"], **common)
    raise InvalidParameterError(f"Unknown kind of stitching result {spec.get('kind')!r}: use 'table' or 'sweep'.")


def inputs_fingerprint(space_a: ArrayLike, space_b: ArrayLike, labels: ArrayLike) -> str:
    """SHA-256 of both spaces (float32 bytes and shapes) and the labels (int64)."""
    digest = hashlib.sha256()
    for array, dtype in ((space_a, np.float32), (space_b, np.float32), (labels, np.int64)):
        array = array.detach().cpu().numpy() if torch.is_tensor(array) else np.asarray(array)
        array = np.ascontiguousarray(array, dtype=dtype)
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def spec_fingerprint(spec: dict, inputs: str) -> str:
    """The fingerprint of one result: its spec and :func:`inputs_fingerprint` of its inputs."""
    text = json.dumps({"spec": spec, "inputs": inputs, "format": SHIPPED_FORMAT}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def shipped_dir() -> Path | None:
    """The folder of shipped results: ``LATENT_SHIPPED_STITCHING_DIR`` if set (empty: none), else
    ``assets/stitching``."""
    configured = os.environ.get(SHIPPED_ENV)
    if configured is None:
        return SHIPPED_DIR
    return Path(configured) if configured.strip() else None


def _shipped_path(folder: Path, fingerprint: str) -> Path:
    return folder / f"{fingerprint[:40]}.json"


def has_shipped() -> bool:
    """Whether any shipped result exists (so callers can skip fingerprinting when none does)."""
    folder = shipped_dir()
    return folder is not None and folder.is_dir() and any(folder.glob("*.json"))


def read_shipped(fingerprint: str) -> pd.DataFrame | None:
    """The shipped result whose fingerprint is exactly ``fingerprint``, or None (none, another fingerprint, or an
    unreadable file: warned about)."""
    folder = shipped_dir()
    if folder is None:
        return None
    path = _shipped_path(folder, fingerprint)
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
        if stored.get("format") != SHIPPED_FORMAT or stored.get("fingerprint") != fingerprint:
            return None
        import pandas as pd
        return pd.DataFrame(stored["rows"], columns=stored["columns"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        warnings.warn(f"Unreadable shipped stitching result {path.name} ({exc}); computing instead.", RuntimeWarning,
                      stacklevel=2)
        return None


def write_shipped(folder: str | Path, spec: dict, fingerprint: str, frame: pd.DataFrame) -> Path:
    """Write one result for :func:`read_shipped` (the bundle script does, for the default scenario)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = _shipped_path(folder, fingerprint)
    rows = [[value.item() if isinstance(value, np.generic) else value for value in row]
            for row in frame.itertuples(index=False, name=None)]
    stored = {"format": SHIPPED_FORMAT, "fingerprint": fingerprint, "spec": spec, "columns": list(frame.columns),
              "rows": rows}
    path.write_text(json.dumps(stored, indent=None, separators=(",", ":")) + "\n")
    return path


def max_anchor_count(n_samples: int, test_size: int | float, min_train: int = 100) -> int:
    """The most anchors the data allows once the test set and a training set of ``min_train`` are set aside."""
    return max(2, n_samples - test_count(test_size, n_samples) - min_train)


class Stitcher:
    """A stitched classifier fitted once: anchors, method and a head on A; then fast predictions for B.

    Example:
        >>> stitcher = Stitcher("relative:cosine").fit(a, b, labels, anchor_idx=anchors, train_idx=train)
        >>> stitcher.predict_proba(encoder_b.encode(["a new sentence"]))
    """

    def __init__(self, method: str = "relative:cosine", head: str = "logreg", seed: int = 0) -> None:
        self.method, self.head, self.seed = method, head, seed

    def fit(self, space_a: ArrayLike, space_b: ArrayLike, labels: ArrayLike, *, anchor_idx: ArrayLike,
            train_idx: ArrayLike) -> Stitcher:
        a, b, y = _paired(space_a, space_b, labels)
        anchors = as_indices(anchor_idx, a.shape[0], "anchor indices")
        train = as_indices(train_idx, a.shape[0], "train indices")
        _check_disjoint(anchors, train, torch.empty(0, dtype=torch.long))
        if len(np.unique(y[train.numpy()])) < 2:
            raise InvalidParameterError("The training samples hold a single class; a classifier needs at least two.")
        with limited_threads():
            self.map_ = SpaceMap(self.method).fit(a[anchors], b[anchors])
            self.head_ = make_head(self.head, self.seed).fit(self.map_.a(a[train]).numpy(), y[train.numpy()])
        self.classes_ = self.head_.classes_
        self.anchor_idx_ = anchors
        self.anchors_b_unit_ = unit_rows(b[anchors], "B anchors")
        self.dim_b_ = b.shape[1]
        return self

    def _check(self, x: ArrayLike) -> torch.Tensor:
        if not hasattr(self, "head_"):
            raise NotFittedError("Stitcher is not fitted: call fit(...) first.")
        if not torch.is_tensor(x):
            x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        x = as_matrix(x[None] if x.ndim == 1 else x, "embeddings_b").cpu()  # one vector is one row
        if x.shape[1] != self.dim_b_:
            raise ShapeMismatchError(f"B embeddings have dimension {x.shape[1]}, the stitcher expects {self.dim_b_}.")
        return x

    def predict_proba(self, embeddings_b: ArrayLike) -> np.ndarray:
        """``[M, C]`` class probabilities for B embeddings ``[M, Db]`` (columns follow ``classes_``)."""
        x = self._check(embeddings_b)
        return self.head_.predict_proba(self.map_.b(x).numpy())

    def predict(self, embeddings_b: ArrayLike) -> np.ndarray:
        return self.classes_[self.predict_proba(embeddings_b).argmax(1)]

    def top_anchors(self, embedding_b: ArrayLike, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` anchors most similar (cosine, in B's space) to one B embedding: (sample indices, cosines)."""
        x = self._check(embedding_b)
        if x.shape[0] != 1:
            raise ShapeMismatchError("top_anchors takes one embedding.")
        k = max(1, min(as_int(k, "k"), len(self.anchor_idx_)))
        sims = (unit_rows(x, "embedding_b") @ self.anchors_b_unit_.T)[0]
        values, order = sims.topk(k)
        return self.anchor_idx_[order].numpy(), values.numpy()
