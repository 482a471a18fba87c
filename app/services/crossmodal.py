"""Service layer of the Cross-modal page: ASIF zero-shot image classification by text prompts, and CLIP.

The page's models and data are fixed (see :data:`latent_core.bundle.CROSSMODAL_SCENARIO`; its image and caption
embeddings ship in ``assets/embeddings``), independent of the sidebar's encoders. Tests swap them through
session state (``xm_<field>`` keys, e.g. ``fake:`` encoders on ``captions:digits`` with a small N).

Caching: models, datasets and the image and caption embeddings through :mod:`app.services.spaces` (disk cache or
the bundled copy, then memory); one text embedding per prompt string (editing one prompt encodes only
that prompt); everything derived (scores, confusion, the anchor-pairs curve) with
``st.cache_data`` keyed by the setup, the split seed, the number of pairs and the prompts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from app.services import spaces
from app.services.policy import max_pairs
from app.services.spaces import Tracker
from latent_core.config import Scenario, is_offline
from latent_core.crossmodal import (
    anchor_knn_predict,
    anchor_pair_split,
    asif_accuracy_sweep,
    asif_scores,
    class_prompts,  # noqa: F401 - the page's prompts (views reach latent_core here)
    clip_scores,
    nearest_anchor_pairs,
)
from latent_core.data import Dataset
from latent_core.data.images import fashion_mnist_available  # noqa: F401 - the page's install hint
from latent_core.errors import EmbeddingAlignmentError, LatentCoreError
from latent_core.experiments.scenarios import CROSSMODAL_SCENARIO
from latent_core.metrics import confusion_matrix
from latent_core.stitching import chance_rate

CLIP_MODEL = "ViT-B-32/openai"  # clip:<model>:image / clip:<model>:text
OVERRIDE_PREFIX = "xm_"
"""Session-state key ``xm_<field>`` replaces a :class:`Setup` default (``xm_image_encoder``, ``xm_dataset``,
``xm_n_samples``, ``xm_topk``...): for tests and experiments, not a widget."""
CLIP_LOGIT_SCALE = 100.0  # OpenAI CLIP's learned temperature: probabilities = softmax(100 * cosine)


@dataclass(frozen=True)
class Setup:
    """Everything that decides the page's embeddings and ASIF settings."""

    image_encoder: str
    text_encoder: str
    dataset: str
    n_samples: int | None
    sample_seed: int
    n_pairs: int  # default of the slider
    template: str
    topk: int
    power: float
    knn_k: int
    sweep_counts: tuple[int, ...]
    clip_model: str = CLIP_MODEL

    @property
    def clip_image(self) -> str:
        return f"clip:{self.clip_model}:image"

    @property
    def clip_text(self) -> str:
        return f"clip:{self.clip_model}:text"


def default_setup() -> Setup:
    s = CROSSMODAL_SCENARIO
    return Setup(image_encoder=s.image_encoder, text_encoder=s.text_encoder, dataset=s.dataset,
                 n_samples=s.n_samples, sample_seed=s.sample_seed, n_pairs=s.n_anchors, template=s.prompt_template,
                 topk=s.topk, power=s.power, knn_k=s.knn_k, sweep_counts=tuple(s.sweep_counts))


def current_setup() -> Setup:
    """The defaults, with any override found in session state."""
    values = {field.name: st.session_state[OVERRIDE_PREFIX + field.name] for field in dataclasses.fields(Setup)
              if OVERRIDE_PREFIX + field.name in st.session_state}
    if "n_samples" in values:
        values["n_samples"] = int(values["n_samples"]) or None
    if "sweep_counts" in values:
        values["sweep_counts"] = tuple(int(c) for c in values["sweep_counts"])
    return dataclasses.replace(default_setup(), **values)


def curve_counts(setup: Setup, n_samples: int) -> list[int]:
    return [c for c in setup.sweep_counts if c <= max_pairs(n_samples)]


# ---- embeddings --------------------------------------------------------------------------------------------

@dataclass
class Pairs:
    """The dataset and its two spaces: row i of ``captions`` describes image i."""

    data: Dataset
    images: np.ndarray  # [N, Di]
    captions: np.ndarray  # [N, Dt]


def _scenario(setup: Setup, spec: str) -> Scenario:
    """The page's dataset as a scenario (the encoder fields name the page's two towers)."""
    return Scenario(encoder_a=spec, encoder_b=setup.text_encoder, dataset=setup.dataset,
                    n_samples=setup.n_samples, seed=setup.sample_seed)


def _data(setup: Setup) -> Dataset:
    return spaces.dataset(setup.dataset, setup.n_samples, setup.sample_seed)


ROLE_NOUNS = {"Image encoder": "images", "Text encoder": "captions", "CLIP": "images"}
"""What each encoding of this page embeds, by the role it reports to a tracker."""


def _space(setup: Setup, spec: str, captions: bool, tracker: Tracker | None = None, role: str = "") -> np.ndarray:
    """``[N, D]`` embeddings of the page's images (or their captions) by ``spec``, through the shared embeddings
    (memory, disk cache or the bundled copy, then encoding reported to ``tracker``)."""
    return spaces.embeddings(spec, _scenario(setup, spec), captions=captions, role=role, tracker=tracker)


def load_pairs(setup: Setup, tracker: Tracker | None = None) -> Pairs:
    """The dataset, its image embeddings and its caption embeddings (encoding what is missing).

    Raises:
        LatentCoreError: the dataset or a model cannot be loaded, or the dataset has no captions.
    """
    data = _data(setup)
    if data.captions is None:
        raise EmbeddingAlignmentError(
            f"The dataset {data.name!r} has no captions, so it has no image/caption pairs. Use 'captions' "
            "(Fashion-MNIST, or digits without it), 'captions:fashion-mnist' or 'captions:digits'.")
    images = _space(setup, setup.image_encoder, False, tracker, "Image encoder")
    captions = _space(setup, setup.text_encoder, True, tracker, "Text encoder")
    return Pairs(data=data, images=images, captions=captions)


@st.cache_data(show_spinner=False, max_entries=1024)
def prompt_embedding(encoder_spec: str, prompt: str) -> np.ndarray:
    """``[D]`` embedding of one prompt (cached per string: editing a prompt encodes only that one)."""
    return spaces.encoder(encoder_spec).encode([prompt]).cpu().numpy()[0]


def prompt_embeddings(encoder_spec: str, prompts: tuple[str, ...]) -> np.ndarray:
    """``[C, D]``, one row per class prompt."""
    return np.stack([prompt_embedding(encoder_spec, p) for p in prompts])


# ---- ASIF on the test images -------------------------------------------------------------------------------

@dataclass
class AsifResult:
    anchors: np.ndarray  # [K] dataset rows of the image/caption pairs
    test: np.ndarray  # [T] dataset rows of the test images
    scores: np.ndarray  # [T, C] ASIF cosine between each test image and each prompt
    predicted: np.ndarray  # [T]
    knn_predicted: np.ndarray  # [T] anchor-label k-NN baseline
    accuracy: float
    knn_accuracy: float
    chance: float  # majority-class rate of the anchor pairs
    confusion: np.ndarray  # [C, C] counts, rows = true class, columns = predicted


@st.cache_data(show_spinner=False, max_entries=64)
def asif_result(setup: Setup, seed: int, n_pairs: int, prompts: tuple[str, ...]) -> AsifResult:
    """ASIF with the first ``n_pairs`` of the seeded split as anchor pairs, every other sample a test image."""
    pairs = load_pairs(setup)
    labels = pairs.data.labels
    anchors, test = anchor_pair_split(len(pairs.data), n_pairs, seed)
    texts = prompt_embeddings(setup.text_encoder, prompts)
    scores = asif_scores(pairs.images[test], pairs.images[anchors], texts, pairs.captions[anchors],
                         topk=setup.topk, power=setup.power).cpu().numpy()
    predicted = scores.argmax(1)
    knn = anchor_knn_predict(pairs.images[test], pairs.images[anchors], labels[anchors], k=min(setup.knn_k, n_pairs))
    confusion = confusion_matrix(labels[test], predicted, len(pairs.data.label_names))
    return AsifResult(anchors=anchors, test=test, scores=scores, predicted=predicted, knn_predicted=knn,
                      accuracy=float((predicted == labels[test]).mean()),
                      knn_accuracy=float((knn == labels[test]).mean()), chance=chance_rate(labels[anchors]),
                      confusion=confusion)


@st.cache_data(show_spinner=False, max_entries=32)
def accuracy_curve(setup: Setup, seed: int, prompts: tuple[str, ...]) -> pd.DataFrame:
    """Accuracy against the number of pairs (the experiments' sweep): nested anchor sets from the same seeded
    order as the slider's, tested on the samples that are never anchors at any point of the curve."""
    pairs = load_pairs(setup)
    counts = curve_counts(setup, len(pairs.data))
    if not counts:
        return pd.DataFrame(columns=["n_anchors", "n_test", "chance", "method", "accuracy"])
    order, test = anchor_pair_split(len(pairs.data), max(counts), seed)
    return asif_accuracy_sweep(pairs.images, pairs.captions, prompt_embeddings(setup.text_encoder, prompts),
                               pairs.data.labels, counts, anchor_order=order, test=test, topk=setup.topk,
                               power=setup.power, knn_k=setup.knn_k)


# ---- one image ---------------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=32)
def image_embedding(encoder_spec: str, content: bytes, name: str = "upload") -> np.ndarray:
    """``[D]`` embedding of an uploaded image file."""
    return spaces.encoder(encoder_spec).encode([spaces.read_image(content, name)]).cpu().numpy()[0]


@dataclass
class ImageResult:
    scores: np.ndarray  # [C] ASIF score per class prompt
    neighbours: np.ndarray  # [k] dataset rows of the most similar anchor images
    similarity: np.ndarray  # [k] their cosine to the image


def image_result(setup: Setup, seed: int, n_pairs: int, prompts: tuple[str, ...], vector: np.ndarray,
                 k: int = 8) -> ImageResult:
    """ASIF scores of one image embedding ``[Di]`` under the prompts, and its nearest anchor pairs."""
    pairs = load_pairs(setup)
    anchors, _ = anchor_pair_split(len(pairs.data), n_pairs, seed)
    vector = np.asarray(vector, dtype=np.float32)[None]
    scores = asif_scores(vector, pairs.images[anchors], prompt_embeddings(setup.text_encoder, prompts),
                         pairs.captions[anchors], topk=setup.topk, power=setup.power).cpu().numpy()[0]
    index, similarity = nearest_anchor_pairs(vector, pairs.images[anchors], k=min(k, n_pairs - 1))
    return ImageResult(scores=scores, neighbours=anchors[index[0]], similarity=similarity[0])


def thumbnail(image: Image.Image, size: int = 84) -> Image.Image:
    """Small images scaled up with hard pixel edges (a 28-pixel Fashion-MNIST item stays crisp)."""
    image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    if max(image.size) >= size:
        copy = image.copy()
        copy.thumbnail((size, size))
        return copy
    scale = size / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.NEAREST)


# ---- CLIP --------------------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, ttl=600)
def _clip_problem(model: str, offline: bool) -> str | None:
    try:
        spaces.encoder(f"clip:{model}:image")
        spaces.encoder(f"clip:{model}:text")
    except LatentCoreError as error:
        return str(error)
    return None


def clip_problem(setup: Setup) -> str | None:
    """Why CLIP cannot be loaded here (``None`` when both towers load), through the encoders' real loading code;
    checked once per process and offline setting (for ten minutes)."""
    return _clip_problem(setup.clip_model, is_offline())


@dataclass
class ClipResult:
    scores: np.ndarray  # [T, C] cosine between CLIP image and prompt embeddings
    predicted: np.ndarray  # [T]
    accuracy: float


def load_clip_images(setup: Setup, tracker: Tracker | None = None) -> np.ndarray:
    """``[N, 512]`` CLIP image embeddings of the page's dataset (encoded once, then from the disk cache)."""
    return _space(setup, setup.clip_image, False, tracker, "CLIP")


@st.cache_data(show_spinner=False, max_entries=32)
def clip_result(setup: Setup, seed: int, n_pairs: int, prompts: tuple[str, ...]) -> ClipResult:
    """CLIP zero-shot on the same test images as :func:`asif_result` (CLIP reads no anchors)."""
    data = _data(setup)
    _, test = anchor_pair_split(len(data), n_pairs, seed)
    scores = clip_scores(load_clip_images(setup)[test], prompt_embeddings(setup.clip_text, prompts)).cpu().numpy()
    predicted = scores.argmax(1)
    return ClipResult(scores=scores, predicted=predicted, accuracy=float((predicted == data.labels[test]).mean()))


def clip_probabilities(setup: Setup, prompts: tuple[str, ...], vector: np.ndarray) -> np.ndarray:
    """``[C]`` CLIP's class probabilities for one CLIP image embedding: softmax of 100 x cosine."""
    logits = CLIP_LOGIT_SCALE * clip_scores(np.asarray(vector, dtype=np.float32)[None],
                                            prompt_embeddings(setup.clip_text, prompts)).cpu().numpy()[0]
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()
