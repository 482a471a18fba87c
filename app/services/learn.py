"""Services of the Learn page: the few numbers the lesson shows that no other page computes.

The lesson's accuracies (steps 1, 4 and 6) use the split pages' split and anchors (:mod:`app.services.policy`):
the same test samples for every step, anchors drawn from a fixed pool, so changing their number or strategy never
changes what the classifier trains or is tested on. Its pictures use the Explorer. Everything is cached.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app.services import policy, spaces
from app.state import Settings
from latent_core.config import Scenario
from latent_core.explore import (
    HEATMAP_MAX,  # noqa: F401 - the step's slider stops here
    offdiagonal_correlation,
    spread_anchor_order,
)
from latent_core.linalg import random_rotation
from latent_core.metrics import paired_cosine, topk_retrieval
from latent_core.stitching import StitchResult, stitch_eval


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
