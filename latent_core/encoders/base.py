"""The Encoder interface, the backend registry and the catalogue behind ``list_encoders``."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from latent_core.config import DEFAULT_BATCH_SIZE
from latent_core.device import get_device
from latent_core.errors import UnknownEncoderError
from latent_core.fingerprint import files_fingerprint, module_fingerprint
from latent_core.resources import packages_installed as packages_installed  # moved there; re-exported

Modality = Literal["text", "image"]
Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each batch."""

LOG = logging.getLogger("latent_core.encoders")
MODEL_LOADS: Counter[str] = Counter()
"""How many times each spec's weights were loaded in this process (a :func:`lazy` slot filled); for tests."""
_LOCK_GUARD = threading.Lock()


class lazy:  # noqa: N801 - used as a decorator, like functools.cached_property
    """A per-instance slot built on first use, once, under the instance's lock: ``@lazy def model(self): ...``.

    Encoders keep their weights in such slots so that building one, its :attr:`Encoder.fingerprint` (hashed from
    the weight files) and a cache hit load nothing; the first ``encode`` does. The built value lands in the
    instance ``__dict__`` under the same name (``"model" in encoder.__dict__`` says whether it was loaded), and
    assigning the attribute replaces it, as with :func:`functools.cached_property`.
    """

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        # Once built, the instance __dict__ answers and this is not called again (a non-data descriptor).
        with _LOCK_GUARD:
            lock = obj.__dict__.setdefault("_load_lock", threading.RLock())
        with lock:
            if self.name not in obj.__dict__:
                LOG.info("loading %s of %s", self.name, getattr(obj, "spec", type(obj).__name__))
                obj.__dict__[self.name] = self.build(obj)
                MODEL_LOADS[getattr(obj, "spec", type(obj).__name__)] += 1
            return obj.__dict__[self.name]


def is_loaded(encoder: Encoder, name: str = "model") -> bool:
    """Whether the :func:`lazy` slot ``name`` of ``encoder`` has been built (always True for a plain attribute)."""
    return not isinstance(getattr(type(encoder), name, None), lazy) or name in encoder.__dict__


class Encoder(ABC):
    """Turns texts or images into float32 embeddings ``[N, D]`` on :attr:`device`.

    Attributes:
        spec: the registry string this encoder was built from.
        modality: ``"text"`` or ``"image"``.
        dim: the embedding dimension D.
        offline: whether it loaded without the network.
        device: where the output tensors live.
    """

    spec: str
    modality: Modality
    dim: int
    offline: bool = True
    max_tokens: int | None = None  # text encoders: tokens read per input (the tokenizer cuts the rest)
    weight_files: Sequence[Path] = ()  # files whose contents are the weights (hashed for the fingerprint)
    _fingerprint: str | None = None

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = get_device(device)

    @abstractmethod
    def _encode_batch(self, batch: Sequence[Any]) -> np.ndarray | torch.Tensor:
        """Embed one batch; returns ``[len(batch), dim]``."""

    @property
    def fingerprint(self) -> str:
        """A hash of the weights (the encoder part of an embedding cache key); computed once."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        if self.weight_files:
            return files_fingerprint(self.weight_files)
        return module_fingerprint(self.model)  # weights that are not files (hub models, random init)

    @property
    def preprocessing(self) -> str:
        """A description of the input preprocessing, part of the cache key."""
        return "default"

    def encode(
        self, items: Sequence[Any], batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
    ) -> torch.Tensor:
        """Embed ``items`` (texts or PIL images) in batches.

        Returns:
            ``[len(items), dim]`` float32 tensor on :attr:`device`.
        """
        items = list(items)
        total = len(items)
        if total == 0:
            return torch.empty(0, self.dim, dtype=torch.float32, device=self.device)
        # Texts of similar length share a batch, so little time is spent on padding tokens.
        order = np.argsort([-len(t) for t in items], kind="stable") if self.modality == "text" else np.arange(total)
        chunks: list[torch.Tensor] = []
        with torch.inference_mode():
            for start in range(0, total, batch_size):
                out = self._encode_batch([items[i] for i in order[start : start + batch_size]])
                out = out if torch.is_tensor(out) else torch.from_numpy(np.asarray(out))
                chunks.append(out.detach().to("cpu", torch.float32))
                if progress is not None:
                    progress(min(start + batch_size, total), total)
        stacked = torch.cat(chunks)
        result = torch.empty_like(stacked)
        result[torch.from_numpy(order)] = stacked
        return result.to(self.device)

    def encode_dataset(self, dataset, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None):
        """Embed every item of a :class:`~latent_core.data.Dataset` (overridden by precomputed files)."""
        return self.encode(dataset.items, batch_size=batch_size, progress=progress)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r}, dim={self.dim}, device={self.device})"


@dataclass(frozen=True)
class EncoderInfo:
    """One row of :func:`list_encoders`.

    Attributes:
        spec: what to pass to ``get_encoder``.
        label: a short human name.
        modality: ``"text"`` or ``"image"``.
        dim: embedding dimension.
        offline: works without the network (weights ship in an installed package).
        available: can be loaded right now (its packages are installed; for online ones, not a promise
            that the hub is reachable).
        note: why it is not available, or what it is.
    """

    spec: str
    label: str
    modality: Modality
    dim: int
    offline: bool
    available: bool
    note: str = ""


Factory = Callable[[str, "str | torch.device | None"], Encoder]
SpecKind = Literal["name", "hub", "path"]
"""What a spec points at: a model this machine has by name, a hub id (downloads), or a file or folder."""
KindRule = SpecKind | Callable[[str], SpecKind]
_BACKENDS: dict[str, Factory] = {}
_KINDS: dict[str, KindRule] = {}
_CATALOG: list[Callable[[], list[EncoderInfo]]] = []


def register_backend(prefix: str, catalog: Callable[[], list[EncoderInfo]] | None = None, kind: KindRule = "path"):
    """Decorator: ``factory(rest_of_spec, device) -> Encoder`` handles specs ``"<prefix>:..."``.

    ``kind`` says what the rest of a spec names (``"name"``, ``"hub"`` or ``"path"``), or is a function of the
    rest that says it. The default is ``"path"``: a backend that does not declare its specs harmless is never
    loaded from a link.
    """

    def wrap(factory: Factory) -> Factory:
        _BACKENDS[prefix] = factory
        _KINDS[prefix] = kind
        if catalog is not None:
            _CATALOG.append(catalog)
        return factory

    return wrap


def spec_kind(spec: str) -> SpecKind:
    """``"name"``, ``"hub"`` or ``"path"``: whether ``spec`` names a model on this machine, a hub id, or a file.

    Raises:
        UnknownEncoderError: the spec names no backend.
    """
    prefix, rest = split_spec(spec)
    rule = _KINDS[prefix]
    return rule(rest) if callable(rule) else rule


def split_spec(spec: str) -> tuple[str, str]:
    if not isinstance(spec, str) or ":" not in spec:
        raise UnknownEncoderError(
            f"Encoder spec {spec!r} has no backend prefix. Use '<backend>:<name>', e.g. "
            f"'st:sentence-transformers/all-MiniLM-L6-v2'. Backends: {', '.join(sorted(_BACKENDS))}."
        )
    prefix, rest = spec.split(":", 1)
    prefix = prefix.strip().lower()
    if prefix not in _BACKENDS:
        raise UnknownEncoderError(
            f"Unknown encoder backend {prefix!r} in {spec!r}. Backends: {', '.join(sorted(_BACKENDS))}."
        )
    if not rest.strip():
        raise UnknownEncoderError(f"Encoder spec {spec!r} names no model after '{prefix}:'.")
    return prefix, rest.strip()


SHORT_NAME_CHARS = 60  # longer short names (a long hub id or file name) are cut, with an ellipsis


def short_name(spec: str) -> str:
    """The model part of an encoder spec, for figure titles and table rows: what follows the last ``/`` (trailing
    slashes ignored), then what follows its last ``:``, cut to :data:`SHORT_NAME_CHARS` characters.

    ``st:sentence-transformers/all-MiniLM-L6-v2`` -> ``all-MiniLM-L6-v2``, ``effnet:lite0`` -> ``lite0``,
    ``st:/models/mine`` -> ``mine``, ``file:/data/emb.npy`` -> ``emb.npy``, ``clip:ViT-B-32/openai:image`` ->
    ``image``. A spec with nothing there (``st:``) is shown whole. The spec is not checked against the backends.
    """
    text = str(spec)
    name = text.rstrip("/").split("/")[-1].split(":")[-1] or text
    return name if len(name) <= SHORT_NAME_CHARS else name[: SHORT_NAME_CHARS - 1] + "…"


def backend(prefix: str) -> Factory:
    return _BACKENDS[prefix]


def catalog() -> list[EncoderInfo]:
    return [info for make in _CATALOG for info in make()]
