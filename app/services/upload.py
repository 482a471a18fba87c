"""Services of the Upload page: read an uploaded file's header, check an uploaded dataset or embeddings against
the current scenario, and say whether an encoder reads a modality."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from app.safety import UPLOAD_PREFIX
from app.services import spaces
from app.state import Settings
from latent_core.config import DEFAULT_SCENARIO
from latent_core.data import Dataset
from latent_core.encoders import list_encoders
from latent_core.errors import DatasetFormatError, LatentCoreError

DEFAULT_ENCODERS = {"text": (DEFAULT_SCENARIO.encoder_a, DEFAULT_SCENARIO.encoder_b),
                    "image": ("effnet:lite0", "effnet:lite2")}
"""The encoders an uploaded dataset opens with when the current ones read another modality."""


def table_columns(content: bytes, suffix: str) -> list[str]:
    """The column names of an uploaded CSV or Parquet table (``suffix``: ``.csv`` or ``.parquet``).

    Raises:
        DatasetFormatError: the header cannot be read.
    """
    try:
        if suffix == ".parquet":
            return [str(c) for c in pd.read_parquet(io.BytesIO(content)).columns]
        return [str(c).strip() for c in pd.read_csv(io.BytesIO(content), nrows=0, dtype=str).columns]
    except Exception as exc:  # noqa: BLE001 - pandas and pyarrow raise many types for bad files
        raise DatasetFormatError(f"Could not read the header of the file ({type(exc).__name__}: "
                                 f"{str(exc).strip()[:160]}). Save it as UTF-8 CSV with a header row, or as "
                                 "Parquet.") from exc


def check_dataset(spec: str) -> Dataset:
    """Load a dataset spec now (so a bad upload fails here, with its message, not on another page)."""
    return spaces.dataset(spec, None, 0)


def check_embeddings(encoder_spec: str, settings: Settings) -> np.ndarray:
    """Read uploaded embeddings against the current dataset: rows must align with its samples."""
    return spaces.embeddings(encoder_spec, settings.scenario)


def encoder_reads(spec: str, modality: str) -> bool:
    """Whether the encoder spec embeds this modality (without loading it)."""
    infos = {info.spec: info.modality for info in list_encoders()}
    if spec in infos:
        return infos[spec] == modality
    if spec.startswith(UPLOAD_PREFIX):
        return False  # uploaded vectors belong to one dataset
    try:
        return spaces.encoder(spec).modality == modality
    except LatentCoreError:
        return False
