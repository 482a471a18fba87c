"""The app's service layer: the only place that calls latent_core and owns caching.

Models are cached per process with ``st.cache_resource``; embeddings go through the library's disk cache.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from latent_core.data import Dataset, load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import Encoder, get_encoder
from latent_core.maps import pca_2d


@st.cache_resource(show_spinner=False, max_entries=6)
def encoder(spec: str) -> Encoder:
    return get_encoder(spec)


@st.cache_resource(show_spinner=False, max_entries=8)
def dataset(spec: str, n: int | None, seed: int) -> Dataset:
    return load_dataset(spec, n=n, seed=seed)


def embeddings(encoder_spec: str, dataset_spec: str, n: int | None, seed: int,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``[N, D]`` embeddings of the dataset by the encoder (disk cache, then encoding with progress)."""
    data = dataset(dataset_spec, n, seed)
    return embed_dataset(encoder(encoder_spec), data, progress=progress).cpu().numpy()


@st.cache_data(show_spinner=False, max_entries=16)
def pca_map(matrix: np.ndarray) -> np.ndarray:
    return pca_2d(matrix)
