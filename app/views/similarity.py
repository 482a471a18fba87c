"""Similarity: anchor x anchor cosines in A and B, class-mean similarities, relative vectors of selected
samples, and the metrics that compare the spaces."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app.components import projection as proj
from app.components import sidebar
from app.components.export import csv_download
from app.components.feedback import or_stop
from app.components.heatmaps import heatmap
from app.components.progress import aligning_bars, encoding_bars
from app.components.projection import show_panel
from app.services import similarity, spaces

SAMPLE_ROWS = 12

st.title("Similarity: do the two spaces agree?")
_area = st.container()
ex = or_stop(spaces.explorer, sidebar.current(), encoding_bars(_area), aligning_bars(_area))
data = ex.data


@st.fragment
def metrics_panel() -> None:
    st.subheader("Metrics")
    k = st.slider("k (neighbours)", 1, min(50, len(data) - 1), min(10, len(data) - 1), key="metrics-k")
    frame = spaces.metrics(ex, k)
    shown = frame.copy()
    for column in shown.columns[2:]:
        shown[column] = [("—" if np.isnan(v) else f"{v:.3f}") for v in frame[column]]
    st.dataframe(shown, hide_index=True, width="stretch")
    st.markdown("\n".join(f"- **{name}**: {text}" for name, text in similarity.metric_help().items()))
    st.caption("MRR and mean paired cosine appear only where both sides share coordinates (relative vs relative, "
               "translated vs target): between two absolute spaces they would compare unrelated axes.")
    csv_download(frame, "⬇ Metrics as CSV", "metrics.csv", key="metrics-csv")


metrics_panel()

st.subheader("Anchor × anchor cosine similarity")
panels = similarity.anchor_panels(ex)
shown = f"{len(panels.order)} of the {panels.total}" if len(panels.order) < panels.total else f"All {panels.total}"
if ex.settings.aligned:
    st.caption(f"{shown} anchor pairs found by the alignment, sorted by the class of A's sample; B's matrix compares "
               "B's sample of each pair (named by A's sample).")
else:
    st.caption(f"{shown} anchors ({ex.settings.strategy}), sorted by class.")
st.caption(f"The angles between anchors survive the change of encoder: Pearson correlation of the two matrices' "
           f"off-diagonal entries **{panels.correlation:.3f}**. The difference shows where they do not.")
names = panels.names
columns = st.columns(3)
for column, matrix, title, name, diverging in (
        (columns[0], panels.sim_a, "A", "anchor-cosine-a", False),
        (columns[1], panels.sim_b, "B", "anchor-cosine-b", False),
        (columns[2], panels.sim_a - panels.sim_b, "A − B", "anchor-cosine-difference", True)):
    with column:
        show_panel(heatmap(matrix, title, x=names, y=names, diverging=diverging, self_similarity=not diverging,
                           zrange=None if diverging else panels.shared_range), name, name, select=False)

st.subheader("Class means")
st.caption("Cosine similarity between the mean vectors of each class: which topics each encoder finds close.")
mean_a, mean_b = spaces.class_means(ex)
columns = st.columns(2)
for column, matrix, title, name in ((columns[0], mean_a, "A", "class-means-a"), (columns[1], mean_b, "B",
                                                                                      "class-means-b")):
    with column:
        show_panel(heatmap(matrix, title, x=data.label_names, y=data.label_names, self_similarity=True), name, name,
                   select=False)

st.subheader("Relative representations of selected samples")
chosen = similarity.relative_rows(ex, proj.selected_ids(), panels.order, SAMPLE_ROWS)
if chosen.selected:
    st.caption(f"The first {len(chosen.rows)} selected samples (select on the Spaces page), against the anchors in "
               "class order: the rows in A and B should look alike.")
else:
    st.caption(f"{len(chosen.rows)} samples spread over the dataset (select some on the Spaces page to see yours), "
               "against the anchors in class order: the rows in A and B should look alike.")
columns = st.columns(2)
zrange = (float(min(chosen.rel_a.min(), chosen.rel_b.min())), float(max(chosen.rel_a.max(), chosen.rel_b.max())))
for column, matrix, title, name in ((columns[0], chosen.rel_a, "relative A", "relative-samples-a"),
                                    (columns[1], chosen.rel_b, "relative B", "relative-samples-b")):
    with column:
        show_panel(heatmap(matrix, title, x=names, y=chosen.labels, zrange=zrange, height=360), name, name,
                   select=False)
st.caption("Per-sample Pearson correlation of the two rows: " + ", ".join(
    f"{label.split(' ')[0]} {value:.2f}" for label, value in zip(chosen.labels, chosen.agreement)))
