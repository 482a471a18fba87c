"""Cross-modal: zero-shot image classification by editable class prompts (ASIF offline, CLIP when its weights load).

The models are fixed on this page (an image encoder and a text encoder that never met, joined by image/caption
anchor pairs); the sidebar's encoders do not apply, its seed draws the anchor pairs.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.components import sidebar
from app.components.export import figure_downloads
from app.components.feedback import show_error
from app.components.heatmaps import heatmap
from app.components.progress import encoding_bars
from app.safety import html, md
from app.services import crossmodal, spaces
from app.services.crossmodal import class_prompts
from latent_core.errors import InvalidImageError, InvalidParameterError, LatentCoreError

GALLERY_SIZE = 16
SAMPLE_CHOICES = 300  # test images offered in the picker
KEPT = "_xm_kept"  # widget values kept across visits to other pages (Streamlit drops undrawn widgets' state)
ASIF_COLOUR, KNN_COLOUR, CLIP_COLOUR = "#1b9e77", "#7570b3", "#d95f02"


def _keep(key: str, default) -> None:
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(KEPT, {}).get(key, default)


def _remember(*keys: str) -> None:
    kept = st.session_state.setdefault(KEPT, {})
    for key in keys:
        kept[key] = st.session_state.get(key)


def _prompt_key(i: int) -> str:
    return f"xm-prompt-{i}"


def _refill_prompts(label_names: list[str]) -> None:
    """Template changed: every prompt is rewritten from it (a template without '{}' leaves them as they are)."""
    try:
        prompts = class_prompts(label_names, st.session_state["xm-template"])
    except InvalidParameterError:
        return  # the page says why
    for i, prompt in enumerate(prompts):
        st.session_state[_prompt_key(i)] = prompt


def _reset_prompts(label_names: list[str], template: str) -> None:
    st.session_state["xm-template"] = template
    _refill_prompts(label_names)


PROMPT_CHARS = 300  # a class prompt (the text encoders read about 256 tokens anyway)

# ---- figures -----------------------------------------------------------------------------------------------

def confusion_figure(confusion: np.ndarray, label_names: list[str]) -> go.Figure:
    figure = heatmap(confusion, "Confusion on the test images (ASIF)", x=label_names, y=label_names,
                     zrange=(0, max(1, int(confusion.max()))), height=460,
                     hover="true %{y} · predicted %{x}<br>%{z} images<extra></extra>")
    figure.update_xaxes(title="predicted class", tickangle=-40)
    figure.update_yaxes(title="true class")
    return figure


def curve_figure(curve, n_pairs: int) -> go.Figure:
    figure = go.Figure()
    names = {"asif": ("ASIF (reads captions)", ASIF_COLOUR), "anchor-knn": ("anchor-label k-NN (reads labels)",
                                                                              KNN_COLOUR)}
    for method, (name, colour) in names.items():
        part = curve[curve.method == method]
        figure.add_trace(go.Scatter(x=part.n_anchors.tolist(), y=part.accuracy.tolist(), mode="lines+markers",
                                    name=name, line={"color": colour},
                                    hovertemplate="%{x} pairs: %{y:.1%}<extra>" + name + "</extra>"))
    chance = curve[curve.method == "asif"]
    figure.add_trace(go.Scatter(x=chance.n_anchors.tolist(), y=chance.chance.tolist(), mode="lines", name="chance",
                                line={"color": "#999999", "dash": "dot"}))
    figure.add_trace(go.Scatter(x=[n_pairs, n_pairs], y=[0, 1], mode="lines", name=f"slider ({n_pairs} pairs)",
                                line={"color": "#555555", "dash": "dash", "width": 1}, hoverinfo="skip"))
    n_test = int(curve.n_test.iloc[0]) if len(curve) else 0
    figure.update_layout(title={"text": f"Accuracy against anchor pairs ({n_test} fixed test images)",
                                "font": {"size": 16}},
                         xaxis={"title": "image/caption anchor pairs", "type": "log",
                                "tickvals": curve.n_anchors.unique().tolist()},
                         yaxis={"title": "accuracy", "tickformat": ".0%", "rangemode": "tozero"},
                         height=400, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.25}, plot_bgcolor="white")
    return figure


def scores_figure(values: np.ndarray, label_names: list[str], prompts: tuple[str, ...], title: str,
                  axis: str) -> go.Figure:
    best = int(np.argmax(values))
    colours = [ASIF_COLOUR if i == best else "#b8d8cf" for i in range(len(values))]
    figure = go.Figure(go.Bar(x=values.tolist(), y=[html(n, 40) for n in label_names], orientation="h",
                              marker={"color": colours}, customdata=[html(p, 200) for p in prompts],
                              hovertemplate="%{y}: %{x:.3f}<br>prompt: %{customdata}<extra></extra>"))
    figure.update_layout(title={"text": title, "font": {"size": 15}}, height=60 + 28 * len(values),
                         margin={"l": 10, "r": 10, "t": 45, "b": 10}, xaxis={"title": axis},
                         yaxis={"autorange": "reversed"}, plot_bgcolor="white")
    return figure


# ---- page --------------------------------------------------------------------------------------------------

st.title("Cross-modal: classify images with words")
setup = crossmodal.current_setup()
seed = sidebar.current().seed
st.caption(
    f"**ASIF** (Norelli et al., 2022): the image encoder `{setup.image_encoder}` and the text encoder "
    f"`{setup.text_encoder}` were trained apart. Image/caption pairs connect them: an image is described by its "
    "similarity to the anchor images, a prompt by its similarity to the anchor captions, and the two descriptions "
    "are compared. No training. These models are fixed on this page (the sidebar's encoders do not apply); the "
    f"sidebar seed ({seed}) draws the anchor pairs. Their number is set by this page's slider: image/caption "
    "pairs are not the sidebar's anchors, which the other pages share."
)
progress_area = st.container()
try:
    pairs = crossmodal.load_pairs(setup, encoding_bars(progress_area, crossmodal.ROLE_NOUNS.get))
except LatentCoreError as error:
    show_error(error)
    st.stop()
data = pairs.data
label_names = list(data.label_names)
st.caption(f"Dataset **{md(data.name, 60)}**: {len(data)} images with captions ({len(label_names)} classes, "
           "sample seed "
           f"{setup.sample_seed}) · image space {pairs.images.shape[1]}-d · text space {pairs.captions.shape[1]}-d · "
           f"ASIF top-{setup.topk}, power {setup.power:g}")
if setup.dataset == "captions" and not crossmodal.fashion_mnist_available():
    st.info("Fashion-MNIST is not installed here, so this page uses the scikit-learn digits. For clothing images: "
            "`sudo apt-get install dataset-fashion-mnist`, then restart the app.", icon="ℹ️")

# ---- controls: anchor pairs and prompts
limit = crossmodal.max_pairs(len(data))
_keep("xm-pairs", min(setup.n_pairs, limit))
st.session_state["xm-pairs"] = min(max(st.session_state["xm-pairs"], 2), limit)
_keep("xm-template", setup.template)
if st.session_state.get("_xm_prompt_labels") != label_names:  # first visit, or another dataset: fresh prompts
    st.session_state.get(KEPT, {}).clear()
    st.session_state["_xm_prompt_labels"] = label_names
    st.session_state["xm-template"] = setup.template
    for i, prompt in enumerate(class_prompts(label_names, setup.template)):
        st.session_state[_prompt_key(i)] = prompt
defaults = class_prompts(label_names, setup.template)
for i in range(len(label_names)):
    _keep(_prompt_key(i), defaults[i])

st.slider("Image/caption anchor pairs", min_value=2, max_value=limit, key="xm-pairs",
          help="The first K samples of a seeded shuffle are the anchor pairs (their images and captions); every "
               "other sample is a test image. ASIF never reads the anchors' labels.")
st.subheader("Class prompts")
left, right = st.columns([4, 1], vertical_alignment="bottom")
left.text_input("Template ({} = the class)", key="xm-template", max_chars=PROMPT_CHARS, on_change=_refill_prompts,
                args=(label_names,),
                help="Changing it rewrites every prompt below; edit single prompts afterwards.")
right.button("Reset prompts", key="xm-reset", on_click=_reset_prompts, args=(label_names, setup.template),
             width="stretch")
columns = st.columns(min(5, len(label_names)))
for i, name in enumerate(label_names):
    columns[i % len(columns)].text_input(name, key=_prompt_key(i), max_chars=PROMPT_CHARS)
_remember("xm-pairs", "xm-template", *(_prompt_key(i) for i in range(len(label_names))))

try:
    class_prompts(label_names, st.session_state["xm-template"])
except InvalidParameterError as error:
    st.error(f"{md(error, 300)}\n\n**What to do:** write the template with `{{}}` where the class name goes, e.g. "
             "`a photo of {}.`, or press Reset prompts. The prompts below are still used as they are.", icon="⚠️")
prompts = tuple(str(st.session_state[_prompt_key(i)]).strip()[:PROMPT_CHARS] for i in range(len(label_names)))
empty = [name for name, prompt in zip(label_names, prompts) if not prompt]
if empty:
    st.error(f"The prompt for {', '.join(f'**{md(name, 40)}**' for name in empty)} is empty, so that class cannot be "
             "recognised.\n\n**What to do:** type a short description of the class (e.g. "
             f"{md(defaults[label_names.index(empty[0])], 80)}), or press Reset prompts.", icon="⚠️")
    st.stop()

n_pairs = int(st.session_state["xm-pairs"])
try:
    with st.spinner("Embedding the prompts…"):
        result = crossmodal.asif_result(setup, seed, n_pairs, prompts)
except LatentCoreError as error:
    show_error(error)
    st.stop()

# ---- accuracy, confusion, gallery
st.subheader(f"Zero-shot accuracy on {len(result.test)} test images")
first, second, third = st.columns(3)
first.metric("ASIF accuracy (captions only)", f"{result.accuracy:.1%}",
             help="Each test image gets the class whose prompt's ASIF vector is closest (cosine).")
second.metric("Anchor-label k-NN baseline", f"{result.knn_accuracy:.1%}",
              help=f"Reads the labels of the anchor images: a similarity-weighted vote of the "
                   f"{min(setup.knn_k, n_pairs)} most similar. ASIF gets close to it from captions alone.")
third.metric("Chance (majority class)", f"{result.chance:.1%}")
left, right = st.columns([3, 2])
with left:
    figure = confusion_figure(result.confusion, label_names)
    st.plotly_chart(figure, key="xm-confusion")
    figure_downloads(figure, "crossmodal-confusion", key="dl-xm-confusion")
with right:
    st.markdown("**Test images: predicted vs true**")
    show = st.segmented_control("Show", ["all", "mistakes", "correct"], default="all", key="xm-gallery-filter",
                                label_visibility="collapsed") or "all"
    truth = data.labels[result.test]
    mask = {"all": np.ones(len(truth), bool), "mistakes": result.predicted != truth,
            "correct": result.predicted == truth}[show]
    picked = np.flatnonzero(mask)[:GALLERY_SIZE]
    if not len(picked):
        st.caption(f"No {show} images.")
    else:
        st.image([crossmodal.thumbnail(data.items[result.test[j]]) for j in picked], width=84,
                 caption=[f"✓ {label_names[truth[j]]}" if result.predicted[j] == truth[j]
                          else f"✗ {label_names[result.predicted[j]]} (true: {label_names[truth[j]]})"
                          for j in picked])

curve = crossmodal.accuracy_curve(setup, seed, prompts)
if len(curve):
    figure = curve_figure(curve, n_pairs)
    st.plotly_chart(figure, key="xm-curve")
    figure_downloads(figure, "crossmodal-anchor-pairs", key="dl-xm-curve")
    st.caption("The curve adds pairs in the slider's order (nested sets) and tests on the images that are never "
               "anchors at any point of it, so its point at the slider's value can differ slightly from the "
               "accuracy above, which tests on every non-anchor image.")

# ---- one image
st.subheader("Try one image")
left, right = st.columns([1, 2])
with left:
    upload = st.file_uploader("Upload an image (PNG or JPEG)", key="xm-upload")
    sample = st.selectbox("…or pick a test image", [int(r) for r in result.test[:SAMPLE_CHOICES]], key="xm-sample",
                          format_func=lambda r: f"{data.ids[r]} · {label_names[data.labels[r]]}",
                          disabled=upload is not None)
vector = image = content = None
true_name = ""
if upload is not None:
    content = upload.getvalue()
    try:
        image = spaces.read_image(content, upload.name)
        with st.spinner(f"Embedding {upload.name} with {setup.image_encoder}…"):
            vector = crossmodal.image_embedding(setup.image_encoder, content, upload.name)
    except InvalidImageError as error:
        image = None
        st.error(f"{md(error, 600)}\n\n**What to do:** upload a PNG or JPEG picture (one object, any size), or "
                 "remove the "
                 "file (✕) and pick a test image instead.", icon="⚠️")
    except LatentCoreError as error:
        image = None
        show_error(error)
elif sample is not None:
    image, vector, true_name = data.items[sample], pairs.images[sample], label_names[data.labels[sample]]
if vector is not None:
    one = crossmodal.image_result(setup, seed, n_pairs, prompts, vector)
    guess = label_names[int(np.argmax(one.scores))]
    with left:
        st.image(crossmodal.thumbnail(image, 168), caption=f"predicted: {guess}" + (f" · true: {true_name}" if true_name
                                                                              else ""))
    with right:
        st.plotly_chart(scores_figure(one.scores, label_names, prompts, "ASIF score per class prompt",
                                      "cosine in the anchor-pair space"), key="xm-image-scores")
    st.markdown("**The anchor images it is most similar to** (their captions are what ASIF reads)")
    st.image([crossmodal.thumbnail(data.items[r]) for r in one.neighbours], width=84,
             caption=[f"{data.captions[r]} ({s:.2f})" for r, s in zip(one.neighbours, one.similarity)])

# ---- CLIP
st.subheader("CLIP zero-shot")
problem = crossmodal.clip_problem(setup)
if problem is not None:
    st.info("CLIP compares images and prompts directly (no anchor pairs), but it needs its pretrained "
            f"`{setup.clip_model}` weights from the Hugging Face hub once. Run the app once with internet access "
            "(without `LATENT_OFFLINE=1`, or with `HF_HUB_OFFLINE=0`): the weights are then cached and CLIP works "
            "offline too. ASIF above needs no download.", icon="ℹ️")
    with st.expander("Details"):
        st.caption(md(problem, 600))
elif st.toggle(f"Run CLIP `{setup.clip_model}` on the same test images and prompts", key="xm-clip-run",
               help="Encodes the page's images with CLIP's image tower once (cached on disk afterwards)."):
    clip_progress = st.container()
    try:
        crossmodal.load_clip_images(setup, encoding_bars(clip_progress, crossmodal.ROLE_NOUNS.get))
        clip = crossmodal.clip_result(setup, seed, n_pairs, prompts)
    except LatentCoreError as error:
        show_error(error)
        st.stop()
    first, second = st.columns(2)
    first.metric("CLIP accuracy", f"{clip.accuracy:.1%}", help="Same test images and prompts as ASIF above.")
    second.metric("ASIF accuracy", f"{result.accuracy:.1%}")
    if vector is not None:
        clip_vector = (crossmodal.image_embedding(setup.clip_image, content, upload.name) if content is not None
                       else crossmodal.load_clip_images(setup)[sample])
        probabilities = crossmodal.clip_probabilities(setup, prompts, clip_vector)
        st.plotly_chart(scores_figure(probabilities, label_names, prompts, "CLIP probability per class prompt",
                                      "softmax of 100 × cosine"), key="xm-clip-scores")
