"""Tiny fake encoders for AppTest: fast, deterministic, no model files.

``fake:text-a`` / ``fake:text-b`` hash words into 64 bins; ``fake:image-a`` / ``fake:image-b`` shrink an image
to 8 x 8 grey pixels (``-c`` of either: a third space, the atlas's encoder C). Each name then applies its own
seeded random linear map (and ``-b`` a tanh), so A and B are two different spaces of the same samples, related by
an (almost) linear map, like real encoders.
Importing this module registers the backend in this process (AppTest runs the app in the same process).
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np
from PIL import Image

from latent_core.encoders.base import Encoder, register_backend
from latent_core.errors import UnknownEncoderError

FEATURES = 64
DIMS = {"a": 32, "b": 48, "c": 24}  # c: a third space (the atlas's encoder C)


class FakeEncoder(Encoder):
    def __init__(self, name: str, device=None) -> None:
        super().__init__(device)
        modality, _, variant = name.partition("-")
        if modality not in ("text", "image") or variant not in DIMS:
            raise UnknownEncoderError(f"Unknown fake encoder {name!r}: use fake:<text|image>-<a|b|c>.")
        self.spec, self.modality, self.variant, self.dim = f"fake:{name}", modality, variant, DIMS[variant]
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.matrix = rng.normal(size=(FEATURES, self.dim)).astype(np.float32)

    def _compute_fingerprint(self) -> str:
        return hashlib.sha256(self.spec.encode() + self.matrix.tobytes()).hexdigest()[:16]

    def _features(self, item) -> np.ndarray:
        out = np.zeros(FEATURES, dtype=np.float32)
        if self.modality == "text":
            for word in str(item).lower().split():
                out[zlib.crc32(word.encode()) % FEATURES] += 1.0
        else:
            out[:] = np.asarray(item.convert("L").resize((8, 8), Image.BILINEAR), dtype=np.float32).ravel() / 255
        return out / max(np.linalg.norm(out), 1e-6)

    def _encode_batch(self, batch):
        z = np.stack([self._features(item) for item in batch]) @ self.matrix
        return np.tanh(z) if self.variant == "b" else z


# No catalogue entry: list_encoders() stays the real ones (other tests iterate it). Its specs are names.
@register_backend("fake", kind="name")
def _fake(rest: str, device=None) -> Encoder:
    return FakeEncoder(rest, device)
