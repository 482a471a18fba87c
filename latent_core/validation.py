"""Input checks shared by the math modules: tensors in, typed errors out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latent_core.errors import (
    AnchorIndexError,
    InvalidParameterError,
    NonFiniteError,
    ShapeMismatchError,
    ZeroVectorError,
)

ArrayLike = torch.Tensor | np.ndarray | Sequence


def as_matrix(x: ArrayLike, name: str = "x", device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a finite float32 ``[N, D]`` tensor (tensors keep their device; numpy goes to CPU)."""
    if not torch.is_tensor(x):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if x.ndim != 2:
        raise ShapeMismatchError(f"{name} must be a 2-D [N, D] matrix, got shape {tuple(x.shape)}.")
    if x.dtype != torch.float32:
        x = x.to(torch.float32)
    if device is not None:
        x = x.to(device)
    # checked in row blocks: a whole-matrix boolean mask would cost N x D bytes on large inputs
    step = max(1, (1 << 22) // max(1, x.shape[1]))
    if not all(bool(torch.isfinite(block).all()) for block in x.split(step)):
        raise NonFiniteError(f"{name} contains NaN or infinite values.")
    return x


def as_indices(index: ArrayLike, n: int, name: str = "anchor indices", min_count: int = 2,
               device: torch.device | None = None) -> torch.Tensor:
    """Validated unique indices into ``n`` rows, as a LongTensor."""
    if torch.is_tensor(index):
        tensor = index.detach().to("cpu")
    else:
        tensor = torch.as_tensor(np.asarray(index))
    if tensor.ndim != 1:
        raise AnchorIndexError(f"{name} must be a 1-D list of integers, got shape {tuple(tensor.shape)}.")
    if tensor.numel() and (tensor.dtype.is_floating_point or tensor.dtype == torch.bool):
        raise AnchorIndexError(f"{name} must be integers, got {tensor.dtype}.")
    tensor = tensor.to(torch.long)
    if tensor.numel() < min_count:
        raise AnchorIndexError(f"Need at least {min_count} {name}, got {tensor.numel()}.")
    if tensor.numel() and (tensor.min() < 0 or tensor.max() >= n):
        bad = tensor[(tensor < 0) | (tensor >= n)][:5].tolist()
        raise AnchorIndexError(f"{name} out of range for {n} samples: {bad}.")
    if tensor.unique().numel() != tensor.numel():
        raise AnchorIndexError(f"{name} contain duplicates; each anchor must be a distinct sample.")
    return tensor if device is None else tensor.to(device)


def check_same_rows(x: torch.Tensor, y: torch.Tensor, names: str = "x and y") -> None:
    if x.shape[0] != y.shape[0]:
        raise ShapeMismatchError(
            f"{names} must describe the same samples: {x.shape[0]} rows vs {y.shape[0]} rows."
        )


def check_same_shape(x: torch.Tensor, y: torch.Tensor, names: str = "x and y") -> None:
    check_same_rows(x, y, names)
    if x.shape[1] != y.shape[1]:
        raise ShapeMismatchError(
            f"{names} must share coordinates (same dimension): {x.shape[1]} vs {y.shape[1]}. Compare relative "
            "vs relative, or translated vs target."
        )


def check_k(k: int, n: int) -> int:
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}.")
    if k >= n:
        raise InvalidParameterError(f"k={k} must be smaller than the number of samples ({n}).")
    return int(k)


def unit_rows(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """Rows scaled to unit L2 norm; a zero row is a :class:`ZeroVectorError`."""
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    if (norms == 0).any():
        rows = torch.nonzero(norms.squeeze(1) == 0).squeeze(1)[:5].tolist()
        raise ZeroVectorError(f"{name} has zero vectors (rows {rows}); cosine needs a direction.")
    return x / norms


def unit_rows_or_zero(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, all-zero rows left at zero (for sparse or distance vectors)."""
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    return torch.where(norms > 0, x / norms.clamp_min(torch.finfo(x.dtype).tiny), x)


def same_device(reference: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    return [o.to(reference.device) for o in others]
