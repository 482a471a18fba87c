"""Merging spaces (Crisostomi et al., 2023, "From Charts to Atlas"): describe every space relative to
the same anchors, then average the relative representations. The atlas itself (fit once on each space's anchors,
read any one space) is :class:`latent_core.atlas.Atlas`; this is its one-call form for spaces that share sample
rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latent_core.atlas import Atlas
from latent_core.errors import InvalidParameterError
from latent_core.validation import ArrayLike, as_indices, as_matrix, check_same_rows


def aggregate_relative(spaces: Sequence[ArrayLike], anchor_idx: ArrayLike, projection: str = "cosine") -> torch.Tensor:
    """Mean of the spaces' relative representations with respect to the same anchor samples.

    Args:
        spaces: ``[N, D_i]`` embeddings of the same N samples by different encoders.
        anchor_idx: indices of the anchor samples (shared by all spaces).
        projection: a relative projection name, optionally ending in ``+center``.

    Returns:
        ``[N, K]`` on the first space's device.
    """
    if isinstance(spaces, (np.ndarray, torch.Tensor)) or not len(spaces):
        raise InvalidParameterError("aggregate_relative needs a list of at least one space.")
    matrices = [as_matrix(space, f"space {i}") for i, space in enumerate(spaces)]
    for i, matrix in enumerate(matrices[1:], start=1):
        check_same_rows(matrices[0], matrix, f"space 0 and space {i}")
    index = as_indices(anchor_idx, matrices[0].shape[0])
    return Atlas(projection).fit([matrix[index.to(matrix.device)] for matrix in matrices]).merge(matrices)
