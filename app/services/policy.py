"""How a sidebar setting becomes anchors and a train/test split: the one place every page asks.

Two kinds of pages read the same sidebar setting (strategy, number of anchors, manual picks, seed):

- **Explorer pages** (Spaces, Similarity, the lesson's pictures) draw anchors from every sample, by the sidebar's
  strategy on A's space, or take the manual picks in order. The count is the sidebar's; its slider stops at N - 1.
- **Split pages** (the Stitching lab, the lesson's accuracies) train and test a classifier, so anchors must stay
  out of the test set and the training set. One split per scenario serves them all: a stratified test set
  (:func:`test_size_for`), an anchor pool, and the training samples from the rest. Anchors are drawn from the pool
  by the sidebar's strategy (manual picks may sit in the test set, so "manual" draws at random there), and the
  count is the sidebar's unless the pool cannot hold it (:func:`split_budget`). The stitching table and the anchor
  curves redraw the split per seed with the same sizes.

When a split page uses another count or strategy than the sidebar's, :class:`AnchorPlan` says why in words, and
the page shows it. The Cross-modal page has its own anchor pairs (its models are fixed) and says so.

Nothing here touches Streamlit: these are rules and pure functions of arrays, cached by the services that call them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app import safety
from latent_core.anchors import select_anchors
from latent_core.errors import AnchorIndexError, InvalidParameterError
from latent_core.stitching import draw_anchors, max_anchor_count, split_indices, test_count

TEST_FRACTION, TEST_MAX = 0.4, 900  # the papers' BBC split: 40% of the samples, at most 900
POOL = 500  # anchors a split page may draw (when the data allows): the split keeps this many samples aside
MIN_TRAIN_SHARE = 4  # a split leaves at least 1/4 of the samples (and 10) for training beside the test set
MIN_EXTRA = 14  # samples a split needs beyond its test set (a few anchors and a trainable set)
MANUAL = "manual"


def test_size_for(n: int) -> int:
    """The test set of a split page: 40% of the ``n`` samples, at most 900."""
    return max(1, min(TEST_MAX, int(round(TEST_FRACTION * n))))


def slider_max(n: int | None) -> int:
    """The most anchors the sidebar offers: the server's cap, and at most N - 1 (None: the data is not known)."""
    cap = safety.limits().max_anchors
    return cap if n is None else max(2, min(cap, n - 1))


def split_room(n: int) -> int:
    """The largest anchor pool beside the test set and a training set of a quarter of the samples."""
    return max_anchor_count(n, test_size_for(n), min_train=max(10, n // MIN_TRAIN_SHARE))


def split_budget(n_anchors: int, n: int) -> int:
    """The anchor count of a split page: the sidebar's, capped by :func:`split_room`."""
    return max(2, min(int(n_anchors), split_room(n)))


def pool_size(n: int, budget: int) -> int:
    """Samples a split sets aside for anchors: ``POOL`` (or the budget if larger), within :func:`split_room`."""
    return max(2, min(max(budget, POOL), split_room(n)))


def split_strategy(strategy: str) -> str:
    """How a split page draws anchors for the sidebar's strategy (manual picks may sit in the test set)."""
    return "random" if strategy == MANUAL else strategy


def check_splittable(n: int) -> None:
    """Raise InvalidParameterError when ``n`` samples cannot hold a test set, anchors and a training set."""
    if test_count(test_size_for(n), n) + MIN_EXTRA > n:
        raise InvalidParameterError(f"{n} samples are too few to train and test a classifier; raise the sample "
                                    "size in the sidebar.")


def max_pairs(n_samples: int) -> int:
    """The most image/caption anchor pairs the Cross-modal page offers: a fifth of the samples (at least 20) stay
    test images."""
    return max(2, n_samples - max(20, n_samples // 5))


@dataclass(frozen=True)
class AnchorPlan:
    """The anchors a page uses for the sidebar's setting."""

    count: int  # how many
    strategy: str  # drawn how ("manual": the sidebar's picks)
    note: str  # why they differ from the sidebar's setting ("" when they do not)


def explorer_plan(strategy: str, n_anchors: int, manual: tuple[str, ...]) -> AnchorPlan:
    """Explorer pages use the sidebar's setting as it is."""
    return AnchorPlan(len(manual) if strategy == MANUAL else int(n_anchors), strategy, "")


def split_plan(strategy: str, n_anchors: int, n: int) -> AnchorPlan:
    """Split pages: the sidebar's count within the pool, drawn by :func:`split_strategy`; the note says why not."""
    count, drawn = split_budget(n_anchors, n), split_strategy(strategy)
    reasons = []
    if strategy == MANUAL:
        reasons.append("manual picks could fall in the test set, so this page draws random anchors")
    if count < n_anchors:
        reasons.append(f"{n_anchors} anchors do not fit beside the {test_size_for(n)} test samples and the training "
                       f"set, so this page uses {count}")
    return AnchorPlan(count, drawn, "; ".join(reasons).capitalize() + "." if reasons else "")


@dataclass(frozen=True)
class Split:
    """Disjoint rows of one scenario for a split page."""

    pool: np.ndarray  # [P] samples anchors are drawn from
    train: np.ndarray  # [T] samples the classifiers are trained on
    test: np.ndarray  # [S] samples they are tested on (never anchors, never training)
    n_anchors: int  # the plan's count (at most the pool)

    @property
    def max_anchors(self) -> int:
        return len(self.pool)


def make_split(labels: np.ndarray, budget: int, seed: int) -> Split:
    """The split of a scenario's ``[N]`` labels for an anchor budget (see the module docstring)."""
    n = len(labels)
    check_splittable(n)
    pool = pool_size(n, budget)
    pool_idx, train, test = split_indices(labels, n_anchors=pool, test_size=test_size_for(n), seed=seed)
    return Split(pool_idx, train, test, min(budget, pool))


def split_anchor_rows(a: np.ndarray, labels: np.ndarray, split: Split, strategy: str, count: int,
                      seed: int) -> np.ndarray:
    """``[count]`` anchor rows drawn from the split's pool by ``strategy`` on A's space ``[N, D]``."""
    return draw_anchors(a, labels, split.pool, count, split_strategy(strategy), seed)


def explorer_anchor_rows(a: np.ndarray, labels: np.ndarray, ids: list[str], strategy: str, n_anchors: int,
                         manual: tuple[str, ...], seed: int) -> np.ndarray:
    """``[K]`` anchor rows of an explorer page: the manual ids in order, or ``n_anchors`` chosen by ``strategy`` on
    A's space ``[N, D]`` among every sample."""
    if strategy == MANUAL:
        position = {sample_id: i for i, sample_id in enumerate(ids)}
        missing = [m for m in manual if m not in position]
        if missing:
            raise AnchorIndexError(f"Manual anchors not in this dataset: {', '.join(missing[:5])}. Pick them again.")
        if len(manual) < 2:
            raise AnchorIndexError("Pick at least 2 manual anchors (from the list, or with a box/lasso selection "
                                   "and 'Use selection as anchors'), or choose another anchor strategy.")
        return np.array([position[m] for m in manual], dtype=np.int64)
    if n_anchors > len(ids):
        raise AnchorIndexError(f"{n_anchors} anchors asked for, but the dataset has {len(ids)} samples. "
                               f"Lower the anchor count or raise the sample size.")
    return select_anchors(a, n_anchors, strategy, labels=labels, seed=seed).numpy()
