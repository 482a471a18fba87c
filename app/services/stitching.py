"""Service layer of the stitching lab: stitching tables, anchor curves, the confusion matrix of a stitched head,
and live predictions. Results that take seconds to minutes are kept on disk (``LATENT_CACHE_DIR/stitching``)
and in memory, keyed by everything that produces them.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from sklearn.metrics import confusion_matrix

from app import services
from app.state import RELATIVE_PROJECTIONS, Settings
from latent_core.cache import try_write_bytes
from latent_core.config import cache_subdir
from latent_core.errors import InvalidParameterError
from latent_core.heads import make_head
from latent_core.stitching import (
    Stitcher,
    anchor_sweep,
    draw_anchors,
    max_anchor_count,
    split_indices,
    stitch_benchmark,
    test_count,
)
from latent_core.translate import TRANSLATORS

TABLE_METHODS = ("absolute", *[f"relative:{p}" for p in RELATIVE_PROJECTIONS],
                 *[f"translate:{t}" for t in TRANSLATORS if t != "inverse_relative"], "translate:inverse_relative")
LIVE_METHODS = ("relative:cosine", "relative:cosine+center", "translate:procrustes", "translate:linear",
                "translate:inverse_relative")
SWEEP_METHODS = ("absolute", "relative:cosine", "translate:procrustes")
SWEEP_STRATEGIES = ("random", "stratified", "kmeans", "fps")
FORMAT = "1"


def test_size_for(n: int) -> int:
    """A test set of 40% of the samples, at most 900 (the papers' BBC split)."""
    return max(1, min(900, int(round(0.4 * n))))


def anchor_budget(settings: Settings, n: int) -> int:
    """The anchor count the stitching lab uses: the sidebar's, capped by what the data can hold."""
    return max(2, min(settings.n_anchors, max_anchor_count(n, test_size_for(n), min_train=max(10, n // 10))))


def _key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps({**parts, "format": FORMAT}, sort_keys=True, default=str).encode()).hexdigest()


def _frame_path(key: str) -> Path:
    return cache_subdir("stitching") / f"{key[:32]}.csv"


def _stored_frame(key: str) -> pd.DataFrame | None:
    """The stored DataFrame for ``key``, or None (absent, or unreadable: warned about, to be recomputed)."""
    path = _frame_path(key)
    if not path.exists():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        warnings.warn(f"Unreadable stitching cache {path.name} ({exc}); recomputing.", RuntimeWarning, stacklevel=2)
        return None


def _disk_frame(key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """A DataFrame from the disk cache, or computed and stored atomically."""
    frame = _stored_frame(key)
    if frame is None:
        frame = compute()
        try_write_bytes(_frame_path(key), frame.to_csv(index=False).encode())  # unwritable: recomputed next time
    return frame


def _table_key(settings: Settings, n: int, seeds: tuple[int, ...]) -> str:
    return _key(kind="table", scenario=settings.scenario, n_anchors=anchor_budget(settings, n),
                strategy=settings.strategy if settings.strategy != "manual" else "random", seeds=seeds,
                methods=TABLE_METHODS, test=test_size_for(n))


def cached_table(settings: Settings, n: int, seeds: tuple[int, ...]) -> pd.DataFrame | None:
    return _stored_frame(_table_key(settings, n, seeds))


def stitching_table(settings: Settings, seeds: tuple[int, ...], progress=None) -> pd.DataFrame:
    """One row per (seed, method): stitched accuracy, A's own (no-stitch) and B's own accuracy, chance."""
    data, a, b = services.load_spaces(settings)
    n = len(data)

    def compute() -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rank-deficient fits are expected in a sweep
            return stitch_benchmark(a, b, data.labels, methods=TABLE_METHODS, n_anchors=anchor_budget(settings, n),
                                    strategy=settings.strategy if settings.strategy != "manual" else "random",
                                    test_size=test_size_for(n), seeds=seeds, progress=progress)

    return _disk_frame(_table_key(settings, n, seeds), compute)


def _sweep_key(settings: Settings, n: int, counts: tuple[int, ...]) -> str:
    return _key(kind="sweep", scenario=settings.scenario, counts=counts, methods=SWEEP_METHODS,
                strategies=SWEEP_STRATEGIES, test=test_size_for(n))


def sweep_counts(settings: Settings, n: int) -> tuple[int, ...]:
    top = anchor_budget(settings, n)
    return tuple(sorted({c for c in (5, 10, 25, 50, 100, 200, 300, 500, 700, 1000) if c < top} | {top}))


def cached_sweep(settings: Settings, n: int) -> pd.DataFrame | None:
    return _stored_frame(_sweep_key(settings, n, sweep_counts(settings, n)))


def anchor_curves(settings: Settings, progress=None) -> pd.DataFrame:
    """Accuracy against the number of anchors, for each anchor strategy (seed = the sidebar's)."""
    data, a, b = services.load_spaces(settings)
    n = len(data)
    counts = sweep_counts(settings, n)

    def compute() -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return anchor_sweep(a, b, data.labels, counts=counts, methods=SWEEP_METHODS, strategies=SWEEP_STRATEGIES,
                                test_size=test_size_for(n), seeds=(settings.seed,), progress=progress)

    return _disk_frame(_sweep_key(settings, n, counts), compute)


@dataclass
class LiveModel:
    """A stitched head (A's head reading B through the anchors) and the two same-space references."""

    stitcher: Stitcher
    head_a: Any  # A's head on A's absolute space
    head_b: Any  # B's own head on B's absolute space
    test_idx: np.ndarray
    classes: np.ndarray


@st.cache_resource(show_spinner=False, max_entries=8)
def _live_model(scenario: tuple, n_anchors: int, strategy: str, method: str, seed: int) -> LiveModel:
    settings = Settings(*scenario[:3], n_samples=scenario[3], seed=scenario[4])
    data, a, b = services.load_spaces(settings)
    n = len(data)
    pool, train, test = split_indices(data.labels, n_anchors=n_anchors, test_size=test_size_for(n), seed=seed)
    anchors = draw_anchors(a, data.labels, pool, n_anchors, strategy, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stitcher = Stitcher(method, seed=seed).fit(a, b, data.labels, anchor_idx=anchors, train_idx=train)
    head_a = make_head("logreg", seed).fit(a[train], data.labels[train])
    head_b = make_head("logreg", seed).fit(b[train], data.labels[train])
    return LiveModel(stitcher, head_a, head_b, test, stitcher.classes_)


def live_model(settings: Settings, method: str) -> LiveModel:
    data = services.dataset(*settings.scenario[2:])
    strategy = settings.strategy if settings.strategy != "manual" else "random"
    if test_count(test_size_for(len(data)), len(data)) + 12 > len(data):
        raise InvalidParameterError(f"{len(data)} samples are too few to train and test a stitched head; "
                                    "raise the sample size.")
    return _live_model(settings.scenario, anchor_budget(settings, len(data)), strategy, method, settings.seed)


@dataclass
class Prediction:
    stitched: np.ndarray  # [C] probabilities: B's embedding through the stitch into A's head
    b_own: np.ndarray  # [C] B's own head on B's embedding
    a_own: np.ndarray  # [C] A's head on A's embedding of the same input
    anchors: np.ndarray  # [k] sample indices of the most similar anchors (in B)
    anchor_cosines: np.ndarray  # [k]


def encode_input(settings: Settings, item) -> tuple[np.ndarray, np.ndarray]:
    """One input (a text or a PIL image) through encoders A and B: ``([1, D_a], [1, D_b])``."""
    return tuple(services.encoder(spec).encode([item]).cpu().numpy() for spec in settings.scenario[:2])


def predict(model: LiveModel, embedding_a: np.ndarray, embedding_b: np.ndarray, k: int = 5) -> Prediction:
    """Everything the live panel shows for one encoded input (milliseconds: heads and one similarity row)."""
    anchors, cosines = model.stitcher.top_anchors(embedding_b, k)
    return Prediction(model.stitcher.predict_proba(embedding_b)[0], model.head_b.predict_proba(embedding_b)[0],
                      model.head_a.predict_proba(embedding_a)[0], anchors, cosines)


def stitched_confusion(settings: Settings, model: LiveModel) -> tuple[np.ndarray, float]:
    """Confusion matrix (rows: true class, columns: predicted) of the stitched head on B's test samples."""
    data, _, b = services.load_spaces(settings)
    test = model.test_idx
    predicted = model.stitcher.predict(b[test])
    matrix = confusion_matrix(data.labels[test], predicted, labels=np.arange(len(data.label_names)))
    return matrix, float((predicted == data.labels[test]).mean())


def token_limit(settings: Settings) -> int | None:
    """The fewest tokens either text encoder reads per input (None when neither says)."""
    limits = [services.encoder(spec).max_tokens for spec in settings.scenario[:2]]
    known = [n for n in limits if n]
    return min(known) if known else None
