"""Similarity: anchor x anchor cosines in A and B, class-mean similarities, relative vectors of selected
samples, and the metrics that compare the spaces."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import services
from app.components import projection as proj
from app.components import sidebar
from app.components.export import csv_download
from app.components.feedback import or_stop
from app.components.heatmaps import heatmap
from app.components.projection import show_panel
from latent_core.explore import METRIC_HELP, anchor_order

MAX_HEATMAP_ANCHORS = 150  # beyond this a heatmap's cells are smaller than a pixel on a projector
SAMPLE_ROWS = 12

st.title("Similarity: do the two spaces agree?")
ex = or_stop(services.explorer, sidebar.current(), st.container())
data = ex.data


@st.fragment
def metrics_panel() -> None:
    st.subheader("Metrics")
    k = st.slider("k (neighbours)", 1, min(50, len(data) - 1), min(10, len(data) - 1), key="metrics-k")
    frame = services.metrics(ex, k)
    shown = frame.copy()
    for column in shown.columns[2:]:
        shown[column] = [("—" if np.isnan(v) else f"{v:.3f}") for v in frame[column]]
    st.dataframe(shown, hide_index=True, width="stretch")
    st.markdown("\n".join(f"- **{name}**: {text}" for name, text in METRIC_HELP.items()))
    st.caption("MRR and mean paired cosine appear only where both sides share coordinates (relative vs relative, "
               "translated vs target): between two absolute spaces they would compare unrelated axes.")
    csv_download(frame, "⬇ Metrics as CSV", "metrics.csv", key="metrics-csv")


metrics_panel()

st.subheader("Anchor × anchor cosine similarity")
order = anchor_order(data.labels, ex.anchor_idx)
if len(order) > MAX_HEATMAP_ANCHORS:
    order = order[np.linspace(0, len(order) - 1, MAX_HEATMAP_ANCHORS).round().astype(int)]
    st.caption(f"{MAX_HEATMAP_ANCHORS} of the {len(ex.anchor_idx)} anchors, sorted by class.")
sim_a, sim_b = services.anchor_heatmaps(ex)
sim_a, sim_b = sim_a[np.ix_(order, order)], sim_b[np.ix_(order, order)]
names = [f"{data.ids[ex.anchor_idx[i]]} ({data.label_names[data.labels[ex.anchor_idx[i]]]})" for i in order]
upper = np.triu_indices(len(order), k=1)
correlation = float(np.corrcoef(sim_a[upper], sim_b[upper])[0, 1]) if len(order) > 2 else float("nan")
st.caption(f"The angles between anchors survive the change of encoder: Pearson correlation of the two matrices' "
           f"off-diagonal entries **{correlation:.3f}**. The difference shows where they do not.")
off_diagonal = ~np.eye(len(order), dtype=bool)
shared_range = (float(min(sim_a[off_diagonal].min(), sim_b[off_diagonal].min())),
                float(max(sim_a[off_diagonal].max(), sim_b[off_diagonal].max())))  # one scale for A and B
columns = st.columns(3)
for column, matrix, title, name, diverging in (
        (columns[0], sim_a, "A", "anchor-cosine-a", False), (columns[1], sim_b, "B", "anchor-cosine-b", False),
        (columns[2], sim_a - sim_b, "A − B", "anchor-cosine-difference", True)):
    with column:
        show_panel(heatmap(matrix, title, x=names, y=names, diverging=diverging, self_similarity=not diverging,
                           zrange=None if diverging else shared_range), name, name, select=False)

st.subheader("Class means")
st.caption("Cosine similarity between the mean vectors of each class: which topics each encoder finds close.")
mean_a, mean_b = services.class_means(ex)
columns = st.columns(2)
for column, matrix, title, name in ((columns[0], mean_a, "A", "class-means-a"), (columns[1], mean_b, "B",
                                                                                      "class-means-b")):
    with column:
        show_panel(heatmap(matrix, title, x=data.label_names, y=data.label_names, self_similarity=True), name, name,
                   select=False)

st.subheader("Relative representations of selected samples")
ids = proj.selected_ids()
position = {sample_id: i for i, sample_id in enumerate(data.ids)}
rows = [position[i] for i in ids if i in position][:SAMPLE_ROWS]
if rows:
    st.caption(f"The first {len(rows)} selected samples (select on the Spaces page), against the anchors in class "
               "order: the rows in A and B should look alike.")
else:
    rows = list(np.linspace(0, len(data) - 1, min(SAMPLE_ROWS, len(data))).round().astype(int))
    st.caption(f"{len(rows)} samples spread over the dataset (select some on the Spaces page to see yours), "
               "against the anchors in class order: the rows in A and B should look alike.")
labels = [f"{data.ids[i]} ({data.label_names[data.labels[i]]})" for i in rows]
rel_a, rel_b = ex.views.rel_a[np.ix_(rows, order)], ex.views.rel_b[np.ix_(rows, order)]
agreement = [float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else float("nan")
             for x, y in zip(rel_a, rel_b)]
columns = st.columns(2)
zrange = (float(min(rel_a.min(), rel_b.min())), float(max(rel_a.max(), rel_b.max())))
for column, matrix, title, name in ((columns[0], rel_a, "relative A", "relative-samples-a"),
                                    (columns[1], rel_b, "relative B", "relative-samples-b")):
    with column:
        show_panel(heatmap(matrix, title, x=[names[j] for j in range(len(order))], y=labels, zrange=zrange,
                           height=360), name, name, select=False)
st.caption("Per-sample Pearson correlation of the two rows: " + ", ".join(
    f"{label.split(' ')[0]} {value:.2f}" for label, value in zip(labels, agreement)))
