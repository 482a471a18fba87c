"""open_clip backend: the image tower and the text tower of a CLIP model, as two encoders.

Spec: ``clip:<model>/<pretrained>:<tower>``, e.g. ``clip:ViT-B-32/openai:image`` and
``clip:ViT-B-32/openai:text``. ``<pretrained>`` = ``none`` builds the architecture with random weights
(seeded, so it is reproducible): no download, for testing the code path offline. Pretrained weights come
from the hub (online) unless already in the local cache.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import torch

from latent_core.encoders.base import Encoder, EncoderInfo, register_backend
from latent_core.errors import EncoderUnavailableError, UnknownEncoderError
from latent_core.fingerprint import module_fingerprint
from latent_core.resources import hub_session, packages_installed

RANDOM_INIT_SEED = 0


def parse_clip_spec(rest: str) -> tuple[str, str | None, str]:
    """``"ViT-B-32/openai:image"`` -> ``("ViT-B-32", "openai", "image")``; ``none`` -> ``None``."""
    body, _, tower = rest.rpartition(":")
    model, _, pretrained = body.partition("/")
    if not body or tower not in {"image", "text"} or not model or not pretrained:
        raise UnknownEncoderError(
            f"Bad CLIP spec 'clip:{rest}': use 'clip:<model>/<pretrained>:<image|text>', "
            "e.g. 'clip:ViT-B-32/openai:image' or 'clip:ViT-B-32/none:text' (random weights)."
        )
    return model, (None if pretrained.lower() == "none" else pretrained), tower


_SAFE_SPEC = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*:(image|text)")


def spec_kind(rest: str) -> str:
    """Random weights are a name, an open_clip tag a hub download; anything else (``local-dir:``, ``hf-hub:``,
    a checkpoint path) may read a file."""
    if not _SAFE_SPEC.fullmatch(rest.strip()) or ".." in rest:
        return "path"
    return "name" if parse_clip_spec(rest.strip())[1] is None else "hub"


@functools.lru_cache(maxsize=4)
def _load_clip(model_name: str, pretrained: str | None):
    """One model shared by the two towers of a pair; returns (model, preprocess, tokenizer)."""
    from latent_core._compat.torchvision_ops import ensure_torchvision_importable

    ensure_torchvision_importable()
    import open_clip

    if model_name not in open_clip.list_models():
        raise UnknownEncoderError(f"Unknown open_clip model {model_name!r}. See open_clip.list_models().")
    if pretrained is None:
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_INIT_SEED)
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=None)
    else:
        tags = {tag for name, tag in open_clip.list_pretrained() if name == model_name}
        if pretrained not in tags:
            raise UnknownEncoderError(
                f"open_clip has no pretrained tag {pretrained!r} for {model_name}: {sorted(tags)}."
            )
        failure = None
        with hub_session() as online:  # offline, weights already in the local cache still load
            try:
                model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
            except Exception as exc:  # noqa: BLE001 - download and cache failures look alike
                failure = exc
        if failure is not None:
            reason = (f"{type(failure).__name__}: {failure}" if online
                      else "offline: the Hugging Face hub cannot be reached")
            raise EncoderUnavailableError(
                f"CLIP weights {model_name}/{pretrained} could not be loaded ({reason}). They download from "
                "the Hugging Face hub on first use: connect once, then they work offline from the cache. "
                "Offline, use 'clip:ViT-B-32/none:image' (random weights, code path only) or the "
                "EfficientNet + MiniLM pair through ASIF."
            ) from failure
    return model.eval(), preprocess, open_clip.get_tokenizer(model_name)


class OpenClipEncoder(Encoder):
    """One tower of an open_clip model. Outputs the (unnormalised) projected embeddings."""

    def __init__(self, rest: str, device=None) -> None:
        super().__init__(device)
        self.model_name, self.pretrained, self.modality = parse_clip_spec(rest)
        tag = self.pretrained or "none"
        self.spec = f"clip:{self.model_name}/{tag}:{self.modality}"
        model, self._preprocess, self._tokenizer = _load_clip(self.model_name, self.pretrained)
        self.model = model.to(self.device)
        self.offline = self.pretrained is None
        self.dim = int(self.model.text_projection.shape[1] if hasattr(self.model, "text_projection")
                       and self.model.text_projection is not None else self.model.visual.output_dim)

    def _compute_fingerprint(self) -> str:
        return module_fingerprint(self.model.visual if self.modality == "image" else self.model)

    @property
    def preprocessing(self) -> str:
        return repr(self._preprocess) if self.modality == "image" else "open_clip tokenizer"

    def _encode_batch(self, batch: Sequence) -> torch.Tensor:
        if self.modality == "image":
            pixels = torch.stack([self._preprocess(image.convert("RGB")) for image in batch]).to(self.device)
            return self.model.encode_image(pixels)
        tokens = self._tokenizer(list(batch)).to(self.device)
        return self.model.encode_text(tokens)


def _catalog() -> list[EncoderInfo]:
    ok = packages_installed("open_clip")
    rows = []
    for tower in ("image", "text"):
        rows.append(EncoderInfo(f"clip:ViT-B-32/openai:{tower}", f"CLIP ViT-B/32 {tower} (OpenAI)", tower, 512,
                                False, ok, "weights download from the Hugging Face hub"))
        rows.append(EncoderInfo(f"clip:ViT-B-32/none:{tower}", f"CLIP ViT-B/32 {tower} (random weights)", tower,
                                512, True, ok, "random weights: tests the code path, meaningless embeddings"))
    return rows


@register_backend("clip", _catalog, kind=spec_kind)
def _make(rest: str, device=None) -> OpenClipEncoder:
    if not packages_installed("open_clip"):
        raise EncoderUnavailableError("open_clip is not installed: pip install open_clip_torch==3.3.0")
    return OpenClipEncoder(rest, device=device)
