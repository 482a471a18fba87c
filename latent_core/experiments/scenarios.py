"""Experiment scenarios: the built-in offline ones, and custom ones from TOML or YAML files.

A scenario file holds the fields of :class:`ExperimentScenario` (lists as arrays, ``pairs`` as a list of
``[encoder_a, encoder_b]``). ``kind`` is ``stitching`` (zero-shot stitching between encoders of one
modality), ``asif`` (image classification from captions through anchor pairs) or ``clip`` (CLIP zero-shot,
and another image encoder stitched into CLIP's image space).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from latent_core.errors import ConfigError
from latent_core.stitching import DEFAULT_METHODS

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
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
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

    def encoders(self) -> list[str]:
        if self.kind == "stitching":
            return sorted({spec for pair in self.pairs for spec in pair})
        specs = [self.image_encoder, self.text_encoder]
        return specs + ([self.stitched_image_encoder] if self.stitched_image_encoder else [])

    def validate(self) -> ExperimentScenario:
        if self.kind not in ("stitching", "asif", "clip"):
            raise ConfigError(f"Scenario {self.name!r}: kind must be stitching, asif or clip, not {self.kind!r}.")
        if self.kind == "stitching" and not self.pairs:
            raise ConfigError(f"Scenario {self.name!r}: a stitching scenario needs 'pairs' of encoders.")
        for pair in self.pairs:
            if len(pair) != 2:
                raise ConfigError(f"Scenario {self.name!r}: each pair must name two encoders, got {pair!r}.")
        return self

    def reduced(self, n_samples: int, test_size: int, n_anchors: int, seeds: list[int]) -> ExperimentScenario:
        """A smaller copy for quick runs and CI (same code path)."""
        return dataclasses.replace(self, n_samples=n_samples, test_size=test_size, n_anchors=n_anchors, seeds=seeds,
                                   sweep_counts=[c for c in (10, 25, 50, n_anchors) if c <= n_anchors],
                                   sweep_strategies=self.sweep_strategies[:2], sweep_pairs=1)


BUILTIN: dict[str, ExperimentScenario] = {
    "text-bbc": ExperimentScenario(
        name="text-bbc", dataset="bbc", n_samples=None, test_size=900, n_anchors=300,
        pairs=[[MINILM, MPNET], [MPNET, MINILM], [MINILM, E5], [E5, MINILM], [MINILM, L3], [L3, MINILM],
               [MINILM, GLOVE], [GLOVE, MINILM]],
    ),
    "image-fashion": ExperimentScenario(
        name="image-fashion", dataset="fashion-mnist", n_samples=3000, test_size=1500, n_anchors=300,
        pairs=[["effnet:lite0", "effnet:lite2"], ["effnet:lite2", "effnet:lite0"]],
    ),
    "crossmodal-asif": ExperimentScenario(
        name="crossmodal-asif", kind="asif", dataset="captions",  # Fashion-MNIST, or digits without it
        n_samples=3000, test_size=0.5,
        n_anchors=300, image_encoder="effnet:lite0", text_encoder=MINILM,
        sweep_counts=[25, 50, 100, 200, 300, 500, 700, 1000],
    ),
}


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
