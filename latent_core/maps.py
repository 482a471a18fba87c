"""2-D maps of embedding spaces for display (PCA now; UMAP and t-SNE come with the explorer)."""

from __future__ import annotations

import numpy as np
import torch


def pca_2d(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Project ``x: [N, D]`` onto its first two principal components.

    Returns:
        ``[N, 2]`` float32 numpy array (centred; signs fixed so the largest loading is positive,
        which keeps the picture stable between runs).
    """
    array = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    array = array.astype(np.float64)
    centred = array - array.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    coords = centred @ components.T
    if coords.shape[1] < 2:  # a 1-d space still gets a (flat) second axis
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords.astype(np.float32)
