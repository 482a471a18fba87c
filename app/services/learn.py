"""Service layer of the Learn page: the few numbers the lesson shows that no other page computes.

One train/test split per scenario serves every step (steps 1, 4 and 6 report accuracies on the same test
samples): a stratified test set (``test_size_for``, as in the stitching lab), a fixed anchor pool and the
training samples from the rest. Anchors are always drawn from the pool, so changing their number or strategy
never changes what the classifier trains or is tested on. Everything here is cached per process.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app import services
from app.services_stitching import anchor_budget, test_size_for
from app.state import Settings
from latent_core.errors import InvalidParameterError
from latent_core.explore import anchor_order
from latent_core.metrics import paired_cosine, topk_retrieval
from latent_core.stitching import (
    StitchResult,
    draw_anchors,
    max_anchor_count,
    split_indices,
    stitch_eval,
    test_count,
)

Scenario = tuple[str, str, str, int | None, int]  # Settings.scenario
POOL = 500  # anchors step 6 may draw (when the data allows): the split keeps this many samples aside
HEATMAP_MAX = 150  # beyond this a heatmap's cells are smaller than a pixel on a projector


def _settings(scenario: Scenario) -> Settings:
    return Settings(*scenario[:3], n_samples=scenario[3], seed=scenario[4])


def _strategy(settings: Settings) -> str:
    return settings.strategy if settings.strategy != "manual" else "random"


def pool_size(n: int, budget: int) -> int:
    """Samples set aside for anchors: ``POOL`` (or the sidebar's count if larger), leaving at least a quarter
    of the samples for training beside the test set."""
    room = max_anchor_count(n, test_size_for(n), min_train=max(10, n // 4))
    return max(2, min(max(budget, POOL), room))


@dataclass(frozen=True)
class Split:
    pool: np.ndarray  # [P] samples anchors are drawn from
    train: np.ndarray  # [T] samples the classifiers are trained on
    test: np.ndarray  # [S] samples they are tested on (never anchors, never training)
    n_anchors: int  # the sidebar's anchor count, capped by the pool

    @property
    def max_anchors(self) -> int:
        return len(self.pool)


def lesson_split(settings: Settings) -> Split:
    """The lesson's split of the current scenario (seed: the sidebar's)."""
    data = services.dataset(*settings.scenario[2:])
    n = len(data)
    if test_count(test_size_for(n), n) + 14 > n:
        raise InvalidParameterError(f"{n} samples are too few to train and test a classifier; raise the sample "
                                    "size in the sidebar.")
    budget = anchor_budget(settings, n)
    return _split(settings.scenario, pool_size(n, budget), budget)


@st.cache_data(show_spinner=False, max_entries=16)
def _split(scenario: Scenario, pool: int, budget: int) -> Split:
    data = services.dataset(*scenario[2:])
    pool_idx, train, test = split_indices(data.labels, n_anchors=pool, test_size=test_size_for(len(data)),
                                          seed=scenario[4])
    return Split(pool_idx, train, test, min(budget, pool))


@st.cache_data(show_spinner=False, max_entries=64)
def _anchors(scenario: Scenario, pool: int, budget: int, strategy: str, count: int) -> np.ndarray:
    split = _split(scenario, pool, budget)
    data, a, _ = services.load_spaces(_settings(scenario))
    return draw_anchors(a, data.labels, split.pool, count, strategy, scenario[4])


def split_anchors(settings: Settings, split: Split, strategy: str | None = None,
                  count: int | None = None) -> np.ndarray:
    """``[K]`` anchor rows drawn from the split's pool (default: the sidebar's strategy and count)."""
    n = len(services.dataset(*settings.scenario[2:]))
    return _anchors(settings.scenario, len(split.pool), anchor_budget(settings, n), strategy or _strategy(settings),
                    int(count or split.n_anchors))


def random_rotation(dim: int, seed: int) -> np.ndarray:
    """``[dim, dim]`` a random orthogonal matrix (Haar-distributed), seeded."""
    from scipy.stats import ortho_group

    return ortho_group.rvs(dim, random_state=seed).astype(np.float32)


@st.cache_data(show_spinner=False, max_entries=64)
def _evaluate(scenario: Scenario, pool: int, budget: int, strategy: str, count: int, method: str, head: str,
              reverse: bool, rotated: bool = False) -> StitchResult:
    split = _split(scenario, pool, budget)
    anchors = _anchors(scenario, pool, budget, strategy, count)
    data, a, b = services.load_spaces(_settings(scenario))
    first, second = (b, a) if reverse else (a, b)
    if rotated:  # the "other space" is the first one, rotated: same angles, new coordinates
        second = first @ random_rotation(first.shape[1], scenario[4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rank-deficient fits with few anchors are expected
        return stitch_eval(first, second, data.labels, anchor_idx=anchors, method=method, head=head,
                           train_idx=split.train, test_idx=split.test, seed=scenario[4])


def evaluate(settings: Settings, method: str, *, head: str = "logreg", reverse: bool = False,
             strategy: str | None = None, count: int | None = None, rotated: bool = False) -> StitchResult:
    """``stitch_eval`` on the lesson's split: a head trained on A (on B when ``reverse``), tested on the other
    space mapped by ``method``; anchors from the pool by ``strategy`` and ``count`` (default: the sidebar's).
    ``rotated``: the other space is A itself times a random rotation (:func:`random_rotation`, sidebar seed)."""
    split = lesson_split(settings)
    n = len(services.dataset(*settings.scenario[2:]))
    return _evaluate(settings.scenario, len(split.pool), anchor_budget(settings, n), strategy or _strategy(settings),
                     int(count or split.n_anchors), method, head, reverse, rotated)


def relative_method(settings: Settings) -> str:
    return f"relative:{settings.projection}"


def with_views(settings: Settings, *, projection: str | None = None,
               translator: str | None = None) -> services.Explorer:
    """The explorer of the current scenario with another relative projection or translator (cached there)."""
    changed = {k: v for k, v in (("projection", projection), ("translator", translator)) if v}
    return services.explorer(dataclasses.replace(settings, **changed))


@dataclass
class AnchorHeatmaps:
    sim_a: np.ndarray  # [k, k] cosine between the shown anchors in A
    sim_b: np.ndarray  # [k, k] the same anchors in B
    names: list[str]  # "id (class)" per shown anchor, in class order
    classes: list[str]  # the class of each shown anchor
    correlation: float  # Pearson correlation of the off-diagonal entries of the two matrices
    zrange: tuple[float, float]  # a shared colour range of the off-diagonal entries (the diagonal is 1)


def anchor_heatmaps(ex: services.Explorer, count: int) -> AnchorHeatmaps:
    """``count`` of the explorer's anchors, spread evenly over the class-sorted order, in A and in B."""
    order = anchor_order(ex.data.labels, ex.anchor_idx)
    count = max(2, min(int(count), len(order)))
    order = order[np.linspace(0, len(order) - 1, count).round().astype(int)]
    sim_a, sim_b = services.anchor_heatmaps(ex)
    sim_a, sim_b = sim_a[np.ix_(order, order)], sim_b[np.ix_(order, order)]
    classes = [ex.data.label_names[ex.data.labels[ex.anchor_idx[i]]] for i in order]
    names = [f"{ex.data.ids[ex.anchor_idx[i]]} ({label})" for i, label in zip(order, classes)]
    upper = np.triu_indices(count, k=1)
    off_a, off_b = sim_a[upper], sim_b[upper]
    correlation = (float(np.corrcoef(off_a, off_b)[0, 1]) if count > 2 and off_a.std() > 0 and off_b.std() > 0
                   else float("nan"))
    both = np.concatenate([off_a, off_b])
    zrange = (float(np.percentile(both, 1)), float(np.percentile(both, 99))) if len(both) else (0.0, 1.0)
    return AnchorHeatmaps(sim_a, sim_b, names, classes, correlation, zrange)


def non_anchor_rows(ex: services.Explorer) -> np.ndarray:
    return np.setdiff1d(np.arange(len(ex.data)), ex.anchor_idx)


def relative_agreement(ex: services.Explorer) -> float:
    """Mean cosine between a sample's relative A and relative B vectors (samples that are not anchors)."""
    rows = non_anchor_rows(ex)
    return float(paired_cosine(ex.views.rel_a[rows], ex.views.rel_b[rows]).mean())


@dataclass
class TranslationQuality:
    mean_cosine: float  # cosine between A's vector and B's translated vector of the same sample
    top1: float  # fraction of samples whose translated B vector is nearest (cosine) to its own A vector


def translation_quality(ex: services.Explorer) -> TranslationQuality:
    """How well B's translated vectors land on A's, on the samples that are not anchors."""
    rows = non_anchor_rows(ex)
    translated, target = ex.views.translated_b[rows], ex.a[rows]
    return TranslationQuality(float(paired_cosine(translated, target).mean()),
                              topk_retrieval(translated, target, k=1))
