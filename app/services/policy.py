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

**Without parallel anchors** (the anchor modes "a few known pairs + bootstrap" and "none"), an alignment finds the
pairs. It sees only the samples outside the split pages' test set (:func:`held_out_rows`), so the Stitching lab
tests on samples never used for matching. :func:`alignment_sides` decides what each side holds: the same samples
(B's order hidden by a seeded shuffle) or disjoint halves (the known pairs, if any, on both sides), and where the
known pairs sit. The alignment's most confident pairs, one per sample on each side, are a relative view's anchors
(:func:`pair_anchors`); A's classifier is trained on the split's training rows that A holds (:func:`side_train_rows`).

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
PARALLEL, BOOTSTRAP, UNSUPERVISED = "parallel", "bootstrap", "none"  # the anchor modes
SAME, DIFFERENT = "same", "different"  # what B holds without parallel anchors
KNOWN_PAIRS = (3, 50)  # the bootstrap mode's fewest and most known pairs
MIN_SIDE = 10  # samples each side of an alignment holds at least


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


# ---- without parallel anchors: what each side of an alignment holds ---------------------------------------------

def held_out_rows(labels: np.ndarray, seed: int) -> np.ndarray:
    """The split pages' test rows for a scenario, never shown to an alignment. The test set of :func:`make_split` is
    drawn before the anchor pool, so it is the same for every anchor budget."""
    return make_split(labels, 2, seed).test


@dataclass(frozen=True)
class AlignmentSides:
    """What an alignment sees: dataset rows in the order each side gives them, and where the known pairs sit.

    The source side is B (its order shuffled, so that position i of B and of A are unrelated), the target side A.
    """

    rows_b: np.ndarray  # [Nb] dataset rows of the source side, in the hidden (shuffled) order
    rows_a: np.ndarray  # [Na] dataset rows of the target side
    seed_pairs: np.ndarray  # [S, 2] (position in rows_b, position in rows_a) of the known pairs (S = 0: none)
    sides: str  # SAME or DIFFERENT

    def to_rows(self, pairs: np.ndarray) -> np.ndarray:
        """``[M, 2]`` positions (source, target) as dataset rows (B row, A row)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return np.stack([self.rows_b[pairs[:, 0]], self.rows_a[pairs[:, 1]]], axis=1)


def alignment_sides(n: int, held_out: np.ndarray, mode: str, known_pairs: int, sides: str,
                    seed: int) -> AlignmentSides:
    """The two sides of an alignment of ``n`` samples, none of them in ``held_out``.

    ``mode``: BOOTSTRAP draws ``known_pairs`` samples whose pair is given (at random); UNSUPERVISED gives none.
    ``sides``: SAME, both sides hold every sample outside ``held_out``; DIFFERENT, the others are split at random
    into two disjoint halves, one per side, and the known pairs are on both sides. B's rows are then shuffled.

    Raises:
        InvalidParameterError: an unknown mode or sides, a count outside :data:`KNOWN_PAIRS`, or too few samples.
    """
    if mode not in (BOOTSTRAP, UNSUPERVISED):
        raise InvalidParameterError(f"Unknown alignment mode {mode!r}: use {BOOTSTRAP!r} or {UNSUPERVISED!r}.")
    if sides not in (SAME, DIFFERENT):
        raise InvalidParameterError(f"Unknown sides {sides!r}: use {SAME!r} or {DIFFERENT!r}.")
    count = int(known_pairs) if mode == BOOTSTRAP else 0
    if mode == BOOTSTRAP and not KNOWN_PAIRS[0] <= count <= KNOWN_PAIRS[1]:
        raise InvalidParameterError(f"Known pairs must be between {KNOWN_PAIRS[0]} and {KNOWN_PAIRS[1]}, got {count}.")
    rng = np.random.default_rng([int(seed), 12])
    rest = np.setdiff1d(np.arange(n), held_out)
    others_needed = MIN_SIDE * (2 if sides == DIFFERENT else 1)
    if len(rest) - count < others_needed:
        raise InvalidParameterError(
            f"{len(rest)} samples outside the test set are too few for {count} known pairs and "
            f"{'two sides of' if sides == DIFFERENT else ''} {MIN_SIDE}+ samples; raise the sample size in the "
            "sidebar" + (" or use fewer known pairs." if count else "."))
    known = np.sort(rng.choice(rest, size=count, replace=False)) if count else np.empty(0, dtype=np.int64)
    others = np.setdiff1d(rest, known)
    if sides == SAME:
        rows_a, rows_b = rest, rest
    else:
        others = rng.permutation(others)
        half = len(others) // 2
        rows_a, rows_b = np.sort(np.concatenate([known, others[:half]])), np.concatenate([known, others[half:]])
    rows_b = np.asarray(rows_b, dtype=np.int64)[rng.permutation(len(rows_b))]  # the hidden order
    rows_a = np.asarray(rows_a, dtype=np.int64)
    where_b = {int(r): i for i, r in enumerate(rows_b)}
    where_a = {int(r): i for i, r in enumerate(rows_a)}
    seed_pairs = np.array([[where_b[int(r)], where_a[int(r)]] for r in known], dtype=np.int64).reshape(-1, 2)
    return AlignmentSides(rows_b, rows_a, seed_pairs, sides)


def pair_anchors(pairs: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The anchors of a relative view from an alignment's ``[M, 2]`` (B row, A row) pairs in confidence order: the
    first ``count`` pairs whose B row and A row are both new (a sample anchors at most once per side).
    Returns ``(rows_b [K], rows_a [K])``, K <= count."""
    seen_b, seen_a, chosen = set(), set(), []
    for row_b, row_a in np.asarray(pairs, dtype=np.int64).reshape(-1, 2):
        if len(chosen) >= count:
            break
        if row_b in seen_b or row_a in seen_a:
            continue
        seen_b.add(int(row_b))
        seen_a.add(int(row_a))
        chosen.append((int(row_b), int(row_a)))
    if len(chosen) < 2:
        raise AnchorIndexError(f"The alignment found {len(chosen)} usable pair(s); a relative view needs at least 2. "
                               "Raise the sample size, or use parallel anchors.")
    array = np.array(chosen, dtype=np.int64)
    return array[:, 0], array[:, 1]


def side_train_rows(train: np.ndarray, sides: AlignmentSides, side: str = "a") -> np.ndarray:
    """The split's training rows that one side (``"a"`` or ``"b"``) holds: a side's classifier trains on its own
    samples (all the training rows when both sides hold the same samples)."""
    return np.intersect1d(train, sides.rows_a if side == "a" else sides.rows_b)
