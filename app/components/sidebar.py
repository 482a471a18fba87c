"""The scenario sidebar: presets, the expensive settings in one form (applied with one button), and the cheap
live controls (anchors, projection, translator, map, colour)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from app import safety, state, uploads
from app.components.projection import hover_text
from app.safety import md
from app.state import PRESETS, Settings
from latent_core.data import Dataset, list_datasets
from latent_core.encoders import list_encoders
from latent_core.modality import encoder_modality

KEY = "w_{}".format
URL_PROBLEMS = "_url_problems"
HF_DATASETS = ("hf:ag_news", "hf:trec", "hf:dbpedia_14", "hf:cifar10", "hf:cifar100")
MANUAL_LIST_LIMIT = 5000  # the searchable anchor list offers at most this many samples


def init_from_url() -> None:
    """Once per session: the widgets start from the link's settings (defaults where it says nothing)."""
    if "_initialised" in st.session_state:
        return
    settings, problems = state.from_query(st.query_params.to_dict(), uploads.owned())
    _write_widgets(settings)
    st.session_state[URL_PROBLEMS] = problems
    st.session_state["_initialised"] = True


def _write_widgets(settings: Settings, fields=None) -> None:
    for field in fields or [f.name for f in dataclasses.fields(Settings)]:
        value = getattr(settings, field)
        if field == "n_samples":
            value = 0 if value is None else value
        elif field == "manual_anchors":
            value = list(value)
        st.session_state[KEY(field)] = value


def current() -> Settings:
    """The settings as the widgets hold them now."""
    values = {}
    for field in dataclasses.fields(Settings):
        value = st.session_state.get(KEY(field.name), getattr(Settings(), field.name))
        if field.name == "n_samples":
            value = None if not value else int(value)
        elif field.name == "manual_anchors":
            value = tuple(value)
        elif field.name in ("seed", "n_anchors", "known_pairs"):
            value = int(value)
        values[field.name] = value
    return Settings(**values)


def _apply_preset() -> None:
    label = st.session_state["w_preset"]
    preset = next(p for p in PRESETS if state.preset_label(p) == label)
    _write_widgets(preset.settings)


@st.cache_data(show_spinner=False)
def _encoder_catalog() -> dict[str, str]:
    return {info.spec: f"{info.label}{'' if info.offline else ' (needs internet)'}"
            for info in list_encoders(available_only=True)}


@st.cache_data(show_spinner=False)
def _third_encoders(modality: str | None) -> dict[str, str]:
    """Encoder C's choices: none, then the offline encoders of ``modality`` (every offline one when it is unknown,
    e.g. A is an upload)."""
    return {state.NO_ENCODER: "none", **{info.spec: info.label for info in list_encoders(available_only=True)
                                         if info.offline and modality in (None, info.modality)}}


@st.cache_data(show_spinner=False)
def _dataset_options() -> dict[str, str]:
    options = {}
    for name, description, _offline in list_datasets():
        if name in ("table", "zip", "hf"):
            continue
        options[name] = description.split(",")[0].split("(")[0].strip()
    options["bbc:full"] = "BBC News, whole articles"
    options["captions:fashion-mnist"] = "Fashion-MNIST with captions"
    options["captions:digits"] = "Digits with captions"
    for spec in HF_DATASETS:
        options[spec] = f"{spec[3:]} (needs internet)"
    return options


def _with_current(options: dict[str, str], key: str) -> list[str]:
    value = st.session_state.get(key)
    specs = list(options)
    if value and value not in options:
        specs.insert(0, value)  # an uploaded file, or a hub id from a link (admitted by safety.admit)
    return specs


def _label(options: dict[str, str], spec: str) -> str:
    if spec.startswith(safety.UPLOAD_PREFIX):
        return f"{uploads.display(spec)} (uploaded)"
    return options.get(spec, safety.cut(spec, 60))


def scenario_form() -> None:
    """Presets and the expensive settings (encoders, dataset, sample size, seed), applied together."""
    sidebar = st.sidebar
    sidebar.title("🧭 Scenario")
    for problem in st.session_state.get(URL_PROBLEMS, []):
        sidebar.warning(md(problem))
    sidebar.selectbox("Preset", [state.preset_label(p) for p in PRESETS], key="w_preset", index=None,
                      placeholder="Choose a preset…", on_change=_apply_preset,
                      help="Offline presets use models and data installed with the app.")
    encoders, datasets = _encoder_catalog(), _dataset_options()
    with sidebar.form("scenario"):
        for title, field, options in (("Encoder A", "encoder_a", encoders), ("Encoder B", "encoder_b", encoders),
                                      ("Dataset", "dataset", datasets)):
            specs = _with_current(options, KEY(field))
            labels = {spec: _label(options, spec) for spec in specs}  # computed now: session state is read here
            st.selectbox(title, specs, key=KEY(field), format_func=labels.get)
            if field == "encoder_b":
                _third_encoder()
        caps = safety.limits()
        left, right = st.columns(2)
        left.number_input("Samples (0 = all)", min_value=0, max_value=caps.max_samples, step=500,
                          key=KEY("n_samples"), help="A class-stratified subsample; changing it re-encodes unless "
                                                     f"cached. At most {caps.max_samples:,} on this server.")
        right.number_input("Seed", min_value=0, max_value=caps.max_seed, step=1, key=KEY("seed"))
        st.form_submit_button("Apply", type="primary", width="stretch")


def _third_encoder() -> None:
    """Encoder C (optional): a third space of the same samples, merged with A and B into an atlas (Stitching lab,
    Spaces page). Its choices read A's modality as the form holds it now."""
    options = _third_encoders(encoder_modality(st.session_state.get(KEY("encoder_a"), "")))
    specs = _with_current(options, KEY("encoder_c"))
    labels = {spec: _label(options, spec) for spec in specs}
    st.selectbox("Encoder C (optional, for the atlas)", specs, key=KEY("encoder_c"), format_func=labels.get,
                 help="A third encoder of the same samples. The atlas merges the relative representations of A, B "
                      "(and C) against the same anchors; the Stitching lab trains one head on it and tests it on each "
                      "space alone.")


FULL_RERUN = "_full_rerun"


def use_as_anchors(ids: list[str]) -> None:
    """Button callback: the given samples become the manual anchors (the whole app reruns to show it)."""
    st.session_state[KEY("manual_anchors")] = list(ids)
    st.session_state[KEY("strategy")] = state.MANUAL
    st.session_state[KEY("anchor_mode")] = state.PARALLEL  # picks are parallel anchors
    st.session_state[FULL_RERUN] = True


def _anchor_mode() -> bool:
    """Where the pairs come from: parallel anchors, a few known pairs grown by bootstrapping, or none at all.
    Returns whether an alignment finds them (the strategy and translator then do not apply)."""
    sidebar = st.sidebar
    modes, sides = state.ANCHOR_MODES, state.SIDES
    sidebar.radio("Anchor pairs", tuple(modes), key=KEY("anchor_mode"), format_func=modes.get,
                  help="Parallel anchors: the same samples embedded by both encoders, known to be pairs. With a few "
                       "known pairs, the app grows them into many by bootstrapping; with none, it aligns the two "
                       "spaces by their shapes alone (optimal transport). The alignment never sees which sample is "
                       "which, nor the Stitching lab's test samples; the Stitching lab scores it against that "
                       "hidden truth.")
    mode = st.session_state.get(KEY("anchor_mode"), state.PARALLEL)
    if mode not in modes or mode == state.PARALLEL:
        return False
    if mode == state.BOOTSTRAP:
        low, high = state.KNOWN_PAIRS
        sidebar.slider("Known pairs", min_value=low, max_value=high, step=1, key=KEY("known_pairs"),
                       help="Samples whose counterpart in B is given; the rest are found.")
    sidebar.radio("B holds", tuple(sides), key=KEY("sides"), format_func=sides.get,
                  help="The same samples in a hidden order, or different samples: A and B then get disjoint halves "
                       "(the known pairs are on both sides).")
    return True


def live_controls(data: Dataset | None, anchor_max: int) -> None:
    """Cheap settings: every change redraws at once. ``anchor_max``: the slider's end (the anchor policy's)."""
    sidebar = st.sidebar
    sidebar.subheader("Anchors and views")
    aligned = _anchor_mode()
    sidebar.selectbox("Anchor strategy", state.anchor_strategies(), key=KEY("strategy"), disabled=aligned,
                      help="random, stratified (equal per class), kmeans (the sample nearest each centroid), "
                           "fps (farthest points), or manual (your picks). Parallel anchors only: otherwise the "
                           "alignment's most confident pairs are the anchors.")
    limit = anchor_max
    if st.session_state.get(KEY("n_anchors"), 0) > limit:
        st.session_state[KEY("n_anchors")] = limit
    if limit > 2:
        sidebar.slider("Number of anchors", min_value=2, max_value=limit, step=1, key=KEY("n_anchors"),
                       disabled=st.session_state.get(KEY("strategy")) == state.MANUAL and not aligned,
                       help="Without parallel anchors: how many of the alignment's most confident pairs the "
                            "relative views use." if aligned else None)
    else:  # a slider needs two distinct ends
        st.session_state[KEY("n_anchors")] = 2
        sidebar.caption(f"Number of anchors: 2 (the dataset has only {len(data)} samples; raise the sample size for "
                        "more).")
    if data is not None and not aligned:
        with sidebar.expander(f"Manual anchors ({len(st.session_state.get(KEY('manual_anchors'), []))})"):
            texts = dict(zip(data.ids, hover_text(data, limit=60)))
            options = list(data.ids[:MANUAL_LIST_LIMIT])
            chosen = [i for i in st.session_state.get(KEY("manual_anchors"), []) if i in texts]
            options += [i for i in chosen if i not in set(options)]
            st.session_state[KEY("manual_anchors")] = chosen
            st.multiselect("Search samples", options, key=KEY("manual_anchors"),
                           format_func=lambda i: f"{safety.cut(i, 40)}: {texts[i]}", placeholder="Type to search…",
                           max_selections=safety.limits().max_manual_anchors)
            st.caption("Or select samples in a Spaces panel and press 'Use as anchors' there.")
    sidebar.selectbox("Relative projection", state.relative_projections(), key=KEY("projection"),
                      help="How a sample is compared with each anchor; +center centres each space on its anchors. "
                           "product: cosine, euclidean, L1 and L-inf blocks side by side (4 x the anchors); "
                           "product-mean: those blocks standardised and averaged.")
    sidebar.selectbox("Translator (B → A)", state.choices("translator"), key=KEY("translator"), disabled=aligned,
                      help="Fitted on the anchors after standard scaling. Without parallel anchors the translated "
                           "view uses the alignment's own Procrustes map.")
    for field, default in (("map_kind", "pca"), ("color_by", "label")):  # a segmented control can be unselected
        if not st.session_state.get(KEY(field)):
            st.session_state[KEY(field)] = default
    sidebar.segmented_control("2-D map", state.map_kinds(), key=KEY("map_kind"),
                              format_func=state.map_label)
    sidebar.segmented_control("Colour by", state.COLOR_BY, key=KEY("color_by"),
                              format_func={"label": "label", "agreement": "k-NN agreement"}.get)
