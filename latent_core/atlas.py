"""Charts to Atlas (Crisostomi et al., 2023): several spaces of the same samples merged into one atlas.

Each space ("chart") is described relative to the same K anchor samples (:mod:`latent_core.relative`); the atlas of
a sample is the mean of its relative representations over the spaces. Every chart's relative representation lives
in the same K coordinates as the atlas, so a head trained once on the atlas reads any single chart.

    >>> atlas = Atlas("cosine").fit([a[anchor_idx], b[anchor_idx], c[anchor_idx]])
    >>> atlas.transform(1, b)                 # [N, K]: B's chart, in the atlas's coordinates
    >>> atlas.merge([a, b, c])                # [N, K]: the atlas (mean of the three charts)

:func:`atlas_comparison` is the paper's test: a head trained once on the atlas of the training samples, scored on
each space's relative test vectors alone, against a head trained on that space alone ("own head"), with the head of
the first space read through each other space ("stitched from A") for context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from latent_core.errors import AnchorIndexError, InvalidParameterError, NotFittedError, ShapeMismatchError
from latent_core.heads import limited_threads, make_head
from latent_core.relative import RelativeProjection
from latent_core.stitching import CENTER_SUFFIX, chance_rate, draw_anchors, split_indices
from latent_core.validation import ArrayLike, as_indices, as_int, as_matrix, check_same_rows, describe

if TYPE_CHECKING:  # pandas is imported where it is used
    import pandas as pd

ATLAS_HEAD, OWN_HEAD, STITCHED_HEAD = "atlas head", "own head", "stitched from A"
METHODS = (ATLAS_HEAD, OWN_HEAD, STITCHED_HEAD)  # the comparison's methods, in table order


def _projection(projection: str) -> RelativeProjection:
    """An unfitted relative projection; ``"<name>+center"`` centres each space on its own anchors first."""
    if not isinstance(projection, str):
        raise InvalidParameterError(f"projection must be a name such as 'cosine', got {describe(projection)}.")
    return RelativeProjection(projection.removesuffix(CENTER_SUFFIX), center=projection.endswith(CENTER_SUFFIX))


class Atlas:
    """Relative projections of several spaces against the same anchor samples, and their mean (the atlas).

    Args:
        projection: a relative projection name (:data:`latent_core.relative.PROJECTIONS`, a product), optionally
            ending in ``+center``.

    Attributes (after fit):
        charts_: one fitted :class:`~latent_core.relative.RelativeProjection` per space.
        n_anchors_: K, the atlas's dimension (``[.., 4K]`` for the ``product`` projection).
    """

    def __init__(self, projection: str = "cosine") -> None:
        self.projection = projection

    def fit(self, anchor_sets: Sequence[ArrayLike]) -> Atlas:
        """Fit on the anchors of each space: ``anchor_sets[i]`` is ``[K, D_i]``, row k the same sample in every
        space.

        Raises:
            InvalidParameterError (no space, bad projection), ShapeMismatchError (different anchor counts),
            ZeroVectorError / NonFiniteError (bad anchors).
        """
        if isinstance(anchor_sets, (np.ndarray, torch.Tensor)) or not len(anchor_sets):
            raise InvalidParameterError("An atlas needs a list of anchor sets, one [K, D_i] matrix per space.")
        anchors = [as_matrix(x, f"anchors of space {i}") for i, x in enumerate(anchor_sets)]
        for i, x in enumerate(anchors[1:], start=1):
            check_same_rows(anchors[0], x, f"the anchors of space 0 and space {i}")
        self.charts_ = [_projection(self.projection).fit(x) for x in anchors]
        self.n_anchors_ = anchors[0].shape[0]
        return self

    @property
    def n_spaces(self) -> int:
        self._check_fitted()
        return len(self.charts_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "charts_"):
            raise NotFittedError("Atlas is not fitted: call fit(anchor_sets) first.")

    def transform(self, i: int, x: ArrayLike) -> torch.Tensor:
        """``[N, K]``: space ``i``'s samples ``x: [N, D_i]`` relative to its anchors (its chart of the atlas)."""
        self._check_fitted()
        i = as_int(i, "space index", minimum=0)
        if i >= len(self.charts_):
            raise InvalidParameterError(f"space index {i} out of range: the atlas has {len(self.charts_)} spaces.")
        return self.charts_[i].transform(x)

    def merge(self, spaces: Sequence[ArrayLike]) -> torch.Tensor:
        """``[N, K]``: the atlas of N samples given in every space (``spaces[i]`` is ``[N, D_i]``), the mean of
        their charts, on the first space's device."""
        self._check_fitted()
        if isinstance(spaces, (np.ndarray, torch.Tensor)):
            raise ShapeMismatchError(f"merge needs a list of {len(self.charts_)} matrices (one per space), got "
                                     f"{describe(spaces)}.")
        if len(spaces) != len(self.charts_):
            raise ShapeMismatchError(f"merge needs one matrix per space of the atlas ({len(self.charts_)}), got "
                                     f"{len(spaces)}.")
        matrices = [as_matrix(x, f"space {i}") for i, x in enumerate(spaces)]
        for i, x in enumerate(matrices[1:], start=1):
            check_same_rows(matrices[0], x, f"space 0 and space {i}")
        device = matrices[0].device
        total = self.transform(0, matrices[0]).to(torch.float32)
        for i, x in enumerate(matrices[1:], start=1):
            total += self.transform(i, x).to(device=device, dtype=torch.float32)
        return total / len(matrices)


# ---- the paper's comparison --------------------------------------------------------------------------------------

def _spaces(spaces: Sequence[ArrayLike]) -> list[torch.Tensor]:
    if isinstance(spaces, (np.ndarray, torch.Tensor)) or len(spaces) < 2:
        raise InvalidParameterError("An atlas comparison needs a list of at least 2 spaces of the same samples.")
    matrices = [as_matrix(x, f"space {i}").cpu() for i, x in enumerate(spaces)]
    for i, x in enumerate(matrices[1:], start=1):
        check_same_rows(matrices[0], x, f"space 0 and space {i}")
    return matrices


def _labels(labels: ArrayLike, n: int) -> np.ndarray:
    array = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise ShapeMismatchError(f"labels must have one entry per sample ({n}), got shape {array.shape}.")
    return array


def _split(n: int, anchor_idx, train_idx, test_idx) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    anchors = as_indices(anchor_idx, n, "anchor indices")
    train = as_indices(train_idx, n, "train indices", min_count=2).numpy()
    test = as_indices(test_idx, n, "test indices", min_count=1).numpy()
    sets = {"anchors": set(anchors.tolist()), "train": set(train.tolist()), "test": set(test.tolist())}
    for first, second in (("anchors", "train"), ("anchors", "test"), ("train", "test")):
        shared = sets[first] & sets[second]
        if shared:
            raise AnchorIndexError(f"{first} and {second} samples must be disjoint; {len(shared)} are shared "
                                   f"(e.g. {sorted(shared)[:3]}).")
    return anchors, train, test


def _scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    return float((y_true == y_pred).mean()), float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def atlas_comparison(spaces: Sequence[ArrayLike], labels: ArrayLike, *, anchor_idx: ArrayLike, train_idx: ArrayLike,
                     test_idx: ArrayLike, head: str = "logreg", projection: str = "cosine", seed: int = 0,
                     names: Sequence[str] | None = None) -> pd.DataFrame:
    """Does one head trained on the atlas read every space as well as that space's own head?

    Args:
        spaces: ``[N, D_i]`` embeddings of the same N samples by at least 2 encoders (the first is "A").
        labels: ``[N]`` class labels.
        anchor_idx, train_idx, test_idx: disjoint sample rows (anchors shared by every space).
        head: a head name (:data:`latent_core.heads.HEADS`), fitted with ``seed``.
        projection: the relative projection (``+center`` allowed).
        names: one name per space for the ``space`` column (default ``"space 0"``, ...).

    Returns:
        A tidy DataFrame, one row per (test space, method), in space order then :data:`METHODS` order: ``space``,
        ``method`` (``"atlas head"``: trained once on the mean of every space's relative training vectors;
        ``"own head"``: trained on this space's relative training vectors; ``"stitched from A"``: trained on the
        first space's), ``accuracy`` and ``macro_f1`` of that head on this space's relative test vectors alone,
        ``chance`` (majority rate of the training labels), ``n_anchors``, ``n_train``, ``n_test``.

    Raises:
        InvalidParameterError (fewer than 2 spaces, one class, bad head), ShapeMismatchError (rows, labels, names),
        AnchorIndexError (bad or overlapping indices).
    """
    import pandas as pd

    matrices = _spaces(spaces)
    n = matrices[0].shape[0]
    y = _labels(labels, n)
    anchors, train, test = _split(n, anchor_idx, train_idx, test_idx)
    seed = as_int(seed, "seed", minimum=0)
    names = [f"space {i}" for i in range(len(matrices))] if names is None else [str(s) for s in names]
    if len(names) != len(matrices):
        raise ShapeMismatchError(f"names must name each of the {len(matrices)} spaces, got {len(names)}.")
    if len(np.unique(y[train])) < 2:
        raise InvalidParameterError("The training samples hold a single class; a classifier needs at least two.")
    make_head(head, seed)  # an unknown head fails before any projection
    atlas = Atlas(projection).fit([x[anchors] for x in matrices])
    charts_train = [atlas.transform(i, x[train]).numpy() for i, x in enumerate(matrices)]
    charts_test = [atlas.transform(i, x[test]).numpy() for i, x in enumerate(matrices)]
    y_train, y_test = y[train], y[test]
    rows, common = [], {"chance": chance_rate(y_train), "n_anchors": len(anchors), "n_train": len(train),
                        "n_test": len(test)}
    with limited_threads():
        atlas_head = make_head(head, seed).fit(np.mean(charts_train, axis=0), y_train)
        own = [make_head(head, seed).fit(x, y_train) for x in charts_train]
        for i, name in enumerate(names):
            for method, fitted in ((ATLAS_HEAD, atlas_head), (OWN_HEAD, own[i]), (STITCHED_HEAD, own[0])):
                accuracy, macro_f1 = _scores(y_test, fitted.predict(charts_test[i]))
                rows.append({"space": name, "method": method, "accuracy": accuracy, "macro_f1": macro_f1, **common})
    return pd.DataFrame(rows)


def atlas_benchmark(spaces: Sequence[ArrayLike], labels: ArrayLike, *, n_anchors: int = 300,
                    strategy: str = "random", test_size: int | float = 0.4, seeds: Sequence[int] = (0, 1, 2),
                    head: str = "logreg", projection: str = "cosine", names: Sequence[str] | None = None,
                    progress=None) -> pd.DataFrame:
    """:func:`atlas_comparison` over seeds: each seed draws the split (:func:`latent_core.stitching.split_indices`)
    and ``n_anchors`` anchors from its pool by ``strategy`` (in the first space). The tidy rows of every seed, with a
    ``seed`` column; ``progress(done, total)`` after each seed."""
    import pandas as pd

    matrices = _spaces(spaces)
    y = _labels(labels, matrices[0].shape[0])
    frames = []
    for done, seed in enumerate(seeds, start=1):
        pool, train, test = split_indices(y, n_anchors=n_anchors, test_size=test_size, seed=seed)
        anchors = draw_anchors(matrices[0], y, pool, n_anchors, strategy, seed)
        frame = atlas_comparison(matrices, y, anchor_idx=anchors, train_idx=train, test_idx=test, head=head,
                                 projection=projection, seed=seed, names=names)
        frames.append(frame.assign(seed=seed))
        if progress is not None:
            progress(done, len(seeds))
    return pd.concat(frames, ignore_index=True)


def atlas_table(results: pd.DataFrame) -> pd.DataFrame:
    """The comparison as a table: one row per test space (order kept), one column per method (mean accuracy over
    seeds), and ``atlas - own`` (the atlas head's accuracy minus the own head's: the paper claims about 0)."""
    table = results.pivot_table(index="space", columns="method", values="accuracy", aggfunc="mean", sort=False)
    table = table[[m for m in METHODS if m in table.columns]]
    table["atlas - own"] = table[ATLAS_HEAD] - table[OWN_HEAD]
    table.columns.name = None
    return table.reset_index()
