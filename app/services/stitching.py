"""Services of the Stitching lab: stitching tables, anchor curves, the atlas comparison (Charts to Atlas: one head on
the merged spaces against each space's own), the confusion matrix of a stitched head, and live predictions
(calibrated by temperature scaling, :mod:`latent_core.calibration`, with the stitched head's reliability diagram and
ECE on the test samples). Results that take seconds to minutes are kept on disk
(``LATENT_CACHE_DIR/stitching``) and in memory, keyed by everything that produces them. Anchors and the split come
from :mod:`app.services.policy`.

The default scenario's table and curves ship with the app (``assets/stitching``, written by
``python -m latent_core.bundle``): a shipped result is used when its fingerprint (every argument of the computation,
and the bytes of both spaces and the labels) matches exactly, so those open at once with no click; any other
setting computes on the page's button.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app import state
from app.services import alignment, policy, spaces
from app.services.policy import split_budget, test_size_for
from app.state import Settings
from latent_core.atlas import atlas_comparison, atlas_table
from latent_core.cache import try_write_bytes
from latent_core.calibration import (
    Calibrated,
    CalibratedHead,
    ReliabilityBins,
    TemperatureScaler,
    cross_fitted_temperature,
    feasible_folds,
    reliability_bins,
)
from latent_core.config import Scenario, cache_subdir
from latent_core.errors import InvalidParameterError
from latent_core.heads import make_head
from latent_core.metrics import confusion_matrix
from latent_core.stitching import (
    SELECT_PROJECTION,
    SWEEP_LADDER,  # noqa: F401 - the curves' ladder, re-exported for the page and the tests
    SWEEP_METHODS,
    SWEEP_STRATEGIES,
    SpaceMap,
    Stitcher,
    has_shipped,
    inputs_fingerprint,
    parse_method,
    read_shipped,
    run_spec,
    spec_fingerprint,
    summarize,
    sweep_ladder,
    sweep_spec,
    table_spec,
)
from latent_core.translate import TRANSLATORS, Translator
from latent_core.validation import unit_rows

FORMAT = "2"
CALIBRATION_FOLDS = 5  # the live heads' temperatures are fitted on out-of-fold predictions of the training rows
CALIBRATION_BINS = 15  # bins of the reliability diagram (and of its ECE)


def table_methods() -> tuple[str, ...]:
    """The stitching table's rows: absolute, every relative projection the app offers, the product that selects its
    block from both spaces' anchors (``relative:product-select``: a stitching method, not a sidebar view), every
    translator (from the registries: a translator registered at runtime gets its row)."""
    return ("absolute", *[f"relative:{p}" for p in state.relative_projections()], f"relative:{SELECT_PROJECTION}",
            *[f"translate:{t}" for t in TRANSLATORS])


def live_methods() -> tuple[str, ...]:
    """The live panel's choices: the two relative views and every translator registered as ``live``."""
    return ("relative:cosine", "relative:cosine+center",
            *[f"translate:{t}" for t in TRANSLATORS if TRANSLATORS.meta(t).get("live", True)])


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


def _scenario_key(scenario: Scenario) -> list:
    return [scenario.encoder_a, scenario.encoder_b, scenario.dataset, scenario.n_samples, scenario.seed]


@st.cache_data(show_spinner=False, max_entries=8)
def _inputs_print(scenario: Scenario) -> str:
    """The fingerprint of a scenario's two spaces and labels (hashed once per scenario and process)."""
    data, a, b = spaces.load_spaces(scenario)
    return inputs_fingerprint(a, b, data.labels)


def shipped_frame(scenario: Scenario, spec: dict) -> pd.DataFrame | None:
    """The shipped result of ``spec`` on this scenario's spaces (its ``attrs["shipped"]`` is True), or None when
    none ships with exactly this fingerprint."""
    if not has_shipped():
        return None
    frame = read_shipped(spec_fingerprint(spec, _inputs_print(scenario)))
    if frame is not None:
        frame.attrs["shipped"] = True
    return frame


def _known_frame(scenario: Scenario, spec: dict) -> pd.DataFrame | None:
    """A result without computing: the disk cache's, else the shipped one (None: it must be computed)."""
    frame = _stored_frame(_spec_key(scenario, spec))
    return frame if frame is not None else shipped_frame(scenario, spec)


def _spec_key(scenario: Scenario, spec: dict) -> str:
    return _key(scenario=_scenario_key(scenario), spec=spec)


def _result(scenario: Scenario, spec: dict, progress) -> pd.DataFrame:
    """The result of ``spec``: from the disk cache, shipped, or computed (then stored atomically)."""
    frame = _known_frame(scenario, spec)
    if frame is None:
        data, a, b = spaces.load_spaces(scenario)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rank-deficient fits are expected in a sweep
            frame = run_spec(spec, a, b, data.labels, progress)
        key = _spec_key(scenario, spec)
        try_write_bytes(_frame_path(key), frame.to_csv(index=False).encode())  # unwritable: recomputed next time
    return frame


def table_spec_for(settings: Settings, n: int, seeds: tuple[int, ...]) -> dict:
    """What the stitching table computes for this setting (:func:`latent_core.stitching.table_spec`)."""
    plan = spaces.split_plan(settings)
    return table_spec(methods=table_methods(), n_anchors=plan.count, strategy=plan.strategy,
                      test_size=test_size_for(n), seeds=seeds)


def cached_table(settings: Settings, n: int, seeds: tuple[int, ...]) -> pd.DataFrame | None:
    """The table if it needs no computing (disk cache, or shipped for the default scenario), else None."""
    return _known_frame(settings.scenario, table_spec_for(settings, n, seeds))


def stitching_table(settings: Settings, seeds: tuple[int, ...], progress=None) -> pd.DataFrame:
    """One row per (seed, method): stitched accuracy, A's own (no-stitch) and B's own accuracy, chance."""
    n = len(spaces.scenario_data(settings.scenario))
    return _result(settings.scenario, table_spec_for(settings, n, seeds), progress)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per method."""
    return summarize(results)


def sweep_counts(settings: Settings, n: int) -> tuple[int, ...]:
    """The anchor counts of the curves: a ladder up to the split pages' count for ``n`` samples."""
    return sweep_ladder(split_budget(settings.n_anchors, n))


def sweep_spec_for(settings: Settings, n: int) -> dict:
    """What the anchor curves compute for this setting (:func:`latent_core.stitching.sweep_spec`)."""
    return sweep_spec(counts=sweep_counts(settings, n), methods=SWEEP_METHODS, strategies=SWEEP_STRATEGIES,
                      test_size=test_size_for(n), seeds=(settings.seed,))


def cached_sweep(settings: Settings, n: int) -> pd.DataFrame | None:
    """The curves if they need no computing (disk cache, or shipped for the default scenario), else None."""
    return _known_frame(settings.scenario, sweep_spec_for(settings, n))


def anchor_curves(settings: Settings, progress=None) -> pd.DataFrame:
    """Accuracy against the number of anchors, for each anchor strategy (seed = the sidebar's)."""
    n = len(spaces.scenario_data(settings.scenario))
    return _result(settings.scenario, sweep_spec_for(settings, n), progress)


# ---- the atlas (Charts to Atlas) ------------------------------------------------------------------------------

ATLAS_TOLERANCE = 0.02  # the acceptance: the atlas head within this of each space's own head
ATLAS_MEMO_SIZE = 16


@st.cache_resource(show_spinner=False)
def _atlas_memo() -> OrderedDict:
    return OrderedDict()


def atlas_key(settings: Settings) -> tuple:
    """What the atlas comparison depends on: the scenario, the atlas's encoders, the split pages' anchor plan and the
    sidebar's projection."""
    plan = spaces.split_plan(settings)
    return settings.scenario, settings.atlas_encoders, plan.count, plan.strategy, settings.projection


def cached_atlas(settings: Settings) -> pd.DataFrame | None:
    """The atlas comparison if it was computed in this process (None: it needs the button)."""
    return _atlas_memo().get(atlas_key(settings))


def atlas_results(settings: Settings, tracker: spaces.Tracker | None = None) -> pd.DataFrame:
    """:func:`latent_core.atlas.atlas_comparison` of A, B (and C) on the split pages' split and anchors (parallel
    anchors whatever the sidebar's anchor mode), a logistic head seeded with the scenario's seed: one row per (space
    ``"A"``/``"B"``/``"C"``, method). Encodes C first when it is missing (reported through ``tracker``)."""
    key = atlas_key(settings)
    memo = _atlas_memo()
    with spaces.keyed_lock(("atlas", *key)):
        if key not in memo:
            spaces.third_space(settings, tracker)
            data = spaces.scenario_data(settings.scenario)
            matrices = [spaces.embeddings(spec, settings.scenario) for spec in settings.atlas_encoders]
            split, anchors = spaces.split(settings), spaces.split_anchors(settings)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                memo[key] = atlas_comparison(matrices, data.labels, anchor_idx=anchors, train_idx=split.train,
                                             test_idx=split.test, projection=settings.projection,
                                             seed=settings.seed, names=spaces.ATLAS_ROLES[:len(matrices)])
            while len(memo) > ATLAS_MEMO_SIZE:
                memo.popitem(last=False)
        memo.move_to_end(key)
        return memo[key]


def atlas_summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per space, one column per head (accuracy on that space's test samples), and ``atlas - own``."""
    return atlas_table(results)


@dataclass
class AtlasVerdict:
    """Does the paper's claim hold here: the atlas head within ``tolerance`` of each space's own head?"""

    holds: bool
    worst_space: str  # the space where the atlas head falls furthest below its own head
    worst_gap: float  # atlas - own there (negative: the atlas head is worse)
    tolerance: float


def atlas_verdict(summary: pd.DataFrame, tolerance: float = ATLAS_TOLERANCE) -> AtlasVerdict:
    """The claim's check on :func:`atlas_summary`'s table."""
    worst = summary.loc[summary["atlas - own"].idxmin()]
    return AtlasVerdict(bool((summary["atlas - own"] >= -tolerance).all()), str(worst["space"]),
                        float(worst["atlas - own"]), tolerance)


@dataclass
class LiveModel:
    """A stitched head (A's head reading B through the anchors) and the two same-space references, each calibrated
    (:class:`latent_core.calibration.Calibrated`: ``predict_proba`` is calibrated, ``uncalibrated_proba`` is not)."""

    stitcher: Calibrated  # wraps a Stitcher / PairStitcher (``top_anchors`` passes through)
    head_a: Any  # A's head on A's absolute space (a CalibratedHead)
    head_b: Any  # B's own head on B's absolute space (a CalibratedHead)
    test_idx: np.ndarray
    classes: np.ndarray
    calibrated: bool = True  # False: too few training samples per class to hold some out (every T is 1)


def _calibrated_head(x: np.ndarray, y: np.ndarray, seed: int) -> Calibrated:
    """A logistic head with a temperature cross-fitted on its own training rows ``[N, D]`` (T = 1 when a class has
    too few rows to hold some out)."""
    folds = feasible_folds(y, CALIBRATION_FOLDS)
    if folds:
        return CalibratedHead("logreg", seed, folds).fit(x, y)
    return Calibrated(make_head("logreg", seed).fit(x, y), TemperatureScaler.fixed(1.0))


def _stitch_scaler(fit_predict, labels: np.ndarray, seed: int, **masks) -> TemperatureScaler | None:
    """The stitched head's temperature, cross-fitted (:func:`latent_core.calibration.cross_fitted_temperature`);
    None when the training rows are too few per class to hold some out."""
    folds = feasible_folds(labels, CALIBRATION_FOLDS)
    if not folds:
        return None
    try:
        return cross_fitted_temperature(fit_predict, labels, folds=folds, seed=seed, **masks)
    except InvalidParameterError:  # a fold's head missed a class (few rows on A's side): no calibration
        return None


def _live(stitcher, scaler: TemperatureScaler | None, head_a: Calibrated, head_b: Calibrated, test: np.ndarray,
          classes: np.ndarray) -> LiveModel:
    calibrated = scaler is not None
    return LiveModel(Calibrated(stitcher, scaler if calibrated else TemperatureScaler.fixed(1.0)), head_a, head_b,
                     test, classes, calibrated)


@st.cache_resource(show_spinner=False, max_entries=8)
def _live_model(scenario: Scenario, split_budget: int, strategy: str, count: int, method: str) -> LiveModel:
    data, a, b = spaces.load_spaces(scenario)
    split = spaces._split(scenario, split_budget)
    anchors = spaces._split_anchors(scenario, split_budget, strategy, count)
    train, labels = split.train, data.labels

    def fit_predict(fit_pos: np.ndarray, val_pos: np.ndarray):  # A's head on some training rows, scored on B's others
        fold = Stitcher(method, seed=scenario.seed).fit(a, b, labels, anchor_idx=anchors, train_idx=train[fit_pos])
        return fold.classes_, fold.predict_proba(b[train[val_pos]])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stitcher = Stitcher(method, seed=scenario.seed).fit(a, b, labels, anchor_idx=anchors, train_idx=train)
        scaler = _stitch_scaler(fit_predict, labels[train], scenario.seed)
    head_a, head_b = (_calibrated_head(x[train], labels[train], scenario.seed) for x in (a, b))
    return _live(stitcher, scaler, head_a, head_b, split.test, stitcher.classes_)


def live_model(settings: Settings, method: str) -> LiveModel:
    """The stitched head of the live panel, on the split pages' split and anchors (:mod:`app.services.policy`); in
    the anchor modes without parallel anchors, on the alignment's pairs and translator (:func:`_aligned_live_model`).
    """
    plan = spaces.split_plan(settings)
    spaces.split(settings)  # raises when the data is too small to split
    key = alignment.align_key(settings)
    if key is not None:
        return _aligned_live_model(settings.scenario, key, plan.count, int(settings.n_anchors), method)
    return _live_model(settings.scenario, plan.count, plan.strategy, plan.count, method)


class _Translated:
    """A fitted translator as the B side of a stitch (A's side as it is): the shape of ``SpaceMap``."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    def a(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def b(self, x: torch.Tensor) -> torch.Tensor:
        return self.translator.transform(x)


class PairStitcher:
    """A stitched classifier whose anchors are pairs of different rows (found by an alignment): the interface of
    :class:`latent_core.stitching.Stitcher` (``predict_proba``, ``predict``, ``top_anchors``, ``classes_``).

    ``space_map`` carries A's and B's vectors into the head's space (a ``SpaceMap`` fitted on the pairs, or the
    alignment's translator); A's head is trained on ``a_train`` mapped by it."""

    def __init__(self, space_map, a_train: np.ndarray, y_train: np.ndarray, anchors_b: np.ndarray,
                 b_anchor_vectors: np.ndarray, seed: int) -> None:
        self.map_ = space_map
        self.head_ = make_head("logreg", seed).fit(space_map.a(_tensor(a_train)).cpu().numpy(), y_train)
        self.classes_ = self.head_.classes_
        self.anchor_idx_ = np.asarray(anchors_b)
        self.anchors_b_unit_ = unit_rows(_tensor(b_anchor_vectors), "B anchors")

    def predict_proba(self, embeddings_b) -> np.ndarray:
        x = _tensor(np.atleast_2d(np.asarray(embeddings_b, dtype=np.float32)))
        return self.head_.predict_proba(self.map_.b(x).cpu().numpy())

    def predict(self, embeddings_b) -> np.ndarray:
        return self.classes_[self.predict_proba(embeddings_b).argmax(1)]

    def top_anchors(self, embedding_b, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` pairs whose B sample is most similar (cosine, in B) to one B embedding: (B rows, cosines)."""
        x = unit_rows(_tensor(np.atleast_2d(np.asarray(embedding_b, dtype=np.float32))), "embedding_b")
        values, order = (x @ self.anchors_b_unit_.T)[0].topk(max(1, min(int(k), len(self.anchor_idx_))))
        return self.anchor_idx_[order.numpy()], values.numpy()


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))


@st.cache_resource(show_spinner=False, max_entries=8)
def _aligned_live_model(scenario: Scenario, key: alignment.AlignKey, split_budget: int, count: int,
                        method: str) -> LiveModel:
    """The live panel without parallel anchors: relative stitching on the alignment's most confident pairs (at most
    ``count``), ``translate:procrustes`` with the alignment's own translator, another translator fitted on all its
    pairs. Each side's head trains on the split's training rows that side holds; the test rows were never seen by
    the alignment."""
    data, a, b = spaces.load_spaces(scenario)
    split = spaces._split(scenario, split_budget)
    al = alignment.aligned(scenario, key)
    train_a, train_b = (policy.side_train_rows(split.train, al.sides, side) for side in ("a", "b"))
    rows_b, rows_a = alignment.anchor_rows(al, count)
    kind, name = parse_method(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "translate" and name == alignment.TRANSLATOR:
            space_map = _Translated(al.correspondence.translator)
        elif kind == "translate":
            space_map = SpaceMap(method).fit(_tensor(a[al.pairs[:, 1]]), _tensor(b[al.pairs[:, 0]]))
        else:
            space_map = SpaceMap(method).fit(_tensor(a[rows_a]), _tensor(b[rows_b]))
        stitcher = PairStitcher(space_map, a[train_a], data.labels[train_a], rows_b, b[rows_b], scenario.seed)
        rows = np.union1d(train_a, train_b)  # fitted on A's rows, scored on B's: B may hold other samples

        def fit_predict(fit_pos: np.ndarray, val_pos: np.ndarray):
            fold = PairStitcher(space_map, a[rows[fit_pos]], data.labels[rows[fit_pos]], rows_b, b[rows_b],
                                scenario.seed)
            return fold.classes_, fold.predict_proba(b[rows[val_pos]])

        scaler = _stitch_scaler(fit_predict, data.labels[rows], scenario.seed, trainable=np.isin(rows, train_a),
                                scorable=np.isin(rows, train_b))
    head_a = _calibrated_head(a[train_a], data.labels[train_a], scenario.seed)
    head_b = _calibrated_head(b[train_b], data.labels[train_b], scenario.seed)
    return _live(stitcher, scaler, head_a, head_b, split.test, stitcher.classes_)


@dataclass
class Prediction:
    stitched: np.ndarray  # [C] calibrated probabilities: B's embedding through the stitch into A's head
    b_own: np.ndarray  # [C] B's own head on B's embedding (calibrated)
    a_own: np.ndarray  # [C] A's head on A's embedding of the same input (calibrated)
    anchors: np.ndarray  # [k] sample indices of the most similar anchors (in B)
    anchor_cosines: np.ndarray  # [k]
    stitched_raw: np.ndarray | None = None  # [C] the stitched head's probabilities before calibration


def encode_input(settings: Settings, item) -> tuple[np.ndarray, np.ndarray]:
    """One input (a text or a PIL image) through encoders A and B: ``([1, D_a], [1, D_b])``."""
    scenario = settings.scenario
    return tuple(spaces.encoder(spec).encode([item]).cpu().numpy() for spec in (scenario.encoder_a,
                                                                                 scenario.encoder_b))


def predict(model: LiveModel, embedding_a: np.ndarray, embedding_b: np.ndarray, k: int = 5) -> Prediction:
    """Everything the live panel shows for one encoded input (milliseconds: heads and one similarity row)."""
    anchors, cosines = model.stitcher.top_anchors(embedding_b, k)
    raw = model.stitcher.uncalibrated_proba(embedding_b)
    return Prediction(model.stitcher.scaler.calibrate(raw)[0], model.head_b.predict_proba(embedding_b)[0],
                      model.head_a.predict_proba(embedding_a)[0], anchors, cosines, raw[0])


def stitched_confusion(settings: Settings, model: LiveModel) -> tuple[np.ndarray, float]:
    """Confusion matrix (rows: true class, columns: predicted) of the stitched head on B's test samples."""
    data, _, b = spaces.load_spaces(settings.scenario)
    test = model.test_idx
    predicted = model.stitcher.predict(b[test])
    matrix = confusion_matrix(data.labels[test], predicted, len(data.label_names))
    return matrix, float((predicted == data.labels[test]).mean())


@dataclass
class CalibrationReport:
    """The stitched head's calibration on B's test samples (never used for fitting the head or its temperature)."""

    before: ReliabilityBins  # the head's own probabilities
    after: ReliabilityBins  # after temperature scaling
    temperature: float  # the stitched head's T (> 1: it was over-confident)
    temperatures: dict[str, float]  # every live head's T, by head
    n_test: int
    mean_confidence: tuple[float, float]  # mean top probability (before, after)
    accuracy: float  # the same before and after: calibration never changes the winning class
    calibrated: bool  # False: too few training samples per class to fit a temperature (T = 1)

    @property
    def ece_before(self) -> float:
        return self.before.ece

    @property
    def ece_after(self) -> float:
        return self.after.ece


def stitched_calibration(settings: Settings, model: LiveModel) -> CalibrationReport:
    """Reliability bins and ECE (``CALIBRATION_BINS`` equal-width bins) of the live stitched head on B's test
    samples, before and after its temperature (milliseconds: one pass of the test samples through the head)."""
    data, _, b = spaces.load_spaces(settings.scenario)
    test = model.test_idx
    truth = np.searchsorted(model.classes, data.labels[test])
    raw = model.stitcher.uncalibrated_proba(b[test])
    calibrated = model.stitcher.scaler.calibrate(raw)
    temperatures = {"stitched": model.stitcher.temperature, "b_own": model.head_b.temperature,
                    "a_own": model.head_a.temperature}
    return CalibrationReport(reliability_bins(raw, truth, CALIBRATION_BINS),
                             reliability_bins(calibrated, truth, CALIBRATION_BINS), model.stitcher.temperature,
                             temperatures, len(test), (float(raw.max(1).mean()), float(calibrated.max(1).mean())),
                             float((raw.argmax(1) == truth).mean()), model.calibrated)


def token_limit(settings: Settings) -> int | None:
    """The fewest tokens either text encoder reads per input (None when neither says)."""
    scenario = settings.scenario
    limits = [spaces.encoder(spec).max_tokens for spec in (scenario.encoder_a, scenario.encoder_b)]
    known = [n for n in limits if n]
    return min(known) if known else None
