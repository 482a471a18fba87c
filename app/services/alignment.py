"""Services of the anchor modes without parallel anchors ("a few known pairs + bootstrap" and "none"): the app's
caller of :mod:`latent_core.correspondence`.

An alignment never sees the ground truth. :func:`app.services.policy.alignment_sides` decides what each side
holds (never the split pages' test samples) and hides B's order behind a seeded shuffle; the correspondence's
pairs are then mapped back to dataset rows, for display (the Spaces and Similarity pages draw every sample in its
own row) and for the evaluation against the hidden truth (:func:`quality`, :func:`accuracy_curve`).

One alignment per (scenario, mode, known pairs, sides) is kept per process and shared by every session (one
computation at a time per key); long steps report through the callbacks the views pass in.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
import torch

from app.services import policy, spaces
from app.services.spaces import Report, Tracker
from app.state import ANCHOR_MODES, SIDES, Settings
from latent_core.config import Scenario
from latent_core.correspondence import Correspondence, align_unpaired, bootstrap_anchors
from latent_core.errors import InvalidParameterError
from latent_core.explore import Views
from latent_core.heads import make_head
from latent_core.metrics import matching_quality, retrieval_scores
from latent_core.stitching import SpaceMap, chance_rate
from latent_core.translate import get_translator

if TYPE_CHECKING:  # pandas is imported where it is used: 0.4 s the first chart need not wait for
    import pandas as pd

Aligning = Callable[[str], AbstractContextManager[Report]]
"""``aligning(what)``: a context for one alignment that yields its ``report(done, total)`` (a view draws a bar)."""
TRANSLATOR = "procrustes"  # what a correspondence fits (its translator), named like the sidebar's translators
TRUE_ANCHOR_COUNTS = (3, 10, 30, 100, 300)  # the reference curve's counts of true anchors (capped by the data)
MEMO_SIZE = 8


def _quiet(what: str) -> AbstractContextManager[Report]:
    return nullcontext(lambda done, total: None)


@dataclass(frozen=True)
class AlignKey:
    """What an alignment depends on beyond the scenario."""

    mode: str  # policy.BOOTSTRAP or policy.UNSUPERVISED
    known_pairs: int  # 0 without known pairs
    sides: str  # policy.SAME or policy.DIFFERENT

    def describe(self) -> str:
        """How a page names the alignment (e.g. "bootstrap from 10 known pairs, different samples")."""
        how = f"bootstrap from {self.known_pairs} known pairs" if self.mode == policy.BOOTSTRAP else "no known pairs"
        return f"{how}, B holds {SIDES[self.sides].replace(' (', ', ').rstrip(')')}"


def align_key(settings: Settings) -> AlignKey | None:
    """The alignment the settings ask for (None with parallel anchors)."""
    if not settings.aligned:
        return None
    known = int(settings.known_pairs) if settings.anchor_mode == policy.BOOTSTRAP else 0
    return AlignKey(settings.anchor_mode, known, settings.sides)


def mode_label(settings: Settings) -> str:
    return ANCHOR_MODES.get(settings.anchor_mode, settings.anchor_mode)


@dataclass(frozen=True)
class Alignment:
    """A correspondence found without the ground truth, and the rows it was found on."""

    key: AlignKey
    sides: policy.AlignmentSides  # the rows each side held (B's in the hidden order), the known pairs
    correspondence: Correspondence  # pairs in the sides' positions; translator B -> A
    pairs: np.ndarray  # [M, 2] the pairs as dataset rows (B row, A row), most confident first
    seconds: float


# ---- the alignment ------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _memo() -> OrderedDict:
    return OrderedDict()


def alignment(settings: Settings, tracker: Tracker | None = None, aligning: Aligning | None = None) -> Alignment:
    """The alignment of the settings' scenario and anchor mode (not for parallel anchors): from memory, or computed
    once (encodings reported through ``tracker``, the alignment through ``aligning``)."""
    key = align_key(settings)
    if key is None:
        raise ValueError("alignment() is for the anchor modes without parallel anchors")
    spaces.load_spaces(settings.scenario, tracker)
    return aligned(settings.scenario, key, aligning)


def aligned(scenario: Scenario, key: AlignKey, aligning: Aligning | None = None) -> Alignment:
    """:func:`alignment` by its key (the scenario's embeddings are loaded)."""
    memo, memo_key = _memo(), (scenario, key)
    with spaces.keyed_lock(("alignment", *memo_key)):
        if memo_key not in memo:
            memo[memo_key] = _compute(scenario, key, aligning or _quiet)
            while len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        memo.move_to_end(memo_key)
        return memo[memo_key]


def sides_of(scenario: Scenario, key: AlignKey) -> policy.AlignmentSides:
    """What each side of the alignment holds (:func:`policy.alignment_sides` on the scenario's split)."""
    labels = spaces.scenario_data(scenario).labels
    held_out = policy.held_out_rows(labels, scenario.seed)
    return policy.alignment_sides(len(labels), held_out, key.mode, key.known_pairs, key.sides, scenario.seed)


def _compute(scenario: Scenario, key: AlignKey, aligning: Aligning) -> Alignment:
    a, b = spaces._pair(scenario)
    sides = sides_of(scenario, key)
    source, target = b[sides.rows_b], a[sides.rows_a]  # B in its hidden order; A as it is
    started = time.perf_counter()
    with aligning(key.describe()) as report, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rank-deficient fits on a few pairs are expected
        if key.mode == policy.BOOTSTRAP:
            matching = "exact" if key.sides == policy.SAME else "soft"  # what B holds is the user's knowledge
            found = bootstrap_anchors(source, target, sides.seed_pairs, matching=matching, seed=scenario.seed,
                                      progress=report)
        else:
            found = align_unpaired(source, target, seed=scenario.seed, progress=report)
    return Alignment(key, sides, found, sides.to_rows(found.pairs), time.perf_counter() - started)


def anchor_rows(al: Alignment, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows_b [K], rows_a [K])``: the most confident pairs, one per sample per side, as a relative view's
    anchors (K <= count)."""
    return policy.pair_anchors(al.pairs, int(count))


# ---- the explorer's views -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AlignedView:
    """The part of an explorer key that names an aligned view (:func:`app.services.spaces.views`)."""

    key: AlignKey
    count: int  # the sidebar's anchor count (the relative views' pairs, at most)


@st.cache_resource(show_spinner=False, max_entries=16)
def _views(scenario: Scenario, view: AlignedView, projection: str) -> tuple[Views, np.ndarray]:
    """The views of an aligned explorer (shared by every session, read-only) and B's anchor rows."""
    a, b = spaces._pair(scenario)
    al = aligned(scenario, view.key)
    rows_b, rows_a = anchor_rows(al, view.count)
    relative = SpaceMap(f"relative:{projection}").fit(*_tensors(a[rows_a], b[rows_b]))
    whole_a, whole_b = _tensors(a, b)
    rel_a = relative.a(whole_a).cpu().numpy().astype(np.float32)
    rel_b = relative.b(whole_b).cpu().numpy().astype(np.float32)
    translated = al.correspondence.translator.transform(b).cpu().numpy().astype(np.float32)
    result = Views(anchor_idx=rows_a, rel_a=rel_a, rel_b=rel_b, translated_b=translated, projection=projection,
                   translator=TRANSLATOR)
    for array in (result.anchor_idx, result.rel_a, result.rel_b, result.translated_b, rows_b):
        array.setflags(write=False)
    return result, rows_b


def _tensors(*arrays: np.ndarray) -> list[torch.Tensor]:
    return [torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32)) for x in arrays]


def views(scenario: Scenario, view: AlignedView, projection: str) -> Views:
    return _views(scenario, view, projection)[0]


def explorer(settings: Settings, tracker: Tracker | None = None,
             aligning: Aligning | None = None) -> spaces.Explorer:
    """The explorer of an anchor mode without parallel anchors: relative views on the alignment's most confident
    pairs (A's and B's rows differ), B translated into A by the correspondence's translator."""
    al = alignment(settings, tracker, aligning)
    data, a, b = spaces.load_spaces(settings.scenario)
    view = AlignedView(al.key, int(settings.n_anchors))
    result, rows_b = _views(settings.scenario, view, settings.projection)
    notes = []
    if len(result.anchor_idx) < settings.n_anchors:
        notes.append(f"The alignment gives {len(result.anchor_idx)} distinct pairs: the relative views use them all "
                     f"(not {settings.n_anchors}).")
    return spaces.Explorer(settings=settings, data=data, a=a, b=b, anchor_idx=result.anchor_idx, views=result,
                           notes=notes, anchor_idx_b=rows_b, aligned=view)


# ---- quality against the hidden ground truth ------------------------------------------------------------------

@dataclass(frozen=True)
class Quality:
    """How good an alignment is, measured with what it never saw."""

    exact: float  # fraction of the pairs that are the same sample (nan: the sides hold different samples)
    purity: float  # fraction of the pairs whose two samples share a class
    n_pairs: int
    rows_a: int  # samples each side held
    rows_b: int
    retrieval: dict[str, float]  # vec2vec's top1, mean_rank, mean_cosine on the held-out test samples
    n_test: int
    seconds: float
    method: str  # the correspondence's method ("bootstrap", "gw", "centroids")
    matching: str  # "exact" or "soft"


def quality(settings: Settings) -> Quality:
    """Matching quality of the settings' alignment against the hidden truth: exact matches and class purity of its
    pairs (``latent_core.metrics.matching_quality``), and vec2vec's retrieval scores of its translator on the test
    samples, which every encoder embeds but no alignment sees (``latent_core.metrics.retrieval_scores``)."""
    key = align_key(settings)
    return _quality(settings.scenario, key)


@st.cache_data(show_spinner=False, max_entries=16)
def _quality(scenario: Scenario, key: AlignKey) -> Quality:
    data = spaces.scenario_data(scenario)
    a, b = spaces._pair(scenario)
    al = aligned(scenario, key)
    sides, found = al.sides, al.correspondence
    match = matching_quality(found.pairs, sides.rows_b, sides.rows_a, data.labels[sides.rows_b],
                             data.labels[sides.rows_a])
    exact = match["exact"] if key.sides == policy.SAME else float("nan")
    test = policy.held_out_rows(data.labels, scenario.seed)
    translated = found.translator.transform(b[test]).cpu().numpy()
    retrieval = retrieval_scores(translated, a[test])
    return Quality(exact, match["purity"], match["n_pairs"], len(sides.rows_a), len(sides.rows_b), retrieval,
                   len(test), al.seconds, found.method, found.matching)


def true_anchor_counts(pool: int) -> tuple[int, ...]:
    """The reference curve's counts: :data:`TRUE_ANCHOR_COUNTS` that the split's anchor pool holds, and the pool
    itself when it is smaller than the largest."""
    counts = [c for c in TRUE_ANCHOR_COUNTS if c <= pool]
    if pool < TRUE_ANCHOR_COUNTS[-1] and pool not in counts and pool >= 2:
        counts.append(pool)
    return tuple(counts)


@dataclass(frozen=True)
class Curve:
    """Stitched accuracy against the number of true anchors, and where the alignment lands."""

    frame: pd.DataFrame  # n_anchors, accuracy: Procrustes on random true anchors
    aligned_accuracy: float  # A's head on B's test samples translated by the correspondence
    no_stitch: float  # A's head on A's test samples
    chance: float
    known_pairs: int  # the alignment's known pairs (0: none)
    n_train: int
    n_test: int


def accuracy_curve(settings: Settings, progress: Report | None = None) -> Curve:
    """Stitched accuracy (logistic head trained on A, tested on B's test samples) with Procrustes on random true
    anchors from the split's pool, for :func:`true_anchor_counts`, beside the alignment's own translator. Every
    point uses the same head (A's training rows that A's side holds) and the same test samples."""
    split = spaces.split(settings)
    key = align_key(settings)
    return _curve(settings.scenario, key, tuple(int(i) for i in split.pool), _train_rows(settings.scenario, key,
                                                                                          split), progress)


def _train_rows(scenario: Scenario, key: AlignKey, split: policy.Split) -> tuple[int, ...]:
    return tuple(int(i) for i in policy.side_train_rows(split.train, aligned(scenario, key).sides))


@st.cache_resource(show_spinner=False)
def _curve_memo() -> OrderedDict:
    return OrderedDict()


def _curve(scenario: Scenario, key: AlignKey, pool: tuple[int, ...], train: tuple[int, ...],
           progress: Report | None = None) -> Curve:
    """Kept per process (not ``st.cache_data``: ``progress`` draws a bar, which a cached function must not)."""
    memo, memo_key = _curve_memo(), (scenario, key, pool, train)
    with spaces.keyed_lock(("alignment-curve", *memo_key)):
        if memo_key not in memo:
            memo[memo_key] = _compute_curve(scenario, key, pool, train, progress)
            while len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        memo.move_to_end(memo_key)
        return memo[memo_key]


def _compute_curve(scenario: Scenario, key: AlignKey, pool: tuple[int, ...], train: tuple[int, ...],
                   progress: Report | None) -> Curve:
    """One head (logistic, on A's training rows) reads B's test samples through Procrustes fitted on random true
    anchors (the stitched accuracy of ``latent_core.stitching.stitch_eval`` with ``translate:procrustes``, its head
    fitted once), then through the alignment's translator."""
    data = spaces.scenario_data(scenario)
    a, b = spaces._pair(scenario)
    labels, test = data.labels, policy.held_out_rows(data.labels, scenario.seed)
    train_rows, pool_rows = np.array(train, dtype=np.int64), np.array(pool, dtype=np.int64)
    if len(np.unique(labels[train_rows])) < 2:
        raise InvalidParameterError("A's training samples hold a single class; raise the sample size in the sidebar.")
    counts = true_anchor_counts(len(pool_rows))
    report = progress or (lambda done, total: None)
    head = make_head("logreg", scenario.seed).fit(a[train_rows], labels[train_rows])

    def accuracy(translated: torch.Tensor) -> float:
        return float((head.predict(translated.cpu().numpy()) == labels[test]).mean())

    rng = np.random.default_rng([scenario.seed, 3])
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Procrustes on 3 anchors in hundreds of dimensions
        for done, count in enumerate(counts, 1):
            anchors = np.sort(rng.choice(pool_rows, size=count, replace=False))
            translator = get_translator(TRANSLATOR).fit(b[anchors], a[anchors])
            rows.append({"n_anchors": count, "accuracy": accuracy(translator.transform(b[test]))})
            report(done, len(counts) + 1)
    aligned_accuracy = accuracy(aligned(scenario, key).correspondence.translator.transform(b[test]))
    report(len(counts) + 1, len(counts) + 1)
    no_stitch = float((head.predict(a[test]) == labels[test]).mean())
    import pandas as pd
    return Curve(pd.DataFrame(rows, columns=["n_anchors", "accuracy"]), aligned_accuracy, no_stitch,
                 chance_rate(labels[train_rows]), key.known_pairs, len(train_rows), len(test))
