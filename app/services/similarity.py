"""Services of the Similarity page: the anchor heatmaps (class-sorted, capped for the screen), the relative rows
of chosen samples, the metrics table with each metric's help (from :data:`latent_core.explore.METRICS`), their
bootstrap intervals, and alignment against the number of samples (:mod:`latent_core.scaling`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app.services import spaces
from latent_core import explore, scaling
from latent_core.explore import HEATMAP_MAX, metric_help, offdiagonal_correlation, row_correlation, spread_anchor_order

__all__ = ["AnchorPanels", "anchor_panels", "metric_help", "RelativeRows", "relative_rows", "metric_table",
           "metric_intervals", "full_table", "interval_table", "kernel_note", "curve_choices", "alignment_curve"]

PAGE_BOOT = 50  # resamples per interval on the page: a modest number keeps the button's wait short
PAGE_BOOT_SAMPLES = 300  # rows per subsample when a metric is recomputed (kernel CKAs, SVCCA, linear CKA)
CURVE_SEEDS = (0, 1, 2)
LEVEL = 0.95


# ---- metrics and intervals ---------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=32)
def _table(key: tuple, k: int, names: tuple[str, ...], costly: bool, _ex: spaces.Explorer) -> pd.DataFrame:
    return explore.space_metrics(_ex.a, _ex.b, _ex.views, k, costly=costly)


def metric_table(ex: spaces.Explorer, k: int = 10, costly: bool = False) -> pd.DataFrame:
    """One row per comparison, one column per metric (without the costly ones unless ``costly``): the table shown
    at once. The registered names are part of the cache key (a metric registered later gets its column)."""
    return _table(ex.key, k, tuple(explore.METRICS), costly, ex)


@st.cache_data(show_spinner=False, max_entries=16)
def _intervals(key: tuple, k: int, names: tuple[str, ...], n_boot: int, max_samples: int,
               _ex: spaces.Explorer) -> pd.DataFrame:
    return explore.metric_intervals(_ex.a, _ex.b, _ex.views, k, n_boot=n_boot, level=LEVEL, seed=0,
                                    max_samples=max_samples)


def metric_intervals(ex: spaces.Explorer, k: int = 10, n_boot: int = PAGE_BOOT) -> pd.DataFrame:
    """Every metric where it applies with its 95% bootstrap interval (:func:`latent_core.explore.metric_intervals`,
    long: comparison, metric, value, low, high, method, ...)."""
    return _intervals(ex.key, k, tuple(explore.METRICS), n_boot, PAGE_BOOT_SAMPLES, ex)


def _wide(intervals: pd.DataFrame, column) -> pd.DataFrame:
    """comparison x metric table of ``column(row)`` in the order of the comparisons and of :data:`METRICS`."""
    comparisons = list(explore.COMPARISONS.values())
    names = [m for m in explore.METRICS if m in set(intervals["metric"])]
    cells = {(r.comparison, r.metric): column(r) for r in intervals.itertuples()}
    frame = pd.DataFrame({"comparison": comparisons})
    frame.insert(1, "k", int(intervals["k"].iloc[0]) if len(intervals) else 0)
    for name in names:
        frame[name] = [cells.get((c, name), math.nan) for c in comparisons]
    return frame


def full_table(intervals: pd.DataFrame) -> pd.DataFrame:
    """The values of :func:`metric_intervals` as the metrics table (NaN where a metric does not apply)."""
    return _wide(intervals, lambda r: float(r.value))


def interval_table(intervals: pd.DataFrame) -> pd.DataFrame:
    """``"value [low, high]"`` per comparison and metric (``"—"`` where a metric does not apply)."""
    frame = _wide(intervals, lambda r: f"{r.value:.3f} [{r.low:.3f}, {r.high:.3f}]")
    return frame.fillna("—")


def kernel_note(ex: spaces.Explorer) -> str | None:
    """The note the page shows when the kernel CKAs use a subsample (None when they use every sample)."""
    return explore.kernel_note(len(ex.data))


# ---- alignment vs N ----------------------------------------------------------------------------------------------

def curve_choices(comparison: str) -> list[str]:
    """Metrics that apply to a comparison (``absolute``, ``relative`` or ``translated``), in registry order."""
    return [name for name in explore.METRICS
            if comparison in explore.SHARED_COORDINATES or not explore.METRICS.meta(name).get("shared_coordinates")]


@st.cache_data(show_spinner=False, max_entries=16)
def _curve(key: tuple, comparison: str, metrics: tuple[str, ...], k: int, seeds: tuple[int, ...],
           _ex: spaces.Explorer) -> pd.DataFrame:
    x, y = explore.pairs(_ex.a, _ex.b, _ex.views)[comparison]
    return scaling.alignment_vs_n(x, y, list(metrics), seeds=seeds, k=k)


def alignment_curve(ex: spaces.Explorer, comparison: str, metrics: list[str], k: int = 10,
                    seeds: tuple[int, ...] = CURVE_SEEDS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each metric of one comparison on seeded subsamples of a log-spaced ladder of sizes up to the dataset's:
    the tidy frame (size, seed, metric, value) and its summary over seeds (metric, size, mean, low, high)."""
    k = min(k, len(ex.data) - 2)
    frame = _curve(ex.key, comparison, tuple(metrics), k, tuple(seeds), ex)
    return frame, scaling.summarise(frame)


@dataclass
class AnchorPanels:
    order: np.ndarray  # [k] positions into the explorer's anchors, sorted by class (at most HEATMAP_MAX)
    names: list[str]  # "id (class)" per shown anchor
    sim_a: np.ndarray  # [k, k] cosines between the shown anchors in A
    sim_b: np.ndarray  # [k, k] the same in B
    correlation: float  # Pearson correlation of the two matrices' off-diagonal entries
    shared_range: tuple[float, float]  # one colour range for A and B (off-diagonal entries)
    total: int  # anchors in the explorer (more than shown when capped)


def anchor_panels(ex: spaces.Explorer) -> AnchorPanels:
    """The explorer's anchors sorted by class, at most :data:`HEATMAP_MAX` of them spread evenly, in A and B."""
    data = ex.data
    order = spread_anchor_order(data.labels, ex.anchor_idx, HEATMAP_MAX)
    sim_a, sim_b = spaces.anchor_heatmaps(ex)
    sim_a, sim_b = sim_a[np.ix_(order, order)], sim_b[np.ix_(order, order)]
    names = [f"{data.ids[ex.anchor_idx[i]]} ({data.label_names[data.labels[ex.anchor_idx[i]]]})" for i in order]
    off_diagonal = ~np.eye(len(order), dtype=bool)
    shared_range = (float(min(sim_a[off_diagonal].min(), sim_b[off_diagonal].min())),
                    float(max(sim_a[off_diagonal].max(), sim_b[off_diagonal].max())))
    return AnchorPanels(order, names, sim_a, sim_b, offdiagonal_correlation(sim_a, sim_b), shared_range,
                        len(ex.anchor_idx))


@dataclass
class RelativeRows:
    rows: list[int]  # dataset rows shown
    labels: list[str]  # "id (class)" per row
    rel_a: np.ndarray  # [R, k] relative A of the rows against the shown anchors
    rel_b: np.ndarray  # [R, k] relative B
    agreement: np.ndarray  # [R] Pearson correlation of each row's A and B vectors
    selected: bool  # the rows are the user's selection (else spread over the dataset)


def relative_rows(ex: spaces.Explorer, ids: list[str], order: np.ndarray, limit: int) -> RelativeRows:
    """The first ``limit`` selected samples (or ``limit`` spread over the dataset when none is selected), against
    the anchors at positions ``order``."""
    data = ex.data
    position = {sample_id: i for i, sample_id in enumerate(data.ids)}
    rows = [position[i] for i in ids if i in position][:limit]
    selected = bool(rows)
    if not selected:
        rows = [int(r) for r in np.linspace(0, len(data) - 1, min(limit, len(data))).round().astype(int)]
    rel_a, rel_b = ex.views.rel_a[np.ix_(rows, order)], ex.views.rel_b[np.ix_(rows, order)]
    labels = [f"{data.ids[i]} ({data.label_names[data.labels[i]]})" for i in rows]
    return RelativeRows(rows, labels, rel_a, rel_b, row_correlation(rel_a, rel_b), selected)
