"""The explorer's settings: one dataclass, the presets, and the round trip through the URL query string.

Widgets own their values in ``st.session_state`` under ``w_<field>``; the first run of a session fills
them from the URL, and every run writes the current settings back, so a copied link reopens the same view.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from app import safety
from app.services import policy
from latent_core.anchors import STRATEGIES
from latent_core.config import DEFAULT_SCENARIO, Scenario
from latent_core.maps import MAP_KINDS
from latent_core.relative import PRODUCTS, PROJECTIONS
from latent_core.translate import TRANSLATORS

COLOR_BY = ("label", "agreement")
NO_ENCODER = ""  # encoder C's value when there is none (the URL may also say "none")
MANUAL = policy.MANUAL  # the anchor "strategy" of the user's own picks
PARALLEL, BOOTSTRAP, UNSUPERVISED = policy.PARALLEL, policy.BOOTSTRAP, policy.UNSUPERVISED
SAME, DIFFERENT = policy.SAME, policy.DIFFERENT
ANCHOR_MODES = {  # how the two spaces are paired: value -> how the sidebar writes it
    policy.PARALLEL: "parallel anchors",
    policy.BOOTSTRAP: "a few known pairs + bootstrap",
    policy.UNSUPERVISED: "none (unsupervised)",
}
SIDES = {  # what B holds in the two modes without parallel anchors
    policy.SAME: "the same samples (order hidden)",
    policy.DIFFERENT: "different samples",
}
KNOWN_PAIRS = policy.KNOWN_PAIRS  # (fewest, most) known pairs of the bootstrap mode


def drawn_strategies() -> tuple[str, ...]:
    """Every registered anchor strategy (the ways to draw anchors from data)."""
    return tuple(STRATEGIES)


def anchor_strategies() -> tuple[str, ...]:
    """The sidebar's choices: every registered anchor strategy, then the user's own picks."""
    return (*drawn_strategies(), MANUAL)


def relative_projections() -> tuple[str, ...]:
    """Every registered relative projection, with cosine and its centred variant first, then the products of
    invariances (``product``: the cosine, euclidean, L1 and L-inf blocks side by side; ``product-mean``: averaged)."""
    return ("cosine", "cosine+center", *[p for p in PROJECTIONS if p != "cosine"], *PRODUCTS)


def map_kinds() -> tuple[str, ...]:
    return tuple(MAP_KINDS)


def map_label(kind: str) -> str:
    """How a map kind is written on the page (``PCA``, ``UMAP``, ``t-SNE``)."""
    return MAP_KINDS.meta(kind).get("label", kind)


def choices(field: str) -> tuple[str, ...]:
    """The values a choice field accepts, read from the library's registries now (a runtime registration shows)."""
    return {"strategy": anchor_strategies, "projection": relative_projections, "translator": lambda: tuple(TRANSLATORS),
            "map_kind": map_kinds, "color_by": lambda: COLOR_BY, "anchor_mode": lambda: tuple(ANCHOR_MODES),
            "sides": lambda: tuple(SIDES)}[field]()


@dataclass(frozen=True)
class Settings:
    encoder_a: str = DEFAULT_SCENARIO.encoder_a
    encoder_b: str = DEFAULT_SCENARIO.encoder_b
    dataset: str = DEFAULT_SCENARIO.dataset
    n_samples: int | None = DEFAULT_SCENARIO.n_samples  # None: all
    seed: int = DEFAULT_SCENARIO.seed
    strategy: str = "random"
    n_anchors: int = 300
    manual_anchors: tuple[str, ...] = ()
    projection: str = "cosine"
    translator: str = "procrustes"
    map_kind: str = "pca"
    color_by: str = "label"
    anchor_mode: str = policy.PARALLEL  # parallel anchors, a few known pairs + bootstrap, or none
    known_pairs: int = 10  # the bootstrap mode's known pairs
    sides: str = policy.SAME  # without parallel anchors: B holds the same samples (order hidden) or different ones
    encoder_c: str = NO_ENCODER  # an optional third encoder of the same samples, for the atlas ("": none)

    @property
    def aligned(self) -> bool:
        """Whether the pairs come from an alignment (bootstrap or unsupervised) instead of parallel anchors."""
        return self.anchor_mode != policy.PARALLEL

    @property
    def atlas_encoders(self) -> tuple[str, ...]:
        """The encoders whose spaces the atlas merges: A, B, and C when one is chosen."""
        return (self.encoder_a, self.encoder_b, *((self.encoder_c,) if self.encoder_c else ()))

    @property
    def scenario(self) -> Scenario:
        """The expensive part (what must be embedded): the key of everything computed from it."""
        return Scenario(self.encoder_a, self.encoder_b, self.dataset, self.n_samples, self.seed)


FORM_FIELDS = ("encoder_a", "encoder_b", "encoder_c", "dataset", "n_samples", "seed")  # applied with one button
LIVE_FIELDS = ("strategy", "n_anchors", "manual_anchors", "projection", "translator", "map_kind", "color_by",
               "anchor_mode", "known_pairs", "sides")
QUERY_NAMES = {"encoder_a": "a", "encoder_b": "b", "dataset": "data", "n_samples": "n", "seed": "seed",
               "strategy": "anchors", "n_anchors": "k", "manual_anchors": "manual", "projection": "proj",
               "translator": "tr", "map_kind": "map", "color_by": "color", "anchor_mode": "mode",
               "known_pairs": "pairs", "sides": "sides", "encoder_c": "c"}
CHOICE_FIELDS = ("strategy", "projection", "translator", "map_kind", "color_by", "anchor_mode", "sides")
MANUAL_SEPARATOR = "|"
SPEC_FIELDS = ("encoder_a", "encoder_b", "encoder_c", "dataset")  # never echoed: a refused one may be a server path
PAGE_PARAMS = ("step", "lance_a", "lance_b")  # URL parameters a page owns (the lesson step, the batch
# tables of the Upload page: checked there against the listing, safety.admit_table); kept when the settings
# are written
PAGE_PARAM_CHARS = 100  # characters of a page-owned value kept (a table name has at most 100)


@dataclass(frozen=True)
class Preset:
    label: str
    settings: Settings
    online: bool = False


PRESETS = (
    Preset("BBC news: MiniLM vs MPNet", Settings()),
    Preset("BBC news: MiniLM vs multilingual-E5", Settings(encoder_b="e5:multilingual-e5-small")),
    Preset("BBC news: MiniLM vs GloVe (anisotropic: try cosine+center)",
           Settings(encoder_b="glove:6B-50d", projection="cosine+center")),
    Preset("Fashion-MNIST: EfficientNet-Lite0 vs Lite2", Settings(
        encoder_a="effnet:lite0", encoder_b="effnet:lite2", dataset="fashion-mnist", n_samples=2000)),
    Preset("Digits: EfficientNet-Lite0 vs Lite1", Settings(
        encoder_a="effnet:lite0", encoder_b="effnet:lite1", dataset="digits", n_samples=None, n_anchors=200)),
    Preset("AG News: MiniLM vs bge-small", Settings(
        encoder_b="st:BAAI/bge-small-en-v1.5", dataset="hf:ag_news", n_samples=2000), online=True),
    Preset("CIFAR-10: CLIP image vs EfficientNet-Lite0", Settings(
        encoder_a="clip:ViT-B-32/openai:image", encoder_b="effnet:lite0", dataset="hf:cifar10", n_samples=2000),
        online=True),
)


def preset_label(preset: Preset) -> str:
    return f"{preset.label} {'(needs internet)' if preset.online else '(offline)'}"


def _one(value) -> str:
    return value[-1] if isinstance(value, list | tuple) else str(value)


def to_query(settings: Settings) -> dict[str, str]:
    """Only the fields that differ from the defaults, so the default view has a clean URL."""
    default = Settings()
    query = {}
    for field in dataclasses.fields(Settings):
        value = getattr(settings, field.name)
        if value == getattr(default, field.name):
            continue
        if field.name == "n_samples":
            value = "all" if value is None else str(value)
        elif field.name == "manual_anchors":
            value = MANUAL_SEPARATOR.join(value)
        query[QUERY_NAMES[field.name]] = str(value)
    return query


def from_query(params: Mapping, owned_uploads: Mapping[str, str] | None = None) -> tuple[Settings, list[str]]:
    """Settings from URL parameters; a bad value is dropped (default kept) and described in the list.

    A link is data from a stranger: encoders and datasets must be ones the app offers (:func:`safety.admit`),
    numbers are capped, and a problem quotes at most a short prefix of the value (as plain text: escape it
    before showing it as Markdown).
    """
    values, problems = {}, []
    for name, short in QUERY_NAMES.items():
        if short not in params:
            continue
        raw = _one(params[short]).strip()
        try:
            values[name] = _parse(name, raw, owned_uploads or {})
        except ValueError as exc:
            shown = short if name in SPEC_FIELDS else f"{short}={safety.cut(raw)}"  # a refused spec is not echoed
            problems.append(f"Ignored '{shown}' from the link: {exc}")
    return Settings(**values), problems


def _parse(name: str, raw: str, owned_uploads: Mapping[str, str]):
    caps = safety.limits()
    if len(raw) > caps.max_link_value:
        raise ValueError(f"it is {len(raw)} characters long (at most {caps.max_link_value})")
    if name in CHOICE_FIELDS:
        if raw not in choices(name):
            raise ValueError(f"choose one of {', '.join(choices(name))}")
        return raw
    if name == "n_samples":
        if raw.lower() == "all":
            return None
        return _bounded_int(raw, minimum=3, maximum=caps.max_samples)
    if name == "seed":
        return _bounded_int(raw, minimum=0, maximum=caps.max_seed)
    if name == "n_anchors":
        return min(_bounded_int(raw, minimum=2), policy.slider_max(None))
    if name == "known_pairs":
        return _bounded_int(raw, minimum=KNOWN_PAIRS[0], maximum=KNOWN_PAIRS[1])
    if name == "manual_anchors":
        ids = tuple(dict.fromkeys(part for part in raw.split(MANUAL_SEPARATOR) if part))
        if len(ids) > caps.max_manual_anchors:
            raise ValueError(f"{len(ids)} manual anchors (at most {caps.max_manual_anchors})")
        return ids
    if name == "encoder_c" and raw.lower() in (NO_ENCODER, "none"):
        return NO_ENCODER
    if not raw:
        raise ValueError("it is empty")
    role = "dataset" if name == "dataset" else "encoder"
    try:
        return safety.admit(raw, role, owned_uploads)
    except safety.RefusedSpec as exc:
        raise ValueError(str(exc)[0].lower() + str(exc)[1:]) from None


def _bounded_int(raw: str, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None
    if value < minimum:
        raise ValueError(f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be at most {maximum}")
    return value
