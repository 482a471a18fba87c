"""The app's service layer: the only place that calls latent_core and owns caching.

Models and datasets are cached per process with ``st.cache_resource``; embeddings go through the library's
disk cache (and stay in memory once loaded); everything derived from them (anchors, views, maps, metrics)
is cached with ``st.cache_data`` keyed by the settings that produce it, so a live control recomputes only
what depends on it.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from app import safety, uploads
from app.components.progress import progress_bar
from app.safety import UPLOAD_PREFIX, RefusedSpec
from app.state import Settings
from latent_core.anchors import select_anchors
from latent_core.data import Dataset, load_dataset, load_image_zip, load_table
from latent_core.data import spec_kind as dataset_kind
from latent_core.data.base import subsample
from latent_core.embed import embed_dataset
from latent_core.encoders import Encoder, PrecomputedEncoder, get_encoder, list_encoders
from latent_core.encoders import spec_kind as encoder_kind
from latent_core.errors import AnchorIndexError, InvalidImageError, LatentCoreError
from latent_core.explore import Views, agreement, anchor_similarity, class_mean_similarity, compute_views, space_metrics
from latent_core.maps import map_2d, pca_2d
from latent_core.modality import check_modality

Scenario = tuple[str, str, str, int | None, int]  # Settings.scenario


LOG = logging.getLogger("latent_space_explorer")


@st.cache_resource(show_spinner=False, max_entries=6)
def encoder(spec: str) -> Encoder:
    """The encoder for a spec the app may open (catalogue, hub where allowed, or this session's upload)."""
    if spec.startswith(UPLOAD_PREFIX):
        model = PrecomputedEncoder(uploads.path_of(spec), id_column=uploads.options(spec).get("id"),
                                   name=uploads.display(spec))
        model.spec = spec
        return model
    _check_kind(encoder_kind(spec), "encoders", "upload embeddings on the Upload page")
    LOG.info("loading encoder %s", spec)
    return get_encoder(spec)


@st.cache_resource(show_spinner=False, max_entries=8)
def dataset(spec: str, n: int | None, seed: int) -> Dataset:
    if spec.startswith(UPLOAD_PREFIX):
        path, options, shown = uploads.path_of(spec), uploads.options(spec), uploads.display(spec)
        source = io.BytesIO(path.read_bytes())
        source.name = shown  # messages name the file as the user uploaded it, not by its stored id
        if path.suffix == ".zip":
            data = load_image_zip(source, name=f"upload:{shown}")
        else:
            data = load_table(source, options.get("text", "text"), options.get("label", "label"),
                              fmt=path.suffix.lstrip("."), name=f"upload:{shown}")
        return subsample(data, n, seed)
    _check_kind(dataset_kind(spec), "datasets", "upload your file on the Upload page")
    return load_dataset(spec, n=n, seed=seed)


def _check_kind(kind: str, what: str, instead: str) -> None:
    """Paths never, hub ids where the mode allows: the same rule as :func:`safety.admit` for links, applied again
    to whatever reaches a loader (presets, widgets)."""
    if kind == "path":
        raise RefusedSpec(f"The app does not open {what} from server paths: {instead}.")
    if kind == "hub" and not safety.hub_allowed():
        raise RefusedSpec(f"This server does not download {what} from the Hugging Face hub: pick an offline preset "
                          "in the sidebar, or " + instead + ".")


@st.cache_resource(show_spinner=False)
def _loaded_spaces() -> dict[tuple, np.ndarray]:
    """Embeddings already read from disk or encoded in this process (a few MB each)."""
    return {}


@st.cache_resource(show_spinner=False)
def _locks() -> dict[tuple, threading.Lock]:
    return {}


_LOCKS_GUARD = threading.Lock()


def _keyed_lock(key: tuple) -> threading.Lock:
    """One lock per piece of shared work (an encoding, a set of maps): concurrent sessions wait on one computation
    instead of each starting its own."""
    with _LOCKS_GUARD:
        return _locks().setdefault(key, threading.Lock())


def embeddings(encoder_spec: str, dataset_spec: str, n: int | None, seed: int,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``[N, D]`` embeddings of the dataset by the encoder (memory, then disk cache, then encoding).

    Sessions that ask for the same embeddings at once share one computation (a per-key lock); if the session
    computing them stops (its browser left), the next waiting session computes them.
    """
    key = (encoder_spec, dataset_spec, n, seed)
    store = _loaded_spaces()
    if key in store:
        return store[key]
    with _keyed_lock(("embeddings", *key)):
        if key not in store:
            data = dataset(dataset_spec, n, seed)
            model = encoder(encoder_spec)
            if not isinstance(model, PrecomputedEncoder):  # uploaded vectors are aligned by rows instead
                check_modality(encoder_spec, model.modality, dataset_spec, data.modality)
            LOG.info("embedding %s with %s (disk cache first)", dataset_spec, encoder_spec)
            store[key] = embed_dataset(model, data, progress=progress).cpu().numpy()
    return store[key]


def _pair(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """A's and B's embeddings of the scenario's dataset (already loaded: from memory)."""
    return embeddings(scenario[0], *scenario[2:]), embeddings(scenario[1], *scenario[2:])


@dataclass
class Explorer:
    """Everything the pages draw for one setting."""

    settings: Settings
    data: Dataset
    a: np.ndarray  # [N, D_a]
    b: np.ndarray  # [N, D_b]
    anchor_idx: np.ndarray  # [K]
    views: Views
    notes: list[str]  # warnings from fitting the views, shown to the user


def load_spaces(settings: Settings, progress_area=None) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The dataset and both spaces, with a progress bar per encoder while anything is being encoded."""
    enc_a, enc_b, data_spec, n, seed = settings.scenario
    data = dataset(data_spec, n, seed)
    spaces = []
    for role, spec in (("A", enc_a), ("B", enc_b)):
        area = None if (spec, data_spec, n, seed) in _loaded_spaces() else progress_area
        with progress_bar(area, f"Encoder {role}: loading {spec}…",
                          lambda done, total, r=role: f"Encoder {r}: embedded {done} of {total} samples") as report:
            spaces.append(embeddings(spec, data_spec, n, seed, report))
    return data, spaces[0], spaces[1]


@st.cache_data(show_spinner=False, max_entries=64)
def anchor_indices(scenario: Scenario, strategy: str, n_anchors: int, manual: tuple[str, ...]) -> np.ndarray:
    """``[K]`` anchor rows: the manual ids in order, or ``n_anchors`` chosen by ``strategy`` on A's space."""
    data = dataset(*scenario[2:])
    if strategy == "manual":
        position = {sample_id: i for i, sample_id in enumerate(data.ids)}
        missing = [m for m in manual if m not in position]
        if missing:
            raise AnchorIndexError(f"Manual anchors not in this dataset: {', '.join(missing[:5])}. Pick them again.")
        if len(manual) < 2:
            raise AnchorIndexError("Pick at least 2 manual anchors (from the list, or with a box/lasso selection "
                                   "and 'Use selection as anchors'), or choose another anchor strategy.")
        return np.array([position[m] for m in manual], dtype=np.int64)
    a = embeddings(scenario[0], *scenario[2:])
    if n_anchors > len(data):
        raise AnchorIndexError(f"{n_anchors} anchors asked for, but the dataset has {len(data)} samples. "
                               f"Lower the anchor count or raise the sample size.")
    return select_anchors(a, n_anchors, strategy, labels=data.labels, seed=scenario[4]).numpy()


@st.cache_resource(show_spinner=False, max_entries=32)
def _views_with_notes(scenario: Scenario, anchors: tuple[int, ...], projection: str,
                      translator: str) -> tuple[Views, list[str]]:
    """Shared by every session (``cache_resource``: no per-session copy of the ``[N, K]`` arrays, which are made
    read-only so no caller can change what the others see)."""
    a, b = _pair(scenario)
    with warnings.catch_warnings(record=True) as caught:  # e.g. a rank-deficient fit: the user should see it
        warnings.simplefilter("always")
        view = compute_views(a, b, np.array(anchors), projection=projection, translator=translator)
    for array in (view.anchor_idx, view.rel_a, view.rel_b, view.translated_b):
        array.setflags(write=False)
    return view, list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)))


def views(scenario: Scenario, anchors: tuple[int, ...], projection: str, translator: str) -> Views:
    return _views_with_notes(scenario, anchors, projection, translator)[0]


def explorer(settings: Settings, progress_area=None) -> Explorer:
    data, a, b = load_spaces(settings, progress_area)
    anchors = anchor_indices(settings.scenario, settings.strategy, settings.n_anchors, settings.manual_anchors)
    view, notes = _views_with_notes(settings.scenario, tuple(int(i) for i in anchors), settings.projection,
                                    settings.translator)
    return Explorer(settings=settings, data=data, a=a, b=b, anchor_idx=anchors, views=view, notes=notes)


def view_key(ex: Explorer) -> tuple:
    """What the explorer's views depend on (scenario, anchors, projection, translator): a key for shared work."""
    return _view_key(ex)


def _view_key(ex: Explorer) -> tuple:
    return ex.settings.scenario, tuple(int(i) for i in ex.anchor_idx), ex.settings.projection, ex.settings.translator


@st.cache_resource(show_spinner=False)
def _map_memo() -> OrderedDict:
    return OrderedDict()


MAP_MEMO_SIZE = 24


def maps_ready(ex: Explorer, kind: str) -> bool:
    """Whether :func:`panel_maps` would answer at once (already computed in this process)."""
    return (_view_key(ex), kind) in _map_memo()


def panel_maps(ex: Explorer, kind: str, progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """2-D coordinates per panel: absolute A and B mapped independently; relative B placed by the map fitted on
    relative A; translated B placed by the map fitted on absolute A (so it overlays the A panel).

    Kept in memory per process (and UMAP / t-SNE on disk by ``map_2d``); ``progress(message)`` reports steps.
    """
    key = (_view_key(ex), kind)
    memo = _map_memo()
    with _keyed_lock(("maps", *key)):
        return _fill_maps(memo, key, ex, kind, progress)


def _fill_maps(memo: OrderedDict, key: tuple, ex: Explorer, kind: str, progress) -> dict[str, np.ndarray]:
    if key not in memo:
        seed = ex.settings.seed
        abs_a, (translated,) = map_2d(kind, ex.a, [ex.views.translated_b], seed=seed, progress=progress)
        abs_b, _ = map_2d(kind, ex.b, seed=seed, progress=progress)
        rel_a, (rel_b,) = map_2d(kind, ex.views.rel_a, [ex.views.rel_b], seed=seed, progress=progress)
        memo[key] = {"abs_a": abs_a, "abs_b": abs_b, "rel_a": rel_a, "rel_b": rel_b, "translated": translated}
        while len(memo) > MAP_MEMO_SIZE:
            memo.popitem(last=False)
    memo.move_to_end(key)
    return memo[key]


@st.cache_data(show_spinner=False, max_entries=32)
def _agreement(view_key: tuple, k: int) -> dict[str, np.ndarray]:
    scenario = view_key[0]
    a, b = _pair(scenario)
    return agreement(a, b, views(*view_key), k)


def neighbour_agreement(ex: Explorer, k: int = 10) -> dict[str, np.ndarray]:
    return _agreement(_view_key(ex), k)


@st.cache_data(show_spinner=False, max_entries=32)
def _metrics(view_key: tuple, k: int) -> pd.DataFrame:
    scenario = view_key[0]
    a, b = _pair(scenario)
    return space_metrics(a, b, views(*view_key), k)


def metrics(ex: Explorer, k: int = 10) -> pd.DataFrame:
    return _metrics(_view_key(ex), k)


def anchor_heatmaps(ex: Explorer) -> tuple[np.ndarray, np.ndarray]:
    return anchor_similarity(ex.a, ex.anchor_idx), anchor_similarity(ex.b, ex.anchor_idx)


def class_means(ex: Explorer) -> tuple[np.ndarray, np.ndarray]:
    n_classes = len(ex.data.label_names)
    return (class_mean_similarity(ex.a, ex.data.labels, n_classes),
            class_mean_similarity(ex.b, ex.data.labels, n_classes))


@st.cache_data(show_spinner=False, max_entries=16)
def pca_map(matrix: np.ndarray) -> np.ndarray:
    return pca_2d(matrix)


def check_dataset(spec: str) -> Dataset:
    """Load a dataset spec now (so a bad upload fails here, with its message, not on another page)."""
    return dataset(spec, None, 0)


def check_embeddings(encoder_spec: str, settings: Settings) -> np.ndarray:
    """Read uploaded embeddings against the current dataset: rows must align with its samples."""
    return embeddings(encoder_spec, *settings.scenario[2:])


def encoder_reads(spec: str, modality: str) -> bool:
    """Whether the encoder spec embeds this modality (without loading it)."""
    infos = {info.spec: info.modality for info in list_encoders()}
    if spec in infos:
        return infos[spec] == modality
    if spec.startswith(UPLOAD_PREFIX):
        return False  # uploaded vectors belong to one dataset
    try:
        return encoder(spec).modality == modality
    except LatentCoreError:
        return False


MAX_UPLOAD_PIXELS = 50_000_000


def read_image(content: bytes, name: str) -> Image.Image:
    """Decode an uploaded file as an image.

    Raises:
        InvalidImageError: not a decodable image (or an absurdly large one).
    """
    from PIL import UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(content))
        if image.width * image.height > MAX_UPLOAD_PIXELS:
            raise ValueError(f"{image.width} x {image.height} pixels")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImageError(f"{name} is not a readable image ({type(exc).__name__}: {exc}).") from exc
    return image.convert("RGB") if image.mode not in ("RGB", "L") else image
