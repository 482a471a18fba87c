"""Learn: a guided lesson in eight steps, on the live data of the sidebar's scenario.

Each step: a short explanation, its formula, one control, a figure and a "what to notice" line (the text lives
in ``app/lesson.py``). The current step, each step's control value and presenter mode are kept in the page's own
session-state keys: Streamlit forgets a widget's value when the widget is not drawn in a run, and only one step
is drawn at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import lesson, state
from app.components import projection as proj
from app.components import sidebar
from app.components.feedback import show_error
from app.components.heatmaps import heatmap
from app.components.progress import encoding_bars, progress_bar
from app.safety import md
from app.services import crossmodal, learn, spaces
from app.uploads import plot_name
from latent_core.errors import LatentCoreError

STEP = "learn_step"  # 0-based index of the step shown
VALUE = "learn_value_{}".format  # a control's value, kept while its widget is not drawn
WIDGET = "learn-{}".format  # the widget's own key (forgotten by Streamlit when the step is not shown)
TRIES = "learn_anchor_tries"  # step 7: every (strategy, count) the learner tried, with its accuracy
PRESENTER = "presenter"
STEPS = lesson.STEPS
FEEDS = {"b": "B's vectors of the same samples", "rotated": "A's own vectors, rotated at random"}
DIRECTIONS = {"a_to_b": "train on A, test on B", "b_to_a": "train on B, test on A"}
SEED_COUNTS = (5, 20, 50)  # step 7: anchor counts every strategy is tried with first
GALLERY = 12  # step 8: test images shown with their predicted class
COLOURS = {"A": "#1b9e77", "B": "#d95f02", "chance": "#888888", "stitch": "#7570b3"}
KNOWN_NAMES = {0: "0 (unsupervised)"}  # step 6: the known-pair choices (the others read as their number)
METHOD_NAMES = {"auto": "auto (Gromov-Wasserstein)", "gw": "Gromov-Wasserstein",
                "centroids": "k-means centroids + assignment"}


# ---- state ---------------------------------------------------------------------------------------------------

def _start_step() -> int:
    """The step to open on: the session's, or the link's ``step`` (1-based) on the first visit."""
    if STEP not in st.session_state:
        try:
            st.session_state[STEP] = min(max(int(st.query_params.get("step", 1)) - 1, 0), len(STEPS) - 1)
        except ValueError:
            st.session_state[STEP] = 0
    return int(st.session_state[STEP])


def _go(step: int) -> None:
    st.session_state[STEP] = min(max(step, 0), len(STEPS) - 1)


def _jump() -> None:
    chosen = st.session_state.get(WIDGET("indicator"))
    if chosen is not None:
        _go(int(chosen))


def persisted(widget: Callable, label: str, name: str, default, *, valid: Callable = lambda value: True,
              **kwargs):
    """Draw ``widget`` with a value that survives the widget not being drawn (another step shown).

    The widget's latest value is copied into ``VALUE(name)``; when the widget comes back, it starts from there.
    ``valid(value)`` says whether a kept value still fits the widget (the scenario may have changed).
    """
    key, store = WIDGET(name), VALUE(name)
    if key in st.session_state and st.session_state[key] is not None:
        st.session_state[store] = st.session_state[key]  # drawn in the last run: the learner's latest choice
    value = st.session_state.get(store, default)
    if value is None or not valid(value):
        value = default
    st.session_state[store] = st.session_state[key] = value
    widget(label, key=key, **kwargs)
    return value


def _presenter() -> bool:
    return bool(st.session_state.get(VALUE(PRESENTER), False))


def styled(figure: go.Figure, height: int | None = None) -> go.Figure:
    """Larger fonts in presenter mode."""
    if height:
        figure.update_layout(height=height)
    if _presenter():  # axis fonts too: the app's chart theme sets them, and a theme's axis font beats layout.font
        figure.update_layout(font={"size": 18}, title_font={"size": 24}, legend_font={"size": 17})
        figure.update_xaxes(tickfont_size=16, title_font_size=18)
        figure.update_yaxes(tickfont_size=16, title_font_size=18)
        figure.update_annotations(font_size=18)
    return figure


def chart(figure: go.Figure, key: str) -> None:
    st.plotly_chart(styled(figure), key=key, config={"displaylogo": False})


def notice(step: lesson.Step) -> None:
    st.info(f"**What to notice:** {step.notice}", icon=":material/visibility:")


# ---- figures -------------------------------------------------------------------------------------------------

def legend_line(figure: go.Figure, y: float, name: str, colour: str) -> None:
    """A dotted horizontal reference line, named in the legend (annotations on the plot would overlap)."""
    figure.add_hline(y=y, line_dash="dot", line_color=colour)
    figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, line={"dash": "dot", "color": colour}))


def accuracy_bars(groups: list[str], series: dict[str, list[float]], chance: float, title: str,
                  colours: dict[str, str]) -> go.Figure:
    """Grouped bars of accuracies (each series one colour), with the chance level as a dotted line."""
    figure = go.Figure()
    for name, values in series.items():
        figure.add_trace(go.Bar(x=groups, y=values, name=name, marker_color=colours[name], text=[f"{v:.2f}" for v in
                                                                                                 values],
                                textposition="outside", hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>"))
    legend_line(figure, chance, f"chance ({chance:.2f})", COLOURS["chance"])
    figure.update_layout(barmode="group", title={"text": title, "font": {"size": 16}}, height=430,
                         yaxis={"range": [0, 1.12], "title": "accuracy"}, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.24, "yanchor": "top"}, plot_bgcolor="white")
    figure.update_yaxes(gridcolor="#e5e5e5")
    return figure


def class_blocks(figure: go.Figure, names: list[str], classes: list[str]) -> go.Figure:
    """Class names as tick labels (one per block of same-class anchors) and lines between the blocks."""
    starts = [i for i in range(len(classes)) if i == 0 or classes[i] != classes[i - 1]]
    ends = starts[1:] + [len(classes)]
    ticks = [names[(start + end - 1) // 2] for start, end in zip(starts, ends)]
    labels = [classes[start] for start in starts]
    figure.update_xaxes(tickvals=ticks, ticktext=labels, showticklabels=True, tickangle=0)
    figure.update_yaxes(tickvals=ticks, ticktext=labels, showticklabels=True)
    for start in starts[1:]:
        for axis in ("x", "y"):
            line = {"x0": start - 0.5, "x1": start - 0.5, "y0": -0.5, "y1": len(names) - 0.5} if axis == "x" else \
                {"y0": start - 0.5, "y1": start - 0.5, "x0": -0.5, "x1": len(names) - 0.5}
            figure.add_shape(type="line", line={"color": "white", "width": 2}, **line)
    return figure


def map_panel(coords: np.ndarray, ex: spaces.Explorer, title: str, *, overlay: np.ndarray | None = None,
              anchors: bool = True, height: int = 470) -> go.Figure:
    none = np.zeros(len(ex.data), dtype=bool)
    rows = proj.display_index(len(ex.data), seed=ex.settings.seed)
    return proj.scatter_panel(coords, ex.data, title, anchors=ex.anchor_idx if anchors else np.array([], dtype=int),
                              selected=none, rows=rows, overlay=overlay, height=height)



def anchor_note(settings) -> None:
    """Why the accuracies use other anchors than the sidebar's setting, when they do."""
    note = learn.plan(settings).note
    if note:
        st.caption(f"ℹ️ {note}")


# ---- the steps -----------------------------------------------------------------------------------------------

def step_incompatible(step: lesson.Step, ex: spaces.Explorer) -> None:
    settings = ex.settings
    feed = persisted(st.radio, step.control, "feed", "b", valid=lambda v: v in FEEDS, options=list(FEEDS),
                     format_func=FEEDS.get, horizontal=True, help=step.control_help)
    split = learn.lesson_split(settings)
    with st.spinner("Training A's classifier…"):
        result = learn.evaluate(settings, "absolute", rotated=feed == "rotated")
    other = "B's raw vectors" if feed == "b" else "A's vectors rotated"
    st.markdown(f"**Accuracy on {result.n_test} test samples** (logistic regression trained on {result.n_train} "
                f"samples of A): on A **{result.a_accuracy:.3f}** · on {other} **{result.accuracy:.3f}** · "
                f"chance {result.chance:.3f}")
    maps = spaces.panel_maps(ex, "pca")
    left, middle, right = st.columns([5, 5, 3])
    with left:
        chart(map_panel(maps["abs_a"], ex, f"A: {plot_name(settings.encoder_a)} ({ex.a.shape[1]}-d), PCA",
                        anchors=False), "learn-1-map-a")
    with middle:
        chart(map_panel(maps["abs_b"], ex, f"B: {plot_name(settings.encoder_b)} ({ex.b.shape[1]}-d), PCA",
                        anchors=False), "learn-1-map-b")
    with right:
        label = "on B (raw)" if feed == "b" else "on A rotated"
        chart(accuracy_bars(["A's classifier"], {"on A": [result.a_accuracy], label: [result.accuracy]},
                            result.chance, "A's classifier, tested on…",
                            {"on A": COLOURS["A"], label: COLOURS["B"]}), "learn-1-accuracy")
    if feed == "rotated":
        st.caption("The B panel still shows B; the classifier was fed A's own vectors times a random rotation "
                   f"(seed {settings.seed}): every angle between samples is unchanged, every coordinate is new.")
    elif ex.a.shape[1] != ex.b.shape[1]:
        st.caption(f"B has {ex.b.shape[1]} dimensions and A {ex.a.shape[1]}: B's vectors are cut or zero-padded to "
                   f"A's size before A's classifier reads them. {len(split.test)} test samples, stratified.")


def step_angles(step: lesson.Step, ex: spaces.Explorer) -> None:
    top = min(len(ex.anchor_idx), learn.HEATMAP_MAX)
    count = persisted(st.slider, step.control, "heatmap_count", min(top, 60), valid=lambda v: 2 <= v <= top,
                      min_value=2, max_value=max(top, 3), help=step.control_help)
    maps = learn.anchor_heatmaps(ex, count)
    st.markdown(f"**{len(maps.names)} of the {len(ex.anchor_idx)} anchors** ({ex.settings.strategy}), sorted by "
                f"class · correlation of the two matrices (off-diagonal): **{maps.correlation:.3f}**")
    left, right = st.columns(2)
    panels = ((left, maps.sim_a, "A", ex.settings.encoder_a), (right, maps.sim_b, "B", ex.settings.encoder_b))
    for column, matrix, role, spec in panels:
        title, key = f"cosine between anchors in {role} ({plot_name(spec)})", f"learn-2-heat-{role.lower()}"
        with column:
            chart(class_blocks(heatmap(matrix, title, x=maps.names, y=maps.names, zrange=maps.zrange, height=560),
                               maps.names, maps.classes), key)
    st.caption(f"Colours span the off-diagonal cosines ({maps.zrange[0]:.2f} to {maps.zrange[1]:.2f}); the diagonal "
               "(each anchor with itself, 1) is off the scale. Lines separate the classes.")


def step_relative(step: lesson.Step, ex: spaces.Explorer) -> None:
    projection = persisted(st.selectbox, step.control, "projection", ex.settings.projection,
                           valid=lambda v: v in state.relative_projections(),
                           options=list(state.relative_projections()),
                           help=step.control_help)
    view = learn.with_views(ex.settings, projection=projection)
    maps = spaces.panel_maps(view, "pca")
    agreement = learn.relative_agreement(view)
    st.markdown(f"**{len(view.anchor_idx)} anchors**, similarity **{projection}** · mean cosine between a sample's "
                f"relative A and relative B vectors: **{agreement:.3f}** (1 = identical)")
    left, right = st.columns(2)
    with left:
        chart(map_panel(maps["rel_a"], view, f"relative A ({len(view.anchor_idx)}-d), PCA fitted here"),
              "learn-3-rel-a")
    with right:
        chart(map_panel(maps["rel_b"], view, "relative B, placed by relative A's PCA"), "learn-3-rel-b")


def step_stitching(step: lesson.Step, ex: spaces.Explorer) -> None:
    direction = persisted(st.radio, step.control, "direction", "a_to_b", valid=lambda v: v in DIRECTIONS,
                          options=list(DIRECTIONS), format_func=DIRECTIONS.get, horizontal=True,
                          help=step.control_help)
    reverse = direction == "b_to_a"
    method = learn.relative_method(ex.settings)
    with st.spinner("Training the two classifiers…"):
        absolute = learn.evaluate(ex.settings, "absolute", reverse=reverse)
        relative = learn.evaluate(ex.settings, method, reverse=reverse)
    source, target = ("B", "A") if reverse else ("A", "B")
    st.markdown(f"**{relative.n_anchors} anchors · {relative.n_train} training and {relative.n_test} test samples** "
                f"· stitched ({method}): **{relative.accuracy:.3f}** · absolute on {target}: "
                f"**{absolute.accuracy:.3f}** · no stitch ({source} on {source}): **{relative.a_accuracy:.3f}**")
    anchor_note(ex.settings)
    own, other = f"on {source} (no stitch)", f"on {target} (stitched)"
    bars = {own: [absolute.a_accuracy, relative.a_accuracy], other: [absolute.accuracy, relative.accuracy]}
    groups = [f"absolute classifier<br>(raw vectors of {source})", f"relative classifier<br>({method})"]
    chart(accuracy_bars(groups, bars, relative.chance, f"A classifier trained on {source}, tested on…",
                        {own: COLOURS[source], other: COLOURS[target]}), "learn-4-accuracy")


def step_translation(step: lesson.Step, ex: spaces.Explorer) -> None:
    translator = persisted(st.selectbox, step.control, "translator", ex.settings.translator,
                           valid=lambda v: v in state.choices("translator"),
                           options=list(state.choices("translator")), help=step.control_help)
    view = learn.with_views(ex.settings, translator=translator)
    maps = spaces.panel_maps(view, "pca")
    quality = learn.translation_quality(view)
    st.markdown(f"**{translator}** fitted on {len(view.anchor_idx)} anchors · on the other samples: mean cosine "
                f"between A and translated B **{quality.mean_cosine:.3f}** · translated B's nearest A vector is its "
                f"own sample for **{quality.top1:.1%}**")
    for note in view.notes:
        st.caption(f"ℹ️ {md(note)}")
    chart(map_panel(maps["abs_a"], view, f"A (●) and B translated into A (✕) by {translator}, A's PCA",
                    overlay=maps["translated"], anchors=False, height=620), "learn-5-translated")


def _given(known: int) -> str:
    return f"{known} known pairs + bootstrap" if known else "no pairs at all"


def step_unpaired(step: lesson.Step, ex: spaces.Explorer) -> None:
    settings = ex.settings
    left, right = st.columns([3, 2])
    with left:
        known = persisted(st.radio, step.control, "known_pairs", 0, valid=lambda v: v in learn.KNOWN_PAIRS,
                          options=list(learn.KNOWN_PAIRS), format_func=lambda v: KNOWN_NAMES.get(v, str(v)),
                          horizontal=True, help=step.control_help)
    with right:
        method = persisted(st.selectbox, "Unsupervised alignment (no pairs)", "unpaired_method", "auto",
                           valid=lambda v: v in learn.METHODS, options=list(learn.METHODS),
                           format_func=lambda v: METHOD_NAMES.get(v, v),
                           help="Gromov-Wasserstein: optimal transport between the two distance matrices (POT); "
                                "k-means centroids + assignment: each space's cluster centres matched by quadratic "
                                "assignment (mini-vec2vec), then the same refinement.")
    results = []
    for count in dict.fromkeys((0, known)):  # no pairs first (the step's point), then the chosen known pairs
        doing = "Matching B's shuffled samples to A's" + (f" from {count} known pairs" if count else ", no pairs")
        steps = lambda done, total, doing=doing: f"{doing}: step {done} of {total}"  # noqa: E731
        with st.spinner(f"{doing}…"), progress_bar(st.container(), f"{doing}…", steps) as report:
            results.append(learn.unpaired(settings, count, method, report))
    with st.spinner("Fitting the same rotation on true anchors…"):
        true = learn.true_anchors(settings)
    chosen = results[-1]
    st.markdown(f"**{chosen.n_matched} samples** of B in a hidden order, matched to A's with "
                f"{_given(known)} ({chosen.method}, {chosen.seconds:.1f} s) · {chosen.n_pairs} pairs found, "
                f"exactly right **{chosen.exact:.3f}**, same class **{chosen.purity:.3f}** · stitched (B "
                f"translated into A): **{chosen.accuracy:.3f}** · with {true.n_anchors} true anchors "
                f"**{true.accuracy:.3f}** · no stitch (A on A) **{true.a_accuracy:.3f}**")
    anchor_note(settings)
    if chosen.matching != "exact":
        st.caption("⚠️ Few samples paired up one to one: the alignment did not find the two sides to hold the same "
                   "samples, so the map found is only approximate.")
    groups = ["no pairs<br>(unsupervised)"] + ([f"{known} known pairs<br>+ bootstrap"] if known else []) + \
        [f"{true.n_anchors} true anchors"]
    bars = {"stitched accuracy": [r.accuracy for r in results] + [true.accuracy],
            "pairs exactly right": [r.exact for r in results] + [1.0]}
    figure = accuracy_bars(groups, bars, true.chance, f"A's classifier on {true.n_test} of B's test samples, "
                           "translated into A", {"stitched accuracy": COLOURS["stitch"],
                                                 "pairs exactly right": COLOURS["B"]})
    legend_line(figure, true.a_accuracy, f"no stitch, A on A ({true.a_accuracy:.2f})", COLOURS["A"])
    figure.update_yaxes(title="accuracy · share of pairs")
    map_column, bar_column = st.columns([3, 2])
    with map_column:
        chart(map_panel(chosen.map_a, ex, f"A (●) and B translated into A (✕), {_given(known)}, A's PCA",
                        overlay=chosen.map_translated, anchors=False, height=560), "learn-6-unpaired-map")
    with bar_column:
        chart(figure, "learn-6-unpaired-accuracy")
    matched = (f"{chosen.n_matched} of the split's {chosen.n_candidates}" if chosen.n_matched < chosen.n_candidates
               else f"the split's {chosen.n_candidates}")
    st.caption(f"On the {true.n_test} test samples, translated B's nearest A vector is its own sample for "
               f"{chosen.top1:.1%} (mean cosine {chosen.mean_cosine:.3f}). The hidden order is a shuffle seeded by "
               f"the sidebar's seed ({settings.seed}); the matched samples are {matched} anchor-pool and training "
               "samples, never a test sample. The true anchors are step 4's.")


def step_anchors(step: lesson.Step, ex: spaces.Explorer) -> None:
    settings = ex.settings
    split = learn.lesson_split(settings)
    top = split.max_anchors
    strategies = state.drawn_strategies()
    left, right = st.columns([3, 2])
    with left:
        count = persisted(st.slider, f"{step.control}: how many", "anchor_count", split.n_anchors,
                          valid=lambda v: 2 <= v <= top, min_value=2, max_value=top, help=step.control_help)
    with right:
        strategy = persisted(st.selectbox, f"{step.control}: which", "anchor_strategy",
                             learn.plan(settings).strategy, valid=lambda v: v in strategies,
                             options=list(strategies),
                             help="random; stratified: the same number per class; kmeans: the sample nearest each "
                                  "centroid; fps: farthest point sampling")
    method = learn.relative_method(settings)
    with st.spinner(f"Stitching with {count} {strategy} anchors…"):
        result = learn.evaluate(settings, method, strategy=strategy, count=count)
        baseline = learn.evaluate(settings, "absolute")
    st.markdown(f"**{count} {strategy} anchors** (from a pool of {top}) · stitched ({method}): "
                f"**{result.accuracy:.3f}** · no stitch (A on A): {result.a_accuracy:.3f} · absolute: "
                f"{baseline.accuracy:.3f} · chance {result.chance:.3f}")
    scenario = (settings.scenario, method)
    tried = st.session_state.setdefault(TRIES, [])
    known = {(t["strategy"], t["count"]) for t in tried if t["scenario"] == scenario}
    for extra in dict.fromkeys(c for c in (*SEED_COUNTS, count) if c <= top and (strategy, c) not in known):
        with st.spinner(f"Stitching with {extra} {strategy} anchors…"):  # small counts first: a curve at once
            accuracy = learn.evaluate(settings, method, strategy=strategy, count=extra).accuracy
        tried.append({"scenario": scenario, "strategy": strategy, "count": extra, "accuracy": accuracy})
    tries = [t for t in tried if t["scenario"] == scenario]
    figure = go.Figure()
    for colour, name in zip(proj.PALETTE, strategies):
        mine = sorted((t for t in tries if t["strategy"] == name), key=lambda t: t["count"])
        if mine:
            figure.add_trace(go.Scatter(x=[t["count"] for t in mine], y=[t["accuracy"] for t in mine],
                                        mode="lines+markers", name=name, marker={"size": 10, "color": colour},
                                        line={"color": colour, "width": 1.5},
                                        hovertemplate="%{x} anchors: %{y:.3f}<extra>" + name + "</extra>"))
    figure.add_trace(go.Scatter(x=[count], y=[result.accuracy], mode="markers", name="your choice",
                                marker={"size": 20, "symbol": "star", "color": "#ffd400",
                                        "line": {"color": "black", "width": 1}},
                                hovertemplate="%{x} anchors: %{y:.3f}<extra>your choice</extra>"))
    for value, name, colour in ((result.a_accuracy, "no stitch (A on A)", COLOURS["A"]),
                                (baseline.accuracy, "absolute (raw B)", COLOURS["B"]),
                                (result.chance, "chance", COLOURS["chance"])):
        legend_line(figure, value, f"{name} {value:.2f}", colour)
    figure.update_layout(title={"text": f"Stitched accuracy on the same test samples: every choice you tried "
                                        f"({len(tries)})", "font": {"size": 16}},
                         xaxis={"type": "log", "title": "number of anchors", "range": [math.log10(1.6),
                                                                                      math.log10(top * 1.25)]},
                         yaxis={"range": [0, 1.05], "title": "accuracy"}, height=470, plot_bgcolor="white",
                         margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.2, "yanchor": "top"})
    figure.update_xaxes(gridcolor="#e5e5e5", tickvals=[t for t in (2, 5, 10, 20, 50, 100, 200, 500, 1000)
                                                       if t <= top * 1.25])
    figure.update_yaxes(gridcolor="#e5e5e5")
    chart(figure, "learn-7-anchors")
    st.caption(f"Each strategy starts with {', '.join(map(str, SEED_COUNTS))} anchors; move the slider or change "
               "the strategy and every choice becomes a point of its curve.")


def step_crossmodal(step: lesson.Step) -> None:
    setup = crossmodal.current_setup()  # the Cross-modal page's fixed models and data (tests override them there)
    seed = sidebar.current().seed
    pairs = crossmodal.load_pairs(setup, encoding_bars(st.container(), crossmodal.ROLE_NOUNS.get))
    data = pairs.data
    limit = crossmodal.max_pairs(len(data))
    n_pairs = persisted(st.slider, step.control, "pairs", min(setup.n_pairs, limit), valid=lambda v: 2 <= v <= limit,
                        min_value=2, max_value=limit, help=step.control_help)
    prompts = tuple(crossmodal.class_prompts(data.label_names, setup.template))
    with st.spinner("ASIF on the test images…"):
        result = crossmodal.asif_result(setup, seed, n_pairs, prompts)
    st.markdown(f"**{n_pairs} image/caption pairs** · image encoder `{setup.image_encoder}`, text encoder "
                f"`{setup.text_encoder}` · {data.name}: ASIF accuracy **{result.accuracy:.3f}** on "
                f"{len(result.test)} test images · anchor-label k-NN {result.knn_accuracy:.3f} · "
                f"chance {result.chance:.3f}")
    left, right = st.columns([2, 3])
    with left:
        chart(accuracy_bars(["zero-shot accuracy"], {"ASIF (reads captions)": [result.accuracy],
                                                     "k-NN (reads anchor labels)": [result.knn_accuracy]},
                            result.chance, f"{len(result.test)} test images, {n_pairs} pairs",
                            {"ASIF (reads captions)": COLOURS["A"], "k-NN (reads anchor labels)": COLOURS["stitch"]}),
              "learn-8-asif")
    with right:
        st.markdown(f"**Test images and ASIF's guess** (class prompts such as *{md(prompts[0], 80)}*)")
        truth = data.labels[result.test]
        shown = range(min(GALLERY, len(result.test)))
        names = data.label_names
        st.image([crossmodal.thumbnail(data.items[result.test[j]], 96) for j in shown], width=96,
                 caption=[f"✓ {names[truth[j]]}" if result.predicted[j] == truth[j]
                          else f"✗ {names[result.predicted[j]]} (is {names[truth[j]]})" for j in shown])
    st.caption("The models are the Cross-modal page's (fixed there; the sidebar's encoders do not apply), the "
               "sidebar's seed draws the pairs. That page lets you edit the prompts and try your own image.")
    st.subheader("CLIP")
    st.markdown(lesson.CLIP_TEXT)
    st.latex(lesson.CLIP_FORMULA)


BODIES = {"incompatible": step_incompatible, "angles": step_angles, "relative": step_relative,
          "stitching": step_stitching, "translation": step_translation, "unpaired": step_unpaired,
          "anchors": step_anchors}


# ---- the page ------------------------------------------------------------------------------------------------

def navigation(index: int, where: str) -> None:
    left, _, right = st.columns([1, 4, 1])
    left.button("← Previous", key=f"learn-previous-{where}", on_click=_go, args=(index - 1,), disabled=index == 0,
                width="stretch")
    right.button("Next →", key=f"learn-next-{where}", on_click=_go, args=(index + 1,), type="primary",
                 disabled=index == len(STEPS) - 1, width="stretch")


index = _start_step()
step = STEPS[index]
st.query_params["step"] = str(index + 1)  # after the sidebar wrote its settings: a link opens this step

title, switch = st.columns([4, 1], vertical_alignment="center")
title.title("Learn: latent space communication")
with switch:
    persisted(st.toggle, "Presenter mode", PRESENTER, False, help="Larger fonts for a projector.")
if _presenter():
    st.markdown(lesson.PRESENTER_CSS, unsafe_allow_html=True)
if index == 0:
    st.caption(lesson.INTRO.format(minutes=lesson.total_minutes()))

st.session_state[WIDGET("indicator")] = index
st.segmented_control("Step", list(range(len(STEPS))), key=WIDGET("indicator"), format_func=lambda i: STEPS[i].short,
                     on_change=_jump, label_visibility="collapsed", width="stretch")
st.progress((index + 1) / len(STEPS), text=f"Step {index + 1} of {len(STEPS)} · about {step.minutes} minutes")
navigation(index, "top")

st.header(f"{index + 1}. {step.title}")
st.markdown(step.explanation)
st.latex(step.formula)
try:
    if step.key == "crossmodal":
        step_crossmodal(step)
    else:
        explorer = spaces.explorer(sidebar.current(), encoding_bars(st.container()))
        for note in explorer.notes:
            st.caption(f"ℹ️ {md(note)}")
        BODIES[step.key](step, explorer)
except LatentCoreError as error:
    show_error(error)
notice(step)
st.divider()
navigation(index, "bottom")
