"""Precomputed embeddings from a user's file (``.npy`` or ``.parquet``; pickle is never read).

Spec: ``file:<path>``, optionally followed by ``#id=<column>`` (parquet: align by an id column instead of
row order) and ``&modality=image``. Parquet embeddings are a list-valued ``embedding`` column, or else
every numeric column except the id column.

Row order alignment accepts a file with one row per sample of the dataset as loaded, or one row per
sample of the full source (then a subsample picks its rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import torch

from latent_core.encoders.base import Encoder, register_backend
from latent_core.errors import EmbeddingAlignmentError, EmbeddingFormatError, EncoderUnavailableError


def read_embedding_file(path: Path, id_column: str | None = None,
                        name: str | None = None) -> tuple[np.ndarray, list[str] | None]:
    """Read ``[N, D]`` float32 embeddings (and ids when ``id_column`` is given) from .npy or .parquet.

    ``name`` is how messages call the file (default: its file name), e.g. the name a user uploaded it under."""
    label = name or path.name
    if not path.exists():
        raise EmbeddingFormatError(f"Embedding file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    ids = None
    if suffix == ".npy":
        if id_column is not None:
            raise EmbeddingFormatError("An .npy file has no columns: align it by row order (drop '#id=...').")
        try:
            raw = np.load(path, allow_pickle=False)
        except ValueError as exc:  # object arrays need pickle, which is never read (numpy's text says otherwise)
            raise EmbeddingFormatError(
                f"{label} is not a plain numeric array: it is not an .npy file, or it holds Python objects (which "
                "would need pickle, and pickle is never read). Save a float array with "
                "np.save(path, x.astype('float32'))."
            ) from exc
        except OSError as exc:
            raise EmbeddingFormatError(f"{label} is not a readable .npy file ({exc}).") from exc
    elif suffix == ".parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for bad files
            raise EmbeddingFormatError(f"{label} is not a readable Parquet file ({exc}).") from exc
        if id_column is not None:
            if id_column not in frame.columns:
                raise EmbeddingFormatError(
                    f"{label} has no id column {id_column!r}; columns: {list(frame.columns)[:10]}."
                )
            ids = frame[id_column].astype(str).tolist()
            frame = frame.drop(columns=[id_column])
        if "embedding" in frame.columns:
            try:
                raw = np.stack([np.asarray(v, dtype=np.float32) for v in frame["embedding"]])
            except (ValueError, TypeError) as exc:
                raise EmbeddingFormatError(
                    f"The 'embedding' column of {label} is not numeric vectors of one length."
                ) from exc
        else:
            numeric = frame.select_dtypes(include="number")
            if numeric.shape[1] == 0:
                raise EmbeddingFormatError(
                    f"{label} has no numeric columns and no 'embedding' column of vectors."
                )
            raw = numeric.to_numpy()
    else:
        raise EmbeddingFormatError(f"Unsupported embedding file {label!r}: use .npy or .parquet (never pickle).")
    if raw.dtype.kind not in "fiub":
        raise EmbeddingFormatError(f"{label} holds {raw.dtype} values; embeddings must be numbers.")
    if raw.ndim != 2 or raw.shape[0] == 0 or raw.shape[1] == 0:
        raise EmbeddingFormatError(f"{label} has shape {raw.shape}; expected a non-empty [N, D] matrix.")
    array = raw.astype(np.float32)
    if not np.isfinite(array).all():
        raise EmbeddingFormatError(f"{label} contains NaN or infinite values.")
    if ids is not None and len(set(ids)) != len(ids):
        raise EmbeddingFormatError(f"The id column {id_column!r} of {label} has duplicate ids.")
    return array, ids


def parse_file_spec(rest: str) -> tuple[Path, str | None, str]:
    path, _, query = rest.partition("#")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    modality = options.get("modality", "text")
    if modality not in {"text", "image"}:
        raise EmbeddingFormatError(f"modality must be 'text' or 'image', not {modality!r}.")
    return Path(path).expanduser(), options.get("id"), modality


class PrecomputedEncoder(Encoder):
    """Embeddings read from a file and aligned to a dataset; cannot embed new inputs."""

    def __init__(self, path: str | Path, id_column: str | None = None, modality: str = "text", device=None,
                 name: str | None = None):
        super().__init__(device)
        self.path = Path(path)
        self.name = name or self.path.name  # how messages call the file
        self.id_column = id_column
        self.modality = modality
        self.matrix, self.ids = read_embedding_file(self.path, id_column, self.name)
        self.dim = int(self.matrix.shape[1])
        suffix = "" if id_column is None else f"#id={id_column}"
        self.spec = f"file:{self.path}{suffix}"
        self.weight_files = [self.path]

    @property
    def preprocessing(self) -> str:
        return f"precomputed, aligned by {'id ' + self.id_column if self.id_column else 'row order'}"

    def _encode_batch(self, batch: Sequence) -> np.ndarray:
        raise EncoderUnavailableError(
            f"{self.name} holds precomputed embeddings of a fixed dataset; it cannot embed new "
            "inputs. Pick a model encoder for live predictions."
        )

    def align(self, dataset) -> np.ndarray:
        """The rows of the file that belong to ``dataset``'s samples, in the dataset's order."""
        n_file = self.matrix.shape[0]
        if self.ids is not None:
            position = {sample_id: i for i, sample_id in enumerate(self.ids)}
            missing = [sample_id for sample_id in dataset.ids if sample_id not in position]
            if missing:
                raise EmbeddingAlignmentError(
                    f"{len(missing)} of {len(dataset)} sample ids are not in column {self.id_column!r} of "
                    f"{self.name} (first: {missing[:3]})."
                )
            return self.matrix[[position[s] for s in dataset.ids]]
        if n_file == len(dataset):
            return self.matrix
        if n_file == dataset.n_source:
            return self.matrix[dataset.rows]
        expected = f"{len(dataset)}" + (f" (or {dataset.n_source} for the full dataset)"
                                        if dataset.n_source != len(dataset) else "")
        raise EmbeddingAlignmentError(
            f"{self.name} has {n_file} rows but the dataset has {expected} samples. Export one row per "
            "sample in dataset order, or add an id column and use '#id=<column>'."
        )

    def encode_dataset(self, dataset, batch_size: int = 0, progress=None) -> torch.Tensor:
        aligned = self.align(dataset)
        if progress is not None:
            progress(len(dataset), len(dataset))
        return torch.from_numpy(np.ascontiguousarray(aligned)).to(self.device)


@register_backend("file")
def _make(rest: str, device=None) -> PrecomputedEncoder:
    path, id_column, modality = parse_file_spec(rest)
    return PrecomputedEncoder(path, id_column=id_column, modality=modality, device=device)
