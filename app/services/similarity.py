"""Services of the Similarity page: the anchor heatmaps (class-sorted, capped for the screen), the relative rows
of chosen samples, and the metrics table with each metric's help (from :data:`latent_core.explore.METRICS`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.services import spaces
from latent_core.explore import HEATMAP_MAX, metric_help, offdiagonal_correlation, row_correlation, spread_anchor_order

__all__ = ["AnchorPanels", "anchor_panels", "metric_help", "RelativeRows", "relative_rows"]


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
