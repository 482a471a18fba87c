"""Experiment scenarios: the built-in offline ones, and custom ones from TOML or YAML files.

A scenario file holds the fields of :class:`ExperimentScenario` (lists as arrays, ``pairs`` as a list of
``[encoder_a, encoder_b]``). ``kind`` is ``stitching`` (zero-shot stitching between encoders of one
modality), ``asif`` (image classification from captions through anchor pairs), ``clip`` (CLIP zero-shot,
and another image encoder stitched into CLIP's image space) or ``alignment`` (few and zero anchors: each pair
aligned from ``n_seed_pairs`` known pairs and from none, both directions, against ``n_anchors`` true anchors;
:mod:`latent_core.experiments.alignment`).

A stitching scenario may transform every pair's B space after embedding (``b_transform``, :data:`B_TRANSFORMS`):
``shift-scale`` rescales each dimension j by ``exp(N(0, b_log_scale^2))`` and translates it by
``N(0, (b_shift * std_j)^2)`` (``std_j``: B's own std of dimension j over the dataset), drawn from
``b_transform_seed`` (one draw per B encoder, the same in every pair and seed): the translation breaks cosine, while
distances only bend under the rescaling. The built-in ``text-bbc-shift-scale`` runs it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from latent_core._scalars import describe
from latent_core.anchors import STRATEGIES
from latent_core.encoders.base import split_spec
from latent_core.errors import ConfigError, InvalidParameterError
from latent_core.heads import HEADS
from latent_core.stitching import (
    CENTER_SUFFIX,
    SELECT_PROJECTION,
    default_methods,
    parse_method,
    relative_names,
    table_methods,
)
from latent_core.translate import TRANSLATORS

MINILM = "st:sentence-transformers/all-MiniLM-L6-v2"
MPNET = "st:sentence-transformers/all-mpnet-base-v2"
E5 = "e5:multilingual-e5-small"
L3 = "onnx:paraphrase-MiniLM-L3-v2"
GLOVE = "glove:6B-50d"


@dataclass
class ExperimentScenario:
    name: str
    kind: str = "stitching"
    dataset: str = "bbc"
    n_samples: int | None = None
    sample_seed: int = 0
    # stitching
    pairs: list[list[str]] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: list(default_methods()))  # the translators registered now
    n_anchors: int = 300
    test_size: int | float = 900
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    strategy: str = "random"
    head: str = "logreg"
    sweep_pairs: int = 2  # the first pairs also get the sweeps
    sweep_counts: list[int] = field(default_factory=list)  # empty: 10 ... the most the data allows
    sweep_strategies: list[str] = field(default_factory=lambda: ["random", "stratified", "kmeans", "fps"])
    sweep_methods: list[str] = field(default_factory=lambda: ["absolute", "relative:cosine", "translate:procrustes"])
    sweep_seeds: list[int] = field(default_factory=lambda: [0])
    # asif / clip
    image_encoder: str = "effnet:lite0"
    text_encoder: str = MINILM
    prompt_template: str = "a photo of {}."
    topk: int = 50
    power: float = 3.0
    knn_k: int = 10
    stitched_image_encoder: str | None = None  # clip: another image encoder translated into CLIP's space
    translator: str = "linear"
    online: bool = False
    # alignment (pairs, n_anchors = the true-anchor baseline, test_size, seeds and head as above)
    modes: list[str] = field(default_factory=lambda: ["bootstrap", "unsupervised"])
    sides: list[str] = field(default_factory=lambda: ["same", "different"])
    n_seed_pairs: int = 10
    unpaired_method: str = "auto"
    # stitching: a transform of every pair's B space after embedding (None: B as embedded)
    b_transform: str | None = None
    b_transform_seed: int = 0
    b_log_scale: float = 0.3  # std of log(per-dimension scale)
    b_shift: float = 2.0  # std of the per-dimension translation, in units of that dimension's std
    # stitching: Charts to Atlas (latent_core.atlas) on the same splits, anchors and head as the stitching table
    atlas_projections: list[str] = field(default_factory=lambda: ["cosine"])  # empty: no atlas comparison
    atlas_groups: list[list[str]] = field(default_factory=list)  # 2+ encoders each; empty: the pairs, as stitched
    atlas_all_encoders: bool = False  # also one atlas of every encoder of the pairs (as embedded), when 3 or more

    def describe_b_transform(self) -> str:
        """The B transform in words (empty when there is none), for the report's intro line."""
        if self.b_transform is None:
            return ""
        return (f"B is transformed after embedding ({self.b_transform}, seed {self.b_transform_seed}): per dimension "
                f"j, B_j * exp(N(0, {self.b_log_scale:g}^2)) + N(0, ({self.b_shift:g} std_j)^2), std_j being B's own "
                f"std of dimension j over the dataset.")

    def encoders(self) -> list[str]:
        if self.kind == "stitching":
            return sorted({spec for group in [*self.pairs, *self.atlas_groups] for spec in group})
        if self.kind == "alignment":
            return sorted({spec for pair in self.pairs for spec in pair})
        specs = [self.image_encoder, self.text_encoder]
        return specs + ([self.stitched_image_encoder] if self.stitched_image_encoder else [])

    def validate(self) -> ExperimentScenario:
        """Type-check every field (before anything is loaded or encoded): a :class:`ConfigError` naming the
        field, the value given and the type expected."""
        name = self.name if isinstance(self.name, str) else describe(self.name)
        for field_name, (check, expected) in _FIELD_CHECKS.items():
            value = getattr(self, field_name)
            if not check(value):
                expected = expected() if callable(expected) else expected
                raise ConfigError(f"Scenario {name!r}: {field_name} must be {expected}, got {describe(value)}.")
        if self.kind not in KINDS:
            raise ConfigError(f"Scenario {self.name!r}: kind must be {', '.join(KINDS)}, not {self.kind!r}.")
        if self.kind in ("stitching", "alignment") and not self.pairs:
            article = "an" if self.kind == "alignment" else "a"
            raise ConfigError(f"Scenario {self.name!r}: {article} {self.kind} scenario needs 'pairs' of encoders.")
        for pair in self.pairs:
            if len(pair) != 2:
                raise ConfigError(f"Scenario {self.name!r}: each pair must name two encoders, got {pair!r}.")
        for field_name in ("methods", "sweep_methods"):
            for method in getattr(self, field_name):
                try:
                    parse_method(method)
                except InvalidParameterError as error:
                    raise ConfigError(f"Scenario {self.name!r}: {field_name}: {error}") from None
        for group in self.atlas_groups:
            if len(set(group)) != len(group):
                raise ConfigError(f"Scenario {self.name!r}: atlas_groups: {group!r} names an encoder twice.")
        if self.b_transform is not None and self.kind != "stitching":
            raise ConfigError(f"Scenario {self.name!r}: b_transform applies to stitching scenarios only, not "
                              f"{self.kind!r}.")
        for spec in self.encoders():
            split_spec(spec)  # UnknownEncoderError for a spec without a backend, before any encoding
        return self

    def reduced(self, n_samples: int, test_size: int, n_anchors: int, seeds: list[int]) -> ExperimentScenario:
        """A smaller copy for quick runs and CI (same code path)."""
        return dataclasses.replace(self, n_samples=n_samples, test_size=test_size, n_anchors=n_anchors, seeds=seeds,
                                   sweep_counts=[c for c in (10, 25, 50, n_anchors) if c <= n_anchors],
                                   sweep_strategies=self.sweep_strategies[:2], sweep_pairs=1)


def _is_int(value, minimum: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)


def _is_number(value, positive: bool = False) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value and (
        not positive or value > 0) and abs(value) != float("inf")


def _is_str(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _list_of(check):
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _one_of(options):
    return lambda value: isinstance(value, str) and value in options


def _is_atlas_projection(value) -> bool:
    """A projection :class:`latent_core.atlas.Atlas` can use: a relative projection or a product, optionally
    ``+center`` (not ``product-select``, which needs a pair of spaces)."""
    if not isinstance(value, str):
        return False
    return value.removesuffix(CENTER_SUFFIX) in _atlas_names()


def _atlas_names() -> list[str]:
    return [name for name in relative_names() if name != SELECT_PROJECTION]


def _unpaired_methods() -> tuple[str, ...]:
    from latent_core.correspondence import UNPAIRED_METHODS  # POT and scipy load only when this is checked

    return UNPAIRED_METHODS


def _choices(options):
    """A non-empty list of distinct items of ``options``."""
    return lambda value: (isinstance(value, list) and bool(value) and len(set(map(str, value))) == len(value)
                          and all(isinstance(v, str) and v in options for v in value))


KINDS = ("stitching", "asif", "clip", "alignment")
B_TRANSFORMS = ("shift-scale",)  # applied by latent_core.experiments.run.transform_space

# field -> (check, what is expected, or a function saying it): every field of ExperimentScenario, checked by validate().
_FIELD_CHECKS = {
    "name": (_is_str, "a non-empty string"),
    "kind": (_one_of(KINDS), f"one of {', '.join(repr(k) for k in KINDS)}"),
    "dataset": (_is_str, "a dataset spec string such as 'bbc'"),
    "n_samples": (lambda v: v is None or _is_int(v, 1), "a positive integer (or absent for all samples)"),
    "sample_seed": (_is_int, "an integer"),
    "pairs": (_list_of(lambda p: isinstance(p, list) and len(p) == 2 and all(_is_str(s) for s in p)),
              "a list of [encoder_a, encoder_b] pairs of encoder specs"),
    "methods": (_list_of(_is_str), "a list of stitching methods such as 'relative:cosine'"),
    "n_anchors": (lambda v: _is_int(v, 2), "an integer of at least 2"),
    "test_size": (lambda v: _is_number(v, positive=True) and (v < 1 or float(v).is_integer()),
                  "a number of test samples (integer) or a fraction in (0, 1)"),
    "seeds": (lambda v: _list_of(_is_int)(v) and bool(v), "a non-empty list of integers"),
    "strategy": (_one_of(STRATEGIES), f"one of {', '.join(repr(s) for s in STRATEGIES)}"),
    "head": (_one_of(HEADS), f"one of {', '.join(repr(h) for h in HEADS)}"),
    "sweep_pairs": (lambda v: _is_int(v, 0), "a non-negative integer"),
    "sweep_counts": (_list_of(lambda v: _is_int(v, 2)), "a list of integers of at least 2"),
    "sweep_strategies": (_list_of(_one_of(STRATEGIES)), f"a list of anchor strategies ({', '.join(STRATEGIES)})"),
    "sweep_methods": (_list_of(_is_str), "a list of stitching methods such as 'relative:cosine'"),
    "sweep_seeds": (_list_of(_is_int), "a list of integers"),
    "image_encoder": (_is_str, "an encoder spec string such as 'effnet:lite0'"),
    "text_encoder": (_is_str, "an encoder spec string such as 'st:sentence-transformers/all-MiniLM-L6-v2'"),
    "prompt_template": (lambda v: isinstance(v, str) and "{}" in v, "a string containing '{}' for the class name"),
    "topk": (lambda v: v is None or _is_int(v, 1), "a positive integer"),
    "power": (lambda v: v is None or _is_number(v, positive=True), "a positive number"),
    "knn_k": (lambda v: _is_int(v, 1), "a positive integer"),
    "stitched_image_encoder": (lambda v: v is None or _is_str(v), "an encoder spec string (or absent)"),
    "translator": (_one_of(TRANSLATORS), lambda: f"one of {', '.join(repr(t) for t in TRANSLATORS)}"),  # registry now
    "online": (lambda v: isinstance(v, bool), "true or false"),
    "modes": (_choices(("bootstrap", "unsupervised")), "a non-empty list of 'bootstrap', 'unsupervised'"),
    "sides": (_choices(("same", "different")), "a non-empty list of 'same', 'different'"),
    "n_seed_pairs": (lambda v: _is_int(v, 3), "an integer of at least 3 (known pairs to bootstrap from)"),
    "unpaired_method": (lambda v: v == "auto" or _one_of(_unpaired_methods())(v),  # no POT import for the default
                        lambda: f"one of {', '.join(repr(m) for m in _unpaired_methods())}"),
    "b_transform": (lambda v: v is None or _one_of(B_TRANSFORMS)(v),
                    f"one of {', '.join(repr(t) for t in B_TRANSFORMS)} (or absent for none)"),
    "b_transform_seed": (_is_int, "an integer"),
    "b_log_scale": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
    "b_shift": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
    "atlas_projections": (_list_of(_is_atlas_projection),
                          lambda: f"a list of relative projections for the atlas ({', '.join(_atlas_names())}"
                                  f", each optionally ending in {CENTER_SUFFIX!r})"),
    "atlas_groups": (_list_of(lambda g: isinstance(g, list) and len(g) >= 2 and all(_is_str(s) for s in g)),
                     "a list of encoder lists, each of at least 2 encoder specs"),
    "atlas_all_encoders": (lambda v: isinstance(v, bool), "true or false"),
}


def stitching_methods() -> list[str]:
    """The built-in stitching scenarios' methods: absolute, relative cosine (plain and centred), the other single
    relative projections (angular, euclidean, L1, L-inf), the products of invariances (``product``,
    ``product-mean``, ``product-select``) and every registered translator
    (:func:`latent_core.stitching.table_methods`, read now). A scenario file without ``methods`` keeps the shorter
    :func:`latent_core.stitching.default_methods`."""
    return list(table_methods())


BUILTIN: dict[str, ExperimentScenario] = {
    "text-bbc": ExperimentScenario(
        name="text-bbc", dataset="bbc", n_samples=None, test_size=900, n_anchors=300, methods=stitching_methods(),
        pairs=[[MINILM, MPNET], [MPNET, MINILM], [MINILM, E5], [E5, MINILM], [MINILM, L3], [L3, MINILM],
               [MINILM, GLOVE], [GLOVE, MINILM]],
        atlas_projections=["cosine", "cosine+center"],  # plain cosine fails on E5 and GloVe; centring recovers them
        atlas_all_encoders=True,  # and one atlas of all five encoders (embedded for the pairs anyway)
    ),
    "image-fashion": ExperimentScenario(
        name="image-fashion", dataset="fashion-mnist", n_samples=3000, test_size=1500, n_anchors=300,
        methods=stitching_methods(),
        pairs=[["effnet:lite0", "effnet:lite2"], ["effnet:lite2", "effnet:lite0"]],
    ),
    "crossmodal-asif": ExperimentScenario(
        name="crossmodal-asif", kind="asif", dataset="captions",  # Fashion-MNIST, or digits without it
        n_samples=3000, test_size=0.5,
        n_anchors=300, image_encoder="effnet:lite0", text_encoder=MINILM,
        sweep_counts=[25, 50, 100, 200, 300, 500, 700, 1000],
    ),
    "align-bbc": ExperimentScenario(  # the bundled embeddings: no encoding
        name="align-bbc", kind="alignment", dataset="bbc", n_samples=None, test_size=900, n_anchors=300,
        pairs=[[MINILM, MPNET]],
    ),
    "align-fashion": ExperimentScenario(  # 2200 images: a pool of 1300 beside the 900 test images
        name="align-fashion", kind="alignment", dataset="fashion-mnist", n_samples=2200, test_size=900,
        n_anchors=300, pairs=[["effnet:lite0", "effnet:lite2"]],
    ),
    "text-bbc-shift-scale": ExperimentScenario(  # cosine's invariance broken on purpose: what the products buy
        name="text-bbc-shift-scale", dataset="bbc", n_samples=None, test_size=900, n_anchors=300,
        methods=stitching_methods(), pairs=[[MINILM, MINILM], [MINILM, MPNET], [MPNET, MINILM]], sweep_pairs=0,
        b_transform="shift-scale", b_transform_seed=0, b_log_scale=0.3, b_shift=2.0,
        atlas_projections=["cosine", "cosine+center"],  # the atlas of each pair as stitched: A, and B transformed
    ),
}


def scenario_names() -> list[str]:
    """Every scenario :func:`load_scenario` knows by name."""
    return list(BUILTIN)


CROSSMODAL_SCENARIO = dataclasses.replace(
    BUILTIN["crossmodal-asif"], name="crossmodal-page", n_samples=1000, sample_seed=0,
    sweep_counts=[25, 50, 100, 200, 300, 500],
)
"""What the Cross-modal page opens on: the ``crossmodal-asif`` experiment's models, prompts and ASIF settings
(EfficientNet-Lite0 images, MiniLM captions, Fashion-MNIST or digits without it) on 1000 samples, whose
1000 image and 1000 caption embeddings ship in ``assets/embeddings`` (see :mod:`latent_core.bundle`; encoding
the images took 72-158 s on 2 CPU cores)."""


def load_scenario(name_or_path: str) -> ExperimentScenario:
    """A built-in scenario by name, or one read from a ``.toml`` / ``.yaml`` / ``.yml`` file."""
    if name_or_path in BUILTIN:
        return dataclasses.replace(BUILTIN[name_or_path]).validate()
    path = Path(name_or_path)
    if not path.exists():
        raise ConfigError(
            f"No scenario {name_or_path!r}: use one of {', '.join(BUILTIN)} or a path to a TOML/YAML file."
        )
    text = path.read_text()
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            raw = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raise ConfigError(f"Scenario files are .toml, .yaml or .yml, not {path.suffix!r}.")
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - parser errors differ between formats
        raise ConfigError(f"Could not parse scenario file {path.name}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"Scenario file {path.name} must hold a table of settings.")
    known = {f.name for f in dataclasses.fields(ExperimentScenario)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"Unknown settings in {path.name}: {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
    raw.setdefault("name", path.stem)
    return ExperimentScenario(**raw).validate()
