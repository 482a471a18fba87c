"""The shared base of the app's services: models, datasets, embeddings and the Explorer (what the Spaces and
Similarity pages draw, and what the other pages start from).

Services are the app's only callers of ``latent_core`` beyond its error types, and they own caching. Models and
datasets are cached per process with ``st.cache_resource``; embeddings go through the library's disk cache (and
stay in memory once loaded); everything derived from them (anchors, views, maps, metrics) is cached keyed by the
:class:`~latent_core.config.Scenario` and the live settings that produce it, so a live control recomputes only
what depends on it. Long steps report through callbacks the views pass in (:data:`Tracker`); services never draw.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st
from PIL import Image

from app import safety, uploads
from app.safety import UPLOAD_PREFIX, RefusedSpec
from app.services import policy
from app.state import Settings
from latent_core.config import Scenario, available_cpus
from latent_core.data import Dataset, load_dataset, load_image_zip, load_table
from latent_core.data import spec_kind as dataset_kind
from latent_core.data.base import subsample
from latent_core.embed import embed_dataset
from latent_core.encoders import Encoder, PrecomputedEncoder, get_encoder
from latent_core.encoders import spec_kind as encoder_kind
from latent_core.errors import InvalidImageError, InvalidParameterError
from latent_core.explore import (
    METRICS,
    Views,
    agreement,
    anchor_similarity,
    class_mean_similarity,
    compute_views,
    space_metrics,
)
from latent_core.heads import limited_threads
from latent_core.maps import map_2d
from latent_core.modality import check_modality
from latent_core.moved import ranked_changes

if TYPE_CHECKING:  # pandas is imported where it is used: 0.4 s the first chart need not wait for
    import pandas as pd

LOG = logging.getLogger("latent_space_explorer")

Report = Callable[[int, int], None]
"""``report(done, total)``, the progress callback of latent_core."""
Tracker = Callable[[str, str], AbstractContextManager[Report]]
"""``tracker(role, spec)``: a context for one encoding that yields its ``report`` (a view draws it as a bar)."""


def _untracked(role: str, spec: str) -> AbstractContextManager[Report]:
    return nullcontext(lambda done, total: None)


# ---- models and datasets -----------------------------------------------------------------------------------

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
    """A dataset spec the app may open, subsampled to ``n`` (None: all) with ``seed``."""
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


def scenario_data(scenario: Scenario) -> Dataset:
    """The scenario's dataset (its spec, sample size and seed)."""
    return dataset(scenario.dataset, scenario.n_samples, scenario.seed)


def _check_kind(kind: str, what: str, instead: str) -> None:
    """Paths never, hub ids where the mode allows: the same rule as :func:`safety.admit` for links, applied again
    to whatever reaches a loader (presets, widgets)."""
    if kind == "path":
        raise RefusedSpec(f"The app does not open {what} from server paths: {instead}.")
    if kind == "hub" and not safety.hub_allowed():
        raise RefusedSpec(f"This server does not download {what} from the Hugging Face hub: pick an offline preset "
                          "in the sidebar, or " + instead + ".")


# ---- embeddings ----------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _loaded_spaces() -> dict[tuple, np.ndarray]:
    """Embeddings already read from disk or encoded in this process (a few MB each)."""
    return {}


@st.cache_resource(show_spinner=False)
def _locks() -> dict[tuple, threading.Lock]:
    return {}


_LOCKS_GUARD = threading.Lock()


def keyed_lock(key: tuple) -> threading.Lock:
    """One lock per piece of shared work (an encoding, a set of maps): concurrent sessions wait on one computation
    instead of each starting its own."""
    with _LOCKS_GUARD:
        return _locks().setdefault(key, threading.Lock())


def _space_key(spec: str, scenario: Scenario, captions: bool) -> tuple:
    return spec, scenario.dataset, scenario.n_samples, scenario.seed, captions


def is_loaded(spec: str, scenario: Scenario, captions: bool = False) -> bool:
    """Whether :func:`embeddings` would answer from memory."""
    return _space_key(spec, scenario, captions) in _loaded_spaces()


def embeddings(spec: str, scenario: Scenario, *, captions: bool = False, role: str = "",
               tracker: Tracker | None = None) -> np.ndarray:
    """``[N, D]`` embeddings of the scenario's dataset (of its captions when ``captions``) by the encoder ``spec``:
    memory, then disk cache (or the bundled copy), then encoding, reported through ``tracker(role, spec)``.

    Sessions that ask for the same embeddings at once share one computation (a per-key lock); if the session
    computing them stops (its browser left), the next waiting session computes them.
    """
    key = _space_key(spec, scenario, captions)
    store = _loaded_spaces()
    if key in store:
        return store[key]
    with keyed_lock(("embeddings", *key)):
        if key not in store:
            with (tracker or _untracked)(role, spec) as report:
                data = scenario_data(scenario)
                model = encoder(spec)
                if not isinstance(model, PrecomputedEncoder):  # uploaded vectors are aligned by rows instead
                    check_modality(spec, model.modality, scenario.dataset, "text" if captions else data.modality)
                LOG.info("embedding %s%s with %s (disk cache first)", scenario.dataset, " captions" * captions, spec)
                with limited_threads(available_cpus()):  # the launcher leaves a core free; encoding takes them all
                    store[key] = embed_dataset(model, data, captions=captions, progress=report).cpu().numpy()
    return store[key]


def load_spaces(scenario: Scenario, tracker: Tracker | None = None) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The dataset and both spaces (A's and B's embeddings), encoding what is missing."""
    data = scenario_data(scenario)
    a = embeddings(scenario.encoder_a, scenario, role="Encoder A", tracker=tracker)
    b = embeddings(scenario.encoder_b, scenario, role="Encoder B", tracker=tracker)
    return data, a, b


def _pair(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """A's and B's embeddings of the scenario's dataset (already loaded: from memory)."""
    return embeddings(scenario.encoder_a, scenario), embeddings(scenario.encoder_b, scenario)


# ---- anchors and splits (decided by policy, cached here) ------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=64)
def anchor_indices(scenario: Scenario, strategy: str, n_anchors: int, manual: tuple[str, ...]) -> np.ndarray:
    """``[K]`` anchor rows of the explorer pages (:func:`policy.explorer_anchor_rows`)."""
    data = scenario_data(scenario)
    a = embeddings(scenario.encoder_a, scenario)
    return policy.explorer_anchor_rows(a, data.labels, data.ids, strategy, n_anchors, manual, scenario.seed)


def split_plan(settings: Settings) -> policy.AnchorPlan:
    """The anchors the split pages use for the sidebar's setting (with why they differ, if they do)."""
    n = len(scenario_data(settings.scenario))
    return policy.split_plan(settings.strategy, settings.n_anchors, n)


def split(settings: Settings) -> policy.Split:
    """The split pages' split of the current scenario (one per scenario and anchor budget)."""
    return _split(settings.scenario, split_plan(settings).count)


@st.cache_data(show_spinner=False, max_entries=16)
def _split(scenario: Scenario, budget: int) -> policy.Split:
    return policy.make_split(scenario_data(scenario).labels, budget, scenario.seed)


def split_anchors(settings: Settings, strategy: str | None = None, count: int | None = None) -> np.ndarray:
    """``[K]`` anchor rows of the split pages, drawn from the split's pool (default: the plan's strategy and
    count)."""
    plan = split_plan(settings)
    return _split_anchors(settings.scenario, plan.count, strategy or plan.strategy, int(count or plan.count))


@st.cache_data(show_spinner=False, max_entries=64)
def _split_anchors(scenario: Scenario, budget: int, strategy: str, count: int) -> np.ndarray:
    data, a = scenario_data(scenario), embeddings(scenario.encoder_a, scenario)
    return policy.split_anchor_rows(a, data.labels, _split(scenario, budget), strategy, count, scenario.seed)


# ---- the Explorer ----------------------------------------------------------------------------------------------

@dataclass
class Explorer:
    """Everything the pages draw for one setting."""

    settings: Settings
    data: Dataset
    a: np.ndarray  # [N, D_a]
    b: np.ndarray  # [N, D_b]
    anchor_idx: np.ndarray  # [K] A's anchor rows (and B's, with parallel anchors)
    views: Views
    notes: list[str]  # warnings from fitting the views, shown to the user
    anchor_idx_b: np.ndarray | None = None  # [K] B's anchor rows when they differ (pairs found by an alignment)
    aligned: Any = None  # the alignment.AlignedView naming an aligned explorer's views (None: parallel anchors)

    @property
    def anchors_b(self) -> np.ndarray:
        """``[K]`` B's anchor rows: pair k is (``anchors_b[k]``, ``anchor_idx[k]``)."""
        return self.anchor_idx if self.anchor_idx_b is None else self.anchor_idx_b

    @property
    def key(self) -> tuple:
        """What the views depend on (scenario, anchors, projection, translator, and the alignment when there is one):
        a key for shared work, and the arguments of :func:`views`."""
        settings = self.settings
        key = (settings.scenario, tuple(int(i) for i in self.anchor_idx), settings.projection, self.views.translator)
        return key if self.aligned is None else (*key, self.aligned)


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


def views(scenario: Scenario, anchors: tuple[int, ...], projection: str, translator: str, aligned=None) -> Views:
    """The views an :attr:`Explorer.key` names (an aligned one's come from :mod:`app.services.alignment`)."""
    if aligned is not None:
        from app.services import alignment  # it builds on this module

        return alignment.views(scenario, aligned, projection)
    return _views_with_notes(scenario, anchors, projection, translator)[0]


def explorer(settings: Settings, tracker: Tracker | None = None, aligning=None) -> Explorer:
    """The explorer of the settings: parallel anchors drawn by the sidebar's strategy, or (the other anchor modes)
    the pairs an alignment finds (:func:`app.services.alignment.explorer`; ``aligning`` reports its progress)."""
    if settings.aligned:
        from app.services import alignment  # it builds on this module

        return alignment.explorer(settings, tracker, aligning)
    data, a, b = load_spaces(settings.scenario, tracker)
    anchors = anchor_indices(settings.scenario, settings.strategy, settings.n_anchors, settings.manual_anchors)
    view, notes = _views_with_notes(settings.scenario, tuple(int(i) for i in anchors), settings.projection,
                                    settings.translator)
    return Explorer(settings=settings, data=data, a=a, b=b, anchor_idx=anchors, views=view, notes=notes)


# ---- 2-D maps --------------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _map_memo() -> OrderedDict:
    return OrderedDict()


MAP_MEMO_SIZE = 24


@st.cache_resource(show_spinner=False)
def _last_layouts() -> dict[tuple, np.ndarray]:
    """(scenario, kind) -> the relative-A layout drawn last: the same points (same dataset and encoders), so the
    next anchor set or projection starts its map from there (a warm start) instead of from scratch."""
    return {}


def maps_ready(ex: Explorer, kind: str) -> bool:
    """Whether :func:`panel_maps` would answer at once (already computed in this process)."""
    return (ex.key, kind) in _map_memo()


def panel_maps(ex: Explorer, kind: str, progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """2-D coordinates per panel: absolute A and B mapped independently; relative B placed by the map fitted on
    relative A; translated B placed by the map fitted on absolute A (so it overlays the A panel).

    Kept in memory per process (and UMAP / t-SNE on disk by ``map_2d``); ``progress(message)`` reports steps.
    When the anchors or the projection change, only the relative map is fitted again, warm-started from the last
    relative layout of the same scenario; the absolute maps are reused (``map_2d`` keeps fitted maps in memory, so
    B translated with the new anchors is only placed in A's map).
    """
    key = (ex.key, kind)
    memo = _map_memo()
    with keyed_lock(("maps", *key)):
        return _fill_maps(memo, key, ex, kind, progress)


def _fill_maps(memo: OrderedDict, key: tuple, ex: Explorer, kind: str, progress) -> dict[str, np.ndarray]:
    if key not in memo:
        seed = ex.settings.seed
        abs_a, (translated,) = map_2d(kind, ex.a, [ex.views.translated_b], seed=seed, progress=progress)
        abs_b, _ = map_2d(kind, ex.b, seed=seed, progress=progress)
        last, warm_key = _last_layouts(), (ex.settings.scenario, kind)
        init = last.get(warm_key) if kind != "pca" else None
        if init is not None and init.shape[0] != ex.views.rel_a.shape[0]:
            init = None
        rel_a, (rel_b,) = map_2d(kind, ex.views.rel_a, [ex.views.rel_b], seed=seed, init=init, progress=progress)
        if kind != "pca":
            last[warm_key] = rel_a
        memo[key] = {"abs_a": abs_a, "abs_b": abs_b, "rel_a": rel_a, "rel_b": rel_b, "translated": translated}
        while len(memo) > MAP_MEMO_SIZE:
            memo.popitem(last=False)
    memo.move_to_end(key)
    return memo[key]


# ---- the atlas (Charts to Atlas) -------------------------------------------------------------------------------

ATLAS_ROLES = ("A", "B", "C")  # the atlas's spaces, in Settings.atlas_encoders order


def third_space(settings: Settings, tracker: Tracker | None = None) -> np.ndarray | None:
    """``[N, D_c]`` encoder C's embeddings of the scenario's dataset (encoded if missing, reported through
    ``tracker``), or None when no C is chosen."""
    if not settings.encoder_c:
        return None
    return embeddings(settings.encoder_c, settings.scenario, role="Encoder C", tracker=tracker)


def atlas_ready(ex: Explorer) -> bool:
    """Whether :func:`atlas_map` is cheap now: parallel anchors, and C (if chosen) already loaded."""
    settings = ex.settings
    return not settings.aligned and (not settings.encoder_c or is_loaded(settings.encoder_c, settings.scenario))


def atlas_map(ex: Explorer, tracker: Tracker | None = None) -> np.ndarray:
    """``[N, 2]`` PCA map of the atlas: the mean of A's, B's (and C's) relative representations against the
    explorer's anchors with the sidebar's projection (:class:`latent_core.atlas.Atlas`). Loads C first (reported
    through ``tracker``). Parallel anchors only: C has no counterpart of the pairs an alignment finds.

    Raises:
        InvalidParameterError: the anchor mode is not parallel anchors.
    """
    settings = ex.settings
    if settings.aligned:
        raise InvalidParameterError("The atlas merges spaces relative to the same anchor samples: choose parallel "
                                    "anchors in the sidebar to see it.")
    third_space(settings, tracker)
    return _atlas_map(settings.scenario, settings.atlas_encoders, tuple(int(i) for i in ex.anchor_idx),
                      settings.projection)


@st.cache_data(show_spinner=False, max_entries=16)
def _atlas_map(scenario: Scenario, encoders: tuple[str, ...], anchors: tuple[int, ...],
               projection: str) -> np.ndarray:
    from latent_core.atlas import Atlas

    spaces = [embeddings(spec, scenario) for spec in encoders]
    index = np.asarray(anchors)
    merged = Atlas(projection).fit([x[index] for x in spaces]).merge(spaces)
    coords, _ = map_2d("pca", merged, seed=scenario.seed)
    return coords


# ---- comparisons -----------------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=32)
def _agreement(view_key: tuple, k: int) -> dict[str, np.ndarray]:
    a, b = _pair(view_key[0])
    return agreement(a, b, views(*view_key), k)


def neighbour_agreement(ex: Explorer, k: int = 10) -> dict[str, np.ndarray]:
    return _agreement(ex.key, k)


@st.cache_data(show_spinner=False, max_entries=32)
def _metrics(view_key: tuple, k: int, names: tuple[str, ...]) -> pd.DataFrame:
    a, b = _pair(view_key[0])
    return space_metrics(a, b, views(*view_key), k)


def metrics(ex: Explorer, k: int = 10) -> pd.DataFrame:
    """One row per comparison, one column per metric of :data:`latent_core.explore.METRICS` (the registered names
    are part of the cache key: a metric registered later gets its column)."""
    return _metrics(ex.key, k, tuple(METRICS))


MOVED_COMPARISONS = {"absolute": "absolute A vs absolute B", "relative": "relative A vs relative B"}
MOVED_TEXT_CHARS = 120
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(text: str) -> str:
    """A data cell that a spreadsheet opening the CSV reads as text, never as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


@st.cache_data(show_spinner=False, max_entries=32)
def _what_moved(view_key: tuple, comparison: str, k: int) -> pd.DataFrame:
    import pandas as pd

    a, b = _pair(view_key[0])
    if comparison == "relative":
        view = views(*view_key)
        a, b = view.rel_a, view.rel_b
    ranking = ranked_changes(a, b, k=min(k, len(a) - 1), top=len(a))
    data = scenario_data(view_key[0])
    ids = data.ids

    def neighbours(rows) -> str:
        return " | ".join(ids[j] for j in rows)

    order = ranking.order
    frame = pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "id": [ids[i] for i in order],
        "label": [data.label_names[data.labels[i]] for i in order],
        "jaccard": ranking.jaccard[order],
        f"jaccard@{ranking.wide_k}": ranking.jaccard_wide[order],
        "lost neighbours": [neighbours(ranking.lost(i)) for i in order],
        "gained neighbours": [neighbours(ranking.gained(i)) for i in order],
        "row": order,
    })
    if data.modality == "text":
        frame.insert(4, "text", [safety.cut(" ".join(str(data.items[i]).split()), MOVED_TEXT_CHARS) for i in order])
    return frame


def what_moved(ex: Explorer, comparison: str = "absolute", k: int = 10) -> pd.DataFrame:
    """Every sample ranked by how much its k-NN set changed between A and B (``comparison``: ``"absolute"`` or
    ``"relative"``), most changed first: ``rank``, ``id``, ``label``, ``jaccard`` (Jaccard@k of the two sets),
    ``jaccard@<4k>`` (the same with four times as many neighbours: it orders ties), ``text`` (text datasets: the
    first 120 characters, whitespace collapsed), ``lost neighbours`` (ids of its
    neighbours in A not in B, nearest first, ``" | "``-separated), ``gained neighbours`` (in B, not in A) and
    ``row`` (the dataset row). The most agreeing samples are the last rows, read backwards. Ties: the wider
    Jaccard, then the lower row (:func:`latent_core.moved.ranked_changes`). Cached per explorer key, comparison
    and k."""
    if comparison not in MOVED_COMPARISONS:
        raise InvalidParameterError(f"comparison must be one of {sorted(MOVED_COMPARISONS)}, got {comparison!r}.")
    key = ex.key if comparison == "relative" else ex.key[:1]  # absolute: the scenario alone (anchors do not matter)
    return _what_moved(key, comparison, int(k))


def most_agreeing(ranking: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` samples whose neighbourhoods agree most, best first (ties: the wider Jaccard, then the lower
    row), from :func:`what_moved`'s frame, ranked 1.. among themselves."""
    wide = next(c for c in ranking.columns if c.startswith("jaccard@"))
    frame = ranking.sort_values(["jaccard", wide, "row"], ascending=[False, False, True], kind="stable").head(top)
    frame = frame.copy()
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame


def what_moved_csv(ranking: pd.DataFrame) -> pd.DataFrame:
    """:func:`what_moved`'s frame for a download: without ``row``, every text cell safe to open in a spreadsheet."""
    frame = ranking.drop(columns="row").copy()
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype).startswith("str"):
            frame[column] = frame[column].map(lambda value: _csv_cell(str(value)))
    return frame


def thumbnail_url(image: Image.Image, size: int = 48) -> str:
    """A small PNG of ``image`` as a ``data:`` URL (for an image column of a table)."""
    import base64

    copy = image.convert("RGB")
    copy.thumbnail((size, size))
    if max(copy.size) < size:  # tiny images (8 x 8 digits) are scaled up, pixels kept sharp
        scale = size // max(copy.size)
        copy = copy.resize((copy.width * scale, copy.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    copy.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def anchor_heatmaps(ex: Explorer) -> tuple[np.ndarray, np.ndarray]:
    """``[K, K]`` cosines between the anchors, in A and in B (between B's rows of the pairs, in pair order)."""
    return anchor_similarity(ex.a, ex.anchor_idx), anchor_similarity(ex.b, ex.anchors_b)


def class_means(ex: Explorer) -> tuple[np.ndarray, np.ndarray]:
    n_classes = len(ex.data.label_names)
    return (class_mean_similarity(ex.a, ex.data.labels, n_classes),
            class_mean_similarity(ex.b, ex.data.labels, n_classes))


# ---- one input -------------------------------------------------------------------------------------------------

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
