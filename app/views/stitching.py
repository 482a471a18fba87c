"""Stitching lab: live stitched predictions on your own input (calibrated), the confusion matrix and the reliability
diagram of the stitched head, the stitching table over seeds, the atlas comparison (one head on A, B and C merged),
and accuracy against the number and choice of anchors."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import safety
from app.components import sidebar
from app.components.export import csv_download
from app.components.feedback import or_stop, show_error
from app.components.heatmaps import heatmap
from app.components.progress import aligning_bars, encoding_bars, progress_bar
from app.components.projection import PALETTE, show_panel
from app.safety import html, md
from app.services import alignment, policy, spaces, stitching
from app.state import SAME
from app.uploads import spec_label
from latent_core.errors import InvalidImageError, LatentCoreError

EXAMPLES = {"bbc": "The central bank raised interest rates again as inflation worries grew."}
HEADS = ("B → A stitched (A's head)", "B's own head", "A's head on A's encoding")

st.title("Stitching lab")
settings = sidebar.current()
_area = st.container()
data, a, b = or_stop(spaces.load_spaces, settings.scenario, encoding_bars(_area))
plan = spaces.split_plan(settings)
if settings.aligned:
    or_stop(alignment.alignment, settings, None, aligning_bars(_area))
    st.caption(f"A = {md(spec_label(settings.encoder_a))} · B = {md(spec_label(settings.encoder_b))} · dataset "
               f"**{md(data.name, 60)}** ({len(data)} samples) · anchors: **{alignment.mode_label(settings)}** "
               f"({alignment.align_key(settings).describe()}) · test set {policy.test_size_for(len(data))} samples, "
               "never used for matching, as anchors or for training.")
else:
    st.caption(f"A = {md(spec_label(settings.encoder_a))} · B = {md(spec_label(settings.encoder_b))} · dataset "
               f"**{md(data.name, 60)}** ({len(data)} samples) · {plan.count} anchors ({plan.strategy}) · "
               f"test set {policy.test_size_for(len(data))} samples, never used as anchors or for training.")
    if plan.note:
        st.caption(f"ℹ️ {plan.note}")


def _share(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.1%}"


def curve_figure(curve: alignment.Curve, label: str) -> go.Figure:
    """Stitched accuracy against the number of true anchors, with the alignment's point and level marked."""
    frame = curve.frame
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=frame["n_anchors"], y=frame["accuracy"], mode="lines+markers",
                                name="true anchors (random, Procrustes)", line={"color": "#1b9e77"},
                                hovertemplate="%{x} true anchors: %{y:.3f}<extra></extra>"))
    x = curve.known_pairs if curve.known_pairs else 1  # no pairs: a labelled place left of the curve (log axis)
    figure.add_trace(go.Scatter(
        x=[x], y=[curve.aligned_accuracy], mode="markers+text", name=label,
        text=[f"{label}: {curve.aligned_accuracy:.3f}"], textposition="top right",
        marker={"symbol": "star", "size": 16, "color": "#d95f02", "line": {"color": "black", "width": 1}},
        hovertemplate=f"{label}: %{{y:.3f}}<extra></extra>"))
    figure.add_hline(y=curve.aligned_accuracy, line_dash="dash", line_color="#d95f02", opacity=0.6)
    figure.add_hline(y=curve.no_stitch, line_dash="dot", line_color="grey", annotation_text="no stitch (A on A)",
                     annotation_position="bottom right")
    figure.add_hline(y=curve.chance, line_dash="dot", line_color="#bbbbbb", annotation_text="chance",
                     annotation_position="bottom right")
    ticks = sorted({x, *[int(c) for c in frame["n_anchors"]]})
    figure.update_layout(
        title="Stitched accuracy vs number of true anchors, and the alignment", height=440,
        xaxis={"type": "log", "title": "known pairs (true anchors)", "tickvals": ticks,
               "ticktext": ["0 (none)" if t == 1 and not curve.known_pairs else str(t) for t in ticks]},
        yaxis={"range": [0, 1.05], "title": "accuracy on B's test samples"},
        margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.25})
    return figure


def alignment_panel() -> None:
    """Matching quality against the hidden truth, and the alignment on the accuracy curve of true anchors."""
    st.subheader("How good is the alignment? (scored against the hidden truth)")
    try:
        quality = alignment.quality(settings)
    except LatentCoreError as error:
        show_error(error)
        return
    same = settings.sides == SAME
    st.caption(f"The alignment ({quality.method}, {'same samples' if quality.matching == 'exact' else 'soft'} "
               f"matching) saw {quality.rows_a} samples of A and {quality.rows_b} of B, never which is which, and "
               f"found {quality.n_pairs} pairs in {quality.seconds:.1f} s.")
    columns = st.columns(3)
    columns[0].metric("exact matches", _share(quality.exact),
                      help="Pairs whose two samples are the same sample." if same else
                      "The sides hold different samples: no pair can be exact (except known pairs).")
    columns[1].metric("class purity", _share(quality.purity), help="Pairs whose two samples share a class.")
    columns[2].metric("pairs found", f"{quality.n_pairs}")
    st.markdown(f"**Translation on the {quality.n_test} test samples** (vec2vec's measures: B's test vectors "
                "translated into A, each looking for its own A vector among all of them)")
    columns = st.columns(3)
    columns[0].metric("top-1 retrieval", _share(quality.retrieval["top1"]),
                      help="Fraction whose translated vector is nearest (cosine) to its own A vector.")
    columns[1].metric("mean rank", f"{quality.retrieval['mean_rank']:.1f}",
                      help=f"Rank of the true counterpart among {quality.n_test} (1 = best).")
    columns[2].metric("mean cosine", f"{quality.retrieval['mean_cosine']:.3f}",
                      help="Cosine between a translated vector and its true counterpart.")
    try:
        with progress_bar(st.container(), "Stitching with true anchors…",
                          lambda done, total: f"Stitching: {done} of {total} runs") as report:
            curve = alignment.accuracy_curve(settings, report)
    except LatentCoreError as error:
        show_error(error)
        return
    label = (f"bootstrap from {curve.known_pairs} known pairs" if curve.known_pairs else "unsupervised (0 pairs)")
    show_panel(curve_figure(curve, label), "alignment-curve", "alignment-vs-true-anchors", select=False)
    best = curve.frame.iloc[-1] if len(curve.frame) else None
    reference = (f"; {int(best['n_anchors'])} true anchors give {best['accuracy']:.3f}" if best is not None else "")
    st.caption(f"A logistic head trained on A's {curve.n_train} training samples reads B's {curve.n_test} test samples "
               f"through the alignment's map: accuracy **{curve.aligned_accuracy:.3f}** (no stitch "
               f"{curve.no_stitch:.3f}{reference}). The curve uses the same head and test samples with Procrustes on "
               "random true anchors from the anchor pool.")


def probability_figure(prediction: stitching.Prediction, names: list[str], title: str) -> go.Figure:
    figure = go.Figure()
    for values, name, colour in zip((prediction.stitched, prediction.b_own, prediction.a_own), HEADS,
                                    ("#d95f02", "#7570b3", "#1b9e77")):
        figure.add_trace(go.Bar(x=[html(n, 40) for n in names], y=values, name=name, marker_color=colour,
                                hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>"))
    figure.update_layout(barmode="group", title=title, yaxis={"range": [0, 1], "title": "probability"}, height=380,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.2})
    return figure


def reliability_figure(report: stitching.CalibrationReport) -> go.Figure:
    """Accuracy against mean confidence per confidence bin, before and after temperature scaling, and the diagonal
    of a perfectly calibrated head."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                                line={"dash": "dash", "color": "grey"}, hoverinfo="skip"))
    for bins, name, colour in ((report.before, f"before calibration (ECE {report.ece_before:.3f})", "#7570b3"),
                               (report.after, f"after, T = {report.temperature:.2f} (ECE {report.ece_after:.3f})",
                                "#d95f02")):
        used = bins.count > 0
        figure.add_trace(go.Scatter(
            x=bins.confidence[used], y=bins.accuracy[used], mode="lines+markers", name=name, line={"color": colour},
            marker={"size": 6 + 14 * np.sqrt(bins.count[used] / bins.count.max())}, customdata=bins.count[used],
            hovertemplate="confidence %{x:.3f} · accuracy %{y:.3f} · %{customdata} samples<extra></extra>"))
    figure.update_layout(title=f"Reliability diagram of the stitched head ({report.n_test} test samples)", height=420,
                         xaxis={"range": [0, 1.02], "title": "confidence (mean top probability in the bin)"},
                         yaxis={"range": [0, 1.02], "title": "accuracy in the bin"},
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.25})
    return figure


def calibration_panel(model: stitching.LiveModel) -> None:
    """The stitched head's ECE and reliability diagram on B's test samples, before and after calibration."""
    report = stitching.stitched_calibration(settings, model)
    if not report.calibrated:
        st.info("Too few training samples per class to hold some out for calibration: the probabilities shown are "
                "the heads' own (T = 1). Raise the sample size in the sidebar to calibrate them.")
        return
    st.markdown(f"**Are the stitched probabilities honest?** Calibration on B's {report.n_test} test samples (never "
                "used to fit the head or its temperature).")
    columns = st.columns(3)
    columns[0].metric("ECE before calibration", f"{report.ece_before:.3f}",
                      help="Expected calibration error: the gap between confidence and accuracy, averaged over "
                           f"{stitching.CALIBRATION_BINS} confidence bins weighted by their samples (0 = honest).")
    columns[1].metric("ECE after calibration", f"{report.ece_after:.3f}",
                      delta=f"{report.ece_after - report.ece_before:+.3f}", delta_color="inverse")
    columns[2].metric("temperature T", f"{report.temperature:.2f}",
                      help="T > 1: the head was over-confident and its probabilities are softened; T < 1: sharpened.")
    st.caption("Temperature scaling divides the head's log-probabilities by one number T, fitted on training samples "
               "held out from the head, so a head that says 90% is right about 90% of the time, without changing "
               f"which class wins (accuracy {report.accuracy:.3f} before and after; mean confidence "
               f"{report.mean_confidence[0]:.3f} → {report.mean_confidence[1]:.3f}). A dot's size is its bin's "
               "number of samples: bins with few samples wander off the diagonal by chance.")
    show_panel(reliability_figure(report), "reliability", "stitched-reliability", select=False)


def _input_item():
    """The user's input for encoder B (and A): a text, or an image (uploaded or picked from the dataset)."""
    if data.modality == "text":
        default = EXAMPLES.get(data.name.split(":")[0], str(data.items[0])[:200])
        cap = safety.limits().max_text_chars
        text = st.text_area("Your text", value=default, key="live-text", height=90, max_chars=cap)
        if not text.strip():
            st.warning("Type a sentence to classify.")
            return None
        if len(text) > cap:  # the box stops typing at the cap; a client that sends more is cut here
            st.warning(f"Only the first {cap:,} characters are used.")
            text = text[:cap]
        tokens = stitching.token_limit(settings)
        if tokens:
            st.caption(f"The encoders read at most {tokens} tokens (roughly {int(tokens * 0.75)} words); a longer text "
                       "is cut by their tokenizers.")
        return text.strip()
    source = st.radio("Image", ("Pick a sample", "Upload"), horizontal=True, key="live-source")
    if source == "Upload":
        upload = st.file_uploader("An image (PNG, JPEG, BMP, GIF, WebP)", key="live-upload")
        if upload is None:
            st.info("Upload an image, or pick a sample.")
            return None
        try:
            return spaces.read_image(upload.getvalue(), upload.name).convert("RGB")
        except InvalidImageError as error:
            st.error(f"{md(error, 600)}\n\n**What to do:** upload a PNG or JPEG picture, or pick a sample.", icon="⚠️")
            return None
    index = st.number_input("Sample number", 0, len(data) - 1, 0, key="live-sample")
    return data.items[int(index)]


@st.fragment
def live_prediction() -> None:
    st.subheader("Live prediction")
    st.markdown("Your input goes through **encoder B**, then through the stitch (relative projection or translator "
                "fitted on the anchors), then into **A's classifier**, which never saw a B vector.")
    method = st.selectbox("Stitch", stitching.live_methods(), key="live-method")
    if settings.aligned:
        st.caption(f"Without parallel anchors: translate:{alignment.TRANSLATOR} is the alignment's own map, other "
                   "translators are fitted on all its pairs, relative stitching uses its "
                   f"{settings.n_anchors} most confident pairs as anchors (A's sample in A, B's in B).")
    left, right = st.columns([3, 2])
    with left:
        item = _input_item()
    try:
        model = stitching.live_model(settings, method)
    except LatentCoreError as error:
        show_error(error)
        return
    if item is None:
        return
    start = time.perf_counter()
    embedding_a, embedding_b = stitching.encode_input(settings, item)
    encoded = time.perf_counter()
    prediction = stitching.predict(model, embedding_a, embedding_b)
    done = time.perf_counter()
    names = [data.label_names[c] for c in model.classes]
    winner = names[int(np.argmax(prediction.stitched))]
    with left:
        st.success(f"Stitched prediction: **{md(winner, 60)}** ({prediction.stitched.max():.1%})")
        if model.calibrated:
            change = "" if prediction.stitched_raw is None else (
                f", which turned its {prediction.stitched_raw.max():.1%} into {prediction.stitched.max():.1%}")
            st.caption("Calibrated probabilities: each head's are softened or sharpened by its own temperature "
                       f"(the stitched head's T = {model.stitcher.temperature:.2f}{change}; see the reliability "
                       "diagram below).")
        st.caption(f"Encoding with A and B {1000 * (encoded - start):.0f} ms · stitched prediction, both reference "
                   f"heads and the nearest anchors {1000 * (done - encoded):.1f} ms.")
        show_panel(probability_figure(prediction, names, "Class probabilities"), "live-probabilities",
                   "live-probabilities", select=False)
    with right:
        st.markdown("**Anchors most similar to your input** (cosine in B)")
        for index, cosine in zip(prediction.anchors, prediction.anchor_cosines):
            label = data.label_names[data.labels[index]]
            if data.modality == "text":
                st.markdown(f"`{cosine:.2f}` · *{md(label, 60)}* · {md(data.items[index], 160)}")
            else:
                st.image(data.items[index], caption=f"{md(label, 60)} · {cosine:.2f}", width=72)
    matrix, accuracy = stitching.stitched_confusion(settings, model)
    st.markdown(f"**Confusion matrix of the stitched head** ({method}) on B's {len(model.test_idx)} test samples: "
                f"accuracy {accuracy:.3f}.")
    show_panel(heatmap(matrix, "stitched head: true (rows) vs predicted (columns)", x=data.label_names,
                       y=data.label_names, hover="true %{y} · predicted %{x}: %{z}<extra></extra>", height=420),
               "confusion", "stitched-confusion", select=False)
    calibration_panel(model)


def table_figure(summary: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    figure.add_trace(go.Bar(x=summary["method"], y=summary["accuracy_mean"], name="stitched (B → A's head)",
                            error_y={"type": "data", "array": summary["accuracy_std"]}, marker_color="#d95f02"))
    figure.add_trace(go.Scatter(x=summary["method"], y=summary["a_accuracy_mean"], mode="markers",
                                name="no stitch (A's head on A)", marker={"symbol": "line-ew-open", "size": 26,
                                                                          "color": "#1b9e77", "line": {"width": 3}}))
    figure.add_trace(go.Scatter(x=summary["method"], y=summary["b_accuracy_mean"], mode="markers",
                                name="B's own head", marker={"symbol": "circle-open", "size": 9, "color": "#7570b3"}))
    figure.add_hline(y=float(summary["chance_mean"].iloc[0]), line_dash="dot", annotation_text="chance")
    figure.update_layout(title="Accuracy on B's test samples (mean ± std over seeds)", height=440,
                         yaxis={"range": [0, 1.02], "title": "accuracy"}, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.35})
    return figure


def stitching_table() -> None:
    st.subheader("The stitching table")
    seeds = tuple(range(st.number_input("Seeds", 1, 5, 3, key="table-seeds")))
    results = stitching.cached_table(settings, len(data), seeds)
    if results is None:
        count = len(seeds) * len(stitching.table_methods())
        st.info(f"{count} stitching runs (every relative projection and translator, {len(seeds)} seeds). "
                "On 2 CPU cores this takes under half a minute for 2000 samples; the result is kept on disk.")
        if not st.button("Compute the stitching table", type="primary", key="table-run"):
            return
        with progress_bar(st.container(), "Stitching…",
                          lambda done, total: f"Stitching: {done} of {total} runs") as report:
            results = stitching.stitching_table(settings, seeds, report)
    elif results.attrs.get("shipped"):
        st.caption("Precomputed for the default scenario and shipped with the app (same spaces, split, anchors and "
                   "seeds); any other setting computes on the button.")
    summary = stitching.summary(results)
    show_panel(table_figure(summary), "stitch-table", "stitching-table", select=False)
    shown = summary[["method", "accuracy_mean", "accuracy_std", "a_accuracy_mean", "b_accuracy_mean", "macro_f1_mean",
                     "chance_mean"]].rename(columns={
        "accuracy_mean": "stitched", "accuracy_std": "± std", "a_accuracy_mean": "no stitch (A on A)",
        "b_accuracy_mean": "B's own head", "macro_f1_mean": "stitched macro-F1", "chance_mean": "chance"})
    st.dataframe(shown.style.format(precision=3), hide_index=True, width="stretch")
    st.caption("'absolute' feeds B's raw vectors to A's head: chance level, because the coordinates are unrelated. "
               "Relative projections and translators recover most of the no-stitch accuracy.")
    csv_download(results, "⬇ All runs as CSV", "stitching-runs.csv", key="table-csv")


def atlas_section() -> None:
    """Charts to Atlas: one head trained on the merged relative spaces, tested on each space alone, against each
    space's own head (and A's head read through the space, for context)."""
    st.subheader("Atlas: one head for every space")
    roles = dict(zip(spaces.ATLAS_ROLES, settings.atlas_encoders))
    st.caption(" · ".join(f"{role} = {md(spec_label(spec))}" for role, spec in roles.items())
               + (" · choose an Encoder C in the sidebar to merge a third space." if len(roles) < 3 else ""))
    results = stitching.cached_atlas(settings)
    if results is None:
        st.info(f"The atlas merges the relative representations of {', '.join(roles)} against the same "
                f"{plan.count} anchors (their mean); one logistic head is trained on it and tested on each space "
                f"alone, beside {len(roles) + 1} heads trained on single spaces. A few seconds once the spaces are "
                "encoded.")
        if not st.button("Compare the atlas head with each space's own", type="primary", key="atlas-run"):
            return
        try:
            results = stitching.atlas_results(settings, encoding_bars(st.container()))
        except LatentCoreError as error:
            show_error(error)
            return
    summary = stitching.atlas_summary(results)
    st.dataframe(summary.style.format(precision=3), hide_index=True, width="stretch", key="atlas-table")
    verdict = stitching.atlas_verdict(summary)
    first = results.iloc[0]
    outcome = (f"it holds here: the atlas head is within {verdict.tolerance:.2f} of every space's own head "
               f"(largest shortfall {max(0.0, -verdict.worst_gap):.3f}, on {verdict.worst_space})" if verdict.holds
               else f"it does not hold here: on {verdict.worst_space} the atlas head is {-verdict.worst_gap:.3f} "
               f"below that space's own head (more than {verdict.tolerance:.2f})")
    st.markdown(f"Crisostomi et al. (2023) claim that one head trained on the atlas reads each space about as well "
                f"as a head trained on that space alone; {outcome}.")
    st.caption(f"Accuracy on the {int(first['n_test'])} test samples of each space's relative representation "
               f"({settings.projection}, {int(first['n_anchors'])} anchors, {int(first['n_train'])} training "
               "samples, one split: the scenario's seed). 'stitched from A': A's own head on the space's relative "
               f"vectors. Chance {first['chance']:.3f}.")
    csv_download(results, "⬇ Atlas comparison as CSV", "atlas-comparison.csv", key="atlas-csv")


def anchor_curves() -> None:
    st.subheader("How many anchors, and which?")
    sweep = stitching.cached_sweep(settings, len(data))
    if sweep is None:
        counts = stitching.sweep_counts(settings, len(data))
        runs = len(counts) * len(stitching.SWEEP_STRATEGIES) * len(stitching.SWEEP_METHODS)
        st.info(f"{runs} stitching runs ({len(counts)} anchor counts × {len(stitching.SWEEP_STRATEGIES)} strategies × "
                f"{len(stitching.SWEEP_METHODS)} methods); kept on disk once computed.")
        if not st.button("Compute the anchor curves", type="primary", key="sweep-run"):
            return
        with progress_bar(st.container(), "Sweeping…",
                          lambda done, total: f"Anchor sweep: {done} of {total} runs") as report:
            sweep = stitching.anchor_curves(settings, report)
    elif sweep.attrs.get("shipped"):
        st.caption("Precomputed for the default scenario and shipped with the app; any other setting computes on the "
                   "button.")
    left, right = st.columns(2)
    with left:
        figure = go.Figure()
        random = sweep[sweep["strategy"] == "random"]
        for colour, (method, part) in zip(PALETTE, random.groupby("method", sort=False)):
            figure.add_trace(go.Scatter(x=part["n_anchors"], y=part["accuracy"], mode="lines+markers", name=method,
                                        line={"color": colour}))
        figure.add_trace(go.Scatter(x=random["n_anchors"], y=random["a_accuracy"], mode="lines", name="no stitch",
                                    line={"dash": "dash", "color": "grey"}))
        figure.update_layout(title="Accuracy vs number of anchors (random anchors)", xaxis={"type": "log",
                             "title": "anchors"}, yaxis={"range": [0, 1.02], "title": "accuracy"}, height=420,
                             margin={"l": 10, "r": 10, "t": 50, "b": 10})
        show_panel(figure, "sweep-count", "accuracy-vs-anchors", select=False)
    with right:
        figure = go.Figure()
        relative = sweep[sweep["method"] == "relative:cosine"]
        for colour, (strategy, part) in zip(PALETTE, relative.groupby("strategy", sort=False)):
            figure.add_trace(go.Scatter(x=part["n_anchors"], y=part["accuracy"], mode="lines+markers", name=strategy,
                                        line={"color": colour}))
        figure.update_layout(title="relative:cosine, by anchor strategy", xaxis={"type": "log", "title": "anchors"},
                             yaxis={"range": [0, 1.02], "title": "accuracy"}, height=420,
                             margin={"l": 10, "r": 10, "t": 50, "b": 10})
        show_panel(figure, "sweep-strategy", "accuracy-vs-strategy", select=False)
    csv_download(sweep, "⬇ Sweep as CSV", "anchor-sweep.csv", key="sweep-csv")


if settings.aligned:
    alignment_panel()
    st.divider()
live_prediction()
st.divider()
if settings.aligned:
    st.caption("The table and curves below use true parallel anchors: the reference the alignment is measured "
               "against.")
stitching_table()
st.divider()
atlas_section()
st.divider()
anchor_curves()
