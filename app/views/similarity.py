"""Similarity: the metrics that compare the spaces (with bootstrap intervals on request), alignment against the
number of samples, anchor x anchor cosines in A and B, class-mean similarities, relative vectors of selected
samples."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
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


def _formatted(frame):
    shown = frame.copy()
    for column in shown.columns[2:]:
        shown[column] = [("—" if np.isnan(v) else f"{v:.3f}") for v in frame[column]]
    return shown


@st.fragment
def metrics_panel() -> None:
    st.subheader("Metrics")
    k = st.slider("k (neighbours)", 1, min(50, len(data) - 1), min(10, len(data) - 1), key="metrics-k")
    asked = st.session_state.get("metrics-ci-asked") == (ex.key, k)
    if st.button("Compute all metrics with 95% intervals", key="metrics-ci",
                 help=f"Adds the kernel CKAs and SVCCA, and a bootstrap interval to every metric "
                      f"({similarity.PAGE_BOOT} resamples)."):
        st.session_state["metrics-ci-asked"] = (ex.key, k)
        asked = True
    intervals = None
    if asked:
        with st.spinner("Computing every metric and its bootstrap interval…"):
            intervals = or_stop(similarity.metric_intervals, ex, k)
        frame = similarity.full_table(intervals)
    else:
        frame = similarity.metric_table(ex, k)
    st.dataframe(_formatted(frame), hide_index=True, width="stretch")
    if intervals is None:
        st.caption("Unbiased CKA, RBF CKA, CKNNA and SVCCA take seconds each and the intervals need resampling: "
                   "press the button to add them.")
    else:
        st.markdown("**95% bootstrap intervals**: value [low, high]")
        st.dataframe(similarity.interval_table(intervals), hide_index=True, width="stretch")
        st.caption(f"k-NN and retrieval metrics: the per-sample scores (each sample's neighbours and candidates "
                   f"among all samples) resampled with replacement, {similarity.PAGE_BOOT} times, percentile "
                   f"interval. The others: recomputed on {similarity.PAGE_BOOT} random subsamples of "
                   f"{similarity.PAGE_BOOT_SAMPLES} distinct samples (at most half of them), spread rescaled to "
                   "all samples; resampling with replacement would make duplicates each other's nearest neighbours.")
        csv_download(intervals, "⬇ Intervals as CSV", "metric-intervals.csv", key="metrics-ci-csv")
    note = similarity.kernel_note(ex)
    if note:
        st.info(note)
    st.markdown("\n".join(f"- **{name}**: {text}" for name, text in similarity.metric_help().items()))
    st.caption("MRR, mean paired cosine, top-1 retrieval and mean rank appear only where both sides share "
               "coordinates (relative vs relative, translated vs target): between two absolute spaces they would "
               "compare unrelated axes.")
    csv_download(frame, "⬇ Metrics as CSV", "metrics.csv", key="metrics-csv")


metrics_panel()

COMPARISON_LABELS = {"absolute": "absolute A vs absolute B", "relative": "relative A vs relative B",
                     "translated": "B translated into A vs A"}
CURVE_DEFAULT = ("mutual k-NN", "Jaccard@k", "linear CKA")


def curve_figure(summary, comparison: str) -> go.Figure:
    """One line per metric: the mean over seeds, error bars from the smallest to the largest seed, log x."""
    figure = go.Figure()
    for metric, rows in summary.groupby("metric", sort=False):
        figure.add_trace(go.Scatter(
            x=rows["size"], y=rows["mean"], mode="lines+markers", name=metric,
            error_y={"type": "data", "symmetric": False, "array": rows["high"] - rows["mean"],
                     "arrayminus": rows["mean"] - rows["low"]}))
    figure.update_layout(title=f"Alignment vs N ({COMPARISON_LABELS[comparison]})", height=440,
                         xaxis={"type": "log", "title": "samples (N)"}, yaxis={"title": "value"},
                         legend={"title": "metric"}, margin={"t": 50, "b": 40})
    return figure


@st.fragment
def curve_panel() -> None:
    st.subheader("Alignment vs N")
    st.caption("Each metric on seeded random subsamples of 64, 128, 256, … samples up to the whole dataset (3 seeds: "
               "the line is their mean, the bars their range). k-NN alignment is not a constant of two encoders: "
               "it changes as neighbourhoods get finer with more samples (Koepke et al., 2026).")
    columns = st.columns([1, 3])
    comparison = columns[0].selectbox("Comparison", list(COMPARISON_LABELS), format_func=COMPARISON_LABELS.get,
                                      key="curve-comparison")
    choices = similarity.curve_choices(comparison)
    metrics = columns[1].multiselect("Metrics", choices, default=[m for m in CURVE_DEFAULT if m in choices],
                                     key="curve-metrics")
    k = st.session_state.get("metrics-k", min(10, len(data) - 1))
    wanted = (ex.key, comparison, tuple(metrics), k)
    if st.button("Compute alignment vs N", key="curve-run", disabled=not metrics):
        st.session_state["curve-asked"] = wanted
    if st.session_state.get("curve-asked") != wanted or not metrics:
        st.caption("Pick metrics and press the button (the kernel CKAs take longer).")
        return
    with st.spinner("Measuring on subsamples…"):
        frame, summary = or_stop(similarity.alignment_curve, ex, comparison, metrics, k)
    figure = curve_figure(summary, comparison)
    show_panel(figure, "alignment-vs-n", "alignment-vs-n", select=False)
    csv_download(frame, "⬇ Alignment vs N as CSV", "alignment-vs-n.csv", key="curve-csv")


curve_panel()

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
