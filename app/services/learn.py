"""Services of the Learn page: the few numbers the lesson shows that no other page computes.

The lesson's accuracies (steps 1, 4, 6 and 7) use the split pages' split and anchors (:mod:`app.services.policy`):
the same test samples for every step, anchors drawn from a fixed pool, so changing their number or strategy never
changes what the classifier trains or is tested on. Step 6 matches only samples outside that split's test set.
Its pictures use the Explorer. Everything is cached.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app.services import policy, spaces
from app.state import Settings
from latent_core.config import Scenario
from latent_core.correspondence import GW_SAMPLE, UNPAIRED_METHODS, Correspondence, align_unpaired, bootstrap_anchors
from latent_core.explore import (
    HEATMAP_MAX,  # noqa: F401 - the step's slider stops here
    offdiagonal_correlation,
    spread_anchor_order,
)
from latent_core.heads import make_head
from latent_core.linalg import random_rotation
from latent_core.maps import map_2d
from latent_core.metrics import matching_quality, paired_cosine, retrieval_scores, topk_retrieval
from latent_core.stitching import StitchResult, stitch_eval
from latent_core.translate import Translator


def plan(settings: Settings) -> policy.AnchorPlan:
    """The anchors the lesson's accuracies use for the sidebar's setting (the Stitching lab's too)."""
    return spaces.split_plan(settings)


def lesson_split(settings: Settings) -> policy.Split:
    """The split of the current scenario (seed: the sidebar's), shared with the Stitching lab."""
    return spaces.split(settings)


@st.cache_data(show_spinner=False, max_entries=64)
def _evaluate(scenario: Scenario, budget: int, strategy: str, count: int, method: str, head: str,
              reverse: bool, rotated: bool = False) -> StitchResult:
    split = spaces._split(scenario, budget)
    anchors = spaces._split_anchors(scenario, budget, strategy, count)
    data, a, b = spaces.load_spaces(scenario)
    first, second = (b, a) if reverse else (a, b)
    if rotated:  # the "other space" is the first one, rotated: same angles, new coordinates
        second = first @ random_rotation(first.shape[1], scenario.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rank-deficient fits with few anchors are expected
        return stitch_eval(first, second, data.labels, anchor_idx=anchors, method=method, head=head,
                           train_idx=split.train, test_idx=split.test, seed=scenario.seed)


def evaluate(settings: Settings, method: str, *, head: str = "logreg", reverse: bool = False,
             strategy: str | None = None, count: int | None = None, rotated: bool = False) -> StitchResult:
    """``stitch_eval`` on the lesson's split: a head trained on A (on B when ``reverse``), tested on the other
    space mapped by ``method``; anchors from the pool by ``strategy`` and ``count`` (default: the plan's).
    ``rotated``: the other space is A itself times a random rotation (:func:`random_rotation`, sidebar seed)."""
    plan = spaces.split_plan(settings)
    split = spaces.split(settings)
    return _evaluate(settings.scenario, plan.count, strategy or plan.strategy, int(count or split.n_anchors), method,
                     head, reverse, rotated)


def relative_method(settings: Settings) -> str:
    return f"relative:{settings.projection}"


def with_views(settings: Settings, *, projection: str | None = None,
               translator: str | None = None) -> spaces.Explorer:
    """The explorer of the current scenario with another relative projection or translator (cached there)."""
    changed = {k: v for k, v in (("projection", projection), ("translator", translator)) if v}
    return spaces.explorer(dataclasses.replace(settings, **changed))


@dataclass
class AnchorHeatmaps:
    sim_a: np.ndarray  # [k, k] cosine between the shown anchors in A
    sim_b: np.ndarray  # [k, k] the same anchors in B
    names: list[str]  # "id (class)" per shown anchor, in class order
    classes: list[str]  # the class of each shown anchor
    correlation: float  # Pearson correlation of the off-diagonal entries of the two matrices
    zrange: tuple[float, float]  # a shared colour range of the off-diagonal entries (the diagonal is 1)


def anchor_heatmaps(ex: spaces.Explorer, count: int) -> AnchorHeatmaps:
    """``count`` of the explorer's anchors, spread evenly over the class-sorted order, in A and in B."""
    order = spread_anchor_order(ex.data.labels, ex.anchor_idx, max(2, int(count)))
    sim_a, sim_b = spaces.anchor_heatmaps(ex)
    sim_a, sim_b = sim_a[np.ix_(order, order)], sim_b[np.ix_(order, order)]
    classes = [ex.data.label_names[ex.data.labels[ex.anchor_idx[i]]] for i in order]
    names = [f"{ex.data.ids[ex.anchor_idx[i]]} ({label})" for i, label in zip(order, classes)]
    upper = np.triu_indices(len(order), k=1)
    both = np.concatenate([sim_a[upper], sim_b[upper]])
    zrange = (float(np.percentile(both, 1)), float(np.percentile(both, 99))) if len(both) else (0.0, 1.0)
    return AnchorHeatmaps(sim_a, sim_b, names, classes, offdiagonal_correlation(sim_a, sim_b), zrange)


def non_anchor_rows(ex: spaces.Explorer) -> np.ndarray:
    return np.setdiff1d(np.arange(len(ex.data)), ex.anchor_idx)


def relative_agreement(ex: spaces.Explorer) -> float:
    """Mean cosine between a sample's relative A and relative B vectors (samples that are not anchors)."""
    rows = non_anchor_rows(ex)
    return float(paired_cosine(ex.views.rel_a[rows], ex.views.rel_b[rows]).mean())


@dataclass
class TranslationQuality:
    mean_cosine: float  # cosine between A's vector and B's translated vector of the same sample
    top1: float  # fraction of samples whose translated B vector is nearest (cosine) to its own A vector


def translation_quality(ex: spaces.Explorer) -> TranslationQuality:
    """How well B's translated vectors land on A's, on the samples that are not anchors."""
    rows = non_anchor_rows(ex)
    translated, target = ex.views.translated_b[rows], ex.a[rows]
    return TranslationQuality(float(paired_cosine(translated, target).mean()),
                              topk_retrieval(translated, target, k=1))


# ---- step 6: no anchors at all -----------------------------------------------------------------------------------

KNOWN_PAIRS = (0, 3, 10, 30)  # the step's choices: known pairs handed to the algorithm (0: none, unsupervised)
METHODS = UNPAIRED_METHODS  # how the unsupervised alignment starts ("auto": Gromov-Wasserstein)
MATCH_MAX = GW_SAMPLE  # samples matched at most: the Gromov-Wasserstein problem then holds both sides whole
TRUE_METHOD = "translate:procrustes"  # the reference: the same rotation, fitted on true anchors


@dataclass(frozen=True)
class HiddenOrder:
    """What the step's algorithm is given: A's vectors of ``rows`` and B's vectors of the same samples shuffled.

    Drawn with ``rng = np.random.default_rng(seed)``: ``rows`` are the split's pool and training samples (never a
    test sample), ``MATCH_MAX`` of them chosen by ``rng.choice`` when there are more, sorted; then
    ``order = rng.permutation(len(rows))``. B's row ``s`` is sample ``rows[order[s]]``, whose A row is
    ``order[s]``. ``k`` known pairs are B's first ``k`` rows with their A rows: ``(s, order[s])``.
    """

    rows: np.ndarray  # [M] dataset rows matched, in A's order
    order: np.ndarray  # [M] the hidden permutation

    def known_pairs(self, k: int) -> np.ndarray:
        return np.stack([np.arange(k), self.order[:k]], 1).astype(np.int64)


def hidden_order(split: policy.Split, seed: int) -> HiddenOrder:
    rng = np.random.default_rng(seed)
    rows = np.union1d(split.pool, split.train)
    if len(rows) > MATCH_MAX:
        rows = np.sort(rng.choice(rows, MATCH_MAX, replace=False))
    return HiddenOrder(rows, rng.permutation(len(rows)))


@dataclass(frozen=True)
class Unpaired:
    """One alignment of step 6 and how good it is (``known`` = 0: no pairs at all)."""

    known: int  # known pairs given
    method: str  # what found the pairs: "gw" | "centroids" | "bootstrap"
    matching: str  # "exact" (same samples found) | "soft"
    n_matched: int  # samples on each side
    n_candidates: int  # the split's samples outside its test set (the matched ones are drawn from them)
    n_pairs: int  # pairs recovered
    exact: float  # fraction of the recovered pairs that are the same sample
    purity: float  # fraction of them with the same class
    accuracy: float  # A's classifier on B's test samples translated into A by the recovered map
    top1: float  # fraction of B's translated test samples whose nearest A test vector is their own sample
    mean_cosine: float  # cosine between a test sample's A vector and its translated B vector
    seconds: float
    map_a: np.ndarray  # [N, 2] A's PCA
    map_translated: np.ndarray  # [N, 2] B translated into A, placed by the same PCA


@st.cache_resource(show_spinner=False, max_entries=16)
def _head_on_a(scenario: Scenario, budget: int, head: str):
    """The lesson's classifier on A's absolute training vectors (the head every translate method uses)."""
    split = spaces._split(scenario, budget)
    data, a, _ = spaces.load_spaces(scenario)
    return make_head(head, scenario.seed).fit(a[split.train], data.labels[split.train])


def translated_accuracy(scenario: Scenario, budget: int, translator: Translator, head: str = "logreg") -> float:
    """A's classifier (trained on A's training samples) on B's test samples carried into A by ``translator``."""
    split = spaces._split(scenario, budget)
    data, _, b = spaces.load_spaces(scenario)
    predicted = _head_on_a(scenario, budget, head).predict(translator.transform(b[split.test]).numpy())
    return float(np.mean(predicted == data.labels[split.test]))


def _align(scenario: Scenario, budget: int, known: int, method: str,
           progress: Callable[[int, int], None] | None) -> tuple[Correspondence, HiddenOrder]:
    _, a, b = spaces.load_spaces(scenario)
    hidden = hidden_order(spaces._split(scenario, budget), scenario.seed)
    source, target = b[hidden.rows[hidden.order]], a[hidden.rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT's numerical warnings: the result is checked below
        if known:
            found = bootstrap_anchors(source, target, hidden.known_pairs(known), seed=scenario.seed, progress=progress)
        else:
            found = align_unpaired(source, target, method=method, seed=scenario.seed, progress=progress)
    return found, hidden


@st.cache_resource(show_spinner=False)
def _unpaired_memo() -> OrderedDict:
    """Step 6's results per setting, shared by every session (a memo, not ``st.cache_data``: the computation
    reports progress to the caller's bar, which a cached function may not draw into)."""
    return OrderedDict()


UNPAIRED_MEMO_SIZE = 32


def _compute_unpaired(scenario: Scenario, budget: int, known: int, method: str,
                      progress: Callable[[int, int], None] | None) -> Unpaired:
    found, hidden = _align(scenario, budget, known, method, progress)
    split = spaces._split(scenario, budget)
    data, a, b = spaces.load_spaces(scenario)
    truth = hidden.rows[hidden.order]
    quality = matching_quality(found.pairs, truth, hidden.rows, data.labels[truth], data.labels[hidden.rows])
    scores = retrieval_scores(found.translator.transform(b[split.test]), a[split.test])
    map_a, (map_translated,) = map_2d("pca", a, [found.translator.transform(b)], seed=scenario.seed)
    for array in (map_a, map_translated):
        array.setflags(write=False)
    return Unpaired(known=known, method=found.method, matching=found.matching, n_matched=len(hidden.rows),
                    n_candidates=len(split.pool) + len(split.train), n_pairs=quality["n_pairs"],
                    exact=quality["exact"], purity=quality["purity"],
                    accuracy=translated_accuracy(scenario, budget, found.translator), top1=scores["top1"],
                    mean_cosine=scores["mean_cosine"], seconds=float(found.info.get("seconds", float("nan"))),
                    map_a=map_a, map_translated=map_translated)


def unpaired(settings: Settings, known: int = 0, method: str = "auto",
             progress: Callable[[int, int], None] | None = None) -> Unpaired:
    """Step 6: align B (its samples in a hidden order, :func:`hidden_order`) onto A with ``known`` known pairs
    (0: :func:`align_unpaired` by ``method``; else :func:`bootstrap_anchors`), and score the result against the
    hidden truth; ``progress(done, total)`` while it runs (once per setting and process: then it is kept)."""
    known = int(known)
    key = (settings.scenario, spaces.split_plan(settings).count, known, "" if known else method)
    memo = _unpaired_memo()
    with spaces.keyed_lock(("unpaired", *key)):
        result = memo.get(key)
        if result is None:
            result = memo[key] = _compute_unpaired(*key, progress)
            while len(memo) > UNPAIRED_MEMO_SIZE:
                memo.popitem(last=False)
        else:
            with suppress(KeyError):  # another setting may have just pushed it out
                memo.move_to_end(key)
    return result


def true_anchors(settings: Settings) -> StitchResult:
    """The reference of step 6: Procrustes on the plan's true anchors, the same head, the same test samples."""
    return evaluate(settings, TRUE_METHOD)
