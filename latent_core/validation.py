"""Input checks shared by the math modules: tensors in, typed errors out."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import torch

from latent_core._scalars import as_float, as_int, describe, positive_int  # noqa: F401 - re-exported
from latent_core.errors import (
    AnchorIndexError,
    DegenerateAnchorsError,
    InvalidDtypeError,
    InvalidParameterError,
    LatentCoreError,
    NonFiniteError,
    ShapeMismatchError,
    ZeroVectorError,
)

ArrayLike = torch.Tensor | np.ndarray | Sequence

_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float


def _numeric_array(x, name: str) -> np.ndarray:
    """``x`` (not a tensor) as a numpy array of a real numeric dtype; typed errors for anything else."""
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects numpy cannot hold
        raise InvalidDtypeError(f"{name} is not a rectangular array of numbers ({str(exc)[:120]}).") from None
    if array.dtype.kind == "c":
        raise InvalidDtypeError(f"{name} holds complex numbers ({array.dtype}); embeddings must be real.")
    if array.dtype.kind not in _NUMERIC_KINDS:
        try:  # numbers stored as Python objects are fine; strings, None, dates are not
            if array.dtype.kind not in "OSU":
                raise TypeError
            converted = array.astype(np.float64)
        except (ValueError, TypeError, OverflowError):
            example = describe(array.flat[0] if array.size else None)
            raise InvalidDtypeError(f"{name} must hold numbers, got dtype {array.dtype} (e.g. {example}).") from None
        array = converted
    return array


def as_matrix(x: ArrayLike, name: str = "x", device: torch.device | None = None, *,
              lazy: bool = False) -> torch.Tensor:
    """``x`` as a finite float32 ``[N, D]`` tensor with D >= 1 (tensors keep their device; numpy goes to CPU).

    ``lazy=True`` is for callers that walk ``x`` in row chunks: float64 stays float64 (convert each chunk with
    :func:`float32_rows`, which also checks it) and finiteness is not checked here, so the input is read once
    and never copied whole (float32 numpy arrays and tensors are shared, not copied).

    Raises:
        InvalidDtypeError (not real numbers), ShapeMismatchError (not 2-D, no columns), NonFiniteError.
    """
    if torch.is_tensor(x):
        if x.is_complex():
            raise InvalidDtypeError(f"{name} holds complex numbers ({x.dtype}); embeddings must be real.")
    else:
        array = _numeric_array(x, name)
        if not (lazy and array.dtype == np.float64 and array.flags.writeable):
            array = np.asarray(array, dtype=np.float32)
        if not array.flags.writeable:  # torch cannot honour read-only memory (e.g. arrays shared between sessions)
            array = array.copy()
        x = torch.as_tensor(array)
    if x.ndim != 2:
        raise ShapeMismatchError(f"{name} must be a 2-D [N, D] matrix, got shape {tuple(x.shape)}.")
    if x.shape[1] == 0:
        raise ShapeMismatchError(
            f"{name} has no columns (shape {tuple(x.shape)}); each row must be a vector of at least one dimension."
        )
    source = x
    if x.dtype != torch.float32 and not (lazy and x.dtype == torch.float64):
        x = x.to(torch.float32)
    if device is not None:
        x = x.to(device)
    if not lazy:
        check_finite(x, name, source)
    return x


def _block_rows(x: torch.Tensor) -> int:
    """Rows per finiteness check: 4M values on the CPU; 64M on an accelerator, where each block costs a host sync."""
    return max(1, (1 << 22 if x.device.type == "cpu" else 1 << 26) // max(1, x.shape[1]))


def all_finite(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is finite. One sum decides the usual case: a NaN or an infinity anywhere makes
    the sum non-finite, so a finite sum proves the block finite. Only a non-finite sum (a bad value, or finite values
    whose sum overflows) pays for the elementwise test, which also allocates an ``N x D`` boolean mask and costs
    about 20 times the sum on the CPU (4,096 x 768 float32: 10 ms against 0.5 ms)."""
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def check_finite(x: torch.Tensor, name: str = "x", source: torch.Tensor | None = None) -> None:
    """A :class:`NonFiniteError` unless ``x`` (any float dtype) is finite once in float32. ``source``: what ``x``
    was converted from, when it was (values beyond the float32 range then get their own message)."""
    source = x if source is None else source
    step = _block_rows(x)  # row blocks: a whole-matrix boolean mask would cost N x D bytes on large inputs
    if all(all_finite(block.to(torch.float32)) for block in x.split(step)):
        return
    if (source.dtype.is_floating_point and source.dtype != torch.float32
            and all(bool(torch.isfinite(block).all()) for block in source.split(step))):
        raise NonFiniteError(f"{name} has values beyond the float32 range (about ±3.4e38); rescale it.")
    raise NonFiniteError(f"{name} contains NaN or infinite values.")


def float32_rows(x: torch.Tensor, start: int, stop: int, name: str = "x", check: bool = True) -> torch.Tensor:
    """Rows ``start:stop`` of a (lazy) :func:`as_matrix` result as float32 (a view when already float32),
    checked finite unless ``check=False`` (the caller then checks what it computes from them)."""
    rows = x[start:stop]
    block = rows if rows.dtype == torch.float32 else rows.to(torch.float32)
    if check:
        check_finite(block, name, rows)
    return block


@contextmanager
def nonfinite_first(x: torch.Tensor, name: str = "x"):
    """Run a computation on a lazy :func:`as_matrix` result and keep the eager error order: if it raises a
    :class:`LatentCoreError` and ``x`` is not finite, the :class:`NonFiniteError` about all of ``x`` (the error an
    eager check up front would have raised) is raised instead."""
    try:
        yield
    except LatentCoreError:
        check_finite(x, name)
        raise


def as_indices(index: ArrayLike, n: int, name: str = "anchor indices", min_count: int = 2,
               device: torch.device | None = None, unique: bool = True) -> torch.Tensor:
    """Validated indices into ``n`` rows (distinct unless ``unique=False``), as a LongTensor."""
    if torch.is_tensor(index):
        tensor = index.detach().to("cpu")
        if tensor.numel() and (tensor.dtype.is_floating_point or tensor.is_complex() or tensor.dtype == torch.bool):
            raise AnchorIndexError(f"{name} must be integers, got {tensor.dtype}.")
    else:
        try:
            array = np.asarray(index)
        except (ValueError, TypeError):
            raise AnchorIndexError(f"{name} must be a 1-D list of integers, got {describe(index)}.") from None
        if array.size and array.dtype.kind == "O":
            try:
                array = np.array([operator.index(v) for v in array.ravel()], dtype=np.int64).reshape(array.shape)
            except (TypeError, OverflowError):
                raise AnchorIndexError(f"{name} must be integers, got {describe(index)}.") from None
        if array.size and array.dtype.kind not in "iu":
            raise AnchorIndexError(f"{name} must be integers, got {array.dtype}.")
        if array.size and array.dtype.kind == "u" and array.max() > np.iinfo(np.int64).max:
            raise AnchorIndexError(f"{name} out of range for {n} samples: {array.max()}.")
        tensor = torch.as_tensor(array.astype(np.int64) if array.size else np.zeros(array.shape, np.int64))
    if tensor.ndim != 1:
        raise AnchorIndexError(f"{name} must be a 1-D list of integers, got shape {tuple(tensor.shape)}.")
    tensor = tensor.to(torch.long)
    if tensor.numel() < min_count:
        raise AnchorIndexError(f"Need at least {min_count} {name}, got {tensor.numel()}.")
    if tensor.numel() and (tensor.min() < 0 or tensor.max() >= n):
        bad = tensor[(tensor < 0) | (tensor >= n)][:5].tolist()
        raise AnchorIndexError(f"{name} out of range for {n} samples: {bad}.")
    if unique and tensor.unique().numel() != tensor.numel():
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
    k = positive_int(k, "k")
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


def label_codes(labels, n: int, name: str = "labels") -> tuple[torch.Tensor, list]:
    """Any hashable labels (ints, strings, floats; numpy, torch or a list) as ``(LongTensor[n] codes 0..C-1,
    the C label values)``, numbered in sorted label order (first appearance when they cannot be sorted)."""
    if torch.is_tensor(labels):
        if labels.is_complex():
            raise InvalidParameterError(f"{name} must be class labels, got complex numbers.")
        labels = labels.detach().cpu().numpy()
    try:
        array = np.asarray(labels)
    except (ValueError, TypeError):
        array = np.empty(len(labels), dtype=object) if hasattr(labels, "__len__") else np.asarray(None)
        if array.ndim:
            array[:] = list(labels)
    if array.shape != (n,):
        raise InvalidParameterError(f"{name} must have one entry per sample ({n}), got shape {array.shape}.")
    try:
        uniques, codes = np.unique(array, return_inverse=True)
        uniques = uniques.tolist()
    except TypeError:  # mixed types (e.g. 1 and "a") cannot be sorted: number them by first appearance
        try:
            position: dict = {}
            codes = np.array([position.setdefault(v, len(position)) for v in array.tolist()], dtype=np.int64)
            uniques = list(position)
        except TypeError:
            raise InvalidParameterError(
                f"{name} must be hashable class labels (numbers or strings), got e.g. {describe(array[0])}."
            ) from None
    return torch.as_tensor(np.asarray(codes, dtype=np.int64).reshape(n)), uniques


def check_distinct(anchors: torch.Tensor, name: str = "anchors") -> None:
    """Two or more anchor rows that are all the same vector describe nothing: a :class:`DegenerateAnchorsError`."""
    if anchors.shape[0] >= 2 and bool((anchors == anchors[:1]).all()):
        raise DegenerateAnchorsError(
            f"All {anchors.shape[0]} {name} are the same vector, so they carry no information about the space. "
            "Pick distinct samples as anchors (e.g. the 'random' or 'fps' strategy), and check that the data has "
            "no repeated rows."
        )
