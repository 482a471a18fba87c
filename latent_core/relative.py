"""Relative representations (Moschella et al., ICLR 2023) and the product of invariances
(Cannistraci et al., "From Bricks to Bridges", 2023).

A sample is described by how it relates to K anchor samples: ``rel(x)[k] = f(x, a_k)``.

Projections ``f``:
    cosine     cos(x, a): invariant to rotations/reflections and isotropic rescaling.
    angular    1 - arccos(cos(x, a)) / pi, in [0, 1]: the same invariances, linear in the angle.
    euclidean  ||x - a||_2: invariant to isometries (rotations, reflections, translations).
    l1         ||x - a||_1: invariant to translations, coordinate permutations and sign flips.
    linf       max_i |x_i - a_i|: the same invariances as l1.
The first two are similarities (larger = closer), the last three distances (smaller = closer).

Example:
    >>> rel = relative_projection(x, x[anchor_idx])            # [N, K] cosine similarities
    >>> RelativeProjection("euclidean").fit(x[anchor_idx]).transform(x)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from latent_core.errors import InvalidParameterError, NotFittedError
from latent_core.validation import (
    ArrayLike,
    as_float,
    as_int,
    as_matrix,
    check_distinct,
    describe,
    unit_rows,
    unit_rows_or_zero,
)

SIMILARITIES = ("cosine", "angular")
DISTANCES = ("euclidean", "l1", "linf")
PROJECTIONS = SIMILARITIES + DISTANCES
_CHUNK_ELEMENTS = 1 << 24  # rows per chunk = this / (K * D): ~64 MB of float32 intermediates


def _check_projection(projection: str) -> str:
    if not isinstance(projection, str) or projection not in PROJECTIONS:
        raise InvalidParameterError(f"Unknown projection {describe(projection)}; choose from {', '.join(PROJECTIONS)}.")
    return projection


def _block(x: torch.Tensor, anchors: torch.Tensor, anchors_unit: torch.Tensor | None, projection: str):
    if projection in SIMILARITIES:
        cos = unit_rows(x, "x") @ anchors_unit.T
        if projection == "cosine":
            return cos
        return 1.0 - torch.arccos(cos.clamp(-1.0, 1.0)) / math.pi
    if projection == "euclidean":
        # |x|^2 + |a|^2 - 2 x.a on inputs centred at the anchors' mean: fast (matmul) and accurate
        # even when the whole space sits far from the origin.
        sq = (x * x).sum(1, keepdim=True) + (anchors * anchors).sum(1)[None, :] - 2.0 * (x @ anchors.T)
        return sq.clamp_min(0.0).sqrt()
    p = 1.0 if projection == "l1" else float("inf")
    return torch.cdist(x[None], anchors[None], p=p)[0]


def _check_topk(topk, k: int) -> int | None:
    if topk is None:
        return None
    message = f"topk must be an integer in [1, {k}] (the number of anchors), got {describe(topk)}."
    topk = as_int(topk, "topk")
    if topk < 1 or topk > k:
        raise InvalidParameterError(message)
    return topk


def _check_power(power) -> float | None:
    return None if power is None else as_float(power, "power", positive=True)


def sparsify(rel: ArrayLike, topk: int | None = None, power: float | None = None) -> torch.Tensor:
    """ASIF sparsification of similarity rows: keep the ``topk`` largest, clamp at 0, raise to ``power``,
    L2-renormalise each row (rows with nothing positive left stay zero)."""
    rel = as_matrix(rel, "rel")
    return _sparsify(rel, _check_topk(topk, rel.shape[1]), _check_power(power))


def _sparsify(rel: torch.Tensor, topk: int | None, power: float | None) -> torch.Tensor:
    out = rel
    if topk is not None:
        values, index = rel.topk(topk, dim=1)
        out = torch.zeros_like(rel).scatter_(1, index, values)
    out = out.clamp_min(0.0)  # negative similarities carry no evidence of a match
    if power is not None:
        out = out.pow(power)
    return unit_rows_or_zero(out)


def _prepare(anchors: torch.Tensor, projection: str, center: bool):
    """Anchors as the projection needs them: (anchors, unit anchors or None, shift or None)."""
    if anchors.shape[0] < 1:
        raise InvalidParameterError("Need at least one anchor.")
    check_distinct(anchors, "anchors")
    # Euclidean distances are computed around the anchors' mean: the same numbers, better conditioned.
    shift = anchors.mean(0, keepdim=True) if (center or projection == "euclidean") else None
    if shift is not None:
        anchors = anchors - shift
    unit = unit_rows(anchors, "anchors") if projection in SIMILARITIES else None
    return anchors, unit, shift


def _project(x: torch.Tensor, prepared, projection: str, topk, power, chunk_size) -> torch.Tensor:
    anchors, anchors_unit, shift = (t.to(x.device) if t is not None else None for t in prepared)
    if anchors.shape[1] != x.shape[1]:
        raise InvalidParameterError(
            f"x has dimension {x.shape[1]} but anchors have {anchors.shape[1]}: anchors must be embedded by the "
            "same encoder as x."
        )
    n, k = x.shape[0], anchors.shape[0]
    topk, power = _check_topk(topk, k), _check_power(power)
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_ELEMENTS // max(1, k * (x.shape[1] if projection in ("l1", "linf") else 1)))
    chunk_size = as_int(chunk_size, "chunk_size")
    if chunk_size < 1:
        raise InvalidParameterError(f"chunk_size must be positive, got {chunk_size}.")
    out = torch.empty(n, k, dtype=torch.float32, device=x.device)
    for start in range(0, n, chunk_size):
        rows = x[start : start + chunk_size]
        if shift is not None:
            rows = rows - shift
        block = _block(rows, anchors, anchors_unit, projection)
        if topk is not None or power is not None:
            block = _sparsify(block, topk, power)
        out[start : start + chunk_size] = block
    return out


def _check_sparsify(projection: str, topk, power) -> None:
    if (topk is not None or power is not None) and projection not in SIMILARITIES:
        raise InvalidParameterError(
            f"topk/power sparsify similarities; {projection!r} is a distance. Use 'cosine' or 'angular'."
        )


def relative_projection(
    x: ArrayLike,
    anchors: ArrayLike,
    projection: str = "cosine",
    *,
    center: bool = False,
    topk: int | None = None,
    power: float | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Relative representation of ``x: [N, D]`` with respect to ``anchors: [K, D]``.

    Args:
        x: samples; numpy or torch (the output is on ``x``'s device).
        anchors: anchor embeddings in the same space as ``x``.
        projection: one of :data:`PROJECTIONS`.
        center: subtract the anchors' mean from ``x`` and the anchors first.
        topk, power: ASIF sparsification (similarity projections only); see :func:`sparsify`.
        chunk_size: rows of ``x`` processed at a time (default: about 64 MB of intermediates), so memory
            stays at the output plus one chunk.

    Returns:
        ``[N, K]`` float32.

    Raises:
        ShapeMismatchError, NonFiniteError, ZeroVectorError (cosine/angular), InvalidParameterError.
    """
    projection = _check_projection(projection)
    _check_sparsify(projection, topk, power)
    x = as_matrix(x, "x")
    anchors = as_matrix(anchors, "anchors", device=x.device)
    return _project(x, _prepare(anchors, projection, center), projection, topk, power, chunk_size)


def product_projection(
    x: ArrayLike, anchors: ArrayLike, projections: Sequence[str] = ("cosine", "euclidean", "l1", "linf"), *,
    center: bool = False, chunk_size: int | None = None,
) -> torch.Tensor:
    """Product of invariances: one relative block per projection, each row of each block L2-normalised
    (so every block weighs the same and distance blocks lose their scale), concatenated.

    Returns:
        ``[N, K * len(projections)]``.
    """
    if isinstance(projections, str):
        projections = [projections]
    if not projections:
        raise InvalidParameterError("product_projection needs at least one projection.")
    blocks = []
    for projection in projections:
        blocks.append(unit_rows_or_zero(relative_projection(x, anchors, projection, center=center,
                                                            chunk_size=chunk_size)))
    return torch.cat(blocks, dim=1)


class RelativeProjection:
    """Estimator form of :func:`relative_projection`: ``fit(anchors)`` once, ``transform(x)`` many times.

    Attributes (after fit):
        anchors_: ``[K, D]`` anchor embeddings.
    """

    def __init__(self, projection: str = "cosine", *, center: bool = False, topk: int | None = None,
                 power: float | None = None, chunk_size: int | None = None) -> None:
        self.projection = projection
        self.center = center
        self.topk = topk
        self.power = power
        self.chunk_size = chunk_size

    def fit(self, anchors: ArrayLike) -> RelativeProjection:
        _check_projection(self.projection)
        _check_sparsify(self.projection, self.topk, self.power)
        self.anchors_ = as_matrix(anchors, "anchors")
        self._prepared = _prepare(self.anchors_, self.projection, self.center)  # validated once, reused
        return self

    def transform(self, x: ArrayLike) -> torch.Tensor:
        if not hasattr(self, "anchors_"):
            raise NotFittedError("RelativeProjection is not fitted: call fit(anchors) first.")
        return _project(as_matrix(x, "x"), self._prepared, self.projection, self.topk, self.power, self.chunk_size)

    def fit_transform(self, anchors: ArrayLike, x: ArrayLike | None = None) -> torch.Tensor:
        """Fit on ``anchors`` and transform ``x`` (the anchors themselves when ``x`` is None)."""
        return self.fit(anchors).transform(anchors if x is None else x)
